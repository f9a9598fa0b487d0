// One engine, kept running, downloads the same torrent several times (its data deleted and the
// page cache dropped in between), and prints each run's wall time and CPU. The first run pays
// for V8 compiling the hot code; later ones show the engine as it runs in the app or in
// `tessera serve`, where that is paid once per session, not once per download.
//
//   node bench/swarm/run.mjs ../warm-engine <file.torrent> <work-dir> [runs] [source-dir]
//
// download-bench runs it as `warm-engine --serve <work-dir> [bind-address]` for its
// `tessera-warm` client (see serve below).
//
// Use it against a held swarm (bench/hold-swarm.ts). With a source dir (the swarm's content)
// and root, the page cache is dropped and the content read back in between runs, as
// download-bench does.
//
//   node bench/swarm/run.mjs ../warm-engine --together <work-dir> <a.torrent> <b.torrent>...
//
// downloads several torrents at once in one session (each from its own held swarm) and prints
// each one's time and the process's peak resident memory: what the session-wide limit on
// piece buffers (SESSION_MEMORY_LIMIT) is for.
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { Session, type Torrent } from '../src/main/engine';
import { dropCleanPageCache, readTree } from './page-cache';
import { peakRssKbOf } from './proc-status';

if (process.argv[2] === '--serve') await serve(process.argv[3], process.argv[4]);
else if (process.argv[2] === '--together') await downloadTogether(process.argv.slice(3));
else await downloadRepeatedly();

async function downloadRepeatedly(): Promise<void> {
  const [torrentPath, workDir, runsArg, sourceDir] = process.argv.slice(2);
  if (!torrentPath || !workDir) {
    console.error('usage: warm-engine <file.torrent> <work-dir> [runs] [source-dir]');
    process.exit(2);
  }
  const runs = Number(runsArg ?? 4);
  const downloadDir = path.join(workDir, 'download');
  await mkdir(downloadDir, { recursive: true });
  const session = await openSession(workDir, downloadDir);
  try {
    const bytes = await readFile(torrentPath);
    for (let run = 1; run <= runs; run++) {
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      const torrent = await session.addTorrent(bytes);
      await untilDone(torrent);
      const wall = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpuBefore);
      const gib = torrent.summary().totalBytes / 2 ** 30;
      const cpuSec = (cpu.user + cpu.system) / 1e6;
      console.log(
        `run ${run}: ${wall.toFixed(2)} s, ${(torrent.summary().totalBytes / 1e6 / wall).toFixed(0)} MB/s, ` +
          `${cpuSec.toFixed(3)} CPU s (${(cpuSec / gib).toFixed(2)} per GiB, every thread of the process)`,
      );
      await session.removeTorrent(torrent.id, { deleteData: true });
      if (sourceDir) await dropPageCache(sourceDir);
    }
  } finally {
    await session.close();
  }
}

async function downloadTogether([workDir, ...torrentPaths]: string[]): Promise<void> {
  if (!workDir || torrentPaths.length === 0) {
    console.error('usage: warm-engine --together <work-dir> <a.torrent> <b.torrent>...');
    process.exit(2);
  }
  const downloadDir = path.join(workDir, 'download');
  await mkdir(downloadDir, { recursive: true });
  const session = await openSession(workDir, downloadDir);
  try {
    const torrents = await Promise.all(
      torrentPaths.map(async (p) => session.addTorrent(await readFile(p))),
    );
    const started = performance.now();
    await Promise.all(
      torrents.map(async (t) => {
        await untilDone(t);
        const wall = (performance.now() - started) / 1000;
        const bytes = t.summary().totalBytes;
        console.log(`${t.name}: ${wall.toFixed(2)} s, ${(bytes / 1e6 / wall).toFixed(0)} MB/s`);
      }),
    );
    const kb = await peakRssKbOf('self').catch(() => null);
    console.log(`peak RSS: ${kb === null ? '?' : ((kb * 1024) / 1e6).toFixed(0)} MB`);
  } finally {
    await session.close();
  }
}

/**
 * For download-bench's `tessera-warm` client: one engine for a whole case. Each stdin line
 * `{"torrent": path, "out": dir}` is downloaded into `dir`, with `{"event":"added"}` and
 * `{"event":"done", "eventLoopDelayMs": …}` lines on stdout; the torrent is then removed from
 * the session, its data kept.
 */
async function serve(workDir: string | undefined, bindAddress: string | undefined): Promise<void> {
  if (!workDir) throw new Error('usage: warm-engine --serve <work-dir> [bind-address]');
  const session = await openSession(workDir, workDir, bindAddress);
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  try {
    for await (const line of createInterface({ input: process.stdin })) {
      const job = JSON.parse(line) as { torrent: string; out: string };
      const torrent = await session.addTorrent(await readFile(job.torrent), {
        downloadDir: job.out,
      });
      loopDelay.reset();
      loopDelay.enable();
      process.stdout.write(`${JSON.stringify({ event: 'added' })}\n`);
      await untilDone(torrent);
      loopDelay.disable();
      const ms = (ns: number) => Math.round(ns / 1e4) / 100;
      process.stdout.write(
        `${JSON.stringify({
          event: 'done',
          eventLoopDelayMs: {
            p50: ms(loopDelay.percentile(50)),
            p99: ms(loopDelay.percentile(99)),
            max: ms(loopDelay.max),
          },
        })}\n`,
      );
      await session.removeTorrent(torrent.id, { deleteData: false });
    }
  } finally {
    await session.close();
  }
}

function openSession(workDir: string, downloadDir: string, bindAddress = '127.0.0.1') {
  return Session.create({
    downloadDir,
    listenHost: bindAddress,
    bindAddress,
    resumeDir: path.join(workDir, 'warm-engine-resume'),
    settings: { dht: { enabled: false, bootstrap: [] } },
  });
}

function untilDone(torrent: Torrent): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('not done within 600 s')), 600_000);
    const finish = () => {
      clearTimeout(timer);
      resolve();
    };
    if (torrent.isComplete) finish();
    else torrent.once('done', finish);
  });
}

async function dropPageCache(source: string): Promise<void> {
  if (!(await dropCleanPageCache())) return; // not root: the runs go on with the cache as it is
  await readTree(source);
  await readTree(process.execPath);
}
