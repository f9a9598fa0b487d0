import { EventEmitter } from 'node:events';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import net, { isIP } from 'node:net';
import path from 'node:path';
import {
  DEFAULT_SETTINGS,
  parseBootstrapNode,
  validateSettings,
  type Settings,
} from '../../shared/settings';
import { DhtNode, DualStackDht } from './dht';
import { EngineError } from './errors';
import { writeFileAtomic } from './util/atomic-write';
import { parseMagnetLink, type MagnetLink } from './magnet/magnet-link';
import { parseMetainfo, type Metainfo } from './metainfo/metainfo';
import { generatePeerId } from './peer/peer-id';
import { DiskWorker } from './storage/disk-worker';
import { HashPool } from './storage/hash-pool';
import { PieceBufferPool } from './storage/piece-buffers';
import { MAX_MEMORY_BUDGET } from './torrent/block-scheduler';
import { SessionMemory } from './torrent/session-memory';
import { Torrent } from './torrent/torrent';

export interface SessionOptions {
  /** Default folder for new torrents. */
  downloadDir: string;
  /** 0 or undefined: any free port. */
  listenPort?: number;
  listenHost?: string;
  /**
   * Local address for every connection we make and accept (default: any). Lets several
   * clients share one machine as distinct hosts on 127.0.0.x, and pins traffic to one interface.
   */
  bindAddress?: string;
  maxPeersPerTorrent?: number;
  /** Where the list of torrents is kept so that a restart restores them; none when absent. */
  stateDir?: string;
  /**
   * Where resume data is kept (one file per torrent), so a restart does not hash everything
   * again. Defaults to <stateDir>/resume; none when neither is given.
   */
  resumeDir?: string;
  /** Do not announce to trackers (tests that give peers by hand). */
  noTrackers?: boolean;
  /**
   * Settings to start with. With a stateDir, the saved settings.json wins over these and
   * changes are saved there. Default: DEFAULT_SETTINGS.
   */
  settings?: Settings;
  /** UDP port of the DHT node; default the TCP listen port if free, else any. */
  dhtPort?: number;
  /**
   * Bytes of piece buffers all torrents together may hold (pieces being downloaded and pieces
   * waiting to be written). Default MAX_MEMORY_BUDGET (96 MiB), what one torrent may have at
   * most; lower on a machine short of memory, at some cost in speed.
   */
  pieceMemoryLimitBytes?: number;
}

export interface AddTorrentOptions {
  downloadDir?: string;
  paused?: boolean;
}

export interface SessionEvents {
  'torrent-added': [torrent: Torrent];
  'torrent-removed': [id: string];
}

/** What the state folder remembers of each torrent. */
interface SavedTorrent {
  id: string;
  downloadDir: string;
  paused: boolean;
  addedAt: number;
  /** The magnet link, while its metadata has not arrived (then there is no .torrent yet). */
  magnet?: string;
}

/** The pstrlen byte, the protocol string, the reserved bytes and the info-hash. */
const HANDSHAKE_PREFIX = 1 + 19 + 8 + 20;
const INCOMING_HANDSHAKE_TIMEOUT_MS = 10_000;
const PROTOCOL = Buffer.from('\x13BitTorrent protocol', 'latin1');

/**
 * All torrents of one running Tessera, the port peers reach them on, the shared hashing
 * workers, and the list of torrents that survives a restart.
 */
export class Session extends EventEmitter<SessionEvents> {
  readonly peerId = generatePeerId();
  private readonly byId = new Map<string, Torrent>();
  /** Magnet links of torrents still fetching their metadata, kept so a restart can go on. */
  private readonly pendingMagnets = new Map<string, string>();
  private readonly hashPool = new HashPool();
  /** Hashes and writes downloaded pieces; null in a build without its code (then torrents write here). */
  private readonly diskWorker = DiskWorker.create();
  /** Idle piece buffers for every torrent: as much as the largest torrent's memory budget. */
  private readonly bufferPool = new PieceBufferPool(MAX_MEMORY_BUDGET);
  /**
   * The piece buffers of every torrent together stay within pieceMemoryLimitBytes, by default
   * what one torrent may have at most. Two 1 GiB downloads (4 MiB pieces) at once, 3 runs: peak
   * RSS 191-201 MB, both done in 4.1-4.7 s; with a limit of 128 MiB 248-265 MB and 4.5-5.3 s;
   * with none 375-385 MB and 4.8-5.1 s (bench/warm-engine.ts --together).
   */
  private readonly memory: SessionMemory;
  private server: net.Server | null = null;
  private portValue = 0;
  private saveChain: Promise<void> = Promise.resolve();
  private closed = false;
  private settingsValue: Settings;
  private dht: DualStackDht | null = null;
  /** Listening on '::' (IPv6 and IPv4); false when the machine had no IPv6. */
  private listeningDualStack = false;
  /** DHT start/stop in progress, so that settings changes apply one at a time. */
  private dhtChange: Promise<void> = Promise.resolve();

