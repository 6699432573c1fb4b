/**
 * The only module that knows the Kafka client library (kafkajs, as the design names it).
 * The processors see `StreamClient`: records in per partition batch, records out acknowledged
 * by all in-sync replicas, offsets committed explicitly. Replacing kafkajs means rewriting
 * this file only.
 */
import kafkajs from 'kafkajs';
import type { Consumer, Producer, Admin, logCreator, IHeaders } from 'kafkajs';
import { stopIdleRequestQueueTimers } from './kafkajs-idle.ts';
import { latestOffsets, type OffsetPosition, SerialBatcher } from './pipeline.ts';

// Before any connection: kafkajs's request queue would otherwise re-arm a 1 ms timer per broker connection for ever.
stopIdleRequestQueueTimers();

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
  /** Tells the group this member is alive (e.g. while a produce waits for a new leader). Never throws. */
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
  /** Diagnostics: one line per offset commit request (TRACE_BATCHES=1). */
  readonly trace?: boolean;
}

/** Records per produce request, and bytes: a partition's record batch stays under the broker's 1 MB message.max.bytes. */
const SEND_MAX_RECORDS = 2_000;
const SEND_MAX_BYTES = 768 * 1024;
const recordBytes = (r: OutRecord): number =>
  (r.key?.length ?? 0) +
  r.value.length +
  Object.entries(r.headers ?? {}).reduce((n, [k, v]) => n + k.length + v.length, 0) +
  // per-record overhead in a record batch (varints, attributes, timestamps)
  24;

export class StreamClient {
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly config: StreamClientConfig;
  private joined = false;
  private partitions: number[] = [];
  private crashed?: string;
  /** One produce request in flight at a time for the whole process; outputs arriving meanwhile share the next. */
  private readonly outbox: SerialBatcher<OutRecord>;
  /** One offset commit in flight at a time; positions arriving meanwhile are merged into the next. */
  private readonly commits: SerialBatcher<OffsetPosition>;
  private stopping = false;
  private handling = 0;
  /** Partition counts of the topics the processor writes (read at start-up; partitions are chosen here). */
  private readonly partitionCounts = new Map<string, number>();
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private inputTopic?: string;

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
    this.outbox = new SerialBatcher((records) => this.produce(records), {
      maxItems: SEND_MAX_RECORDS,
      maxSize: SEND_MAX_BYTES,
      sizeOf: recordBytes,
    });
    this.commits = new SerialBatcher(
      async (positions) => {
        const latest = latestOffsets(positions);
        await this.consumer.commitOffsets(latest);
        if (config.trace) config.log(`trace: committed ${latest.map((p) => `p${p.partition}@${p.offset}`).join(' ')}`);
      },
      { maxItems: 10_000 },
    );
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

  /** Reads how many partitions the output topics have (before connect(); the admin client closes then). */
  async loadPartitionCounts(topics: readonly string[]): Promise<void> {
    const { topics: metadata } = await this.admin.fetchTopicMetadata({ topics: [...topics] });
    for (const t of metadata) this.partitionCounts.set(t.name, t.partitions.length);
  }

