import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Announcer } from './announcer';
import { TrackerError, type AnnounceRequest, type AnnounceResponse } from './http-announce';

const ids = { infoHash: new Uint8Array(20), peerId: new Uint8Array(20), port: 6881 };
const stats = () => ({ uploaded: 0, downloaded: 0, left: 100 });
const ok = (peers = 1): AnnounceResponse => ({
  intervalSec: 600,
  minIntervalSec: null,
  peers: Array.from({ length: peers }, (_, i) => ({ ip: '10.0.0.1', port: 1000 + i })),
  complete: 2,
  incomplete: 3,
  warning: null,
  trackerId: null,
});

interface Call {
  url: string;
  event: AnnounceRequest['event'];
}

/** A fake announce: each URL answers per a script (ok, or an error message). */
function scripted(answers: Record<string, (string | AnnounceResponse)[]>) {
  const calls: Call[] = [];
  const announce = async (url: string, r: AnnounceRequest): Promise<AnnounceResponse> => {
    calls.push({ url, event: r.event });
    const next = answers[url]?.shift() ?? 'no answer scripted';
    if (typeof next === 'string') throw new TrackerError(next);
    return next;
  };
  return { calls, announce };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Announcer (BEP 12)', () => {
  it('falls through failing trackers and tiers to one that answers, and promotes it in its tier', async () => {
    const { calls, announce } = scripted({
      'http://a/': ['refused'],
      'http://b/': [ok()],
      'http://c/': [ok()],
    });
    const a = new Announcer([['http://a/', 'http://b/'], ['http://c/']], stats, ids, {
      announce,
      random: () => 0.99,
    });
    const peers: unknown[] = [];
    a.on('peers', (p) => peers.push(...p));
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(calls.map((c) => c.url)).toEqual(['http://a/', 'http://b/']);
    expect(calls[0]!.event).toBe('started');
    expect(peers).toHaveLength(1);
    const rows = a.rows();
    expect(rows.map((r) => [r.url, r.status])).toEqual([
      ['http://b/', 'working'],
      ['http://a/', 'error'],
      ['http://c/', 'idle'],
    ]);
    expect(rows[0]).toMatchObject({ seeders: 2, leechers: 3, peersReturned: 1 });
    expect(rows[1]!.lastError).toBe('refused');
    await a.stop();
  });

  it('re-announces on the interval without an event, then sends completed and stopped', async () => {
    const { calls, announce } = scripted({ 'http://a/': [ok(), ok(), ok(), ok()] });
    const a = new Announcer([['http://a/']], stats, ids, { announce });
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(calls.map((c) => c.event)).toEqual(['started', undefined]);
    a.completed();
    await vi.advanceTimersByTimeAsync(10);
    await a.stop();
    expect(calls.map((c) => c.event)).toEqual(['started', undefined, 'completed', 'stopped']);
  });

  it('backs off exponentially when every tracker fails, and keeps the first error', async () => {
    const { calls, announce } = scripted({ 'http://a/': ['down', 'down', 'down', ok()] });
    const a = new Announcer([['http://a/']], stats, ids, { announce, random: () => 0.5 });
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(15_000);
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(15_000);
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(15_000);
    expect(calls).toHaveLength(3);
    // Still 'started': the tracker never heard it.
    expect(calls.every((c) => c.event === 'started')).toBe(true);
    await a.stop();
  });

  it('lists UDP trackers as not supported yet and never calls them', async () => {
    const { calls, announce } = scripted({ 'http://a/': [ok()] });
    const a = new Announcer([['udp://u:80/announce'], ['http://a/']], stats, ids, { announce });
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(calls.map((c) => c.url)).toEqual(['http://a/']);
    expect(a.rows()[0]).toMatchObject({
      status: 'disabled',
      lastError: 'UDP trackers are not supported yet',
    });
    await a.stop();
  });

  it('sends no stopped when started never got through, and leaves no timer behind', async () => {
    const { calls, announce } = scripted({ 'http://a/': ['down'] });
    const a = new Announcer([['http://a/']], stats, ids, { announce });
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    await a.stop();
    expect(calls.map((c) => c.event)).toEqual(['started']);
    expect(vi.getTimerCount()).toBe(0);
  });
});
