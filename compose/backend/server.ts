/**
 * BSS backend stand-in: the HTTP surface Envoy fronts (customers, orders, /health, /metrics),
 * storing rows in PostgreSQL and publishing CloudEvents to Kafka when those are configured.
 * It has no control interface: the harness's fault controls (fail, reset, slow, refuse, health)
 * live in fixtures/services/backend-controls.ts, an entry point the harness copies beside this
 * file into its own containers and that compose/compose.yml never runs. They reach the API only
 * through `startBackend()`'s returned state, which nothing in this program changes.
 *
 * Runs with `node server.ts` (Node >= 22.18 strips the types: erasable syntax only).
 * Environment: PORT (8080), TLS_PORT + TLS_CERT + TLS_KEY (optional
 * HTTPS listener for upstream TLS), DATABASE_URL (optional; the password may come from PGPASSWORD
 * instead of the URL; the tables must exist: compose/postgres/schema.sql), KAFKA_BROKERS (optional,
 * comma-separated), INSTANCE (name reported in x-backend-instance).
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { fileURLToPath } from 'node:url';
import cloudevents from 'cloudevents';
import promClient from 'prom-client';

const { CloudEvent, Kafka: KafkaBinding } = cloudevents;

const PORT = Number(process.env.PORT ?? 8080);
const INSTANCE = process.env.INSTANCE ?? 'backend';
const SOURCE = `/bss/backend/${INSTANCE}`;

export type Fault =
  | { readonly kind: 'fail'; remaining: number; readonly status: number }
  | { readonly kind: 'reset'; remaining: number }
  | { readonly kind: 'slow'; remaining: number; readonly delayMs: number };

interface Store {
  insert(table: 'customers' | 'orders', data: Record<string, unknown>): Promise<Record<string, unknown>>;
  list(table: 'customers' | 'orders'): Promise<Record<string, unknown>[]>;
  readonly kind: string;
}

interface Publisher {
  publish(topic: string, key: string, event: InstanceType<typeof CloudEvent>): Promise<void>;
}

/** What the API answers by: healthy, and faults to apply to the next requests (none, unless a harness adds them). */
export const state = {
  healthy: true,
  faults: [] as Fault[],
  /** API requests seen, with the attempt number Envoy put on each (x-envoy-attempt-count). */
  seen: [] as Array<{ at: number; method: string; path: string; attempt: number | null; outcome: string }>,
};

/** Prometheus' `backend` job scrapes these on /metrics (prom-client, as the stream processors). */
const metrics = new promClient.Registry();
const requests = new promClient.Counter({
  name: 'bss_backend_requests_total',
  help: 'Requests answered, by path (API paths; "other" for the rest) and outcome',
  labelNames: ['path', 'outcome'] as const,
  registers: [metrics],
});
new promClient.Gauge({
  name: 'bss_backend_healthy',
  help: '1 while /health answers 200',
  registers: [metrics],
  collect() {
    this.set(state.healthy ? 1 : 0);
  },
});

export function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'x-backend-instance': INSTANCE, ...headers });
  res.end(text);
}

export async function readJson(req: IncomingMessage): Promise<{ ok: true; value: unknown } | { ok: false; reason: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 1_000_000) return { ok: false, reason: 'body larger than 1 MB' };
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return { ok: false, reason: 'empty body: send a JSON object' };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, reason: `malformed JSON: ${(error as Error).message}` };
  }
}

// ---------- storage and events ----------

function memoryStore(): Store {
  const tables = { customers: [] as Record<string, unknown>[], orders: [] as Record<string, unknown>[] };
  return {
    kind: 'memory',
    async insert(table, data) {
      const row = { id: tables[table].length + 1, ...data, created_at: new Date().toISOString() };
      tables[table].push(row);
      return row;
    },
    async list(table) {
      return tables[table].slice(-100);
    },
  };
}

