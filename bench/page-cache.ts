// The page cache between benchmark runs: dropped (root only), then what the next run needs
// read back in, so that each run starts from the same cache (see bench/swarm/README.md).
import { spawn } from 'node:child_process';
import { open, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Drops the clean page cache; false without root (then nothing was dropped). */
export async function dropCleanPageCache(): Promise<boolean> {
  try {
    await writeFile('/proc/sys/vm/drop_caches', '1');
    return true;
  } catch {
    return false;
  }
}

/** Reads every file under `p` (or `p` itself) to the end, 4 MiB at a time. */
export async function readTree(p: string): Promise<void> {
  const entries = await readdir(p, { withFileTypes: true }).catch(() => null);
  if (entries) {
    for (const e of entries) await readTree(path.join(p, e.name));
    return;
  }
  const file = await open(p, 'r');
  try {
    const chunk = Buffer.allocUnsafe(4 * 1024 * 1024);
    while ((await file.read(chunk, 0, chunk.length, null)).bytesRead > 0);
  } finally {
    await file.close();
  }
}

/**
 * Writes every dirty page to disk before the next download starts. Every client leaves what it
 * wrote in the last seconds to the kernel (Tessera syncs files only once their data is 30 s
 * old); without this its write-back ran during the next client's download and counted in that
 * client's figures.
 */
export function writeBackEverything(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('sync', [], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', () => resolve());
  });
}
