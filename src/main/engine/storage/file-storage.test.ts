import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBit } from '../picker/bitfield';
import { checkExistingPieces } from './check-existing';
import { FileDescriptor, type OpenFileFn } from './file-descriptor';
import { FileStorage } from './file-storage';
import { HashPool } from './hash-pool';
import { allocPieceBuffer, isDirectIoAligned } from './piece-buffers';
import { spansForRange, type StorageLayout } from './piece-layout';

let dir: string;
const pool = new HashPool(1);
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tessera-storage-'));
});
afterAll(async () => {
  await pool.destroy();
  await rm(dir, { recursive: true, force: true });
});

/** A full garbage collection, so that buffers dropped so far give their memory back. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** Whether files in `folder` can be opened with O_DIRECT (not on tmpfs, for one). */
async function directIoWorksIn(folder: string): Promise<boolean> {
  const probe = path.join(folder, '.direct-probe');
  try {
    await (
      await FileDescriptor.open(
        probe,
        constants.O_RDWR | constants.O_CREAT | (constants.O_DIRECT ?? 0),
        0o644,
      )
    ).close();
    return constants.O_DIRECT !== undefined;
  } catch {
    return false;
  } finally {
    await rm(probe, { force: true });
  }
}

/** Files of 5, 0, 3, 10 and 2 bytes with 4-byte pieces: piece 1 spans files a, b (empty) and c. */
function multiLayout(): StorageLayout {
  const lengths = [5, 0, 3, 10, 2];
  let offset = 0;
  const files = lengths.map((length, i) => {
    const f = { path: ['d', `${'abcde'[i]}.bin`], length, offset, padding: false };
    offset += length;
    return f;
  });
  return { name: 'multi', isMultiFile: true, pieceLength: 4, totalLength: offset, files };
}

describe('spansForRange', () => {
  it('splits a piece across three files and skips the empty one', () => {
    const spans = spansForRange(multiLayout(), 1, 0, 4);
    expect(spans).toEqual([
      { fileIndex: 0, fileOffset: 4, length: 1, rangeOffset: 0, padding: false },
      { fileIndex: 2, fileOffset: 0, length: 3, rangeOffset: 1, padding: false },
    ]);
  });

  it('the last piece is short and a range past the end is refused', () => {
    const layout = multiLayout();
    // 20 bytes in 4-byte pieces: piece 4 is bytes 16..20, the last two of d and both of e.
    expect(spansForRange(layout, 4, 0, 4)).toEqual([
      { fileIndex: 3, fileOffset: 8, length: 2, rangeOffset: 0, padding: false },
      { fileIndex: 4, fileOffset: 0, length: 2, rangeOffset: 2, padding: false },
    ]);
    expect(() => spansForRange(layout, 4, 0, 5)).toThrow(RangeError);
  });
});

