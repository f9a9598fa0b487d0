import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { EngineError } from '../errors';
import type { PeerAddress } from '../torrent/peer-directory';
import { debugLog } from '../util/debug-log';
import { writeFileAtomic } from '../util/atomic-write';
import {
  canonicalIp,
  decodeKrpc,
  encodeKrpc,
  ERROR_METHOD_UNKNOWN,
  ERROR_PROTOCOL,
  ID_LENGTH,
  type KrpcMessage,
  type KrpcQuery,
  type KrpcResponseBody,
  type NodeContact,
} from './krpc';
import { lookup, type LookupSeed } from './lookup';
import { PeerStore } from './peer-store';
import { DEFAULT_RATE_LIMIT, IpRateLimiter, type RateLimitOptions } from './rate-limit';
import { GOOD_FOR_MS, K, RoutingTable, type RoutingNode } from './routing-table';
import { TokenIssuer } from './tokens';

/**
 * One DHT node (BEP 5) on one UDP socket: answers ping / find_node / get_peers / announce_peer,
 * keeps a routing table, looks up peers for info-hashes and announces to the closest nodes.
 * One per session. Everything arriving on the socket is untrusted: malformed datagrams are
 * dropped silently, each source IP is rate-limited, replies are only accepted from the address a
 * query went to (DH-04), and every table (transactions, rate buckets, peers, nodes) is bounded.
 */

export interface DhtHost {
  host: string;
  port: number;
}

export interface DhtNodeOptions {
  /** Address to bind, e.g. '0.0.0.0', '127.0.0.5', '::' or '::1' (IPv6: a BEP 32 node). */
  host: string;
  /** UDP port; 0 (default) picks a free one. */
  port?: number;
  /** Our 20-byte id; default: the one in the state file, else random. */
  nodeId?: Uint8Array;
  /** Where to start when the routing table is empty (never a built-in router: DH-05). */
  bootstrap?: DhtHost[];
  /** Routing table saved across restarts (JSON, written atomically). */
  stateFile?: string;
  now?: () => number;
  /** Default 2 s. */
  queryTimeoutMs?: number;
  /** Queries in flight at once; more wait in a bounded queue. Default 256. */
  maxOutstanding?: number;
  rateLimit?: RateLimitOptions;
  /** Table upkeep (ping questionable nodes, refresh buckets, save state). Default 60 s. */
  maintenanceIntervalMs?: number;
  /** Limits of the store of peers announced to us. */
  peerStore?: { maxPerHash?: number; maxTotal?: number };
}

export interface GetPeersOptions {
  /** Announce ourselves on this TCP port to the closest nodes that gave us a token. */
  announcePort?: number;
  /** Ask nodes to use the UDP source port instead of announcePort (BEP 5 implied_port). */
  impliedPort?: boolean;
  /** Peers as they are found, before the lookup ends. */
  onPeers?: (peers: PeerAddress[]) => void;
  /** Whole lookup bound. Default 30 s. */
  timeoutMs?: number;
  /** Most queries for this lookup. Default 100. */
  maxQueries?: number;
  signal?: AbortSignal;
}

export interface DhtStats {
  received: number;
  rateLimited: number;
  malformed: number;
  /** Replies whose transaction id did not match a query to that address. */
  unmatched: number;
  queriesAnswered: number;
  queriesSent: number;
  timeouts: number;
  outstanding: number;
  waiting: number;
  trackedIps: number;
  storedPeers: number;
}

export interface DhtNodeEvents {
  /** Peers found by a getPeers lookup (hex info-hash). */
  peers: [infoHash: string, peers: PeerAddress[]];
  /** Someone announced a peer to us with a valid token. */
  announce: [infoHash: string, peer: PeerAddress];
}

interface Outstanding {
  ip: string;
  port: number;
  timer: NodeJS.Timeout;
  resolve: (r: KrpcResponseBody | null) => void;
}

interface StateFile {
  version: 1;
  nodeId: string;
  nodes: { id: string; ip: string; port: number }[];
}

const VERSION = Uint8Array.from([0x54, 0x53, 0, 1]); // 'TS' 0.1
const MAX_WAITING = 1024;
const MAX_PINGING = 64;
const REFRESH_MS = 15 * 60_000;

