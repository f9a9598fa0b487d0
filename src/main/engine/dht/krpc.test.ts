import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bencode } from '../bencode/encode';
import {
  canonicalIp,
  decodeCompactNodes,
  decodeKrpc,
  encodeCompactNodes,
  encodeKrpc,
  type KrpcMessage,
} from './krpc';

const b = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));
const text = (u: Uint8Array): string => Buffer.from(u).toString('latin1');
const t = b('aa');
const ID_A = b('abcdefghij0123456789');
const ID_M = b('mnopqrstuvwxyz123456');

/** The examples of BEP 5 §KRPC Protocol, byte for byte (DH-01). */
const vectors: { name: string; wire: string; msg: KrpcMessage }[] = [
  {
    name: 'ping query',
    wire: 'd1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe',
    msg: { t, y: 'q', query: { method: 'ping', id: ID_A } },
  },
  {
    name: 'ping response',
    wire: 'd1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re',
    msg: { t, y: 'r', response: { id: ID_M } },
  },
  {
    name: 'error',
    wire: 'd1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee',
    msg: { t, y: 'e', error: { code: 201, message: 'A Generic Error Ocurred' } },
  },
  {
    name: 'find_node query',
    wire: 'd1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe',
    msg: { t, y: 'q', query: { method: 'find_node', id: ID_A, target: ID_M } },
  },
  {
    name: 'get_peers query',
    wire: 'd1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe',
    msg: { t, y: 'q', query: { method: 'get_peers', id: ID_A, infoHash: ID_M } },
  },
  {
    name: 'get_peers response with peers',
    wire: 'd1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re',
    msg: {
      t,
      y: 'r',
      response: {
        id: ID_A,
        token: b('aoeusnth'),
        values: [
          { ip: '97.120.106.101', port: 0x2e75 },
          { ip: '105.100.104.116', port: 0x6e6d },
        ],
      },
    },
  },
  {
    name: 'announce_peer query (implied_port)',
    wire: 'd1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe',
    msg: {
      t,
      y: 'q',
      query: {
        method: 'announce_peer',
        id: ID_A,
        infoHash: ID_M,
        port: 6881,
        token: b('aoeusnth'),
        impliedPort: true,
      },
    },
  },
  {
    name: 'announce_peer query (explicit port)',
    wire: 'd1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe',
    msg: {
      t,
      y: 'q',
      query: {
        method: 'announce_peer',
        id: ID_A,
        infoHash: ID_M,
        port: 6881,
        token: b('aoeusnth'),
        impliedPort: false,
      },
    },
  },
  {
    name: 'announce_peer response',
    wire: 'd1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re',
    msg: { t, y: 'r', response: { id: ID_M } },
  },
];

