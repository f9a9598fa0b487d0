// rtorrent 0.9.8 (rakshasa's libtorrent 0.13.8) as a downloader, driven over XML-RPC on an SCGI
// unix socket. A third independent engine for the download benchmark next to libtorrent
// (qBittorrent) and aria2.
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { HarnessError } from './errors';
import { freePort, spawnLogged, waitFor } from './proc';

/**
 * Downloads with a fresh rtorrent; wallMs runs from adding the torrent to 100 %, like
 * qbittorrentDownload: the daemon starts first, the torrent goes in over XML-RPC (`load.start`),
 * and its `event.download.finished` hook touches a file whose mtime is the moment of 100 %.
 *
 * Settings a user of a fast client would have: no rate limits, no DHT/PEX (the swarm is the
 * tracker's), and no second hash pass over the whole torrent on completion
 * (`pieces.hash.on_completion`, on by default, re-reads every byte after every piece was already
 * checked as it came; the other clients do not).
 */
export async function rtorrentDownload(o: {
  torrent: string;
  outDir: string;
  host: string;
  port?: number;
  workDir: string;
  timeoutMs: number;
}): Promise<{ wallMs: number; addedAt: number; doneAt: number; pid: number }> {
  const work = resolve(o.workDir);
  const session = join(work, 'session');
  // A session left by an earlier run would load its torrent again at start-up.
  await rm(session, { recursive: true, force: true });
  await mkdir(session, { recursive: true });
  await mkdir(o.outDir, { recursive: true });
  const port = o.port ?? (await freePort(o.host));
  const socket = join(work, 'scgi.sock');
  await rm(socket, { force: true });
  const finishedMarker = join(work, 'finished');
  await rm(finishedMarker, { force: true });
  const rc = join(work, 'rtorrent.rc');
  await writeFile(
    rc,
    [
      `directory.default.set = "${resolve(o.outDir)}"`,
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
      'throttle.global_up.max_rate.set = 0',
      `network.scgi.open_local = "${socket}"`,
      'system.daemon.set = true',
      `method.set_key = event.download.finished, harness_done, "execute.nothrow = touch, ${finishedMarker}"`,
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
    const started = Date.now();
    await xmlRpc(socket, 'load.start', ['', resolve(o.torrent)]);
    const addedAt = Date.now();
    const finishedAt = await waitFor(
      'rtorrent download',
      async () => (await stat(finishedMarker).catch(() => null))?.mtimeMs,
      { timeoutMs: o.timeoutMs, intervalMs: 20, managed: proc },
    );
    const doneAt = Math.round(finishedAt);
    return { wallMs: doneAt - started, addedAt, doneAt, pid: proc.pid };
  } finally {
    await proc.stop();
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
