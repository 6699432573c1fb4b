/**
 * Database tier, replication: the primary streams to two hot standbys through their slots,
 * the standbys refuse writes, data shows up on both within the claimed lag, and a restarted
 * standby catches up. Starts only the primary and the two replicas.
 */
import { afterAll, describe, expect } from 'vitest';
import {
  lagVerdict,
  readOnlyVerdict,
  type ReadOnlyObservation,
  type WritePair,
  writesDecoupledVerdict,
  writeThroughputImpactVerdict,
} from '#fixtures/checks/database.js';
import { verdict } from '#fixtures/checks/verdict.js';
import { measureVisibilityLag, now, PROBE_SCHEMA, startWriteLoad, withClient } from '#fixtures/clients/pg-probes.js';
import { pause, restart, unpause } from '#fixtures/faults/faults.js';
import { printSummary, recordVerdict } from '#fixtures/report/measurements.js';
import { describeEnvironment, writeRunFile } from '#fixtures/run/run-folder.js';
import { pgbenchService, type StartedPgbench } from '#fixtures/services/pgbench.js';
import { databaseTier, PRIMARY, REPLICAS, type StartedPostgresServer, tierSecrets } from '#fixtures/services/database-tier.js';
import type { Topology } from '#fixtures/topology/topology.js';
import { topologyTest } from '#fixtures/vitest/topology-test.js';

const secrets = tierSecrets();
const test = topologyTest('replication', [...databaseTier(secrets), pgbenchService(secrets.credentials, [PRIMARY])], {
  only: [PRIMARY, ...REPLICAS, 'pgbench'],
});
const LAG_SAMPLES = 250;
const CATCH_UP_BOUND_MS = 30_000;

function servers(topology: Topology) {
  return {
    primary: topology.get<StartedPostgresServer>(PRIMARY),
    replicas: REPLICAS.map((name) => topology.get<StartedPostgresServer>(name)),
  };
}

afterAll(() => printSummary('replication'));

