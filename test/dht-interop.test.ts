// DHT interop (BEP 5, DH-01..DH-04): a small DHT of Tessera nodes plus a real, independently
// written DHT node — aria2c's — on loopback. aria2 seeds a torrent with DHT on and joins through a
// Tessera node; it must announce itself to Tessera nodes, a Tessera node that joins later must
// find aria2's address through an iterative get_peers, and aria2 must accept a Tessera announce
// (our token handling against its) and hand that peer out in its own get_peers reply.
// (Transmission's DHT, jech/dht, drops every packet from 127.0.0.0/8 as "martian", so it cannot
// join a loopback DHT; aria2 has no such filter.)
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DhtNode } from '../src/main/engine/dht';
import { decodeKrpc, encodeKrpc } from '../src/main/engine/dht/krpc';
import {
  allocateHost,
  infoHashOf,
  makeRandomFile,
  makeTempDir,
  makeTorrent,
  startAria2Seeder,
  waitFor,
  type Seeder,
} from './harness';

let temp: { path: string; remove(): Promise<void> };
let infoHashHex: string;
let aria2: Seeder;
let aria2Dht: { host: string; port: number };
const tessera: DhtNode[] = [];
/** Every announce_peer any Tessera node accepted. */
const announces: { node: DhtNode; hash: string; peer: { ip: string; port: number } }[] = [];

/** A UDP port that was free on `host` a moment ago. */
async function freeUdpPort(host: string): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, host, resolve));
  const { port } = sock.address();
  await new Promise<void>((resolve) => sock.close(resolve));
  return port;
}

async function tesseraNode(bootstrap: { host: string; port: number }[]): Promise<DhtNode> {
  const node = await DhtNode.create({ host: allocateHost(), bootstrap, queryTimeoutMs: 1500 });
  node.on('announce', (hash, peer) => announces.push({ node, hash, peer }));
  tessera.push(node);
  return node;
}

beforeAll(async () => {
  temp = await makeTempDir('tessera-dht-interop-');
  const data = join(temp.path, 'data');
  await makeRandomFile(join(data, 'payload.bin'), 512 * 1024);
  const torrent = join(temp.path, 'payload.torrent');
  // mktorrent needs an announce URL: a dead one, so DHT is the only way to find aria2.
  // Not private: aria2 turns DHT off for private torrents.
  await makeTorrent({
    source: join(data, 'payload.bin'),
    out: torrent,
    announce: ['http://127.0.0.1:9/announce'],
    pieceLengthLog2: 16,
  });
  infoHashHex = await infoHashOf(torrent);

  // A small Tessera DHT: one entry node and four more that join through it.
  const entry = await tesseraNode([]);
  for (let i = 0; i < 4; i++) await tesseraNode([{ host: entry.host, port: entry.port }]);
  await Promise.all(tessera.map((n) => n.ready()));

  const host = allocateHost();
  aria2Dht = { host, port: await freeUdpPort(host) };
  aria2 = await startAria2Seeder({
    torrent,
    dataDir: data,
    host,
    workDir: join(temp.path, 'aria2'),
    dht: {
      port: aria2Dht.port,
      entryPoint: { host: entry.host, port: entry.port },
      filePath: join(temp.path, 'aria2', 'dht.dat'),
    },
  });
});

afterAll(async () => {
  await aria2?.stop();
  await Promise.all(tessera.map((n) => n.close()));
  await temp?.remove();
});

describe('DHT interop with aria2c', () => {
  it("aria2 joins through a Tessera node and announces itself; a Tessera node that joins later finds aria2's address with get_peers", async () => {
    const fromAria2 = () =>
      announces.filter(
        (a) => a.hash === infoHashHex && a.peer.ip === aria2.host && a.peer.port === aria2.port,
      );
    // aria2 pings its entry point, looks up peers for its torrent and announces to the closest
    // nodes that gave it a token: our get_peers replies and tokens work for a real client.
    await waitFor(
      'aria2 to announce to a Tessera node',
      async () => fromAria2().length > 0 || undefined,
      {
        timeoutMs: 60_000,
        intervalMs: 250,
      },
    );
    // aria2's DHT node is in a Tessera routing table (it answered our queries).
    await waitFor(
      'aria2 in a Tessera routing table',
      async () =>
        tessera.some((n) =>
          n.nodes().some((c) => c.ip === aria2Dht.host && c.port === aria2Dht.port),
        ) || undefined,
      { timeoutMs: 30_000, intervalMs: 250 },
    );

    // A newcomer has no stored peers of its own: what it finds, it finds through the DHT.
    const newcomer = await tesseraNode([{ host: tessera[0]!.host, port: tessera[0]!.port }]);
    await newcomer.ready();
    expect(newcomer.stats().storedPeers).toBe(0);
    const peers = await newcomer.getPeers(Buffer.from(infoHashHex, 'hex'), { timeoutMs: 20_000 });
    expect(peers).toContainEqual({ ip: aria2.host, port: aria2.port });
  });

  it('aria2 accepts a Tessera announce_peer (its token) and returns that peer in its own get_peers reply', async () => {
    // A hash nobody else has: only our announce can put a peer under it.
    const hash = Uint8Array.from({ length: 20 }, (_, i) => 0xc0 ^ i);
    const announcer = await tesseraNode([aria2Dht]);
    await announcer.ready();
    expect(announcer.nodes().some((c) => c.ip === aria2Dht.host && c.port === aria2Dht.port)).toBe(
      true,
    );
    await announcer.getPeers(hash, { announcePort: 40_001, timeoutMs: 20_000 });

    // Ask aria2 directly, from a scripted socket: its own reply must carry our peer.
    const sock = createSocket('udp4');
    try {
      await new Promise<void>((resolve) => sock.bind(0, allocateHost(), resolve));
      const reply = new Promise<ReturnType<typeof decodeKrpc>>((resolve) => {
        const timer = setTimeout(() => resolve(null), 10_000);
        sock.on('message', (buf, rinfo) => {
          if (rinfo.address !== aria2Dht.host || rinfo.port !== aria2Dht.port) return;
          const msg = decodeKrpc(buf);
          if (msg?.y === 'r' && Buffer.from(msg.t).toString() === 'zz') {
            clearTimeout(timer);
            resolve(msg);
          }
        });
      });
      const query = encodeKrpc({
        t: Buffer.from('zz'),
        y: 'q',
        query: { method: 'get_peers', id: new Uint8Array(20).fill(7), infoHash: hash },
      });
      sock.send(query, aria2Dht.port, aria2Dht.host);
      const msg = await reply;
      expect(msg?.y).toBe('r');
      if (msg?.y !== 'r') return;
      expect(msg.response.token?.length).toBeGreaterThan(0);
      expect(msg.response.values).toContainEqual({ ip: announcer.host, port: 40_001 });
    } finally {
      sock.close();
    }
  });
});
