import { isIP } from 'node:net';
import { bdecode, type BDict, type BValue } from '../bencode/decode';
import { bencode, type BEncodable } from '../bencode/encode';
import type { PeerAddress } from '../torrent/peer-directory';

/**
 * KRPC (BEP 5): one bencoded dict per UDP datagram (DH-01). The decoder is strict and total: any
 * datagram that is not exactly one well-formed message comes back as null, never as an exception,
 * so the socket handler can drop it silently (DH-04).
 */

export const ID_LENGTH = 20;
/** Compact node info: 20-byte id, 4-byte IPv4, 2-byte port (DH-02). */
export const COMPACT_NODE_LENGTH = 26;
/** Compact peer info: 4-byte IPv4, 2-byte port. */
export const COMPACT_PEER_LENGTH = 6;
/** BEP 32: compact node info with a 16-byte IPv6 address (`nodes6`), and an IPv6 peer. */
export const COMPACT_NODE6_LENGTH = 38;
export const COMPACT_PEER6_LENGTH = 18;
/** Bigger datagrams are not KRPC we want to read (a full get_peers reply is well under 2 KiB). */
export const MAX_DATAGRAM_BYTES = 8192;
const MAX_TRANSACTION_ID_BYTES = 64;
const MAX_TOKEN_BYTES = 128;
const MAX_VALUES = 512;

export const ERROR_GENERIC = 201;
export const ERROR_SERVER = 202;
export const ERROR_PROTOCOL = 203;
export const ERROR_METHOD_UNKNOWN = 204;

export interface NodeContact {
  id: Uint8Array;
  ip: string;
  port: number;
}

export type KrpcQuery =
  | { method: 'ping'; id: Uint8Array }
  | { method: 'find_node'; id: Uint8Array; target: Uint8Array; want?: Want[] }
  | { method: 'get_peers'; id: Uint8Array; infoHash: Uint8Array; want?: Want[] }
  | {
      method: 'announce_peer';
      id: Uint8Array;
      infoHash: Uint8Array;
      /** The `port` argument; 0 when absent (only allowed with impliedPort). */
      port: number;
      token: Uint8Array;
      impliedPort: boolean;
    }
  /** A method we do not know; answered with error 204. */
  | { method: 'unknown'; name: string; id: Uint8Array };

/** BEP 32 `want`: which node lists the querier asks for. */
export type Want = 'n4' | 'n6';

/** What any response may carry; which fields matter depends on the query it answers. */
export interface KrpcResponseBody {
  id: Uint8Array;
  nodes?: NodeContact[];
  /** BEP 32: IPv6 nodes. */
  nodes6?: NodeContact[];
  values?: PeerAddress[];
  token?: Uint8Array;
}

interface Envelope {
  /** Transaction id, echoed in the reply. */
  t: Uint8Array;
  /** Client version (`v`): informational only, never relied on. */
  v?: Uint8Array;
  /** BEP 43 `ro: 1`: the sender is read-only (answers no queries; keep it out of tables). */
  ro?: true;
}
export type KrpcMessage =
  | (Envelope & { y: 'q'; query: KrpcQuery })
  | (Envelope & { y: 'r'; response: KrpcResponseBody })
  | (Envelope & { y: 'e'; error: { code: number; message: string } });

function bytesField(d: BDict, key: string): Uint8Array | undefined | null {
  // BDict keys are latin1 strings of the raw bytes; our keys are ASCII, so they read as is.
  const v = d.get(key);
  if (v === undefined) return undefined;
  // A copy: nothing we keep may pin (or alias) the datagram's buffer.
  return v instanceof Uint8Array ? Uint8Array.from(v) : null;
}

function idField(d: BDict, key: string): Uint8Array | null {
  const v = bytesField(d, key);
  return v instanceof Uint8Array && v.length === ID_LENGTH ? v : null;
}

