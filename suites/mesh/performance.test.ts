/**
 * mesh.performance with k6 on the topology's network: constant-arrival-rate stages straight to
 * the backend and through Envoy in the same run; Envoy's RSS and CPU and the generator's own
 * CPU from the containers' cgroups (cumulative CPU time read every 500 ms; a stage's CPU is the
 * difference of two readings inside it, aligned on the wall clock k6's setup() reports).
 *
 * Envoy here is the shipped configuration with the rate limiter switched off (one change): the
 * shipped bucket (100 tokens, 10 per minute) answers 429 after the first 100 requests, so no
 * throughput figure could be taken through it — the document's 100,000 req/s and its own rate
 * limit cannot both hold on /api/.
 *
 * Negative control: the same Envoy with a fixed 10 ms delay on every request (Envoy's fault
 * filter), measured the same way at the added-latency rate — ten times the 1 ms bound, and twice
 * the document's 5 ms p99, so both aspects' checks must refuse it wherever they judge.
 *
 * Bounds come from the claims registry; the judging gate (8 cores) reads the engine's cores
 * available to Envoy and the backend, not the Node host's. From that gate on, the rates double up
 * to the claimed 100,000 req/s and the load comes from one k6 runner per 4 engine cores, each an
 * execution segment of the same stages; a stage's p99 pooled over runners is the bracket of their
 * p99s, judged met on its top and not met on its bottom (fixtures/load/pooled-stage.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect } from 'vitest';
import * as envoyConfig from '#fixtures/services/envoy-variants.js';
import { addedLatencyVerdict, performanceVerdict, type RateResult } from '#fixtures/checks/mesh.js';
import { boundValue } from '#fixtures/report/bounds.js';
import { printSummary, recordVerdict } from '#fixtures/report/measurements.js';
import { currentProfile, byProfile } from '#fixtures/run/profile.js';
import { progress } from '#fixtures/run/progress.js';
import { REPO_ROOT, writeRunFile } from '#fixtures/run/run-folder.js';
import { backendService } from '#fixtures/services/backend.js';
import { assertEnvoyConfigsValid, envoyService, type StartedEnvoy } from '#fixtures/services/envoy.js';
import { poolStage, runnersFor } from '#fixtures/load/pooled-stage.js';
import { segmentArgs } from '#fixtures/load/segments.js';
import { runK6 } from '#fixtures/services/k6.js';
import { engineCores } from '#fixtures/support/engine-cores.js';
import { harnessLabels } from '#fixtures/topology/lifecycle.js';
import type { Topology } from '#fixtures/topology/topology.js';
import { topologyTest } from '#fixtures/vitest/topology-test.js';
import { cpuPercentOver, resourceSeries, sampleCgroups, type CgroupSample } from './docker-stats.js';
import { SHIPPED } from './mesh-topology.js';

const CONFIG = envoyConfig.withRateLimitEnabled(SHIPPED, 0);
/** The control's delay: 10 × the added-latency bound, 2 × the document's p99 (principle fixed before measuring). */
const CONTROL_DELAY_MS = 10;
const DELAYED = envoyConfig.withFixedDelay(CONFIG, CONTROL_DELAY_MS);
const test = topologyTest(
  'mesh-performance',
  [
    backendService(),
    envoyService({ name: 'envoy', config: CONFIG, dependsOn: ['backend'] }),
    envoyService({ name: 'envoy-delayed', config: DELAYED, dependsOn: ['backend'] }),
  ],
  { beforeStart: () => assertEnvoyConfigsValid({ 'envoy (rate limiter off)': CONFIG, 'envoy (10 ms fixed delay)': DELAYED }) },
);

const RATES = byProfile({
  quick: [250, 1000, 2000],
  nightly: [250, 1000, 2000, 4000, 8000],
  release: [250, 1000, 2000, 4000, 8000, 16000],
});
const STAGE_SECONDS = byProfile({ quick: 8, nightly: 30, release: 60 });
const GAP_SECONDS = 2;
/** Principle fixed before measuring: a six-figure request rate needs the generator, the proxy and the backend on separate cores. */
const JUDGING_CORES = 8;
const CLAIMED_RATE = boundValue('mesh.performance', 'rate');
/** On a machine that can judge the claim, the profile's rates go on doubling up to the claimed rate. */
function ratesFor(cores: number): number[] {
  if (cores < JUDGING_CORES) return RATES;
  const steps = [...RATES];
  while (steps.at(-1)! < CLAIMED_RATE) steps.push(Math.min(CLAIMED_RATE, steps.at(-1)! * 2));
  return steps;
}
/**
 * Principle fixed before measuring: from the judging cores on, one k6 runner per 4 engine cores,
 * each an execution segment of the same stages (k6's own distributed execution, as k6-operator
 * runs it). `BSS_MESH_RUNNERS` sets the count on any machine — a harness switch that exercises the
 * pooling where the claim itself cannot be judged.
 */
