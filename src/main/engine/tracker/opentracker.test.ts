// Interop with a real tracker: Debian's opentracker on loopback. Skipped when it is not installed.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Announcer } from './announcer';
import { httpAnnounce, httpScrape, type AnnounceRequest, type PeerAddress } from './http-announce';
import { UdpTrackerClient } from './udp-tracker';

const opentracker = (process.env.PATH ?? '')
  .split(delimiter)
  .map((dir) => join(dir, 'opentracker'))
  .find((p) => existsSync(p));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

const infoHash = randomBytes(20);
const peer = (tag: string) => Buffer.from(`-TS0100-${tag.padEnd(12, 'x')}`);
const base = (peerId: Uint8Array, port: number): AnnounceRequest => ({
  infoHash,
  peerId,
  port,
  uploaded: 0,
  downloaded: 0,
  left: 1000,
  event: 'started',
});

const title = opentracker
  ? 'HTTP and UDP announce against a real opentracker'
  : 'HTTP and UDP announce against a real opentracker (skipped: opentracker is not installed)';

describe.skipIf(!opentracker)(title, () => {
  let proc: ChildProcess | null = null;
  let dir = '';
  let url = '';
  let udpUrl = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-ot-'));
    // Debian builds opentracker in whitelist mode, and as root it chroots into -d and becomes
    // "nobody": the directory and list must be world-readable, the list path chroot-relative.
    await chmod(dir, 0o755);
    await writeFile(join(dir, 'whitelist.txt'), `${infoHash.toString('hex')}\n`, { mode: 0o644 });
    await chmod(join(dir, 'whitelist.txt'), 0o644);
    const port = await freePort();
    const udpPort = await freeUdpPort();
    proc = spawn(
      opentracker!,
      [
        ...['-i', '127.0.0.1', '-p', String(port), '-P', String(udpPort)],
        ...['-d', dir, '-w', 'whitelist.txt'],
      ],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 10_000;
    while (!(await canConnect(port))) {
      if (Date.now() > deadline || proc.exitCode !== null)
        throw new Error('opentracker did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    // The whitelist is loaded by a helper thread just after start.
    await new Promise((r) => setTimeout(r, 200));
    url = `http://127.0.0.1:${port}/announce`;
    udpUrl = `udp://127.0.0.1:${udpPort}/announce`;
  });

  afterAll(async () => {
    if (proc && proc.exitCode === null && proc.pid !== undefined) {
      const exited = new Promise((r) => proc!.once('exit', r));
      process.kill(proc.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a second peer gets the first one back, compact', async () => {
    const first = await httpAnnounce(url, base(peer('one'), 50001));
    expect(first.intervalSec).toBeGreaterThanOrEqual(60);
    const second = await httpAnnounce(url, base(peer('two'), 50002));
    expect(second.peers).toContainEqual({ ip: '127.0.0.1', port: 50001 });
    expect(second.incomplete).toBeGreaterThanOrEqual(2);
  });

  it('refuses a torrent it does not track, with its own words', async () => {
    await expect(
      httpAnnounce(url, { ...base(peer('three'), 50003), infoHash: randomBytes(20) }),
    ).rejects.toThrow(/^tracker said: .*not authorized/);
  });

  it('an Announcer delivers peers from it, and stopped takes us off its list', async () => {
    const ids = (tag: string, port: number) => ({ infoHash, peerId: peer(tag), port });
    const stats = () => ({ uploaded: 0, downloaded: 0, left: 0 });
    const seen = (a: Announcer) =>
      new Promise<PeerAddress[]>((resolve) => a.once('peers', (peers) => resolve(peers)));
    const a = new Announcer([[url]], stats, ids('four', 50004));
    const gotA = seen(a);
    a.start();
    await gotA;
    await a.stop();
    const b = new Announcer([[url]], stats, ids('five', 50005));
    const gotB = seen(b);
    b.start();
    const peers = await gotB;
    expect(peers).toContainEqual({ ip: '127.0.0.1', port: 50001 });
    expect(peers).not.toContainEqual({ ip: '127.0.0.1', port: 50004 });
    expect(b.rows()[0]).toMatchObject({ status: 'working', lastError: null });
    await b.stop();
  });

  it('UDP: a peer announced over HTTP comes back over UDP, with counts, from 127.0.0.2', async () => {
    const udp = new UdpTrackerClient({ localAddress: '127.0.0.2' });
    try {
      const first = await udp.announce(udpUrl, base(peer('udp-one'), 50011));
      expect(first.intervalSec).toBeGreaterThanOrEqual(60);
      expect(first.peers).toContainEqual({ ip: '127.0.0.1', port: 50001 });
      expect(first.complete).not.toBeNull();
      expect(first.incomplete).toBeGreaterThanOrEqual(2);
      // The tracker saw our socket's address: an HTTP peer gets 127.0.0.2 back.
      const second = await httpAnnounce(url, base(peer('udp-two'), 50012));
      expect(second.peers).toContainEqual({ ip: '127.0.0.2', port: 50011 });
      const [scrape] = await udp.scrape(udpUrl, [infoHash]);
      expect(scrape!.leechers).toBeGreaterThanOrEqual(3);
    } finally {
      udp.close();
    }
  });

  // opentracker has no error text for this over UDP: it answers with a bare 8-byte header.
  it('UDP: a torrent it does not track gets an empty reply, a clear error', async () => {
    const udp = new UdpTrackerClient();
    try {
      await expect(
        udp.announce(udpUrl, { ...base(peer('udp-three'), 50013), infoHash: randomBytes(20) }),
      ).rejects.toThrow('UDP tracker sent an empty announce reply (8 bytes)');
    } finally {
      udp.close();
    }
  });

  it('an Announcer with only the UDP URL delivers peers and fills seeders/leechers', async () => {
    const a = new Announcer([[udpUrl]], () => ({ uploaded: 0, downloaded: 0, left: 0 }), {
      infoHash,
      peerId: peer('udp-four'),
      port: 50014,
    });
    const got = new Promise<PeerAddress[]>((resolve) => a.once('peers', resolve));
    a.start();
    expect(await got).toContainEqual({ ip: '127.0.0.1', port: 50001 });
    const row = a.rows()[0]!;
    expect(row).toMatchObject({ status: 'working', lastError: null });
    expect(row.seeders).toBeGreaterThanOrEqual(1);
    expect(row.leechers).toBeGreaterThanOrEqual(2);
    // Then the UDP scrape fills `completed`.
    await new Promise<void>((resolve) => {
      const check = () => a.rows()[0]!.completed !== null && resolve();
      a.on('status', check);
      check();
    });
    await a.stop();
  });

  it('HTTP scrape (/announce → /scrape) and UDP scrape agree', async () => {
    const overHttp = await httpScrape(url, infoHash);
    const udp = new UdpTrackerClient();
    try {
      const [overUdp] = await udp.scrape(udpUrl, [infoHash, randomBytes(20)]);
      expect(overHttp.leechers).toBeGreaterThanOrEqual(2);
      expect(overUdp).toEqual(overHttp);
    } finally {
      udp.close();
    }
  });
});
