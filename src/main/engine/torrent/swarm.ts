import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { PeerRow } from '../../../shared/torrent-types';
import { PeerDialer } from '../peer/dial';
import { PeerConnection } from '../peer/peer-connection';
import { describeClient } from '../peer/peer-id';
import { countBits } from '../picker/bitfield';
import type { PeerMessage } from '../wire/messages';
import { debugLog } from '../util/debug-log';
import { RateMeter } from '../util/rate-meter';
import {
  BLOCK_SIZE,
  type BlockRequest,
  type BlockScheduler,
  type CompletedPiece,
} from './block-scheduler';
import { chooseUnchoked } from './choker';
import {
  encodeExtendedHandshake,
  OUR_EXTENSION_IDS,
  parseExtendedHandshake,
  type ExtensionName,
} from './extended-handshake';
import {
  decodeMetadataMessage,
  encodeMetadataMessage,
  METADATA_PIECE_SIZE,
  metadataPieceCount,
} from '../magnet/ut-metadata';
import { decodePexMessage, encodePexMessage, PEX_INTERVAL_MS, PexSender } from './pex';
import { addressKey, PeerDirectory, type PeerAddress, type PeerSource } from './peer-directory';

export interface SwarmOptions {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  pieceCount: number;
  /** The info dict, served to peers that ask for it (BEP 9). */
  infoBytes: Uint8Array;
  /** Private torrents take peers from their trackers only: no PEX (BEP 27). */
  isPrivate: boolean;
  /**
   * The session's DHT node, for BEP 5 `port` messages both ways; absent for private torrents
   * or with the DHT off.
   */
  dht?: { port: () => number | null; addNode: (ip: string, port: number) => void };
  scheduler: BlockScheduler;
  /** Reads a block we have, to upload it. */
  readBlock: (index: number, begin: number, length: number) => Promise<Uint8Array>;
  pieceSize: (index: number) => number;
  listenPort: () => number;
  maxPeers: number;
  /** Dials a peer; tests may join peers in memory instead. */
  dial?: (address: PeerAddress) => Duplex;
  /** Local address for outgoing connections. */
  bindAddress?: string;
  now?: () => number;
  /** The torrent's totals: every payload byte in and out is counted there too. */
  downMeter: RateMeter;
  upMeter: RateMeter;
}

export interface SwarmEvents {
  'piece-complete': [piece: CompletedPiece];
  'wasted-bytes': [bytes: number];
  'peer-connected': [key: string];
  'peer-closed': [key: string, reason: string];
}

/** One live connection and what we know of it. */
interface Peer {
  key: string;
  address: PeerAddress;
  source: PeerSource;
  outgoing: boolean;
  conn: PeerConnection;
  /** The peer's pieces; also the scheduler's view of it. */
  has: Uint8Array;
  hasCount: number;
  maxOutstanding: number;
  /** The queue depth the peer allows (BEP 10 `reqq`), or a cautious default. */
  peerRequestLimit: number;
  client: string;
  down: RateMeter;
  up: RateMeter;
  lastBlockAt: number;
  snubbed: boolean;
  handshakeDone: boolean;
  hashFailures: number;
  uploads: BlockRequest[];
  uploading: boolean;
  /** When the peer choked us, while that lasts. */
  chokedAt: number | null;
  /** When the peer unchoked us after a choke, until a block arrives. */
  unchokedAt: number | null;
  /** The peer's ids for the extensions we speak (BEP 10); absent or 0: not supported. */
  extensionIds: Partial<Record<ExtensionName, number>>;
  /** Where the peer accepts connections: its address if we dialled, else its BEP 10 `p`. */
  listenAddress: PeerAddress | null;
  metadataPiecesServed: number;
  pex: PexSender;
  lastPexAt: number;
}

