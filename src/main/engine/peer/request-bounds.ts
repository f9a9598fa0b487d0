// Bounds checks for requests and blocks. The connection only emits them; whether a block fits
// is the torrent's question (it knows piece sizes), and these are the answers it can reuse.

/** The block size every current client requests (BEP 3). */
export const BLOCK_BYTES = 16 * 1024;
/** Requests above this are refused but not fatal; above MAX_REQUEST_BYTES the peer is closed. */
export const MAX_REQUEST_BYTES = 128 * 1024;

export interface BlockRange {
  index: number;
  begin: number;
  length: number;
}

/** What the torrent knows about its pieces. */
export interface PieceBounds {
  pieceCount: number;
  /** Bytes in piece `index` (the last one may be short). */
  pieceLength(index: number): number;
}

export type RequestVerdict =
  | { ok: true }
  /** `fatal`: close the peer; otherwise reject (fast) or ignore the request, and count it. */
  | { ok: false; fatal: boolean; reason: string };

/**
 * An incoming request (PW-13, AD-27): a piece that exists, 0 < length ≤ 16 KiB, inside the
 * piece. 16–128 KiB is refused without closing (wiki.theory.org allows up to 2^17); more closes.
 * Whether we have the piece and whether the peer is unchoked is for the caller to add.
 */
export function checkRequest(r: BlockRange, bounds: PieceBounds): RequestVerdict {
  if (r.length > MAX_REQUEST_BYTES)
    return { ok: false, fatal: true, reason: `request of ${r.length} bytes` };
  if (r.index >= bounds.pieceCount)
    return {
      ok: false,
      fatal: false,
      reason: `request for piece ${r.index} of ${bounds.pieceCount}`,
    };
  if (r.length === 0) return { ok: false, fatal: false, reason: 'request of 0 bytes' };
  if (r.length > BLOCK_BYTES)
    return { ok: false, fatal: false, reason: `request of ${r.length} bytes (over 16 KiB)` };
  const size = bounds.pieceLength(r.index);
  if (r.begin >= size || r.begin + r.length > size)
    return {
      ok: false,
      fatal: false,
      reason: `request ${r.begin}+${r.length} past the end of piece ${r.index} (${size} bytes)`,
    };
  return { ok: true };
}

/** An incoming block lies inside its piece (PW-05: a piece payload is at most 16 KiB). */
export function blockFitsPiece(
  index: number,
  begin: number,
  blockLength: number,
  bounds: PieceBounds,
): boolean {
  if (index >= bounds.pieceCount || blockLength === 0 || blockLength > BLOCK_BYTES) return false;
  const size = bounds.pieceLength(index);
  return begin < size && begin + blockLength <= size;
}

/**
 * The blocks of one piece as we request them (PW-12): 16 KiB each at multiples of 16 KiB, the
 * last one short when the piece is (PF-08).
 */
export function blocksOfPiece(index: number, pieceLength: number): BlockRange[] {
  const out: BlockRange[] = [];
  for (let begin = 0; begin < pieceLength; begin += BLOCK_BYTES)
    out.push({ index, begin, length: Math.min(BLOCK_BYTES, pieceLength - begin) });
  return out;
}
