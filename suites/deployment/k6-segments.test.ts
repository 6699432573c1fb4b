/**
 * Load beyond one machine with k6's own distributed execution: the constant-arrival-rate load
 * script runs unchanged, once whole and once as two execution segments in two concurrent k6
 * containers (what k6-operator does with parallelism 2); the merged count and rate must equal
 * the single run's target. The target is a real HAProxy answering 200 from its own config.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect } from 'vitest';
import { type LoadFigures, segmentsVerdict } from '#fixtures/deploy/usability/verdicts.js';
import { type RunnerResult, runSegments, runWhole, summaryValue } from '#fixtures/load/k6-segments.js';
import { type LoadProfile, testRunManifest } from '#fixtures/load/segments.js';
import { upstreamImage } from '#fixtures/images/catalog.js';
import { printSummary, recordVerdict } from '#fixtures/report/measurements.js';
import { byProfile } from '#fixtures/run/profile.js';
import { REPO_ROOT, writeRunFile } from '#fixtures/run/run-folder.js';
import { haproxyService } from '#fixtures/services/haproxy.js';
import { harnessLabels } from '#fixtures/topology/lifecycle.js';
import { topologyTest } from '#fixtures/vitest/topology-test.js';
import { parse } from 'yaml';

const TARGET_CONFIG = `
global
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend target
  bind :8080
  http-request return status 200 content-type text/plain string ok
`;

const test = topologyTest('deploy-k6', [haproxyService({ name: 'load-target', config: TARGET_CONFIG, ports: [8080] })]);

const RATE = byProfile({ quick: 50, nightly: 200, release: 400 });
const SECONDS = byProfile({ quick: 8, nightly: 30, release: 60 });
const PROFILE: LoadProfile = {
  name: 'segments-check',
  script: 'load/http-constant-rate.js',
  env: { TARGET: 'http://load-target:8080/', RATE: String(RATE), DURATION: `${SECONDS}s`, P99_MS: '1000' },
};
const target = { requests: RATE * SECONDS, rate: RATE };

/**
 * Requests as the executor scheduled them: each iteration sends exactly one request, and
 * `iterations` is what execution segments partition. k6's `http_reqs` can also count a request
 * Go's HTTP client silently re-sent on a keep-alive connection the server had just closed (a CI
 * run saw 406 http_reqs for 400 iterations on a loaded machine), which says nothing about segments.
 */
function figures(results: readonly RunnerResult[]): LoadFigures {
  const requests = results.reduce((sum, r) => sum + summaryValue(r, 'iterations', 'count'), 0);
  return {
    requests,
    rate: results.reduce((sum, r) => sum + summaryValue(r, 'iterations', 'rate'), 0),
    dropped: results.reduce((sum, r) => sum + summaryValue(r, 'dropped_iterations', 'count'), 0),
    failedRate: requests
      ? results.reduce((sum, r) => sum + summaryValue(r, 'http_req_failed', 'rate') * summaryValue(r, 'http_reqs', 'count'), 0) / requests
      : 1,
  };
}

const brief = (r: RunnerResult) => ({
  runner: r.runner,
  args: r.args,
  exitCode: r.exitCode,
  seconds: r.seconds,
  tail: r.output.trim().split('\n').slice(-3),
});

afterAll(() => printSummary('deployment (k6 segments)'));

describe('k6 execution segments', () => {
  test('deploy.load.segments: the load script, unchanged, as two concurrent segments equals one run', async ({ topology }) => {
    const options = { network: topology.network, labels: harnessLabels('deploy-k6'), timeoutSeconds: SECONDS + 60 };
    const whole = await runWhole(PROFILE, options);
    const segments = await runSegments(PROFILE, 2, options);
    for (const r of [whole, ...segments]) expect(r.summary, `${r.runner}: ${r.output.slice(-500)}`).toBeDefined();
    const v = recordVerdict(segmentsVerdict(target, figures([whole]), { ...figures(segments), runners: 2 }), {
      profile: PROFILE,
      target,
      whole: brief(whole),
      segments: segments.map(brief),
    });
    expect(v.status, v.measured).toBe('met');

    // Negative control: two runners each given the whole profile (no segments) — the naive way
    // to "distribute" load doubles it, and the same check says so.
    const naive = await runSegments(PROFILE, 2, options, () => []);
    const control = recordVerdict(
      segmentsVerdict(target, figures([whole]), { ...figures(naive), runners: 2 }),
      { profile: PROFILE, target, runners: naive.map(brief) },
      'whole-profile-twice',
    );
    expect(control.status).toBe('not met');
    expect(control.measured).toMatch(/2 segments merged: \d+ requests, target/);
  });

  test('deploy.load.segments: the k6-operator TestRun manifest is generated from the same profile', () => {
    const script = readFileSync(join(REPO_ROOT, PROFILE.script), 'utf8');
    const text = testRunManifest(PROFILE, script, { parallelism: 2, image: upstreamImage('k6') });
    writeRunFile('deployment/k6-testrun.yaml', text);
    const [configMap, testRun] = text.split(/^---$/m).map((doc) => parse(doc) as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(configMap!.data['http-constant-rate.js']).toBe(script);
    expect(testRun!.kind).toBe('TestRun');
    expect(testRun!.spec.parallelism).toBe(2);
    expect(testRun!.spec.script.configMap).toEqual({ name: configMap!.metadata.name, file: 'http-constant-rate.js' });
    expect(testRun!.spec.arguments).toBe(
      `--env TARGET=http://load-target:8080/ --env RATE=${RATE} --env DURATION=${SECONDS}s --env P99_MS=1000`,
    );
    expect(testRun!.spec.runner.image).toBe('grafana/k6:1.8.1');
  });
});