const MAX_HALF_OPEN = 8;
const CONNECT_TIMEOUT_MS = 8_000;
/** Seconds of data to keep requested from each peer: its bandwidth-delay product, generously. */
const REQUEST_QUEUE_SECONDS = 1.5;
const MIN_QUEUE = 16;
const MAX_QUEUE = 500;
const DEFAULT_PEER_REQQ = 250;
/** A peer that delivers nothing for this long with requests outstanding is snubbed. */
const SNUB_AFTER_MS = 15_000;
const UPLOAD_SLOTS = 8;
const MAX_QUEUED_UPLOADS = 256;
/** Requests bigger than this are refused: 16 KiB is the norm, 128 KiB what anyone tolerates. */
const MAX_UPLOAD_REQUEST = 128 * 1024;
const BAN_AFTER_HASH_FAILURES = 3;
/** A choke lasting this long means our pending requests there are gone. */
const CHOKE_GRACE_MS = 1000;
/** After choke and unchoke, old requests not served within this long were dropped by the peer. */
const UNCHOKE_DELIVERY_WAIT_MS = 3000;

/**
 * The peers of one torrent: dialling and accepting, message handling, asking for blocks through
 * the scheduler, serving blocks, choking. Knows nothing of storage, trackers or verification:
 * completed pieces leave as events, and the torrent reports back through `pieceVerified`.
 */
export class Swarm extends EventEmitter<SwarmEvents> {
  readonly directory: PeerDirectory;
  private readonly peers = new Map<string, Peer>();
  private readonly dialer: PeerDialer;
  private readonly refillQueue = new Set<Peer>();
  private refillScheduled = false;
  private running = false;
  private optimistic: string | null = null;
  private chokeRound = 0;
  private readonly now: () => number;

  constructor(private readonly opts: SwarmOptions) {
    super();
    this.now = opts.now ?? Date.now;
    this.directory = new PeerDirectory({ now: this.now });
    this.dialer = new PeerDialer(this.directory, {
      bindAddress: opts.bindAddress,
      dial: opts.dial,
      timeoutMs: CONNECT_TIMEOUT_MS,
      maxHalfOpen: MAX_HALF_OPEN,
    });
  }

  get connectedCount(): number {
    return this.peers.size;
  }

  get seedCount(): number {
    let seeds = 0;
    for (const peer of this.peers.values()) if (peer.hasCount === this.opts.pieceCount) seeds++;
    return seeds;
  }

  start(): void {
    this.running = true;
    this.directory.resetBackoff();
    this.maintainConnections();
  }

  /** Closes every connection; known addresses are kept for the next start. */
  stop(reason: string): void {
    this.running = false;
    for (const peer of [...this.peers.values()]) peer.conn.close(reason);
  }

  addPeers(addresses: readonly PeerAddress[], source: PeerSource): void {
    // Trackers hand us back our own address; dialling ourselves wastes a connection slot.
    const port = this.opts.listenPort();
    this.directory.add(
      addresses.filter(
        (a) =>
          !(
            a.port === port &&
            (a.ip === this.opts.bindAddress || isLocalWildcardSelf(a.ip, this.opts.bindAddress))
          ),
      ),
      source,
    );
    if (this.running) this.maintainConnections();
  }

  /** An incoming connection whose handshake names our info-hash (the session checked it). */
  acceptIncoming(socket: Duplex, address: PeerAddress): void {
    const key = addressKey(address);
    if (
      !this.running ||
      this.directory.isBanned(key) ||
      this.peers.has(key) ||
      this.peers.size >= this.opts.maxPeers
    ) {
      socket.destroy();
      return;
    }
    this.directory.markIncoming(address);
    this.attach(socket, key, address, 'incoming', false);
  }

  /** Called every second by the torrent: queue sizes, snubs, dialling, choking. */
  tick(): void {
    if (!this.running) return;
    const now = this.now();
    for (const peer of this.peers.values()) {
      this.adaptQueue(peer);
      this.settleChoke(peer, now);
      const oldest = this.opts.scheduler.oldestRequestAt(peer.key);
      if (oldest !== null && now - Math.max(oldest, peer.lastBlockAt) > SNUB_AFTER_MS)
        this.snub(peer);
      this.requestMore(peer);
    }
    if (this.chokeRound++ % 10 === 0) this.rechoke(this.chokeRound % 30 === 1);
    this.sendPex(now);
    this.maintainConnections();
  }

  /** A piece passed its hash and is on disk: tell everyone, drop interest where it ends. */
  pieceVerified(index: number): void {
    const have: PeerMessage = { type: 'have', index };
    const complete = this.opts.scheduler.isComplete;
    for (const peer of [...this.peers.values()]) {
      if (!peer.handshakeDone) continue;
      // Two seeds have nothing to say to each other.
      if (complete && peer.hasCount === this.opts.pieceCount) {
        peer.conn.close('both seeding');
        continue;
      }
      peer.conn.send(have);
      this.updateInterest(peer);
    }
  }

