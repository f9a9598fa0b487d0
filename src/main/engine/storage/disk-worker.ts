import { Worker } from 'node:worker_threads';
import type { DiskReply, DiskRequest } from './disk-protocol';
import type { PieceStorage } from './file-storage';
import type { StorageLayout } from './piece-layout';
import { ownedBytes } from './piece-buffers';
import { ReadAhead, type ChunkSource } from './read-ahead';
import type { ResumeData } from './resume-data';
import { StorageError } from './storage-error';
import { TurnOutbox } from './turn-outbox';

/**
 * The disk worker's code as one CommonJS text, put in by the build (scripts/build.mjs) and by
 * the test runner's config, both from scripts/disk-thread-source.mjs. Given inline, the worker
 * starts the same from the CLI bundle, from inside Electron's asar archive and under vitest.
 */
declare const TESSERA_DISK_THREAD_SOURCE: string | undefined;

/** The worker's code, or null where the engine was not built with it (then files are written on the main thread). */
export function diskThreadSource(): string | null {
  return typeof TESSERA_DISK_THREAD_SOURCE === 'string' ? TESSERA_DISK_THREAD_SOURCE : null;
}

/** The disk worker is gone (the session is closing): the piece is simply fetched again later. */
export class DiskWorkerStopped extends Error {
  constructor(reason: string) {
    super(`disk worker stopped: ${reason}`);
  }
}

type Request = DiskRequest extends infer R
  ? R extends { id: number }
    ? Omit<R, 'id'>
    : never
  : never;
type Success = Extract<DiskReply, { ok: true }>;

/**
 * One thread that owns every torrent's files (STYLE.md 16): hashing a finished piece and
 * writing it to its files happen there in one step, and the main thread only posts the piece
 * and hears back. The piece's memory is transferred, not copied, both ways. Reads for peers
 * (in chunks, see ReadAhead) and the check of data already on disk (read and hashed there,
 * answered yes or no) go through it too.
 */
export class DiskWorker {
  private worker: Worker | null = null;
  private readonly pending = new Map<
    number,
    { resolve: (r: Success) => void; reject: (e: Error) => void }
  >();
  private nextId = 1;
  /** This turn's requests for the current thread, posted at the turn's end (see TurnOutbox). */
  private outbox: TurnOutbox<DiskRequest> | null = null;
  private nextStorage = 1;
  /** Set by destroy(): no thread is started again. */
  private stopped: string | null = null;
  /** Counts the threads started: a storage opened in an earlier one must be opened again. */
  private threadsStarted = 0;
  /** Chunks read for peers, shared by every torrent (see ReadAhead). */
  readonly readAhead = new ReadAhead();

  constructor(private readonly source: string) {}

  /** A disk worker, or null when this build has no worker code (see diskThreadSource). */
  static create(): DiskWorker | null {
    const source = diskThreadSource();
    return source === null ? null : new DiskWorker(source);
  }

  /** Opens a torrent's files in the worker (nothing is created until the first write). */
  async openStorage(
    layout: StorageLayout,
    downloadDir: string,
    opts: { directIo?: boolean } = {},
  ): Promise<WorkerStorage> {
    // A plain copy: a Metainfo carries much more than the layout.
    const plain: StorageLayout = {
      name: layout.name,
      isMultiFile: layout.isMultiFile,
      pieceLength: layout.pieceLength,
      totalLength: layout.totalLength,
      files: layout.files.map(({ path, length, offset, padding }) => ({
        path,
        length,
        offset,
        padding,
      })),
    };
    const storage = new WorkerStorage(this, {
      op: 'open',
      storage: this.nextStorage++,
      layout: plain,
      downloadDir,
      directIo: opts.directIo,
    });
    await storage.opened();
    return storage;
  }

  /** Which thread requests go to now (starting one if there is none): see WorkerStorage. */
  currentThread(): number {
    if (this.stopped === null) this.ensureWorker();
    return this.threadsStarted;
  }

  /** Starts the thread now rather than at the first request, which then need not wait for it. */
  start(): void {
    if (this.stopped === null) this.ensureWorker();
  }

  request(req: Request, transfer: ArrayBuffer[] = []): Promise<Success> {
    if (this.stopped !== null) return Promise.reject(new DiskWorkerStopped(this.stopped));
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<Success>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Only while something is asked may the worker keep the process alive.
      if (this.pending.size === 1) worker.ref();
      this.outbox!.push({ ...req, id } as DiskRequest, transfer);
    });
  }

  /** Stops the worker; requests still out are rejected with DiskWorkerStopped. */
  async destroy(): Promise<void> {
    this.stopped ??= 'the session closed';
    const worker = this.worker;
    this.worker = null;
    this.rejectAll(new DiskWorkerStopped(this.stopped));
    await worker?.terminate();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.source, { eval: true });
    this.threadsStarted++;
    worker.unref();
    // Requests for a thread that stopped or died before the turn ended have been failed
    // already: they are not sent.
    this.outbox = new TurnOutbox((requests, transfer) => {
      if (this.worker === worker) worker.postMessage(requests, transfer);
    });
    worker.on('message', (replies: DiskReply[]) => {
      for (const reply of replies) this.onReply(reply);
    });
    const lost = (reason: string) => {
      if (this.worker !== worker) return;
      // What was asked of it fails, as a disk problem the torrent shows; the next request
      // starts a new thread, in which each storage opens its files again.
      this.worker = null;
      this.rejectAll(new StorageError(`the disk worker stopped unexpectedly (${reason})`));
    };
    worker.on('error', (err) => lost(err.message));
    worker.on('exit', (code) => lost(`exited with code ${code}`));
    this.worker = worker;
    return worker;
  }

  private onReply(reply: DiskReply): void {
    const job = this.pending.get(reply.id);
    if (!job) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker?.unref();
    if (reply.ok) job.resolve(reply);
    else
      job.reject(
        reply.error.isStorageError
          ? new StorageError(reply.error.message, reply.error.storageErrno)
          : new Error(reply.error.message),
      );
  }

  private rejectAll(err: Error): void {
    const jobs = [...this.pending.values()];
    this.pending.clear();
    for (const job of jobs) job.reject(err);
  }
}

