import { EngineError } from '../errors';
import type { BDict, BValue } from './decode';

/**
 * Typed reads from decoded dicts. Each getter throws a FieldError naming the field, so the
 * caller (metainfo, tracker replies) can pass on a specific reason ("'piece length' is not an
 * integer") instead of a generic one. `opt*` variants return null when the key is absent but
 * still throw when it is present with the wrong type.
 */
export class FieldError extends EngineError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('invalid-field', message);
    this.field = field;
  }
}

/** Map lookup by text key: keys in a BDict are latin1 strings of the raw bytes. */
export function dictGet(d: BDict, key: string): BValue | undefined {
  return d.get(isAscii(key) ? key : Buffer.from(key, 'utf8').toString('latin1'));
}

/**
 * An ASCII key's UTF-8 bytes read as latin1 are the key itself: no Buffer and no new string
 * per lookup (a 2,000-file torrent's parse made four of each per file).
 */
function isAscii(key: string): boolean {
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) > 0x7f) return false;
  return true;
}

export function isDict(v: BValue | undefined): v is BDict {
  return v instanceof Map;
}

function typeName(v: BValue): string {
  if (typeof v === 'number') return 'an integer';
  if (v instanceof Uint8Array) return 'a string';
  if (Array.isArray(v)) return 'a list';
  return 'a dict';
}

function need<T extends BValue>(
  d: BDict,
  key: string,
  ok: (v: BValue) => v is T,
  what: string,
): T | null {
  const v = dictGet(d, key);
  if (v === undefined) return null;
  if (!ok(v)) throw new FieldError(key, `'${key}' is ${typeName(v)}, not ${what}`);
  return v;
}

function missing(key: string): never {
  throw new FieldError(key, `'${key}' is missing`);
}

const isInt = (v: BValue): v is number => typeof v === 'number';
const isBytes = (v: BValue): v is Uint8Array => v instanceof Uint8Array;
const isList = (v: BValue): v is BValue[] => Array.isArray(v);
const isMap = (v: BValue): v is BDict => v instanceof Map;

export const optInt = (d: BDict, key: string): number | null => need(d, key, isInt, 'an integer');
export const optBytes = (d: BDict, key: string): Uint8Array | null =>
  need(d, key, isBytes, 'a string');
export const optList = (d: BDict, key: string): BValue[] | null => need(d, key, isList, 'a list');
export const optDict = (d: BDict, key: string): BDict | null => need(d, key, isMap, 'a dict');

export const getInt = (d: BDict, key: string): number => optInt(d, key) ?? missing(key);
export const getBytes = (d: BDict, key: string): Uint8Array => optBytes(d, key) ?? missing(key);
export const getList = (d: BDict, key: string): BValue[] => optList(d, key) ?? missing(key);
export const getDict = (d: BDict, key: string): BDict => optDict(d, key) ?? missing(key);

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });
const utf8Lossy = new TextDecoder('utf-8');

/** UTF-8 text, with invalid sequences replaced by U+FFFD (MI-11: shown, never fatal). */
export function utf8(bytes: Uint8Array): string {
  return utf8Lossy.decode(bytes);
}

/** True when the bytes are valid UTF-8. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    utf8Fatal.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

export const optString = (d: BDict, key: string): string | null => {
  const b = optBytes(d, key);
  return b === null ? null : utf8(b);
};
export const getString = (d: BDict, key: string): string => optString(d, key) ?? missing(key);
