import { describe, expect, it } from 'vitest';
import { ReadAhead } from './read-ahead';

const KiB = 1024;

/** A torrent whose byte at offset o is o % 251, read through a counting fake disk. */
function setup(pieceLength: number, totalLength: number, maxBytes = 8 * 1024 * KiB) {
  const reads: [number, number, number][] = [];
  let failNext = false;
  const disk = async (index: number, begin: number, length: number) => {
    reads.push([index, begin, length]);
    if (failNext) {
      failNext = false;
      throw new Error('not on disk');
    }
    const start = index * pieceLength + begin;
    if (begin < 0 || begin + length > pieceLength || start + length > totalLength)
      throw new RangeError('out');
    return Uint8Array.from({ length }, (_, i) => (start + i) % 251);
  };
  const cache = new ReadAhead({ pieceLength, totalLength }, disk, 256 * KiB, maxBytes);
  return { cache, reads, failOnce: () => (failNext = true) };
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
    cache.clear();
    await cache.read(0, 0, 16 * KiB);
    expect(reads).toHaveLength(5);
  });
});
