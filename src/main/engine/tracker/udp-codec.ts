// BEP 15 (UDP tracker protocol) packets as bytes, and back. Pure: no sockets, no clocks.
import { createHash } from 'node:crypto';
import {
  intervalSec,
  MAX_PEERS_PER_REPLY,
  sanitizeShownText,
  TrackerError,
  type AnnounceRequest,
  type AnnounceResponse,
  type PeerAddress,
  type ScrapeCounts,
} from './http-announce';
import { readCompactPeers } from '../peer/compact-address';

/** The magic `protocol_id` of a connect request (UT-01). */
export const UDP_PROTOCOL_ID = 0x41727101980n;

export const UdpAction = { connect: 0, announce: 1, scrape: 2, error: 3 } as const;
export type UdpActionName = keyof typeof UdpAction;

/** BEP 15 event codes (UT-02): 0 none, 1 completed, 2 started, 3 stopped. */
const EVENT_CODE = { completed: 1, started: 2, stopped: 3 } as const;

export const CONNECT_REQUEST_BYTES = 16;
export const ANNOUNCE_REQUEST_BYTES = 98;
/** UT-07: about 74 hashes fit a scrape in one packet below a typical 1500-byte MTU. */
export const MAX_SCRAPE_HASHES = 74;

export interface UdpAnnounceFields {
  connectionId: Uint8Array;
  transactionId: number;
  request: AnnounceRequest;
  /** BEP 41: the URL's path and query (e.g. `/announce?passkey=x`), sent as URLData options. */
  urlData?: string;
}

export type UdpScrapeEntry = ScrapeCounts;

/** A reply's header: which action and which transaction, or null when it is not even 8 bytes. */
export interface UdpHeader {
  action: number;
  transactionId: number;
}

function buf(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** UT-01: `i64 protocol_id | i32 0 | i32 transaction_id`. */
export function encodeConnect(transactionId: number): Buffer {
  const b = Buffer.alloc(CONNECT_REQUEST_BYTES);
  b.writeBigUInt64BE(UDP_PROTOCOL_ID, 0);
  b.writeUInt32BE(UdpAction.connect, 8);
  b.writeUInt32BE(transactionId >>> 0, 12);
  return b;
}

/**
 * The announce `key` is 32 bits on UDP. Ours is 8 hex digits (HT-01), used as is so HTTP and UDP
 * trackers see the same key; any other text is hashed to 32 bits.
 */
export function udpKey(key: string | undefined): number {
  if (key === undefined || key === '') return 0;
  if (/^[0-9a-f]{1,8}$/i.test(key)) return parseInt(key, 16) >>> 0;
  return createHash('sha1').update(key).digest().readUInt32BE(0);
}

function u64(n: number): bigint {
  return BigInt(Math.max(0, Math.min(Number.MAX_SAFE_INTEGER, Math.floor(n))));
}

/** UT-02: the 98-byte announce, then BEP 41 URLData options when `urlData` is not empty. */
export function encodeAnnounce(f: UdpAnnounceFields): Buffer {
  const r = f.request;
  if (f.connectionId.length !== 8) throw new RangeError('connection id must be 8 bytes');
  if (r.infoHash.length !== 20 || r.peerId.length !== 20)
    throw new RangeError('info_hash and peer_id must be 20 bytes');
  const options = encodeUrlData(f.urlData ?? '');
  const b = Buffer.alloc(ANNOUNCE_REQUEST_BYTES + options.length);
  buf(f.connectionId).copy(b, 0);
  b.writeUInt32BE(UdpAction.announce, 8);
  b.writeUInt32BE(f.transactionId >>> 0, 12);
  buf(r.infoHash).copy(b, 16);
  buf(r.peerId).copy(b, 36);
  b.writeBigUInt64BE(u64(r.downloaded), 56);
  b.writeBigUInt64BE(u64(r.left), 64);
  b.writeBigUInt64BE(u64(r.uploaded), 72);
  b.writeUInt32BE(r.event ? EVENT_CODE[r.event] : 0, 80);
  b.writeUInt32BE(0, 84); // IP: 0 = the sender's address
  b.writeUInt32BE(udpKey(r.key), 88);
  const numWant = r.numWant === undefined ? -1 : Math.max(-1, Math.min(0x7fffffff, r.numWant));
  b.writeInt32BE(Math.floor(numWant), 92);
  b.writeUInt16BE(r.port & 0xffff, 96);
  options.copy(b, ANNOUNCE_REQUEST_BYTES);
  return b;
}

/**
 * BEP 41: option 2 (URLData) carries up to 255 bytes of the request string; a longer one is split
 * over several options, which the tracker concatenates. Nothing at all for an empty string.
 */
export function encodeUrlData(request: string): Buffer {
  const bytes = Buffer.from(request, 'utf8');
  const parts: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += 255) {
    const chunk = bytes.subarray(at, at + 255);
    parts.push(Buffer.from([0x2, chunk.length]), chunk);
  }
  return Buffer.concat(parts);
}