describe('KRPC byte vectors from BEP 5 (DH-01)', () => {
  for (const v of vectors) {
    it(`encodes the ${v.name}`, () => {
      expect(text(encodeKrpc(v.msg))).toBe(v.wire);
    });
    it(`decodes the ${v.name}`, () => {
      expect(decodeKrpc(b(v.wire))).toEqual(v.msg);
    });
  }

  it("refuses BEP 5's find_node example as printed: 'def456...' is not whole 26-byte nodes", () => {
    expect(
      decodeKrpc(b('d1:rd2:id20:0123456789abcdefghij5:nodes9:def456...e1:t2:aa1:y1:re')),
    ).toBeNull();
    expect(
      decodeKrpc(
        b('d1:rd2:id20:abcdefghij01234567895:nodes9:def456...5:token8:aoeusnthe1:t2:aa1:y1:re'),
      ),
    ).toBeNull();
  });

  it('decodes a find_node response with two real compact nodes', () => {
    const nodes = [
      { id: ID_M, ip: '127.0.0.5', port: 6881 },
      { id: ID_A, ip: '10.1.2.3', port: 65535 },
    ];
    const wire = bencode({ t, y: 'r', r: { id: ID_A, nodes: encodeCompactNodes(nodes) } });
    expect(decodeKrpc(wire)).toEqual({ t, y: 'r', response: { id: ID_A, nodes } });
    expect(decodeCompactNodes(encodeCompactNodes(nodes))).toEqual(nodes);
  });

  it('carries IPv6 nodes (nodes6), 18-byte values and want (BEP 32)', () => {
    const nodes6 = [
      { id: ID_M, ip: '::1', port: 6881 },
      { id: ID_A, ip: '2001:db8::8:800:200c:417a', port: 1 },
    ];
    const values = [
      { ip: '2001:db8::1', port: 51413 },
      { ip: '10.0.0.1', port: 6881 },
    ];
    const msg: KrpcMessage = {
      t,
      y: 'r',
      response: { id: ID_A, nodes6, values, token: b('tok') },
    };
    const wire = encodeKrpc(msg);
    expect(decodeKrpc(wire)).toEqual(msg);
    expect(decodeCompactNodes(encodeCompactNodes(nodes6, true), true)).toEqual(nodes6);
    // One family per list: an IPv6 node is left out of `nodes`, an IPv4 one out of `nodes6`.
    expect(encodeCompactNodes(nodes6).length).toBe(0);
    expect(encodeCompactNodes([{ id: ID_A, ip: '10.0.0.1', port: 1 }], true).length).toBe(0);
    expect(canonicalIp('2001:0DB8:0000::0001')).toBe('2001:db8::1');
    expect(canonicalIp('10.0.0.1')).toBe('10.0.0.1');
    expect(canonicalIp('example.org')).toBeNull();
    // Canonical text whatever the input spelling.
    const spelled = { id: ID_A, ip: '2001:0DB8:0:0:0:0:0:1', port: 2 };
    expect(decodeCompactNodes(encodeCompactNodes([spelled], true), true)).toEqual([
      { id: ID_A, ip: '2001:db8::1', port: 2 },
    ]);
    expect(
      decodeKrpc(
        b(
          'd1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz1234564:wantl2:n42:n62:n9ee1:q9:find_node1:t2:aa1:y1:qe',
        ),
      ),
    ).toEqual({
      t,
      y: 'q',
      query: { method: 'find_node', id: ID_A, target: ID_M, want: ['n4', 'n6'] },
    });
    expect(
      decodeKrpc(
        b(
          'd1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz1234564:wanti1ee1:q9:find_node1:t2:aa1:y1:qe',
        ),
      ),
    ).toBeNull();
    expect(
      decodeKrpc(b(`d1:rd2:id20:abcdefghij01234567896:nodes637:${'x'.repeat(37)}e1:t2:aa1:y1:re`)),
    ).toBeNull();
  });

  it('reads the BEP 43 read-only flag', () => {
    expect(
      decodeKrpc(b('d1:ad2:id20:abcdefghij0123456789e1:q4:ping2:roi1e1:t2:aa1:y1:qe')),
    ).toEqual({ t, ro: true, y: 'q', query: { method: 'ping', id: ID_A } });
    expect(
      decodeKrpc(b('d1:ad2:id20:abcdefghij0123456789e1:q4:ping2:roi0e1:t2:aa1:y1:qe')),
    ).toEqual({ t, y: 'q', query: { method: 'ping', id: ID_A } });
    expect(
      decodeKrpc(b('d1:ad2:id20:abcdefghij0123456789e1:q4:ping2:ro1:11:t2:aa1:y1:qe')),
    ).toBeNull();
    expect(text(encodeKrpc({ t, ro: true, y: 'q', query: { method: 'ping', id: ID_A } }))).toBe(
      'd1:ad2:id20:abcdefghij0123456789e1:q4:ping2:roi1e1:t2:aa1:y1:qe',
    );
  });

  it('keeps the version field and answers unknown methods as such', () => {
    expect(
      decodeKrpc(b('d1:ad2:id20:abcdefghij0123456789e1:q5:vote!1:t2:aa1:v4:UT011:y1:qe')),
    ).toEqual({ t, v: b('UT01'), y: 'q', query: { method: 'unknown', name: 'vote!', id: ID_A } });
  });
});

