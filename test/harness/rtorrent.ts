// rtorrent 0.9.8 (rakshasa's libtorrent 0.13.8), a fourth independent engine, as a seeder and as
// a downloader, driven over XML-RPC on an SCGI unix socket.
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { HarnessError } from './errors';
import type { DaemonDownloadOptions, DaemonDownloadResult } from './downloader-types';
import { infoHashOf } from './mktorrent';
import { freePort, spawnLogged, waitFor, type Managed } from './proc';
import type { Seeder, SeederOptions } from './seeder-types';

interface RtorrentInstance {
  proc: Managed;
  port: number;
  /** One XML-RPC call with string parameters; the first is the target (a hash, or ''). */
  call(method: string, params: string[]): Promise<string>;
}

/**
 * Starts rtorrent as a daemon with nothing loaded. Settings a user of a fast client would
 * have: no rate limits unless asked, no DHT/PEX (the swarm is the tracker's), and no second hash
 * pass over the whole torrent on completion (`pieces.hash.on_completion`, on by default, re-reads
 * every byte after every piece was already checked as it came; the other clients do not).
 */
async function startRtorrent(o: {
  host: string;
  port?: number;
  workDir: string;
  directory: string;
  uploadLimitKiBps?: number;
  /** A command line rtorrent runs (through execute.nothrow) when a download finishes. */
  onFinished?: string[];
}): Promise<RtorrentInstance> {
  const work = resolve(o.workDir);
  const session = join(work, 'session');
  // A session left by an earlier run would load its torrents again at start-up.
  await rm(session, { recursive: true, force: true });
  await mkdir(session, { recursive: true });
  const port = o.port ?? (await freePort(o.host));
  const socket = join(work, 'scgi.sock');
  await rm(socket, { force: true });
  const rc = join(work, 'rtorrent.rc');
  await writeFile(
    rc,
    [
      `directory.default.set = "${resolve(o.directory)}"`,
      `session.path.set = "${session}"`,
      `network.bind_address.set = ${o.host}`,
      `network.local_address.set = ${o.host}`,
      `network.port_range.set = ${port}-${port}`,
      'network.port_random.set = no',
      'dht.mode.set = disable',
      'protocol.pex.set = no',
      'trackers.use_udp.set = no',
      'protocol.encryption.set = allow_incoming,try_outgoing,enable_retry',
      'pieces.hash.on_completion.set = no',
      'throttle.global_down.max_rate.set = 0',
      `throttle.global_up.max_rate.set_kb = ${o.uploadLimitKiBps ?? 0}`,
      `network.scgi.open_local = "${socket}"`,
      'system.daemon.set = true',
      ...(o.onFinished
        ? [
            `method.set_key = event.download.finished, harness_done, "execute.nothrow = ${o.onFinished.join(', ')}"`,
          ]
        : []),
      '',
    ].join('\n'),
  );
  // -n: no ~/.rtorrent.rc; everything comes from ours.
  const proc = spawnLogged('rtorrent', ['-n', '-o', `import=${rc}`], {
    logFile: join(work, 'rtorrent.out'),
    env: { ...process.env, HOME: work },
  });
  try {
    await waitFor(
      `rtorrent SCGI socket ${socket}`,
      async () => ((await stat(socket).catch(() => null)) ? true : undefined),
      { timeoutMs: 30_000, intervalMs: 10, managed: proc },
    );
  } catch (e) {
    await proc.stop();
    throw e;
  }
  return { proc, port, call: (method, params) => xmlRpc(socket, method, params) };
}

/**
 * rtorrent seeding, after its own hash check of `dataDir`. aria2c cannot download from it:
 * aria2 sends a fresh bitfield mid-connection in place of have messages, and rtorrent serves
 * that peer nothing more (1.5 MB, then a stall until the timeout). Tessera, qBittorrent and
 * Transmission take that bitfield; rtorrent does not.
 */
