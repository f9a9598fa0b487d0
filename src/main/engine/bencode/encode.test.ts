import { describe, expect, it } from 'vitest';
import { bencode, BencodeEncodeError, type BEncodable } from './encode';

const s = (v: BEncodable): string => Buffer.from(bencode(v)).toString('latin1');

describe('bencode', () => {
  it('encodes the four types (BEN-01)', () => {
    expect(s(3)).toBe('i3e');
    expect(s(-3)).toBe('i-3e');
    expect(s(0)).toBe('i0e');
    expect(s('spam')).toBe('4:spam');
    expect(s(new Uint8Array([0, 255]))).toBe('2:\x00\xff');
    expect(s(['spam', 'eggs'])).toBe('l4:spam4:eggse');
    expect(s({ spam: 'eggs', cow: 'moo' })).toBe('d3:cow3:moo4:spam4:eggse');
    expect(s({ spam: ['a', 'b'] })).toBe('d4:spaml1:a1:bee');
    expect(s(new Map([['m', new Map()]]))).toBe('d1:mdee');
  });

  it('writes strings as UTF-8', () => {
    expect(s('é')).toBe('2:\xc3\xa9');
  });

  it('sorts keys by raw bytes, not UTF-16 (BEN-05)', () => {
    const out = Buffer.from(bencode({ '\u{1F600}': 2, '\uFF61': 1 }));
    const expected = Buffer.concat([
      Buffer.from('d3:'),
      Buffer.from([0xef, 0xbd, 0xa1]),
      Buffer.from('i1e4:'),
      Buffer.from([0xf0, 0x9f, 0x98, 0x80]),
      Buffer.from('i2ee'),
    ]);
    expect(out).toEqual(expected);
    expect(s({ b: 1, a: 2, ab: 3, B: 4 })).toBe('d1:Bi4e1:ai2e2:abi3e1:bi1ee');
  });

  it('treats Map keys as raw latin1 bytes (the decoder convention)', () => {
    expect(Buffer.from(bencode(new Map([['\xff\xfe', 1]])))).toEqual(
      Buffer.from([0x64, 0x32, 0x3a, 0xff, 0xfe, 0x69, 0x31, 0x65, 0x65]),
    );
    expect(() => bencode(new Map([['\uFF61', 1]]))).toThrow(BencodeEncodeError);
  });

  it('refuses what it cannot encode exactly (BEN-11)', () => {
    expect(() => bencode(1.5)).toThrow(BencodeEncodeError);
    expect(() => bencode(NaN)).toThrow(/not a safe integer/);
    expect(() => bencode(Infinity)).toThrow(/not a safe integer/);
    expect(() => bencode(2 ** 53)).toThrow(/not a safe integer/);
    expect(() => bencode(undefined as unknown as BEncodable)).toThrow(/cannot encode undefined/);
    expect(() => bencode(null as unknown as BEncodable)).toThrow(/cannot encode null/);
    expect(() => bencode({ a: undefined } as unknown as BEncodable)).toThrow(/undefined/);
    expect(() => bencode(true as unknown as BEncodable)).toThrow(/boolean/);
    expect(() => bencode(new Map([[1, 1]]) as unknown as BEncodable)).toThrow(/not a string/);
    expect(() => bencode(new Date() as unknown as BEncodable)).toThrow(BencodeEncodeError);
    expect(s(-0)).toBe('i0e');
  });
});
