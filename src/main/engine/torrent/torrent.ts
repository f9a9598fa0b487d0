import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import {
  PieceState,
  type FileRow,
  type TorrentDetail,
  type TorrentState,
  type TorrentSummary,
  type TrackerRow,
} from '../../../shared/torrent-types';
import { EngineError } from '../errors';
import type { Metainfo } from '../metainfo/metainfo';
import { hasBit } from '../picker/bitfield';
import { checkExistingPieces } from '../storage/check-existing';
import { FileStorage, type PieceStorage } from '../storage/file-storage';
import type { HashPool } from '../storage/hash-pool';
import { verifyPiece } from '../storage/hash-pool';
import { Announcer } from '../tracker/announcer';
import { RateMeter } from '../util/rate-meter';
import { BlockScheduler, type CompletedPiece } from './block-scheduler';
import type { PeerAddress, PeerSource } from './peer-directory';
import { Swarm } from './swarm';

export interface TorrentOptions {
  metainfo: Metainfo;
  downloadDir: string;
  peerId: Uint8Array;
  listenPort: () => number;
  hashPool: HashPool;
  maxPeers: number;
  /** Storage to use instead of files on disk (tests). */
  openStorage?: (m: Metainfo, downloadDir: string) => Promise<PieceStorage>;
  /** Dial peers without sockets (tests). */
  dial?: (address: PeerAddress) => Duplex;
  /** Trackers are not asked (tests, or peers given by hand). */
  noTrackers?: boolean;
  /** Local address for outgoing connections. */
  bindAddress?: string;
  addedAt?: number;
}

export interface TorrentEvents {
  state: [state: TorrentState];
  piece: [index: number];
  done: [];
  error: [error: Error];
}

const TICK_MS = 1000;
/** Fewer connected peers than this while downloading makes us ask trackers for more. */
const LOW_PEER_COUNT = 5;

/**
 * One swarm's lifecycle: checking what is on disk, downloading, seeding, paused, or stopped by
 * an error; storage, verification and trackers around the peers of its Swarm.
 */
export class Torrent extends EventEmitter<TorrentEvents> {
  readonly id: string;
  readonly metainfo: Metainfo;
  readonly downloadDir: string;
  readonly addedAt: number;
  private stateValue: TorrentState = 'paused';
  private errorMessage: string | null = null;
  private readonly scheduler: BlockScheduler;
  private readonly swarm: Swarm;
  private readonly announcer: Announcer | null;
  private storage: PieceStorage | null = null;
  private tickTimer: NodeJS.Timeout | null = null;
  private readonly down = new RateMeter();
  private readonly up = new RateMeter();
  private doneBytes = 0;
  private wastedBytes = 0;
  private checked = false;
  /** Guards against a pause/resume racing an earlier start still in progress. */
  private generation = 0;
  private readonly verifying = new Set<Promise<void>>();

  constructor(private readonly opts: TorrentOptions) {
    super();
    const m = opts.metainfo;
    this.metainfo = m;
    this.id = m.infoHashHex;
    this.downloadDir = opts.downloadDir;
    this.addedAt = opts.addedAt ?? Date.now();
    this.scheduler = new BlockScheduler({
      pieceCount: m.pieceCount,
      pieceLength: m.pieceLength,
      totalLength: m.totalLength,
    });
    this.swarm = new Swarm({
      infoHash: m.infoHash,
      peerId: opts.peerId,
      pieceCount: m.pieceCount,
      scheduler: this.scheduler,
      readBlock: (index, begin, length) => this.readBlock(index, begin, length),
      pieceSize: (index) => this.scheduler.pieceSize(index),
      listenPort: opts.listenPort,
      maxPeers: opts.maxPeers,
      dial: opts.dial,
      bindAddress: opts.bindAddress,
      downMeter: this.down,
      upMeter: this.up,
    });
    this.swarm.on('piece-complete', (piece) => this.track(this.verifyAndStore(piece)));
    this.swarm.on('wasted-bytes', (bytes) => {
      this.wastedBytes += bytes;
    });
    this.announcer = opts.noTrackers
      ? null
      : new Announcer(
          m.announceTiers,
          () => ({
            uploaded: this.up.totalBytes,
            downloaded: this.down.totalBytes,
            left: m.totalLength - this.doneBytes,
          }),
          { infoHash: m.infoHash, peerId: opts.peerId, port: opts.listenPort() },
          { localAddress: opts.bindAddress },
        );
    this.announcer?.on('peers', (peers) => this.swarm.addPeers(peers, 'tracker'));
  }

