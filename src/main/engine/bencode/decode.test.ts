import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BencodeError, bdecode, type BValue } from './decode';
import { bencode, type BEncodable } from './encode';
import { dictGet, FieldError, getBytes, getInt, getString, optInt } from './fields';

// Plain Uint8Array (not Buffer) so deep equality compares like with like.
const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const dec = (s: string): BValue => bdecode(b(s)).value;
const errOf = (input: string | Uint8Array): BencodeError => {
  try {
    bdecode(typeof input === 'string' ? b(input) : input);
  } catch (e) {
    if (e instanceof BencodeError) return e;
    throw e;
  }
  throw new Error(`decoded without error: ${String(input)}`);
};

describe('bdecode: BEP 3 vectors (BEN-01)', () => {
  it('decodes the four types', () => {
    expect(dec('4:spam')).toEqual(b('spam'));
    expect(dec('i3e')).toBe(3);
    expect(dec('i-3e')).toBe(-3);
    expect(dec('i0e')).toBe(0);
    expect(dec('0:')).toEqual(new Uint8Array(0));
    expect(dec('l4:spam4:eggse')).toEqual([b('spam'), b('eggs')]);
    expect(dec('d3:cow3:moo4:spam4:eggse')).toEqual(
      new Map([
        ['cow', b('moo')],
        ['spam', b('eggs')],
      ]),
    );
    expect(dec('d4:spaml1:a1:bee')).toEqual(new Map([['spam', [b('a'), b('b')]]]));
    expect(dec('le')).toEqual([]);
    expect(dec('de')).toEqual(new Map());
  });

  it('returns strings as views into the input, not copies', () => {
    const input = b('l3:abce');
    const v = bdecode(input).value as Uint8Array[];
    expect(v[0]!.buffer).toBe(input.buffer);
    expect(v[0]!.byteOffset).toBe(input.byteOffset + 3);
  });
});

describe('bdecode: integers (BEN-02, BEN-03)', () => {
  it.each([
    ['i-0e', 'negative zero'],
    ['i03e', 'leading zero'],
    ['i-03e', 'leading zero'],
    ['i00e', 'leading zero'],
    ['ie', 'empty integer'],
    ['i-e', "'-' sign and no digits"],
    ['i+3e', "'+' sign"],
    ['i1.5e', "not a digit ('.')"],
    ['i1', 'unterminated integer'],
    ['i', 'unterminated integer'],
    ['i9007199254740992e', 'integer too large'],
    ['i-9007199254740993e', 'integer too large'],
    ['i123456789012345678901234567890e', 'integer too large'],
  ])('%s → error containing %s', (input, reason) => {
    const e = errOf(input);
    expect(e.code).toBe('invalid-bencode');
    expect(e.message).toContain(reason);
  });

  it('gives a distinct message for each BEN-02 case', () => {
    const messages = ['i-0e', 'i03e', 'ie', 'i+3e', 'i1.5e'].map((s) => errOf(s).message);
    expect(new Set(messages).size).toBe(5);
  });

  it('keeps the largest safe integers exact', () => {
    expect(dec('i9007199254740991e')).toBe(Number.MAX_SAFE_INTEGER);
    expect(dec('i-9007199254740991e')).toBe(-Number.MAX_SAFE_INTEGER);
  });
});

describe('bdecode: strings (BEN-04, AD-04)', () => {
  it.each([
    ['10:abc', 'string length exceeds input'],
    ['99999999999999:abc', 'string length exceeds input'],
    ['9'.repeat(100_000) + ':abc', 'string length exceeds input'],
    ['-3:abc', 'string length with a sign'],
    ['3a:abc', "not a digit ('a')"],
    ['3abc', "not a digit ('a')"],
    ['03:abc', 'leading zero'],
    ['3', 'string length exceeds input'],
    ['0', "without ':'"],
  ])('%s → %s', (input, reason) => {
    expect(errOf(input).message).toContain(reason);
  });

  it('reports the offset of the bad string', () => {
    expect(errOf('l4:spam10:abce').offset).toBe(7);
  });

  it('does not allocate for a huge declared length', () => {
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 100; i++) errOf('2147483647:x');
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(8_000_000);
  });
});

describe('bdecode: structure (AD-01)', () => {
  it.each([
    ['', 'empty input'],
    ['x', 'unknown type byte'],
    ['l', 'unexpected end of input'],
    ['l4:spam', 'unexpected end of input'],
    ['d3:cow', 'unexpected end of input'],
    ['d3:cowe', 'dict key without a value'],
    ['di1ei2ee', 'dict key must be a byte string'],
    ['e', "unexpected 'e'"],
  ])('%j → %s', (input, reason) => {
    expect(errOf(input).message).toContain(reason);
  });
});