  private constructor(private readonly opts: SessionOptions) {
    super();
    this.settingsValue = opts.settings ?? DEFAULT_SETTINGS;
    this.memory = new SessionMemory(opts.pieceMemoryLimitBytes ?? MAX_MEMORY_BUDGET);
  }

  /** Listens for peers, joins the DHT, and restores the torrents saved in `stateDir`. */
  static async create(opts: SessionOptions): Promise<Session> {
    const limit = opts.pieceMemoryLimitBytes;
    if (limit !== undefined && !(Number.isSafeInteger(limit) && limit > 0))
      throw new EngineError('bad-settings', 'pieceMemoryLimitBytes must be a positive integer');
    const session = new Session(opts);
    // The worker thread starts (~40 ms) while the session listens and loads its torrents.
    session.diskWorker?.start();
    if (opts.stateDir)
      session.settingsValue = await loadSettings(opts.stateDir, session.settingsValue);
    await session.listen();
    await session.applyDhtSettings();
    if (opts.stateDir) await session.restore(opts.stateDir);
    return session;
  }

  get settings(): Settings {
    return this.settingsValue;
  }

  /** Nodes in the DHT routing table; 0 while the DHT is off or nobody answered yet. */
  dhtNodeCount(): number {
    return this.dht?.nodeCount() ?? 0;
  }

  /** Changes settings (validated), saves them, and starts or stops the DHT to match. */
  async updateSettings(next: unknown): Promise<Settings> {
    const checked = validateSettings(next);
    if (typeof checked === 'string') throw new EngineError('bad-settings', checked);
    this.settingsValue = checked;
    if (this.opts.stateDir)
      await writeFileAtomic(
        path.join(this.opts.stateDir, 'settings.json'),
        JSON.stringify(checked, null, 2),
      );
    await this.applyDhtSettings();
    return checked;
  }

  /**
   * Starts, restarts (new bootstrap list) or stops the DHT as the settings say: on the bind
   * address's family only, or, listening on every interface, an IPv4 node and an IPv6 one (BEP 32)
   * on the same port number.
   */
  private applyDhtSettings(): Promise<void> {
    this.dhtChange = this.dhtChange.then(async () => {
      const { enabled, bootstrap } = this.settingsValue.dht;
      await this.dht?.close();
      this.dht = null;
      if (!enabled || this.closed) return;
      // Validated settings: every entry parses.
      const bootstrapNodes = bootstrap.flatMap((b) => parseBootstrapNode(b) ?? []);
      const start = async (host: string, port: number, stateName: string) => {
        const stateFile = this.opts.stateDir ? path.join(this.opts.stateDir, stateName) : undefined;
        const create = (p: number) =>
          DhtNode.create({ host, port: p, bootstrap: bootstrapNodes, stateFile });
        // The wanted port may be taken for UDP: then any port will do.
        return create(port).catch(() => create(0).catch(() => null));
      };
      const given = this.opts.bindAddress ?? this.opts.listenHost;
      const port = this.opts.dhtPort ?? this.portValue;
      if (given) {
        const v6 = isIP(given) === 6;
        const node = await start(given, port, v6 ? 'dht6.json' : 'dht.json');
        this.dht = node && new DualStackDht(v6 ? null : node, v6 ? node : null);
        return;
      }
      const v4 = await start('0.0.0.0', port, 'dht.json');
      // Only where the machine has IPv6 (the listener fell back to IPv4 otherwise).
      const v6 = this.listeningDualStack ? await start('::', v4?.port ?? port, 'dht6.json') : null;
      this.dht = v4 || v6 ? new DualStackDht(v4, v6) : null;
    });
    return this.dhtChange;
  }

