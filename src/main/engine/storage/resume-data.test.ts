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
  // Piece 2 was still only in the page cache when saved.
  unsynced: Uint8Array.from([0b0010_0000]),
  boot: { id: 'boot-1', timeMs: 1_700_000_000_000 },
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
    const unchanged = planResume(layout, 4, saved, saved.files, { sameBoot: true });
    expect([...unchanged.trusted]).toEqual([0b1011_0000]);
    expect(unchanged.recheck).toEqual([]);
    const bChanged = planResume(layout, 4, saved, [saved.files[0]!, { size: 8, mtimeMs: 999 }], {
      sameBoot: true,
    });
    expect([...bChanged.trusted]).toEqual([0b1000_0000]);
    expect(bChanged.recheck).toEqual([2, 3]);
  });

  it('never trusts a piece whose file is gone', () => {
    const aGone = planResume(layout, 4, saved, [null, saved.files[1]!], { sameBoot: true });
    expect([...aGone.trusted]).toEqual([0b0011_0000]);
    expect(aGone.recheck).toEqual([]);
  });

  it('after the machine restarted, hashes again the pieces that were not synced when saved', () => {
    const rebooted = planResume(layout, 4, saved, saved.files, { sameBoot: false });
    expect([...rebooted.trusted]).toEqual([0b1001_0000]);
    expect(rebooted.recheck).toEqual([2]);
  });

  it('reads files from before unsynced pieces were recorded as all synced', async () => {
    const file = path.join(dir, 'old.json');
    const { unsynced: _unsynced, boot: _boot, ...old } = saved;
    await writeFile(
      file,
      JSON.stringify({ ...old, have: Buffer.from(old.have).toString('base64') }),
    );
    const loaded = await loadResumeData(file, { infoHash: id, pieceCount: 4, fileCount: 2 });
    expect(loaded).toMatchObject({ unsynced: new Uint8Array(1), boot: null });
    expect(planResume(layout, 4, loaded!, saved.files, { sameBoot: false }).recheck).toEqual([]);
  });

  it('ignores a file whose unsynced pieces or boot are malformed', async () => {
    const file = path.join(dir, 'malformed.json');
    const json = JSON.parse(JSON.stringify({ ...saved, have: 'sA==', unsynced: 'IA==' })) as object;
    for (const bad of [
      { unsynced: 'AAAA' },
      { unsynced: 7 },
      { boot: { id: 3, timeMs: 1 } },
      { boot: 'x' },
    ]) {
      await writeFile(file, JSON.stringify({ ...json, ...bad }));
      expect(await loadResumeData(file, { infoHash: id, pieceCount: 4, fileCount: 2 })).toBeNull();
    }
    await writeFile(file, JSON.stringify(json));
    expect(await loadResumeData(file, { infoHash: id, pieceCount: 4, fileCount: 2 })).toEqual(
      saved,
    );
  });
});
