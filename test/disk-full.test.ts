// A real full disk: a download into a small tmpfs stops in the error state saying so, keeps
// every verified piece, leaves the other torrents alone, and finishes once there is room.
// Needs root to mount the tmpfs (CI runs as root); skipped, saying why, without it.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../src/main/engine';
import { loopbackSession, untilDone } from './support/engine-session';
import { makeFixture } from './support/torrent-fixture';

let dir: string;
let mountPoint: string;
let mounted = false;
let whyNot = '';
const sessions: Session[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tessera-diskfull-'));
  mountPoint = path.join(dir, 'small-disk');
  await mkdir(mountPoint);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mountPoint], { stdio: 'pipe' });
    mounted = true;
  } catch (err) {
    whyNot = `cannot mount a tmpfs here (${(err as Error).message.split('\n')[0]}); needs root`;
  }
});

afterAll(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  if (mounted) execFileSync('umount', [mountPoint]);
  await rm(dir, { recursive: true, force: true });
});

const done = untilDone;

describe('disk full', () => {
  it('stops that torrent with a clear error, keeps verified pieces, and finishes after space is freed', async (ctx) => {
    if (!mounted) {
      console.warn(`[disk-full] skipped: ${whyNot}`);
      ctx.skip();
    }
    const big = makeFixture({
      name: 'too-big.bin',
      files: { single: 10_000_000 },
      pieceLength: 65_536,
    });
    const other = makeFixture({
      name: 'other.bin',
      files: { single: 2_000_000 },
      pieceLength: 65_536,
    });
    const seed = await loopbackSession(path.join(dir, 'seed'));
    sessions.push(seed);
    await big.writeTo(path.join(dir, 'seed'));
    await other.writeTo(path.join(dir, 'seed'));
    await Promise.all([
      done(await seed.addTorrent(big.torrent)),
      done(await seed.addTorrent(other.torrent)),
    ]);

    const leechSession = await loopbackSession(mountPoint);
    sessions.push(leechSession);
    const leech = await leechSession.addTorrent(big.torrent);
    const failed = new Promise<Error>((resolve) => leech.once('error', resolve));
    leech.addPeers([{ ip: '127.0.0.1', port: seed.port }]);
    const otherTorrent = await leechSession.addTorrent(other.torrent, {
      downloadDir: path.join(dir, 'roomy'),
    });
    otherTorrent.addPeers([{ ip: '127.0.0.1', port: seed.port }]);

    const err = await failed;
    expect(err.message).toMatch(/^disk full while writing .*too-big\.bin$/);
    expect(leech.state).toBe('error');
    expect(leech.summary().errorMessage).toBe(err.message);
    const verifiedAtFailure = leech.summary().piecesDone;
    expect(verifiedAtFailure).toBeGreaterThan(0);
    expect(leech.summary().peersConnected).toBe(0);

    // The other torrent, on another disk, is unaffected.
    await done(otherTorrent);
    expect((await readFile(path.join(dir, 'roomy', 'other.bin'))).equals(other.content)).toBe(true);

    // Free space, resume: it continues from what it had.
    execFileSync('mount', ['-o', 'remount,size=32m', mountPoint]);
    await leech.resume();
    leech.addPeers([{ ip: '127.0.0.1', port: seed.port }]);
    await done(leech);
    expect(leech.summary().downloadedBytes).toBeLessThan(big.content.length * 2);
    expect((await readFile(path.join(mountPoint, 'too-big.bin'))).equals(big.content)).toBe(true);
  });
});