  get port(): number {
    return this.portValue;
  }

  get downloadDir(): string {
    return this.opts.downloadDir;
  }

  /** Adds a torrent from the bytes of a .torrent file; starts it unless `paused`. */
  async addTorrent(torrentBytes: Uint8Array, opts: AddTorrentOptions = {}): Promise<Torrent> {
    this.assertOpen();
    const metainfo = parseMetainfo(torrentBytes);
    const downloadDir = await this.checkNew(metainfo.infoHashHex, metainfo.name, opts);
    const torrent = this.createTorrent({ metainfo }, downloadDir, Date.now());
    if (this.opts.stateDir)
      await this.saveTorrentFile(this.opts.stateDir, metainfo.infoHashHex, torrentBytes);
    return this.admit(torrent, opts);
  }

  /**
   * Adds a torrent from a magnet link: it fetches its metadata from peers (BEP 9), then
   * downloads like any other; starts unless `paused`. Throws InvalidMagnetError for bad links.
   */
  async addMagnet(uri: string, opts: AddTorrentOptions = {}): Promise<Torrent> {
    this.assertOpen();
    const magnet = parseMagnetLink(uri);
    const name = this.byId.get(magnet.infoHashHex)?.name ?? '';
    const downloadDir = await this.checkNew(magnet.infoHashHex, name, opts);
    return this.admit(this.createTorrent({ magnet }, downloadDir, Date.now(), uri.trim()), opts);
  }

  private assertOpen(): void {
    if (this.closed) throw new EngineError('session-closed', 'the session is shutting down');
  }

  /** Refuses a torrent already listed (by `name`); returns its writable download folder. */
  private async checkNew(id: string, name: string, opts: AddTorrentOptions): Promise<string> {
    if (this.byId.has(id))
      throw new EngineError('duplicate-torrent', `"${name}" is already in the list`);
    const downloadDir = path.resolve(opts.downloadDir ?? this.opts.downloadDir);
    await assertWritableDir(downloadDir);
    return downloadDir;
  }

  /** A new torrent is announced, started unless paused, and remembered. */
  private admit(torrent: Torrent, opts: AddTorrentOptions): Torrent {
    this.emit('torrent-added', torrent);
    if (!opts.paused) void torrent.start();
    this.scheduleSave();
    return torrent;
  }

  getTorrent(id: string): Torrent | undefined {
    return this.byId.get(id.toLowerCase());
  }

  torrents(): Torrent[] {
    return [...this.byId.values()];
  }

  async removeTorrent(id: string, opts: { deleteData: boolean }): Promise<void> {
    const torrent = this.getTorrent(id);
    if (!torrent) throw new EngineError('unknown-torrent', `no torrent with id ${id}`);
    this.byId.delete(torrent.id);
    this.pendingMagnets.delete(torrent.id);
    await torrent.destroy(opts);
    // A torrent no longer in the list has no use for its resume data.
    const resumeFile = this.resumeFile(torrent.id);
    if (resumeFile) await rm(resumeFile, { force: true });
    if (this.opts.stateDir)
      await rm(this.torrentFilePath(this.opts.stateDir, torrent.id), { force: true });
    this.emit('torrent-removed', torrent.id);
    this.scheduleSave();
  }

  /** Pauses are remembered: a torrent paused now is restored paused. */
  async pauseTorrent(id: string): Promise<void> {
    await this.requireTorrent(id).pause();
    this.scheduleSave();
  }

  async resumeTorrent(id: string): Promise<void> {
    await this.requireTorrent(id).resume();
    this.scheduleSave();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.scheduleSave();
    await this.saveChain;
    await this.dhtChange;
    await this.dht?.close();
    this.dht = null;
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
    await Promise.allSettled(this.torrents().map((t) => t.destroy({ deleteData: false })));
    await this.hashPool.destroy();
    await this.diskWorker?.destroy();
  }

  private requireTorrent(id: string): Torrent {
    const torrent = this.getTorrent(id);
    if (!torrent) throw new EngineError('unknown-torrent', `no torrent with id ${id}`);
    return torrent;
  }

