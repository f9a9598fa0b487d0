// DHT interop (BEP 5, DH-01..DH-04; BEP 32): small DHTs of Tessera nodes plus a real,
// independently written DHT node on loopback — aria2c's own DHT (over IPv4 and over IPv6), and
// libtorrent's (qbittorrent-nox).
// Each real client seeds a torrent with DHT on; it must announce itself to Tessera nodes, a Tessera
// node that joins later must find its address through an iterative get_peers, and it must accept
// a Tessera announce_peer (our use of its token) and hand that peer out in its own get_peers reply.
// Transmission cannot take part: its DHT (jech/dht) drops every packet from 127.0.0.0/8 as
// "martian", so on loopback it sends pings but never hears a reply ("DHT not ready (broken, 0
// nodes)"); see src/main/engine/dht/STATE.md.
import { createSocket } from 'node:dgram';
import { openAsBlob } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DhtNode } from '../src/main/engine/dht';
import { decodeKrpc, encodeKrpc, type KrpcMessage } from '../src/main/engine/dht/krpc';
import {
  allocateHost,
  freeUdpPort,
  freePort,
  infoHashOf,
  makeRandomFile,
  makeTempDir,
  makeTorrent,
  startAria2Seeder,
  waitFor,
  type Seeder,
} from './harness';
import { canConnect, spawnLogged, type Managed } from './harness/proc';

let temp: { path: string; remove(): Promise<void> };
let dataDir: string;
let torrentPath: string;
let infoHashHex: string;
const tessera: DhtNode[] = [];
/** Every announce_peer any Tessera node accepted. */
const announces: { node: DhtNode; hash: string; peer: { ip: string; port: number } }[] = [];

/** IPv6 nodes all share ::1, which the per-IP rate limit would take for one flooder. */
const V6_RATE_LIMIT = { perSecond: 10_000, burst: 10_000 };

async function tesseraNode(
  bootstrap: { host: string; port: number }[],
  family: 4 | 6 = 4,
): Promise<DhtNode> {
  const node = await DhtNode.create({
    host: family === 4 ? allocateHost() : '::1',
    bootstrap,
    queryTimeoutMs: 1500,
    ...(family === 6 ? { rateLimit: V6_RATE_LIMIT } : {}),
  });
  node.on('announce', (hash, peer) => announces.push({ node, hash, peer }));
  tessera.push(node);
  return node;
}

/** A small Tessera DHT: one entry node and four more that join through it. */
async function tesseraNetwork(family: 4 | 6 = 4): Promise<DhtNode[]> {
  const entry = await tesseraNode([], family);
  const net = [entry];
  for (let i = 0; i < 4; i++)
    net.push(await tesseraNode([{ host: entry.host, port: entry.port }], family));
  await Promise.all(net.map((n) => n.ready()));
  return net;
}

/** One get_peers straight to `to` from a scripted socket: that node's own reply, or null. */
async function askDirectly(
  to: { host: string; port: number },
  infoHash: Uint8Array,
): Promise<Extract<KrpcMessage, { y: 'r' }> | null> {
  const v6 = to.host.includes(':');
  const sock = v6 ? createSocket({ type: 'udp6', ipv6Only: true }) : createSocket('udp4');
  try {
    await new Promise<void>((done) => sock.bind(0, v6 ? '::1' : allocateHost(), done));
    const reply = new Promise<Extract<KrpcMessage, { y: 'r' }> | null>((done) => {
      const timer = setTimeout(() => done(null), 10_000);
      sock.on('message', (buf, rinfo) => {
        if (rinfo.address !== to.host || rinfo.port !== to.port) return;
        const msg = decodeKrpc(buf);
        if (msg?.y === 'r' && Buffer.from(msg.t).toString() === 'zz') {
          clearTimeout(timer);
          done(msg);
        }
      });
    });
    const query = encodeKrpc({
      t: Buffer.from('zz'),
      y: 'q',
      query: { method: 'get_peers', id: new Uint8Array(20).fill(7), infoHash },
    });
    sock.send(query, to.port, to.host);
    return await reply;
  } finally {
    sock.close();
  }
}

/**
 * The checks both real clients go through. `client` is its peer (TCP) address, `dht` its DHT
 * node; `net` the Tessera nodes it joined through.
 */
