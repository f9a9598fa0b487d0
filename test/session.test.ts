// Two engines in one process, on loopback: the Session and Torrent lifecycle (pause, resume,
// remove, restart from the state folder). Interop with other clients is in cli-*.test.ts.
import { mkdtemp, open, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Session } from '../src/main/engine';
import { PieceState } from '../src/shared/torrent-types';
import { loopbackSession, untilDone } from './support/engine-session';
import { makeFixture } from './support/torrent-fixture';

let dir: string;
const sessions: Session[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tessera-session-'));
});
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

async function session(name: string, stateDir?: string): Promise<Session> {
  const s = await loopbackSession(path.join(dir, name), { stateDir });
  sessions.push(s);
  return s;
}

const done = untilDone;

/** A session seeding `fx`, and a first leech session keeping its state in `state/`. */
async function seedAndLeech(fx: ReturnType<typeof makeFixture>) {
  const seedSession = await session('seed');
  await fx.writeTo(path.join(dir, 'seed'));
  await done(await seedSession.addTorrent(fx.torrent));
  const stateDir = path.join(dir, 'state');
  const first = await session('leech', stateDir);
  return { seedSession, stateDir, first, leech: await first.addTorrent(fx.torrent) };
}

/** Overwrites bytes behind Tessera's back, keeping the file's size and modification time. */
async function damageKeepingTime(file: string, at: number, bytes: Buffer): Promise<void> {
  const { atime, mtime } = await stat(file);
  const fh = await open(file, 'r+');
  await fh.write(bytes, 0, bytes.length, at);
  await fh.close();
  await utimes(file, atime, mtime);
}

