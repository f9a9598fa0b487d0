import { describe, expect, it } from 'vitest';
import { addressKey, PeerDirectory } from './peer-directory';

describe('PeerDirectory', () => {
  it('formats IPv4 and IPv6 addresses as people write them', () => {
    expect(addressKey({ ip: '127.0.0.2', port: 6881 })).toBe('127.0.0.2:6881');
    expect(addressKey({ ip: '::1', port: 6881 })).toBe('[::1]:6881');
  });

  it('hands out each address once, skipping invalid ports and duplicates', () => {
    const d = new PeerDirectory({ now: () => 0 });
    expect(
      d.add(
        [
          { ip: '10.0.0.1', port: 1 },
          { ip: '10.0.0.1', port: 1 },
          { ip: '10.0.0.2', port: 0 },
          { ip: '10.0.0.3', port: 70000 },
        ],
        'tracker',
      ),
    ).toBe(1);
    expect(d.takeDialable(10).map((p) => p.key)).toEqual(['10.0.0.1:1']);
    expect(d.takeDialable(10)).toEqual([]);
  });

  it('retries failed addresses with exponential back-off and forgets them in the end', () => {
    let now = 0;
    const d = new PeerDirectory({ now: () => now, retryBaseMs: 1000, maxFailures: 3 });
    d.add([{ ip: '10.0.0.1', port: 1 }], 'tracker');
    const [p] = d.takeDialable(1);
    d.markClosed(p!.key, true);
    expect(d.takeDialable(1)).toEqual([]);
    now = 1000;
    expect(d.takeDialable(1)).toHaveLength(1);
    d.markClosed(p!.key, true);
    now = 2999;
    expect(d.takeDialable(1)).toEqual([]);
    now = 3000;
    expect(d.takeDialable(1)).toHaveLength(1);
    d.markClosed(p!.key, true);
    expect(d.size).toBe(0);
  });

  it('never hands out a banned address again', () => {
    const d = new PeerDirectory({ now: () => 0 });
    d.add([{ ip: '10.0.0.1', port: 1 }], 'tracker');
    const [p] = d.takeDialable(1);
    d.ban(p!.key);
    d.markClosed(p!.key, true);
    d.resetBackoff();
    d.add([{ ip: '10.0.0.1', port: 1 }], 'tracker');
    expect(d.takeDialable(5)).toEqual([]);
    expect(d.isBanned(p!.key)).toBe(true);
  });

  it('lets peer exchange fill at most half of the list (PX-03)', () => {
    const d = new PeerDirectory({ maxKnown: 100 });
    const many = (n: number, third: number) =>
      Array.from({ length: n }, (_, i) => ({ ip: `10.${third}.${i}.1`, port: 6881 }));
    for (let round = 0; round < 10; round++) d.add(many(50, round), 'pex');
    expect(d.countBySource().get('pex')).toBe(50);
    expect(d.add(many(60, 99), 'tracker')).toBe(50);
    expect(d.countBySource()).toEqual(
      new Map([
        ['pex', 50],
        ['tracker', 50],
      ]),
    );
  });

  it('bounds how many addresses it remembers', () => {
    const d = new PeerDirectory({ maxKnown: 100 });
    const flood = Array.from({ length: 10_000 }, (_, i) => ({
      ip: `10.${i >> 8}.${i & 255}.1`,
      port: 6881,
    }));
    expect(d.add(flood, 'tracker')).toBe(100);
    expect(d.size).toBe(100);
  });
});
