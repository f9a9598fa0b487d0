// Magnet links in-process: metadata fetched from a peer (BEP 9), the .torrent kept beside the
// session, restarts before and after the metadata, and a peer that serves poisoned metadata.
// Downloads from real clients by magnet are in cli-magnet.test.ts.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseMetainfo, type Session, type Torrent } from '../src/main/engine';
import { startEvilPeer, type EvilPeer } from './support/evil-peer';
import { loopbackSession, untilDone } from './support/engine-session';
import { makeFixture } from './support/torrent-fixture';

let dir: string;
const sessions: Session[] = [];
const evils: EvilPeer[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tessera-magnet-'));
});
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  await Promise.all(evils.splice(0).map((e) => e.close()));
  await rm(dir, { recursive: true, force: true });
});

async function session(name: string, stateDir?: string): Promise<Session> {
  const s = await loopbackSession(path.join(dir, name), { stateDir });
  sessions.push(s);
  return s;
}

function states(t: Torrent): string[] {
  const seen: string[] = [t.state];
  t.on('state', (s) => seen.push(s));
  return seen;
}

/** A seeding Tessera with a multi-file torrent whose info dict spans several 16 KiB pieces. */
async function seedingSession() {
  const fx = makeFixture({
    name: 'magnet pair',
    // 4,000 pieces of 1 KiB: 80 KB of piece hashes, so the metadata is 5 pieces long.
    files: [
      { path: ['a.bin'], bytes: 3_000_000 },
      { path: ['sub', 'b.bin'], bytes: 1_000_000 },
    ],
    pieceLength: 1024,
  });
  const seedSession = await session('seed');
  await fx.writeTo(path.join(dir, 'seed'));
  const seed = await seedSession.addTorrent(fx.torrent);
  await untilDone(seed);
  const metainfo = parseMetainfo(fx.torrent);
  return { fx, seedSession, metainfo };
}

