// qbittorrent-nox (4.5, libtorrent 2.0) with a private profile, driven through its WebUI API.
// libtorrent announces from its listen socket, so InterfaceAddress=<host> is also the address
// opentracker hands out. Localhost WebUI auth is off, so no login is needed.
import { openAsBlob } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { HarnessError } from './errors';
import type { DaemonDownloadOptions, DaemonDownloadResult } from './downloader-types';
import { canConnect, freePort, spawnLogged, waitFor, type Managed } from './proc';
import type { Seeder, SeederOptions } from './seeder-types';

interface QbTorrentInfo {
  hash: string;
  state: string;
  progress: number;
  uploaded: number;
}

interface QbInstance {
  proc: Managed;
  port: number;
  add(torrent: string, savePath: string): Promise<void>;
  info(): Promise<QbTorrentInfo | undefined>;
}

const SEEDING_STATES = new Set(['uploading', 'stalledUP', 'forcedUP', 'queuedUP']);

async function startQbittorrent(o: {
  host: string;
  port?: number;
  workDir: string;
  savePath: string;
  readyTimeoutMs: number;
  uploadLimitKiBps?: number;
  peerExchange?: boolean;
  /** A file qBittorrent touches when a torrent finishes (its "run external program" hook). */
  finishedMarker?: string;
}): Promise<QbInstance> {
  const port = o.port ?? (await freePort(o.host));
  const webPort = await freePort('127.0.0.1');
  const profile = resolve(o.workDir, 'profile');
  const configDir = join(profile, 'qBittorrent', 'config');
  // A profile left by an earlier run in the same work dir still lists its torrents, and
  // adding one again is refused ("Fails."): every instance starts from an empty profile.
  await rm(profile, { recursive: true, force: true });
  await mkdir(configDir, { recursive: true });
  // Keys as qBittorrent 4.5 spells them. MultiConnectionsPerIp lifts libtorrent's one
  // connection per IP; LegalNotice\Accepted skips the interactive prompt on first start.
  const conf = `[LegalNotice]
Accepted=true

[BitTorrent]
Session\\Interface=lo
Session\\InterfaceName=lo
Session\\InterfaceAddress=${o.host}
Session\\Port=${port}
Session\\DHTEnabled=false
Session\\LSDEnabled=false
Session\\PeXEnabled=${o.peerExchange === true}
Session\\MultiConnectionsPerIp=true
Session\\QueueingSystemEnabled=false
Session\\GlobalMaxRatio=-1
Session\\BTProtocol=TCP
Session\\DefaultSavePath=${resolve(o.savePath)}
Session\\AnonymousModeEnabled=false
Session\\IgnoreLimitsOnLAN=${o.uploadLimitKiBps === undefined}
Session\\GlobalUPSpeedLimit=${o.uploadLimitKiBps ?? 0}
Session\\uTPRateLimited=false
Session\\RefreshInterval=${o.finishedMarker ? 100 : 1500}

[Preferences]
Connection\\UPnP=false
WebUI\\Enabled=true
WebUI\\Address=127.0.0.1
WebUI\\Port=${webPort}
WebUI\\LocalHostAuth=false
WebUI\\AuthSubnetWhitelistEnabled=true
WebUI\\AuthSubnetWhitelist=127.0.0.0/8
WebUI\\HostHeaderValidation=false
WebUI\\CSRFProtection=false
WebUI\\UseUPnP=false
${
  o.finishedMarker
    ? `
[AutoRun]
enabled=true
program=touch "${o.finishedMarker}"
`
    : ''
}`;
  await writeFile(join(configDir, 'qBittorrent.conf'), conf);
  const proc = spawnLogged('qbittorrent-nox', [`--profile=${profile}`], {
    logFile: join(o.workDir, 'qbittorrent.out'),
    env: { ...process.env, HOME: profile },
  });
  const api = `http://127.0.0.1:${webPort}/api/v2`;
  try {
    await waitFor(
      `qbittorrent WebUI 127.0.0.1:${webPort}`,
      async () => ((await canConnect('127.0.0.1', webPort)) ? true : undefined),
      {
        timeoutMs: o.readyTimeoutMs,
        managed: proc,
      },
    );
  } catch (e) {
    await proc.stop();
    throw e;
  }
  return {
    proc,
    port,
    async add(torrent: string, savePath: string): Promise<void> {
      const form = new FormData();
      form.append('torrents', await openAsBlob(torrent), basename(torrent));
      form.append('savepath', resolve(savePath));
      form.append('skip_checking', 'false');
      form.append('paused', 'false');
      const res = await fetch(`${api}/torrents/add`, {
        method: 'POST',
        body: form,
        signal: AbortSignal.timeout(5_000),
      });
      const text = await res.text();
      if (!res.ok || text.trim() !== 'Ok.')
        throw new HarnessError(
          'CLIENT_ERROR',
          `qbittorrent add: ${res.status} ${text}${text.trim() === 'Fails.' ? ' (the torrent is already in its session, or not a valid .torrent)' : ''}`,
        );
    },
    async info(): Promise<QbTorrentInfo | undefined> {
      const res = await fetch(`${api}/torrents/info`, { signal: AbortSignal.timeout(3_000) });
      return ((await res.json()) as QbTorrentInfo[])[0];
    },
  };
}

