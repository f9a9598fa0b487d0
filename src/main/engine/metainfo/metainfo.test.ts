import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { bencode, type BEncodable } from '../bencode/encode';
import { InvalidTorrentError } from '../errors';
import { MAX_PIECES, parseMetainfo, pieceSize, type Metainfo } from './metainfo';

type Obj = { [key: string]: BEncodable };
const sha1 = (b: Uint8Array): string => createHash('sha1').update(b).digest('hex');
const hashes = (n: number): Uint8Array => new Uint8Array(20 * n).fill(0xab);

/** `undefined` in `over` removes that info key (the encoder refuses undefined, by design). */
function single(over: Obj = {}, top: Obj = {}): Uint8Array {
  const base: Obj = { name: 'file.bin', 'piece length': 16384, length: 40000, pieces: hashes(3) };
  const info = Object.fromEntries(
    Object.entries({ ...base, ...over }).filter(([, v]) => v !== undefined),
  );
  return bencode({ announce: 'http://127.0.0.1:1/announce', ...top, info });
}

function multi(files: BEncodable[], over: Obj = {}, top: Obj = {}): Uint8Array {
  const info: Obj = { name: 'album', 'piece length': 16384, files, pieces: hashes(1) };
  return bencode({ announce: 'http://127.0.0.1:1/announce', ...top, info: { ...info, ...over } });
}

function reason(bytes: Uint8Array): string {
  try {
    parseMetainfo(bytes);
  } catch (e) {
    if (e instanceof InvalidTorrentError) {
      expect(e.code).toBe('invalid-torrent');
      return e.message;
    }
    throw e;
  }
  throw new Error('parsed without error');
}

describe('parseMetainfo: a valid single-file torrent', () => {
  const bytes = single({}, { comment: 'hi', 'created by': 'test', 'creation date': 1700000000 });
  const m = parseMetainfo(bytes);

  it('reads the fields', () => {
    expect(m.name).toBe('file.bin');
    expect(m.isMultiFile).toBe(false);
    expect(m.files).toEqual([{ path: [], length: 40000, offset: 0, padding: false }]);
    expect(m.totalLength).toBe(40000);
    expect(m.pieceLength).toBe(16384);
    expect(m.pieceCount).toBe(3);
    expect(m.pieceHashes.length).toBe(60);
    expect(m.isPrivate).toBe(false);
    expect(m.announceTiers).toEqual([['http://127.0.0.1:1/announce']]);
    expect(m.comment).toBe('hi');
    expect(m.createdBy).toBe('test');
    expect(m.creationDate).toBe(1700000000);
    expect(m.urlList).toEqual([]);
    expect(m.warnings).toEqual([]);
  });

  it('hashes the raw info span (IH-01, IH-04)', () => {
    const text = Buffer.from(bytes).toString('latin1');
    const start = text.indexOf('4:infod') + 6;
    const raw = bytes.subarray(start, bytes.length - 1);
    expect(Buffer.from(m.infoBytes)).toEqual(Buffer.from(raw));
    expect(m.infoHashHex).toBe(sha1(raw));
    expect(m.infoHashHex).toMatch(/^[0-9a-f]{40}$/);
    expect(Buffer.from(m.infoHash).toString('hex')).toBe(m.infoHashHex);
  });

  it('sizes the last piece short (MI-04)', () => {
    expect(pieceSize(m, 0)).toBe(16384);
    expect(pieceSize(m, 2)).toBe(40000 - 2 * 16384);
    expect(() => pieceSize(m, 3)).toThrow(RangeError);
  });
});

describe('parseMetainfo: accepted with a warning', () => {
  it('piece length not a power of two (MI-05)', () => {
    const m = parseMetainfo(single({ 'piece length': 3 * 16384 + 1, pieces: hashes(1) }));
    expect(m.pieceLength).toBe(49153);
    expect(m.warnings).toContain("'piece length' 49153 is not a power of two");
  });

  it('a piece length below 16 KiB is valid (AD-07)', () => {
    expect(parseMetainfo(single({ 'piece length': 1000, pieces: hashes(40) })).pieceCount).toBe(40);
  });

  it('trailing bytes after the torrent (BEN-08)', () => {
    const m = parseMetainfo(Buffer.concat([single(), Buffer.from('\r\n')]));
    expect(m.warnings).toContain('2 bytes after the end of the torrent were ignored');
  });

  it('wrong-typed optional fields outside info are ignored', () => {
    const m = parseMetainfo(
      single({}, { 'creation date': 'yesterday', comment: 5, 'url-list': 7 }),
    );
    expect(m.creationDate).toBeNull();
    expect(m.comment).toBeNull();
    expect(m.urlList).toEqual([]);
    expect(m.warnings).toContain("'creation date' is not an integer; ignored");
  });
});

