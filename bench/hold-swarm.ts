// Keeps one benchmark swarm up so that Tessera can be profiled against it again and again
// (`node --cpu-prof bin/tessera.mjs download …`) without rebuilding the swarm each time.
//
//   node bench/swarm/run.mjs ../hold-swarm <work-dir> [size-MiB] [piece-log2] [minutes] [small]
//
// With `small`, the content is the bench's small-files-2000 tree (2,000 files of 16–512 KiB)
// instead of one file of size-MiB; with `multi`, the bench's multi-256M-256K layout (size-MiB
// in 16 files, each in a folder of its own).
//
// Prints the .torrent's path and the seeders' addresses, then waits until stdin closes, a
// SIGINT/SIGTERM arrives, or the time limit (default 30 minutes) runs out.
import { mkdir } from 'node:fs/promises';
import { startSwarm, type FileSpec } from '../test/harness';

const [work = '/tmp/tessera-hold', sizeMiB = '256', log2 = '22', minutes = '30', kind] =
  process.argv.slice(2);

/** The same deterministic tree as download-bench's small-files-2000 case. */
function smallFiles(count: number): FileSpec[] {
  let x = 12345;
  return Array.from({ length: count }, (_, i) => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return { path: `dir${i % 20}/file-${i}.bin`, bytes: 16 * 1024 + (x % (496 * 1024)) };
  });
}

await mkdir(work, { recursive: true });
const swarm = await startSwarm({
  workDir: work,
  files:
    kind === 'small'
      ? smallFiles(2000)
      : kind === 'multi'
        ? Array.from({ length: 16 }, (_, i) => ({
            path: `part-${i}/data-${i}.bin`,
            bytes: (Number(sizeMiB) * 1024 * 1024) / 16,
          }))
        : { single: Number(sizeMiB) * 1024 * 1024, name: `hold-${sizeMiB}M.bin` },
  name: 'small-files',
  pieceLengthLog2: Number(log2),
  seeders: ['qbittorrent', 'aria2', 'transmission'],
  seed: 77,
  readyTimeoutMs: 300_000,
});
console.log(
  JSON.stringify({
    torrent: swarm.torrentPath,
    source: swarm.sourceDir,
    seeders: swarm.seeders.map((s) => `${s.host}:${s.port}`),
  }),
);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await swarm.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.resume();
setTimeout(() => void stop(), Number(minutes) * 60_000).unref();
await new Promise(() => undefined);
