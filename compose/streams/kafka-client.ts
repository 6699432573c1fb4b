/**
 * The only module that knows the Kafka client library (kafkajs, as the design names it).
 * The processors see `StreamClient`: records in per partition batch, records out acknowledged
 * by all in-sync replicas, offsets committed explicitly. Replacing kafkajs means rewriting
 * this file only.
 */
import kafkajs from 'kafkajs';
import type { Consumer, Producer, Admin, logCreator, IHeaders } from 'kafkajs';

const { Kafka, logLevel, CompressionTypes, Partitioners } = kafkajs;

export interface InRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, string>;
  /** The record's timestamp (ms since the epoch, CreateTime as the producer set it). */
  readonly timestamp: number;
}

export interface OutRecord {
  readonly topic: string;
  readonly key: Buffer | string | null;
  readonly value: Buffer | string;
  readonly headers?: Record<string, string>;
}

export interface Batch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly InRecord[];
  /** The partition's end offset when the batch was fetched (for lag). */
  readonly highWatermark: string;
}

export interface BatchContext {
  heartbeat(): Promise<void>;
  isRunning(): boolean;
  /** False once the partition was revoked by a rebalance: stop working on it. */
  isStale(): boolean;
}

export interface StreamClientConfig {
  readonly clientId: string;
  readonly brokers: readonly string[];
  readonly groupId: string;
  /**
   * kafkajs defaults to 30 s, which is how long the group waits before giving a SIGKILLed
   * member's partitions to another: recovery after a crash cannot be faster. 6 s is the
   * broker's group.min.session.timeout.ms default, the lowest it accepts.
   */
  readonly sessionTimeoutMs: number;
  /** How often a member heartbeats, and so how soon it hears of a rebalance (≤ a third of the session). */
  readonly heartbeatIntervalMs: number;
  /** How long an idle fetch waits at the broker; bounds heartbeats and shutdown when no input arrives. */
  readonly maxWaitMs: number;
  /** One line per log entry, level WARN and above. */
  readonly log: (line: string) => void;
}

export class StreamClient {
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly config: StreamClientConfig;
  private joined = false;
  private partitions: number[] = [];
  private crashed?: string;

  constructor(config: StreamClientConfig) {
    this.config = config;
    const logger: logCreator =
      () =>
      ({ level, log }) => {
        if (level > logLevel.WARN) return;
        const { message, error } = log as { message: string; error?: string };
        config.log(`kafka ${level === logLevel.ERROR ? 'error' : 'warning'}: ${message}${error ? ` (${error})` : ''}`);
      };
    const kafka = new Kafka({
      clientId: config.clientId,
      brokers: [...config.brokers],
      logLevel: logLevel.WARN,
      logCreator: logger,
      connectionTimeout: 3_000,
      // Bounded: the processor's own connect loop prints one line per attempt and gives up.
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2_000 },
    });
    this.consumer = kafka.consumer({
      groupId: config.groupId,
      sessionTimeout: config.sessionTimeoutMs,
      heartbeatInterval: config.heartbeatIntervalMs,
      maxWaitTimeInMs: config.maxWaitMs,
      allowAutoTopicCreation: false,
      retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 2_000 },
    });
    // Java's murmur2 partitioner, so a key lands on the same partition number as with any Java client.
    // An idempotent producer retries until the record is in (kafkajs warns on any bound); the
    // consumer's position does not move meanwhile, so a long broker outage pauses processing.
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    // The start-up probe must not retry on its own: the processor's loop prints one line per attempt.
    this.admin = new Kafka({
      clientId: config.clientId,
      brokers: [...config.brokers],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 3_000,
      retry: { retries: 0 },
    }).admin();
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      this.joined = true;
      this.crashed = undefined;
      const assignment = (event.payload as { memberAssignment?: Record<string, number[]> }).memberAssignment ?? {};
      this.partitions = Object.values(assignment)
        .flat()
        .sort((a, b) => a - b);
      config.log(`joined group ${config.groupId}: partitions ${this.partitions.join(',') || 'none'}`);
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      // kafkajs restarts the consumer after a retriable crash (e.g. a coordinator still loading).
      const { error, restart } = event.payload as { error?: unknown; restart?: boolean };
      this.joined = false;
      if (!restart) this.crashed = String(error);
    });
    this.consumer.on(this.consumer.events.STOP, () => {
      this.joined = false;
    });
  }

  /** One attempt to reach the cluster; rejects with the client's reason. */
  async connectAdmin(): Promise<void> {
    await this.admin.connect();
  }

  async existingTopics(): Promise<Set<string>> {
    return new Set(await this.admin.listTopics());
  }

  async connect(): Promise<void> {
    await this.admin.disconnect();
    await Promise.all([this.producer.connect(), this.consumer.connect()]);
  }

  /** Member of the group with partitions (or waiting for some); false after a crash. */
  healthy(): boolean {
    return this.joined && !this.crashed;
  }

  /** Input partitions assigned at the last rebalance. */
  assignedPartitions(): readonly number[] {
    return this.partitions;
  }

  crashReason(): string | undefined {
    return this.crashed;
  }

  async run(topic: string, concurrency: number, onBatch: (batch: Batch, context: BatchContext) => Promise<boolean>): Promise<void> {
    await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: concurrency,
      eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
        const records = batch.messages.map<InRecord>((m) => ({
          topic: batch.topic,
          partition: batch.partition,
          offset: m.offset,
          key: m.key,
          value: m.value,
          headers: headersOf(m.headers),
          timestamp: Number(m.timestamp),
        }));
        const handled = await onBatch(
          { topic: batch.topic, partition: batch.partition, records, highWatermark: batch.highWatermark },
          { heartbeat, isRunning, isStale },
        );
        // Only a batch whose outputs were acknowledged and whose offset was committed may be skipped
        // on refetch; one abandoned because of a rebalance must be read again, or it would be lost.
        const last = records.at(-1);
        if (handled && last) resolveOffset(last.offset);
      },
    });
  }

  /** Sends and resolves once every in-sync replica has the records (acks = -1, idempotent producer). */
  async send(records: readonly OutRecord[]): Promise<void> {
    if (records.length === 0) return;
    const byTopic = new Map<string, OutRecord[]>();
    for (const r of records) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r]);
    await this.producer.sendBatch({
      acks: -1,
      compression: CompressionTypes.None,
      topicMessages: [...byTopic].map(([topic, rs]) => ({
        topic,
        messages: rs.map((r) => ({ key: r.key, value: r.value, ...(r.headers ? { headers: r.headers as IHeaders } : {}) })),
      })),
    });
  }

  /** Commits `next` as the group's position on a partition (the offset of the next record to read). */
  async commit(topic: string, partition: number, next: string): Promise<void> {
    await this.consumer.commitOffsets([{ topic, partition, offset: next }]);
  }

  /** Leaves the group at once (LeaveGroup), so the others get the partitions without waiting for the session timeout. */
  async close(): Promise<void> {
    await this.consumer.disconnect().catch(() => undefined);
    await this.producer.disconnect().catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
  }

  describe(): string {
    return `${this.config.brokers.join(',')} as group ${this.config.groupId}`;
  }
}

function headersOf(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) if (v !== undefined) out[k] = Array.isArray(v) ? String(v[0]) : String(v);
  return out;
}
