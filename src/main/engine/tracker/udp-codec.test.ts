// BEP 15 packets as bytes: golden request vectors written out by hand, replies decoded from
// hand-written bytes, every prefix of a reply, and random bytes (fast-check).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_PEERS_PER_REPLY, TrackerError, type AnnounceRequest } from './http-announce';
import {
  decodeAnnounceReply,
  decodeConnectReply,
  decodeHeader,
  decodeScrapeReply,
  encodeAnnounce,
  encodeConnect,
  encodeScrape,
  encodeUrlData,
  udpKey,
} from './udp-codec';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const request: AnnounceRequest = {
  infoHash: Uint8Array.from({ length: 20 }, (_, i) => i),
  peerId: Buffer.from('-TS0100-abcdefghijkl'),
  port: 6881,
  downloaded: 0x01_0203_0405,
  left: 1,
  uploaded: 2 ** 40,
  event: 'started',
  key: 'cafebabe',
};

const ANNOUNCE_GOLDEN = `
  0102030405060708 00000001 deadbeef
  000102030405060708090a0b0c0d0e0f10111213
  2d5453303130302d6162636465666768696a6b6c
  0000000102030405 0000000000000001 0000010000000000
  00000002 00000000 cafebabe ffffffff 1ae1`;

describe('UDP tracker requests, byte for byte', () => {
  it('UT-01: connect is protocol id, action 0, transaction id (16 bytes)', () => {
    expect(encodeConnect(0x12345678).toString('hex')).toBe(
      '0000041727101980' + '00000000' + '12345678',
    );
    expect(encodeConnect(0xffffffff).subarray(12).toString('hex')).toBe('ffffffff');
  });

  it('UT-02: announce is 98 bytes in the BEP 15 layout, num_want -1 when unset', () => {
    const b = encodeAnnounce({
      connectionId: hex('0102030405060708'),
      transactionId: 0xdeadbeef,
      request,
    });
    expect(b.length).toBe(98);
    expect(b.toString('hex')).toBe(hex(ANNOUNCE_GOLDEN).toString('hex'));
  });

  it('UT-02: event codes 0 none, 1 completed, 2 started, 3 stopped; num_want and key as given', () => {
    const at = (r: Partial<AnnounceRequest>) =>
      encodeAnnounce({
        connectionId: new Uint8Array(8),
        transactionId: 1,
        request: { ...request, ...r },
      });
    expect(at({ event: undefined }).readUInt32BE(80)).toBe(0);
    expect(at({ event: 'completed' }).readUInt32BE(80)).toBe(1);
    expect(at({ event: 'started' }).readUInt32BE(80)).toBe(2);
    expect(at({ event: 'stopped' }).readUInt32BE(80)).toBe(3);
    expect(at({ numWant: 0 }).subarray(92, 96).toString('hex')).toBe('00000000');
    expect(at({ numWant: 80 }).subarray(92, 96).toString('hex')).toBe('00000050');
    expect(at({ key: '0000002a' }).subarray(88, 92).toString('hex')).toBe('0000002a');
    // Negative or fractional counters never reach the wire as nonsense.
    expect(at({ left: -5, uploaded: 1.9 }).subarray(64, 80).toString('hex')).toBe(
      '0000000000000000' + '0000000000000001',
    );
  });

  it('key: 8 hex digits are the 32-bit key itself; other text is hashed to 32 bits', () => {
    expect(udpKey('cafebabe')).toBe(0xcafebabe);
    expect(udpKey(undefined)).toBe(0);
    const hashed = udpKey('not hex at all');
    expect(hashed).toBe(udpKey('not hex at all'));
    expect(hashed).toBeGreaterThanOrEqual(0);
    expect(hashed).toBeLessThanOrEqual(0xffffffff);
  });

  it('BEP 41: the path and query follow as URLData options, split every 255 bytes', () => {
    const b = encodeAnnounce({
      connectionId: hex('0102030405060708'),
      transactionId: 0xdeadbeef,
      request,
      urlData: '/announce?passkey=s3cr3t',
    });
    expect(b.subarray(0, 98).toString('hex')).toBe(hex(ANNOUNCE_GOLDEN).toString('hex'));
    expect(b.subarray(98).toString('hex')).toBe(
      '0218' + Buffer.from('/announce?passkey=s3cr3t').toString('hex'),
    );
    expect(encodeUrlData('')).toHaveLength(0);
    const long = encodeUrlData('/' + 'x'.repeat(299));
    expect([long[0], long[1], long[257], long[258]]).toEqual([2, 255, 2, 45]);
    expect(long).toHaveLength(2 + 255 + 2 + 45);
  });

  it('UT-07: scrape is connection id, action 2, transaction id, then 20 bytes per hash', () => {
    const b = encodeScrape(hex('0102030405060708'), 1, [
      Buffer.alloc(20, 0xaa),
      Buffer.alloc(20, 0xbb),
    ]);
    expect(b.toString('hex')).toBe(
      '0102030405060708' + '00000002' + '00000001' + 'aa'.repeat(20) + 'bb'.repeat(20),
    );
    expect(() => encodeScrape(new Uint8Array(8), 1, [])).toThrow(RangeError);
    expect(() =>
      encodeScrape(
        new Uint8Array(8),
        1,
        Array.from({ length: 75 }, () => new Uint8Array(20)),
      ),
    ).toThrow(RangeError);
  });
});

