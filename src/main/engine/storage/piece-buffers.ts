/**
 * Piece buffers for the download path: page-aligned slots of one shared memory.
 *
 * Why not `Buffer.allocUnsafeSlow` per piece:
 * - A slot is shared with the hashing worker, not transferred to it: no detach, no new
 *   ArrayBuffer per piece, no external-memory churn for the garbage collector.
 * - Its pages are touched once and reused; fresh memory costs a page fault per 4 KiB, which
 *   showed as most of the time spent copying blocks into 4 MiB pieces.
 * - Its address is page-aligned, so `FileStorage` can write it with O_DIRECT, which skips the
 *   page cache (the biggest CPU cost of a download on a VM: see file-storage.ts).
 */

/** Alignment that O_DIRECT needs on any Linux filesystem (memory, file offset and length). */
export const DIRECT_IO_ALIGNMENT = 4096;

const WASM_PAGE = 64 * 1024;

/** Memories made by arenas: a view on one of them has a page-aligned base address. */
const arenaMemories = new WeakSet<SharedArrayBuffer>();

/**
 * Whether `view`'s first byte sits at a DIRECT_IO_ALIGNMENT-aligned address. Only views on
 * arena memory are known to be; for any other buffer the address is unknowable from JS.
 */
export function isDirectIoAligned(view: Uint8Array): boolean {
  const { buffer } = view;
  return (
    buffer instanceof SharedArrayBuffer &&
    arenaMemories.has(buffer) &&
    view.byteOffset % DIRECT_IO_ALIGNMENT === 0
  );
}

/**
 * Fixed-size slots carved from one growable shared WebAssembly memory (page-aligned by
 * construction), handed out and taken back. It grows one slot at a time up to `maxSlots` and
 * never shrinks: its memory is freed with the arena. `take` returns null when full or when
 * shared memory is unavailable; the caller then allocates a plain buffer.
 */
export class PieceBufferArena {
  readonly slotBytes: number;
  private memory: WebAssembly.Memory | null = null;
  private failed = false;
  private slots = 0;
  private readonly free: number[] = [];
  /** The slot each handed-out view belongs to (a short last piece is a shorter view). */
  private readonly slotOf = new WeakMap<Uint8Array, number>();

  constructor(
    slotBytes: number,
    private readonly maxSlots: number,
  ) {
    this.slotBytes = Math.ceil(slotBytes / DIRECT_IO_ALIGNMENT) * DIRECT_IO_ALIGNMENT;
  }

  /** Slots made so far (each holds `slotBytes` of memory). */
  get slotCount(): number {
    return this.slots;
  }

  /** A buffer of `length` bytes (at most slotBytes), contents undefined; null if none. */
  take(length: number): Buffer | null {
    if (length > this.slotBytes || length <= 0) return null;
    let slot = this.free.pop();
    if (slot === undefined) {
      if (this.slots >= this.maxSlots || !this.grow()) return null;
      slot = this.slots++;
    }
    const memory = this.memory!.buffer as unknown as SharedArrayBuffer;
    arenaMemories.add(memory);
    const view = Buffer.from(memory, slot * this.slotBytes, length);
    this.slotOf.set(view, slot);
    return view;
  }

  /** Whether `view` is one of this arena's slots (as handed out by `take`). */
  owns(view: Uint8Array): boolean {
    return this.slotOf.has(view);
  }

  /** Takes a slot back; false if the view is not one this arena handed out (or is back already). */
  give(view: Uint8Array): boolean {
    const slot = this.slotOf.get(view);
    if (slot === undefined) return false;
    this.slotOf.delete(view);
    this.free.push(slot);
    return true;
  }

  private grow(): boolean {
    if (this.failed) return false;
    const neededPages = Math.ceil(((this.slots + 1) * this.slotBytes) / WASM_PAGE);
    try {
      if (!this.memory) {
        this.memory = new WebAssembly.Memory({
          initial: neededPages,
          maximum: Math.ceil((this.maxSlots * this.slotBytes) / WASM_PAGE),
          shared: true,
        });
        return true;
      }
      const have = this.memory.buffer.byteLength / WASM_PAGE;
      if (neededPages > have) this.memory.grow(neededPages - have);
      return true;
    } catch {
      // No shared memory here (or no address space): plain buffers from now on.
      this.failed = true;
      return false;
    }
  }
}
