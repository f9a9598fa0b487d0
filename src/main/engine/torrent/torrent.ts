import { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
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
import { countBits, hasBit } from '../picker/bitfield';
import { checkExistingPieces } from '../storage/check-existing';
import { loadResumeData, planResume, saveResumeData } from '../storage/resume-data';
import { debugLog } from '../util/debug-log';
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
  /** Where this torrent's resume data lives; none when absent (then a restart hashes the disk). */
  resumeFile?: string;
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
/** Resume data is saved this often (in ticks) while pieces keep arriving, and on pause and quit. */
const RESUME_SAVE_EVERY_TICKS = 5;

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
  private ticks = 0;
  private savedHaveCount = -1;
  private savingResume = false;
  /** The next check ignores resume data ("Verify data"). */
  private forceFullCheck = false;

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
      if (!this.checked && !(await this.check(this.storage, generation))) return;
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
    if (
      ++this.ticks % RESUME_SAVE_EVERY_TICKS === 0 &&
      this.scheduler.haveCount !== this.savedHaveCount &&
      !this.savingResume
    ) {
      this.savingResume = true;
      void this.saveResume().finally(() => (this.savingResume = false));
    }
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
    await Promise.allSettled([...this.verifying]);
    await this.saveResume();
    await this.announcer?.stop();
  }

  /** "Verify data": forget what we know, hash everything on disk again, keep what matches. */
  async recheck(): Promise<void> {
    const wasRunning = this.stateValue !== 'paused' && this.stateValue !== 'error';
    const generation = ++this.generation;
    this.stopActivity('verifying data');
    await Promise.allSettled([...this.verifying]);
    this.scheduler.clearHave();
    this.doneBytes = 0;
    this.checked = false;
    this.forceFullCheck = true;
    if (wasRunning) {
      this.stateValue = 'paused';
      await this.start();
      return;
    }
    if (this.storage && (await this.check(this.storage, generation))) this.setState('paused');
  }

  /** The checking state: finds the verified pieces; false when cancelled by pause or removal. */
  private async check(storage: PieceStorage, generation: number): Promise<boolean> {
    this.setState('checking');
    const have = await this.findVerifiedPieces(storage, generation);
    if (generation !== this.generation) return false;
    for (let i = 0; i < this.metainfo.pieceCount; i++) {
      if (hasBit(have, i) && !hasBit(this.scheduler.have, i)) {
        this.scheduler.setHave(i);
        this.doneBytes += this.scheduler.pieceSize(i);
      }
    }
    this.checked = true;
    await this.saveResume();
    return true;
  }

  /**
   * Pieces already verified: from resume data when it is there and valid (only pieces of files
   * that changed since it was saved are hashed again), else by hashing what is on disk.
   */
  private async findVerifiedPieces(storage: PieceStorage, generation: number): Promise<Uint8Array> {
    const m = this.metainfo;
    const cancelled = () => generation !== this.generation;
    const resumeFile = this.opts.resumeFile;
    if (resumeFile && storage.fileStats && !this.forceFullCheck) {
      const saved = await loadResumeData(resumeFile, {
        infoHash: m.infoHashHex,
        pieceCount: m.pieceCount,
        fileCount: m.files.length,
      });
      if (saved) {
        const plan = planResume(m, m.pieceCount, saved, await storage.fileStats());
        debugLog(
          'resume',
          `${m.name}: resume data trusts ${countBits(plan.trusted)} pieces, rechecking ${plan.recheck.length}`,
        );
        const rechecked = await checkExistingPieces(
          storage,
          m,
          m.pieceHashes,
          this.opts.hashPool,
          undefined,
          cancelled,
          plan.recheck,
        );
        for (let i = 0; i < plan.trusted.length; i++) plan.trusted[i]! |= rechecked[i]!;
        return plan.trusted;
      }
    }
    this.forceFullCheck = false;
    return checkExistingPieces(storage, m, m.pieceHashes, this.opts.hashPool, undefined, cancelled);
  }

  /**
   * Records the verified pieces with the files' sizes and times, after flushing the data to
   * disk: resume data never claims more than the disk holds.
   */
  private async saveResume(): Promise<void> {
    const { resumeFile } = this.opts;
    const storage = this.storage;
    if (!resumeFile || !storage?.fileStats || !this.checked) return;
    const haveCount = this.scheduler.haveCount;
    try {
      await storage.flush?.();
      await saveResumeData(resumeFile, {
        version: 1,
        infoHash: this.id,
        pieceCount: this.metainfo.pieceCount,
        have: this.scheduler.have.slice(),
        files: await storage.fileStats(),
        savedAt: Date.now(),
      });
      this.savedHaveCount = haveCount;
    } catch (err) {
      debugLog(
        'resume',
        `${this.metainfo.name}: could not save resume data: ${(err as Error).message}`,
      );
    }
  }

  async resume(): Promise<void> {
    await this.start();
  }

  /** Stops everything and releases files; with deleteData, removes what it wrote. */
  async destroy(opts: { deleteData: boolean }): Promise<void> {
    this.generation++;
    this.stopActivity('removed');
    await Promise.allSettled([...this.verifying]);
    if (!opts.deleteData) await this.saveResume();
    else if (this.opts.resumeFile) await rm(this.opts.resumeFile, { force: true });
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
    // No traffic while stopped: the meters' sliding window would otherwise show a fading rate.
    const active = this.stateValue === 'downloading' || this.stateValue === 'seeding';
    const downRate = active ? this.down.bytesPerSec() : 0;
    const left = m.totalLength - this.doneBytes;
    const eta =
      this.stateValue === 'downloading' && downRate > 0 ? Math.ceil(left / downRate) : null;
    return {
      id: this.id,
      name: m.name,
      state: this.stateValue,
      errorMessage: this.errorMessage ?? this.waitingReason(),
      totalBytes: m.totalLength,
      doneBytes: this.doneBytes,
      progress: m.totalLength === 0 ? 1 : this.doneBytes / m.totalLength,
      pieceCount: m.pieceCount,
      piecesDone: this.scheduler.haveCount,
      downBytesPerSec: Math.round(downRate),
      upBytesPerSec: active ? Math.round(this.up.bytesPerSec()) : 0,
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

  /** Why a running download has no peers, in words: the person should never have to guess. */
  private waitingReason(): string | null {
    if (this.stateValue !== 'downloading' || this.swarm.connectedCount > 0) return null;
    const known = this.swarm.directory.counts().known;
    const trackers = this.trackerRows();
    const failing = trackers.filter((t) => t.status === 'error');
    if (
      failing.length > 0 &&
      failing.length === trackers.filter((t) => t.status !== 'disabled').length
    ) {
      return `waiting for peers: ${failing[0]!.url} failed (${failing[0]!.lastError ?? 'no answer'}); retrying with back-off`;
    }
    if (known > 0)
      return `waiting for peers: none of the ${known} known peers is reachable now; retrying with back-off`;
    return trackers.length > 0
      ? 'waiting for peers from the trackers'
      : 'waiting for peers (no trackers; add peers by hand)';
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
    let result: { ok: boolean; data: Buffer };
    try {
      // piece.data is handed to a hashing worker (detached); what comes back is `data`.
      result = await verifyPiece(this.opts.hashPool, expected, piece.data);
    } catch {
      // The hashing workers are gone (shutting down): the piece is simply fetched again later.
      this.scheduler.onPieceFailed(piece.index);
      return;
    }
    const { ok, data } = result;
    if (!ok) {
      this.wastedBytes += data.length;
      this.scheduler.onPieceFailed(piece.index);
      this.scheduler.recycle(data);
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
    } finally {
      this.scheduler.recycle(data);
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
