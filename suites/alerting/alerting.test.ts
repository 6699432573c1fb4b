/**
 * Alertmanager 0.27 with the shipped routes, receivers and templates, delivering to a real SMTP
 * sink (Mailpit) and a Slack stand-in (webhook receiver). Alerts are posted through API v2.
 *
 * Test-only timing (said in every figure): group_interval is 5 s instead of 5 m on every route,
 * so resolutions arrive within a run; group_wait (what the latency claim is about) and
 * repeat_interval stay as shipped. A separate instance also shortens repeat_interval to 20 s
 * to show a repeat.
 */
import { randomBytes } from 'node:crypto';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { afterAll, describe, expect } from 'vitest';
import {
  type AlertComponent,
  apiV1Verdict,
  apiV2Verdict,
  COMPONENTS,
  counterSum,
  type Delivery,
  dropRoute,
  editRoute,
  expectedReceivers,
  groupingVerdict,
  latencyVerdict,
  type LatencySample,
  type MailBody,
  promDurationMs,
  RECEIVER_DELIVERIES,
  type ReceiverDownObservation,
  receiverDownVerdict,
  repeatVerdict,
  resolutionVerdict,
  type RoutingCase,
  routeTimings,
  routingVerdict,
  type Severity,
  swapReceivers,
  templatesVerdict,
  withTestTimings,
} from '#fixtures/checks/alerting.js';
import { AlertmanagerClient, mailpitClient, type PostedAlert, WebhookClient } from '#fixtures/clients/alert-clients.js';
import { configuredReadings, withConfigured } from '#fixtures/checks/configured.js';
import { shippedComposeFiles } from '#fixtures/deploy/shipped-files.js';
import { boundValue } from '#fixtures/report/bounds.js';
import { printSummary, recordVerdict } from '#fixtures/report/measurements.js';
import { progress } from '#fixtures/run/progress.js';
import {
  amtoolCheckConfig,
  alertmanagerService,
  SHIPPED_ALERTMANAGER_CONFIG,
  shippedTemplates,
  type StartedAlertmanager,
} from '#fixtures/services/alertmanager.js';
import { mailpitService, type StartedMailpit } from '#fixtures/services/mailpit.js';
import { type StartedWebhookReceiver, webhookReceiverService } from '#fixtures/services/webhook.js';
import type { Topology } from '#fixtures/topology/topology.js';
import { observationWindow, pollUntil } from '#fixtures/support/observe.js';
import { topologyTest } from '#fixtures/vitest/topology-test.js';

const TEST_TIMINGS = { groupInterval: '5s' } as const;
const REPEAT_TIMINGS = { groupInterval: '5s', repeatInterval: '20s' } as const;
/** The document's target for notification latency: within group_wait + 1 s. */
const LATENCY_MARGIN_MS = 1_000;
/** Stated before measuring: SMTP/HTTP delivery and the receivers' bookkeeping on a shared host. */
const DELIVERY_MARGIN_MS = 3_000;

const templates = shippedTemplates();
const composeFiles = shippedComposeFiles();
const testConfig = withTestTimings(SHIPPED_ALERTMANAGER_CONFIG, TEST_TIMINGS);
const shipped = routeTimings(SHIPPED_ALERTMANAGER_CONFIG);
const longestGroupWaitMs = Math.max(...shipped.map((r) => r.groupWaitMs));

/** Each variant differs from the tested config in one place. */
const VARIANTS = {
  'swapped-receivers': swapReceivers(testConfig, 'critical-alerts', 'warning-alerts'),
  'dropped-database-route': dropRoute(testConfig, 'database-alerts'),
  'slow-critical': editRoute(testConfig, 'critical-alerts', (route) => (route.group_wait = '15s')),
  // Pages sooner than documented: an upper bound alone would pass it.
  'immediate-critical': editRoute(testConfig, 'critical-alerts', (route) => (route.group_wait = '0s')),
  // Fires and never says it is over: the resolution check's control.
  'no-send-resolved': withoutSendResolved(testConfig),
} as const;
type Variant = 'shipped' | keyof typeof VARIANTS;

function withoutSendResolved(config: string): string {
  const edited = config.replaceAll('send_resolved: true', 'send_resolved: false');
  if (edited === config) throw new Error('no-send-resolved variant: alertmanager.yml has no send_resolved: true to turn off');
  return edited;
}

