import { bdecode, type BValue } from '../bencode/decode';
import { bencode, type BEncodable } from '../bencode/encode';

/**
 * The extension messages we speak, with the ids *we* chose for them (BEP 10: ids are local to
 * whoever sends the handshake; a peer sends us ut_metadata as id 1, whatever its own id is).
 */
export const OUR_EXTENSION_IDS = { ut_metadata: 1, ut_pex: 2 } as const;
export type ExtensionName = keyof typeof OUR_EXTENSION_IDS;

/** What we read from a peer's BEP 10 extension handshake. */
export interface ExtendedHandshakeInfo {
  /** `reqq`: how many outstanding requests the peer accepts. */
  requestQueue: number | null;
  /** `v`: the client's own name and version. */
  client: string | null;
  /** `p`: the peer's listening port, useful when it connected to us. */
  listenPort: number | null;
  /**
   * `m`: the peer's ids for the extensions we know; 0 means the peer turned it off. Names we do
   * not know are ignored (EX-02).
   */
  extensionIds: Partial<Record<ExtensionName, number>>;
  /** `metadata_size` (BEP 9), only when plausible (MD-01). */
  metadataSize: number | null;
}

const MAX_CLIENT_NAME = 64;
/** Metadata beyond this is refused (MD-01: 14 MB metadata exists; libtorrent caps at 30 MiB). */
export const MAX_METADATA_SIZE = 32 * 1024 * 1024;

export interface OurExtendedHandshake {
  listenPort: number;
  requestQueue: number;
  /** Size of the info dict we can serve; absent while we do not have it ourselves. */
  metadataSize?: number;
  /** Private torrents must not use PEX (BEP 27). */
  pex: boolean;
}

/** Our handshake: the extensions we speak, our limits and name. */
export function encodeExtendedHandshake(o: OurExtendedHandshake): Uint8Array {
  const m = new Map<string, number>([['ut_metadata', OUR_EXTENSION_IDS.ut_metadata]]);
  if (o.pex) m.set('ut_pex', OUR_EXTENSION_IDS.ut_pex);
  const dict = new Map<string, BEncodable>([
    ['m', m],
    ['reqq', o.requestQueue],
    ['v', 'Tessera 0.1.0'],
  ]);
  if (o.metadataSize !== undefined && o.metadataSize > 0) dict.set('metadata_size', o.metadataSize);
  if (o.listenPort > 0 && o.listenPort < 65536) dict.set('p', o.listenPort);
  return bencode(dict);
}

/**
 * Lenient by design: a malformed extension handshake is ignored, never fatal. A later handshake
 * is additive (EX-02): callers merge `extensionIds` into what they had.
 */
export function parseExtendedHandshake(payload: Uint8Array): ExtendedHandshakeInfo {
  const info: ExtendedHandshakeInfo = {
    requestQueue: null,
    client: null,
    listenPort: null,
    extensionIds: {},
    metadataSize: null,
  };
  let value: BValue;
  try {
    value = bdecode(payload, { allowTrailing: true, maxDepth: 8 }).value;
  } catch {
    return info;
  }
  if (!(value instanceof Map)) return info;
  const reqq = value.get('reqq');
  if (isPositiveInt(reqq)) info.requestQueue = reqq;
  const v = value.get('v');
  if (v instanceof Uint8Array && v.length > 0) {
    // Shown to people: printable characters only.
    info.client = Buffer.from(v.subarray(0, MAX_CLIENT_NAME))
      .toString('utf8')
      .replace(/[^\p{L}\p{N}\p{P}\p{Zs}]/gu, '');
  }
  const p = value.get('p');
  if (isPositiveInt(p) && p < 65536) info.listenPort = p;
  const m = value.get('m');
  if (m instanceof Map) {
    for (const name of Object.keys(OUR_EXTENSION_IDS) as ExtensionName[]) {
      const id = m.get(name);
      // One byte on the wire; 0 disables.
      if (typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < 256)
        info.extensionIds[name] = id;
    }
  }
  const size = value.get('metadata_size');
  if (isPositiveInt(size) && size <= MAX_METADATA_SIZE) info.metadataSize = size;
  return info;
}

function isPositiveInt(v: BValue | undefined): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}
