// Debian's opentracker on loopback. Debian builds it in whitelist mode (README.Debian), so the
// tracker only accepts info-hashes listed in a file; `allow` adds one and reloads via SIGHUP.
import dgram from 'node:dgram';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HarnessError } from './errors';
import { canConnect, freePort, freeUdpPort, sleep, spawnLogged, waitFor } from './proc';

export interface Tracker {
  announceUrl: string;
  /** `udp://host:port/announce` when started with `udp: true` (BEP 15), else null. */
  udpAnnounceUrl: string | null;
  host: string;
  port: number;
  pid: number;
  logFile: string;
  /** Whitelists one more info-hash (hex) and waits briefly for opentracker to reload. */
  allow(infoHashHex: string): Promise<void>;
  /** Number of seeders (`complete`) opentracker reports for a hash, via /scrape. */
  seederCount(infoHashHex: string): Promise<number>;
  stop(): Promise<void>;
}

export async function startOpentracker(opts: {
  workDir: string;
  host?: string;
  port?: number;
  infoHashes?: readonly string[];
  readyTimeoutMs?: number;
  /** Also listen for UDP announces (BEP 15) on a free UDP port of `host`. Default false. */
  udp?: boolean;
}): Promise<Tracker> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(host));
  // opentracker chroots into -d and drops to "nobody" when run as root, so the directory and
  // the whitelist must be readable by anyone; the whitelist path is relative to that chroot.
  const dir = join(opts.workDir, 'opentracker');
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  const hashes = new Set((opts.infoHashes ?? []).map((h) => h.toLowerCase()));
  const whitelist = join(dir, 'whitelist.txt');
  const writeList = async (): Promise<void> => {
    await writeFile(whitelist, [...hashes].map((h) => `${h}\n`).join(''), { mode: 0o644 });
    await chmod(whitelist, 0o644);
  };
  await writeList();
  // Without -P opentracker binds no UDP port, so it cannot clash with 6969.
  const udpPort = opts.udp ? await freeUdpPort(host) : null;
  const proc = spawnLogged(
    'opentracker',
    [
      ...['-i', host, '-p', String(port)],
      ...(udpPort === null ? [] : ['-P', String(udpPort)]),
      ...['-d', dir, '-w', 'whitelist.txt'],
    ],
    {
      logFile: join(opts.workDir, 'opentracker.log'),
    },
  );
  try {
    await waitFor(
      `opentracker on ${host}:${port}`,
      async () =>
        (await canConnect(host, port)) && (udpPort === null || (await udpAnswers(host, udpPort)))
          ? true
          : undefined,
      {
        timeoutMs: opts.readyTimeoutMs ?? 10_000,
        managed: proc,
      },
    );
  } catch (e) {
    await proc.stop();
    throw e;
  }
  // The whitelist is read by a helper thread right after start.
  await sleep(100);
  const base = `http://${host}:${port}`;
  return {
    announceUrl: `${base}/announce`,
    udpAnnounceUrl: udpPort === null ? null : `udp://${host}:${udpPort}/announce`,
    host,
    port,
    pid: proc.pid,
    logFile: proc.logFile,
    async allow(infoHashHex: string): Promise<void> {
      hashes.add(infoHashHex.toLowerCase());
      await writeList();
      process.kill(proc.pid, 'SIGHUP');
      await sleep(200);
    },
    async seederCount(infoHashHex: string): Promise<number> {
      const raw = Buffer.from(infoHashHex, 'hex');
      const q = [...raw].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
      const res = await fetch(`${base}/scrape?info_hash=${q}`, {
        signal: AbortSignal.timeout(2_000),
      });
      const body = Buffer.from(await res.arrayBuffer()).toString('latin1');
      // Minimal read of d5:filesd20:<hash>d8:completei<N>e...: enough for one-hash scrapes.
      const m = /8:completei(\d+)e/.exec(body);
      if (!res.ok) throw new HarnessError('CLIENT_ERROR', `scrape failed: HTTP ${res.status}`);
      return m ? Number(m[1]) : 0;
    },
    stop: () => proc.stop(),
  };
}

/** Sends a BEP 15 connect and waits up to 300 ms for the tracker's answer. */
function udpAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 300);
    s.once('error', () => done(false));
    s.once('message', (m) => done(m.length >= 16 && m.readUInt32BE(0) === 0));
    const connect = Buffer.alloc(16);
    connect.writeBigUInt64BE(0x41727101980n, 0);
    connect.writeUInt32BE(0x7e55e7a, 12);
    s.send(connect, port, host);
  });
}