describe('Session', () => {
  it('downloads two torrents at once within one piece-memory limit, both complete', async () => {
    const pieceLength = 65_536;
    const fixtures = ['one', 'two'].map((name) =>
      makeFixture({ name: `${name}.bin`, files: { single: 3_000_000 }, pieceLength }),
    );
    const seedSession = await session('seed');
    for (const fx of fixtures) {
      await fx.writeTo(path.join(dir, 'seed'));
      await done(await seedSession.addTorrent(fx.torrent));
    }
    // Room for 3 pieces in all: each torrent alone would start up to 32 MiB of them.
    const leechSession = await loopbackSession(path.join(dir, 'leech'), {
      pieceMemoryLimitBytes: 3 * pieceLength,
    });
    sessions.push(leechSession);
    const leeches = await Promise.all(fixtures.map((fx) => leechSession.addTorrent(fx.torrent)));
    let mostInFlight = 0;
    const sample = setInterval(() => {
      let inFlight = 0;
      for (const t of leeches)
        for (const state of t.pieceStates()) if (state === PieceState.InFlight) inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
    }, 2);
    try {
      for (const t of leeches) t.addPeers([{ ip: '127.0.0.1', port: seedSession.port }]);
      await Promise.all(leeches.map(done));
    } finally {
      clearInterval(sample);
    }
    for (const [i, fx] of fixtures.entries()) {
      const got = await readFile(path.join(dir, 'leech', fx.name));
      expect(got.equals(fx.files[0]!.data)).toBe(true);
      expect(leeches[i]!.summary().wastedBytes).toBe(0);
    }
    // The limit, plus the one piece a torrent may always start when it holds none.
    expect(mostInFlight).toBeGreaterThan(0);
    expect(mostInFlight).toBeLessThanOrEqual(3 + 1);
  });

  it('refuses a piece-memory limit that is not a positive whole number', async () => {
    await expect(
      loopbackSession(path.join(dir, 'bad'), { pieceMemoryLimitBytes: 0 }),
    ).rejects.toThrow(/pieceMemoryLimitBytes/);
  });

  it('downloads from a seeding session, seeds once complete, and reports progress', async () => {
    const fx = makeFixture({
      name: 'pair',
      files: [
        { path: ['a.bin'], bytes: 3_000_000 },
        { path: ['d', 'b.bin'], bytes: 10 },
      ],
      pieceLength: 65_536,
    });
    const seedSession = await session('seed');
    await fx.writeTo(path.join(dir, 'seed'));
    const seed = await seedSession.addTorrent(fx.torrent);
    await done(seed);
    expect(seed.state).toBe('seeding');

    const leechSession = await session('leech');
    const leech = await leechSession.addTorrent(fx.torrent);
    leech.addPeers([{ ip: '127.0.0.1', port: seedSession.port }]);
    await done(leech);
    const got = await readFile(path.join(dir, 'leech', 'pair', 'a.bin'));
    expect(got.equals(fx.files[0]!.data)).toBe(true);
    const summary = leech.summary();
    expect(summary).toMatchObject({
      state: 'seeding',
      progress: 1,
      piecesDone: summary.pieceCount,
      wastedBytes: 0,
    });
    expect(summary.downloadedBytes).toBe(fx.content.length);
    const detail = leech.detail();
    expect(detail.pieces.every((p) => p === 2)).toBe(true);
    expect(detail.files.map((f) => [f.path, f.progress])).toEqual([
      ['pair/a.bin', 1],
      ['pair/d/b.bin', 1],
    ]);
    expect(seed.summary().uploadedBytes).toBe(fx.content.length);
  });

  it('pause stops all traffic; resume finishes the download', async () => {
    const fx = makeFixture({
      name: 'big.bin',
      files: { single: 24_000_000 },
      pieceLength: 262_144,
    });
    const seedSession = await session('seed');
    await fx.writeTo(path.join(dir, 'seed'));
    await done(await seedSession.addTorrent(fx.torrent));

    const leechSession = await session('leech');
    const leech = await leechSession.addTorrent(fx.torrent);
    // Pause from inside the first 'piece' event: deterministic however fast the machine is.
    const paused = new Promise<void>((resolve) =>
      leech.once('piece', () => void leech.pause().then(resolve)),
    );
    leech.addPeers([{ ip: '127.0.0.1', port: seedSession.port }]);
    await paused;
    expect(leech.state).toBe('paused');
    expect(leech.summary().peersConnected).toBe(0);
    const before = leech.summary();
    // Pieces already received may still finish verifying and be written; nothing new arrives.
    const inFlight = leech.pieceStates().filter((p) => p === 1).length;
    expect(before.progress).toBeLessThan(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(leech.summary().downloadedBytes).toBe(before.downloadedBytes);
    expect(leech.summary().piecesDone).toBeLessThanOrEqual(before.piecesDone + inFlight);
    await leech.resume();
    leech.addPeers([{ ip: '127.0.0.1', port: seedSession.port }]);
    await done(leech);
    expect((await readFile(path.join(dir, 'leech', 'big.bin'))).equals(fx.content)).toBe(true);
  });

  it('remembers its torrents and their paused state across a restart', async () => {
    const fx = makeFixture({ name: 'kept.bin', files: { single: 100_000 }, pieceLength: 16_384 });
    const stateDir = path.join(dir, 'state');
    const first = await session('dl', stateDir);
    const t = await first.addTorrent(fx.torrent, { paused: true });
    expect(t.state).toBe('paused');
    await first.close();
    sessions.splice(sessions.indexOf(first), 1);

    const second = await session('dl', stateDir);
    const restored = second.getTorrent(t.id);
    expect(restored?.summary().name).toBe('kept.bin');
    expect(restored?.state).toBe('paused');
    await expect(second.addTorrent(fx.torrent)).rejects.toMatchObject({
      code: 'duplicate-torrent',
    });
  });

  it('remove with deleteData deletes what it downloaded', async () => {
    const fx = makeFixture({
      name: 'gone',
      files: [{ path: ['x.bin'], bytes: 50_000 }],
      pieceLength: 16_384,
    });
    const s = await session('dl');
    await fx.writeTo(path.join(dir, 'dl'));
    const t = await s.addTorrent(fx.torrent);
    await done(t);
    await s.removeTorrent(t.id, { deleteData: true });
    expect(s.getTorrent(t.id)).toBeUndefined();
    await expect(stat(path.join(dir, 'dl', 'gone'))).rejects.toThrow();
  });

  it('refuses a bad torrent with a specific error and keeps the others', async () => {
    const s = await session('dl');
    await expect(s.addTorrent(Buffer.from('d4:infod4:name1:xee'))).rejects.toMatchObject({
      code: 'invalid-torrent',
    });
    expect(s.torrents()).toHaveLength(0);
  });
});

describe('resume data', () => {
  it('a restart resumes from resume data without hashing unchanged files; damaged resume data falls back to the disk', async () => {
    const fx = makeFixture({
      name: 'resume.bin',
      files: { single: 4_000_000 },
      pieceLength: 65_536,
    });
    const { seedSession, stateDir, first, leech } = await seedAndLeech(fx);
    const paused = new Promise<void>((resolve) =>
      leech.on('piece', () => leech.summary().piecesDone >= 10 && void leech.pause().then(resolve)),
    );
    leech.addPeers([{ ip: '127.0.0.1', port: seedSession.port }]);
    await paused;
    const piecesBefore = leech.summary().piecesDone;
    const firstHave = leech.pieceStates().indexOf(2);
    expect(piecesBefore).toBeGreaterThanOrEqual(10);
    await first.close();
    sessions.splice(sessions.indexOf(first), 1);

    // Damage a verified piece behind Tessera's back but keep the file's size and time: resume
    // data vouches for unchanged files, so the restart trusts it without hashing...
    const file = path.join(dir, 'leech', 'resume.bin');
    await damageKeepingTime(file, firstHave * 65_536 + 100, Buffer.from([0xde, 0xad]));
    const second = await session('leech', stateDir);
    const restored = second.getTorrent(leech.id)!;
    expect(restored.state).toBe('paused');
    await restored.resume();
    await new Promise((r) => setTimeout(r, 50));
    expect(restored.summary().piecesDone).toBeGreaterThanOrEqual(piecesBefore);
    await second.close();
    sessions.splice(sessions.indexOf(second), 1);

    // ...while damaged resume data makes it check the disk, which finds the bad piece.
    await writeFile(path.join(stateDir, 'resume', `${leech.id}.resume.json`), '{"version":1,');
    const third = await session('leech', stateDir);
    const checked = third.getTorrent(leech.id)!;
    // It was running when the second session closed, so it starts (and checks) by itself.
    if (checked.state === 'checking')
      await new Promise((resolve) => checked.once('state', resolve));
    expect(checked.pieceStates()[firstHave]).not.toBe(2);
    expect(checked.summary().piecesDone).toBeGreaterThanOrEqual(piecesBefore - 1);
    // Verify data, then finish from the seed: every byte right.
    checked.addPeers([{ ip: '127.0.0.1', port: seedSession.port }]);
    await done(checked);
    expect((await readFile(file)).equals(fx.content)).toBe(true);
  });
});

describe('resume data after the machine restarted', () => {
  it('hashes again the pieces saved unsynced, and only those', async () => {
    const fx = makeFixture({ name: 'boot.bin', files: { single: 2_000_000 }, pieceLength: 65_536 });
    const { seedSession, stateDir, first, leech } = await seedAndLeech(fx);
    leech.addPeers([{ ip: '127.0.0.1', port: seedSession.port }]);
    await done(leech);
    await first.close();
    sessions.splice(sessions.indexOf(first), 1);
    const pieceCount = leech.summary().pieceCount;

    // Written seconds ago, so nothing was synced yet: every piece is marked unsynced.
    const resumeFile = path.join(stateDir, 'resume', `${leech.id}.resume.json`);
    const saved = JSON.parse(await readFile(resumeFile, 'utf8')) as {
      unsynced: string;
      boot: { id: string | null; timeMs: number };
    };
    const unsyncedCount = [...Buffer.from(saved.unsynced, 'base64')]
      .map((byte) => byte.toString(2).replace(/0/g, '').length)
      .reduce((a, b) => a + b, 0);
    expect(unsyncedCount).toBe(pieceCount);
    // Pretend the machine rebooted (another boot id), and that the power cut lost piece 3's
    // bytes while the file kept its size and time.
    saved.boot = { id: 'another-boot', timeMs: saved.boot.timeMs - 3_600_000 };
    await writeFile(resumeFile, JSON.stringify(saved));
    const file = path.join(dir, 'leech', 'boot.bin');
    await damageKeepingTime(file, 3 * 65_536, Buffer.alloc(65_536));

    const second = await session('leech', stateDir);
    const restored = second.getTorrent(leech.id)!;
    if (restored.state === 'checking')
      await new Promise((resolve) => restored.once('state', resolve));
    // The same boot would have trusted every piece (see above); this one found the lost piece.
    expect(restored.pieceStates()[3]).not.toBe(2);
    expect(restored.summary().piecesDone).toBe(pieceCount - 1);
    restored.addPeers([{ ip: '127.0.0.1', port: seedSession.port }]);
    await done(restored);
    expect((await readFile(file)).equals(fx.content)).toBe(true);
  });
});

describe('verify data', () => {
  it('re-hashes everything on request and drops only the piece that no longer matches', async () => {
    const fx = makeFixture({
      name: 'verify.bin',
      files: { single: 1_000_000 },
      pieceLength: 65_536,
    });
    const s = await session('v');
    await fx.writeTo(path.join(dir, 'v'));
    const t = await s.addTorrent(fx.torrent);
    await done(t);
    const all = t.summary().piecesDone;
    const fh = await open(path.join(dir, 'v', 'verify.bin'), 'r+');
    await fh.write(Buffer.from([1, 2, 3]), 0, 3, 5 * 65_536 + 10);
    await fh.close();
    await t.recheck();
    expect(t.summary().piecesDone).toBe(all - 1);
    expect(t.pieceStates()[5]).toBe(0);
    expect(t.state).toBe('downloading');
  });
});

describe('says why', () => {
  it('a download with no reachable peer says it is waiting and retrying', async () => {
    const fx = makeFixture({ name: 'lonely.bin', files: { single: 100_000 }, pieceLength: 16_384 });
    const s = await session('lonely');
    const t = await s.addTorrent(fx.torrent);
    while (t.state !== 'downloading') await new Promise((r) => t.once('state', r));
    expect(t.summary().errorMessage).toBe('waiting for peers: no trackers; add peers by hand');
    // A peer that refuses connections.
    t.addPeers([{ ip: '127.0.0.1', port: 1 }]);
    await new Promise((r) => setTimeout(r, 300));
    expect(t.summary().errorMessage).toMatch(
      /^waiting for peers: none of the 1 known peers is reachable now; retrying with back-off$/,
    );
  });
});
