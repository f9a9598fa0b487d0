import { constants } from 'node:fs';
import { mkdir, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { resolveInside } from '../metainfo/paths';
import { FileDescriptor, type OpenFileFn } from './file-descriptor';
import { DIRECT_IO_ALIGNMENT, isDirectIoAligned } from './piece-buffers';
import { piecesOfFile, spansForRange, type FileSpan, type StorageLayout } from './piece-layout';
import { statFiles, type FileStat, type ResumeData } from './resume-data';
import { openFileBudget } from './open-file-limit';
import { describeFsError, StorageError } from './storage-error';

/** Pieces in and out of wherever they are kept (STYLE.md 12). */
export interface PieceStorage {
  /** Writes a whole verified piece. */
  writePiece(index: number, data: Uint8Array): Promise<void>;
  /**
   * Hashes a whole piece and writes it if it matches `expected`, in one step off the event
   * loop (the disk worker). `data` may be detached; its bytes come back as `data`.
   */
  verifyAndWrite?(
    index: number,
    expected: Uint8Array,
    data: Buffer,
  ): Promise<{ ok: boolean; data: Buffer }>;
  /** Reads part of a piece (to upload it, or to check it). Missing data throws a StorageError. */
  read(index: number, begin: number, length: number): Promise<Uint8Array>;
  /**
   * Reads a block of a verified piece for a peer, possibly from a cache of what was read
   * before (the bytes must not be changed). Without it, `read` serves peers.
   */
  readBlock?(index: number, begin: number, length: number): Promise<Uint8Array>;
  /**
   * Whether the whole piece on disk hashes to `expected`, read and hashed off the event loop
   * (the disk worker). Missing data throws a StorageError, as `read` does.
   */
  verifyExisting?(index: number, length: number, expected: Uint8Array): Promise<boolean>;
  /** Forgets cached reads (before the data is checked again). */
  dropCaches?(): void;
  /** Whether any of the torrent's files exist on disk yet: if none do, there is nothing to check. */
  anyFileExists(): Promise<boolean>;
  /** Forces written data to the disk (before resume data claims it is there). */
  /**
   * Syncs everything written so far (and `alsoFiles`, written by an earlier run in this boot)
   * to disk. Nothing else syncs: closing a file or the storage leaves its bytes to the kernel.
   */
  flush?(alsoFiles?: readonly number[]): Promise<void>;
  /** Size and modification time of each file, for resume data. */
  fileStats?(): Promise<ResumeData['files']>;
  close(): Promise<void>;
  /** Deletes the files this torrent wrote, and the folders it made that are left empty. */
  remove?(): Promise<void>;
}

// O_NOFOLLOW: a symlink planted inside the download folder must not redirect our writes.
const WRITE_FLAGS = constants.O_RDWR | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0);
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0);
/** Linux only; elsewhere the constant is missing and every write goes through the page cache. */
const O_DIRECT: number | undefined = constants.O_DIRECT;
/** Files smaller than this are written through the page cache only (one handle each). */
const DIRECT_IO_MIN_FILE_BYTES = 128 * 1024;
/** Fewer whole pages than this in a span go through the page cache too. */
const DIRECT_IO_MIN_BYTES = 16 * 1024;

export interface FileStorageOptions {
  /**
   * Write the whole pages of each piece with O_DIRECT when the piece is in a page-aligned
   * buffer from allocPieceBuffer (default true). The page cache is skipped for those bytes: on
   * the benchmark's VM, filling fresh page-cache pages cost 1.3–2.5 CPU seconds per GiB of
   * kernel time, O_DIRECT about 0.1. Filesystems without O_DIRECT (tmpfs) fall back by
   * themselves; pieces in other buffers, and the partial pages at file edges, are buffered.
   */
  directIo?: boolean;
  /** Handles kept open (default: openFileBudget(), from the descriptor limit). */
  maxOpenFiles?: number;
  /** Opens files (a seam for tests that run out of descriptors); FileDescriptor.open by default. */
  open?: OpenFileFn;
  /** Makes a folder and its parents (a seam for tests that count them); mkdir -p by default. */
  makeDir?: (dir: string) => Promise<unknown>;
  /**
   * Treat every file as written but not yet synced, so the first flush() syncs them all: the
   * files were written by an earlier storage that could not sync them (a disk thread that
   * died), and resume data saved after the flush must not vouch for bytes still in the page
   * cache only.
   */
  unsyncedAtOpen?: boolean;
}

