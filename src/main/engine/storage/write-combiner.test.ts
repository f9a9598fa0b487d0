import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WriteCombiner } from './write-combiner';

/** A combiner over 4-byte pieces that records each write as [first, count]. */
function combiner(opts: { targetBytes?: number; maxHeldBytes?: number; fail?: boolean } = {}) {
  const writes: [number, number][] = [];
  const c = new WriteCombiner({
    targetBytes: opts.targetBytes ?? 16,
    maxDelayMs: 15,
    maxHeldBytes: opts.maxHeldBytes ?? 1024,
    write: async (first, pieces) => {
      writes.push([first, pieces.length]);
      if (opts.fail) throw new Error('disk full');
    },
  });
  return { c, writes };
}

const piece = () => Buffer.alloc(4);

describe('WriteCombiner', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes neighbours as one run once they reach the target, in whatever order they came', async () => {
    const { c, writes } = combiner();
    const done = [2, 0, 3].map((i) => c.add(i, piece(), 0));
    expect(writes).toEqual([]);
    done.push(c.add(1, piece(), 0));
    expect(writes).toEqual([[0, 4]]);
    await Promise.all(done);
  });

  it('writes what waited too long for its neighbours, each run on its own', async () => {
    const { c, writes } = combiner();
    const done = [5, 6, 9].map((i) => c.add(i, piece(), 0));
    await vi.advanceTimersByTimeAsync(14);
    expect(writes).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(writes).toEqual([
      [5, 2],
      [9, 1],
    ]);
    await Promise.all(done);
  });

  it('joins only pieces with the same key (the same file)', async () => {
    const { c, writes } = combiner();
    const done = [c.add(0, piece(), 0), c.add(1, piece(), 0), c.add(2, piece(), 1)];
    done.push(c.add(3, piece(), 1));
    await c.flushAll();
    expect(writes).toEqual([
      [0, 2],
      [2, 2],
    ]);
    await Promise.all(done);
  });

  it('writes everything held once more than maxHeldBytes wait', async () => {
    const { c, writes } = combiner({ maxHeldBytes: 8 });
    const done = [0, 2].map((i) => c.add(i, piece(), 0));
    expect(writes).toEqual([]);
    done.push(c.add(4, piece(), 0));
    expect(writes).toEqual([
      [0, 1],
      [2, 1],
      [4, 1],
    ]);
    await Promise.all(done);
  });

  it('flushAll writes what is held and waits for writes already running', async () => {
    let finish!: () => void;
    const writes: number[] = [];
    const c = new WriteCombiner({
      targetBytes: 8,
      maxDelayMs: 15,
      maxHeldBytes: 1024,
      write: (first) => {
        writes.push(first);
        return first === 0 ? new Promise<void>((r) => (finish = r)) : Promise.resolve();
      },
    });
    const running = [c.add(0, piece(), 0), c.add(1, piece(), 0)]; // a run of 8 bytes: written
    const held = c.add(7, piece(), 0);
    let flushed = false;
    const flush = c.flushAll().then(() => (flushed = true));
    expect(writes).toEqual([0, 7]);
    await vi.advanceTimersByTimeAsync(0);
    expect(flushed).toBe(false); // piece 0's write is still running
    finish();
    await flush;
    await Promise.all([...running, held]);
  });

  it('a failed write rejects every piece of its run', async () => {
    const { c } = combiner({ fail: true });
    const results = [0, 1, 2, 3].map((i) =>
      c.add(i, piece(), 0).then(
        () => 'ok',
        (err: Error) => err.message,
      ),
    );
    expect(await Promise.all(results)).toEqual([
      'disk full',
      'disk full',
      'disk full',
      'disk full',
    ]);
  });
});
