import {
  HANDSHAKE_LENGTH,
  MessageId,
  PROTOCOL_NAME,
  type Handshake,
  type PeerMessage,
} from './messages';
import { ProtocolError } from './protocol-error';

const PROTOCOL_BYTES = Buffer.from(PROTOCOL_NAME, 'latin1');

/** The biggest message we accept: a 16 KiB block is the norm, 128 KiB what some send. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024 + 13;

export function encodeHandshake(h: Handshake): Uint8Array {
  const out = Buffer.allocUnsafe(HANDSHAKE_LENGTH);
  out[0] = 19;
  PROTOCOL_BYTES.copy(out, 1);
  out.set(h.reserved.subarray(0, 8), 20);
  out.set(h.infoHash.subarray(0, 20), 28);
  out.set(h.peerId.subarray(0, 20), 48);
  return out;
}

function fixed(id: number, payloadLength: number): Buffer {
  const out = Buffer.allocUnsafe(5 + payloadLength);
  out.writeUInt32BE(1 + payloadLength, 0);
  out[4] = id;
  return out;
}

function triple(id: number, a: number, b: number, c: number): Buffer {
  const out = fixed(id, 12);
  out.writeUInt32BE(a, 5);
  out.writeUInt32BE(b, 9);
  out.writeUInt32BE(c, 13);
  return out;
}

function withPayload(id: number, payload: Uint8Array, prefix?: number): Buffer {
  const extra = prefix === undefined ? 0 : 1;
  const out = fixed(id, extra + payload.length);
  if (prefix !== undefined) out[5] = prefix;
  out.set(payload, 5 + extra);
  return out;
}

export function encodeMessage(m: PeerMessage): Uint8Array {
  switch (m.type) {
    case 'keep-alive':
      return Buffer.alloc(4);
    case 'choke':
      return fixed(MessageId.choke, 0);
    case 'unchoke':
      return fixed(MessageId.unchoke, 0);
    case 'interested':
      return fixed(MessageId.interested, 0);
    case 'not-interested':
      return fixed(MessageId.notInterested, 0);
    case 'have-all':
      return fixed(MessageId.haveAll, 0);
    case 'have-none':
      return fixed(MessageId.haveNone, 0);
    case 'have':
    case 'suggest':
    case 'allowed-fast': {
      const id =
        m.type === 'have'
          ? MessageId.have
          : m.type === 'suggest'
            ? MessageId.suggest
            : MessageId.allowedFast;
      const out = fixed(id, 4);
      out.writeUInt32BE(m.index, 5);
      return out;
    }
    case 'bitfield':
      return withPayload(MessageId.bitfield, m.bitfield);
    case 'request':
      return triple(MessageId.request, m.index, m.begin, m.length);
    case 'cancel':
      return triple(MessageId.cancel, m.index, m.begin, m.length);
    case 'reject':
      return triple(MessageId.reject, m.index, m.begin, m.length);
    case 'piece': {
      const out = Buffer.allocUnsafe(13 + m.block.length);
      out.set(encodePieceHeader(m.index, m.begin, m.block.length), 0);
      out.set(m.block, 13);
      return out;
    }
    case 'port': {
      const out = fixed(MessageId.port, 2);
      out.writeUInt16BE(m.port, 5);
      return out;
    }
    case 'extended':
      return withPayload(MessageId.extended, m.payload, m.id);
    case 'unknown':
      return withPayload(m.id, m.payload);
  }
}

/** The 13 bytes before a block, so a block can be written without being copied. */
export function encodePieceHeader(index: number, begin: number, blockLength: number): Uint8Array {
  const out = Buffer.allocUnsafe(13);
  out.writeUInt32BE(9 + blockLength, 0);
  out[4] = MessageId.piece;
  out.writeUInt32BE(index, 5);
  out.writeUInt32BE(begin, 9);
  return out;
}

/** Many requests in one buffer: one socket write instead of one per block. */
export function encodeRequests(
  requests: readonly { index: number; begin: number; length: number }[],
): Uint8Array {
  const out = Buffer.allocUnsafe(17 * requests.length);
  let at = 0;
  for (const r of requests) {
    out.writeUInt32BE(13, at);
    out[at + 4] = MessageId.request;
    out.writeUInt32BE(r.index, at + 5);
    out.writeUInt32BE(r.begin, at + 9);
    out.writeUInt32BE(r.length, at + 13);
    at += 17;
  }
  return out;
}

