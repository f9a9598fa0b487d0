import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bencode } from '../bencode/encode';
import { DhtNode, type DhtNodeOptions } from './dht-node';
import { decodeKrpc, encodeKrpc, type KrpcMessage } from './krpc';

// Every node gets its own loopback address (the per-IP rate limit and DH-04 look at addresses);
// the second octet comes from our PID so parallel test runs rarely share addresses.
const OCTET = 20 + (process.pid % 200);
let hostCounter = 0;
const nextHost = (): string => {
  const n = hostCounter++;
  return `127.${OCTET}.${(n >> 8) & 255}.${2 + (n % 250)}`;
};

const open: DhtNode[] = [];
const sockets: Socket[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close()));
  for (const s of sockets.splice(0)) s.close();
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function node(o: Partial<DhtNodeOptions> = {}): Promise<DhtNode> {
  const n = await DhtNode.create({ host: nextHost(), queryTimeoutMs: 400, ...o });
  open.push(n);
  return n;
}

const hash = (fill: number): Uint8Array => new Uint8Array(20).fill(fill);
const id = (fill: number): Uint8Array => new Uint8Array(20).fill(fill);

/** A scripted peer: a bare UDP socket that records what it receives. */
async function raw(host = nextHost()) {
  const sock = createSocket('udp4');
  sockets.push(sock);
  await new Promise<void>((r) => sock.bind(0, host, r));
  const inbox: { msg: KrpcMessage | null; rinfo: RemoteInfo }[] = [];
  const waiters: (() => void)[] = [];
  sock.on('message', (buf, rinfo) => {
    inbox.push({ msg: decodeKrpc(buf), rinfo });
    waiters.splice(0).forEach((w) => w());
  });
  return {
    host,
    port: sock.address().port,
    inbox,
    send(to: DhtNode, bytes: Uint8Array): void {
      sock.send(bytes, to.port, to.host);
    },
    sendTo(port: number, ip: string, bytes: Uint8Array): void {
      sock.send(bytes, port, ip);
    },
    /** The next datagram (queries to us only if `queries`), or null after `ms`. */
    async next(
      ms = 1000,
      queries = false,
    ): Promise<{ msg: KrpcMessage | null; rinfo: RemoteInfo } | null> {
      const deadline = Date.now() + ms;
      for (;;) {
        // The node pings addresses that query it (to verify them): skip those unless asked.
        while (!queries && inbox[0]?.msg?.y === 'q') inbox.shift();
        if (inbox.length > 0) break;
        const left = deadline - Date.now();
        if (left <= 0) return null;
        await new Promise<void>((r) => {
          const timer = setTimeout(r, left);
          waiters.push(() => {
            clearTimeout(timer);
            r();
          });
        });
      }
      return inbox.shift()!;
    },
  };
}

const query = (t: string, q: Extract<KrpcMessage, { y: 'q' }>['query']): Uint8Array =>
  encodeKrpc({ t: Buffer.from(t), y: 'q', query: q });

