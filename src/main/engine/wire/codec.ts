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
 */
export class WireDecoder {
  private readonly maxMessageBytes: number;
  private expectHandshake: boolean;
  /** Unconsumed received bytes, as a list of chunks (never concatenated wholesale). */
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly out: WireItem[] = [];
  /** During a transient push, the memory its chunk lives in (see `push`). */
  private transientMemory: ArrayBufferLike | null = null;

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
        if (last >= 0 && this.chunks[last]!.buffer === chunk.buffer)
          this.chunks[last] = Buffer.from(this.chunks[last]!);
        this.transientMemory = null;
      }
    }
  }

  /** A decoded frame or handshake that may outlive the push: copied off reused memory. */
  private keep(bytes: Buffer): Buffer {
    return bytes.buffer === this.transientMemory ? Buffer.from(bytes) : bytes;
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
        const bytes = this.keep(this.take(HANDSHAKE_LENGTH));
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
      const frame = this.take(4 + length);
      // A block is copied by whoever takes it; everything else is kept as is, so it is copied
      // here when the memory under it is about to be reused.
      const body = length > 0 && frame[4] === MessageId.piece ? frame : this.keep(frame);
      this.out.push({ kind: 'message', message: decodeFrame(body.subarray(4)) });
    }
  }

  private peekByte(at: number): number {
    let offset = at;
    for (const c of this.chunks) {
      if (offset < c.length) return c[offset]!;
      offset -= c.length;
    }
    return -1;
  }

  private peekUInt32(at: number): number {
    const first = this.chunks[0]!;
    if (first.length >= at + 4) return first.readUInt32BE(at);
    return (
      ((this.peekByte(at) << 24) >>> 0) +
      (this.peekByte(at + 1) << 16) +
      (this.peekByte(at + 2) << 8) +
      this.peekByte(at + 3)
    );
  }

  /** Removes `n` bytes from the front: a view when they lie in one chunk, else a copy. */
  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0]!;
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    // Straddles chunks: the one copy. Whole chunks are dropped with a single splice, so a
    // message that arrived in many tiny chunks costs linear, not quadratic, time.
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let used = 0;
    while (filled < n) {
      const c = this.chunks[used]!;
      const want = n - filled;
      if (c.length <= want) {
        c.copy(out, filled);
        filled += c.length;
        used++;
      } else {
        c.copy(out, filled, 0, want);
        this.chunks[used] = c.subarray(want);
        filled += want;
      }
    }
    this.chunks.splice(0, used);
    return out;
  }
}

/** One message body (after the length prefix). Sizes are checked per type. */
export function decodeFrame(body: Buffer): PeerMessage {
  if (body.length === 0) return { type: 'keep-alive' };
  const id = body[0]!;
  const size = body.length - 1;
  const expect = (n: number, name: string) => {
    if (size !== n)
      throw new ProtocolError(`${name} message with ${size} payload bytes, expected ${n}`);
  };
  switch (id) {
    case MessageId.choke:
      expect(0, 'choke');
      return { type: 'choke' };
    case MessageId.unchoke:
      expect(0, 'unchoke');
      return { type: 'unchoke' };
    case MessageId.interested:
      expect(0, 'interested');
      return { type: 'interested' };
    case MessageId.notInterested:
      expect(0, 'not interested');
      return { type: 'not-interested' };
    case MessageId.haveAll:
      expect(0, 'have all');
      return { type: 'have-all' };
    case MessageId.haveNone:
      expect(0, 'have none');
      return { type: 'have-none' };
    case MessageId.have:
      expect(4, 'have');
      return { type: 'have', index: body.readUInt32BE(1) };
    case MessageId.suggest:
      expect(4, 'suggest');
      return { type: 'suggest', index: body.readUInt32BE(1) };
    case MessageId.allowedFast:
      expect(4, 'allowed fast');
      return { type: 'allowed-fast', index: body.readUInt32BE(1) };
    case MessageId.bitfield:
      return { type: 'bitfield', bitfield: body.subarray(1) };
    case MessageId.request:
    case MessageId.cancel:
    case MessageId.reject: {
      const name =
        id === MessageId.request ? 'request' : id === MessageId.cancel ? 'cancel' : 'reject';
      expect(12, name);
      return {
        type: name,
        index: body.readUInt32BE(1),
        begin: body.readUInt32BE(5),
        length: body.readUInt32BE(9),
      };
    }
    case MessageId.piece:
      if (size < 8)
        throw new ProtocolError(`piece message with ${size} payload bytes, expected at least 8`);
      return {
        type: 'piece',
        index: body.readUInt32BE(1),
        begin: body.readUInt32BE(5),
        block: body.subarray(9),
      };
    case MessageId.port:
      expect(2, 'port');
      return { type: 'port', port: body.readUInt16BE(1) };
    case MessageId.extended:
      if (size < 1) throw new ProtocolError('extended message without an extension id');
      return { type: 'extended', id: body[1]!, payload: body.subarray(2) };
    default:
      return { type: 'unknown', id, payload: body.subarray(1) };
  }
}
