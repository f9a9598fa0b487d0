// Magnet links and peer exchange against real, independently written clients on loopback:
// - `tessera download "magnet:?…"`: no .torrent given; the metadata comes from qBittorrent and
//   aria2 (ut_metadata), the peers from opentracker;
// - PEX: Tessera is told of one peer only (a qBittorrent seeder); an aria2 leecher is found only
//   through qBittorrent's ut_pex messages, and Tessera connects to it.
// Every byte of each result is compared with the source.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session } from '../src/main/engine';
import {
  aria2Download,
  allocateHost,
  compareTrees,
  freePort,
  makeTempDir,
  sleep,
  startSwarm,
} from './harness';
import { untilDone } from './support/engine-session';
import { runCli } from './support/run-cli';

const MiB = 1 << 20;

let tmp: { path: string; remove(): Promise<void> };
beforeAll(async () => {
  tmp = await makeTempDir();
});
afterAll(async () => {
  await tmp?.remove();
});

describe('magnet links and PEX with real clients', () => {
  it('downloads from a magnet link alone: metadata from its seeders (qBittorrent, aria2), peers from the tracker', async () => {
    const work = join(tmp.path, 'magnet');
    const swarm = await startSwarm({
      workDir: work,
      name: 'magnet content',
      files: [
        { path: 'one.bin', bytes: 24 * MiB + 5 },
        { path: 'sub/two.bin', bytes: 16 * MiB },
      ],
      // 32 KiB pieces: 1,281 hashes, so the metadata is two ut_metadata pieces long.
      pieceLengthLog2: 15,
      seeders: ['qbittorrent', 'aria2'],
      seed: 21,
    });
    try {
      const out = join(work, 'out');
      const magnet = `magnet:?xt=urn:btih:${swarm.infoHash}&dn=from+a+magnet&tr=${encodeURIComponent(swarm.announceUrl)}`;
      const run = await runCli(
        ['download', magnet, '--out', out, '--json', '--bind', allocateHost()],
        {
          timeoutMs: 120_000,
          stateHome: join(tmp.path, 'xdg-state'),
        },
      );
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.events.at(-1)).toMatchObject({
        event: 'done',
        progress: 1,
        name: 'magnet content',
      });
      await compareTrees(join(swarm.sourceDir, swarm.contentName), join(out, swarm.contentName));
    } finally {
      await swarm.stop();
    }
  });

  it('finds an aria2 leecher only through qBittorrent’s peer exchange and downloads from it', async () => {
    const work = join(tmp.path, 'pex');
    const swarm = await startSwarm({
      workDir: work,
      files: { single: 24 * MiB, name: 'pex.bin' },
      pieceLengthLog2: 16,
      seeders: ['qbittorrent'],
      // Slow enough that the aria2 leecher is still there, holding pieces, when Tessera comes.
      uploadLimitKiBps: 2048,
      peerExchange: true,
      seed: 22,
    });
    const ariaHost = allocateHost();
    const ariaPort = await freePort(ariaHost);
    const aria = aria2Download({
      torrent: swarm.torrentPath,
      outDir: join(work, 'aria2-out'),
      host: ariaHost,
      port: ariaPort,
      timeoutMs: 120_000,
    });
    const session = await Session.create({
      downloadDir: join(work, 'out'),
      bindAddress: allocateHost(),
      noTrackers: true,
    });
    try {
      await sleep(2000);
      const torrent = await session.addTorrent(await readFile(swarm.torrentPath));
      const qbt = swarm.seeders[0]!;
      torrent.addPeers([{ ip: qbt.host, port: qbt.port }], 'manual');
      const pexPeers = new Set<string>();
      torrent.on('piece', () => {
        for (const p of torrent.detail().peers) if (p.source === 'pex') pexPeers.add(p.address);
      });
      await untilDone(torrent);
      expect([...pexPeers]).toContain(`${ariaHost}:${ariaPort}`);
      await compareTrees(join(swarm.sourceDir, 'pex.bin'), join(work, 'out', 'pex.bin'));
    } finally {
      await session.close();
      await aria.catch(() => undefined);
      await swarm.stop();
    }
  });
});
