/**
 * End to end through the mesh: a customer POSTed through the shipped Envoy reaches the backend,
 * which writes a row to one PostgreSQL and publishes a CloudEvent to a one-broker Kafka; the
 * harness reads both back. Negative control: the same Envoy configuration pointed at a backend
 * without database or Kafka (one change: the endpoint) — the checker must say not met.
 */
import { Kafka, logLevel } from '#fixtures/clients/kafkajs.js';
import pg from 'pg';
import { afterAll, describe, expect, vi } from 'vitest';
import * as envoyConfig from '#fixtures/services/envoy-variants.js';
import { endToEndVerdict, type EndToEndObservation } from '#fixtures/checks/mesh.js';
import { send } from '#fixtures/clients/http-probe.js';
import { printSummary, recordVerdict } from '#fixtures/report/measurements.js';
import { backendService } from '#fixtures/services/backend.js';
import { assertEnvoyConfigsValid, envoyService, type StartedEnvoy } from '#fixtures/services/envoy.js';
import { kafkaService, type StartedKafka } from '#fixtures/services/kafka.js';
import { APP_SCHEMA, postgresService, type StartedPostgres } from '#fixtures/services/postgres.js';
import type { Topology } from '#fixtures/topology/topology.js';
import { topologyTest } from '#fixtures/vitest/topology-test.js';
import { SHIPPED } from './mesh-topology.js';

const TOPIC = 'bss.customer.events';
const CONFIGS = {
  envoy: SHIPPED,
  'envoy-memory': envoyConfig.withBackendEndpoints(SHIPPED, [{ address: 'backend-memory', port: 8080 }]),
};
const test = topologyTest(
  'mesh-e2e',
  [
    // The tables come from the database's own init (as in compose.yml's primary): the backend issues no DDL.
    postgresService({ initFiles: [APP_SCHEMA] }),
    kafkaService({ brokers: 1 }),
    backendService({
      name: 'backend',
      dependsOn: ['postgres', 'kafka'],
      databaseUrl: (context) => context.dependency<StartedPostgres>('postgres').internalConnectionUri(),
      kafkaBrokers: (context) => [...context.dependency<StartedKafka>('kafka').internalBootstrapServers()],
    }),
    backendService({ name: 'backend-memory' }),
    envoyService({ name: 'envoy', config: CONFIGS.envoy, dependsOn: ['backend'] }),
    envoyService({ name: 'envoy-memory', config: CONFIGS['envoy-memory'], dependsOn: ['backend-memory'] }),
  ],
  { beforeStart: () => assertEnvoyConfigsValid(CONFIGS) },
);

afterAll(() => printSummary('mesh end to end'));

/** POST one customer through `envoyName`, then read the row and the event back (bounded waits). */
async function followOneCustomer(topology: Topology, envoyName: string): Promise<EndToEndObservation> {
  const e = topology.get<StartedEnvoy>(envoyName);
  const postgres = topology.get<StartedPostgres>('postgres');
  const kafka = topology.get<StartedKafka>('kafka');
  const sent = { name: `E2E ${envoyName}`, email: `e2e-${envoyName}-${Date.now()}@bss.example` };
  const intendedWall = Date.now();
  const op = await send(e.proxyUrl('/api/customers'), {
    method: 'POST',
    body: JSON.stringify(sent),
    headers: { 'content-type': 'application/json' },
    timeoutMs: 15_000,
  });
  const response = op.status === 201 ? (JSON.parse(op.body) as Record<string, unknown>) : undefined;

  const client = new pg.Client(postgres.clientConfig());
  await client.connect();
  let row: Record<string, unknown> | undefined;
  try {
    const exists = await client.query<{ t: string | null }>("SELECT to_regclass('public.customers') AS t");
    // By the run-unique e-mail, not the returned id (see EndToEndObservation.row).
    if (exists.rows[0]?.t)
      row = (await client.query('SELECT id, name, email FROM customers WHERE email = $1', [sent.email])).rows[0] as
        Record<string, unknown> | undefined;
  } finally {
    await client.end();
  }

  let event: Record<string, unknown> | undefined;
  let eventMs: number | undefined;
  let eventContentType: string | undefined;
  const consumer = new Kafka({ clientId: `e2e-${envoyName}`, brokers: kafka.bootstrapServers(), logLevel: logLevel.NOTHING }).consumer({
    groupId: `e2e-${envoyName}-${Date.now()}`,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const value = JSON.parse(message.value?.toString() ?? '{}') as Record<string, unknown>;
        if (response?.eventId !== undefined && value.id === response.eventId) {
          event = value;
          eventMs = Number(message.timestamp) - intendedWall;
          eventContentType = message.headers?.['content-type']?.toString();
        }
      },
    });
    // Bounded: an event that is not there within 30 s is judged missing by the checker (no id named: nothing to wait for).
    if (response?.eventId !== undefined)
      await vi.waitFor(() => expect(event).toBeDefined(), { timeout: 30_000, interval: 200 }).catch(() => undefined);
  } finally {
    await consumer.disconnect();
  }
  return { sent, status: op.status, response, row, event, eventContentType, topic: TOPIC, responseMs: op.latencyMs, eventMs };
}

describe('mesh tier: end to end', () => {
  test('mesh.routing: end to end — a customer POSTed through Envoy is a PostgreSQL row and a CloudEvent on bss.customer.events (negative control: backend without database and Kafka)', async ({
    topology,
  }) => {
    // The topic exists before the first event (the backend's producer does not create topics).
    const admin = new Kafka({
      clientId: 'e2e-admin',
      brokers: topology.get<StartedKafka>('kafka').bootstrapServers(),
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();

    const shippedObservation = await followOneCustomer(topology, 'envoy');
    const shipped = recordVerdict(endToEndVerdict(shippedObservation), shippedObservation, 'shipped', 'end-to-end');
    const brokenObservation = await followOneCustomer(topology, 'envoy-memory');
    const broken = recordVerdict(endToEndVerdict(brokenObservation), brokenObservation, 'backend-without-database-and-kafka', 'end-to-end');
    expect(shipped.status, `${shipped.measured} — ${shipped.reason ?? ''}`).toBe('met');
    expect(broken.status, broken.measured).toBe('not met');
  });
});
