/**
 * Database tier, HAProxy: reads spread round-robin over three servers, a dead server leaves
 * the rotation and comes back, clients see failover within 10 s on every endpoint they use,
 * writes only reach the primary, PgBouncer bounds server connections and keeps its console
 * from the application. Broken variants run beside the shipped ones as negative controls.
 */
import { loadavg } from 'node:os';
import { afterAll, describe, expect } from 'vitest';
import {
  distributionVerdict,
  failoverVerdict,
  type Outage,
  outageFromFault,
  type ProbeOp,
  probeTimeline,
  poolVerdict,
  RECOVERY_RUN,
  RECOVERY_SETTLE_MS,
  readScaleVerdict,
  rotationVerdict,
  writesPrimaryOnlyVerdict,
} from '#fixtures/checks/database.js';
import { failoverConfigVerdict } from '#fixtures/checks/haproxy-timing.js';
import { haproxyServerName, waitForServerStatus } from '#fixtures/clients/haproxy-stats.js';
import { concurrentClientsLoad, now, PROBE_SCHEMA, probeOnce, startConnectionProbe, withClient } from '#fixtures/clients/pg-probes.js';
import { kill, pause, start, unpause } from '#fixtures/faults/faults.js';
import { printSummary, recordVerdict } from '#fixtures/report/measurements.js';
import { byProfile, currentProfile } from '#fixtures/run/profile.js';
import { writeRunFile } from '#fixtures/run/run-folder.js';
import { pgbenchService, type StartedPgbench } from '#fixtures/services/pgbench.js';
import {
  APP_ROLE,
  databaseHaproxyService,
  databaseTier,
  HAPROXY,
  pgbouncerService,
  PRIMARY,
  READ_PORT,
  REPLICAS,
  SHIPPED_HAPROXY_CONFIG,
  SHIPPED_PGBOUNCER_INI,
  STATS_PORT,
  StartedDatabaseTier,
  type StartedPostgresServer,
  tierSecrets,
} from '#fixtures/services/database-tier.js';
import type { StartedHaproxy } from '#fixtures/services/haproxy.js';
import type { PgClientConfig } from '#fixtures/services/postgres.js';
import type { Topology } from '#fixtures/topology/topology.js';
import { topologyTest } from '#fixtures/vitest/topology-test.js';
import { AGENT_MAX_AGE_MS, assertShippedConfigCanFailOver, FAILOVER_CLAIM_MS } from './failover-support.js';
import { DOCUMENT_TIMING, FIRST_SERVER_READS, ROUND_ROBIN_WRITES, UNCHECKED_READS } from './variants.js';

/** The application's role as PgBouncer admin: what the shipped pgbouncer.ini must never do. */
const APP_IS_PGBOUNCER_ADMIN = SHIPPED_PGBOUNCER_INI.replace(/^admin_users = .*$/m, `admin_users = ${APP_ROLE}`);
const secrets = tierSecrets();
/**
 * Broken variants (negative controls), each started only for the test that needs it and stopped
 * after it: every HAProxy instance checks every agent twice a second, and four of them for the
 * whole file loaded the servers every test measures.
 */
const VARIANTS = {
  documentTiming: databaseHaproxyService(secrets, { name: 'haproxy-document-timing', config: DOCUMENT_TIMING }),
  roundRobinWrites: databaseHaproxyService(secrets, { name: 'haproxy-round-robin-writes', config: ROUND_ROBIN_WRITES }),
  firstServerReads: databaseHaproxyService(secrets, { name: 'haproxy-first-server-reads', config: FIRST_SERVER_READS }),
  uncheckedReads: databaseHaproxyService(secrets, { name: 'haproxy-unchecked-reads', config: UNCHECKED_READS }),
  appIsPgbouncerAdmin: pgbouncerService(secrets, { name: 'pgbouncer-app-is-admin', ini: APP_IS_PGBOUNCER_ADMIN }),
};
const REPETITIONS = 3;
const READ_SCALE_REPETITIONS = byProfile({ quick: 3, nightly: 5, release: 7 });
const PGBENCH_SECONDS = byProfile({ quick: 5, nightly: 15, release: 30 });
const PROBE_INTERVAL_MS = 100;

