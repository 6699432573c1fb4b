/**
 * Mesh tier: the shipped envoy.yaml in front of the backend stand-in, with one-change variants
 * beside it as negative controls. Envoy's counters are read as the difference of two snapshots.
 */
import pg from 'pg';
import { afterAll, describe, expect } from 'vitest';
import * as envoyConfig from '../../compose/envoy/variants.js';
import {
  circuitBreakingVerdict,
  corsVerdict,
  describeBuckets,
  healthChecksVerdict,
  perTryTimeoutVerdict,
  rateLimitVerdict,
  refillAgrees,
  retriesVerdict,
  type RetryCase,
  type RetryFault,
  securityHeadersVerdict,
  statsDelta,
  tlsVerdict,
} from '#fixtures/checks/mesh.js';
import { metric } from '#fixtures/checks/metric.js';
import { verdict, withMetrics } from '#fixtures/checks/verdict.js';
import { concurrentBurst, fastSequence, header, send, type HttpOperation } from '#fixtures/clients/http-probe.js';
import { addLatency } from '#fixtures/faults/faults.js';
import { printSummary, recordVerdict } from '#fixtures/report/measurements.js';
import { progress } from '#fixtures/run/progress.js';
import type { StartedBackend } from '#fixtures/services/backend.js';
import { assertEnvoyConfigsValid, ENVOY_ADMIN_PORT, type StartedEnvoy } from '#fixtures/services/envoy.js';
import { postgresService, type StartedPostgres } from '#fixtures/services/postgres.js';
import type { StartedToxiproxy } from '#fixtures/services/toxiproxy.js';
import type { Topology } from '#fixtures/topology/topology.js';
import { topologyTest } from '#fixtures/vitest/topology-test.js';
import { envoyTlsFiles, generateMeshCertificates } from './certificates.js';
import { meshConfigs, meshServices, POSTGRES_LISTENER, SHIPPED, SHORT_FILL_SECONDS, SLOW_PROXY, tlsConfigs } from './mesh-topology.js';

const certs = generateMeshCertificates(['envoy-mtls', 'envoy-tls-optional']);
const test = topologyTest('mesh', [...meshServices(certs), postgresService()], {
  // A configuration Envoy refuses stops the suite before any container of the topology starts.
  beforeStart: () => assertEnvoyConfigsValid({ ...meshConfigs(), ...tlsConfigs() }, envoyTlsFiles(certs)),
});

const CLUSTER = 'cluster.bss_backend_cluster';
const RETRY_STATS = [`${CLUSTER}.upstream_rq_retry`, `${CLUSTER}.upstream_rq_retry_success`, `${CLUSTER}.upstream_rq_retry_limit_exceeded`];
const OVERFLOW_STATS = [`${CLUSTER}.upstream_rq_active_overflow`, `${CLUSTER}.upstream_rq_pending_overflow`];
const ALLOWED_ORIGIN = 'https://app.bss.example';
const REFUSED_ORIGIN = 'https://evil.example';
const policy = envoyConfig.retryPolicy(SHIPPED);
const bucket = envoyConfig.tokenBucket(SHIPPED);
const limits = envoyConfig.circuitBreakerLimits(SHIPPED);

const envoy = (t: Topology, name = 'envoy'): StartedEnvoy => t.get<StartedEnvoy>(name);
const backend = (t: Topology, name = 'backend'): StartedBackend => t.get<StartedBackend>(name);
const api = (e: StartedEnvoy, path = '/api/customers'): string => e.proxyUrl(path);
const settle = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

afterAll(() => printSummary('mesh'));