  /** A piece failed its hash: blame the peers that sent it, ban repeat offenders. */
  pieceFailed(contributors: Iterable<string>): void {
    for (const key of contributors) {
      const peer = this.peers.get(key);
      if (!peer) continue;
      peer.hashFailures++;
      if (peer.hashFailures >= BAN_AFTER_HASH_FAILURES) {
        this.directory.ban(key);
        peer.conn.close(`banned: sent ${peer.hashFailures} pieces that failed their hash`);
      }
    }
    for (const peer of this.peers.values()) this.requestMore(peer);
  }

  /** Pieces were freed up (e.g. a failed piece): every peer may have something to do. */
  wakeAll(): void {
    for (const peer of this.peers.values()) this.requestMore(peer);
  }

  rows(): PeerRow[] {
    const rows: PeerRow[] = [];
    for (const peer of this.peers.values()) {
      rows.push({
        address: peer.key,
        client: peer.client,
        source: peer.source,
        outgoing: peer.outgoing,
        amChoking: peer.conn.amChoking,
        amInterested: peer.conn.amInterested,
        peerChoking: peer.conn.peerChoking,
        peerInterested: peer.conn.peerInterested,
        downBytesPerSec: Math.round(peer.down.bytesPerSec()),
        upBytesPerSec: Math.round(peer.up.bytesPerSec()),
        progress: this.opts.pieceCount === 0 ? 0 : peer.hasCount / this.opts.pieceCount,
        requestsInFlight: this.opts.scheduler.outstandingCount(peer.key),
        peerRequests: peer.uploads.length,
        hashFailures: peer.hashFailures,
      });
    }
    return rows;
  }

  private maintainConnections(): void {
    if (!this.running) return;
    // A finished torrent only serves peers that come to it.
    if (this.opts.scheduler.isComplete) return;
    this.dialer.dialDue(
      this.opts.maxPeers - this.peers.size,
      ({ socket, key, address, source }) => {
        if (!this.running || this.peers.has(key)) return false;
        this.attach(socket, key, address, source, true);
        return true;
      },
      (key, why) => {
        debugLog('peer', `${key}: dial failed: ${why}`);
        this.emit('peer-closed', key, why);
      },
    );
  }

  private attach(
    socket: Duplex,
    key: string,
    address: PeerAddress,
    source: PeerSource,
    outgoing: boolean,
  ): void {
    const conn = new PeerConnection(socket, {
      infoHash: this.opts.infoHash,
      peerId: this.opts.peerId,
      pieceCount: this.opts.pieceCount,
      outgoing,
      extensions: true,
      fast: true,
      dht: this.opts.dht?.port() != null,
    });
    const peer: Peer = {
      key,
      address,
      source,
      outgoing,
      conn,
      has: new Uint8Array(Math.ceil(this.opts.pieceCount / 8)),
      hasCount: 0,
      maxOutstanding: MIN_QUEUE * 4,
      peerRequestLimit: DEFAULT_PEER_REQQ,
      client: 'unknown',
      down: new RateMeter(),
      up: new RateMeter(),
      lastBlockAt: this.now(),
      snubbed: false,
      handshakeDone: false,
      hashFailures: 0,
      uploads: [],
      uploading: false,
      chokedAt: null,
      unchokedAt: null,
      extensionIds: {},
      listenAddress: outgoing ? address : null,
      metadataPiecesServed: 0,
      pex: new PexSender(),
      lastPexAt: 0,
    };
    this.peers.set(key, peer);
    this.directory.markConnected(key);
    conn.on('handshake', (peerId, reserved) => this.onHandshake(peer, peerId, reserved));
    conn.on('message', (m) => this.onMessage(peer, m));
    conn.on('close', (reason) => this.onClose(peer, reason));
    conn.start();
  }