describe('parseMetainfo: multi-file (MI-03, MI-04)', () => {
  it('computes offsets across piece boundaries', () => {
    const files = [
      { length: 10000, path: ['a.txt'] },
      { length: 0, path: ['empty'] },
      { length: 20000, path: ['sub', 'b.txt'] },
      { length: 5, path: ['sub', 'c.txt'] },
    ];
    const m = parseMetainfo(multi(files, { pieces: hashes(2) }));
    expect(m.isMultiFile).toBe(true);
    expect(m.files.map((f) => [f.path.join('/'), f.offset, f.length])).toEqual([
      ['a.txt', 0, 10000],
      ['empty', 10000, 0],
      ['sub/b.txt', 10000, 20000],
      ['sub/c.txt', 30000, 5],
    ]);
    expect(m.totalLength).toBe(30005);
    expect(pieceSize(m, 1)).toBe(30005 - 16384);
  });

  it('prefers name.utf-8 and path.utf-8 (MI-02)', () => {
    const m = parseMetainfo(
      multi([{ length: 5, path: [Buffer.from([0xff])], 'path.utf-8': ['ü.txt'] }], {
        'name.utf-8': 'Ålbum',
      }),
    );
    expect(m.name).toBe('Ålbum');
    expect(m.files[0]!.path).toEqual(['ü.txt']);
  });

  it('replaces invalid UTF-8 in names rather than failing (MI-11)', () => {
    const m = parseMetainfo(single({ name: Buffer.from([0x61, 0xff, 0x62]) }));
    expect(m.name).toBe('a\uFFFDb');
  });

  it('marks BEP 47 and BitComet padding files, and lets pad paths repeat (MI-12)', () => {
    const files: BEncodable[] = [
      { length: 100, path: ['a'] },
      { length: 16284, path: ['.pad', '16284'], attr: 'p' },
      { length: 100, path: ['b'] },
      { length: 16284, path: ['.pad', '16284'], attr: 'p' },
      { length: 100, path: ['c'], attr: 'xh' },
      { length: 10, path: ['_____padding_file_0_'] },
    ];
    const m = parseMetainfo(multi(files, { pieces: hashes(3) }));
    expect(m.files.map((f) => f.padding)).toEqual([false, true, false, true, false, true]);
  });

  it('reads private only as integer 1 inside info (MI-08)', () => {
    expect(parseMetainfo(single({ private: 1 })).isPrivate).toBe(true);
    expect(parseMetainfo(single({ private: 0 })).isPrivate).toBe(false);
    expect(parseMetainfo(single({ private: '1' })).isPrivate).toBe(false);
    expect(parseMetainfo(single({}, { private: 1 })).isPrivate).toBe(false);
  });
});

describe('parseMetainfo: info-hash of unsorted info with extra keys (IH-01, BEN-06)', () => {
  // Hand-written so the info keys are out of order and carry keys we do not use.
  const info =
    'd6:source3:PTP4:name8:file.bin12:piece lengthi16384e6:lengthi40000e' +
    `6:pieces60:${'x'.repeat(60)}7:privatei0e` +
    '6:md5sum32:0123456789abcdef0123456789abcdef10:name.utf-88:file.bine';
  const torrent = Buffer.from(`d4:info${info}8:announce26:http://127.0.0.1:1/announcee`, 'latin1');

  it('hashes the raw span, never a re-encoding', () => {
    const m = parseMetainfo(torrent);
    const raw = Buffer.from(info, 'latin1');
    expect(m.infoHashHex).toBe(sha1(raw));
    expect(Buffer.from(m.infoBytes)).toEqual(raw);
    // A decode-then-encode round trip would sort the keys and so change the hash.
    const reencoded = bencode(
      new Map<string, BEncodable>([
        ['length', 40000],
        ['md5sum', '0123456789abcdef0123456789abcdef'],
        ['name', 'file.bin'],
        ['name.utf-8', 'file.bin'],
        ['piece length', 16384],
        ['pieces', 'x'.repeat(60)],
        ['private', 0],
        ['source', 'PTP'],
      ]),
    );
    expect(m.infoHashHex).not.toBe(sha1(reencoded));
    expect(m.isPrivate).toBe(false);
    expect(m.warnings.join()).toContain('canonical order');
  });

  it('rejects a duplicate key inside info (BEN-06)', () => {
    const dup = Buffer.from(
      torrent.toString('latin1').replace('6:source3:PTP', '6:source3:PTP6:source3:XYZ'),
      'latin1',
    );
    expect(reason(dup)).toContain("duplicate dict key 'source'");
  });
});