export class DhtNode extends EventEmitter<DhtNodeEvents> {
  readonly nodeId: Uint8Array;
  readonly host: string;
  /** 4 (BEP 5) or 6 (BEP 32): one family per node; run one of each for both. */
  readonly family: 4 | 6;
  private readonly socket: Socket;
  private readonly table: RoutingTable;
  private readonly tokens: TokenIssuer;
  private readonly peerStore: PeerStore;
  private readonly limiter: IpRateLimiter;
  private readonly now: () => number;
  private readonly queryTimeoutMs: number;
  private readonly maxOutstanding: number;
  private readonly bootstrapHosts: DhtHost[];
  private readonly stateFile: string | undefined;
  private readonly outstanding = new Map<string, Outstanding>();
  /** "ip:port" → queries outstanding to it: replies we wait for are never rate-limited. */
  private readonly awaiting = new Map<string, number>();
  private readonly waiting: (() => void)[] = [];
  private readonly pinging = new Set<string>();
  private nextTid = Math.floor(Math.random() * 0x10000);
  private maintenanceTimer: NodeJS.Timeout | undefined;
  private bootstrapping: Promise<void> | null = null;
  private closed = false;
  private lastSaved = '';
  private saving: Promise<void> = Promise.resolve();
  private boundPort = 0;
  private readonly counters = {
    received: 0,
    rateLimited: 0,
    malformed: 0,
    unmatched: 0,
    queriesAnswered: 0,
    queriesSent: 0,
    timeouts: 0,
  };

  private constructor(o: DhtNodeOptions, family: 4 | 6, nodeId: Uint8Array, socket: Socket) {
    super();
    this.host = o.host;
    this.family = family;
    this.nodeId = nodeId;
    this.socket = socket;
    this.now = o.now ?? Date.now;
    this.table = new RoutingTable(nodeId, this.now);
    this.tokens = new TokenIssuer(this.now);
    this.peerStore = new PeerStore({ ...o.peerStore, now: this.now });
    this.limiter = new IpRateLimiter(o.rateLimit ?? DEFAULT_RATE_LIMIT, this.now);
    this.queryTimeoutMs = o.queryTimeoutMs ?? 2_000;
    this.maxOutstanding = o.maxOutstanding ?? 256;
    this.bootstrapHosts = (o.bootstrap ?? []).filter(
      (b) => b.host.length > 0 && Number.isInteger(b.port) && b.port >= 1 && b.port <= 65535,
    );
    this.stateFile = o.stateFile;
  }

