/**
 * End to end from a real Kafka fault: the 3-broker KRaft cluster with Prometheus' JMX exporter
 * agent in every broker, Prometheus scraping the agents with the shipped rules, Alertmanager with
 * the shipped routes delivering to a real SMTP sink (Mailpit) and the Slack stand-in.
 *
 * The rule (compose/prometheus/rules): KafkaClusterFailure fires when fewer than 2 brokers answer
 * and report RUNNING — with replication factor 3 and min.insync.replicas 2 that is when acks=all
 * writes stop. One stopped broker leaves the cluster writable and pages nobody (the promtool
 * boundary case), so the fault the rule means is two brokers stopped. The page must reach DevOps
 * (kafka-alerts, devops@bss.local), and the resolution must follow once one of them is back.
 *
 * Test-only timings (said in every figure, and the bounds are computed from them, as in
 * suites/monitoring): scrape and evaluation every 2 s instead of 15 s, every rule's `for` 4 s
 * instead of 30 s, Alertmanager's group_interval 5 s instead of 5 m; group_wait as shipped.
 */
import { afterAll, describe, expect } from 'vitest';
import { parse, stringify } from 'yaml';
import { dropRoute, promDurationMs, routeTimings, withTestTimings } from '#fixtures/checks/alerting.js';
import {
  type FaultPage,
  faultPageVerdict,
  jobsFor,
  pageBound,
  resolveBound,
  scrapeJobs,
  withPrometheusTestTimings,
  withRuleFor,
} from '#fixtures/checks/monitoring.js';
import { firstDelivery, mailpitClient, PrometheusClient } from '#fixtures/clients/alert-clients.js';
import { gracefulStop, start } from '#fixtures/faults/faults.js';
import { printSummary, recordVerdict } from '#fixtures/report/measurements.js';
import { progress } from '#fixtures/run/progress.js';
import { run } from '#fixtures/support/exec.js';
import { alertmanagerService, SHIPPED_ALERTMANAGER_CONFIG, shippedTemplates } from '#fixtures/services/alertmanager.js';
import { brokerAlias, type StartedKafka } from '#fixtures/services/kafka.js';
import { JMX_EXPORTER_PORT, KAFKA_METRICS_JOB, kafkaMetricsTargets, kafkaWithMetricsService } from '#fixtures/services/kafka-metrics.js';
import { mailpitService, type StartedMailpit } from '#fixtures/services/mailpit.js';
import { prometheusService, SHIPPED_PROMETHEUS_CONFIG, shippedRuleFiles, type StartedPrometheus } from '#fixtures/services/prometheus.js';
import { webhookReceiverService } from '#fixtures/services/webhook.js';
import type { Topology } from '#fixtures/topology/topology.js';
import { topologyTest } from '#fixtures/vitest/topology-test.js';

const PROM_TEST_TIMINGS = { scrapeInterval: '2s', evaluationInterval: '2s' } as const;
const RULE_FOR_TEST = '4s';
const AM_TEST_TIMINGS = { groupInterval: '5s' } as const;
/** Stated before measuring (the same as suites/monitoring): agent scrape, Prometheus → Alertmanager dispatch, SMTP delivery on a shared host. */
const MARGIN_MS = 5_000;
const RULES_FILE = 'rules/bss-alerts.rules.yml';
const ALERT = 'KafkaClusterFailure';
const DEVOPS = 'devops@bss.local';
const KAFKA = 'kafka';
const BROKERS = 3;
/** The two brokers stopped: the cluster keeps one, below the 2 that acks=all writes need. */
const STOPPED = [1, 2] as const;
/**
 * Healing: one of them returns, which makes the cluster writable again (2 live brokers, a KRaft
 * quorum of 2 of 3 voters) and is what the rule's resolution means. Starting one JVM instead of two
 * on two shared cores keeps the case short; the other broker stays down until teardown.
 */
const RETURNS = 1;
const VARIANT = 'no-kafka-route';

const amConfig = withTestTimings(SHIPPED_ALERTMANAGER_CONFIG, AM_TEST_TIMINGS);
/**
 * Negative control, one change from what ships: the kafka-alerts route dropped. It gets the same
 * alerts from the same Prometheus; its mail goes to a sink of its own (the smarthost is plumbing,
 * not routing) so that the shipped instance's mail cannot count for it.
 */
const variantConfig = dropRoute(amConfig, 'kafka-alerts').replace('mailpit:1025', 'mailpit-variant:1025');
if (!variantConfig.includes('mailpit-variant:1025'))
  throw new Error(`${VARIANT}: smtp_smarthost mailpit:1025 not found in alertmanager.yml`);

