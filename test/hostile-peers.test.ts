// Hostile peers on loopback, next to an honest seed: the download still completes, byte for
// byte, and the bad peer is identified, closed and (for bad data) banned.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net, { type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseMetainfo, type Session, type Torrent } from '../src/main/engine';
import { encodeHandshake, encodeMessage } from '../src/main/engine/wire/codec';
import { startEvilPeer, type EvilMode, type EvilPeer } from './support/evil-peer';
import { loopbackSession, untilDone } from './support/engine-session';
import { makeFixture, type TorrentFixture } from './support/torrent-fixture';

let dir: string;
const sessions: Session[] = [];
const evils: EvilPeer[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tessera-hostile-'));
});
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  await Promise.all(evils.splice(0).map((e) => e.close()));
  await rm(dir, { recursive: true, force: true });
});

const done = untilDone;

async function setup(
  mode: EvilMode,
  withSeed: boolean,
): Promise<{ fx: TorrentFixture; leech: Torrent; evil: EvilPeer; seedPort: number | null }> {
  const fx = makeFixture({
    name: `hostile-${mode}.bin`,
    files: { single: 3_000_000 },
    pieceLength: 65_536,
  });
  const m = parseMetainfo(fx.torrent);
  const evil = await startEvilPeer({
    infoHash: m.infoHash,
    pieceCount: m.pieceCount,
    content: fx.content,
    pieceLength: fx.pieceLength,
    mode,
  });
  evils.push(evil);
  let seedPort: number | null = null;
  if (withSeed) {
    const seed = await loopbackSession(path.join(dir, 'seed'));
    sessions.push(seed);
    await fx.writeTo(path.join(dir, 'seed'));
    await done(await seed.addTorrent(fx.torrent));
    seedPort = seed.port;
  }
  const leechSession = await loopbackSession(path.join(dir, 'leech'));
  sessions.push(leechSession);
  const leech = await leechSession.addTorrent(fx.torrent);
  return { fx, leech, evil, seedPort };
}

describe('hostile peers', () => {
  it('wrong data: the pieces fail their hash, the peer is banned, the pieces come from the honest seed', async () => {
    const { fx, leech, evil, seedPort } = await setup('corrupt', true);
    leech.addPeers([{ ip: '127.0.0.1', port: evil.port }]);
    // Let the liar serve first, then bring in the honest seed.
    await new Promise((r) => setTimeout(r, 300));
    leech.addPeers([{ ip: '127.0.0.1', port: seedPort! }]);
    await done(leech);
    expect((await readFile(path.join(dir, 'leech', fx.name))).equals(fx.content)).toBe(true);
    expect(evil.stats.blocksServed).toBeGreaterThan(0);
    // What it sent was thrown away (at least the three failed pieces that got it banned), and it is gone.
    const wasted = leech.summary().wastedBytes;
    expect(wasted).toBeGreaterThanOrEqual(3 * 65_536);
    expect(wasted).toBeLessThanOrEqual(evil.stats.blocksServed * 16384);
    expect(leech.detail().peers.map((p) => p.address)).not.toContain(`127.0.0.1:${evil.port}`);
  });

  it('pieces nobody asked for are dropped and counted as waste', async () => {
    const { fx, leech, evil, seedPort } = await setup('unrequested', true);
    leech.addPeers([
      { ip: '127.0.0.1', port: evil.port },
      { ip: '127.0.0.1', port: seedPort! },
    ]);
    await done(leech);
    expect((await readFile(path.join(dir, 'leech', fx.name))).equals(fx.content)).toBe(true);
  });

  it('a 2^31-byte length prefix or a bitfield with spare bits closes that peer and nothing else', async () => {
    for (const mode of ['huge-length', 'spare-bits'] as const) {
      const { leech, evil } = await setup(mode, false);
      leech.addPeers([{ ip: '127.0.0.1', port: evil.port }]);
      const deadline = Date.now() + 5000;
      while (evil.stats.closedByRemote === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(evil.stats.closedByRemote, mode).toBeGreaterThan(0);
      expect(leech.state).toBe('downloading');
      expect(leech.summary().peersConnected).toBe(0);
    }
  });

  it('a peer that trickles one byte a second does not hold the download back', async () => {
    const { fx, leech, evil, seedPort } = await setup('trickle', true);
    leech.addPeers([{ ip: '127.0.0.1', port: evil.port }]);
    await new Promise((r) => setTimeout(r, 300));
    leech.addPeers([{ ip: '127.0.0.1', port: seedPort! }]);
    const started = Date.now();
    await done(leech);
    // Endgame asks the seed for whatever the trickler sits on.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect((await readFile(path.join(dir, 'leech', fx.name))).equals(fx.content)).toBe(true);
  });
});

describe('hostile peers against a Tessera seed', () => {
  async function seeding(maxPeersPerTorrent?: number) {
    const fx = makeFixture({
      name: 'served.bin',
      files: { single: 1_000_000 },
      pieceLength: 65_536,
    });
    const seed = await loopbackSession(path.join(dir, 'seed'), { maxPeersPerTorrent });
    sessions.push(seed);
    await fx.writeTo(path.join(dir, 'seed'));
    const torrent = await seed.addTorrent(fx.torrent);
    await done(torrent);
    return { fx, seed, torrent, infoHash: parseMetainfo(fx.torrent).infoHash };
  }

  /** A raw client: handshake, interested, then whatever the test sends; resolves when closed. */
  async function rawClient(port: number, infoHash: Uint8Array, then: (s: Socket) => void) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise((r) => socket.once('connect', r));
    socket.write(
      encodeHandshake({
        reserved: new Uint8Array(8),
        infoHash,
        peerId: Buffer.from('-EV0001-raw-client-1'),
      }),
    );
    socket.write(encodeMessage({ type: 'interested' }));
    then(socket);
    return socket;
  }

  it('a request beyond the end of a piece closes that peer; an honest leech is still served', async () => {
    const { seed, infoHash, fx } = await seeding();
    const closed = new Promise<void>((resolve) => {
      void rawClient(seed.port, infoHash, (s) => {
        s.on('close', () => resolve());
        // Wait for the unchoke, then ask for bytes past the piece's end.
        s.once('data', () =>
          setTimeout(
            () =>
              s.write(encodeMessage({ type: 'request', index: 0, begin: 60_000, length: 16_384 })),
            100,
          ),
        );
      });
    });
    await closed;
    const leechSession = await loopbackSession(path.join(dir, 'leech'));
    sessions.push(leechSession);
    const leech = await leechSession.addTorrent(fx.torrent);
    leech.addPeers([{ ip: '127.0.0.1', port: seed.port }]);
    await done(leech);
  });

  it('200 connections at once: only the peer limit is kept, and a real leech still completes', async () => {
    const { seed, infoHash, torrent, fx } = await seeding(20);
    const sockets = await Promise.all(
      Array.from({ length: 200 }, () => rawClient(seed.port, infoHash, () => undefined)),
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(torrent.summary().peersConnected).toBeLessThanOrEqual(20);
    for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const leechSession = await loopbackSession(path.join(dir, 'leech2'));
    sessions.push(leechSession);
    const leech = await leechSession.addTorrent(fx.torrent);
    leech.addPeers([{ ip: '127.0.0.1', port: seed.port }]);
    await done(leech);
    expect((await readFile(path.join(dir, 'leech2', 'served.bin'))).equals(fx.content)).toBe(true);
  });
});
