import { describe, expect, it } from 'vitest';
import { ReadAhead } from './read-ahead';

const KiB = 1024;

/** A torrent whose byte at offset o is (o + salt) % 251, read through a counting fake disk. */
function source(pieceLength: number, totalLength: number, salt = 0) {
  const reads: [number, number, number][] = [];
  let failNext = false;
  return {
    reads,
    failOnce: () => (failNext = true),
    layout: { pieceLength, totalLength },
    async readRange(index: number, begin: number, length: number) {
      reads.push([index, begin, length]);
      if (failNext) {
        failNext = false;
        throw new Error('not on disk');
      }
      const start = index * pieceLength + begin;
      if (begin < 0 || begin + length > pieceLength || start + length > totalLength)
        throw new RangeError('out');
      return Uint8Array.from({ length }, (_, i) => (start + i + salt) % 251);
    },
  };
}

function setup(pieceLength: number, totalLength: number, maxBytes = 8 * 1024 * KiB) {
  const disk = source(pieceLength, totalLength);
  const ahead = new ReadAhead(256 * KiB, maxBytes);
  return {
    cache: { read: (i: number, b: number, l: number) => ahead.read(disk, i, b, l) },
    ahead,
    disk,
    reads: disk.reads,
    failOnce: disk.failOnce,
  };
}

const expected = (pieceLength: number, index: number, begin: number, length: number) =>
  Uint8Array.from({ length }, (_, i) => (index * pieceLength + begin + i) % 251);

describe('ReadAhead', () => {
  it('answers the 16 blocks of a 256 KiB chunk with one read, byte for byte', async () => {
    const { cache, reads } = setup(1024 * KiB, 4096 * KiB);
    for (let b = 0; b < 16; b++)
      expect(await cache.read(2, b * 16 * KiB, 16 * KiB)).toEqual(
        expected(1024 * KiB, 2, b * 16 * KiB, 16 * KiB),
      );
    expect(reads).toEqual([[2, 0, 256 * KiB]]);
    // The next chunk of the piece is a read of its own.
    await cache.read(2, 256 * KiB, 16 * KiB);
    expect(reads).toHaveLength(2);
  });

  it('reads only to the end of a short last piece', async () => {
    const { cache, reads } = setup(256 * KiB, 256 * KiB + 40 * KiB);
    expect(await cache.read(1, 32 * KiB, 8 * KiB)).toEqual(
      expected(256 * KiB, 1, 32 * KiB, 8 * KiB),
    );
    expect(reads).toEqual([[1, 0, 40 * KiB]]);
  });

  it('sends whole pieces, ranges across chunks and bad ranges straight to the disk', async () => {
    const { cache, reads } = setup(1024 * KiB, 4096 * KiB);
    await cache.read(0, 0, 1024 * KiB);
    await cache.read(0, 248 * KiB, 16 * KiB);
    await expect(cache.read(9, 0, 16 * KiB)).rejects.toThrow(RangeError);
    await expect(cache.read(0, -16, 16)).rejects.toThrow(RangeError);
    expect(reads).toEqual([
      [0, 0, 1024 * KiB],
      [0, 248 * KiB, 16 * KiB],
      [9, 0, 16 * KiB],
      [0, -16, 16],
    ]);
  });

  it('does not remember a failed read', async () => {
    const { cache, reads, failOnce } = setup(256 * KiB, 1024 * KiB);
    failOnce();
    await expect(cache.read(0, 0, 16 * KiB)).rejects.toThrow('not on disk');
    expect(await cache.read(0, 0, 16 * KiB)).toEqual(expected(256 * KiB, 0, 0, 16 * KiB));
    expect(reads).toHaveLength(2);
  });

  it('keeps at most its byte budget, dropping the least recently used chunk', async () => {
    const { cache, reads } = setup(256 * KiB, 4096 * KiB, 512 * KiB);
    await cache.read(0, 0, 16 * KiB);
    await cache.read(1, 0, 16 * KiB);
    await cache.read(0, 16 * KiB, 16 * KiB); // piece 0 used again: piece 1 is now the oldest
    await cache.read(2, 0, 16 * KiB); // over budget: piece 1 goes
    expect(reads).toHaveLength(3);
    await cache.read(0, 32 * KiB, 16 * KiB);
    expect(reads).toHaveLength(3);
    await cache.read(1, 16 * KiB, 16 * KiB);
    expect(reads).toHaveLength(4);
  });

  it('shares its budget between torrents, and forgets one torrent without the others', async () => {
    const ahead = new ReadAhead(256 * KiB, 512 * KiB);
    const a = source(256 * KiB, 1024 * KiB);
    const b = source(256 * KiB, 1024 * KiB, 7);
    // Same piece and offset in two torrents: two chunks, each with its own bytes.
    expect(await ahead.read(a, 0, 0, 4)).toEqual(Uint8Array.from([0, 1, 2, 3]));
    expect(await ahead.read(b, 0, 0, 4)).toEqual(Uint8Array.from([7, 8, 9, 10]));
    ahead.forget(a);
    await ahead.read(a, 0, 16, 4);
    await ahead.read(b, 0, 16, 4);
    expect([a.reads.length, b.reads.length]).toEqual([2, 1]);
    // A third chunk goes over the 512 KiB shared by both: the least recently used one goes,
    // a's piece 0 (b's was used after it), whichever torrent it belongs to.
    await ahead.read(a, 1, 0, 4);
    await ahead.read(b, 0, 32, 4);
    expect(b.reads).toHaveLength(1);
    await ahead.read(a, 0, 48, 4);
    expect(a.reads).toHaveLength(4);
  });
});