  private onHandshake(peer: Peer, peerId: Uint8Array, reserved: Uint8Array): void {
    if (Buffer.compare(peerId, this.opts.peerId) === 0) {
      peer.conn.close('connected to ourselves');
      return;
    }
    peer.handshakeDone = true;
    peer.client = describeClient(peerId);
    this.opts.scheduler.addPeer(peer);
    const { scheduler } = this.opts;
    // First what we have: exactly one of bitfield, have-all or have-none with the Fast
    // extension (FX-03); without it an empty bitfield may be left out. Then BEP 10.
    if (peer.conn.fastExtension && scheduler.isComplete) peer.conn.send({ type: 'have-all' });
    else if (peer.conn.fastExtension && scheduler.haveCount === 0)
      peer.conn.send({ type: 'have-none' });
    else if (scheduler.haveCount > 0)
      peer.conn.send({ type: 'bitfield', bitfield: scheduler.have });
    // Our DHT node's port, to a peer that runs one too (BEP 5).
    const dhtPort = this.opts.dht?.port();
    if (dhtPort && ((reserved[7] ?? 0) & 0x01) !== 0)
      peer.conn.send({ type: 'port', port: dhtPort });
    if (((reserved[5] ?? 0) & 0x10) !== 0) {
      peer.conn.send({
        type: 'extended',
        id: 0,
        payload: encodeExtendedHandshake({
          listenPort: this.opts.listenPort(),
          requestQueue: MAX_UPLOAD_QUEUE_ADVERTISED,
          metadataSize: this.opts.infoBytes.length,
          pex: !this.opts.isPrivate,
        }),
      });
    }
    debugLog(
      'peer',
      `${peer.key} handshake: ${peer.client}, reserved ${Buffer.from(reserved).toString('hex')}`,
    );
    this.emit('peer-connected', peer.key);
  }

  private onMessage(peer: Peer, m: PeerMessage): void {
    const { scheduler } = this.opts;
    switch (m.type) {
      case 'bitfield':
        this.replaceHas(peer, m.bitfield);
        return;
      case 'have-all': {
        const all = new Uint8Array(peer.has.length).fill(0xff);
        this.trimSpareBits(all);
        this.replaceHas(peer, all);
        return;
      }
      case 'have-none':
        return;
      case 'have': {
        const byte = m.index >> 3;
        const bit = 0x80 >> (m.index & 7);
        if ((peer.has[byte]! & bit) === 0) {
          peer.has[byte]! |= bit;
          peer.hasCount++;
          scheduler.availability[m.index]!++;
          if (!peer.conn.amInterested && !scheduler.isComplete && !(scheduler.have[byte]! & bit))
            this.setInterested(peer, true);
          this.requestMore(peer);
        }
        return;
      }
      case 'choke':
        // BEP 3 says a choke discards our pending requests, but libtorrent re-chokes and
        // unchokes in one breath and then serves them anyway. Asking again at once fetches
        // everything twice; so the requests are given up only if the choke lasts (tick).
        debugLog(
          'peer',
          `${peer.key} choked us with ${scheduler.outstandingCount(peer.key)} requests outstanding`,
        );
        peer.chokedAt = this.now();
        peer.unchokedAt = null;
        return;
      case 'unchoke':
        debugLog('peer', `${peer.key} unchoked us`);
        if (peer.chokedAt !== null) peer.unchokedAt = this.now();
        peer.chokedAt = null;
        this.requestMore(peer);
        return;
      case 'piece':
        this.onBlock(peer, m.index, m.begin, m.block);
        return;
      case 'request':
        this.onRequest(peer, { index: m.index, begin: m.begin, length: m.length });
        return;
      case 'cancel': {
        const before = peer.uploads.length;
        peer.uploads = peer.uploads.filter(
          (r) => r.index !== m.index || r.begin !== m.begin || r.length !== m.length,
        );
        // With the Fast extension every request gets a piece or a reject, even after a cancel.
        if (peer.uploads.length < before) this.reject(peer, m);
        return;
      }
      case 'reject':
        scheduler.releasePeerRequests(peer.key);
        return;
      case 'interested':
      case 'not-interested':
        // Answered at the next choke round; a newcomer with slots free is let in at once.
        if (m.type === 'interested' && peer.conn.amChoking && this.unchokedCount() < UPLOAD_SLOTS)
          peer.conn.send({ type: 'unchoke' });
        return;
      case 'extended':
        this.onExtended(peer, m.id, m.payload);
        return;
      case 'port':
        // PW-18: the peer's DHT node; pinged before it joins our table.
        if (m.port > 0) this.opts.dht?.addNode(peer.address.ip, m.port);
        return;
      default:
        return;
    }
  }

