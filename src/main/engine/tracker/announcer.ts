import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { TrackerRow } from '../../../shared/torrent-types';
import { debugLog } from '../util/debug-log';
import {
  httpAnnounce,
  httpScrape,
  type AnnounceRequest,
  type AnnounceResponse,
  type HttpAnnounceOptions,
  type PeerAddress,
  type ScrapeCounts,
} from './http-announce';
import { UdpTrackerClient, type UdpTrackerOptions } from './udp-tracker';

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

export type AnnounceFn = (
  url: string,
  r: AnnounceRequest,
  o: HttpAnnounceOptions,
) => Promise<AnnounceResponse>;

export type ScrapeFn = (
  url: string,
  infoHash: Uint8Array,
  o: HttpAnnounceOptions,
) => Promise<ScrapeCounts>;

export interface AnnouncerOptions {
  /**
   * The transport for every URL; tests inject a fake. Default: httpAnnounce for http/https and
   * this announcer's own UDP client (BEP 15) for udp.
   */
  announce?: AnnounceFn;
  /**
   * Scrapes a tracker after it answered an announce (at most every 15 min), for the row's
   * `completed`. Default: HTTP scrape (/announce → /scrape) or UDP scrape, unless `announce` is
   * injected; `false` turns scraping off.
   */
  scrape?: ScrapeFn | false;
  /** Knobs of the default UDP client (tests shorten the retransmission schedule). */
  udp?: Omit<UdpTrackerOptions, 'localAddress'>;
  now?: () => number;
  random?: () => number;
  numWant?: number;
  localAddress?: string;
  /** Per-announce timeout. Default 15 s. */
  timeoutMs?: number;
  /** BEP 7 `key`; default 8 random hex digits, fixed for this announcer's life (HT-01). */
  key?: string;
}

export interface AnnouncerEvents {
  peers: [peers: PeerAddress[], url: string];
  status: [rows: TrackerRow[]];
  warning: [url: string, message: string];
  /** Only emitted when someone listens (an unheard 'error' would throw in EventEmitter). */
  error: [url: string, message: string];
}

interface TrackerState extends TrackerRow {
  trackerId: string | null;
  /** This tracker has heard 'started' in the current session (since start()). */
  startedSent: boolean;
  /** Consecutive failures, for back-off. */
  fails: number;
  /** Not to be asked before this time (ms), or null. */
  retryAt: number | null;
  minIntervalSec: number | null;
  /** When this tracker was last scraped (ms), or null. */
  scrapedAt: number | null;
  /** Consecutive scrape failures; after MAX_SCRAPE_FAILS the tracker is not scraped again. */
  scrapeFails: number;
}

const RETRY_BASE_MS = 15_000;
const RETRY_MAX_MS = 30 * 60_000;
export const STOP_TIMEOUT_MS = 5_000;
/** Asking for peers out of schedule at most this often when the tracker named no 'min interval'. */
const ANNOUNCE_NOW_DEFAULT_GAP_MS = 60_000;
const SCRAPE_GAP_MS = 15 * 60_000;
const MAX_SCRAPE_FAILS = 2;

/** The schemes the default transport speaks; other URLs are listed as 'disabled'. */
function supportedScheme(url: string): boolean {
  return /^(https?|udp):\/\//i.test(url);
}

/**
 * One torrent's trackers, as BEP 12 says: the URLs of each tier shuffled once; every announce
 * tries the tiers in order and, within a tier, the URLs in order, until one answers; the one that
 * answers moves to the front of its tier. Re-announces on the interval that tracker asks for.
 * A tracker that fails is skipped until its back-off (15 s doubling to 30 min, ±10 % jitter)
 * runs out, so a dead first tracker does not hold up every announce. http/https URLs go to
 * httpAnnounce, udp URLs to one UDP client (BEP 15) that this announcer owns, so connection ids
 * are reused across announces and its socket is closed by stop().
 */
