// Reference numbers for the swarm benchmark: how fast the Debian clients themselves download a
// torrent from a loopback swarm. Run: node bench/swarm/run.mjs reference-baseline [MiB] [seeders]
// e.g. `node bench/swarm/run.mjs reference-baseline 64 transmission,qbittorrent,aria2`.
import { join } from 'node:path';
import {
  aria2Download,
  allocateHost,
  compareTrees,
  makeTempDir,
  qbittorrentDownload,
  startSwarm,
  type SeederKind,
} from '../../test/harness';

const MiB = 1 << 20;

async function main(): Promise<void> {
  const sizeMiB = Number(process.argv[2] ?? 64);
  const kinds = (process.argv[3] ?? 'transmission,qbittorrent,aria2').split(',') as SeederKind[];
  const tmp = await makeTempDir('tessera-bench-');
  try {
    const swarm = await startSwarm({
      workDir: join(tmp.path, 'swarm'),
      files: { single: sizeMiB * MiB, name: 'payload.bin' },
      pieceLengthLog2: 18,
      seeders: kinds,
      seed: 1,
    });
    try {
      const aria2Out = join(tmp.path, 'aria2-out');
      const aria2 = await aria2Download({
        torrent: swarm.torrentPath,
        outDir: aria2Out,
        host: allocateHost(),
        timeoutMs: 300_000,
      });
      await compareTrees(join(swarm.sourceDir, 'payload.bin'), join(aria2Out, 'payload.bin'));
      const qbOut = join(tmp.path, 'qb-out');
      const qb = await qbittorrentDownload({
        torrent: swarm.torrentPath,
        outDir: qbOut,
        host: allocateHost(),
        workDir: join(tmp.path, 'qb-downloader'),
        timeoutMs: 300_000,
      });
      await compareTrees(join(swarm.sourceDir, 'payload.bin'), join(qbOut, 'payload.bin'));
      const uploaded = await Promise.all(
        swarm.seeders.map(async (s) => [s.name, await s.uploadedBytes()]),
      );
      console.log(
        JSON.stringify(
          {
            sizeMiB,
            seeders: kinds,
            aria2: { ...aria2, handshakePeers: aria2.handshakePeers.length },
            qbittorrent: qb,
            uploadedBySeeder: Object.fromEntries(uploaded),
          },
          null,
          2,
        ),
      );
    } finally {
      await swarm.stop();
    }
  } finally {
    await tmp.remove();
  }
}

await main();