  private onExtended(peer: Peer, id: number, payload: Uint8Array): void {
    if (id === 0) {
      const info = parseExtendedHandshake(payload);
      if (info.requestQueue !== null)
        peer.peerRequestLimit = Math.max(1, Math.min(info.requestQueue, MAX_QUEUE));
      if (info.client && peer.client === 'unknown') peer.client = info.client;
      // Additive (EX-02): a later handshake changes only the extensions it names.
      Object.assign(peer.extensionIds, info.extensionIds);
      if (info.listenPort !== null && !peer.outgoing)
        peer.listenAddress = { ip: peer.address.ip, port: info.listenPort };
    } else if (id === OUR_EXTENSION_IDS.ut_metadata) {
      this.serveMetadata(peer, payload);
    } else if (id === OUR_EXTENSION_IDS.ut_pex && !this.opts.isPrivate) {
      const pex = decodePexMessage(payload);
      if (pex && pex.added.length > 0) {
        debugLog('peer', `${peer.key} PEX: ${pex.added.length} peers added`);
        this.addPeers(pex.added, 'pex');
      }
    }
  }

  /** Answers BEP 9 requests for the info dict; a peer gets each piece about twice (MD-03). */
  private serveMetadata(peer: Peer, payload: Uint8Array): void {
    const theirId = peer.extensionIds.ut_metadata;
    const m = decodeMetadataMessage(payload);
    if (!m || m.type !== 'request' || !theirId) return;
    const { infoBytes } = this.opts;
    const count = metadataPieceCount(infoBytes.length);
    const send = (reply: Parameters<typeof encodeMetadataMessage>[0]) =>
      peer.conn.send({ type: 'extended', id: theirId, payload: encodeMetadataMessage(reply) });
    if (m.piece >= count || peer.metadataPiecesServed >= 2 * count) {
      send({ type: 'reject', piece: m.piece });
      return;
    }
    peer.metadataPiecesServed++;
    const start = m.piece * METADATA_PIECE_SIZE;
    send({
      type: 'data',
      piece: m.piece,
      totalSize: infoBytes.length,
      data: infoBytes.subarray(start, start + METADATA_PIECE_SIZE),
    });
  }

  /** Tells a Fast-extension peer we will not serve a request; others just never get it. */
  private reject(peer: Peer, r: BlockRequest): void {
    if (peer.conn.fastExtension)
      peer.conn.send({ type: 'reject', index: r.index, begin: r.begin, length: r.length });
  }

  /** At most once a minute, each PEX-capable peer hears who joined and left (PX-02). */
  private sendPex(now: number): void {
    if (this.opts.isPrivate) return;
    const connected = new Map<string, PeerAddress>();
    for (const p of this.peers.values())
      if (p.handshakeDone && p.listenAddress)
        connected.set(addressKey(p.listenAddress), p.listenAddress);
    for (const peer of this.peers.values()) {
      const theirId = peer.extensionIds.ut_pex;
      if (!theirId || !peer.handshakeDone || now - peer.lastPexAt < PEX_INTERVAL_MS) continue;
      const others = new Map(connected);
      if (peer.listenAddress) others.delete(addressKey(peer.listenAddress));
      const message = peer.pex.next(others);
      if (!message) continue;
      peer.lastPexAt = now;
      peer.conn.send({ type: 'extended', id: theirId, payload: encodePexMessage(message) });
    }
  }

  private onBlock(peer: Peer, index: number, begin: number, block: Uint8Array): void {
    const now = this.now();
    peer.down.add(block.length);
    this.opts.downMeter.add(block.length);
    peer.lastBlockAt = now;
    peer.snubbed = false;
    peer.unchokedAt = null;
    const result = this.opts.scheduler.onBlock(peer.key, index, begin, block);
    if (!result.accepted) {
      this.emit('wasted-bytes', block.length);
    }
    for (const { peerKey, request } of result.cancels) {
      this.peers.get(peerKey)?.conn.send({ type: 'cancel', ...request });
    }
    if (result.completed) this.emit('piece-complete', result.completed);
    this.requestMore(peer);
  }