/** The grouping check's control: each instance its own group, so three alerts become three mails. */
const GROUP_BY_INSTANCE = (() => {
  const parsed = parseYaml(testConfig) as { route: { group_by?: string[] } };
  if (!parsed.route.group_by?.length) throw new Error('group-by-instance variant: the root route of alertmanager.yml has no group_by');
  parsed.route.group_by = [...parsed.route.group_by, 'instance'];
  return stringifyYaml(parsed, { lineWidth: 0 });
})();
/** The repeat check's control: repeat_interval far beyond the observation window. */
const NO_REPEAT_TIMINGS = { ...REPEAT_TIMINGS, repeatInterval: '1h' } as const;

/**
 * A receiver that is down: the tested config with on-call's Slack endpoint pointing at a webhook
 * receiver that answers 503 to every post (it still records each attempt).
 */
const receiverDownConfig = testConfig.replace(
  'http://webhook-receiver:8080/slack/oncall',
  'http://webhook-receiver-down:8080/slack/oncall',
);
if (receiverDownConfig === testConfig)
  throw new Error('receiver-down variant: the on-call Slack api_url was not found in alertmanager.yml');
/** Alertmanager's notify.MinTimeout: one flush retries an integration for max(group_interval, 10 s), then counts it failed. */
const AM_MIN_NOTIFY_TIMEOUT_MS = 10_000;
const receiverDownRoute = routeTimings(receiverDownConfig).find((r) => r.receiver === 'critical-alerts')!;
const RECEIVER_DOWN_BOUND = (() => {
  const retryBudgetMs = Math.max(receiverDownRoute.groupIntervalMs, AM_MIN_NOTIFY_TIMEOUT_MS);
  const marginMs = LATENCY_MARGIN_MS + DELIVERY_MARGIN_MS;
  const boundMs = receiverDownRoute.groupWaitMs + retryBudgetMs + marginMs;
  return {
    boundMs,
    formula: `group_wait ${receiverDownRoute.groupWaitMs} + retry budget max(group_interval ${receiverDownRoute.groupIntervalMs}, ${AM_MIN_NOTIFY_TIMEOUT_MS}) + margin ${marginMs} = ${boundMs} ms`,
  };
})();

const am = (name: string, config: string) => alertmanagerService({ name, config, templates, dependsOn: ['mailpit', 'webhook-receiver'] });
const test = topologyTest('alerting', [
  mailpitService(),
  webhookReceiverService(),
  webhookReceiverService({ name: 'webhook-receiver-down', failStatus: 503 }),
  alertmanagerService({
    name: 'alertmanager-receiver-down',
    config: receiverDownConfig,
    templates,
    dependsOn: ['mailpit', 'webhook-receiver-down'],
  }),
  am('alertmanager', testConfig),
  am('alertmanager-repeat', withTestTimings(SHIPPED_ALERTMANAGER_CONFIG, REPEAT_TIMINGS)),
  am('alertmanager-no-repeat', withTestTimings(SHIPPED_ALERTMANAGER_CONFIG, NO_REPEAT_TIMINGS)),
  am('alertmanager-group-by-instance', GROUP_BY_INSTANCE),
  // alerts.api's control: API v2 served under a path prefix (a path-routing proxy's setting), so /api/v2 at the root is not it.
  alertmanagerService({ name: 'alertmanager-prefixed', config: testConfig, templates, dependsOn: [], routePrefix: '/alertmanager' }),
  // alerts.api [v1-as-documented]'s positive control: the same login and config on Alertmanager
  // 0.26.0, the last release serving the /api/v1 the document shows — where the check must say met.
  alertmanagerService({ name: 'alertmanager-0.26', config: testConfig, templates, dependsOn: [], image: 'alertmanager-legacy' }),
  ...Object.entries(VARIANTS).map(([variant, config]) => am(`alertmanager-${variant}`, config)),
]);

afterAll(() => printSummary('alerting'));

const RUN = randomBytes(3).toString('hex');
const SEVERITY_AXIS = [...(['critical', 'warning'] satisfies Severity[]), 'none'] as const;
const COMPONENT_LABEL: Record<AlertComponent, string> = { database: 'database', kafka: 'kafka', other: 'backend' };

