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

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytesArb = fc.uint8Array({ maxLength: 64 });
const arbitraryMessage: fc.Arbitrary<PeerMessage> = fc.oneof(
  fc.constantFrom<PeerMessage>(
    { type: 'keep-alive' },
    { type: 'choke' },
    { type: 'unchoke' },
    { type: 'interested' },
    { type: 'not-interested' },
    { type: 'have-all' },
    { type: 'have-none' },
  ),
  fc.record({ type: fc.constantFrom('have', 'suggest', 'allowed-fast' as const), index: u32 }),
  fc.record({ type: fc.constant('bitfield' as const), bitfield: bytesArb }),
  fc.record({
    type: fc.constantFrom('request', 'cancel', 'reject' as const),
    index: u32,
    begin: u32,
    length: u32,
  }),
  fc.record({ type: fc.constant('piece' as const), index: u32, begin: u32, block: bytesArb }),
  fc.record({ type: fc.constant('port' as const), port: fc.integer({ min: 0, max: 65535 }) }),
  fc.record({
    type: fc.constant('extended' as const),
    id: fc.integer({ min: 0, max: 255 }),
    payload: bytesArb,
  }),
  fc.record({
    type: fc.constant('unknown' as const),
    // Ids the codec does not know: 10–12, 18–19, 21–255.
    id: fc.oneof(
      fc.integer({ min: 10, max: 12 }),
      fc.integer({ min: 18, max: 19 }),
      fc.integer({ min: 21, max: 255 }),
    ),
    payload: bytesArb,
  }),
);

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

  it('round-trips the handshake and every message type (PW-01, PW-04)', () => {
    expect(whole).toHaveLength(1 + messages.length);
    expect(plain(whole)).toEqual(
      plain([
        { kind: 'handshake', handshake },
        ...messages.map((message) => ({ kind: 'message', message })),
      ]),
    );
  });

  it('decodes the same when the bytes are split at every offset (PW-04, STYLE 9)', () => {
    const expected = plain(whole);
    for (let cut = 1; cut < stream.length; cut++)
      expect(plain(decodeInChunks(stream, [cut]))).toEqual(expected);
  });

  it('decodes the same fed one byte at a time (PW-04)', () => {
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

  it('survives a reused read buffer: items but blocks are copied, blocks are right until the next push', () => {
    // A socket reading into one shared buffer: each chunk lands at the start of the same memory,
    // which is scribbled over after its items are taken. Blocks are copied when taken (as the
    // block scheduler does); every other item is kept as the decoder gave it.
    const shared = Buffer.alloc(stream.length);
    const decodeTransient = (cuts: number[]): unknown => {
      const d = new WireDecoder();
      const kept: unknown[] = [];
      let from = 0;
      for (const cut of [...cuts, stream.length]) {
        stream.copy(shared, 0, from, cut);
        d.push(shared.subarray(0, cut - from), true);
        for (const item of d.takeAll())
          kept.push(item.kind === 'message' && item.message.type === 'piece' ? plain(item) : item);
        shared.fill(0xee);
        from = cut;
      }
      return plain(kept);
    };
    const expected = plain(whole);
    for (let cut = 1; cut < stream.length; cut++) expect(decodeTransient([cut])).toEqual(expected);
    const everyByte = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
    expect(decodeTransient(everyByte)).toEqual(expected);
  });

  it('completes blocks split across reads in two buffers used in turn, not in new memory each time', () => {
    const blocks = [1, 2, 3, 4].map((n) => new Uint8Array(16384).fill(n));
    const bytes = Buffer.concat(
      blocks.map((block, index) => encodeMessage({ type: 'piece', index, begin: 0, block })),
    );
    // Reads of 10,000 bytes end inside every block: each one is split across reads.
    const shared = Buffer.alloc(10_000);
    const d = new WireDecoder({ expectHandshake: false });
    const memory: ArrayBufferLike[] = [];
    for (let from = 0; from < bytes.length; from += shared.length) {
      const n = bytes.copy(shared, 0, from, from + shared.length);
      d.push(shared.subarray(0, n), true);
      for (const item of d.takeAll()) {
        if (item.kind !== 'message' || item.message.type !== 'piece')
          throw new Error('not a block');
        expect(item.message.block).toEqual(blocks[item.message.index]);
        memory.push(item.message.block.buffer);
      }
      shared.fill(0xee);
    }
    expect(memory).toHaveLength(4);
    expect(memory[0]).toBe(memory[2]);
    expect(memory[1]).toBe(memory[3]);
    expect(memory[0]).not.toBe(memory[1]);
    expect(memory).not.toContain(shared.buffer);
  });

  it('throws on a 2^31, 0x7FFFFFFF or 0xFFFFFFFF length prefix from the 4 bytes alone (PW-04, AD-27, PF-10)', () => {
    for (const prefix of [
      [0x80, 0, 0, 0],
      [0x7f, 0xff, 0xff, 0xff],
      [0xff, 0xff, 0xff, 0xff],
    ]) {
      const d = new WireDecoder({ expectHandshake: false });
      expect(() => d.push(Uint8Array.from(prefix))).toThrow(/exceeds the 1048589-byte limit/);
    }
    // Split prefix: still refused as soon as the fourth byte arrives.
    const d = new WireDecoder({ expectHandshake: false });
    d.push(Uint8Array.from([0x80, 0]));
    d.push(Uint8Array.from([0]));
    expect(() => d.push(Uint8Array.from([0]))).toThrow(ProtocolError);
  });

  it('accepts a message of exactly the limit and refuses one byte more', () => {
    const at = (length: number) => {
      const d = new WireDecoder({ expectHandshake: false, maxMessageBytes: 100 });
      const frame = Buffer.alloc(4 + length);
      frame.writeUInt32BE(length, 0);
      frame[4] = 99;
      d.push(frame);
      return d.next();
    };
    expect(at(100)).toMatchObject({ kind: 'message', message: { type: 'unknown', id: 99 } });
    expect(() => at(101)).toThrow(ProtocolError);
  });

  it('refuses a wrong protocol name as soon as its bytes arrive (PW-01, PW-02)', () => {
    const bad = Buffer.from(encodeHandshake(handshake));
    bad[5] = 0x21;
    expect(() => new WireDecoder().push(bad)).toThrow(/BitTorrent protocol/);
    // Six bytes are enough to know: no waiting for the whole 68-byte handshake.
    expect(() => new WireDecoder().push(bad.subarray(0, 6))).toThrow(/BitTorrent protocol/);
    expect(() => new WireDecoder().push(Uint8Array.from([18]))).toThrow(/length 18/);
    // An HTTP request on the peer port is not a handshake.
    expect(() => new WireDecoder().push(Buffer.from('GET / HTTP/1.1\r\n'))).toThrow(ProtocolError);
  });

  it('takes the handshake without the extension bits mattering (PW-01: ignore unknown reserved bits)', () => {
    const d = new WireDecoder();
    d.push(encodeHandshake({ ...handshake, reserved: new Uint8Array(8).fill(0xff) }));
    const item = d.next();
    expect(item?.kind === 'handshake' && [...item.handshake.reserved]).toEqual(Array(8).fill(0xff));
  });

  it('refuses fixed-size messages of the wrong size (PW-05 table)', () => {
    // id → the only payload size it may have (after the id byte).
    const sizes: [number, number][] = [
      [0, 0],
      [1, 0],
      [2, 0],
      [3, 0],
      [4, 4],
      [6, 12],
      [8, 12],
      [9, 2],
      [0x0d, 4],
      [0x0e, 0],
      [0x0f, 0],
      [0x10, 12],
      [0x11, 4],
    ];
    for (const [id, size] of sizes) {
      expect(() => decodeFrame(Buffer.alloc(1 + size, 0).fill(id, 0, 1))).not.toThrow();
      for (const wrong of [size - 1, size + 1, size + 13].filter((n) => n >= 0))
        expect(
          () => decodeFrame(Buffer.alloc(1 + wrong).fill(id, 0, 1)),
          `id ${id} size ${wrong}`,
        ).toThrow(ProtocolError);
    }
    expect(() => decodeFrame(Buffer.from([4, 0, 0, 1]))).toThrow(
      /have message with 3 payload bytes/,
    );
    // piece needs index + begin; extended needs its extension id (PW-05: ≥ 2 bytes).
    expect(() => decodeFrame(Buffer.from([7, 0, 0, 0, 0, 0, 0, 0]))).toThrow(/piece/);
    expect(decodeFrame(Buffer.from([7, 0, 0, 0, 1, 0, 0, 0, 2]))).toMatchObject({
      type: 'piece',
      index: 1,
      begin: 2,
    });
    expect(() => decodeFrame(Buffer.from([20]))).toThrow(/extension id/);
    expect(decodeFrame(Buffer.from([20, 0]))).toMatchObject({ type: 'extended', id: 0 });
  });

  it('an unknown id is a message of its own, not an error (PW-06)', () => {
    expect(plain(decodeFrame(Buffer.from([99, 1, 2, 3, 4, 5])))).toEqual({
      type: 'unknown',
      id: 99,
      payload: [1, 2, 3, 4, 5],
    });
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

  it('any list of messages round-trips, cut into random chunks (property, PW-04)', () => {
    fc.assert(
      fc.property(
        fc.array(arbitraryMessage, { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (list, rawCuts) => {
          const bytes = Buffer.concat([encodeHandshake(handshake), ...list.map(encodeMessage)]);
          const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort(
            (a, b) => a - b,
          );
          const got = decodeInChunks(bytes, cuts);
          expect(plain(got)).toEqual(
            plain([
              { kind: 'handshake', handshake },
              ...list.map((message) => ({ kind: 'message', message })),
            ]),
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('any list of messages round-trips through a reused read buffer, cut anywhere (property)', () => {
    // As a socket reading into one shared buffer: every chunk lands at the start of the same
    // memory, scribbled over once its items are taken; blocks are copied when taken.
    fc.assert(
      fc.property(
        fc.array(arbitraryMessage, { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (list, rawCuts) => {
          const bytes = Buffer.concat([encodeHandshake(handshake), ...list.map(encodeMessage)]);
          const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort(
            (a, b) => a - b,
          );
          const shared = Buffer.alloc(bytes.length);
          const d = new WireDecoder();
          const kept: unknown[] = [];
          let from = 0;
          for (const cut of [...cuts, bytes.length]) {
            bytes.copy(shared, 0, from, cut);
            d.push(shared.subarray(0, cut - from), true);
            for (const item of d.takeAll())
              kept.push(
                item.kind === 'message' && item.message.type === 'piece' ? plain(item) : item,
              );
            shared.fill(0xee);
            from = cut;
          }
          expect(plain(kept)).toEqual(
            plain([
              { kind: 'handshake', handshake },
              ...list.map((message) => ({ kind: 'message', message })),
            ]),
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a valid stream with bytes flipped gives messages or a ProtocolError (fuzz, seeded with real bytes)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (flips, rawCuts) => {
          const bytes = Buffer.from(stream);
          for (const [at, value] of flips) bytes[at % bytes.length] = value;
          const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort(
            (a, b) => a - b,
          );
          try {
            decodeInChunks(bytes, cuts);
          } catch (err) {
            expect(err).toBeInstanceOf(ProtocolError);
          }
        },
      ),
      { numRuns: 1000 },
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
