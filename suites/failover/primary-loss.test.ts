/**
 * Database tier, losing the primary: reads keep working through the replicas, and promoting
 * a replica with pg_promote() moves the write endpoint to it within 10 s — without any write
 * ever landing on a server in recovery. One scenario per file: it destroys the topology.
 */
import { afterAll, describe, expect } from 'vitest';
import { writesPrimaryOnlyVerdict } from '#fixtures/checks/database.js';
import { verdict } from '#fixtures/checks/verdict.js';
import { waitForServerStatus } from '#fixtures/clients/haproxy-stats.js';
import { now, PROBE_SCHEMA, startConnectionProbe, withClient } from '#fixtures/clients/pg-probes.js';
import { kill } from '#fixtures/faults/faults.js';
import { printSummary, recordVerdict } from '#fixtures/report/measurements.js';
import { writeRunFile } from '#fixtures/run/run-folder.js';
import {
  databaseTier,
  HAPROXY,
  PRIMARY,
  READ_PORT,
  REPLICAS,
  type StartedPostgresServer,
  tierSecrets,
  WRITE_PORT,
} from '#fixtures/services/database-tier.js';
import type { StartedHaproxy } from '#fixtures/services/haproxy.js';
import type { PgClientConfig } from '#fixtures/services/postgres.js';
import { topologyTest } from '#fixtures/vitest/topology-test.js';
import { assertShippedConfigCanFailOver, FAILOVER_CLAIM_MS, haproxyEndpoint } from './failover-support.js';

const secrets = tierSecrets();

const test = topologyTest('primary-loss', databaseTier(secrets), {
  beforeStart: assertShippedConfigCanFailOver,
});

const endpoint = (haproxy: StartedHaproxy, port: number): PgClientConfig => haproxyEndpoint(secrets, haproxy, port);

afterAll(() => printSummary('primary loss'));

describe('database tier: losing the primary', () => {
  test('reads survive the primary; pg_promote() moves the write endpoint to the new primary within 10 s; no write lands on a replica', async ({
    topology,
  }) => {
    const haproxy = topology.get<StartedHaproxy>(HAPROXY);
    const primary = topology.get<StartedPostgresServer>(PRIMARY);
    const candidate = topology.get<StartedPostgresServer>(REPLICAS[0]);
    await withClient(primary.clientConfig(), (c) => c.query(PROBE_SCHEMA));
    await expect
      .poll(
        () => withClient(candidate.clientConfig(), async (c) => (await c.query(`SELECT to_regclass('bss_write_probe') AS t`)).rows[0].t),
        { timeout: 30_000 },
      )
      .not.toBeNull();
    await waitForServerStatus(
      () => haproxy.stats(),
      'postgres_write',
      'primary',
      (s) => s === 'UP',
      { timeoutMs: 30_000 },
    );

    const writes = startConnectionProbe(endpoint(haproxy, WRITE_PORT), {
      mode: 'write',
      intervalMs: 50,
      maxDurationMs: 120_000,
      maxAttempts: 2_400,
    });
    const reads = startConnectionProbe(endpoint(haproxy, READ_PORT), {
      mode: 'read',
      intervalMs: 50,
      maxDurationMs: 120_000,
      maxAttempts: 2_400,
    });
    await expect.poll(() => writes.history.filter((op) => op.ok).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(10);

    const killedAt = now();
    await kill(primary.container);
    const primaryDownMs = await waitForServerStatus(
      () => haproxy.stats(),
      'postgres_read',
      'primary',
      (s) => s === 'DOWN',
      { timeoutMs: 30_000, sinceMs: killedAt },
    );

    // With the primary gone, reads must still be answered — by the replicas only.
    const readsCheckFrom = now() + 1_000;
    await expect
      .poll(() => reads.history.filter((op) => op.startedMs > readsCheckFrom).length, { timeout: 15_000 })
      .toBeGreaterThanOrEqual(40);
    const readsWithoutPrimary = reads.history.filter((op) => op.startedMs > readsCheckFrom);

    // The harness plays the operator (or Patroni): promote replica-1.
    const promotedAt = now();
    await withClient(candidate.clientConfig(), (c) => c.query('SELECT pg_promote(wait => true, wait_seconds => 30)'));
    await expect
      .poll(() => writes.history.some((op) => op.ok && op.startedMs > promotedAt && op.server === candidate.alias), {
        timeout: 30_000,
        interval: 50,
      })
      .toBe(true);
    const stableFrom = now();
    await expect
      .poll(() => writes.history.filter((op) => op.startedMs > stableFrom).length, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(20);
    const [writeHistory, readHistory] = await Promise.all([writes.stop(), reads.stop()]);
    writeRunFile('measurements/db.failover.promotion.history.json', { writeHistory, readHistory, killedAt, promotedAt });

    const firstWriteOnNewPrimary = writeHistory.find((op) => op.ok && op.startedMs > promotedAt && op.server === candidate.alias)!;
    const promotionMs = firstWriteOnNewPrimary.endedMs - promotedAt;
    const writeOutageMs =
      firstWriteOnNewPrimary.endedMs - (writeHistory.filter((op) => op.ok && op.endedMs < killedAt).at(-1)?.endedMs ?? killedAt);

    const readsOk = readsWithoutPrimary.filter((op) => op.ok);
    const readResult = recordVerdict(
      verdict(
        'db.haproxy.primary-loss-reads',
        readsWithoutPrimary.length > 0 && readsOk.length === readsWithoutPrimary.length && readsOk.every((op) => op.server !== PRIMARY),
        'every read answered, by a replica, once the dead primary is out of rotation',
        `${readsOk.length}/${readsWithoutPrimary.length} reads answered by ${[...new Set(readsOk.map((op) => op.server))].join(', ')}; primary out of rotation after ${primaryDownMs.toFixed(0)} ms`,
      ),
      { primaryDownMs, reads: readsWithoutPrimary.length },
    );
    const promotion = recordVerdict(
      verdict(
        'db.failover.promotion',
        promotionMs < FAILOVER_CLAIM_MS,
        `write endpoint reaches the promoted replica < ${FAILOVER_CLAIM_MS} ms after pg_promote()`,
        `${promotionMs.toFixed(0)} ms after pg_promote(); writes were unavailable for ${writeOutageMs.toFixed(0)} ms in total (kill to first write)`,
      ),
      { promotionMs, writeOutageMs },
    );
    const primaryOnly = recordVerdict(
      writesPrimaryOnlyVerdict(writeHistory),
      { attempts: writeHistory.length },
      'shipped',
      'during-failover',
    );

    expect(readResult.status, readResult.measured).toBe('met');
    expect(promotion.status, promotion.measured).toBe('met');
    expect(primaryOnly.status, primaryOnly.measured).toBe('met');
  });
});