export class Announcer extends EventEmitter<AnnouncerEvents> {
  private readonly tiers: TrackerState[][];
  private readonly announce: AnnounceFn;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly key: string;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  /** 'completed' was asked for once; it is never sent twice (HT-03). */
  private completedAsked = false;
  private completedPending = false;
  private inFlight: Promise<void> | null = null;
  private abort: AbortController | null = null;
  private lastWorking: TrackerState | null = null;
  private lastRoundAt: number | null = null;
  /** Opened on the first udp:// announce, closed at the end of stop(). */
  private udp: UdpTrackerClient | null = null;
  private readonly scrape: ScrapeFn | null;
  private scraping: Promise<void> | null = null;
  private scrapeAbort: AbortController | null = null;

  constructor(
    tiers: string[][],
    private readonly getStats: () => AnnouncerStats,
    private readonly ids: AnnouncerIds,
    private readonly opts: AnnouncerOptions = {},
  ) {
    super();
    this.announce = opts.announce ?? ((url, r, o) => this.defaultAnnounce(url, r, o));
    this.scrape =
      opts.scrape === false
        ? null
        : (opts.scrape ??
          (opts.announce ? null : (url, infoHash, o) => this.defaultScrape(url, infoHash, o)));
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.key = opts.key ?? randomBytes(4).toString('hex');
    const seen = new Set<string>();
    this.tiers = tiers
      .map((urls) => urls.filter((u) => !seen.has(u) && seen.add(u)))
      .filter((urls) => urls.length > 0)
      .map((urls, tier) =>
        shuffle(urls, this.random).map((url): TrackerState => {
          // With an injected transport every URL is the transport's business.
          const disabled = !opts.announce && !supportedScheme(url);
          return {
            url,
            tier,
            status: disabled ? 'disabled' : 'idle',
            lastAnnounceAt: null,
            nextAnnounceAt: null,
            peersReturned: null,
            seeders: null,
            leechers: null,
            completed: null,
            lastError: disabled ? `unsupported tracker URL scheme: ${url.split(':')[0]}` : null,
            lastWarning: null,
            trackerId: null,
            startedSent: false,
            fails: 0,
            retryAt: null,
            minIntervalSec: null,
            scrapedAt: null,
            scrapeFails: 0,
          };
        }),
      );
  }

  rows(): TrackerRow[] {
    return this.tiers.flat().map((t) => ({
      url: t.url,
      tier: t.tier,
      status: t.status,
      lastAnnounceAt: t.lastAnnounceAt,
      nextAnnounceAt: t.nextAnnounceAt,
      peersReturned: t.peersReturned,
      seeders: t.seeders,
      leechers: t.leechers,
      completed: t.completed,
      lastError: t.lastError,
      lastWarning: t.lastWarning,
    }));
  }

  /** Sends 'started' now, then re-announces on the tracker's interval. */
  start(): void {
    if (this.running) return;
    this.running = true;
    // A resume is a new session: every tracker hears 'started' again and may be asked at once.
    for (const t of this.tiers.flat()) {
      t.startedSent = false;
      t.fails = 0;
      t.retryAt = null;
    }
    this.schedule(0);
  }

  /** The download finished: tell the tracker once (never again, not even after a restart). */
  completed(): void {
    if (this.completedAsked) return;
    this.completedAsked = true;
    if (!this.running) return;
    this.completedPending = true;
    // 'completed' is exempt from 'min interval' (HT-07). Scheduled even while a round is in
    // flight: that round may already have set its next (30 min) timer; this replaces it, and
    // the timer waits for the round to end.
    this.schedule(0);
  }

  /** Asks for more peers now, unless the tracker's 'min interval' forbids it. */
  announceNow(): void {
    if (!this.running || this.inFlight || this.lastRoundAt === null) return;
    const minGapMs =
      this.lastWorking?.minIntervalSec != null
        ? this.lastWorking.minIntervalSec * 1000
        : ANNOUNCE_NOW_DEFAULT_GAP_MS;
    if (this.now() - this.lastRoundAt < minGapMs) return;
    this.schedule(0);
  }

