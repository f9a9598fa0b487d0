// One call that builds a whole loopback swarm: content, .torrent, whitelisted opentracker,
// and one seeder per requested client, each on its own 127.x address, all known to the tracker.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { makeRandomFile, makeTree, type FileSpec } from './data';
import { infoHashOf, makeTorrent } from './mktorrent';
import { allocateHost, waitFor } from './proc';
import { startSeeder, type Seeder, type SeederKind } from './seeders';
import { startOpentracker, type Tracker } from './tracker';

export interface SwarmOptions {
  workDir: string;
  files: readonly FileSpec[] | { single: number; name: string };
  /** Name of the torrent's top folder for multi-file content. Default 'content'. */
  name?: string;
  pieceLengthLog2: number;
  seeders: readonly SeederKind[];
  /** Seed for deterministic content; random when omitted. */
  seed?: number;
  readyTimeoutMs?: number;
  /** Per-seeder upload cap in KiB/s, so that several seeders share the work. */
  uploadLimitKiBps?: number;
  /** Seeders that can speak peer exchange (BEP 11) do. */
  peerExchange?: boolean;
  /** The .torrent's only announce URL: opentracker over HTTP (default) or over UDP (BEP 15). */
  announceProtocol?: 'http' | 'udp';
}

export interface Swarm {
  torrentPath: string;
  infoHash: string;
  /** Directory holding the content (the file or folder named `contentName`). */
  sourceDir: string;
  contentName: string;
  announceUrl: string;
  tracker: Tracker;
  seeders: Seeder[];
  stop(): Promise<void>;
}

export async function startSwarm(o: SwarmOptions): Promise<Swarm> {
  const sourceDir = join(o.workDir, 'source');
  await mkdir(sourceDir, { recursive: true });
  let contentName: string;
  if ('single' in o.files) {
    contentName = o.files.name;
    await makeRandomFile(join(sourceDir, contentName), o.files.single, o.seed);
  } else {
    contentName = o.name ?? 'content';
    await makeTree(join(sourceDir, contentName), o.files, o.seed);
  }
  const udp = o.announceProtocol === 'udp';
  const tracker = await startOpentracker({ workDir: join(o.workDir, 'tracker'), udp });
  const announceUrl = udp ? tracker.udpAnnounceUrl! : tracker.announceUrl;
  const seeders: Seeder[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(seeders.map((s) => s.stop()));
    await tracker.stop();
  };
  try {
    const torrentPath = join(o.workDir, `${contentName}.torrent`);
    await makeTorrent({
      source: join(sourceDir, contentName),
      out: torrentPath,
      announce: [announceUrl],
      pieceLengthLog2: o.pieceLengthLog2,
    });
    const infoHash = await infoHashOf(torrentPath);
    await tracker.allow(infoHash);
    // Seeders share the source data read-only: each one hash-checks it before seeding.
    // allSettled, not all: a failed start must not leave its siblings running unstopped.
    const results = await Promise.allSettled(
      o.seeders.map((kind, i) =>
        startSeeder(kind, {
          torrent: torrentPath,
          dataDir: sourceDir,
          host: allocateHost(),
          workDir: join(o.workDir, `seeder-${i}-${kind}`),
          readyTimeoutMs: o.readyTimeoutMs,
          uploadLimitKiBps: o.uploadLimitKiBps,
          peerExchange: o.peerExchange,
        }),
      ),
    );
    for (const r of results) if (r.status === 'fulfilled') seeders.push(r.value);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const started = [...seeders];
    // Downloaders get every seeder in their first announce reply.
    await waitFor(
      'tracker knows every seeder',
      async () => ((await tracker.seederCount(infoHash)) >= started.length ? true : undefined),
      { timeoutMs: o.readyTimeoutMs ?? 60_000, intervalMs: 250 },
    );
    return {
      torrentPath,
      infoHash,
      sourceDir,
      contentName,
      announceUrl,
      tracker,
      seeders: started,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
