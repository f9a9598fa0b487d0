import { createHash } from 'node:crypto';
import { BencodeError, bdecode, type BDict, type BValue } from '../bencode/decode';
import {
  dictGet,
  FieldError,
  isValidUtf8,
  optBytes,
  optDict,
  optInt,
  optList,
  utf8,
} from '../bencode/fields';
import { EngineError, InvalidTorrentError } from '../errors';
import { torrentNodes } from '../dht/torrent-nodes';
import { assertNoCollisions, componentProblem, escapeForMessage, sanitizeComponent } from './paths';

/**
 * One file of a torrent. Where it goes on disk:
 * - single-file torrent: exactly one file with `path = []`; the storage layer writes it to
 *   `<downloadDir>/<name>`.
 * - multi-file torrent: `<downloadDir>/<name>/<path...>`.
 * `path` components and `name` are already sanitised (metainfo/paths.ts); storage still builds
 * the final path only through `resolveInside`.
 */
export interface TorrentFile {
  /** Sanitised components below the torrent's folder; [] for a single-file torrent. */
  path: string[];
  length: number;
  /** Where this file starts in the torrent's concatenated byte stream (MI-04). */
  offset: number;
  /** BEP 47 padding file (attr 'p', or BitComet's `_____padding_file_`): zeros, never written. */
  padding: boolean;
}

export interface Metainfo {
  /** SHA-1 of the exact info bytes as they appear in the file (IH-01). */
  infoHash: Uint8Array;
  /** 40 lower-case hex digits (IH-04). */
  infoHashHex: string;
  /** The raw info dict bytes, to be written verbatim whenever we save a .torrent (IH-03). */
  infoBytes: Uint8Array;
  /** Sanitised: the file name (single-file) or folder name (multi-file). */
  name: string;
  pieceLength: number;
  pieceCount: number;
  /** 20 bytes per piece. */
  pieceHashes: Uint8Array;
  totalLength: number;
  files: TorrentFile[];
  isMultiFile: boolean;
  isPrivate: boolean;
  /** BEP 12 tiers in file order (not shuffled); `[[announce]]` without announce-list; http(s)/udp only. */
  announceTiers: string[][];
  comment: string | null;
  createdBy: string | null;
  /** Seconds since the epoch, as the file says. */
  creationDate: number | null;
  /** BEP 19 web seeds, http(s) only. */
  urlList: string[];
  /** BEP 5 `nodes` of a trackerless torrent: DHT nodes to start from (DH-05). */
  dhtNodes: { host: string; port: number }[];
  /** Things we accepted but a person may want to know (renamed files, non-UTF-8 names, ...). */
  warnings: string[];
}

/** libtorrent's limits (BEN-07, MI-05). */
export const MAX_TORRENT_BYTES = 10_000_000;
export const MAX_PIECES = 2_097_152;
export const MAX_PIECE_LENGTH = 536_854_528;

/** Bytes in piece `index`; the last piece may be short (MI-04). */
export function pieceSize(m: Metainfo, index: number): number {
  if (!Number.isInteger(index) || index < 0 || index >= m.pieceCount)
    throw new RangeError(`piece ${index} out of range 0..${m.pieceCount - 1}`);
  return Math.min(m.pieceLength, m.totalLength - index * m.pieceLength);
}

const bad = (message: string): never => {
  throw new InvalidTorrentError(message);
};

/** Parses and validates a .torrent (or assembled magnet metadata wrapped as `d4:info...e`). */
export function parseMetainfo(bytes: Uint8Array): Metainfo {
  try {
    return parse(bytes);
  } catch (e) {
    if (e instanceof InvalidTorrentError) throw e;
    // Field and path errors already carry a specific message; keep it, change the class.
    if (e instanceof EngineError) throw new InvalidTorrentError(e.message, { cause: e });
    throw e;
  }
}