  /** The partition a record goes to: kafkajs' DefaultPartitioner (Java's murmur2 on the key), so the same as any Java client. */
  private partitionOf(record: OutRecord): number {
    const count = this.partitionCounts.get(record.topic);
    if (!count) throw new Error(`no partition count for topic ${record.topic}: call loadPartitionCounts first`);
    const partitionMetadata = Array.from({ length: count }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [],
      isr: [],
    }));
    return this.partitioner({ topic: record.topic, partitionMetadata, message: { key: record.key, value: record.value } });
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
    this.inputTopic = topic;
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
        this.handling++;
        let handled: boolean;
        try {
          handled = await onBatch(
            { topic: batch.topic, partition: batch.partition, records, highWatermark: batch.highWatermark },
            { heartbeat: () => heartbeat().catch(() => undefined), isRunning, isStale },
          );
        } finally {
          this.handling--;
        }
        // Only a batch whose outputs were acknowledged and whose offset was committed may be skipped
        // on refetch; one abandoned because of a rebalance must be read again, or it would be lost.
        const last = records.at(-1);
        if (handled && last) resolveOffset(last.offset);
      },
    });
  }

  /**
   * Resolves once every in-sync replica has the records (acks = -1, idempotent producer). Calls
   * from all partitions share one produce request in flight at a time (see SerialBatcher).
   */
  send(records: readonly OutRecord[]): Promise<void> {
    return this.outbox.add(records);
  }

  /**
   * One `sendBatch` per output partition, all at once, and the flush ends only when every one has
   * settled. Why not one call for everything: kafkajs 2.2.4's sendBatch keeps each broker's answer
   * across its own retries and re-sends only to brokers without one, so when a partition's leader
   * moves (a broker killed) to a broker that already answered in the same call, that partition's
   * records are never sent again and the call still resolves: silent loss. A call for one
   * partition talks to one broker per attempt, so nothing can be masked. Waiting for all (not the
   * first failure) keeps at most one request per partition in flight, which the idempotent
   * producer's sequence numbers need.
   */
  private async produce(records: readonly OutRecord[]): Promise<void> {
    const byPartition = new Map<string, { topic: string; partition: number; records: OutRecord[] }>();
    for (const r of records) {
      const partition = this.partitionOf(r);
      const key = `${r.topic}\u0000${partition}`;
      const group = byPartition.get(key) ?? { topic: r.topic, partition, records: [] };
      group.records.push(r);
      byPartition.set(key, group);
    }
    const outcomes = await Promise.allSettled(
      [...byPartition.values()].map((g) =>
        this.producer.sendBatch({
          acks: -1,
          compression: CompressionTypes.None,
          topicMessages: [
            {
              topic: g.topic,
              messages: g.records.map((r) => ({
                key: r.key,
                value: r.value,
                partition: g.partition,
                ...(r.headers ? { headers: r.headers as IHeaders } : {}),
              })),
            },
          ],
        }),
      ),
    );
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * Commits `next` as the group's position on a partition (the offset of the next record to read).
   * Call it only once that partition's outputs up to `next` are acknowledged. Commits are pipelined:
   * the promise settles when the commit request carrying this position does; a failed commit only
   * means those records are read again (duplicates, never loss).
   */
  commit(topic: string, partition: number, next: string): Promise<void> {
    return this.commits.add([{ topic, partition, offset: next }]);
  }

  /**
   * Graceful stop: no new fetches, the batches in hand finish (their outputs acknowledged), their
   * positions are committed, then the member leaves the group at once (LeaveGroup), so the others
   * get the partitions without waiting for the session timeout. Bounded by `withinMs`.
   */
  async close(withinMs = 8_000): Promise<void> {
    this.stopping = true;
    const deadline = Date.now() + withinMs;
    if (this.inputTopic) {
      try {
        this.consumer.pause([{ topic: this.inputTopic }]);
      } catch {
        // not running yet: nothing to pause
      }
    }
    while (this.handling > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await Promise.race([this.commits.drained(), new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())))]);
    await this.consumer.disconnect().catch(() => undefined);
    await this.outbox.drained();
    await this.producer.disconnect().catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
  }

  /** True once close() began. */
  isStopping(): boolean {
    return this.stopping;
  }

  /** Produce requests and commit requests so far, and the largest of each (how much the pipeline batches). */
  pipelineStats(): { produceRequests: number; producedRecords: number; largestProduce: number; commitRequests: number } {
    return {
      produceRequests: this.outbox.stats.flushes,
      producedRecords: this.outbox.stats.items,
      largestProduce: this.outbox.stats.largest,
      commitRequests: this.commits.stats.flushes,
    };
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