async function waitUntil(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until `count` has not changed for 200 ms (at most 10 s). */
async function settled(count: () => number): Promise<void> {
  const deadline = Date.now() + 10_000;
  let last = -1;
  while (count() !== last && Date.now() < deadline) {
    last = count();
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('DhtNode answers queries', () => {
  it('answers ping, find_node and get_peers; announce_peer needs a token from get_peers (DH-03)', async () => {
    const n = await node();
    const a = await raw();
    a.send(n, query('p1', { method: 'ping', id: id(1) }));
    let got = await a.next();
    expect(got?.msg).toMatchObject({ y: 'r', response: { id: n.nodeId } });
    expect(Buffer.from(got!.msg!.t).toString()).toBe('p1');

    a.send(n, query('f1', { method: 'find_node', id: id(1), target: id(2) }));
    got = await a.next();
    expect(got?.msg?.y).toBe('r');

    // An announce with a made-up token is refused with error 203.
    const announce = (t: string, token: Uint8Array, port: number, impliedPort = false) =>
      query(t, { method: 'announce_peer', id: id(1), infoHash: hash(9), port, token, impliedPort });
    a.send(n, announce('a1', Buffer.from('12345678'), 7001));
    got = await a.next();
    expect(got?.msg).toMatchObject({ y: 'e', error: { code: 203 } });

    a.send(n, query('g1', { method: 'get_peers', id: id(1), infoHash: hash(9) }));
    got = await a.next();
    const token = got?.msg?.y === 'r' ? got.msg.response.token : undefined;
    expect(token?.length).toBe(8);
    expect(got?.msg?.y === 'r' && got.msg.response.values).toBeFalsy();

    a.send(n, announce('a2', token!, 7001));
    expect((await a.next())?.msg?.y).toBe('r');
    // implied_port: the UDP source port is the peer's port.
    a.send(n, announce('a3', token!, 0, true));
    expect((await a.next())?.msg?.y).toBe('r');

    // Another node's token is its own: a's token from b's address is refused.
    const b = await raw();
    b.send(n, announce('b1', token!, 7002));
    expect((await b.next())?.msg).toMatchObject({ y: 'e', error: { code: 203 } });

    b.send(n, query('g2', { method: 'get_peers', id: id(3), infoHash: hash(9) }));
    got = await b.next();
    expect(got?.msg?.y).toBe('r');
    const values = got?.msg?.y === 'r' ? got.msg.response.values : [];
    expect(new Set(values?.map((p) => `${p.ip}:${p.port}`))).toEqual(
      new Set([`${a.host}:7001`, `${a.host}:${a.port}`]),
    );
  });

  it('answers an unknown method with error 204 and ignores malformed datagrams', async () => {
    const n = await node();
    const a = await raw();
    a.send(n, Buffer.from('d1:ad2:id20:abcdefghij0123456789e1:q5:vote!1:t2:aa1:y1:qe'));
    expect((await a.next())?.msg).toMatchObject({ y: 'e', error: { code: 204 } });
    a.send(n, Buffer.from('d1:ad2:id19:abcdefghij012345678e1:q4:ping1:t2:aa1:y1:qe'));
    a.send(n, Buffer.from('garbage'));
    expect(await a.next(300)).toBeNull();
    expect(n.stats().malformed).toBe(2);
  });
});

describe('DhtNode and the nodes that query it', () => {
  it('verifies a new querier with one ping, but not a read-only one (BEP 43); addNode does not re-ping a good node', async () => {
    const n = await node();
    const a = await raw();
    a.send(n, query('p1', { method: 'ping', id: id(1) }));
    const ping = await a
      .next(1000, true)
      .then(async (m) => (m?.msg?.y === 'q' ? m : a.next(1000, true)));
    expect(ping?.msg).toMatchObject({ y: 'q', query: { method: 'ping' } });
    a.send(n, encodeKrpc({ t: ping!.msg!.t, y: 'r', response: { id: id(1) } }));
    await waitUntil('the querier to be added', () => n.nodeCount() === 1);
    const sent = n.stats().queriesSent;
    expect(await n.addNode(a.host, a.port)).toBe(true);
    expect(n.stats().queriesSent).toBe(sent);

    const ro = await raw();
    ro.send(
      n,
      encodeKrpc({ t: Buffer.from('r1'), ro: true, y: 'q', query: { method: 'ping', id: id(2) } }),
    );
    expect((await ro.next())?.msg?.y).toBe('r');
    expect(await ro.next(300, true)).toBeNull();
    expect(n.nodeCount()).toBe(1);
  });
});

describe('DhtNode queries (DH-04)', () => {
  it('accepts a reply only from the IP:port the query went to', async () => {
    const n = await node({ queryTimeoutMs: 800 });
    const a = await raw();
    const impostor = await raw(a.host); // same IP, other port
    const added = n.addNode(a.host, a.port);
    const ping = await a.next(1000, true);
    expect(ping?.msg).toMatchObject({ y: 'q', query: { method: 'ping' } });
    const reply = encodeKrpc({ t: ping!.msg!.t, y: 'r', response: { id: id(7) } });
    impostor.send(n, reply);
    await waitUntil('the impostor reply to be seen', () => n.stats().unmatched === 1);
    expect(n.nodeCount()).toBe(0);
    a.send(n, reply);
    expect(await added).toBe(true);
    expect(n.nodes()).toEqual([{ id: id(7), ip: a.host, port: a.port }]);
    // The same transaction id again is no longer outstanding.
    a.send(n, reply);
    await waitUntil('the replay to be seen', () => n.stats().unmatched === 2);
  });

  it('times out unanswered queries, addNode resolves false', async () => {
    const n = await node({ queryTimeoutMs: 200 });
    const silent = await raw();
    expect(await n.addNode(silent.host, silent.port)).toBe(false);
    expect(n.stats()).toMatchObject({ timeouts: 1, outstanding: 0 });
    expect(await n.addNode('127.0.0.1', 0)).toBe(false);
  });
});

describe('DhtNode limits', () => {
  it('keeps at most maxOutstanding queries in flight; the rest wait their turn', async () => {
    const n = await node({ queryTimeoutMs: 100, maxOutstanding: 4 });
    const silent = await Promise.all(Array.from({ length: 12 }, () => raw()));
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, n.stats().outstanding)), 5);
    const results = await Promise.all(silent.map((s) => n.addNode(s.host, s.port)));
    clearInterval(timer);
    expect(results.every((r) => r === false)).toBe(true);
    expect(peak).toBeLessThanOrEqual(4);
    expect(n.stats()).toMatchObject({ outstanding: 0, waiting: 0, timeouts: 12 });
    // Every silent address did get its ping, in turn.
    for (const s of silent) expect(s.inbox.some((m) => m.msg?.y === 'q')).toBe(true);
  });

  it('over the rate, a reply we await still gets through but a query from the same address does not', async () => {
    const n = await node({ queryTimeoutMs: 1000, rateLimit: { perSecond: 1, burst: 2 } });
    const a = await raw();
    a.send(n, query('q1', { method: 'ping', id: id(1) }));
    a.send(n, query('q2', { method: 'ping', id: id(1) }));
    a.send(n, query('q3', { method: 'ping', id: id(1) })); // over the burst: dropped
    await waitUntil('the third query to be dropped', () => n.stats().rateLimited === 1);
    const added = n.addNode(a.host, a.port);
    // Two pings come: the node verifying the address that queried it, and addNode's.
    const pings: KrpcMessage[] = [];
    while (pings.length < 2) {
      const m = await a.next(1000, true);
      if (!m) break;
      if (m.msg?.y === 'q') pings.push(m.msg);
    }
    expect(pings.length).toBe(2);
    a.send(n, query('q4', { method: 'ping', id: id(1) })); // still over the rate: dropped
    for (const p of pings) a.send(n, encodeKrpc({ t: p.t, y: 'r', response: { id: id(1) } }));
    expect(await added).toBe(true);
    expect(n.stats().rateLimited).toBe(2);
  });
});