  get state(): TorrentState {
    return this.stateValue;
  }

  get isComplete(): boolean {
    return this.scheduler.isComplete;
  }

  /** Starts or resumes: checks existing data the first time, then joins the swarm. */
  async start(): Promise<void> {
    if (this.stateValue !== 'paused' && this.stateValue !== 'error') return;
    const generation = ++this.generation;
    this.errorMessage = null;
    try {
      if (!this.storage) {
        const open =
          this.opts.openStorage ?? ((m: Metainfo, dir: string) => FileStorage.open(m, dir));
        this.storage = await open(this.metainfo, this.downloadDir);
      }
      if (!this.checked) {
        this.setState('checking');
        const have = await checkExistingPieces(
          this.storage,
          this.metainfo,
          this.metainfo.pieceHashes,
          this.opts.hashPool,
        );
        if (generation !== this.generation) return;
        for (let i = 0; i < this.metainfo.pieceCount; i++) {
          if (hasBit(have, i) && !hasBit(this.scheduler.have, i)) {
            this.scheduler.setHave(i);
            this.doneBytes += this.scheduler.pieceSize(i);
          }
        }
        this.checked = true;
      }
    } catch (err) {
      if (generation === this.generation) this.fail(err);
      return;
    }
    if (generation !== this.generation) return;
    this.setState(this.scheduler.isComplete ? 'seeding' : 'downloading');
    this.swarm.start();
    this.announcer?.start();
    this.tickTimer = setInterval(() => this.tick(), TICK_MS);
    this.tickTimer.unref();
    if (this.scheduler.isComplete) this.emit('done');
  }

  private tick(): void {
    this.swarm.tick();
    // Short of peers while downloading: ask the trackers again (they enforce their own minimum).
    if (!this.scheduler.isComplete && this.swarm.connectedCount < LOW_PEER_COUNT)
      this.announcer?.announceNow();
  }

  /** No traffic while paused: sockets are closed and trackers told we stopped. */
  async pause(): Promise<void> {
    if (this.stateValue === 'paused') return;
    this.generation++;
    this.stopActivity('paused');
    this.setState('paused');
    await this.announcer?.stop();
  }

  async resume(): Promise<void> {
    await this.start();
  }

  /** Stops everything and releases files; with deleteData, removes what it wrote. */
  async destroy(opts: { deleteData: boolean }): Promise<void> {
    this.generation++;
    this.stopActivity('removed');
    await Promise.allSettled([...this.verifying]);
    await this.announcer?.stop();
    if (this.storage) {
      await this.storage.close();
      if (opts.deleteData) await this.storage.remove?.();
    }
    this.storage = null;
  }

  /** Hands an incoming connection to the swarm (the session matched its info-hash). */
  acceptIncoming(socket: Duplex, address: PeerAddress): void {
    if (this.stateValue !== 'downloading' && this.stateValue !== 'seeding') {
      socket.destroy();
      return;
    }
    this.swarm.acceptIncoming(socket, address);
  }

  /** Peers given by hand (command line `--peer`, tests). */
  addPeers(addresses: readonly PeerAddress[], source: PeerSource = 'manual'): void {
    this.swarm.addPeers(addresses, source);
  }

  summary(): TorrentSummary {
    const m = this.metainfo;
    const downRate = this.down.bytesPerSec();
    const left = m.totalLength - this.doneBytes;
    const eta =
      this.stateValue === 'downloading' && downRate > 0 ? Math.ceil(left / downRate) : null;
    return {
      id: this.id,
      name: m.name,
      state: this.stateValue,
      errorMessage: this.errorMessage,
      totalBytes: m.totalLength,
      doneBytes: this.doneBytes,
      progress: m.totalLength === 0 ? 1 : this.doneBytes / m.totalLength,
      pieceCount: m.pieceCount,
      piecesDone: this.scheduler.haveCount,
      downBytesPerSec: Math.round(downRate),
      upBytesPerSec: Math.round(this.up.bytesPerSec()),
      downloadedBytes: this.down.totalBytes,
      uploadedBytes: this.up.totalBytes,
      wastedBytes: this.wastedBytes,
      peersConnected: this.swarm.connectedCount,
      peersKnown: this.swarm.directory.counts().known,
      seedsConnected: this.swarm.seedCount,
      etaSec: eta,
      downloadDir: this.downloadDir,
      addedAt: this.addedAt,
    };
  }

