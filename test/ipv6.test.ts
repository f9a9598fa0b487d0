// IPv6 peers (BEP 7) where the machine has them: two sessions on ::1, and a default session
// (listening on every interface) reached over IPv6 and IPv4 alike.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Session } from '../src/main/engine';
import { loopbackSession, untilDone } from './support/engine-session';
import { makeFixture } from './support/torrent-fixture';

/** Whether this machine can listen on ::1 at all. */
async function hasIpv6Loopback(): Promise<boolean> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(0, '::1', () => server.close(() => resolve(true)));
  });
}
const ipv6 = await hasIpv6Loopback();

let dir: string;
const sessions: Session[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tessera-ipv6-'));
});
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!ipv6)('IPv6 peers (skipped: this machine has no ::1)', () => {
  it('downloads from a seed reached at [::1]:port, and shows the address in brackets', async () => {
    const fx = makeFixture({ name: 'v6.bin', files: { single: 2_000_000 }, pieceLength: 65536 });
    // No listen host: the default listens on IPv6 and IPv4 together.
    const seedSession = await loopbackSession(path.join(dir, 'seed'), { listenHost: undefined });
    sessions.push(seedSession);
    await fx.writeTo(path.join(dir, 'seed'));
    await untilDone(await seedSession.addTorrent(fx.torrent));

    const leechSession = await loopbackSession(path.join(dir, 'leech'), { listenHost: '::1' });
    sessions.push(leechSession);
    const leech = await leechSession.addTorrent(fx.torrent);
    const addresses = new Set<string>();
    leech.on('piece', () => leech.detail().peers.forEach((p) => addresses.add(p.address)));
    leech.addPeers([{ ip: '::1', port: seedSession.port }]);
    await untilDone(leech);
    expect([...addresses]).toEqual([`[::1]:${seedSession.port}`]);
    expect((await readFile(path.join(dir, 'leech', 'v6.bin'))).equals(fx.content)).toBe(true);

    // The same seed over IPv4: the dual-stack listener takes both.
    const v4Session = await loopbackSession(path.join(dir, 'v4'));
    sessions.push(v4Session);
    const v4 = await v4Session.addTorrent(fx.torrent);
    v4.addPeers([{ ip: '127.0.0.1', port: seedSession.port }]);
    await untilDone(v4);
  });
});