async function postgresStore(url: string): Promise<Store> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: url, max: 5 });
  // The tables are the database's (compose/postgres/schema.sql, created by its init as the owner):
  // the backend's role has no DDL rights and issues none. It only checks they exist, and stops
  // with one clear line when they do not. Connection failures are retried (bounded: 30 × 1 s).
  for (let attempt = 1; ; attempt += 1) {
    let missing: string[];
    try {
      const found = await pool.query<{ customers: string | null; orders: string | null }>(
        "SELECT to_regclass('public.customers') AS customers, to_regclass('public.orders') AS orders",
      );
      missing = ['customers', 'orders'].filter((t) => !found.rows[0]?.[t as 'customers' | 'orders']);
    } catch (error) {
      if (attempt >= 30) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
      continue;
    }
    if (missing.length > 0) {
      throw new Error(
        `table(s) ${missing.join(', ')} do not exist in the database of DATABASE_URL; the backend creates no tables — ` +
          'create them as the database owner with compose/postgres/schema.sql (the primary runs it at init)',
      );
    }
    break;
  }
  return {
    kind: 'postgresql',
    async insert(table, data) {
      const result =
        table === 'customers'
          ? await pool.query('INSERT INTO customers (name, email) VALUES ($1, $2) RETURNING *', [data.name, data.email])
          : await pool.query('INSERT INTO orders (customer_id, amount) VALUES ($1, $2) RETURNING *', [data.customerId, data.amount]);
      return result.rows[0] as Record<string, unknown>;
    },
    async list(table) {
      return (await pool.query(`SELECT * FROM ${table === 'customers' ? 'customers' : 'orders'} ORDER BY id DESC LIMIT 100`))
        .rows as Record<string, unknown>[];
    },
  };
}

async function kafkaPublisher(brokers: string[]): Promise<Publisher> {
  const { Kafka, logLevel } = await import('kafkajs');
  // kafkajs re-arms a 1 ms timer per broker connection while idle (0.045 cores measured): stopped here.
  (await import('../streams/kafkajs-idle.ts')).stopIdleRequestQueueTimers();
  const producer = new Kafka({ clientId: `bss-${INSTANCE}`, brokers, logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  return {
    async publish(topic, key, event) {
      // The Kafka protocol binding's structured mode: the event as JSON in the value, and
      // content-type: application/cloudevents+json in the headers (what the processors read).
      const message = KafkaBinding.structured(event);
      await producer.send({
        topic,
        acks: -1,
        messages: [{ key, value: String(message.value), headers: { 'content-type': String(message.headers['content-type']) } }],
      });
    },
  };
}

/** A CloudEvents 1.0 event, built and validated by the SDK (id and time are its own). */
function cloudEvent(type: string, subject: string, data: Record<string, unknown>): InstanceType<typeof CloudEvent> {
  return new CloudEvent({ source: SOURCE, type, subject, datacontenttype: 'application/json', data });
}

// ---------- validation ----------

function validCustomer(body: unknown): string | Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'expected a JSON object {"name", "email"}';
  const { name, email } = body as Record<string, unknown>;
  if (typeof name !== 'string' || name.trim() === '') return 'field "name" must be a non-empty string';
  if (typeof email !== 'string' || !email.includes('@')) return 'field "email" must be an e-mail address';
  return { name, email };
}

function validOrder(body: unknown): string | Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'expected a JSON object {"customerId", "amount"}';
  const { customerId, amount } = body as Record<string, unknown>;
  if (!Number.isInteger(customerId) || (customerId as number) <= 0) return 'field "customerId" must be a positive integer';
  if (typeof amount !== 'number' || !(amount >= 0)) return 'field "amount" must be a non-negative number';
  return { customerId, amount };
}

// ---------- the API server ----------

