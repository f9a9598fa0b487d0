import { randomBytes } from 'node:crypto';
import { ID_LENGTH, type NodeContact } from './krpc';

/**
 * Kademlia routing table as BEP 5 describes it (DH-02): buckets of K nodes covering the 160-bit
 * id space; only the bucket whose range holds our own id is split when full. A node is good if
 * it answered us in the last 15 minutes (or answered once and queried us in the last 15 minutes),
 * bad after two unanswered queries in a row, questionable otherwise. A full bucket with a bad node
 * replaces it; with questionable nodes it asks the caller to ping them and keeps the newcomer as
 * a replacement candidate until one fails.
 */

export const K = 8;
export const GOOD_FOR_MS = 15 * 60_000;
/** Unanswered queries in a row after which a node is bad. */
export const MAX_FAILURES = 2;
const ID_BITS = 160;

export type NodeStatus = 'good' | 'questionable' | 'bad';

export interface RoutingNode extends NodeContact {
  readonly n: bigint;
  /** Last time it answered one of our queries (0: never). */
  lastResponseAt: number;
  /** Last time it sent us a query (0: never). */
  lastQueryAt: number;
  failures: number;
}

interface Bucket {
  /** Range [min, max) of ids. */
  min: bigint;
  max: bigint;
  nodes: RoutingNode[];
  /** Candidates waiting for a slot, newest last. */
  replacements: RoutingNode[];
  changedAt: number;
}

/** How a node came to our attention. */
export type Sighting = 'response' | 'query' | 'unverified';

export interface InsertResult {
  added: boolean;
  /** Questionable nodes in the full bucket: ping them; failures make room for the newcomer. */
  ping: RoutingNode[];
}