  detail(): TorrentDetail {
    const m = this.metainfo;
    return {
      summary: this.summary(),
      pieces: this.pieceStates(),
      peers: this.swarm.rows(),
      files: this.fileRows(),
      trackers: this.trackerRows(),
      infoHash: m.infoHashHex,
      pieceLength: m.pieceLength,
      isPrivate: m.isPrivate,
      comment: m.comment,
      createdBy: m.createdBy,
    };
  }

  pieceStates(): Uint8Array {
    const out = new Uint8Array(this.metainfo.pieceCount);
    const have = this.scheduler.have;
    for (let i = 0; i < out.length; i++)
      if (have[i >> 3]! & (0x80 >> (i & 7))) out[i] = PieceState.Have;
    for (const i of this.scheduler.activePieceIndexes()) out[i] = PieceState.InFlight;
    for (const i of this.scheduler.pendingPieceIndexes()) out[i] = PieceState.InFlight;
    return out;
  }

  trackerRows(): TrackerRow[] {
    return this.announcer?.rows() ?? [];
  }

  private fileRows(): FileRow[] {
    const m = this.metainfo;
    const have = this.scheduler.have;
    return m.files
      .filter((f) => !f.padding)
      .map((f) => {
        let done = 0;
        if (f.length > 0) {
          const first = Math.floor(f.offset / m.pieceLength);
          const last = Math.floor((f.offset + f.length - 1) / m.pieceLength);
          for (let i = first; i <= last; i++) {
            if (!hasBit(have, i)) continue;
            const start = Math.max(f.offset, i * m.pieceLength);
            const end = Math.min(f.offset + f.length, (i + 1) * m.pieceLength);
            done += end - start;
          }
        }
        const path = m.isMultiFile ? [m.name, ...f.path].join('/') : m.name;
        return {
          path,
          lengthBytes: f.length,
          doneBytes: done,
          progress: f.length === 0 ? 1 : done / f.length,
        };
      });
  }

  private async verifyAndStore(piece: CompletedPiece): Promise<void> {
    const m = this.metainfo;
    const generation = this.generation;
    const expected = m.pieceHashes.subarray(piece.index * 20, piece.index * 20 + 20);
    const { ok, data } = await verifyPiece(this.opts.hashPool, expected, piece.data);
    if (!ok) {
      this.wastedBytes += piece.data.length;
      this.scheduler.onPieceFailed(piece.index);
      this.swarm.pieceFailed(piece.contributors);
      return;
    }
    try {
      if (!this.storage) throw new EngineError('storage', 'storage is closed');
      await this.storage.writePiece(piece.index, data);
    } catch (err) {
      this.scheduler.onPieceFailed(piece.index);
      if (generation === this.generation) this.fail(err);
      return;
    }
    this.scheduler.onPieceVerified(piece.index);
    this.doneBytes += data.length;
    this.emit('piece', piece.index);
    if (generation !== this.generation) return;
    this.swarm.pieceVerified(piece.index);
    if (this.scheduler.isComplete) this.onComplete();
  }

  private onComplete(): void {
    this.setState('seeding');
    this.announcer?.completed();
    this.emit('done');
  }

  private async readBlock(index: number, begin: number, length: number): Promise<Uint8Array> {
    if (!this.storage) throw new EngineError('storage', 'storage is closed');
    return this.storage.read(index, begin, length);
  }

  private stopActivity(reason: string): void {
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = null;
    this.swarm.stop(reason);
  }

  private fail(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.errorMessage = message;
    this.stopActivity(`torrent error: ${message}`);
    void this.announcer?.stop();
    this.setState('error');
    this.emit('error', err instanceof Error ? err : new Error(message));
  }

  private track(p: Promise<void>): void {
    this.verifying.add(p);
    void p.finally(() => this.verifying.delete(p));
  }

  private setState(state: TorrentState): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    this.emit('state', state);
  }
}
