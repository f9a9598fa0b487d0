// Tessera as the seeder and real clients as downloaders: proves the upload path (choking,
// request validation, reads that span files) and the check of data already on disk.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  aria2Download,
  allocateHost,
  compareTrees,
  makeTempDir,
  qbittorrentDownload,
  rtorrentDownload,
  startSwarm,
} from './harness';

const MiB = 1 << 20;
const CLI = join(import.meta.dirname, '..', 'bin', 'tessera.mjs');

let tmp: { path: string; remove(): Promise<void> };
beforeAll(async () => {
  tmp = await makeTempDir();
});
afterAll(async () => {
  await tmp?.remove();
});

/** Starts `tessera download --seed` on data that is already complete; resolves once it seeds. */
async function startTesseraSeeder(
  torrent: string,
  dataDir: string,
  host: string,
): Promise<{ child: ChildProcess; events: Record<string, unknown>[] }> {
  const child = spawn(
    process.execPath,
    [CLI, 'download', torrent, '--out', dataDir, '--json', '--seed', '--bind', host],
    // Resume data goes to the test's own folder, not the user's.
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, XDG_STATE_HOME: join(tmp.path, 'xdg-state') },
    },
  );
  const events: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c));
  const lines = createInterface({ input: child.stdout! });
  const seeding = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`tessera did not start seeding in 60 s: ${stderr}`)),
      60_000,
    );
    lines.on('line', (line) => {
      const e = JSON.parse(line) as Record<string, unknown>;
      events.push(e);
      if (e.event === 'done') {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) =>
      reject(new Error(`tessera exited with ${code} before seeding: ${stderr}`)),
    );
  });
  await seeding;
  return { child, events };
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const [code] = await exited;
  clearTimeout(timer);
  return code as number | null;
}

describe('real clients download from Tessera', () => {
  it('aria2c, qBittorrent and rtorrent fetch a multi-file torrent from a Tessera seed, byte for byte', async () => {
    const work = join(tmp.path, 'seed');
    const swarm = await startSwarm({
      workDir: work,
      name: 'seeded by tessera',
      files: [
        { path: 'big.bin', bytes: 20 * MiB + 5 },
        { path: 'sub/small.txt', bytes: 999 },
        { path: 'sub/deeper/mid.bin', bytes: 3 * MiB },
      ],
      pieceLengthLog2: 18,
      seeders: [],
      seed: 21,
    });
    const seeder = await startTesseraSeeder(swarm.torrentPath, swarm.sourceDir, allocateHost());
    try {
      // Everything was on disk: the check found every piece and nothing was downloaded.
      const done = seeder.events.find((e) => e.event === 'done')!;
      expect(done.progress).toBe(1);
      expect(done.downloadedBytes).toBe(0);

      const common = { torrent: swarm.torrentPath, timeoutMs: 60_000 };
      // Each client in turn, each into a folder of its own, each compared byte for byte.
      const downloaders: [string, (outDir: string) => Promise<unknown>][] = [
        ['aria2', (outDir) => aria2Download({ ...common, outDir, host: allocateHost() })],
        [
          'qbt',
          (outDir) =>
            qbittorrentDownload({
              ...common,
              outDir,
              host: allocateHost(),
              workDir: join(work, 'qbt'),
            }),
        ],
        [
          'rtorrent',
          (outDir) =>
            rtorrentDownload({
              ...common,
              outDir,
              host: allocateHost(),
              workDir: join(work, 'rtorrent'),
            }),
        ],
      ];
      for (const [name, download] of downloaders) {
        const outDir = join(work, `${name}-out`);
        await download(outDir);
        await compareTrees(
          join(swarm.sourceDir, swarm.contentName),
          join(outDir, swarm.contentName),
        );
      }
    } finally {
      expect(await stop(seeder.child)).toBe(0);
      await swarm.stop();
    }
  });

  it('aria2c downloads a magnet link whose metadata it can only get from Tessera (BEP 9 serving)', async () => {
    const work = join(tmp.path, 'magnet-seed');
    const swarm = await startSwarm({
      workDir: work,
      files: { single: 6 * MiB, name: 'served.bin' },
      pieceLengthLog2: 15,
      seeders: [],
      seed: 23,
    });
    const seeder = await startTesseraSeeder(swarm.torrentPath, swarm.sourceDir, allocateHost());
    try {
      const out = join(work, 'aria2-out');
      const magnet = `magnet:?xt=urn:btih:${swarm.infoHash}&tr=${encodeURIComponent(swarm.announceUrl)}`;
      await aria2Download({
        torrent: magnet,
        outDir: out,
        host: allocateHost(),
        timeoutMs: 60_000,
      });
      await compareTrees(join(swarm.sourceDir, 'served.bin'), join(out, 'served.bin'));
    } finally {
      expect(await stop(seeder.child)).toBe(0);
      await swarm.stop();
    }
  });
});
