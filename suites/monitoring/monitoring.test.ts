/**
 * Prometheus with the shipped rules scraping what runs (itself, Alertmanager, node exporter,
 * postgres exporter on the primary, HAProxy's exporter), Alertmanager with the shipped routes,
 * Mailpit and the Slack stand-in; then real faults on the database tier page the right people.
 *
 * Test-only timings (said in every figure, and the bounds are computed from them): scrape every
 * 4 s and evaluation every 2 s instead of 15 s, every rule's `for` 4 s, Alertmanager's group_interval
 * 5 s; group_wait as shipped.
 *
 * Negative control of the two fault pages: `prometheus-slow-rules` evaluates the same targets with
 * the rules as a plausible regression would leave them (every `for` 10 min), sends nothing (no
 * alerting section, so Alertmanager never merges its alerts with the real ones), and is read at the
 * moment the shipped page is judged: its alert must not be firing yet.
 */
import { afterAll, describe, expect } from 'vitest';
import { parse, stringify } from 'yaml';
import { promDurationMs, routeTimings, withTestTimings } from '#fixtures/checks/alerting.js';
import {
  alertRules,
  type ExporterCheck,
  exportersVerdict,
  type FaultPage,
  faultPageVerdict,
  jobsFor,
  pageBound,
  promtoolVerdict,
  resolveBound,
  rulesLoadedVerdict,
  scrapeJobs,
  targetsVerdict,
  withPrometheusTestTimings,
  withRuleExpr,
  withRuleFor,
} from '#fixtures/checks/monitoring.js';
import { firstDelivery, mailpitClient, PrometheusClient, WebhookClient } from '#fixtures/clients/alert-clients.js';
import { withClient } from '#fixtures/clients/pg-probes.js';
import { gracefulStop, start } from '#fixtures/faults/faults.js';
import { configuredReadings, withConfigured } from '#fixtures/checks/configured.js';
import { shippedComposeFiles } from '#fixtures/deploy/shipped-files.js';
import { boundList } from '#fixtures/report/bounds.js';
import { printSummary, recordVerdict } from '#fixtures/report/measurements.js';
import { progress } from '#fixtures/run/progress.js';
import { alertmanagerService, SHIPPED_ALERTMANAGER_CONFIG, shippedTemplates } from '#fixtures/services/alertmanager.js';
import { databaseTier, HAPROXY, PRIMARY, REPLICAS, type StartedPostgresServer, tierSecrets } from '#fixtures/services/database-tier.js';
import { nodeExporterService, postgresExporterService } from '#fixtures/services/exporters.js';
import { mailpitService, type StartedMailpit } from '#fixtures/services/mailpit.js';
import {
  promtoolCheckConfig,
  promtoolTestRules,
  prometheusService,
  SHIPPED_PROMETHEUS_CONFIG,
  shippedRuleFiles,
  type StartedPrometheus,
} from '#fixtures/services/prometheus.js';
import { type StartedWebhookReceiver, webhookReceiverService } from '#fixtures/services/webhook.js';
import type { Topology } from '#fixtures/topology/topology.js';
import { topologyTest } from '#fixtures/vitest/topology-test.js';

/**
 * Scrape every 4 s (timeout 4 s): postgres_exporter 0.11 answers a scrape in 1.0 s while the
 * primary is gone (measured: 1.002-1.004 s, five scrapes), against ~15 ms while it is up. With a
 * 2 s interval and timeout, one nightly run's scrapes queued behind each other, every one timed
 * out, pg_up vanished and PostgresPrimaryDown never fired (the shipped 15 s / 10 s has the room).
 */
const PROM_TEST_TIMINGS = { scrapeInterval: '4s', evaluationInterval: '2s' } as const;
const RULE_FOR_TEST = '4s';
const AM_TEST_TIMINGS = { groupInterval: '5s' } as const;
/** Stated before measuring: exporter query, Prometheus → Alertmanager dispatch, SMTP/HTTP delivery on a shared host. */
const MARGIN_MS = 5_000;
const RULES_FILE = 'rules/bss-alerts.rules.yml';
const TESTS_FILE = 'rules/bss-alerts.test.yml';

