// The UDP tracker client against a scripted fake tracker on loopback: what the tracker receives,
// byte for byte, and what the client makes of every kind of reply (BEP 15, UT-01…UT-08).
import dgram from 'node:dgram';
import { once } from 'node:events';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Announcer } from './announcer';
import { TrackerError, type AnnounceRequest, type PeerAddress } from './http-announce';
import { UDP_PROTOCOL_ID } from './udp-codec';
import { UdpTrackerClient, bep15RetryDelayMs, udpAnnounce } from './udp-tracker';

interface Received {
  action: number;
  tid: number;
  packet: Buffer;
  from: dgram.RemoteInfo;
  /** ms since the tracker started. */
  at: number;
}

type Reply = (packet: Buffer) => void;
type Handler = (r: Received, reply: Reply, tracker: FakeTracker) => void;

const CONN_ID = Buffer.from('c0ffee00c0ffee01', 'hex');

function connectReply(tid: number, id: Buffer = CONN_ID): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(0, 0);
  b.writeUInt32BE(tid, 4);
  id.copy(b, 8);
  return b;
}

function announceReply(
  tid: number,
  o: { interval?: number; leechers?: number; seeders?: number; peers?: Buffer } = {},
): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32BE(1, 0);
  b.writeUInt32BE(tid, 4);
  b.writeInt32BE(o.interval ?? 900, 8);
  b.writeInt32BE(o.leechers ?? 4, 12);
  b.writeInt32BE(o.seeders ?? 7, 16);
  return Buffer.concat([b, o.peers ?? Buffer.from('7f0000051ae1', 'hex')]);
}

function errorReply(tid: number, message: string): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(3, 0);
  b.writeUInt32BE(tid, 4);
  return Buffer.concat([b, Buffer.from(message)]);
}

/** Answers connects and announces like a tracker would. */
const standard: Handler = (r, reply) => {
  if (r.action === 0) reply(connectReply(r.tid));
  else if (r.action === 1) reply(announceReply(r.tid));
  else if (r.action === 2) {
    const n = (r.packet.length - 16) / 20;
    const b = Buffer.alloc(8 + 12 * n);
    b.writeUInt32BE(2, 0);
    b.writeUInt32BE(r.tid, 4);
    for (let i = 0; i < n; i++) b.writeUInt32BE(i + 1, 8 + 12 * i);
    reply(b);
  }
};

class FakeTracker {
  readonly received: Received[] = [];
  private readonly started = Date.now();
  private constructor(
    readonly socket: dgram.Socket,
    public handler: Handler,
  ) {
    socket.on('message', (packet, from) => {
      const isConnect =
        packet.length >= 16 &&
        packet.readBigUInt64BE(0) === UDP_PROTOCOL_ID &&
        packet.readUInt32BE(8) === 0;
      const r: Received = {
        action: isConnect ? 0 : packet.readUInt32BE(8),
        tid: packet.readUInt32BE(12),
        packet,
        from,
        at: Date.now() - this.started,
      };
      this.received.push(r);
      this.handler(r, (b) => socket.send(b, from.port, from.address), this);
    });
  }

  static async start(
    handler: Handler = standard,
    host = '127.0.0.1',
    port = 0,
  ): Promise<FakeTracker> {
    const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    socket.bind(port, host);
    await once(socket, 'listening');
    const t = new FakeTracker(socket, handler);
    trackers.push(t);
    return t;
  }

  get port(): number {
    return this.socket.address().port;
  }

  url(path = '/announce'): string {
    const { address } = this.socket.address();
    return `udp://${address.includes(':') ? `[${address}]` : address}:${this.port}${path}`;
  }

  actions(): number[] {
    return this.received.map((r) => r.action);
  }
}

const trackers: FakeTracker[] = [];
const clients: UdpTrackerClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  for (const t of trackers.splice(0)) t.socket.close();
  vi.restoreAllMocks();
});

function client(o: ConstructorParameters<typeof UdpTrackerClient>[0] = {}): UdpTrackerClient {
  const c = new UdpTrackerClient({ retryDelayMs: (n) => 100 * 2 ** n, ...o });
  clients.push(c);
  return c;
}