/** One retry case: inject the fault, send one request, read the client's answer, the backend's count and the counters. */
async function retryCase(e: StartedEnvoy, b: StartedBackend, fault: RetryFault, failures: number): Promise<RetryCase> {
  await b.control({ command: 'clear' });
  if (fault === '503') await b.control({ command: 'fail', count: failures, status: 503 });
  if (fault === 'reset') await b.control({ command: 'reset', count: failures });
  if (fault === 'connect-failure') await b.control({ command: 'refuse', ms: 3_000 });
  const before = await e.stats();
  const op = await send(api(e), { timeoutMs: 20_000 });
  const after = await e.stats();
  const seen = (await b.state()).seen.length;
  const delta = statsDelta(before, after, RETRY_STATS);
  if (fault === 'connect-failure') {
    // Wait until the backend accepts again, so the next case starts from a clean slate.
    await expect
      .poll(async () => (await send(b.url('/health'), { timeoutMs: 2_000 })).status, { timeout: 10_000, interval: 200 })
      .toBe(200);
  }
  // A successful request resets outlier detection's consecutive-5xx count between cases.
  // (bounded: a variant without retries may answer the first request on a stale connection with 503).
  await b.control({ command: 'clear' });
  await expect.poll(async () => (await send(api(e))).status, { timeout: 10_000, interval: 200 }).toBe(200);
  const attempts = header(op, 'x-envoy-attempt-count');
  return {
    fault,
    failures,
    clientStatus: op.status,
    attemptHeader: attempts === undefined ? undefined : Number(attempts),
    backendAttempts: fault === 'connect-failure' ? undefined : seen,
    retry: delta[RETRY_STATS[0]!]!,
    retrySuccess: delta[RETRY_STATS[1]!]!,
    retryLimitExceeded: delta[RETRY_STATS[2]!]!,
  };
}

async function circuitBurst(e: StartedEnvoy, b: StartedBackend, concurrent: number, delayMs: number) {
  await b.control({ command: 'clear' });
  await b.control({ command: 'slow', count: concurrent, delayMs });
  const before = await e.stats();
  const ops = await concurrentBurst(api(e), concurrent, { timeoutMs: delayMs + 10_000 });
  const after = await e.stats();
  await b.control({ command: 'clear' });
  const overflowDelta = Object.values(statsDelta(before, after, OVERFLOW_STATS)).reduce((a, c) => a + c, 0);
  const recovery = await Promise.all(Array.from({ length: 5 }, () => send(api(e))));
  return {
    ops,
    overflowDelta,
    perCounter: statsDelta(before, after, OVERFLOW_STATS),
    recovered: recovery.every((op) => op.status === 200),
  };
}

async function rateLimitRun(e: StartedEnvoy, requests: number) {
  const before = await e.stats();
  const { operations, elapsedMs } = await fastSequence(api(e), requests, 10);
  const after = await e.stats();
  return {
    operations,
    elapsedMs,
    statuses: operations.map((op) => op.status),
    limitedWithHeader: operations.filter((op) => op.status === 429 && header(op, 'x-envoy-ratelimited') !== undefined).length,
    rateLimitedDelta: statsDelta(before, after, ['api_rate_limit.http_local_rate_limit.rate_limited'])[
      'api_rate_limit.http_local_rate_limit.rate_limited'
    ]!,
  };
}

/** A success, backend errors (400, 404 from Envoy), a 429 and a local 503 from one Envoy. */
async function headerSamples(
  e: StartedEnvoy,
  b: StartedBackend,
): Promise<Array<{ kind: string; status: number | undefined; headers: HttpOperation['headers'] }>> {
  const samples: Array<{ kind: string; status: number | undefined; headers: HttpOperation['headers'] }> = [];
  const keep = (kind: string, op: HttpOperation): void => void samples.push({ kind, status: op.status, headers: op.headers });
  keep('success', await send(api(e)));
  keep('error', await send(api(e), { method: 'POST', body: '{not json', headers: { 'content-type': 'application/json' } }));
  keep('error', await send(e.proxyUrl('/no-such-route')));
  await b.control({ command: 'refuse', ms: 2_000 });
  keep('503', await send(api(e), { timeoutMs: 10_000 }));
  await expect.poll(async () => (await send(b.url('/health'), { timeoutMs: 2_000 })).status, { timeout: 10_000, interval: 200 }).toBe(200);
  // Drain the bucket until the first 429 (bounded: the bucket holds 100 tokens).
  for (let i = 0; i < 150; i += 1) {
    const op = await send(api(e));
    if (op.status === 429) {
      keep('429', op);
      break;
    }
  }
  return samples;
}