describe('parseMetainfo: trackers (MI-09, MI-10)', () => {
  it('uses announce-list tiers and ignores announce', () => {
    const m = parseMetainfo(
      single(
        {},
        {
          'announce-list': [
            ['udp://t1:80', 'http://t2/a', 'wss://nope', 'http://t2/a'],
            [],
            ['https://t3/a'],
          ],
        },
      ),
    );
    expect(m.announceTiers).toEqual([['udp://t1:80', 'http://t2/a'], ['https://t3/a']]);
    expect(m.warnings.join()).toContain("'wss://nope' ignored");
  });

  it('falls back to announce when announce-list is malformed', () => {
    const m = parseMetainfo(single({}, { 'announce-list': 'http://x/a' }));
    expect(m.announceTiers).toEqual([['http://127.0.0.1:1/announce']]);
    expect(m.warnings.join()).toContain('malformed');
  });

  it('has no trackers when there are none', () => {
    const bytes = bencode({
      info: { name: 'f', 'piece length': 16384, length: 1, pieces: hashes(1) },
    });
    expect(parseMetainfo(bytes).announceTiers).toEqual([]);
  });

  it('reads url-list as string or list; "" means none', () => {
    expect(parseMetainfo(single({}, { 'url-list': 'http://ws/' })).urlList).toEqual(['http://ws/']);
    expect(parseMetainfo(single({}, { 'url-list': ['http://a/', 'ftp://b/'] })).urlList).toEqual([
      'http://a/',
    ]);
    expect(parseMetainfo(single({}, { 'url-list': '' })).urlList).toEqual([]);
  });

  it("reads a trackerless torrent's DHT nodes, skipping malformed ones (DH-05)", () => {
    const nodes = [
      ['127.0.0.1', 6881],
      ['router.example', 0],
      ['a/b', 1],
      [5, 5],
      ['::1', 7],
    ];
    expect(parseMetainfo(single({}, { nodes })).dhtNodes).toEqual([
      { host: '127.0.0.1', port: 6881 },
      { host: '::1', port: 7 },
    ]);
    expect(parseMetainfo(single()).dhtNodes).toEqual([]);
  });
});

