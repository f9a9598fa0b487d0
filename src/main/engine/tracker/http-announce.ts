import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import zlib from 'node:zlib';
import { bdecode, type BDict, type BValue } from '../bencode/decode';
import { EngineError } from '../errors';
import { COMPACT_V4, COMPACT_V6, isDialable, readCompactPeers } from '../peer/compact-address';

export interface AnnounceRequest {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  port: number;
  uploaded: number;
  downloaded: number;
  left: number;
  event?: 'started' | 'completed' | 'stopped';
  numWant?: number;
  key?: string;
  trackerId?: string;
}

export interface PeerAddress {
  ip: string;
  port: number;
}

export interface AnnounceResponse {
  intervalSec: number;
  minIntervalSec: number | null;
  peers: PeerAddress[];
  complete: number | null;
  incomplete: number | null;
  warning: string | null;
  trackerId: string | null;
}

/** What a scrape says of one torrent (BEP 48 / BEP 15); null where the tracker gave nothing sane. */
export interface ScrapeCounts {
  seeders: number | null;
  /** Downloads the tracker has seen finish ('downloaded' over HTTP, 'completed' over UDP). */
  completed: number | null;
  leechers: number | null;
}

/** A tracker that failed us, with a message a person can act on. */
export class TrackerError extends EngineError {
  constructor(message: string) {
    super('tracker', message);
  }
}

export interface HttpAnnounceOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  maxBodyBytes?: number;
  /** Local address to announce from (the tracker hands this address out to others). */
  localAddress?: string;
}

const DEFAULT_INTERVAL_SEC = 30 * 60;
const MIN_INTERVAL_SEC = 60;
const MAX_INTERVAL_SEC = 2 * 60 * 60;
/** A hostile or broken tracker cannot flood us with addresses. */
export const MAX_PEERS_PER_REPLY = 2000;
const MAX_REDIRECTS = 3;

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** Percent-encodes raw bytes one by one (a string encoder would UTF-8 them first). */
export function percentEncodeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    out += UNRESERVED.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function buildAnnounceUrl(base: string, r: AnnounceRequest): string {
  const params = [
    `info_hash=${percentEncodeBytes(r.infoHash)}`,
    `peer_id=${percentEncodeBytes(r.peerId)}`,
    `port=${r.port}`,
    `uploaded=${Math.max(0, Math.floor(r.uploaded))}`,
    `downloaded=${Math.max(0, Math.floor(r.downloaded))}`,
    `left=${Math.max(0, Math.floor(r.left))}`,
    'compact=1',
  ];
  if (r.event) params.push(`event=${r.event}`);
  if (r.numWant !== undefined) params.push(`numwant=${r.numWant}`);
  if (r.key) params.push(`key=${encodeURIComponent(r.key)}`);
  if (r.trackerId) params.push(`trackerid=${encodeURIComponent(r.trackerId)}`);
  const hashAt = base.indexOf('#');
  const clean = hashAt >= 0 ? base.slice(0, hashAt) : base;
  return `${clean}${clean.includes('?') ? '&' : '?'}${params.join('&')}`;
}

/**
 * The scrape convention (BEP 48, wiki.theory.org): when the last path segment of an announce URL
 * starts with 'announce', the same URL with 'scrape' in its place. Otherwise the tracker has no
 * scrape URL (null). The query string (a passkey) is kept; a fragment is dropped.
 */
export function scrapeUrlFor(announceUrl: string): string | null {
  const hashAt = announceUrl.indexOf('#');
  const clean = hashAt >= 0 ? announceUrl.slice(0, hashAt) : announceUrl;
  const queryAt = clean.indexOf('?');
  const path = queryAt >= 0 ? clean.slice(0, queryAt) : clean;
  const slash = path.lastIndexOf('/');
  if (slash < 0 || !path.startsWith('announce', slash + 1)) return null;
  return `${path.slice(0, slash + 1)}scrape${clean.slice(slash + 1 + 'announce'.length)}`;
}