  private createTorrent(
    source: { metainfo: Metainfo } | { magnet: MagnetLink },
    downloadDir: string,
    addedAt: number,
    magnetUri?: string,
  ): Torrent {
    const id = 'metainfo' in source ? source.metainfo.infoHashHex : source.magnet.infoHashHex;
    if (magnetUri) this.pendingMagnets.set(id, magnetUri);
    const torrent = new Torrent({
      source,
      onMetadata: (torrentFile) => this.keepFetchedMetadata(id, torrentFile),
      downloadDir,
      peerId: this.peerId,
      listenPort: () => this.portValue,
      hashPool: this.hashPool,
      diskWorker: this.diskWorker,
      bufferPool: this.bufferPool,
      sessionMemory: this.memory,
      maxPeers: this.opts.maxPeersPerTorrent ?? 50,
      noTrackers: this.opts.noTrackers,
      bindAddress: this.opts.bindAddress,
      dht: () => this.dht,
      resumeFile: this.resumeFile(id),
      addedAt,
    });
    // A torrent's failure is shown on that torrent; it must never take the session down.
    torrent.on('error', () => this.scheduleSave());
    torrent.on('state', () => this.scheduleSave());
    this.byId.set(torrent.id, torrent);
    return torrent;
  }

  /** A magnet's metadata arrived: from now on the torrent is restored from its .torrent. */
  private async keepFetchedMetadata(id: string, torrentFile: Uint8Array): Promise<void> {
    if (this.opts.stateDir && this.byId.has(id))
      await this.saveTorrentFile(this.opts.stateDir, id, torrentFile);
    this.pendingMagnets.delete(id);
    this.scheduleSave();
  }

  /**
   * Listens for peers: on the bind address if given, else on every interface, IPv6 and IPv4
   * together (BEP 7) where the machine has IPv6, IPv4 alone where it does not.
   */
  private async listen(): Promise<void> {
    const given = this.opts.bindAddress ?? this.opts.listenHost;
    try {
      await this.listenOn(given ?? '::');
      this.listeningDualStack = !given;
    } catch (err) {
      if (given) throw err;
      await this.listenOn('0.0.0.0');
    }
  }

  private async listenOn(host: string): Promise<void> {
    const server = net.createServer((socket) => this.onIncoming(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.listenPort ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => {
      // Errors after listening (rare: e.g. EMFILE on accept) must not crash the process.
    });
    const address = server.address();
    this.portValue = typeof address === 'object' && address ? address.port : 0;
    this.server = server;
  }

  /** Reads just enough of the handshake to find the torrent, then hands the socket over. */
  private onIncoming(socket: net.Socket): void {
    const chunks: Buffer[] = [];
    let length = 0;
    socket.setNoDelay(true);
    const timer = setTimeout(() => socket.destroy(), INCOMING_HANDSHAKE_TIMEOUT_MS);
    timer.unref();
    const onError = () => {
      clearTimeout(timer);
      socket.destroy();
    };
    socket.on('error', onError);
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length < HANDSHAKE_PREFIX) return;
      socket.off('data', onData);
      socket.pause();
      clearTimeout(timer);
      const head = Buffer.concat(chunks, length);
      if (!head.subarray(0, 20).equals(PROTOCOL)) {
        socket.destroy();
        return;
      }
      const infoHash = head.subarray(28, 48).toString('hex');
      const torrent = this.byId.get(infoHash);
      if (!torrent || !socket.remoteAddress || !socket.remotePort) {
        socket.destroy();
        return;
      }
      socket.off('error', onError);
      socket.unshift(head);
      const ip = socket.remoteAddress.startsWith('::ffff:')
        ? socket.remoteAddress.slice(7)
        : socket.remoteAddress;
      torrent.acceptIncoming(socket, { ip, port: socket.remotePort });
    };
    socket.on('data', onData);
  }

  private resumeFile(id: string): string | undefined {
    const dir =
      this.opts.resumeDir ??
      (this.opts.stateDir ? path.join(this.opts.stateDir, 'resume') : undefined);
    return dir ? path.join(dir, `${id}.resume.json`) : undefined;
  }

  private torrentFilePath(stateDir: string, id: string): string {
    return path.join(stateDir, 'torrents', `${id}.torrent`);
  }

  private async saveTorrentFile(stateDir: string, id: string, bytes: Uint8Array): Promise<void> {
    await writeFileAtomic(this.torrentFilePath(stateDir, id), bytes);
  }

  /** Saves are serialised and coalesced: the latest state always wins, never a torn file. */
  private scheduleSave(): void {
    const stateDir = this.opts.stateDir;
    if (!stateDir) return;
    this.saveChain = this.saveChain
      .then(() => {
        const saved: SavedTorrent[] = this.torrents().map((t) => ({
          id: t.id,
          downloadDir: t.downloadDir,
          paused: t.state === 'paused',
          addedAt: t.addedAt,
          ...(this.pendingMagnets.has(t.id) ? { magnet: this.pendingMagnets.get(t.id) } : {}),
        }));
        return writeFileAtomic(
          path.join(stateDir, 'session.json'),
          JSON.stringify({ version: 1, torrents: saved }, null, 2),
        );
      })
      .catch(() => {
        // A failed save is retried with the next change; the previous file stays intact.
      });
  }

  private async restore(stateDir: string): Promise<void> {
    let saved: SavedTorrent[];
    try {
      const json: unknown = JSON.parse(await readFile(path.join(stateDir, 'session.json'), 'utf8'));
      saved = parseSavedSession(json);
    } catch {
      return; // First start, or a damaged file: start empty rather than refuse to start.
    }
    for (const entry of saved) {
      try {
        if (this.byId.has(entry.id)) continue;
        const source = await readSavedSource(this.torrentFilePath(stateDir, entry.id), entry);
        if (!source) continue;
        const torrent = this.createTorrent(source, entry.downloadDir, entry.addedAt, entry.magnet);
        this.emit('torrent-added', torrent);
        if (!entry.paused) void torrent.start();
      } catch {
        // One unreadable torrent must not keep the others from coming back.
      }
    }
  }
}

