// The Fast extension (BEP 6) from the wire: a scripted peer talks to a real Tessera session.
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseMetainfo, type Session } from '../src/main/engine';
import {
  encodeHandshake,
  encodeMessage,
  WireDecoder,
  type WireItem,
} from '../src/main/engine/wire/codec';
import { loopbackSession, untilDone } from './support/engine-session';
import { makeFixture } from './support/torrent-fixture';

let dir: string;
const sessions: Session[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tessera-fast-'));
});
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

/** Connects as a peer with the given reserved bits and collects everything Tessera sends. */
async function scriptedPeer(port: number, infoHash: Uint8Array, reserved: Uint8Array) {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const items: WireItem[] = [];
  const decoder = new WireDecoder();
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    for (let item = decoder.next(); item; item = decoder.next()) items.push(item);
  });
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  socket.write(
    encodeHandshake({ reserved, infoHash, peerId: Buffer.from('-XX0001-scriptedpeer') }),
  );
  const until = async (what: () => boolean) => {
    const deadline = Date.now() + 5000;
    while (!what() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(what()).toBe(true);
  };
  const messages = () => items.flatMap((i) => (i.kind === 'message' ? [i.message] : []));
  return { socket, items, messages, until, isClosed: () => closed };
}

describe('Fast extension (BEP 6) on the wire', () => {
  it('a seed says have-all first, and rejects a request made while choked (FX-02, FX-03)', async () => {
    const fx = makeFixture({ name: 'fast.bin', files: { single: 200_000 }, pieceLength: 16384 });
    const seedSession = await loopbackSession(path.join(dir, 'seed'));
    sessions.push(seedSession);
    await fx.writeTo(path.join(dir, 'seed'));
    const seed = await seedSession.addTorrent(fx.torrent);
    await untilDone(seed);
    const { infoHash } = parseMetainfo(fx.torrent);

    const reserved = new Uint8Array(8);
    reserved[7] = 0x04;
    const peer = await scriptedPeer(seedSession.port, infoHash, reserved);
    await peer.until(() => peer.messages().length >= 1);
    expect(peer.messages()[0]).toEqual({ type: 'have-all' });
    // Not interested, so still choked: the request must be answered with a reject.
    peer.socket.write(encodeMessage({ type: 'request', index: 3, begin: 0, length: 16384 }));
    await peer.until(() => peer.messages().some((m) => m.type === 'reject'));
    expect(peer.messages().find((m) => m.type === 'reject')).toEqual({
      type: 'reject',
      index: 3,
      begin: 0,
      length: 16384,
    });
    expect(peer.messages().some((m) => m.type === 'piece')).toBe(false);
    peer.socket.destroy();
  });

  it('a peer without the extension gets a bitfield, and is closed if it sends have-none (FX-01)', async () => {
    const fx = makeFixture({ name: 'plain.bin', files: { single: 100_000 }, pieceLength: 16384 });
    const seedSession = await loopbackSession(path.join(dir, 'seed'));
    sessions.push(seedSession);
    await fx.writeTo(path.join(dir, 'seed'));
    await untilDone(await seedSession.addTorrent(fx.torrent));
    const { infoHash } = parseMetainfo(fx.torrent);

    const peer = await scriptedPeer(seedSession.port, infoHash, new Uint8Array(8));
    await peer.until(() => peer.messages().length >= 1);
    expect(peer.messages()[0]!.type).toBe('bitfield');
    peer.socket.write(encodeMessage({ type: 'have-none' }));
    await peer.until(peer.isClosed);
  });
});