const test = topologyTest('load-balancing', [...databaseTier(secrets), pgbenchService(secrets.app, [HAPROXY])], {
  // The shipped config must be able to meet the claim on paper before anything starts.
  beforeStart: assertShippedConfigCanFailOver,
});

const tierOf = (topology: Topology): StartedDatabaseTier => new StartedDatabaseTier(topology, secrets);

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

const shuffled = <T>(items: readonly T[]): T[] => {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
};

afterAll(() => printSummary('load balancing and failover'));

describe('database tier: HAProxy', () => {
  test("db.haproxy.failover (static): worst-case detection derived from haproxy.cfg; the document's timing cannot meet 10 s", () => {
    const shipped = recordVerdict(
      failoverConfigVerdict(SHIPPED_HAPROXY_CONFIG, FAILOVER_CLAIM_MS, AGENT_MAX_AGE_MS),
      { config: 'compose/haproxy/haproxy.cfg', agentMaxAgeMs: AGENT_MAX_AGE_MS },
      'shipped',
      'static',
    );
    const documented = recordVerdict(
      failoverConfigVerdict(DOCUMENT_TIMING, FAILOVER_CLAIM_MS, AGENT_MAX_AGE_MS),
      { config: 'inter 5s rise 2 fall 3' },
      'document-timing',
      'static',
    );
    expect(shipped.status, shipped.measured).toBe('met');
    expect(documented.status, documented.measured).toBe('not met');
  });

  test('HAProxy stats require authentication; the runtime API socket is enabled', async ({ topology }) => {
    const shipped = tierOf(topology).haproxy();
    expect((await fetch(shipped.url(STATS_PORT, '/stats;csv'))).status).toBe(401);
    expect((await shipped.stats()).some((row) => row.pxname === 'postgres_read')).toBe(true);
    expect((await shipped.container.exec(['sh', '-c', 'test -S /tmp/haproxy-admin.sock'])).exitCode).toBe(0);
  });

  test('db.haproxy.round-robin: new read connections spread evenly over primary and both replicas', async ({ topology }) => {
    const tier = tierOf(topology);
    const shipped = tier.haproxy();
    await allUp(shipped, 'postgres_read');
    const answered = await readsFrom(tier.readEndpoint(), 90);
    const result = recordVerdict(distributionVerdict(answered, allServers, 0.1), { answered, stats: await shipped.stats() });
    expect(result.status, result.measured).toBe('met');

    const skewed = await topology.withService(VARIANTS.firstServerReads, async (firstServerReads) => {
      await allUp(firstServerReads, 'postgres_read');
      return readsFrom(tier.readEndpoint(firstServerReads.alias), 30);
    });
    const control = recordVerdict(distributionVerdict(skewed, allServers, 0.1), { answered: skewed }, 'first-server-reads');
    expect(control.status, control.measured).toBe('not met');
  });

  test('db.writes.primary-only: every write through the write endpoint lands on the primary', async ({ topology }) => {
    const tier = tierOf(topology);
    const shipped = tier.haproxy();
    await withClient(tier.primary.clientConfig(), (c) => c.query(PROBE_SCHEMA));
    const writes = (haproxy: StartedHaproxy) =>
      startConnectionProbe(tier.writeEndpoint(haproxy.alias), { mode: 'write', intervalMs: 25, maxAttempts: 60, windowMs: 20_000 }).done;
    const shippedWrites = await writes(shipped);
    const result = recordVerdict(writesPrimaryOnlyVerdict(shippedWrites), {
      writes: shippedWrites,
      timeline: probeTimeline({ writes: shippedWrites }, shippedWrites[0]?.intendedMs ?? 0),
    });
    expect(result.status, result.measured).toBe('met');
    expect(shippedWrites.every((op) => op.ok)).toBe(true);

    const spreadWrites = await topology.withService(VARIANTS.roundRobinWrites, async (roundRobinWrites) => {
      await allUp(roundRobinWrites, 'postgres_write');
      return writes(roundRobinWrites);
    });
    const control = recordVerdict(writesPrimaryOnlyVerdict(spreadWrites), { writes: spreadWrites }, 'round-robin-writes');
    expect(control.status, control.measured).toBe('not met');
  });

  test('db.pool: 60 concurrent clients through PgBouncer use at most its pool of 10 server connections', async ({ topology }) => {
    const tier = tierOf(topology);
    await allUp(tier.haproxy(), 'postgres_read');
    const servers = tier.servers.map((s) => s.clientConfig());
    const load = (entry: PgClientConfig, applicationName: string) =>
      concurrentClientsLoad(entry, servers, { clients: 60, transactionsPerClient: 5, applicationName, maxDurationMs: 60_000 });
    const pooled = await load(tier.pooledEndpoint('read'), 'bss-pool-probe');
    expect(pooled.errors, pooled.errors.join('; ')).toEqual([]);
    const result = recordVerdict(poolVerdict(pooled.serverConnectionSamples, 10, 60), pooled);
    expect(result.status, result.measured).toBe('met');

    // Negative control: the same clients straight to HAProxy, no pool in between.
    const direct = await load(tier.readEndpoint(), 'bss-pool-probe-direct');
    const control = recordVerdict(poolVerdict(direct.serverConnectionSamples, 10, 60), direct, 'no-pgbouncer');
    expect(control.status, control.measured).toBe('not met');
  });

  test("security: PgBouncer's admin console refuses the application's credentials (and the check sees an admin when one is configured)", async ({
    topology,
  }) => {
    const tier = tierOf(topology);
    const tryConsole = async (config: PgClientConfig): Promise<string> =>
      withClient(config, async (c) => `admin: ${(await c.query('SHOW POOLS')).rows.length} pools`).catch(
        (e: Error) => `refused: ${e.message}`,
      );
    const app = await tryConsole(tier.pgbouncer().clientConfig('pgbouncer'));
    const admin = await tryConsole(tier.pgbouncer().adminConfig());
    const variant = await topology.withService(VARIANTS.appIsPgbouncerAdmin, (appIsAdmin) =>
      tryConsole(appIsAdmin.clientConfig('pgbouncer')),
    );
    writeRunFile('measurements/security.pgbouncer-console.json', { app, admin, appIsAdminVariant: variant });
    expect(app).toMatch(/^refused: /);
    expect(app).not.toContain(secrets.app.password);
    // The same check does see console access where it exists: the admin role, and the app role in the broken variant.
    expect(admin).toMatch(/^admin: /);
    expect(variant).toMatch(/^admin: /);
  });

  test(`db.reads.scale: read throughput through HAProxy over three servers vs the primary alone (pgbench -S, ${READ_SCALE_REPETITIONS} repetitions in random order, median)`, async ({
    topology,
  }) => {
    const tier = tierOf(topology);
    const shipped = tier.haproxy();
    const bench = topology.get<StartedPgbench>('pgbench');
    const servers = tier.servers;
    await bench.initialise(tier.primary, 5);
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
    const run = (host: string, port: number) =>
      bench.run(host, port, { clients: 6, seconds: PGBENCH_SECONDS, args: ['-S'], as: secrets.app });
    const pairs: Array<{ primaryTps: number; balancedTps: number; shares: number[]; order: string }> = [];
    for (let i = 0; i < READ_SCALE_REPETITIONS; i += 1) {
      const order = shuffled(['primary', 'balanced'] as const);
      const result: { primaryTps?: number; balancedTps?: number; shares?: number[] } = {};
      for (const phase of order) {
        if (phase === 'primary') result.primaryTps = (await run(PRIMARY, 5432)).tps;
        else {
          const before = await commits();
          result.balancedTps = (await run(HAPROXY, READ_PORT)).tps;
          const after = await commits();
          const deltas = after.map((n, k) => n - before[k]!);
          const total = deltas.reduce((a, b) => a + b, 0);
          result.shares = deltas.map((d) => Math.round((d / total) * 1000) / 1000);
        }
      }
      pairs.push({ primaryTps: result.primaryTps!, balancedTps: result.balancedTps!, shares: result.shares!, order: order.join(',') });
    }
    const cores = await tier.cores();
    const result = recordVerdict(readScaleVerdict(pairs, cores), {
      pairs,
      cores,
      pgbenchSeconds: PGBENCH_SECONDS,
      profile: currentProfile(),
    });
    // Judged where the engine has the cores (ratio and every server ≥ 0.2 of the work); here it must say why not.
    if (cores.cpuCount < 6) expect(result.status, `${result.measured}; ${result.reason ?? ''}`).toBe('not measured');
    else expect(result.status, result.measured).toBe('met');
  });

  test('db.haproxy.health: a frozen replica leaves the read rotation and returns once healed (negative control: read servers without health checks)', async ({
    topology,
  }) => {
    const tier = tierOf(topology);
    const shipped = tier.haproxy();
    const victim = topology.get<StartedPostgresServer>(REPLICAS[1]);
    const server = haproxyServerName(victim.alias);
    // The control watches the same freeze: HAProxy without checks keeps the frozen server in rotation.
    await topology.withService(VARIANTS.uncheckedReads, async (unchecked) => {
      await allUp(shipped, 'postgres_read');
      const faultAt = now();
      await pause(victim.container);
      let leftMs: number | undefined;
      let uncheckedLeftMs: number | undefined;
      try {
        leftMs = await waitForServerStatus(
          () => shipped.stats(),
          'postgres_read',
          server,
          (s) => s === 'DOWN',
          {
            timeoutMs: 30_000,
            sinceMs: faultAt,
          },
        ).catch(() => undefined);
        // What the unchecked instance says by the end of the claim window (measured from the same freeze).
        uncheckedLeftMs = await waitForServerStatus(
          () => unchecked.stats(),
          'postgres_read',
          server,
          (s) => s === 'DOWN',
          {
            timeoutMs: Math.max(0, FAILOVER_CLAIM_MS - (now() - faultAt)),
            sinceMs: faultAt,
          },
        ).catch(() => undefined);
        const whileDown = await readsFrom(tier.readEndpoint(), 12);
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
        {
          timeoutMs: 30_000,
          sinceMs: healedAt,
        },
      ).catch(() => undefined);
      const afterHeal = await readsFrom(tier.readEndpoint(), 9);
      const observation = { victim: victim.alias, leftMs, returnedMs, afterHeal };
      const result = recordVerdict(rotationVerdict(observation, FAILOVER_CLAIM_MS), {
        ...observation,
        timeline: { unit: 'ms', operations: [], faults: [{ from: 0, to: leftMs ?? 30_000, label: `docker pause ${victim.alias}` }] },
      });
      // Healed, every server answers the unchecked instance as before: only the leaving is judged different.
      const uncheckedAfterHeal = await readsFrom(tier.readEndpoint(unchecked.alias), 9);
      const uncheckedObservation = { victim: victim.alias, leftMs: uncheckedLeftMs, returnedMs: 0, afterHeal: uncheckedAfterHeal };
      const caught = recordVerdict(
        rotationVerdict(uncheckedObservation, FAILOVER_CLAIM_MS),
        uncheckedObservation,
        'read-servers-unchecked',
      );
      expect(result.status, result.measured).toBe('met');
      expect(caught.status, caught.measured).toBe('not met');
    });
  });

  test(`db.haproxy.failover: outage from the kill of a replica on every client endpoint (reads, writes, PgBouncer), ${REPETITIONS} repetitions`, async ({
    topology,
  }) => {
    const tier = tierOf(topology);
    const shipped = tier.haproxy();
    // The document's timing watches the same kills as the control: running for this test only.
    const shippedOutages: Record<string, Outage[]> = { reads: [], writes: [], 'pooled-reads': [] };
    const documentOutages: Record<string, Outage[]> = { reads: [] };
    // The write probe's table: this test creates what it writes to, whatever ran before it.
    await withClient(tier.primary.clientConfig(), (c) => c.query(PROBE_SCHEMA));
    const repetitions: unknown[] = [];
    let timeline;
    await topology.withService(VARIANTS.documentTiming, async (documentTiming) => {
      for (let rep = 0; rep < REPETITIONS; rep += 1) {
        const victim = tier.server(REPLICAS[rep % REPLICAS.length]!);
        const server = haproxyServerName(victim.alias);
        await allUp(shipped, 'postgres_read');
        await allUp(documentTiming, 'postgres_read');
        // Every probe has its own window and stops on its own; the document's timing watches the same fault as the control.
        // Past the claim by the settle time a recovery needs to count (and 2 s of margin for the
        // ramp-up before the kill): a later recovery is "not met" anyway.
        const windowMs = 2_000 + FAILOVER_CLAIM_MS + RECOVERY_SETTLE_MS + 2_000;
        const origin = now();
        const open = (config: PgClientConfig, mode: 'read' | 'write') =>
          startConnectionProbe(config, { mode, intervalMs: PROBE_INTERVAL_MS, windowMs, keyPrefix: `rep${rep}` });
        const probes = {
          reads: open(tier.readEndpoint(), 'read'),
          writes: open(tier.writeEndpoint(), 'write'),
          'pooled-reads': open(tier.pooledEndpoint('read'), 'read'),
          documentTiming: open(tier.readEndpoint(documentTiming.alias), 'read'),
        };
        await expect.poll(() => probes.reads.history.filter((op) => op.ok).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(10);
        const faultAt = now();
        await kill(victim.container);
        const faultInPlace = now();
        const detections = await Promise.all(
          [shipped, documentTiming].map((h) =>
            waitForServerStatus(
              () => h.stats(),
              'postgres_read',
              server,
              (s) => s === 'DOWN',
              { timeoutMs: 40_000, sinceMs: faultAt },
            ),
          ),
        );
        const [shippedDetectMs = Number.NaN, documentDetectMs = Number.NaN] = detections;
        const histories: Record<string, ProbeOp[]> = {};
        for (const [name, probe] of Object.entries(probes)) histories[name] = await probe.done;
        const outages = Object.fromEntries(
          Object.entries(histories).map(([name, h]) => [name, outageFromFault(h, faultAt, { faultInPlaceMs: faultInPlace })]),
        );
        for (const name of Object.keys(shippedOutages)) shippedOutages[name]!.push(outages[name]!);
        documentOutages.reads!.push(outages.documentTiming!);
        repetitions.push({ victim: victim.alias, shippedDetectMs, documentDetectMs, outages });
        timeline = probeTimeline(histories, origin, [
          { fromMs: faultAt, toMs: faultAt + shippedDetectMs, label: `kill ${victim.alias} → DOWN` },
        ]);
        writeRunFile(`measurements/db.haproxy.failover.rep-${rep + 1}.history.json`, histories);

        await start(victim.container);
        await allUp(shipped, 'postgres_read');
      }
    });
    const figures = {
      repetitions,
      recoveryRun: RECOVERY_RUN,
      settleMs: RECOVERY_SETTLE_MS,
      probeIntervalMs: PROBE_INTERVAL_MS,
      timeline,
      loadAverage: loadavg(),
    };
    const result = recordVerdict(failoverVerdict(shippedOutages, { claimMs: FAILOVER_CLAIM_MS, minRepetitions: REPETITIONS }), figures);
    const control = recordVerdict(
      failoverVerdict(documentOutages, { claimMs: FAILOVER_CLAIM_MS, minRepetitions: REPETITIONS }),
      figures,
      'document-timing',
    );
    expect(result.status, result.measured).toBe('met');
    expect(control.status, control.measured).toBe('not met');
  });
});
