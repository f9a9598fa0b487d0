import { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import {
  PieceState,
  type FileRow,
  type PeerRow,
  type PeerSourceRow,
  type TorrentDetail,
  type TorrentState,
  type TorrentSummary,
  type TrackerRow,
} from '../../../shared/torrent-types';
import type { DhtNode } from '../dht';
import { EngineError } from '../errors';
import type { MagnetLink } from '../magnet/magnet-link';
import { MetadataFetcher } from '../magnet/metadata-fetcher';
import { torrentFileFromMetadata } from '../magnet/torrent-file';
import { parseMetainfo, type Metainfo } from '../metainfo/metainfo';
import { countBits, hasBit } from '../picker/bitfield';
import { checkExistingPieces } from '../storage/check-existing';
import { loadResumeData, planResume, saveResumeData } from '../storage/resume-data';
import { currentBoot, sameBoot } from '../util/boot-identity';
import { debugLog } from '../util/debug-log';
import { FileStorage, type PieceStorage } from '../storage/file-storage';
import { DiskWorkerStopped, type DiskWorker } from '../storage/disk-worker';
import { HashingStopped, verifyPiece, type HashPool } from '../storage/hash-pool';
import { piecesOfFile, spansForRange } from '../storage/piece-layout';
import type { PieceBufferPool } from '../storage/piece-buffers';
import { Announcer } from '../tracker/announcer';
import { RateMeter } from '../util/rate-meter';
import { BlockScheduler, type CompletedPiece } from './block-scheduler';
import type { PeerAddress, PeerSource } from './peer-directory';
import type { SessionMemory } from './session-memory';
import { Swarm } from './swarm';

export interface TorrentOptions {
  /** What we know of the torrent: its metainfo, or a magnet link whose metadata we fetch. */
  source: { metainfo: Metainfo } | { magnet: MagnetLink };
  /**
   * The metadata of a magnet link arrived and was verified: here is the .torrent to keep, so
   * a restart does not fetch it again.
   */
  onMetadata?: (torrentFile: Uint8Array, metainfo: Metainfo) => Promise<void>;
  downloadDir: string;
  peerId: Uint8Array;
  listenPort: () => number;
  hashPool: HashPool;
  /** The session's disk worker, which hashes and writes pieces; without it, this thread writes. */
  diskWorker?: DiskWorker | null;
  /** The session's idle piece buffers, shared by its torrents (else the torrent keeps its own). */
  bufferPool?: PieceBufferPool;
  /** The session's limit on its torrents' piece buffers together; none: only this torrent's. */
  sessionMemory?: SessionMemory;
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
  /** The session's DHT node, when it runs one (it may start and stop while we run). */
  dht?: () => TorrentDht | null;
}

/** What a torrent needs of the session's DHT node. */
export type TorrentDht = Pick<DhtNode, 'port' | 'getPeers' | 'addNode' | 'nodeCount'>;

export interface TorrentEvents {
  state: [state: TorrentState];
  /** A magnet link's metadata arrived: name, size and files are known from now on. */
  metadata: [metainfo: Metainfo];
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
 * A resume save syncs the files first only once the oldest unsynced piece is this old. Linux
 * writes dirty pages back after 30 s by itself, so by then fdatasync has little left to do;
 * syncing each file as it finished cost 0.5 of 3.7 CPU seconds on the 2,000-file benchmark.
 * Until then resume data marks those pieces unsynced (trusted only within the same boot).
 */
const SYNC_AFTER_MS = 30_000;
/**
 * What we tell trackers is left while the size is unknown (magnet without metadata): not 0,
 * which would make us a seed that trackers give no seeds to.
 */
const UNKNOWN_LEFT = 16 * 1024;
/** DHT lookups (which also announce us): often while short of peers, rarely when not. */
const DHT_LOOKUP_SHORT_MS = 60_000;
const DHT_LOOKUP_MS = 15 * 60_000;

/** What exists once the metainfo is known. */
interface Content {
  metainfo: Metainfo;
  scheduler: BlockScheduler;
  swarm: Swarm;
}

/**
 * One swarm's lifecycle: checking what is on disk, downloading, seeding, paused, or stopped by
 * an error; storage, verification and trackers around the peers of its Swarm.
 */
export class Torrent extends EventEmitter<TorrentEvents> {
  readonly id: string;
  readonly infoHash: Uint8Array;
  readonly downloadDir: string;
  readonly addedAt: number;
  private stateValue: TorrentState = 'paused';
  private errorMessage: string | null = null;
  private content: Content | null = null;
  /** Fetches the info dict while `content` is null (a magnet link). */
  private fetcher: MetadataFetcher | null = null;
  private readonly magnet: MagnetLink | null;
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
  /** The last resume-data save asked for (see saveResume). */
  private resumeSaves: Promise<void> = Promise.resolve();
  /**
   * Verified pieces not yet synced to disk, with when they were written (oldest first): in the
   * page cache, safe from a crash of this process but not of the machine.
   */
  private readonly unsyncedPieces = new Map<number, number>();
  /** Files holding unsynced pieces written by an earlier run in this boot: the next sync's too. */
  private inheritedUnsyncedFiles: number[] = [];
  /** The next check ignores resume data ("Verify data"). */
  private forceFullCheck = false;
  private dhtLookupAt: number | null = null;
  private dhtLookupRunning = false;

  constructor(private readonly opts: TorrentOptions) {
    super();
    const { source } = opts;
    this.magnet = 'magnet' in source ? source.magnet : null;
    this.infoHash = 'magnet' in source ? source.magnet.infoHash : source.metainfo.infoHash;
    this.id = Buffer.from(this.infoHash).toString('hex');
    this.downloadDir = opts.downloadDir;
    this.addedAt = opts.addedAt ?? Date.now();
    const tiers =
      'magnet' in source ? source.magnet.trackers.map((t) => [t]) : source.metainfo.announceTiers;
    this.announcer = opts.noTrackers
      ? null
      : new Announcer(
          tiers,
          () => ({
            uploaded: this.up.totalBytes,
            downloaded: this.down.totalBytes,
            left: this.content ? this.content.metainfo.totalLength - this.doneBytes : UNKNOWN_LEFT,
          }),
          { infoHash: this.infoHash, peerId: opts.peerId, port: opts.listenPort() },
          { localAddress: opts.bindAddress },
        );
    this.announcer?.on('peers', (peers) => this.addPeers(peers, 'tracker'));
    if ('metainfo' in source) this.content = this.createContent(source.metainfo);
    else {
      this.fetcher = this.createFetcher();
      this.fetcher.addPeers(source.magnet.peers, 'magnet');
    }
  }

  /** The metainfo; null while a magnet link's metadata is being fetched. */
  get metainfo(): Metainfo | null {
    return this.content?.metainfo ?? null;
  }

  private createContent(m: Metainfo): Content {
    const scheduler = new BlockScheduler({
      pieceCount: m.pieceCount,
      pieceLength: m.pieceLength,
      totalLength: m.totalLength,
      bufferPool: this.opts.bufferPool,
      sessionMemory: this.opts.sessionMemory,
      // Another torrent gave memory back: peers held back by the session's limit fill now.
      onSessionRoom: () => {
        if (this.stateValue === 'downloading' && scheduler.takeMemoryWait()) swarm.wakeAll();
      },
    });
    const swarm = new Swarm({
      infoHash: m.infoHash,
      peerId: this.opts.peerId,
      pieceCount: m.pieceCount,
      infoBytes: m.infoBytes,
      isPrivate: m.isPrivate,
      // Private torrents get peers from their trackers only (BEP 27): no DHT.
      dht: m.isPrivate
        ? undefined
        : {
            port: () => this.opts.dht?.()?.port ?? null,
            addNode: (ip, port) => void this.opts.dht?.()?.addNode(ip, port),
          },
      scheduler,
      readBlock: (index, begin, length) => this.readBlock(index, begin, length),
      pieceSize: (index) => scheduler.pieceSize(index),
      listenPort: this.opts.listenPort,
      maxPeers: this.opts.maxPeers,
      dial: this.opts.dial,
      bindAddress: this.opts.bindAddress,
      downMeter: this.down,
      upMeter: this.up,
    });
    swarm.on('piece-complete', (piece) => this.track(this.verifyAndStore(piece)));
    swarm.on('wasted-bytes', (bytes) => {
      this.wastedBytes += bytes;
    });
    return { metainfo: m, scheduler, swarm };
  }

  private createFetcher(): MetadataFetcher {
    const fetcher = new MetadataFetcher({
      infoHash: this.infoHash,
      peerId: this.opts.peerId,
      listenPort: this.opts.listenPort,
      bindAddress: this.opts.bindAddress,
      dial: this.opts.dial,
    });
    fetcher.on('metadata', (infoBytes) => void this.onMetadata(infoBytes));
    return fetcher;
  }

  /**
   * The magnet's info dict arrived (already checked against the info-hash): it becomes a
   * torrent like any other, kept on disk by the session, and the download starts.
   */
  private async onMetadata(infoBytes: Uint8Array): Promise<void> {
    const fetcher = this.fetcher;
    if (!fetcher || this.content) return;
    const torrentFile = torrentFileFromMetadata(infoBytes, this.magnet?.trackers ?? []);
    let metainfo: Metainfo;
    try {
      metainfo = parseMetainfo(torrentFile);
    } catch (err) {
      this.fail(err);
      return;
    }
    this.fetcher = null;
    const content = this.createContent(metainfo);
    this.content = content;
    for (const { address, source } of fetcher.knownPeers())
      content.swarm.addPeers([address], source);
    debugLog('peer', `${metainfo.name}: metadata complete (${infoBytes.length} bytes)`);
    try {
      await this.opts.onMetadata?.(torrentFile, metainfo);
    } catch (err) {
      debugLog('resume', `${metainfo.name}: could not keep the .torrent: ${String(err)}`);
    }
    this.emit('metadata', metainfo);
    if (this.stateValue !== 'fetching-metadata') return;
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = null;
    this.stateValue = 'paused';
    await this.start();
  }

  get state(): TorrentState {
    return this.stateValue;
  }

  get isComplete(): boolean {
    return this.content?.scheduler.isComplete ?? false;
  }

  /**
   * Starts or resumes: a magnet link first fetches its metadata; then existing data is checked
   * the first time, and the torrent joins the swarm.
   */
  async start(): Promise<void> {
    if (this.stateValue !== 'paused' && this.stateValue !== 'error') return;
    const generation = ++this.generation;
    this.errorMessage = null;
    this.dhtLookupAt = null;
    const content = this.content;
    if (!content) {
      this.setState('fetching-metadata');
      this.fetcher?.start();
      this.announcer?.start();
      this.startTicking();
      return;
    }
    try {
      // Checking starts now, not once the files are open (a round trip to the disk worker).
      if (!this.checked) this.setState('checking');
      if (!this.storage) {
        const disk = this.opts.diskWorker;
        const open =
          this.opts.openStorage ??
          ((m: Metainfo, dir: string) =>
            disk ? disk.openStorage(m, dir) : FileStorage.open(m, dir));
        this.storage = await open(content.metainfo, this.downloadDir);
      }
      // Paused or removed while the files were opening.
      if (generation !== this.generation) return;
      if (!this.checked && !(await this.check(content, this.storage, generation))) return;
    } catch (err) {
      if (generation === this.generation) this.fail(err);
      return;
    }
    if (generation !== this.generation) return;
    const complete = content.scheduler.isComplete;
    this.setState(complete ? 'seeding' : 'downloading');
    content.scheduler.countInSession(true);
    content.swarm.start();
    this.announcer?.start();
    this.startTicking();
    if (complete) this.emit('done');
  }

  private startTicking(): void {
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = setInterval(() => this.tick(), TICK_MS);
    this.tickTimer.unref();
  }

  private tick(): void {
    const content = this.content;
    this.lookUpInDht(content ? content.swarm.connectedCount : (this.fetcher?.connectedCount ?? 0));
    if (!content) {
      this.fetcher?.tick();
      if ((this.fetcher?.connectedCount ?? 0) === 0) this.announcer?.announceNow();
      return;
    }
    const { swarm, scheduler } = content;
    swarm.tick();
    if (
      ++this.ticks % RESUME_SAVE_EVERY_TICKS === 0 &&
      (scheduler.haveCount !== this.savedHaveCount || this.syncDue()) &&
      !this.savingResume
    ) {
      this.savingResume = true;
      void this.saveResume().finally(() => (this.savingResume = false));
    }
    // Short of peers while downloading: ask the trackers again (they enforce their own minimum).
    if (!scheduler.isComplete && swarm.connectedCount < LOW_PEER_COUNT)
      this.announcer?.announceNow();
  }

  /**
   * Asks the DHT for peers and announces us there (BEP 5): at once when started, then every
   * minute while short of peers, else every 15 minutes. Never for private torrents.
   */
  private lookUpInDht(connected: number): void {
    const dht = this.opts.dht?.();
    if (!dht || this.dhtLookupRunning || this.content?.metainfo.isPrivate) return;
    const now = Date.now();
    // A trackerless torrent names DHT nodes to start from (DH-05): tried with the first lookup.
    if (this.dhtLookupAt === null)
      for (const node of this.content?.metainfo.dhtNodes ?? [])
        void dht.addNode(node.host, node.port);
    const every = connected < LOW_PEER_COUNT ? DHT_LOOKUP_SHORT_MS : DHT_LOOKUP_MS;
    if (this.dhtLookupAt !== null && now - this.dhtLookupAt < every) return;
    this.dhtLookupAt = now;
    this.dhtLookupRunning = true;
    const generation = this.generation;
    const port = this.opts.listenPort();
    void dht
      .getPeers(this.infoHash, {
        announcePort: port > 0 ? port : undefined,
        onPeers: (peers) => {
          if (generation === this.generation) this.addPeers(peers, 'dht');
        },
      })
      .catch((err: unknown) => debugLog('dht', `${this.name}: lookup failed: ${String(err)}`))
      .finally(() => (this.dhtLookupRunning = false));
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
    const content = this.content;
    if (!content) return; // Nothing on disk can be checked before the metadata is known.
    const wasRunning = this.stateValue !== 'paused' && this.stateValue !== 'error';
    const generation = ++this.generation;
    this.stopActivity('verifying data');
    await Promise.allSettled([...this.verifying]);
    content.scheduler.clearHave();
    // What peers were sent from memory is read from the disk again.
    this.storage?.dropCaches?.();
    this.doneBytes = 0;
    this.checked = false;
    this.forceFullCheck = true;
    if (wasRunning) {
      this.stateValue = 'paused';
      await this.start();
      return;
    }
    if (this.storage && (await this.check(content, this.storage, generation)))
      this.setState('paused');
  }

  /** The checking state: finds the verified pieces; false when cancelled by pause or removal. */
  private async check(
    content: Content,
    storage: PieceStorage,
    generation: number,
  ): Promise<boolean> {
    this.setState('checking');
    const have = await this.findVerifiedPieces(content.metainfo, storage, generation);
    if (generation !== this.generation) return false;
    const { scheduler } = content;
    for (let i = 0; i < content.metainfo.pieceCount; i++) {
      if (hasBit(have, i) && !hasBit(scheduler.have, i)) {
        scheduler.setHave(i);
        this.doneBytes += scheduler.pieceSize(i);
      }
    }
    this.checked = true;
    // Saved in the background: joining the swarm does not wait for a flush, the files' stats
    // and an fsync'd write (on the benchmark, 70 ms between the check and the announce).
    void this.saveResume();
    return true;
  }

  /**
   * Pieces already verified: from resume data when it is there and valid (only pieces of files
   * that changed since it was saved are hashed again), else by hashing what is on disk.
   */
  private async findVerifiedPieces(
    m: Metainfo,
    storage: PieceStorage,
    generation: number,
  ): Promise<Uint8Array> {
    const cancelled = () => generation !== this.generation;
    const resumeFile = this.opts.resumeFile;
    if (resumeFile && storage.fileStats && !this.forceFullCheck) {
      const saved = await loadResumeData(resumeFile, {
        infoHash: m.infoHashHex,
        pieceCount: m.pieceCount,
        fileCount: m.files.length,
      });
      if (saved) {
        const plan = planResume(m, m.pieceCount, saved, await storage.fileStats(), {
          sameBoot: saved.boot !== null && sameBoot(saved.boot, currentBoot()),
        });
        this.inheritUnsynced(m, saved.unsynced, plan.trusted, saved.savedAt);
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
  private saveResume(): Promise<void> {
    // One save at a time, in the order asked: each takes its snapshot when it runs, so a slow
    // earlier save can never land after, and overwrite, a newer one.
    const save = this.resumeSaves.then(() => this.saveResumeNow());
    this.resumeSaves = save;
    return save;
  }

  private async saveResumeNow(): Promise<void> {
    const { resumeFile } = this.opts;
    const storage = this.storage;
    const content = this.content;
    if (!resumeFile || !storage?.fileStats || !this.checked || !content) return;
    const haveCount = content.scheduler.haveCount;
    try {
      if (this.syncDue() && storage.flush) {
        // Pieces verified from here on may miss this sync: they stay unsynced.
        const covered = [...this.unsyncedPieces.keys()];
        const inherited = this.inheritedUnsyncedFiles;
        await storage.flush(inherited);
        for (const index of covered) this.unsyncedPieces.delete(index);
        if (this.inheritedUnsyncedFiles === inherited) this.inheritedUnsyncedFiles = [];
      }
      const have = content.scheduler.have.slice();
      const unsynced = new Uint8Array(have.length);
      for (const index of this.unsyncedPieces.keys())
        if (hasBit(have, index)) unsynced[index >> 3]! |= 0x80 >> (index & 7);
      await saveResumeData(resumeFile, {
        version: 1,
        infoHash: this.id,
        pieceCount: content.metainfo.pieceCount,
        have,
        unsynced,
        boot: currentBoot(),
        files: await storage.fileStats(),
        savedAt: Date.now(),
      });
      this.savedHaveCount = haveCount;
    } catch (err) {
      debugLog(
        'resume',
        `${content.metainfo.name}: could not save resume data: ${(err as Error).message}`,
      );
    }
  }

  /** Whether the oldest unsynced piece has waited long enough for a sync to be cheap. */
  private syncDue(): boolean {
    for (const writtenAt of this.unsyncedPieces.values())
      return Date.now() - writtenAt >= SYNC_AFTER_MS;
    return false;
  }

  /**
   * Pieces that resume data trusts though they were unsynced when saved (this boot, by an
   * earlier run): still unsynced, and their files are synced with the next sync.
   */
  private inheritUnsynced(
    m: Metainfo,
    unsynced: Uint8Array,
    trusted: Uint8Array,
    savedAt: number,
  ): void {
    const files = new Set<number>();
    for (let index = 0; index < m.pieceCount; index++) {
      if (!hasBit(unsynced, index) || !hasBit(trusted, index)) continue;
      if (!this.unsyncedPieces.has(index)) this.unsyncedPieces.set(index, savedAt);
      const size = Math.min(m.pieceLength, m.totalLength - index * m.pieceLength);
      for (const span of spansForRange(m, index, 0, size))
        if (!span.padding) files.add(span.fileIndex);
    }
    this.inheritedUnsyncedFiles = [...new Set([...this.inheritedUnsyncedFiles, ...files])];
  }

  async resume(): Promise<void> {
    await this.start();
  }

  /** Stops everything and releases files; with deleteData, removes what it wrote. */
  async destroy(opts: { deleteData: boolean }): Promise<void> {
    this.generation++;
    this.stopActivity('removed');
    await Promise.allSettled([...this.verifying]);
    // Pieces half downloaded are dropped: the other torrents may have their memory.
    this.content?.scheduler.detach();
    if (!opts.deleteData) await this.saveResume();
    else if (this.opts.resumeFile) await rm(this.opts.resumeFile, { force: true });
    await this.announcer?.stop();
    // remove() closes the files first.
    if (opts.deleteData && this.storage?.remove) await this.storage.remove();
    else await this.storage?.close();
    this.storage = null;
  }

  /** Hands an incoming connection to the swarm (the session matched its info-hash). */
  acceptIncoming(socket: Duplex, address: PeerAddress): void {
    if (this.stateValue === 'fetching-metadata' && this.fetcher) {
      this.fetcher.acceptIncoming(socket, address);
      return;
    }
    if (!this.content || (this.stateValue !== 'downloading' && this.stateValue !== 'seeding')) {
      socket.destroy();
      return;
    }
    this.content.swarm.acceptIncoming(socket, address);
  }

  /** Peers from trackers, DHT, or given by hand (command line `--peer`, tests). */
  addPeers(addresses: readonly PeerAddress[], source: PeerSource = 'manual'): void {
    if (this.content) this.content.swarm.addPeers(addresses, source);
    else this.fetcher?.addPeers(addresses, source);
  }

  /** The name to show: the metainfo's, else the magnet's `dn`, else the info-hash. */
  get name(): string {
    return this.content?.metainfo.name ?? this.magnet?.displayName ?? this.id;
  }

  summary(): TorrentSummary {
    const content = this.content;
    const m = content?.metainfo;
    // No traffic while stopped: the meters' sliding window would otherwise show a fading rate.
    const active = this.stateValue === 'downloading' || this.stateValue === 'seeding';
    // A seed downloads nothing: the meter's window would show the last seconds fading out.
    const downRate = this.stateValue === 'downloading' ? this.down.bytesPerSec() : 0;
    const total = m?.totalLength ?? 0;
    const left = total - this.doneBytes;
    const eta =
      this.stateValue === 'downloading' && downRate > 0 ? Math.ceil(left / downRate) : null;
    const directory = content ? content.swarm.directory : this.fetcher?.directory;
    return {
      id: this.id,
      name: this.name,
      state: this.stateValue,
      errorMessage: this.errorMessage ?? this.waitingReason(),
      totalBytes: total,
      doneBytes: this.doneBytes,
      progress: m ? (total === 0 ? 1 : this.doneBytes / total) : 0,
      pieceCount: m?.pieceCount ?? 0,
      piecesDone: content?.scheduler.haveCount ?? 0,
      downBytesPerSec: Math.round(downRate),
      upBytesPerSec: active ? Math.round(this.up.bytesPerSec()) : 0,
      downloadedBytes: this.down.totalBytes,
      uploadedBytes: this.up.totalBytes,
      wastedBytes: this.wastedBytes,
      peersConnected: content ? content.swarm.connectedCount : (this.fetcher?.connectedCount ?? 0),
      peersKnown: directory?.counts().known ?? 0,
      seedsConnected: content?.swarm.seedCount ?? 0,
      etaSec: eta,
      downloadDir: this.downloadDir,
      addedAt: this.addedAt,
    };
  }

  /** Why a running download has no peers, in words: the person should never have to guess. */
  private waitingReason(): string | null {
    if (this.stateValue === 'fetching-metadata') return this.metadataStatus();
    if (this.stateValue !== 'downloading' || !this.content || this.content.swarm.connectedCount > 0)
      return null;
    return `waiting for peers: ${this.noPeersReason(this.content.swarm.directory.counts().known)}`;
  }

  /** Whom we ask for a magnet's metadata ("asking …, 1/2 pieces"), or why nobody yet. */
  private metadataStatus(): string {
    const fetcher = this.fetcher;
    if (!fetcher) return 'metadata complete';
    const asking = fetcher.askablePeers();
    if (asking.length === 0)
      return `no peer to ask yet: ${this.noPeersReason(fetcher.directory.counts().known)}`;
    const progress = fetcher.progress();
    const pieces = progress ? `, ${progress.received}/${progress.total} pieces` : '';
    const shown = asking.slice(0, 3).join(', ');
    const more = asking.length > 3 ? ` and ${asking.length - 3} more` : '';
    return `asking ${shown}${more}${pieces}`;
  }

  /** Why no peer is connected: failing trackers, unreachable peers, or no source at all. */
  private noPeersReason(known: number): string {
    const trackers = this.trackerRows();
    const failing = trackers.filter((t) => t.status === 'error');
    if (
      failing.length > 0 &&
      failing.length === trackers.filter((t) => t.status !== 'disabled').length
    ) {
      return `${failing[0]!.url} failed (${failing[0]!.lastError ?? 'no answer'}); retrying with back-off`;
    }
    if (known > 0)
      return `none of the ${known} known peers is reachable now; retrying with back-off`;
    return trackers.length > 0 ? 'asking the trackers' : 'no trackers; add peers by hand';
  }

  detail(): TorrentDetail {
    const m = this.content?.metainfo;
    const peers = this.content ? this.content.swarm.rows() : (this.fetcher?.rows() ?? []);
    return {
      summary: this.summary(),
      sources: this.sourceRows(peers),
      dht: this.dhtState(),
      pieces: this.pieceStates(),
      peers,
      files: this.fileRows(),
      trackers: this.trackerRows(),
      infoHash: this.id,
      pieceLength: m?.pieceLength ?? 0,
      isPrivate: m?.isPrivate ?? false,
      comment: m?.comment ?? null,
      createdBy: m?.createdBy ?? null,
    };
  }

  private dhtState(): TorrentDetail['dht'] {
    if (this.content?.metainfo.isPrivate) return { state: 'private' };
    const dht = this.opts.dht?.();
    return dht ? { state: 'on', nodes: dht.nodeCount() } : { state: 'off' };
  }

  /** Where the peers came from: tracker, DHT, PEX, the magnet link, incoming, by hand. */
  private sourceRows(peers: PeerRow[]): PeerSourceRow[] {
    const directory = this.content ? this.content.swarm.directory : this.fetcher?.directory;
    const known = directory?.countBySource() ?? new Map<PeerSource, number>();
    const connected = new Map<PeerSource, number>();
    for (const p of peers) connected.set(p.source, (connected.get(p.source) ?? 0) + 1);
    const order: PeerSource[] = ['tracker', 'dht', 'pex', 'magnet', 'incoming', 'manual'];
    return order
      .filter((source) => known.has(source) || connected.has(source))
      .map((source) => ({
        source,
        known: Math.max(known.get(source) ?? 0, connected.get(source) ?? 0),
        connected: connected.get(source) ?? 0,
      }));
  }

  pieceStates(): Uint8Array {
    const content = this.content;
    if (!content) return new Uint8Array(0);
    const { scheduler } = content;
    const out = new Uint8Array(content.metainfo.pieceCount);
    const have = scheduler.have;
    for (let i = 0; i < out.length; i++)
      if (have[i >> 3]! & (0x80 >> (i & 7))) out[i] = PieceState.Have;
    for (const i of scheduler.activePieceIndexes()) out[i] = PieceState.InFlight;
    for (const i of scheduler.pendingPieceIndexes()) out[i] = PieceState.InFlight;
    return out;
  }

  trackerRows(): TrackerRow[] {
    return this.announcer?.rows() ?? [];
  }

  private fileRows(): FileRow[] {
    const content = this.content;
    if (!content) return [];
    const m = content.metainfo;
    const have = content.scheduler.have;
    return m.files
      .filter((f) => !f.padding)
      .map((f) => {
        let done = 0;
        const pieces = piecesOfFile(m.pieceLength, f);
        if (pieces) {
          for (let i = pieces.first; i <= pieces.last; i++) {
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
    const content = this.content;
    if (!content) return;
    const { metainfo: m, scheduler, swarm } = content;
    const generation = this.generation;
    const expected = m.pieceHashes.subarray(piece.index * 20, piece.index * 20 + 20);
    const storage = this.storage;
    let result: { ok: boolean; data: Buffer };
    try {
      if (!storage) throw new EngineError('storage', 'storage is closed');
      // piece.data is handed to a worker (detached); what comes back is `data`.
      result = storage.verifyAndWrite
        ? await storage.verifyAndWrite(piece.index, expected, piece.data)
        : await this.verifyThenWrite(storage, piece.index, expected, piece.data);
    } catch (err) {
      scheduler.onPieceFailed(piece.index);
      // The workers are gone (shutting down): the piece is simply fetched again later.
      if (err instanceof HashingStopped || err instanceof DiskWorkerStopped) return;
      if (generation === this.generation) this.fail(err);
      return;
    }
    const { ok, data } = result;
    scheduler.recycle(data);
    if (!ok) {
      this.wastedBytes += data.length;
      scheduler.onPieceFailed(piece.index);
      swarm.pieceFailed(piece.contributors);
      return;
    }
    scheduler.onPieceVerified(piece.index);
    this.unsyncedPieces.delete(piece.index); // Map order: oldest first
    this.unsyncedPieces.set(piece.index, Date.now());
    this.doneBytes += data.length;
    this.emit('piece', piece.index);
    if (generation !== this.generation) return;
    swarm.pieceVerified(piece.index);
    // Peers held back by the memory budget get their requests now, not at the next tick.
    if (scheduler.takeMemoryWait()) swarm.wakeAll();
    if (scheduler.isComplete) this.onComplete();
  }

  /** Hashes on the hashing workers, then writes on this thread (storage without a disk worker). */
  private async verifyThenWrite(
    storage: PieceStorage,
    index: number,
    expected: Uint8Array,
    piece: Buffer,
  ): Promise<{ ok: boolean; data: Buffer }> {
    let verified: { ok: boolean; data: Buffer };
    try {
      verified = await verifyPiece(this.opts.hashPool, expected, piece);
    } catch (err) {
      throw new HashingStopped(err instanceof Error ? err.message : String(err));
    }
    if (verified.ok) await storage.writePiece(index, verified.data);
    return verified;
  }

  private onComplete(): void {
    this.setState('seeding');
    this.announcer?.completed();
    this.emit('done');
  }

  private async readBlock(index: number, begin: number, length: number): Promise<Uint8Array> {
    const storage = this.storage;
    if (!storage) throw new EngineError('storage', 'storage is closed');
    return storage.readBlock
      ? storage.readBlock(index, begin, length)
      : storage.read(index, begin, length);
  }

  private stopActivity(reason: string): void {
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = null;
    this.content?.swarm.stop(reason);
    this.content?.scheduler.countInSession(false);
    this.fetcher?.stop(reason);
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