describe('magnet links', () => {
  it('fetches the metadata from a peer given by x.pe, downloads, and keeps the .torrent', async () => {
    const { fx, seedSession, metainfo } = await seedingSession();
    expect(metainfo.infoBytes.length).toBeGreaterThan(4 * 16384);
    const stateDir = path.join(dir, 'leech-state');
    const leechSession = await session('leech', stateDir);
    const magnet =
      `magnet:?xt=urn:btih:${metainfo.infoHashHex}&dn=shown+before+metadata` +
      `&x.pe=127.0.0.1:${seedSession.port}`;
    const leech = await leechSession.addMagnet(magnet, { paused: true });
    expect(leech.summary()).toMatchObject({ name: 'shown before metadata', totalBytes: 0 });
    const seen = states(leech);
    const gotMetadata = new Promise((resolve) => leech.once('metadata', resolve));
    const sources = new Set<string>();
    leech.on('piece', () => leech.detail().peers.forEach((p) => sources.add(p.source)));
    await leech.start();
    await gotMetadata;
    await untilDone(leech);

    expect(seen.slice(0, 2)).toEqual(['paused', 'fetching-metadata']);
    expect(seen).toContain('downloading');
    expect(leech.summary()).toMatchObject({ name: 'magnet pair', progress: 1, wastedBytes: 0 });
    // The peer came from the link's x.pe, and the download kept it as that source.
    expect([...sources]).toEqual(['magnet']);
    const got = await readFile(path.join(dir, 'leech', 'magnet pair', 'sub', 'b.bin'));
    expect(got.equals(fx.files[1]!.data)).toBe(true);
    // The kept .torrent has the very info dict (same info-hash).
    const kept = await readFile(path.join(stateDir, 'torrents', `${metainfo.infoHashHex}.torrent`));
    expect(parseMetainfo(kept).infoHashHex).toBe(metainfo.infoHashHex);
  });

  it('a magnet still fetching its metadata survives a restart; after the metadata, the .torrent is used', async () => {
    const { metainfo, seedSession } = await seedingSession();
    const stateDir = path.join(dir, 'leech-state');
    const first = await session('leech', stateDir);
    // Nobody to ask yet: the port is closed.
    await first.addMagnet(
      `magnet:?xt=urn:btih:${metainfo.infoHashHex}&dn=waiting&x.pe=127.0.0.1:1`,
    );
    await first.close();
    sessions.splice(sessions.indexOf(first), 1);

    const second = await session('leech', stateDir);
    const restored = second.getTorrent(metainfo.infoHashHex)!;
    expect(restored.summary()).toMatchObject({ name: 'waiting', state: 'fetching-metadata' });
    expect(restored.summary().errorMessage).toMatch(/^no peer to ask yet/);
    restored.addPeers([{ ip: '127.0.0.1', port: seedSession.port }]);
    await untilDone(restored);
    await second.close();
    sessions.splice(sessions.indexOf(second), 1);

    const saved = JSON.parse(await readFile(path.join(stateDir, 'session.json'), 'utf8')) as {
      torrents: { magnet?: string }[];
    };
    expect(saved.torrents[0]!.magnet).toBeUndefined();
    const third = await session('leech', stateDir);
    const again = third.getTorrent(metainfo.infoHashHex)!;
    expect(again.metainfo?.name).toBe('magnet pair');
    await untilDone(again);
  });

  it('throws away metadata that fails the info-hash and completes from the honest peer (MD-05)', async () => {
    const { fx, seedSession, metainfo } = await seedingSession();
    const evil = await metadataLiar(fx, metainfo);
    const leechSession = await session('leech');
    // The liar first, alone: its metadata fails the hash before the honest peer is known.
    const leech = await leechSession.addMagnet(
      `magnet:?xt=urn:btih:${metainfo.infoHashHex}&x.pe=127.0.0.1:${evil.port}`,
    );
    const deadline = Date.now() + 10_000;
    while (evil.stats.blocksServed < 5 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(evil.stats.blocksServed).toBeGreaterThanOrEqual(5);
    expect(leech.state).toBe('fetching-metadata');
    leech.addPeers([{ ip: '127.0.0.1', port: seedSession.port }]);
    await untilDone(leech);
    const got = await readFile(path.join(dir, 'leech', 'magnet pair', 'a.bin'));
    expect(got.equals(fx.files[0]!.data)).toBe(true);
  });

  it('a liar and an honest peer mixed in one failed metadata try: the honest one still delivers it', async () => {
    const { fx, seedSession, metainfo } = await seedingSession();
    const evil = await metadataLiar(fx, metainfo);
    const leechSession = await session('leech');
    // Both known at once: the first try takes pieces from both and fails its hash. Who lied
    // cannot be told from that; both used to rest for five minutes, stalling the magnet.
    const leech = await leechSession.addMagnet(
      `magnet:?xt=urn:btih:${metainfo.infoHashHex}&x.pe=127.0.0.1:${evil.port}&x.pe=127.0.0.1:${seedSession.port}`,
    );
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no metadata after 60 s')), 60_000);
    });
    try {
      await Promise.race([untilDone(leech), stalled]);
    } finally {
      clearTimeout(timer);
    }
    expect(evil.stats.blocksServed).toBeGreaterThan(0);
    const got = await readFile(path.join(dir, 'leech', 'magnet pair', 'a.bin'));
    expect(got.equals(fx.files[0]!.data)).toBe(true);
  });

  it('refuses a bad magnet link with a specific error and a duplicate by its name', async () => {
    const { metainfo } = await seedingSession();
    const s = await session('other');
    await expect(s.addMagnet('magnet:?xt=urn:btih:1234')).rejects.toThrow(/neither 40 hex/);
    await s.addTorrent(makeFixtureTorrent(metainfo));
    await expect(s.addMagnet(`magnet:?xt=urn:btih:${metainfo.infoHashHex}`)).rejects.toThrow(
      /"magnet pair" is already in the list/,
    );
  });
});

/** A peer that serves metadata which fails the info-hash (MD-05); closed after the test. */
async function metadataLiar(
  fx: Awaited<ReturnType<typeof seedingSession>>['fx'],
  metainfo: ReturnType<typeof parseMetainfo>,
) {
  const evil = await startEvilPeer({
    infoHash: metainfo.infoHash,
    pieceCount: metainfo.pieceCount,
    content: fx.content,
    pieceLength: fx.pieceLength,
    mode: 'bad-metadata',
    metadataSize: metainfo.infoBytes.length,
  });
  evils.push(evil);
  return evil;
}

function makeFixtureTorrent(m: ReturnType<typeof parseMetainfo>): Uint8Array {
  return Buffer.concat([Buffer.from('d4:info'), m.infoBytes, Buffer.from('e')]);
}
