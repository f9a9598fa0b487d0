// Tessera's command line downloading from real, independently written BitTorrent programs
// (Transmission, aria2, qBittorrent, rtorrent) through a real tracker (opentracker), all on loopback.
// Every byte of the result is compared with the source.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allocateHost,
  compareTrees,
  freePort,
  infoHashOf,
  makeRandomFile,
  makeTempDir,
  makeTorrent,
  startSwarm,
  type Swarm,
} from './harness';
import { runCli as runTessera, type CliRun } from './support/run-cli';

const MiB = 1 << 20;

/** `tessera …` with resume data in this file's temporary folder. */
function runCli(
  args: string[],
  o: { timeoutMs: number; onEvent?: (e: Record<string, unknown>) => void },
): Promise<CliRun> {
  return runTessera(args, { ...o, stateHome: join(tmp.path, 'xdg-state') });
}

let tmp: { path: string; remove(): Promise<void> };
beforeAll(async () => {
  tmp = await makeTempDir();
});
afterAll(async () => {
  await tmp?.remove();
});

describe('tessera download from real clients', () => {
  it('downloads a 64 MiB single-file torrent from transmission, aria2 and qBittorrent, byte for byte', async () => {
    const work = join(tmp.path, 'single');
    const swarm = await startSwarm({
      workDir: work,
      files: { single: 64 * MiB, name: 'single.bin' },
      pieceLengthLog2: 18,
      seeders: ['transmission', 'aria2', 'qbittorrent'],
      seed: 11,
    });
    try {
      const out = join(work, 'out');
      const run = await runCli(
        ['download', swarm.torrentPath, '--out', out, '--json', '--bind', allocateHost()],
        {
          timeoutMs: 120_000,
        },
      );
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const done = run.events.at(-1)!;
      expect(done.event).toBe('done');
      expect(done.progress).toBe(1);
      expect(done.totalBytes).toBe(64 * MiB);
      await compareTrees(join(swarm.sourceDir, 'single.bin'), join(out, 'single.bin'));
    } finally {
      await swarm.stop();
    }
  });

  it('downloads a multi-file torrent with nested folders, a tiny file and a non-ASCII name', async () => {
    const work = join(tmp.path, 'multi');
    const swarm = await startSwarm({
      workDir: work,
      name: 'Tessera test — ünïcode',
      files: [
        { path: 'a/b/c/deep file.bin', bytes: 3 * MiB + 123 },
        { path: 'a/tiny.txt', bytes: 100 },
        { path: 'Ärger mit Leerzeichen/über.dat', bytes: 5 * MiB + 7 },
        { path: 'z.bin', bytes: 2 * MiB },
      ],
      pieceLengthLog2: 18,
      seeders: ['transmission', 'aria2'],
      seed: 12,
    });
    try {
      const out = join(work, 'out');
      const run = await runCli(
        ['download', swarm.torrentPath, '--out', out, '--json', '--bind', allocateHost()],
        {
          timeoutMs: 90_000,
        },
      );
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      await compareTrees(join(swarm.sourceDir, swarm.contentName), join(out, swarm.contentName));
    } finally {
      await swarm.stop();
    }
  });

  it('downloads a multi-file torrent, and then its magnet link, from rtorrent (rakshasa libtorrent) alone', async () => {
    const work = join(tmp.path, 'rtorrent');
    const swarm = await startSwarm({
      workDir: work,
      name: 'from-rtorrent',
      files: [
        { path: 'one.bin', bytes: 7 * MiB + 4097 },
        { path: 'sub/two.bin', bytes: 9 * MiB - 13 },
      ],
      pieceLengthLog2: 18,
      seeders: ['rtorrent'],
      seed: 14,
    });
    try {
      const out = join(work, 'out');
      const run = await runCli(
        ['download', swarm.torrentPath, '--out', out, '--json', '--bind', allocateHost()],
        { timeoutMs: 90_000 },
      );
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      await compareTrees(join(swarm.sourceDir, swarm.contentName), join(out, swarm.contentName));
      // Every byte came from rtorrent, the only peer the tracker knew.
      expect(await swarm.seeders[0]!.uploadedBytes()).toBeGreaterThanOrEqual(16 * MiB - 13 + 4097);

      // And from a magnet link: the metadata too can only come from rtorrent (BEP 9).
      const viaMagnet = join(work, 'magnet-out');
      const magnet = `magnet:?xt=urn:btih:${swarm.infoHash}&tr=${encodeURIComponent(swarm.announceUrl)}`;
      // A state folder of its own: nothing from the first download's resume data can help.
      const fromMagnet = await runTessera(
        ['download', magnet, '--out', viaMagnet, '--json', '--bind', allocateHost()],
        { timeoutMs: 90_000, stateHome: join(work, 'magnet-state') },
      );
      expect(fromMagnet.stderr).toBe('');
      expect(fromMagnet.code).toBe(0);
      expect(fromMagnet.events.at(-1)).toMatchObject({ event: 'done', name: 'from-rtorrent' });
      await compareTrees(
        join(swarm.sourceDir, swarm.contentName),
        join(viaMagnet, swarm.contentName),
      );
    } finally {
      await swarm.stop();
    }
  });

  it('finishes from the remaining seeders when one is stopped mid-download', async () => {
    const work = join(tmp.path, 'stop-one');
    const swarm: Swarm = await startSwarm({
      workDir: work,
      files: { single: 24 * MiB, name: 'resilient.bin' },
      pieceLengthLog2: 18,
      seeders: ['transmission', 'aria2', 'qbittorrent'],
      seed: 13,
      // Slow enough that the download is still running when a seeder goes away.
      uploadLimitKiBps: 2048,
    });
    try {
      const out = join(work, 'out');
      let stopped: Promise<void> | null = null;
      const run = await runCli(
        ['download', swarm.torrentPath, '--out', out, '--json', '--bind', allocateHost()],
        {
          timeoutMs: 120_000,
          onEvent: (e) => {
            if (
              !stopped &&
              e.event === 'progress' &&
              typeof e.progress === 'number' &&
              e.progress > 0.2
            ) {
              stopped = swarm.seeders[0]!.stop();
            }
          },
        },
      );
      expect(stopped).not.toBeNull();
      await stopped;
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      await compareTrees(join(swarm.sourceDir, 'resilient.bin'), join(out, 'resilient.bin'));
    } finally {
      await swarm.stop();
    }
  });
});

