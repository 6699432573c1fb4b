/**
 * Pure building blocks of the processing pipeline (no Kafka, unit-tested in pipeline.test.ts).
 *
 * `SerialBatcher`: callers hand in groups of items and wait for them; one flush runs at a time,
 * and every group that arrives while it runs goes into the next flush. This is how the
 * processors produce: one produce request in flight per process (so the idempotent producer's
 * sequence numbers can never be handed out to two requests for the same partition at once),
 * and the partitions' outputs share that request instead of queueing behind each other.
 *
 * `latestOffsets`: the commit positions to send for a set of acknowledged batches (per
 * topic-partition, the highest).
 */

export interface BatcherOptions<T> {
  /** Upper bound on the items of one flush (whole groups are kept together unless one group alone is larger). */
  readonly maxItems: number;
  /** Optional upper bound on the summed `sizeOf` of one flush's items (e.g. bytes under the broker's message.max.bytes). */
  readonly maxSize?: number;
  readonly sizeOf?: (item: T) => number;
}

interface Waiting<T> {
  readonly items: readonly T[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class SerialBatcher<T> {
  private readonly queue: Array<Waiting<T>> = [];
  private running = false;
  private idle: Array<() => void> = [];
  /** Flushes done so far and items per flush (for tests and /metrics). */
  readonly stats = { flushes: 0, items: 0, largest: 0 };

  private readonly flush: (items: T[]) => Promise<void>;
  private readonly options: BatcherOptions<T>;

  constructor(flush: (items: T[]) => Promise<void>, options: BatcherOptions<T>) {
    this.flush = flush;
    this.options = options;
    if (!(options.maxItems >= 1)) throw new Error(`maxItems must be at least 1, got ${options.maxItems}`);
  }

  /** Resolves once a flush holding these items resolved; rejects with that flush's error. */
  add(items: readonly T[]): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      void this.pump();
    });
  }

  /** Items waiting or being flushed. */
  get pending(): number {
    return this.queue.reduce((n, w) => n + w.items.length, 0);
  }

  /** Resolves when nothing is queued and no flush runs (whatever the flushes' outcome). */
  drained(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private take(): Array<Waiting<T>> {
    const size = this.options.sizeOf ?? (() => 0);
    const maxSize = this.options.maxSize ?? Number.POSITIVE_INFINITY;
    const taken: Array<Waiting<T>> = [];
    let count = 0;
    let bytes = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      const nextBytes = next.items.reduce((n, item) => n + size(item), 0);
      if (taken.length > 0 && (count + next.items.length > this.options.maxItems || bytes + nextBytes > maxSize)) break;
      taken.push(this.queue.shift()!);
      count += next.items.length;
      bytes += nextBytes;
    }
    return taken;
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const taken = this.take();
        const items = taken.flatMap((w) => w.items);
        try {
          // A group larger than the bounds on its own goes out in consecutive flushes, in order.
          for (const chunk of chunked(items, this.options)) await this.flush(chunk);
          this.stats.flushes++;
          this.stats.items += items.length;
          this.stats.largest = Math.max(this.stats.largest, items.length);
          for (const w of taken) w.resolve();
        } catch (error) {
          for (const w of taken) w.reject(error);
        }
      }
    } finally {
      this.running = false;
      const idle = this.idle;
      this.idle = [];
      for (const resolve of idle) resolve();
    }
  }
}

/** Splits items, in order, into runs within maxItems and maxSize (an item larger than maxSize goes alone). */
export function chunked<T>(items: readonly T[], options: BatcherOptions<T>): T[][] {
  const size = options.sizeOf ?? (() => 0);
  const maxSize = options.maxSize ?? Number.POSITIVE_INFINITY;
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const itemBytes = size(item);
    if (current.length > 0 && (current.length >= options.maxItems || bytes + itemBytes > maxSize)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += itemBytes;
  }
  if (current.length > 0) out.push(current);
  return out;
}

export interface OffsetPosition {
  readonly topic: string;
  readonly partition: number;
  /** The offset of the next record to read (last handled + 1), as a decimal string. */
  readonly offset: string;
}

/** Per topic-partition, the highest position (what one commit request should carry). */
export function latestOffsets(positions: readonly OffsetPosition[]): OffsetPosition[] {
  const latest = new Map<string, OffsetPosition>();
  for (const p of positions) {
    const key = `${p.topic}\u0000${p.partition}`;
    const seen = latest.get(key);
    if (!seen || BigInt(p.offset) > BigInt(seen.offset)) latest.set(key, p);
  }
  return [...latest.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}