  /** Binds the socket, loads the saved table and starts bootstrapping in the background. */
  static async create(o: DhtNodeOptions): Promise<DhtNode> {
    const family = isIP(o.host);
    if (family !== 4 && family !== 6)
      throw new EngineError('dht', `DHT needs an IP address to bind, not '${o.host}'`);
    if (o.nodeId && o.nodeId.length !== ID_LENGTH)
      throw new EngineError('dht', 'DHT node id must be 20 bytes');
    const saved = o.stateFile ? await loadState(o.stateFile, family) : null;
    const nodeId = o.nodeId ?? saved?.nodeId ?? randomBytes(ID_LENGTH);
    const socket =
      family === 4
        ? createSocket({ type: 'udp4' })
        : createSocket({ type: 'udp6', ipv6Only: true });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ address: o.host, port: o.port ?? 0, exclusive: true }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      socket.close();
      throw new EngineError(
        'dht',
        `cannot bind DHT socket to ${o.host}:${o.port ?? 0}: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
    const node = new DhtNode(o, family, Uint8Array.from(nodeId), socket);
    node.boundPort = socket.address().port;
    socket.on('message', (msg, rinfo) => node.onDatagram(msg, rinfo));
    socket.on('error', (e) => debugLog('dht', `socket error: ${e.message}`));
    for (const n of saved?.nodes ?? []) node.table.insert(n, 'unverified');
    const every = o.maintenanceIntervalMs ?? 60_000;
    node.maintenanceTimer = setInterval(() => node.maintain(), every);
    node.maintenanceTimer.unref();
    node.startBootstrap();
    return node;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Nodes in the routing table. */
  nodeCount(): number {
    return this.table.size();
  }

  /** Routing table entries (copies), for diagnostics and tests. */
  nodes(): NodeContact[] {
    return this.table.all().map((n) => ({ id: Uint8Array.from(n.id), ip: n.ip, port: n.port }));
  }

  stats(): DhtStats {
    return {
      ...this.counters,
      outstanding: this.outstanding.size,
      waiting: this.waiting.length,
      trackedIps: this.limiter.trackedIps(),
      storedPeers: this.peerStore.size(),
    };
  }

  /** Resolves when the current bootstrap round (if any) has ended. */
  async ready(): Promise<void> {
    await this.bootstrapping;
  }

  /**
   * A node heard of outside the DHT (a peer's BEP 5 `port` message, PW-18; a trackerless
   * torrent's `nodes`, DH-05): pinged, and added to the table if it answers. Resolves true then.
   */
  async addNode(host: string, port: number): Promise<boolean> {
    if (this.closed || !Number.isInteger(port) || port < 1 || port > 65535) return false;
    const ip = await resolveIp(host, this.family);
    if (!ip || this.isSelf({ ip, port })) return false;
    // Every peer of a swarm may send the same `port` message: a good node needs no new ping.
    const known = this.table.findByAddress(ip, port);
    if (known && this.table.status(known) === 'good') return true;
    const reply = await this.query({ ip, port }, { method: 'ping', id: this.nodeId });
    return reply !== null;
  }

  /**
   * Iterative get_peers for `infoHash` (α = 3, K = 8). Peers are reported through `onPeers` and
   * the 'peers' event as they come, and all of them returned at the end. With `announcePort`,
   * announces to the K closest nodes that answered with a token.
   */
  async getPeers(infoHash: Uint8Array, opts: GetPeersOptions = {}): Promise<PeerAddress[]> {
    if (infoHash.length !== ID_LENGTH) throw new EngineError('dht', 'info-hash must be 20 bytes');
    const port = opts.announcePort;
    if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535))
      throw new EngineError('dht', `bad announce port ${port}`);
    if (this.closed) return [];
    await this.bootstrapping;
    if (this.table.size() === 0 && this.bootstrapHosts.length > 0) {
      this.startBootstrap();
      await this.bootstrapping;
    }
    const hex = Buffer.from(infoHash).toString('hex');
    const result = await lookup({
      target: infoHash,
      seeds: this.table.closest(infoHash, 2 * K),
      query: (to) => this.ask(to, { method: 'get_peers', id: this.nodeId, infoHash }),
      onPeers: (peers) => {
        // A throwing listener must not stall the lookup.
        try {
          opts.onPeers?.(peers);
          this.emit('peers', hex, peers);
        } catch (e) {
          debugLog('dht', `a peers listener threw: ${String(e)}`);
        }
      },
      skip: (c) => this.isSelf(c),
      timeoutMs: opts.timeoutMs,
      maxQueries: opts.maxQueries,
      signal: opts.signal,
    });
    debugLog(
      'dht',
      `get_peers ${hex}: ${result.peers.length} peers, ${result.queries} queries, ${result.responses} replies`,
    );
    if (port !== undefined && !this.closed) {
      await Promise.all(
        result.closest
          .filter((c) => c.token)
          .map((c) =>
            this.query(c.node, {
              method: 'announce_peer',
              id: this.nodeId,
              infoHash,
              port,
              token: c.token!,
              impliedPort: opts.impliedPort === true,
            }),
          ),
      );
    }
    const seen = new Set(result.peers.map((p) => `${p.ip}:${p.port}`));
    const local = this.peerStore.get(infoHash).filter((p) => !seen.has(`${p.ip}:${p.port}`));
    return [...result.peers, ...local];
  }

  /** Stops everything: no timer and no socket is left; the table is saved if a state file is set. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.maintenanceTimer);
    for (const o of this.outstanding.values()) {
      clearTimeout(o.timer);
      o.resolve(null);
    }
    this.outstanding.clear();
    for (const w of this.waiting.splice(0)) w();
    await this.saveState().catch((e: unknown) =>
      debugLog('dht', `saving state failed: ${e instanceof Error ? e.message : String(e)}`),
    );
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  /** Writes the routing table to the state file now (also done by upkeep and close). */
  saveState(): Promise<void> {
    // One write at a time: each starts after the previous one ended.
    const next = this.saving.then(() => this.writeState());
    this.saving = next.catch(() => {});
    return next;
  }

  private async writeState(): Promise<void> {
    if (!this.stateFile) return;
    const state: StateFile = {
      version: 1,
      nodeId: Buffer.from(this.nodeId).toString('hex'),
      nodes: this.table
        .all()
        .filter((n) => this.table.status(n) !== 'bad')
        .map((n) => ({ id: Buffer.from(n.id).toString('hex'), ip: n.ip, port: n.port })),
    };
    const text = JSON.stringify(state);
    if (text === this.lastSaved) return;
    await writeFileAtomic(this.stateFile, text);
    this.lastSaved = text;
  }

  // ---- sending ------------------------------------------------------------------------------

  /** Our own address (or id): never queried, never handed out. */
  private isSelf(c: { ip: string; port: number; id?: Uint8Array }): boolean {
    if (c.id && equalBytes(c.id, this.nodeId)) return true;
    if (c.port !== this.boundPort) return false;
    // Bound to all interfaces: our address as others see it is unknown; loopback is surely us.
    if (c.ip === this.host) return true;
    if (this.host === '0.0.0.0') return c.ip.startsWith('127.');
    return this.host === '::' && c.ip === '::1';
  }

  private send(to: { ip: string; port: number }, msg: KrpcMessage): void {
    if (this.closed) return;
    let bytes: Uint8Array;
    try {
      bytes = encodeKrpc(msg);
    } catch (e) {
      debugLog('dht', `encode failed: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    try {
      this.socket.send(bytes, to.port, to.ip, (e) => {
        if (e) debugLog('dht', `send to ${to.ip}:${to.port} failed: ${e.message}`);
      });
    } catch (e) {
      // A bad address or port from the network: nothing to send to.
      debugLog('dht', `send to ${to.ip}:${to.port} refused: ${String(e)}`);
    }
  }

