// Resume-data saves run one at a time, in the order asked: a slow save that started before the
// download finished must not land after, and overwrite, the save made when it finished.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { parseMetainfo, Torrent, type Session } from '../src/main/engine';
import { HashPool } from '../src/main/engine/storage/hash-pool';
import { FileStorage, type PieceStorage } from '../src/main/engine/storage/file-storage';
import { loadResumeData } from '../src/main/engine/storage/resume-data';
import { loopbackSession, untilDone } from './support/engine-session';
import { makeFixture } from './support/torrent-fixture';

let dir: string;
let seedSession: Session | null = null;
let hashPool: HashPool | null = null;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tessera-save-order-'));
});
afterEach(async () => {
  await seedSession?.close();
  await hashPool?.destroy();
  await rm(dir, { recursive: true, force: true });
});

/** `storage`, except that its first fileStats() waits until `release` is called. */
function withFirstFileStatsHeld(storage: PieceStorage): {
  storage: PieceStorage;
  release: () => void;
  held: Promise<void>;
} {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let reached!: () => void;
  const held = new Promise<void>((r) => (reached = r));
  let first = true;
  const fileStats = async () => {
    if (first) {
      first = false;
      reached();
      await gate;
    }
    return storage.fileStats!();
  };
  const wrapped = new Proxy(storage, {
    get(target, prop) {
      if (prop === 'fileStats') return fileStats;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
  return { storage: wrapped, release, held };
}

it('a save held up since the check does not overwrite the save made on pause after completion', async () => {
  const fx = makeFixture({ name: 'order.bin', files: { single: 4_000_000 }, pieceLength: 65_536 });
  seedSession = await loopbackSession(path.join(dir, 'seed'));
  await fx.writeTo(path.join(dir, 'seed'));
  await untilDone(await seedSession.addTorrent(fx.torrent));

  const metainfo = parseMetainfo(fx.torrent);
  hashPool = new HashPool(1);
  const resumeFile = path.join(dir, 'leech.resume.json');
  let gated: ReturnType<typeof withFirstFileStatsHeld> | null = null;
  const leech = new Torrent({
    source: { metainfo },
    downloadDir: path.join(dir, 'leech'),
    peerId: randomBytes(20),
    listenPort: () => 0,
    hashPool,
    maxPeers: 5,
    noTrackers: true,
    resumeFile,
    openStorage: async (m, downloadDir) => {
      gated = withFirstFileStatsHeld(await FileStorage.open(m, downloadDir));
      return gated.storage;
    },
  });
  await leech.start();
  // The save that follows the check has taken its snapshot (nothing verified yet) and waits.
  await gated!.held;
  leech.addPeers([{ ip: '127.0.0.1', port: seedSession.port }], 'manual');
  await untilDone(leech);

  // Pausing saves again, with every piece; only then may the held save finish.
  const paused = leech.pause();
  await new Promise((r) => setTimeout(r, 100));
  gated!.release();
  await paused;
  // Chained, both saves are done now. Unchained, the held one lands within moments: give it
  // the time to, so that this test fails if the saves ever stop being chained.
  await new Promise((r) => setTimeout(r, 300));

  const saved = await loadResumeData(resumeFile, {
    infoHash: leech.id,
    pieceCount: metainfo.pieceCount,
    fileCount: 1,
  });
  expect(saved).not.toBeNull();
  const verified = [...saved!.have].reduce((n, byte) => n + popcount(byte), 0);
  expect(verified).toBe(metainfo.pieceCount);
  await leech.destroy({ deleteData: false });
});

function popcount(byte: number): number {
  let n = 0;
  for (let b = byte; b; b >>= 1) n += b & 1;
  return n;
}