/** Text of the 4- or 16-byte address at `at`; IPv6 in its canonical short form (RFC 5952). */
function ipText(b: Uint8Array, at: number, length: 4 | 16): string {
  if (length === 4) return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
  const groups: string[] = [];
  for (let g = 0; g < 8; g++)
    groups.push(((b[at + 2 * g]! << 8) | b[at + 2 * g + 1]!).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/** The 4 or 16 bytes of an IP literal; null for anything else. */
export function ipBytes(ip: string): Uint8Array | null {
  const family = isIP(ip);
  if (family === 4) return Uint8Array.from(ip.split('.').map(Number));
  if (family !== 6) return null;
  let text = ip;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros =
    tail === undefined ? [] : Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const out = new Uint8Array(16);
  [...headGroups, ...zeros, ...tailGroups].forEach((g, i) => {
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  });
  return out;
}

/** An IP literal as the socket reports addresses (IPv6 in RFC 5952 short form); null if none. */
export function canonicalIp(ip: string): string | null {
  const bytes = ipBytes(ip);
  if (!bytes) return null;
  return ipText(bytes, 0, bytes.length === 16 ? 16 : 4);
}

/** Compact node list (26-byte IPv4 or, for `nodes6`, 38-byte IPv6 entries); null if the length is not a whole number of entries (DH-02). */
export function decodeCompactNodes(bytes: Uint8Array, v6 = false): NodeContact[] | null {
  const size = v6 ? COMPACT_NODE6_LENGTH : COMPACT_NODE_LENGTH;
  if (bytes.length % size !== 0) return null;
  const out: NodeContact[] = [];
  for (let at = 0; at < bytes.length; at += size) {
    out.push({
      id: Uint8Array.from(bytes.subarray(at, at + ID_LENGTH)),
      ip: ipText(bytes, at + ID_LENGTH, v6 ? 16 : 4),
      port: (bytes[at + size - 2]! << 8) | bytes[at + size - 1]!,
    });
  }
  return out;
}

/** Compact node list of one family; entries of the other family, or with a bad id/port, are left out. */
export function encodeCompactNodes(nodes: readonly NodeContact[], v6 = false): Uint8Array {
  const want = v6 ? 16 : 4;
  const ok = nodes
    .map((n) => ({ n, ip: ipBytes(n.ip) }))
    .filter(({ n, ip }) => n.id.length === ID_LENGTH && ip?.length === want && validPort(n.port));
  const size = ID_LENGTH + want + 2;
  const out = new Uint8Array(ok.length * size);
  ok.forEach(({ n, ip }, i) => {
    const at = i * size;
    out.set(n.id, at);
    out.set(ip!, at + ID_LENGTH);
    out[at + size - 2] = n.port >> 8;
    out[at + size - 1] = n.port & 0xff;
  });
  return out;
}

/** Compact peer: 6 bytes for IPv4, 18 for IPv6 (BEP 32); null for a host name or bad port. */
export function encodeCompactPeer(p: PeerAddress): Uint8Array | null {
  const ip = ipBytes(p.ip);
  if (!ip || !validPort(p.port)) return null;
  return Uint8Array.from([...ip, p.port >> 8, p.port & 0xff]);
}

function decodeCompactPeer(b: Uint8Array): PeerAddress {
  const len = b.length === COMPACT_PEER6_LENGTH ? 16 : 4;
  return { ip: ipText(b, 0, len), port: (b[len]! << 8) | b[len + 1]! };
}

function validPort(p: number): boolean {
  return Number.isInteger(p) && p >= 1 && p <= 65535;
}

/** BEP 32 `want`: a list of strings; unknown entries are ignored. Null if malformed. */
function wantField(a: BDict): Want[] | undefined | null {
  const v = a.get('want');
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length > 8) return null;
  const out: Want[] = [];
  for (const item of v as BValue[]) {
    if (!(item instanceof Uint8Array)) return null;
    const text = Buffer.from(item).toString('latin1');
    if ((text === 'n4' || text === 'n6') && !out.includes(text)) out.push(text);
  }
  return out;
}

function decodeQuery(q: Uint8Array, a: BDict): KrpcQuery | null {
  const id = idField(a, 'id');
  if (!id) return null;
  const name = Buffer.from(q).toString('latin1');
  switch (name) {
    case 'ping':
      return { method: 'ping', id };
    case 'find_node': {
      const target = idField(a, 'target');
      const want = wantField(a);
      if (!target || want === null) return null;
      return want ? { method: 'find_node', id, target, want } : { method: 'find_node', id, target };
    }
    case 'get_peers': {
      const infoHash = idField(a, 'info_hash');
      const want = wantField(a);
      if (!infoHash || want === null) return null;
      return want
        ? { method: 'get_peers', id, infoHash, want }
        : { method: 'get_peers', id, infoHash };
    }
    case 'announce_peer': {
      const infoHash = idField(a, 'info_hash');
      const token = bytesField(a, 'token');
      const portValue = a.get('port');
      const implied = a.get('implied_port');
      if (!infoHash || !(token instanceof Uint8Array) || token.length > MAX_TOKEN_BYTES)
        return null;
      if (implied !== undefined && typeof implied !== 'number') return null;
      const impliedPort = implied !== undefined && implied !== 0;
      if (portValue !== undefined && typeof portValue !== 'number') return null;
      const port = portValue ?? 0;
      // With implied_port the port argument is ignored, but must still be a sane number.
      if (impliedPort ? !(port >= 0 && port <= 65535) : !validPort(port)) return null;
      return { method: 'announce_peer', id, infoHash, port, token, impliedPort };
    }
    default:
      if (q.length === 0 || q.length > 64) return null;
      return { method: 'unknown', name, id };
  }
}

function decodeResponse(r: BDict): KrpcResponseBody | null {
  const id = idField(r, 'id');
  if (!id) return null;
  const body: KrpcResponseBody = { id };
  for (const key of ['nodes', 'nodes6'] as const) {
    const nodes = bytesField(r, key);
    if (nodes === null) return null;
    if (nodes !== undefined) {
      const decoded = decodeCompactNodes(nodes, key === 'nodes6');
      if (!decoded) return null;
      body[key] = decoded;
    }
  }
  const token = bytesField(r, 'token');
  if (token === null || (token && token.length > MAX_TOKEN_BYTES)) return null;
  if (token !== undefined) body.token = token;
  const values = r.get('values');
  if (values !== undefined) {
    if (!Array.isArray(values) || values.length > MAX_VALUES) return null;
    const peers: PeerAddress[] = [];
    for (const v of values as BValue[]) {
      if (!(v instanceof Uint8Array)) return null;
      if (v.length !== COMPACT_PEER_LENGTH && v.length !== COMPACT_PEER6_LENGTH) return null;
      peers.push(decodeCompactPeer(v));
    }
    body.values = peers;
  }
  return body;
}

/** One KRPC message from one datagram, or null for anything malformed (never throws). */
export function decodeKrpc(datagram: Uint8Array): KrpcMessage | null {
  if (datagram.length === 0 || datagram.length > MAX_DATAGRAM_BYTES) return null;
  let root: BValue;
  try {
    root = bdecode(datagram, { maxDepth: 4, maxTokens: 2 * MAX_VALUES + 64 }).value;
  } catch {
    return null;
  }
  if (!(root instanceof Map)) return null;
  const t = bytesField(root, 't');
  const y = bytesField(root, 'y');
  if (!t || t.length > MAX_TRANSACTION_ID_BYTES || !y || y.length !== 1) return null;
  const v = bytesField(root, 'v');
  if (v === null) return null;
  const ro = root.get('ro');
  if (ro !== undefined && typeof ro !== 'number') return null;
  const env: Envelope = v === undefined ? { t } : { t, v };
  if (ro !== undefined && ro !== 0) env.ro = true;
  switch (String.fromCharCode(y[0]!)) {
    case 'q': {
      const q = bytesField(root, 'q');
      const a = root.get('a');
      if (!q || !(a instanceof Map)) return null;
      const query = decodeQuery(q, a);
      return query ? { ...env, y: 'q', query } : null;
    }
    case 'r': {
      const r = root.get('r');
      if (!(r instanceof Map)) return null;
      const response = decodeResponse(r);
      return response ? { ...env, y: 'r', response } : null;
    }
    case 'e': {
      const e = root.get('e');
      if (!Array.isArray(e) || e.length !== 2) return null;
      const [code, message] = e as [BValue, BValue];
      if (typeof code !== 'number' || !(message instanceof Uint8Array)) return null;
      return {
        ...env,
        y: 'e',
        error: { code, message: Buffer.from(message).toString('utf8').slice(0, 200) },
      };
    }
    default:
      return null;
  }
}

/** Bytes of a message we send. Throws only on a programming error (e.g. a 19-byte id). */
export function encodeKrpc(msg: KrpcMessage): Uint8Array {
  const top: Record<string, BEncodable> = { t: msg.t, y: msg.y };
  if (msg.v) top.v = msg.v;
  if (msg.ro) top.ro = 1;
  switch (msg.y) {
    case 'q': {
      const q = msg.query;
      const a: Record<string, BEncodable> = { id: checkId(q.id) };
      switch (q.method) {
        case 'ping':
          break;
        case 'find_node':
          a.target = checkId(q.target);
          if (q.want?.length) a.want = q.want;
          break;
        case 'get_peers':
          a.info_hash = checkId(q.infoHash);
          if (q.want?.length) a.want = q.want;
          break;
        case 'announce_peer':
          a.info_hash = checkId(q.infoHash);
          a.port = q.port;
          a.token = q.token;
          if (q.impliedPort) a.implied_port = 1;
          break;
        case 'unknown':
          break;
      }
      top.q = q.method === 'unknown' ? q.name : q.method;
      top.a = a;
      break;
    }
    case 'r': {
      const r = msg.response;
      const body: Record<string, BEncodable> = { id: checkId(r.id) };
      if (r.nodes) body.nodes = encodeCompactNodes(r.nodes);
      if (r.nodes6) body.nodes6 = encodeCompactNodes(r.nodes6, true);
      if (r.token) body.token = r.token;
      if (r.values) {
        body.values = r.values.map(encodeCompactPeer).filter((b): b is Uint8Array => b !== null);
      }
      top.r = body;
      break;
    }
    case 'e':
      top.e = [msg.error.code, msg.error.message];
      break;
  }
  return bencode(top);
}

function checkId(id: Uint8Array): Uint8Array {
  if (id.length !== ID_LENGTH) throw new RangeError(`KRPC id must be ${ID_LENGTH} bytes`);
  return id;
}
