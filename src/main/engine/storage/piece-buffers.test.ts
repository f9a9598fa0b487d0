import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DIRECT_IO_ALIGNMENT,
  PieceBufferPool,
  allocPieceBuffer,
  isDirectIoAligned,
} from './piece-buffers';

describe('allocPieceBuffer', () => {
  it('gives a buffer that owns all of its memory, known to be page-aligned', () => {
    const b = allocPieceBuffer(5000);
    expect(b.length).toBe(5000);
    expect(b.byteOffset).toBe(0);
    expect(b.buffer.byteLength).toBe(5000);
    expect(isDirectIoAligned(b)).toBe(true);
    expect(isDirectIoAligned(b.subarray(DIRECT_IO_ALIGNMENT))).toBe(true);
    expect(isDirectIoAligned(b.subarray(512))).toBe(false);
  });

  it('stays aligned after a round trip through a worker', async () => {
    const { port1, port2 } = new MessageChannel();
    const b = allocPieceBuffer(8192).fill(7);
    const back = new Promise<ArrayBuffer>((resolve) => {
      port2.onmessage = (e: MessageEvent<ArrayBuffer>) => resolve(e.data);
    });
    port1.postMessage(b.buffer, [b.buffer as ArrayBuffer]);
    const view = Buffer.from(await back);
    port1.close();
    port2.close();
    expect(view[8191]).toBe(7);
    expect(isDirectIoAligned(view)).toBe(true);
  });

  it('does not claim alignment for memory of unknown address', () => {
    expect(isDirectIoAligned(Buffer.allocUnsafeSlow(8192))).toBe(false);
    expect(isDirectIoAligned(Buffer.from(new SharedArrayBuffer(8192)))).toBe(false);
  });
});

describe('PieceBufferPool', () => {
  afterEach(() => vi.useRealTimers());

  it('hands back what it was given, by length, each buffer once, up to its size', () => {
    const pool = new PieceBufferPool(3 * 4096);
    const a = pool.take(4096);
    const b = pool.take(4096);
    expect(a).not.toBe(b);
    expect(isDirectIoAligned(a)).toBe(true);
    pool.give(a);
    pool.give(a); // twice: still handed out only once
    pool.give(b);
    expect(pool.bytesIdle).toBe(2 * 4096);
    expect(pool.take(8192)).not.toBe(a); // another length: a new buffer
    const again = [pool.take(4096), pool.take(4096)];
    expect(again).toContain(a);
    expect(again).toContain(b);
    expect(pool.take(4096)).not.toBe(a);
    // Full: the fourth 4 KiB buffer is not kept.
    for (const buffer of [a, b, allocPieceBuffer(4096), allocPieceBuffer(4096)]) pool.give(buffer);
    expect(pool.bytesIdle).toBe(3 * 4096);
  });

  it('keeps no buffer that shares its memory, nor a detached one', () => {
    const pool = new PieceBufferPool(1 << 20);
    const big = allocPieceBuffer(8192);
    pool.give(big.subarray(0, 4096));
    const detached = allocPieceBuffer(4096);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    pool.give(detached);
    expect(pool.bytesIdle).toBe(0);
  });

  it('lets its buffers go once no torrent has taken one for a minute', () => {
    vi.useFakeTimers();
    const pool = new PieceBufferPool(1 << 20);
    pool.give(pool.take(4096));
    vi.advanceTimersByTime(59_000);
    expect(pool.bytesIdle).toBe(4096);
    pool.give(pool.take(4096)); // taken again: the minute starts over
    vi.advanceTimersByTime(59_000);
    expect(pool.bytesIdle).toBe(4096);
    vi.advanceTimersByTime(2_000);
    expect(pool.bytesIdle).toBe(0);
  });
});
