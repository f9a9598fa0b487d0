// BEP 15 over node:dgram: connect, announce and scrape, with connection ids cached per tracker
// for 60 s, a fresh transaction id per packet and retransmission on a 15·2^n s schedule, all
// bounded by the caller's deadline and AbortSignal.
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import dns from 'node:dns/promises';
import { isIP } from 'node:net';
import {
  MAX_PEERS_PER_REPLY,
  TrackerError,
  type AnnounceRequest,
  type AnnounceResponse,
  type HttpAnnounceOptions,
} from './http-announce';
import {
  decodeAnnounceReply,
  decodeConnectReply,
  decodeHeader,
  decodeScrapeReply,
  encodeAnnounce,
  encodeConnect,
  encodeScrape,
  MAX_SCRAPE_HASHES,
  type UdpScrapeEntry,
} from './udp-codec';

/** UT-04: a connection id may be used for at most this long after it was received. */
export const CONNECTION_ID_TTL_MS = 60_000;
const DEFAULT_TIMEOUT_MS = 15_000;
/** UT-08: once one address family answered, the other gets this much longer. */
const DUAL_STACK_GRACE_MS = 2_000;

/** UT-05: wait 15·2^n s after the n-th send (n = 0…8, at most 3840 s) before sending again. */
export function bep15RetryDelayMs(n: number): number {
  return 15_000 * 2 ** Math.min(Math.max(0, n), 8);
}

export interface UdpTrackerOptions {
  /** Local address the socket binds to (the tracker hands this address out to others). */
  localAddress?: string;
  /** Clock for connection-id age (UT-04). Default Date.now. */
  now?: () => number;
  /** Delay before the next send after the n-th one. Default bep15RetryDelayMs. */
  retryDelayMs?: (n: number) => number;
  /**
   * Host name resolution, every address. Default dns.lookup with `all` (only the family of
   * `localAddress` when it is set).
   */
  lookup?: (host: string, family: 0 | 4 | 6) => Promise<{ address: string; family: number }[]>;
  /** UT-08: how long the other family may take after the first answered. Default 2 s. */
  dualStackGraceMs?: number;
}

export interface UdpRequestOptions {
  /** One deadline for resolution, connect, retransmissions and the reply. Default 15 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface Target {
  address: string;
  port: number;
  family: 4 | 6;
  /** BEP 41 request string: the URL's path and query. */
  urlData: string;
  /** Key of the connection-id cache. */
  id: string;
}

interface Connection {
  id: Uint8Array;
  receivedAt: number;
}

interface Pending {
  target: Target;
  deliver(packet: Buffer): void;
}

/** One request's budget: a deadline, a cancel signal and the BEP 15 send counter `n`. */
interface Budget {
  deadline: number;
  timeoutMs: number;
  signal?: AbortSignal;
  sends: number;
}

const EXPIRED = Symbol('connection id expired');

function secondsText(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** One canonical text per address, so `rinfo.address` compares equal to what we sent to. */
function canonicalIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  try {
    return new URL(`http://[${ip.split('%')[0]}]/`).hostname.slice(1, -1);
  } catch {
    return ip;
  }
}

function randomTransactionId(): number {
  return randomBytes(4).readUInt32BE(0);
}

/**
 * A UDP tracker client: one socket per address family, opened on first use, unref'd, bound to
 * `localAddress` when given, and closed by close(). Replies are matched by transaction id and
 * sender address; anything else is ignored (UT-05).
 */
export class UdpTrackerClient {
  private readonly now: () => number;
  private readonly retryDelayMs: (n: number) => number;
  private readonly sockets = new Map<4 | 6, Promise<dgram.Socket>>();
  private readonly pending = new Map<number, Pending>();
  private readonly connections = new Map<string, Connection>();
  /** Bumped by close(): work started before it must not touch the new sockets. */
  private generation = 0;

  constructor(private readonly opts: UdpTrackerOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.retryDelayMs = opts.retryDelayMs ?? bep15RetryDelayMs;
  }

  /**
   * Announces (connecting first when there is no connection id younger than 60 s). A host name
   * with both IPv4 and IPv6 addresses is announced to at both, with the same request and so the
   * same key (UT-08); the peers of both replies are merged.
   */
  async announce(
    url: string,
    request: AnnounceRequest,
    o: UdpRequestOptions = {},
  ): Promise<AnnounceResponse> {
    const budget = this.budget(o);
    const targets = await this.resolve(url, budget);
    if (targets.length === 1) return this.announceTo(targets[0]!, request, budget);
    return this.announceDualStack(targets, request, budget);
  }

