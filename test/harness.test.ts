// Proves every wrapped Debian client really seeds on loopback: aria2c downloads a torrent from
// each seeder alone and from all of them together, and every byte is compared with the source.
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HarnessError,
  aria2Download,
  allocateHost,
  qbittorrentDownload,
  rtorrentDownload,
  compareTrees,
  infoHashOf,
  makeRandomFile,
  makeTempDir,
  makeTorrent,
  sha1File,
  startSwarm,
  waitFor,
  type SeederKind,
} from './harness';
import { runCommand } from './harness/proc';

const MiB = 1 << 20;
let tmp: { path: string; remove(): Promise<void> };

beforeAll(async () => {
  tmp = await makeTempDir();
});
afterAll(async () => {
  await tmp.remove();
});

describe('harness data helpers', () => {
  it('seeded files are reproducible and compareTrees names the first differing byte', async () => {
    const a = join(tmp.path, 'cmp', 'a.bin');
    const b = join(tmp.path, 'cmp', 'b.bin');
    await makeRandomFile(a, 3 * MiB + 5, 7);
    await makeRandomFile(b, 3 * MiB + 5, 7);
    expect(await sha1File(a)).toBe(await sha1File(b));
    await compareTrees(a, b);
    const fh = await open(b, 'r+');
    const one = Buffer.alloc(1);
    await fh.read(one, 0, 1, 2 * MiB + 17);
    await fh.write(Buffer.from([one[0]! ^ 0xff]), 0, 1, 2 * MiB + 17);
    await fh.close();
    await expect(compareTrees(a, b)).rejects.toThrow(/at byte 2097169/);
    await expect(compareTrees(a, b)).rejects.toBeInstanceOf(HarnessError);
  });

  it('infoHashOf agrees with transmission-show', async () => {
    const src = join(tmp.path, 'ih', 'x.bin');
    await makeRandomFile(src, 100_000, 1);
    const out = join(tmp.path, 'ih', 'x.torrent');
    await makeTorrent({
      source: src,
      out,
      announce: ['http://127.0.0.1:1/announce'],
      pieceLengthLog2: 15,
    });
    const shown = await runCommand('transmission-show', [out], { timeoutMs: 10_000 });
    expect(shown).toContain(`Hash: ${await infoHashOf(out)}`);
  });
});

async function downloadFrom(
  label: string,
  seeders: SeederKind[],
  multiFile: boolean,
  uploadLimitKiBps?: number,
): Promise<void> {
  const workDir = join(tmp.path, label);
  const swarm = await startSwarm({
    workDir,
    files: multiFile
      ? [
          { path: 'a.bin', bytes: 9 * MiB + 123 },
          { path: 'sub/b.bin', bytes: 14 * MiB + 7 },
          { path: 'sub/empty-ish.bin', bytes: 1 },
        ]
      : { single: 24 * MiB, name: `${label}.bin` },
    name: `${label}-tree`,
    pieceLengthLog2: 18,
    seeders,
    uploadLimitKiBps,
  });
  try {
    const outDir = join(workDir, 'download');
    const r = await aria2Download({
      torrent: swarm.torrentPath,
      outDir,
      host: allocateHost(),
      timeoutMs: 60_000,
    });
    await writeFile(join(workDir, 'timing.json'), JSON.stringify(r));
    console.log(
      `[harness] ${label}: aria2c ${(r.wallMs / 1000).toFixed(1)} s, cpu ${r.cpuSec ?? '?'} s, rss ${r.peakRssKb ?? '?'} KiB`,
    );
    await compareTrees(join(swarm.sourceDir, swarm.contentName), join(outDir, swarm.contentName));
    const uploaded = await Promise.all(swarm.seeders.map((s) => s.uploadedBytes()));
    console.log(
      `[harness] ${label}: uploaded ${swarm.seeders.map((s, i) => `${s.name}=${uploaded[i]}`).join(' ')}`,
    );
    // Every byte came from the seeders (aria2 counts piece payload only).
    expect(uploaded.reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(
      multiFile ? 23 * MiB : 24 * MiB,
    );
  } finally {
    await swarm.stop();
  }
}

describe('real seeders on loopback, aria2c downloading', () => {
  it('(a) transmission-daemon alone', () => downloadFrom('transmission', ['transmission'], false));
  it('(b) qbittorrent-nox alone', () => downloadFrom('qbittorrent', ['qbittorrent'], false));
  it('(c) aria2c alone', () => downloadFrom('aria2', ['aria2'], false));
  it('(d) transmission + qbittorrent + aria2 together, multi-file, 3 MiB/s each', () =>
    downloadFrom('all', ['transmission', 'qbittorrent', 'aria2'], true, 3 * 1024));
});

describe('reference downloader qbittorrent-nox', () => {
  it('(e) downloads from an aria2c seeder, byte-identical', async () => {
    const workDir = join(tmp.path, 'qb-download');
    const swarm = await startSwarm({
      workDir,
      files: { single: 16 * MiB + 4321, name: 'q.bin' },
      pieceLengthLog2: 16,
      seeders: ['aria2'],
    });
    try {
      const outDir = join(workDir, 'download');
      const r = await qbittorrentDownload({
        torrent: swarm.torrentPath,
        outDir,
        host: allocateHost(),
        workDir: join(workDir, 'qb'),
        timeoutMs: 60_000,
      });
      console.log(
        `[harness] qbittorrent-nox downloaded 16 MiB in ${(r.wallMs / 1000).toFixed(1)} s`,
      );
      await compareTrees(join(swarm.sourceDir, 'q.bin'), join(outDir, 'q.bin'));
      expect(await swarm.seeders[0]!.uploadedBytes()).toBeGreaterThanOrEqual(16 * MiB);
    } finally {
      await swarm.stop();
    }
  });
});

describe('reference downloader rtorrent', () => {
  it('(f) downloads a multi-file torrent from a qbittorrent-nox seeder, byte-identical', async () => {
    const workDir = join(tmp.path, 'rt-download');
    const swarm = await startSwarm({
      workDir,
      files: [
        { path: 'a/one.bin', bytes: 5 * MiB + 17 },
        { path: 'b/two.bin', bytes: 3 * MiB },
      ],
      name: 'r',
      pieceLengthLog2: 16,
      seeders: ['qbittorrent'],
    });
    try {
      const outDir = join(workDir, 'download');
      const r = await rtorrentDownload({
        torrent: swarm.torrentPath,
        outDir,
        host: allocateHost(),
        workDir: join(workDir, 'rt'),
        timeoutMs: 60_000,
      });
      console.log(`[harness] rtorrent downloaded 8 MiB in ${(r.wallMs / 1000).toFixed(1)} s`);
      expect(r.doneAt).toBeGreaterThanOrEqual(r.addedAt);
      await compareTrees(join(swarm.sourceDir, 'r'), join(outDir, 'r'));
      // qBittorrent refreshes its counters every 1.5 s: the bytes it sent show up a little later.
      const uploaded = await waitFor(
        'qbittorrent counting what it sent to rtorrent',
        async () => {
          const n = await swarm.seeders[0]!.uploadedBytes();
          return n >= 8 * MiB ? n : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 250 },
      );
      expect(uploaded).toBeGreaterThanOrEqual(8 * MiB);
    } finally {
      await swarm.stop();
    }
  });
});
