import { createHash } from 'node:crypto';
import { bdecode } from '../bencode/decode';
import { bencode } from '../bencode/encode';

/** Metadata travels in pieces of this size; only the last may be shorter (MD-02). */
export const METADATA_PIECE_SIZE = 16 * 1024;

/** The messages of BEP 9's `ut_metadata` extension. */
export type MetadataMessage =
  | { type: 'request'; piece: number }
  | { type: 'data'; piece: number; totalSize: number; data: Uint8Array }
  | { type: 'reject'; piece: number };

const MSG_TYPE = { request: 0, data: 1, reject: 2 } as const;

export function encodeMetadataMessage(m: MetadataMessage): Uint8Array {
  const dict: Record<string, number> = { msg_type: MSG_TYPE[m.type], piece: m.piece };
  if (m.type !== 'data') return bencode(dict);
  dict.total_size = m.totalSize;
  return Buffer.concat([bencode(dict), m.data]);
}

/**
 * Reads one `ut_metadata` payload: a bencoded dict, followed by the raw piece for `data`
 * (MD-04: split at the dict's end as the decoder measured it, never by searching for "ee").
 * Null for anything malformed or of an unknown msg_type, which BEP 9 says to ignore.
 */
export function decodeMetadataMessage(payload: Uint8Array): MetadataMessage | null {
  let decoded;
  try {
    decoded = bdecode(payload, { allowTrailing: true, maxDepth: 4 });
  } catch {
    return null;
  }
  const dict = decoded.value;
  if (!(dict instanceof Map)) return null;
  const type = dict.get('msg_type');
  const piece = dict.get('piece');
  if (typeof piece !== 'number' || !Number.isInteger(piece) || piece < 0) return null;
  switch (type) {
    case MSG_TYPE.request:
      return { type: 'request', piece };
    case MSG_TYPE.reject:
      return { type: 'reject', piece };
    case MSG_TYPE.data: {
      const totalSize = dict.get('total_size');
      if (typeof totalSize !== 'number' || !Number.isInteger(totalSize) || totalSize <= 0)
        return null;
      return { type: 'data', piece, totalSize, data: payload.subarray(decoded.consumed) };
    }
    default:
      return null;
  }
}

export function metadataPieceCount(size: number): number {
  return Math.ceil(size / METADATA_PIECE_SIZE);
}

/** Why a data message cannot be part of metadata of `size` bytes (MD-02), or null. */
export function metadataPieceProblem(
  size: number,
  m: { piece: number; totalSize: number; data: Uint8Array },
): string | null {
  const count = metadataPieceCount(size);
  if (m.totalSize !== size) return `total_size ${m.totalSize} differs from metadata_size ${size}`;
  if (m.piece >= count) return `piece ${m.piece} of ${count}`;
  const expected =
    m.piece === count - 1 ? size - METADATA_PIECE_SIZE * (count - 1) : METADATA_PIECE_SIZE;
  if (m.data.length !== expected)
    return `piece ${m.piece} has ${m.data.length} bytes, expected ${expected}`;
  return null;
}

/**
 * The info dict being put together from pieces that may come from different peers. When the
 * last piece is in, the whole is checked against the info-hash; a mismatch throws everything
 * away (MD-05), and the peers that contributed are reported so they can be avoided.
 */
export class MetadataAssembler {
  readonly pieceCount: number;
  private readonly buffer: Uint8Array;
  private readonly received: boolean[];
  private readonly sources: (string | null)[];
  private receivedCount = 0;

  constructor(
    readonly size: number,
    private readonly infoHash: Uint8Array,
  ) {
    this.pieceCount = metadataPieceCount(size);
    this.buffer = new Uint8Array(size);
    this.received = new Array<boolean>(this.pieceCount).fill(false);
    this.sources = new Array<string | null>(this.pieceCount).fill(null);
  }

  get progress(): number {
    return this.receivedCount / this.pieceCount;
  }

  has(piece: number): boolean {
    return this.received[piece] === true;
  }

  /** The missing pieces, lowest first. */
  missing(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.pieceCount; i++) if (!this.received[i]) out.push(i);
    return out;
  }

  /**
   * Adds a piece already checked with metadataPieceProblem. Returns the verified info bytes
   * when this completed them, 'bad-hash' (with the peers to blame) when the whole did not match,
   * or null while pieces are missing.
   */
  add(piece: number, data: Uint8Array, from: string): Uint8Array | { badHash: string[] } | null {
    if (this.received[piece]) return null;
    this.buffer.set(data, piece * METADATA_PIECE_SIZE);
    this.received[piece] = true;
    this.sources[piece] = from;
    if (++this.receivedCount < this.pieceCount) return null;
    const digest = createHash('sha1').update(this.buffer).digest();
    if (Buffer.compare(digest, this.infoHash) === 0) return this.buffer;
    const blamed = [...new Set(this.sources.filter((s): s is string => s !== null))];
    this.received.fill(false);
    this.sources.fill(null);
    this.receivedCount = 0;
    return { badHash: blamed };
  }
}
