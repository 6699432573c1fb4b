/**
 * Security from an attacker's seat: a throwaway container on the topology's network, with nothing
 * but a shell and Node's fetch, tries the control surfaces the deployed system used to leave open.
 * Each attack must be refused by the system as deployed, and succeed against the old configuration
 * (its negative control), so a refusal means the surface is closed, not that the attack was broken.
 *
 *   - backend-control: POST backend:8081/control — the backend's fault controls. Deployed: the
 *     program has no control interface. Old: the controls served by the backend itself.
 *   - prometheus-lifecycle: POST prometheus:9090/-/reload. Deployed: no --web.enable-lifecycle, and
 *     the operator's login on every endpoint. Old: the flag set, no login.
 *   - prometheus-api: GET prometheus:9090/api/v1/query, /api/v1/targets — every metric and target.
 *     Deployed: the operator's login (compose/web-auth). Old: no login.
 *   - alertmanager-api: POST alertmanager:9093/api/v2/silences with a matcher on every alert name
 *     (every page muted for an hour), GET /api/v2/alerts. Deployed: the operator's login. Old: none.
 *   - envoy-admin: GET envoy:15000/server_info and POST envoy:15000/quitquitquit (which stops Envoy),
 *     and the admin's paths through the metrics listener (envoy:15090). Deployed: the admin on the
 *     container's loopback, 15090 routing /stats/prometheus only. Old: the admin on 0.0.0.0.
 *   - mailpit-api: GET mailpit:8025/api/v1/messages — every alert mail, readable and deletable.
 *     Deployed: the operator's login (MP_UI_AUTH). Old: no login.
 * The database's logins are attacked in database.test.ts (its own topology: the database tier).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe } from 'vitest';
import * as envoyConfig from '#fixtures/services/envoy-variants.js';
import { REPO_ROOT } from '#fixtures/run/run-folder.js';
import type { AttackAttempt } from '#fixtures/checks/security.js';
import { printSummary } from '#fixtures/report/measurements.js';
import { BACKEND_CONTROL_PORT, backendService } from '#fixtures/services/backend.js';
import { prometheusService } from '#fixtures/services/prometheus.js';
import { ALERTMANAGER_PORT, alertmanagerService } from '#fixtures/services/alertmanager.js';
import { ENVOY_ADMIN_PORT, ENVOY_METRICS_PORT, envoyService } from '#fixtures/services/envoy.js';
import { MAILPIT_HTTP_PORT, mailpitService } from '#fixtures/services/mailpit.js';
import type { Topology } from '#fixtures/topology/topology.js';
import { topologyTest } from '#fixtures/vitest/topology-test.js';
import { attackerService, judgeAttacks, type StartedAttacker } from './attacker.js';

const SHIPPED_ENVOY = readFileSync(join(REPO_ROOT, 'compose', 'envoy', 'envoy.yaml'), 'utf8');

const test = topologyTest('security', [
  backendService({ controls: false }),
  backendService({ name: 'backend-old' }),
  prometheusService({ name: 'prometheus', dependsOn: [] }),
  prometheusService({ name: 'prometheus-old', dependsOn: [], extraFlags: ['--web.enable-lifecycle'], openWeb: true }),
  alertmanagerService({ name: 'alertmanager', dependsOn: [] }),
  alertmanagerService({ name: 'alertmanager-old', dependsOn: [], openWeb: true }),
  mailpitService(),
  mailpitService({ name: 'mailpit-old', openApi: true }),
  envoyService({ dependsOn: ['backend'] }),
  envoyService({ name: 'envoy-old', dependsOn: ['backend'], config: envoyConfig.withAdminAddress(SHIPPED_ENVOY, '0.0.0.0') }),
  attackerService('attacker', 'node'),
]);

afterAll(() => printSummary('security'));

const attackerOf = (t: Topology): StartedAttacker => t.get<StartedAttacker>('attacker');

/** One attack: its method, where it goes on the deployed service, and its body. */
interface Attack {
  readonly method: 'GET' | 'POST';
  /** Host (the deployed service's alias), port and path: "backend:8081/control". */
  readonly target: string;
  readonly body?: string;
  /** What the attack wants, for the report: "fail". */
  readonly intent?: string;
}

