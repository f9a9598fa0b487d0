// aria2c as seeder and as reference downloader. `--interface=<host>` binds every socket it
// opens (peer listener, outgoing peer and tracker connections), so opentracker sees `host`.
// Its JSON-RPC listener always binds 127.0.0.1 (without --rpc-listen-all), hence a free port there.
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { HarnessError } from './errors';
import { freePort, raceTimeout, spawnLogged, waitFor, type Managed } from './proc';
import type { Seeder, SeederOptions } from './seeder-types';

/** aria2's DHT node (BEP 5, or BEP 32 with `family: 6`), for DHT tests; off unless asked for. */
export interface Aria2DhtOptions {
  /** UDP port of aria2's DHT node (IPv4: it binds `host` too, through --interface). */
  port: number;
  /** The node aria2 joins through (--dht-entry-point takes one). */
  entryPoint?: { host: string; port: number };
  /** Where aria2 keeps its routing table between runs (dht.dat). */
  filePath: string;
  /** 6: the IPv6 DHT only, bound to `listenAddr6` (IPv6 stays on; peers still on IPv4 `host`). */
  family?: 4 | 6;
  /** IPv6 address of the IPv6 DHT node. Default '::1'. */
  listenAddr6?: string;
}

function aria2DhtArgs(dht: Aria2DhtOptions | undefined): string[] {
  if (!dht) return ['--disable-ipv6=true', '--enable-dht=false', '--enable-dht6=false'];
  if (dht.family === 6) {
    return [
      '--disable-ipv6=false',
      '--enable-dht=false',
      '--enable-dht6=true',
      `--dht-listen-port=${dht.port}`,
      `--dht-listen-addr6=${dht.listenAddr6 ?? '::1'}`,
      `--dht-file-path6=${resolve(dht.filePath)}`,
      ...(dht.entryPoint
        ? [`--dht-entry-point6=[${dht.entryPoint.host}]:${dht.entryPoint.port}`]
        : []),
    ];
  }
  return [
    '--disable-ipv6=true',
    '--enable-dht=true',
    '--enable-dht6=false',
    `--dht-listen-port=${dht.port}`,
    `--dht-file-path=${resolve(dht.filePath)}`,
    ...(dht.entryPoint ? [`--dht-entry-point=${dht.entryPoint.host}:${dht.entryPoint.port}`] : []),
  ];
}

/**
 * Options every aria2c run gets: loopback only, no LPD/PeX, IPv4, no preallocation; no DHT
 * unless `dht` is given.
 */
export function aria2BaseArgs(host: string, port: number, dht?: Aria2DhtOptions): string[] {
  return [
    `--interface=${host}`,
    `--listen-port=${port}`,
    ...aria2DhtArgs(dht),
    '--bt-enable-lpd=false',
    '--enable-peer-exchange=false',
    '--file-allocation=none',
    '--max-overall-upload-limit=0',
    '--max-overall-download-limit=0',
    '--bt-max-peers=0',
    '--console-log-level=warn',
    '--summary-interval=0',
    '--log-level=info',
  ];
}

export async function startAria2Seeder(
  o: SeederOptions & { dht?: Aria2DhtOptions },
): Promise<Seeder> {
  const port = o.port ?? (await freePort(o.host));
  const rpcPort = await freePort('127.0.0.1');
  await mkdir(o.workDir, { recursive: true });
  const logFile = join(o.workDir, 'aria2.log');
  const proc = spawnLogged(
    'aria2c',
    [
      ...aria2BaseArgs(o.host, port, o.dht),
      `--dir=${resolve(o.dataDir)}`,
      `--log=${logFile}`,
      // Seed forever, but only after a full hash check of the existing data.
      '--seed-ratio=0.0',
      '--check-integrity=true',
      '--bt-seed-unverified=false',
      '--auto-save-interval=0',
      ...(o.uploadLimitKiBps !== undefined
        ? [`--max-overall-upload-limit=${o.uploadLimitKiBps}K`]
        : []),
      '--enable-rpc=true',
      `--rpc-listen-port=${rpcPort}`,
      o.torrent,
    ],
    { logFile: join(o.workDir, 'aria2.out') },
  );
  const rpc = async (method: string, params: unknown[]): Promise<unknown> => {
    const res = await fetch(`http://127.0.0.1:${rpcPort}/jsonrpc`, {
      method: 'POST',
      body: JSON.stringify({ jsonrpc: '2.0', id: '1', method, params }),
      signal: AbortSignal.timeout(3_000),
    });
    const body = (await res.json()) as { result?: unknown; error?: { message: string } };
    if (body.error)
      throw new HarnessError('CLIENT_ERROR', `aria2 ${method}: ${body.error.message}`);
    return body.result;
  };
  type Status = {
    status: string;
    seeder?: string;
    completedLength: string;
    totalLength: string;
    uploadLength: string;
  };
  const active = async (): Promise<Status | undefined> =>
    (
      (await rpc('aria2.tellActive', [
        ['status', 'seeder', 'completedLength', 'totalLength', 'uploadLength'],
      ])) as Status[]
    )[0];
  try {
    await waitFor(
      'aria2 seeding',
      async () => {
        const s = await active();
        return s?.seeder === 'true' && s.completedLength === s.totalLength ? true : undefined;
      },
      { timeoutMs: o.readyTimeoutMs ?? 60_000, intervalMs: 250, managed: proc },
    );
  } catch (e) {
    await proc.stop();
    throw e;
  }
  return {
    name: 'aria2',
    host: o.host,
    port,
    pid: proc.pid,
    logFile,
    async uploadedBytes(): Promise<number> {
      return Number((await active())?.uploadLength ?? 0);
    },
    stop: () => proc.stop(),
  };
}