describe('bdecode: dict keys (BEN-05, BEN-06, BEN-09, BEN-10)', () => {
  it('accepts out-of-order keys but flags them', () => {
    const r = bdecode(b('d1:bi1e1:ai2ee'));
    expect(r.nonCanonical).toBe(true);
    expect(r.value).toEqual(
      new Map([
        ['b', 1],
        ['a', 2],
      ]),
    );
    expect(bdecode(b('d1:ai2e1:bi1ee')).nonCanonical).toBe(false);
  });

  it('flags out-of-order keys deep inside lists', () => {
    expect(bdecode(b('ll1:ad1:bi1e1:ai2eeee')).nonCanonical).toBe(true);
  });

  it('compares keys by raw bytes, not UTF-16', () => {
    // EF BD A1 (U+FF61) sorts before F0 9F 98 80 (U+1F600) as bytes.
    const canonical = Buffer.concat([
      b('d3:'),
      Buffer.from('\uFF61'),
      b('i1e4:'),
      Buffer.from('\u{1F600}'),
      b('i2ee'),
    ]);
    expect(bdecode(canonical).nonCanonical).toBe(false);
  });

  it('rejects duplicate keys', () => {
    expect(errOf('d1:ai1e1:ai2ee').message).toContain("duplicate dict key 'a'");
    expect(errOf('d4:infod1:ai1e1:ai2eee').message).toContain('duplicate dict key');
    expect(errOf('d1:ai1e1:bi1e1:ai2ee').message).toContain('duplicate dict key');
  });

  it('keeps __proto__ as an ordinary key (BEN-09, AD-06)', () => {
    const info = dec('d9:__proto__d6:lengthi7eee') as Map<string, BValue>;
    expect(info).toBeInstanceOf(Map);
    expect(dictGet(info, 'length')).toBeUndefined();
    expect((info as unknown as { length?: unknown }).length).toBeUndefined();
    expect(info.get('__proto__')).toEqual(new Map([['length', 7]]));
    expect(({} as { length?: unknown }).length).toBeUndefined();
    const c = dec('d11:constructori1ee') as Map<string, BValue>;
    expect(c.get('constructor')).toBe(1);
  });

  it('keeps non-UTF-8 key bytes losslessly (BEN-10)', () => {
    const input = Buffer.from([0x64, 0x32, 0x3a, 0xff, 0xfe, 0x69, 0x31, 0x65, 0x65]); // d2:\xff\xfei1ee
    const d = bdecode(input).value as Map<string, BValue>;
    const [key] = [...d.keys()];
    expect(Buffer.from(key!, 'latin1')).toEqual(Buffer.from([0xff, 0xfe]));
    expect(d.has('fffe')).toBe(false);
  });
});

describe('bdecode: limits (BEN-07, AD-03)', () => {
  it('200,000-deep nesting → "nesting exceeds 100", not a RangeError', () => {
    const deep = 'l'.repeat(200_000) + 'e'.repeat(200_000);
    const e = errOf(deep);
    expect(e.message).toContain('nesting exceeds 100');
    const dicts = 'd1:a'.repeat(200_000) + 'i1e' + 'e'.repeat(200_000);
    expect(errOf(dicts).message).toContain('nesting exceeds 100');
  });

  it('depth limit at limit−1, limit, limit+1', () => {
    const nest = (n: number): Uint8Array => b('l'.repeat(n) + 'e'.repeat(n));
    expect(() => bdecode(nest(99))).not.toThrow();
    expect(() => bdecode(nest(100))).not.toThrow();
    expect(() => bdecode(nest(101))).toThrow(/nesting exceeds 100/);
    expect(() => bdecode(nest(5), { maxDepth: 4 })).toThrow(/nesting exceeds 4/);
  });

  it('token limit at limit−1, limit, limit+1', () => {
    const list = (n: number): Uint8Array => b('l' + 'i0e'.repeat(n - 1) + 'e'); // n tokens
    expect(() => bdecode(list(9), { maxTokens: 10 })).not.toThrow();
    expect(() => bdecode(list(10), { maxTokens: 10 })).not.toThrow();
    expect(() => bdecode(list(11), { maxTokens: 10 })).toThrow(/more than 10 tokens/);
    expect(() => bdecode(b('d1:ai0ee'), { maxTokens: 2 })).toThrow(/more than 2 tokens/);
  });

  it('default token limit is 3,000,000', () => {
    const ok = b('l' + '0:'.repeat(2_999_999) + 'e');
    expect(() => bdecode(ok)).not.toThrow();
    const over = b('l' + '0:'.repeat(3_000_000) + 'e');
    expect(() => bdecode(over)).toThrow(/more than 3000000 tokens/);
  });
});

