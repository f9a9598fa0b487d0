import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { PeerRow } from '../../../shared/torrent-types';
import { PeerDialer } from '../peer/dial';
import { PeerConnection } from '../peer/peer-connection';
import { describeClient } from '../peer/peer-id';
import {
  encodeExtendedHandshake,
  OUR_EXTENSION_IDS,
  parseExtendedHandshake,
} from '../torrent/extended-handshake';
import {
  addressKey,
  PeerDirectory,
  type PeerAddress,
  type PeerSource,
} from '../torrent/peer-directory';
import { debugLog } from '../util/debug-log';
import {
  decodeMetadataMessage,
  encodeMetadataMessage,
  MetadataAssembler,
  metadataPieceProblem,
} from './ut-metadata';

export interface MetadataFetcherOptions {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  listenPort: () => number;
  bindAddress?: string;
  /** Joins peers without sockets (tests). */
  dial?: (address: PeerAddress) => Duplex;
  maxConnections?: number;
  now?: () => number;
}

export interface MetadataFetcherEvents {
  /** The info dict, verified against the info-hash. Emitted once; the fetcher has stopped. */
  metadata: [infoBytes: Uint8Array];
}

interface MetadataPeer {
  key: string;
  address: PeerAddress;
  source: PeerSource;
  outgoing: boolean;
  conn: PeerConnection;
  client: string;
  /** Its id for ut_metadata and the size it claims; null until its extension handshake. */
  theirId: number | null;
  size: number | null;
  /** Metadata pieces asked of it, with when. */
  asked: Map<number, number>;
  /** It refused or failed us: not asked again before this time. */
  restUntil: number;
  connectedAt: number;
}

const MAX_CONNECTIONS = 16;
const MAX_HALF_OPEN = 8;
const CONNECT_TIMEOUT_MS = 8_000;
/** Pieces asked of one peer at a time. */
const PIPELINE = 4;
const REQUEST_TIMEOUT_MS = 10_000;
/** A peer that rejected us or sent a bad piece waits this long before it is asked again. */
const REST_AFTER_REJECT_MS = 30_000;
/** A peer that connects but does not speak ut_metadata is let go after this long. */
const NO_EXTENSION_GRACE_MS = 10_000;

/**
 * Fetches a magnet link's info dict from peers (BEP 9): it dials the addresses it is given,
 * asks every peer that speaks ut_metadata for 16 KiB pieces, several peers at once, and checks
 * the whole against the info-hash. A mismatch throws all pieces away and rests the peer that
 * sent them, or, when several did, takes the next try from one peer alone (MD-05). Its
 * connections close when it is done; the torrent then dials again with the piece count known.
 */
export class MetadataFetcher extends EventEmitter<MetadataFetcherEvents> {
  readonly directory: PeerDirectory;
  private readonly peers = new Map<string, MetadataPeer>();
  private assembler: MetadataAssembler | null = null;
  /**
   * After an assembly with pieces from several peers failed its hash, nobody can tell who lied:
   * the next assembly comes from one peer alone (this one), so that a failure names its liar.
   * Before, every contributor rested for five minutes, the honest ones too.
   */
  private soloPeer: string | null = null;
  private soloNext = false;
  private readonly dialer: PeerDialer;
  private running = false;
  private done = false;
  private readonly now: () => number;
  private readonly maxConnections: number;

