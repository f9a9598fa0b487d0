import { readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic-write';
import { bitfieldLength } from '../picker/bitfield';
import { spansForRange, type StorageLayout } from './piece-layout';

/**
 * What a torrent remembers between runs so it can start at once instead of re-hashing
 * everything: the verified pieces, and each file's size and modification time when they were
 * recorded. A file that changed since (a crash mid-write, someone editing it) has its pieces
 * checked again; the rest are trusted.
 */
export interface ResumeData {
  version: 1;
  infoHash: string;
  pieceCount: number;
  /** Verified pieces, MSB-first bitfield. */
  have: Uint8Array;
  /** Per file of the torrent: null when it did not exist. */
  files: ({ size: number; mtimeMs: number } | null)[];
  savedAt: number;
}

interface ResumeJson {
  version: number;
  infoHash: string;
  pieceCount: number;
  have: string;
  files: ({ size: number; mtimeMs: number } | null)[];
  savedAt: number;
}

/** Size and mtime of each of the torrent's files, as they are now. */
export async function statFiles(paths: readonly string[]): Promise<ResumeData['files']> {
  return Promise.all(
    paths.map(async (p) => {
      try {
        const st = await stat(p);
        return st.isFile() ? { size: st.size, mtimeMs: st.mtimeMs } : null;
      } catch {
        return null;
      }
    }),
  );
}

export async function saveResumeData(file: string, data: ResumeData): Promise<void> {
  const json: ResumeJson = { ...data, have: Buffer.from(data.have).toString('base64') };
  await writeFileAtomic(file, JSON.stringify(json));
}

/**
 * Reads resume data; null when it is missing, damaged or for another torrent — the caller
 * then checks the disk instead, so a bad file can cost time but never data.
 */
export async function loadResumeData(
  file: string,
  expect: { infoHash: string; pieceCount: number; fileCount: number },
): Promise<ResumeData | null> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return null;
  }
  if (typeof json !== 'object' || json === null) return null;
  const r = json as Partial<ResumeJson>;
  if (r.version !== 1 || r.infoHash !== expect.infoHash || r.pieceCount !== expect.pieceCount)
    return null;
  if (typeof r.have !== 'string' || !Array.isArray(r.files) || r.files.length !== expect.fileCount)
    return null;
  const have = Buffer.from(r.have, 'base64');
  if (have.length !== bitfieldLength(expect.pieceCount)) return null;
  for (const f of r.files) {
    if (f === null) continue;
    if (
      typeof f !== 'object' ||
      !Number.isFinite(f.size) ||
      !Number.isFinite(f.mtimeMs) ||
      f.size < 0
    )
      return null;
  }
  return {
    version: 1,
    infoHash: r.infoHash,
    pieceCount: r.pieceCount,
    have: new Uint8Array(have),
    files: r.files,
    savedAt: Number(r.savedAt) || 0,
  };
}

/**
 * Splits the pieces into those the resume data vouches for (every file they touch is unchanged
 * since it was saved) and those that must be hashed again.
 */
export function planResume(
  layout: StorageLayout,
  pieceCount: number,
  saved: ResumeData,
  now: ResumeData['files'],
): { trusted: Uint8Array; recheck: number[] } {
  const changed = layout.files.map((f, i) => {
    if (f.padding || f.length === 0) return false;
    const before = saved.files[i] ?? null;
    const after = now[i] ?? null;
    if (before === null || after === null) return before !== after;
    // Within a millisecond counts as unchanged: file systems and utimes keep different precisions.
    return before.size !== after.size || Math.abs(before.mtimeMs - after.mtimeMs) >= 1;
  });
  const trusted = new Uint8Array(bitfieldLength(pieceCount));
  const recheck: number[] = [];
  for (let index = 0; index < pieceCount; index++) {
    const size = Math.min(layout.pieceLength, layout.totalLength - index * layout.pieceLength);
    const touchesChanged = spansForRange(layout, index, 0, size).some((s) => changed[s.fileIndex]);
    const savedHave = ((saved.have[index >> 3] ?? 0) & (0x80 >> (index & 7))) !== 0;
    const filesExist = spansForRange(layout, index, 0, size).every(
      (s) => s.padding || now[s.fileIndex] !== null,
    );
    if (!filesExist) continue;
    if (touchesChanged) recheck.push(index);
    else if (savedHave) trusted[index >> 3]! |= 0x80 >> (index & 7);
  }
  return { trusted, recheck };
}