function parse(bytes: Uint8Array): Metainfo {
  if (bytes.length > MAX_TORRENT_BYTES)
    bad(`torrent file too large (${bytes.length} bytes, limit ${MAX_TORRENT_BYTES})`);
  const warnings: string[] = [];
  let decoded;
  try {
    decoded = bdecode(bytes, { allowTrailing: true });
  } catch (e) {
    if (e instanceof BencodeError) bad(e.message);
    throw e;
  }
  if (decoded.consumed < bytes.length)
    warnings.push(
      `${bytes.length - decoded.consumed} bytes after the end of the torrent were ignored`,
    );
  const root = decoded.value;
  if (!(root instanceof Map)) return bad('not a torrent: the file is not a bencoded dict');
  const info = optDict(root, 'info') ?? bad("'info' is missing");
  const span = decoded.infoSpan ?? bad("'info' is missing");
  if (decoded.nonCanonical)
    warnings.push('keys are not in canonical order (the info-hash uses the raw bytes)');
  const infoBytes = bytes.subarray(span.start, span.end);
  const infoHash = new Uint8Array(createHash('sha1').update(infoBytes).digest());

  // MI-13: a v2-only torrent has no 'pieces'; loading it as v1 would use a meaningless hash.
  const metaVersion = optInt(info, 'meta version');
  if (metaVersion === 2 && dictGet(info, 'pieces') === undefined)
    bad('BitTorrent v2-only torrents are not supported');

  const name = readName(info, warnings);

  const pieceLength = optInt(info, 'piece length') ?? bad("'piece length' is missing");
  if (pieceLength <= 0) bad(`invalid 'piece length' ${pieceLength}`);
  if (pieceLength > MAX_PIECE_LENGTH)
    bad(`'piece length' ${pieceLength} is too large (limit ${MAX_PIECE_LENGTH})`);
  if ((pieceLength & (pieceLength - 1)) !== 0)
    warnings.push(`'piece length' ${pieceLength} is not a power of two`);

  const hasLength = dictGet(info, 'length') !== undefined;
  const hasFiles = dictGet(info, 'files') !== undefined;
  if (hasLength && hasFiles) bad("info has both 'length' and 'files'");
  if (!hasLength && !hasFiles) bad("info has neither 'length' nor 'files'");

  const files = hasFiles ? readFiles(info, warnings) : readSingleFile(info);
  const last = files[files.length - 1];
  const totalLength = last === undefined ? 0 : last.offset + last.length;
  if (totalLength === 0) bad('torrent contains no data');

  const pieces = optBytes(info, 'pieces') ?? bad("'pieces' is missing");
  const pieceCount = Math.ceil(totalLength / pieceLength);
  if (pieceCount > MAX_PIECES) bad(`too many pieces (${pieceCount}, limit ${MAX_PIECES})`);
  if (pieces.length !== pieceCount * 20)
    bad(`'pieces' length ${pieces.length} is not 20 × ${pieceCount} pieces`);

  const priv = dictGet(info, 'private');
  const isPrivate = priv === 1;

  return {
    infoHash,
    infoHashHex: Buffer.from(infoHash).toString('hex'),
    infoBytes,
    name,
    pieceLength,
    pieceCount,
    pieceHashes: pieces,
    totalLength,
    files,
    isMultiFile: hasFiles,
    isPrivate,
    announceTiers: readTrackers(root, warnings),
    comment: readText(root, 'comment'),
    createdBy: readText(root, 'created by'),
    creationDate: readOptionalInt(root, 'creation date', warnings),
    urlList: readUrlList(root, warnings),
    dhtNodes: torrentNodes(root.get('nodes')),
    warnings,
  };
}

/** `name.utf-8` wins over `name` (MI-02); the result is a safe single path component. */
function readName(info: BDict, warnings: string[]): string {
  const raw = textPreferringUtf8(info, 'name') ?? bad("'name' is missing");
  return safeComponent(raw, 'name', warnings);
}

function safeComponent(raw: string, where: string, warnings: string[]): string {
  const problem = componentProblem(raw);
  if (problem !== null) bad(`${where}: ${problem}`);
  const safe = sanitizeComponent(raw);
  if (safe !== raw)
    warnings.push(`${where}: '${escapeForMessage(raw)}' is saved as '${escapeForMessage(safe)}'`);
  return safe;
}

/** Reads `<key>.utf-8` when it is a valid string, else `<key>`; invalid UTF-8 becomes U+FFFD. */
function textPreferringUtf8(d: BDict, key: string): string | null {
  const alt = dictGet(d, `${key}.utf-8`);
  if (alt instanceof Uint8Array && isValidUtf8(alt)) return utf8(alt);
  const b = optBytes(d, key);
  return b === null ? null : utf8(b);
}

function readSingleFile(info: BDict): TorrentFile[] {
  const length = optInt(info, 'length') ?? bad("'length' is missing");
  if (length < 0) bad(`'length' ${length} is negative`);
  const attr = optBytes(info, 'attr');
  if (attr !== null && attr.includes(0x70 /* p */))
    bad('a single-file torrent cannot be a padding file');
  return [{ path: [], length, offset: 0, padding: false }];
}

function readFiles(info: BDict, warnings: string[]): TorrentFile[] {
  const list = optList(info, 'files') ?? bad("'files' is missing");
  if (list.length === 0) bad('torrent contains no files');
  const files: TorrentFile[] = [];
  let offset = 0;
  list.forEach((entry, i) => {
    if (!(entry instanceof Map)) return bad(`file ${i}: not a dict`);
    const length = dictGet(entry, 'length');
    if (typeof length !== 'number') return bad(`file ${i}: 'length' is missing or not an integer`);
    if (length < 0) bad(`file ${i}: 'length' ${length} is negative`);
    const components = readPath(entry, i);
    if (components.length === 0) bad(`file ${i}: 'path' is an empty list`);
    const attr = optBytesAt(entry, 'attr', i);
    const lastName = components[components.length - 1]!;
    const padding = (attr?.includes(0x70) ?? false) || lastName.startsWith('_____padding_file_');
    const path = components.map((c) => safeComponent(c, `file ${i}`, warnings));
    if (!Number.isSafeInteger(offset + length)) bad('total size of the files is too large');
    files.push({ path, length, offset, padding });
    offset += length;
  });
  // Padding files are never written to disk, and libtorrent names them all `.pad/<size>`.
  const real = files.map((f, i) => [f, i] as const).filter(([f]) => !f.padding);
  assertNoCollisions(
    real.map(([f]) => f.path),
    real.map(([, i]) => i),
  );
  return files;
}

