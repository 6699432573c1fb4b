/**
 * Hammers two versions of the role-aware health agent (compose/postgres/health-agent.pl) side
 * by side in one PostgreSQL container and reports their answer times, then stops PostgreSQL and
 * checks both still answer 503 promptly.
 *
 *   npx tsx scripts/health-agent-bench.ts [--baseline FILE] [--rate 40] [--seconds 10] [--rounds 3] [--busy 0]
 *
 * --baseline defaults to the agent on `main` (git show main:compose/postgres/health-agent.pl).
 * Open loop: a new TCP connection per check (as HAProxy makes), sent on a fixed schedule at
 * --rate per second (4 HAProxy instances x 2 backends check an agent 8 times a second; the
 * default is 5 times that), /read and /primary alternating; each answer's time runs from its
 * intended send time. Rounds alternate which agent goes first. Bounded: rate x seconds x rounds
 * requests per agent, each abandoned after 5 s; the container is removed at the end.
 * --busy N runs N CPU-bound loops inside the container while hammering (each bounded by
 * `timeout`), to stand for a saturated host: both agents then compete for what is left.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { resolveImage } from '../fixtures/images/forge.js';
import { progress } from '../fixtures/run/progress.js';
import { REPO_ROOT } from '../fixtures/run/run-folder.js';
import { run } from '../fixtures/support/exec.js';
import { throwawayLabelArgs } from '../fixtures/topology/labels.js';

const { values } = parseArgs({
  options: {
    baseline: { type: 'string' },
    rate: { type: 'string', default: '40' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    busy: { type: 'string', default: '0' },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const BUSY = Number(values.busy);
for (const [name, value] of Object.entries({ rate: RATE, seconds: SECONDS, rounds: ROUNDS, busy: BUSY + 1 })) {
  if (!Number.isFinite(value) || value <= 0 || value > 1000)
    throw new Error(`--${name} must be a number in (0, 1000], not "${String(value)}"`);
}
const SLOW_MS = 500; // HAProxy's `timeout check` in compose/haproxy/haproxy.cfg

async function must(command: string, args: string[], what: string): Promise<string> {
  const result = await run(command, args, { timeoutMs: 120_000 });
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}): ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return result.stdout.trim();
}

interface Answer {
  readonly ms: number;
  readonly status: number;
}

function check(port: number, path: string, intended: number): Promise<Answer> {
  return new Promise((resolve) => {
    let data = '';
    const socket = connect({ host: '127.0.0.1', port });
    const finish = (status: number) => {
      socket.destroy();
      resolve({ ms: performance.now() - intended, status });
    };
    socket.setTimeout(5_000, () => finish(0));
    socket.on('connect', () => socket.write(`GET ${path} HTTP/1.0\r\n\r\n`));
    socket.on('data', (chunk) => (data += chunk.toString()));
    socket.on('error', () => finish(-1));
    socket.on('close', () => finish(Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? -1)));
  });
}

async function hammer(port: number, rate: number, seconds: number): Promise<Answer[]> {
  const count = Math.round(rate * seconds);
  const start = performance.now() + 50;
  const pending: Array<Promise<Answer>> = [];
  for (let i = 0; i < count; i += 1) {
    const intended = start + (i * 1000) / rate;
    const wait = intended - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(check(port, i % 2 === 0 ? '/read' : '/primary', intended));
  }
  return Promise.all(pending);
}

const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
function summary(answers: readonly Answer[]) {
  const ms = answers.map((a) => a.ms).sort((a, b) => a - b);
  return {
    n: ms.length,
    p50: Math.round(quantile(ms, 0.5)),
    p99: Math.round(quantile(ms, 0.99)),
    max: Math.round(ms[ms.length - 1]!),
    over500: ms.filter((m) => m > SLOW_MS).length,
    statuses: [...new Set(answers.map((a) => a.status))].sort().join('/'),
  };
}
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

const baselineFile = join(tmpdir(), `health-agent-baseline-${process.pid}.pl`);
writeFileSync(
  baselineFile,
  values.baseline
    ? await must('cat', [values.baseline], 'reading --baseline')
    : await must('git', ['-C', REPO_ROOT, 'show', 'main:compose/postgres/health-agent.pl'], 'git show main:…'),
);
const agents = [
  { name: 'baseline', file: baselineFile, port: 8008 },
  { name: 'this checkout', file: join(REPO_ROOT, 'compose/postgres/health-agent.pl'), port: 8009 },
];

const image = (await resolveImage('postgres')).ref;
progress('agent-bench', `starting PostgreSQL (${image})`);
const id = await must(
  'docker',
  [
    'run',
    '-d',
    '--rm',
    ...throwawayLabelArgs(),
    '--user',
    'postgres',
    '-e',
    `POSTGRES_PASSWORD=${randomBytes(12).toString('hex')}`,
    '-p',
    '127.0.0.1::8008',
    '-p',
    '127.0.0.1::8009',
    '--entrypoint',
    'bash',
    image,
    // PostgreSQL as a child (not PID 1) so it can be stopped while the agents live; bounded lifetime.
    '-c',
    'docker-entrypoint.sh postgres & sleep 600',
  ],
  'docker run',
);
try {
  for (const agent of agents) {
    await must('docker', ['cp', agent.file, `${id}:/tmp/agent-${agent.port}.pl`], 'docker cp');
    await must(
      'docker',
      ['exec', '-d', '-e', `HEALTH_AGENT_PORT=${agent.port}`, id, 'perl', `/tmp/agent-${agent.port}.pl`],
      'starting agent',
    );
  }
  const mapped = async (port: number) => Number((await must('docker', ['port', id, `${port}/tcp`], 'docker port')).split(':').pop());
  const ports = new Map(await Promise.all(agents.map(async (a) => [a.port, await mapped(a.port)] as const)));
  const deadline = performance.now() + 60_000;
  while ((await check(ports.get(8009)!, '/primary', performance.now())).status !== 200) {
    if (performance.now() > deadline) throw new Error('PostgreSQL or the agent did not become ready within 60 s');
    await new Promise((r) => setTimeout(r, 500));
  }

  if (BUSY > 0) {
    const busyFor = Math.ceil(2 * ROUNDS * (SECONDS + 1) + 5);
    const loops = `for i in $(seq ${BUSY}); do timeout ${busyFor} perl -e '1 while 1' & echo $! >> /tmp/busy.pids; done; wait`;
    await must('docker', ['exec', '-d', id, 'bash', '-c', loops], 'busy loops');
  }
  const rounds: Record<string, Array<ReturnType<typeof summary>>> = { baseline: [], 'this checkout': [] };
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const agent of round % 2 === 0 ? agents : [...agents].reverse()) {
      const s = summary(await hammer(ports.get(agent.port)!, RATE, SECONDS));
      rounds[agent.name]!.push(s);
      progress('agent-bench', `round ${round + 1} ${agent.name}: ${JSON.stringify(s)}`);
    }
  }
  const load = (await must('cat', ['/proc/loadavg'], 'load')).split(' ').slice(0, 3).join(' ');
  console.log(`\n${RATE}/s for ${SECONDS} s, ${ROUNDS} rounds each, new connection per check, ${BUSY} busy loops, load average ${load}`);
  console.log('agent          | median p50 ms | median p99 ms | worst max ms | answers > 500 ms');
  const medians: Record<string, { p50: number; p99: number }> = {};
  for (const [name, list] of Object.entries(rounds)) {
    medians[name] = { p50: median(list.map((s) => s.p50)), p99: median(list.map((s) => s.p99)) };
    console.log(
      `${name.padEnd(14)} | ${String(medians[name].p50).padStart(13)} | ${String(medians[name].p99).padStart(13)} | ${String(Math.max(...list.map((s) => s.max))).padStart(12)} | ${list.reduce((a, s) => a + s.over500, 0)} of ${list.reduce((a, s) => a + s.n, 0)}`,
    );
  }
  const [b, c] = [medians.baseline!, medians['this checkout']!];
  console.log(
    `ratio baseline/this checkout: p50 ${(b.p50 / Math.max(c.p50, 1)).toFixed(1)}x, p99 ${(b.p99 / Math.max(c.p99, 1)).toFixed(1)}x`,
  );

  // PostgreSQL stopped, the agents alive (and the busy loops over): every answer must be a prompt 503.
  if (BUSY > 0) await must('docker', ['exec', id, 'bash', '-c', 'kill $(cat /tmp/busy.pids) 2>/dev/null; true'], 'stopping busy loops');
  await must('docker', ['exec', id, 'pg_ctl', 'stop', '-m', 'immediate', '-D', '/var/lib/postgresql/data'], 'pg_ctl stop');
  for (const agent of agents) {
    const s = summary(await hammer(ports.get(agent.port)!, 10, 2));
    console.log(`PostgreSQL stopped, ${agent.name}: ${JSON.stringify(s)}`);
    if (agent.port === 8009 && (s.statuses !== '503' || s.max >= SLOW_MS)) {
      throw new Error(`with PostgreSQL stopped this agent must answer 503 within ${SLOW_MS} ms; got ${JSON.stringify(s)}`);
    }
  }
} finally {
  await run('docker', ['rm', '-f', id], { timeoutMs: 30_000 });
}