export async function startQbittorrentSeeder(o: SeederOptions): Promise<Seeder> {
  const timeoutMs = o.readyTimeoutMs ?? 60_000;
  const qb = await startQbittorrent({ ...o, savePath: o.dataDir, readyTimeoutMs: timeoutMs });
  try {
    await qb.add(o.torrent, o.dataDir);
    await waitFor(
      'qbittorrent seeding',
      async () => {
        const t = await qb.info();
        if (t?.state === 'error' || t?.state === 'missingFiles')
          throw new HarnessError('CLIENT_ERROR', `qbittorrent: ${t.state}`);
        return t && t.progress === 1 && SEEDING_STATES.has(t.state) ? true : undefined;
      },
      { timeoutMs, intervalMs: 250, managed: qb.proc },
    );
  } catch (e) {
    await qb.proc.stop();
    throw e;
  }
  return {
    name: 'qbittorrent',
    host: o.host,
    port: qb.port,
    pid: qb.proc.pid,
    logFile: join(resolve(o.workDir), 'profile', 'qBittorrent', 'data', 'logs', 'qbittorrent.log'),
    async uploadedBytes(): Promise<number> {
      return (await qb.info())?.uploaded ?? 0;
    },
    stop: () => qb.proc.stop(),
  };
}

/**
 * Downloads with a fresh qbittorrent-nox; wallMs runs from adding the torrent to 100 %.
 * addedAt (the add request answered) and doneAt (Date.now() clock) bound the transfer for CPU
 * accounting.
 *
 * The moment of 100 % comes from qBittorrent's own "run external program on torrent finished"
 * hook (it touches a file; its mtime is the moment), with the torrent-status refresh at 100 ms
 * instead of 1.5 s. Timed by the Web API with the default refresh, 256 MiB runs took either
 * about 1.3 s or about 2.8 s, the moment of 100 % rounded up to the next refresh; with both
 * changes, 1.27–1.34 s every time.
 */
export async function qbittorrentDownload(o: DaemonDownloadOptions): Promise<DaemonDownloadResult> {
  await mkdir(o.outDir, { recursive: true });
  const finishedMarker = join(resolve(o.workDir), 'finished');
  const qb = await startQbittorrent({
    ...o,
    savePath: o.outDir,
    readyTimeoutMs: 30_000,
    finishedMarker,
  });
  try {
    const started = Date.now();
    await qb.add(o.torrent, o.outDir);
    // Like Tessera's `added` line: after the torrent is parsed and added, before the transfer.
    const addedAt = Date.now();
    await waitFor(
      'qbittorrent download',
      async () => {
        const t = await qb.info();
        return t && t.progress === 1 && SEEDING_STATES.has(t.state) ? true : undefined;
      },
      { timeoutMs: o.timeoutMs, intervalMs: 100, managed: qb.proc },
    );
    const polledAt = Date.now();
    const finishedAt = await waitFor(
      'qbittorrent finished hook',
      async () => (await stat(finishedMarker).catch(() => null))?.mtimeMs,
      { timeoutMs: 3_000, intervalMs: 20, managed: qb.proc },
    ).catch(() => {
      console.warn('[harness] qbittorrent: no finished hook; timing by the Web API instead');
      return polledAt;
    });
    const doneAt = Math.round(finishedAt);
    await o.beforeStop?.();
    return { wallMs: doneAt - started, addedAt, doneAt };
  } finally {
    await qb.proc.stop();
  }
}