interface Combo {
  readonly severity: Severity | 'none';
  readonly component: AlertComponent;
  readonly alert: PostedAlert;
  readonly alertname: string;
}

function combos(variant: Variant): Combo[] {
  return SEVERITY_AXIS.flatMap((severity) =>
    COMPONENTS.map((component) => {
      const alertname = `M_${variant.replace(/-/g, '_')}_${severity}_${component}_${RUN}`;
      return {
        severity,
        component,
        alertname,
        alert: {
          labels: {
            alertname,
            component: COMPONENT_LABEL[component],
            instance: `${component}-host:9100`,
            ...(severity === 'none' ? {} : { severity }),
          },
          annotations: { summary: `Matrix case ${severity}/${component}`, description: 'posted by suites/alerting', value: '42' },
        },
      };
    }),
  );
}

async function allDeliveries(topology: Topology): Promise<Array<Delivery & { text?: string }>> {
  const mail = mailpitClient(topology.get<StartedMailpit>('mailpit'));
  const hook = new WebhookClient((p) => topology.get<StartedWebhookReceiver>('webhook-receiver').url(p));
  return [...(await mail.deliveries()), ...(await hook.deliveries())];
}

interface MatrixRun {
  readonly variant: Variant;
  readonly cases: RoutingCase[];
  readonly latencies: LatencySample[];
  readonly resolutions: Array<{ id: string; resolvedPostedAt: number; resolvedArrivals: number[] }>;
  readonly deliveries: Array<Delivery & { text?: string }>;
  readonly postedAt: number;
}

const receiverOf = (d: Delivery): string =>
  Object.entries(RECEIVER_DELIVERIES).find(([, channels]) => channels.some((c) => c.kind === d.kind && c.to === d.to))?.[0] ??
  `unknown(${d.to})`;

/**
 * Posts the 9 combos firing at once, waits out the longest shipped group_wait (+ margins), then
 * resolves them all and waits one group_interval (+ margins): every delivery that arrives in
 * those windows is judged, so a late or extra delivery counts against the case.
 */
async function runMatrix(topology: Topology, variant: Variant): Promise<MatrixRun> {
  const name = variant === 'shipped' ? 'alertmanager' : `alertmanager-${variant}`;
  const manager = topology.get<StartedAlertmanager>(name);
  const client = AlertmanagerClient.of(manager);
  const list = combos(variant);
  const { sentAt: postedAt } = await client.post(list.map((c) => c.alert));
  await observationWindow(longestGroupWaitMs + LATENCY_MARGIN_MS + DELIVERY_MARGIN_MS, 'the longest group_wait, firing');
  const { sentAt: resolvedAt } = await client.resolve(list.map((c) => c.alert));
  await observationWindow(
    promDurationMs(TEST_TIMINGS.groupInterval) + LATENCY_MARGIN_MS + DELIVERY_MARGIN_MS,
    'one group_interval, resolved',
  );
  const deliveries = (await allDeliveries(topology)).filter((d) => list.some((c) => d.alertnames.includes(c.alertname)));
  const cases: RoutingCase[] = [];
  const resolutions: MatrixRun['resolutions'] = [];
  for (const combo of list) {
    const labels = Object.fromEntries(Object.entries(combo.alert.labels).filter(([k]) => k !== 'alertname' && k !== 'instance'));
    const amtoolReceivers = await manager.routesTest(labels);
    const received = deliveries.filter((d) => d.alertnames.includes(combo.alertname));
    for (const status of ['firing', 'resolved'] as const) {
      cases.push({
        id: `${combo.severity}/${combo.component}/${status}`,
        alertname: combo.alertname,
        severity: combo.severity,
        component: combo.component,
        status,
        expectedReceivers: expectedReceivers(combo.severity, combo.component),
        received,
        amtoolReceivers,
      });
    }
    resolutions.push({
      id: `${combo.severity}/${combo.component}`,
      resolvedPostedAt: resolvedAt,
      resolvedArrivals: received.filter((d) => d.status === 'resolved').map((d) => d.at),
    });
  }
  const latencies = deliveries
    .filter((d) => d.status === 'firing')
    .map((d) => ({ receiver: receiverOf(d), kind: d.kind, latencyMs: d.at - postedAt }));
  return { variant, cases, latencies, resolutions, deliveries, postedAt };
}