describe('bdecode: consumed and trailing bytes (BEN-08)', () => {
  it('rejects trailing bytes by default', () => {
    expect(errOf('i1eXYZ').message).toContain('3 trailing bytes');
    expect(errOf('i1eXYZ').offset).toBe(3);
  });

  it('reports consumed when trailing bytes are allowed', () => {
    expect(bdecode(b('i1eXYZ'), { allowTrailing: true })).toEqual({
      value: 1,
      consumed: 3,
      nonCanonical: false,
    });
    const msg = b('d8:msg_typei1e5:piecei0eeRAWBYTES');
    expect(bdecode(msg, { allowTrailing: true }).consumed).toBe(msg.length - 8);
  });
});

describe('bdecode: info span (IH-02)', () => {
  it('records the exact byte span of the top-level info value', () => {
    const s = 'd8:announce3:url4:infod6:lengthi5e4:name1:xe3:zzzi1ee';
    const r = bdecode(b(s));
    const start = s.indexOf('4:infod') + 6;
    expect(r.infoSpan).toEqual({ start, end: s.indexOf('e3:zzz') + 1 });
    expect(s.slice(r.infoSpan!.start, r.infoSpan!.end)).toBe('d6:lengthi5e4:name1:xe');
  });

  it('ignores nested info keys', () => {
    expect(bdecode(b('d1:ad4:infodeee')).infoSpan).toBeUndefined();
    expect(bdecode(b('l4:infodee')).infoSpan).toBeUndefined();
  });
});

describe('fields', () => {
  const d = dec('d1:ai1e1:b3:xyz4:name2:\xc3\xa9e') as Map<string, BValue>;
  it('reads typed fields and names the field on error', () => {
    expect(getInt(d, 'a')).toBe(1);
    expect(getBytes(d, 'b')).toEqual(b('xyz'));
    expect(getString(d, 'name')).toBe('é');
    expect(optInt(d, 'zz')).toBeNull();
    expect(() => getInt(d, 'b')).toThrow(new FieldError('b', "'b' is a string, not an integer"));
    expect(() => getInt(d, 'zz')).toThrow("'zz' is missing");
  });

  it('finds a key given as text by its UTF-8 bytes, ASCII or not', () => {
    const dict = dec('d6:lengthi2e10:path.utf-8i3e5:\xc3\xa9t\xc3\xa9i1ee') as Map<string, BValue>;
    expect(dictGet(dict, 'été')).toBe(1);
    expect(dictGet(dict, 'length')).toBe(2);
    expect(dictGet(dict, 'path.utf-8')).toBe(3);
    // The latin1 spelling of the bytes is not the text key.
    expect(dictGet(dict, '\xc3\xa9t\xc3\xa9')).toBeUndefined();
    expect(dictGet(dict, 'ete')).toBeUndefined();
  });
});

// Values fast-check can build that our encoder accepts.
const bencodable: fc.Arbitrary<BEncodable> = fc.letrec<{ v: BEncodable }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.maxSafeInteger(),
    fc.uint8Array({ maxLength: 20 }),
    fc.array(tie('v'), { maxLength: 4 }),
    fc
      .array(fc.tuple(fc.uint8Array({ maxLength: 6 }), tie('v')), { maxLength: 4 })
      .map((entries) => new Map(entries.map(([k, v]) => [Buffer.from(k).toString('latin1'), v]))),
  ),
})).v;

describe('fuzz', () => {
  it('random bytes → a value or a BencodeError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          bdecode(bytes);
        } catch (e) {
          if (!(e instanceof BencodeError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('bencode-ish random text → a value or a BencodeError', () => {
    const alphabet = fc.constantFrom(...'ilde0123456789:-+ax'.split(''));
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 60 }), (chars) => {
        try {
          const r = bdecode(b(chars.join('')), { allowTrailing: true });
          expect(r.consumed).toBeGreaterThan(0);
        } catch (e) {
          if (!(e instanceof BencodeError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('encode → decode round trip is exact and canonical', () => {
    fc.assert(
      fc.property(bencodable, (v) => {
        const bytes = bencode(v);
        const r = bdecode(bytes);
        expect(r.consumed).toBe(bytes.length);
        expect(r.nonCanonical).toBe(false);
        expect(bencode(r.value)).toEqual(bytes);
      }),
      { numRuns: 1000 },
    );
  });

  it('every prefix of a valid encoding is an error, never another exception', () => {
    const full = bencode(
      new Map<string, BEncodable>([
        ['a', [1, 'xy', new Map([['k', -5]])]],
        ['b', 'zz'],
      ]),
    );
    for (let n = 0; n < full.length; n++)
      expect(() => bdecode(full.subarray(0, n))).toThrow(BencodeError);
  });
});
