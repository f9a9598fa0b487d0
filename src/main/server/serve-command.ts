import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineError, Session } from '../engine';
import { EngineHost } from '../app/engine-host';
import { parseArgs, UsageError, value } from '../cli/args';
import { startUiServer } from './http-server';

export const SERVE_USAGE =
  'tessera serve [--port N] [--host 127.0.0.1] [--download-dir DIR] [--state-dir DIR] [--peer-port N] [--bind ip]';

const DEFAULT_PORT = 8686;

function defaultDownloadDir(): string {
  const downloads = path.join(homedir(), 'Downloads');
  return existsSync(downloads) ? downloads : process.cwd();
}

function defaultStateDir(): string {
  const base = process.env.XDG_STATE_HOME || path.join(homedir(), '.local', 'state');
  return path.join(base, 'tessera');
}

/** The renderer is built next to this bundle (dist/renderer beside dist/cli.mjs). */
function rendererDir(): string {
  return fileURLToPath(new URL('./renderer/', import.meta.url));
}

function port(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(`--${name} must be a port number (0 for any free port)`);
  return n;
}

/**
 * `tessera serve`: the engine plus the app's UI for a browser, on loopback by default. Runs
 * until SIGINT/SIGTERM, then closes torrents and saves the session.
 */
export async function runServe(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, {
    booleans: [],
    values: ['port', 'host', 'download-dir', 'state-dir', 'peer-port', 'bind'],
  });
  if (args.positional.length > 0) throw new UsageError(`usage: ${SERVE_USAGE}`);
  const host = value(args, 'host') ?? '127.0.0.1';
  const staticDir = rendererDir();
  if (!existsSync(path.join(staticDir, 'index.html')))
    throw new EngineError('not-built', `the UI is not built (${staticDir}); run npm run build`);

  const session = await Session.create({
    downloadDir: path.resolve(value(args, 'download-dir') ?? defaultDownloadDir()),
    stateDir: path.resolve(value(args, 'state-dir') ?? defaultStateDir()),
    listenPort: port(value(args, 'peer-port'), 0, 'peer-port'),
    bindAddress: value(args, 'bind'),
  });
  const engineHost = new EngineHost(session, { host: 'server' });
  engineHost.start();
  let server;
  try {
    server = await startUiServer({
      host,
      port: port(value(args, 'port'), DEFAULT_PORT, 'port'),
      staticDir,
      token: randomBytes(32).toString('hex'),
      engineHost,
    });
  } catch (err) {
    await session.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new EngineError(
        'port-in-use',
        `port ${value(args, 'port') ?? DEFAULT_PORT} is in use; pass --port N (0 for any free port)`,
      );
    throw err;
  }
  process.stdout.write(
    `Tessera is running at ${server.url}\n(peers connect on port ${session.port}; press Ctrl+C to stop)\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  process.stdout.write('Stopping: saving the session…\n');
  engineHost.stop();
  await server.close();
  await session.close();
  return 0;
}
