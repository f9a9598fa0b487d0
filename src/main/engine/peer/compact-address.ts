import { isIP } from 'node:net';
import type { PeerAddress } from '../torrent/peer-directory';

/** Bytes per compact entry: IPv4 + port (BEP 23) or IPv6 + port (BEP 7). */
export const COMPACT_V4 = 6;
export const COMPACT_V6 = 18;

/** Compact text of an IPv6 address, as WHATWG URL canonicalises it (RFC 5952). */
function ipv6Text(b: Buffer, at: number): string {
  const groups: string[] = [];
  for (let g = 0; g < 8; g++) groups.push(b.readUInt16BE(at + g * 2).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/** Addresses nobody can be dialled at: unspecified, broadcast, multicast, port 0. */
export function isDialable(a: PeerAddress): boolean {
  if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65535) return false;
  const { ip } = a;
  if (ip === '0.0.0.0' || ip === '255.255.255.255' || ip === '::') return false;
  const first = Number(ip.split('.')[0]);
  if (isIP(ip) === 4 && first >= 224 && first <= 239) return false;
  return !/^ff/i.test(ip);
}

/**
 * Appends the whole compact entries of `bytes` to `out` (a trailing partial entry is ignored),
 * skipping undialable ones, until `out` holds `max`.
 */
export function readCompactPeers(
  bytes: Uint8Array,
  v6: boolean,
  out: PeerAddress[],
  max: number,
): void {
  const size = v6 ? COMPACT_V6 : COMPACT_V4;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let at = 0; at + size <= b.length && out.length < max; at += size) {
    const ip = v6 ? ipv6Text(b, at) : `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
    const address = { ip, port: b.readUInt16BE(at + size - 2) };
    if (isDialable(address)) out.push(address);
  }
}

/**
 * Reads whole compact entries; null when the length is not a multiple of the entry size (the
 * sender and we disagree on the format: nothing read from misaligned bytes can be trusted).
 * Undialable entries are skipped; at most `max` are returned.
 */
export function decodeCompactPeers(
  bytes: Uint8Array,
  v6: boolean,
  max: number,
): PeerAddress[] | null {
  if (bytes.length % (v6 ? COMPACT_V6 : COMPACT_V4) !== 0) return null;
  const out: PeerAddress[] = [];
  readCompactPeers(bytes, v6, out, max);
  return out;
}

/** Compact form of one address, or null for a host name (only IP literals have one). */
export function encodeCompactPeer(a: PeerAddress): Uint8Array | null {
  const family = isIP(a.ip);
  if (family === 4) {
    const out = Buffer.alloc(COMPACT_V4);
    a.ip.split('.').forEach((part, i) => (out[i] = Number(part)));
    out.writeUInt16BE(a.port, 4);
    return out;
  }
  if (family === 6) {
    const out = Buffer.alloc(COMPACT_V6);
    expandIpv6(a.ip).forEach((group, i) => out.writeUInt16BE(group, i * 2));
    out.writeUInt16BE(a.port, 16);
    return out;
  }
  return null;
}

/** The eight 16-bit groups of an IPv6 literal (with an embedded IPv4 tail allowed). */
function expandIpv6(ip: string): number[] {
  let text = ip;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text =
      text.slice(0, v4.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros =
    tail === undefined
      ? []
      : new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  return [...headGroups, ...zeros, ...tailGroups].map((g) => parseInt(g, 16));
}
