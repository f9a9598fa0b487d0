import { describe, expect, it } from 'vitest';
import { blockFitsPiece, blocksOfPiece, checkRequest, type PieceBounds } from './request-bounds';

// 3 pieces of 32 KiB, the last one 100 bytes.
const bounds: PieceBounds = { pieceCount: 3, pieceLength: (i) => (i === 2 ? 100 : 32768) };

describe('request bounds', () => {
  it('accepts requests inside a piece, including the short last block (PW-13, PF-08)', () => {
    expect(checkRequest({ index: 0, begin: 16384, length: 16384 }, bounds)).toEqual({ ok: true });
    expect(checkRequest({ index: 2, begin: 0, length: 100 }, bounds)).toEqual({ ok: true });
  });

  it('refuses the AD-27 table, closing only above 128 KiB', () => {
    const verdict = (index: number, begin: number, length: number) => {
      const v = checkRequest({ index, begin, length }, bounds);
      return v.ok ? 'ok' : v.fatal ? 'close' : 'reject';
    };
    expect(verdict(3, 0, 16384)).toBe('reject'); // index ≥ n
    expect(verdict(0, 32768, 1)).toBe('reject'); // begin ≥ piece size
    expect(verdict(0, 0, 0)).toBe('reject'); // length 0
    expect(verdict(2, 90, 11)).toBe('reject'); // begin + length > piece size
    expect(verdict(0, 0, 16385)).toBe('reject'); // over 16 KiB
    expect(verdict(0, 0, 131072)).toBe('reject');
    expect(verdict(0, 0, 131073)).toBe('close'); // over 128 KiB
    expect(verdict(0xffffffff, 0xffffffff, 0xffffffff)).toBe('close');
  });

  it('checks an incoming block against its piece (PW-05, PW-15)', () => {
    expect(blockFitsPiece(0, 16384, 16384, bounds)).toBe(true);
    expect(blockFitsPiece(2, 0, 100, bounds)).toBe(true);
    expect(blockFitsPiece(2, 0, 101, bounds)).toBe(false);
    expect(blockFitsPiece(0, 0, 16385, bounds)).toBe(false);
    expect(blockFitsPiece(3, 0, 1, bounds)).toBe(false);
    expect(blockFitsPiece(0, 0, 0, bounds)).toBe(false);
  });

  it('splits a piece of 3·2^14+100 bytes into 3 full blocks and one of 100 (PW-12)', () => {
    expect(blocksOfPiece(7, 3 * 16384 + 100)).toEqual([
      { index: 7, begin: 0, length: 16384 },
      { index: 7, begin: 16384, length: 16384 },
      { index: 7, begin: 32768, length: 16384 },
      { index: 7, begin: 49152, length: 100 },
    ]);
  });
});