const RUNNING = [...kafkaMetricsTargets(KAFKA, BROKERS).map((t) => t.replace(/:\d+$/, '')), 'alertmanager'];
const deployed = jobsFor(withPrometheusTestTimings(SHIPPED_PROMETHEUS_CONFIG, PROM_TEST_TIMINGS), RUNNING);
/** Prometheus alerts the shipped Alertmanager and the variant alike. */
const promConfig = (() => {
  const parsed = parse(deployed.config) as { alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> } };
  parsed.alerting.alertmanagers[0]!.static_configs[0]!.targets.push(`alertmanager-${VARIANT}:9093`);
  return stringify(parsed, { lineWidth: 0 });
})();
const shippedRules = shippedRuleFiles();
const testRules = { [RULES_FILE]: withRuleFor(shippedRules[RULES_FILE]!, RULE_FOR_TEST) };

const test = topologyTest('kafka-alerting', [
  kafkaWithMetricsService({ name: KAFKA, brokers: BROKERS }),
  mailpitService(),
  mailpitService({ name: 'mailpit-variant' }),
  webhookReceiverService(),
  alertmanagerService({ config: amConfig, templates: shippedTemplates(), dependsOn: ['mailpit', 'webhook-receiver'] }),
  alertmanagerService({
    name: `alertmanager-${VARIANT}`,
    config: variantConfig,
    templates: shippedTemplates(),
    dependsOn: ['mailpit-variant', 'webhook-receiver'],
  }),
  prometheusService({ config: promConfig, rules: testRules, dependsOn: [KAFKA, 'alertmanager', `alertmanager-${VARIANT}`] }),
]);

afterAll(() => printSummary('kafka-alerting'));

const timings = {
  testOnly: { prometheus: PROM_TEST_TIMINGS, ruleFor: RULE_FOR_TEST, alertmanager: AM_TEST_TIMINGS },
  marginMs: MARGIN_MS,
  exporter: 'JMX exporter Java agent 1.0.1 in every broker (job kafka)',
};

function routeOf(receiver: string) {
  const route = routeTimings(amConfig).find((r) => r.receiver === receiver);
  if (!route) throw new Error(`alertmanager.yml has no route to ${receiver}`);
  const { jobs, evaluationIntervalMs } = scrapeJobs(promConfig);
  const job = jobs.find((j) => j.job === KAFKA_METRICS_JOB);
  if (!job) throw new Error(`prometheus.yml has no job ${KAFKA_METRICS_JOB}`);
  return { route, scrapeIntervalMs: job.scrapeIntervalMs, evaluationIntervalMs };
}

/** Fault → page at DevOps: scrape + 2 × evaluation + for + the kafka route's group_wait + margin (fixtures/checks/monitoring.ts). */
const bound = (() => {
  const { route, scrapeIntervalMs, evaluationIntervalMs } = routeOf('kafka-alerts');
  return pageBound({
    scrapeIntervalMs,
    evaluationIntervalMs,
    forMs: promDurationMs(RULE_FOR_TEST),
    groupWaitMs: route.groupWaitMs,
    marginMs: MARGIN_MS,
  });
})();
/** Healed → resolution at DevOps: scrape + evaluation + the kafka route's group_interval + margin. */
const healBound = (() => {
  const { route, scrapeIntervalMs, evaluationIntervalMs } = routeOf('kafka-alerts');
  return resolveBound({ scrapeIntervalMs, evaluationIntervalMs, groupIntervalMs: route.groupIntervalMs, marginMs: MARGIN_MS });
})();

const mailpit = (topology: Topology, name: string) => mailpitClient(topology.get<StartedMailpit>(name));

/** First mail to `to` about the alert with that status created at or after `after` (ms since epoch), polled until `timeoutMs`. */
const firstMail = (topology: Topology, sink: string, to: string, status: 'firing' | 'resolved', after: number, timeoutMs: number) =>
  firstDelivery(mailpit(topology, sink), { to, alert: ALERT, status, after }, timeoutMs);

/**
 * Brokers that report RUNNING right now, read from each broker's agent directly (not through
 * Prometheus, whose view is what is being measured). A restarted container has new host ports:
 * `docker port` gives the current one.
 */
async function runningBrokers(kafka: StartedKafka): Promise<number> {
  const states = await Promise.all(
    kafka.brokers.map(async (broker) => {
      const port = await run('docker', ['port', broker.getId(), `${JMX_EXPORTER_PORT}/tcp`], { timeoutMs: 10_000 });
      const hostPort = /:(\d+)\s*$/m.exec(port.stdout)?.[1];
      if (port.code !== 0 || !hostPort) return false;
      try {
        const response = await fetch(`http://127.0.0.1:${hostPort}/metrics`, { signal: AbortSignal.timeout(2_000) });
        return /^kafka_server_kafkaserver_value\{name="BrokerState",?\} 3\.0$/m.test(await response.text());
      } catch {
        return false;
      }
    }),
  );
  return states.filter(Boolean).length;
}

