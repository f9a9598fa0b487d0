import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnsafePathError } from '../errors';
import {
  assertNoCollisions,
  assertSafeRelativePath,
  componentProblem,
  resolveInside,
  sanitizeComponent,
} from './paths';

describe('componentProblem / assertSafeRelativePath (AD-10, AD-11, AD-13)', () => {
  it.each([
    ['..', "path component '..' is not allowed"],
    ['.', "path component '.' is not allowed"],
    ['', 'empty path component'],
    ['a/b', 'contains a path separator'],
    ['/etc/passwd', 'contains a path separator'],
    ['..\\x', 'contains a path separator'],
    ['\\\\srv\\share', 'contains a path separator'],
    ['C:', 'drive-qualified'],
    ['D:x', 'drive-qualified'],
    ['a\u0000b', 'contains NUL'],
  ])('%j → %s', (c, reason) => {
    expect(componentProblem(c)).toContain(reason);
    expect(() => assertSafeRelativePath(['ok', c])).toThrow(UnsafePathError);
  });

  it('accepts ordinary and odd-but-harmless names', () => {
    for (const c of ['a', '...', '..foo', 'Icon\r', 'CON', 'ab:c', '.hidden', 'x..'])
      expect(componentProblem(c)).toBeNull();
    expect(() => assertSafeRelativePath(['a', 'b.txt'])).not.toThrow();
  });

  it('refuses an empty path', () => {
    expect(() => assertSafeRelativePath([])).toThrow('empty path');
  });
});

describe('sanitizeComponent (AD-14, AD-15, AD-16)', () => {
  it.each([
    ['CON', '_CON'],
    ['con', '_con'],
    ['NUL.txt', '_NUL.txt'],
    ['com1', '_com1'],
    ['LPT9.tar.gz', '_LPT9.tar.gz'],
    ['COM0', '_COM0'],
    ['clock$', '_clock$'],
    ['console', 'console'],
    ['name. . ', 'name'],
    ['...', '_'],
    ['a<b>c:d"e|f?g*h', 'a_b_c_d_e_f_g_h'],
    ['Icon\r', 'Icon_'],
    ['tab\there', 'tab_here'],
    ['evil\u202Eexe.avi', 'evilexe.avi'],
    ['zero\u200Bwidth\uFEFF', 'zerowidth'],
    ['normal.mkv', 'normal.mkv'],
    ['日本語.txt', '日本語.txt'],
  ])('%j → %j', (input, expected) => {
    expect(sanitizeComponent(input)).toBe(expected);
  });

  it('cuts names over 255 bytes to ≤ 240 bytes, keeping the extension (multi-byte safe)', () => {
    const cjk = '漢'.repeat(100) + '.txt'; // 304 bytes
    const out = sanitizeComponent(cjk);
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(240);
    expect(out.endsWith('.txt')).toBe(true);
    expect(out.startsWith('漢'.repeat(78))).toBe(true);
    expect(out).not.toContain('\uFFFD');
    expect(sanitizeComponent('a'.repeat(255))).toBe('a'.repeat(255));
    expect(Buffer.byteLength(sanitizeComponent('a'.repeat(256)))).toBe(240);
  });
});

describe('assertNoCollisions (AD-17)', () => {
  it('refuses exact and case-only duplicates', () => {
    expect(() => assertNoCollisions([['a', 'b'], ['c'], ['a', 'b']])).toThrow(
      "file 2: path 'a/b' duplicates file 0",
    );
    expect(() => assertNoCollisions([['Readme'], ['README']])).toThrow('duplicates file 0');
  });

  it('refuses a file where a folder must be, in either order', () => {
    expect(() =>
      assertNoCollisions([
        ['a', 'b'],
        ['a', 'b', 'c'],
      ]),
    ).toThrow("file 1: 'a/b/c' needs 'a/b' to be a folder but it is file 0");
    expect(() =>
      assertNoCollisions([
        ['a', 'b', 'c'],
        ['a', 'b'],
      ]),
    ).toThrow("file 1: 'a/b' is a file but file 0 needs it to be a folder");
  });

  it('uses the caller’s indexes in messages', () => {
    expect(() => assertNoCollisions([['x'], ['x']], [3, 7])).toThrow('file 7: path');
  });

  it('accepts siblings and shared folders', () => {
    expect(() =>
      assertNoCollisions([['a', 'b'], ['a', 'c'], ['a', 'd', 'e'], ['b']]),
    ).not.toThrow();
  });
});

describe('resolveInside (AD-12)', () => {
  const root = path.resolve('/tmp/tessera-dl');

  it('joins safe components under root', () => {
    expect(resolveInside(root, ['movie', 'a.mkv'])).toBe(path.join(root, 'movie', 'a.mkv'));
    expect(resolveInside(root + '/', ['x'])).toBe(path.join(root, 'x'));
    expect(resolveInside(root, ['..foo'])).toBe(path.join(root, '..foo'));
  });

  it.each([[['..', 'x']], [['a', '..', '..', 'x']], [['/etc/passwd']], [['.']], [[]], [['']]])(
    'refuses %j',
    (components) => {
      expect(() => resolveInside(root, components)).toThrow(UnsafePathError);
    },
  );

  it('refuses Windows escapes with win32 path rules', () => {
    const winRoot = 'C:\\dl';
    expect(resolveInside(winRoot, ['a', 'b.txt'], path.win32)).toBe('C:\\dl\\a\\b.txt');
    for (const c of [['D:x'], ['\\\\srv\\share\\x'], ['..\\x'], ['a/../../x']])
      expect(() => resolveInside(winRoot, c, path.win32)).toThrow(UnsafePathError);
  });
});