  private onRequest(peer: Peer, r: BlockRequest): void {
    if (peer.conn.amChoking) {
      this.reject(peer, r);
      return;
    }
    const { scheduler } = this.opts;
    const valid =
      r.index < this.opts.pieceCount &&
      r.length > 0 &&
      r.length <= MAX_UPLOAD_REQUEST &&
      r.begin + r.length <= this.opts.pieceSize(r.index) &&
      scheduler.pieceState(r.index) === 'have';
    if (!valid) {
      peer.conn.close(`bad request: piece ${r.index} offset ${r.begin} length ${r.length}`);
      return;
    }
    if (peer.uploads.length >= MAX_QUEUED_UPLOADS) {
      this.reject(peer, r);
      return;
    }
    peer.uploads.push(r);
    void this.pumpUploads(peer);
  }

  /** Serves queued requests one at a time, pausing while the socket's buffer is full. */
  private async pumpUploads(peer: Peer): Promise<void> {
    if (peer.uploading) return;
    peer.uploading = true;
    try {
      while (peer.uploads.length > 0 && !peer.conn.closed && !peer.conn.amChoking) {
        if (peer.conn.writableNeedsDrain) await peer.conn.drained();
        const r = peer.uploads.shift()!;
        const block = await this.opts.readBlock(r.index, r.begin, r.length);
        if (peer.conn.closed) break;
        peer.conn.sendPiece(r.index, r.begin, block);
        peer.up.add(block.length);
        this.opts.upMeter.add(block.length);
      }
    } catch (err) {
      peer.conn.close(`upload failed: ${(err as Error).message}`);
    } finally {
      peer.uploading = false;
    }
  }

  private onClose(peer: Peer, reason: string): void {
    debugLog(
      'peer',
      `${peer.key} (${peer.client}) closed: ${reason}; got ${peer.down.totalBytes} B, sent ${peer.up.totalBytes} B`,
    );
    if (this.peers.get(peer.key) !== peer) return;
    this.peers.delete(peer.key);
    const { scheduler } = this.opts;
    if (peer.handshakeDone) {
      for (let i = 0; i < this.opts.pieceCount; i++) {
        if (peer.has[i >> 3]! & (0x80 >> (i & 7))) scheduler.availability[i]!--;
      }
      scheduler.removePeer(peer.key);
    }
    this.directory.markClosed(peer.key, !peer.handshakeDone);
    if (this.optimistic === peer.key) this.optimistic = null;
    this.emit('peer-closed', peer.key, reason);
    this.wakeAll();
    this.maintainConnections();
  }

  /** The peer's whole piece set changed (bitfield, have-all): availability follows the difference. */
  private replaceHas(peer: Peer, next: Uint8Array): void {
    const { availability } = this.opts.scheduler;
    for (let byte = 0; byte < next.length; byte++) {
      const before = peer.has[byte]!;
      const after = next[byte]!;
      if (before === after) continue;
      for (let bit = 0; bit < 8; bit++) {
        const mask = 0x80 >> bit;
        const index = byte * 8 + bit;
        if ((after & mask) !== 0 && (before & mask) === 0) availability[index]!++;
        else if ((after & mask) === 0 && (before & mask) !== 0) availability[index]!--;
      }
    }
    peer.has.set(next);
    peer.hasCount = countBits(peer.has);
    this.updateInterest(peer);
    this.requestMore(peer);
  }

  private trimSpareBits(bitfield: Uint8Array): void {
    const spare = bitfield.length * 8 - this.opts.pieceCount;
    if (spare > 0) bitfield[bitfield.length - 1]! &= (0xff << spare) & 0xff;
  }

  private updateInterest(peer: Peer): void {
    const { scheduler } = this.opts;
    const want = !scheduler.isComplete && scheduler.isInteresting(peer.has);
    if (want !== peer.conn.amInterested) this.setInterested(peer, want);
  }

  private setInterested(peer: Peer, interested: boolean): void {
    peer.conn.send({ type: interested ? 'interested' : 'not-interested' });
  }