const request: AnnounceRequest = {
  infoHash: Buffer.alloc(20, 0x11),
  peerId: Buffer.from('-TS0100-udptestpeer!'),
  port: 6881,
  uploaded: 10,
  downloaded: 20,
  left: 30,
  event: 'started',
  numWant: 50,
  key: '0badcafe',
};

/** Records every socket dgram.createSocket makes from now on (until restoreAllMocks). */
function watchSockets(): { created: dgram.Socket[]; allClosed(): Promise<void> } {
  const created: dgram.Socket[] = [];
  const real = dgram.createSocket.bind(dgram);
  vi.spyOn(dgram, 'createSocket').mockImplementation(((type: dgram.SocketType) => {
    const s = real(type);
    created.push(s);
    return s;
  }) as typeof dgram.createSocket);
  const closed = (s: dgram.Socket) =>
    new Promise<void>((resolve) => {
      try {
        s.address();
      } catch {
        return resolve(); // already closed: address() throws ERR_SOCKET_DGRAM_NOT_RUNNING
      }
      s.once('close', () => resolve());
    });
  return {
    created,
    allClosed: async () => {
      await Promise.all(created.map(closed));
    },
  };
}

const hasIpv6 = await new Promise<boolean>((resolve) => {
  const s = dgram.createSocket('udp6');
  s.once('error', () => resolve(false));
  s.bind(0, '::1', () => s.close(() => resolve(true)));
});

