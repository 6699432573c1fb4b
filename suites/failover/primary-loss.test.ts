/**
 * Database tier, losing the primary. The harness plays the automation: it watches HAProxy,
 * and when the primary is marked down it runs the promotion procedure — fence the old primary
 * (maintenance on both backends through HAProxy's runtime API), then pg_promote() a replica.
 * Measured from the kill, per endpoint a client uses (reads 5435, writes 5436, and both through
 * PgBouncer 6432). Then the old primary comes back with its own data: it must never take a
 * write. One scenario per file: it destroys the topology.
 *
 * Negative controls watch the same kill, each a HAProxy differing from the shipped one in one
 * property: `haproxy-document-timing` (the design's "check inter 5s rise 2 fall 3") times the
 * detection the automation would have had from it (db.failover.promotion) and serves reads
 * (db.haproxy.failover [primary-loss], db.haproxy.primary-loss-reads); `haproxy-round-robin-writes`
 * (writes spread over every server with a TCP check) takes writes (db.writes.primary-only
 * [during-failover]). Both are stopped before the old primary returns.
 */
import { loadavg } from 'node:os';
import { afterAll, describe, expect } from 'vitest';
import {
  failoverVerdict,
  outageFromFault,
  type ProbeOp,
  probeTimeline,
  promotionVerdict,
  RECOVERY_RUN,
  RECOVERY_SETTLE_MS,
  singleWriterVerdict,
  writesPrimaryOnlyVerdict,
} from '#fixtures/checks/database.js';
import { metric } from '#fixtures/checks/metric.js';
import { verdict, withMetrics } from '#fixtures/checks/verdict.js';
import { waitForServerStatus } from '#fixtures/clients/haproxy-stats.js';
import { now, PROBE_SCHEMA, type RunningProbe, startConnectionProbe, withClient } from '#fixtures/clients/pg-probes.js';
import { kill, start } from '#fixtures/faults/faults.js';
import { printSummary, recordVerdict } from '#fixtures/report/measurements.js';
import { writeRunFile } from '#fixtures/run/run-folder.js';
import { databaseHaproxyService, databaseTier, PRIMARY, StartedDatabaseTier, tierSecrets } from '#fixtures/services/database-tier.js';
import type { StartedHaproxy } from '#fixtures/services/haproxy.js';
import type { PgClientConfig } from '#fixtures/services/postgres.js';
import { topologyTest } from '#fixtures/vitest/topology-test.js';
import { assertShippedConfigCanFailOver, FAILOVER_CLAIM_MS } from './failover-support.js';
import { DOCUMENT_TIMING, ROUND_ROBIN_WRITES } from './variants.js';

const secrets = tierSecrets();

const DOCUMENT_TIMING_HAPROXY = databaseHaproxyService(secrets, { name: 'haproxy-document-timing', config: DOCUMENT_TIMING });
const ROUND_ROBIN_HAPROXY = databaseHaproxyService(secrets, { name: 'haproxy-round-robin-writes', config: ROUND_ROBIN_WRITES });

const test = topologyTest('primary-loss', databaseTier(secrets), {
  beforeStart: assertShippedConfigCanFailOver,
});

const PROBE_INTERVAL_MS = 100;
/** Each probe's own window: kill ~1 s in, detection ≤ 6.6 s, promotion, then N good answers. */
const FAILOVER_WINDOW_MS = 20_000;
const AUTOMATION = 'harness automation: polls HAProxy stats every 100 ms, then fences and promotes';

afterAll(() => printSummary('primary loss'));

const probeAll = (endpoints: Record<string, { config: PgClientConfig; mode: 'read' | 'write' }>, windowMs: number, tag: string) =>
  Object.fromEntries(
    Object.entries(endpoints).map(([name, { config, mode }]) => [
      name,
      startConnectionProbe(config, { mode, intervalMs: PROBE_INTERVAL_MS, windowMs, keyPrefix: `${tag}-${name}` }),
    ]),
  ) as Record<string, RunningProbe>;

async function finished(probes: Record<string, RunningProbe>): Promise<Record<string, ProbeOp[]>> {
  return Object.fromEntries(await Promise.all(Object.entries(probes).map(async ([name, p]) => [name, await p.done] as const)));
}