const CORES_PER_RUNNER = 4;
function runnerCount(cores: number): number {
  const forced = process.env.BSS_MESH_RUNNERS;
  if (forced === undefined || forced === '') return runnersFor(cores, { judgingCores: JUDGING_CORES, coresPerRunner: CORES_PER_RUNNER });
  const n = Number(forced);
  if (!Number.isInteger(n) || n < 1 || n > 16)
    throw new Error(
      `BSS_MESH_RUNNERS=${forced} is not a runner count: use a whole number from 1 to 16, or unset it to follow the engine's cores`,
    );
  return n;
}
/** k6's own bound: every stage of both paths with its gap, plus its start and summary. */
const k6Seconds = (rates: readonly number[]): number => rates.length * 2 * (STAGE_SECONDS + GAP_SECONDS) + 60;
/**
 * The test's bound follows the profile (release: 6 rates × 2 paths × 62 s ≈ 13 min, past vitest's
 * default 10 min, which cut the first release run's test short): k6 for the shipped and the
 * control run plus their containers and the judging. Bounded all the same; on a machine of 8 or
 * more cores the steps up to the claimed rate add theirs.
 */
const TEST_TIMEOUT_MS = (k6Seconds(ratesFor(JUDGING_CORES)) + k6Seconds([1]) + 240) * 1000;
const ADDED_LATENCY_RATE = 1000;
const ADDED_LATENCY_BOUND_MS = boundValue('mesh.performance', 'added-p99');

afterAll(() => printSummary('mesh performance'));

interface SummaryMetric {
  readonly values: Record<string, number>;
}

interface K6Summary {
  data: { metrics: Record<string, SummaryMetric>; setup_data?: { startedAt?: number } };
}

/**
 * One run of load/mesh-performance.js — each rate straight to the backend, then through
 * `envoyAlias` — by `runners` k6 containers at once, each an execution segment of the same
 * stages; each stage's figures pooled (fixtures/load/pooled-stage.ts). One runner is the plain run.
 */
