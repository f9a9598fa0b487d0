import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ownedBytes } from './piece-buffers';

/**
 * The worker's code, given inline so it runs the same whether the engine is bundled by esbuild
 * or loaded from TypeScript sources by the test runner. It hashes the bytes it is handed and
 * hands the buffer back (transferred both ways: no copy).
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', ({ id, buffer, offset, length }) => {
  const digest = createHash('sha1').update(new Uint8Array(buffer, offset, length)).digest();
  const out = new Uint8Array(20);
  out.set(digest);
  if (buffer instanceof SharedArrayBuffer) parentPort.postMessage({ id, digest: out.buffer }, [out.buffer]);
  else parentPort.postMessage({ id, buffer, offset, length, digest: out.buffer }, [buffer, out.buffer]);
});
`;

interface Job {
  resolve: (r: { digest: Uint8Array; data: Buffer }) => void;
  reject: (e: Error) => void;
  /** The caller's view when its bytes are on shared memory (nothing comes back then). */
  shared: Buffer | null;
}

interface PoolWorker {
  worker: Worker;
  busy: number;
}

/**
 * SHA-1 off the event loop (STYLE.md 16): a few worker threads hash whole pieces while the main
 * thread keeps moving bytes. A piece on shared memory (a SharedArrayBuffer) is shared with
 * the worker: nothing is copied or detached, and the caller must not change the bytes until the
 * promise settles. Any other piece's ArrayBuffer is transferred to a worker and back, so it must
 * own its memory (a slice of a shared pool is copied first).
 */
export class HashPool {
  private readonly workers: PoolWorker[] = [];
  private readonly jobs = new Map<number, Job & { worker: PoolWorker }>();
  private nextId = 1;
  private destroyed = false;

  constructor(private readonly size = Math.max(1, Math.min(2, availableParallelism() - 1))) {}

  /**
   * Hashes `data`; resolves with the digest and the same bytes: `data` itself when it is on
   * shared memory, else a new view (the input view is detached).
   */
  sha1(data: Buffer): Promise<{ digest: Uint8Array; data: Buffer }> {
    if (this.destroyed) return Promise.reject(new Error('hash pool destroyed'));
    const { buffer, byteOffset, length } = data;
    if (buffer instanceof SharedArrayBuffer) return this.post(buffer, byteOffset, length, data);
    return this.post(ownedBytes(data).buffer as ArrayBuffer, 0, length, null);
  }

  private post(
    buffer: ArrayBuffer | SharedArrayBuffer,
    offset: number,
    length: number,
    shared: Buffer | null,
  ): Promise<{ digest: Uint8Array; data: Buffer }> {
    const target = this.pickWorker();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.jobs.set(id, { resolve, reject, worker: target, shared });
      target.busy++;
      if (target.busy === 1) target.worker.ref();
      // A SharedArrayBuffer is shared, not transferred (it cannot be detached).
      target.worker.postMessage(
        { id, buffer, offset, length },
        shared ? [] : [buffer as ArrayBuffer],
      );
    });
  }

  async destroy(): Promise<void> {
    this.destroyed = true;
    const workers = this.workers.splice(0);
    for (const job of this.jobs.values()) job.reject(new Error('hash pool destroyed'));
    this.jobs.clear();
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }

  private pickWorker(): PoolWorker {
    let best: PoolWorker | undefined;
    for (const w of this.workers) if (!best || w.busy < best.busy) best = w;
    if (best && (best.busy === 0 || this.workers.length >= this.size)) return best;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    const entry: PoolWorker = { worker, busy: 0 };
    worker.unref();
    worker.on(
      'message',
      (msg: {
        id: number;
        buffer?: ArrayBuffer;
        offset?: number;
        length?: number;
        digest: ArrayBuffer;
      }) => {
        const job = this.jobs.get(msg.id);
        if (!job) return;
        this.jobs.delete(msg.id);
        this.release(job.worker);
        job.resolve({
          digest: new Uint8Array(msg.digest),
          data: job.shared ?? Buffer.from(msg.buffer!, msg.offset, msg.length),
        });
      },
    );
    worker.on('error', (err) => this.failWorker(entry, err));
    worker.on('exit', (code) => {
      if (!this.destroyed)
        this.failWorker(entry, new Error(`hash worker exited with code ${code}`));
    });
    this.workers.push(entry);
    return entry;
  }

  private release(w: PoolWorker): void {
    w.busy--;
    // An idle worker must not keep the process alive.
    if (w.busy === 0) w.worker.unref();
  }

  private failWorker(entry: PoolWorker, err: Error): void {
    const at = this.workers.indexOf(entry);
    if (at >= 0) this.workers.splice(at, 1);
    for (const [id, job] of this.jobs) {
      if (job.worker !== entry) continue;
      this.jobs.delete(id);
      job.reject(err);
    }
  }
}

/** The hashing workers are gone (the session is closing): the piece is fetched again later. */
export class HashingStopped extends Error {}

/** Whether `data` hashes to `expected`; the bytes come back for writing. */
export async function verifyPiece(
  pool: HashPool,
  expected: Uint8Array,
  data: Buffer,
): Promise<{ ok: boolean; data: Buffer }> {
  const { digest, data: back } = await pool.sha1(data);
  return { ok: Buffer.compare(digest, expected) === 0, data: back };
}