describe('a loopback DHT of Tessera nodes', () => {
  it('20 nodes: one announces an info-hash, another finds it with get_peers', async () => {
    const first = await node();
    const nodes = [first];
    for (let i = 1; i < 20; i++) {
      const bootstrap = [{ host: first.host, port: first.port }];
      if (i > 1) bootstrap.push({ host: nodes[i - 1]!.host, port: nodes[i - 1]!.port });
      nodes.push(await node({ bootstrap }));
    }
    await Promise.all(nodes.map((n) => n.ready()));
    // Everyone knows someone; the first node (everyone's bootstrap) learns the others as it
    // verifies those that queried it (as many as its buckets hold).
    await waitUntil('the first node to know the others', () => first.nodeCount() >= 10);
    for (const n of nodes) expect(n.nodeCount()).toBeGreaterThanOrEqual(1);

    const infoHash = hash(0xab);
    const announcer = nodes[7]!;
    expect(await announcer.getPeers(infoHash, { announcePort: 51413 })).toEqual([]);

    const seeker = nodes[16]!;
    const streamed: string[] = [];
    const events: string[] = [];
    seeker.on('peers', (h, peers) => events.push(h, ...peers.map((p) => `${p.ip}:${p.port}`)));
    const peers = await seeker.getPeers(infoHash, {
      onPeers: (ps) => streamed.push(...ps.map((p) => `${p.ip}:${p.port}`)),
    });
    expect(peers).toContainEqual({ ip: announcer.host, port: 51413 });
    expect(streamed).toContain(`${announcer.host}:51413`);
    expect(events).toContain(Buffer.from(infoHash).toString('hex'));

    // A listener that throws does not stall the lookup.
    const again = await seeker.getPeers(infoHash, {
      onPeers: () => {
        throw new Error('listener bug');
      },
    });
    expect(again).toContainEqual({ ip: announcer.host, port: 51413 });

    // A hash nobody announced finds nobody, and the lookup ends on its own.
    expect(await seeker.getPeers(hash(0x01))).toEqual([]);
  }, 60_000);

  it('a node restarted from its state file keeps its id and knows its previous nodes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-dht-'));
    dirs.push(dir);
    const stateFile = join(dir, 'dht.json');
    const others = [await node()];
    for (let i = 1; i < 6; i++)
      others.push(await node({ bootstrap: [{ host: others[0]!.host, port: others[0]!.port }] }));
    await Promise.all(others.map((n) => n.ready()));
    await others[2]!.getPeers(hash(0x42), { announcePort: 6000 });

    const host = nextHost();
    const before = await DhtNode.create({
      host,
      stateFile,
      queryTimeoutMs: 400,
      bootstrap: [{ host: others[0]!.host, port: others[0]!.port }],
    });
    await before.ready();
    const known = before.nodes();
    expect(known.length).toBeGreaterThanOrEqual(5);
    await before.close();
    const saved = JSON.parse(await readFile(stateFile, 'utf8')) as { nodes: unknown[] };
    expect(saved.nodes.length).toBe(known.length);

    // No bootstrap this time: everything it knows comes from the file.
    const after = await node({ host, stateFile });
    expect(Buffer.from(after.nodeId)).toEqual(Buffer.from(before.nodeId));
    expect(new Set(after.nodes().map((n) => `${n.ip}:${n.port}`))).toEqual(
      new Set(known.map((n) => `${n.ip}:${n.port}`)),
    );
    expect(await after.getPeers(hash(0x42))).toContainEqual({ ip: others[2]!.host, port: 6000 });
  }, 60_000);

  it('starts afresh from a corrupt state file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-dht-'));
    dirs.push(dir);
    const stateFile = join(dir, 'dht.json');
    await writeFile(stateFile, '{"version":1,"nodeId":"zz');
    const n = await node({ stateFile });
    expect(n.nodeCount()).toBe(0);
    await n.close();
    expect(JSON.parse(await readFile(stateFile, 'utf8'))).toMatchObject({ version: 1, nodes: [] });
  });

  it('close() leaves no socket and no timer behind', async () => {
    const count = () =>
      process
        .getActiveResourcesInfo()
        .filter((r) => r === 'UDPWrap' || r === 'Timeout' || r === 'UDPWRAP').length;
    const baseline = count();
    const a = await DhtNode.create({ host: nextHost(), queryTimeoutMs: 5000 });
    const b = await DhtNode.create({
      host: nextHost(),
      queryTimeoutMs: 5000,
      bootstrap: [{ host: a.host, port: a.port }],
    });
    const silent = await raw();
    const pending = b.addNode(silent.host, silent.port); // a query left in flight
    expect(count()).toBeGreaterThan(baseline);
    await a.close();
    await b.close();
    expect(await pending).toBe(false);
    expect(b.stats().outstanding).toBe(0);
    expect(await b.getPeers(hash(1))).toEqual([]);
    await new Promise((r) => setTimeout(r, 10));
    // Only the scripted socket of this test remains (closed by afterEach).
    expect(count()).toBeLessThanOrEqual(baseline + 1);
  });
});