/**
 * The torrent's files on disk, written at their positions with positional I/O. Files are
 * created on first write (never truncated, so data from earlier runs stays), and a bounded
 * number of handles is kept open.
 */
export class FileStorage implements PieceStorage {
  private readonly handles = new Map<number, OpenFile>();
  /** Handles kept open; lowered for good when the process runs out of descriptors (EMFILE). */
  private maxOpenFiles: number;
  private readonly open: OpenFileFn;
  private readonly mkdirP: (dir: string) => Promise<unknown>;
  private readonly opening = new Map<number, Promise<OpenFile>>();
  private readonly paths: string[];
  /** The folder holding a multi-file torrent; null for a single file. */
  private readonly root: string | null;
  /** Turned off for good by the first O_DIRECT open or write the filesystem refuses. */
  private directIo: boolean;
  /**
   * Folders this storage has made (or found), or is making: no mkdir before each file open, and
   * one for all the opens that wait on the same folder.
   */
  private readonly madeDirs = new Map<string, Promise<void>>();
  /** Files written through a handle that has since been closed: flush() syncs them. */
  private readonly unsynced = new Set<number>();
  /** Handles being closed (see retire): waited for when the process is out of descriptors. */
  private readonly closing = new Set<Promise<void>>();
  /**
   * Per file, the pieces touching it that this storage has not written yet. At zero the file
   * is complete: it is closed at once, not left to take a handle slot until LRU eviction
   * (which, with thousands of small files in random piece order, closed files that were not
   * finished and re-opened them later).
   */
  private readonly piecesToWrite: Int32Array;
  /** Pieces written, so that writing one again does not count twice. */
  private readonly piecesWritten: Uint8Array;
  /**
   * Per file, what fileStats last found, kept until something writes to the file: a resume
   * save stats only the files written since the save before. On the 2,000-file benchmark the
   * save at completion and the one at close each stat'ed every file. undefined: not known.
   */
  private readonly knownStats: (FileStat | null | undefined)[];
  /** Per file, the writes that have ended: a stat that overlapped one is not kept. */
  private readonly writesEnded: Uint32Array;

  private constructor(
    private readonly layout: StorageLayout,
    downloadDir: string,
    opts: FileStorageOptions,
  ) {
    this.directIo = (opts.directIo ?? true) && O_DIRECT !== undefined;
    this.maxOpenFiles = opts.maxOpenFiles ?? openFileBudget();
    this.open = opts.open ?? FileDescriptor.open;
    this.mkdirP = opts.makeDir ?? ((dir) => mkdir(dir, { recursive: true }));
    const dir = path.resolve(downloadDir);
    this.root = layout.isMultiFile ? resolveInside(dir, [layout.name]) : null;
    this.paths = layout.files.map((f) =>
      resolveInside(dir, layout.isMultiFile ? [layout.name, ...f.path] : [layout.name]),
    );
    if (opts.unsyncedAtOpen)
      layout.files.forEach((f, i) => {
        if (!f.padding && f.length > 0) this.unsynced.add(i);
      });
    this.piecesToWrite = Int32Array.from(layout.files, (f) => {
      const pieces = f.padding ? null : piecesOfFile(layout.pieceLength, f);
      return pieces ? pieces.last - pieces.first + 1 : 0;
    });
    this.piecesWritten = new Uint8Array(Math.ceil(layout.totalLength / layout.pieceLength));
    this.knownStats = new Array<FileStat | null | undefined>(layout.files.length);
    this.writesEnded = new Uint32Array(layout.files.length);
  }

