import type { PeerRow } from '../../../shared/torrent-types';

export type PeerSource = PeerRow['source'];

export interface PeerAddress {
  ip: string;
  port: number;
}

/** A known address, connected or not, with what we learned from trying it. */
interface KnownPeer {
  address: PeerAddress;
  source: PeerSource;
  state: 'idle' | 'connecting' | 'connected' | 'banned';
  failures: number;
  retryAt: number;
}

export interface PeerDirectoryOptions {
  now?: () => number;
  /** First retry delay after a failed connection; doubles per failure. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** After this many failures in a row the address is forgotten. */
  maxFailures?: number;
  /** Upper bound on remembered addresses: a huge tracker reply cannot grow memory without end. */
  maxKnown?: number;
}

/** "ip:port", with IPv6 addresses in brackets, as people read and write them. */
export function addressKey(a: PeerAddress): string {
  return a.ip.includes(':') ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`;
}

/**
 * Every peer address a torrent knows, and which of them to dial next. Addresses that fail
 * are retried with exponential back-off and eventually forgotten; banned ones never return.
 */
export class PeerDirectory {
  private readonly known = new Map<string, KnownPeer>();
  private readonly now: () => number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly maxFailures: number;
  private readonly maxKnown: number;

  constructor(opts: PeerDirectoryOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.retryBaseMs = opts.retryBaseMs ?? 15_000;
    this.retryMaxMs = opts.retryMaxMs ?? 10 * 60_000;
    this.maxFailures = opts.maxFailures ?? 6;
    this.maxKnown = opts.maxKnown ?? 2000;
  }

  get size(): number {
    return this.known.size;
  }

  /** Adds addresses from a source; returns how many were new. Invalid ones are skipped. */
  add(addresses: readonly PeerAddress[], source: PeerSource): number {
    let added = 0;
    let pexKnown = source === 'pex' ? this.pexCount() : 0;
    for (const address of addresses) {
      if (!Number.isInteger(address.port) || address.port < 1 || address.port > 65535) continue;
      const key = addressKey(address);
      const existing = this.known.get(key);
      if (existing) {
        // A fresh mention from a tracker makes a failing address worth one more try soon.
        if (existing.state === 'idle' && existing.failures > 0)
          existing.retryAt = Math.min(existing.retryAt, this.now() + this.retryBaseMs);
        continue;
      }
      if (this.known.size >= this.maxKnown) break;
      // PX-03: what other peers tell us (PEX) may fill at most half the list, so one liar's
      // addresses can never be all we have to dial.
      if (source === 'pex' && pexKnown++ >= this.maxKnown / 2) break;
      this.known.set(key, { address, source, state: 'idle', failures: 0, retryAt: 0 });
      added++;
    }
    return added;
  }

  /** Picks up to `max` idle addresses that are due, and marks them connecting. */
  takeDialable(max: number): { key: string; address: PeerAddress; source: PeerSource }[] {
    const out: { key: string; address: PeerAddress; source: PeerSource }[] = [];
    if (max <= 0) return out;
    const now = this.now();
    for (const [key, peer] of this.known) {
      if (peer.state !== 'idle' || peer.retryAt > now) continue;
      peer.state = 'connecting';
      out.push({ key, address: peer.address, source: peer.source });
      if (out.length >= max) break;
    }
    return out;
  }

  /** Earliest time an idle address becomes dialable, or null if none will. */
  nextRetryAt(): number | null {
    let next: number | null = null;
    for (const peer of this.known.values()) {
      if (peer.state !== 'idle') continue;
      if (next === null || peer.retryAt < next) next = peer.retryAt;
    }
    return next;
  }

  /** An incoming connection: remember it as connected. */
  markIncoming(address: PeerAddress): string {
    const key = addressKey(address);
    const existing = this.known.get(key);
    if (existing) existing.state = 'connected';
    else
      this.known.set(key, {
        address,
        source: 'incoming',
        state: 'connected',
        failures: 0,
        retryAt: 0,
      });
    return key;
  }

  isBanned(key: string): boolean {
    return this.known.get(key)?.state === 'banned';
  }

  isConnectedOrConnecting(key: string): boolean {
    const state = this.known.get(key)?.state;
    return state === 'connected' || state === 'connecting';
  }

  sourceOf(key: string): PeerSource {
    return this.known.get(key)?.source ?? 'incoming';
  }

  markConnected(key: string): void {
    const peer = this.known.get(key);
    if (peer) {
      peer.state = 'connected';
      peer.failures = 0;
    }
  }

  /**
   * The connection ended. `failed` means it never became useful (refused, timed out, bad
   * handshake); a peer that was connected and then closed normally may be dialled again soon.
   */
  markClosed(key: string, failed: boolean): void {
    const peer = this.known.get(key);
    if (!peer || peer.state === 'banned') return;
    peer.state = 'idle';
    if (!failed) {
      peer.retryAt = this.now() + this.retryBaseMs;
      return;
    }
    peer.failures++;
    if (peer.failures >= this.maxFailures) {
      this.known.delete(key);
      return;
    }
    const delay = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** (peer.failures - 1));
    peer.retryAt = this.now() + delay;
  }

  /** Never dial or accept this address again (e.g. it sent data that failed hash checks). */
  ban(key: string): void {
    const peer = this.known.get(key);
    if (peer) peer.state = 'banned';
  }

  /** Back to a clean slate for all non-banned peers (e.g. after resume). */
  resetBackoff(): void {
    for (const peer of this.known.values()) {
      if (peer.state === 'banned') continue;
      peer.state = 'idle';
      peer.failures = 0;
      peer.retryAt = 0;
    }
  }

  /** Every address not banned, with where we learned it (to hand over to another directory). */
  entries(): { address: PeerAddress; source: PeerSource }[] {
    return [...this.known.values()]
      .filter((p) => p.state !== 'banned')
      .map((p) => ({ address: p.address, source: p.source }));
  }

  private pexCount(): number {
    let n = 0;
    for (const p of this.known.values()) if (p.source === 'pex') n++;
    return n;
  }

  /** Known (not banned) addresses per source. */
  countBySource(): Map<PeerSource, number> {
    const out = new Map<PeerSource, number>();
    for (const p of this.known.values())
      if (p.state !== 'banned') out.set(p.source, (out.get(p.source) ?? 0) + 1);
    return out;
  }

  counts(): { known: number; banned: number } {
    let banned = 0;
    for (const peer of this.known.values()) if (peer.state === 'banned') banned++;
    return { known: this.known.size - banned, banned };
  }
}