describe('parseMetainfo: hostile input', () => {
  const valid = single();

  it.each<[string, Uint8Array, string]>([
    ['empty file', new Uint8Array(0), 'empty input'],
    ['non-bencode', Buffer.from('<html>hello</html>'), 'unknown type byte'],
    ['truncated', valid.subarray(0, valid.length - 1), 'unexpected end of input'],
    [
      'deeply nested (AD-03)',
      Buffer.from('l'.repeat(200_000) + 'e'.repeat(200_000)),
      'nesting exceeds 100',
    ],
    [
      'huge declared string (AD-04)',
      Buffer.from('d4:info99999999999999:abce'),
      'string length exceeds input',
    ],
    ['not a dict', bencode([1, 2]), 'not a bencoded dict'],
    ['no info', bencode({ announce: 'http://x/' }), "'info' is missing"],
    ['info not a dict', bencode({ info: 'x' }), "'info' is a string, not a dict"],
    ['duplicate key in info (BEN-06)', Buffer.from('d4:infod1:ai1e1:ai2eee'), 'duplicate dict key'],
    [
      '__proto__ length (BEN-09)',
      Buffer.from(
        `d4:infod9:__proto__d6:lengthi7ee4:name1:x12:piece lengthi16384e6:pieces20:${'x'.repeat(20)}ee`,
      ),
      "neither 'length' nor 'files'",
    ],
  ])('%s', (_what, bytes, expected) => {
    expect(reason(bytes)).toContain(expected);
  });

  it.each<[string, Obj, string]>([
    ['missing name', { name: undefined as unknown as BEncodable }, "'name' is missing"],
    ['name a number', { name: 5 }, "'name' is an integer, not a string"],
    [
      'missing piece length',
      { 'piece length': undefined as unknown as BEncodable },
      "'piece length' is missing",
    ],
    ['piece length 0 (AD-07)', { 'piece length': 0 }, "invalid 'piece length' 0"],
    ['piece length negative', { 'piece length': -1 }, "invalid 'piece length' -1"],
    [
      'piece length a string',
      { 'piece length': '16384' },
      "'piece length' is a string, not an integer",
    ],
    ['piece length absurd', { 'piece length': 2 ** 30 }, 'is too large'],
    [
      'pieces 59 bytes (MI-06)',
      { pieces: new Uint8Array(59) },
      "'pieces' length 59 is not 20 × 3 pieces",
    ],
    ['pieces 19 bytes', { pieces: new Uint8Array(19) }, "'pieces' length 19 is not 20 × 3 pieces"],
    ['pieces 21 bytes', { pieces: new Uint8Array(21) }, "'pieces' length 21"],
    ['one hash missing', { pieces: hashes(2) }, "'pieces' length 40 is not 20 × 3 pieces"],
    ['one hash extra', { pieces: hashes(4) }, "'pieces' length 80 is not 20 × 3 pieces"],
    ['pieces missing', { pieces: undefined as unknown as BEncodable }, "'pieces' is missing"],
    ['pieces a list', { pieces: [] }, "'pieces' is a list, not a string"],
    ['length negative', { length: -5 }, "'length' -5 is negative"],
    ['length a string', { length: '5' }, "'length' is a string, not an integer"],
    ['length 0 (MI-07)', { length: 0 }, 'torrent contains no data'],
    [
      'both length and files (MI-01)',
      { files: [{ length: 1, path: ['a'] }] },
      "both 'length' and 'files'",
    ],
    ['name ..', { name: '..' }, "name: path component '..' is not allowed"],
    ['name with separator', { name: '../etc' }, 'contains a path separator'],
    ['name empty', { name: '' }, 'name: empty path component'],
    ['padding single file (MI-12)', { attr: 'p' }, 'single-file torrent cannot be a padding file'],
    [
      'v2-only (MI-13)',
      { 'meta version': 2, pieces: undefined as unknown as BEncodable },
      'BitTorrent v2-only torrents are not supported',
    ],
  ])('single-file: %s', (_what, over, expected) => {
    expect(reason(single(over))).toContain(expected);
  });

  it('too many pieces (BEN-07: limit−1, limit, limit+1)', () => {
    // A full hash list for 2,097,152 pieces is 42 MB, past the 10 MB file limit, so with a
    // .torrent the size limit bites first; the count check still guards the arithmetic. Probe
    // the count boundary with a one-hash 'pieces': at or under the limit the complaint is the
    // 'pieces' length, over it the piece count.
    const at = (n: number): Uint8Array =>
      bencode({ info: { name: 'x', 'piece length': 1, length: n, pieces: new Uint8Array(20) } });
    expect(reason(at(MAX_PIECES - 1))).toContain(
      `'pieces' length 20 is not 20 × ${MAX_PIECES - 1}`,
    );
    expect(reason(at(MAX_PIECES))).toContain(`'pieces' length 20 is not 20 × ${MAX_PIECES} pieces`);
    expect(reason(at(MAX_PIECES + 1))).toContain(`too many pieces (${MAX_PIECES + 1}, limit`);
    // And a real, large-but-legal hash list parses.
    const big = bencode({
      info: {
        name: 'x',
        'piece length': 16384,
        length: 16384 * 400_000,
        pieces: new Uint8Array(20 * 400_000),
      },
    });
    expect(parseMetainfo(big).pieceCount).toBe(400_000);
  });

  it('file size limit (BEN-07: 10,000,000 bytes)', () => {
    const pad = (n: number): Uint8Array => {
      const base = Buffer.from(single()).toString('latin1');
      // Grow the comment so the whole file has exactly n bytes.
      const withComment = (len: number): string =>
        base.replace('d8:announce', `d7:comment${len}:${'c'.repeat(len)}8:announce`);
      let len = n - base.length - 10 - String(n).length;
      while (withComment(len).length > n) len--;
      while (withComment(len).length < n) len++;
      return Buffer.from(withComment(len), 'latin1');
    };
    expect(parseMetainfo(pad(10_000_000)).name).toBe('file.bin');
    expect(reason(pad(10_000_001))).toContain('torrent file too large (10000001 bytes');
  });

  it.each<[string, BEncodable[], string]>([
    ['zero files (MI-07)', [], 'torrent contains no files'],
    ['only zero-length files', [{ length: 0, path: ['a'] }], 'torrent contains no data'],
    ['file not a dict', ['x'], 'file 0: not a dict'],
    ['missing length', [{ path: ['a'] }], "file 0: 'length' is missing"],
    ['negative length', [{ length: -1, path: ['a'] }], "file 0: 'length' -1 is negative"],
    ['missing path', [{ length: 1 }], "file 0: 'path' is missing"],
    ['path not a list', [{ length: 1, path: 'a' }], "file 0: 'path' is not a list"],
    ['empty path list (AD-13)', [{ length: 1, path: [] }], "file 0: 'path' is an empty list"],
    [
      'path element a number',
      [{ length: 1, path: ['a', 5] }],
      'file 0: path element 1 is not a string',
    ],
    [
      '.. (AD-10)',
      [
        { length: 1, path: ['a'] },
        { length: 1, path: ['x', '..', 'y'] },
      ],
      "file 1: path component '..' is not allowed",
    ],
    ['. component', [{ length: 1, path: ['.', 'y'] }], "file 0: path component '.' is not allowed"],
    ['empty component', [{ length: 1, path: ['a', '', 'b'] }], 'file 0: empty path component'],
    ['absolute (AD-11)', [{ length: 1, path: ['/etc/passwd'] }], 'contains a path separator'],
    ['backslash', [{ length: 1, path: ['..\\..\\x'] }], 'contains a path separator'],
    ['drive', [{ length: 1, path: ['C:', 'x'] }], 'drive-qualified'],
    ['NUL', [{ length: 1, path: ['a\u0000b'] }], 'contains NUL'],
    [
      'duplicate paths (AD-17)',
      [
        { length: 1, path: ['a', 'b'] },
        { length: 1, path: ['a', 'b'] },
      ],
      "file 1: path 'a/b' duplicates file 0",
    ],
    [
      'case-only duplicate',
      [
        { length: 1, path: ['A'] },
        { length: 1, path: ['a'] },
      ],
      'duplicates file 0',
    ],
    [
      'duplicate after renaming',
      [
        { length: 1, path: ['CON'] },
        { length: 1, path: ['_CON'] },
      ],
      'duplicates file 0',
    ],
    [
      'file vs folder',
      [
        { length: 1, path: ['a', 'b'] },
        { length: 1, path: ['a', 'b', 'c'] },
      ],
      "'a/b' to be a folder but it is file 0",
    ],
    ['attr not a string', [{ length: 1, path: ['a'], attr: 1 }], "file 0: 'attr' is an integer"],
  ])('multi-file: %s', (_what, files, expected) => {
    expect(reason(multi(files))).toContain(expected);
  });

  it('renames Windows-reserved names and says so (AD-14)', () => {
    const m = parseMetainfo(
      multi([
        { length: 5, path: ['CON', 'nul.txt'] },
        { length: 5, path: ['x. '] },
      ]),
    );
    expect(m.files.map((f) => f.path)).toEqual([['_CON', '_nul.txt'], ['x']]);
    expect(m.warnings.join('\n')).toContain("file 0: 'CON' is saved as '_CON'");
  });
});