export type WireItem =
  { kind: 'handshake'; handshake: Handshake } | { kind: 'message'; message: PeerMessage };

/**
 * Bytes in, messages out: pure and incremental, no sockets (STYLE.md 9). A message that fits
 * inside one received chunk is decoded without copying (a piece's block is a view of the
 * chunk); only a message split across chunks is assembled into a buffer of its own. A length
 * prefix over the limit throws before anything is buffered.
 *
 * Frames are found by offsets into the chunks rather than by slicing them: a Buffer view costs
 * more than the 16 KiB copy it saves (four per block, with their garbage, were half the
 * decoder's time), so each block makes exactly one view, a plain Uint8Array.
 */
export class WireDecoder {
  private readonly maxMessageBytes: number;
  private expectHandshake: boolean;
  /** Unconsumed received bytes, as a list of chunks (never concatenated wholesale). */
  private chunks: Buffer[] = [];
  /** Bytes of chunks[0] already consumed. */
  private head = 0;
  private buffered = 0;
  private readonly out: WireItem[] = [];
  /** During a transient push, the memory its chunk lives in (see `push`). */
  private transientMemory: ArrayBufferLike | null = null;
  /** Where `takeFrame` left the frame it took: `frame[frameAt ..]`. */
  private frame: Buffer = EMPTY;
  private frameAt = 0;
  /**
   * A frame's first bytes, left at the end of a transient push, copied to the start of a buffer
   * big enough for the whole frame (see keepLeftover): chunks[0] is then a view of its start,
   * and takeFrame fills in the rest there rather than copying the frame a second time.
   */
  private assembly: Buffer | null = null;
  /**
   * Two assembly buffers for blocks, used in turn: the one used last may hold the block that
   * the caller has not taken yet. Made at the first block split across reads.
   */
  private spares: [Buffer, Buffer] | null = null;
  private spareTurn = 0;

  constructor(opts: { maxMessageBytes?: number; expectHandshake?: boolean } = {}) {
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.expectHandshake = opts.expectHandshake ?? true;
  }

  /**
   * Decodes what it can from `chunk`; the results come out of `next()`. Throws ProtocolError.
   *
   * `transient`: the caller reuses the chunk's memory once it has taken every decoded item
   * (a socket reading into one shared buffer). Bytes left for the next push are then copied,
   * and so is every item except a piece's block: that stays a view of `chunk`, valid only until
   * the caller's next push, so it must be copied or dropped by then (the block scheduler copies
   * it into its piece).
   */
  push(chunk: Uint8Array, transient = false): void {
    if (chunk.length === 0) return;
    const own = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    this.chunks.push(own);
    this.buffered += chunk.length;
    this.transientMemory = transient ? chunk.buffer : null;
    try {
      this.drain();
    } finally {
      if (transient) {
        // Whatever is left of the chunk lives on in a copy; earlier chunks are already owned.
        const last = this.chunks.length - 1;
        if (last === 0 && this.chunks[0]!.buffer === chunk.buffer) this.keepLeftover();
        else if (last > 0 && this.chunks[last]!.buffer === chunk.buffer)
          this.chunks[last] = Buffer.from(this.chunks[last]!);
        this.transientMemory = null;
      }
    }
  }

  /**
   * Copies the start of the next frame, all that is left of a transient chunk, out of it. For a
   * piece message no bigger than a 16 KiB block's, the copy goes to the start of a spare buffer
   * that the rest of the frame is then written behind (see takeFrame): at 16 KiB blocks and
   * 64-128 KiB reads, most reads end inside a block, and each such block cost two allocations
   * and two copies more than the one copy into its piece. Anything else is copied as it is:
   * small messages cost little, and a big one is buffered only as far as it arrived, not as far
   * as its length prefix promises.
   */
  private keepLeftover(): void {
    const left = this.chunks[0]!.subarray(this.head);
    this.head = 0;
    const isBlock = !this.expectHandshake && left.length > 4 && left[4] === MessageId.piece;
    const frameBytes = isBlock ? 4 + left.readUInt32BE(0) : 0;
    if (!isBlock || frameBytes > BLOCK_FRAME_BYTES) {
      this.chunks[0] = Buffer.from(left);
      return;
    }
    // Their own memory, not slices of Node's shared pool.
    this.spares ??= [
      Buffer.allocUnsafeSlow(BLOCK_FRAME_BYTES),
      Buffer.allocUnsafeSlow(BLOCK_FRAME_BYTES),
    ];
    this.spareTurn ^= 1;
    const spare = this.spares[this.spareTurn]!;
    left.copy(spare);
    this.assembly = spare;
    this.chunks[0] = spare.subarray(0, left.length);
  }

