import { isIP } from 'node:net';
import type { PeerAddress } from '../torrent/peer-directory';
import type { KrpcResponseBody, NodeContact } from './krpc';
import { K, idToBigInt } from './routing-table';

/**
 * Iterative Kademlia lookup (find_node or get_peers), independent of sockets: `query` sends one
 * request and resolves with the reply or null (timeout, error). At most `alpha` queries are in
 * flight; the lookup ends when the K closest nodes that answered have all been asked, or after
 * `maxQueries` queries or `timeoutMs`, whichever comes first.
 */

export const ALPHA = 3;

/** A place to start: a node from the routing table, or a bootstrap address with no known id. */
export interface LookupSeed {
  id?: Uint8Array;
  ip: string;
  port: number;
}

export interface LookupOptions {
  target: Uint8Array;
  seeds: readonly LookupSeed[];
  query: (to: LookupSeed) => Promise<KrpcResponseBody | null>;
  /** Called with the `values` of each get_peers reply, as they come. */
  onPeers?: (peers: PeerAddress[], from: NodeContact) => void;
  /** Addresses never to query (our own). */
  skip?: (c: { ip: string; port: number }) => boolean;
  alpha?: number;
  k?: number;
  maxQueries?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface LookupResult {
  /** Up to K nodes that answered, closest first, with the token each gave (get_peers). */
  closest: { node: NodeContact; token?: Uint8Array }[];
  /** Every peer seen, deduplicated. */
  peers: PeerAddress[];
  queries: number;
  responses: number;
}

interface Candidate {
  seed: LookupSeed;
  /** XOR distance to the target; -1 for a bootstrap address whose id we do not know yet. */
  d: bigint;
  state: 'new' | 'pending' | 'answered' | 'failed';
  id?: Uint8Array;
  token?: Uint8Array;
}

/** Most candidates remembered: far ones beyond this are forgotten. */
const MAX_CANDIDATES = 256;
/** Most peers one lookup collects (each reply may carry hundreds). */
const MAX_PEERS = 2000;

export function lookup(o: LookupOptions): Promise<LookupResult> {
  const alpha = o.alpha ?? ALPHA;
  const k = o.k ?? K;
  const maxQueries = o.maxQueries ?? 100;
  const timeoutMs = o.timeoutMs ?? 30_000;
  const target = idToBigInt(o.target);
  const candidates: Candidate[] = [];
  const byAddress = new Map<string, Candidate>();
  const peers = new Map<string, PeerAddress>();
  let queries = 0;
  let responses = 0;
  let inFlight = 0;

  const addCandidate = (seed: LookupSeed): void => {
    const key = `${seed.ip}:${seed.port}`;
    if (byAddress.has(key) || o.skip?.(seed)) return;
    const c: Candidate = {
      seed,
      d: seed.id ? idToBigInt(seed.id) ^ target : -1n,
      state: 'new',
    };
    byAddress.set(key, c);
    insertSorted(candidates, c);
    if (candidates.length > MAX_CANDIDATES) {
      const dropped = candidates.pop()!;
      if (dropped.state === 'new') byAddress.delete(`${dropped.seed.ip}:${dropped.seed.port}`);
      else candidates.push(dropped); // never forget one in flight or answered
    }
  };

  /** The first not-yet-asked candidate among the k closest that have not failed. */
  const next = (): Candidate | undefined => {
    let alive = 0;
    for (const c of candidates) {
      if (c.state === 'failed') continue;
      if (alive >= k) return undefined;
      alive++;
      if (c.state === 'new') return c;
    }
    return undefined;
  };

  return new Promise<LookupResult>((resolve) => {
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', finish);
      const closest = candidates
        .filter((c) => c.state === 'answered' && c.id)
        .slice(0, k)
        .map((c) => {
          const node: NodeContact = { id: c.id!, ip: c.seed.ip, port: c.seed.port };
          return c.token ? { node, token: c.token } : { node };
        });
      resolve({ closest, peers: [...peers.values()], queries, responses });
    };
    const timer = setTimeout(finish, timeoutMs);
    if (o.signal?.aborted) {
      finish();
      return;
    }
    o.signal?.addEventListener('abort', finish);

    const pump = (): void => {
      if (finished) return;
      while (inFlight < alpha && queries < maxQueries) {
        const c = next();
        if (!c) break;
        c.state = 'pending';
        inFlight++;
        queries++;
        Promise.resolve()
          .then(() => o.query(c.seed))
          .then(
            (reply) => settle(c, reply),
            () => settle(c, null),
          );
      }
      if (inFlight === 0) finish();
    };

    const settle = (c: Candidate, reply: KrpcResponseBody | null): void => {
      inFlight--;
      if (finished) return;
      try {
        absorb(c, reply);
      } finally {
        pump();
      }
    };

    const absorb = (c: Candidate, reply: KrpcResponseBody | null): void => {
      if (!reply) {
        c.state = 'failed';
      } else {
        responses++;
        c.state = 'answered';
        c.id = reply.id;
        if (reply.token) c.token = reply.token;
        const d = idToBigInt(reply.id) ^ target;
        if (d !== c.d) {
          // A bootstrap node, or one that is not who its referrer said: sort by its real id.
          candidates.splice(candidates.indexOf(c), 1);
          c.d = d;
          insertSorted(candidates, c);
        }
        const from: NodeContact = { id: reply.id, ip: c.seed.ip, port: c.seed.port };
        const usable = (a: { ip: string; port: number }) => usableFrom(a, c.seed.ip);
        if (reply.values && reply.values.length > 0) {
          const fresh = reply.values.filter((p) => {
            const key = `${p.ip}:${p.port}`;
            if (peers.has(key) || !usable(p) || peers.size >= MAX_PEERS) return false;
            peers.set(key, p);
            return true;
          });
          if (fresh.length > 0) o.onPeers?.(fresh, from);
        }
        for (const n of (reply.nodes ?? []).slice(0, 2 * k)) {
          if (usable(n)) addCandidate({ id: n.id, ip: n.ip, port: n.port });
        }
      }
    };

    for (const s of o.seeds) addCandidate(s);
    pump();
  });
}

const isLoopback = (ip: string): boolean => ip.startsWith('127.') || ip === '::1';

/**
 * Whether an address named by the node at `source` is worth using: never port 0, 0.0.0.0/8,
 * multicast or reserved (224/3), `::`, IPv6 multicast (ff00::/8) or IPv4-mapped IPv6; loopback
 * only when the node naming it is itself on loopback (a remote node must not steer us at our own
 * machine's services).
 */
export function usableFrom(a: { ip: string; port: number }, source: string): boolean {
  if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65535) return false;
  if (isIP(a.ip) === 6) {
    const ip = a.ip.toLowerCase();
    if (ip === '::' || ip.startsWith('ff') || ip.startsWith('::ffff:')) return false;
  } else {
    const first = Number(a.ip.split('.')[0]);
    if (!(first >= 1 && first <= 223)) return false;
  }
  return !isLoopback(a.ip) || isLoopback(source);
}

function insertSorted(list: Candidate[], c: Candidate): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.d <= c.d) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, c);
}
