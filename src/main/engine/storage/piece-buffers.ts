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
  const { buffer, byteOffset, byteLength } = view;
  if (buffer instanceof ArrayBuffer && byteOffset === 0 && byteLength === buffer.byteLength)
    return Buffer.from(buffer, 0, byteLength);
  const own = Buffer.allocUnsafeSlow(byteLength);
  own.set(view);
  return own;
}