interface GroupingRun {
  readonly instances: string[];
  readonly mails: Array<{ alertnames: string[] }>;
}

interface Campaign {
  readonly runs: Record<Variant, MatrixRun>;
  readonly grouping: GroupingRun;
  /** The same three alerts on the instance grouping by instance too: the grouping check's control. */
  readonly groupingControl: GroupingRun;
  readonly repeatArrivals: number[];
  /** A still-firing alert on the instance whose repeat_interval is 1 h: the repeat check's control. */
  readonly repeatControlArrivals: number[];
  readonly receiverDown: ReceiverDownObservation;
  /** The same observation on the shipped instance over the matrix (its Slack endpoint is up): the negative control. */
  readonly receiverUp: ReceiverDownObservation;
}

/** Posts one critical alert to the instance whose on-call Slack endpoint is down; watches until the checker is satisfied or the bound. */
async function observeReceiverDown(topology: Topology): Promise<ReceiverDownObservation> {
  const client = AlertmanagerClient.of(topology.get<StartedAlertmanager>('alertmanager-receiver-down'));
  const hook = new WebhookClient((p) => topology.get<StartedWebhookReceiver>('webhook-receiver-down').url(p));
  const mail = mailpitClient(topology.get<StartedMailpit>('mailpit'));
  const alertname = `D_receiver_down_${RUN}`;
  const alert = {
    labels: { alertname, severity: 'critical', component: 'backend', instance: 'api-1:8080' },
    annotations: { summary: 'down' },
  };
  const before = await client.notificationCounters();
  const { sentAt: postedAt } = await client.post([alert]);
  const read = async (): Promise<ReceiverDownObservation> => {
    const after = await client.notificationCounters();
    const delta = (key: string) => counterSum(after, key) - counterSum(before, key);
    return {
      integration: 'slack',
      postedAt,
      endedAt: Date.now(),
      refusedAttempts: (await hook.payloads())
        .filter((p) => p.answered !== 200 && JSON.stringify(p.body).includes(alertname))
        .map((p) => p.receivedAtMs),
      failedRequests: delta('requests.failed_total.slack'),
      failedNotifications: delta('notifications.failed_total.slack'),
      otherIntegrationDelivered: (await mail.deliveries()).some((d) => d.to === 'oncall@bss.local' && d.alertnames.includes(alertname)),
      boundMs: RECEIVER_DOWN_BOUND.boundMs,
      boundFormula: RECEIVER_DOWN_BOUND.formula,
    };
  };
  // Until the checker is satisfied or the bound has passed since the post: the last reading is judged either way.
  const { value: observation } = await pollUntil(read, (o) => receiverDownVerdict(o).status === 'met', {
    timeoutMs: Math.max(0, postedAt + RECEIVER_DOWN_BOUND.boundMs - Date.now()),
    intervalMs: 500,
  });
  await client.resolve([alert]);
  return observation;
}

/** Three alerts of one alertname and component, three instances, posted at once: the mails on-call gets for them. */
async function observeGrouping(topology: Topology, alertmanager: string, alertname: string): Promise<GroupingRun> {
  const client = AlertmanagerClient.of(topology.get<StartedAlertmanager>(alertmanager));
  const instances = ['api-1:8080', 'api-2:8080', 'api-3:8080'];
  await client.post(
    instances.map((instance) => ({
      labels: { alertname, severity: 'critical', component: 'backend', instance },
      annotations: { summary: 'grouped' },
    })),
  );
  await observationWindow(5_000 + LATENCY_MARGIN_MS + DELIVERY_MARGIN_MS, 'the critical group_wait');
  const mails = (await allDeliveries(topology)).filter(
    (d) => d.kind === 'email' && d.to === 'oncall@bss.local' && d.alertnames.includes(alertname),
  );
  await client.resolve(instances.map((instance) => ({ labels: { alertname, severity: 'critical', component: 'backend', instance } })));
  return { instances, mails: mails.map((m) => ({ alertnames: instances.filter((i) => (m as { text?: string }).text?.includes(i)) })) };
}