/** UT-07: `i64 connection_id | i32 2 | i32 transaction_id | 20·n info_hash`. */
export function encodeScrape(
  connectionId: Uint8Array,
  transactionId: number,
  infoHashes: readonly Uint8Array[],
): Buffer {
  if (connectionId.length !== 8) throw new RangeError('connection id must be 8 bytes');
  if (infoHashes.length === 0 || infoHashes.length > MAX_SCRAPE_HASHES)
    throw new RangeError(`a scrape carries 1 to ${MAX_SCRAPE_HASHES} info-hashes`);
  const b = Buffer.alloc(16 + 20 * infoHashes.length);
  buf(connectionId).copy(b, 0);
  b.writeUInt32BE(UdpAction.scrape, 8);
  b.writeUInt32BE(transactionId >>> 0, 12);
  infoHashes.forEach((h, i) => {
    if (h.length !== 20) throw new RangeError('info_hash must be 20 bytes');
    buf(h).copy(b, 16 + 20 * i);
  });
  return b;
}

/** Every reply starts `i32 action | i32 transaction_id`; fewer than 8 bytes is no reply at all. */
export function decodeHeader(packet: Uint8Array): UdpHeader | null {
  if (packet.length < 8) return null;
  const b = buf(packet);
  return { action: b.readUInt32BE(0), transactionId: b.readUInt32BE(4) };
}

function expectAction(packet: Uint8Array, want: UdpActionName, minBytes: number): Buffer {
  const h = decodeHeader(packet);
  const b = buf(packet);
  if (h?.action === UdpAction.error) throw errorReply(b);
  if (h === null || h.action !== UdpAction[want])
    throw new TrackerError(
      h === null
        ? `UDP tracker sent a ${packet.length}-byte reply`
        : `UDP tracker answered our ${want} with action ${h.action}`,
    );
  if (packet.length < minBytes)
    throw new TrackerError(
      `truncated UDP tracker reply (${packet.length} bytes, ${want === 'announce' ? 'an' : 'a'} ${want} reply has at least ${minBytes})`,
    );
  return b;
}

/** UT-06: `i32 3 | i32 transaction_id | message`, shown as the tracker's words. */
function errorReply(b: Buffer): TrackerError {
  const message = sanitizeShownText(b.subarray(8).toString('utf8')).trim();
  return new TrackerError(`tracker said: ${message || '(an error without a message)'}`);
}

/** UT-01: the 8-byte connection id from a connect reply (≥ 16 bytes, action 0). */
export function decodeConnectReply(packet: Uint8Array): Uint8Array {
  const b = expectAction(packet, 'connect', 16);
  return Uint8Array.from(b.subarray(8, 16));
}

/** A counter the tracker reports (i32); a negative one is nonsense, shown as unknown. */
function count(b: Buffer, at: number): number | null {
  const n = b.readInt32BE(at);
  return n >= 0 ? n : null;
}

/**
 * UT-03: `i32 1 | i32 tid | i32 interval | i32 leechers | i32 seeders | peers`. Peers are 6 bytes
 * each when the packet came over IPv4 and 18 bytes over IPv6; a trailing partial entry is
 * ignored, and the same sanitising as HTTP applies (no port 0, no unusable address, ≤ 2000).
 */
export function decodeAnnounceReply(packet: Uint8Array, ipv6: boolean): AnnounceResponse {
  if (packet.length === 8 && decodeHeader(packet)?.action === UdpAction.announce)
    // Measured: Debian's opentracker answers so for an info-hash missing from its whitelist.
    throw new TrackerError(
      'UDP tracker sent an empty announce reply (8 bytes): it does not track this torrent?',
    );
  const b = expectAction(packet, 'announce', 20);
  const interval = b.readInt32BE(8);
  const peers: PeerAddress[] = [];
  readCompactPeers(b.subarray(20), ipv6, peers, MAX_PEERS_PER_REPLY);
  return {
    intervalSec: intervalSec(interval),
    minIntervalSec: null,
    peers,
    complete: count(b, 16),
    incomplete: count(b, 12),
    warning: null,
    trackerId: null,
  };
}

/** UT-07: `i32 2 | i32 tid | (seeders, completed, leechers)·n`, in the order the hashes were sent. */
export function decodeScrapeReply(packet: Uint8Array, hashCount: number): UdpScrapeEntry[] {
  const b = expectAction(packet, 'scrape', 8);
  const entries: UdpScrapeEntry[] = [];
  for (let i = 0, at = 8; i < hashCount && at + 12 <= b.length; i++, at += 12)
    entries.push({
      seeders: count(b, at),
      completed: count(b, at + 4),
      leechers: count(b, at + 8),
    });
  if (entries.length < hashCount)
    throw new TrackerError(
      `truncated UDP scrape reply (${b.length} bytes for ${hashCount} info-hashes)`,
    );
  return entries;
}