describe('alerting: a Kafka cluster failure (two brokers stopped) pages DevOps, end to end', () => {
  test('alerts.rules: two stopped brokers page DevOps within the computed bound and resolve once one returns; a config without the kafka route does not', async ({
    topology,
  }) => {
    const kafka = topology.get<StartedKafka>(KAFKA);
    const prom = PrometheusClient.of(topology.get<StartedPrometheus>('prometheus'));
    // Before the fault: Prometheus sees every broker's agent, each RUNNING, and nothing firing.
    const liveQuery = `count(kafka_server_kafkaserver_value{job="${KAFKA_METRICS_JOB}", name="BrokerState"} == 3)`;
    await expect.poll(async () => (await prom.query(liveQuery))[0]?.value ?? 0, { timeout: 60_000, interval: 500 }).toBe(BROKERS);
    const targetsBefore = (await prom.targets()).filter((t) => t.job === KAFKA_METRICS_JOB);
    expect(targetsBefore.map((t) => t.health)).toEqual(Array(BROKERS).fill('up'));
    // Right after Prometheus starts, an evaluation that ran before every broker's first scrape leaves
    // the alert pending: wait until it is inactive, so the fault starts its `for` from zero.
    await expect
      .poll(async () => (await prom.alerts()).filter((a) => a.labels.alertname === ALERT).map((a) => a.state), {
        timeout: 30_000,
        interval: 250,
      })
      .toEqual([]);

    const stopped = STOPPED.map((i) => kafka.brokers[i]!);
    const names = STOPPED.map((i) => brokerAlias(KAFKA, i)).join(' and ');
    progress('kafka-alerting', `stopping ${names}; bound ${bound.formula}; resolution ${healBound.formula}`);
    const faultAt = Date.now();
    const stopping = Promise.all(stopped.map((b) => gracefulStop(b)));
    const [pagedAt, variantPagedAt, variantOncallAt] = await Promise.all([
      firstMail(topology, 'mailpit', DEVOPS, 'firing', faultAt, bound.boundMs + 30_000),
      // The variant is judged by the same checker against the same bound: watching until the bound is enough.
      firstMail(topology, 'mailpit-variant', DEVOPS, 'firing', faultAt, faultAt + bound.boundMs - Date.now()),
      // …and it did get the alert (on-call has it), so only the route is missing.
      firstMail(topology, 'mailpit-variant', 'oncall@bss.local', 'firing', faultAt, bound.boundMs + 30_000),
    ]);
    await stopping;
    const firingInPrometheus = (await prom.alerts()).filter((a) => a.labels.alertname === ALERT);

    // Heal: one broker back; healed when at least 2 agents report RUNNING (what the rule asks).
    const returning = brokerAlias(KAFKA, RETURNS);
    progress('kafka-alerting', `starting ${returning} again`);
    await start(kafka.brokers[RETURNS]!);
    await expect.poll(() => runningBrokers(kafka), { timeout: 120_000, interval: 250 }).toBeGreaterThanOrEqual(2);
    const healedAt = Date.now();
    const resolvedAt = await firstMail(topology, 'mailpit', DEVOPS, 'resolved', healedAt - 1_000, healBound.boundMs + 30_000);

    const page: FaultPage = {
      fault: `stop ${names} (1 of ${BROKERS} brokers left); heal: ${returning} started again`,
      alert: ALERT,
      receiver: DEVOPS,
      faultAt,
      bound,
      resolveBound: healBound,
      healedAt,
      ...(pagedAt ? { pagedAt } : {}),
      ...(resolvedAt ? { resolvedAt } : {}),
    };
    const v = recordVerdict(
      faultPageVerdict(page, 'two brokers stopped'),
      { page, firingInPrometheus, targetsBefore, ...timings },
      'shipped',
      'broker-down',
    );
    const variantPage: FaultPage = {
      fault: `stop ${names} (1 of ${BROKERS} brokers left)`,
      alert: ALERT,
      receiver: `${DEVOPS} (kafka-alerts route dropped)`,
      faultAt,
      bound,
      ...(variantPagedAt ? { pagedAt: variantPagedAt } : {}),
    };
    const nv = recordVerdict(
      faultPageVerdict(variantPage, 'two brokers stopped, kafka route dropped'),
      { page: variantPage, oncallAt: variantOncallAt, ...timings },
      VARIANT,
      'broker-down',
    );
    expect(variantOncallAt, 'the variant Alertmanager got the alert (on-call mail)').toBeDefined();
    expect(nv.status).toBe('not met');
    expect(v.status, v.reason).toBe('met');
  });
});
