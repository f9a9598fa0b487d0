import { homedir } from 'node:os';
import path from 'node:path';
import { bootstrapNodeProblem, DEFAULT_SETTINGS } from '../../shared/settings';
import { EngineError, isMagnetLink, parsePeerAddress, Session, type Torrent } from '../engine';
import { flag, parseArgs, UsageError, value, values } from './args';
import { progressReporter, type ProgressReporter } from './progress';
import { readTorrentBytes } from './read-torrent-file';

export const DOWNLOAD_USAGE =
  'tessera download <file.torrent | magnet:?…> --out <dir> [--json] [--peer ip:port]... [--port N] [--bind ip] [--resume-dir DIR] [--no-trackers] [--no-dht] [--dht-bootstrap host:port]... [--dht-port N] [--timeout seconds] [--seed]';

/**
 * `tessera download`: fetches one torrent into <out>/<name>, verifying every piece, and exits 0
 * when every file is complete — or 1 with a one-line reason when it cannot go on.
 */
export async function runDownload(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, {
    booleans: ['json', 'no-trackers', 'seed', 'no-dht'],
    values: [
      'out',
      'peer',
      'port',
      'timeout',
      'max-peers',
      'bind',
      'resume-dir',
      'dht-bootstrap',
      'dht-port',
    ],
  });
  if (args.positional.length !== 1) throw new UsageError(`usage: ${DOWNLOAD_USAGE}`);
  const out = value(args, 'out');
  if (!out) throw new UsageError(`--out <dir> is required\nusage: ${DOWNLOAD_USAGE}`);
  const peers = values(args, 'peer').map(parsePeerArg);
  const port = optionalInt(args, 'port', 0, 65535);
  const timeoutSec = optionalInt(args, 'timeout', 1, 7 * 24 * 3600);
  const maxPeers = optionalInt(args, 'max-peers', 1, 1000);
  const noTrackers = flag(args, 'no-trackers');
  const dhtEnabled = !flag(args, 'no-dht');
  const bootstrap = values(args, 'dht-bootstrap');
  for (const node of bootstrap) {
    const problem = bootstrapNodeProblem(node);
    if (problem) throw new UsageError(`--dht-bootstrap ${problem}`);
  }
  const dhtPort = optionalInt(args, 'dht-port', 0, 65535);

  const input = args.positional[0]!;
  const bytes = isMagnetLink(input) ? null : await readTorrentBytes(input);
  const session = await Session.create({
    downloadDir: path.resolve(out),
    listenPort: port ?? 0,
    noTrackers,
    maxPeersPerTorrent: maxPeers,
    bindAddress: value(args, 'bind'),
    settings: {
      dht: {
        enabled: dhtEnabled,
        bootstrap: bootstrap.length > 0 ? bootstrap : DEFAULT_SETTINGS.dht.bootstrap,
      },
    },
    dhtPort,
    resumeDir: path.resolve(value(args, 'resume-dir') ?? defaultResumeDir()),
  });
  const mode = flag(args, 'json') ? 'json' : process.stderr.isTTY ? 'tty' : 'plain';
  const reporter = progressReporter(mode, mode === 'json' ? process.stdout : process.stderr);
  try {
    const torrent = bytes ? await session.addTorrent(bytes) : await session.addMagnet(input);
    if (peers.length > 0) torrent.addPeers(peers, 'manual');
    if (noTrackers && peers.length === 0 && !dhtEnabled)
      throw new EngineError(
        'no-peers',
        'no trackers to ask (--no-trackers), no DHT (--no-dht) and no --peer given',
      );
    return await waitForCompletion(torrent, reporter, {
      haveManualPeers: peers.length > 0,
      // With DHT nodes to ask, failing trackers are not the end: peers may still come from it.
      dhtHasNodes: () => session.dhtNodeCount() > 0,
      timeoutSec,
      mode,
      seed: flag(args, 'seed'),
    });
  } finally {
    await session.close();
  }
}

async function waitForCompletion(
  torrent: Torrent,
  reporter: ProgressReporter,
  o: {
    haveManualPeers: boolean;
    dhtHasNodes: () => boolean;
    timeoutSec: number | undefined;
    mode: 'tty' | 'plain' | 'json';
    /** Keep serving the complete torrent to others until interrupted. */
    seed: boolean;
  },
): Promise<number> {
  const started = Date.now();
  reporter.start(torrent.summary());
  return new Promise<number>((resolve, reject) => {
    const finish = (result: { code: number } | { error: Error }) => {
      clearInterval(timer);
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
      torrent.off('done', onDone);
      torrent.off('error', onError);
      if ('error' in result) reject(result.error);
      else resolve(result.code);
    };
    let seeding = false;
    const onDone = () => {
      reporter.finish(torrent.summary(), Date.now() - started);
      if (!o.seed) return finish({ code: 0 });
      seeding = true;
      if (o.mode !== 'json') process.stderr.write('Seeding; press Ctrl+C to stop.\n');
    };
    const onError = (err: Error) => finish({ error: err });
    const onSigint = () => {
      if (seeding) return finish({ code: 0 });
      process.stderr.write('\ninterrupted: verified pieces are kept on disk\n');
      finish({ code: 130 });
    };
    const tick = () => {
      reporter.update(torrent.summary());
      if (seeding) return;
      const trackerProblem =
        !o.haveManualPeers && !o.dhtHasNodes() ? unreachableTrackers(torrent) : null;
      if (trackerProblem) finish({ error: new EngineError('tracker-unreachable', trackerProblem) });
      else if (o.timeoutSec !== undefined && Date.now() - started > o.timeoutSec * 1000) {
        const s = torrent.summary();
        finish({
          error: new EngineError(
            'timeout',
            `gave up after ${o.timeoutSec} s at ${(s.progress * 100).toFixed(1)} % with ${s.peersConnected} peers connected`,
          ),
        });
      }
    };
    const timer = setInterval(tick, o.mode === 'tty' ? 250 : 1000);
    torrent.on('done', onDone);
    torrent.on('error', onError);
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigint);
    if (torrent.isComplete) onDone();
  });
}

/**
 * The download cannot start when every tracker has failed and no peer is known at all;
 * say which tracker failed and why instead of waiting for ever.
 */
function unreachableTrackers(torrent: Torrent): string | null {
  const summary = torrent.summary();
  if (summary.peersKnown > 0 || summary.peersConnected > 0) return null;
  const rows = torrent.trackerRows();
  if (rows.length === 0)
    return 'the torrent names no tracker, no DHT node answered, and no peer was given (--peer ip:port)';
  if (!rows.every((r) => r.status === 'error' || r.status === 'disabled')) return null;
  const first = rows.find((r) => r.lastError) ?? rows[0]!;
  const more =
    rows.length > 1
      ? ` (and ${rows.length - 1} more tracker${rows.length > 2 ? 's' : ''} failed)`
      : '';
  return `could not get peers from ${first.url}: ${first.lastError ?? first.status}${more}`;
}

function parsePeerArg(text: string): { ip: string; port: number } {
  const address = parsePeerAddress(text);
  if (!address) throw new UsageError(`--peer ${text}: expected ip:port (or [ipv6]:port)`);
  return address;
}

function optionalInt(
  args: ReturnType<typeof parseArgs>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const text = value(args, name);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
  return n;
}

/** Resume data outlives the process, so a download interrupted and started again resumes at once. */
function defaultResumeDir(): string {
  const base = process.env.XDG_STATE_HOME || path.join(homedir(), '.local', 'state');
  return path.join(base, 'tessera', 'resume');
}
