// One download by one client, measured the same way for every client: the downloaders the
// benchmarks compare (download-bench.ts on a fresh swarm, held-ab.ts on a held one).
import { spawn } from 'node:child_process';
import path from 'node:path';
import {
  aria2Download,
  allocateHost,
  qbittorrentDownload,
  rtorrentDownload,
  type DaemonDownloadOptions,
  type DaemonDownloadResult,
} from '../test/harness';
import { childPidOf, pidByCommandLine, watchProcess } from './proc-status';

const root = process.cwd();

/** The reference downloaders, each a real program from Debian. */
export const REFERENCE_CLIENTS = ['aria2c', 'qbittorrent', 'rtorrent'] as const;
export type ReferenceClient = (typeof REFERENCE_CLIENTS)[number];

export function isReferenceClient(client: string): client is ReferenceClient {
  return (REFERENCE_CLIENTS as readonly string[]).includes(client);
}

export interface Measured {
  client: string;
  wallMs: number;
  /** The whole process, start-up and shutdown included. */
  cpuSec: number | null;
  /**
   * From the torrent being added to 100 %, sampled from /proc the same way for every client
   * that has such a moment (not aria2c, which starts downloading as it starts).
   */
  transferCpuSec: number | null;
  /**
   * Wall time from the torrent being added to 100 %: Tessera's `added` and `done` lines,
   * qBittorrent's add request and finish hook (its wallMs too). Null for aria2c.
   */
  transferMs: number | null;
  peakRssMb: number | null;
  loopDelay?: { p50: number; p99: number; max: number };
  /** CPU seconds the swarm's seeders spent while this client downloaded (null if unreadable). */
  seedersCpuSec?: number | null;
  /**
   * CPU seconds the hypervisor took from this machine (all cores) during the run: /proc/stat's
   * steal time. High steal slows every client; it says when a slow run is the host's doing.
   */
  stealSec?: number | null;
  /** Which round of the case this was (every client runs once per round, back to back). */
  round?: number;
}

/**
 * The environment Tessera runs in: ours without NODE_EXTRA_CA_CERTS. Where that is set (this
 * sandbox sets it for its proxy), every Node process parses the whole CA bundle at start-up,
 * about 70 ms of CPU, for TLS that a download from loopback trackers and peers never uses; the
 * native clients pay nothing like it, and neither does Node on a user's machine.
 */
export function tesseraEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/**
 * Runs Tessera's command line under /usr/bin/time for whole-process CPU seconds and peak RSS;
 * its `added` and `done` JSON lines bound the transfer for `transferCpuSec`. `cli` runs another
 * build (its dist/cli.mjs), `nodeFlags` go to node before it.
 */
export function runTessera(o: {
  torrent: string;
  out: string;
  resumeDir: string;
  cli?: string;
  nodeFlags?: string[];
  client?: string;
}): Promise<Measured> {
  const { torrent, out, resumeDir } = o;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(
      '/usr/bin/time',
      [
        '-f',
        'TIME %e %U %S %M',
        process.execPath,
        ...(o.nodeFlags ?? []),
        o.cli ?? path.join(root, 'bin/tessera.mjs'),
        'download',
        torrent,
        '--out',
        out,
        '--json',
        '--bind',
        allocateHost(),
        '--resume-dir',
        resumeDir,
        '--timeout',
        '600',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: tesseraEnv() },
    );
    // /usr/bin/time's child is Tessera's node process.
    const watch = watchProcess(() => childPidOf(child.pid!));
    let addedAt: number | null = null;
    let doneAt: number | null = null;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c;
      if (addedAt === null && stdout.includes('"event":"added"')) addedAt = Date.now();
      if (doneAt === null && stdout.includes('"event":"done"')) doneAt = Date.now();
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('error', reject);
    child.on('exit', (code) => {
      const wallMs = performance.now() - started;
      const usage = watch.stop();
      if (code !== 0)
        return reject(new Error(`tessera exited with ${code}: ${stderr.slice(-500)}`));
      const t = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(stderr);
      const done = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
        eventLoopDelayMs?: Measured['loopDelay'];
      };
      resolve({
        client: o.client ?? 'tessera',
        wallMs,
        cpuSec: t ? Number(t[2]) + Number(t[3]) : null,
        transferCpuSec:
          addedAt !== null && doneAt !== null ? usage.cpuBetween(addedAt, doneAt) : null,
        transferMs: addedAt !== null && doneAt !== null ? doneAt - addedAt : null,
        peakRssMb: t ? Number(t[4]) / 1024 : null,
        loopDelay: done.eventLoopDelayMs,
      });
    });
  });
}

/**
 * A reference client the harness starts as a daemon (qbittorrent-nox, rtorrent): its CPU and
 * peak RSS sampled from /proc while `download` runs, found by its command line; the transfer is
 * bounded by the add request answered and the client's own finished hook.
 */
async function measureDaemon(
  client: string,
  commandLine: string[],
  download: (beforeStop: () => Promise<void>) => Promise<DaemonDownloadResult>,
): Promise<Measured> {
  const watch = watchProcess(() => pidByCommandLine(commandLine));
  let r: Awaited<ReturnType<typeof download>>;
  try {
    // A last sample after 100 % and before the client is stopped, so that the transfer's CPU
    // has a sample on each side of its end even when the client exits within 20 ms.
    r = await download(() => watch.sampleNow());
  } catch (e) {
    watch.stop();
    throw e;
  }
  const usage = watch.stop();
  return {
    client,
    wallMs: r.wallMs,
    cpuSec: usage.lastCpuSec,
    transferCpuSec: usage.cpuBetween(r.addedAt, r.doneAt),
    transferMs: r.doneAt - r.addedAt,
    peakRssMb: usage.peakRssKb === null ? null : usage.peakRssKb / 1024,
  };
}

/**
 * The references the harness starts as daemons: the program's name (to find its process by
 * command line), the prefix of its scratch folder, and the harness's download function.
 */
const DAEMONS: Record<
  Exclude<ReferenceClient, 'aria2c'>,
  {
    command: string;
    dirPrefix: string;
    download: (o: DaemonDownloadOptions) => Promise<DaemonDownloadResult>;
  }
> = {
  qbittorrent: { command: 'qbittorrent-nox', dirPrefix: 'qbt', download: qbittorrentDownload },
  rtorrent: { command: 'rtorrent', dirPrefix: 'rt', download: rtorrentDownload },
};

/**
 * Downloads `torrent` into `out` with a reference client started for this run alone (its
 * scratch files in `work`, named by `run`).
 */
export async function downloadWithReference(
  client: ReferenceClient,
  o: { torrent: string; out: string; work: string; run: number },
): Promise<Measured> {
  if (client === 'aria2c') {
    const r = await aria2Download({
      torrent: o.torrent,
      outDir: o.out,
      host: allocateHost(),
      timeoutMs: 600_000,
      logDir: path.join(o.work, 'logs'),
    });
    return {
      client,
      wallMs: r.wallMs,
      cpuSec: r.cpuSec ?? null,
      transferCpuSec: null,
      transferMs: null,
      peakRssMb: r.peakRssKb ? r.peakRssKb / 1024 : null,
    };
  }
  const daemon = DAEMONS[client];
  const workDir = path.join(o.work, `${daemon.dirPrefix}-${o.run}`);
  return measureDaemon(client, [daemon.command, workDir], (beforeStop) =>
    daemon.download({
      torrent: o.torrent,
      outDir: o.out,
      host: allocateHost(),
      workDir,
      timeoutMs: 600_000,
      beforeStop,
    }),
  );
}