const secrets = tierSecrets();
const shippedRules = shippedRuleFiles();
const RUNNING = ['alertmanager', 'node-exporter', 'postgres-exporter', HAPROXY];
/** Jobs of the registry's list whose services this topology runs (Prometheus scrapes itself). */
const EXPECTED_HERE = ['prometheus', 'alertmanager', 'node-exporter', 'postgres-exporter', 'haproxy'];
const composeFiles = shippedComposeFiles();
const deployed = jobsFor(withPrometheusTestTimings(SHIPPED_PROMETHEUS_CONFIG, PROM_TEST_TIMINGS), RUNNING);
const testRules = { [RULES_FILE]: withRuleFor(shippedRules[RULES_FILE]!, RULE_FOR_TEST) };
const amConfig = withTestTimings(SHIPPED_ALERTMANAGER_CONFIG, AM_TEST_TIMINGS);
const receivers = ['mailpit', 'webhook-receiver'];
const SLOW_RULES = 'prometheus-slow-rules';
const SLOW_RULE_FOR = '10m';
/**
 * The control's own postgres_exporter. 0.11 connects under one process-wide lock and, when the
 * connection fails, sleeps a second before letting go (`Servers.GetServer`): with the primary gone
 * every scrape holds the exporter for 1 s, and the scrapes of several Prometheus servers queue.
 * Three servers on one exporter once pushed the judged server's scrapes past their 4 s timeout in
 * CI, so `pg_up` vanished instead of reading 0 and the shipped page never came. The judged server
 * now shares its exporter only with `prometheus-unfiltered` (the shipped 15 s cadence).
 */
const CONTROL_EXPORTER = 'postgres-exporter-control';
/** The deployed test config without its alerting section (the control only evaluates), scraping its own exporter. */
const silentConfig = (() => {
  const parsed = parse(deployed.config) as {
    alerting?: unknown;
    scrape_configs?: Array<{ job_name: string; static_configs?: Array<{ targets: string[] }> }>;
  };
  delete parsed.alerting;
  const job = parsed.scrape_configs?.find((j) => j.job_name === 'postgres-exporter');
  if (!job?.static_configs?.length) throw new Error('the deployed Prometheus config has no postgres-exporter job to point the control at');
  for (const group of job.static_configs)
    group.targets = group.targets.map((t) => t.replace(/^postgres-exporter:/, `${CONTROL_EXPORTER}:`));
  return stringify(parsed);
})();

const test = topologyTest(
  'monitoring',
  [
    ...databaseTier(secrets),
    postgresExporterService({ postgres: PRIMARY }),
    postgresExporterService({ name: CONTROL_EXPORTER, postgres: PRIMARY }),
    nodeExporterService(),
    mailpitService(),
    webhookReceiverService(),
    alertmanagerService({ config: amConfig, templates: shippedTemplates(), dependsOn: receivers }),
    prometheusService({
      config: deployed.config,
      rules: testRules,
      dependsOn: ['alertmanager', 'node-exporter', 'postgres-exporter', HAPROXY],
    }),
    // The shipped prometheus.yml verbatim: jobs of tiers not deployed here are down targets. It
    // loads no rules: with the same rules and external labels it would send the same alerts to
    // the same Alertmanager at its own (shipped, 15 s) cadence, and Alertmanager merges identical
    // alerts keeping the latest update — its late firing re-sends undid the fast instance's
    // resolution (a 21.3 s resolution measured before this was found).
    prometheusService({ name: 'prometheus-unfiltered', config: SHIPPED_PROMETHEUS_CONFIG, rules: {}, dependsOn: ['prometheus'] }),
    prometheusService({
      name: SLOW_RULES,
      config: silentConfig,
      rules: { [RULES_FILE]: withRuleFor(shippedRules[RULES_FILE]!, SLOW_RULE_FOR) },
      dependsOn: ['prometheus', CONTROL_EXPORTER],
    }),
  ],
  {
    only: [
      PRIMARY,
      ...REPLICAS,
      HAPROXY,
      'postgres-exporter',
      CONTROL_EXPORTER,
      'node-exporter',
      'mailpit',
      'webhook-receiver',
      'alertmanager',
      'prometheus',
      'prometheus-unfiltered',
      SLOW_RULES,
    ],
  },
);