  static async open(
    layout: StorageLayout,
    downloadDir: string,
    opts: FileStorageOptions = {},
  ): Promise<FileStorage> {
    const storage = new FileStorage(layout, downloadDir, opts);
    await storage.createEmptyFiles();
    return storage;
  }

  filePath(index: number): string {
    return this.paths[index]!;
  }

  async writePiece(index: number, data: Uint8Array): Promise<void> {
    const spans = spansForRange(this.layout, index, 0, data.length).filter((s) => !s.padding);
    await this.writeSpans(data, spans);
    this.markWritten(index, spans);
  }

  /**
   * The file a whole piece can be written to with O_DIRECT in one write together with its
   * neighbours in the same file (see writePieces); null when it cannot, and then writePiece
   * is the way.
   */
  directRunKey(index: number, data: Uint8Array): number | null {
    const { pieceLength } = this.layout;
    if (!this.directIo || data.length !== pieceLength || pieceLength % DIRECT_IO_ALIGNMENT !== 0)
      return null;
    if (!isDirectIoAligned(data)) return null;
    const spans = spansForRange(this.layout, index, 0, pieceLength);
    if (spans.length !== 1 || spans[0]!.padding) return null;
    const { fileIndex, fileOffset } = spans[0]!;
    if (fileOffset % DIRECT_IO_ALIGNMENT !== 0) return null;
    if (this.layout.files[fileIndex]!.length < DIRECT_IO_MIN_FILE_BYTES) return null;
    return fileIndex;
  }

  /**
   * Writes whole neighbouring pieces, each in one file with the same directRunKey, as one
   * O_DIRECT write: one system call (and one trip to the disk) instead of one per piece.
   * Whatever that write leaves undone goes piece by piece through writePiece.
   */
  async writePieces(first: number, pieces: readonly Buffer[]): Promise<void> {
    // One joint write only when every piece may go direct into the same file.
    const key = pieces.length > 1 ? this.directRunKey(first, pieces[0]!) : null;
    const fileIndex =
      key !== null && pieces.every((p, i) => i === 0 || this.directRunKey(first + i, p) === key)
        ? key
        : null;
    let done = 0;
    if (fileIndex !== null) {
      const span = spansForRange(this.layout, first, 0, this.layout.pieceLength)[0]!;
      done = await this.withHandle(fileIndex, true, async (entry) => {
        const direct = await this.directHandle(entry, span);
        if (!direct) return 0;
        try {
          return await direct.writev(pieces, span.fileOffset);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EINVAL')
            throw describeFsError(err, 'writing', this.paths[fileIndex]!);
          this.directIo = false;
          return 0;
        }
      });
    }
    const { pieceLength } = this.layout;
    for (let i = 0; i < pieces.length; i++) {
      const index = first + i;
      const spans = spansForRange(this.layout, index, 0, pieces[i]!.length).filter(
        (s) => !s.padding,
      );
      if (done < (i + 1) * pieceLength) {
        // Not (all) written by the joint write: the rest of this piece, on its own.
        const skip = Math.max(0, done - i * pieceLength);
        const rest = spans
          .map((s) => {
            const cut = Math.min(s.length, Math.max(0, skip - s.rangeOffset));
            return {
              ...s,
              fileOffset: s.fileOffset + cut,
              rangeOffset: s.rangeOffset + cut,
              length: s.length - cut,
            };
          })
          .filter((s) => s.length > 0);
        await this.writeSpans(pieces[i]!, rest);
      }
      this.markWritten(index, spans);
    }
  }

  /** Counts a piece as written, once; a file whose pieces are all written is finished. */
  private markWritten(index: number, spans: readonly FileSpan[]): void {
    if (this.piecesWritten[index] === 1) return;
    this.piecesWritten[index] = 1;
    for (const { fileIndex } of spans)
      if (--this.piecesToWrite[fileIndex]! === 0) this.finishFile(fileIndex);
  }

  /** Every piece of the file is written: close it now (in the background); flush() syncs it. */
  private finishFile(fileIndex: number): void {
    const entry = this.handles.get(fileIndex);
    if (!entry?.writable) return; // closed already, when it was evicted
    this.handles.delete(fileIndex);
    this.retire(entry, fileIndex);
  }

