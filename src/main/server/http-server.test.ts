import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { decodeServerFrame, encodeFrame, type ServerMessage } from '../../shared/ws-codec';
import { EngineHost } from '../app/engine-host';
import { Session } from '../engine';
import { startUiServer, type UiServer } from './http-server';

let dir: string;
let session: Session;
let host: EngineHost;
let server: UiServer;
const token = 'f'.repeat(64);

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tessera-server-'));
  const staticDir = path.join(dir, 'renderer');
  await mkdir(path.join(staticDir, 'assets'), { recursive: true });
  await writeFile(path.join(staticDir, 'index.html'), '<!doctype html><title>t</title>');
  await writeFile(path.join(staticDir, 'assets', 'app.js'), 'console.log(1)');
  await writeFile(path.join(dir, 'secret.txt'), 'outside the renderer folder');
  session = await Session.create({
    downloadDir: path.join(dir, 'dl'),
    listenHost: '127.0.0.1',
    noTrackers: true,
  });
  host = new EngineHost(session, { host: 'server' });
  host.start();
  server = await startUiServer({ host: '127.0.0.1', port: 0, staticDir, token, engineHost: host });
});

afterAll(async () => {
  await server.close();
  host.stop();
  await session.close();
  await rm(dir, { recursive: true, force: true });
});

function get(
  pathAndQuery: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port: server.port, path: pathAndQuery, headers },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
  });
}

function openSocket(query: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws${query}`, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

function nextResult(ws: WebSocket): Promise<ServerMessage> {
  return new Promise((resolve) => {
    const onMessage = (data: Buffer) => {
      const m = decodeServerFrame(data.toString());
      if (m.kind !== 'result') return;
      ws.off('message', onMessage);
      resolve(m);
    };
    ws.on('message', onMessage);
  });
}

describe('tessera serve', () => {
  it('serves the renderer with the token, sets a cookie and a strict CSP', async () => {
    const res = await get(`/?token=${token}`);
    expect(res.status).toBe(200);
    expect(res.body).toContain('<title>t</title>');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['set-cookie']?.[0]).toMatch(/HttpOnly; SameSite=Strict/);
    // The cookie alone is enough for the page's assets.
    const asset = await get('/assets/app.js', { cookie: `tessera_token=${token}` });
    expect(asset.status).toBe(200);
    expect(asset.headers['content-type']).toMatch(/javascript/);
  });

  it('refuses requests without the token, with a wrong one, from another Origin or Host', async () => {
    expect((await get('/')).status).toBe(403);
    expect((await get(`/?token=${'0'.repeat(64)}`)).status).toBe(403);
    expect((await get(`/?token=${token}`, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await get(`/?token=${token}`, { host: 'evil.example' })).status).toBe(403);
  });

  it('never serves a file outside the renderer folder', async () => {
    for (const p of [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/%00',
    ]) {
      const res = await get(`${p}?token=${token}`);
      expect(res.status, p).not.toBe(200);
      expect(res.body).not.toContain('outside the renderer folder');
    }
  });

  it('refuses a WebSocket without the token or from another Origin', async () => {
    await expect(openSocket('')).rejects.toThrow(/403/);
    await expect(openSocket(`?token=${token}`, { origin: 'http://evil.example' })).rejects.toThrow(
      /403/,
    );
  });

  it('answers commands over the WebSocket and refuses malformed frames without reaching the engine', async () => {
    const ws = await openSocket(`?token=${token}`);
    try {
      ws.send(encodeFrame({ kind: 'invoke', id: 1, name: 'session:get', args: {} }));
      expect(await nextResult(ws)).toMatchObject({
        kind: 'result',
        id: 1,
        ok: true,
        value: { host: 'server' },
      });
      ws.send('{"kind":"invoke","id":2,"name":"fs:readFile","args":{}}');
      expect(await nextResult(ws)).toMatchObject({
        ok: false,
        error: { code: 'bad-frame', message: expect.stringContaining('unknown command') },
      });
      ws.send('not json');
      expect(await nextResult(ws)).toMatchObject({ ok: false, error: { code: 'bad-frame' } });
      ws.send(
        encodeFrame({
          kind: 'invoke',
          id: 3,
          name: 'torrent:remove',
          args: { ids: ['x'], deleteData: true },
        }),
      );
      expect(await nextResult(ws)).toMatchObject({
        id: 3,
        ok: false,
        error: { code: 'bad-request' },
      });
      expect(session.torrents()).toHaveLength(0);
    } finally {
      ws.close();
    }
  });
});