describe('KRPC decoder refuses malformed messages (DH-01, DH-02, DH-04)', () => {
  const bad: [string, string][] = [
    ['two dicts in one datagram', 'd1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:red1:t2:aae'],
    ['trailing bytes', 'd1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:rex'],
    ['not a dict', 'l1:ae'],
    ['missing t', 'd1:rd2:id20:mnopqrstuvwxyz123456e1:y1:re'],
    ['t not a string', 'd1:rd2:id20:mnopqrstuvwxyz123456e1:ti1e1:y1:re'],
    ['missing y', 'd1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aae'],
    ['unknown y', 'd1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:xe'],
    ['19-byte id', 'd1:rd2:id19:mnopqrstuvwxyz12345e1:t2:aa1:y1:re'],
    ['21-byte id', 'd1:ad2:id21:abcdefghij0123456789Xe1:q4:ping1:t2:aa1:y1:qe'],
    ['query without a', 'd1:q4:ping1:t2:aa1:y1:qe'],
    ['find_node without target', 'd1:ad2:id20:abcdefghij0123456789e1:q9:find_node1:t2:aa1:y1:qe'],
    [
      'announce_peer without token',
      'd1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti6881ee1:q13:announce_peer1:t2:aa1:y1:qe',
    ],
    [
      'announce_peer with port 0 and no implied_port',
      'd1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti0e5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe',
    ],
    [
      'announce_peer with port 70000',
      'd1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti70000e5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe',
    ],
    [
      'values entry of 5 bytes',
      'd1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl5:axje.ee1:t2:aa1:y1:re',
    ],
    ['values not a list', 'd1:rd2:id20:abcdefghij01234567896:values6:axje.ue1:t2:aa1:y1:re'],
    ['error with one element', 'd1:eli201ee1:t2:aa1:y1:ee'],
    ['error code not an integer', 'd1:el3:abc3:abce1:t2:aa1:y1:ee'],
    ['non-canonical integer', 'd1:eli0201e1:xe1:t2:aa1:y1:ee'],
    ['empty datagram', ''],
  ];
  for (const [name, wire] of bad) {
    it(`drops ${name}`, () => expect(decodeKrpc(b(wire))).toBeNull());
  }

  it('drops oversized datagrams and deep nesting', () => {
    expect(decodeKrpc(new Uint8Array(9000).fill(0x64))).toBeNull();
    expect(decodeKrpc(b(`${'l'.repeat(50)}${'e'.repeat(50)}`))).toBeNull();
  });
});

describe('KRPC decoder fuzz (DH-04)', () => {
  const id = fc.uint8Array({ minLength: 20, maxLength: 20 });
  const tid = fc.uint8Array({ minLength: 1, maxLength: 8 });
  const port = fc.integer({ min: 1, max: 65535 });
  const ip = fc.ipV4();
  // IPv6 in the canonical text the decoder produces.
  const ip6 = fc
    .uint8Array({ minLength: 16, maxLength: 16 })
    .map(
      (raw) =>
        decodeCompactNodes(Uint8Array.from([...new Uint8Array(20), ...raw, 0, 1]), true)![0]!.ip,
    );
  const want = fc.subarray(['n4', 'n6'] as ('n4' | 'n6')[], { minLength: 1 });
  const message: fc.Arbitrary<KrpcMessage> = fc.oneof(
    fc.record({
      t: tid,
      y: fc.constant('q' as const),
      query: fc.oneof(
        fc.record({ method: fc.constant('ping' as const), id }),
        fc.record(
          { method: fc.constant('find_node' as const), id, target: id, want },
          { requiredKeys: ['method', 'id', 'target'] },
        ),
        fc.record(
          { method: fc.constant('get_peers' as const), id, infoHash: id, want },
          { requiredKeys: ['method', 'id', 'infoHash'] },
        ),
        fc.record({
          method: fc.constant('announce_peer' as const),
          id,
          infoHash: id,
          port,
          token: fc.uint8Array({ maxLength: 20 }),
          impliedPort: fc.boolean(),
        }),
      ),
    }),
    fc.record(
      {
        t: tid,
        y: fc.constant('r' as const),
        response: fc.record(
          {
            id,
            nodes: fc.array(fc.record({ id, ip, port }), { maxLength: 8 }),
            nodes6: fc.array(fc.record({ id, ip: ip6, port }), { maxLength: 8 }),
            values: fc.array(fc.record({ ip: fc.oneof(ip, ip6), port }), { maxLength: 20 }),
            token: fc.uint8Array({ minLength: 1, maxLength: 20 }),
          },
          { requiredKeys: ['id'] },
        ),
      },
      { requiredKeys: ['t', 'y', 'response'] },
    ),
    fc.record({
      t: tid,
      y: fc.constant('e' as const),
      error: fc.record({ code: fc.integer({ min: 201, max: 204 }), message: fc.string() }),
    }),
  );

  it('round-trips every message it can encode', () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(decodeKrpc(encodeKrpc(m))).toEqual(m);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        decodeKrpc(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on mutated valid messages, and what it accepts is well-formed', () => {
    fc.assert(
      fc.property(
        message,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        (m, flips, cut) => {
          const bytes = Uint8Array.from(encodeKrpc(m));
          for (const [at, value] of flips) bytes[at % bytes.length] = value;
          for (const input of [bytes, bytes.subarray(0, cut % (bytes.length + 1))]) {
            const out = decodeKrpc(input);
            if (out?.y === 'q') expect(out.query.id.length).toBe(20);
            if (out?.y === 'r') {
              expect(out.response.id.length).toBe(20);
              for (const n of out.response.nodes ?? []) expect(n.id.length).toBe(20);
            }
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
