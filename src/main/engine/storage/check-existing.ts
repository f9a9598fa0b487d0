import { setBit } from '../picker/bitfield';
import type { PieceStorage } from './file-storage';
import { verifyPiece, type HashPool } from './hash-pool';
import type { StorageLayout } from './piece-layout';
import { StorageError } from './storage-error';

/** Pieces read and hashed at once: enough to keep the disk and the hashing workers busy. */
const CONCURRENCY = 4;

/**
 * Which pieces are already on disk and correct: reads and verifies every piece (a missing or
 * short file means those pieces are missing). Nothing on disk at all is answered at once.
 */
export async function checkExistingPieces(
  storage: PieceStorage,
  layout: StorageLayout,
  pieceHashes: Uint8Array,
  pool: HashPool,
  onProgress?: (checked: number, total: number) => void,
  isCancelled: () => boolean = () => false,
  /** Check only these pieces (e.g. those of files changed since the resume data was saved). */
  only?: readonly number[],
): Promise<Uint8Array> {
  const pieceCount = pieceHashes.length / 20;
  const have = new Uint8Array(Math.ceil(pieceCount / 8));
  if (!(await storage.anyFileExists())) return have;
  const indexes = only ?? Array.from({ length: pieceCount }, (_, i) => i);
  let next = 0;
  let checked = 0;
  const worker = async () => {
    while (next < indexes.length && !isCancelled()) {
      const index = indexes[next++]!;
      const length = Math.min(layout.pieceLength, layout.totalLength - index * layout.pieceLength);
      const expected = pieceHashes.subarray(index * 20, index * 20 + 20);
      let ok: boolean;
      try {
        if (storage.verifyExisting) {
          // Read and hashed where the files are (the disk worker): no bytes cross threads.
          ok = await storage.verifyExisting(index, length, expected);
        } else {
          const data = await storage.read(index, 0, length);
          const own = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
          ok = (await verifyPiece(pool, expected, own)).ok;
        }
      } catch (err) {
        // Missing or short files: those pieces are simply not there.
        if (err instanceof StorageError) {
          onProgress?.(++checked, indexes.length);
          continue;
        }
        throw err;
      }
      if (ok) setBit(have, index);
      onProgress?.(++checked, indexes.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, indexes.length) }, worker));
  return have;
}