  private async writeSpans(data: Uint8Array, spans: readonly FileSpan[]): Promise<void> {
    const aligned = isDirectIoAligned(data);
    for (const span of spans) {
      await this.withHandle(span.fileIndex, true, async (entry) => {
        let { rangeOffset: from, length, fileOffset: at } = span;
        // The whole pages of the span may go direct; the partial pages at its edges (shared
        // with a neighbouring piece, or past the file's end) go through the page cache.
        const head = Math.min(
          length,
          (DIRECT_IO_ALIGNMENT - (at % DIRECT_IO_ALIGNMENT)) % DIRECT_IO_ALIGNMENT,
        );
        const body = length - head - ((length - head) % DIRECT_IO_ALIGNMENT);
        // Only a piece whose memory is in the file's phase (a single file, or files at
        // page-aligned offsets). Copying the others to an aligned bounce buffer was measured
        // on the 2,000-small-files case: twice the wall time (direct writes that extend new
        // files are slow), so they go through the page cache.
        const inPhase = aligned && (from - at) % DIRECT_IO_ALIGNMENT === 0;
        const direct =
          inPhase && body >= DIRECT_IO_MIN_BYTES ? await this.directHandle(entry, span) : null;
        if (direct) {
          await this.writeAll(entry.handle, span.fileIndex, data, from, head, at);
          const done = await this.writeDirect(
            direct,
            span.fileIndex,
            data,
            from + head,
            body,
            at + head,
          );
          from += head + done;
          at += head + done;
          length -= head + done;
        }
        await this.writeAll(entry.handle, span.fileIndex, data, from, length, at);
      });
    }
  }

  /** The file's O_DIRECT handle, opened on first need; null when direct I/O is off or refused. */
  private directHandle(entry: OpenFile, span: FileSpan): Promise<FileDescriptor | null> | null {
    if (!this.directIo || O_DIRECT === undefined) return null;
    if (this.layout.files[span.fileIndex]!.length < DIRECT_IO_MIN_FILE_BYTES) return null;
    entry.direct ??= this.open(this.paths[span.fileIndex]!, WRITE_FLAGS | O_DIRECT, 0o644).catch(
      () => {
        // EINVAL: this filesystem has no O_DIRECT. Anything else shows on the buffered handle.
        this.directIo = false;
        return null;
      },
    );
    return entry.direct;
  }

  /** Writes all of `length` bytes at `at`, through the page cache. */
  private async writeAll(
    handle: FileDescriptor,
    fileIndex: number,
    data: Uint8Array,
    from: number,
    length: number,
    at: number,
  ): Promise<void> {
    try {
      let done = 0;
      while (done < length) {
        const bytesWritten = await handle.write(data, from + done, length - done, at + done);
        if (bytesWritten === 0)
          throw Object.assign(new Error('no bytes written'), { code: 'ENOSPC' });
        done += bytesWritten;
      }
    } catch (err) {
      throw describeFsError(err, 'writing', this.paths[fileIndex]!);
    }
  }