function text(v: BValue | undefined): string | null {
  return v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : null;
}

function int(v: BValue | undefined): number | null {
  return typeof v === 'number' ? v : null;
}

/**
 * Text a tracker wants shown to a person: control characters (a terminal escape sequence, a
 * newline that fakes a second log line) become spaces, and it is cut to a sane length.
 */
function shownText(v: BValue | undefined): string | null {
  const t = text(v);
  return t === null ? null : sanitizeShownText(t);
}

/** Control characters become spaces and the text is cut to 300 characters (shared with UDP). */
export function sanitizeShownText(t: string): string {
  // eslint-disable-next-line no-control-regex
  return t.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').slice(0, 300);
}

/** A counter a tracker reports; a negative one is nonsense, shown as unknown. */
function count(v: BValue | undefined): number | null {
  const n = int(v);
  return n !== null && n >= 0 ? n : null;
}

function clampIntervalSec(n: number): number {
  return Math.min(MAX_INTERVAL_SEC, Math.max(MIN_INTERVAL_SEC, n));
}

/** HT-07: a missing or non-positive interval gets the default (30 min); others are clamped. */
export function intervalSec(interval: number | null): number {
  return interval === null || interval <= 0 ? DEFAULT_INTERVAL_SEC : clampIntervalSec(interval);
}

/**
 * BEP 23 compact peers (6 bytes each) or BEP 7 peers6 (18 bytes each). A length that is not a
 * whole number of entries means the tracker and we disagree on the format (HT-08): refuse it
 * rather than read addresses out of misaligned bytes.
 */
function compactPeers(bytes: Uint8Array, v6: boolean, out: PeerAddress[]): void {
  const size = v6 ? COMPACT_V6 : COMPACT_V4;
  if (bytes.length % size !== 0)
    throw new TrackerError(
      `tracker sent a compact ${v6 ? 'peers6' : 'peers'} list of ${bytes.length} bytes, not a multiple of ${size}`,
    );
  readCompactPeers(bytes, v6, out, MAX_PEERS_PER_REPLY);
}

/** A tracker's reply (BEP 3, compact BEP 23, peers6 BEP 7). Throws TrackerError. */
export function parseAnnounceResponse(body: Uint8Array): AnnounceResponse {
  const first = body[0];
  if (body.length === 0) throw new TrackerError('tracker sent an empty reply');
  if (
    first === 0x3c /* '<' */ ||
    (first !== undefined &&
      first <= 0x20 &&
      Buffer.from(body.subarray(0, 200)).toString('latin1').trim().startsWith('<'))
  ) {
    throw new TrackerError('tracker replied with HTML, not bencode');
  }
  let value: BValue;
  try {
    // Some trackers append junk after the dictionary; what matters is the dictionary.
    value = bdecode(body, { allowTrailing: true, maxDepth: 16 }).value;
  } catch (err) {
    // The decoder says so when the input stopped inside a value.
    const truncated = /end of input|exceeds input|unterminated/i.test((err as Error).message);
    throw new TrackerError(
      truncated
        ? 'truncated tracker reply'
        : `tracker reply is not valid bencode (${(err as Error).message})`,
    );
  }
  if (!(value instanceof Map)) throw new TrackerError('tracker reply is not a dictionary');
  const d = value as BDict;
  const failure = shownText(d.get('failure reason'));
  if (failure !== null) throw new TrackerError(`tracker said: ${failure}`);

  const peers: PeerAddress[] = [];
  const rawPeers = d.get('peers');
  if (rawPeers instanceof Uint8Array) compactPeers(rawPeers, false, peers);
  else if (Array.isArray(rawPeers)) {
    for (const p of rawPeers) {
      if (peers.length >= MAX_PEERS_PER_REPLY) break;
      if (!(p instanceof Map)) continue;
      const ip = text(p.get('ip'));
      const port = int(p.get('port'));
      // No host names: we do not make DNS lookups on a tracker's say-so.
      if (ip === null || port === null || isIP(ip) === 0 || !isDialable({ ip, port })) continue;
      peers.push({ ip, port });
    }
  }
  const peers6 = d.get('peers6');
  if (peers6 instanceof Uint8Array) compactPeers(peers6, true, peers);
  if (rawPeers !== undefined && !(rawPeers instanceof Uint8Array) && !Array.isArray(rawPeers))
    throw new TrackerError('tracker reply has a peers value that is neither a string nor a list');

  const minInterval = int(d.get('min interval'));
  return {
    intervalSec: intervalSec(int(d.get('interval'))),
    minIntervalSec: minInterval === null ? null : clampIntervalSec(minInterval),
    peers,
    complete: count(d.get('complete')),
    incomplete: count(d.get('incomplete')),
    warning: shownText(d.get('warning message')),
    trackerId: text(d.get('tracker id')),
  };
}