describe('UDP tracker client against a scripted tracker', () => {
  it('UT-01/UT-02: connects, then announces with the id it got, from localAddress, path as BEP 41', async () => {
    const tracker = await FakeTracker.start();
    const res = await client({ localAddress: '127.0.0.3' }).announce(
      tracker.url('/announce?passkey=s3cr3t'),
      request,
    );
    expect(res).toEqual({
      intervalSec: 900,
      minIntervalSec: null,
      peers: [{ ip: '127.0.0.5', port: 6881 }],
      complete: 7,
      incomplete: 4,
      warning: null,
      trackerId: null,
    });
    const [connect, announce] = tracker.received;
    expect(tracker.actions()).toEqual([0, 1]);
    expect(connect!.packet).toHaveLength(16);
    expect(connect!.from.address).toBe('127.0.0.3');
    expect(announce!.from).toMatchObject({ address: '127.0.0.3', port: connect!.from.port });
    const p = announce!.packet;
    expect(p.subarray(0, 8)).toEqual(CONN_ID);
    expect(p.subarray(16, 36)).toEqual(Buffer.alloc(20, 0x11));
    expect(p.subarray(36, 56).toString()).toBe('-TS0100-udptestpeer!');
    expect([p.readBigUInt64BE(56), p.readBigUInt64BE(64), p.readBigUInt64BE(72)]).toEqual([
      20n,
      30n,
      10n,
    ]);
    expect([p.readUInt32BE(80), p.readUInt32BE(84), p.readUInt32BE(88)]).toEqual([
      2, 0, 0x0badcafe,
    ]);
    expect([p.readInt32BE(92), p.readUInt16BE(96)]).toEqual([50, 6881]);
    expect(p.subarray(98).toString('latin1')).toBe('\x02\x18/announce?passkey=s3cr3t');
    expect(connect!.tid).not.toBe(announce!.tid);
  });

  it('UT-04: reuses the connection id for 60 s, then connects again first', async () => {
    const tracker = await FakeTracker.start();
    let now = 1_000_000;
    const c = client({ now: () => now });
    await c.announce(tracker.url(), request);
    now += 59_999;
    await c.announce(tracker.url(), request);
    expect(tracker.actions()).toEqual([0, 1, 1]);
    now += 1; // 60 s after the id was received: no longer usable
    await c.announce(tracker.url(), request);
    expect(tracker.actions()).toEqual([0, 1, 1, 0, 1]);
    now += 61_000;
    await c.scrape(tracker.url(), [Buffer.alloc(20, 1)]);
    expect(tracker.actions()).toEqual([0, 1, 1, 0, 1, 0, 2]);
  });

  it('UT-04: an id that turns 60 s old while an announce is being retransmitted is renewed first', async () => {
    let now = 0;
    let announces = 0;
    const tracker = await FakeTracker.start((r, reply) => {
      if (r.action === 0) reply(connectReply(r.tid));
      else if (announces++ === 0)
        now = 61_000; // silence, and the clock moves past 60 s
      else reply(announceReply(r.tid));
    });
    await client({ now: () => now }).announce(tracker.url(), request);
    expect(tracker.actions()).toEqual([0, 1, 0, 1]);
  });

  it('UT-05: a reply with an unknown transaction id or from another address is ignored', async () => {
    const spoofer = dgram.createSocket('udp4');
    spoofer.bind(0, '127.0.0.1');
    await once(spoofer, 'listening');
    try {
      const tracker = await FakeTracker.start((r, reply) => {
        if (r.action === 0) {
          // Right transaction id from the wrong port, then a wrong transaction id, then the reply.
          spoofer.send(connectReply(r.tid, Buffer.alloc(8, 0xee)), r.from.port, r.from.address);
          reply(connectReply((r.tid + 1) >>> 0, Buffer.alloc(8, 0xdd)));
          setTimeout(() => reply(connectReply(r.tid)), 30);
        } else reply(announceReply(r.tid));
      });
      await client().announce(tracker.url(), request);
      expect(tracker.actions()).toEqual([0, 1]);
      expect(tracker.received[1]!.packet.subarray(0, 8)).toEqual(CONN_ID);
    } finally {
      spoofer.close();
    }
  });

  it('UT-05: retransmits after silence on the 15·2^n schedule (scaled), with a fresh transaction id', async () => {
    let connects = 0;
    const tracker = await FakeTracker.start((r, reply) => {
      if (r.action === 0 && ++connects < 3) return; // the first two connects go unanswered
      standard(r, reply, tracker);
    });
    await client().announce(tracker.url(), request, { timeoutMs: 5_000 });
    expect(tracker.actions()).toEqual([0, 0, 0, 1]);
    const [a, b, c] = tracker.received;
    expect(new Set([a!.tid, b!.tid, c!.tid]).size).toBe(3);
    // Scaled schedule 100·2^n ms: sends at 0, 100, 300.
    expect(b!.at - a!.at).toBeGreaterThanOrEqual(90);
    expect(c!.at - b!.at).toBeGreaterThanOrEqual(190);
  });

  it('UT-05: a late reply to an earlier send of the same request still counts', async () => {
    let first: number | null = null;
    const tracker = await FakeTracker.start((r, reply) => {
      if (r.action === 0 && first === null) first = r.tid;
      else if (r.action === 0) reply(connectReply(first!));
      else reply(announceReply(r.tid));
    });
    await client().announce(tracker.url(), request);
    expect(tracker.actions()).toEqual([0, 0, 1]);
  });

  it('gives up at the deadline, saying how long and how many packets', async () => {
    const tracker = await FakeTracker.start(() => undefined);
    const c = client();
    const t0 = Date.now();
    // Sends at 0, 100 and 300 ms; the next would be at 700, past the deadline. (A loaded machine
    // may fire the 300 ms timer after 500 ms: then only two went out.)
    await expect(c.announce(tracker.url(), request, { timeoutMs: 500 })).rejects.toThrow(
      /^UDP tracker timed out after 0\.5 s \([23] packets sent\)$/,
    );
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(tracker.actions()).toEqual(tracker.received.length === 3 ? [0, 0, 0] : [0, 0]);
    expect(c.inFlight).toBe(0);
  });

  it('the default schedule is BEP 15: 15, 30, 60 … 3840 s', () => {
    expect([0, 1, 2, 3, 8, 9, 20].map(bep15RetryDelayMs)).toEqual([
      15_000, 30_000, 60_000, 120_000, 3_840_000, 3_840_000, 3_840_000,
    ]);
  });

  it('UT-06: an error reply fails the announce with its message, and the next one reconnects', async () => {
    let announces = 0;
    const tracker = await FakeTracker.start((r, reply) => {
      if (r.action === 1 && announces++ === 0)
        reply(errorReply(r.tid, 'unregistered torrent\r\nFAKE LOG LINE'));
      else standard(r, reply, tracker);
    });
    const c = client();
    await expect(c.announce(tracker.url(), request)).rejects.toThrow(
      'tracker said: unregistered torrent  FAKE LOG LINE',
    );
    await c.announce(tracker.url(), request);
    expect(tracker.actions()).toEqual([0, 1, 0, 1]);
  });

  it('a truncated reply or one with the wrong action fails the request; a runt is ignored', async () => {
    const tracker = await FakeTracker.start((r, reply) => {
      if (r.action === 0) {
        reply(Buffer.from([0, 0, 0])); // not even a header: ignored
        reply(connectReply(r.tid));
      } else reply(announceReply(r.tid, { peers: Buffer.alloc(0) }).subarray(0, 19));
    });
    const c = client();
    await expect(c.announce(tracker.url(), request)).rejects.toThrow(
      'truncated UDP tracker reply (19 bytes, an announce reply has at least 20)',
    );
    tracker.handler = (r, reply) => reply(connectReply(r.tid));
    await expect(c.announce(tracker.url(), request)).rejects.toThrow(
      'UDP tracker answered our announce with action 0',
    );
  });

  it('an oversized reply (10,000 peers, 60 KB) keeps 2000 of them', async () => {
    const peers = Buffer.alloc(6 * 10_000 + 5);
    for (let i = 0; i < 10_000; i++) {
      peers.writeUInt32BE(0x0a000001 + i, 6 * i);
      peers.writeUInt16BE(2000 + (i % 1000), 6 * i + 4);
    }
    const tracker = await FakeTracker.start((r, reply) =>
      r.action === 0 ? reply(connectReply(r.tid)) : reply(announceReply(r.tid, { peers })),
    );
    const res = await client().announce(tracker.url(), request);
    expect(res.peers).toHaveLength(2000);
    expect(res.peers[0]).toEqual({ ip: '10.0.0.1', port: 2000 });
  });

  it.skipIf(!hasIpv6)('UT-03: over IPv6 (::1) peers are 18 bytes each', async () => {
    const peers = Buffer.from(
      '20010db8000000000000000000000001' + '1ae1' + '00000000000000000000000000000001' + '0050',
      'hex',
    );
    const tracker = await FakeTracker.start(
      (r, reply) =>
        r.action === 0 ? reply(connectReply(r.tid)) : reply(announceReply(r.tid, { peers })),
      '::1',
    );
    expect(tracker.url()).toMatch(/^udp:\/\/\[::1\]:\d+\/announce$/);
    const res = await client().announce(tracker.url(), request);
    expect(res.peers).toEqual([
      { ip: '2001:db8::1', port: 6881 },
      { ip: '::1', port: 80 },
    ]);
  });

  describe.skipIf(!hasIpv6)('UT-08: a host name with IPv4 and IPv6 addresses', () => {
    const v6Peers = Buffer.from('20010db8000000000000000000000001' + '1ae1', 'hex');
    const dual = async (v6Handler: Handler, v4Handler: Handler = standard) => {
      const v4 = await FakeTracker.start(v4Handler);
      const v6 = await FakeTracker.start(v6Handler, '::1', v4.port);
      const lookup = vi.fn(async () => [
        { address: '::1', family: 6 },
        { address: '127.0.0.1', family: 4 },
        { address: '127.0.0.2', family: 4 },
      ]);
      return { v4, v6, lookup, url: `udp://dual.test:${v4.port}/announce` };
    };

    it('is announced to at both, with the same key, and the peers are merged', async () => {
      const { v4, v6, lookup, url } = await dual((r, reply) =>
        r.action === 0
          ? reply(connectReply(r.tid))
          : reply(announceReply(r.tid, { peers: v6Peers, seeders: 9, interval: 1200 })),
      );
      const res = await client({ lookup }).announce(url, request);
      expect(res.peers).toHaveLength(2);
      expect(res.peers).toEqual(
        expect.arrayContaining([
          { ip: '127.0.0.5', port: 6881 },
          { ip: '2001:db8::1', port: 6881 },
        ]),
      );
      expect([res.complete, res.incomplete, res.intervalSec]).toEqual([9, 4, 1200]);
      expect(v4.actions()).toEqual([0, 1]);
      expect(v6.actions()).toEqual([0, 1]);
      const key = (t: FakeTracker) => t.received[1]!.packet.subarray(88, 92).toString('hex');
      expect(key(v4)).toBe('0badcafe');
      expect(key(v6)).toBe('0badcafe');
    });

    it('a silent family is given up on shortly after the other answered', async () => {
      const { v6, lookup, url } = await dual(() => undefined);
      const t0 = Date.now();
      const res = await client({ lookup, dualStackGraceMs: 100 }).announce(url, request, {
        timeoutMs: 10_000,
      });
      expect(Date.now() - t0).toBeLessThan(2_000);
      expect(res.peers).toEqual([{ ip: '127.0.0.5', port: 6881 }]);
      expect(v6.actions()[0]).toBe(0);
    });

    it('when both fail, the error names both addresses', async () => {
      const refuse: Handler = (r, reply) =>
        r.action === 0 ? reply(connectReply(r.tid)) : reply(errorReply(r.tid, 'no'));
      const { lookup, url } = await dual(refuse, refuse);
      await expect(client({ lookup }).announce(url, request)).rejects.toThrow(
        /^(::1: tracker said: no; 127\.0\.0\.1: tracker said: no)$/,
      );
    });

    it('a client bound to an IPv4 address asks for and uses IPv4 only', async () => {
      const { v4, v6, lookup, url } = await dual(standard);
      await client({ lookup, localAddress: '127.0.0.1' }).announce(url, request);
      expect(lookup).toHaveBeenCalledWith('dual.test', 4);
      expect(v4.actions()).toEqual([0, 1]);
      expect(v6.actions()).toEqual([]);
    });
  });

  it('UT-07: scrape sends the hashes and reads seeders, completed, leechers', async () => {
    const tracker = await FakeTracker.start();
    const res = await client().scrape(tracker.url(), [Buffer.alloc(20, 1), Buffer.alloc(20, 2)]);
    expect(res).toEqual([
      { seeders: 1, completed: 0, leechers: 0 },
      { seeders: 2, completed: 0, leechers: 0 },
    ]);
    const p = tracker.received[1]!.packet;
    expect(p).toHaveLength(16 + 40);
    expect(p.subarray(16, 36)).toEqual(Buffer.alloc(20, 1));
  });

  it('an abort ends the wait at once; close() ends everything in flight', async () => {
    const tracker = await FakeTracker.start(() => undefined);
    const c = client();
    const abort = new AbortController();
    const t0 = Date.now();
    setTimeout(() => abort.abort(), 50);
    await expect(
      c.announce(tracker.url(), request, { signal: abort.signal, timeoutMs: 10_000 }),
    ).rejects.toThrow('announce cancelled');
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(c.inFlight).toBe(0);
    const pending = c.announce(tracker.url(), request, { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 30));
    expect(c.inFlight).toBe(1);
    c.close();
    await expect(pending).rejects.toThrow('announce cancelled');
    expect(c.inFlight).toBe(0);
  });

  it('resolves host names with the injected lookup and reports a failed one', async () => {
    const tracker = await FakeTracker.start();
    const lookup = vi.fn(async (host: string) => {
      if (host === 'tracker.test') return [{ address: '127.0.0.1', family: 4 }];
      throw Object.assign(new Error('nope'), { code: 'ENOTFOUND' });
    });
    const c = client({ lookup });
    const res = await c.announce(`udp://tracker.test:${tracker.port}/announce`, request);
    expect(res.peers).toHaveLength(1);
    await expect(c.announce('udp://nowhere.test:1/announce', request)).rejects.toThrow(
      'could not resolve nowhere.test (ENOTFOUND)',
    );
    await expect(c.announce('udp://tracker.test/announce', request)).rejects.toThrow(
      'UDP tracker URL has no port',
    );
    await expect(c.announce('http://tracker.test:1/announce', request)).rejects.toThrow(
      'not a UDP tracker URL',
    );
  });

  it('udpAnnounce (one-shot) and close() leave no socket open', async () => {
    const tracker = await FakeTracker.start();
    const sockets = watchSockets();
    const res = await udpAnnounce(tracker.url(), request);
    expect(res.peers).toHaveLength(1);
    const c = client();
    await c.announce(tracker.url(), request);
    c.close();
    expect(sockets.created).toHaveLength(2);
    await sockets.allClosed();
  });
});