describe('fuzz: never anything but a Metainfo or an InvalidTorrentError', () => {
  const seeds = [
    single(),
    multi([
      { length: 10000, path: ['a'] },
      { length: 6000, path: ['b', 'c'], attr: 'p' },
    ]),
  ];
  const check = (bytes: Uint8Array): void => {
    try {
      const m: Metainfo = parseMetainfo(bytes);
      expect(m.pieceHashes.length).toBe(m.pieceCount * 20);
    } catch (e) {
      if (!(e instanceof InvalidTorrentError)) throw e;
    }
  };

  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => check(b)),
      { numRuns: 2000 },
    );
  });

  it('mutated valid torrents', () => {
    const mutation = fc.record({
      seed: fc.constantFrom(...seeds),
      edits: fc.array(
        fc.tuple(
          fc.nat(),
          fc.integer({ min: 0, max: 255 }),
          fc.constantFrom('set', 'insert', 'delete'),
        ),
        {
          minLength: 1,
          maxLength: 4,
        },
      ),
    });
    fc.assert(
      fc.property(mutation, ({ seed, edits }) => {
        const bytes = Array.from(seed);
        for (const [at, value, op] of edits) {
          const i = at % (bytes.length + 1);
          if (op === 'set' && i < bytes.length) bytes[i] = value;
          else if (op === 'insert') bytes.splice(i, 0, value);
          else bytes.splice(i, 1);
        }
        check(new Uint8Array(bytes));
      }),
      { numRuns: 3000 },
    );
  });

  it('every prefix of a 50 KB torrent is an InvalidTorrentError (AD-02)', () => {
    const files = Array.from({ length: 30 }, (_, i) => ({
      length: 11_000 + i,
      path: ['dir', `file-${i}.bin`],
    }));
    const total = files.reduce((n, f) => n + f.length, 0);
    const big = multi(files, { 'piece length': 128, pieces: hashes(Math.ceil(total / 128)) });
    expect(big.length).toBeGreaterThan(50_000);
    expect(parseMetainfo(big).files.length).toBe(30);
    let refused = 0;
    for (let n = 0; n < big.length; n++) {
      try {
        parseMetainfo(big.subarray(0, n));
      } catch (e) {
        if (e instanceof InvalidTorrentError) refused++;
        else throw e;
      }
    }
    expect(refused).toBe(big.length);
  });

  it('every prefix of a valid torrent is an InvalidTorrentError (AD-02)', () => {
    for (const seed of seeds)
      for (let n = 0; n < seed.length; n++)
        expect(() => parseMetainfo(seed.subarray(0, n))).toThrow(InvalidTorrentError);
  });
});