afterAll(() => printSummary('monitoring'));

const prom = (topology: Topology, name = 'prometheus') => PrometheusClient.of(topology.get<StartedPrometheus>(name));
const timings = { testOnly: { prometheus: PROM_TEST_TIMINGS, ruleFor: RULE_FOR_TEST, alertmanager: AM_TEST_TIMINGS }, marginMs: MARGIN_MS };

function timingsFor(receiver: string) {
  const { jobs, evaluationIntervalMs } = scrapeJobs(deployed.config);
  const job = jobs.find((j) => j.job === 'postgres-exporter')!;
  const route = routeTimings(amConfig).find((r) => r.receiver === receiver);
  if (!route) throw new Error(`alertmanager.yml has no route to ${receiver}`);
  return { scrapeIntervalMs: job.scrapeIntervalMs, evaluationIntervalMs, route };
}

/** The fault-to-page bound for an alert at a receiver, from the values the running topology uses. */
function boundFor(receiver: string) {
  const { scrapeIntervalMs, evaluationIntervalMs, route } = timingsFor(receiver);
  return pageBound({
    scrapeIntervalMs,
    evaluationIntervalMs,
    forMs: promDurationMs(RULE_FOR_TEST),
    groupWaitMs: route.groupWaitMs,
    marginMs: MARGIN_MS,
  });
}

/** The heal-to-resolution bound at a receiver: scrape + evaluation + that route's group_interval + margin. */
function resolveBoundFor(receiver: string) {
  const { scrapeIntervalMs, evaluationIntervalMs, route } = timingsFor(receiver);
  return resolveBound({ scrapeIntervalMs, evaluationIntervalMs, groupIntervalMs: route.groupIntervalMs, marginMs: MARGIN_MS });
}

async function firstArrival(
  topology: Topology,
  kind: 'email' | 'slack',
  to: string,
  alert: string,
  status: 'firing' | 'resolved',
  after: number,
  timeoutMs: number,
) {
  const mail = mailpitClient(topology.get<StartedMailpit>('mailpit'));
  const hook = new WebhookClient((p) => topology.get<StartedWebhookReceiver>('webhook-receiver').url(p));
  return firstDelivery(kind === 'email' ? mail : hook, { to, alert, status, after }, timeoutMs);
}

/**
 * The control's page for the same fault, judged by the same checker: "paged" when its alert is
 * firing at the moment the shipped page was judged (it sends nothing, so firing is as far as it goes).
 * `sawFault`: its alert is at least pending — the control saw the condition and only its `for`
 * held it back. A control that never saw the fault (its exporter unreachable) proves nothing.
 */
async function slowRulesPage(topology: Topology, page: FaultPage): Promise<FaultPage & { sawFault: boolean }> {
  const states = (await prom(topology, SLOW_RULES).alerts()).filter((a) => a.labels.alertname === page.alert).map((a) => a.state);
  const firing = states.includes('firing');
  return {
    sawFault: states.includes('pending') || firing,
    fault: page.fault,
    alert: page.alert,
    receiver: `${SLOW_RULES} (rules with for ${SLOW_RULE_FOR}; sends nothing)`,
    faultAt: page.faultAt,
    bound: page.bound,
    ...(firing ? { pagedAt: Date.now() } : {}),
  };
}

