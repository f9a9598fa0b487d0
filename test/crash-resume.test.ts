// Never lose a byte: a real 128 MiB download from real seeders, killed with SIGKILL at random
// moments (mid-write), then interrupted cleanly, restarted each time, and finished. Every byte
// must be right, and the bytes fetched over all runs must not be much more than the torrent.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocateHost, compareTrees, makeTempDir, startSwarm, type Swarm } from './harness';

const MiB = 1 << 20;
const CLI = join(import.meta.dirname, '..', 'bin', 'tessera.mjs');

let tmp: { path: string; remove(): Promise<void> };
let swarm: Swarm;
beforeAll(async () => {
  tmp = await makeTempDir();
  swarm = await startSwarm({
    workDir: tmp.path,
    files: { single: 128 * MiB, name: 'precious.bin' },
    pieceLengthLog2: 18,
    seeders: ['qbittorrent', 'aria2'],
    seed: 41,
    // About 12 s in all, so that there is time to interrupt it several times.
    uploadLimitKiBps: 6 * 1024,
  });
});
afterAll(async () => {
  await swarm?.stop();
  await tmp?.remove();
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  lastProgress: { downloadedBytes: number; piecesDone: number } | null;
  done: Record<string, unknown> | null;
}

/** One run of `tessera download`; `interrupt` (if given) fires after `afterMs`. */
async function run(
  host: string,
  interrupt?: { signal: 'SIGKILL' | 'SIGINT'; afterMs: number },
): Promise<Run> {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'download',
      swarm.torrentPath,
      '--out',
      join(tmp.path, 'out'),
      '--json',
      '--bind',
      host,
      '--resume-dir',
      join(tmp.path, 'resume'),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const result: Run = { code: null, signal: null, lastProgress: null, done: null };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const e = JSON.parse(line) as Record<string, unknown>;
    if (e.event === 'progress')
      result.lastProgress = {
        downloadedBytes: Number(e.downloadedBytes),
        piecesDone: Number(e.piecesDone),
      };
    if (e.event === 'done') result.done = e;
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c));
  const timer = interrupt
    ? setTimeout(() => child.kill(interrupt.signal), interrupt.afterMs)
    : null;
  const guard = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  if (timer) clearTimeout(timer);
  clearTimeout(guard);
  result.code = code;
  result.signal = signal;
  if (!interrupt && code !== 0) throw new Error(`tessera failed (${code}): ${stderr}`);
  return result;
}

async function uploadedBySeeders(): Promise<number> {
  let total = 0;
  for (const s of swarm.seeders) total += await s.uploadedBytes();
  return total;
}

describe('crash and restart', () => {
  it('survives SIGKILL mid-download (three times) and a clean interrupt, and finishes byte-identical without refetching', async () => {
    const host = allocateHost();
    const uploadedBefore = await uploadedBySeeders();
    const runs: Run[] = [];
    // Random moments, after the download has really started.
    for (const afterMs of [
      1500 + Math.random() * 1500,
      1000 + Math.random() * 2000,
      1000 + Math.random() * 2000,
    ]) {
      const r = await run(host, { signal: 'SIGKILL', afterMs });
      expect(r.signal).toBe('SIGKILL');
      expect(r.done).toBeNull();
      runs.push(r);
    }
    const clean = await run(host, { signal: 'SIGINT', afterMs: 2000 });
    expect(clean.code === 130 || clean.code === 0).toBe(true);
    runs.push(clean);
    // Each restart picks up where the last one stopped (resume data, or a check of the disk).
    const progressed = runs.map((r) => r.lastProgress?.piecesDone ?? 0);
    expect(Math.max(...progressed)).toBeGreaterThan(0);

    const final = await run(host);
    expect(final.done?.progress).toBe(1);
    await compareTrees(
      join(swarm.sourceDir, 'precious.bin'),
      join(tmp.path, 'out', 'precious.bin'),
    );

    // What the seeders sent us over all runs: the torrent plus what was in flight at each kill.
    const uploaded = (await uploadedBySeeders()) - uploadedBefore;
    const size = 128 * MiB;
    console.log(
      `[crash] pieces done when interrupted: ${progressed.join(', ')}; final run fetched ${final.done?.downloadedBytes} B; seeders sent ${uploaded} B for ${size} B`,
    );
    // The last run fetched only what was still missing when it started (plus a little slack
    // for pieces that were in flight when the previous run stopped).
    const missingAtLastStart = size - progressed.at(-1)! * 256 * 1024;
    expect(Number(final.done?.downloadedBytes)).toBeLessThan(missingAtLastStart + 16 * MiB);
    expect(uploaded).toBeLessThan(size * 1.25);
  });
});