async function measureStages(
  topology: Topology,
  envoyAlias: string,
  rates: readonly number[],
  cores: number,
  tag: string,
  expectedLatencyMs = 2,
  runners = 1,
) {
  const envoy = topology.get<StartedEnvoy>(envoyAlias);
  const script = readFileSync(join(REPO_ROOT, 'load', 'mesh-performance.js'), 'utf8');
  const samplers: Array<Awaited<ReturnType<typeof sampleCgroups>> | undefined> = [];
  progress(
    'k6',
    `${tag}: rates ${rates.join(', ')} req/s × ${STAGE_SECONDS} s, direct and through ${envoyAlias} (${currentProfile()})${runners > 1 ? `, ${runners} runners (execution segments)` : ''}`,
  );
  const runs = await Promise.all(
    Array.from({ length: runners }, (_, i) =>
      runK6({
        network: topology.network,
        script,
        labels: harnessLabels('mesh-performance'),
        env: {
          ENVOY_URL: `http://${envoyAlias}:15006/api/customers`,
          DIRECT_URL: 'http://backend:8080/api/customers',
          RATES: rates.join(','),
          STAGE_SECONDS: String(STAGE_SECONDS),
          GAP_SECONDS: String(GAP_SECONDS),
          SUMMARY_PATH: '/tmp/mesh-summary.json',
          EXPECTED_LATENCY_MS: String(expectedLatencyMs),
        },
        timeoutSeconds: k6Seconds(rates),
        readBack: ['/tmp/mesh-summary.json'],
        extraArgs: runners > 1 ? segmentArgs(i, runners) : [],
        onStarted: async (k6) => {
          // The first runner's sampler also reads the proxy and the backend.
          samplers[i] = await sampleCgroups({
            k6: k6.getId(),
            ...(i === 0 ? { envoy: envoy.container.getId(), backend: topology.get<StartedEnvoy>('backend').container.getId() } : {}),
          });
        },
      }),
    ),
  );
  const samples: CgroupSample[][] = await Promise.all(runs.map(async (_, i) => (await samplers[i]?.stop()) ?? []));
  // The machine's run queue (1-minute load average) after the run: on shared cores a starved generator
  // shows as dropped iterations even while its own CPU share stays low.
  const loadAverage = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  const summaries = runs.map((run, i) => {
    const suffix = runners > 1 ? `-runner-${i + 1}-of-${runners}` : '';
    writeRunFile(`mesh/${tag}${suffix}-k6-output.txt`, run.output);
    const summaryText = run.files['/tmp/mesh-summary.json'];
    expect(summaryText, run.output.slice(-2000)).toBeDefined();
    const summary = JSON.parse(summaryText!) as K6Summary;
    writeRunFile(`mesh/${tag}${suffix}-k6-summary.json`, summary);
    return summary;
  });
  const startedAt = summaries.map((summary) => summary.data.setup_data?.startedAt);

  // Stage windows on the wall clock: k6 starts the scenarios' startTime offsets when setup() returns.
  const window = (runner: number, r: number, p: number): { from: number; to: number } => {
    const began = startedAt[runner];
    const from = began === undefined ? Number.NaN : began + (r * 2 + p) * (STAGE_SECONDS + GAP_SECONDS) * 1000;
    return { from, to: from + STAGE_SECONDS * 1000 };
  };
  const results: RateResult[] = [];
  const envoyStageCores: number[] = [];
  rates.forEach((rate, r) => {
    (['direct', 'envoy'] as const).forEach((path, p) => {
      const name = `${path}_${rate}`;
      const perRunner = summaries.map((summary) => {
        const m = (metricName: string): Record<string, number> => summary.data.metrics[`${metricName}{scenario:${name}}`]?.values ?? {};
        const duration = m('http_req_duration');
        return {
          iterations: m('iterations').count ?? 0,
          droppedIterations: m('dropped_iterations').count ?? 0,
          failedRate: m('http_req_failed').rate ?? Number.NaN,
          p50: duration['p(50)'] ?? Number.NaN,
          p99: duration['p(99)'] ?? Number.NaN,
          max: duration.max ?? Number.NaN,
        };
      });
      const pooled = poolStage(perRunner);
      // The generators' CPU is the sum of every runner's over its own window of this stage.
      const generatorCpu = samples.reduce((sum, runnerSamples, i) => {
        const { from, to } = window(i, r, p);
        return sum + (cpuPercentOver(runnerSamples, 'k6', from, to, cores) ?? Number.NaN);
      }, 0);
      if (path === 'envoy') {
        const { from, to } = window(0, r, p);
        const envoyCpu = cpuPercentOver(samples[0] ?? [], 'envoy', from, to, 1);
        if (envoyCpu !== undefined) envoyStageCores.push(envoyCpu / 100);
      }
      results.push({
        rate,
        path,
        p50: pooled.p50,
        p99: pooled.p99,
        ...(runners > 1 ? { p99Low: pooled.p99Low } : {}),
        max: pooled.max,
        achievedRate: pooled.iterations / STAGE_SECONDS,
        droppedIterations: pooled.droppedIterations,
        failedRate: pooled.failedRate,
        generatorCpuPercent: generatorCpu,
      });
    });
  });
  const envoySamples = resourceSeries(samples[0] ?? [], 'envoy').map((s) => ({ rssMiB: s.rssMiB, cpuCores: s.cpuCores }));
  // Every stage ran: the generators produced load on both paths at every rate.
  for (const r of results) expect(r.achievedRate, `${tag} ${r.path}@${r.rate}`).toBeGreaterThan(0);
  return {
    results,
    envoySamples,
    figures: {
      rates,
      stageSeconds: STAGE_SECONDS,
      runners,
      results,
      k6StartedAt: startedAt,
      loadAverage1m: loadAverage,
      cgroupSources: samplers.map((sampler) => sampler?.sources),
      unreadableCgroups: samplers.flatMap((sampler) => sampler?.unreadable ?? []),
      envoyCpuPerEnvoyStage: envoyStageCores,
      samples,
      thresholdsPassed: runs.every((run) => run.exitCode === 0),
      generatorCpuUnit: "% of the engine's cores, from the k6 containers' cgroup CPU time over each stage, summed over the runners",
      ...(runners > 1
        ? { pooling: "p99 of a stage pooled over runners is bracketed by the lowest and highest runner's p99 (p99Low, p99)" }
        : {}),
    },
  };
}