/** A torrent's files, kept by the disk worker: PieceStorage over messages. */
export class WorkerStorage implements PieceStorage, ChunkSource {
  private closed = false;
  /** The thread this storage's files are open in (0: none yet), and the open under way. */
  private openIn = 0;
  private opening: Promise<void> | null = null;

  constructor(
    private readonly disk: DiskWorker,
    private readonly openRequest: Extract<Request, { op: 'open' }>,
  ) {}

  get layout(): StorageLayout {
    return this.openRequest.layout;
  }

  readRange(index: number, begin: number, length: number): Promise<Uint8Array> {
    return this.read(index, begin, length);
  }

  /** Resolves once the files are open in the current thread. */
  async opened(): Promise<void> {
    for (;;) {
      const thread = this.disk.currentThread();
      if (this.openIn === thread) return;
      // Opened before in a thread that died: what it wrote may never have been synced.
      const request =
        this.openIn === 0 ? this.openRequest : { ...this.openRequest, unsyncedAtOpen: true };
      this.opening ??= this.disk.request(request).then(
        () => {
          this.openIn = thread;
          this.opening = null;
        },
        (err: unknown) => {
          this.opening = null;
          throw err;
        },
      );
      await this.opening;
    }
  }

  /** A request about this storage's files, opening them first in a thread that has not. */
  private async call(req: Request, transfer: ArrayBuffer[] = []): Promise<Success> {
    if (this.openIn !== this.disk.currentThread()) await this.opened();
    return this.disk.request(req, transfer);
  }

  private get id(): number {
    return this.openRequest.storage;
  }

  readBlock(index: number, begin: number, length: number): Promise<Uint8Array> {
    return this.disk.readAhead.read(this, index, begin, length);
  }

  dropCaches(): void {
    this.disk.readAhead.forget(this);
  }

  /**
   * Hashes the piece and, if it matches `expected`, writes it, all in the worker. `data` is
   * transferred (detached here) when it owns its memory, else copied first; its bytes come
   * back as `data` either way.
   */
  async verifyAndWrite(
    index: number,
    expected: Uint8Array,
    data: Buffer,
  ): Promise<{ ok: boolean; data: Buffer }> {
    const reply = await this.send(index, data, expected);
    return {
      ok: reply.verified !== false,
      data: Buffer.from(reply.buffer, reply.offset, reply.length),
    };
  }

  async writePiece(index: number, data: Uint8Array): Promise<void> {
    // The caller keeps its bytes: hand the worker a copy.
    await this.send(index, Uint8Array.from(data), null);
  }

  private async send(
    piece: number,
    data: Uint8Array,
    expected: Uint8Array | null,
  ): Promise<Extract<Success, { buffer: ArrayBuffer }>> {
    const buffer = ownedBytes(data).buffer as ArrayBuffer;
    const reply = await this.call(
      {
        op: 'write',
        storage: this.id,
        piece,
        buffer,
        offset: 0,
        length: buffer.byteLength,
        // A copy: a view into the torrent's piece hashes would clone all of them.
        expected: expected && Uint8Array.from(expected),
      },
      [buffer],
    );
    if (!('buffer' in reply)) throw new Error('disk worker: write reply without its buffer');
    return reply;
  }

  async read(index: number, begin: number, length: number): Promise<Uint8Array> {
    const reply = await this.call({
      op: 'read',
      storage: this.id,
      piece: index,
      begin,
      length,
    });
    if (!('buffer' in reply)) throw new Error('disk worker: read reply without its bytes');
    return Buffer.from(reply.buffer, reply.offset, reply.length);
  }

  async verifyExisting(index: number, length: number, expected: Uint8Array): Promise<boolean> {
    const reply = await this.call({
      op: 'verify',
      storage: this.id,
      piece: index,
      length,
      expected: Uint8Array.from(expected),
    });
    return 'value' in reply && reply.value === true;
  }

  async anyFileExists(): Promise<boolean> {
    const reply = await this.call({ op: 'anyFileExists', storage: this.id });
    return 'value' in reply && reply.value === true;
  }

  async flush(alsoFiles: readonly number[] = []): Promise<void> {
    await this.call({ op: 'flush', storage: this.id, files: [...alsoFiles] });
  }

  async fileStats(): Promise<ResumeData['files']> {
    const reply = await this.call({ op: 'fileStats', storage: this.id });
    if (!('value' in reply) || !Array.isArray(reply.value))
      throw new Error('disk worker: fileStats reply without the stats');
    return reply.value;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.disk.readAhead.forget(this);
    await this.call({ op: 'close', storage: this.id });
  }

  async remove(): Promise<void> {
    this.closed = true;
    this.disk.readAhead.forget(this);
    await this.call({ op: 'remove', storage: this.id });
  }
}
