import { bdecode, type BValue } from '../bencode/decode';
import { bencode } from '../bencode/encode';

/** What we read from a peer's BEP 10 extension handshake. */
export interface ExtendedHandshakeInfo {
  /** `reqq`: how many outstanding requests the peer accepts. */
  requestQueue: number | null;
  /** `v`: the client's own name and version. */
  client: string | null;
  /** `p`: the peer's listening port, useful when it connected to us. */
  listenPort: number | null;
}

const MAX_CLIENT_NAME = 64;

/** Our handshake: no extension messages yet (BEP 9/11 come later), just our limits and name. */
export function encodeExtendedHandshake(o: {
  listenPort: number;
  requestQueue: number;
}): Uint8Array {
  const dict = new Map<string, number | string | Map<string, number>>([
    ['m', new Map()],
    ['reqq', o.requestQueue],
    ['v', 'Tessera 0.1.0'],
  ]);
  if (o.listenPort > 0 && o.listenPort < 65536) dict.set('p', o.listenPort);
  return bencode(dict);
}

/** Lenient by design: a malformed extension handshake is ignored, never fatal. */
export function parseExtendedHandshake(payload: Uint8Array): ExtendedHandshakeInfo {
  const info: ExtendedHandshakeInfo = { requestQueue: null, client: null, listenPort: null };
  let value: BValue;
  try {
    value = bdecode(payload, { allowTrailing: true, maxDepth: 8 }).value;
  } catch {
    return info;
  }
  if (!(value instanceof Map)) return info;
  const reqq = value.get('reqq');
  if (typeof reqq === 'number' && Number.isInteger(reqq) && reqq > 0) info.requestQueue = reqq;
  const v = value.get('v');
  if (v instanceof Uint8Array && v.length > 0) {
    // Shown to people: printable characters only.
    info.client = Buffer.from(v.subarray(0, MAX_CLIENT_NAME))
      .toString('utf8')
      .replace(/[^\p{L}\p{N}\p{P}\p{Zs}]/gu, '');
  }
  const p = value.get('p');
  if (typeof p === 'number' && Number.isInteger(p) && p > 0 && p < 65536) info.listenPort = p;
  return info;
}