const mktorrent = ['/usr/bin/mktorrent', '/usr/local/bin/mktorrent'].find(existsSync);
const transmissionShow = ['/usr/bin/transmission-show', '/usr/local/bin/transmission-show'].find(
  existsSync,
);

describe('interop with mktorrent and transmission-show (IH-01)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tessera-metainfo-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.skipIf(!mktorrent || !transmissionShow)(
    'our info-hash equals transmission-show’s for a multi-file torrent made by mktorrent',
    () => {
      const content = path.join(dir, 'content');
      mkdirSync(path.join(content, 'sub'), { recursive: true });
      writeFileSync(path.join(content, 'a.bin'), Buffer.alloc(50_000, 1));
      writeFileSync(path.join(content, 'sub', 'b.txt'), 'hello world\n');
      const out = path.join(dir, 'out.torrent');
      execFileSync(
        mktorrent!,
        ['-a', 'http://127.0.0.1:1/announce', '-l', '15', '-o', out, content],
        {
          stdio: 'ignore',
          timeout: 20_000,
        },
      );
      const shown = execFileSync(transmissionShow!, [out], { encoding: 'utf8', timeout: 20_000 });
      const hash = /Hash(?: v1)?:\s*([0-9a-f]{40})/i.exec(shown)?.[1];
      expect(hash).toBeDefined();
      const m = parseMetainfo(readFileSync(out));
      expect(m.infoHashHex).toBe(hash!.toLowerCase());
      expect(m.name).toBe('content');
      expect(m.pieceLength).toBe(32768);
      expect(m.totalLength).toBe(50_012);
      expect(m.files.map((f) => f.path.join('/')).sort()).toEqual(['a.bin', 'sub/b.txt']);
      expect(m.announceTiers).toEqual([['http://127.0.0.1:1/announce']]);
    },
  );
});