/** One still-firing critical alert: when its notifications reached on-call, until a repeat or the window's end. */
async function observeRepeat(
  topology: Topology,
  alertmanager: string,
  alertname: string,
  timings: { groupInterval: string; repeatInterval: string },
): Promise<number[]> {
  const client = AlertmanagerClient.of(topology.get<StartedAlertmanager>(alertmanager));
  const alert = {
    labels: { alertname, severity: 'critical', component: 'backend', instance: 'api-1:8080' },
    annotations: { summary: 'repeat' },
  };
  await client.post([alert]);
  // The window is the shipped instance's (REPEAT_TIMINGS), whatever this instance's repeat_interval.
  const windowMs = 5_000 + promDurationMs(REPEAT_TIMINGS.repeatInterval) + promDurationMs(timings.groupInterval) + 10_000;
  const firingArrivals = async (): Promise<number[]> =>
    (await allDeliveries(topology))
      .filter((d) => d.kind === 'email' && d.to === 'oncall@bss.local' && d.status === 'firing' && d.alertnames.includes(alertname))
      .map((d) => d.at)
      .sort((a, b) => a - b);
  // Until the first notification and one repeat arrived, or the window's end.
  const { value: arrivals } = await pollUntil(firingArrivals, (a) => a.length >= 2, { timeoutMs: windowMs, intervalMs: 500 });
  await client.resolve([alert]);
  return arrivals;
}

let campaign: Promise<Campaign> | undefined;

/** Everything that needs waiting runs at once: the matrix on every instance, grouping, and the repeat. */
function runCampaign(topology: Topology): Promise<Campaign> {
  campaign ??= (async () => {
    progress(
      'alerting',
      `matrix on ${1 + Object.keys(VARIANTS).length} Alertmanagers + grouping + repeat (≈ ${Math.round((longestGroupWaitMs + 25_000) / 1000)} s)`,
    );
    const grouping = observeGrouping(topology, 'alertmanager', `G_grouped_${RUN}`);
    const groupingControl = observeGrouping(topology, 'alertmanager-group-by-instance', `G_by_instance_${RUN}`);
    const repeat = observeRepeat(topology, 'alertmanager-repeat', `R_repeat_${RUN}`, REPEAT_TIMINGS);
    const repeatControl = observeRepeat(topology, 'alertmanager-no-repeat', `R_no_repeat_${RUN}`, NO_REPEAT_TIMINGS);
    const receiverDown = observeReceiverDown(topology);
    const shippedClient = AlertmanagerClient.of(topology.get<StartedAlertmanager>('alertmanager'));
    const shippedBefore = await shippedClient.notificationCounters();
    const variants: Variant[] = ['shipped', ...(Object.keys(VARIANTS) as Array<keyof typeof VARIANTS>)];
    const runs = await Promise.all(variants.map((v) => runMatrix(topology, v)));
    const shippedAfter = await shippedClient.notificationCounters();
    const matrix = runs.find((r) => r.variant === 'shipped')!;
    const matrixAlertnames = combos('shipped').map((c) => c.alertname);
    const receiverUp: ReceiverDownObservation = {
      integration: 'slack',
      postedAt: matrix.postedAt,
      endedAt: Date.now(),
      refusedAttempts: (await new WebhookClient((p) => topology.get<StartedWebhookReceiver>('webhook-receiver').url(p)).payloads())
        .filter((p) => p.answered !== 200 && matrixAlertnames.some((a) => JSON.stringify(p.body).includes(a)))
        .map((p) => p.receivedAtMs),
      failedRequests: counterSum(shippedAfter, 'requests.failed_total.slack') - counterSum(shippedBefore, 'requests.failed_total.slack'),
      failedNotifications:
        counterSum(shippedAfter, 'notifications.failed_total.slack') - counterSum(shippedBefore, 'notifications.failed_total.slack'),
      otherIntegrationDelivered: matrix.deliveries.some((d) => d.kind === 'email' && d.to === 'oncall@bss.local'),
      boundMs: Date.now() - matrix.postedAt,
      boundFormula: 'the matrix window',
    };
    return {
      runs: Object.fromEntries(runs.map((r) => [r.variant, r])) as Record<Variant, MatrixRun>,
      grouping: await grouping,
      groupingControl: await groupingControl,
      repeatArrivals: await repeat,
      repeatControlArrivals: await repeatControl,
      receiverDown: await receiverDown,
      receiverUp,
    };
  })();
  return campaign;
}

