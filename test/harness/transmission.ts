// transmission-daemon as a seeder. Transmission 3.00 never dials 127.0.0.0/8 peers, so on
// loopback it can only seed (others connect to it). Driven over its JSON RPC, bound to `host`.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { HarnessError } from './errors';
import { canConnect, freePort, spawnLogged, waitFor } from './proc';
import type { Seeder, SeederOptions } from './seeder-types';

const STATUS_SEEDING = 6;

export async function startTransmissionSeeder(o: SeederOptions): Promise<Seeder> {
  const port = o.port ?? (await freePort(o.host));
  const rpcPort = await freePort(o.host);
  const configDir = join(o.workDir, 'config');
  // A config dir left by an earlier run in the same work dir keeps that run's torrents (paused,
  // announcing to a tracker long gone): every daemon starts from an empty one.
  await rm(configDir, { recursive: true, force: true });
  await mkdir(configDir, { recursive: true });
  const settings = {
    'bind-address-ipv4': o.host,
    'bind-address-ipv6': '::1',
    'peer-port': port,
    'peer-port-random-on-start': false,
    'port-forwarding-enabled': false,
    'dht-enabled': false,
    'lpd-enabled': false,
    'pex-enabled': false,
    'utp-enabled': false,
    'blocklist-enabled': false,
    encryption: 0, // tolerated: plain preferred, so any downloader can talk to it
    'rpc-enabled': true,
    'rpc-bind-address': o.host,
    'rpc-port': rpcPort,
    'rpc-authentication-required': false,
    'rpc-whitelist-enabled': false,
    'rpc-host-whitelist-enabled': false,
    'download-dir': resolve(o.dataDir),
    'incomplete-dir-enabled': false,
    'watch-dir-enabled': false,
    // Transmission's speed unit is the 1000-byte kB.
    'speed-limit-up-enabled': o.uploadLimitKiBps !== undefined,
    'speed-limit-up': Math.max(1, Math.round(((o.uploadLimitKiBps ?? 0) * 1024) / 1000)),
    'speed-limit-down-enabled': false,
    'alt-speed-enabled': false,
    'ratio-limit-enabled': false,
    'idle-seeding-limit-enabled': false,
    'queue-stalled-enabled': false,
    'seed-queue-enabled': false,
    'download-queue-enabled': false,
    'start-added-torrents': true,
    'peer-limit-global': 500,
    'peer-limit-per-torrent': 200,
    'upload-slots-per-torrent': 50,
    'message-level': 2,
  };
  await writeFile(join(configDir, 'settings.json'), JSON.stringify(settings, null, 2));
  const proc = spawnLogged(
    'transmission-daemon',
    ['--foreground', '--config-dir', configDir, '--logfile', join(o.workDir, 'transmission.log')],
    { logFile: join(o.workDir, 'transmission.out') },
  );
  const rpc = transmissionRpc(`http://${o.host}:${rpcPort}/transmission/rpc`);
  const timeoutMs = o.readyTimeoutMs ?? 60_000;
  try {
    await waitFor(
      `transmission RPC ${o.host}:${rpcPort}`,
      async () => ((await canConnect(o.host, rpcPort)) ? true : undefined),
      {
        timeoutMs,
        managed: proc,
      },
    );
    const metainfo = (await readFile(o.torrent)).toString('base64');
    const added = await rpc('torrent-add', {
      metainfo,
      'download-dir': resolve(o.dataDir),
      paused: false,
    });
    const entry = (added['torrent-added'] ?? added['torrent-duplicate']) as
      { id: number } | undefined;
    if (!entry) throw new HarnessError('CLIENT_ERROR', `transmission did not add ${o.torrent}`);
    const id = entry.id;
    // Seeding, 100 % verified, and the tracker has heard from it.
    await waitFor(
      'transmission seeding',
      async () => {
        const t = await getTorrent(rpc, id, [
          'status',
          'percentDone',
          'error',
          'errorString',
          'trackerStats',
        ]);
        if (t.error === 3)
          throw new HarnessError('CLIENT_ERROR', `transmission: ${String(t.errorString)}`);
        const stats = (t.trackerStats as { lastAnnounceSucceeded: boolean }[] | undefined) ?? [];
        return t.status === STATUS_SEEDING &&
          t.percentDone === 1 &&
          stats.some((s) => s.lastAnnounceSucceeded)
          ? true
          : undefined;
      },
      { timeoutMs, intervalMs: 250, managed: proc },
    );
    return {
      name: 'transmission',
      host: o.host,
      port,
      pid: proc.pid,
      logFile: join(o.workDir, 'transmission.log'),
      async uploadedBytes(): Promise<number> {
        return Number((await getTorrent(rpc, id, ['uploadedEver'])).uploadedEver ?? 0);
      },
      stop: () => proc.stop(),
    };
  } catch (e) {
    await proc.stop();
    throw e;
  }
}

type Rpc = (method: string, args: Record<string, unknown>) => Promise<Record<string, unknown>>;

async function getTorrent(
  rpc: Rpc,
  id: number,
  fields: string[],
): Promise<Record<string, unknown>> {
  const r = await rpc('torrent-get', { ids: [id], fields });
  const list = r.torrents as Record<string, unknown>[] | undefined;
  const t = list?.[0];
  if (!t) throw new HarnessError('CLIENT_ERROR', `transmission lost torrent ${id}`);
  return t;
}

/** Transmission's RPC with its CSRF dance: a 409 carries the session id to retry with. */
function transmissionRpc(url: string): Rpc {
  let sessionId = '';
  return async (method, args) => {
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'X-Transmission-Session-Id': sessionId, 'Content-Type': 'application/json' },
        body: JSON.stringify({ method, arguments: args }),
        signal: AbortSignal.timeout(5_000),
      });
      if (res.status === 409) {
        sessionId = res.headers.get('X-Transmission-Session-Id') ?? '';
        continue;
      }
      const body = (await res.json()) as { result: string; arguments?: Record<string, unknown> };
      if (body.result !== 'success')
        throw new HarnessError('CLIENT_ERROR', `transmission ${method}: ${body.result}`);
      return body.arguments ?? {};
    }
    throw new HarnessError('CLIENT_ERROR', `transmission ${method}: session id refused`);
  };
}
