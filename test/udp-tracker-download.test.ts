// Issue 6: a download whose only tracker is opentracker over UDP (BEP 15). The .torrent names
// just `udp://127.x:port/announce`; the seeders (Transmission, qBittorrent) announce there too,
// and Tessera finds them only through that tracker. Every byte is compared.
// aria2 is not among them: the harness runs it with DHT off, and aria2 speaks to UDP trackers
// only through its DHT socket (measured: it never reached opentracker in 25 s).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session } from '../src/main/engine';
import { untilDone } from './support/engine-session';
import { allocateHost, compareTrees, makeTempDir, startSwarm } from './harness';

const MiB = 1 << 20;

let tmp: { path: string; remove(): Promise<void> };
beforeAll(async () => {
  tmp = await makeTempDir('tessera-udp-');
});
afterAll(async () => {
  await tmp?.remove();
});

describe('a download whose only tracker is opentracker over UDP', () => {
  it('finds the seeders through udp:// alone and gets every byte', async () => {
    const work = join(tmp.path, 'udp');
    const swarm = await startSwarm({
      workDir: work,
      files: { single: 24 * MiB + 12_345, name: 'udp-only.bin' },
      pieceLengthLog2: 18,
      seeders: ['transmission', 'qbittorrent'],
      announceProtocol: 'udp',
      seed: 15,
    });
    const host = allocateHost();
    const session = await Session.create({
      downloadDir: join(work, 'out'),
      listenHost: host,
      bindAddress: host,
    });
    try {
      expect(swarm.announceUrl).toMatch(/^udp:\/\/127\.[\d.]+:\d+\/announce$/);
      const started = Date.now();
      const torrent = await session.addTorrent(await readFile(swarm.torrentPath));
      const trackers = torrent.detail().trackers;
      expect(trackers.map((t) => t.url)).toEqual([swarm.announceUrl]);
      await untilDone(torrent);
      const elapsedMs = Date.now() - started;
      const row = torrent.detail().trackers[0]!;
      // Measured facts for the record (visible with --reporter=verbose).
      console.info(
        `UDP-only download: ${elapsedMs} ms; tracker row ${JSON.stringify({
          status: row.status,
          seeders: row.seeders,
          leechers: row.leechers,
          completed: row.completed,
          peersReturned: row.peersReturned,
          lastError: row.lastError,
        })}`,
      );
      expect(row).toMatchObject({ status: 'working', lastError: null });
      expect(row.seeders).toBeGreaterThanOrEqual(2);
      expect(row.peersReturned).toBeGreaterThanOrEqual(2);
      await compareTrees(join(swarm.sourceDir, 'udp-only.bin'), join(work, 'out', 'udp-only.bin'));
    } finally {
      await session.close();
      await swarm.stop();
    }
  });
});
