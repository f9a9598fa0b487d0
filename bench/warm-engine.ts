// One engine, kept running, downloads the same torrent several times (its data deleted and the
// page cache dropped in between), and prints each run's wall time and CPU. The first run pays
// for V8 compiling the hot code; later ones show the engine as it runs in the app or in
// `tessera serve`, where that is paid once per session, not once per download.
//
//   node bench/swarm/run.mjs ../warm-engine <file.torrent> <work-dir> [runs] [source-dir]
//
// Use it against a held swarm (bench/hold-swarm.ts). With a source dir (the swarm's content)
// and root, the page cache is dropped and the content read back in between runs, as
// download-bench does.
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Session } from '../src/main/engine';

const [torrentPath, workDir, runsArg, sourceDir] = process.argv.slice(2);
if (!torrentPath || !workDir) {
  console.error('usage: warm-engine <file.torrent> <work-dir> [runs] [source-dir]');
  process.exit(2);
}
const runs = Number(runsArg ?? 4);
const downloadDir = path.join(workDir, 'download');
await mkdir(downloadDir, { recursive: true });
const session = await Session.create({
  downloadDir,
  listenHost: '127.0.0.1',
  bindAddress: '127.0.0.1',
  resumeDir: path.join(workDir, 'resume'),
  settings: { dht: { enabled: false, bootstrap: [] } },
});
try {
  const bytes = await readFile(torrentPath);
  for (let run = 1; run <= runs; run++) {
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const torrent = await session.addTorrent(bytes);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no progress in 120 s')), 120_000);
      const finish = () => {
        clearTimeout(timer);
        resolve();
      };
      if (torrent.isComplete) finish();
      else torrent.once('done', finish);
    });
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

async function dropPageCache(source: string): Promise<void> {
  try {
    await writeFile('/proc/sys/vm/drop_caches', '1');
  } catch {
    return; // not root: the runs go on with the cache as it is
  }
  await readTree(source);
  await readTree(process.execPath);
}

async function readTree(target: string): Promise<void> {
  if ((await stat(target)).isDirectory()) {
    for (const entry of await readdir(target)) await readTree(path.join(target, entry));
    return;
  }
  await readFile(target);
}