  private async announceDualStack(
    targets: Target[],
    request: AnnounceRequest,
    budget: Budget,
  ): Promise<AnnounceResponse> {
    const grace = new AbortController();
    const signal = budget.signal ? AbortSignal.any([budget.signal, grace.signal]) : grace.signal;
    let timer: NodeJS.Timeout | undefined;
    const results = await Promise.allSettled(
      targets.map((t) =>
        this.announceTo(t, request, { ...budget, signal, sends: 0 }).then((res) => {
          if (timer === undefined) {
            timer = setTimeout(
              () => grace.abort(),
              this.opts.dualStackGraceMs ?? DUAL_STACK_GRACE_MS,
            );
            timer.unref();
          }
          return res;
        }),
      ),
    );
    clearTimeout(timer);
    const ok: AnnounceResponse[] = [];
    const failures: string[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') ok.push(r.value);
      else
        failures.push(
          `${targets[i]!.address}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`,
        );
    });
    if (ok.length === 0) {
      if (budget.signal?.aborted) throw new TrackerError('announce cancelled');
      throw new TrackerError(failures.join('; '));
    }
    return mergeReplies(ok);
  }

  private async announceTo(
    target: Target,
    request: AnnounceRequest,
    budget: Budget,
  ): Promise<AnnounceResponse> {
    try {
      for (;;) {
        const conn = await this.connection(target, budget);
        const reply = await this.exchange(
          target,
          (tid) =>
            encodeAnnounce({
              connectionId: conn.id,
              transactionId: tid,
              request,
              urlData: target.urlData,
            }),
          budget,
          conn,
        );
        if (reply === EXPIRED) continue;
        return decodeAnnounceReply(reply, target.family === 6);
      }
    } catch (err) {
      // Whatever went wrong (other than our own cancel), the next request connects afresh.
      if (!budget.signal?.aborted) this.connections.delete(target.id);
      throw err;
    }
  }

  /** UT-07: seeders, completed and leechers for up to 74 info-hashes, in the order given. */
  async scrape(
    url: string,
    infoHashes: readonly Uint8Array[],
    o: UdpRequestOptions = {},
  ): Promise<UdpScrapeEntry[]> {
    if (infoHashes.length === 0 || infoHashes.length > MAX_SCRAPE_HASHES)
      throw new TrackerError(`a UDP scrape carries 1 to ${MAX_SCRAPE_HASHES} info-hashes`);
    const budget = this.budget(o);
    // Scrape is for display: the first address is enough.
    const target = (await this.resolve(url, budget))[0]!;
    try {
      for (;;) {
        const conn = await this.connection(target, budget);
        const reply = await this.exchange(
          target,
          (tid) => encodeScrape(conn.id, tid, infoHashes),
          budget,
          conn,
        );
        if (reply === EXPIRED) continue;
        return decodeScrapeReply(reply, infoHashes.length);
      }
    } catch (err) {
      if (!budget.signal?.aborted) this.connections.delete(target.id);
      throw err;
    }
  }

  /** Closes the sockets and fails every request in flight. The client may be used again. */
  close(): void {
    this.generation++;
    for (const s of this.sockets.values())
      s.then(
        (socket) => socket.close(),
        () => undefined,
      );
    this.sockets.clear();
    this.connections.clear();
    const pending = [...this.pending.values()];
    this.pending.clear();
    // Each request's own settle() removes its timer and abort listener.
    for (const p of pending) p.deliver(Buffer.alloc(0));
  }

  /** Requests waiting for a reply (for tests: nothing may be left after close()). */
  get inFlight(): number {
    return this.pending.size;
  }

  private budget(o: UdpRequestOptions): Budget {
    const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (o.signal?.aborted) throw new TrackerError('announce cancelled');
    return { deadline: Date.now() + timeoutMs, timeoutMs, signal: o.signal, sends: 0 };
  }

  /** One address, or one IPv4 and one IPv6 address of a host name (UT-08). */
  private async resolve(url: string, budget: Budget): Promise<Target[]> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new TrackerError(`bad tracker URL: ${url}`);
    }
    if (parsed.protocol !== 'udp:')
      throw new TrackerError(`not a UDP tracker URL: ${parsed.protocol}`);
    const port = Number(parsed.port);
    if (!Number.isInteger(port) || port <= 0 || port > 65535)
      throw new TrackerError(`UDP tracker URL has no port: ${url}`);
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    if (host === '') throw new TrackerError(`UDP tracker URL has no host: ${url}`);
    const local = this.opts.localAddress;
    const localFamily = local ? isIP(local) : 0;
    let addresses: { address: string; family: number }[];
    const literal = isIP(host);
    if (literal !== 0) {
      addresses = [{ address: host, family: literal }];
    } else {
      const lookup =
        this.opts.lookup ??
        ((h: string, f: 0 | 4 | 6) =>
          dns.lookup(h, f === 0 ? { all: true } : { all: true, family: f }));
      try {
        addresses = await this.within(
          budget,
          lookup(host, localFamily as 0 | 4 | 6),
          `could not resolve ${host} within ${secondsText(budget.timeoutMs)}`,
        );
      } catch (err) {
        if (err instanceof TrackerError) throw err;
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        throw new TrackerError(`could not resolve ${host} (${code})`);
      }
      // A bound socket can only reach its own family.
      if (localFamily !== 0) addresses = addresses.filter((a) => a.family === localFamily);
      if (addresses.length === 0) throw new TrackerError(`could not resolve ${host} (no address)`);
    }
    const targets: Target[] = [];
    for (const { address, family } of addresses) {
      const f = family === 6 ? 6 : 4;
      if (targets.some((t) => t.family === f)) continue;
      const canonical = canonicalIp(address);
      targets.push({
        address: canonical,
        port,
        family: f,
        urlData: parsed.pathname + parsed.search,
        id: `${canonical}|${port}`,
      });
    }
    return targets;
  }

  /** A connection id younger than 60 s (UT-04), from the cache or a fresh connect. */
  private async connection(target: Target, budget: Budget): Promise<Connection> {
    const cached = this.connections.get(target.id);
    if (cached && this.fresh(cached)) return cached;
    this.connections.delete(target.id);
    const reply = await this.exchange(target, encodeConnect, budget, null);
    if (reply === EXPIRED) throw new Error('unreachable: a connect never expires');
    const conn = { id: decodeConnectReply(reply), receivedAt: this.now() };
    this.connections.set(target.id, conn);
    return conn;
  }

  private fresh(conn: Connection): boolean {
    return this.now() - conn.receivedAt < CONNECTION_ID_TTL_MS;
  }

  private socket(family: 4 | 6): Promise<dgram.Socket> {
    const existing = this.sockets.get(family);
    if (existing) return existing;
    const local = this.opts.localAddress;
    const address = local && isIP(local) === family ? local : undefined;
    const opened = new Promise<dgram.Socket>((resolve, reject) => {
      const s = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
      const onBindError = (err: NodeJS.ErrnoException) => {
        s.close();
        reject(
          new TrackerError(
            `could not open a UDP socket on ${address ?? 'any address'} (${err.code ?? err.message})`,
          ),
        );
      };
      s.once('error', onBindError);
      s.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
      s.bind({ port: 0, address, exclusive: true }, () => {
        s.off('error', onBindError);
        // A late socket error fails that family's requests; the next one opens a new socket.
        s.on('error', () => this.dropSocket(family, opened));
        s.unref();
        resolve(s);
      });
    });
    opened.catch(() => {
      if (this.sockets.get(family) === opened) this.sockets.delete(family);
    });
    this.sockets.set(family, opened);
    return opened;
  }

  private dropSocket(family: 4 | 6, which: Promise<dgram.Socket>): void {
    if (this.sockets.get(family) !== which) return;
    this.sockets.delete(family);
    void which.then((s) => s.close());
    for (const [tid, p] of this.pending)
      if (p.target.family === family) {
        this.pending.delete(tid);
        p.deliver(Buffer.alloc(0));
      }
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const header = decodeHeader(msg);
    if (header === null) return;
    const p = this.pending.get(header.transactionId);
    // UT-05: an unknown transaction id, or the right one from the wrong sender, is ignored.
    if (!p || canonicalIp(rinfo.address) !== p.target.address || rinfo.port !== p.target.port)
      return;
    p.deliver(msg);
  }

  /**
   * Sends a request and waits for its reply, resending with a fresh transaction id whenever the
   * retry delay passes in silence, until the budget's deadline. A reply to any of this request's
   * sends counts. Before a resend, a connection id that has turned 60 s old ends the exchange
   * with EXPIRED, so the caller reconnects first.
   */
  private async exchange(
    target: Target,
    build: (transactionId: number) => Buffer,
    budget: Budget,
    conn: Connection | null,
  ): Promise<Buffer | typeof EXPIRED> {
    const generation = this.generation;
    const socket = await this.within(
      budget,
      this.socket(target.family),
      `UDP tracker timed out after ${secondsText(budget.timeoutMs)}`,
    );
    if (generation !== this.generation) throw new TrackerError('announce cancelled');
    return new Promise<Buffer | typeof EXPIRED>((resolve, reject) => {
      const tids: number[] = [];
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const settle = (err: Error | null, value?: Buffer | typeof EXPIRED) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        budget.signal?.removeEventListener('abort', onAbort);
        for (const tid of tids) this.pending.delete(tid);
        if (err) reject(err);
        else resolve(value!);
      };
      const onAbort = () => settle(new TrackerError('announce cancelled'));
      const deliver = (packet: Buffer) => {
        // An empty packet is how close() and socket errors end a request.
        if (packet.length === 0) settle(new TrackerError('announce cancelled'));
        else settle(null, packet);
      };
      const timeOut = () => {
        const packets = budget.sends === 1 ? '1 packet' : `${budget.sends} packets`;
        settle(
          new TrackerError(
            `UDP tracker timed out after ${secondsText(budget.timeoutMs)} (${packets} sent)`,
          ),
        );
      };
      const send = () => {
        if (settled) return;
        const left = budget.deadline - Date.now();
        if (left <= 0) return timeOut();
        if (tids.length > 0 && conn !== null && !this.fresh(conn)) return settle(null, EXPIRED);
        let tid = randomTransactionId();
        while (this.pending.has(tid)) tid = randomTransactionId();
        tids.push(tid);
        this.pending.set(tid, { target, deliver });
        const packet = build(tid);
        const delay = this.retryDelayMs(budget.sends);
        budget.sends++;
        const failed = (err: Error) =>
          settle(
            new TrackerError(
              `could not send to UDP tracker (${(err as NodeJS.ErrnoException).code ?? err.message})`,
            ),
          );
        try {
          socket.send(packet, target.port, target.address, (err) => err && failed(err));
        } catch (err) {
          // A socket closed under us (close() or a socket error) throws instead of calling back.
          return failed(err as Error);
        }
        // The last wait ends at the deadline itself: no packet is sent that could not be answered.
        timer = delay < left ? setTimeout(send, delay) : setTimeout(timeOut, left);
        timer.unref();
      };
      budget.signal?.addEventListener('abort', onAbort);
      send();
    });
  }

  /** Waits for `p` within the budget: its deadline and its abort signal. */
  private within<T>(budget: Budget, p: Promise<T>, timeoutMessage: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (budget.signal?.aborted) return reject(new TrackerError('announce cancelled'));
      const done = () => {
        clearTimeout(timer);
        budget.signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        done();
        reject(new TrackerError('announce cancelled'));
      };
      budget.signal?.addEventListener('abort', onAbort);
      const timer = setTimeout(
        () => {
          done();
          reject(new TrackerError(timeoutMessage));
        },
        Math.max(0, budget.deadline - Date.now()),
      );
      timer.unref();
      p.then(
        (v) => {
          done();
          resolve(v);
        },
        (e: unknown) => {
          done();
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }
}

/** One announce with a client of its own (closed afterwards): the AnnounceFn shape for udp://. */
export async function udpAnnounce(
  url: string,
  request: AnnounceRequest,
  o: HttpAnnounceOptions = {},
): Promise<AnnounceResponse> {
  const client = new UdpTrackerClient({ localAddress: o.localAddress });
  try {
    return await client.announce(url, request, { timeoutMs: o.timeoutMs, signal: o.signal });
  } finally {
    client.close();
  }
}

/** UT-08: one reply from the replies of both families: peers of both, the longer interval. */
function mergeReplies(replies: AnnounceResponse[]): AnnounceResponse {
  const seen = new Set<string>();
  const peers = replies
    .flatMap((r) => r.peers)
    .filter((p) => {
      const k = `${p.ip}|${p.port}`;
      return !seen.has(k) && seen.add(k);
    })
    .slice(0, MAX_PEERS_PER_REPLY);
  const most = (pick: (r: AnnounceResponse) => number | null) =>
    replies.reduce<number | null>((m, r) => {
      const v = pick(r);
      return v === null ? m : Math.max(m ?? 0, v);
    }, null);
  return {
    intervalSec: Math.max(...replies.map((r) => r.intervalSec)),
    minIntervalSec: most((r) => r.minIntervalSec),
    peers,
    complete: most((r) => r.complete),
    incomplete: most((r) => r.incomplete),
    warning: null,
    trackerId: null,
  };
}