  /**
   * Tops up the peer's request queue — once per turn of the event loop, not once per block:
   * a socket chunk carries several blocks, and one write of their replacements beats one
   * small write each (the profile showed a write per block costing a fifth of the main thread).
   */
  private requestMore(peer: Peer): void {
    this.refillQueue.add(peer);
    if (this.refillScheduled) return;
    this.refillScheduled = true;
    setImmediate(() => {
      this.refillScheduled = false;
      const peers = [...this.refillQueue];
      this.refillQueue.clear();
      for (const p of peers) this.sendRequestsNow(p);
    });
  }

  private sendRequestsNow(peer: Peer): void {
    if (!peer.handshakeDone || peer.conn.peerChoking || !peer.conn.amInterested || peer.conn.closed)
      return;
    // A quarter of the queue at a time: a socket write per block's replacement cost 54 µs of
    // loopback TCP each on the profile, with the queue hundreds of blocks deep anyway.
    const minRoom = Math.max(1, Math.floor(peer.maxOutstanding / 4));
    const requests = this.opts.scheduler.fill(peer.key, this.now(), minRoom);
    if (requests.length > 0) peer.conn.sendRequests(requests);
  }

  /** Sizes the request queue to the peer's rate, within what the peer says it accepts. */
  private adaptQueue(peer: Peer): void {
    if (peer.snubbed) {
      peer.maxOutstanding = 1;
      return;
    }
    const target = Math.ceil((peer.down.bytesPerSec() * REQUEST_QUEUE_SECONDS) / BLOCK_SIZE);
    peer.maxOutstanding = Math.max(
      MIN_QUEUE * 4,
      Math.min(target, MAX_QUEUE, peer.peerRequestLimit),
    );
  }

  /**
   * A choke that lasts, or an unchoke after which none of the old requests arrive, means the
   * peer dropped them: give them to other peers.
   */
  private settleChoke(peer: Peer, now: number): void {
    const { scheduler } = this.opts;
    const lasting = peer.chokedAt !== null && now - peer.chokedAt >= CHOKE_GRACE_MS;
    const forgotten = peer.unchokedAt !== null && now - peer.unchokedAt >= UNCHOKE_DELIVERY_WAIT_MS;
    if (!lasting && !forgotten) return;
    peer.chokedAt = null;
    peer.unchokedAt = null;
    if (scheduler.releasePeerRequests(peer.key) > 0) this.wakeAll();
  }

  private snub(peer: Peer): void {
    if (peer.snubbed) return;
    peer.snubbed = true;
    peer.maxOutstanding = 1;
    this.opts.scheduler.releasePeerRequests(peer.key);
    this.wakeAll();
  }

  private unchokedCount(): number {
    let n = 0;
    for (const peer of this.peers.values()) if (!peer.conn.amChoking) n++;
    return n;
  }

  private rechoke(rotateOptimistic: boolean): void {
    const candidates = [...this.peers.values()].map((p) => ({
      key: p.key,
      peerInterested: p.conn.peerInterested,
      downBytesPerSec: p.down.bytesPerSec(),
      upBytesPerSec: p.up.bytesPerSec(),
      isSeed: p.hasCount === this.opts.pieceCount,
    }));
    const decision = chooseUnchoked(candidates, {
      slots: UPLOAD_SLOTS - 1,
      seeding: this.opts.scheduler.isComplete,
      previousOptimistic: this.optimistic,
      rotateOptimistic,
    });
    this.optimistic = decision.optimistic;
    for (const peer of this.peers.values()) {
      const unchoke = decision.unchoke.has(peer.key);
      if (unchoke && peer.conn.amChoking) peer.conn.send({ type: 'unchoke' });
      else if (!unchoke && !peer.conn.amChoking) {
        peer.conn.send({ type: 'choke' });
        // The choke goes first, then a reject for each request it drops (FX-02).
        for (const r of peer.uploads) this.reject(peer, r);
        peer.uploads = [];
      }
    }
  }
}

const MAX_UPLOAD_QUEUE_ADVERTISED = MAX_QUEUED_UPLOADS;

/** Without a bind address we listen on every interface: any loopback address is then us. */
function isLocalWildcardSelf(ip: string, bindAddress: string | undefined): boolean {
  return bindAddress === undefined && (ip === '127.0.0.1' || ip === '::1');
}
