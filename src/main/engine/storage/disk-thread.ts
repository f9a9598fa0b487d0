// The disk worker's own code: it runs in a worker thread (never import it from the engine; it
// is bundled on its own, see scripts/disk-thread-source.mjs). Every torrent's FileStorage
// lives here, so that opening, writing, syncing and closing files — about 40 % of the main
// thread's time with 2,000 small files, most of it in promise bookkeeping — and hashing run
// beside the event loop that moves the peers' bytes, not on it.
import { createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import type { DiskFailure, DiskReply, DiskRequest } from './disk-protocol';
import { FileStorage } from './file-storage';
import { ownedBytes } from './piece-buffers';
import { StorageError } from './storage-error';
import { TurnOutbox } from './turn-outbox';
import { WriteCombiner } from './write-combiner';

const port = parentPort;
if (!port) throw new Error('disk-thread runs only as a worker thread');

const storages = new Map<number, FileStorage>();
/** Per storage: verified pieces held briefly to be written with their neighbours. */
const combiners = new Map<number, WriteCombiner>();

/**
 * Runs of 1 MiB: of the O_DIRECT cost per 256 MiB measured in write-combiner.ts (175 CPU-ms
 * in 256 KiB writes, 50 in 4 MiB ones), 1 MiB writes already save most (70). A piece waits
 * at most 15 ms for its neighbours (on the loopback benchmark the next one came within 4 ms)
 * and at most 8 MiB of the engine's piece memory is held.
 */
const COMBINE = { targetBytes: 1024 * 1024, maxDelayMs: 15, maxHeldBytes: 8 * 1024 * 1024 };

function combinerOf(id: number, storage: FileStorage): WriteCombiner {
  let combiner = combiners.get(id);
  if (!combiner) {
    combiner = new WriteCombiner({
      ...COMBINE,
      write: (first, pieces) => storage.writePieces(first, pieces),
    });
    combiners.set(id, combiner);
  }
  return combiner;
}

/** Writes still held for a storage go out (and finish) before anything else touches it. */
async function flushHeldWrites(id: number): Promise<void> {
  await combiners.get(id)?.flushAll();
}

function storageOf(id: number): FileStorage {
  const storage = storages.get(id);
  if (!storage) throw new StorageError('storage is closed');
  return storage;
}

function failure(err: unknown): DiskFailure {
  if (err instanceof StorageError)
    return { message: err.message, storageErrno: err.errno, isStorageError: true };
  return {
    message: err instanceof Error ? err.message : String(err),
    storageErrno: null,
    isStorageError: false,
  };
}

async function handle(req: DiskRequest): Promise<void> {
  try {
    if (req.op !== 'write' && req.op !== 'open') await flushHeldWrites(req.storage);
    switch (req.op) {
      case 'open': {
        const storage = await FileStorage.open(req.layout, req.downloadDir, {
          directIo: req.directIo,
          unsyncedAtOpen: req.unsyncedAtOpen,
        });
        storages.set(req.storage, storage);
        reply({ id: req.id, ok: true });
        return;
      }
      case 'write':
        return await write(req);
      case 'read': {
        const data = await storageOf(req.storage).read(req.piece, req.begin, req.length);
        const buffer = ownedBytes(data).buffer as ArrayBuffer;
        reply({ id: req.id, ok: true, buffer, offset: 0, length: buffer.byteLength }, [buffer]);
        return;
      }
      case 'verify': {
        const data = await storageOf(req.storage).read(req.piece, 0, req.length);
        const digest = createHash('sha1').update(data).digest();
        reply({ id: req.id, ok: true, value: digest.equals(req.expected) });
        return;
      }
      case 'anyFileExists':
        reply({ id: req.id, ok: true, value: await storageOf(req.storage).anyFileExists() });
        return;
      case 'fileStats':
        reply({ id: req.id, ok: true, value: await storageOf(req.storage).fileStats() });
        return;
      case 'flush':
        await storageOf(req.storage).flush(req.files);
        reply({ id: req.id, ok: true });
        return;
      case 'close':
      case 'remove': {
        const storage = storages.get(req.storage);
        storages.delete(req.storage);
        combiners.delete(req.storage);
        if (req.op === 'close') await storage?.close();
        else await storage?.remove();
        reply({ id: req.id, ok: true });
        return;
      }
    }
  } catch (err) {
    reply({ id: req.id, ok: false, error: failure(err) });
  }
}

async function write(req: Extract<DiskRequest, { op: 'write' }>): Promise<void> {
  const { buffer, offset, length } = req;
  const data = Buffer.from(buffer, offset, length);
  let verified = true;
  if (req.expected) {
    const digest = createHash('sha1').update(data).digest();
    verified = digest.equals(req.expected);
  }
  try {
    if (verified) {
      const storage = storageOf(req.storage);
      const key = storage.directRunKey(req.piece, data);
      if (key === null) await storage.writePiece(req.piece, data);
      else await combinerOf(req.storage, storage).add(req.piece, data, key);
    }
  } catch (err) {
    // The bytes go back either way, so the engine can reuse the buffer.
    reply({ id: req.id, ok: false, error: failure(err), buffer }, [buffer]);
    return;
  }
  reply({ id: req.id, ok: true, buffer, offset, length, verified }, [buffer]);
}

/** Replies go out once per turn, as the engine's requests come in (see TurnOutbox). */
const outbox = new TurnOutbox<DiskReply>((replies, transfer) =>
  port!.postMessage(replies, transfer),
);

function reply(msg: DiskReply, transfer: ArrayBuffer[] = []): void {
  outbox.push(msg, transfer);
}

port.on('message', (requests: DiskRequest[]) => {
  for (const req of requests) void handle(req);
});