const timingNote = { testOnlyTimings: TEST_TIMINGS, repeatInstanceTimings: REPEAT_TIMINGS, groupWait: 'as shipped' };

describe('monitoring tier: Alertmanager routing to real receivers', () => {
  test('bad input: a config that does not load is refused with amtool’s own message', async () => {
    const broken = SHIPPED_ALERTMANAGER_CONFIG.replace('receiver: database-alerts', 'receiver: dba-typo');
    const result = await amtoolCheckConfig(broken, templates);
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/undefined receiver "dba-typo"/);
    const shippedCheck = await amtoolCheckConfig(SHIPPED_ALERTMANAGER_CONFIG, templates);
    expect(shippedCheck.ok, shippedCheck.output).toBe(true);
  });

  test('alerts.routing: severity × component × status matrix reaches exactly the decided receivers, amtool agrees', async ({
    topology,
  }) => {
    const { runs } = await runCampaign(topology);
    const shippedVerdict = recordVerdict(routingVerdict(runs.shipped.cases), {
      ...timingNote,
      outcomes: routingVerdict(runs.shipped.cases).outcomes,
    });
    // The shipped config, verbatim, through amtool --verify.receivers for every combination.
    const manager = topology.get<StartedAlertmanager>('alertmanager');
    for (const severity of SEVERITY_AXIS) {
      for (const component of COMPONENTS) {
        const labels = { ...(severity === 'none' ? {} : { severity }), component: COMPONENT_LABEL[component] };
        const check = await manager.routesVerify(labels, expectedReceivers(severity, component));
        expect(check.ok, `${severity}/${component}: ${check.output}`).toBe(true);
      }
    }
    expect(shippedVerdict.status, shippedVerdict.reason).toBe('met');
  });

  test('alerts.routing: negative controls — swapped receivers and a dropped route fail the matrix', async ({ topology }) => {
    const { runs } = await runCampaign(topology);
    for (const variant of ['swapped-receivers', 'dropped-database-route'] as const) {
      const v = routingVerdict(runs[variant].cases);
      recordVerdict(v, { ...timingNote, outcomes: v.outcomes }, variant);
      expect(v.status, `${variant}: ${v.measured}`).toBe('not met');
    }
    // The dropped route fails exactly the database cases.
    const failed = routingVerdict(runs['dropped-database-route'].cases)
      .outcomes.filter((o) => !o.ok)
      .map((o) => o.id);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((id) => id.includes('/database/'))).toBe(true);
  });

  test('alerts.routing: notification latency per route within group_wait + 1 s and not before it; a raised and a zeroed critical group_wait are caught', async ({
    topology,
  }) => {
    const { runs } = await runCampaign(topology);
    // Claimed group_wait per receiver, from the claims registry: the document's (critical 5 s,
    // warning 30 s), two-sided; the routes it gives none are held to the longest it gives (30 s).
    const undocumented = boundValue('alerts.routing', 'undocumented-group-wait');
    const claimed: Record<string, number> = Object.fromEntries(shipped.map((r) => [r.receiver, undocumented]));
    claimed['critical-alerts'] = boundValue('alerts.routing', 'critical-group-wait') * 1000;
    claimed['warning-alerts'] = boundValue('alerts.routing', 'warning-group-wait') * 1000;
    const early = boundValue('alerts.routing', 'early-tolerance');
    const earliest = { 'critical-alerts': claimed['critical-alerts'] - early, 'warning-alerts': claimed['warning-alerts'] - early };
    const ok = recordVerdict(
      withConfigured(
        latencyVerdict(runs.shipped.latencies, claimed, LATENCY_MARGIN_MS, earliest),
        configuredReadings('alerts.routing', composeFiles, 'latency'),
      ),
      { ...timingNote, claimedGroupWaitMs: claimed, samples: runs.shipped.latencies },
      'shipped',
      'latency',
    );
    const slow = latencyVerdict(runs['slow-critical'].latencies, claimed, LATENCY_MARGIN_MS, earliest);
    recordVerdict(slow, { claimedGroupWaitMs: claimed, samples: runs['slow-critical'].latencies }, 'slow-critical', 'latency');
    const immediate = latencyVerdict(runs['immediate-critical'].latencies, claimed, LATENCY_MARGIN_MS, earliest);
    recordVerdict(
      immediate,
      { claimedGroupWaitMs: claimed, samples: runs['immediate-critical'].latencies },
      'immediate-critical',
      'latency',
    );
    expect(slow.status).toBe('not met');
    expect(immediate.status, immediate.measured).toBe('not met');
    expect(ok.status, ok.reason).toBe('met');
  });

  test('alerts.routing: grouping into one mail, resolution notifications, and a repeat after the (shortened) repeat_interval (negative controls: group_by instance, send_resolved false, repeat_interval 1h)', async ({
    topology,
  }) => {
    const { runs, grouping, groupingControl, repeatArrivals, repeatControlArrivals } = await runCampaign(topology);
    const grouped = recordVerdict(
      withConfigured(
        groupingVerdict({ alertnames: grouping.instances, mails: grouping.mails }),
        configuredReadings('alerts.routing', composeFiles, 'grouping'),
      ),
      grouping,
      'shipped',
      'grouping',
    );
    const resolution = recordVerdict(
      resolutionVerdict(runs.shipped.resolutions, promDurationMs(TEST_TIMINGS.groupInterval), LATENCY_MARGIN_MS + DELIVERY_MARGIN_MS),
      { ...timingNote, resolutions: runs.shipped.resolutions },
      'shipped',
      'resolution',
    );
    const repeated = recordVerdict(
      withConfigured(
        repeatVerdict({
          arrivals: repeatArrivals,
          repeatIntervalMs: promDurationMs(REPEAT_TIMINGS.repeatInterval),
          groupIntervalMs: promDurationMs(REPEAT_TIMINGS.groupInterval),
          marginMs: LATENCY_MARGIN_MS + DELIVERY_MARGIN_MS,
        }),
        configuredReadings('alerts.routing', composeFiles, 'repeat'),
      ),
      { testOnlyTimings: REPEAT_TIMINGS, arrivals: repeatArrivals },
      'shipped',
      'repeat',
    );
    // Negative controls, each on its own Alertmanager observed the same way at the same time.
    const ungrouped = recordVerdict(
      groupingVerdict({ alertnames: groupingControl.instances, mails: groupingControl.mails }),
      groupingControl,
      'group-by-instance',
      'grouping',
    );
    const unresolved = recordVerdict(
      resolutionVerdict(
        runs['no-send-resolved'].resolutions,
        promDurationMs(TEST_TIMINGS.groupInterval),
        LATENCY_MARGIN_MS + DELIVERY_MARGIN_MS,
      ),
      { resolutions: runs['no-send-resolved'].resolutions },
      'no-send-resolved',
      'resolution',
    );
    const unrepeated = recordVerdict(
      repeatVerdict({
        arrivals: repeatControlArrivals,
        repeatIntervalMs: promDurationMs(REPEAT_TIMINGS.repeatInterval),
        groupIntervalMs: promDurationMs(REPEAT_TIMINGS.groupInterval),
        marginMs: LATENCY_MARGIN_MS + DELIVERY_MARGIN_MS,
      }),
      { testOnlyTimings: NO_REPEAT_TIMINGS, arrivals: repeatControlArrivals },
      'repeat-interval-1h',
      'repeat',
    );
    expect(ungrouped.status, ungrouped.measured).toBe('not met');
    expect(unresolved.status, unresolved.measured).toBe('not met');
    expect(unrepeated.status, unrepeated.measured).toBe('not met');
    expect(grouped.status, grouped.measured).toBe('met');
    expect(resolution.status, resolution.reason).toBe('met');
    expect(repeated.status, repeated.reason).toBe('met');
  });

  test('alerts.routing: a receiver that is down is retried and its failed deliveries reported, within a bound (no hang)', async ({
    topology,
  }) => {
    const { receiverDown, receiverUp } = await runCampaign(topology);
    const v = recordVerdict(
      receiverDownVerdict(receiverDown),
      { ...timingNote, observation: receiverDown, downEndpoint: 'webhook-receiver-down answers 503 to every post' },
      'shipped',
      'receiver-down',
    );
    // Negative control: the same checker on the shipped instance, whose Slack endpoint is up — nothing refused, nothing to report.
    const nv = recordVerdict(receiverDownVerdict(receiverUp), { observation: receiverUp }, 'receiver-up', 'receiver-down');
    expect(nv.status).toBe('not met');
    expect(v.status, v.reason).toBe('met');
  });

  test('alerts.templates: subjects and bodies as the SMTP sink received them', async ({ topology }) => {
    const { runs } = await runCampaign(topology);
    const mails: MailBody[] = runs.shipped.deliveries
      .filter((d) => d.kind === 'email')
      .map((d) => ({ receiver: receiverOf(d), subject: d.subject, text: d.text ?? '', status: d.status }));
    const v = recordVerdict(templatesVerdict(mails), { samples: mails.slice(0, 6) });
    // Negative control: the same mails judged as if the critical subject had lost its tag.
    const untagged = templatesVerdict(
      mails.map((m) => (m.receiver === 'critical-alerts' ? { ...m, subject: m.subject.replace('[CRITICAL] ', '') } : m)),
    );
    recordVerdict(untagged, {}, 'untagged-critical-subject');
    expect(untagged.status).toBe('not met');
    expect(v.status, v.reason).toBe('met');
  });

  test('alerts.api: /api/v1/alerts as documented answers 410 on 0.27 and 200 on 0.26 (positive control); API v2 works', async ({
    topology,
  }) => {
    const client = AlertmanagerClient.of(topology.get<StartedAlertmanager>('alertmanager'));
    /** The document's two v1 calls: list the alerts, post one. */
    const documentedV1Calls = async (am: AlertmanagerClient) => ({
      get: await am.statusOf('/api/v1/alerts'),
      post: await am.statusOf('/api/v1/alerts', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ labels: { alertname: 'TestAlert', severity: 'critical' } }]),
      }),
    });
    const { get, post } = await documentedV1Calls(client);
    const v1 = recordVerdict(apiV1Verdict(get.status, post.status), { get, post }, 'shipped', 'v1-as-documented');
    // The positive control: the documented calls against the Alertmanager that still serves them.
    const legacy = await documentedV1Calls(AlertmanagerClient.of(topology.get<StartedAlertmanager>('alertmanager-0.26')));
    const v1Served = recordVerdict(
      apiV1Verdict(legacy.get.status, legacy.post.status),
      { ...legacy, image: 'alertmanager 0.26.0' },
      'alertmanager-0.26',
      'v1-as-documented',
      'met',
    );
    const alertname = `A_api_${RUN}`;
    const t0 = performance.now();
    const { status } = await client.post([{ labels: { alertname, severity: 'none-routing-test', component: 'api' } }]);
    let listed = false;
    await expect
      .poll(async () => (listed = (await client.list()).some((a) => a.labels.alertname === alertname)), { timeout: 10_000, interval: 100 })
      .toBe(true);
    const v2 = recordVerdict(apiV2Verdict(status, listed, performance.now() - t0), { status }, 'shipped', 'v2');
    await client.resolve([{ labels: { alertname, severity: 'none-routing-test', component: 'api' } }]);
    // The control: the same post and listing against an Alertmanager serving its API under /alertmanager.
    const prefixed = AlertmanagerClient.of(topology.get<StartedAlertmanager>('alertmanager-prefixed'));
    const t1 = performance.now();
    const prefixedPost = await prefixed.statusOf('/api/v2/alerts', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ labels: { alertname, severity: 'none-routing-test', component: 'api' } }]),
    });
    const prefixedList = await prefixed.statusOf('/api/v2/alerts');
    const prefixedListed = prefixedList.status === 200 && prefixedList.body.includes(alertname);
    const caught = recordVerdict(
      apiV2Verdict(prefixedPost.status, prefixedListed, performance.now() - t1),
      { post: prefixedPost, list: prefixedList },
      'route-prefix-alertmanager',
      'v2',
    );
    expect(v1.status).toBe('not met');
    expect(get.status).toBe(410);
    expect(v1Served.status, `the positive control must pass: ${v1Served.measured}`).toBe('met');
    expect(v2.status).toBe('met');
    expect(caught.status, caught.measured).toBe('not met');
  });
});