  next(): WireItem | undefined {
    return this.out.shift();
  }

  /** Every decoded item at once (for callers that process a whole chunk in a loop). */
  takeAll(): WireItem[] {
    return this.out.splice(0, this.out.length);
  }

  private drain(): void {
    for (;;) {
      if (this.expectHandshake) {
        if (this.buffered < 1) return;
        const pstrlen = this.peekByte(0);
        if (pstrlen !== 19)
          throw new ProtocolError(`handshake: protocol name length ${pstrlen}, expected 19`);
        // Refuse a wrong protocol name as soon as its bytes are here (PW-02), not 68 bytes later.
        const known = Math.min(this.buffered, 20);
        for (let i = 1; i < known; i++)
          if (this.peekByte(i) !== PROTOCOL_BYTES[i - 1])
            throw new ProtocolError('handshake: not "BitTorrent protocol"');
        if (this.buffered < HANDSHAKE_LENGTH) return;
        this.takeFrame(HANDSHAKE_LENGTH);
        const bytes = Buffer.from(this.frame.subarray(this.frameAt, this.frameAt + 68));
        this.out.push({
          kind: 'handshake',
          handshake: {
            reserved: bytes.subarray(20, 28),
            infoHash: bytes.subarray(28, 48),
            peerId: bytes.subarray(48, 68),
          },
        });
        this.expectHandshake = false;
        continue;
      }
      if (this.buffered < 4) return;
      const length = this.peekUInt32(0);
      if (length > this.maxMessageBytes)
        throw new ProtocolError(
          `message of ${length} bytes exceeds the ${this.maxMessageBytes}-byte limit`,
        );
      if (this.buffered < 4 + length) return;
      this.takeFrame(4 + length);
      let frame = this.frame;
      let at = this.frameAt + 4;
      // A block is copied by whoever takes it; everything else is kept as is, so it is copied
      // here when the memory under it is about to be reused.
      // (A spare assembly buffer only ever holds a piece message: see keepLeftover.)
      if (length > 0 && frame[at] !== MessageId.piece && frame.buffer === this.transientMemory) {
        frame = Buffer.from(frame.subarray(at, at + length));
        at = 0;
      }
      this.out.push({ kind: 'message', message: decodeFrameAt(frame, at, at + length) });
    }
  }

  private peekByte(at: number): number {
    let offset = at + this.head;
    for (const c of this.chunks) {
      if (offset < c.length) return c[offset]!;
      offset -= c.length;
    }
    return -1;
  }

  private peekUInt32(at: number): number {
    const first = this.chunks[0]!;
    const from = this.head + at;
    if (first.length >= from + 4) return first.readUInt32BE(from);
    return (
      ((this.peekByte(at) << 24) >>> 0) +
      (this.peekByte(at + 1) << 16) +
      (this.peekByte(at + 2) << 8) +
      this.peekByte(at + 3)
    );
  }