/** A scrape reply: `d5:filesd20:<info_hash>d8:completei…e10:downloadedi…e10:incompletei…eeee`. */
export function parseScrapeResponse(body: Uint8Array, infoHash: Uint8Array): ScrapeCounts {
  let value: BValue;
  try {
    value = bdecode(body, { allowTrailing: true, maxDepth: 16 }).value;
  } catch (err) {
    throw new TrackerError(`scrape reply is not valid bencode (${(err as Error).message})`);
  }
  if (!(value instanceof Map)) throw new TrackerError('scrape reply is not a dictionary');
  const failure = shownText(value.get('failure reason'));
  if (failure !== null) throw new TrackerError(`tracker said: ${failure}`);
  const files = value.get('files');
  if (!(files instanceof Map)) throw new TrackerError('scrape reply has no files dictionary');
  // Dict keys are the raw key bytes as latin1 (one char per byte).
  const entry = (files as BDict).get(Buffer.from(infoHash).toString('latin1'));
  if (!(entry instanceof Map)) throw new TrackerError('scrape reply does not mention this torrent');
  return {
    seeders: count(entry.get('complete')),
    completed: count(entry.get('downloaded')),
    leechers: count(entry.get('incomplete')),
  };
}

/** One scrape over HTTP(S) for one info-hash, at the URL scrapeUrlFor() derives. */
export async function httpScrape(
  announceUrl: string,
  infoHash: Uint8Array,
  opts: HttpAnnounceOptions = {},
): Promise<ScrapeCounts> {
  const base = scrapeUrlFor(announceUrl);
  if (base === null) throw new TrackerError('tracker has no scrape URL');
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const reply = await httpGet(
    `${base}${base.includes('?') ? '&' : '?'}info_hash=${percentEncodeBytes(infoHash)}`,
    {
      deadline: Date.now() + timeoutMs,
      timeoutMs,
      maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      redirectsLeft: MAX_REDIRECTS,
      signal: opts.signal,
      localAddress: opts.localAddress,
    },
  );
  if (reply.status !== 200) throw new TrackerError(`scrape returned HTTP ${reply.status}`);
  return parseScrapeResponse(reply.body, infoHash);
}

/** One announce over HTTP(S), bounded in time and size. */
export async function httpAnnounce(
  url: string,
  r: AnnounceRequest,
  opts: HttpAnnounceOptions = {},
): Promise<AnnounceResponse> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const reply = await httpGet(buildAnnounceUrl(url, r), {
    deadline: Date.now() + timeoutMs,
    timeoutMs,
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    redirectsLeft: MAX_REDIRECTS,
    signal: opts.signal,
    localAddress: opts.localAddress,
  });
  if (reply.status !== 200) {
    // HT-05: a failure reason counts whatever the status; otherwise the status is the error.
    let failure: TrackerError | null = null;
    try {
      parseAnnounceResponse(reply.body);
    } catch (err) {
      if (err instanceof TrackerError && err.message.startsWith('tracker said: ')) failure = err;
    }
    if (failure) throw failure;
    const type = reply.contentType ? ` (${reply.contentType.split(';')[0]!.trim()})` : '';
    throw new TrackerError(`tracker returned HTTP ${reply.status}${type}`);
  }
  return parseAnnounceResponse(reply.body);
}