/** The saved .torrent, or for a magnet still without metadata, its link; null if neither. */
async function readSavedSource(
  file: string,
  entry: SavedTorrent,
): Promise<{ metainfo: Metainfo } | { magnet: MagnetLink } | null> {
  try {
    const metainfo = parseMetainfo(await readFile(file));
    return metainfo.infoHashHex === entry.id ? { metainfo } : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !entry.magnet) throw err;
  }
  const magnet = parseMagnetLink(entry.magnet);
  return magnet.infoHashHex === entry.id ? { magnet } : null;
}

/** settings.json from the state folder; `fallback` when missing or damaged. */
async function loadSettings(stateDir: string, fallback: Settings): Promise<Settings> {
  try {
    const checked = validateSettings(
      JSON.parse(await readFile(path.join(stateDir, 'settings.json'), 'utf8')),
    );
    return typeof checked === 'string' ? fallback : checked;
  } catch {
    return fallback;
  }
}

function parseSavedSession(json: unknown): SavedTorrent[] {
  if (
    typeof json !== 'object' ||
    json === null ||
    !('torrents' in json) ||
    !Array.isArray(json.torrents)
  )
    return [];
  const out: SavedTorrent[] = [];
  for (const t of json.torrents as unknown[]) {
    if (typeof t !== 'object' || t === null) continue;
    const r = t as Record<string, unknown>;
    if (typeof r.id !== 'string' || !/^[0-9a-f]{40}$/.test(r.id)) continue;
    if (typeof r.downloadDir !== 'string' || !path.isAbsolute(r.downloadDir)) continue;
    out.push({
      id: r.id,
      downloadDir: r.downloadDir,
      paused: r.paused === true,
      addedAt: typeof r.addedAt === 'number' ? r.addedAt : Date.now(),
      ...(typeof r.magnet === 'string' ? { magnet: r.magnet } : {}),
    });
  }
  return out;
}

/** Fails early, with a message a person can act on, when the folder cannot be written. */
export async function assertWritableDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    const probe = path.join(dir, `.tessera-write-test-${process.pid}`);
    await writeFile(probe, '');
    await rm(probe, { force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EROFS'
          ? 'read-only file system'
          : code === 'ENOSPC'
            ? 'disk full'
            : code === 'ENOTDIR'
              ? 'a file is in the way'
              : ((err as Error).message ?? 'unknown error');
    throw new EngineError('unwritable-folder', `cannot write to ${dir}: ${why}`);
  }
}
