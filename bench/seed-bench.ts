// Tessera as the seeder: qBittorrent downloads the same torrent from a Tessera seed and from a
// qBittorrent seed, alternating, and the table compares the two upload paths.
//
//   node bench/swarm/run.mjs ../seed-bench [size-MiB] [piece-log2] [runs]
//
// The environment variable TESSERA_CLI points at another build of the command line (a copy
// of dist/cli.mjs), to compare two versions of the upload path on the same machine.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import {
  allocateHost,
  makeTempDir,
  qbittorrentDownload,
  startSeeder,
  startSwarm,
  type Seeder,
} from '../test/harness';

const [sizeMiB = '256', log2 = '18', runsArg = '3'] = process.argv.slice(2);
// Run from the project's root, like `npm run bench` (this file runs from a bundle elsewhere).
const cli = process.env.TESSERA_CLI ?? path.join(process.cwd(), 'bin', 'tessera.mjs');
const bytes = Number(sizeMiB) * 1024 * 1024;

/** `tessera download --seed` on complete data; resolves once its check is done and it seeds. */
async function startTessera(
  torrent: string,
  dataDir: string,
  stateDir: string,
): Promise<ChildProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_STATE_HOME: stateDir };
  delete env.NODE_EXTRA_CA_CERTS;
  const child = spawn(
    process.execPath,
    [cli, 'download', torrent, '--out', dataDir, '--json', '--seed', '--bind', allocateHost()],
    { stdio: ['ignore', 'pipe', 'inherit'], env },
  );
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('tessera did not seed within 120 s')), 120_000);
    lines.on('line', (line) => {
      if ((JSON.parse(line) as { event?: string }).event !== 'done') return;
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => reject(new Error(`tessera exited with ${code}`)));
  });
  return child;
}

/** CPU seconds (user + system) the process has used so far, from /proc. */
async function cpuSeconds(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  // Fields 14 and 15 (utime, stime), counted from the state field, which is field 3.
  return (Number(stat[11]) + Number(stat[12])) / 100;
}

const tmp = await makeTempDir();
try {
  const work = tmp.path;
  const swarm = await startSwarm({
    workDir: work,
    files: { single: bytes, name: `seed-${sizeMiB}M.bin` },
    name: 'seed-bench',
    pieceLengthLog2: Number(log2),
    seeders: [],
    seed: 31,
  });
  console.log(
    `Seeding ${sizeMiB} MiB in ${2 ** Number(log2) / 1024} KiB pieces to qBittorrent, ` +
      `${runsArg} runs per seeder`,
  );
  const results: Record<string, { wallMs: number; cpu: number | null }[]> = {
    tessera: [],
    qbittorrent: [],
  };
  try {
    for (let run = 1; run <= Number(runsArg); run++) {
      for (const kind of ['tessera', 'qbittorrent'] as const) {
        let seeder: ChildProcess | Seeder;
        if (kind === 'tessera')
          seeder = await startTessera(swarm.torrentPath, swarm.sourceDir, path.join(work, 'state'));
        else
          seeder = await startSeeder('qbittorrent', {
            torrent: swarm.torrentPath,
            dataDir: swarm.sourceDir,
            host: allocateHost(),
            workDir: path.join(work, `qbt-seed-${run}`),
            readyTimeoutMs: 120_000,
          });
        const pid = 'pid' in seeder ? seeder.pid! : null;
        const cpuBefore = pid ? await cpuSeconds(pid) : 0;
        const out = path.join(work, `out-${kind}-${run}`);
        try {
          const { addedAt, doneAt } = await qbittorrentDownload({
            torrent: swarm.torrentPath,
            outDir: out,
            host: allocateHost(),
            workDir: path.join(work, `qbt-${kind}-${run}`),
            timeoutMs: 300_000,
          });
          const cpu = pid ? (await cpuSeconds(pid)) - cpuBefore : null;
          results[kind]!.push({ wallMs: doneAt - addedAt, cpu });
          console.log(
            `  run ${run} from ${kind.padEnd(11)} ${((doneAt - addedAt) / 1000).toFixed(2)} s ` +
              `${(bytes / 1e6 / ((doneAt - addedAt) / 1000)).toFixed(1)} MB/s` +
              (cpu !== null ? `, seeder CPU ${cpu.toFixed(2)} s` : ''),
          );
        } finally {
          if ('stop' in seeder) await seeder.stop();
          else {
            const exited = once(seeder, 'exit');
            seeder.kill('SIGTERM');
            await exited;
          }
          await rm(out, { recursive: true, force: true });
        }
      }
    }
  } finally {
    await swarm.stop();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const [kind, rs] of Object.entries(results)) {
    const wall = median(rs.map((r) => r.wallMs)) / 1000;
    const cpus = rs.flatMap((r) => (r.cpu === null ? [] : [r.cpu]));
    console.log(
      `${kind.padEnd(12)} median ${wall.toFixed(2)} s, ${(bytes / 1e6 / wall).toFixed(1)} MB/s` +
        (cpus.length ? `, seeder CPU ${median(cpus).toFixed(2)} s` : ''),
    );
  }
} finally {
  await mkdir(tmp.path, { recursive: true });
  await tmp.remove();
}
