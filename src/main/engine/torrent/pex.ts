import { isIP } from 'node:net';
import { bdecode } from '../bencode/decode';
import { bencode } from '../bencode/encode';
import { decodeCompactPeers, encodeCompactPeer } from '../peer/compact-address';
import type { PeerAddress } from './peer-directory';

/** Peers taken from one PEX message (PX-03: libtorrent's max_pex_peers). */
export const MAX_PEX_PEERS_IN = 50;
/** Added or dropped entries per message after the first (PX-02). */
export const MAX_PEX_PEERS_OUT = 50;
/** At most one PEX message per peer this often (PX-02). */
export const PEX_INTERVAL_MS = 60_000;

export interface PexMessage {
  added: PeerAddress[];
  dropped: PeerAddress[];
}

/**
 * Reads a `ut_pex` payload (PX-01): `added`/`dropped` are IPv4 (6 bytes each), `added6`/`dropped6`
 * IPv6 (18). Untrusted (PX-03): at most 50 added peers, one port per IP, and a list whose length
 * is not a whole number of entries is ignored. Null when the payload is not a dict at all.
 */
export function decodePexMessage(payload: Uint8Array): PexMessage | null {
  let dict;
  try {
    dict = bdecode(payload, { allowTrailing: true, maxDepth: 4 }).value;
  } catch {
    return null;
  }
  if (!(dict instanceof Map)) return null;
  const list = (key: string, v6: boolean): PeerAddress[] => {
    const value = dict.get(key);
    if (!(value instanceof Uint8Array)) return [];
    return decodeCompactPeers(value, v6, MAX_PEX_PEERS_IN) ?? [];
  };
  const seenIps = new Set<string>();
  const added = [...list('added', false), ...list('added6', true)].filter(
    (a) => !seenIps.has(a.ip) && seenIps.add(a.ip),
  );
  return {
    added: added.slice(0, MAX_PEX_PEERS_IN),
    dropped: [...list('dropped', false), ...list('dropped6', true)],
  };
}

export function encodePexMessage(m: PexMessage): Uint8Array {
  const pack = (addresses: PeerAddress[], family: 4 | 6): Uint8Array =>
    Buffer.concat(
      addresses
        .filter((a) => isIP(a.ip) === family)
        .map(encodeCompactPeer)
        .filter((b): b is Uint8Array => b !== null),
    );
  const v4Added = m.added.filter((a) => isIP(a.ip) === 4);
  return bencode({
    added: pack(m.added, 4),
    // Flags per added IPv4 peer; we do not know whether they prefer encryption or seed: 0.
    'added.f': new Uint8Array(v4Added.length),
    added6: pack(m.added, 6),
    'added6.f': new Uint8Array(m.added.length - v4Added.length),
    dropped: pack(m.dropped, 4),
    dropped6: pack(m.dropped, 6),
  });
}

/**
 * What one peer has been told of our other peers, so each message carries only the change
 * (PX-02): only peers we are connected to, no duplicates, nobody added and dropped at once,
 * every peer added is dropped later, at most 50 of each after the first message.
 */
export class PexSender {
  private readonly told = new Map<string, PeerAddress>();
  private sentAny = false;

  /**
   * The next message given who we are connected to now (keyed by addressKey); null when nothing
   * changed.
   */
  next(connected: ReadonlyMap<string, PeerAddress>): PexMessage | null {
    const limit = this.sentAny ? MAX_PEX_PEERS_OUT : Number.POSITIVE_INFINITY;
    const added: [string, PeerAddress][] = [];
    const dropped: [string, PeerAddress][] = [];
    for (const entry of connected) {
      if (added.length >= limit) break;
      if (!this.told.has(entry[0])) added.push(entry);
    }
    for (const entry of this.told) {
      if (dropped.length >= MAX_PEX_PEERS_OUT) break;
      if (!connected.has(entry[0])) dropped.push(entry);
    }
    if (added.length === 0 && dropped.length === 0) return null;
    for (const [key, address] of added) this.told.set(key, address);
    for (const [key] of dropped) this.told.delete(key);
    this.sentAny = true;
    return { added: added.map((e) => e[1]), dropped: dropped.map((e) => e[1]) };
  }
}
