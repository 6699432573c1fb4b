// Open-model HTTP load: a constant arrival rate (k6 starts RATE iterations per second whether
// or not earlier ones returned; when it runs out of VUs it drops iterations and counts them in
// dropped_iterations, which a threshold holds at 0). Pass/fail are the thresholds (the SLOs);
// handleSummary writes the end-of-test data as JSON to BSS_SUMMARY_FILE, which the harness
// copies into the run folder.
//
// __ENV: TARGET (url), RATE (/s), DURATION (e.g. 15s), P99_MS (SLO), METHOD (GET|POST),
// BODY (for POST; "{id}" is replaced by a unique id), CONTENT_TYPE, EXPECTED_STATUS (200),
// PRE_VUS, MAX_VUS.
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';

const rate = Number(__ENV.RATE || 100);
const p99 = Number(__ENV.P99_MS || 100);

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(99)', 'p(99.9)'],
  scenarios: {
    constant: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration: __ENV.DURATION || '15s',
      preAllocatedVUs: Number(__ENV.PRE_VUS || Math.max(10, Math.ceil(rate / 20))),
      maxVUs: Number(__ENV.MAX_VUS || Math.max(50, Math.ceil(rate / 5))),
    },
  },
  thresholds: {
    http_req_failed: ['rate==0'],
    http_req_duration: [`p(99)<${p99}`],
    checks: ['rate==1'],
    dropped_iterations: ['count==0'],
  },
};

export default function () {
  const expected = Number(__ENV.EXPECTED_STATUS || 200);
  const params = { headers: { 'Content-Type': __ENV.CONTENT_TYPE || 'application/json' } };
  const res =
    (__ENV.METHOD || 'GET') === 'POST'
      ? http.post(__ENV.TARGET, (__ENV.BODY || '{}').replace('{id}', `${exec.vu.idInTest}-${exec.scenario.iterationInTest}`), params)
      : http.get(__ENV.TARGET, params);
  check(res, { [`status ${expected}`]: (r) => r.status === expected });
}

export function handleSummary(data) {
  const m = data.metrics;
  const line = (name, stat) => (m[name] && m[name].values[stat] !== undefined ? m[name].values[stat] : 0);
  return {
    [__ENV.BSS_SUMMARY_FILE || 'summary.json']: JSON.stringify(data),
    stdout:
      `requests ${line('http_reqs', 'count')} (${line('http_reqs', 'rate').toFixed(1)}/s), ` +
      `p99 ${line('http_req_duration', 'p(99)').toFixed(2)} ms, max ${line('http_req_duration', 'max').toFixed(2)} ms, ` +
      `failed ${(line('http_req_failed', 'rate') * 100).toFixed(2)} %, dropped ${line('dropped_iterations', 'count')}\n`,
  };
}
