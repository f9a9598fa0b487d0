import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeMetadataMessage,
  encodeMetadataMessage,
  METADATA_PIECE_SIZE,
  MetadataAssembler,
  metadataPieceProblem,
} from './ut-metadata';

const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');

describe('ut_metadata messages (BEP 9)', () => {
  it('encodes request, reject and data as BEP 9 shows them', () => {
    expect(text(encodeMetadataMessage({ type: 'request', piece: 0 }))).toBe(
      'd8:msg_typei0e5:piecei0ee',
    );
    expect(text(encodeMetadataMessage({ type: 'reject', piece: 3 }))).toBe(
      'd8:msg_typei2e5:piecei3ee',
    );
    const data = encodeMetadataMessage({
      type: 'data',
      piece: 1,
      totalSize: 34256,
      data: Buffer.from('xyz'),
    });
    expect(text(data)).toBe('d8:msg_typei1e5:piecei1e10:total_sizei34256eexyz');
  });

  it('splits a data message at the end of the dict, even when the payload contains "ee" (MD-04)', () => {
    const payload = Buffer.from('d8:msg_typei1e5:piecei0e10:total_sizei6eeee:eee');
    const m = decodeMetadataMessage(payload);
    expect(m).toMatchObject({ type: 'data', piece: 0, totalSize: 6 });
    expect(m?.type === 'data' && text(m.data)).toBe('ee:eee');
  });

  it('ignores unknown msg_types and malformed payloads (MD-03)', () => {
    for (const bad of [
      'd8:msg_typei7e5:piecei0ee',
      'd8:msg_typei0e5:piecei-1ee',
      'd8:msg_typei1e5:piecei0ee',
      'le',
      'd8:msg_type',
      '',
    ])
      expect(decodeMetadataMessage(Buffer.from(bad))).toBeNull();
  });

  it('round-trips and never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        decodeMetadataMessage(bytes);
      }),
    );
    fc.assert(
      fc.property(fc.nat(1000), (piece) => {
        expect(decodeMetadataMessage(encodeMetadataMessage({ type: 'request', piece }))).toEqual({
          type: 'request',
          piece,
        });
      }),
    );
  });

  it('checks piece index, length and total_size against the announced size (MD-02)', () => {
    const size = 2 * METADATA_PIECE_SIZE + 100;
    const piece = (p: number, length: number, totalSize = size) => ({
      piece: p,
      totalSize,
      data: new Uint8Array(length),
    });
    expect(metadataPieceProblem(size, piece(0, METADATA_PIECE_SIZE))).toBeNull();
    expect(metadataPieceProblem(size, piece(2, 100))).toBeNull();
    expect(metadataPieceProblem(size, piece(2, 101))).toMatch(/expected 100/);
    expect(metadataPieceProblem(size, piece(1, 100))).toMatch(/expected 16384/);
    expect(metadataPieceProblem(size, piece(3, 100))).toMatch(/piece 3 of 3/);
    expect(metadataPieceProblem(size, piece(0, METADATA_PIECE_SIZE, size + 1))).toMatch(
      /total_size/,
    );
  });
});

describe('MetadataAssembler', () => {
  const info = Buffer.alloc(40_000, 7);
  const hash = createHash('sha1').update(info).digest();
  const pieceOf = (i: number) =>
    info.subarray(i * METADATA_PIECE_SIZE, (i + 1) * METADATA_PIECE_SIZE);

  it('returns the info bytes once every piece is in and the hash matches, in any order', () => {
    const a = new MetadataAssembler(info.length, hash);
    expect(a.pieceCount).toBe(3);
    expect(a.add(2, pieceOf(2), 'p1')).toBeNull();
    expect(a.add(0, pieceOf(0), 'p2')).toBeNull();
    expect(a.missing()).toEqual([1]);
    const done = a.add(1, pieceOf(1), 'p1');
    expect(Buffer.from(done as Uint8Array).equals(info)).toBe(true);
  });

  it('discards everything on a hash mismatch and names the senders (MD-05)', () => {
    const a = new MetadataAssembler(info.length, hash);
    a.add(0, pieceOf(0), 'honest');
    a.add(1, Buffer.alloc(METADATA_PIECE_SIZE, 1), 'liar');
    expect(a.add(2, pieceOf(2), 'honest')).toEqual({ badHash: ['honest', 'liar'] });
    expect(a.missing()).toEqual([0, 1, 2]);
  });
});