const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024;

interface GetOptions {
  /** One deadline for the whole exchange, redirects included. */
  deadline: number;
  timeoutMs: number;
  maxBodyBytes: number;
  redirectsLeft: number;
  signal?: AbortSignal;
  localAddress?: string;
}

interface Reply {
  status: number;
  contentType: string | null;
  body: Buffer;
}

function secondsText(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`;
}

function httpGet(target: string, o: GetOptions): Promise<Reply> {
  let parsed: URL;
  try {
    parsed = new URL(target);
  } catch {
    return Promise.reject(new TrackerError(`bad tracker URL: ${target}`));
  }
  const client = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : null;
  if (!client)
    return Promise.reject(new TrackerError(`unsupported tracker URL scheme: ${parsed.protocol}`));
  if (o.signal?.aborted) return Promise.reject(new TrackerError('announce cancelled'));
  return new Promise<Reply>((resolve, reject) => {
    let settled = false;
    let decoder: zlib.Gunzip | zlib.Inflate | null = null;
    const settle = (err: Error | null, reply?: Reply) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      decoder?.destroy();
      // Nothing of this exchange may outlive it: no half-read socket, no pending redirect.
      req.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    const req = client.get(
      parsed,
      {
        headers: {
          'user-agent': 'Tessera/0.1.0',
          // HT-09: trackers may gzip whatever we ask for, so accept it and decode it ourselves.
          'accept-encoding': 'gzip, deflate',
          connection: 'close',
        },
        localAddress: o.localAddress,
        // One connection per announce. Node 20's global agent keeps sockets alive, and
        // opentracker closes them after each reply without saying so: a pooled socket then
        // fails the next announce with ECONNRESET (measured against Debian's opentracker).
        agent: false,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location) {
          res.resume();
          if (o.redirectsLeft <= 0)
            return settle(new TrackerError('tracker redirected too many times'));
          let next: string;
          try {
            next = new URL(res.headers.location, parsed).toString();
          } catch {
            return settle(new TrackerError('tracker redirected to a bad URL'));
          }
          httpGet(next, { ...o, redirectsLeft: o.redirectsLeft - 1 }).then(
            (r) => settle(null, r),
            (e: Error) => settle(e),
          );
          return;
        }
        const encoding = (res.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
        let source: NodeJS.ReadableStream = res;
        if (encoding === 'gzip' || encoding === 'x-gzip') decoder = zlib.createGunzip();
        else if (encoding === 'deflate') decoder = zlib.createInflate();
        else if (encoding !== 'identity')
          return settle(new TrackerError(`tracker used an unknown content encoding: ${encoding}`));
        if (decoder) {
          decoder.on('error', () =>
            settle(new TrackerError('tracker sent a corrupt compressed reply')),
          );
          source = res.pipe(decoder);
        }
        const chunks: Buffer[] = [];
        let size = 0;
        // The cap applies to the decompressed bytes, so a small gzip bomb is cut off too.
        source.on('data', (c: Buffer) => {
          size += c.length;
          if (size > o.maxBodyBytes)
            return settle(new TrackerError(`tracker reply larger than ${o.maxBodyBytes} bytes`));
          chunks.push(c);
        });
        source.on('end', () =>
          settle(null, {
            status,
            contentType: res.headers['content-type'] ?? null,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', (e) => settle(new TrackerError(`tracker connection failed: ${e.message}`)));
        res.on('aborted', () => settle(new TrackerError('truncated tracker reply')));
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) =>
      settle(new TrackerError(`could not connect to tracker (${e.code ?? e.message})`)),
    );
    const timer = setTimeout(
      () => settle(new TrackerError(`tracker timed out after ${secondsText(o.timeoutMs)}`)),
      Math.max(0, o.deadline - Date.now()),
    );
    const onAbort = () => settle(new TrackerError('announce cancelled'));
    o.signal?.addEventListener('abort', onAbort);
  });
}