describe('database tier: streaming replication', () => {
  test('db.replicas.streaming: both replicas stream through replica1_slot and replica2_slot with hot_standby_feedback on', async ({
    topology,
  }) => {
    const { primary, replicas } = servers(topology);
    const state = await withClient(primary.clientConfig(), async (client) => {
      // Streaming starts right after the standby is ready; allow it a bounded moment.
      await expect
        .poll(
          async () =>
            (await client.query(`SELECT application_name FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1`)).rows.map(
              (r) => r.application_name as string,
            ),
          {
            timeout: 60_000,
            interval: 250,
          },
        )
        .toEqual([...REPLICAS]);
      const slots = (
        await client.query<{ slot_name: string; active: boolean }>('SELECT slot_name, active FROM pg_replication_slots ORDER BY 1')
      ).rows;
      const senders = (
        await client.query('SELECT application_name, state, sync_state, replay_lag::text FROM pg_stat_replication ORDER BY 1')
      ).rows;
      return { slots, senders };
    });
    const feedback = await Promise.all(
      replicas.map((replica) =>
        withClient(
          replica.clientConfig(),
          async (c) => (await c.query<{ hot_standby_feedback: string }>('SHOW hot_standby_feedback')).rows[0]!.hot_standby_feedback,
        ),
      ),
    );
    const slotsActive = ['replica1_slot', 'replica2_slot'].every((slot) => state.slots.some((s) => s.slot_name === slot && s.active));
    const result = recordVerdict(
      verdict(
        'db.replicas.streaming',
        slotsActive && feedback.every((f) => f === 'on'),
        'both replicas streaming, slots replica1_slot/replica2_slot active, hot_standby_feedback on',
        `senders ${JSON.stringify(state.senders.map((s) => `${s.application_name}:${s.state}`))}, slots ${JSON.stringify(state.slots)}, feedback ${feedback.join('/')}`,
      ),
      { ...state, hotStandbyFeedback: feedback },
    );
    expect(result.status, result.measured).toBe('met');
  });

  test('db.replicas.read-only: replicas refuse writes with SQLSTATE 25006 and report pg_is_in_recovery()', async ({ topology }) => {
    const { primary, replicas } = servers(topology);
    await withClient(primary.clientConfig(), (c) => c.query(PROBE_SCHEMA));
    const observe = async (server: StartedPostgresServer, setup?: string): Promise<ReadOnlyObservation> =>
      withClient(server.clientConfig(), async (client) => {
        if (setup) await client.query(setup);
        const inRecovery = (await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r;
        const sqlstate = await client.query(`INSERT INTO bss_write_probe (server) VALUES ('read-only check')`).then(
          () => undefined,
          (error: { code?: string }) => error.code ?? 'unknown',
        );
        return { server: server.alias, inRecovery, sqlstate };
      });
    // The table is created on the primary; wait until both replicas have replayed it.
    for (const replica of replicas) {
      await expect
        .poll(
          () => withClient(replica.clientConfig(), async (c) => (await c.query(`SELECT to_regclass('bss_write_probe') AS t`)).rows[0].t),
          { timeout: 30_000 },
        )
        .not.toBeNull();
    }
    const observations = await Promise.all(replicas.map((replica) => observe(replica)));
    const result = recordVerdict(readOnlyVerdict(observations), observations);
    expect(result.status, result.measured).toBe('met');

    // Negative control: a primary in a read-only transaction also answers 25006, but it is
    // not in recovery; the check must not take it for a replica.
    const readOnlyPrimary = await observe(primary, 'SET default_transaction_read_only = on');
    const control = recordVerdict(readOnlyVerdict([readOnlyPrimary]), [readOnlyPrimary], 'read-only-primary');
    expect(readOnlyPrimary.sqlstate).toBe('25006');
    expect(control.status, control.measured).toBe('not met');
  });

  test('a credential that does not work fails with an error naming the endpoint', async ({ topology }) => {
    const { primary } = servers(topology);
    const wrong = { ...primary.clientConfig(), password: 'not-the-password' };
    await expect(withClient(wrong, (c) => c.query('SELECT 1'))).rejects.toThrow(
      new RegExp(`Cannot connect to PostgreSQL at ${wrong.host}:${wrong.port} as postgres: password authentication failed`),
    );
  });

  test('data written on the primary appears on both replicas', async ({ topology }) => {
    const { primary, replicas } = servers(topology);
    const marker = `marker-${Date.now()}`;
    await withClient(primary.clientConfig(), async (c) => {
      await c.query(PROBE_SCHEMA);
      await c.query('INSERT INTO bss_write_probe (server) VALUES ($1)', [marker]);
    });
    for (const replica of replicas) {
      await expect
        .poll(
          () =>
            withClient(
              replica.clientConfig(),
              async (c) => (await c.query('SELECT count(*)::int AS n FROM bss_write_probe WHERE server = $1', [marker])).rows[0].n,
            ),
          { timeout: 30_000, interval: 100 },
        )
        .toBe(1);
    }
  });

  test(`db.replication.lag: p99 write-then-read visibility lag < 1 s under write load (${LAG_SAMPLES} samples per replica)`, async ({
    topology,
  }) => {
    const { primary, replicas } = servers(topology);
    await withClient(primary.clientConfig(), (c) => c.query(PROBE_SCHEMA));
    const load = startWriteLoad(primary.clientConfig(), { clients: 2, maxDurationMs: 120_000 });
    let samples: Record<string, number[]>;
    try {
      samples = await measureVisibilityLag(primary.clientConfig(), Object.fromEntries(replicas.map((r) => [r.alias, r.clientConfig()])), {
        samples: LAG_SAMPLES,
        pollMs: 2,
        timeoutMs: 10_000,
        gapMs: 5,
      });
    } finally {
      const background = await load.stop();
      writeRunFile('measurements/db.replication.lag.load.json', background);
    }
    const result = recordVerdict(lagVerdict(samples, { thresholdMs: 1000, minSamples: 200 }), { samplesMs: samples });
    expect(result.status, result.measured).toBe('met');
  });

  test('negative control: a replica with recovery_min_apply_delay = 1500ms fails the lag claim', async ({ topology }) => {
    const { primary, replicas } = servers(topology);
    const delayed = replicas[1]!;
    await withClient(primary.clientConfig(), (c) => c.query(PROBE_SCHEMA));
    await withClient(delayed.clientConfig(), async (c) => {
      await c.query(`ALTER SYSTEM SET recovery_min_apply_delay = '1500ms'`);
      await c.query('SELECT pg_reload_conf()');
      await expect
        .poll(async () => (await c.query('SHOW recovery_min_apply_delay')).rows[0].recovery_min_apply_delay, { timeout: 10_000 })
        .toBe('1500ms');
    });
    try {
      const samples = await measureVisibilityLag(
        primary.clientConfig(),
        { [delayed.alias]: delayed.clientConfig() },
        { samples: 8, pollMs: 5, timeoutMs: 5_000 },
      );
      const control = recordVerdict(
        lagVerdict(samples, { thresholdMs: 1000, minSamples: 8 }),
        { samplesMs: samples },
        'recovery_min_apply_delay-1500ms',
      );
      expect(control.status, control.measured).toBe('not met');
    } finally {
      await withClient(delayed.clientConfig(), async (c) => {
        await c.query('ALTER SYSTEM RESET recovery_min_apply_delay');
        await c.query('SELECT pg_reload_conf()');
      });
    }
  });

  test(`a restarted replica catches up within ${CATCH_UP_BOUND_MS / 1000} s while writes continue`, async ({ topology }) => {
    const { primary, replicas } = servers(topology);
    const replica = replicas[0]!;
    await withClient(primary.clientConfig(), (c) => c.query(PROBE_SCHEMA));
    const load = startWriteLoad(primary.clientConfig(), { clients: 2, maxDurationMs: 90_000 });
    try {
      const restartStarted = now();
      await restart(replica.container);
      const restartMs = now() - restartStarted;
      const target = await withClient(
        primary.clientConfig(),
        async (c) => (await c.query('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0].lsn as string,
      );
      const from = now();
      await withClient(replica.clientConfig(), async (c) => {
        await expect
          .poll(
            async () =>
              (await c.query<{ caught: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS caught', [target])).rows[0]!.caught,
            {
              timeout: CATCH_UP_BOUND_MS,
              interval: 50,
            },
          )
          .toBe(true);
      });
      const catchUpMs = now() - from;
      const result = recordVerdict(
        verdict(
          'db.replicas.catch-up',
          catchUpMs < CATCH_UP_BOUND_MS,
          `caught up < ${CATCH_UP_BOUND_MS} ms after restart`,
          `${catchUpMs.toFixed(0)} ms (restart itself ${restartMs.toFixed(0)} ms)`,
        ),
        { catchUpMs, restartMs, targetLsn: target },
      );
      expect(result.status, result.measured).toBe('met');
    } finally {
      writeRunFile('measurements/db.replicas.catch-up.load.json', await load.stop());
    }
  });

  test('db.writes.no-impact: writes never wait for replicas (pgbench -N with replicas streaming vs frozen, median of 3 pairs)', async ({
    topology,
  }) => {
    const { primary, replicas } = servers(topology);
    const bench = topology.get<StartedPgbench>('pgbench');
    await bench.initialise(PRIMARY, 5);
    const writeRun = () => bench.run(PRIMARY, 5432, { clients: 4, seconds: 6, args: ['-N'] });
    const measurePairs = async (count: number): Promise<WritePair[]> => {
      const pairs: WritePair[] = [];
      for (let i = 0; i < count; i += 1) {
        const streaming = await writeRun();
        for (const replica of replicas) await pause(replica.container);
        try {
          const frozen = await writeRun();
          pairs.push({ streamingTps: streaming.tps, frozenTps: frozen.tps });
        } finally {
          for (const replica of replicas) await unpause(replica.container);
        }
      }
      return pairs;
    };
    const pairs = await measurePairs(3);
    const machine = describeEnvironment();
    const decoupled = recordVerdict(writesDecoupledVerdict(pairs), { pairs, machine }, 'shipped', 'decoupled');
    const throughput = recordVerdict(writeThroughputImpactVerdict(pairs, machine), { pairs, machine }, 'shipped', 'throughput');
    expect(decoupled.status, decoupled.measured).toBe('met');
    expect(throughput.status, `${throughput.measured}; ${throughput.reason ?? ''}`).not.toBe('not met');

    // Negative control: synchronous replication with remote_apply makes every commit wait for
    // a standby — with the standbys frozen, writes stall (the run is killed at its bound and
    // counts 0 tps), and the check must say so. Resetting the setting releases the waiters.
    await withClient(primary.clientConfig(), async (c) => {
      await c.query(`ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (*)'`);
      await c.query(`ALTER SYSTEM SET synchronous_commit = 'remote_apply'`);
      await c.query('SELECT pg_reload_conf()');
    });
    try {
      const syncPairs = await measurePairs(1);
      const control = recordVerdict(writesDecoupledVerdict(syncPairs), { pairs: syncPairs }, 'synchronous-remote-apply', 'decoupled');
      expect(control.status, control.measured).toBe('not met');
    } finally {
      await withClient(primary.clientConfig(), async (c) => {
        await c.query('ALTER SYSTEM RESET synchronous_standby_names');
        await c.query('ALTER SYSTEM RESET synchronous_commit');
        await c.query('SELECT pg_reload_conf()');
      });
    }
  });
});
