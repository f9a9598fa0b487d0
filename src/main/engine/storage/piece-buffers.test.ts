import { describe, expect, it } from 'vitest';
import { DIRECT_IO_ALIGNMENT, allocPieceBuffer, isDirectIoAligned } from './piece-buffers';

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
