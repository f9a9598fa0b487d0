import { describe, expect, it } from 'vitest';
import { bdecode } from '../bencode/decode';
import { bencode } from '../bencode/encode';
import { PeerStore } from './peer-store';
import { IpRateLimiter } from './rate-limit';
import { TOKEN_ROTATE_MS, TokenIssuer } from './tokens';
import { torrentNodes } from './torrent-nodes';

function clock(start = 5_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe('announce tokens (DH-03)', () => {
  it('are accepted from the same IP for 5 to 10 minutes and refused from another IP', () => {
    const c = clock();
    const tokens = new TokenIssuer(c.now);
    const token = tokens.issue('10.0.0.1');
    expect(tokens.check('10.0.0.1', token)).toBe(true);
    expect(tokens.check('10.0.0.2', token)).toBe(false);
    c.t += TOKEN_ROTATE_MS - 1;
    expect(tokens.check('10.0.0.1', token)).toBe(true);
    c.t += 1; // rotated once: the previous secret is still accepted
    expect(tokens.check('10.0.0.1', token)).toBe(true);
    expect(tokens.issue('10.0.0.1')).not.toEqual(token);
    c.t += TOKEN_ROTATE_MS; // rotated twice: gone
    expect(tokens.check('10.0.0.1', token)).toBe(false);
  });

  it('expire after a long idle time even without traffic in between', () => {
    const c = clock();
    const tokens = new TokenIssuer(c.now);
    const token = tokens.issue('10.0.0.1');
    c.t += 3 * TOKEN_ROTATE_MS;
    expect(tokens.check('10.0.0.1', token)).toBe(false);
  });

  it('refuse tokens of the wrong length or garbage', () => {
    const tokens = new TokenIssuer();
    expect(tokens.check('10.0.0.1', new Uint8Array(0))).toBe(false);
    expect(tokens.check('10.0.0.1', new Uint8Array(8))).toBe(false);
    expect(tokens.check('10.0.0.1', new Uint8Array(20))).toBe(false);
  });
});

describe('PeerStore', () => {
  const hash = (n: number) => new Uint8Array(20).fill(n);

  it('keeps announced peers for 30 minutes, re-announces refresh them', () => {
    const c = clock();
    const store = new PeerStore({ now: c.now });
    store.add(hash(1), { ip: '10.0.0.1', port: 1 });
    c.t += 20 * 60_000;
    store.add(hash(1), { ip: '10.0.0.2', port: 2 });
    store.add(hash(1), { ip: '10.0.0.1', port: 1 });
    expect(store.size()).toBe(2);
    c.t += 20 * 60_000;
    expect(store.get(hash(1)).length).toBe(2);
    c.t += 11 * 60_000;
    expect(store.get(hash(1))).toEqual([]);
    expect(store.size()).toBe(0);
    expect(store.hashCount()).toBe(0);
  });

  it('caps peers per hash (oldest go) and in total (new ones refused)', () => {
    const store = new PeerStore({ maxPerHash: 3, maxTotal: 5 });
    for (let i = 1; i <= 5; i++) store.add(hash(1), { ip: `10.0.0.${i}`, port: i });
    expect(
      store
        .get(hash(1), 10)
        .map((p) => p.port)
        .sort(),
    ).toEqual([3, 4, 5]);
    store.add(hash(2), { ip: '10.0.1.1', port: 1 });
    store.add(hash(2), { ip: '10.0.1.2', port: 2 });
    expect(store.add(hash(3), { ip: '10.0.2.1', port: 1 })).toBe(false);
    expect(store.size()).toBe(5);
    expect(store.get(hash(1), 2).length).toBe(2);
  });
});

describe('IpRateLimiter (DH-04)', () => {
  it('allows a burst, then the sustained rate, per IP', () => {
    const c = clock();
    const limiter = new IpRateLimiter({ perSecond: 10, burst: 20 }, c.now);
    let allowed = 0;
    for (let i = 0; i < 1000; i++) if (limiter.allow('10.0.0.1')) allowed++;
    expect(allowed).toBe(20);
    expect(limiter.allow('10.0.0.2')).toBe(true);
    c.t += 1000;
    allowed = 0;
    for (let i = 0; i < 1000; i++) if (limiter.allow('10.0.0.1')) allowed++;
    expect(allowed).toBe(10);
  });

  it('tracks a bounded number of IPs', () => {
    const limiter = new IpRateLimiter({ perSecond: 1, burst: 1, maxIps: 100 });
    for (let i = 0; i < 10_000; i++) limiter.allow(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
    expect(limiter.trackedIps()).toBe(100);
  });
});

describe("a trackerless torrent's nodes (DH-05)", () => {
  it('reads [host, port] pairs and skips malformed ones', () => {
    const value = bdecode(
      bencode([
        ['127.0.0.1', 6881],
        ['dht.example.org', 6882],
        ['127.0.0.1'],
        ['../etc', 1],
        ['127.0.0.1', 0],
        [6881, '127.0.0.1'],
        ['::1', 70000],
      ]),
    ).value;
    expect(torrentNodes(value)).toEqual([
      { host: '127.0.0.1', port: 6881 },
      { host: 'dht.example.org', port: 6882 },
    ]);
    expect(torrentNodes(undefined)).toEqual([]);
    expect(torrentNodes(5)).toEqual([]);
  });
});