async function expectInterop(
  client: { host: string; port: number },
  dht: { host: string; port: number },
  net: DhtNode[],
): Promise<void> {
  // It looks up peers for its torrent and announces to the closest nodes that gave it a token:
  // our get_peers replies and tokens work for a real client.
  const fromClient = () =>
    announces.filter(
      (a) =>
        net.includes(a.node) &&
        a.hash === infoHashHex &&
        a.peer.ip === client.host &&
        a.peer.port === client.port,
    );
  await waitFor('an announce to a Tessera node', async () => fromClient().length > 0 || undefined, {
    timeoutMs: 60_000,
    intervalMs: 250,
  });
  // Its DHT node sits in a Tessera routing table (it answered our queries).
  await waitFor(
    'the real node in a Tessera routing table',
    async () =>
      net.some((n) => n.nodes().some((c) => c.ip === dht.host && c.port === dht.port)) || undefined,
    { timeoutMs: 30_000, intervalMs: 250 },
  );

  // A newcomer has no stored peers of its own: what it finds, it finds through the DHT.
  const newcomer = await tesseraNode([{ host: net[0]!.host, port: net[0]!.port }], net[0]!.family);
  await newcomer.ready();
  expect(newcomer.stats().storedPeers).toBe(0);
  const peers = await newcomer.getPeers(Buffer.from(infoHashHex, 'hex'), { timeoutMs: 20_000 });
  expect(peers).toContainEqual({ ip: client.host, port: client.port });

  // A Tessera node that joins through the real node announces a hash nobody else has; the real
  // node's own get_peers reply must carry that peer (it accepted our announce and its token).
  const hash = Uint8Array.from({ length: 20 }, (_, i) => (0xc0 ^ i ^ dht.port) & 255);
  const announcer = await tesseraNode([dht], net[0]!.family);
  await announcer.ready();
  expect(announcer.nodes().some((c) => c.ip === dht.host && c.port === dht.port)).toBe(true);
  await announcer.getPeers(hash, { announcePort: 40_001, timeoutMs: 20_000 });
  const reply = await askDirectly(dht, hash);
  expect(reply?.y).toBe('r');
  expect(reply?.response.token?.length).toBeGreaterThan(0);
  expect(reply?.response.values).toContainEqual({ ip: announcer.host, port: 40_001 });
}

beforeAll(async () => {
  temp = await makeTempDir('tessera-dht-interop-');
  dataDir = join(temp.path, 'data');
  await makeRandomFile(join(dataDir, 'payload.bin'), 512 * 1024);
  torrentPath = join(temp.path, 'payload.torrent');
  // mktorrent needs an announce URL: a dead one, so the DHT is the only way to find a peer.
  // Not private: clients turn DHT off for private torrents.
  await makeTorrent({
    source: join(dataDir, 'payload.bin'),
    out: torrentPath,
    announce: ['http://127.0.0.1:9/announce'],
    pieceLengthLog2: 16,
  });
  infoHashHex = await infoHashOf(torrentPath);
});

afterAll(async () => {
  await Promise.all(tessera.map((n) => n.close()));
  await temp?.remove();
});

describe('DHT interop with aria2c', () => {
  let aria2: Seeder | undefined;
  let net: DhtNode[];
  let dht: { host: string; port: number };

  beforeAll(async () => {
    net = await tesseraNetwork();
    const host = allocateHost();
    dht = { host, port: await freeUdpPort(host) };
    aria2 = await startAria2Seeder({
      torrent: torrentPath,
      dataDir,
      host,
      workDir: join(temp.path, 'aria2'),
      dht: {
        port: dht.port,
        entryPoint: { host: net[0]!.host, port: net[0]!.port },
        filePath: join(temp.path, 'aria2', 'dht.dat'),
      },
    });
  });

  afterAll(async () => {
    await aria2?.stop();
  });

  it("aria2 joins through a Tessera node and announces itself; a later Tessera node finds aria2's address with get_peers; aria2 stores a Tessera announce and returns it", async () => {
    await expectInterop({ host: aria2!.host, port: aria2!.port }, dht, net);
  });
});