describe('an IPv6 DHT (BEP 32)', () => {
  it('8 nodes on ::1: nodes6 in replies, one announces, another finds it', async () => {
    // All on one address: the per-IP rate limit would see them as one flooder.
    const rateLimit = { perSecond: 10_000, burst: 10_000 };
    const first = await node({ host: '::1', rateLimit });
    expect(first.family).toBe(6);
    const nodes = [first];
    for (let i = 1; i < 8; i++)
      nodes.push(
        await node({ host: '::1', rateLimit, bootstrap: [{ host: '::1', port: first.port }] }),
      );
    await Promise.all(nodes.map((n) => n.ready()));
    // The first node learns the others as it verifies those that queried it.
    await waitUntil('the first node to know the others', () => first.nodeCount() >= 5);
    for (const n of nodes) expect(n.nodeCount()).toBeGreaterThanOrEqual(1);

    // A find_node to an IPv6 node is answered with nodes6.
    const sock = createSocket({ type: 'udp6', ipv6Only: true });
    sockets.push(sock);
    await new Promise<void>((r) => sock.bind(0, '::1', r));
    const reply = new Promise<KrpcMessage | null>((r) =>
      sock.once('message', (buf) => r(decodeKrpc(buf))),
    );
    sock.send(
      query('f6', { method: 'find_node', id: id(1), target: id(2), want: ['n6'] }),
      first.port,
      '::1',
    );
    const got = await reply;
    expect(got?.y === 'r' && got.response.nodes6?.length).toBeGreaterThan(0);
    expect(got?.y === 'r' && got.response.nodes).toBeUndefined();

    await nodes[2]!.getPeers(hash(0x66), { announcePort: 7777 });
    expect(await nodes[6]!.getPeers(hash(0x66))).toContainEqual({ ip: '::1', port: 7777 });
    // However the address is spelled, the reply (from ::1) matches the query.
    const fresh = await node({ host: '::1', rateLimit });
    expect(await fresh.addNode('0:0:0:0:0:0:0:1', first.port)).toBe(true);
    // An IPv4 address is nothing an IPv6 node can talk to.
    expect(await first.addNode('127.0.0.1', 6881)).toBe(false);
  }, 30_000);

  it('refuses to bind a host name', async () => {
    await expect(DhtNode.create({ host: 'localhost' })).rejects.toThrow(/IP address/);
  });
});

