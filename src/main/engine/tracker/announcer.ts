import { EventEmitter } from 'node:events';
import type { TrackerRow } from '../../../shared/torrent-types';
import { debugLog } from '../util/debug-log';
import {
  httpAnnounce,
  type AnnounceRequest,
  type AnnounceResponse,
  type HttpAnnounceOptions,
  type PeerAddress,
} from './http-announce';

export interface AnnouncerStats {
  uploaded: number;
  downloaded: number;
  left: number;
}

export interface AnnouncerIds {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  port: number;
}

export interface AnnouncerOptions {
  announce?: (url: string, r: AnnounceRequest, o: HttpAnnounceOptions) => Promise<AnnounceResponse>;
  now?: () => number;
  random?: () => number;
  numWant?: number;
  localAddress?: string;
  timeoutMs?: number;
}

export interface AnnouncerEvents {
  peers: [peers: PeerAddress[], url: string];
  status: [rows: TrackerRow[]];
}

interface TrackerState extends TrackerRow {
  trackerId: string | null;
}

const RETRY_BASE_MS = 15_000;
const RETRY_MAX_MS = 30 * 60_000;
const STOP_TIMEOUT_MS = 5_000;
/** Asking for peers out of schedule at most this often (trackers' usual 'min interval'). */
const ANNOUNCE_NOW_MIN_GAP_MS = 60_000;

/**
 * One torrent's trackers, as BEP 12 says: tiers tried in order, the URLs of a tier shuffled once
 * and tried in order, a tracker that answers moved to the front of its tier. Re-announces on
 * the interval the tracker asks for; after a round where every tracker failed, retries with
 * exponential back-off. UDP trackers are listed but not yet spoken to.
 */
export class Announcer extends EventEmitter<AnnouncerEvents> {
  private readonly tiers: TrackerState[][];
  private readonly announce: NonNullable<AnnouncerOptions['announce']>;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private startedSent = false;
  private completedPending = false;
  private inFlight: Promise<void> | null = null;
  private abort: AbortController | null = null;
  private failedRounds = 0;
  private lastWorking: TrackerState | null = null;
  private lastRoundAt = 0;

  constructor(
    tiers: string[][],
    private readonly getStats: () => AnnouncerStats,
    private readonly ids: AnnouncerIds,
    private readonly opts: AnnouncerOptions = {},
  ) {
    super();
    this.announce = opts.announce ?? httpAnnounce;
    this.now = opts.now ?? Date.now;
    const random = opts.random ?? Math.random;
    this.tiers = tiers.map((urls, tier) =>
      shuffle([...new Set(urls)], random).map((url): TrackerState => {
        const udp = url.startsWith('udp:');
        return {
          url,
          tier,
          status: udp ? 'disabled' : 'idle',
          lastAnnounceAt: null,
          nextAnnounceAt: null,
          peersReturned: null,
          seeders: null,
          leechers: null,
          lastError: udp ? 'UDP trackers are not supported yet' : null,
          lastWarning: null,
          trackerId: null,
        };
      }),
    );
  }

  rows(): TrackerRow[] {
    return this.tiers.flat().map(({ trackerId: _id, ...row }) => ({ ...row }));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** The download finished: tell the tracker once, now. */
  completed(): void {
    if (!this.running) return;
    this.completedPending = true;
    this.schedule(0);
  }

  /** Asks for more peers now, unless the tracker's minimum interval forbids it. */
  announceNow(): void {
    if (!this.running || this.inFlight) return;
    if (this.now() - this.lastRoundAt < ANNOUNCE_NOW_MIN_GAP_MS) return;
    this.schedule(0);
  }

  /** Stops re-announcing and says 'stopped' to the tracker that last answered (bounded in time). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.abort?.abort();
    await this.inFlight?.catch(() => undefined);
    const last = this.lastWorking;
    if (!this.startedSent || !last) return;
    this.startedSent = false;
    try {
      await this.announce(last.url, this.request('stopped', last), {
        timeoutMs: STOP_TIMEOUT_MS,
        localAddress: this.opts.localAddress,
      });
    } catch {
      // Best effort: the tracker forgets us after its interval anyway.
    }
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.inFlight) {
        this.schedule(1000);
        return;
      }
      this.inFlight = this.round().finally(() => (this.inFlight = null));
    }, delayMs);
    this.timer.unref();
  }

  private request(event: AnnounceRequest['event'], t: TrackerState): AnnounceRequest {
    const stats = this.getStats();
    return {
      infoHash: this.ids.infoHash,
      peerId: this.ids.peerId,
      port: this.ids.port,
      uploaded: stats.uploaded,
      downloaded: stats.downloaded,
      left: stats.left,
      event,
      numWant: event === 'stopped' ? 0 : (this.opts.numWant ?? 80),
      trackerId: t.trackerId ?? undefined,
    };
  }

  /** One announce: the first tracker, in tier order, that answers. */
  private async round(): Promise<void> {
    const event: AnnounceRequest['event'] = !this.startedSent
      ? 'started'
      : this.completedPending
        ? 'completed'
        : undefined;
    this.lastRoundAt = this.now();
    this.abort = new AbortController();
    for (const tier of this.tiers) {
      for (let i = 0; i < tier.length; i++) {
        const t = tier[i]!;
        if (t.status === 'disabled') continue;
        if (!this.running) return;
        t.status = 'announcing';
        this.emit('status', this.rows());
        try {
          const res = await this.announce(t.url, this.request(event, t), {
            timeoutMs: this.opts.timeoutMs ?? 15_000,
            signal: this.abort.signal,
            localAddress: this.opts.localAddress,
          });
          this.onSuccess(t, res, event);
          // BEP 12: a tracker that answers moves to the front of its tier.
          tier.splice(i, 1);
          tier.unshift(t);
          return;
        } catch (err) {
          t.status = 'error';
          t.lastError = (err as Error).message;
          debugLog('tracker', `${t.url}: ${t.lastError}`);
          t.lastAnnounceAt = this.now();
          this.emit('status', this.rows());
        }
      }
    }
    if (!this.running) return;
    this.failedRounds++;
    const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (this.failedRounds - 1));
    const jittered = Math.round(delay * (0.9 + 0.2 * (this.opts.random ?? Math.random)()));
    for (const t of this.tiers.flat())
      if (t.status === 'error') t.nextAnnounceAt = this.now() + jittered;
    this.schedule(jittered);
  }

  private onSuccess(t: TrackerState, res: AnnounceResponse, event: AnnounceRequest['event']): void {
    this.failedRounds = 0;
    debugLog(
      'tracker',
      `${t.url} (${event ?? 'regular'}): ${res.peers.length} peers, interval ${res.intervalSec} s`,
    );
    if (event === 'started') this.startedSent = true;
    if (event === 'completed') this.completedPending = false;
    this.lastWorking = t;
    const intervalMs = res.intervalSec * 1000;
    Object.assign(t, {
      status: 'working',
      lastAnnounceAt: this.now(),
      nextAnnounceAt: this.now() + intervalMs,
      peersReturned: res.peers.length,
      seeders: res.complete,
      leechers: res.incomplete,
      lastError: null,
      lastWarning: res.warning,
      trackerId: res.trackerId ?? t.trackerId,
    } satisfies Partial<TrackerState>);
    this.emit('status', this.rows());
    if (res.peers.length > 0) this.emit('peers', res.peers, t.url);
    this.schedule(this.completedPending ? 0 : intervalMs);
  }
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
