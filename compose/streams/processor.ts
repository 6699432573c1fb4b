/**
 * What both processors share: settings from the environment, the consume → transform →
 * produce → commit loop (at-least-once: a partition's offset is committed only after its
 * outputs are acknowledged by all in-sync replicas), the dead-letter topic, /metrics and
 * /health over HTTP, and a graceful stop on SIGTERM.
 */
import { createServer, type Server } from 'node:http';
import cloudevents from 'cloudevents';
import type { CloudEvent } from 'cloudevents';
import promClient from 'prom-client';
import { type Batch, type OutRecord, StreamClient } from './kafka-client.ts';
import { type Outcome, type OutputOverrides, parseCloudEvent } from './transform.ts';

const { Kafka: KafkaBinding } = cloudevents;

export interface ProcessorDefinition<D> {
  /** Program name, used in log lines and as the Kafka client id. */
  readonly name: string;
  readonly defaultGroup: string;
  readonly defaultInput: string;
  readonly defaultDeadLetter: string;
  readonly transform: (input: CloudEvent<Record<string, unknown>>, now: Date, overrides: OutputOverrides) => Outcome<CloudEvent<D>>;
  /** Called with the outputs once they are acknowledged (the order processor's aggregates). */
  readonly registerMetrics?: (registry: promClient.Registry) => (acknowledged: ReadonlyArray<CloudEvent<D>>) => void;
}

export interface Settings {
  readonly brokers: string[];
  readonly groupId: string;
  readonly inputTopic: string;
  readonly outputTopic: string;
  readonly deadLetterTopic: string;
  readonly httpPort: number;
  readonly maxEventBytes: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly fetchMaxWaitMs: number;
  readonly concurrency: number;
  readonly connectAttempts: number;
  readonly connectRetryMs: number;
  /** Diagnostics: one log line per handled batch and per commit request. */
  readonly trace: boolean;
}

/**
 * Ways to break a processor on purpose, for the harness's negative controls. The deployed entry
 * points (customer-analytics.ts, order-processor.ts) pass none and read no setting that could
 * turn one on: only the harness's own entry point (fixtures/services/faulty-processor.ts, copied
 * into its variant containers and never into what compose.yml runs) supplies them.
 */
export interface ProcessorFaults {
  readonly processingDelayMs: number;
  readonly commitBeforeProduce: boolean;
  readonly dropOneIn: number;
  readonly overrides: OutputOverrides;
}

export const NO_FAULTS: ProcessorFaults = { processingDelayMs: 0, commitBeforeProduce: false, dropOneIn: 0, overrides: {} };

export class SettingsError extends Error {}

