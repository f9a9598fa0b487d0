import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventName, Events } from '../../shared/ipc';
import { Session } from '../engine';
import { EngineHost } from './engine-host';
import { makeFixture } from '../../../test/support/torrent-fixture';

let dir: string;
let session: Session;
let host: EngineHost;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tessera-host-'));
  session = await Session.create({ downloadDir: dir, listenHost: '127.0.0.1', noTrackers: true });
  host = new EngineHost(session, { host: 'server', snapshotIntervalMs: 20 });
  host.start();
});
afterEach(async () => {
  host.stop();
  await session.close();
  await rm(dir, { recursive: true, force: true });
});

function recorder() {
  const events: { name: EventName; payload: unknown }[] = [];
  const send = <E extends EventName>(name: E, payload: Events[E]) => events.push({ name, payload });
  return { events, send };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('EngineHost', () => {
  it('sends only rows that changed, and nothing while idle', async () => {
    const fx = makeFixture({ name: 'idle.bin', files: { single: 40_000 }, pieceLength: 16_384 });
    const { events, send } = recorder();
    const client = host.connect(send);
    const added = await client.invoke('torrent:add', {
      fileName: 'idle.torrent',
      bytes: fx.torrent,
    });
    expect(added.ok).toBe(true);
    await sleep(200);
    const snapshots = events.filter((e) => e.name === 'session:snapshot');
    expect(snapshots.length).toBeGreaterThan(0);
    const count = events.length;
    await sleep(200); // nothing changes in an idle torrent with no peers: nothing is sent
    expect(events.length).toBe(count);
    const id = added.ok ? (added.value as { id: string }).id : '';
    const paused = await client.invoke('torrent:pause', { ids: [id] });
    expect(paused.ok).toBe(true);
    await sleep(100);
    const last = events.filter((e) => e.name === 'session:snapshot').at(-1)!
      .payload as Events['session:snapshot'];
    expect(last.changed.map((t) => t.state)).toEqual(['paused']);
  });

  it('streams detail only for the selected torrent, with the piece states as bytes', async () => {
    const fx = makeFixture({ name: 'sel.bin', files: { single: 40_000 }, pieceLength: 16_384 });
    await fx.writeTo(dir);
    const { events, send } = recorder();
    const client = host.connect(send);
    const added = await client.invoke('torrent:add', {
      fileName: 'sel.torrent',
      bytes: fx.torrent,
    });
    const id = added.ok ? (added.value as { id: string }).id : '';
    await sleep(150);
    expect(events.some((e) => e.name === 'torrent:detail')).toBe(false);
    const selected = await client.invoke('torrent:select', { id });
    expect(selected.ok && (selected.value as { pieces: Uint8Array }).pieces).toBeInstanceOf(
      Uint8Array,
    );
    await sleep(150);
    const detail = events.filter((e) => e.name === 'torrent:detail').at(-1)?.payload as
      Events['torrent:detail'] | undefined;
    expect(detail?.summary.id).toBe(id);
    expect([...detail!.pieces]).toEqual([2, 2, 2]);
  });

  it('a bad command is an error result, never an exception', async () => {
    const client = host.connect(() => undefined);
    expect(
      await client.invoke('torrent:add', {
        fileName: 'bad.torrent',
        bytes: new TextEncoder().encode('d4:infod4:name1:xee'),
      }),
    ).toMatchObject({
      ok: false,
      error: { code: 'invalid-torrent', message: expect.stringMatching(/^bad\.torrent: /) },
    });
    expect(await client.invoke('torrent:resume', { ids: ['0'.repeat(40)] })).toMatchObject({
      ok: false,
      error: { code: 'unknown-torrent' },
    });
  });

  it('measures the event-loop delay', () => {
    const d = host.eventLoopDelay();
    expect(d.p99Ms).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(d.maxMs)).toBe(true);
  });
});

describe('EngineHost save-to folder', () => {
  it('puts a torrent in the chosen folder inside the download folder', async () => {
    const fx = makeFixture({ name: 'placed.bin', files: { single: 20_000 }, pieceLength: 16_384 });
    const client = host.connect(() => undefined);
    const added = await client.invoke('torrent:add', {
      fileName: 'placed.torrent',
      bytes: fx.torrent,
      saveTo: 'Movies/2026',
    });
    expect(added).toMatchObject({
      ok: true,
      value: { downloadDir: path.join(dir, 'Movies', '2026') },
    });
    const escaped = await client.invoke('torrent:add', {
      fileName: 'x.torrent',
      bytes: fx.torrent,
      saveTo: '../outside',
    });
    expect(escaped).toMatchObject({ ok: false, error: { code: 'bad-request' } });
  });
});
