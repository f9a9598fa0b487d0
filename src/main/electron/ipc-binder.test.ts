import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EngineHost } from '../app/engine-host';
import { Session } from '../engine';
import { bindIpc, type IpcMainLike, type WebContentsLike } from './ipc-binder';

/** An in-memory stand-in for Electron's ipcMain: handlers by channel, invoked as the renderer would. */
class FakeIpcMain implements IpcMainLike {
  readonly handlers = new Map<
    string,
    (event: { sender: { id: number } }, ...args: unknown[]) => Promise<unknown>
  >();
  handle(
    channel: string,
    listener: (event: { sender: { id: number } }, ...args: unknown[]) => Promise<unknown>,
  ): void {
    if (this.handlers.has(channel)) throw new Error(`second handler for ${channel}`);
    this.handlers.set(channel, listener);
  }
  removeHandler(channel: string): void {
    this.handlers.delete(channel);
  }
  invoke(senderId: number, channel: string, ...args: unknown[]): Promise<unknown> {
    const h = this.handlers.get(channel);
    if (!h) return Promise.reject(new Error(`No handler registered for '${channel}'`));
    return h({ sender: { id: senderId } }, ...args);
  }
}

class FakeWebContents implements WebContentsLike {
  readonly sent: { channel: string; payload: unknown }[] = [];
  constructor(readonly id: number) {}
  send(channel: string, payload: unknown): void {
    this.sent.push({ channel, payload });
  }
  isDestroyed(): boolean {
    return false;
  }
}

let dir: string;
let session: Session;
let host: EngineHost;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tessera-ipc-'));
  session = await Session.create({ downloadDir: dir, listenHost: '127.0.0.1', noTrackers: true });
  host = new EngineHost(session, { host: 'electron', snapshotIntervalMs: 20 });
  host.start();
});
afterEach(async () => {
  host.stop();
  await session.close();
  await rm(dir, { recursive: true, force: true });
});

describe('bindIpc', () => {
  it('binds every command of the allow-list and answers our window', async () => {
    const ipc = new FakeIpcMain();
    const win = new FakeWebContents(7);
    const unbind = bindIpc(ipc, host, win);
    expect([...ipc.handlers.keys()].sort()).toEqual([
      'session:get',
      'settings:get',
      'settings:set',
      'torrent:add',
      'torrent:addMagnet',
      'torrent:pause',
      'torrent:remove',
      'torrent:resume',
      'torrent:select',
      'torrent:verify',
    ]);
    const result = (await ipc.invoke(7, 'session:get', {})) as {
      ok: boolean;
      value: { host: string; downloadDir: string };
    };
    expect(result).toMatchObject({ ok: true, value: { host: 'electron', downloadDir: dir } });
    unbind();
    expect(ipc.handlers.size).toBe(0);
  });

  it('drops calls from windows it did not create', async () => {
    const ipc = new FakeIpcMain();
    bindIpc(ipc, host, new FakeWebContents(7));
    expect(await ipc.invoke(99, 'session:get', {})).toEqual({
      ok: false,
      error: { code: 'forbidden', message: expect.stringContaining('did not create') },
    });
  });

  it('refuses malformed payloads before the engine sees them', async () => {
    const ipc = new FakeIpcMain();
    bindIpc(ipc, host, new FakeWebContents(7));
    expect(await ipc.invoke(7, 'torrent:pause', { ids: ['../../etc/passwd'] })).toMatchObject({
      ok: false,
      error: { code: 'bad-request' },
    });
    expect(
      await ipc.invoke(7, 'torrent:add', {
        fileName: 'x.torrent',
        bytes: new Uint8Array([1, 2, 3]),
      }),
    ).toMatchObject({
      ok: false,
      error: { code: 'invalid-torrent', message: expect.stringMatching(/^x\.torrent: bencode: /) },
    });
    expect(session.torrents()).toHaveLength(0);
  });

  it('forwards snapshots to the window when a torrent is added', async () => {
    const ipc = new FakeIpcMain();
    const win = new FakeWebContents(7);
    bindIpc(ipc, host, win);
    const { makeFixture } = await import('../../../test/support/torrent-fixture');
    const fx = makeFixture({ name: 'ipc.bin', files: { single: 50_000 }, pieceLength: 16_384 });
    const added = (await ipc.invoke(7, 'torrent:add', {
      fileName: 'ipc.torrent',
      bytes: fx.torrent,
    })) as { ok: boolean; value: { name: string } };
    expect(added).toMatchObject({ ok: true, value: { name: 'ipc.bin' } });
    await new Promise((r) => setTimeout(r, 100));
    const snapshot = win.sent.find((m) => m.channel === 'session:snapshot');
    expect(snapshot).toBeDefined();
  });
});