describe('DHT interop with qbittorrent-nox (libtorrent)', () => {
  let qb: Managed | undefined;
  let net: DhtNode[];
  let host: string;
  let port: number;
  let webPort: number;

  // Started here rather than through the harness, whose qBittorrent profile has DHT off.
  beforeAll(async () => {
    net = await tesseraNetwork();
    host = allocateHost();
    port = await freePort(host);
    webPort = await freePort('127.0.0.1');
    const profile = resolve(temp.path, 'qbittorrent', 'profile');
    const configDir = join(profile, 'qBittorrent', 'config');
    await mkdir(configDir, { recursive: true });
    // libtorrent's DHT shares the peer port (UDP). No bootstrap routers are reachable here, so
    // it learns Tessera nodes only from their queries (libtorrent adds nodes that query it).
    const conf = [
      '[LegalNotice]',
      'Accepted=true',
      '',
      '[BitTorrent]',
      'Session\\Interface=lo',
      'Session\\InterfaceName=lo',
      `Session\\InterfaceAddress=${host}`,
      `Session\\Port=${port}`,
      'Session\\DHTEnabled=true',
      'Session\\LSDEnabled=false',
      'Session\\PeXEnabled=false',
      'Session\\QueueingSystemEnabled=false',
      'Session\\GlobalMaxRatio=-1',
      `Session\\DefaultSavePath=${resolve(dataDir)}`,
      '',
      '[Preferences]',
      'WebUI\\Enabled=true',
      'WebUI\\Address=127.0.0.1',
      `WebUI\\Port=${webPort}`,
      'WebUI\\LocalHostAuth=false',
      'WebUI\\AuthSubnetWhitelistEnabled=true',
      'WebUI\\AuthSubnetWhitelist=127.0.0.0/8',
      'WebUI\\HostHeaderValidation=false',
      'WebUI\\CSRFProtection=false',
      'WebUI\\UseUPnP=false',
      '',
    ].join('\n');
    await writeFile(join(configDir, 'qBittorrent.conf'), conf);
    qb = spawnLogged('qbittorrent-nox', [`--profile=${profile}`], {
      logFile: join(temp.path, 'qbittorrent', 'qbittorrent.out'),
      env: { ...process.env, HOME: profile },
    });
    await waitFor(
      `qbittorrent WebUI 127.0.0.1:${webPort}`,
      async () => ((await canConnect('127.0.0.1', webPort)) ? true : undefined),
      { timeoutMs: 60_000, managed: qb },
    );
    // Every Tessera node of this network pings libtorrent's DHT (the BEP 5 `port` path, PW-18),
    // so it knows all of them before the torrent starts.
    const dht = { host, port };
    await waitFor(
      'libtorrent to answer a ping',
      async () =>
        (await Promise.all(net.map((n) => n.addNode(dht.host, dht.port)))).every(Boolean) ||
        undefined,
      { timeoutMs: 30_000, intervalMs: 500, managed: qb },
    );
    const form = new FormData();
    form.append('torrents', await openAsBlob(torrentPath), 'payload.torrent');
    form.append('savepath', resolve(dataDir));
    form.append('paused', 'false');
    const res = await fetch(`http://127.0.0.1:${webPort}/api/v2/torrents/add`, {
      method: 'POST',
      body: form,
      signal: AbortSignal.timeout(5_000),
    });
    expect(await res.text()).toBe('Ok.');
  });

  afterAll(async () => {
    await qb?.stop();
  });

  it("libtorrent announces itself to Tessera nodes; a later Tessera node finds qBittorrent's address with get_peers; libtorrent stores a Tessera announce and returns it", async () => {
    await expectInterop({ host, port }, { host, port }, net);
  });
});

describe('DHT interop with aria2c over IPv6 (BEP 32)', () => {
  let aria2: Seeder | undefined;
  let net: DhtNode[];
  let dht: { host: string; port: number };

  beforeAll(async () => {
    net = await tesseraNetwork(6);
    dht = { host: '::1', port: await freeUdpPort('::1') };
    aria2 = await startAria2Seeder({
      torrent: torrentPath,
      dataDir,
      host: allocateHost(),
      workDir: join(temp.path, 'aria2-v6'),
      dht: {
        family: 6,
        port: dht.port,
        listenAddr6: dht.host,
        entryPoint: { host: net[0]!.host, port: net[0]!.port },
        filePath: join(temp.path, 'aria2-v6', 'dht6.dat'),
      },
    });
  });

  afterAll(async () => {
    await aria2?.stop();
  });

  it("aria2's IPv6 DHT joins through a Tessera IPv6 node and announces itself; a later Tessera node finds it (nodes6, 18-byte values); aria2 stores a Tessera announce and returns it", async () => {
    // Over IPv6 the announcing address is ::1 (the UDP source), with aria2's TCP port.
    await expectInterop({ host: '::1', port: aria2!.port }, dht, net);
  });
});