  constructor(private readonly opts: MetadataFetcherOptions) {
    super();
    this.now = opts.now ?? Date.now;
    this.maxConnections = opts.maxConnections ?? MAX_CONNECTIONS;
    this.directory = new PeerDirectory({ now: this.now, retryBaseMs: 5_000 });
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

  /** Pieces received and in total; null until a peer told us the size. */
  progress(): { received: number; total: number } | null {
    const a = this.assembler;
    return a ? { received: a.pieceCount - a.missing().length, total: a.pieceCount } : null;
  }

  /** Connected peers that can give us the metadata: shown as "who we are asking". */
  askablePeers(): string[] {
    return [...this.peers.values()]
      .filter((p) => p.theirId !== null && p.size !== null)
      .map((p) => `${p.key} (${p.client})`);
  }

  start(): void {
    if (this.done) return;
    this.running = true;
    this.directory.resetBackoff();
    this.maintainConnections();
  }

  stop(reason: string): void {
    this.running = false;
    for (const peer of [...this.peers.values()]) peer.conn.close(reason);
  }

  addPeers(addresses: readonly PeerAddress[], source: PeerSource): void {
    this.directory.add(addresses, source);
    if (this.running) this.maintainConnections();
  }

  acceptIncoming(socket: Duplex, address: PeerAddress): void {
    const key = addressKey(address);
    if (!this.running || this.peers.has(key) || this.peers.size >= this.maxConnections) {
      socket.destroy();
      return;
    }
    this.directory.markIncoming(address);
    this.attach(socket, key, address, 'incoming', false);
  }

  /** Every second: re-ask timed-out pieces, let go of useless peers, dial more. */
  tick(): void {
    if (!this.running) return;
    const now = this.now();
    for (const peer of this.peers.values()) {
      for (const [piece, at] of peer.asked)
        if (now - at > REQUEST_TIMEOUT_MS) {
          peer.asked.delete(piece);
          peer.restUntil = now + REST_AFTER_REJECT_MS;
          if (this.soloPeer === peer.key) this.soloPeer = null;
        }
      if (peer.theirId === null && now - peer.connectedAt > NO_EXTENSION_GRACE_MS)
        peer.conn.close('does not offer the metadata (no ut_metadata)');
      else this.askMore(peer);
    }
    this.maintainConnections();
  }

  /** The addresses learned, with where from, to hand over to the download. */
  knownPeers(): { address: PeerAddress; source: PeerSource }[] {
    return this.directory.entries();
  }

  rows(): PeerRow[] {
    return [...this.peers.values()].map((p) => ({
      address: p.key,
      client: p.client,
      source: p.source,
      outgoing: p.outgoing,
      amChoking: p.conn.amChoking,
      amInterested: p.conn.amInterested,
      peerChoking: p.conn.peerChoking,
      peerInterested: p.conn.peerInterested,
      downBytesPerSec: 0,
      upBytesPerSec: 0,
      progress: 0,
      requestsInFlight: p.asked.size,
      peerRequests: 0,
      hashFailures: 0,
    }));
  }

  private maintainConnections(): void {
    if (!this.running) return;
    this.dialer.dialDue(
      this.maxConnections - this.peers.size,
      ({ socket, key, address, source }) => {
        if (!this.running || this.peers.has(key)) return false;
        this.attach(socket, key, address, source, true);
        return true;
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
      pieceCount: null,
      outgoing,
      extensions: true,
      fast: true,
    });
    const peer: MetadataPeer = {
      key,
      address,
      source,
      outgoing,
      conn,
      client: 'unknown',
      theirId: null,
      size: null,
      asked: new Map(),
      restUntil: 0,
      connectedAt: this.now(),
    };
    this.peers.set(key, peer);
    this.directory.markConnected(key);
    conn.on('handshake', (peerId, reserved) => {
      peer.client = describeClient(peerId);
      if (((reserved[5] ?? 0) & 0x10) === 0) {
        conn.close('peer does not speak the extension protocol, so it cannot send metadata');
        return;
      }
      // We have no pieces: have-none with the Fast extension (FX-03), first; without it, an
      // empty bitfield is simply left out (BEP 3 allows that).
      if (conn.fastExtension) conn.send({ type: 'have-none' });
      conn.send({
        type: 'extended',
        id: 0,
        payload: encodeExtendedHandshake({
          listenPort: this.opts.listenPort(),
          requestQueue: 250,
          pex: false,
        }),
      });
    });
    conn.on('message', (m) => {
      if (m.type === 'extended') this.onExtended(peer, m.id, m.payload);
    });
    conn.on('close', (reason) => {
      debugLog('peer', `${key} (metadata) closed: ${reason}`);
      if (this.peers.get(key) === peer) this.peers.delete(key);
      if (this.soloPeer === key) this.soloPeer = null;
      this.directory.markClosed(key, peer.theirId === null);
      if (this.running) {
        for (const other of this.peers.values()) this.askMore(other);
        this.maintainConnections();
      }
    });
    conn.start();
  }

  private onExtended(peer: MetadataPeer, id: number, payload: Uint8Array): void {
    if (id === 0) {
      const info = parseExtendedHandshake(payload);
      if (info.client && peer.client === 'unknown') peer.client = info.client;
      const theirId = info.extensionIds.ut_metadata;
      if (theirId !== undefined) peer.theirId = theirId === 0 ? null : theirId;
      if (info.metadataSize !== null) peer.size = info.metadataSize;
      if (peer.theirId === null || peer.size === null) {
        peer.conn.close('peer offers no metadata (no ut_metadata or no plausible metadata_size)');
        return;
      }
      this.assembler ??= new MetadataAssembler(peer.size, this.opts.infoHash);
      this.askMore(peer);
      return;
    }
    if (id !== OUR_EXTENSION_IDS.ut_metadata) return;
    const m = decodeMetadataMessage(payload);
    if (!m || m.type === 'request') {
      // We have no metadata to give yet (MD-03).
      if (m && peer.theirId)
        peer.conn.send({
          type: 'extended',
          id: peer.theirId,
          payload: encodeMetadataMessage({ type: 'reject', piece: m.piece }),
        });
      return;
    }
    peer.asked.delete(m.piece);
    if (m.type === 'reject') {
      peer.restUntil = this.now() + REST_AFTER_REJECT_MS;
      if (this.soloPeer === peer.key) this.soloPeer = null;
      for (const other of this.peers.values()) this.askMore(other);
      return;
    }
    const assembler = this.assembler;
    if (!assembler) return;
    // An answer to a request from before the solo assembly began must not mix into it.
    if (this.soloPeer !== null && peer.key !== this.soloPeer) return;
    const problem = metadataPieceProblem(assembler.size, m);
    if (problem) {
      peer.conn.close(`bad metadata piece: ${problem}`);
      return;
    }
    const result = assembler.add(m.piece, m.data, peer.key);
    if (result instanceof Uint8Array) {
      this.finish(Uint8Array.from(result));
      return;
    }
    if (result) {
      // MD-05: everything is thrown away. A peer that sent all of it lied and rests; with several
      // senders nobody can tell, so the next assembly comes from one peer alone (soloPeer). If
      // one peer's size was the lie, the next assembler uses a size from someone else.
      debugLog('peer', `metadata failed its hash; sent by ${result.badHash.join(', ')}`);
      if (result.badHash.length === 1) {
        // One sender: it lied.
        const culprit = this.peers.get(result.badHash[0]!);
        if (culprit) culprit.restUntil = this.now() + 10 * REST_AFTER_REJECT_MS;
      }
      this.soloPeer = null;
      this.soloNext = true;
      const other = [...this.peers.values()].find(
        (p) => p.size !== null && !result.badHash.includes(p.key),
      );
      this.assembler = new MetadataAssembler(other?.size ?? assembler.size, this.opts.infoHash);
      for (const p of this.peers.values()) this.askMore(p);
      return;
    }
    this.askMore(peer);
  }

  /** Keeps a few piece requests outstanding with the peer, preferring pieces nobody was asked. */
  private askMore(peer: MetadataPeer): void {
    const assembler = this.assembler;
    if (!assembler || !this.running || peer.theirId === null || peer.size !== assembler.size)
      return;
    const now = this.now();
    if (peer.restUntil > now) return;
    if (this.soloNext) {
      this.soloPeer ??= peer.key;
      if (this.soloPeer !== peer.key) return;
    }
    const missing = assembler.missing().filter((i) => !peer.asked.has(i));
    const askedElsewhere = new Set<number>();
    for (const p of this.peers.values()) for (const i of p.asked.keys()) askedElsewhere.add(i);
    // Pieces nobody has been asked for first; then the rest (a slow peer must not hold us up).
    missing.sort((a, b) => Number(askedElsewhere.has(a)) - Number(askedElsewhere.has(b)));
    for (const piece of missing) {
      if (peer.asked.size >= PIPELINE) break;
      peer.asked.set(piece, now);
      peer.conn.send({
        type: 'extended',
        id: peer.theirId,
        payload: encodeMetadataMessage({ type: 'request', piece }),
      });
    }
  }

  private finish(infoBytes: Uint8Array): void {
    this.done = true;
    this.stop('metadata complete');
    this.emit('metadata', infoBytes);
  }
}
