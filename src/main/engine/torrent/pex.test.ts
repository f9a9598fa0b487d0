import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePexMessage, encodePexMessage, MAX_PEX_PEERS_IN, PexSender } from './pex';
import type { PeerAddress } from './peer-directory';

const peer = (i: number): PeerAddress => ({ ip: `10.0.${i >> 8}.${i & 255}`, port: 6881 });

describe('PEX messages (BEP 11)', () => {
  it('encodes IPv4 and IPv6 peers in their own keys, with one flag byte per added peer', () => {
    const bytes = encodePexMessage({
      added: [
        { ip: '1.2.3.4', port: 0x1ae1 },
        { ip: '::1', port: 1 },
      ],
      dropped: [{ ip: '5.6.7.8', port: 2 }],
    });
    expect(Buffer.from(bytes).toString('latin1')).toBe(
      'd5:added6:\x01\x02\x03\x04\x1a\xe1' +
        '7:added.f1:\x00' +
        '6:added618:' +
        '\x00'.repeat(15) +
        '\x01\x00\x01' +
        '8:added6.f1:\x00' +
        '7:dropped6:\x05\x06\x07\x08\x00\x02' +
        '8:dropped60:e',
    );
    expect(decodePexMessage(bytes)).toEqual({
      added: [
        { ip: '1.2.3.4', port: 6881 },
        { ip: '::1', port: 1 },
      ],
      dropped: [{ ip: '5.6.7.8', port: 2 }],
    });
  });

  it('takes at most 50 added peers, one port per IP, and skips misaligned lists (PX-03)', () => {
    const many = Array.from({ length: 5000 }, (_, i) => peer(i));
    const decoded = decodePexMessage(encodePexMessage({ added: many, dropped: [] }))!;
    expect(decoded.added).toHaveLength(MAX_PEX_PEERS_IN);
    const samePort = encodePexMessage({
      added: [
        { ip: '1.1.1.1', port: 1 },
        { ip: '1.1.1.1', port: 2 },
      ],
      dropped: [],
    });
    expect(decodePexMessage(samePort)!.added).toEqual([{ ip: '1.1.1.1', port: 1 }]);
    expect(decodePexMessage(Buffer.from('d5:added5:abcdee'))).toEqual({ added: [], dropped: [] });
    expect(decodePexMessage(Buffer.from('i1e'))).toBeNull();
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => void decodePexMessage(b)));
  });
});

describe('PexSender (PX-02)', () => {
  it('sends only changes: everyone first, then who joined and who left, each at most 50', () => {
    const sender = new PexSender();
    const connected = new Map(Array.from({ length: 120 }, (_, i) => [`k${i}`, peer(i)]));
    // The first message is exempt from the limit.
    expect(sender.next(connected)!.added).toHaveLength(120);
    expect(sender.next(connected)).toBeNull();
    for (let i = 0; i < 70; i++) connected.delete(`k${i}`);
    for (let i = 200; i < 260; i++) connected.set(`k${i}`, peer(i));
    const second = sender.next(connected)!;
    expect(second.added).toHaveLength(50);
    expect(second.dropped).toHaveLength(50);
    const third = sender.next(connected)!;
    expect(third.added).toHaveLength(10);
    expect(third.dropped).toHaveLength(20);
    // Never the same peer added and dropped in one message.
    const addedKeys = new Set(third.added.map((a) => a.ip));
    expect(third.dropped.some((d) => addedKeys.has(d.ip))).toBe(false);
  });
});