export interface DownloadResult {
  wallMs: number;
  /** User + system CPU seconds of the downloader (needs /usr/bin/time, Debian package `time`). */
  cpuSec?: number;
  peakRssKb?: number;
  /** 'host:port' of every peer that completed a BitTorrent handshake (from aria2's log). */
  handshakePeers: string[];
}

/** Downloads `torrent` into `outDir` with aria2c bound to `host`; exits as soon as it is complete. */
export async function aria2Download(o: {
  torrent: string;
  outDir: string;
  host: string;
  port?: number;
  timeoutMs: number;
  /** Where aria2's log and /usr/bin/time output go; defaults to outDir's parent. */
  logDir?: string;
}): Promise<DownloadResult> {
  const port = o.port ?? (await freePort(o.host));
  const logDir = o.logDir ?? resolve(o.outDir, '..');
  await mkdir(o.outDir, { recursive: true });
  await mkdir(logDir, { recursive: true });
  const logFile = join(logDir, `aria2-download-${port}.log`);
  const timeFile = join(logDir, `aria2-download-${port}.time`);
  const args = [
    ...aria2BaseArgs(o.host, port),
    `--dir=${resolve(o.outDir)}`,
    `--log=${logFile}`,
    '--seed-time=0',
    '--bt-stop-timeout=0',
    '--follow-torrent=mem',
    o.torrent,
  ];
  const haveTime = existsSync('/usr/bin/time');
  const started = Date.now();
  const proc: Managed = haveTime
    ? spawnLogged('/usr/bin/time', ['-v', '-o', timeFile, 'aria2c', ...args], {
        logFile: `${logFile}.out`,
        group: true,
      })
    : spawnLogged('aria2c', args, { logFile: `${logFile}.out` });
  const outcome = await raceTimeout(proc.exited(), o.timeoutMs);
  const wallMs = Date.now() - started;
  if (outcome === 'timeout') {
    await proc.stop(2_000);
    throw new HarnessError(
      'TIMEOUT',
      `aria2c download did not finish within ${o.timeoutMs} ms; log ${logFile}`,
    );
  }
  if (proc.child.exitCode !== 0) {
    throw new HarnessError(
      'COMMAND_FAILED',
      `aria2c download exited ${proc.child.exitCode}; log ${logFile}`,
    );
  }
  const handshakePeers = await peersFromLog(logFile);
  if (!haveTime) return { wallMs, handshakePeers };
  const t = await readFile(timeFile, 'utf8');
  const num = (re: RegExp): number | undefined => {
    const m = re.exec(t);
    return m ? Number(m[1]) : undefined;
  };
  const user = num(/User time \(seconds\): ([\d.]+)/);
  const sys = num(/System time \(seconds\): ([\d.]+)/);
  return {
    wallMs,
    cpuSec:
      user !== undefined && sys !== undefined ? Math.round((user + sys) * 100) / 100 : undefined,
    peakRssKb: num(/Maximum resident set size \(kbytes\): (\d+)/),
    handshakePeers,
  };
}

async function peersFromLog(logFile: string): Promise<string[]> {
  const log = await readFile(logFile, 'utf8').catch(() => '');
  const peers = new Set<string>();
  for (const m of log.matchAll(/From: (\S+) handshake peerId=/g)) peers.add(m[1] ?? '');
  return [...peers].sort();
}
