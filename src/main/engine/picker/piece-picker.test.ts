import { describe, expect, it } from 'vitest';
import { countBits, hasSpareBits } from './bitfield';
import { pickPieces, type PickerInput } from './piece-picker';

function bits(n: number, set: number[]): Uint8Array {
  const b = new Uint8Array(Math.ceil(n / 8));
  for (const i of set) b[i >> 3]! |= 0x80 >> (i & 7);
  return b;
}

function input(over: Partial<PickerInput> & { pieceCount: number }): PickerInput {
  return {
    have: bits(over.pieceCount, []),
    peerHas: bits(over.pieceCount, [...Array(over.pieceCount).keys()]),
    availability: new Uint32Array(over.pieceCount).fill(1),
    inFlight: () => false,
    randomFirst: false,
    random: () => 0,
    ...over,
  };
}

describe('pickPieces', () => {
  it('picks the rarest piece first', () => {
    expect(
      pickPieces(input({ pieceCount: 3, availability: Uint32Array.from([3, 1, 2]) }), 1),
    ).toEqual([1]);
    expect(
      pickPieces(input({ pieceCount: 3, availability: Uint32Array.from([3, 1, 2]) }), 2),
    ).toEqual([1, 2]);
  });

  it('never picks what we have, what the peer lacks, or what is in flight', () => {
    const picks = pickPieces(
      input({
        pieceCount: 3,
        have: bits(3, [0]),
        peerHas: bits(3, [0, 1, 2]),
        inFlight: (i) => i === 1,
      }),
      3,
    );
    expect(picks).toEqual([2]);
    expect(pickPieces(input({ pieceCount: 3, peerHas: bits(3, []) }), 3)).toEqual([]);
  });

  it('in random-first mode ignores rarity and spreads by the random start', () => {
    const availability = Uint32Array.from([9, 1, 9, 9]);
    const picks = pickPieces(
      input({ pieceCount: 4, availability, randomFirst: true, random: () => 0.5 }),
      1,
    );
    expect(picks).toEqual([2]);
  });

  it('scans from the given start, so equally rare picks are neighbours; rarity still wins', () => {
    const random = () => 0.9; // would start the scan at piece 9
    expect(pickPieces(input({ pieceCount: 10, start: 4, random }), 3)).toEqual([4, 5, 6]);
    // Wrapping round past the last piece.
    expect(pickPieces(input({ pieceCount: 10, start: 8, random }), 3)).toEqual([8, 9, 0]);
    const availability = new Uint32Array(10).fill(3);
    availability[1] = 1;
    expect(pickPieces(input({ pieceCount: 10, availability, start: 4, random }), 2)).toEqual([
      1, 4,
    ]);
    // A start outside the torrent is ignored: the random one is used.
    expect(pickPieces(input({ pieceCount: 10, start: 10, random }), 1)).toEqual([9]);
  });

  it('stays fast with 100,000 pieces', () => {
    const n = 100_000;
    const availability = new Uint32Array(n).map((_, i) => 1 + (i % 7));
    const t = performance.now();
    for (let k = 0; k < 100; k++)
      pickPieces(input({ pieceCount: n, availability, random: Math.random }), 4);
    // A loose bound that only a quadratic algorithm would miss.
    expect(performance.now() - t).toBeLessThan(2000);
  });
});

describe('bitfield', () => {
  it('counts bits and spots spare bits past the last piece', () => {
    expect(countBits(Uint8Array.from([0xff, 0x81]))).toBe(10);
    expect(hasSpareBits(Uint8Array.from([0xff, 0x80]), 9)).toBe(false);
    expect(hasSpareBits(Uint8Array.from([0xff, 0xc0]), 9)).toBe(true);
  });
});