  /**
   * Removes `n` bytes from the front and leaves them at `frame[frameAt ..]`: in place when they
   * lie in one chunk, else copied into a buffer of their own.
   */
  private takeFrame(n: number): void {
    this.buffered -= n;
    const first = this.chunks[0]!;
    const left = first.length - this.head;
    if (left >= n) {
      this.frame = first;
      this.frameAt = this.head;
      if (left === n) {
        this.chunks.shift();
        this.head = 0;
      } else {
        this.head += n;
      }
      return;
    }
    // Straddles chunks: the one copy. Whole chunks are dropped with a single splice, so a
    // message that arrived in many tiny chunks costs linear, not quadratic, time. A frame whose
    // start keepLeftover put in an assembly buffer is completed in place.
    const assembly = this.assembly;
    this.assembly = null;
    const inPlace = assembly !== null && first.buffer === assembly.buffer && this.head === 0;
    const out = inPlace ? assembly.subarray(0, n) : Buffer.allocUnsafe(n);
    if (!inPlace) first.copy(out, 0, this.head);
    let filled = left;
    let used = 1;
    this.head = 0;
    while (filled < n) {
      const c = this.chunks[used]!;
      const want = n - filled;
      if (c.length <= want) {
        c.copy(out, filled);
        filled += c.length;
        used++;
      } else {
        c.copy(out, filled, 0, want);
        this.head = want;
        filled += want;
      }
    }
    this.chunks.splice(0, used);
    this.frame = out;
    this.frameAt = 0;
  }
}

const EMPTY = Buffer.alloc(0);
/** A piece message carrying a 16 KiB block, length prefix included: what assembly spares hold. */
const BLOCK_FRAME_BYTES = 4 + 9 + 16 * 1024;

function expectSize(size: number, n: number, name: string): void {
  if (size !== n)
    throw new ProtocolError(`${name} message with ${size} payload bytes, expected ${n}`);
}

/** One message body (after the length prefix). Sizes are checked per type. */
export function decodeFrame(body: Buffer): PeerMessage {
  return decodeFrameAt(body, 0, body.length);
}

/** The message body at `bytes[start, end)`; payloads are views of `bytes`. */
function decodeFrameAt(bytes: Buffer, start: number, end: number): PeerMessage {
  if (end === start) return { type: 'keep-alive' };
  const id = bytes[start]!;
  const size = end - start - 1;
  switch (id) {
    case MessageId.choke:
      expectSize(size, 0, 'choke');
      return { type: 'choke' };
    case MessageId.unchoke:
      expectSize(size, 0, 'unchoke');
      return { type: 'unchoke' };
    case MessageId.interested:
      expectSize(size, 0, 'interested');
      return { type: 'interested' };
    case MessageId.notInterested:
      expectSize(size, 0, 'not interested');
      return { type: 'not-interested' };
    case MessageId.haveAll:
      expectSize(size, 0, 'have all');
      return { type: 'have-all' };
    case MessageId.haveNone:
      expectSize(size, 0, 'have none');
      return { type: 'have-none' };
    case MessageId.have:
      expectSize(size, 4, 'have');
      return { type: 'have', index: bytes.readUInt32BE(start + 1) };
    case MessageId.suggest:
      expectSize(size, 4, 'suggest');
      return { type: 'suggest', index: bytes.readUInt32BE(start + 1) };
    case MessageId.allowedFast:
      expectSize(size, 4, 'allowed fast');
      return { type: 'allowed-fast', index: bytes.readUInt32BE(start + 1) };
    case MessageId.bitfield:
      return { type: 'bitfield', bitfield: bytes.subarray(start + 1, end) };
    case MessageId.request:
    case MessageId.cancel:
    case MessageId.reject: {
      const name =
        id === MessageId.request ? 'request' : id === MessageId.cancel ? 'cancel' : 'reject';
      expectSize(size, 12, name);
      return {
        type: name,
        index: bytes.readUInt32BE(start + 1),
        begin: bytes.readUInt32BE(start + 5),
        length: bytes.readUInt32BE(start + 9),
      };
    }
    case MessageId.piece:
      if (size < 8)
        throw new ProtocolError(`piece message with ${size} payload bytes, expected at least 8`);
      return {
        type: 'piece',
        index: bytes.readUInt32BE(start + 1),
        begin: bytes.readUInt32BE(start + 5),
        block: new Uint8Array(bytes.buffer, bytes.byteOffset + start + 9, size - 8),
      };
    case MessageId.port:
      expectSize(size, 2, 'port');
      return { type: 'port', port: bytes.readUInt16BE(start + 1) };
    case MessageId.extended:
      if (size < 1) throw new ProtocolError('extended message without an extension id');
      return { type: 'extended', id: bytes[start + 1]!, payload: bytes.subarray(start + 2, end) };
    default:
      return { type: 'unknown', id, payload: bytes.subarray(start + 1, end) };
  }
}
