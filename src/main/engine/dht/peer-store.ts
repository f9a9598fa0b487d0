import type { PeerAddress } from '../torrent/peer-directory';

/**
 * Peers announced to us (announce_peer), per info-hash. Entries expire after 30 minutes; each
 * hash keeps at most `maxPerHash` peers (the oldest make room) and the store at most `maxTotal`
 * (new hashes are refused when full), so a flood of announces cannot grow memory without bound.
 */
export const PEER_TTL_MS = 30 * 60_000;

export interface PeerStoreOptions {
  maxPerHash?: number;
  maxTotal?: number;
  ttlMs?: number;
  now?: () => number;
}

export class PeerStore {
  /** hex info-hash → ("ip:port" → { peer, expiresAt }), in insertion (= age) order. */
  private readonly byHash = new Map<
    string,
    Map<string, { peer: PeerAddress; expiresAt: number }>
  >();
  private total = 0;
  private readonly maxPerHash: number;
  private readonly maxTotal: number;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(o: PeerStoreOptions = {}) {
    this.maxPerHash = o.maxPerHash ?? 200;
    this.maxTotal = o.maxTotal ?? 20_000;
    this.ttlMs = o.ttlMs ?? PEER_TTL_MS;
    this.now = o.now ?? Date.now;
  }

  size(): number {
    return this.total;
  }

  hashCount(): number {
    return this.byHash.size;
  }

  add(infoHash: Uint8Array, peer: PeerAddress): boolean {
    const key = Buffer.from(infoHash).toString('hex');
    let peers = this.byHash.get(key);
    const addr = `${peer.ip}:${peer.port}`;
    const expiresAt = this.now() + this.ttlMs;
    if (peers?.has(addr)) {
      // Re-announce: refresh and move to the young end.
      peers.delete(addr);
      peers.set(addr, { peer: { ...peer }, expiresAt });
      return true;
    }
    if (this.total >= this.maxTotal) this.prune();
    if (this.total >= this.maxTotal) return false;
    if (!peers) {
      peers = new Map();
      this.byHash.set(key, peers);
    }
    if (peers.size >= this.maxPerHash) {
      const oldest = peers.keys().next().value;
      if (oldest !== undefined) {
        peers.delete(oldest);
        this.total--;
      }
    }
    peers.set(addr, { peer: { ...peer }, expiresAt });
    this.total++;
    return true;
  }

  /** Up to `max` live peers for the hash, in random order. */
  get(infoHash: Uint8Array, max = 50): PeerAddress[] {
    const key = Buffer.from(infoHash).toString('hex');
    const peers = this.byHash.get(key);
    if (!peers) return [];
    const t = this.now();
    const live: PeerAddress[] = [];
    for (const [addr, e] of peers) {
      if (e.expiresAt <= t) {
        peers.delete(addr);
        this.total--;
      } else live.push(e.peer);
    }
    if (peers.size === 0) this.byHash.delete(key);
    for (let i = live.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [live[i], live[j]] = [live[j]!, live[i]!];
    }
    return live.slice(0, max).map((p) => ({ ...p }));
  }

  /** Drops expired entries everywhere. */
  prune(): void {
    const t = this.now();
    for (const [key, peers] of this.byHash) {
      for (const [addr, e] of peers) {
        if (e.expiresAt <= t) {
          peers.delete(addr);
          this.total--;
        }
      }
      if (peers.size === 0) this.byHash.delete(key);
    }
  }
}