describe('tessera download refuses what it cannot do, in one line', () => {
  it("--help after a command prints that command's usage and exits 0", async () => {
    const run = await runCli(['download', '--help'], { timeoutMs: 15_000 });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^usage: tessera download <file\.torrent \| magnet:\?…> --out <dir>/,
    );
    const info = await runCli(['info', 'x.torrent', '-h'], { timeoutMs: 15_000 });
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/^usage: tessera info /);
  });

  it('a file that is not a torrent', async () => {
    const bad = join(tmp.path, 'bad.torrent');
    await writeFile(bad, '<html>not a torrent</html>');
    const run = await runCli(['download', bad, '--out', join(tmp.path, 'x')], {
      timeoutMs: 15_000,
    });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^tessera: .*bencode/);
  });

  it('a tracker nobody answers at', async () => {
    const work = join(tmp.path, 'dead-tracker');
    await mkdir(work, { recursive: true });
    await makeRandomFile(join(work, 'f.bin'), 100_000, 1);
    const port = await freePort('127.0.0.1');
    await makeTorrent({
      source: join(work, 'f.bin'),
      out: join(work, 'f.torrent'),
      announce: [`http://127.0.0.1:${port}/announce`],
      pieceLengthLog2: 15,
    });
    const run = await runCli(['download', join(work, 'f.torrent'), '--out', join(work, 'out')], {
      timeoutMs: 60_000,
    });
    expect(run.code).toBe(1);
    // Progress lines may come first; the error is one line, the last.
    const errors = run.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('tessera:'));
    expect(errors).toHaveLength(1);
    expect(run.stderr.trim().split('\n').at(-1)).toBe(errors[0]);
    expect(run.stderr).toMatch(
      /could not get peers from http:\/\/127\.0\.0\.1:\d+\/announce: .*(refused|ECONNREFUSED)/i,
    );
  });

  it('a folder it cannot write to', async () => {
    // A path below a regular file can never become a folder, for root too (root ignores
    // permission bits, and CI runs as root).
    const work = join(tmp.path, 'unwritable');
    await mkdir(work, { recursive: true });
    const blocker = join(work, 'blocker');
    await writeFile(blocker, 'x');
    await makeRandomFile(join(work, 'f.bin'), 1000, 1);
    await makeTorrent({
      source: join(work, 'f.bin'),
      out: join(work, 'f.torrent'),
      announce: ['http://127.0.0.1:1/announce'],
      pieceLengthLog2: 15,
    });
    const run = await runCli(['download', join(work, 'f.torrent'), '--out', join(blocker, 'sub')], {
      timeoutMs: 15_000,
    });
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toMatch(
      /^tessera: cannot write to .*blocker\/sub: a file is in the way$/,
    );
  });
});

describe('tessera info', () => {
  it('prints what a .torrent holds, with the info-hash transmission-show computes', async () => {
    const work = join(tmp.path, 'info');
    await mkdir(join(work, 'content', 'sub'), { recursive: true });
    await makeRandomFile(join(work, 'content', 'a.bin'), 70_000, 3);
    await makeRandomFile(join(work, 'content', 'sub', 'b.bin'), 5_000, 4);
    const torrent = join(work, 'content.torrent');
    await makeTorrent({
      source: join(work, 'content'),
      out: torrent,
      announce: ['http://127.0.0.1:1/announce'],
      pieceLengthLog2: 15,
    });
    const run = await runCli(['info', torrent, '--json'], { timeoutMs: 15_000 });
    expect(run.code).toBe(0);
    const info = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(info).toMatchObject({
      name: 'content',
      infoHash: await infoHashOf(torrent),
      totalBytes: 75_000,
      pieceLength: 32_768,
      pieceCount: 3,
      trackers: [['http://127.0.0.1:1/announce']],
    });
    expect(info.files).toEqual([
      { path: 'content/a.bin', length: 70_000 },
      { path: 'content/sub/b.bin', length: 5_000 },
    ]);
    const text = await runCli(['info', torrent], { timeoutMs: 15_000 });
    expect(text.stdout).toMatch(/^Name: +content$/m);
    expect(text.stdout).toMatch(/Pieces: +3 × 32\.0 KiB/);
  });
});