  /**
   * A find_node / get_peers for a lookup: on an IPv6 node asks for `nodes6` (BEP 32 `want`) and
   * hands the lookup the node list of our family as `nodes`.
   */
  private async ask(
    to: LookupSeed,
    q: Extract<KrpcQuery, { method: 'find_node' | 'get_peers' }>,
  ): Promise<KrpcResponseBody | null> {
    if (this.family === 4) return this.query(to, q);
    const reply = await this.query(to, { ...q, want: ['n6'] });
    if (!reply) return null;
    const { nodes6, ...rest } = reply;
    return nodes6 ? { ...rest, nodes: nodes6 } : { ...rest, nodes: [] };
  }

  /** Our closest nodes in the field of our family: `nodes` (IPv4) or `nodes6` (IPv6). */
  private nodesField(nodes: NodeContact[]): Pick<KrpcResponseBody, 'nodes' | 'nodes6'> {
    return this.family === 4 ? { nodes } : { nodes6: nodes };
  }

  /** One query; the reply (from that very address) or null on timeout, error reply or close. */
  private async query(to: LookupSeed, q: KrpcQuery): Promise<KrpcResponseBody | null> {
    while (!this.closed && this.outstanding.size >= this.maxOutstanding) {
      if (this.waiting.length >= MAX_WAITING) return null;
      await new Promise<void>((r) => this.waiting.push(r));
    }
    if (this.closed || to.port < 1 || to.port > 65535 || isIP(to.ip) !== this.family) return null;
    let key: string;
    let t: Uint8Array;
    do {
      this.nextTid = (this.nextTid + 1) & 0xffff;
      t = Uint8Array.from([this.nextTid >> 8, this.nextTid & 0xff]);
      key = Buffer.from(t).toString('latin1');
    } while (this.outstanding.has(key));
    this.counters.queriesSent++;
    const address = `${to.ip}:${to.port}`;
    this.awaiting.set(address, (this.awaiting.get(address) ?? 0) + 1);
    const reply = await new Promise<KrpcResponseBody | null>((resolve) => {
      const timer = setTimeout(() => {
        this.outstanding.delete(key);
        this.counters.timeouts++;
        const known = this.table.findByAddress(to.ip, to.port);
        if (known) this.table.failed(known.id);
        resolve(null);
      }, this.queryTimeoutMs);
      this.outstanding.set(key, { ip: to.ip, port: to.port, timer, resolve });
      this.send(to, { t, y: 'q', v: VERSION, query: q });
    });
    const left = (this.awaiting.get(address) ?? 1) - 1;
    if (left > 0) this.awaiting.set(address, left);
    else this.awaiting.delete(address);
    this.waiting.shift()?.();
    return reply;
  }

  // ---- receiving ----------------------------------------------------------------------------