describe('UDP tracker replies', () => {
  it('header: action and transaction id; fewer than 8 bytes is nothing', () => {
    expect(decodeHeader(hex('00000001 deadbeef'))).toEqual({
      action: 1,
      transactionId: 0xdeadbeef,
    });
    expect(decodeHeader(hex('00000001 deadbe'))).toBeNull();
  });

  it('UT-01: connect reply gives the 8-byte connection id; longer replies are fine', () => {
    expect(
      Buffer.from(decodeConnectReply(hex('00000000 12345678 1122334455667788'))).toString('hex'),
    ).toBe('1122334455667788');
    expect(decodeConnectReply(hex('00000000 12345678 1122334455667788 ffff'))).toHaveLength(8);
    expect(() => decodeConnectReply(hex('00000000 12345678 11223344556677'))).toThrow(
      'truncated UDP tracker reply (15 bytes, a connect reply has at least 16)',
    );
    expect(() => decodeConnectReply(hex('00000001 12345678 1122334455667788'))).toThrow(
      'UDP tracker answered our connect with action 1',
    );
  });

  it('UT-03: announce reply (IPv4): counts, 6-byte peers sanitised, a trailing partial entry ignored', () => {
    const reply = hex(`
      00000001 0000abcd 00000708 00000005 00000003
      7f000001 1ae1
      0a000002 0050
      00000000 1ae1
      e0000001 1ae1
      ffffffff 1ae1
      7f000002 0000
      7f0000`);
    expect(reply.length).toBe(20 + 6 * 6 + 3);
    expect(decodeAnnounceReply(reply, false)).toEqual({
      intervalSec: 1800,
      minIntervalSec: null,
      peers: [
        { ip: '127.0.0.1', port: 6881 },
        { ip: '10.0.0.2', port: 80 },
      ],
      complete: 3,
      incomplete: 5,
      warning: null,
      trackerId: null,
    });
  });

  it('UT-03: exactly 20 bytes is a reply without peers; 19 is truncated', () => {
    const head = '00000001 0000abcd 00000708 00000005 00000003';
    expect(decodeAnnounceReply(hex(head), false).peers).toEqual([]);
    expect(() => decodeAnnounceReply(hex(head).subarray(0, 19), false)).toThrow(
      'truncated UDP tracker reply (19 bytes, an announce reply has at least 20)',
    );
  });

  it('UT-03: announce reply over IPv6 has 18-byte peers', () => {
    const reply = hex(`
      00000001 00000001 0000003c ffffffff 00000001
      20010db8000000000000000000000001 1ae1
      00000000000000000000000000000001 0050
      ff020000000000000000000000000001 1ae1
      00000000000000000000000000000000 1ae1
      20010db8`);
    const r = decodeAnnounceReply(reply, true);
    expect(r.peers).toEqual([
      { ip: '2001:db8::1', port: 6881 },
      { ip: '::1', port: 80 },
    ]);
    // A negative counter is nonsense: unknown.
    expect([r.intervalSec, r.incomplete, r.complete]).toEqual([60, null, 1]);
  });

  it('intervals are clamped to 60 s … 2 h, and 0 or negative means 30 min', () => {
    const withInterval = (n: number) => {
      const b = hex('00000001 00000001 00000000 00000000 00000000');
      b.writeInt32BE(n, 8);
      return decodeAnnounceReply(b, false).intervalSec;
    };
    expect([withInterval(5), withInterval(0), withInterval(-1), withInterval(10 ** 6)]).toEqual([
      60, 1800, 1800, 7200,
    ]);
  });

  it('oversized: at most 2000 peers are kept from a 64 KB reply', () => {
    const n = 10_000;
    const b = Buffer.alloc(20 + 6 * n);
    b.writeUInt32BE(1, 0);
    for (let i = 0; i < n; i++) {
      b.writeUInt32BE(0x0a000000 + i + 1, 20 + 6 * i);
      b.writeUInt16BE(1000 + (i % 60000), 24 + 6 * i);
    }
    expect(decodeAnnounceReply(b, false).peers).toHaveLength(MAX_PEERS_PER_REPLY);
  });

  it("UT-06: an error reply is the tracker's words, sanitised and cut to 300 characters", () => {
    const err = Buffer.concat([hex('00000003 00000001'), Buffer.from('bad\x1b[31m\nid')]);
    expect(() => decodeAnnounceReply(err, false)).toThrow(
      new TrackerError('tracker said: bad [31m id'),
    );
    expect(() => decodeConnectReply(err)).toThrow('tracker said: bad [31m id');
    expect(() => decodeScrapeReply(err, 1)).toThrow('tracker said: bad [31m id');
    const long = Buffer.concat([hex('00000003 00000001'), Buffer.alloc(1000, 'x')]);
    let message = '';
    try {
      decodeAnnounceReply(long, false);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toBe(`tracker said: ${'x'.repeat(300)}`);
    expect(() => decodeAnnounceReply(hex('00000003 00000001'), false)).toThrow(
      'tracker said: (an error without a message)',
    );
  });

  it('UT-07: scrape reply is seeders, completed, leechers per hash, in order', () => {
    const reply = hex('00000002 00000009 00000005 0000000a 00000002 00000000 00000000 00000000');
    expect(decodeScrapeReply(reply, 2)).toEqual([
      { seeders: 5, completed: 10, leechers: 2 },
      { seeders: 0, completed: 0, leechers: 0 },
    ]);
    expect(() => decodeScrapeReply(reply.subarray(0, 30), 2)).toThrow(
      'truncated UDP scrape reply (30 bytes for 2 info-hashes)',
    );
  });

  it('every prefix of a valid reply is either the reply or a TrackerError, never a crash', () => {
    const announce = hex('00000001 00000001 00000708 00000005 00000003 7f0000011ae1 0a0000020050');
    for (let len = 0; len <= announce.length; len++) {
      const part = announce.subarray(0, len);
      if (len < 20) expect(() => decodeAnnounceReply(part, false)).toThrow(TrackerError);
      else expect(decodeAnnounceReply(part, false).peers).toHaveLength(Math.floor((len - 20) / 6));
    }
    const connect = hex('00000000 12345678 1122334455667788');
    for (let len = 0; len < connect.length; len++)
      expect(() => decodeConnectReply(connect.subarray(0, len))).toThrow(TrackerError);
  });
});

describe('fuzz: the decoders return sane values or throw TrackerError, nothing else', () => {
  const check = (bytes: Uint8Array): void => {
    decodeHeader(bytes);
    for (const attempt of [
      () => {
        expect(decodeConnectReply(bytes)).toHaveLength(8);
      },
      () => {
        for (const v6 of [false, true]) {
          const r = decodeAnnounceReply(bytes, v6);
          expect(r.peers.length).toBeLessThanOrEqual(MAX_PEERS_PER_REPLY);
          expect(r.intervalSec).toBeGreaterThanOrEqual(60);
          expect(r.intervalSec).toBeLessThanOrEqual(7200);
          for (const p of r.peers) {
            expect(p.port).toBeGreaterThan(0);
            expect(p.port).toBeLessThan(65536);
          }
          for (const c of [r.complete, r.incomplete])
            if (c !== null) expect(c).toBeGreaterThanOrEqual(0);
        }
      },
      () => {
        for (const e of decodeScrapeReply(bytes, 3))
          for (const c of [e.seeders, e.completed, e.leechers])
            if (c !== null) expect(c).toBeGreaterThanOrEqual(0);
      },
    ]) {
      try {
        attempt();
      } catch (e) {
        if (!(e instanceof TrackerError)) throw e;
        expect(e.message.length).toBeLessThanOrEqual(400);
      }
    }
  };

  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => check(b)),
      { numRuns: 3000 },
    );
  });

  it('random bytes behind each valid action header', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4 }),
        fc.uint8Array({ maxLength: 400 }),
        (action, tail) => {
          const head = Buffer.alloc(8);
          head.writeUInt32BE(action, 0);
          check(Buffer.concat([head, tail]));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