export async function startRtorrentSeeder(o: SeederOptions): Promise<Seeder> {
  await mkdir(o.workDir, { recursive: true });
  const rt = await startRtorrent({ ...o, directory: o.dataDir });
  const hash = (await infoHashOf(o.torrent)).toUpperCase();
  const number = async (method: string, target: string): Promise<number> =>
    Number(/<(?:i4|i8|int)>(-?\d+)</.exec(await rt.call(method, [target]))?.[1] ?? NaN);
  try {
    await rt.call('load.start', ['', resolve(o.torrent)]);
    // Seeding once its own hash check has found every piece, and the tracker has heard from it.
    await waitFor(
      'rtorrent seeding',
      async () =>
        (await number('d.complete', hash)) === 1 &&
        (await number('t.success_counter', `${hash}:t0`)) > 0
          ? true
          : undefined,
      { timeoutMs: o.readyTimeoutMs ?? 60_000, intervalMs: 250, managed: rt.proc },
    );
  } catch (e) {
    await rt.proc.stop();
    throw e;
  }
  return {
    name: 'rtorrent',
    host: o.host,
    port: rt.port,
    pid: rt.proc.pid,
    logFile: rt.proc.logFile,
    uploadedBytes: () => number('d.up.total', hash),
    stop: () => rt.proc.stop(),
  };
}

/**
 * Downloads with a fresh rtorrent; wallMs runs from adding the torrent to 100 %, like
 * qbittorrentDownload: the daemon starts first, the torrent goes in over XML-RPC (`load.start`),
 * and its `event.download.finished` hook touches a file whose mtime is the moment of 100 %.
 */
export async function rtorrentDownload(o: DaemonDownloadOptions): Promise<DaemonDownloadResult> {
  await mkdir(o.workDir, { recursive: true });
  await mkdir(o.outDir, { recursive: true });
  const finishedMarker = join(resolve(o.workDir), 'finished');
  await rm(finishedMarker, { force: true });
  const rt = await startRtorrent({
    ...o,
    directory: o.outDir,
    onFinished: ['touch', finishedMarker],
  });
  try {
    const started = Date.now();
    await rt.call('load.start', ['', resolve(o.torrent)]);
    const addedAt = Date.now();
    const finishedAt = await waitFor(
      'rtorrent download',
      async () => (await stat(finishedMarker).catch(() => null))?.mtimeMs,
      { timeoutMs: o.timeoutMs, intervalMs: 20, managed: rt.proc },
    );
    const doneAt = Math.round(finishedAt);
    await o.beforeStop?.();
    return { wallMs: doneAt - started, addedAt, doneAt };
  } finally {
    await rt.proc.stop();
  }
}

/** One XML-RPC call with string parameters over SCGI; throws on a fault or a bad answer. */
export function xmlRpc(socketPath: string, method: string, params: string[]): Promise<string> {
  const body =
    `<?xml version="1.0"?><methodCall><methodName>${escapeXml(method)}</methodName><params>` +
    params.map((p) => `<param><value><string>${escapeXml(p)}</string></value></param>`).join('') +
    '</params></methodCall>';
  const headers = `CONTENT_LENGTH\0${Buffer.byteLength(body)}\0SCGI\x001\0`;
  const request = `${Buffer.byteLength(headers)}:${headers},${body}`;
  return new Promise((resolvePromise, reject) => {
    const sock = connect(socketPath);
    const chunks: Buffer[] = [];
    sock.setTimeout(5_000, () =>
      sock.destroy(new HarnessError('TIMEOUT', `rtorrent ${method}: no answer in 5 s`)),
    );
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', (e) =>
      reject(e instanceof HarnessError ? e : new HarnessError('CLIENT_ERROR', e.message)),
    );
    sock.on('end', () => {
      const answer = Buffer.concat(chunks).toString('utf8');
      const xml = answer.slice(answer.indexOf('<?xml'));
      if (!answer.includes('<methodResponse>') || xml.includes('<fault>'))
        reject(new HarnessError('CLIENT_ERROR', `rtorrent ${method}: ${xml || answer}`));
      else resolvePromise(xml);
    });
    sock.end(request);
  });
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