  private onDatagram(buf: Buffer, rinfo: RemoteInfo): void {
    if (this.closed) return;
    this.counters.received++;
    // Over its rate, an IP is only heard if we await a reply from that very address, and then
    // only for replies (a flooder we happen to be pinging gets no free pass for its queries).
    const allowed = this.limiter.allow(rinfo.address);
    if (!allowed && !this.awaiting.has(`${rinfo.address}:${rinfo.port}`)) {
      this.counters.rateLimited++;
      return;
    }
    const msg = decodeKrpc(buf);
    if (!allowed && msg?.y !== 'r' && msg?.y !== 'e') {
      this.counters.rateLimited++;
      return;
    }
    if (!msg) {
      this.counters.malformed++;
      return;
    }
    try {
      if (msg.y === 'q') this.onQuery(msg.t, msg.query, rinfo, msg.ro === true);
      else this.onReply(msg, rinfo);
    } catch (e) {
      // Never let one datagram take the node down.
      debugLog('dht', `handling ${rinfo.address}:${rinfo.port} failed: ${String(e)}`);
    }
  }

  private onReply(msg: KrpcMessage, rinfo: RemoteInfo): void {
    const key = Buffer.from(msg.t).toString('latin1');
    const o = this.outstanding.get(key);
    if (!o || o.ip !== rinfo.address || o.port !== rinfo.port) {
      this.counters.unmatched++;
      return;
    }
    this.outstanding.delete(key);
    clearTimeout(o.timer);
    if (msg.y === 'r') {
      const contact = { id: msg.response.id, ip: rinfo.address, port: rinfo.port };
      if (!equalBytes(contact.id, this.nodeId)) {
        const { ping } = this.table.insert(contact, 'response');
        for (const n of ping.slice(0, 2)) this.pingNode(n);
      }
      o.resolve(msg.response);
    } else {
      if (msg.y === 'e')
        debugLog('dht', `error ${msg.error.code} from ${rinfo.address}: ${msg.error.message}`);
      o.resolve(null);
    }
  }

  private onQuery(t: Uint8Array, q: KrpcQuery, rinfo: RemoteInfo, readOnly: boolean): void {
    if (equalBytes(q.id, this.nodeId)) return; // our own query reflected back, or a spoof
    const from = { ip: rinfo.address, port: rinfo.port };
    this.counters.queriesAnswered++;
    const reply = (response: Omit<KrpcResponseBody, 'id'>): void =>
      this.send(from, { t, y: 'r', v: VERSION, response: { id: this.nodeId, ...response } });
    switch (q.method) {
      case 'ping':
        reply({});
        break;
      case 'find_node':
        reply(this.nodesField(this.table.closest(q.target, K).map(contactOf)));
        break;
      case 'get_peers': {
        const values = this.peerStore.get(q.infoHash, 50);
        reply({
          token: this.tokens.issue(from.ip),
          ...this.nodesField(this.table.closest(q.infoHash, K).map(contactOf)),
          ...(values.length > 0 ? { values } : {}),
        });
        break;
      }
      case 'announce_peer': {
        if (!this.tokens.check(from.ip, q.token)) {
          this.send(from, {
            t,
            y: 'e',
            v: VERSION,
            error: { code: ERROR_PROTOCOL, message: 'bad token' },
          });
          return;
        }
        const peer = { ip: from.ip, port: q.impliedPort ? from.port : q.port };
        this.peerStore.add(q.infoHash, peer);
        this.emit('announce', Buffer.from(q.infoHash).toString('hex'), peer);
        reply({});
        break;
      }
      case 'unknown':
        this.send(from, {
          t,
          y: 'e',
          v: VERSION,
          error: { code: ERROR_METHOD_UNKNOWN, message: 'Method Unknown' },
        });
        return;
    }
    // A node that queries us is alive; one we do not know yet is verified by a ping first.
    // Read-only nodes (BEP 43) answer no queries: they stay out of the table.
    if (readOnly) return;
    const known = this.table.get(q.id);
    if (known) this.table.insert({ id: q.id, ...from }, 'query');
    else this.verify(from);
  }

  /** Pings an address we heard from; the reply handler adds it to the table. */
  private verify(to: { ip: string; port: number }): void {
    const key = `${to.ip}:${to.port}`;
    if (this.pinging.has(key) || this.pinging.size >= MAX_PINGING || this.closed) return;
    this.pinging.add(key);
    void this.query(to, { method: 'ping', id: this.nodeId }).finally(() =>
      this.pinging.delete(key),
    );
  }