/** An answered 2xx is an attack that worked; anything else (refused, 401, 403, 404) is a refusal. */
const attempt = async (a: StartedAttacker, attack: Attack, host: string): Promise<AttackAttempt> => {
  const target = attack.target.replace(/^[^:/]+/, host);
  const answer = await a.request(attack.method, `http://${target}`, attack.body);
  return { attack: `${attack.method} ${target}${attack.intent ? ` ${attack.intent}` : ''}`, answer, succeeded: /^2\d\d$/.test(answer) };
};

/**
 * The same attacks against the deployed service and against `<service>-old`, its old
 * configuration; both verdicts recorded (judgeAttacks).
 */
async function attackBoth(topology: Topology, aspect: string, attacks: readonly Attack[]): Promise<void> {
  const a = attackerOf(topology);
  const shipped: AttackAttempt[] = [];
  const old: AttackAttempt[] = [];
  for (const attack of attacks) {
    const host = /^[^:/]+/.exec(attack.target)![0];
    shipped.push(await attempt(a, attack, host));
    old.push(await attempt(a, attack, `${host}-old`));
  }
  judgeAttacks(aspect, shipped, old);
}

describe('security: the control surfaces of the deployed system, attacked from its network', () => {
  test('security.surfaces: the backend fault controls are not served (negative control: the old backend with its controls)', async ({
    topology,
  }) => {
    await attackBoth(topology, 'backend-control', [
      {
        method: 'POST',
        target: `backend:${BACKEND_CONTROL_PORT}/control`,
        body: JSON.stringify({ command: 'fail', count: 1 }),
        intent: 'fail',
      },
    ]);
  });

  test('security.surfaces: the Envoy admin is not reachable from the network, not even through the metrics listener (negative control: admin on 0.0.0.0)', async ({
    topology,
  }) => {
    await attackBoth(topology, 'envoy-admin', [
      { method: 'GET', target: `envoy:${ENVOY_ADMIN_PORT}/server_info` },
      { method: 'GET', target: `envoy:${ENVOY_METRICS_PORT}/server_info` },
      { method: 'POST', target: `envoy:${ENVOY_METRICS_PORT}/quitquitquit` },
      // Last: against the old configuration it stops that Envoy.
      { method: 'POST', target: `envoy:${ENVOY_ADMIN_PORT}/quitquitquit` },
    ]);
  });

  test('security.surfaces: the Prometheus lifecycle API is off (negative control: --web.enable-lifecycle, no login)', async ({
    topology,
  }) => {
    await attackBoth(topology, 'prometheus-lifecycle', [{ method: 'POST', target: 'prometheus:9090/-/reload' }]);
  });

  test('security.surfaces: the Prometheus API needs the operator login (negative control: no --web.config.file)', async ({ topology }) => {
    await attackBoth(topology, 'prometheus-api', [
      { method: 'GET', target: 'prometheus:9090/api/v1/query?query=up' },
      { method: 'GET', target: 'prometheus:9090/api/v1/targets' },
    ]);
  });

  test('security.surfaces: the Alertmanager API needs the operator login, no one else silences a page (negative control: no --web.config.file)', async ({
    topology,
  }) => {
    const now = Date.now();
    const muteEverything = {
      matchers: [{ name: 'alertname', value: '.+', isRegex: true, isEqual: true }],
      startsAt: new Date(now).toISOString(),
      endsAt: new Date(now + 3_600_000).toISOString(),
      createdBy: 'attacker',
      comment: 'mute every page for an hour',
    };
    await attackBoth(topology, 'alertmanager-api', [
      { method: 'GET', target: `alertmanager:${ALERTMANAGER_PORT}/api/v2/alerts` },
      {
        method: 'POST',
        target: `alertmanager:${ALERTMANAGER_PORT}/api/v2/silences`,
        body: JSON.stringify(muteEverything),
        intent: 'silence every alert',
      },
    ]);
  });

  test('security.surfaces: the Mailpit UI and API need the operator login (negative control: no MP_UI_AUTH)', async ({ topology }) => {
    await attackBoth(topology, 'mailpit-api', [
      { method: 'GET', target: `mailpit:${MAILPIT_HTTP_PORT}/api/v1/messages` },
      { method: 'GET', target: `mailpit:${MAILPIT_HTTP_PORT}/` },
    ]);
  });
});
