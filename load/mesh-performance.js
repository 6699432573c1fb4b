// Mesh performance: open-model load (constant-arrival-rate) at fixed rates, straight to the
// backend and through Envoy, one after the other in the same run, so the difference is what
// Envoy adds. Targets and rates from __ENV:
//   ENVOY_URL, DIRECT_URL   full URLs on the topology's network
//   RATES                   comma-separated req/s, e.g. "250,1000,2000"
//   STAGE_SECONDS           seconds per stage (default 10), GAP_SECONDS between stages (default 2)
//   SUMMARY_PATH            where handleSummary writes the JSON summary
//   EXPECTED_LATENCY_MS     how long one request holds a VU (default 2; the harness's delayed
//                           control passes its fixed delay plus that)
// Pass/fail lives in thresholds: p99 < 5 ms through Envoy (the document's claim), no failed
// requests, and no dropped iterations (a dropped iteration means the generator fell behind).
import http from 'k6/http';
import { check } from 'k6';

const rates = (__ENV.RATES || '250,1000').split(',').map(Number);
const stage = Number(__ENV.STAGE_SECONDS || 10);
const gap = Number(__ENV.GAP_SECONDS || 2);
const expectedLatencyMs = Number(__ENV.EXPECTED_LATENCY_MS || 2);
/** The generator stall a stage rides out without dropping an iteration (a CI run saw 55 ms). */
const STALL_MS = 100;
/** VUs busy with requests in flight plus those that queue up during a stall, at `rate` req/s. */
const vusFor = (rate) => Math.max(20, Math.ceil((rate * (STALL_MS + expectedLatencyMs)) / 1000));

const scenarios = {};
const thresholds = {};
let start = 0;
for (const rate of rates) {
  for (const path of ['direct', 'envoy']) {
    const name = `${path}_${rate}`;
    scenarios[name] = {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration: `${stage}s`,
      startTime: `${start}s`,
      // Enough VUs allocated up front for the requests in flight plus a 100 ms stall at this rate,
      // without starting new ones mid-stage; an iteration with no free VU is dropped and counted
      // (dropped_iterations), and a stage with drops is not judged. A 10 ms delayed control holds
      // each VU five times longer than the shipped path: sized for 50 ms of stall and 2 ms
      // requests, it dropped 9 iterations in a CI run and could not be judged.
      preAllocatedVUs: vusFor(rate),
      maxVUs: 2 * vusFor(rate),
      gracefulStop: '2s',
      exec: path,
      tags: { path, rate: String(rate) },
    };
    thresholds[`http_req_duration{scenario:${name}}`] = path === 'envoy' ? ['p(99)<5'] : ['max>=0'];
    thresholds[`http_req_failed{scenario:${name}}`] = ['rate==0'];
    thresholds[`dropped_iterations{scenario:${name}}`] = ['count==0'];
    thresholds[`iterations{scenario:${name}}`] = ['count>0'];
    start += stage + gap;
  }
}

export const options = {
  scenarios,
  thresholds,
  summaryTrendStats: ['p(50)', 'p(99)', 'p(99.9)', 'max', 'avg'],
  discardResponseBodies: true,
};

// The scenarios' startTime offsets count from the end of setup(): its wall clock time, returned
// here, lands in the summary (setup_data), so the harness can align CPU readings with each stage.
export function setup() {
  return { startedAt: Date.now() };
}

function hit(url) {
  const res = http.get(url);
  check(res, { 'status 200': (r) => r.status === 200 });
}

export function direct() {
  hit(__ENV.DIRECT_URL);
}

export function envoy() {
  hit(__ENV.ENVOY_URL);
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY_PATH || '/tmp/mesh-summary.json']: JSON.stringify({ stages: scenarios, data }) };
}
