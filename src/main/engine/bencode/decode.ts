import { EngineError } from '../errors';

/**
 * A strict bencode decoder for untrusted input (.torrent files, tracker replies, peer messages).
 * The `bencode` npm package is lenient in ways that matter here (PROTOCOL-CHECKLIST PF-02), so
 * this one rejects every malformed form BEP 3 names, never recurses (an explicit stack bounds
 * depth), checks string lengths before slicing, and reports where the value ended.
 */

export type BValue = number | Uint8Array | BValue[] | BDict;
/** Keys are the raw key bytes as a 'latin1' string: one char per byte, so nothing is lost (BEN-10). */
export type BDict = Map<string, BValue>;

export interface DecodeResult {
  value: BValue;
  /** Bytes the value occupied from the start of the input (BEN-08). */
  consumed: number;
  /** Byte span [start, end) of the value of top-level dict key "info", if present (IH-02). */
  infoSpan?: { start: number; end: number };
  /** True when some dict anywhere had keys out of raw-byte order (BEN-06: accepted, flagged). */
  nonCanonical: boolean;
}

export interface DecodeOptions {
  /** Accept bytes after the value (callers then look at `consumed`). Default false. */
  allowTrailing?: boolean;
  /** Deepest list/dict nesting accepted. Default 100 (libtorrent's limit, BEN-07). */
  maxDepth?: number;
  /** Most values (of any type) accepted. Default 3,000,000 (BEN-07). */
  maxTokens?: number;
}

export const DEFAULT_MAX_DEPTH = 100;
export const DEFAULT_MAX_TOKENS = 3_000_000;

export class BencodeError extends EngineError {
  /** Byte offset in the input where the problem was found. */
  readonly offset: number;
  constructor(reason: string, offset: number) {
    super('invalid-bencode', `bencode: ${reason} at byte ${offset}`);
    this.offset = offset;
  }
}

const CH_0 = 0x30;
const CH_9 = 0x39;
const CH_COLON = 0x3a;
const CH_MINUS = 0x2d;
const CH_PLUS = 0x2b;
const CH_D = 0x64;
const CH_E = 0x65;
const CH_I = 0x69;
const CH_L = 0x6c;

