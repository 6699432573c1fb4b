/**
 * Every image starts and is the real program: it reports the expected version from inside
 * its running container and does one real thing (a query, a produce and consume, a scrape).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from '#fixtures/clients/kafkajs.js';
import pg from 'pg';
import { describe, expect } from 'vitest';
import { CATALOG, type Component } from '#fixtures/images/catalog.js';
import { resolveImage } from '#fixtures/images/forge.js';
import { expectedVersion, verifyImage, versionMatches } from '#fixtures/images/verify.js';
import { REPO_ROOT, runDir, writeRunFile } from '#fixtures/run/run-folder.js';
import { findSecrets, readSecretRegistry, secretsIn } from '#fixtures/run/secrets.js';
import type { SingleContainerService } from '#fixtures/services/container-service.js';
import type { StartedEnvoy } from '#fixtures/services/envoy.js';
import type { StartedNodeExporter, StartedPostgresExporter } from '#fixtures/services/exporters.js';
import type { StartedHaproxy } from '#fixtures/services/haproxy.js';
import type { StartedKafka } from '#fixtures/services/kafka.js';
import type { StartedPostgres } from '#fixtures/services/postgres.js';
import type { StartedPrometheus } from '#fixtures/services/prometheus.js';
import type { StartedAlertmanager } from '#fixtures/services/alertmanager.js';
import { runK6 } from '#fixtures/services/k6.js';
import { harnessLabels } from '#fixtures/topology/lifecycle.js';
import { inspectContainer } from '#fixtures/support/engine.js';
import { topologyTest } from '#fixtures/vitest/topology-test.js';
import { smokeServices } from './smoke-topology.js';

const test = topologyTest('smoke', smokeServices);
const versions: Record<string, string> = {};

async function versionFromContainer(service: SingleContainerService, component: Component): Promise<string> {
  const spec = CATALOG[component];
  const result = await service.container.exec([...spec.versionCommand]);
  const output = result.output.trim();
  versions[component] = output.split('\n').find((line) => spec.versionPattern.test(line)) ?? output;
  writeRunFile('smoke/versions.json', versions);
  expect(result.exitCode, output).toBe(0);
  // Exactly the version the catalog pins for the image set in use, not just the program's major line.
  const { set } = await resolveImage(component);
  expect(versionMatches(component, set, output), `${component} (${set}) must be ${expectedVersion(component, set)}: ${output}`).toBe(true);
  return output;
}

async function scrape(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return response.text();
}

describe('smoke: every image is the real program', () => {
  test('postgres answers a query with its own version', async ({ topology }) => {
    const postgres = topology.get<StartedPostgres>('postgres');
    await versionFromContainer(postgres, 'postgres');
    const client = new pg.Client({ connectionString: postgres.connectionUri() });
    await client.connect();
    try {
      const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
      const pinned = expectedVersion('postgres', (await resolveImage('postgres')).set);
      expect(rows[0]?.server_version.split(' ')[0]).toBe(pinned);
    } finally {
      await client.end();
    }
  });

  test('the postgres health check carries no password (negative control: the @testcontainers/postgresql default)', async ({ topology }) => {
    const postgres = topology.get<StartedPostgres>('postgres');
    const check = (await inspectContainer(postgres.container.getId())).Config.Healthcheck?.Test ?? [];
    const carries = (test: readonly string[]) => test.some((part) => part.includes(postgres.password));
    expect(check.join(' '), 'no health check set').toMatch(/pg_isready/);
    expect(carries(check)).toBe(false);
    // What the library would have set (its source: PGPASSWORD=<password> psql …): the same check sees it.
    expect(carries(['CMD-SHELL', `PGPASSWORD=${postgres.password} psql -q -U ${postgres.username} -c 'SELECT 1'`])).toBe(true);
  });

  test('haproxy proxies a PostgreSQL session', async ({ topology }) => {
    const haproxy = topology.get<StartedHaproxy>('haproxy');
    const postgres = topology.get<StartedPostgres>('postgres');
    await versionFromContainer(haproxy, 'haproxy');
    const { host, port } = haproxy.endpoint(5435);
    const client = new pg.Client({ host, port, user: postgres.username, password: postgres.password, database: postgres.database });
    await client.connect();
    try {
      const { rows } = await client.query<{ ok: number }>('SELECT 1 AS ok');
      expect(rows[0]?.ok).toBe(1);
    } finally {
      await client.end();
    }
  });

  test('envoy serves its admin API and proxies a request', async ({ topology }) => {
    const envoy = topology.get<StartedEnvoy>('envoy');
    await versionFromContainer(envoy, 'envoy');
    const info = JSON.parse((await envoy.admin('/server_info')).body) as { version: string; state: string };
    expect(info.state).toBe('LIVE');
    expect(info.version).toContain('/1.40.0/');
    expect(await (await fetch(envoy.proxyUrl('/anything'))).text()).toBe('smoke-ok');
  });

  test('a 1-broker Kafka cluster accepts a produce and a consume', async ({ topology }) => {
    const kafka = topology.get<StartedKafka>('kafka');
    const version = await kafka.tool('kafka.Kafka', ['--version']);
    versions.kafka = version.trim();
    expect(versionMatches('kafka', (await resolveImage('kafka')).set, version), version).toBe(true);

    const client = new Kafka({ clientId: 'smoke', brokers: kafka.bootstrapServers(), logLevel: logLevel.NOTHING });
    const topic = `smoke-${Date.now()}`;
    const admin = client.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();

    const producer = client.producer();
    await producer.connect();
    const payload = `hello-${Math.random()}`;
    await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: payload }] });
    await producer.disconnect();

    const consumer = client.consumer({ groupId: `${topic}-reader` });
    const received: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void received.push(message.value?.toString() ?? '') });
    try {
      await expect.poll(() => received, { timeout: 30_000, interval: 200 }).toContain(payload);
    } finally {
      await consumer.disconnect();
    }
  });

  test('prometheus scrapes itself and both exporters', async ({ topology }) => {
    const prometheus = topology.get<StartedPrometheus>('prometheus');
    await versionFromContainer(prometheus, 'prometheus');
    const promtool = await prometheus.container.exec(['promtool', '--version']);
    expect(promtool.output).toMatch(/promtool, version 2\.42\.0/);
    await expect
      .poll(
        async () => {
          const body = (await (await fetch(prometheus.url('/api/v1/targets'), { headers: prometheus.headers() })).json()) as {
            data: { activeTargets: Array<{ labels: { job: string }; health: string }> };
          };
          return body.data.activeTargets
            .filter((t) => t.health === 'up')
            .map((t) => t.labels.job)
            .sort();
        },
        { timeout: 30_000, interval: 500 },
      )
      .toEqual(['node-exporter', 'postgres-exporter', 'prometheus']);
  });

  test('node exporter serves host metrics', async ({ topology }) => {
    const exporter = topology.get<StartedNodeExporter>('node-exporter');
    await versionFromContainer(exporter, 'node-exporter');
    const metrics = await scrape(exporter.url('/metrics'));
    expect(metrics).toMatch(/^node_cpu_seconds_total\{/m);
    expect(metrics).toMatch(/^node_memory_MemAvailable_bytes /m);
  });

  test('postgres exporter reaches PostgreSQL', async ({ topology }) => {
    const exporter = topology.get<StartedPostgresExporter>('postgres-exporter');
    await versionFromContainer(exporter, 'postgres-exporter');
    const metrics = await scrape(exporter.url('/metrics'));
    expect(metrics).toMatch(/^pg_up 1$/m);
  });

  test('alertmanager answers API v2', async ({ topology }) => {
    const alertmanager = topology.get<StartedAlertmanager>('alertmanager');
    await versionFromContainer(alertmanager, 'alertmanager');
    const status = (await (await fetch(alertmanager.url('/api/v2/status'), { headers: alertmanager.headers() })).json()) as {
      versionInfo: { version: string };
    };
    expect(status.versionInfo.version).toBe('0.27.0');
  });

  test('k6 runs a script against the envoy proxy', async ({ topology }) => {
    const image = await resolveImage('k6');
    const check = await verifyImage('k6', image.ref);
    versions.k6 = check.versionLine;
    expect(check.real, check.versionLine).toBe(true);
    const script = readFileSync(join(REPO_ROOT, 'load', 'smoke.js'), 'utf8');
    const run = await runK6({
      network: topology.network,
      script,
      env: { TARGET: 'http://envoy:15006/', EXPECTED_BODY: 'smoke-ok' },
      labels: harnessLabels('smoke'),
    });
    writeRunFile('smoke/k6-summary.json', run.summary ?? run.output);
    expect(run.exitCode, run.output).toBe(0);
    const checks = (run.summary?.metrics as Record<string, { passes?: number; fails?: number }>)?.checks;
    expect(checks?.passes).toBe(40);
    expect(checks?.fails).toBe(0);
  });

  test('no generated secret appears in the run folder (junit.xml, vitest.json, measurements, evidence, logs)', async ({ topology }) => {
    // The topology generated its passwords; the registry holds their fingerprints, never the values.
    const postgres = topology.get<StartedPostgres>('postgres');
    const registry = readSecretRegistry(runDir());
    expect(registry.map((entry) => entry.label)).toContain('BSS_POSTGRES_PASSWORD');
    // The scan recognises this run's real secret where it does occur (so an empty result means something)...
    expect(secretsIn(`connecting to ${postgres.connectionUri()}`, registry)).toContain('BSS_POSTGRES_PASSWORD');
    // ...and finds it in no file this run wrote so far; the ClaimReporter repeats the scan over
    // junit.xml's and vitest.json's content at the end of the run.
    expect(findSecrets(runDir())).toEqual([]);
  });
});
