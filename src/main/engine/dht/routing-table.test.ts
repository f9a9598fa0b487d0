import { describe, expect, it } from 'vitest';
import { bigIntToId, distance, GOOD_FOR_MS, idToBigInt, K, RoutingTable } from './routing-table';

/** An id whose first byte is `first` and the rest `fill`. */
const id = (first: number, fill = 0, last = 0): Uint8Array => {
  const out = new Uint8Array(20).fill(fill);
  out[0] = first;
  out[19] = last;
  return out;
};
const contact = (i: Uint8Array, n: number) => ({
  id: i,
  ip: `10.0.${n >> 8}.${n & 255}`,
  port: 6881,
});

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe('RoutingTable (DH-02)', () => {
  it('holds K nodes in its one bucket, then splits the bucket holding our own id', () => {
    const c = clock();
    const table = new RoutingTable(id(0x00), c.now); // our id is in the low half
    for (let i = 0; i < K; i++)
      expect(table.insert(contact(id(0x80 + i), i), 'response').added).toBe(true);
    expect(table.bucketCount()).toBe(1);
    // The 9th node makes the bucket split: [0, 2^159) is ours, [2^159, 2^160) holds the 8.
    expect(table.insert(contact(id(0x01), 100), 'response').added).toBe(true);
    expect(table.bucketCount()).toBe(2);
    expect(table.describe().map((b) => b.size)).toEqual([1, 8]);
    expect(table.size()).toBe(9);
  });

  it('refuses a newcomer to a full bucket that does not hold our id, and asks to ping questionable nodes', () => {
    const c = clock();
    const table = new RoutingTable(id(0x00), c.now);
    for (let i = 0; i < K; i++) table.insert(contact(id(0x80 + i), i), 'response');
    table.insert(contact(id(0x01), 100), 'response'); // split
    // All 8 in the high bucket are good: the newcomer waits as a replacement, nobody to ping.
    let r = table.insert(contact(id(0xf0), 200), 'response');
    expect(r).toEqual({ added: false, ping: [] });
    expect(table.describe()[1]).toMatchObject({ size: 8, replacements: 1 });
    // 15 minutes later they are questionable: the caller is asked to ping them, oldest first.
    c.t += GOOD_FOR_MS;
    r = table.insert(contact(id(0xf1), 201), 'response');
    expect(r.added).toBe(false);
    expect(r.ping.length).toBe(K);
    expect(table.get(id(0xf1))).toBeUndefined();
  });

  it('replaces a node that failed twice with the newest replacement', () => {
    const c = clock();
    const table = new RoutingTable(id(0x00), c.now);
    for (let i = 0; i < K; i++) table.insert(contact(id(0x80 + i), i), 'response');
    table.insert(contact(id(0x01), 100), 'response');
    table.insert(contact(id(0xf0), 200), 'response'); // replacement candidate
    table.failed(id(0x83));
    expect(table.get(id(0x83))).toBeDefined(); // one failure: questionable, kept
    expect(table.status(table.get(id(0x83))!)).toBe('questionable');
    table.failed(id(0x83));
    expect(table.get(id(0x83))).toBeUndefined();
    expect(table.get(id(0xf0))).toBeDefined();
    expect(table.size()).toBe(9);
  });

  it('lets a newcomer take the slot of a bad node directly', () => {
    const c = clock();
    const table = new RoutingTable(id(0x00), c.now);
    for (let i = 0; i < K; i++) table.insert(contact(id(0x80 + i), i), 'response');
    table.insert(contact(id(0x01), 100), 'response');
    const bad = table.get(id(0x85))!;
    bad.failures = 2; // bad, but no replacement was waiting when it failed
    expect(table.insert(contact(id(0xf5), 300), 'response').added).toBe(true);
    expect(table.get(id(0x85))).toBeUndefined();
  });

  it('tells good, questionable and bad nodes apart (15 minutes, BEP 5)', () => {
    const c = clock();
    const table = new RoutingTable(id(0x00), c.now);
    table.insert(contact(id(0x80), 1), 'response');
    table.insert(contact(id(0x81), 2), 'query');
    const answered = table.get(id(0x80))!;
    const queried = table.get(id(0x81))!;
    expect(table.status(answered)).toBe('good');
    expect(table.status(queried)).toBe('questionable'); // never answered us
    c.t += GOOD_FOR_MS - 1;
    table.insert(contact(id(0x80), 1), 'query'); // answered once, queries us now: still good
    c.t += 2;
    expect(table.status(answered)).toBe('good');
    c.t += GOOD_FOR_MS;
    expect(table.status(answered)).toBe('questionable');
    table.failed(id(0x80));
    table.failed(id(0x80));
    expect(table.status(answered)).toBe('bad');
    table.insert(contact(id(0x80), 1), 'response');
    expect(table.status(answered)).toBe('good');
  });

  it('orders closest() by XOR distance and leaves out bad nodes', () => {
    const table = new RoutingTable(id(0x00));
    const ids = [0x10, 0x11, 0x40, 0x7f, 0x80, 0x90, 0xff, 0x12].map((x) => id(x, 0, 1));
    ids.forEach((x, i) => table.insert(contact(x, i), 'response'));
    const target = id(0x13);
    const got = table.closest(target, 4).map((n) => n.id[0]);
    expect(got).toEqual([0x12, 0x11, 0x10, 0x40]);
    table.failed(id(0x12, 0, 1));
    table.failed(id(0x12, 0, 1));
    expect(table.closest(target, 2).map((n) => n.id[0])).toEqual([0x11, 0x10]);
    // Brute force agrees on a bigger table.
    const big = new RoutingTable(id(0x55, 0x55));
    for (let i = 0; i < 300; i++) {
      const x = Uint8Array.from({ length: 20 }, (_, j) => (i * 37 + j * 101 + i * j) & 255);
      big.insert(contact(x, i), 'response');
    }
    const all = big.all().sort((a, b) => {
      const da = distance(a.id, target);
      const db = distance(b.id, target);
      return da < db ? -1 : da > db ? 1 : 0;
    });
    expect(big.closest(target, K).map((n) => n.n)).toEqual(all.slice(0, K).map((n) => n.n));
  });

  it('ignores our own id, a known id at a new address and a second id at a known address', () => {
    const table = new RoutingTable(id(0x00));
    expect(table.insert(contact(id(0x00), 1), 'response').added).toBe(false);
    table.insert(contact(id(0x80), 1), 'response');
    expect(table.insert({ id: id(0x80), ip: '6.6.6.6', port: 1 }, 'response').added).toBe(false);
    expect(table.get(id(0x80))!.ip).toBe('10.0.0.1');
    expect(table.insert(contact(id(0x90), 1), 'response').added).toBe(false);
    expect(table.size()).toBe(1);
  });

  it('stays bounded: 160 buckets of 8 at most, whatever is inserted', () => {
    const own = id(0x00);
    const table = new RoutingTable(own);
    for (let i = 0; i < 5000; i++) {
      const x = Uint8Array.from({ length: 20 }, () => Math.floor(Math.random() * 256));
      table.insert(contact(x, i), 'response');
    }
    // Ids sharing a long prefix with ours: forces deep splits.
    for (let bit = 1; bit < 160; bit++) {
      const n = (1n << BigInt(159 - bit)) | 1n;
      table.insert(contact(bigIntToId(n), 10_000 + bit), 'response');
    }
    expect(table.bucketCount()).toBeLessThanOrEqual(160);
    for (const b of table.describe()) {
      expect(b.size).toBeLessThanOrEqual(K);
      expect(b.replacements).toBeLessThanOrEqual(K);
    }
    // Buckets tile the id space.
    const buckets = table.describe();
    expect(buckets[0]!.min).toBe(0n);
    expect(buckets.at(-1)!.max).toBe(1n << 160n);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.min).toBe(buckets[i - 1]!.max);
    expect(idToBigInt(bigIntToId(12345n))).toBe(12345n);
  });

  it('offers a random id inside each bucket that has not changed for 15 minutes', () => {
    const c = clock();
    const table = new RoutingTable(id(0x00), c.now);
    for (let i = 0; i < 9; i++) table.insert(contact(id(0x80 + i * 8), i), 'response');
    expect(table.staleBuckets(GOOD_FOR_MS)).toEqual([]);
    c.t += GOOD_FOR_MS;
    const stale = table.staleBuckets(GOOD_FOR_MS);
    expect(stale.length).toBe(table.bucketCount());
    const ranges = table.describe();
    stale.forEach((target, i) => {
      const n = idToBigInt(target);
      expect(n >= ranges[i]!.min && n < ranges[i]!.max).toBe(true);
    });
    table.touchBucket(stale[0]!);
    expect(table.staleBuckets(GOOD_FOR_MS).length).toBe(table.bucketCount() - 1);
  });
});
