import { describe, expect, it } from 'vitest';
import { DIRECT_IO_ALIGNMENT, PieceBufferArena, isDirectIoAligned } from './piece-buffers';

describe('PieceBufferArena', () => {
  it('hands out distinct, aligned slots of shared memory and reuses given-back ones', () => {
    const arena = new PieceBufferArena(5000, 3);
    expect(arena.slotBytes).toBe(2 * DIRECT_IO_ALIGNMENT);
    const a = arena.take(5000)!;
    const b = arena.take(5000)!;
    expect(a.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(a.length).toBe(5000);
    expect(b.byteOffset - a.byteOffset).toBe(arena.slotBytes);
    expect(isDirectIoAligned(a) && isDirectIoAligned(b)).toBe(true);
    a.fill(1);
    b.fill(2);
    expect(a.every((x) => x === 1)).toBe(true);
    expect(arena.give(a)).toBe(true);
    expect(arena.give(a)).toBe(false); // already back
    const c = arena.take(100)!;
    expect(c.byteOffset).toBe(a.byteOffset);
    expect(c.length).toBe(100);
    expect(arena.slotCount).toBe(2);
  });

  it('returns null when full or asked for more than a slot', () => {
    const arena = new PieceBufferArena(4096, 2);
    expect(arena.take(4097)).toBeNull();
    expect(arena.take(4096)).not.toBeNull();
    const second = arena.take(4096)!;
    expect(arena.take(4096)).toBeNull();
    arena.give(second);
    expect(arena.take(4096)).not.toBeNull();
  });

  it('keeps earlier views valid while growing', () => {
    const arena = new PieceBufferArena(64 * 1024, 8);
    const views = Array.from({ length: 8 }, (_, i) => arena.take(64 * 1024)!.fill(i));
    views.forEach((v, i) => expect(v[v.length - 1]).toBe(i));
  });

  it('knows only its own memory to be aligned', () => {
    expect(isDirectIoAligned(Buffer.allocUnsafeSlow(8192))).toBe(false);
    const arena = new PieceBufferArena(8192, 1);
    const slot = arena.take(8192)!;
    expect(isDirectIoAligned(slot.subarray(4096))).toBe(true);
    expect(isDirectIoAligned(slot.subarray(512))).toBe(false);
  });
});
