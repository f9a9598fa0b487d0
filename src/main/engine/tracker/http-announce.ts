import http from 'node:http';
import https from 'node:https';
import { bdecode, type BDict, type BValue } from '../bencode/decode';
import { EngineError } from '../errors';

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

function text(v: BValue | undefined): string | null {
  return v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : null;
}

function int(v: BValue | undefined): number | null {
  return typeof v === 'number' ? v : null;
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port > 0 && port < 65536;
}

function compactPeers(bytes: Uint8Array, v6: boolean, out: PeerAddress[]): void {
  const size = v6 ? 18 : 6;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let at = 0; at + size <= b.length && out.length < MAX_PEERS_PER_REPLY; at += size) {
    let ip: string;
    if (v6) {
      const groups: string[] = [];
      for (let g = 0; g < 8; g++) groups.push(b.readUInt16BE(at + g * 2).toString(16));
      ip = groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
    } else {
      ip = `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
    }
    const port = b.readUInt16BE(at + size - 2);
    if (validPort(port)) out.push({ ip, port });
  }
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const IPV6 = /^[0-9a-fA-F:.]+$/;

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
    const truncated = /end of input|past the end|truncated|unexpected end/i.test(
      (err as Error).message,
    );
    throw new TrackerError(
      truncated
        ? 'truncated tracker reply'
        : `tracker reply is not valid bencode (${(err as Error).message})`,
    );
  }
  if (!(value instanceof Map)) throw new TrackerError('tracker reply is not a dictionary');
  const d = value as BDict;
  const failure = text(d.get('failure reason'));
  if (failure !== null) throw new TrackerError(`tracker said: ${failure.slice(0, 300)}`);

  const peers: PeerAddress[] = [];
  const rawPeers = d.get('peers');
  if (rawPeers instanceof Uint8Array) compactPeers(rawPeers, false, peers);
  else if (Array.isArray(rawPeers)) {
    for (const p of rawPeers) {
      if (peers.length >= MAX_PEERS_PER_REPLY) break;
      if (!(p instanceof Map)) continue;
      const ip = text(p.get('ip'));
      const port = int(p.get('port'));
      if (ip === null || port === null || !validPort(port)) continue;
      if (!IPV4.test(ip) && !(ip.includes(':') && IPV6.test(ip))) continue; // no host names: no DNS lookups on a tracker's say-so
      peers.push({ ip, port });
    }
  }
  const peers6 = d.get('peers6');
  if (peers6 instanceof Uint8Array) compactPeers(peers6, true, peers);

  const interval = int(d.get('interval'));
  const minInterval = int(d.get('min interval'));
  const clamp = (n: number) => Math.min(MAX_INTERVAL_SEC, Math.max(MIN_INTERVAL_SEC, n));
  return {
    intervalSec: interval === null ? DEFAULT_INTERVAL_SEC : clamp(interval),
    minIntervalSec: minInterval === null ? null : clamp(minInterval),
    peers,
    complete: int(d.get('complete')),
    incomplete: int(d.get('incomplete')),
    warning: text(d.get('warning message')),
    trackerId: text(d.get('tracker id')),
  };
}

/** One announce over HTTP(S), bounded in time and size. */
export async function httpAnnounce(
  url: string,
  r: AnnounceRequest,
  opts: HttpAnnounceOptions = {},
): Promise<AnnounceResponse> {
  const body = await httpGet(buildAnnounceUrl(url, r), opts, MAX_REDIRECTS);
  return parseAnnounceResponse(body);
}

function httpGet(
  target: string,
  opts: HttpAnnounceOptions,
  redirectsLeft: number,
): Promise<Buffer> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const maxBody = opts.maxBodyBytes ?? 2 * 1024 * 1024;
  let parsed: URL;
  try {
    parsed = new URL(target);
  } catch {
    return Promise.reject(new TrackerError(`bad tracker URL: ${target}`));
  }
  const client = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : null;
  if (!client)
    return Promise.reject(new TrackerError(`unsupported tracker URL scheme: ${parsed.protocol}`));
  return new Promise<Buffer>((resolve, reject) => {
    let settled = false;
    const settle = (err: Error | null, body?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(body!);
    };
    const req = client.get(
      parsed,
      {
        headers: {
          'user-agent': 'Tessera/0.1.0',
          'accept-encoding': 'identity',
          connection: 'close',
        },
        localAddress: opts.localAddress,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location) {
          res.resume();
          if (redirectsLeft <= 0)
            return settle(new TrackerError('tracker redirected too many times'));
          const next = new URL(res.headers.location, parsed).toString();
          httpGet(next, opts, redirectsLeft - 1).then(
            (b) => settle(null, b),
            (e: Error) => settle(e),
          );
          return;
        }
        if (status !== 200) {
          res.resume();
          return settle(new TrackerError(`tracker returned HTTP ${status}`));
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBody)
            return settle(new TrackerError(`tracker reply larger than ${maxBody} bytes`));
          chunks.push(c);
        });
        res.on('end', () => settle(null, Buffer.concat(chunks)));
        res.on('error', (e) => settle(new TrackerError(`tracker connection failed: ${e.message}`)));
        res.on('aborted', () => settle(new TrackerError('truncated tracker reply')));
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) =>
      settle(new TrackerError(`could not connect to tracker (${e.code ?? e.message})`)),
    );
    const timer = setTimeout(
      () => settle(new TrackerError(`tracker timed out after ${Math.round(timeoutMs / 1000)} s`)),
      timeoutMs,
    );
    const onAbort = () => settle(new TrackerError('announce cancelled'));
    opts.signal?.addEventListener('abort', onAbort);
  });
}