describe('monitoring tier: Prometheus, rules, exporters, and pages from real faults', () => {
  test('bad input: a rule file that does not load is refused with promtool’s own message', async () => {
    const broken = {
      [RULES_FILE]: shippedRules[RULES_FILE]!.replace(
        'expr: pg_up{job="postgres-exporter"} == 0',
        'expr: pg_up{job="postgres-exporter" == 0',
      ),
    };
    const result = await promtoolCheckConfig(SHIPPED_PROMETHEUS_CONFIG, broken);
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/bss-alerts\.rules\.yml/);
    const ok = await promtoolCheckConfig(SHIPPED_PROMETHEUS_CONFIG, { [RULES_FILE]: shippedRules[RULES_FILE]! });
    expect(ok.ok, ok.output).toBe(true);
  });

  test('alerts.rules: every rule passes its promtool unit tests at the documented thresholds; a threshold moved a point either way fails them', async () => {
    const rules = alertRules(shippedRules[RULES_FILE]!);
    const shippedRun = await promtoolTestRules(shippedRules);
    const v = recordVerdict(
      withConfigured(
        promtoolVerdict(shippedRun, rules, shippedRules[TESTS_FILE]!),
        configuredReadings('alerts.rules', composeFiles, 'promtool'),
      ),
      { output: shippedRun.output },
      'shipped',
      'promtool',
    );
    // Each control moves one threshold in the rule file only: the unit tests must catch it.
    const controls = {
      'lag-threshold-50s': (r: string) => withRuleExpr(r, 'PostgresReplicaLagCritical', (e) => e.replace('> 5', '> 50')),
      'cpu-threshold-81': (r: string) => withRuleExpr(r, 'HighCpuUsage', (e) => e.replace('> 80', '> 81')),
      'memory-threshold-84': (r: string) => withRuleExpr(r, 'HighMemoryUsage', (e) => e.replace('> 85', '> 84')),
    };
    for (const [variant, edit] of Object.entries(controls)) {
      const wrongRun = await promtoolTestRules({ ...shippedRules, [RULES_FILE]: edit(shippedRules[RULES_FILE]!) });
      const nv = recordVerdict(
        promtoolVerdict(wrongRun, rules, shippedRules[TESTS_FILE]!),
        { output: wrongRun.output },
        variant,
        'promtool',
      );
      expect(nv.status, variant).toBe('not met');
    }
    expect(v.status, v.reason).toBe('met');
  });

  test('monitoring.targets: every target of what runs is up; the unfiltered file shows the absent tiers as down', async ({ topology }) => {
    const client = prom(topology);
    let targets = await client.targets();
    await expect
      .poll(async () => (targets = await client.targets()).length > 0 && targets.every((t) => t.health === 'up'), {
        timeout: 30_000,
        interval: 500,
      })
      .toBe(true)
      .catch(() => undefined);
    // Expected jobs come from the claims registry (the document's list), limited to what runs here;
    // a job deleted from prometheus.yml is then missing, not silently expected no more.
    const expected = boundList('monitoring.targets', 'jobs').filter((job) => EXPECTED_HERE.includes(job));
    const v = recordVerdict(
      withConfigured(targetsVerdict(targets, expected, deployed.dropped), configuredReadings('monitoring.targets', composeFiles)),
      {
        targets,
        kept: deployed.kept,
        dropped: deployed.dropped,
        ...timings,
      },
    );
    const unfiltered = prom(topology, 'prometheus-unfiltered');
    const configured = scrapeJobs(SHIPPED_PROMETHEUS_CONFIG).jobs.reduce((n, j) => n + j.targets.length, 0);
    let all = await unfiltered.targets();
    await expect
      .poll(async () => (all = await unfiltered.targets()).filter((t) => t.health !== 'unknown').length, {
        timeout: 60_000,
        interval: 1_000,
      })
      .toBe(configured);
    const allJobs = scrapeJobs(SHIPPED_PROMETHEUS_CONFIG).jobs.map((j) => j.job);
    const nv = recordVerdict(targetsVerdict(all, allJobs, []), { targets: all }, 'unfiltered-shipped-file');
    expect(nv.status).toBe('not met');
    expect(v.status, v.reason).toBe('met');
  });

  test('monitoring.exporters: node exporter and postgres exporter metrics present with sane values', async ({ topology }) => {
    const client = prom(topology);
    const q = async (name: string, query: string, min: number, max: number, minSeries = 1): Promise<ExporterCheck> => ({
      name,
      query,
      min,
      max,
      minSeries,
      samples: await client.query(query),
    });
    // Replication slots are scraped once both standbys stream (bounded wait).
    await expect
      .poll(async () => (await client.query('bss_replication_slot_active == 1')).length, { timeout: 60_000, interval: 1_000 })
      .toBe(2);
    await expect
      .poll(async () => (await client.query('rate(node_cpu_seconds_total{mode="idle"}[10s])')).length, { timeout: 30_000, interval: 1_000 })
      .toBeGreaterThan(0);
    const checks = await Promise.all([
      q('cpu.busy%', '100 * (1 - avg(rate(node_cpu_seconds_total{mode="idle"}[10s])))', 0, 100),
      q('load1', 'node_load1', 0, 1_000),
      q('memory.available.ratio', 'node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes', 0.000001, 1),
      q('filesystem.root.free.ratio', 'node_filesystem_avail_bytes{mountpoint="/"} / node_filesystem_size_bytes{mountpoint="/"}', 0, 1),
      q('disk.read.bytes', 'sum(node_disk_read_bytes_total)', 0, Number.MAX_SAFE_INTEGER),
      q('network.receive.bytes', 'sum(node_network_receive_bytes_total)', 1, Number.MAX_SAFE_INTEGER),
      q('pg_up', 'pg_up', 1, 1),
      q('pg.connections', 'sum(pg_stat_database_numbackends)', 1, 10_000),
      q('pg.transactions', 'sum(pg_stat_database_xact_commit)', 1, Number.MAX_SAFE_INTEGER),
      q('pg.cache-hit.ratio', 'sum(pg_stat_database_blks_hit) / (sum(pg_stat_database_blks_hit) + sum(pg_stat_database_blks_read))', 0, 1),
      q('pg.wal.bytes', 'bss_wal_written_bytes', 1, Number.MAX_SAFE_INTEGER),
      q('pg.replication.slot-active', 'bss_replication_slot_active', 1, 1, 2),
      q('pg.replication.replay-lag-s', 'bss_replication_replay_lag_seconds', 0, 5, 2),
      q('haproxy.backend-up', 'haproxy_backend_active_servers', 0, 3, 2),
    ]);
    const v = recordVerdict(exportersVerdict(checks), { checks });
    expect(v.status, v.reason).toBe('met');
  });

  test('alerts.rules: every shipped rule is loaded in the running Prometheus (negative control: a Prometheus given no rule files)', async ({
    topology,
  }) => {
    const shippedNames = alertRules(shippedRules[RULES_FILE]!).map((r) => r.alert);
    const loaded = await prom(topology).rules();
    const v = recordVerdict(rulesLoadedVerdict(shippedNames, loaded), { loaded, ...timings }, 'shipped', 'loaded');
    // prometheus-unfiltered runs the shipped prometheus.yml with no rule file mounted: the same check must see none loaded.
    const none = await prom(topology, 'prometheus-unfiltered').rules();
    const nv = recordVerdict(rulesLoadedVerdict(shippedNames, none), { loaded: none }, 'no-rule-files', 'loaded');
    expect(nv.status, nv.measured).toBe('not met');
    expect(v.status, v.reason).toBe('met');
  });

  test('alerts.rules: a stopped replica pages the DBA within the computed bound and resolves after it returns', async ({ topology }) => {
    const replica = topology.get<StartedPostgresServer>(REPLICAS[0]);
    const primary = topology.get<StartedPostgresServer>(PRIMARY);
    await expect
      .poll(async () => (await prom(topology).query('bss_replication_slot_active == 1')).length, { timeout: 60_000, interval: 500 })
      .toBe(2);
    const bound = boundFor('database-alerts');
    const resolve = resolveBoundFor('database-alerts');
    progress('monitoring', `stopping ${REPLICAS[0]}; bound ${bound.formula}; resolution ${resolve.formula}`);
    const faultAt = Date.now();
    await gracefulStop(replica.container);
    const pagedAt = await firstArrival(
      topology,
      'email',
      'dba@bss.local',
      'PostgresReplicaDown',
      'firing',
      faultAt,
      bound.boundMs + 30_000,
    );
    const control = await slowRulesPage(topology, {
      fault: `stop ${REPLICAS[0]}`,
      alert: 'PostgresReplicaDown',
      receiver: '',
      faultAt,
      bound,
      ...(pagedAt ? { pagedAt } : {}),
    });
    await start(replica.container);
    const slotActive = async () =>
      withClient(
        primary.clientConfig(),
        async (c) => (await c.query(`SELECT active FROM pg_replication_slots WHERE slot_name = 'replica1_slot'`)).rows[0]?.active === true,
        3_000,
      );
    await expect.poll(slotActive, { timeout: 90_000, interval: 250 }).toBe(true);
    const healedAt = Date.now();
    const resolvedAt = await firstArrival(
      topology,
      'email',
      'dba@bss.local',
      'PostgresReplicaDown',
      'resolved',
      healedAt - 1_000,
      resolve.boundMs + 30_000,
    );
    const page: FaultPage = {
      fault: `stop ${REPLICAS[0]}`,
      alert: 'PostgresReplicaDown',
      receiver: 'dba@bss.local',
      faultAt,
      bound,
      resolveBound: resolve,
      healedAt,
      ...(pagedAt ? { pagedAt } : {}),
      ...(resolvedAt ? { resolvedAt } : {}),
    };
    const v = recordVerdict(faultPageVerdict(page, 'replica stopped'), { page, ...timings }, 'shipped', 'replica-down');
    const caught = recordVerdict(
      faultPageVerdict(control, 'replica stopped'),
      { page: control, controlSawFault: control.sawFault },
      `rules-for-${SLOW_RULE_FOR}`,
      'replica-down',
    );
    expect(v.status, v.reason).toBe('met');
    expect(caught.status, caught.measured).toBe('not met');
    expect(control.sawFault, `${SLOW_RULES} never saw the fault (its ${control.alert} not even pending): its silence proves nothing`).toBe(
      true,
    );
  });

  test('alerts.rules: a stopped primary pages on-call by mail and Slack within the computed bound', async ({ topology }) => {
    const primary = topology.get<StartedPostgresServer>(PRIMARY);
    const bound = boundFor('critical-alerts');
    progress('monitoring', `stopping ${PRIMARY}; bound ${bound.formula}`);
    const faultAt = Date.now();
    await gracefulStop(primary.container);
    const [mailAt, slackAt] = await Promise.all([
      firstArrival(topology, 'email', 'oncall@bss.local', 'PostgresPrimaryDown', 'firing', faultAt, bound.boundMs + 30_000),
      firstArrival(topology, 'slack', '#oncall', 'PostgresPrimaryDown', 'firing', faultAt, bound.boundMs + 30_000),
    ]);
    // Negative control for monitoring.exporters: the same checker while the primary is stopped.
    const pgUp = await prom(topology).query('pg_up');
    const down = recordVerdict(
      exportersVerdict([{ name: 'pg_up', query: 'pg_up', min: 1, max: 1, samples: pgUp }]),
      { pgUp },
      'primary-stopped',
    );
    // What PostgresPrimaryDown is computed from, at the end of the wait: a page that never came is explained by these.
    const exporterTarget = (await prom(topology).targets()).filter((t) => t.job === 'postgres-exporter');
    const scrapeSeconds = await prom(topology).query('scrape_duration_seconds{job="postgres-exporter"}');
    const pagedAt = mailAt !== undefined && slackAt !== undefined ? Math.max(mailAt, slackAt) : undefined;
    const page: FaultPage = {
      fault: `stop ${PRIMARY}`,
      alert: 'PostgresPrimaryDown',
      receiver: 'oncall@bss.local + #oncall',
      faultAt,
      bound,
      ...(pagedAt ? { pagedAt } : {}),
    };
    const control = await slowRulesPage(topology, page);
    const v = recordVerdict(
      faultPageVerdict(page, 'primary stopped'),
      { page, mailAt, slackAt, exporterTarget, scrapeSeconds, pgUp, ...timings },
      'shipped',
      'primary-down',
    );
    const caught = recordVerdict(
      faultPageVerdict(control, 'primary stopped'),
      { page: control, controlSawFault: control.sawFault },
      `rules-for-${SLOW_RULE_FOR}`,
      'primary-down',
    );
    expect(down.status).toBe('not met');
    expect(caught.status, caught.measured).toBe('not met');
    expect(control.sawFault, `${SLOW_RULES} never saw the fault (its ${control.alert} not even pending): its silence proves nothing`).toBe(
      true,
    );
    expect(v.status, `${v.reason ?? ''}; exporter target ${JSON.stringify(exporterTarget)}, scrape ${JSON.stringify(scrapeSeconds)}`).toBe(
      'met',
    );
  });
});