describe('DhtNode under a flood (DH-04)', () => {
  it('rate-limits thousands of garbage and valid queries from one IP, memory stays bounded', async () => {
    const n = await node({ rateLimit: { perSecond: 50, burst: 100 } });
    const flooder = await raw();
    const started = Date.now();
    const garbage = [
      Buffer.from('garbage'),
      Buffer.from('d1:t2:aa1:y1:qe'),
      bencode({ t: 'x', y: 'r', r: { id: 'short' } }),
      Buffer.from('i99999999999999999999999e'),
    ];
    const infoHash = (i: number) => Uint8Array.from({ length: 20 }, (_, j) => (i + j) & 255);
    for (let i = 0; i < 2000; i++) {
      flooder.send(n, query(`q${i}`, { method: 'ping', id: id(5) }));
      flooder.send(n, garbage[i % garbage.length]!);
      flooder.send(n, query(`g${i}`, { method: 'get_peers', id: id(5), infoHash: infoHash(i) }));
      // Pace a little: the kernel drops what overflows the socket buffer, which proves nothing.
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await settled(() => n.stats().received);
    const elapsedSec = (Date.now() - started) / 1000;
    const replies = flooder.inbox.filter((m) => m.msg?.y === 'r' && m.rinfo.port === n.port).length;
    const s = n.stats();
    const allowance = 100 + 50 * elapsedSec;
    // Most of the 6 000 arrive (the kernel may drop some while this process is busy sending).
    expect(s.received).toBeGreaterThan(1500);
    expect(s.rateLimited).toBeGreaterThanOrEqual(s.received - allowance - 10);
    // Burst plus the sustained rate for the time the flood took (and some slack for timing).
    expect(replies).toBeLessThanOrEqual(allowance + 10);
    expect(replies).toBeGreaterThan(0);
    expect(s.trackedIps).toBe(1);
    expect(s.outstanding).toBeLessThanOrEqual(1); // at most one verification ping of the flooder

    // Another IP is not starved by the flooder.
    const other = await raw();
    other.send(n, query('ok', { method: 'ping', id: id(6) }));
    expect((await other.next())?.msg?.y).toBe('r');
  }, 30_000);

  it('tracks a bounded number of source IPs and verifies at most 64 new nodes at once', async () => {
    const n = await node({
      queryTimeoutMs: 2000,
      rateLimit: { perSecond: 10, burst: 10, maxIps: 20 },
    });
    const sources = await Promise.all(Array.from({ length: 80 }, () => raw()));
    sources.forEach((src, i) => {
      for (let j = 0; j < 3; j++) src.send(n, query(`p${i}.${j}`, { method: 'ping', id: id(9) }));
    });
    await settled(() => n.stats().received);
    const s = n.stats();
    expect(s.received).toBeGreaterThan(200);
    expect(s.trackedIps).toBeLessThanOrEqual(20);
    // Each new address is pinged back once to verify it, never more than 64 at a time.
    expect(s.outstanding).toBeLessThanOrEqual(64);
    expect(s.outstanding).toBeGreaterThan(0);
  });

  it('keeps the store of announced peers bounded', async () => {
    const n = await node({
      rateLimit: { perSecond: 100_000, burst: 100_000 },
      peerStore: { maxPerHash: 20, maxTotal: 50 },
    });
    const a = await raw();
    a.send(n, query('g', { method: 'get_peers', id: id(1), infoHash: hash(1) }));
    const got = await a.next();
    const token = got?.msg?.y === 'r' ? got.msg.response.token! : new Uint8Array();
    for (let i = 0; i < 1000; i++) {
      a.send(
        n,
        query(`a${i}`, {
          method: 'announce_peer',
          id: id(1),
          infoHash: hash(i % 10),
          port: 1000 + i,
          token,
          impliedPort: false,
        }),
      );
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await settled(() => n.stats().received);
    expect(n.stats().received).toBeGreaterThan(500);
    expect(n.stats().storedPeers).toBeLessThanOrEqual(50);
    expect(n.stats().storedPeers).toBeGreaterThan(0);
  }, 30_000);
});
