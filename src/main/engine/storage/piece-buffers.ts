/**
 * Piece buffers for the download path: plain ArrayBuffers that own their memory (so they can
 * be transferred to a hashing worker and back) and start on a page boundary (so FileStorage
 * can write them with O_DIRECT, skipping the page cache: see file-storage.ts).
 *
 * V8 backs a resizable ArrayBuffer with reserved virtual memory, which starts on a page
 * boundary; `Buffer.allocUnsafeSlow` memory comes from malloc and does not. Shared memory
 * (SharedArrayBuffer, WebAssembly.Memory) is page-aligned too, but V8 copies into it with
 * relaxed atomics at about 3–4 GB/s instead of 20+, which cost more main-thread time than the
 * page cache saved. Where resizable buffers are missing, `allocPieceBuffer` still works; the
 * buffer just is not known to be aligned and is written through the page cache.
 */

/** Alignment that O_DIRECT needs on any Linux filesystem (memory, file offset and length). */
export const DIRECT_IO_ALIGNMENT = 4096;

type ResizableArrayBufferConstructor = new (
  byteLength: number,
  options: { maxByteLength: number },
) => ArrayBuffer & { readonly resizable?: boolean };

/** A buffer of `length` bytes (contents undefined) that owns its memory, page-aligned if possible. */
export function allocPieceBuffer(length: number): Buffer {
  try {
    const ab = new (ArrayBuffer as unknown as ResizableArrayBufferConstructor)(length, {
      maxByteLength: length,
    });
    return Buffer.from(ab, 0, length);
  } catch {
    // No address space to reserve, or an engine without resizable buffers.
    return Buffer.allocUnsafeSlow(length);
  }
}

/**
 * Whether `view`'s first byte is known to sit at a DIRECT_IO_ALIGNMENT-aligned address: a view
 * at an aligned offset into a resizable ArrayBuffer (see above). For any other buffer the
 * address is unknowable from JS, and the answer is false.
 */
export function isDirectIoAligned(view: Uint8Array): boolean {
  const buffer = view.buffer as ArrayBufferLike & { readonly resizable?: boolean };
  return buffer.resizable === true && view.byteOffset % DIRECT_IO_ALIGNMENT === 0;
}

/**
 * `view`'s bytes in a Buffer whose ArrayBuffer holds exactly them, so that transferring it to
 * a worker detaches nothing else: `view` itself when it already spans its whole ArrayBuffer,
 * else a copy (a slice of Node's pool, or part of a bigger buffer, would take its neighbours).
 */
export function ownedBytes(view: Uint8Array): Buffer {
  const { buffer, byteLength } = view;
  if (ownsItsMemory(view)) return Buffer.from(buffer, 0, byteLength);
  const own = Buffer.allocUnsafeSlow(byteLength);
  own.set(view);
  return own;
}

/** Whether `view` spans the whole of a (non-shared) ArrayBuffer: it can be transferred alone. */
function ownsItsMemory(view: Uint8Array): boolean {
  const { buffer, byteOffset, byteLength } = view;
  return buffer instanceof ArrayBuffer && byteOffset === 0 && byteLength === buffer.byteLength;
}

/** How long idle buffers are kept when no torrent takes any (then the memory goes back). */
const POOL_IDLE_MS = 60_000;

/**
 * Piece buffers given back (written, or thrown away) and kept for the next piece, for every
 * torrent of a session: a torrent that starts after another finished reuses its buffers
 * instead of allocating its own while the old ones wait for the garbage collector. With one
 * engine downloading 1 GiB after 1 GiB (4 MiB pieces), separate spares per torrent peaked at
 * 235 MB. At most `maxIdleBytes` are kept, and none once nothing was taken for a minute.
 */
export class PieceBufferPool {
  private readonly idle = new Map<number, Buffer[]>();
  private readonly pooled = new Set<Buffer>();
  private idleBytes = 0;
  private lastTakeAt = 0;
  private trimTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly maxIdleBytes: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A buffer of `length` bytes (contents undefined): a pooled one if any, else a new one. */
  take(length: number): Buffer {
    this.lastTakeAt = this.now();
    const reused = this.idle.get(length)?.pop();
    if (!reused) return allocPieceBuffer(length);
    this.pooled.delete(reused);
    this.idleBytes -= length;
    return reused;
  }

  /** Keeps `buffer` for reuse, unless the pool is full or the buffer shares its memory. */
  give(buffer: Buffer): void {
    if (!ownsItsMemory(buffer) || buffer.length === 0 || this.pooled.has(buffer)) return;
    if (this.idleBytes + buffer.length > this.maxIdleBytes) return;
    const list = this.idle.get(buffer.length) ?? [];
    list.push(buffer);
    this.idle.set(buffer.length, list);
    this.pooled.add(buffer);
    this.idleBytes += buffer.length;
    this.trimTimer ??= setTimeout(() => this.trimIfIdle(), POOL_IDLE_MS).unref();
  }

  get bytesIdle(): number {
    return this.idleBytes;
  }

  private trimIfIdle(): void {
    this.trimTimer = null;
    const quietFor = this.now() - this.lastTakeAt;
    if (quietFor < POOL_IDLE_MS) {
      this.trimTimer = setTimeout(() => this.trimIfIdle(), POOL_IDLE_MS - quietFor).unref();
      return;
    }
    this.idle.clear();
    this.pooled.clear();
    this.idleBytes = 0;
  }
}