export function idToBigInt(id: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(id).toString('hex') || '0'}`);
}

export function bigIntToId(n: bigint): Uint8Array {
  return Uint8Array.from(Buffer.from(n.toString(16).padStart(ID_LENGTH * 2, '0'), 'hex'));
}

export function distance(a: Uint8Array, b: Uint8Array): bigint {
  return idToBigInt(a) ^ idToBigInt(b);
}

export function sameAddress(a: { ip: string; port: number }, b: { ip: string; port: number }) {
  return a.ip === b.ip && a.port === b.port;
}

export class RoutingTable {
  readonly ownId: Uint8Array;
  private readonly own: bigint;
  private readonly buckets: Bucket[];
  private readonly now: () => number;

  constructor(ownId: Uint8Array, now: () => number = Date.now) {
    if (ownId.length !== ID_LENGTH) throw new RangeError('node id must be 20 bytes');
    this.ownId = ownId;
    this.own = idToBigInt(ownId);
    this.now = now;
    this.buckets = [
      { min: 0n, max: 1n << BigInt(ID_BITS), nodes: [], replacements: [], changedAt: now() },
    ];
  }

  status(node: RoutingNode): NodeStatus {
    if (node.failures >= MAX_FAILURES) return 'bad';
    if (node.failures > 0) return 'questionable';
    const t = this.now();
    if (node.lastResponseAt > 0 && t - node.lastResponseAt < GOOD_FOR_MS) return 'good';
    if (node.lastResponseAt > 0 && t - node.lastQueryAt < GOOD_FOR_MS) return 'good';
    return 'questionable';
  }

  size(): number {
    return this.buckets.reduce((sum, b) => sum + b.nodes.length, 0);
  }

  bucketCount(): number {
    return this.buckets.length;
  }

  /** Bucket ranges and sizes, for tests and diagnostics. */
  describe(): { min: bigint; max: bigint; size: number; replacements: number }[] {
    return this.buckets.map((b) => ({
      min: b.min,
      max: b.max,
      size: b.nodes.length,
      replacements: b.replacements.length,
    }));
  }

  all(): RoutingNode[] {
    return this.buckets.flatMap((b) => b.nodes);
  }

  get(id: Uint8Array): RoutingNode | undefined {
    const n = idToBigInt(id);
    return this.bucketFor(n).nodes.find((x) => x.n === n);
  }

  findByAddress(ip: string, port: number): RoutingNode | undefined {
    for (const b of this.buckets)
      for (const x of b.nodes) if (x.ip === ip && x.port === port) return x;
    return undefined;
  }

  private bucketFor(n: bigint): Bucket {
    // Few buckets (≤ 160) and a linear scan keeps splitting trivial.
    for (const b of this.buckets) if (n >= b.min && n < b.max) return b;
    throw new Error('unreachable: buckets cover the id space');
  }

  /**
   * Records that `contact` was seen. 'response' and 'query' refresh a known node; a new node is
   * inserted if its bucket has room, or takes a bad node's place, or splits our own bucket.
   */
  insert(contact: NodeContact, how: Sighting): InsertResult {
    const none: InsertResult = { added: false, ping: [] };
    if (contact.id.length !== ID_LENGTH) return none;
    const n = idToBigInt(contact.id);
    if (n === this.own) return none;
    const t = this.now();
    for (;;) {
      const bucket = this.bucketFor(n);
      const known = bucket.nodes.find((x) => x.n === n);
      if (known) {
        // Same id from another address: keep the one we know (an id is not proof of anything).
        if (!sameAddress(known, contact)) return none;
        if (how === 'response') {
          known.lastResponseAt = t;
          known.failures = 0;
        } else if (how === 'query') known.lastQueryAt = t;
        return none;
      }
      // One entry per address: a second id at a known address is ignored.
      if (this.findByAddress(contact.ip, contact.port)) return none;
      const node: RoutingNode = {
        id: Uint8Array.from(contact.id),
        n,
        ip: contact.ip,
        port: contact.port,
        lastResponseAt: how === 'response' ? t : 0,
        lastQueryAt: how === 'query' ? t : 0,
        failures: 0,
      };
      if (bucket.nodes.length < K) {
        bucket.nodes.push(node);
        bucket.changedAt = t;
        bucket.replacements = bucket.replacements.filter((x) => x.n !== n);
        return { added: true, ping: [] };
      }
      const bad = bucket.nodes.findIndex((x) => this.status(x) === 'bad');
      if (bad >= 0) {
        bucket.nodes[bad] = node;
        bucket.changedAt = t;
        return { added: true, ping: [] };
      }
      if (this.own >= bucket.min && this.own < bucket.max && bucket.max - bucket.min > 1n) {
        this.split(bucket);
        continue;
      }
      // Full and not ours: the newcomer waits; questionable nodes get pinged to make room.
      // Only nodes that answered us are worth keeping as replacements.
      if (how === 'response') {
        bucket.replacements = bucket.replacements.filter((x) => x.n !== n && !sameAddress(x, node));
        bucket.replacements.push(node);
        if (bucket.replacements.length > K) bucket.replacements.shift();
      }
      const ping = bucket.nodes
        .filter((x) => this.status(x) === 'questionable')
        .sort((a, b) => lastSeen(a) - lastSeen(b));
      return { added: false, ping };
    }
  }

  private split(bucket: Bucket): void {
    const mid = bucket.min + (bucket.max - bucket.min) / 2n;
    const t = this.now();
    const low: Bucket = { min: bucket.min, max: mid, nodes: [], replacements: [], changedAt: t };
    const high: Bucket = { min: mid, max: bucket.max, nodes: [], replacements: [], changedAt: t };
    for (const x of bucket.nodes) (x.n < mid ? low : high).nodes.push(x);
    for (const x of bucket.replacements) (x.n < mid ? low : high).replacements.push(x);
    this.buckets.splice(this.buckets.indexOf(bucket), 1, low, high);
  }

  /** A query to this node went unanswered; a node that turns bad is replaced if we can. */
  failed(id: Uint8Array): void {
    const n = idToBigInt(id);
    const bucket = this.bucketFor(n);
    const i = bucket.nodes.findIndex((x) => x.n === n);
    if (i < 0) return;
    const node = bucket.nodes[i]!;
    node.failures++;
    if (this.status(node) !== 'bad') return;
    const replacement = bucket.replacements.pop();
    if (replacement) {
      bucket.nodes[i] = replacement;
      bucket.changedAt = this.now();
    } else if (node.lastResponseAt === 0) {
      // Never answered at all: not worth a slot.
      bucket.nodes.splice(i, 1);
    }
  }

  remove(id: Uint8Array): void {
    const n = idToBigInt(id);
    const bucket = this.bucketFor(n);
    bucket.nodes = bucket.nodes.filter((x) => x.n !== n);
  }

  /** The `count` non-bad nodes closest to `target` by XOR distance, closest first. */
  closest(target: Uint8Array, count = K): RoutingNode[] {
    const t = idToBigInt(target);
    return this.all()
      .filter((x) => this.status(x) !== 'bad')
      .map((x) => ({ x, d: x.n ^ t }))
      .sort((a, b) => (a.d < b.d ? -1 : a.d > b.d ? 1 : 0))
      .slice(0, count)
      .map((e) => e.x);
  }

  /** Buckets unchanged for `ms`, each with a random id in its range to look up (BEP 5 refresh). */
  staleBuckets(ms: number): Uint8Array[] {
    const t = this.now();
    return this.buckets.filter((b) => t - b.changedAt >= ms).map((b) => randomIdIn(b.min, b.max));
  }

  /** Marks the bucket holding `id` as refreshed (a lookup into it was started). */
  touchBucket(id: Uint8Array): void {
    this.bucketFor(idToBigInt(id)).changedAt = this.now();
  }
}

function lastSeen(n: RoutingNode): number {
  return Math.max(n.lastResponseAt, n.lastQueryAt);
}

function randomIdIn(min: bigint, max: bigint): Uint8Array {
  const span = max - min;
  const r = idToBigInt(randomBytes(ID_LENGTH + 4)) % span;
  return bigIntToId(min + r);
}
