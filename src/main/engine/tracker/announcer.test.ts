import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Announcer, STOP_TIMEOUT_MS } from './announcer';
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
  at: number;
  r: AnnounceRequest;
}

/** A fake announce: each URL answers per a script (ok, or an error message). */
function scripted(answers: Record<string, (string | AnnounceResponse)[]>) {
  const calls: Call[] = [];
  const announce = async (url: string, r: AnnounceRequest): Promise<AnnounceResponse> => {
    calls.push({ url, event: r.event, at: Date.now(), r });
    const next = answers[url]?.shift() ?? 'no answer scripted';
    if (typeof next === 'string') throw new TrackerError(next);
    return next;
  };
  return { calls, announce };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
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

  it('BEP 12 tiers mixing HTTP and UDP: a udp:// URL is asked like any other', async () => {
    const { calls, announce } = scripted({
      'udp://u:80/announce': ['UDP tracker timed out after 15 s (1 packet sent)'],
      'http://a/': [ok()],
    });
    const a = new Announcer([['udp://u:80/announce', 'http://a/']], stats, ids, {
      announce,
      random: () => 0.99,
    });
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(calls.map((c) => c.url)).toEqual(['udp://u:80/announce', 'http://a/']);
    expect(a.rows().map((r) => [r.url, r.status])).toEqual([
      ['http://a/', 'working'],
      ['udp://u:80/announce', 'error'],
    ]);
    await a.stop();
  });

  it('lists URLs of schemes it cannot speak as disabled, with the reason, and never asks them', () => {
    const a = new Announcer([['wss://w/announce', 'udp://u:80/announce', 'http://a/']], stats, ids);
    const byUrl = Object.fromEntries(a.rows().map((r) => [r.url, [r.status, r.lastError]]));
    expect(byUrl).toEqual({
      'wss://w/announce': ['disabled', 'unsupported tracker URL scheme: wss'],
      'udp://u:80/announce': ['idle', null],
      'http://a/': ['idle', null],
    });
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

  // BEP 12's three examples. With two URLs, random() ≥ 0.5 keeps the order and < 0.5 swaps it.
  it('MI-09 example 1: [[tracker1], [backup1], [backup2]] tries tiers in order on every announce', async () => {
    const { calls, announce } = scripted({
      'http://t1/': ['down', 'down'],
      'http://b1/': ['down', ok()],
      'http://b2/': [ok()],
    });
    const a = new Announcer([['http://t1/'], ['http://b1/'], ['http://b2/']], stats, ids, {
      announce,
    });
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(calls.map((c) => c.url)).toEqual(['http://t1/', 'http://b1/', 'http://b2/']);
    // Next announce (interval 600 s, back-offs long over): again from the first tier.
    await vi.advanceTimersByTimeAsync(600_000);
    expect(calls.slice(3).map((c) => c.url)).toEqual(['http://t1/', 'http://b1/']);
    // b1 never heard 'started' before, so it gets it now; b2 had its own.
    expect(calls.map((c) => c.event)).toEqual([
      'started',
      'started',
      'started',
      'started',
      'started',
    ]);
    await a.stop();
  });

  it('MI-09 example 2: [[tracker1, tracker2]] shuffled; the one that answers moves to the front', async () => {
    const { calls, announce } = scripted({ 'http://t1/': [ok()], 'http://t2/': ['down'] });
    const a = new Announcer([['http://t1/', 'http://t2/']], stats, ids, {
      announce,
      random: () => 0, // swaps: tracker2 first
    });
    expect(a.rows().map((r) => r.url)).toEqual(['http://t2/', 'http://t1/']);
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(calls.map((c) => c.url)).toEqual(['http://t2/', 'http://t1/']);
    expect(a.rows().map((r) => [r.url, r.status])).toEqual([
      ['http://t1/', 'working'],
      ['http://t2/', 'error'],
    ]);
    await a.stop();
  });

  it('MI-09 example 3: [[tracker1, tracker2], [backup1]] tries the whole first tier before the backup', async () => {
    const { calls, announce } = scripted({
      'http://t1/': ['down'],
      'http://t2/': ['down'],
      'http://b1/': [ok()],
    });
    const a = new Announcer([['http://t1/', 'http://t2/'], ['http://b1/']], stats, ids, {
      announce,
      random: () => 0.99,
    });
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(calls.map((c) => c.url)).toEqual(['http://t1/', 'http://t2/', 'http://b1/']);
    expect(a.rows().map((r) => r.tier)).toEqual([0, 0, 1]);
    await a.stop();
  });

  it('HT-10: skips a tracker while it backs off, and retries it when the back-off runs out', async () => {
    const short = { ...ok(), intervalSec: 10 };
    const { calls, announce } = scripted({
      'http://a/': ['down', 'down', ok()],
      'http://b/': [short, short, short, short],
    });
    const a = new Announcer([['http://a/'], ['http://b/']], stats, ids, {
      announce,
      random: () => 0.5,
    });
    a.start();
    await vi.advanceTimersByTimeAsync(10); // t=0: a fails (retry at 15 s), b answers
    await vi.advanceTimersByTimeAsync(10_000); // t=10: a still backing off: only b
    await vi.advanceTimersByTimeAsync(10_000); // t=20: a again (fails; retry at 50 s), then b
    expect(calls.map((c) => `${c.at / 1000}:${c.url}`)).toEqual([
      '0:http://a/',
      '0:http://b/',
      '10:http://b/',
      '20:http://a/',
      '20:http://b/',
    ]);
    await vi.advanceTimersByTimeAsync(30_000); // t=30, 40: b; t=50: a answers, 'started'
    expect(calls.at(-1)).toMatchObject({ url: 'http://a/', event: 'started', at: 50_000 });
    await a.stop();
  });

  it('HT-10: back-off doubles from 15 s to a 30 min cap, with ±10 % jitter', async () => {
    let r = 0.5;
    const { announce } = scripted({ 'http://a/': Array<string>(20).fill('down') });
    const a = new Announcer([['http://a/']], stats, ids, { announce, random: () => r });
    const delays: number[] = [];
    a.on('status', (rows) => {
      const row = rows[0]!;
      if (row.status === 'error') delays.push(row.nextAnnounceAt! - row.lastAnnounceAt!);
    });
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    for (let i = 0; i < 9; i++) await vi.advanceTimersByTimeAsync(delays.at(-1)!);
    expect(delays.map((d) => d / 1000)).toEqual([15, 30, 60, 120, 240, 480, 960, 1800, 1800, 1800]);
    r = 0;
    await vi.advanceTimersByTimeAsync(1_800_000);
    expect(delays.at(-1)).toBe(1_620_000);
    await a.stop();
  });

  it("HT-03: 'completed' exactly once, and not after a restart", async () => {
    const { calls, announce } = scripted({ 'http://a/': Array(6).fill(ok()) });
    const a = new Announcer([['http://a/']], stats, ids, { announce });
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    a.completed();
    a.completed();
    await vi.advanceTimersByTimeAsync(10);
    a.completed();
    await a.stop();
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    a.completed();
    await vi.advanceTimersByTimeAsync(10);
    await a.stop();
    expect(calls.map((c) => c.event)).toEqual([
      'started',
      'completed',
      'stopped',
      'started',
      'stopped',
    ]);
  });

  it("HT-03: 'completed' asked during the first announce goes out right after it", async () => {
    let release = (): void => undefined;
    const calls: (string | undefined)[] = [];
    const announce = (_u: string, r: AnnounceRequest): Promise<AnnounceResponse> => {
      calls.push(r.event);
      return r.event === 'started'
        ? new Promise((resolve) => (release = () => resolve(ok())))
        : Promise.resolve(ok());
    };
    const a = new Announcer([['http://a/']], stats, ids, { announce });
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    a.completed();
    release();
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toEqual(['started', 'completed']);
    await a.stop();
  });

  it("HT-03 regression: 'completed' asked just after the reply, while the round is ending, is not held back 30 min", async () => {
    const { calls, announce } = scripted({ 'http://a/': [ok(), ok()] });
    const a = new Announcer([['http://a/']], stats, ids, { announce });
    // Runs after the reply was handled but before the round's promise settles.
    a.once('peers', () => void Promise.resolve().then(() => a.completed()));
    a.start();
    await vi.advanceTimersByTimeAsync(1500);
    expect(calls.map((c) => c.event)).toEqual(['started', 'completed']);
    await a.stop();
  });

  it('HT-06: emits warnings and errors, echoes the tracker id and keeps it when omitted', async () => {
    const { calls, announce } = scripted({
      'http://a/': [
        { ...ok(), warning: 'unregistered client', trackerId: 'T1' },
        { ...ok(), trackerId: null },
        'tracker said: go away',
        { ...ok() },
      ],
    });
    const a = new Announcer([['http://a/']], stats, ids, { announce, random: () => 0.5 });
    const events: string[] = [];
    a.on('warning', (url, m) => events.push(`warning ${url} ${m}`));
    a.on('error', (url, m) => events.push(`error ${url} ${m}`));
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(a.rows()[0]!.lastWarning).toBe('unregistered client');
    await vi.advanceTimersByTimeAsync(600_000);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(a.rows()[0]).toMatchObject({ status: 'error', lastError: 'tracker said: go away' });
    await vi.advanceTimersByTimeAsync(15_000);
    expect(events).toEqual([
      'warning http://a/ unregistered client',
      'error http://a/ tracker said: go away',
    ]);
    expect(calls.map((c) => c.r.trackerId)).toEqual([undefined, 'T1', 'T1', 'T1']);
    // HT-01: one key, 32 bits, for every announce of this torrent.
    const keys = new Set(calls.map((c) => c.r.key));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toMatch(/^[0-9a-f]{8}$/);
    await a.stop();
  });

  it("an unheard error does not throw (EventEmitter's 'error' rule)", async () => {
    const { announce } = scripted({ 'http://a/': ['down'] });
    const a = new Announcer([['http://a/']], stats, ids, { announce });
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(a.rows()[0]!.status).toBe('error');
    await a.stop();
  });

  it("HT-07: announceNow honours the tracker's min interval", async () => {
    const { calls, announce } = scripted({
      'http://a/': [{ ...ok(), intervalSec: 1800, minIntervalSec: 120 }, ok(), ok()],
    });
    const a = new Announcer([['http://a/']], stats, ids, { announce });
    a.announceNow(); // not started: nothing
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    a.announceNow();
    await vi.advanceTimersByTimeAsync(100_000);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(20_000);
    a.announceNow();
    await vi.advanceTimersByTimeAsync(10);
    expect(calls.map((c) => [c.at / 1000, c.event])).toEqual([
      [0, 'started'],
      [120.01, undefined],
    ]);
    await a.stop();
  });

  it("says 'stopped' to every tracker that heard 'started', within the time limit", async () => {
    const events: string[] = [];
    const announce = (url: string, r: AnnounceRequest): Promise<AnnounceResponse> => {
      events.push(`${url} ${r.event}`);
      if (r.event === 'stopped') return new Promise(() => undefined); // never answers
      if (url === 'http://a/' && events.length > 1) return Promise.reject(new TrackerError('x'));
      return Promise.resolve(ok());
    };
    const a = new Announcer([['http://a/'], ['http://b/']], stats, ids, {
      announce,
      random: () => 0.5,
    });
    a.start();
    await vi.advanceTimersByTimeAsync(10); // a: started
    await vi.advanceTimersByTimeAsync(600_000); // a fails, b: started
    let stopped = false;
    const done = a.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(STOP_TIMEOUT_MS - 100);
    expect(stopped).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    await done;
    expect(events).toEqual([
      'http://a/ started',
      'http://a/ undefined',
      'http://b/ started',
      'http://a/ stopped',
      'http://b/ stopped',
    ]);
    expect(a.rows().map((r) => [r.status, r.nextAnnounceAt])).toEqual([
      ['error', null],
      ['idle', null],
    ]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('start() while stop() is still saying goodbye begins a clean session', async () => {
    const events: string[] = [];
    let releaseStopped = (): void => undefined;
    const announce = (url: string, r: AnnounceRequest): Promise<AnnounceResponse> => {
      events.push(String(r.event));
      if (r.event === 'stopped') return new Promise((res) => (releaseStopped = () => res(ok())));
      return Promise.resolve(ok());
    };
    const a = new Announcer([['http://a/']], stats, ids, { announce });
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    const stopping = a.stop();
    await vi.advanceTimersByTimeAsync(10);
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    releaseStopped();
    await stopping;
    expect(a.rows()[0]!.status).toBe('working');
    await vi.advanceTimersByTimeAsync(600_000);
    const last = a.stop();
    await vi.advanceTimersByTimeAsync(STOP_TIMEOUT_MS);
    await last;
    expect(events).toEqual(['started', 'stopped', 'started', 'undefined', 'stopped']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('drops duplicate URLs and empty tiers', () => {
    const a = new Announcer(
      [['http://a/', 'http://a/'], [], ['http://a/', 'http://b/']],
      stats,
      ids,
    );
    expect(a.rows().map((r) => [r.tier, r.url])).toEqual([
      [0, 'http://a/'],
      [1, 'http://b/'],
    ]);
  });
});

describe('Announcer peers', () => {
  it('AD-24: drops our own address (localAddress and port) from what a tracker returns', async () => {
    const reply: AnnounceResponse = {
      ...ok(0),
      peers: [
        { ip: '127.0.0.9', port: 6881 },
        { ip: '127.0.0.9', port: 6882 },
        { ip: '127.0.0.8', port: 6881 },
      ],
    };
    const { announce } = scripted({ 'http://a/': [reply] });
    const a = new Announcer([['http://a/']], stats, ids, { announce, localAddress: '127.0.0.9' });
    const peers: unknown[] = [];
    a.on('peers', (p) => peers.push(...p));
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(peers).toEqual([
      { ip: '127.0.0.9', port: 6882 },
      { ip: '127.0.0.8', port: 6881 },
    ]);
    expect(a.rows()[0]!.peersReturned).toBe(2);
    await a.stop();
  });
});

describe('Announcer scrape (for the Trackers tab)', () => {
  it('scrapes the tracker that answered, fills completed, and at most every 15 min', async () => {
    const { announce } = scripted({ 'http://a/': [ok(), ok(), ok()] });
    const scrapes: string[] = [];
    const scrape = async (url: string) => {
      scrapes.push(url);
      return { seeders: 9, completed: 42, leechers: 8 };
    };
    const a = new Announcer([['http://a/']], stats, ids, { announce, scrape });
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    // The announce's counts stay; the scrape adds what only it knows.
    expect(a.rows()[0]).toMatchObject({ seeders: 2, leechers: 3, completed: 42 });
    await vi.advanceTimersByTimeAsync(600_000); // second announce: too soon to scrape again
    expect(scrapes).toEqual(['http://a/']);
    await vi.advanceTimersByTimeAsync(600_000); // third, 20 min after the first scrape
    expect(scrapes).toEqual(['http://a/', 'http://a/']);
    await a.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a failing scrape never marks the row; after two failures the tracker is not scraped again', async () => {
    const { announce } = scripted({ 'http://a/': Array.from({ length: 10 }, () => ok()) });
    let scrapes = 0;
    const scrape = async () => {
      scrapes++;
      throw new TrackerError('tracker has no scrape URL');
    };
    const a = new Announcer([['http://a/']], stats, ids, { announce, scrape });
    a.start();
    for (let i = 0; i < 4; i++) await vi.advanceTimersByTimeAsync(1_000_000);
    expect(scrapes).toBe(2);
    expect(a.rows()[0]).toMatchObject({ status: 'working', lastError: null, completed: null });
    await a.stop();
  });

  it('does not scrape with an injected transport unless given a scrape too', async () => {
    const { calls, announce } = scripted({ 'http://a/': [ok()] });
    const a = new Announcer([['http://a/']], stats, ids, { announce });
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toHaveLength(1);
    expect(a.rows()[0]!.completed).toBeNull();
    await a.stop();
  });
});