describe('mesh tier: Envoy in front of the backend', () => {
  test('mesh.admin: /ready, /clusters, /server_info and stats answer on 15000; 15001 does not', async ({ topology }) => {
    const e = envoy(topology);
    const checks: Record<string, number> = {};
    for (const path of ['/ready', '/clusters', '/server_info', '/stats?format=json']) checks[path] = (await send(e.url(path))).status ?? 0;
    const info = JSON.parse((await send(e.url('/server_info'))).body) as { state: string; version: string };
    // Listening TCP ports inside the container (state 0A in /proc/net/tcp): 15000 yes, 15001 no.
    const tcp = (await e.container.exec(['cat', '/proc/net/tcp'])).output;
    const listening = [...tcp.matchAll(/^\s*\d+: [0-9A-F]+:([0-9A-F]{4}) [0-9A-F]+:[0-9A-F]+ 0A/gm)].map((m) => Number.parseInt(m[1]!, 16));
    const on15001 = listening.includes(15001) ? 'listening' : 'closed';
    const ok =
      Object.values(checks).every((s) => s === 200) &&
      info.state === 'LIVE' &&
      listening.includes(ENVOY_ADMIN_PORT) &&
      on15001 === 'closed';
    const v = recordVerdict(
      verdict(
        'mesh.admin',
        ok,
        `admin on ${ENVOY_ADMIN_PORT}: /ready, /clusters, /server_info, /stats answer 200 (the document's other admin port, 15001, is not used)`,
        `${Object.entries(checks)
          .map(([p, s]) => `${p} ${s}`)
          .join(', ')}; state ${info.state}, version ${info.version.split('/')[1]}; 15001 ${on15001}`,
        undefined,
        [metric('endpoints.ok', Object.values(checks).filter((s) => s === 200).length, 'count', 'higher-is-better')],
      ),
      { checks, info, listening },
    );
    expect(v.status, v.measured).toBe('met');
  });

  test('mesh.routing: /api/* and /health reach the backend, other paths do not; the postgres TCP listener proxies a session', async ({
    topology,
  }) => {
    const e = envoy(topology);
    const b = backend(topology);
    await b.control({ command: 'clear' });
    const list = await send(api(e));
    const created = await send(api(e, '/api/orders'), { method: 'POST', body: JSON.stringify({ customerId: 1, amount: 9.5 }) });
    const health = await send(e.proxyUrl('/health'));
    const other = await send(e.proxyUrl('/admin/secret'));
    const seen = (await b.state()).seen.map((s) => s.path);
    const postgres = topology.get<StartedPostgres>('postgres');
    const { host, port } = e.proxyEndpoint(POSTGRES_LISTENER);
    const client = new pg.Client({ host, port, user: postgres.username, password: postgres.password, database: postgres.database });
    await client.connect();
    const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
    await client.end();
    const ok =
      list.status === 200 &&
      header(list, 'x-backend-instance') === 'backend' &&
      created.status === 201 &&
      health.status === 200 &&
      header(health, 'x-backend-instance') === 'backend' &&
      other.status === 404 &&
      !seen.includes('/admin/secret') &&
      rows[0]?.db === postgres.database;
    const v = recordVerdict(
      verdict(
        'mesh.routing',
        ok,
        '/api/* and /health answered by the backend; an unrouted path answered 404 by Envoy without reaching it; postgres listener 15432 carries a session',
        `GET /api/customers ${list.status}, POST /api/orders ${created.status}, /health ${health.status}, /admin/secret ${other.status} (backend saw ${seen.join(', ') || 'nothing'}); postgres via 15432: ${rows[0]?.db}`,
        undefined,
        [metric('routes.ok', [list, created, health].filter((op) => (op.status ?? 0) < 300).length, 'count', 'higher-is-better')],
      ),
      { seen },
    );
    expect(v.status, v.measured).toBe('met');
  });

  test('backend bad input: malformed JSON is a 400 with a reason; the control interface refuses unknown commands', async ({ topology }) => {
    const b = backend(topology);
    const malformed = await send(b.url('/api/customers'), { method: 'POST', body: '{"name": ' });
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.body).error).toMatch(/malformed JSON/);
    const invalid = await send(b.url('/api/orders'), { method: 'POST', body: '{"customerId": -1, "amount": 1}' });
    expect(invalid.status).toBe(400);
    const unknown = await send(b.controlUrl(), { method: 'POST', body: '{"command": "explode"}' });
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.body).error).toMatch(/unknown command "explode"; known commands: fail, reset, slow, refuse/);
  });

  test('mesh.retries: 503s, resets and refused connections are retried 3 times; attempt counts and counters agree (negative control: num_retries 0)', async ({
    topology,
  }) => {
    const run = async (name: string, failures: readonly number[]): Promise<RetryCase[]> => {
      const cases: RetryCase[] = [];
      for (const fault of ['503', 'reset'] as const)
        for (const k of failures) cases.push(await retryCase(envoy(topology, name), backend(topology), fault, k));
      cases.push(await retryCase(envoy(topology, name), backend(topology), 'connect-failure', policy.numRetries + 1));
      return cases;
    };
    const shippedCases = await run('envoy', [1, 2, 3, 4]);

    // "retry_interval: 2s" as the per-try timeout: a slow upstream (Toxiproxy, or netem where the
    // kernel has it) is cut after 2 s per attempt and retried.
    const slow = envoy(topology, 'envoy-slow');
    const toxiproxy = topology.get<StartedToxiproxy>('toxiproxy');
    const latency = await addLatency(toxiproxy.container, policy.perTryTimeoutMs! + 1_000, 0, { fallback: toxiproxy.route(SLOW_PROXY) });
    const before = await slow.stats();
    const slowOp = await send(api(slow), { timeoutMs: 30_000 });
    const after = await slow.stats();
    await latency.heal();
    const perTry = perTryTimeoutVerdict({
      perTryTimeoutMs: policy.perTryTimeoutMs!,
      attempts: Number(header(slowOp, 'x-envoy-attempt-count') ?? Number.NaN),
      clientStatus: slowOp.status,
      latencyMs: slowOp.latencyMs,
      perTryTimeoutDelta: statsDelta(before, after, [`${CLUSTER}.upstream_rq_per_try_timeout`])[`${CLUSTER}.upstream_rq_per_try_timeout`]!,
    });
    const shipped = recordVerdict(retriesVerdict(shippedCases, 3, perTry), {
      policy,
      cases: shippedCases,
      perTry,
      latencyMethod: latency.method,
    });

    const noRetryCases = await run('envoy-no-retries', [1, 2]);
    const broken = recordVerdict(retriesVerdict(noRetryCases, 3), { cases: noRetryCases }, 'num-retries-0');
    expect(shipped.status, `${shipped.measured} — ${shipped.reason ?? ''}`).toBe('met');
    expect(broken.status, broken.measured).toBe('not met');
  });

  test('mesh.cors: an allowed origin gets CORS headers on preflight and simple requests, a refused one does not', async ({ topology }) => {
    const e = envoy(topology);
    const cases = [];
    for (const [origin, allowed] of [
      [ALLOWED_ORIGIN, true],
      [REFUSED_ORIGIN, false],
    ] as const) {
      const preflight = await send(api(e), {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
      const simple = await send(api(e), { headers: { origin } });
      cases.push({
        kind: 'preflight' as const,
        origin,
        allowed,
        status: preflight.status,
        allowOrigin: header(preflight, 'access-control-allow-origin'),
      });
      cases.push({
        kind: 'simple' as const,
        origin,
        allowed,
        status: simple.status,
        allowOrigin: header(simple, 'access-control-allow-origin'),
      });
    }
    const v = recordVerdict(corsVerdict(cases), { cases });
    expect(v.status, v.measured).toBe('met');
  });

  test('mesh.security-headers: on success, error, 429 and 503 responses (negative control: HSTS dropped)', async ({ topology }) => {
    const required = envoyConfig.responseHeaders(SHIPPED);
    const shippedSamples = await headerSamples(envoy(topology), backend(topology));
    const shipped = recordVerdict(securityHeadersVerdict(required, shippedSamples), {
      required,
      samples: shippedSamples.map((s) => ({ ...s, headers: s.headers })),
    });
    const brokenSamples = await headerSamples(envoy(topology, 'envoy-no-hsts'), backend(topology));
    const broken = recordVerdict(securityHeadersVerdict(required, brokenSamples), { required, samples: brokenSamples }, 'hsts-dropped');
    expect(shipped.status, `${shipped.measured} — ${shipped.reason ?? ''}`).toBe('met');
    expect(broken.status).toBe('not met');
    expect(broken.reason).toMatch(/lacks strict-transport-security/);
  });

  test('mesh.rate-limit: max_tokens + 5 requests give exactly 5 × 429; the refill follows the bucket (negative control: filter_enforced 0 %)', async ({
    topology,
  }) => {
    const extra = 5;
    const shippedRun = await rateLimitRun(envoy(topology, 'envoy-ratelimit'), bucket.maxTokens + extra);
    // Refill, on the variant whose only change is a 6 s fill interval: drain, wait one interval, count what came back.
    const refill = envoy(topology, 'envoy-refill');
    const refillBucket = { ...bucket, fillIntervalSeconds: SHORT_FILL_SECONDS };
    await fastSequence(api(refill), bucket.maxTokens + 10, 10);
    const drainedAt = performance.now();
    await settle(SHORT_FILL_SECONDS * 1000); // the measured quantity: one fill interval
    const burst = await fastSequence(api(refill), bucket.tokensPerFill * 3, 10);
    const waitedMs = performance.now() - drainedAt - burst.elapsedMs / 2;
    const regained = burst.operations.filter((op) => op.status === 200).length;
    const refillCheck = refillAgrees({ bucket: refillBucket, waitedMs, regained });
    const buckets = describeBuckets(bucket);

    let shipped = rateLimitVerdict({ bucket, ...shippedRun });
    if (!refillCheck.ok)
      shipped = { ...shipped, status: 'not met', reason: [shipped.reason, `refill: ${refillCheck.detail}`].filter(Boolean).join('; ') };
    shipped = withMetrics({ ...shipped, measured: `${shipped.measured}; refill: ${refillCheck.detail}; ${buckets.statement}` }, [
      metric('refill.regained', regained, 'tokens', 'informational'),
    ]);
    recordVerdict(shipped, { bucket, statuses: shippedRun.statuses, elapsedMs: shippedRun.elapsedMs, refill: refillCheck, buckets });

    const unenforcedRun = await rateLimitRun(envoy(topology, 'envoy-unenforced'), bucket.maxTokens + extra);
    const broken = recordVerdict(rateLimitVerdict({ bucket, ...unenforcedRun }), { statuses: unenforcedRun.statuses }, 'filter-enforced-0');
    expect(shipped.status, `${shipped.measured} — ${shipped.reason ?? ''}`).toBe('met');
    expect(broken.status, broken.measured).toBe('not met');
  });

  test('mesh.circuit-breaking: 150 concurrent slow requests against limits of 100: the excess is refused at once and counted (negative control: limits 10000)', async ({
    topology,
  }) => {
    const concurrent = 150;
    // Below the 2 s per-try timeout, so the slow requests are served, not retried.
    const delayMs = 1_800;
    const judge = (run: Awaited<ReturnType<typeof circuitBurst>>) =>
      circuitBreakingVerdict({
        limit: limits.maxRequests,
        backendDelayMs: delayMs,
        overflowDelta: run.overflowDelta,
        recovered: run.recovered,
        responses: run.ops.map((op) => ({
          status: op.status,
          overloaded: header(op, 'x-envoy-overloaded') !== undefined,
          latencyMs: op.latencyMs,
        })),
      });
    const shippedRun = await circuitBurst(envoy(topology, 'envoy-unlimited'), backend(topology), concurrent, delayMs);
    const shipped = recordVerdict(judge(shippedRun), {
      limits,
      counters: shippedRun.perCounter,
      statuses: shippedRun.ops.map((o) => o.status),
    });
    const brokenRun = await circuitBurst(envoy(topology, 'envoy-cb-10000'), backend(topology), concurrent, delayMs);
    const broken = recordVerdict(judge(brokenRun), { counters: brokenRun.perCounter }, 'limits-10000');
    expect(shipped.status, `${shipped.measured} — ${shipped.reason ?? ''}`).toBe('met');
    expect(broken.status, broken.measured).toBe('not met');
  });

  test('mesh.health-checks: a backend failing /health is ejected and restored; alone it gives no_healthy_upstream, with a peer traffic moves', async ({
    topology,
  }) => {
    const timing = envoyConfig.healthCheckTiming(SHIPPED);
    const poll = 250;
    const ejectBoundMs = timing.unhealthyThreshold * timing.intervalMs + timing.timeoutMs + 1_000;
    const restoreBoundMs = timing.healthyThreshold * timing.unhealthyIntervalMs + timing.timeoutMs + 1_000;
    const single = envoy(topology);
    const pair = envoy(topology, 'envoy-pair');
    const b = backend(topology);
    const backendAddress = b.container.getIpAddress(topology.network.getName());
    const flagsOf = async (e: StartedEnvoy): Promise<string[]> =>
      (await e.hostHealth('bss_backend_cluster'))[`${backendAddress}:8080`] ?? [];

    const t0 = performance.now();
    await b.control({ command: 'health', healthy: false });
    const times: Record<string, number | undefined> = {};
    const deadline = t0 + ejectBoundMs + 10_000;
    while (performance.now() < deadline && (times.single === undefined || times.pair === undefined)) {
      if (times.single === undefined && (await flagsOf(single)).some((f) => f.includes('failed_active_health_check')))
        times.single = performance.now() - t0;
      if (times.pair === undefined && (await flagsOf(pair)).some((f) => f.includes('failed_active_health_check')))
        times.pair = performance.now() - t0;
      await settle(poll);
    }
    progress('mesh', `ejected after ${times.single?.toFixed(0)} ms (one backend), ${times.pair?.toFixed(0)} ms (two)`);
    const flags = await flagsOf(single);
    const before = await single.stats();
    const alone = await send(api(single));
    const after = await single.stats();
    const noneHealthy = statsDelta(before, after, [`${CLUSTER}.upstream_cx_none_healthy`])[`${CLUSTER}.upstream_cx_none_healthy`]!;
    const spread = await Promise.all(Array.from({ length: 20 }, () => send(api(pair))));
    const toPeer = spread.filter((op) => header(op, 'x-backend-instance') === 'backend-b').length;

    const t1 = performance.now();
    await b.control({ command: 'health', healthy: true });
    const restore: Record<string, number | undefined> = {};
    const restoreDeadline = t1 + restoreBoundMs + 10_000;
    while (performance.now() < restoreDeadline && (restore.single === undefined || restore.pair === undefined)) {
      if (restore.single === undefined && (await flagsOf(single)).length === 0) restore.single = performance.now() - t1;
      if (restore.pair === undefined && (await flagsOf(pair)).length === 0) restore.pair = performance.now() - t1;
      await settle(poll);
    }
    const v = recordVerdict(
      healthChecksVerdict({
        ejectBoundMs,
        restoreBoundMs,
        single: {
          ejectMs: times.single,
          restoreMs: restore.single,
          noHealthyUpstream: alone.status === 503 && /no healthy upstream/.test(alone.body) && noneHealthy > 0,
          flags,
        },
        pair: {
          ejectMs: times.pair,
          restoreMs: restore.pair,
          shareToHealthy: toPeer / spread.length,
          failedRequests: spread.filter((op) => op.status !== 200).length,
        },
      }),
      { timing, pollMs: poll, aloneStatus: alone.status, aloneBody: alone.body, noneHealthy, flags },
    );
    expect(v.status, `${v.measured} — ${v.reason ?? ''}`).toBe('met');
  });

  test('mesh.tls: the mTLS variant serves a client with a valid certificate and refuses one without or from another CA (negative control: client certificate optional)', async ({
    topology,
  }) => {
    const probe = async (name: string) => {
      const e = envoy(topology, name);
      const url = api(e).replace('http://', 'https://').replace(e.container.getHost(), 'localhost');
      const attempt = async (client: 'valid' | 'none' | 'other-ca') => {
        const identity = client === 'valid' ? certs.client : client === 'other-ca' ? certs.foreignClient : undefined;
        const op = await send(url, { timeoutMs: 10_000, tls: { ca: certs.ca, ...(identity ?? {}) } });
        return { client, status: op.status, ...(op.error ? { error: op.error } : {}) };
      };
      return [await attempt('valid'), await attempt('none'), await attempt('other-ca')];
    };
    const shippedCases = await probe('envoy-mtls');
    const shipped = recordVerdict(tlsVerdict(shippedCases), {
      cases: shippedCases,
      upstream: 'TLS to backend:8443, verified against the run CA',
    });
    const brokenCases = await probe('envoy-tls-optional');
    const broken = recordVerdict(tlsVerdict(brokenCases), { cases: brokenCases }, 'client-certificate-optional');
    expect(shipped.status, `${shipped.measured} — ${shipped.reason ?? ''}`).toBe('met');
    expect(broken.status, broken.measured).toBe('not met');
  });
});
