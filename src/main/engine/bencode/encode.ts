import { EngineError } from '../errors';

/**
 * What `bencode()` accepts.
 * - number: a safe integer (BEN-11: 1.5, NaN, 2^53 and beyond are refused; -0 is written `i0e`).
 * - string: written as its UTF-8 bytes. Uint8Array: written as is.
 * - Map: keys are raw key bytes as 'latin1' strings, the same convention as the decoder's BDict,
 *   so `bencode(bdecode(x).value)` reproduces canonical input byte for byte.
 * - plain object: keys are text, written as UTF-8 (the convenient form for messages we build).
 */
export type BEncodable =
  | number
  | string
  | Uint8Array
  | readonly BEncodable[]
  | ReadonlyMap<string, BEncodable>
  | { readonly [key: string]: BEncodable };

export class BencodeEncodeError extends EngineError {
  constructor(message: string) {
    super('bencode-encode', message);
  }
}

const MAX_DEPTH = 1000;
const te = new TextEncoder();

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function latin1Key(key: string): Uint8Array {
  if (typeof key !== 'string')
    throw new BencodeEncodeError(`dict key is not a string (${typeof key})`);
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\xff]/.test(key))
    throw new BencodeEncodeError(
      `Map key '${key}' is not raw bytes (a char above U+00FF); use a plain object for text keys`,
    );
  return Buffer.from(key, 'latin1');
}

function isPlainObject(v: object): v is { readonly [key: string]: BEncodable } {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Encodes a value we built ourselves; dict keys in raw-byte order (BEN-05). Throws on anything inexact. */
export function bencode(value: BEncodable): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  const push = (b: Uint8Array): void => {
    parts.push(b);
    total += b.length;
  };
  const ascii = (s: string): void => push(Buffer.from(s, 'latin1'));
  const bytes = (b: Uint8Array): void => {
    ascii(`${b.length}:`);
    push(b);
  };

  const walk = (v: unknown, depth: number): void => {
    if (depth > MAX_DEPTH) throw new BencodeEncodeError(`nesting deeper than ${MAX_DEPTH}`);
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v))
        throw new BencodeEncodeError(`cannot encode ${v}: not a safe integer`);
      ascii(`i${v === 0 ? 0 : v}e`);
    } else if (typeof v === 'string') {
      bytes(te.encode(v));
    } else if (v instanceof Uint8Array) {
      bytes(v);
    } else if (Array.isArray(v)) {
      ascii('l');
      for (const item of v as unknown[]) walk(item, depth + 1);
      ascii('e');
    } else if (v instanceof Map) {
      const entries: [Uint8Array, unknown][] = [];
      for (const [k, item] of v as Map<unknown, unknown>)
        entries.push([latin1Key(k as string), item]);
      dict(entries, depth);
    } else if (typeof v === 'object' && v !== null && isPlainObject(v)) {
      const entries: [Uint8Array, unknown][] = Object.keys(v).map((k) => [
        te.encode(k),
        (v as Record<string, unknown>)[k],
      ]);
      dict(entries, depth);
    } else {
      throw new BencodeEncodeError(`cannot encode ${v === null ? 'null' : typeof v}`);
    }
  };

  const dict = (entries: [Uint8Array, unknown][], depth: number): void => {
    entries.sort((a, b) => compareBytes(a[0], b[0]));
    ascii('d');
    for (let i = 0; i < entries.length; i++) {
      const [k, item] = entries[i]!;
      if (i > 0 && compareBytes(entries[i - 1]![0], k) === 0)
        throw new BencodeEncodeError(`duplicate dict key '${Buffer.from(k).toString('latin1')}'`);
      bytes(k);
      walk(item, depth + 1);
    }
    ascii('e');
  };

  walk(value, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