describe('mesh tier: performance', () => {
  test(
    'mesh.performance: k6 constant-arrival-rate through Envoy and direct, same run; Envoy RSS/CPU; generator CPU recorded (negative control: a 10 ms fixed delay)',
    async ({ topology }) => {
      const machine = await engineCores(['envoy', 'backend'].map((alias) => topology.get<StartedEnvoy>(alias).container.getId()));
      const cores = machine.cpuCount;
      const rates = ratesFor(cores);
      const runners = runnerCount(cores);
      const shipped = await measureStages(topology, 'envoy', rates, cores, 'shipped', 2, runners);
      const figures = { ...shipped.figures, cores, coresSource: machine.source, config: 'shipped envoy.yaml, rate limiter off' };
      const overall = recordVerdict(performanceVerdict({ results: shipped.results, envoy: shipped.envoySamples, cores }), figures);
      const added = recordVerdict(
        addedLatencyVerdict({ results: shipped.results, rate: ADDED_LATENCY_RATE, boundMs: ADDED_LATENCY_BOUND_MS }),
        figures,
        'shipped',
        'added-latency',
      );
      progress('mesh', `${overall.measured}; ${added.measured}`);

      // The control: the delayed Envoy at the added-latency rate, judged by the same checkers.
      const delayed = await measureStages(
        topology,
        'envoy-delayed',
        [ADDED_LATENCY_RATE],
        cores,
        'control-delayed',
        CONTROL_DELAY_MS + 2,
        runners,
      );
      const controlFigures = {
        ...delayed.figures,
        cores,
        coresSource: machine.source,
        config: `envoy (rate limiter off) + ${CONTROL_DELAY_MS} ms fixed delay`,
      };
      // Each control is recorded where its aspect is judged: the claim's own row only from 8 engine
      // cores, the added latency whenever its stages were trusted. Below that both read "not
      // measured", and an unjudged control would read as one not caught.
      const addedControl = addedLatencyVerdict({ results: delayed.results, rate: ADDED_LATENCY_RATE, boundMs: ADDED_LATENCY_BOUND_MS });
      if (added.status !== 'not measured') recordVerdict(addedControl, controlFigures, 'delayed-10ms', 'added-latency');
      const overallControl = performanceVerdict({ results: delayed.results, envoy: delayed.envoySamples, cores });
      if (overall.status !== 'not measured') recordVerdict(overallControl, controlFigures, 'delayed-10ms');
      progress('mesh', `control (${CONTROL_DELAY_MS} ms delay): ${addedControl.measured}`);

      // 'not measured' (too few cores, or a saturated generator) is a stated outcome; 'not met' fails.
      expect(overall.status, `${overall.measured} — ${overall.reason ?? ''}`).not.toBe('not met');
      if (overall.status !== 'not measured') expect(overallControl.status, overallControl.measured).toBe('not met');
      // Envoy's added latency (≤ 1 ms p99 at 1,000 req/s) is issue #8's benchmark target for this
      // machine, not a claim of the document: its verdict is recorded for the claim report and its
      // figures are gated by the regression gate against the baseline. The test requires that it
      // was recorded with its figure, or not judged with the reason (untrusted stages) — a
      // difference of two p99s on a shared 2-core machine is too noisy to fail a run on its own:
      // one quiet CI run measured 1.91 ms. The control, 10 ms on every request, is not noise: the
      // checker must refuse it whenever it judges.
      if (added.status === 'not measured') expect(added.reason, added.measured).toBeTruthy();
      else
        expect(
          added.metrics?.find((m) => m.name === 'added.p99'),
          added.measured,
        ).toMatchObject({ unit: 'ms', direction: 'lower-is-better' });
      if (added.status !== 'not measured')
        expect(addedControl.status, `the control must be judged and refused: ${addedControl.measured} — ${addedControl.reason ?? ''}`).toBe(
          'not met',
        );
    },
    TEST_TIMEOUT_MS,
  );
});
