/**
 * Topology beyond one machine: the harness talks to whichever engine Testcontainers is given —
 * DOCKER_HOST, or `docker.host` in ~/.testcontainers.properties — for the topology and for its
 * faults alike, so the topology can run on a bigger machine than the tests. Proven here with this
 * machine's engine behind a non-default address: a TCP listener on loopback (socat, bounded to
 * this test) forwarding to /var/run/docker.sock. Each probe pauses and resumes its container.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { remoteEngineVerdict, type RemoteEngineRun } from '#fixtures/deploy/usability/verdicts.js';
import { printSummary, recordVerdict } from '#fixtures/report/measurements.js';
import { REPO_ROOT } from '#fixtures/run/run-folder.js';
import { freePort } from '#fixtures/support/free-port.js';

const ENGINE_SOCKET = '/var/run/docker.sock';

/** A forwarder from 127.0.0.1:<port> to the local engine; counts the connections it accepts. Bounded: 5 min at most. */
async function startForwarder(port: number): Promise<{ child: ChildProcess; connections: () => number }> {
  const child = spawn(
    'timeout',
    ['300', 'socat', '-d', '-d', `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, `UNIX-CONNECT:${ENGINE_SOCKET}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socat did not listen on 127.0.0.1:${port} within 5 s: ${log}`)), 5_000);
    const check = setInterval(() => {
      if (/listening on/.test(log)) {
        clearTimeout(timer);
        clearInterval(check);
        resolve();
      } else if (child.exitCode !== null) {
        clearTimeout(timer);
        clearInterval(check);
        reject(new Error(`socat exited ${child.exitCode}: ${log.trim()} (install it with scripts/prerequisites.sh)`));
      }
    }, 50);
  });
  return { child, connections: () => (log.match(/accepting connection from/g) ?? []).length };
}

type ProbeResult = { code: number; report: { ok: boolean; error?: string; seconds: number } | undefined; output: string };

/** One harness run in its own process with the given DOCKER_HOST; bounded to 3 minutes. */
function probe(dockerHost: string): Promise<ProbeResult> {
  return probeWith({ ...process.env, DOCKER_HOST: dockerHost });
}

/**
 * One harness run whose engine is named only in Testcontainers' own settings file (a HOME of its
 * own holding .testcontainers.properties, no DOCKER_HOST): what the docker CLI cannot see.
 */
async function probeViaProperties(dockerHost: string): Promise<ProbeResult> {
  const home = mkdtempSync(join(tmpdir(), 'bss-remote-home-'));
  try {
    writeFileSync(join(home, '.testcontainers.properties'), `docker.host=${dockerHost}\n`);
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
    delete env.DOCKER_HOST;
    return await probeWith(env);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

function probeWith(env: NodeJS.ProcessEnv): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const child = spawn(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['fixtures/deploy/remote-engine-probe.ts'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 180_000,
      killSignal: 'SIGTERM',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      let report;
      try {
        report = JSON.parse(line) as { ok: boolean; error?: string; seconds: number };
      } catch {
        report = undefined;
      }
      resolve({ code: code ?? 1, report, output: `${stdout}\n${stderr}` });
    });
  });
}

afterAll(() => printSummary('deployment (remote engine)'));

describe('remote container engine', () => {
  it('deploy.remote-engine: a harness run against tcp://127.0.0.1:<port> (DOCKER_HOST, then ~/.testcontainers.properties) starts, uses, faults and stops a topology', async () => {
    const port = await freePort();
    const forwarder = await startForwarder(port);
    const dockerHost = `tcp://127.0.0.1:${port}`;
    try {
      const runs: RemoteEngineRun[] = [];
      const outputs: string[] = [];
      for (const via of ['DOCKER_HOST', 'testcontainers.properties'] as const) {
        const before = forwarder.connections();
        const result = via === 'DOCKER_HOST' ? await probe(dockerHost) : await probeViaProperties(dockerHost);
        outputs.push(...result.output.trim().split('\n').slice(-10));
        runs.push({
          dockerHost,
          via,
          ok: result.code === 0 && result.report?.ok === true,
          forwardedConnections: forwarder.connections() - before,
          seconds: result.report?.seconds ?? 0,
          ...(result.report?.error ? { error: result.report.error } : result.code !== 0 ? { error: result.output.trim().slice(-400) } : {}),
        });
      }
      const v = recordVerdict(remoteEngineVerdict(runs), { runs, output: outputs });
      expect(v.status, v.measured).toBe('met');
    } finally {
      forwarder.child.kill('SIGTERM');
    }

    // Negative control: DOCKER_HOST naming an address where no engine listens. A harness that
    // ignored DOCKER_HOST would fall back to the default socket and pass; this one must fail, fast.
    const nowhere = `unix:///tmp/bss-no-engine-${process.pid}.sock`;
    const result = await probe(nowhere);
    const control = recordVerdict(
      remoteEngineVerdict({
        dockerHost: nowhere,
        ok: result.code === 0 && result.report?.ok === true,
        forwardedConnections: 0,
        seconds: result.report?.seconds ?? 0,
        ...(result.report?.error ? { error: result.report.error } : {}),
      }),
      { output: result.output.trim().split('\n').slice(-10) },
      'engine-address-without-engine',
    );
    expect(control.status).toBe('not met');
    expect(result.report?.error).toMatch(/No Docker engine reachable/);
    expect(result.report!.seconds).toBeLessThan(15);
  });
});
