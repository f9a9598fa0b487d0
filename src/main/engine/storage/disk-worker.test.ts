import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { hasBit } from '../picker/bitfield';
import { checkExistingPieces } from './check-existing';
import { DiskWorker, DiskWorkerStopped, diskThreadSource } from './disk-worker';
import { HashPool } from './hash-pool';
import { allocPieceBuffer } from './piece-buffers';
import type { StorageLayout } from './piece-layout';
import { StorageError } from './storage-error';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tessera-disk-worker-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha1 = (b: Uint8Array) => createHash('sha1').update(b).digest();

/** Two files of 6 and 10 bytes in 4-byte pieces: piece 1 spans both. */
function layout(name: string): StorageLayout {
  return {
    name,
    isMultiFile: true,
    pieceLength: 4,
    totalLength: 16,
    files: [
      { path: ['a.bin'], length: 6, offset: 0, padding: false },
      { path: ['sub', 'b.bin'], length: 10, offset: 6, padding: false },
    ],
  };
}

function newWorker(): DiskWorker {
  const disk = DiskWorker.create();
  if (!disk) throw new Error('the test runner must define the disk worker code (vitest.config.ts)');
  return disk;
}

describe('DiskWorker', () => {
  it('has its code under test, as in the build', () => {
    expect(diskThreadSource()).toContain('parentPort');
  });

  it('hashes and writes good pieces, returns every buffer, writes no bad one', async () => {
    const disk = newWorker();
    try {
      const content = randomBytes(16);
      const storage = await disk.openStorage(layout('t1'), dir);
      for (let i = 0; i < 4; i++) {
        const piece = allocPieceBuffer(4);
        content.copy(piece, 0, i * 4, i * 4 + 4);
        const result = await storage.verifyAndWrite(i, sha1(piece), piece);
        // Transferred away and back: the same bytes, in a buffer the caller can reuse.
        expect(piece.byteLength).toBe(0);
        expect(result.ok).toBe(true);
        expect(Buffer.compare(result.data, content.subarray(i * 4, i * 4 + 4))).toBe(0);
      }
      expect(Buffer.compare(await storage.read(1, 0, 4), content.subarray(4, 8))).toBe(0);
      await storage.flush();
      expect(await storage.fileStats()).toEqual([
        expect.objectContaining({ size: 6 }),
        expect.objectContaining({ size: 10 }),
      ]);
      const root = path.join(dir, 't1');
      expect(Buffer.compare(await readFile(path.join(root, 'a.bin')), content.subarray(0, 6))).toBe(
        0,
      );
      expect(
        Buffer.compare(await readFile(path.join(root, 'sub', 'b.bin')), content.subarray(6)),
      ).toBe(0);

      // A piece with the wrong bytes comes back unwritten.
      const other = await disk.openStorage(layout('t2'), dir);
      const bad = Buffer.from('xxxx');
      const result = await other.verifyAndWrite(0, sha1(Buffer.from('yyyy')), bad);
      expect(result).toEqual({ ok: false, data: Buffer.from('xxxx') });
      expect(await other.anyFileExists()).toBe(false);
      await other.close();

      await storage.remove();
      await expect(stat(root)).rejects.toThrow();
    } finally {
      await disk.destroy();
    }
  });

  it('writes every piece: neighbours joined into one write, a lone one after its wait', async () => {
    const disk = newWorker();
    try {
      const pieceLength = 64 * 1024;
      const pieceCount = 24;
      const content = randomBytes(pieceCount * pieceLength);
      const single: StorageLayout = {
        name: 'runs.bin',
        isMultiFile: false,
        pieceLength,
        totalLength: content.length,
        files: [{ path: ['runs.bin'], length: content.length, offset: 0, padding: false }],
      };
      const storage = await disk.openStorage(single, dir);
      // Runs of neighbours out of order, as from several peers, and a lone piece: its write
      // waits for neighbours that never come, and must still happen (or this never resolves).
      const order = [4, 5, 0, 6, 1, 7, 2, 3, 12, 13, 14, 8, 9, 15, 10, 11, 20];
      const results = await Promise.all(
        order.map((i) => {
          const piece = allocPieceBuffer(pieceLength);
          content.copy(piece, 0, i * pieceLength, (i + 1) * pieceLength);
          return storage.verifyAndWrite(i, sha1(piece), piece);
        }),
      );
      expect(results.every((r) => r.ok && r.data.length === pieceLength)).toBe(true);
      const lone = await storage.read(20, 0, pieceLength);
      expect(Buffer.compare(lone, content.subarray(20 * pieceLength, 21 * pieceLength))).toBe(0);
      await storage.flush();
      const file = await readFile(path.join(dir, 'runs.bin'));
      for (const i of order)
        expect(
          Buffer.compare(
            file.subarray(i * pieceLength, (i + 1) * pieceLength),
            content.subarray(i * pieceLength, (i + 1) * pieceLength),
          ),
        ).toBe(0);
      await storage.close();
    } finally {
      await disk.destroy();
    }
  });

  it('checks data already on disk where it is: good, damaged and missing pieces', async () => {
    const disk = newWorker();
    try {
      const content = randomBytes(16);
      const l = layout('t6');
      await mkdir(path.join(dir, 't6', 'sub'), { recursive: true });
      await writeFile(path.join(dir, 't6', 'a.bin'), content.subarray(0, 6));
      // b.bin holds only its first 6 of 10 bytes, the last of them damaged.
      const b = Buffer.from(content.subarray(6, 12));
      b[5]! ^= 0xff;
      await writeFile(path.join(dir, 't6', 'sub', 'b.bin'), b);
      const hashes = Buffer.concat(
        [0, 1, 2, 3].map((i) => sha1(content.subarray(i * 4, i * 4 + 4))),
      );
      const storage = await disk.openStorage(l, dir);
      expect(await storage.verifyExisting(0, 4, hashes.subarray(0, 20))).toBe(true);
      expect(await storage.verifyExisting(1, 4, hashes.subarray(20, 40))).toBe(true);
      // Bytes 8..12: the damaged byte is byte 11.
      expect(await storage.verifyExisting(2, 4, hashes.subarray(40, 60))).toBe(false);
      await expect(storage.verifyExisting(3, 4, hashes.subarray(60, 80))).rejects.toBeInstanceOf(
        StorageError,
      );
      // The engine's check goes through the same path and finds pieces 0 and 1: with hashing
      // workers that are gone, it could not work any other way.
      const noPool = new HashPool(1);
      await noPool.destroy();
      const have = await checkExistingPieces(storage, l, hashes, noPool);
      expect([0, 1, 2, 3].map((i) => hasBit(have, i))).toEqual([true, true, false, false]);
      await storage.close();
    } finally {
      await disk.destroy();
    }
  });

  it('sends disk problems back as StorageErrors with their errno', async () => {
    const disk = newWorker();
    try {
      // A file where the torrent needs a folder.
      await mkdir(path.join(dir, 't3'), { recursive: true });
      await writeFile(path.join(dir, 't3', 'sub'), 'in the way');
      const storage = await disk.openStorage(layout('t3'), dir);
      const piece = Buffer.from('abcd');
      const err = await storage.verifyAndWrite(2, sha1(piece), piece).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      // mkdir -p meets the file: EEXIST, said with the path.
      expect((err as StorageError).errno).toBe('EEXIST');
      expect((err as StorageError).message).toContain('sub');

      // a.bin was never written.
      const missing = await storage.read(0, 0, 4).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(StorageError);
      expect((missing as StorageError).errno).toBe('ENOENT');
      await storage.close();
    } finally {
      await disk.destroy();
    }
  });

  it('fails what was out when the thread dies, as a disk problem; then opens the files again in a new one', async () => {
    const disk = newWorker();
    try {
      const storage = await disk.openStorage(layout('t5'), dir);
      const first = Buffer.from('0123');
      await storage.verifyAndWrite(0, sha1(first), first);
      // Killed from outside, as a crash would, with a request on its way to it.
      const dying = (disk as unknown as { worker: Worker }).worker.terminate();
      const out = expect(storage.flush()).rejects.toThrow(/disk worker stopped unexpectedly/);
      await dying;
      await out;
      const opens = vi.spyOn(disk, 'request');
      const second = Buffer.from('4567');
      expect((await storage.verifyAndWrite(1, sha1(second), second)).ok).toBe(true);
      // The dead thread's writes were never synced: the new one syncs every file at its flush.
      expect(opens.mock.calls[0]![0]).toMatchObject({ op: 'open', unsyncedAtOpen: true });
      await storage.flush();
      expect(await readFile(path.join(dir, 't5', 'a.bin'))).toEqual(Buffer.from('012345'));
      await storage.close();
    } finally {
      await disk.destroy();
    }
  });

  it('posts the requests of one turn as one message, and answers each of them', async () => {
    const disk = newWorker();
    try {
      const content = randomBytes(16);
      const storage = await disk.openStorage(layout('t6'), dir);
      const worker = (disk as unknown as { worker: Worker }).worker;
      const posted = vi.spyOn(worker, 'postMessage');
      const pieces = [0, 1, 2, 3].map((i) => {
        const piece = allocPieceBuffer(4);
        content.copy(piece, 0, i * 4, i * 4 + 4);
        return piece;
      });
      const results = await Promise.all(
        pieces.map((piece, i) => storage.verifyAndWrite(i, sha1(piece), piece)),
      );
      expect(posted).toHaveBeenCalledTimes(1);
      expect(posted.mock.calls[0]![0]).toHaveLength(4);
      results.forEach((r, i) => {
        expect(r.ok).toBe(true);
        expect(r.data.equals(content.subarray(i * 4, i * 4 + 4))).toBe(true);
      });
      await storage.flush();
      expect(await readFile(path.join(dir, 't6', 'a.bin'))).toEqual(content.subarray(0, 6));
      expect(await readFile(path.join(dir, 't6', 'sub', 'b.bin'))).toEqual(content.subarray(6));
    } finally {
      await disk.destroy();
    }
  });

  it('sends nothing a thread that died in the same turn was asked: those requests fail', async () => {
    const disk = newWorker();
    try {
      const storage = await disk.openStorage(layout('t7'), dir);
      const worker = (disk as unknown as { worker: Worker }).worker;
      const posted = vi.spyOn(worker, 'postMessage');
      const piece = Buffer.from('0123');
      const writing = expect(storage.verifyAndWrite(0, sha1(piece), piece)).rejects.toThrow(
        /disk worker stopped unexpectedly/,
      );
      // The crash is noticed before the turn ends and the request would have gone out.
      worker.emit('exit', 1);
      await writing;
      await new Promise((resolve) => setImmediate(resolve));
      expect(posted).not.toHaveBeenCalled();
      await worker.terminate();
    } finally {
      await disk.destroy();
    }
  });

  it('fails requests still out, and later ones, once destroyed', async () => {
    const disk = newWorker();
    const storage = await disk.openStorage(layout('t4'), dir);
    const flushing = expect(storage.flush()).rejects.toBeInstanceOf(DiskWorkerStopped);
    await disk.destroy();
    await flushing;
    const piece = Buffer.from('abcd');
    await expect(storage.verifyAndWrite(0, sha1(piece), piece)).rejects.toBeInstanceOf(
      DiskWorkerStopped,
    );
  });
});
