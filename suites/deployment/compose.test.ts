/**
 * compose/compose.yml is the system as a person deploys it by hand: it must say what the
 * fixtures start (agreement), be accepted by the compose tools, order its start by health, and
 * really come up usable from the file alone, on the same images the harness uses.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  composeDifferences,
  deployedUnits,
  observedOrderProblems,
  oneShotJobs,
  readComposeServices,
  startupOrderProblems,
} from '#fixtures/deploy/agreement.js';
import {
  COMPOSE_FILE,
  composeTool,
  composeTools,
  parseComposeText,
  readComposeFile,
  runCompose,
} from '#fixtures/deploy/compose/compose-file.js';
import { composeDown, composeUp, harnessImageEnv, projectContainers } from '#fixtures/deploy/compose/compose-up.js';
import { deployedServices } from '#fixtures/deploy/deployed.js';
import { composeEnvironment, tierSecrets } from '#fixtures/services/database-tier.js';
import { MAILPIT_USER } from '#fixtures/services/mailpit.js';
import { HOST_PORTS } from '#fixtures/deploy/ports.js';
import {
  agreementVerdict,
  composeToolVerdict,
  composeUpVerdict,
  startupOrderVerdict,
  type ToolCheck,
} from '#fixtures/deploy/usability/verdicts.js';
import { withClient } from '#fixtures/clients/pg-probes.js';
import { printSummary, recordVerdict } from '#fixtures/report/measurements.js';
import { runDir } from '#fixtures/run/run-folder.js';
import { freeSubnet } from '#fixtures/deploy/compose/subnet.js';
import { monitoringUsability } from '#fixtures/deploy/usability/monitoring-usable.js';
import { meshUsability } from '#fixtures/deploy/usability/mesh-usable.js';
import { endToEndUsability } from '#fixtures/deploy/usability/end-to-end-usable.js';
import { progress } from '#fixtures/run/progress.js';
import { withMetrics } from '#fixtures/checks/verdict.js';
import { metric } from '#fixtures/checks/metric.js';

// Generated per run (and registered, so the leak scan looks for them), as the fixtures do.
const tier = tierSecrets();
const fixtures = deployedServices(tier);
const jobs = oneShotJobs(fixtures);
const secrets = composeEnvironment(tier);
/** How long the analytics event of one customer may take through Kafka and customer-analytics: the mesh end-to-end suite's bound. */
const EVENT_BOUND_MS = 30_000;
type Doc = { services: Record<string, Record<string, unknown>> };
const shippedDoc = (): Doc => parseComposeText(readFileSync(COMPOSE_FILE, 'utf8')) as Doc;

/** A deliberately broken copy of compose.yml, written beside the run's other files (relative mounts resolve to compose/). */
function writeVariant(name: string, doc: Doc | string): string {
  const dir = join(runDir(), 'deployment');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `compose.${name}.yml`);
  writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc, null, 2));
  return file;
}

afterAll(() => printSummary('deployment (compose)'));

