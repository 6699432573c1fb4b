/**
 * Database tier, HAProxy: reads spread round-robin over three servers, a dead server leaves
 * the rotation and comes back, clients see failover within 10 s, writes only reach the primary.
 * Broken HAProxy variants run beside the shipped one as negative controls.
 */
import { afterAll, describe, expect } from 'vitest';
import {
  distributionVerdict,
  failoverVerdict,
  outageMs,
  poolVerdict,
  readScaleVerdict,
  writesPrimaryOnlyVerdict,
} from '#fixtures/checks/database.js';
import { failoverConfigVerdict } from '#fixtures/checks/haproxy-timing.js';
import { verdict } from '#fixtures/checks/verdict.js';
import { haproxyServerName, waitForServerStatus } from '#fixtures/clients/haproxy-stats.js';
import { concurrentClientsLoad, now, PROBE_SCHEMA, probeOnce, startConnectionProbe, withClient } from '#fixtures/clients/pg-probes.js';
import { kill, pause, start, unpause } from '#fixtures/faults/faults.js';
import { printSummary, recordVerdict } from '#fixtures/report/measurements.js';
import { describeEnvironment, writeRunFile } from '#fixtures/run/run-folder.js';
import { pgbenchService, type StartedPgbench } from '#fixtures/services/pgbench.js';
import {
  databaseTier,
  HAPROXY,
  PGBOUNCER,
  PRIMARY,
  READ_PORT,
  REPLICAS,
  SHIPPED_HAPROXY_CONFIG,
  STATS_PORT,
  type StartedPgbouncer,
  type StartedPostgresServer,
  tierSecrets,
  WRITE_PORT,
} from '#fixtures/services/database-tier.js';
import type { StartedHaproxy } from '#fixtures/services/haproxy.js';
import type { PgClientConfig } from '#fixtures/services/postgres.js';
import type { Topology } from '#fixtures/topology/topology.js';
import { topologyTest } from '#fixtures/vitest/topology-test.js';
import { assertShippedConfigCanFailOver, FAILOVER_CLAIM_MS, haproxyEndpoint } from './failover-support.js';
import { DOCUMENT_TIMING, FIRST_SERVER_READS, ROUND_ROBIN_WRITES } from './variants.js';

const VARIANTS = {
  'haproxy-document-timing': DOCUMENT_TIMING,
  'haproxy-round-robin-writes': ROUND_ROBIN_WRITES,
  'haproxy-first-server-reads': FIRST_SERVER_READS,
};
const secrets = tierSecrets();
const REPETITIONS = 3;

const test = topologyTest(
  'load-balancing',
  [...databaseTier(secrets, { haproxyVariants: VARIANTS }), pgbenchService(secrets.credentials, [HAPROXY])],
  {
    // The shipped config must be able to meet the claim on paper before anything starts.
    beforeStart: assertShippedConfigCanFailOver,
  },
);

const endpoint = (haproxy: StartedHaproxy, port: number): PgClientConfig => haproxyEndpoint(secrets, haproxy, port);

function haproxies(topology: Topology) {
  return {
    shipped: topology.get<StartedHaproxy>(HAPROXY),
    documentTiming: topology.get<StartedHaproxy>('haproxy-document-timing'),
    roundRobinWrites: topology.get<StartedHaproxy>('haproxy-round-robin-writes'),
    firstServerReads: topology.get<StartedHaproxy>('haproxy-first-server-reads'),
  };
}

const allServers = [PRIMARY, ...REPLICAS];

async function allUp(haproxy: StartedHaproxy, backend: string): Promise<void> {
  for (const alias of allServers) {
    await waitForServerStatus(
      () => haproxy.stats(),
      backend,
      haproxyServerName(alias),
      (s) => s === 'UP',
      { timeoutMs: 60_000 },
    );
  }
}

async function readsFrom(config: PgClientConfig, connections: number): Promise<string[]> {
  const answered: string[] = [];
  for (let i = 0; i < connections; i += 1) {
    const op = await probeOnce(config, 'read');
    answered.push(op.ok ? op.server! : `error:${op.sqlstate ?? op.error}`);
  }
  return answered;
}

