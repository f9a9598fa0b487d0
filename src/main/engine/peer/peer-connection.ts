import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { bitfieldLength, countBits, hasBit, hasSpareBits, setBit } from '../picker/bitfield';
import {
  encodeHandshake,
  encodeMessage,
  encodePieceHeader,
  encodeRequests,
  WireDecoder,
} from '../wire/codec';
import {
  RESERVED_DHT,
  RESERVED_EXTENSION_PROTOCOL,
  RESERVED_FAST_EXTENSION,
  type PeerMessage,
} from '../wire/messages';
import { ProtocolError } from '../wire/protocol-error';
import { takeReads } from './shared-read-buffer';

export interface PeerConnectionOptions {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  /**
   * Pieces in the torrent; null while we do not know (a magnet link before its metadata): then
   * bitfield and have messages are passed on unchecked and not recorded.
   */
  pieceCount: number | null;
  /** We dialled: our handshake goes first. Incoming: we answer theirs. */
  outgoing: boolean;
  /** Advertise the BEP 10 extension protocol. */
  extensions?: boolean;
  /** Advertise the BEP 6 Fast extension. */
  fast?: boolean;
  /** Advertise that we run a DHT node (BEP 5). */
  dht?: boolean;
  /** No handshake from the peer this long after `start()` closes the connection (PW-17: 10 s). */
  handshakeTimeoutMs?: number;
  /** Nothing at all received for this long closes the connection (PW-17: 120 s). */
  idleTimeoutMs?: number;
  /** Nothing sent for this long sends a keep-alive (60 s). */
  keepAliveIntervalMs?: number;
  /** Bytes queued in the socket above which `writableNeedsDrain` is true. */
  highWaterMarkBytes?: number;
}

/**
 * The whole event set, kept small on purpose:
 * - `handshake`: the peer's handshake was accepted (right torrent, not ourselves). Both arrays
 *   are copies the listener may keep.
 * - `message`: every accepted message after the handshake, after the connection has applied it
 *   to its own state (flags, `peerBitfield`). Views in it (`block`, `bitfield`, `payload`) point
 *   into a received chunk: copy what must outlive the listener call. `unknown` ids are counted
 *   and not emitted (PW-06).
 * - `close`: exactly once, with the reason; nothing is emitted after it.
 */
export interface PeerConnectionEvents {
  handshake: [peerId: Uint8Array, reserved: Uint8Array];
  message: [message: PeerMessage];
  close: [reason: string];
}

/** More unknown message ids than this closes the peer (PW-06). */
export const MAX_UNKNOWN_MESSAGES = 10;

/**
 * One peer over any Duplex (a TCP socket, or an in-memory pair in tests): the handshake, the
 * four choke/interest flags, the rules a message must follow to be accepted, keep-alives and
 * timeouts. What the messages mean for the download is the swarm's business.
 */
export class PeerConnection extends EventEmitter<PeerConnectionEvents> {
  amChoking = true;
  amInterested = false;
  peerChoking = true;
  peerInterested = false;
  peerId: Uint8Array | null = null;
  /** Both sides set the Fast extension bit (BEP 6): have-all/none, reject, allowed-fast apply. */
  fastExtension = false;
  /** The peer's pieces, one bit per piece, high bit first (PW-08); all clear until it tells us. */
  readonly peerBitfield: Uint8Array;
  /** How many bits of `peerBitfield` are set (a repeated `have` counts once, PW-09). */
  peerPieceCount = 0;
  /** Messages with ids we do not know, skipped (PW-06). */
  unknownMessagesReceived = 0;
  /** Payload bytes of piece messages, and all bytes, each way. */
  payloadBytesReceived = 0;
  payloadBytesSent = 0;
  bytesReceived = 0;
  bytesSent = 0;
  private closedReason: string | null = null;
  private handshakeReceived = false;
  private handshakeSent = false;
  private pieceMessagesReceived = 0;
  private readonly decoder = new WireDecoder();
  private lastReceivedAt = Date.now();
  private lastSentAt = Date.now();
  private timer: NodeJS.Timeout | null = null;
  /** The socket is corked until the end of this turn of the event loop (see `write`). */
  private corked = false;
  private readonly opts: Required<Omit<PeerConnectionOptions, 'extensions' | 'fast' | 'dht'>> & {
    extensions: boolean;
    fast: boolean;
    dht: boolean;
  };

  constructor(
    private readonly socket: Duplex,
    options: PeerConnectionOptions,
  ) {
    super();
    this.opts = {
      extensions: false,
      fast: false,
      dht: false,
      handshakeTimeoutMs: 10_000,
      idleTimeoutMs: 120_000,
      keepAliveIntervalMs: 60_000,
      highWaterMarkBytes: 1024 * 1024,
      ...options,
    };
    this.peerBitfield = new Uint8Array(bitfieldLength(options.pieceCount ?? 0));
    // Requests and small control messages must not wait for Nagle's delayed ACK.
    if (socket instanceof net.Socket) socket.setNoDelay(true);
  }

  get closed(): boolean {
    return this.closedReason !== null;
  }

