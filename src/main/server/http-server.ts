import { timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { WebSocket } from 'ws';
import type { FrameError } from '../../shared/ws-codec';
import { decodeClientFrame, encodeFrame, MAX_FRAME_BYTES } from '../../shared/ws-codec';
import type { EngineHost } from '../app/engine-host';

export interface UiServerOptions {
  host: string;
  port: number;
  /** The built renderer (dist/renderer). */
  staticDir: string;
  token: string;
  engineHost: EngineHost;
}

export interface UiServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

const COOKIE = 'tessera_token';

function sameToken(a: string | undefined, b: string): boolean {
  if (!a || a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

function cookieToken(req: http.IncomingMessage): string | undefined {
  const header = req.headers.cookie ?? '';
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return v.join('=');
  }
  return undefined;
}

/**
 * `tessera serve`'s web front door: the renderer's files and the IPC contract over a WebSocket,
 * for a browser on this machine. Every request needs the secret token (from the printed URL,
 * then a same-site cookie); requests from another Origin, or with a Host that is not us (DNS
 * rebinding), are refused.
 */
export async function startUiServer(o: UiServerOptions): Promise<UiServer> {
  // Loaded here, not at the top: every `tessera download` would otherwise pay for parsing the
  // ws package at start-up (about 40 ms of CPU, a sixth of the command's start-up).
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  let origin = '';
  const allowedHosts = new Set<string>();

  const authorised = (req: http.IncomingMessage, url: URL): boolean => {
    if (!allowedHosts.has(req.headers.host ?? '')) return false;
    const reqOrigin = req.headers.origin;
    if (reqOrigin !== undefined && !allowedHosts.has(reqOrigin.replace(/^https?:\/\//, '')))
      return false;
    return (
      sameToken(url.searchParams.get('token') ?? undefined, o.token) ||
      sameToken(cookieToken(req), o.token)
    );
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    if (!authorised(req, url)) {
      res
        .writeHead(403, { 'content-type': 'text/plain; charset=utf-8' })
        .end('Forbidden: open the URL that `tessera serve` printed (it carries the token).\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    void serveStatic(o.staticDir, url.pathname, res, {
      'set-cookie': `${COOKIE}=${o.token}; HttpOnly; SameSite=Strict; Path=/`,
      'content-security-policy': csp(origin),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      'cache-control': 'no-store',
    });
  });

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname !== '/ws' || !authorised(req, url)) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => bindSocket(ws, o.engineHost));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = o.host.includes(':') ? `[${o.host}]` : o.host;
  origin = `http://${hostForUrl}:${port}`;
  allowedHosts.add(`${hostForUrl}:${port}`);
  if (o.host === '127.0.0.1' || o.host === '::1' || o.host === 'localhost')
    allowedHosts.add(`localhost:${port}`).add(`127.0.0.1:${port}`);
  return {
    url: `${origin}/?token=${o.token}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function csp(origin: string): string {
  const ws = origin.replace(/^http/, 'ws');
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self' ${ws}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

async function serveStatic(
  root: string,
  pathname: string,
  res: http.ServerResponse,
  headers: Record<string, string>,
): Promise<void> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    res.writeHead(400).end();
    return;
  }
  const rel = decoded === '/' ? 'index.html' : decoded.replace(/^\/+/, '');
  const base = path.resolve(root);
  const file = path.resolve(base, rel);
  // Nothing outside the renderer's folder, whatever the path says.
  if (decoded.includes('\0') || (file !== base && !file.startsWith(base + path.sep))) {
    res.writeHead(404).end();
    return;
  }
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new Error('not a file');
    res.writeHead(200, {
      ...headers,
      'content-type': MIME[path.extname(file)] ?? 'application/octet-stream',
      'content-length': st.size,
    });
    createReadStream(file).pipe(res);
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found\n');
  }
}

function bindSocket(ws: WebSocket, engineHost: EngineHost): void {
  const client = engineHost.connect((name, payload) => {
    if (ws.readyState === ws.OPEN) ws.send(encodeFrame({ kind: 'event', name, payload }));
  });
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      ws.send(
        encodeFrame({
          kind: 'result',
          id: -1,
          ok: false,
          error: { code: 'bad-frame', message: 'binary frames are not accepted' },
        }),
      );
      return;
    }
    let message;
    try {
      message = decodeClientFrame(data.toString());
    } catch (err) {
      const e = err as FrameError;
      ws.send(
        encodeFrame({
          kind: 'result',
          id: -1,
          ok: false,
          error: { code: e.code ?? 'bad-frame', message: e.message },
        }),
      );
      return;
    }
    void client.invoke(message.name, message.args).then((result) => {
      if (ws.readyState !== ws.OPEN) return;
      ws.send(
        encodeFrame(
          result.ok
            ? { kind: 'result', id: message.id, ok: true, value: result.value }
            : { kind: 'result', id: message.id, ok: false, error: result.error },
        ),
      );
    });
  });
  ws.on('close', () => client.close());
  ws.on('error', () => client.close());
}
