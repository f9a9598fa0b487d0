import { createHash, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { HashPool, verifyPiece } from './hash-pool';

const pool = new HashPool(2);
afterAll(() => pool.destroy());

describe('HashPool', () => {
  it('hashes in worker threads and gives the bytes back unchanged', async () => {
    const inputs = Array.from({ length: 20 }, (_, i) => randomBytes(1000 + i * 5000));
    const copies = inputs.map((b) => Buffer.from(b));
    const owned = inputs.map((b) => Buffer.from(Uint8Array.prototype.slice.call(b)));
    const results = await Promise.all(
      owned.map((b) => pool.sha1(Buffer.allocUnsafeSlow(b.length).fill(0).fill(b))),
    );
    results.forEach((r, i) => {
      expect(Buffer.from(r.digest).toString('hex')).toBe(
        createHash('sha1').update(copies[i]!).digest('hex'),
      );
      expect(r.data.equals(copies[i]!)).toBe(true);
    });
  });

  it('copies instead of detaching a buffer that shares memory', async () => {
    const shared = Buffer.from('hello world');
    const neighbour = Buffer.from(shared.buffer, 0, 1);
    const r = await pool.sha1(shared);
    expect(Buffer.from(r.digest).toString('hex')).toBe(
      createHash('sha1').update('hello world').digest('hex'),
    );
    // The original memory is still usable.
    expect(neighbour.length).toBe(1);
    expect(shared.toString()).toBe('hello world');
  });

  it('shares a piece on shared memory with the worker: same view back, nothing detached', async () => {
    const memory = new SharedArrayBuffer(4 * 65536);
    const pieces = [0, 1, 2, 3].map((i) =>
      Buffer.from(memory, i * 65536, 65536 - i * 1000).fill(i + 1),
    );
    const results = await Promise.all(pieces.map((p) => pool.sha1(p)));
    results.forEach((r, i) => {
      expect(r.data).toBe(pieces[i]);
      expect(Buffer.from(r.digest).toString('hex')).toBe(
        createHash('sha1')
          .update(Buffer.alloc(65536 - i * 1000, i + 1))
          .digest('hex'),
      );
    });
    expect(pieces[0]![0]).toBe(1);
  });

  it('verifyPiece tells a good piece from a bad one', async () => {
    const data = randomBytes(16384);
    const expected = createHash('sha1').update(data).digest();
    const good = Buffer.allocUnsafeSlow(data.length);
    data.copy(good);
    expect((await verifyPiece(pool, expected, good)).ok).toBe(true);
    const bad = Buffer.allocUnsafeSlow(data.length);
    data.copy(bad);
    bad[100]! ^= 1;
    expect((await verifyPiece(pool, expected, bad)).ok).toBe(false);
  });
});