/** Reads the environment; every problem is one line naming the variable and what it wants. */
export function settingsFrom(env: NodeJS.ProcessEnv, definition: ProcessorDefinition<unknown>): Settings {
  const text = (name: string, fallback?: string): string => {
    const value = env[name]?.trim() || fallback;
    if (!value) throw new SettingsError(`${name} is not set; set it, e.g. ${name}=kafka-1:9092,kafka-2:9092,kafka-3:9092`);
    return value;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max)
      throw new SettingsError(`${name}="${raw}" is not an integer in [${min}, ${max}]`);
    return value;
  };
  const brokers = text('KAFKA_BROKERS')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  const bad = brokers.find((b) => !/^[\w.-]+:\d+$/.test(b));
  if (bad) throw new SettingsError(`KAFKA_BROKERS entry "${bad}" is not host:port (e.g. kafka-1:9092)`);
  const sessionTimeoutMs = int('SESSION_TIMEOUT_MS', 6_000, 1_000, 300_000);
  const heartbeatIntervalMs = int('HEARTBEAT_INTERVAL_MS', 1_000, 100, 100_000);
  if (heartbeatIntervalMs * 3 > sessionTimeoutMs) {
    throw new SettingsError(
      `HEARTBEAT_INTERVAL_MS=${heartbeatIntervalMs} must be at most a third of SESSION_TIMEOUT_MS=${sessionTimeoutMs}`,
    );
  }
  return {
    brokers,
    groupId: text('GROUP_ID', definition.defaultGroup),
    inputTopic: text('INPUT_TOPIC', definition.defaultInput),
    outputTopic: text('OUTPUT_TOPIC', 'bss.analytics.events'),
    deadLetterTopic: text('DEAD_LETTER_TOPIC', definition.defaultDeadLetter),
    httpPort: int('HTTP_PORT', 9464, 1, 65_535),
    maxEventBytes: int('MAX_EVENT_BYTES', 65_536, 256, 900_000),
    sessionTimeoutMs,
    heartbeatIntervalMs,
    fetchMaxWaitMs: int('FETCH_MAX_WAIT_MS', 250, 10, 10_000),
    concurrency: int('PARTITIONS_CONCURRENTLY', 3, 1, 64),
    connectAttempts: int('CONNECT_ATTEMPTS', 10, 1, 1_000),
    connectRetryMs: int('CONNECT_RETRY_MS', 2_000, 100, 60_000),
    trace: env.TRACE_BATCHES === '1',
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function runProcessor<D>(
  definition: ProcessorDefinition<D>,
  env: NodeJS.ProcessEnv = process.env,
  faults: ProcessorFaults = NO_FAULTS,
): Promise<void> {
  const log = (line: string): void => {
    process.stdout.write(`${new Date().toISOString()} ${definition.name}: ${line}\n`);
  };
  let settings: Settings;
  try {
    settings = settingsFrom(env, definition as ProcessorDefinition<unknown>);
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    process.stderr.write(`${definition.name}: ${error.message}\n`);
    process.exit(2);
  }

  const registry = new promClient.Registry();
  promClient.collectDefaultMetrics({ register: registry });
  const labels = { processor: definition.name };
  registry.setDefaultLabels(labels);
  const eventsIn = new promClient.Counter({ name: 'bss_stream_events_in_total', help: 'Input records read', registers: [registry] });
  const eventsOut = new promClient.Counter({
    name: 'bss_stream_events_out_total',
    help: 'Analytics events acknowledged by all in-sync replicas',
    registers: [registry],
  });
  const deadLettered = new promClient.Counter({
    name: 'bss_stream_events_dead_lettered_total',
    help: 'Input records sent to the dead-letter topic, by reason',
    labelNames: ['reason'],
    registers: [registry],
  });
  const latency = new promClient.Histogram({
    name: 'bss_stream_processing_latency_seconds',
    help: 'Input record timestamp to output acknowledged',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const lag = new promClient.Gauge({
    name: 'bss_stream_consumer_lag',
    help: 'Records behind the end of the partition after the last batch',
    labelNames: ['partition'],
    registers: [registry],
  });
  const onAcknowledged = definition.registerMetrics?.(registry);

  const client = new StreamClient({
    clientId: `${definition.name}-${process.pid}`,
    brokers: settings.brokers,
    groupId: settings.groupId,
    sessionTimeoutMs: settings.sessionTimeoutMs,
    heartbeatIntervalMs: settings.heartbeatIntervalMs,
    maxWaitMs: settings.fetchMaxWaitMs,
    log,
    trace: settings.trace,
  });

  new promClient.Counter({
    name: 'bss_stream_produce_requests_total',
    help: 'Produce requests sent (all partitions share one request in flight; records per request = batching)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(client.pipelineStats().produceRequests);
    },
  });
  new promClient.Counter({
    name: 'bss_stream_offset_commits_total',
    help: 'Offset commit requests sent (pipelined, each after its outputs were acknowledged)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(client.pipelineStats().commitRequests);
    },
  });

  const server = await listen(settings.httpPort, async (path) => {
    if (path === '/metrics') return { status: 200, type: registry.contentType, body: await registry.metrics() };
    if (path === '/health') {
      const up = client.healthy();
      return {
        status: up ? 200 : 503,
        type: 'application/json',
        body: JSON.stringify({ status: up ? 'up' : 'down', partitions: client.assignedPartitions(), crash: client.crashReason() }),
      };
    }
    return { status: 404, type: 'text/plain', body: 'try /metrics or /health\n' };
  });

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: leaving the group, committing what was acknowledged`);
    const timer = setTimeout(() => {
      log('stop took longer than 10 s; exiting');
      process.exit(1);
    }, 10_000);
    await client.close();
    server.close();
    clearTimeout(timer);
    log('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  // Bounded start-up: one line per failed attempt, then give up with a line naming the setting.
  for (let attempt = 1; ; attempt++) {
    try {
      await client.connectAdmin();
      break;
    } catch (error) {
      const reason = (error as Error).message;
      if (attempt >= settings.connectAttempts) {
        log(
          `gave up: no Kafka broker answered at ${settings.brokers.join(',')} after ${attempt} attempts (${reason}); check KAFKA_BROKERS`,
        );
        process.exit(1);
      }
      log(
        `no Kafka broker answers at ${settings.brokers.join(',')} (attempt ${attempt}/${settings.connectAttempts}: ${reason}); retrying in ${settings.connectRetryMs / 1000} s`,
      );
      await sleep(settings.connectRetryMs);
    }
  }
  // Metadata right after a broker restart can fail (no leader during an election): each step
  // is retried, bounded, one line per failed attempt, and gives up with a line naming it.
  const withRetries = async <T>(what: string, step: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await step();
      } catch (error) {
        const reason = (error as Error).message;
        if (attempt >= settings.connectAttempts) {
          log(`gave up: cannot read ${what} after ${attempt} attempts (${reason})`);
          process.exit(1);
        }
        log(
          `cannot read ${what} (attempt ${attempt}/${settings.connectAttempts}: ${reason}); retrying in ${settings.connectRetryMs / 1000} s`,
        );
        await sleep(settings.connectRetryMs);
      }
    }
  };
  const topics = await withRetries('the topic list', () => client.existingTopics());
  for (const topic of [settings.inputTopic, settings.outputTopic, settings.deadLetterTopic]) {
    if (!topics.has(topic)) {
      log(
        `topic ${topic} does not exist on ${settings.brokers.join(',')} (auto-create is off); create it (3 partitions, replication factor 3, min.insync.replicas 2)`,
      );
      process.exit(2);
    }
  }
  // The partitions of the output topics (the processor picks each record's partition itself).
  await withRetries(`the partitions of ${settings.outputTopic}, ${settings.deadLetterTopic}`, () =>
    client.loadPartitionCounts([settings.outputTopic, settings.deadLetterTopic]),
  );
  await client.connect();

  let seen = 0;
  const handle = async (batch: Batch, context: { heartbeat(): Promise<void>; isStale(): boolean }): Promise<boolean> => {
    const outputs: OutRecord[] = [];
    const produced: Array<CloudEvent<D>> = [];
    const reasons: string[] = [];
    for (const record of batch.records) {
      if (faults.processingDelayMs > 0 && !faults.commitBeforeProduce) {
        await sleep(faults.processingDelayMs);
        await context.heartbeat();
      }
      seen++;
      if (faults.dropOneIn > 0 && seen % faults.dropOneIn === 0) continue;
      const parsed = parseCloudEvent(record.value, settings.maxEventBytes);
      const outcome = parsed.ok ? definition.transform(parsed.value, new Date(), faults.overrides) : parsed;
      if (outcome.ok) {
        const message = KafkaBinding.structured(outcome.value);
        outputs.push({
          topic: settings.outputTopic,
          key: record.key,
          value: String(message.value),
          headers: { 'content-type': String(message.headers['content-type']) },
        });
        produced.push(outcome.value);
      } else {
        reasons.push(outcome.reason);
        outputs.push({
          topic: settings.deadLetterTopic,
          key: record.key,
          value: record.value ?? Buffer.alloc(0),
          headers: {
            ...record.headers,
            'bss-dlq-reason': outcome.reason,
            'bss-dlq-detail': outcome.detail.slice(0, 500),
            'bss-dlq-topic': record.topic,
            'bss-dlq-partition': String(record.partition),
            'bss-dlq-offset': record.offset,
          },
        });
      }
    }
    const last = batch.records.at(-1);
    if (!last || context.isStale()) {
      if (settings.trace && last) log(`trace: p${batch.partition} [${batch.records[0]!.offset}..${last.offset}] abandoned (stale)`);
      return false;
    }
    const next = (BigInt(last.offset) + 1n).toString();
    if (faults.commitBeforeProduce) {
      // Deliberately wrong (negative control): the position moves before the outputs exist.
      await client.commit(batch.topic, batch.partition, next);
      // The harness kills the instance while this is the last line: the batch is committed, its outputs do not exist.
      if (settings.trace) log(`trace: p${batch.partition} committed @${next} before producing ${outputs.length} outputs`);
      if (faults.processingDelayMs > 0) await sleep(faults.processingDelayMs * batch.records.length);
    }
    // Keep the membership alive while the outputs wait for their acknowledgement (a broker
    // outage can hold a produce for tens of seconds; every partition's outputs share it).
    const beat = setInterval(() => void context.heartbeat(), Math.max(250, Math.floor(settings.heartbeatIntervalMs / 2)));
    try {
      await client.send(outputs);
    } catch (error) {
      log(
        `produce of ${batch.topic}[${batch.partition}] ${batch.records[0]!.offset}..${last.offset} failed (${(error as Error).message}); not committed, it will be read again`,
      );
      throw error;
    } finally {
      clearInterval(beat);
    }
    // At-least-once: the position moves only now that every output is acknowledged by all
    // in-sync replicas. The commit is pipelined (the next batch does not wait for it); when the
    // processor is stopping it is awaited, so a graceful stop commits what was acknowledged.
    if (!faults.commitBeforeProduce) {
      const committed = client.commit(batch.topic, batch.partition, next).catch((error: unknown) => {
        log(`commit of ${batch.topic}[${batch.partition}] @${next} failed (${(error as Error).message}); those records will be read again`);
      });
      if (client.isStopping()) await committed;
    }
    const ackedAt = Date.now();
    if (settings.trace)
      log(
        `trace: p${batch.partition} [${batch.records[0]!.offset}..${last.offset}] ${batch.records.length} in, ${outputs.length} out acked, commit @${next} queued`,
      );
    eventsIn.inc(batch.records.length);
    eventsOut.inc(produced.length);
    for (const reason of reasons) deadLettered.inc({ reason });
    for (const record of batch.records) latency.observe(Math.max(0, ackedAt - record.timestamp) / 1000);
    lag.set({ partition: String(batch.partition) }, Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(next))));
    onAcknowledged?.(produced);
    return true;
  };

  log(`consuming ${settings.inputTopic} → ${settings.outputTopic} (dead letters: ${settings.deadLetterTopic}) from ${client.describe()}`);
  await client.run(settings.inputTopic, settings.concurrency, handle);
}

interface HttpAnswer {
  readonly status: number;
  readonly type: string;
  readonly body: string;
}

function listen(port: number, answer: (path: string) => Promise<HttpAnswer>): Promise<Server> {
  const server = createServer((request, response) => {
    answer((request.url ?? '/').split('?')[0]!).then(
      (a) => response.writeHead(a.status, { 'content-type': a.type }).end(a.body),
      (error: unknown) => response.writeHead(500).end(String(error)),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
}