describe('FileStorage', () => {
  it('writes pieces spanning files at their positions and reads them back', async () => {
    const layout = multiLayout();
    const content = randomBytes(layout.totalLength);
    const storage = await FileStorage.open(layout, dir);
    // Out of order, as pieces complete in a swarm.
    for (const index of [4, 1, 3, 0, 2]) {
      const start = index * 4;
      await storage.writePiece(index, content.subarray(start, Math.min(start + 4, content.length)));
    }
    expect(Buffer.from(await storage.read(1, 1, 3))).toEqual(content.subarray(5, 8));
    await storage.close();
    const files = ['a', 'b', 'c', 'd', 'e'].map((n) => path.join(dir, 'multi', 'd', `${n}.bin`));
    const joined = Buffer.concat(await Promise.all(files.map((f) => readFile(f))));
    expect(joined.equals(content)).toBe(true);
    expect((await stat(files[1]!)).size).toBe(0);
  });

  it.each([
    ['aligned pieces', 256 * 1024, true, true],
    ['plain buffers', 256 * 1024, true, false],
    ['aligned 2 MiB pieces', 2048 * 1024, true, true],
    ['through the page cache only', 256 * 1024, false, true],
  ])(
    'writes %s (O_DIRECT for whole pages in phase) byte for byte',
    async (name, pieceLength, directIo, alignedBuffers) => {
      const KiB = 1024;
      // Unaligned file boundaries, a file below the O_DIRECT size limit, and a short last piece.
      const lengths = [300 * KiB + 7, 600 * KiB, 5 * KiB, 4096 * 100 + 1, 3000 * KiB + 123];
      let offset = 0;
      const files = lengths.map((length, i) => {
        const f = { path: [`f${i}.bin`], length, offset, padding: false };
        offset += length;
        return f;
      });
      const layout: StorageLayout = {
        name: 'direct',
        isMultiFile: true,
        pieceLength,
        totalLength: offset,
        files,
      };
      const content = randomBytes(offset);
      const pieceCount = Math.ceil(offset / pieceLength);
      const order = Array.from({ length: pieceCount }, (_, i) => (i * 5) % pieceCount);
      const sub = path.join(dir, `direct-${name.replace(/\W+/g, '-')}`);
      const storage = await FileStorage.open(layout, sub, { directIo });
      await Promise.all(
        order.map(async (index) => {
          const start = index * pieceLength;
          const bytes = content.subarray(start, Math.min(start + pieceLength, offset));
          const piece = alignedBuffers
            ? allocPieceBuffer(bytes.length)
            : Buffer.allocUnsafeSlow(bytes.length);
          expect(isDirectIoAligned(piece)).toBe(alignedBuffers);
          piece.set(bytes);
          await storage.writePiece(index, piece);
        }),
      );
      expect(Buffer.from(await storage.read(1, 1000, 5000))).toEqual(
        content.subarray(pieceLength + 1000, pieceLength + 6000),
      );
      await storage.close();
      const joined = Buffer.concat(
        await Promise.all(lengths.map((_, i) => readFile(path.join(sub, 'direct', `f${i}.bin`)))),
      );
      expect(joined.equals(content)).toBe(true);
    },
  );

  it('writes many pieces at once across more files than it keeps open (handle eviction)', async () => {
    // 300 files of 1–7 KiB, 16 KiB pieces: every piece spans several files, and far more
    // files are in use at once than the 64 handles kept open.
    let offset = 0;
    const files = Array.from({ length: 300 }, (_, i) => {
      const f = { path: [`f${i}.bin`], length: 1024 * (1 + (i % 7)), offset, padding: false };
      offset += f.length;
      return f;
    });
    const pieceLength = 16 * 1024;
    const layout: StorageLayout = {
      name: 'many',
      isMultiFile: true,
      pieceLength,
      totalLength: offset,
      files,
    };
    const content = randomBytes(offset);
    const sub = path.join(dir, 'many');
    const storage = await FileStorage.open(layout, sub, { maxOpenFiles: 64 });
    const pieceCount = Math.ceil(offset / pieceLength);
    await Promise.all(
      Array.from({ length: pieceCount }, (_, index) =>
        storage.writePiece(index, content.subarray(index * pieceLength, (index + 1) * pieceLength)),
      ),
    );
    await storage.close();
    const joined = Buffer.concat(
      await Promise.all(files.map((_, i) => readFile(path.join(sub, 'many', `f${i}.bin`)))),
    );
    expect(joined.equals(content)).toBe(true);
  });

  /** Counts fdatasync calls per file name (the descriptor's path, read from /proc at the call). */
  async function countSyncs<T>(run: (synced: Map<string, number>) => Promise<T>): Promise<T> {
    const proto = FileDescriptor.prototype;
    const original = proto.datasync;
    const synced = new Map<string, number>();
    proto.datasync = async function (this: FileDescriptor) {
      const name = path.basename(await readlink(`/proc/self/fd/${this.fd}`));
      synced.set(name, (synced.get(name) ?? 0) + 1);
      return original.call(this);
    };
    try {
      return await run(synced);
    } finally {
      proto.datasync = original;
    }
  }

  /** Files of `count` × `length` bytes named `${prefix}${i}.bin`, one after another. */
  function filesLayout(name: string, count: number, length: number, pieceLength: number) {
    const files = Array.from({ length: count }, (_, i) => ({
      path: [`${name}${i}.bin`],
      length,
      offset: i * length,
      padding: false,
    }));
    return { name, isMultiFile: true, pieceLength, totalLength: count * length, files };
  }

  /** Descriptors this process holds open on files under `folder`. */
  async function openUnder(folder: string): Promise<number> {
    let n = 0;
    for (const fd of await readdir('/proc/self/fd')) {
      const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
      if (target.startsWith(folder)) n++;
    }
    return n;
  }

  it('flush syncs files whose handles were closed to stay under the open-file limit', async () => {
    // 200 files of two 4 KiB pieces; only the first piece of each is written, so no file is
    // finished and 136 of the handles are evicted (closed, not synced) before flush.
    const layout = filesLayout('s', 200, 8192, 4096);
    await countSyncs(async (synced) => {
      const storage = await FileStorage.open(layout, path.join(dir, 'synced'), {
        maxOpenFiles: 64,
      });
      for (let i = 0; i < 200; i++) await storage.writePiece(i * 2, Buffer.alloc(4096, i));
      await storage.flush();
      expect(synced.size).toBe(200);
      await storage.close();
    });
  });

  it('finishing, evicting or closing a file never syncs it; flush syncs it, and files named to it', async () => {
    // 6 files of one 4 KiB piece each, 2 handles: files finish (and close) as they are written.
    const layout = filesLayout('n', 6, 4096, 4096);
    const folder = path.join(dir, 'nosync');
    await countSyncs(async (synced) => {
      const storage = await FileStorage.open(layout, folder, { maxOpenFiles: 2 });
      for (let i = 0; i < 4; i++) await storage.writePiece(i, Buffer.alloc(4096, i));
      await storage.close();
      expect(synced.size).toBe(0);
    });
    // A later storage (a restart in the same boot) syncs what it is told the earlier one left.
    await countSyncs(async (synced) => {
      const storage = await FileStorage.open(layout, folder, { maxOpenFiles: 2 });
      await storage.writePiece(4, Buffer.alloc(4096, 4));
      await storage.flush([1, 2, 5]); // n5.bin was never written: nothing to sync
      expect([...synced.keys()].sort()).toEqual(['n1.bin', 'n2.bin', 'n4.bin']);
      await storage.flush();
      expect([...synced.values()]).toEqual([1, 1, 1]);
      await storage.close();
    });
  });

  it('unsyncedAtOpen: the first flush syncs every file already there, once', async () => {
    // Files another storage wrote and never synced (its disk thread died); one is missing.
    const layout = filesLayout('u', 5, 4096, 4096);
    const folder = path.join(dir, 'unsynced');
    await mkdir(path.join(folder, 'u'), { recursive: true });
    for (let i = 0; i < 4; i++) await writeFile(path.join(folder, 'u', `u${i}.bin`), 'x');
    await countSyncs(async (synced) => {
      const storage = await FileStorage.open(layout, folder, { unsyncedAtOpen: true });
      await storage.flush();
      expect([...synced.keys()].sort()).toEqual(['u0.bin', 'u1.bin', 'u2.bin', 'u3.bin']);
      await storage.flush();
      expect([...synced.values()]).toEqual([1, 1, 1, 1]);
      await storage.close();
    });
    // Without the option nothing was written, so nothing is synced.
    await countSyncs(async (synced) => {
      const storage = await FileStorage.open(layout, folder);
      await storage.flush();
      expect(synced.size).toBe(0);
      await storage.close();
    });
  });

  it('writePieces writes neighbours in one file as one O_DIRECT write, anything else piece by piece', async () => {
    const KiB = 1024;
    const pieceLength = 256 * KiB;
    // Two files meeting at a piece boundary, the second ending in a short piece.
    const lengths = [1024 * KiB, 1024 * KiB + 5];
    let offset = 0;
    const files = lengths.map((length, i) => {
      const f = { path: [`r${i}.bin`], length, offset, padding: false };
      offset += length;
      return f;
    });
    const layout: StorageLayout = {
      name: 'runs',
      isMultiFile: true,
      pieceLength,
      totalLength: offset,
      files,
    };
    const content = randomBytes(offset);
    const piece = (index: number, aligned = true) => {
      const bytes = content.subarray(index * pieceLength, (index + 1) * pieceLength);
      const buffer = aligned
        ? allocPieceBuffer(bytes.length)
        : Buffer.allocUnsafeSlow(bytes.length);
      buffer.set(bytes);
      return buffer;
    };
    const joint: number[] = [];
    const open: OpenFileFn = async (file, flags, mode) => {
      const fd = await FileDescriptor.open(file, flags, mode);
      const writev = fd.writev.bind(fd);
      fd.writev = (buffers, position) => {
        joint.push(buffers.length);
        return writev(buffers, position);
      };
      return fd;
    };
    const sub = path.join(dir, 'runs');
    const storage = await FileStorage.open(layout, sub, { open });
    expect(storage.directRunKey(0, piece(0))).toBe(0);
    expect(storage.directRunKey(4, piece(4))).toBe(1);
    expect(storage.directRunKey(0, piece(0, false))).toBeNull(); // not page-aligned memory
    expect(storage.directRunKey(8, piece(8))).toBeNull(); // the short last piece
    await storage.writePieces(0, [piece(0), piece(1), piece(2)]); // one file: one write
    await storage.writePieces(3, [piece(3), piece(4)]); // across the two files: one each
    await storage.writePieces(5, [piece(5), piece(6, false)]); // one is not aligned
    await storage.writePieces(7, [piece(7), piece(8)]);
    // Where the filesystem has no O_DIRECT (tmpfs), everything goes piece by piece.
    expect(joint).toEqual((await directIoWorksIn(sub)) ? [3] : []);
    const read = Buffer.from(await storage.read(3, 0, pieceLength));
    expect(read.equals(content.subarray(3 * pieceLength, 4 * pieceLength))).toBe(true);
    await storage.close();
    const joined = Buffer.concat(
      await Promise.all(lengths.map((_, i) => readFile(path.join(sub, 'runs', `r${i}.bin`)))),
    );
    expect(joined.equals(content)).toBe(true);
  });

  it('reads padding files (BEP 47) as zeros and every other byte from disk', async () => {
    // a.bin, padding up to the next 64 KiB piece, b.bin: piece 0 ends in 60 KiB of padding.
    const KiB = 1024;
    const layout: StorageLayout = {
      name: 'padded',
      isMultiFile: true,
      pieceLength: 64 * KiB,
      totalLength: 128 * KiB,
      files: [
        { path: ['a.bin'], length: 4 * KiB, offset: 0, padding: false },
        { path: ['.pad', '61440'], length: 60 * KiB, offset: 4 * KiB, padding: true },
        { path: ['b.bin'], length: 64 * KiB, offset: 64 * KiB, padding: false },
      ],
    };
    const content = Buffer.concat([
      randomBytes(4 * KiB),
      Buffer.alloc(60 * KiB),
      randomBytes(64 * KiB),
    ]);
    const storage = await FileStorage.open(layout, dir);
    for (let i = 0; i < 2; i++)
      await storage.writePiece(i, content.subarray(i * 64 * KiB, (i + 1) * 64 * KiB));
    // Read buffers are not zero-filled: leave garbage in memory that is freed (collected) and
    // handed out again, then read the padding.
    for (let k = 0; k < 20; k++) (await storage.read(1, 0, 64 * KiB)).fill(0xee);
    collectGarbage();
    for (let k = 0; k < 20; k++) {
      const piece = Buffer.from(await storage.read(0, 0, 64 * KiB));
      expect(piece.equals(content.subarray(0, 64 * KiB))).toBe(true);
    }
    await storage.close();
    expect(await readdir(path.join(dir, 'padded'))).toEqual(['a.bin', 'b.bin']);
  });

  it('a file whose pieces are all written is closed at once; the next flush syncs each once', async () => {
    const layout = filesLayout('done', 50, 8192, 4096);
    const folder = path.join(dir, 'finished');
    await countSyncs(async (synced) => {
      const storage = await FileStorage.open(layout, folder, { maxOpenFiles: 1024 });
      // Pieces in an order that leaves every file half-written for a while.
      for (const first of [0, 1])
        for (let f = 0; f < 50; f++) await storage.writePiece(f * 2 + first, Buffer.alloc(4096, f));
      const deadline = Date.now() + 5000;
      while ((await openUnder(folder)) > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(await openUnder(folder)).toBe(0);
      expect(synced.size).toBe(0);
      await storage.flush();
      expect(synced.size).toBe(50);
      expect([...synced.values()].every((n) => n === 1)).toBe(true);
      await storage.close();
    });
  });

  it('running out of descriptors (EMFILE) closes idle files and carries on', async () => {
    // A process limit of 20 descriptors, simulated: opens beyond it fail as the kernel's would.
    let held = 0;
    let refused = 0;
    const limitedOpen: OpenFileFn = async (...args) => {
      if (held >= 20) {
        refused++;
        throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
      }
      const handle = await FileDescriptor.open(...args);
      held++;
      const close = handle.close.bind(handle);
      handle.close = async () => {
        held--;
        return close();
      };
      return handle;
    };
    const layout = filesLayout('e', 60, 8192, 4096);
    const folder = path.join(dir, 'emfile');
    const storage = await FileStorage.open(layout, folder, {
      maxOpenFiles: 1024,
      open: limitedOpen,
    });
    for (let f = 0; f < 60; f++) await storage.writePiece(f * 2, Buffer.alloc(4096, f + 1));
    expect(refused).toBeGreaterThan(0);
    await storage.close();
    for (let f = 0; f < 60; f++) {
      const bytes = await readFile(path.join(folder, 'e', `e${f}.bin`));
      expect(bytes.subarray(0, 4096).equals(Buffer.alloc(4096, f + 1))).toBe(true);
    }
  });

  it('anyFileExists: nothing before the first write, something after', async () => {
    const layout = multiLayout();
    const sub = path.join(dir, 'exists');
    const fresh = await FileStorage.open(layout, sub);
    // File b is empty: opening made the folder and b, and b counts for nothing.
    expect(await fresh.anyFileExists()).toBe(false);
    await fresh.writePiece(4, Buffer.from('wxyz'));
    expect(await fresh.anyFileExists()).toBe(true);
    await fresh.close();
    const elsewhere = await FileStorage.open(
      { ...layout, files: layout.files.slice(2, 3) },
      path.join(dir, 'none'),
    );
    expect(await elsewhere.anyFileExists()).toBe(false);
    await elsewhere.close();
  });

  it('fileStats: every file null while the torrent folder is missing, real sizes once written', async () => {
    const files = [
      { path: ['d', 'a.bin'], length: 5, offset: 0, padding: false },
      { path: ['d', 'c.bin'], length: 3, offset: 5, padding: false },
    ];
    const layout: StorageLayout = {
      name: 'stats',
      isMultiFile: true,
      pieceLength: 4,
      totalLength: 8,
      files,
    };
    const storage = await FileStorage.open(layout, path.join(dir, 'stats'));
    expect(await storage.fileStats()).toEqual([null, null]);
    await storage.writePiece(0, Buffer.from('abcd'));
    const [a, c] = await storage.fileStats();
    expect(a).toEqual({ size: 4, mtimeMs: expect.any(Number) });
    expect(c).toBeNull();
    await storage.close();
  });

  it('fileStats looks again only at files written since it last looked', async () => {
    const files = [
      { path: ['a.bin'], length: 4, offset: 0, padding: false },
      { path: ['b.bin'], length: 4, offset: 4, padding: false },
    ];
    const layout: StorageLayout = {
      name: 'known',
      isMultiFile: true,
      pieceLength: 4,
      totalLength: 8,
      files,
    };
    const storage = await FileStorage.open(layout, path.join(dir, 'known'));
    await storage.writePiece(0, Buffer.from('abcd'));
    await storage.writePiece(1, Buffer.from('efgh'));
    const [a1, b1] = await storage.fileStats();
    // Someone else touches both files. a.bin is not written by us again: its old record stays,
    // so the next start sees the difference and hashes it. b.bin is written again: looked at.
    const past = new Date(Date.UTC(2001, 0, 1));
    for (const name of ['a.bin', 'b.bin'])
      await utimes(path.join(dir, 'known', 'known', name), past, past);
    await storage.writePiece(1, Buffer.from('ijkl'));
    await utimes(path.join(dir, 'known', 'known', 'b.bin'), past, past);
    const [a2, b2] = await storage.fileStats();
    expect(a2).toEqual(a1);
    expect(b2).toEqual({ size: 4, mtimeMs: past.getTime() });
    expect(b1!.mtimeMs).not.toBe(past.getTime());
    // Removing the files forgets what was known of them.
    await storage.remove();
    expect(await storage.fileStats()).toEqual([null, null]);
  });

  it('checkExistingPieces keeps every valid piece and drops damaged or missing ones', async () => {
    const layout: StorageLayout = {
      name: 'single.bin',
      isMultiFile: false,
      pieceLength: 16,
      totalLength: 40,
      files: [{ path: [], length: 40, offset: 0, padding: false }],
    };
    const content = randomBytes(40);
    const hashes = Buffer.concat(
      [0, 1, 2].map((i) =>
        createHash('sha1')
          .update(content.subarray(i * 16, i * 16 + 16))
          .digest(),
      ),
    );
    const sub = path.join(dir, 'check');
    const storage = await FileStorage.open(layout, sub);
    expect([...(await checkExistingPieces(storage, layout, hashes, pool))]).toEqual([0]);
    const damaged = Buffer.from(content.subarray(0, 30));
    damaged[20]! ^= 0xff;
    await mkdir(sub, { recursive: true });
    await writeFile(path.join(sub, 'single.bin'), damaged);
    const have = await checkExistingPieces(storage, layout, hashes, pool);
    expect([hasBit(have, 0), hasBit(have, 1), hasBit(have, 2)]).toEqual([true, false, false]);
    await storage.close();
  });

  it('makes each folder once however many files in it open at once, and tries again after a failed mkdir', async () => {
    const files = Array.from({ length: 200 }, (_, i) => ({
      path: [`d${i % 4}`, `f${i}`],
      length: 4,
      offset: i * 4,
      padding: false,
    }));
    const layout: StorageLayout = {
      name: 'folders',
      isMultiFile: true,
      pieceLength: 4,
      totalLength: 800,
      files,
    };
    const sub = path.join(dir, 'folders');
    const made: string[] = [];
    let failNext = true;
    const storage = await FileStorage.open(layout, sub, {
      makeDir: async (folder) => {
        made.push(path.relative(sub, folder));
        if (folder.endsWith('d0') && failNext) {
          failNext = false;
          throw Object.assign(new Error('EIO: i/o error, mkdir'), { code: 'EIO' });
        }
        await mkdir(folder, { recursive: true });
      },
    });
    const writes = await Promise.allSettled(
      files.map((_, i) => storage.writePiece(i, Buffer.from([i, i, i, i]))),
    );
    // Every write waiting on d0's failed mkdir fails with it; the others are written.
    const failed = writes.flatMap((w, i) => (w.status === 'rejected' ? [i] : []));
    expect(failed).toEqual(files.flatMap((_, i) => (i % 4 === 0 ? [i] : [])));
    expect(made.sort()).toEqual(['folders/d0', 'folders/d1', 'folders/d2', 'folders/d3']);
    // The failure is not remembered: the next write makes d0.
    await storage.writePiece(0, Buffer.from([9, 9, 9, 9]));
    expect(made.filter((d) => d === 'folders/d0')).toHaveLength(2);
    expect(await readFile(path.join(sub, 'folders', 'd0', 'f0'))).toEqual(
      Buffer.from([9, 9, 9, 9]),
    );
    expect(await readFile(path.join(sub, 'folders', 'd3', 'f199'))).toEqual(
      Buffer.from([199, 199, 199, 199]),
    );
    await storage.close();
  });

  it('reports a disk problem as a StorageError naming the file', async () => {
    const layout: StorageLayout = {
      name: 'x',
      isMultiFile: true,
      pieceLength: 4,
      totalLength: 4,
      files: [{ path: ['sub', 'f'], length: 4, offset: 0, padding: false }],
    };
    const sub = path.join(dir, 'blocked');
    await mkdir(path.join(sub, 'x'), { recursive: true });
    await writeFile(path.join(sub, 'x', 'sub'), 'a file where a folder must be');
    const storage = await FileStorage.open(layout, sub);
    await expect(storage.writePiece(0, Buffer.from('abcd'))).rejects.toMatchObject({
      code: 'storage',
      message: expect.stringMatching(/x\/sub\/f/),
    });
  });

  it('does not follow a symlink planted where a file goes', async () => {
    const layout: StorageLayout = {
      name: 'evil',
      isMultiFile: false,
      pieceLength: 4,
      totalLength: 4,
      files: [{ path: [], length: 4, offset: 0, padding: false }],
    };
    const sub = path.join(dir, 'symlink');
    await mkdir(sub, { recursive: true });
    const outside = path.join(dir, 'outside.txt');
    await writeFile(outside, 'keep');
    await symlink(outside, path.join(sub, 'evil'));
    const storage = await FileStorage.open(layout, sub);
    await expect(storage.writePiece(0, Buffer.from('PWND'))).rejects.toThrow(/symbolic link/);
    expect(await readFile(outside, 'utf8')).toBe('keep');
  });

  it('remove deletes the files and the folders it made, nothing else', async () => {
    const layout = multiLayout();
    const sub = path.join(dir, 'remove');
    const storage = await FileStorage.open(layout, sub);
    await storage.writePiece(0, Buffer.from('abcd'));
    await writeFile(path.join(sub, 'other.txt'), 'not ours');
    await storage.remove();
    await expect(stat(path.join(sub, 'multi'))).rejects.toThrow();
    expect(await readFile(path.join(sub, 'other.txt'), 'utf8')).toBe('not ours');
  });
});
