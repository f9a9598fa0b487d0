import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeFrame,
  encodeHandshake,
  encodeMessage,
  encodePieceHeader,
  encodeRequests,
  WireDecoder,
  type WireItem,
} from './codec';
import type { Handshake, PeerMessage } from './messages';
import { ProtocolError } from './protocol-error';

const handshake: Handshake = {
  reserved: Uint8Array.from([0, 0, 0, 0, 0, 0x10, 0, 0]),
  infoHash: Uint8Array.from({ length: 20 }, (_, i) => i),
  peerId: Buffer.from('-TS0001-abcdefghijkl'),
};

const messages: PeerMessage[] = [
  { type: 'keep-alive' },
  { type: 'choke' },
  { type: 'unchoke' },
  { type: 'interested' },
  { type: 'not-interested' },
  { type: 'have', index: 0xfffffffe },
  { type: 'bitfield', bitfield: Uint8Array.from([0xff, 0x80]) },
  { type: 'request', index: 1, begin: 16384, length: 16384 },
  {
    type: 'piece',
    index: 2,
    begin: 32768,
    block: Uint8Array.from({ length: 300 }, (_, i) => i & 255),
  },
  { type: 'cancel', index: 1, begin: 16384, length: 16384 },
  { type: 'port', port: 6881 },
  { type: 'suggest', index: 7 },
  { type: 'have-all' },
  { type: 'have-none' },
  { type: 'reject', index: 3, begin: 0, length: 16384 },
  { type: 'allowed-fast', index: 9 },
  { type: 'extended', id: 0, payload: Buffer.from('d1:md6:ut_pexi1eee') },
  { type: 'unknown', id: 99, payload: Uint8Array.from([1, 2, 3]) },
];

const stream = Buffer.concat([encodeHandshake(handshake), ...messages.map(encodeMessage)]);

/** Plain data for comparison: views become arrays. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return [...value];
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

function decodeInChunks(bytes: Uint8Array, cuts: number[]): WireItem[] {
  const d = new WireDecoder();
  const out: WireItem[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    d.push(bytes.subarray(from, cut));
    out.push(...d.takeAll());
    from = cut;
  }
  return out;
}

describe('wire codec (BEP 3)', () => {
  const whole = decodeInChunks(stream, []);

  it('round-trips the handshake and every message type', () => {
    expect(whole).toHaveLength(1 + messages.length);
    expect(plain(whole)).toEqual(
      plain([
        { kind: 'handshake', handshake },
        ...messages.map((message) => ({ kind: 'message', message })),
      ]),
    );
  });

  it('decodes the same when the bytes are split at every offset (PW codec: incremental)', () => {
    const expected = plain(whole);
    for (let cut = 1; cut < stream.length; cut++)
      expect(plain(decodeInChunks(stream, [cut]))).toEqual(expected);
  });

  it('decodes the same fed one byte at a time', () => {
    const cuts = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
    expect(plain(decodeInChunks(stream, cuts))).toEqual(plain(whole));
  });

  it('a block inside one chunk is a view, not a copy', () => {
    const piece = encodeMessage({
      type: 'piece',
      index: 0,
      begin: 0,
      block: new Uint8Array(16384).fill(7),
    });
    const d = new WireDecoder({ expectHandshake: false });
    d.push(piece);
    const item = d.next();
    expect(
      item?.kind === 'message' && item.message.type === 'piece' && item.message.block.buffer,
    ).toBe((piece as Buffer).buffer);
  });

  it('closes on a 2^31 length prefix before buffering it (hostile: huge length)', () => {
    const d = new WireDecoder({ expectHandshake: false });
    expect(() => d.push(Uint8Array.from([0x80, 0, 0, 0]))).toThrow(ProtocolError);
  });

  it('refuses a wrong protocol name', () => {
    const bad = Buffer.from(encodeHandshake(handshake));
    bad[5] = 0x21;
    expect(() => new WireDecoder().push(bad)).toThrow(/BitTorrent protocol/);
    expect(() => new WireDecoder().push(Uint8Array.from([18]))).toThrow(/length 18/);
  });

  it('refuses fixed-size messages of the wrong size', () => {
    expect(() => decodeFrame(Buffer.from([4, 0, 0, 1]))).toThrow(
      /have message with 3 payload bytes/,
    );
    expect(() => decodeFrame(Buffer.from([6, 0]))).toThrow(/request/);
    expect(() => decodeFrame(Buffer.from([0, 1]))).toThrow(/choke/);
  });

  it('the piece header plus the block equals the whole piece message', () => {
    const block = Uint8Array.from([9, 8, 7]);
    const whole = encodeMessage({ type: 'piece', index: 5, begin: 16, block });
    expect(Buffer.concat([encodePieceHeader(5, 16, 3), block])).toEqual(Buffer.from(whole));
  });

  it('batched requests equal single requests', () => {
    const rs = [
      { index: 1, begin: 0, length: 16384 },
      { index: 2, begin: 16384, length: 100 },
    ];
    expect(Buffer.from(encodeRequests(rs))).toEqual(
      Buffer.concat(rs.map((r) => encodeMessage({ type: 'request', ...r }))),
    );
  });

  it('random bytes give messages or a ProtocolError, never another exception (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (bytes, withHandshake) => {
        const d = new WireDecoder({ expectHandshake: withHandshake, maxMessageBytes: 300 });
        try {
          d.push(bytes);
          d.takeAll();
        } catch (err) {
          expect(err).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