interface ListFrame {
  kind: 'list';
  items: BValue[];
}
interface DictFrame {
  kind: 'dict';
  map: BDict;
  /** Key waiting for its value, or null when the next token must be a key. */
  key: string | null;
  lastKey: Uint8Array | null;
}
type Frame = ListFrame | DictFrame;

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function latin1(bytes: Uint8Array): string {
  // Dict keys are almost always short; building the string directly is several times faster
  // than going through a Buffer view, and keys are decoded once per dict entry.
  if (bytes.length <= 32) {
    let s = '';
    for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
    return s;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

function describeByte(b: number): string {
  return b >= 0x20 && b < 0x7f
    ? `'${String.fromCharCode(b)}'`
    : `0x${b.toString(16).padStart(2, '0')}`;
}

export function bdecode(buf: Uint8Array, opts: DecodeOptions = {}): DecodeResult {
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  const maxTokens = opts.maxTokens ?? DEFAULT_MAX_TOKENS;
  const end = buf.length;
  const stack: Frame[] = [];
  let pos = 0;
  let tokens = 0;
  let nonCanonical = false;
  let infoStart = -1;
  let infoSpan: { start: number; end: number } | undefined;
  let result: BValue | undefined;
  let done = false;

  const fail = (reason: string, at: number): never => {
    throw new BencodeError(reason, at);
  };

  const readInt = (): number => {
    // pos is at 'i'
    const start = pos;
    let p = pos + 1;
    let negative = false;
    if (p >= end) fail('unterminated integer', start);
    if (buf[p] === CH_PLUS) fail("integer with a '+' sign", p);
    if (buf[p] === CH_MINUS) {
      negative = true;
      p++;
    }
    const digitsStart = p;
    let value = 0;
    while (p < end && buf[p] !== CH_E) {
      const c = buf[p]!;
      if (c < CH_0 || c > CH_9)
        fail(`integer has a character that is not a digit (${describeByte(c)})`, p);
      value = value * 10 + (c - CH_0);
      // 2^53 has 16 digits; stop before the accumulator itself loses precision.
      if (value > Number.MAX_SAFE_INTEGER) fail('integer too large', start);
      p++;
    }
    if (p >= end) fail('unterminated integer', start);
    const nDigits = p - digitsStart;
    if (nDigits === 0)
      fail(negative ? "integer has a '-' sign and no digits" : 'empty integer', start);
    if (buf[digitsStart] === CH_0) {
      if (negative)
        fail(nDigits === 1 ? 'negative zero integer' : 'integer with a leading zero', start);
      if (nDigits > 1) fail('integer with a leading zero', start);
    }
    pos = p + 1;
    return negative ? -value : value;
  };

  const readString = (): Uint8Array => {
    const start = pos;
    let p = pos;
    let len = 0;
    while (p < end && buf[p] !== CH_COLON) {
      const c = buf[p]!;
      if (c < CH_0 || c > CH_9)
        fail(`string length has a character that is not a digit (${describeByte(c)})`, p);
      len = len * 10 + (c - CH_0);
      // Fail as soon as the declared length cannot fit, before reading more digits or slicing (BEN-04).
      if (len > end)
        fail(`string length exceeds input (declared ${len}+, ${end - start} bytes left)`, start);
      p++;
    }
    if (p >= end) fail("string length without ':'", start);
    if (p - start > 1 && buf[start] === CH_0) fail('string length with a leading zero', start);
    const dataStart = p + 1;
    if (len > end - dataStart)
      fail(`string length exceeds input (declared ${len}, ${end - dataStart} bytes left)`, start);
    pos = dataStart + len;
    return buf.subarray(dataStart, pos);
  };

  /** Attach a finished value to its parent, or finish the whole decode. */
  const emit = (value: BValue, valueEnd: number): void => {
    const top = stack[stack.length - 1];
    if (top === undefined) {
      result = value;
      done = true;
      return;
    }
    if (top.kind === 'list') {
      top.items.push(value);
      return;
    }
    const key = top.key!;
    top.map.set(key, value);
    top.key = null;
    if (stack.length === 1 && key === 'info' && infoStart >= 0) {
      infoSpan = { start: infoStart, end: valueEnd };
      infoStart = -1;
    }
  };

  while (!done) {
    if (pos >= end) fail(stack.length === 0 ? 'empty input' : 'unexpected end of input', pos);
    const c = buf[pos]!;
    const top = stack[stack.length - 1];

    if (c === CH_E && top !== undefined) {
      if (top.kind === 'dict' && top.key !== null) fail(`dict key without a value`, pos);
      stack.pop();
      pos++;
      emit(top.kind === 'list' ? top.items : top.map, pos);
      continue;
    }

    if (top?.kind === 'dict' && top.key === null) {
      // Expecting a key: only a byte string is allowed.
      if (c < CH_0 || c > CH_9)
        fail(`dict key must be a byte string, found ${describeByte(c)}`, pos);
      if (++tokens > maxTokens) fail(`more than ${maxTokens} tokens`, pos);
      const keyStart = pos;
      const keyBytes = readString();
      const key = latin1(keyBytes);
      if (top.map.has(key)) fail(`duplicate dict key '${key}'`, keyStart);
      if (top.lastKey !== null && compareBytes(top.lastKey, keyBytes) > 0) nonCanonical = true;
      top.lastKey = keyBytes;
      top.key = key;
      if (stack.length === 1 && key === 'info') infoStart = pos;
      continue;
    }

    if (++tokens > maxTokens) fail(`more than ${maxTokens} tokens`, pos);
    if (c === CH_I) {
      const v = readInt();
      emit(v, pos);
    } else if (c >= CH_0 && c <= CH_9) {
      const v = readString();
      emit(v, pos);
    } else if (c === CH_L || c === CH_D) {
      if (stack.length >= maxDepth) fail(`nesting exceeds ${maxDepth}`, pos);
      stack.push(
        c === CH_L
          ? { kind: 'list', items: [] }
          : { kind: 'dict', map: new Map(), key: null, lastKey: null },
      );
      pos++;
    } else if (c === CH_E) {
      fail("unexpected 'e'", pos);
    } else if (c === CH_MINUS) {
      fail('string length with a sign', pos);
    } else {
      fail(`unknown type byte ${describeByte(c)}`, pos);
    }
  }

  if (!opts.allowTrailing && pos !== end) fail(`${end - pos} trailing bytes after the value`, pos);
  const out: DecodeResult = { value: result!, consumed: pos, nonCanonical };
  if (infoSpan) out.infoSpan = infoSpan;
  return out;
}
