import { EngineError } from '../errors';
import { trackerUrlProblem } from '../metainfo/metainfo';
import type { PeerAddress } from '../torrent/peer-directory';

/** A magnet link that cannot be used, with the one specific reason. */
export class InvalidMagnetError extends EngineError {
  constructor(message: string) {
    super('invalid-magnet', message);
  }
}

/** What a `magnet:?` URI tells us (BEP 9): enough to find peers and ask them for the metadata. */
export interface MagnetLink {
  infoHash: Uint8Array;
  infoHashHex: string;
  /** `dn`: a name to show until the metadata arrives; not trusted for paths. */
  displayName: string | null;
  /** `tr`: each its own tier, in link order (BEP 12 treats them as one tier each). */
  trackers: string[];
  /** `x.pe`: peers to try directly. */
  peers: PeerAddress[];
  /** Parameters we dropped, for people (an invalid `tr` or `x.pe`). */
  warnings: string[];
}

/** Longer links are refused before parsing: nobody writes a legitimate one this long. */
const MAX_MAGNET_LENGTH = 64 * 1024;
const MAX_TRACKERS = 100;
const MAX_PEERS = 200;
const MAX_DISPLAY_NAME = 512;
const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function isMagnetLink(text: string): boolean {
  return /^magnet:\?/i.test(text.trim());
}

/** Parses a magnet URI (MAG-01..03); throws InvalidMagnetError naming what is wrong. */
export function parseMagnetLink(uri: string): MagnetLink {
  const text = uri.trim();
  if (text.length > MAX_MAGNET_LENGTH)
    throw new InvalidMagnetError(`magnet link is ${text.length} characters long; refusing it`);
  if (!isMagnetLink(text))
    throw new InvalidMagnetError('not a magnet link: it must start with "magnet:?"');
  const params = new URLSearchParams(text.slice(text.indexOf('?') + 1));
  const warnings: string[] = [];

  let infoHash: Uint8Array | null = null;
  let sawV2 = false;
  for (const [key, value] of params) {
    if (!/^xt(\.\d+)?$/.test(key)) continue;
    if (/^urn:btmh:/i.test(value)) {
      sawV2 = true;
      continue;
    }
    const m = /^urn:btih:(.*)$/i.exec(value);
    if (!m) continue;
    if (infoHash) continue; // The first btih wins; a second one is the same torrent or a mistake.
    infoHash = decodeInfoHash(m[1]!);
  }
  if (!infoHash) {
    throw new InvalidMagnetError(
      sawV2
        ? 'this magnet link names only a BitTorrent v2 hash (urn:btmh); v2 torrents are not supported yet'
        : 'magnet link has no info-hash (expected xt=urn:btih:<40 hex or 32 base32 characters>)',
    );
  }

  const dn = params.get('dn');
  const displayName = dn ? sanitizeDisplayName(dn) : null;

  const trackers: string[] = [];
  for (const tr of params.getAll('tr')) {
    const problem = trackerUrlProblem(tr);
    if (problem) warnings.push(`ignored tracker ${JSON.stringify(tr.slice(0, 200))}: ${problem}`);
    else if (!trackers.includes(tr) && trackers.length < MAX_TRACKERS) trackers.push(tr);
  }

  const peers: PeerAddress[] = [];
  for (const pe of params.getAll('x.pe')) {
    const address = parsePeerAddress(pe);
    if (!address) warnings.push(`ignored peer ${JSON.stringify(pe.slice(0, 200))}: not host:port`);
    else if (peers.length < MAX_PEERS) peers.push(address);
  }

  return {
    infoHash,
    infoHashHex: Buffer.from(infoHash).toString('hex'),
    displayName,
    trackers,
    peers,
    warnings,
  };
}

/** 40 hex digits or 32 base32 characters, either case (MAG-01). */
function decodeInfoHash(text: string): Uint8Array {
  if (/^[0-9a-f]{40}$/i.test(text)) return new Uint8Array(Buffer.from(text, 'hex'));
  if (/^[a-z2-7]{32}$/i.test(text)) return decodeBase32(text.toUpperCase());
  throw new InvalidMagnetError(
    `info-hash "${text.slice(0, 80)}" is neither 40 hex digits nor 32 base32 characters`,
  );
}

function decodeBase32(text: string): Uint8Array {
  const out = new Uint8Array(Math.floor((text.length * 5) / 8));
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const ch of text) {
    value = (value << 5) | BASE32_ALPHABET.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      out[at++] = (value >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  return out;
}

/** `host:port` or `[v6]:port`; host names are kept for the dialler to resolve. */
export function parsePeerAddress(text: string): PeerAddress | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s/]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { ip: m[1] ?? m[2]!, port };
}

/** Shown to people only: no control or bidi-override characters, bounded length (EL-13). */
function sanitizeDisplayName(name: string): string | null {
  const clean = name
    .replace(/[\p{Cc}\p{Cf}]/gu, '')
    .trim()
    .slice(0, MAX_DISPLAY_NAME);
  return clean.length > 0 ? clean : null;
}