function optBytesAt(d: BDict, key: string, i: number): Uint8Array | null {
  try {
    return optBytes(d, key);
  } catch (e) {
    if (e instanceof FieldError) bad(`file ${i}: ${e.message}`);
    throw e;
  }
}

/** `path.utf-8` wins when it is a valid list of valid UTF-8 strings (MI-02, MI-11). */
function readPath(entry: BDict, i: number): string[] {
  const alt = dictGet(entry, 'path.utf-8');
  if (
    Array.isArray(alt) &&
    alt.length > 0 &&
    alt.every((c) => c instanceof Uint8Array && isValidUtf8(c))
  )
    return (alt as Uint8Array[]).map(utf8);
  const raw = dictGet(entry, 'path');
  if (raw === undefined) return bad(`file ${i}: 'path' is missing`);
  if (!Array.isArray(raw)) return bad(`file ${i}: 'path' is not a list`);
  return raw.map((c: BValue, j) =>
    c instanceof Uint8Array ? utf8(c) : bad(`file ${i}: path element ${j} is not a string`),
  );
}

function isUrlWithScheme(s: string, schemes: readonly string[]): boolean {
  try {
    const u = new URL(s);
    return schemes.includes(u.protocol) && u.hostname !== '';
  } catch {
    return false;
  }
}

/** Why `url` cannot be a tracker (we speak http, https and udp), or null when it can. */
export function trackerUrlProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'not a URL';
  }
  if (!['http:', 'https:', 'udp:'].includes(parsed.protocol))
    return `scheme ${parsed.protocol} is not http, https or udp`;
  if (!parsed.hostname) return 'no host';
  return null;
}

const isTrackerUrl = (s: string): boolean => trackerUrlProblem(s) === null;

/** BEP 12 (MI-09): announce-list if usable, else announce; unusable URLs dropped with a warning. */
function readTrackers(root: BDict, warnings: string[]): string[][] {
  const list = dictGet(root, 'announce-list');
  if (list !== undefined) {
    const tiers: string[][] = [];
    let malformed = !Array.isArray(list);
    if (Array.isArray(list)) {
      for (const tier of list) {
        if (!Array.isArray(tier)) {
          malformed = true;
          continue;
        }
        const urls: string[] = [];
        for (const u of tier) {
          if (!(u instanceof Uint8Array)) {
            malformed = true;
            continue;
          }
          const url = utf8(u).trim();
          if (isTrackerUrl(url)) {
            if (!urls.includes(url)) urls.push(url);
          } else if (url !== '')
            warnings.push(`tracker '${escapeForMessage(url)}' ignored (not http, https or udp)`);
        }
        if (urls.length > 0) tiers.push(urls);
      }
    }
    if (malformed) warnings.push("'announce-list' is malformed; parts of it were ignored");
    if (tiers.length > 0) return tiers;
  }
  const announce = dictGet(root, 'announce');
  if (announce instanceof Uint8Array) {
    const url = utf8(announce).trim();
    if (isTrackerUrl(url)) return [[url]];
    if (url !== '')
      warnings.push(`tracker '${escapeForMessage(url)}' ignored (not http, https or udp)`);
  }
  return [];
}

/** BEP 19 (MI-10): a string or a list of strings; "" means none; http(s) only. */
function readUrlList(root: BDict, warnings: string[]): string[] {
  const v = dictGet(root, 'url-list');
  const items = v instanceof Uint8Array ? [v] : Array.isArray(v) ? v : [];
  const out: string[] = [];
  for (const item of items) {
    if (!(item instanceof Uint8Array) || item.length === 0) continue;
    const url = utf8(item).trim();
    if (isUrlWithScheme(url, ['http:', 'https:'])) out.push(url);
    else warnings.push(`web seed '${escapeForMessage(url)}' ignored`);
  }
  return out;
}

/** Optional text outside info: a wrong type is ignored, never fatal. */
function readText(root: BDict, key: string): string | null {
  const alt = dictGet(root, `${key}.utf-8`);
  if (alt instanceof Uint8Array && isValidUtf8(alt)) return utf8(alt);
  const v = dictGet(root, key);
  return v instanceof Uint8Array ? utf8(v) : null;
}

function readOptionalInt(root: BDict, key: string, warnings: string[]): number | null {
  const v = dictGet(root, key);
  if (v === undefined) return null;
  if (typeof v === 'number') return v;
  warnings.push(`'${key}' is not an integer; ignored`);
  return null;
}
