import { describe, expect, it } from 'vitest';
import { chunked, latestOffsets, SerialBatcher } from './pipeline.ts';

/** A flush that records its calls and completes when the test says so. */
function gatedFlush<T>() {
  const calls: T[][] = [];
  const gates: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  let active = 0;
  let maxActive = 0;
  const flush = (items: T[]) =>
    new Promise<void>((resolve, reject) => {
      calls.push(items);
      active++;
      maxActive = Math.max(maxActive, active);
      gates.push({
        resolve: () => {
          active--;
          resolve();
        },
        reject: (e) => {
          active--;
          reject(e);
        },
      });
    });
  return { calls, gates, flush, maxActive: () => maxActive };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('SerialBatcher (one produce request in flight; later groups share the next one)', () => {
  it('runs one flush at a time and puts every group that arrived meanwhile into the next flush, in order', async () => {
    const f = gatedFlush<string>();
    const batcher = new SerialBatcher(f.flush, { maxItems: 100 });
    const done: string[] = [];
    const a = batcher.add(['a1', 'a2']).then(() => done.push('a'));
    await tick();
    const b = batcher.add(['b1']).then(() => done.push('b'));
    const c = batcher.add(['c1', 'c2']).then(() => done.push('c'));
    await tick();
    expect(f.calls).toEqual([['a1', 'a2']]);
    f.gates[0]!.resolve();
    await a;
    await tick();
    expect(f.calls).toEqual([
      ['a1', 'a2'],
      ['b1', 'c1', 'c2'],
    ]);
    expect(done).toEqual(['a']);
    f.gates[1]!.resolve();
    await Promise.all([b, c]);
    expect(done).toEqual(['a', 'b', 'c']);
    expect(f.maxActive()).toBe(1);
    expect(batcher.stats).toMatchObject({ flushes: 2, items: 5, largest: 3 });
  });

  it('rejects exactly the groups of a failed flush; later groups still go out', async () => {
    const f = gatedFlush<number>();
    const batcher = new SerialBatcher(f.flush, { maxItems: 10 });
    const first = batcher.add([1]);
    await tick();
    const second = batcher.add([2]);
    f.gates[0]!.reject(new Error('broker gone'));
    await expect(first).rejects.toThrow('broker gone');
    await tick();
    f.gates[1]!.resolve();
    await expect(second).resolves.toBeUndefined();
    expect(f.calls).toEqual([[1], [2]]);
  });

  it('keeps flushes within maxItems and maxSize, splitting a group that is larger on its own, in order', async () => {
    const f = gatedFlush<number>();
    const batcher = new SerialBatcher(f.flush, { maxItems: 3, maxSize: 10, sizeOf: (n) => n });
    const big = batcher.add([1, 2, 3, 4, 5]);
    await tick();
    expect(f.calls).toEqual([[1, 2, 3]]);
    f.gates[0]!.resolve();
    await tick();
    expect(f.calls.at(-1)).toEqual([4, 5]);
    f.gates[1]!.resolve();
    await big;
    // Groups are not merged past the bounds: 6 + 6 > 10.
    const x = batcher.add([6]);
    const y = batcher.add([6]);
    await tick();
    f.gates[2]!.resolve();
    await x;
    await tick();
    f.gates[3]!.resolve();
    await y;
    expect(f.calls.slice(2)).toEqual([[6], [6]]);
  });

  it('drained() waits for the queue and the running flush', async () => {
    const f = gatedFlush<number>();
    const batcher = new SerialBatcher(f.flush, { maxItems: 10 });
    await batcher.drained();
    void batcher.add([1]).catch(() => undefined);
    let drained = false;
    const waiting = batcher.drained().then(() => (drained = true));
    await tick();
    expect(drained).toBe(false);
    expect(batcher.pending).toBe(0);
    f.gates[0]!.reject(new Error('x'));
    await waiting;
    expect(drained).toBe(true);
  });

  it('an empty group resolves at once without a flush', async () => {
    const f = gatedFlush<number>();
    await new SerialBatcher(f.flush, { maxItems: 1 }).add([]);
    expect(f.calls).toEqual([]);
  });

  it('rejects a bound below one item', () => {
    expect(() => new SerialBatcher(async () => undefined, { maxItems: 0 })).toThrow(/maxItems/);
  });
});

describe('chunked', () => {
  it('an item larger than maxSize goes alone; order is kept', () => {
    expect(chunked([1, 20, 2, 3], { maxItems: 10, maxSize: 5, sizeOf: (n) => n })).toEqual([[1], [20], [2, 3]]);
    expect(chunked([], { maxItems: 2 })).toEqual([]);
  });
});

describe('latestOffsets (what one commit request carries)', () => {
  it('keeps the highest position per topic-partition, compared as integers', () => {
    expect(
      latestOffsets([
        { topic: 't', partition: 1, offset: '9' },
        { topic: 't', partition: 1, offset: '10' },
        { topic: 't', partition: 0, offset: '5' },
        { topic: 't', partition: 1, offset: '7' },
        { topic: 'u', partition: 0, offset: '12345678901234567890' },
        { topic: 'u', partition: 0, offset: '2' },
      ]),
    ).toEqual([
      { topic: 't', partition: 0, offset: '5' },
      { topic: 't', partition: 1, offset: '10' },
      { topic: 'u', partition: 0, offset: '12345678901234567890' },
    ]);
  });
});