  /**
   * Stops re-announcing and says 'stopped' to every tracker that heard 'started'. Bounded: it
   * resolves within STOP_TIMEOUT_MS whatever the trackers do, and leaves no timer behind.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.completedPending = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.abort?.abort();
    this.scrapeAbort?.abort();
    const told = this.tiers.flat().filter((t) => t.startedSent);
    const goodbye = async (): Promise<void> => {
      await this.inFlight?.catch(() => undefined);
      await this.scraping;
      await Promise.allSettled(
        told.map((t) =>
          this.announce(t.url, this.request('stopped', t), {
            timeoutMs: STOP_TIMEOUT_MS,
            localAddress: this.opts.localAddress,
          }),
        ),
      );
    };
    // Best effort: a tracker forgets us after its interval anyway, so never wait long.
    await withTimeout(goodbye(), STOP_TIMEOUT_MS);
    // start() during the goodbye began a new session: its rows and socket are not ours to touch.
    if (this.running) return;
    this.udp?.close();
    this.udp = null;
    for (const t of this.tiers.flat()) {
      t.nextAnnounceAt = null;
      if (t.status === 'working' || t.status === 'announcing') t.status = 'idle';
    }
    this.emit('status', this.rows());
  }

  private defaultAnnounce(
    url: string,
    r: AnnounceRequest,
    o: HttpAnnounceOptions,
  ): Promise<AnnounceResponse> {
    if (!/^udp:/i.test(url)) return httpAnnounce(url, r, o);
    this.udp ??= new UdpTrackerClient({ ...this.opts.udp, localAddress: this.opts.localAddress });
    return this.udp.announce(url, r, { timeoutMs: o.timeoutMs, signal: o.signal });
  }

  private defaultScrape(
    url: string,
    infoHash: Uint8Array,
    o: HttpAnnounceOptions,
  ): Promise<ScrapeCounts> {
    if (!/^udp:/i.test(url)) return httpScrape(url, infoHash, o);
    this.udp ??= new UdpTrackerClient({ ...this.opts.udp, localAddress: this.opts.localAddress });
    return this.udp
      .scrape(url, [infoHash], { timeoutMs: o.timeoutMs, signal: o.signal })
      .then((entries) => entries[0]!);
  }

  /** Best effort, one at a time, never an error on the row: many trackers do not scrape. */
  private scrapeAfterAnnounce(t: TrackerState): void {
    const now = this.now();
    if (!this.scrape || this.scraping || t.scrapeFails >= MAX_SCRAPE_FAILS) return;
    if (t.scrapedAt !== null && now - t.scrapedAt < SCRAPE_GAP_MS) return;
    t.scrapedAt = now;
    const abort = (this.scrapeAbort = new AbortController());
    this.scraping = this.scrape(t.url, this.ids.infoHash, {
      timeoutMs: this.opts.timeoutMs ?? 15_000,
      signal: abort.signal,
      localAddress: this.opts.localAddress,
    })
      .then(
        (c) => {
          if (!this.running || abort.signal.aborted) return;
          t.scrapeFails = 0;
          t.completed = c.completed;
          // The announce's own counts are as fresh; the scrape only fills what it left out.
          t.seeders ??= c.seeders;
          t.leechers ??= c.leechers;
          this.emit('status', this.rows());
        },
        (err: Error) => {
          if (abort.signal.aborted) return;
          t.scrapeFails++;
          debugLog('tracker', `${t.url}: scrape failed: ${err.message}`);
        },
      )
      .finally(() => (this.scraping = null));
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.inFlight) return this.schedule(1000);
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
      key: this.key,
      trackerId: t.trackerId ?? undefined,
    };
  }

  private backoffMs(fails: number): number {
    const base = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(fails - 1, 20));
    return Math.round(base * (0.9 + 0.2 * this.random()));
  }

  /** One announce: the first tracker, in tier order and not backing off, that answers. */
  private async round(): Promise<void> {
    this.lastRoundAt = this.now();
    const abort = (this.abort = new AbortController());
    let earliestRetry = Infinity;
    for (const tier of this.tiers) {
      for (let i = 0; i < tier.length; i++) {
        const t = tier[i]!;
        if (t.status === 'disabled') continue;
        if (!this.running) return;
        if (t.retryAt !== null && t.retryAt > this.now()) {
          earliestRetry = Math.min(earliestRetry, t.retryAt);
          continue;
        }
        const event: AnnounceRequest['event'] = !t.startedSent
          ? 'started'
          : this.completedPending
            ? 'completed'
            : undefined;
        t.status = 'announcing';
        this.emit('status', this.rows());
        let res: AnnounceResponse;
        try {
          res = await this.announce(t.url, this.request(event, t), {
            timeoutMs: this.opts.timeoutMs ?? 15_000,
            signal: abort.signal,
            localAddress: this.opts.localAddress,
          });
        } catch (err) {
          if (!this.running) {
            t.status = 'idle';
            return;
          }
          this.onFailure(t, (err as Error).message);
          earliestRetry = Math.min(earliestRetry, t.retryAt!);
          continue;
        }
        if (!this.running) return;
        // BEP 12: a tracker that answers moves to the front of its tier.
        tier.splice(i, 1);
        tier.unshift(t);
        this.onSuccess(t, res, event);
        return;
      }
    }
    // Nobody answered: come back when the first tracker's back-off runs out (if any can be asked).
    if (this.running && earliestRetry !== Infinity)
      this.schedule(Math.max(1000, earliestRetry - this.now()));
  }

  private onFailure(t: TrackerState, message: string): void {
    t.fails++;
    const now = this.now();
    t.retryAt = now + this.backoffMs(t.fails);
    Object.assign(t, {
      status: 'error',
      lastError: message,
      lastAnnounceAt: now,
      nextAnnounceAt: t.retryAt,
    } satisfies Partial<TrackerState>);
    debugLog('tracker', `${t.url}: ${message} (failure ${t.fails})`);
    if (this.listenerCount('error') > 0) this.emit('error', t.url, message);
    this.emit('status', this.rows());
  }

  private onSuccess(
    t: TrackerState,
    reply: AnnounceResponse,
    event: AnnounceRequest['event'],
  ): void {
    // AD-24: trackers hand us back to ourselves (opentracker does); our own address is no peer.
    const self = this.opts.localAddress;
    const res =
      self === undefined
        ? reply
        : {
            ...reply,
            peers: reply.peers.filter((p) => !(p.ip === self && p.port === this.ids.port)),
          };
    debugLog(
      'tracker',
      `${t.url} (${event ?? 'regular'}): ${res.peers.length} peers, interval ${res.intervalSec} s`,
    );
    if (event === 'started') t.startedSent = true;
    if (event === 'completed') this.completedPending = false;
    this.lastWorking = t;
    // HT-07: never sooner than 'min interval'.
    const delayMs = Math.max(res.intervalSec, res.minIntervalSec ?? 0) * 1000;
    const now = this.now();
    Object.assign(t, {
      status: 'working',
      fails: 0,
      retryAt: null,
      minIntervalSec: res.minIntervalSec,
      lastAnnounceAt: now,
      nextAnnounceAt: now + delayMs,
      peersReturned: res.peers.length,
      seeders: res.complete,
      leechers: res.incomplete,
      lastError: null,
      lastWarning: res.warning,
      // HT-06: a reply without a tracker id keeps the one we had.
      trackerId: res.trackerId ?? t.trackerId,
    } satisfies Partial<TrackerState>);
    if (res.warning !== null) this.emit('warning', t.url, res.warning);
    this.emit('status', this.rows());
    if (res.peers.length > 0) this.emit('peers', res.peers, t.url);
    this.schedule(this.completedPending ? 0 : delayMs);
    this.scrapeAfterAnnounce(t);
  }
}

/** Waits for `p`, but no longer than `ms`; the timer never outlives the wait. */
async function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  try {
    await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