afterAll(() => printSummary('load balancing and failover'));

describe('database tier: HAProxy', () => {
  test("db.haproxy.failover (static): worst-case detection derived from haproxy.cfg; the document's timing cannot meet 10 s", () => {
    const shipped = recordVerdict(
      failoverConfigVerdict(SHIPPED_HAPROXY_CONFIG, FAILOVER_CLAIM_MS),
      { config: 'compose/haproxy/haproxy.cfg' },
      'shipped',
      'static',
    );
    const documented = recordVerdict(
      failoverConfigVerdict(DOCUMENT_TIMING, FAILOVER_CLAIM_MS),
      { config: 'inter 5s rise 2 fall 3' },
      'document-timing',
      'static',
    );
    expect(shipped.status, shipped.measured).toBe('met');
    expect(documented.status, documented.measured).toBe('not met');
  });

  test('HAProxy stats require authentication; the runtime API socket is enabled', async ({ topology }) => {
    const { shipped } = haproxies(topology);
    expect((await fetch(shipped.url(STATS_PORT, '/stats;csv'))).status).toBe(401);
    expect((await shipped.stats()).some((row) => row.pxname === 'postgres_read')).toBe(true);
    expect((await shipped.container.exec(['sh', '-c', 'test -S /tmp/haproxy-admin.sock'])).exitCode).toBe(0);
  });

  test('db.haproxy.round-robin: new read connections spread evenly over primary and both replicas', async ({ topology }) => {
    const { shipped, firstServerReads } = haproxies(topology);
    await allUp(shipped, 'postgres_read');
    await allUp(firstServerReads, 'postgres_read');
    const answered = await readsFrom(endpoint(shipped, READ_PORT), 90);
    const result = recordVerdict(distributionVerdict(answered, allServers, 0.1), { answered, stats: await shipped.stats() });
    expect(result.status, result.measured).toBe('met');

    const skewed = await readsFrom(endpoint(firstServerReads, READ_PORT), 30);
    const control = recordVerdict(distributionVerdict(skewed, allServers, 0.1), { answered: skewed }, 'first-server-reads');
    expect(control.status, control.measured).toBe('not met');
  });

  test('db.writes.primary-only: every write through the write endpoint lands on the primary', async ({ topology }) => {
    const { shipped, roundRobinWrites } = haproxies(topology);
    const primary = topology.get<StartedPostgresServer>(PRIMARY);
    await withClient(primary.clientConfig(), (c) => c.query(PROBE_SCHEMA));
    await allUp(roundRobinWrites, 'postgres_write');
    const writes = async (haproxy: StartedHaproxy) => {
      const probe = startConnectionProbe(endpoint(haproxy, WRITE_PORT), {
        mode: 'write',
        intervalMs: 25,
        maxAttempts: 60,
        maxDurationMs: 20_000,
      });
      await expect.poll(() => probe.history.length, { timeout: 20_000 }).toBe(60);
      return probe.stop();
    };
    const shippedWrites = await writes(shipped);
    const result = recordVerdict(writesPrimaryOnlyVerdict(shippedWrites), { writes: shippedWrites });
    expect(result.status, result.measured).toBe('met');
    expect(shippedWrites.every((op) => op.ok)).toBe(true);

    const spreadWrites = await writes(roundRobinWrites);
    const control = recordVerdict(writesPrimaryOnlyVerdict(spreadWrites), { writes: spreadWrites }, 'round-robin-writes');
    expect(control.status, control.measured).toBe('not met');
  });

  test('db.pool: 60 concurrent clients through PgBouncer use at most its pool of 10 server connections', async ({ topology }) => {
    const { shipped } = haproxies(topology);
    const pool = topology.get<StartedPgbouncer>(PGBOUNCER);
    await allUp(shipped, 'postgres_read');
    const servers = allServers.map((alias) => topology.get<StartedPostgresServer>(alias).clientConfig());
    const load = (entry: PgClientConfig, applicationName: string) =>
      concurrentClientsLoad(entry, servers, { clients: 60, transactionsPerClient: 5, applicationName, maxDurationMs: 60_000 });
    const pooled = await load(pool.clientConfig('bss'), 'bss-pool-probe');
    expect(pooled.errors, pooled.errors.join('; ')).toEqual([]);
    const result = recordVerdict(poolVerdict(pooled.serverConnectionSamples, 10, 60), pooled);
    expect(result.status, result.measured).toBe('met');

    // Negative control: the same clients straight to HAProxy, no pool in between.
    const direct = await load(endpoint(shipped, READ_PORT), 'bss-pool-probe-direct');
    const control = recordVerdict(poolVerdict(direct.serverConnectionSamples, 10, 60), direct, 'no-pgbouncer');
    expect(control.status, control.measured).toBe('not met');
  });

  test('db.reads.scale: read throughput through HAProxy over three servers vs the primary alone (pgbench -S, median of 2 pairs)', async ({
    topology,
  }) => {
    const { shipped } = haproxies(topology);
    const bench = topology.get<StartedPgbench>('pgbench');
    const servers = allServers.map((alias) => topology.get<StartedPostgresServer>(alias));
    await bench.initialise(PRIMARY, 5);
    for (const server of servers) {
      await expect
        .poll(
          () =>
            withClient(
              server.clientConfig(),
              async (c) =>
                (
                  await c
                    .query(
                      `SELECT to_regclass('pgbench_accounts') IS NOT NULL AND (SELECT count(*) FROM pgbench_accounts) = 500000 AS ready`,
                    )
                    .catch(() => ({ rows: [{ ready: false }] }))
                ).rows[0].ready,
            ),
          { timeout: 60_000, interval: 500 },
        )
        .toBe(true);
    }
    await allUp(shipped, 'postgres_read');
    const commits = () =>
      Promise.all(
        servers.map((s) =>
          withClient(s.clientConfig(), async (c) =>
            Number((await c.query(`SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`)).rows[0].xact_commit),
          ),
        ),
      );
    const pairs: Array<{ primaryTps: number; balancedTps: number; shares: number[] }> = [];
    for (let i = 0; i < 2; i += 1) {
      const primaryRun = await bench.run(PRIMARY, 5432, { clients: 6, seconds: 8, args: ['-S'] });
      const before = await commits();
      const balancedRun = await bench.run(HAPROXY, READ_PORT, { clients: 6, seconds: 8, args: ['-S'] });
      const after = await commits();
      const deltas = after.map((n, k) => n - before[k]!);
      const total = deltas.reduce((a, b) => a + b, 0);
      pairs.push({ primaryTps: primaryRun.tps, balancedTps: balancedRun.tps, shares: deltas.map((d) => d / total) });
    }
    const machine = describeEnvironment();
    const result = recordVerdict(readScaleVerdict(pairs, machine), { pairs, machine });
    // Whatever the core count, the balanced run must really have used all three servers. Each
    // holds 2 of the 6 connections, but on shared cores their transaction shares range from
    // 0.18 to 0.45 (measured), so "used" means at least a tenth of the work.
    for (const pair of pairs) for (const share of pair.shares) expect(share).toBeGreaterThan(0.1);
    expect(result.status, `${result.measured}; ${result.reason ?? ''}`).not.toBe('not met');
  });

  test('db.haproxy.health: a frozen replica leaves the read rotation and returns once healed', async ({ topology }) => {
    const { shipped } = haproxies(topology);
    const victim = topology.get<StartedPostgresServer>(REPLICAS[1]);
    const server = haproxyServerName(victim.alias);
    await allUp(shipped, 'postgres_read');
    const faultAt = now();
    await pause(victim.container);
    let leftMs: number;
    try {
      leftMs = await waitForServerStatus(
        () => shipped.stats(),
        'postgres_read',
        server,
        (s) => s === 'DOWN',
        { timeoutMs: 30_000, sinceMs: faultAt },
      );
      const whileDown = await readsFrom(endpoint(shipped, READ_PORT), 12);
      expect(whileDown.filter((s) => s === victim.alias)).toEqual([]);
      expect(
        whileDown.every((s) => !s.startsWith('error:')),
        whileDown.join(', '),
      ).toBe(true);
    } finally {
      await unpause(victim.container);
    }
    const healedAt = now();
    const returnedMs = await waitForServerStatus(
      () => shipped.stats(),
      'postgres_read',
      server,
      (s) => s === 'UP',
      { timeoutMs: 30_000, sinceMs: healedAt },
    );
    const afterHeal = await readsFrom(endpoint(shipped, READ_PORT), 9);
    const result = recordVerdict(
      verdict(
        'db.haproxy.health',
        leftMs < FAILOVER_CLAIM_MS && afterHeal.includes(victim.alias),
        `a dead server leaves rotation (< ${FAILOVER_CLAIM_MS} ms) and returns when healed`,
        `left rotation after ${leftMs.toFixed(0)} ms, back after ${returnedMs.toFixed(0)} ms; reads after healing: ${afterHeal.join(', ')}`,
      ),
      { leftMs, returnedMs, afterHeal },
    );
    expect(result.status, result.measured).toBe('met');
  });

  test(`db.haproxy.failover: client-observed outage of the read endpoint when a replica is killed, ${REPETITIONS} repetitions`, async ({
    topology,
  }) => {
    const { shipped, documentTiming } = haproxies(topology);
    const measured = { shipped: [] as number[], documentTiming: [] as number[] };
    const repetitions: unknown[] = [];
    for (let rep = 0; rep < REPETITIONS; rep += 1) {
      const victim = topology.get<StartedPostgresServer>(REPLICAS[rep % REPLICAS.length]!);
      const server = haproxyServerName(victim.alias);
      await allUp(shipped, 'postgres_read');
      await allUp(documentTiming, 'postgres_read');
      // Both HAProxies watch the same fault: the shipped one is measured, the document's timing is the control.
      const probes = {
        shipped: startConnectionProbe(endpoint(shipped, READ_PORT), {
          mode: 'read',
          intervalMs: 50,
          maxDurationMs: 90_000,
          maxAttempts: 1_800,
        }),
        documentTiming: startConnectionProbe(endpoint(documentTiming, READ_PORT), {
          mode: 'read',
          intervalMs: 50,
          maxDurationMs: 90_000,
          maxAttempts: 1_800,
        }),
      };
      await expect.poll(() => probes.shipped.history.filter((op) => op.ok).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(10);
      const faultAt = now();
      await kill(victim.container);
      const [shippedDetectMs, documentDetectMs] = await Promise.all([
        waitForServerStatus(
          () => shipped.stats(),
          'postgres_read',
          server,
          (s) => s === 'DOWN',
          { timeoutMs: 40_000, sinceMs: faultAt },
        ),
        waitForServerStatus(
          () => documentTiming.stats(),
          'postgres_read',
          server,
          (s) => s === 'DOWN',
          { timeoutMs: 40_000, sinceMs: faultAt },
        ),
      ]);
      // Let both probes show a clean run after detection, then stop them.
      const stableSince = now();
      await expect
        .poll(
          () =>
            [probes.shipped, probes.documentTiming].every((p) => p.history.filter((op) => op.startedMs > stableSince + 2_500).length >= 20),
          { timeout: 20_000 },
        )
        .toBe(true);
      const histories = { shipped: await probes.shipped.stop(), documentTiming: await probes.documentTiming.stop() };
      const outages = { shipped: outageMs(histories.shipped, faultAt), documentTiming: outageMs(histories.documentTiming, faultAt) };
      measured.shipped.push(outages.shipped.outageMs);
      measured.documentTiming.push(outages.documentTiming.outageMs);
      repetitions.push({ victim: victim.alias, shippedDetectMs, documentDetectMs, outages });
      writeRunFile(`measurements/db.haproxy.failover.rep-${rep + 1}.history.json`, histories);

      await start(victim.container);
      await allUp(shipped, 'postgres_read');
    }
    const result = recordVerdict(failoverVerdict(measured.shipped, FAILOVER_CLAIM_MS, REPETITIONS), { repetitions });
    const control = recordVerdict(
      failoverVerdict(measured.documentTiming, FAILOVER_CLAIM_MS, REPETITIONS),
      { repetitions },
      'document-timing',
    );
    expect(result.status, result.measured).toBe('met');
    expect(control.status, control.measured).toBe('not met');
  });
});
