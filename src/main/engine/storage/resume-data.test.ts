import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StorageLayout } from './piece-layout';
import { loadResumeData, planResume, saveResumeData, type ResumeData } from './resume-data';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tessera-resume-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

// Two files of 8 bytes, 4-byte pieces: pieces 0–1 in a, 2–3 in b.
const layout: StorageLayout = {
  name: 'r',
  isMultiFile: true,
  pieceLength: 4,
  totalLength: 16,
  files: [
    { path: ['a'], length: 8, offset: 0, padding: false },
    { path: ['b'], length: 8, offset: 8, padding: false },
  ],
};
const id = 'c'.repeat(40);
const saved: ResumeData = {
  version: 1,
  infoHash: id,
  pieceCount: 4,
  have: Uint8Array.from([0b1011_0000]),
  files: [
    { size: 8, mtimeMs: 100 },
    { size: 8, mtimeMs: 200 },
  ],
  savedAt: 1,
};

describe('resume data', () => {
  it('round-trips through an atomically written file', async () => {
    const file = path.join(dir, 'x.json');
    await saveResumeData(file, saved);
    expect(await loadResumeData(file, { infoHash: id, pieceCount: 4, fileCount: 2 })).toEqual(
      saved,
    );
  });

  it('is ignored when damaged or for another torrent (the disk is checked instead)', async () => {
    const file = path.join(dir, 'bad.json');
    await writeFile(file, '{"version":1,"infoHash":"');
    expect(await loadResumeData(file, { infoHash: id, pieceCount: 4, fileCount: 2 })).toBeNull();
    await saveResumeData(file, saved);
    expect(
      await loadResumeData(file, { infoHash: 'd'.repeat(40), pieceCount: 4, fileCount: 2 }),
    ).toBeNull();
    expect(await loadResumeData(file, { infoHash: id, pieceCount: 5, fileCount: 2 })).toBeNull();
    expect(
      await loadResumeData(path.join(dir, 'missing.json'), {
        infoHash: id,
        pieceCount: 4,
        fileCount: 2,
      }),
    ).toBeNull();
  });

  it('trusts pieces of unchanged files and rechecks the pieces of changed ones', () => {
    const unchanged = planResume(layout, 4, saved, saved.files);
    expect([...unchanged.trusted]).toEqual([0b1011_0000]);
    expect(unchanged.recheck).toEqual([]);
    const bChanged = planResume(layout, 4, saved, [saved.files[0]!, { size: 8, mtimeMs: 999 }]);
    expect([...bChanged.trusted]).toEqual([0b1000_0000]);
    expect(bChanged.recheck).toEqual([2, 3]);
  });

  it('never trusts a piece whose file is gone', () => {
    const aGone = planResume(layout, 4, saved, [null, saved.files[1]!]);
    expect([...aGone.trusted]).toEqual([0b0011_0000]);
    expect(aGone.recheck).toEqual([]);
  });
});