/** Every server of a backend UP (bounded). */
async function allUp(haproxy: StartedHaproxy, backend: string, servers: readonly string[]): Promise<void> {
  for (const server of servers)
    await waitForServerStatus(
      () => haproxy.stats(),
      backend,
      server,
      (s) => s === 'UP',
      { timeoutMs: 30_000 },
    );
}

/** Keys of writes sent in [fromMs, toMs) and acknowledged, and which of them the server holds. */
async function acknowledgedAndFound(server: PgClientConfig, writes: readonly ProbeOp[], fromMs: number, toMs = Number.POSITIVE_INFINITY) {
  const sent = (op: ProbeOp): number => op.intendedMs ?? op.startedMs;
  const acknowledged = writes.filter((op) => op.ok && op.key && sent(op) >= fromMs && sent(op) < toMs).map((op) => op.key!);
  const found = await withClient(server, async (c) =>
    (await c.query<{ key: string }>('SELECT key FROM bss_write_probe WHERE key = ANY($1)', [acknowledged])).rows.map((r) => r.key),
  );
  return { acknowledged, found };
}

describe('database tier: losing the primary', () => {
  test('db.failover.promotion + db.haproxy.failover (primary-loss) + db.writes.primary-only (old-primary-returns): kill, fence and promote, the old primary comes back and never takes a write', async ({
    topology,
  }) => {
    const tier = new StartedDatabaseTier(topology, secrets);
    const haproxy = tier.haproxy();
    const primary = tier.primary;
    await withClient(primary.clientConfig(), (c) => c.query(PROBE_SCHEMA));
    for (const replica of tier.replicas) {
      await expect
        .poll(
          () => withClient(replica.clientConfig(), async (c) => (await c.query(`SELECT to_regclass('bss_write_probe') AS t`)).rows[0].t),
          { timeout: 30_000 },
        )
        .not.toBeNull();
    }
    await waitForServerStatus(
      () => haproxy.stats(),
      'postgres_write',
      'primary',
      (s) => s === 'UP',
      { timeoutMs: 30_000 },
    );

    const endpoints = {
      reads: { config: tier.readEndpoint(), mode: 'read' as const },
      writes: { config: tier.writeEndpoint(), mode: 'write' as const },
      'pooled-reads': { config: tier.pooledEndpoint('read'), mode: 'read' as const },
      'pooled-writes': { config: tier.pooledEndpoint('write'), mode: 'write' as const },
    };
    // Phase A with the two control HAProxies beside the shipped one (started for it, stopped after it).
    const phase = await topology.withService(DOCUMENT_TIMING_HAPROXY, (documentTiming) =>
      topology.withService(ROUND_ROBIN_HAPROXY, async (roundRobin) => {
        const servers = ['primary', 'replica-1', 'replica-2'];
        await allUp(documentTiming, 'postgres_read', servers);
        await allUp(documentTiming, 'postgres_write', ['primary']);
        await allUp(roundRobin, 'postgres_write', servers);
        const origin = now();
        const probes = probeAll(endpoints, FAILOVER_WINDOW_MS, 'failover');
        const controlProbes = probeAll(
          {
            'reads-document-timing': { config: tier.readEndpoint(documentTiming.alias), mode: 'read' },
            'writes-round-robin': { config: tier.writeEndpoint(roundRobin.alias), mode: 'write' },
          },
          FAILOVER_WINDOW_MS,
          'control',
        );
        await expect.poll(() => probes.writes!.history.filter((op) => op.ok).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(10);

        const killedAt = now();
        await kill(primary.container);
        const killInPlace = now();
        // When the document's timing would have told the automation: watched from the same kill.
        const documentDetection = waitForServerStatus(
          () => documentTiming.stats(),
          'postgres_write',
          'primary',
          (s) => s.startsWith('DOWN'),
          { timeoutMs: 30_000, intervalMs: 100, sinceMs: killedAt },
        ).catch(() => Number.POSITIVE_INFINITY);
        // The automation: notice the primary is down, then fence it, promote the most advanced
        // replica and re-point the other one at it.
        const detectionMs = await waitForServerStatus(
          () => haproxy.stats(),
          'postgres_write',
          'primary',
          (s) => s.startsWith('DOWN'),
          { timeoutMs: 30_000, intervalMs: 100, sinceMs: killedAt },
        );
        const reactedAt = now();
        const candidate = await tier.promotionCandidate();
        const procedure = await tier.failOver(primary, candidate, { fence: true });
        const histories = await finished(probes);
        const controls = await finished(controlProbes);
        return {
          origin,
          killedAt,
          killInPlace,
          detectionMs,
          documentDetectionMs: await documentDetection,
          reactedAt,
          candidate,
          procedure,
          histories,
          controls,
          phaseA: now(),
        };
      }),
    );
    const { origin, killedAt, killInPlace, detectionMs, reactedAt, candidate, procedure, histories, controls, phaseA } = phase;
    const otherReplica = tier.replicas.find((r) => r.alias !== candidate.alias)!;

    const writes = histories.writes!;
    const firstWrite = writes.find((op) => op.ok && op.endedMs > reactedAt && op.server === candidate.alias);
    const totalMs = firstWrite ? firstWrite.endedMs - killedAt : Number.POSITIVE_INFINITY;
    const times = {
      detectionMs,
      reactionMs: reactedAt - (killedAt + detectionMs),
      promotionMs: firstWrite ? firstWrite.endedMs - reactedAt : Number.POSITIVE_INFINITY,
      totalMs,
      reactor: AUTOMATION,
      // Inside the promotion part, from the reaction: fence, pg_promote() confirmed, routed on HAProxy, other replica re-pointed.
      procedure,
    };
    const outages = Object.fromEntries(
      Object.entries(histories).map(([name, h]) => [name, outageFromFault(h, killedAt, { faultInPlaceMs: killInPlace })]),
    );
    const timeline = probeTimeline(histories, origin, [
      { fromMs: killedAt, toMs: killedAt + detectionMs, label: 'primary killed, not yet detected' },
      { fromMs: reactedAt, toMs: firstWrite?.endedMs ?? phaseA, label: 'fence + pg_promote' },
    ]);
    writeRunFile('measurements/db.failover.promotion.history.json', { histories, killedAt, reactedAt, origin });
    const promotion = recordVerdict(promotionVerdict(times, FAILOVER_CLAIM_MS), { times, outages, timeline, loadAverage: loadavg() });
    // The same procedure, had the automation watched a HAProxy at the document's timing: its detection, this run's reaction and promotion.
    const documentTimes = {
      ...times,
      detectionMs: phase.documentDetectionMs,
      totalMs: phase.documentDetectionMs + times.reactionMs + times.promotionMs,
      reactor: `${AUTOMATION}, watching haproxy-document-timing (its detection; this run's reaction and promotion)`,
    };
    const promotionControl = recordVerdict(promotionVerdict(documentTimes, FAILOVER_CLAIM_MS), { times: documentTimes }, 'document-timing');
    const documentReads = controls['reads-document-timing']!;
    const documentOutage = outageFromFault(documentReads, killedAt, { faultInPlaceMs: killInPlace });
    const failoverControl = recordVerdict(
      failoverVerdict({ reads: [documentOutage] }, { claimMs: FAILOVER_CLAIM_MS, minRepetitions: 1 }),
      { outages: { reads: documentOutage }, timeline: probeTimeline({ reads: documentReads }, origin) },
      'document-timing',
      'primary-loss',
    );
    const failover = recordVerdict(
      failoverVerdict(Object.fromEntries(Object.entries(outages).map(([name, o]) => [name, [o]])), {
        claimMs: FAILOVER_CLAIM_MS,
        minRepetitions: 1,
      }),
      {
        outages,
        recoveryRun: RECOVERY_RUN,
        settleMs: RECOVERY_SETTLE_MS,
        probeIntervalMs: PROBE_INTERVAL_MS,
        timeline,
        loadAverage: loadavg(),
      },
      'shipped',
      'primary-loss',
    );
    /** Every read from 1 s after the shipped HAProxy took the dead primary out of rotation: answered, by a replica. */
    const primaryLossReads = (reads: readonly ProbeOp[], where: string) => {
      const after = reads.filter((op) => op.startedMs > killedAt + detectionMs + 1_000);
      return verdict(
        'db.haproxy.primary-loss-reads',
        after.length > 0 && after.every((op) => op.ok && op.server !== PRIMARY),
        'every read answered, by a replica, from 1 s after the dead primary is out of rotation',
        `${where}: ${after.filter((op) => op.ok).length}/${after.length} reads answered by ${[...new Set(after.filter((op) => op.ok).map((op) => op.server))].join(', ') || 'none'}; primary out of rotation after ${detectionMs.toFixed(0)} ms`,
        undefined,
        [
          metric('reads.failed', after.filter((op) => !op.ok).length, 'count', 'lower-is-better'),
          metric('primary-down-detection', detectionMs, 'ms', 'lower-is-better'),
        ],
      );
    };
    const readResult = recordVerdict(primaryLossReads([...histories.reads!, ...histories['pooled-reads']!], '5435 and PgBouncer'), {
      detectionMs,
      timeline,
    });
    const readControl = recordVerdict(primaryLossReads(documentReads, 'haproxy-document-timing:5435'), {}, 'document-timing');
    const duringFailover = recordVerdict(
      writesPrimaryOnlyVerdict([...writes, ...histories['pooled-writes']!]),
      { attempts: writes.length, timeline },
      'shipped',
      'during-failover',
    );
    const roundRobinWrites = controls['writes-round-robin']!;
    const duringFailoverControl = recordVerdict(
      writesPrimaryOnlyVerdict(roundRobinWrites),
      { attempts: roundRobinWrites.length, timeline: probeTimeline({ writes: roundRobinWrites }, origin) },
      'round-robin-writes',
      'during-failover',
    );

    // The old primary comes back with its own data: "not in recovery", its agent says /primary.
    const returnOrigin = now();
    const returning = probeAll({ writes: endpoints.writes, 'pooled-writes': endpoints['pooled-writes'] }, 15_000, 'returning');
    await start(primary.container);
    const backAt = now();
    await expect
      .poll(
        async () =>
          (
            await primary.container.exec(['psql', '-h', '/var/run/postgresql', '-U', 'postgres', '-XAtqc', 'SELECT pg_is_in_recovery()'])
          ).output.trim(),
        { timeout: 30_000, interval: 200 },
      )
      .toBe('f');
    const stalePrimaryAt = now();
    // The other replica was re-pointed by the procedure: it streams from the new primary and
    // a row written there reaches it. The same observation of a server nobody re-pointed (the
    // fenced old primary, up on its own timeline) must say it does not.
    const otherFollows = await tier.streamsFrom(otherReplica, candidate);
    const notRepointed = await tier.streamsFrom(primary, candidate, 5_000);
    const returned = await finished(returning);
    const fencedWrites = [...writes, ...histories['pooled-writes']!, ...returned.writes!, ...returned['pooled-writes']!];
    const fencedRows = await acknowledgedAndFound(candidate.appConfig(), fencedWrites, reactedAt);
    // Asynchronous replication's loss window: rows the old primary acknowledged in its last moments and never shipped.
    const beforeKill = await acknowledgedAndFound(candidate.appConfig(), fencedWrites, origin, reactedAt);
    const returnTimeline = probeTimeline(returned, returnOrigin, [
      { fromMs: backAt, toMs: stalePrimaryAt, label: 'old primary restarting' },
      { fromMs: stalePrimaryAt, toMs: now(), label: 'old primary up, not in recovery (fenced)' },
    ]);
    const single = recordVerdict(
      withMetrics(
        singleWriterVerdict({
          writes: fencedWrites,
          fromMs: reactedAt,
          oldPrimary: primary.alias,
          newPrimary: candidate.alias,
          ...fencedRows,
        }),
        [metric('rows.lost-at-kill', beforeKill.acknowledged.length - beforeKill.found.length, 'count', 'informational')],
      ),
      {
        acknowledged: fencedRows.acknowledged.length,
        found: fencedRows.found.length,
        acknowledgedBeforePromotion: beforeKill.acknowledged.length,
        foundBeforePromotion: beforeKill.found.length,
        timeline: returnTimeline,
      },
      'shipped',
      'old-primary-returns',
    );

    // Negative control: the same procedure without the fence — the old primary back in rotation
    // before it has rejoined as a standby. `balance first` prefers it: two writers, lost rows.
    const controlFrom = now();
    await tier.readmit(primary);
    const unfencedProbe = probeAll({ writes: endpoints.writes }, 8_000, 'unfenced');
    const unfenced = await finished(unfencedProbe);
    const controlRows = await acknowledgedAndFound(candidate.appConfig(), unfenced.writes!, controlFrom);
    const control = recordVerdict(
      singleWriterVerdict({
        writes: unfenced.writes!,
        fromMs: controlFrom,
        oldPrimary: primary.alias,
        newPrimary: candidate.alias,
        ...controlRows,
      }),
      { acknowledged: controlRows.acknowledged.length, found: controlRows.found.length, timeline: probeTimeline(unfenced, controlFrom) },
      'no-fence',
      'old-primary-returns',
    );

    // Step 3 of the procedure: fence again, rejoin the old primary as a standby with pg_rewind
    // (which discards what it took without the fence), then readmit it. Writes stay on replica-1.
    await tier.fence(primary);
    await tier.rejoinAsStandby(primary, candidate);
    await tier.readmit(primary);
    const rejoinedFrom = now();
    const rejoined = await finished(probeAll({ writes: endpoints.writes }, 5_000, 'rejoined'));
    const rejoinedServers = [...new Set(rejoined.writes!.filter((op) => op.ok).map((op) => op.server))];
    // Both standbys now stream from the new primary (bounded waits: they reconnect on their own).
    const rejoinedFollows = await tier.streamsFrom(primary, candidate);
    const otherStillFollows = await tier.streamsFrom(otherReplica, candidate);
    const standbys = await withClient(candidate.clientConfig(), async (c) =>
      (
        await c.query<{ application_name: string; state: string }>(
          `SELECT application_name, state FROM pg_stat_replication ORDER BY application_name`,
        )
      ).rows.map((r) => `${r.application_name}:${r.state}`),
    );
    writeRunFile('measurements/db.writes.primary-only.old-primary-returns.rejoined.json', {
      rejoinedFrom,
      newPrimary: candidate.alias,
      servers: rejoinedServers,
      acknowledged: rejoined.writes!.filter((op) => op.ok).length,
      attempts: rejoined.writes!.length,
      standbysOfNewPrimary: standbys,
      otherReplicaAfterPromotion: { alias: otherReplica.alias, ...otherFollows },
      oldPrimaryFencedNotRejoined: notRepointed,
      oldPrimaryAfterRejoin: rejoinedFollows,
      otherReplicaAfterRejoin: otherStillFollows,
    });

    expect(rejoinedServers).toEqual([candidate.alias]);
    expect(otherFollows, `${otherReplica.alias} after the promotion`).toMatchObject({ streaming: true, senderHost: candidate.alias });
    expect(otherFollows.markerSeenMs).not.toBeNull();
    expect(notRepointed.observations, `control observed: ${notRepointed.lastError ?? ''}`).toBeGreaterThan(0);
    expect(notRepointed.streaming, 'control: the fenced old primary, not re-pointed').toBe(false);
    expect(notRepointed.markerSeenMs).toBeNull();
    expect(rejoinedFollows, `${primary.alias} after the rejoin`).toMatchObject({ streaming: true, senderHost: candidate.alias });
    expect(otherStillFollows, `${otherReplica.alias} after the rejoin`).toMatchObject({ streaming: true, senderHost: candidate.alias });
    expect(promotionControl.status, promotionControl.measured).toBe('not met');
    expect(failoverControl.status, failoverControl.measured).toBe('not met');
    expect(readControl.status, readControl.measured).toBe('not met');
    expect(duringFailoverControl.status, duringFailoverControl.measured).toBe('not met');
    expect(readResult.status, readResult.measured).toBe('met');
    expect(duringFailover.status, duringFailover.measured).toBe('met');
    expect(promotion.status, promotion.measured).toBe('met');
    expect(failover.status, failover.measured).toBe('met');
    expect(single.status, single.measured).toBe('met');
    expect(control.status, control.measured).toBe('not met');
  });
});