  private pingNode(n: RoutingNode): void {
    this.verify(n);
  }

  // ---- upkeep -------------------------------------------------------------------------------

  private startBootstrap(): void {
    if (this.closed) return;
    const run = async (): Promise<void> => {
      const seeds: LookupSeed[] = this.table.closest(this.nodeId, K);
      for (const b of this.bootstrapHosts) {
        const ip = await resolveIp(b.host, this.family);
        if (ip) seeds.push({ ip, port: b.port });
      }
      if (seeds.length === 0 || this.closed) return;
      await lookup({
        target: this.nodeId,
        seeds,
        query: (to) => this.ask(to, { method: 'find_node', id: this.nodeId, target: this.nodeId }),
        skip: (c) => this.isSelf(c),
        timeoutMs: 20_000,
      });
      this.table.touchBucket(this.nodeId);
      debugLog('dht', `bootstrap done: ${this.table.size()} nodes in the table`);
    };
    const p: Promise<void> = run()
      .catch((e: unknown) => debugLog('dht', `bootstrap failed: ${String(e)}`))
      .finally(() => {
        if (this.bootstrapping === p) this.bootstrapping = null;
      });
    this.bootstrapping = p;
  }

  private maintain(): void {
    if (this.closed) return;
    this.peerStore.prune();
    const t = this.now();
    // Questionable nodes not heard from for 15 minutes get a ping (a few per round).
    const stale = this.table
      .all()
      .filter(
        (n) =>
          this.table.status(n) === 'questionable' &&
          t - Math.max(n.lastResponseAt, n.lastQueryAt) >= GOOD_FOR_MS,
      )
      .slice(0, 8);
    for (const n of stale) this.verify(n);
    if (this.table.size() === 0 && this.bootstrapHosts.length > 0 && !this.bootstrapping) {
      this.startBootstrap();
      return;
    }
    // Refresh one bucket that has not changed for 15 minutes.
    const target = this.table.staleBuckets(REFRESH_MS)[0];
    if (target) {
      this.table.touchBucket(target);
      void lookup({
        target,
        seeds: this.table.closest(target, K),
        query: (to) => this.ask(to, { method: 'find_node', id: this.nodeId, target }),
        skip: (c) => this.isSelf(c),
        timeoutMs: 20_000,
      });
    }
    void this.saveState().catch((e: unknown) =>
      debugLog('dht', `saving state failed: ${String(e)}`),
    );
  }
}

function contactOf(n: RoutingNode): NodeContact {
  return { id: n.id, ip: n.ip, port: n.port };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
}

async function resolveIp(host: string, family: 4 | 6): Promise<string | null> {
  const literal = isIP(host);
  // Written as the socket will report it, so replies match the address we queried.
  if (literal !== 0) return literal === family ? canonicalIp(host) : null;
  try {
    return (await dnsLookup(host, { family })).address;
  } catch {
    return null;
  }
}

/** The saved table, or null if there is none or it is unreadable (then we start afresh). */
async function loadState(
  file: string,
  family: 4 | 6,
): Promise<{ nodeId: Uint8Array; nodes: NodeContact[] } | null> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const s = parsed as Partial<StateFile>;
  if (s.version !== 1 || typeof s.nodeId !== 'string' || !/^[0-9a-f]{40}$/.test(s.nodeId)) {
    debugLog('dht', `ignoring state file ${file}: unknown format`);
    return null;
  }
  const nodes: NodeContact[] = [];
  for (const n of Array.isArray(s.nodes) ? s.nodes.slice(0, 2000) : []) {
    if (
      typeof n === 'object' &&
      n !== null &&
      typeof n.id === 'string' &&
      /^[0-9a-f]{40}$/.test(n.id) &&
      typeof n.ip === 'string' &&
      isIP(n.ip) === family &&
      Number.isInteger(n.port) &&
      n.port >= 1 &&
      n.port <= 65535
    ) {
      nodes.push({ id: Uint8Array.from(Buffer.from(n.id, 'hex')), ip: n.ip, port: n.port });
    }
  }
  return { nodeId: Uint8Array.from(Buffer.from(s.nodeId, 'hex')), nodes };
}