  /** The socket has more queued than it should: wait for `drained()` before sending more data. */
  get writableNeedsDrain(): boolean {
    return this.socket.writableLength > this.opts.highWaterMarkBytes;
  }

  drained(): Promise<void> {
    if (!this.writableNeedsDrain || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.on('close', done);
    });
  }

  start(): void {
    const { socket } = this;
    // A dialled socket reads into the shared buffer (its chunks are reused once handled);
    // any other stream emits 'data' in buffers of its own.
    if (!takeReads(socket, (chunk) => this.onData(chunk, true)))
      socket.on('data', (chunk: Buffer) => this.onData(chunk, false));
    socket.on('error', (err: Error) => this.close(`socket error: ${err.message}`));
    socket.on('end', () => this.close('peer closed the connection'));
    socket.on('close', () => this.close('connection closed'));
    // The session paused an incoming socket while it read the handshake's info-hash.
    socket.resume();
    if (this.opts.outgoing) this.sendHandshake();
    const started = Date.now();
    // Check often enough for the shortest timer (tests use tens of ms), but at most once a second.
    const { handshakeTimeoutMs, idleTimeoutMs, keepAliveIntervalMs } = this.opts;
    const tickMs = Math.max(
      10,
      Math.min(1000, handshakeTimeoutMs / 2, idleTimeoutMs / 2, keepAliveIntervalMs / 2),
    );
    this.timer = setInterval(() => this.onTimer(started), tickMs);
    this.timer.unref();
  }

  /**
   * Sends one message and updates our choke/interest flags to match. Returns false once the
   * socket holds more than `highWaterMarkBytes`: the caller should wait for `drained()` before
   * sending more data (the message itself is queued either way).
   */
  send(m: PeerMessage): boolean {
    if (this.closed) return false;
    switch (m.type) {
      case 'choke':
        this.amChoking = true;
        break;
      case 'unchoke':
        this.amChoking = false;
        break;
      case 'interested':
        this.amInterested = true;
        break;
      case 'not-interested':
        this.amInterested = false;
        break;
      default:
        break;
    }
    this.write(encodeMessage(m));
    return !this.writableNeedsDrain;
  }

  /** Several requests in one write. Same return value as `send`. */
  sendRequests(requests: readonly { index: number; begin: number; length: number }[]): boolean {
    if (this.closed) return false;
    if (requests.length > 0) this.write(encodeRequests(requests));
    return !this.writableNeedsDrain;
  }

  /**
   * A block goes out as header + block, without copying the block into a new message (the
   * turn's cork sends them in one write: see `write`). Same return value as `send`. The block
   * must not change until the socket has written it.
   */
  sendPiece(index: number, begin: number, block: Uint8Array): boolean {
    if (this.closed) return false;
    this.write(encodePieceHeader(index, begin, block.length));
    this.write(block);
    this.payloadBytesSent += block.length;
    return !this.writableNeedsDrain;
  }

  close(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    if (this.timer) clearInterval(this.timer);
    // What was sent before the close still goes out (a reject, a last have).
    this.uncork();
    this.socket.destroy();
    this.emit('close', reason);
  }

  /**
   * Everything sent during one turn of the event loop leaves in one write: the socket is corked
   * at the turn's first message and uncorked after the turn's I/O callbacks (setImmediate).
   * On loopback a write to a socket costs a system call plus the receiver's whole TCP receive
   * path, and the profile showed one write per request batch and per `have` taking 18 % of the
   * main thread; a turn's requests, haves and cancels to one peer now share one.
   */
  private write(bytes: Uint8Array): void {
    this.bytesSent += bytes.length;
    this.lastSentAt = Date.now();
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(this.uncorkAtTurnEnd);
    }
    this.socket.write(bytes);
  }

  private readonly uncorkAtTurnEnd = (): void => this.uncork();

  private uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  private sendHandshake(): void {
    if (this.handshakeSent) return;
    this.handshakeSent = true;
    const reserved = new Uint8Array(8);
    if (this.opts.extensions)
      reserved[RESERVED_EXTENSION_PROTOCOL.byte] = RESERVED_EXTENSION_PROTOCOL.mask;
    if (this.opts.fast) reserved[RESERVED_FAST_EXTENSION.byte]! |= RESERVED_FAST_EXTENSION.mask;
    if (this.opts.dht) reserved[RESERVED_DHT.byte]! |= RESERVED_DHT.mask;
    this.write(
      encodeHandshake({ reserved, infoHash: this.opts.infoHash, peerId: this.opts.peerId }),
    );
  }

  private onTimer(startedAt: number): void {
    const now = Date.now();
    if (!this.handshakeReceived && now - startedAt > this.opts.handshakeTimeoutMs) {
      this.close('no handshake in time');
      return;
    }
    if (now - this.lastReceivedAt > this.opts.idleTimeoutMs) {
      this.close(`nothing received for ${Math.round(this.opts.idleTimeoutMs / 1000)} s`);
      return;
    }
    if (this.handshakeSent && now - this.lastSentAt > this.opts.keepAliveIntervalMs)
      this.send({ type: 'keep-alive' });
  }

  /** `transient`: the chunk's memory is reused after this returns (see WireDecoder.push). */
  private onData(chunk: Buffer, transient: boolean): void {
    if (this.closed) return;
    this.bytesReceived += chunk.length;
    this.lastReceivedAt = Date.now();
    try {
      this.decoder.push(chunk, transient);
      for (let item = this.decoder.next(); item && !this.closed; item = this.decoder.next()) {
        if (item.kind === 'handshake')
          this.onHandshake(item.handshake.infoHash, item.handshake.peerId, item.handshake.reserved);
        else this.onMessage(item.message);
      }
    } catch (err) {
      this.close(
        err instanceof ProtocolError
          ? `protocol error: ${err.message}`
          : `error: ${(err as Error).message}`,
      );
    }
  }

  private onHandshake(infoHash: Uint8Array, peerId: Uint8Array, reserved: Uint8Array): void {
    // Incoming: refused before we send anything (PW-02, AD-26).
    if (Buffer.compare(infoHash, this.opts.infoHash) !== 0)
      throw new ProtocolError('info-hash mismatch in handshake');
    if (Buffer.compare(peerId, this.opts.peerId) === 0)
      throw new ProtocolError('connected to ourselves (PW-03)');
    this.handshakeReceived = true;
    // Copies: the decoder's views point into a socket chunk.
    this.peerId = Uint8Array.from(peerId);
    this.fastExtension =
      this.opts.fast &&
      ((reserved[RESERVED_FAST_EXTENSION.byte] ?? 0) & RESERVED_FAST_EXTENSION.mask) !== 0;
    if (!this.opts.outgoing) this.sendHandshake();
    this.emit('handshake', this.peerId, Uint8Array.from(reserved));
  }

  private onMessage(m: PeerMessage): void {
    // Have-all/none (BEP 6) must come before any other news of pieces (the BEP 10 handshake,
    // port, choke and interest may come first). A bitfield may come later too: aria2 sends a
    // fresh bitfield instead of 'have' messages, and libtorrent and Transmission accept that,
    // so we take it as the peer's new state.
    const first = this.pieceMessagesReceived === 0;
    if (
      m.type === 'have' ||
      m.type === 'bitfield' ||
      m.type === 'have-all' ||
      m.type === 'have-none' ||
      m.type === 'piece'
    ) {
      this.pieceMessagesReceived++;
    }
    if (
      !this.fastExtension &&
      (m.type === 'have-all' ||
        m.type === 'have-none' ||
        m.type === 'suggest' ||
        m.type === 'reject' ||
        m.type === 'allowed-fast')
    )
      throw new ProtocolError(`${m.type} without the Fast extension (FX-01)`);
    if (m.type === 'have-all' || m.type === 'have-none') {
      if (!first) throw new ProtocolError(`${m.type} after other messages`);
      this.setAll(m.type === 'have-all');
    }
    const { pieceCount } = this.opts;
    switch (m.type) {
      case 'bitfield':
        // Unknown piece count (a magnet before its metadata): nothing to check against yet.
        if (pieceCount === null) break;
        if (m.bitfield.length !== bitfieldLength(pieceCount))
          throw new ProtocolError(
            `bitfield of ${m.bitfield.length} bytes for ${pieceCount} pieces`,
          );
        if (hasSpareBits(m.bitfield, pieceCount))
          throw new ProtocolError('bitfield has bits set past the last piece');
        this.peerBitfield.set(m.bitfield);
        this.peerPieceCount = countBits(this.peerBitfield);
        break;
      case 'have':
      case 'suggest':
      case 'allowed-fast':
        if (pieceCount === null) break;
        if (m.index >= pieceCount)
          throw new ProtocolError(`${m.type} for piece ${m.index} of ${pieceCount}`);
        if (m.type === 'have' && !hasBit(this.peerBitfield, m.index)) {
          setBit(this.peerBitfield, m.index);
          this.peerPieceCount++;
        }
        break;
      case 'unknown':
        // Skipped, not emitted; a peer that keeps sending them is broken or probing (PW-06).
        if (++this.unknownMessagesReceived > MAX_UNKNOWN_MESSAGES)
          throw new ProtocolError(`more than ${MAX_UNKNOWN_MESSAGES} messages with unknown ids`);
        return;
      case 'choke':
        this.peerChoking = true;
        break;
      case 'unchoke':
        this.peerChoking = false;
        break;
      case 'interested':
        this.peerInterested = true;
        break;
      case 'not-interested':
        this.peerInterested = false;
        break;
      case 'piece':
        this.payloadBytesReceived += m.block.length;
        break;
      default:
        break;
    }
    this.emit('message', m);
  }

  private setAll(have: boolean): void {
    const pieceCount = this.opts.pieceCount ?? 0;
    this.peerBitfield.fill(have ? 0xff : 0);
    // Spare bits stay zero (PW-19), so the bitfield can be compared and sent as is.
    const spare = this.peerBitfield.length * 8 - pieceCount;
    if (have && spare > 0) this.peerBitfield[this.peerBitfield.length - 1]! &= 0xff << spare;
    this.peerPieceCount = have ? pieceCount : 0;
  }
}