function apiHandler(store: Store, publisher: Publisher | undefined) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://backend');
    const path = url.pathname;
    if (path === '/health') {
      requests.inc({ path: '/health', outcome: state.healthy ? 'up' : 'down' });
      return send(res, state.healthy ? 200 : 503, { status: state.healthy ? 'UP' : 'DOWN', instance: INSTANCE });
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': metrics.contentType });
      return void res.end(await metrics.metrics());
    }
    const attemptHeader = req.headers['x-envoy-attempt-count'];
    const record = (outcome: string): void => {
      state.seen.push({ at: Date.now(), method: req.method ?? '', path, attempt: attemptHeader ? Number(attemptHeader) : null, outcome });
      if (state.seen.length > 10_000) state.seen.splice(0, state.seen.length - 10_000);
      requests.inc({ path: path === '/api/customers' || path === '/api/orders' ? path : 'other', outcome });
    };

    if (path.startsWith('/api/')) {
      const fault = state.faults[0];
      if (fault) {
        fault.remaining -= 1;
        if (fault.remaining <= 0) state.faults.shift();
        if (fault.kind === 'fail') {
          record(`fail-${fault.status}`);
          return send(res, fault.status, { error: `injected failure ${fault.status}` });
        }
        if (fault.kind === 'reset') {
          record('reset');
          return void req.socket.destroy();
        }
        await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      }
    }

    const table = path === '/api/customers' ? 'customers' : path === '/api/orders' ? 'orders' : undefined;
    if (!table) {
      record('not-found');
      return send(res, 404, { error: `no route ${req.method} ${path}` });
    }
    if (req.method === 'GET') {
      record('ok');
      return send(res, 200, { items: await store.list(table), store: store.kind });
    }
    if (req.method !== 'POST') {
      record('method-not-allowed');
      return send(res, 405, { error: `${req.method} not allowed on ${path}: use GET or POST` }, { allow: 'GET, POST' });
    }
    const body = await readJson(req);
    if (!body.ok) {
      record('bad-request');
      return send(res, 400, { error: body.reason });
    }
    const valid = table === 'customers' ? validCustomer(body.value) : validOrder(body.value);
    if (typeof valid === 'string') {
      record('bad-request');
      return send(res, 400, { error: valid });
    }
    const row = await store.insert(table, valid);
    let eventId: string | undefined;
    if (publisher) {
      const event =
        table === 'customers'
          ? // Ids travel as strings (the processors' contract), whatever type the store gives (pg: bigint as text; memory: number).
            cloudEvent('com.droid.bss.customer.created', `customer/${String(row.id)}`, { ...row, customerId: String(row.id) })
          : cloudEvent('com.droid.bss.order.created', `order/${String(row.id)}`, { ...row, orderId: String(row.id) });
      await publisher.publish(table === 'customers' ? 'bss.customer.events' : 'bss.order.events', String(row.id), event);
      eventId = event.id;
    }
    record('ok');
    return send(res, 201, { ...row, ...(eventId ? { eventId } : {}) });
  };
}

export function guarded(handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    handler(req, res).catch((error: unknown) => {
      console.error(`${req.method} ${req.url}: ${(error as Error).stack ?? String(error)}`);
      if (!res.headersSent) send(res, 500, { error: (error as Error).message });
      else res.destroy();
    });
  };
}

export function listen(server: Server, port: number, what: string): Promise<void> {
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve) => server.listen(port, '0.0.0.0', () => (console.log(`${INSTANCE}: ${what} on :${port}`), resolve())));
}

export interface RunningBackend {
  readonly servers: Server[];
  /** Closes the API listener and its open connections for `ms`, so connects are refused. */
  refuseFor(ms: number): void;
}

export async function startBackend(): Promise<RunningBackend> {
  const store = process.env.DATABASE_URL ? await postgresStore(process.env.DATABASE_URL) : memoryStore();
  const publisher = process.env.KAFKA_BROKERS ? await kafkaPublisher(process.env.KAFKA_BROKERS.split(',')) : undefined;
  const api = guarded(apiHandler(store, publisher));
  const servers = [createHttpServer(api)];
  await listen(servers[0]!, PORT, `API (store ${store.kind}, events ${publisher ? 'kafka' : 'off'})`);
  if (process.env.TLS_PORT && process.env.TLS_CERT && process.env.TLS_KEY) {
    const tls = createHttpsServer({ cert: readFileSync(process.env.TLS_CERT), key: readFileSync(process.env.TLS_KEY) }, api);
    servers.push(tls);
    await listen(tls, Number(process.env.TLS_PORT), 'API over TLS');
  }
  const shutdown = (): void => {
    for (const server of servers) server.close();
    setTimeout(() => process.exit(0), 2_000).unref();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  return {
    servers,
    refuseFor(ms) {
      const [plain] = servers;
      plain!.close();
      plain!.closeAllConnections();
      setTimeout(() => void listen(plain!, PORT, 'API (accepting again)'), ms).unref();
    },
  };
}

// Run as a program (node /app/server.ts); imported by the harness's control layer, it only exports.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  startBackend().catch((error: unknown) => {
    console.error(`${INSTANCE}: cannot start: ${(error as Error).message}`);
    process.exit(1);
  });
}