  /**
   * Writes aligned bytes with O_DIRECT; returns how many it wrote (all, unless the filesystem
   * refused O_DIRECT or wrote a part that leaves the rest unaligned: the caller writes the
   * rest through the page cache).
   */
  private async writeDirect(
    handle: FileDescriptor,
    fileIndex: number,
    data: Uint8Array,
    from: number,
    length: number,
    at: number,
  ): Promise<number> {
    let done = 0;
    try {
      while (done < length) {
        const bytesWritten = await handle.write(data, from + done, length - done, at + done);
        done += bytesWritten;
        if (bytesWritten === 0 || done % DIRECT_IO_ALIGNMENT !== 0) break;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL')
        throw describeFsError(err, 'writing', this.paths[fileIndex]!);
      this.directIo = false;
    }
    return done;
  }

  async read(index: number, begin: number, length: number): Promise<Uint8Array> {
    // Not zero-filled: every byte is read from a file (or a short read throws and the buffer
    // is dropped), except padding, which is zeros by definition (BEP 47).
    const out = Buffer.allocUnsafeSlow(length);
    for (const span of spansForRange(this.layout, index, begin, length)) {
      if (span.padding) {
        out.fill(0, span.rangeOffset, span.rangeOffset + span.length);
        continue;
      }
      const file = this.paths[span.fileIndex]!;
      const done = await this.withHandle(span.fileIndex, false, async ({ handle }) => {
        let got = 0;
        try {
          while (got < span.length) {
            const bytesRead = await handle.read(
              out,
              span.rangeOffset + got,
              span.length - got,
              span.fileOffset + got,
            );
            if (bytesRead === 0) break;
            got += bytesRead;
          }
        } catch (err) {
          throw describeFsError(err, 'reading', file);
        }
        return got;
      });
      if (done < span.length)
        throw new StorageError(
          `${file} is shorter than expected (data missing at byte ${span.fileOffset + done})`,
          'ESHORT',
        );
    }
    return out;
  }

  async anyFileExists(): Promise<boolean> {
    // No torrent folder, no files: one stat instead of one per file (2,000 sequential failed
    // stats before a small-files download could start).
    if (!(await this.rootExists())) return false;
    for (let i = 0; i < this.paths.length; i++) {
      const f = this.layout.files[i]!;
      if (f.padding || f.length === 0) continue;
      try {
        await stat(this.paths[i]!);
        return true;
      } catch {
        // keep looking
      }
    }
    return false;
  }

  /**
   * Everything written so far reaches the disk: open files through their handles, and files
   * whose handles were closed to stay under the open-file limit through a fresh one (fdatasync
   * syncs the file, whichever descriptor asks), and `alsoFiles`. Resume data counts a piece as
   * synced only once a flush that began after it was written has finished.
   */
  async flush(alsoFiles: readonly number[] = []): Promise<void> {
    for (const i of alsoFiles) if (i >= 0 && i < this.paths.length) this.unsynced.add(i);
    const closed = [...this.unsynced].filter((i) => !this.handles.get(i)?.writable);
    this.unsynced.clear();
    await Promise.all([
      ...[...this.handles.values()]
        .filter((h) => h.writable)
        .map((h) => h.handle.datasync().catch(() => undefined)),
      ...closed.map(async (i) => {
        try {
          const handle = await this.open(this.paths[i]!, READ_FLAGS);
          try {
            await handle.datasync();
          } finally {
            await handle.close();
          }
        } catch (err) {
          // A file that is gone has nothing to sync; anything else is tried again next time.
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.unsynced.add(i);
        }
      }),
    ]);
  }

  /**
   * Size and time of each file. A file not written since the last call keeps what that call
   * found: if something else changes it meanwhile, the resume data's stale time makes the next
   * start hash it again rather than trust it.
   */
  async fileStats(): Promise<ResumeData['files']> {
    const unknown: number[] = [];
    for (let i = 0; i < this.paths.length; i++)
      if (this.knownStats[i] === undefined) unknown.push(i);
    if (unknown.length === 0) return this.knownStats.slice() as ResumeData['files'];
    // Resume data is first saved right after the check, before anything is written: one stat
    // of the missing folder, not 2,000 failed ones.
    if (!(await this.rootExists())) return this.paths.map(() => null);
    const writesBefore = unknown.map((i) => this.writesEnded[i]!);
    const found = await statFiles(unknown.map((i) => this.paths[i]!));
    const out = this.knownStats.slice() as (FileStat | null)[];
    unknown.forEach((fileIndex, k) => {
      out[fileIndex] = found[k]!;
      if (this.writesEnded[fileIndex] === writesBefore[k]) this.knownStats[fileIndex] = found[k];
    });
    return out;
  }

  /** False only for a multi-file torrent whose folder is not there (then none of its files are). */
  private async rootExists(): Promise<boolean> {
    if (this.root === null) return true;
    return stat(this.root).then(
      () => true,
      () => false,
    );
  }

  /**
   * Closes every file without syncing it: the kernel writes the bytes back, and resume data
   * saved before says which pieces were not synced yet (see Torrent.saveResumeNow).
   */
  async close(): Promise<void> {
    await Promise.allSettled([...this.opening.values()]);
    const handles = [...this.handles.values()];
    this.handles.clear();
    await Promise.allSettled(
      handles.flatMap((h) => [h.handle.close(), h.direct?.then((d) => d?.close())]),
    );
  }

  async remove(): Promise<void> {
    await this.close();
    await Promise.all(
      this.paths.map((p, i) =>
        this.layout.files[i]!.padding ? undefined : rm(p, { force: true }),
      ),
    );
    this.knownStats.fill(undefined);
    if (!this.root) return;
    // Remove the folders we may have made, deepest first, but only when empty.
    const dirs = new Set<string>();
    for (const p of this.paths) {
      for (let d = path.dirname(p); d.startsWith(this.root); d = path.dirname(d)) {
        dirs.add(d);
        if (d === this.root) break;
      }
    }
    for (const d of [...dirs].sort((a, b) => b.length - a.length))
      await rmdir(d).catch(() => undefined);
  }

  /** Zero-length files are part of the torrent too, and no piece will ever write them. */
  private async createEmptyFiles(): Promise<void> {
    for (let i = 0; i < this.paths.length; i++) {
      const f = this.layout.files[i]!;
      if (f.length !== 0 || f.padding) continue;
      const file = this.paths[i]!;
      try {
        await this.makeDir(path.dirname(file));
        await (await this.open(file, WRITE_FLAGS, 0o644)).close();
      } catch (err) {
        throw describeFsError(err, 'writing', file);
      }
    }
  }

  /** Runs `fn` with an open handle that stays open (is not evicted) until `fn` is done. */
  private async withHandle<T>(
    fileIndex: number,
    writable: boolean,
    fn: (h: OpenFile) => Promise<T>,
  ): Promise<T> {
    const entry = await this.acquire(fileIndex, writable);
    try {
      return await fn(entry);
    } finally {
      entry.users--;
      if (writable) {
        this.writesEnded[fileIndex]!++;
        this.knownStats[fileIndex] = undefined;
      }
      this.evict();
    }
  }

  /**
   * An open handle for the file, already counted as in use: counted here, synchronously, and
   * not by the caller after the await, or an eviction running in between would close it.
   */
  private async acquire(fileIndex: number, writable: boolean): Promise<OpenFile> {
    for (;;) {
      const cached = this.handles.get(fileIndex);
      if (cached && (cached.writable || !writable)) {
        // Map order is use order: move to the back.
        this.handles.delete(fileIndex);
        this.handles.set(fileIndex, cached);
        cached.users++;
        return cached;
      }
      const pending = this.opening.get(fileIndex);
      if (!pending) break;
      await pending.catch(() => undefined);
    }
    const opening = this.openFile(fileIndex, writable);
    this.opening.set(fileIndex, opening);
    try {
      const entry = await opening;
      const previous = this.handles.get(fileIndex);
      this.handles.delete(fileIndex);
      if (previous) this.retire(previous, fileIndex);
      this.handles.set(fileIndex, entry);
      entry.users++;
      this.evict();
      return entry;
    } finally {
      this.opening.delete(fileIndex);
    }
  }

  private async openFile(fileIndex: number, writable: boolean): Promise<OpenFile> {
    try {
      return await this.openFileOnce(fileIndex, writable);
    } catch (err) {
      if (!(err instanceof StorageError) || (err.errno !== 'EMFILE' && err.errno !== 'ENFILE'))
        throw err;
      // Out of descriptors (other torrents, sockets): keep fewer open from now on, close the
      // idle ones, and try once more.
      this.maxOpenFiles = Math.max(1, Math.floor(this.handles.size / 2));
      this.evict();
      await Promise.all([...this.closing]);
      return this.openFileOnce(fileIndex, writable);
    }
  }

  private async openFileOnce(fileIndex: number, writable: boolean): Promise<OpenFile> {
    const file = this.paths[fileIndex]!;
    try {
      if (writable) {
        return { handle: await this.openCreating(file), direct: null, writable: true, users: 0 };
      }
      return { handle: await this.open(file, READ_FLAGS), direct: null, writable: false, users: 0 };
    } catch (err) {
      if (!writable && (err as NodeJS.ErrnoException).code === 'ENOENT')
        throw new StorageError(`${file} does not exist yet`, 'ENOENT');
      throw describeFsError(err, writable ? 'writing' : 'opening', file);
    }
  }

  /**
   * Opens a file for writing, making its folder first unless this storage made it already (a
   * mkdir per file open was a fifth of the opening cost with 2,000 small files). A folder
   * removed behind our back is made again.
   */
  private async openCreating(file: string): Promise<FileDescriptor> {
    const dir = path.dirname(file);
    await this.makeDir(dir);
    try {
      return await this.open(file, WRITE_FLAGS, 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.madeDirs.delete(dir);
      await this.makeDir(dir);
      return await this.open(file, WRITE_FLAGS, 0o644);
    }
  }

  /**
   * Makes the folder once, however many opens wait for it: with 2,000 small files in 20
   * folders, the files opened before a folder's first mkdir had returned made it again, about
   * 500 mkdir calls in all. A mkdir that fails is not remembered.
   */
  private makeDir(dir: string): Promise<void> {
    let making = this.madeDirs.get(dir);
    if (!making) {
      making = this.mkdirP(dir).then(() => undefined);
      this.madeDirs.set(dir, making);
      making.catch(() => {
        if (this.madeDirs.get(dir) === making) this.madeDirs.delete(dir);
      });
    }
    return making;
  }

  /** Closes least recently used handles beyond the limit, never one in use. */
  private evict(): void {
    if (this.handles.size <= this.maxOpenFiles) return;
    for (const [index, entry] of this.handles) {
      if (this.handles.size <= this.maxOpenFiles) break;
      if (entry.users > 0) continue;
      this.handles.delete(index);
      this.retire(entry, index);
    }
  }

  /** Closes a handle once idle; a file written through it is synced at the next flush. */
  private retire(entry: OpenFile, fileIndex: number): void {
    if (entry.writable) this.unsynced.add(fileIndex);
    const closeWhenIdle = () => {
      if (entry.users > 0) {
        setTimeout(closeWhenIdle, 10);
        return;
      }
      // Not synced here: an fdatasync per file as it finished cost 0.5 of 3.7 CPU seconds on
      // the 2,000-file benchmark. flush() syncs the files later, by then mostly written back.
      const closed: Promise<void> = Promise.allSettled([
        entry.handle.close(),
        entry.direct?.then((h) => h?.close()),
      ]).then(() => {
        this.closing.delete(closed);
      });
      this.closing.add(closed);
    };
    closeWhenIdle();
  }
}

interface OpenFile {
  handle: FileDescriptor;
  /** The same file opened with O_DIRECT (on first need), for whole pages; null if never needed. */
  direct: Promise<FileDescriptor | null> | null;
  writable: boolean;
  /** Operations using the handle right now. */
  users: number;
}

/** Storage in memory, for tests: same interface, no disk. */
export class MemoryStorage implements PieceStorage {
  readonly bytes: Buffer;

  constructor(
    private readonly layout: StorageLayout,
    initial?: Uint8Array,
  ) {
    this.bytes = Buffer.alloc(layout.totalLength);
    if (initial) this.bytes.set(initial.subarray(0, layout.totalLength));
    this.written = initial !== undefined;
  }

  private written: boolean;

  async writePiece(index: number, data: Uint8Array): Promise<void> {
    this.bytes.set(data, index * this.layout.pieceLength);
    this.written = true;
  }

  async read(index: number, begin: number, length: number): Promise<Uint8Array> {
    const start = index * this.layout.pieceLength + begin;
    return Uint8Array.from(this.bytes.subarray(start, start + length));
  }

  async anyFileExists(): Promise<boolean> {
    return this.written;
  }

  async close(): Promise<void> {}
}
