// k6 smoke script: a handful of requests proving k6 runs and reaches a target on the
// topology's network. Target from __ENV (TARGET, EXPECTED_BODY); pass/fail lives in thresholds.
import http from 'k6/http';
import { check } from 'k6';

export const options = {
  iterations: 20,
  vus: 2,
  thresholds: { checks: ['rate==1'] },
};

export default function () {
  const res = http.get(__ENV.TARGET);
  check(res, {
    'status 200': (r) => r.status === 200,
    'expected body': (r) => r.body === __ENV.EXPECTED_BODY,
  });
}