describe('fuzz over the wire', () => {
  it('any reply bearing our transaction id ends in a sane response or a TrackerError', async () => {
    let next: { action: number; tail: Uint8Array } = { action: 1, tail: new Uint8Array() };
    const tracker = await FakeTracker.start((r, reply) => {
      if (r.action === 0) return reply(connectReply(r.tid));
      const head = Buffer.alloc(8);
      head.writeUInt32BE(next.action, 0);
      head.writeUInt32BE(r.tid, 4);
      reply(Buffer.concat([head, next.tail]));
    });
    const c = client();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(0, 1, 1, 1, 2, 3, 0xffffffff),
        fc.uint8Array({ maxLength: 300 }),
        async (action, tail) => {
          next = { action, tail };
          try {
            const res = await c.announce(tracker.url(), request, { timeoutMs: 2_000 });
            expect(res.intervalSec).toBeGreaterThanOrEqual(60);
            for (const p of res.peers) expect(p.port).toBeGreaterThan(0);
          } catch (e) {
            if (!(e instanceof TrackerError)) throw e;
            expect(e.message).not.toMatch(/timed out/);
          }
        },
      ),
      { numRuns: 150 },
    );
    expect(c.inFlight).toBe(0);
  });
});

describe('Announcer over UDP', () => {
  it('BEP 12: tiers mixing UDP and HTTP: a silent UDP tracker and a dead HTTP one are passed over', async () => {
    const silent = await FakeTracker.start(() => undefined);
    const live = await FakeTracker.start();
    const sockets = watchSockets();
    const deadHttp = 'http://127.0.0.1:9/announce';
    const a = new Announcer(
      [[silent.url()], [deadHttp, live.url()]],
      () => ({ uploaded: 0, downloaded: 0, left: 5 }),
      { infoHash: Buffer.alloc(20, 3), peerId: Buffer.alloc(20, 4), port: 7000 },
      { timeoutMs: 400, udp: { retryDelayMs: (n) => 100 * 2 ** n }, localAddress: '127.0.0.4' },
    );
    const got = new Promise<PeerAddress[]>((resolve) => a.once('peers', resolve));
    a.start();
    expect(await got).toEqual([{ ip: '127.0.0.5', port: 6881 }]);
    const row = (url: string) => a.rows().find((r) => r.url === url);
    expect(row(silent.url())).toMatchObject({
      status: 'error',
      lastError: expect.stringMatching(
        /^UDP tracker timed out after 0\.4 s \([23] packets sent\)$/,
      ),
    });
    expect(row(live.url())).toMatchObject({
      status: 'working',
      seeders: 7,
      leechers: 4,
      peersReturned: 1,
      lastError: null,
    });
    // Then a scrape (UT-07) fills `completed`, on the same connection id.
    await new Promise<void>((resolve) => {
      const check = () => row(live.url())?.completed !== null && resolve();
      a.on('status', check);
      check();
    });
    expect(row(live.url())).toMatchObject({ completed: 0, seeders: 7 });
    expect(silent.actions().every((action) => action === 0)).toBe(true);
    expect(live.received.every((r) => r.from.address === '127.0.0.4')).toBe(true);
    await a.stop();
    // 'stopped' (event 3, num_want 0) went to the tracker that heard 'started', reusing the id.
    expect(live.actions()).toEqual([0, 1, 2, 1]);
    // One socket for all of this announcer's UDP trackers, closed by stop().
    expect(sockets.created).toHaveLength(1);
    await sockets.allClosed();
    const stopped = live.received[3]!.packet;
    expect([stopped.readUInt32BE(80), stopped.readInt32BE(92)]).toEqual([3, 0]);
  });
});
