// Test payloads: random (optionally seeded, so a benchmark can rebuild the same bytes) files
// written in chunks, and byte-for-byte tree comparison that says where two trees differ.
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { HarnessError } from './errors';

const CHUNK_BYTES = 1 << 20;

/**
 * Writes `bytes` pseudo-random bytes to `path`, 1 MiB at a time. With a seed the content is
 * AES-128-CTR keystream keyed by the seed: deterministic and far faster than a JS PRNG.
 */
export async function makeRandomFile(path: string, bytes: number, seed?: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const cipher =
    seed === undefined
      ? undefined
      : createCipheriv('aes-128-ctr', seedKey(seed), Buffer.alloc(16, 0));
  const zeros = Buffer.alloc(CHUNK_BYTES);
  const fh = await open(path, 'w');
  try {
    for (let written = 0; written < bytes;) {
      const n = Math.min(CHUNK_BYTES, bytes - written);
      const chunk = cipher ? cipher.update(zeros.subarray(0, n)) : randomBytes(n);
      await fh.write(chunk, 0, n);
      written += n;
    }
  } finally {
    await fh.close();
  }
}

function seedKey(seed: number): Buffer {
  return createHash('sha256').update(`tessera-harness-seed:${seed}`).digest().subarray(0, 16);
}

export interface FileSpec {
  /** Relative path with '/' separators, e.g. 'dir/a.bin'. */
  path: string;
  bytes: number;
}

/** Creates every file of `spec` under `root`; file i uses seed `seed + i` when a seed is given. */
export async function makeTree(
  root: string,
  spec: readonly FileSpec[],
  seed?: number,
): Promise<void> {
  await mkdir(root, { recursive: true });
  for (const [i, f] of spec.entries()) {
    await makeRandomFile(
      join(root, ...f.path.split('/')),
      f.bytes,
      seed === undefined ? undefined : seed + i,
    );
  }
}

export function sha1File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha1');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** Relative paths ('/'-separated, sorted) of every regular file under root. */
export async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string): Promise<void> {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(relative(root, p).split(sep).join('/'));
    }
  }
  const s = await stat(root);
  if (s.isFile()) return [''];
  await walk(root);
  return out.sort();
}

/**
 * Throws a TREE_MISMATCH HarnessError naming the first differing file and byte offset, or a
 * file present on one side only. `a` and `b` may both be files or both directories.
 * `ignore` filters out client litter (e.g. aria2's `.aria2` control files).
 */
export async function compareTrees(
  a: string,
  b: string,
  opts: { ignore?: (relPath: string) => boolean } = {},
): Promise<void> {
  const keep = (p: string): boolean => !(opts.ignore?.(p) ?? false);
  const la = (await listFiles(a)).filter(keep);
  const lb = (await listFiles(b)).filter(keep);
  const sb = new Set(lb);
  for (const p of la) {
    if (!sb.has(p)) throw new HarnessError('TREE_MISMATCH', `${join(b, p)} is missing`);
  }
  const sa = new Set(la);
  for (const p of lb) {
    if (!sa.has(p)) throw new HarnessError('TREE_MISMATCH', `${join(b, p)} is not in ${a}`);
  }
  for (const p of la) await compareFiles(p === '' ? a : join(a, p), p === '' ? b : join(b, p));
}

async function compareFiles(a: string, b: string): Promise<void> {
  const [fa, fb] = await Promise.all([open(a, 'r'), open(b, 'r')]);
  try {
    const ba = Buffer.alloc(CHUNK_BYTES);
    const bb = Buffer.alloc(CHUNK_BYTES);
    for (let offset = 0; ;) {
      const [ra, rb] = await Promise.all([
        fa.read(ba, 0, CHUNK_BYTES, offset),
        fb.read(bb, 0, CHUNK_BYTES, offset),
      ]);
      const n = Math.min(ra.bytesRead, rb.bytesRead);
      if (!ba.subarray(0, n).equals(bb.subarray(0, n))) {
        let i = 0;
        while (ba[i] === bb[i]) i++;
        throw new HarnessError('TREE_MISMATCH', `${b} differs from ${a} at byte ${offset + i}`);
      }
      if (ra.bytesRead !== rb.bytesRead) {
        throw new HarnessError(
          'TREE_MISMATCH',
          `${b} and ${a} differ in length (one ends at byte ${offset + n})`,
        );
      }
      if (n === 0) return;
      offset += n;
    }
  } finally {
    await Promise.all([fa.close(), fb.close()]);
  }
}