describe('compose/compose.yml', () => {
  it('deploy.compose: compose.yml and the fixtures agree (services, images, commands, files, container ports, health checks, host ports)', () => {
    const differences = composeDifferences(readComposeFile(), fixtures, HOST_PORTS);
    const v = recordVerdict(agreementVerdict(differences), { differences, file: COMPOSE_FILE }, 'shipped', 'agreement');
    expect(v.status, v.measured).toBe('met');

    // Negative control: a compose file that drifted — a second copy of haproxy.cfg and PgBouncer gone.
    const doc = shippedDoc();
    doc.services.haproxy!.volumes = ['./haproxy/haproxy-copy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro'];
    delete doc.services.pgbouncer;
    const drift = composeDifferences(readComposeServices(doc, 'compose'), fixtures, HOST_PORTS);
    const control = recordVerdict(agreementVerdict(drift), { differences: drift }, 'drifted-compose', 'agreement');
    expect(control.status).toBe('not met');
    expect(control.measured).toContain('pgbouncer: started by the fixtures but missing from compose.yml');
    expect(control.measured).toContain('haproxy: compose.yml mounts compose/haproxy/haproxy-copy.cfg');

    // Negative control of the one-shot rule: topic-init given a health check and `restart: always` (it would run forever).
    const jobDoc = shippedDoc();
    jobDoc.services['topic-init']!.restart = 'always';
    jobDoc.services['topic-init']!.healthcheck = jobDoc.services['customer-analytics']!.healthcheck;
    const jobDrift = composeDifferences(readComposeServices(jobDoc, 'compose'), fixtures, HOST_PORTS);
    const jobControl = recordVerdict(agreementVerdict(jobDrift), { differences: jobDrift }, 'job-restarted-with-healthcheck', 'agreement');
    expect(jobControl.status).toBe('not met');
    expect(jobControl.measured).toContain('topic-init: a one-shot job has `restart: always`');
    expect(jobControl.measured).toContain('topic-init: a one-shot job (the fixtures run it to exit 0) has a health check');
  });

  // The first use may build Compose v2 (scripts/build-go-tool.sh, minutes cold): in its own hook, not in a test's timeout.
  beforeAll(() => composeTools(), 15 * 60_000);

  it('deploy.compose: every compose tool here accepts the file (`config`), and refuses a broken one', async () => {
    const tools = await composeTools();
    const check = async (file: string): Promise<ToolCheck[]> =>
      Promise.all(
        tools.map(async (tool) => {
          const run = await runCompose(tool, ['config', '-q'], { file, env: secrets, timeoutMs: 60_000 });
          return { tool: tool.argv.join(' '), version: tool.version, code: run.code, output: run.output };
        }),
      );
    const shipped = await check(COMPOSE_FILE);
    const v = recordVerdict(composeToolVerdict(shipped), { checks: shipped }, 'shipped', 'config');
    expect(v.status, v.measured).toBe('met');

    // Negative control: a condition compose does not know.
    const broken = readFileSync(COMPOSE_FILE, 'utf8').replace(
      'haproxy: { condition: service_healthy }',
      'haproxy: { condition: service_up }',
    );
    expect(broken).not.toBe(readFileSync(COMPOSE_FILE, 'utf8'));
    const rejected = await check(writeVariant('unknown-condition', broken));
    const control = recordVerdict(composeToolVerdict(rejected), { checks: rejected }, 'unknown-condition', 'config');
    expect(control.status).toBe('not met');
  });

  it('deploy.startup-order: every service has a health check and every dependency waits for service_healthy (a one-shot job: service_completed_successfully)', () => {
    const problems = startupOrderProblems(readComposeFile(), jobs);
    const v = recordVerdict(startupOrderVerdict(problems, 'static'), { problems }, 'shipped', 'static');
    expect(v.status, v.measured).toBe('met');

    // Negative controls: depends_on without `condition: service_healthy`; a service without a health check.
    const noCondition = shippedDoc();
    noCondition.services.pgbouncer!.depends_on = ['haproxy'];
    const p1 = startupOrderProblems(readComposeServices(noCondition, 'compose'), jobs);
    const c1 = recordVerdict(startupOrderVerdict(p1, 'static'), { problems: p1 }, 'depends-on-without-condition', 'static');
    expect(c1.status).toBe('not met');
    expect(c1.measured).toContain('pgbouncer: depends_on haproxy without a condition');

    const noHealth = shippedDoc();
    delete noHealth.services.haproxy!.healthcheck;
    const p2 = startupOrderProblems(readComposeServices(noHealth, 'compose'), jobs);
    const c2 = recordVerdict(startupOrderVerdict(p2, 'static'), { problems: p2 }, 'service-without-healthcheck', 'static');
    expect(c2.status).toBe('not met');
    expect(c2.measured).toContain('haproxy: no health check');

    // A dependant of the one-shot job waiting for it to be *healthy* (it never is: it exits).
    const jobHealthy = shippedDoc();
    jobHealthy.services['customer-analytics']!.depends_on = {
      ...(jobHealthy.services['customer-analytics']!.depends_on as Record<string, unknown>), // a copy: the processors share `*needs-kafka`
      'topic-init': { condition: 'service_healthy' },
    };
    const p3 = startupOrderProblems(readComposeServices(jobHealthy, 'compose'), jobs);
    const c3 = recordVerdict(startupOrderVerdict(p3, 'static'), { problems: p3 }, 'job-dependency-service-healthy', 'static');
    expect(c3.status).toBe('not met');
    expect(c3.measured).toContain(
      'customer-analytics: depends_on topic-init with condition service_healthy; topic-init is a one-shot job: use `condition: service_completed_successfully`',
    );
  });

  it('deploy.compose, deploy.startup-order: `up` from the file alone brings every service healthy (database + monitoring + streams + mesh), in dependency order, and usable end to end', async () => {
    const tool = await composeTool();
    const services = readComposeFile();
    const images = await harnessImageEnv(deployedUnits(fixtures).map((u) => u.deploy.component));
    const project = `bss-deploy-${process.pid}`;
    const env = { ...secrets, ...images, BSS_SUBNET: await freeSubnet() };
    progress(project, `${tool.argv.join(' ')} ${tool.version}: up of ${services.length} services (${[...jobs].join(', ')} one-shot)`);
    try {
      const up = await composeUp(tool, { project, services, env, jobs, timeoutMs: 360_000 });
      const usable: string[] = [];
      // The monitoring tier, through its published ports, while the database checks run.
      const monitoring = up.ok
        ? monitoringUsability({
            services: services.map((s) => s.name),
            prometheus: 'http://127.0.0.1:9090',
            alertmanager: 'http://127.0.0.1:9093',
            mailpit: 'http://127.0.0.1:8025',
            mailpitAuth: { username: MAILPIT_USER, password: tier.mailpitPassword },
            opsAuth: tier.opsWeb,
            webhook: 'http://127.0.0.1:8085',
            marker: project,
          })
        : undefined;
      if (up.ok) {
        // The owner creates the table on the primary, over the local socket (the superuser has no network
        // login); the application role writes through PgBouncer; the pg_monitor role reads replication.
        const monitorLogin = {
          host: '127.0.0.1',
          port: 5432,
          user: tier.monitor.username,
          password: tier.monitor.password,
          database: 'postgres',
        };
        const client = (port: number, database: string) => ({
          host: '127.0.0.1',
          port,
          user: tier.app.username,
          password: tier.app.password,
          database,
        });
        const marker = `deploy-${Date.now()}`;
        const created = await runCompose(
          tool,
          [
            'exec',
            '-T',
            'postgres-primary',
            'psql',
            '-XAtq',
            '-v',
            'ON_ERROR_STOP=1',
            '-U',
            'postgres',
            '-d',
            'bss',
            '-c',
            'CREATE TABLE IF NOT EXISTS deploy_check (marker text)',
          ],
          { project, env, timeoutMs: 30_000 },
        );
        if (created.code !== 0)
          usable.push(
            `creating the check table on the primary (psql over the local socket) failed: ${created.output.trim().slice(0, 300)}`,
          );
        await withClient(client(6432, 'bss_write'), async (c) => {
          await c.query('INSERT INTO deploy_check VALUES ($1)', [marker]);
          const role = await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
          if (role.rows[0]?.r !== false) usable.push('a write through PgBouncer (bss_write) reached a server in recovery');
        }).catch((e: unknown) => usable.push(`write through PgBouncer failed: ${(e as Error).message}`));
        const streaming = await withClient(monitorLogin, async (c) =>
          Number((await c.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_replication WHERE state = 'streaming'")).rows[0]?.n),
        ).catch(() => 0);
        if (streaming !== 2) usable.push(`${streaming} of 2 replicas streaming`);
        const read = await withClient(client(6432, 'bss'), async (c) => (await c.query('SELECT 1 AS one')).rows.length).catch(() => 0);
        if (read !== 1) usable.push('a read through PgBouncer (bss) failed');
      }
      // The mesh tier: a request through Envoy's proxy port reaches the backend.
      const mesh = up.ok
        ? await meshUsability({ proxy: 'http://127.0.0.1:15006', backend: 'http://127.0.0.1:8080', marker: project })
        : undefined;
      usable.push(...(mesh?.problems ?? []));
      // Negative control of that check, on the same deployment: the request sent to the backend directly,
      // bypassing Envoy, is answered and stored, and the check still says it did not go through Envoy.
      const notRouted = up.ok
        ? await meshUsability({ proxy: 'http://127.0.0.1:8080', backend: 'http://127.0.0.1:8080', marker: `${project}-bypass` })
        : undefined;
      // End to end: a customer through Envoy → backend → a PostgreSQL row (through PgBouncer) and an event on
      // bss.customer.events → customer-analytics → a customer.analytics CloudEvent on bss.analytics.events.
      const brokers = ['127.0.0.1:9092', '127.0.0.1:9095', '127.0.0.1:9094'];
      // The application's role reads the row (the superuser has no network login).
      const primary = {
        host: '127.0.0.1',
        port: 5432,
        user: tier.app.username,
        password: tier.app.password,
        database: 'bss',
      };
      const endToEnd = up.ok
        ? await endToEndUsability({
            proxy: 'http://127.0.0.1:15006',
            postgres: primary,
            brokers,
            marker: `${project}-e2e`,
            timeoutMs: EVENT_BOUND_MS,
          })
        : undefined;
      if (endToEnd)
        progress(
          project,
          `end to end: ${endToEnd.problems.length ? endToEnd.problems.join('; ') : `row + analytics event after ${endToEnd.analyticsMs} ms`}`,
        );
      usable.push(...(endToEnd?.problems ?? []));
      const seen = await monitoring;
      usable.push(...(seen?.problems ?? []));
      const v = recordVerdict(
        withMetrics(
          composeUpVerdict(up, usable),
          endToEnd?.analyticsMs === undefined
            ? []
            : [metric('customer-to-analytics-event', endToEnd.analyticsMs, 'ms', 'lower-is-better', [endToEnd.analyticsMs])],
        ),
        { tool, project, images, up, usable, monitoring: seen, mesh, meshNotRouted: notRouted, endToEnd },
        'shipped',
        'up',
      );
      // Negative control of the end-to-end check, on the same deployment: customer-analytics stopped, the
      // same check must find the row but no analytics event within the same bound.
      let processorStopped: Awaited<ReturnType<typeof endToEndUsability>> | undefined;
      if (up.ok) {
        await runCompose(tool, ['stop', '-t', '5', 'customer-analytics'], { project, env, timeoutMs: 60_000 });
        processorStopped = await endToEndUsability({
          proxy: 'http://127.0.0.1:15006',
          postgres: primary,
          brokers,
          marker: `${project}-e2e-stopped`,
          timeoutMs: EVENT_BOUND_MS,
        });
        progress(project, `control (customer-analytics stopped): ${processorStopped.problems.join('; ') || 'no problem found'}`);
      }
      const stoppedControl = recordVerdict(
        composeUpVerdict(up, processorStopped?.problems ?? ['not run: up failed']),
        { endToEnd: processorStopped },
        'customer-analytics-stopped',
        'up',
      );
      const order = observedOrderProblems(services, up.observed, jobs);
      const o = recordVerdict(startupOrderVerdict(order, 'observed', up.seconds), { observed: up.observed }, 'shipped', 'observed');
      expect(v.status, v.measured).toBe('met');
      expect(o.status, o.measured).toBe('met');
      expect(notRouted?.problems.join('; ')).toMatch(/x-envoy-upstream-service-time/);
      expect(stoppedControl.status).toBe('not met');
      expect(processorStopped?.rowFound).toBe(true);
      expect(stoppedControl.measured).toContain('no customer.analytics event for customer');
    } finally {
      await composeDown(tool, project, env);
    }
    expect(await projectContainers(project)).toEqual([]);

    // Negative control, for real: HAProxy waits only for its dependencies to *start*. The same
    // observation must show it starting before the replicas are healthy. Only the database
    // services come up (HAProxy and what it depends on): the control is about HAProxy's wait.
    const database = ['postgres-primary', 'postgres-replica-1', 'postgres-replica-2', 'haproxy'];
    const databaseServices = services.filter((s) => database.includes(s.name));
    const started = shippedDoc();
    started.services.haproxy!.depends_on = Object.fromEntries(
      ['postgres-primary', 'postgres-replica-1', 'postgres-replica-2'].map((d) => [d, { condition: 'service_started' }]),
    );
    const variantFile = writeVariant('service-started', started);
    const variantProject = `${project}-started`;
    try {
      const up = await composeUp(tool, { project: variantProject, services: databaseServices, env, file: variantFile, only: ['haproxy'] });
      const order = observedOrderProblems(databaseServices, up.observed);
      const control = recordVerdict(
        startupOrderVerdict(order, 'observed', up.seconds),
        { observed: up.observed },
        'service-started',
        'observed',
      );
      expect(control.status).toBe('not met');
      expect(control.measured).toMatch(/haproxy started [\d.]+ s before postgres-replica-\d was healthy/);
    } finally {
      await composeDown(tool, variantProject, env, variantFile);
    }
    expect(await projectContainers(variantProject)).toEqual([]);
  });
});
