import http from 'node:http';
import { once } from 'node:events';
import { gzipSync } from 'node:zlib';
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { bencode } from '../bencode/encode';
import {
  buildAnnounceUrl,
  httpAnnounce,
  httpScrape,
  MAX_PEERS_PER_REPLY,
  parseAnnounceResponse,
  parseScrapeResponse,
  percentEncodeBytes,
  scrapeUrlFor,
  TrackerError,
  type AnnounceRequest,
} from './http-announce';

const request: AnnounceRequest = {
  infoHash: Uint8Array.from({ length: 20 }, (_, i) => i * 13),
  peerId: Buffer.from('-TS0100-abcdefghijkl'),
  port: 6881,
  uploaded: 0,
  downloaded: 10,
  left: 1000,
  event: 'started',
};

/** The reference: every byte either unreserved (RFC 3986) or %XX. */
function reference(bytes: Uint8Array): string {
  return [...bytes]
    .map((b) =>
      /[A-Za-z0-9\-._~]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).padStart(2, '0').toUpperCase()}`,
    )
    .join('');
}

describe('announce URL', () => {
  it('percent-encodes every byte value 0..255 one by one', () => {
    for (let start = 0; start < 256; start += 20) {
      const bytes = Uint8Array.from({ length: 20 }, (_, i) => (start + i) & 255);
      expect(percentEncodeBytes(bytes)).toBe(reference(bytes));
      // Decoding %XX byte by byte gives the same bytes back (a UTF-8 string encoder would not).
      const encoded = percentEncodeBytes(bytes);
      const decoded = Buffer.from(
        encoded.replace(/%([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
        'latin1',
      );
      expect(decoded).toEqual(Buffer.from(bytes));
    }
  });

  it('HT-02: reproduces the wiki vector, where a string encoder would not', () => {
    const bytes = Buffer.from('123456789abcdef123456789abcdef123456789a', 'hex');
    const want = '%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A';
    expect(percentEncodeBytes(bytes)).toBe(want);
    expect(encodeURIComponent(bytes.toString('latin1'))).not.toBe(want);
    const url = buildAnnounceUrl('http://t/a', { ...request, infoHash: bytes, peerId: bytes });
    expect(url).toContain(`info_hash=${want}&peer_id=${want}&`);
  });

  it('HT-01: sends key, numwant and trackerid, and no event on a regular announce', () => {
    const url = buildAnnounceUrl('http://t/a#frag', {
      ...request,
      event: undefined,
      numWant: 50,
      key: 'a1b2c3d4',
      trackerId: 'id 1&x',
    });
    expect(url).not.toContain('event=');
    expect(url).not.toContain('#frag');
    expect(url).toContain('numwant=50');
    expect(url).toContain('key=a1b2c3d4');
    expect(url).toContain('trackerid=id%201%26x');
  });

  it('carries every field and keeps an existing query string', () => {
    const url = buildAnnounceUrl('http://t.example/announce?passkey=abc', request);
    expect(url.startsWith('http://t.example/announce?passkey=abc&info_hash=')).toBe(true);
    for (const part of [
      'port=6881',
      'uploaded=0',
      'downloaded=10',
      'left=1000',
      'compact=1',
      'event=started',
      `peer_id=-TS0100-abcdefghijkl`,
    ]) {
      expect(url).toContain(part);
    }
  });
});

describe('tracker replies', () => {
  const compact = Buffer.from([127, 0, 0, 2, 0x1a, 0xe1, 10, 0, 0, 1, 0, 0 /* port 0: dropped */]);

  it('reads compact peers (BEP 23), dictionary peers and peers6 (BEP 7)', () => {
    const v6 = Buffer.alloc(18);
    v6.writeUInt16BE(0x2001, 0);
    v6.writeUInt16BE(1, 14);
    v6.writeUInt16BE(6881, 16);
    const r = parseAnnounceResponse(
      bencode({
        interval: 120,
        'min interval': 60,
        complete: 3,
        incomplete: 1,
        peers: compact,
        peers6: v6,
      }),
    );
    expect(r.peers).toEqual([
      { ip: '127.0.0.2', port: 6881 },
      { ip: '2001::1', port: 6881 },
    ]);
    expect(r).toMatchObject({ intervalSec: 120, minIntervalSec: 60, complete: 3, incomplete: 1 });
    const dict = parseAnnounceResponse(
      bencode({
        interval: 1800,
        peers: [
          { ip: '10.1.2.3', port: 51413, 'peer id': 'x'.repeat(20) },
          { ip: 'evil.example', port: 1 },
          { ip: '10.0.0.9', port: 0 },
        ],
      }),
    );
    expect(dict.peers).toEqual([{ ip: '10.1.2.3', port: 51413 }]);
  });

  it('turns failure reason, HTML, truncation and garbage into specific errors', () => {
    expect(() =>
      parseAnnounceResponse(bencode({ 'failure reason': 'torrent not registered' })),
    ).toThrow('tracker said: torrent not registered');
    expect(() =>
      parseAnnounceResponse(Buffer.from('<html><body>502 Bad Gateway</body></html>')),
    ).toThrow('tracker replied with HTML, not bencode');
    const whole = Buffer.from(bencode({ interval: 60, peers: compact }));
    for (const cut of [1, 4, 10, whole.length - 1])
      expect(() => parseAnnounceResponse(whole.subarray(0, cut))).toThrow(
        'truncated tracker reply',
      );
    expect(() => parseAnnounceResponse(Buffer.from('\r\n  <!DOCTYPE html>'))).toThrow('HTML');
    expect(() => parseAnnounceResponse(Buffer.from('dxe'))).toThrow(TrackerError);
    expect(() => parseAnnounceResponse(Buffer.from('i42e'))).toThrow(
      'tracker reply is not a dictionary',
    );
    expect(() => parseAnnounceResponse(new Uint8Array())).toThrow('empty reply');
  });

  it('HT-08: compact lists of 0, 6, 7, 18 and 19 bytes', () => {
    const peersOf = (peers: Buffer, peers6?: Buffer) =>
      parseAnnounceResponse(
        bencode(peers6 ? { interval: 60, peers, peers6 } : { interval: 60, peers }),
      ).peers;
    const one = Buffer.from([10, 0, 0, 1, 0x1a, 0xe1]);
    expect(peersOf(Buffer.alloc(0))).toEqual([]);
    expect(peersOf(one)).toEqual([{ ip: '10.0.0.1', port: 6881 }]);
    expect(() => peersOf(Buffer.concat([one, Buffer.from([1])]))).toThrow(
      'compact peers list of 7 bytes, not a multiple of 6',
    );
    const v6 = Buffer.alloc(18);
    v6.writeUInt16BE(0xfe80, 0);
    v6.writeUInt16BE(0xabcd, 6);
    v6.writeUInt16BE(7, 16);
    expect(peersOf(Buffer.alloc(0), v6)).toEqual([{ ip: 'fe80:0:0:abcd::', port: 7 }]);
    expect(() => peersOf(Buffer.alloc(0), Buffer.alloc(19))).toThrow('peers6 list of 19 bytes');
  });

  it('drops unusable addresses and keeps counters sane', () => {
    const bad = Buffer.from([
      ...[0, 0, 0, 0, 0, 80],
      ...[255, 255, 255, 255, 0, 80],
      ...[239, 1, 1, 1, 0, 80],
      ...[192, 168, 1, 1, 0xff, 0xff],
    ]);
    const r = parseAnnounceResponse(
      bencode({ interval: 60, complete: -1, incomplete: 4, peers: bad }),
    );
    expect(r.peers).toEqual([{ ip: '192.168.1.1', port: 65535 }]);
    expect(r.complete).toBeNull();
    expect(r.incomplete).toBe(4);
    const dict = parseAnnounceResponse(
      bencode({
        peers: [
          { ip: '::1', port: 6881 },
          { ip: '1.2.3.256', port: 6881 },
          { ip: '::::::', port: 6881 },
          { ip: '10.0.0.1', port: 70000 },
          { ip: '10.0.0.2' },
          'not a dict',
        ],
      }),
    );
    expect(dict.peers).toEqual([{ ip: '::1', port: 6881 }]);
    expect(dict.intervalSec).toBe(30 * 60);
    expect(() => parseAnnounceResponse(bencode({ peers: 5 }))).toThrow(
      'neither a string nor a list',
    );
  });

  it('accepts trailing data after the dictionary (PF-17, synapse#117)', () => {
    const body = Buffer.concat([
      Buffer.from(bencode({ interval: 60, peers: Buffer.from([1, 2, 3, 4, 0, 9]) })),
      Buffer.from('\n<!-- junk -->'),
    ]);
    expect(parseAnnounceResponse(body).peers).toEqual([{ ip: '1.2.3.4', port: 9 }]);
  });

  it('shows hostile text harmlessly: no control characters, bounded length', () => {
    expect(() =>
      parseAnnounceResponse(bencode({ 'failure reason': 'bad\x1b[2J\nfake line\u0085' })),
    ).toThrow(/^tracker said: bad \[2J fake line $/);
    const r = parseAnnounceResponse(bencode({ 'warning message': 'w'.repeat(10_000), peers: '' }));
    expect(r.warning).toHaveLength(300);
  });

  it('keeps a warning message and clamps absurd intervals', () => {
    const r = parseAnnounceResponse(
      bencode({ interval: 1, 'warning message': 'slow down', peers: '' }),
    );
    expect(r.warning).toBe('slow down');
    expect(r.intervalSec).toBe(60);
    expect(parseAnnounceResponse(bencode({ interval: 10 ** 9, peers: '' })).intervalSec).toBe(7200);
    expect(parseAnnounceResponse(bencode({ interval: -5, peers: '' })).intervalSec).toBe(1800);
    expect(parseAnnounceResponse(bencode({ 'tracker id': 'abc', peers: '' })).trackerId).toBe(
      'abc',
    );
  });

  it('caps a huge peer list', () => {
    const many = Buffer.alloc(6 * 10_000);
    for (let i = 0; i < 10_000; i++) {
      many.writeUInt32BE(0x0a000000 + i, i * 6);
      many.writeUInt16BE(6881, i * 6 + 4);
    }
    expect(parseAnnounceResponse(bencode({ interval: 60, peers: many })).peers).toHaveLength(
      MAX_PEERS_PER_REPLY,
    );
  });
});

describe('httpAnnounce against a real HTTP server on loopback', () => {
  let server: http.Server | null = null;
  afterEach(() => {
    server?.closeAllConnections();
    server?.close();
    server = null;
  });

  async function serve(handler: http.RequestListener): Promise<string> {
    server = http.createServer(handler);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/announce`;
  }

  it('announces and parses the reply, with the info-hash bytes intact on the server side', async () => {
    let seenHash: Buffer | null = null;
    const url = await serve((req, res) => {
      const raw = /info_hash=([^&]*)/.exec(req.url ?? '')![1]!;
      seenHash = Buffer.from(
        raw.replace(/%([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
        'latin1',
      );
      res.end(Buffer.from(bencode({ interval: 900, peers: Buffer.from([127, 0, 0, 9, 0, 80]) })));
    });
    const r = await httpAnnounce(url, request);
    expect(r.peers).toEqual([{ ip: '127.0.0.9', port: 80 }]);
    expect(seenHash).toEqual(Buffer.from(request.infoHash));
  });

  it('follows a redirect, reports HTTP errors, times out, and refuses an oversized body', async () => {
    const url = await serve((req, res) => {
      if (req.url?.startsWith('/announce')) {
        res.writeHead(302, { location: `/moved${req.url.slice('/announce'.length)}` }).end();
      } else if (req.url?.startsWith('/moved'))
        res.end(Buffer.from(bencode({ interval: 60, peers: '' })));
      else if (req.url?.startsWith('/404')) res.writeHead(404).end('nope');
      else if (req.url?.startsWith('/big')) res.end(Buffer.alloc(5000, 0x61));
      // /hang: never answers
    });
    const base = url.replace('/announce', '');
    await expect(httpAnnounce(url, request)).resolves.toMatchObject({ intervalSec: 60 });
    await expect(httpAnnounce(`${base}/404`, request)).rejects.toThrow('tracker returned HTTP 404');
    await expect(httpAnnounce(`${base}/hang`, request, { timeoutMs: 200 })).rejects.toThrow(
      'tracker timed out',
    );
    await expect(httpAnnounce(`${base}/big`, request, { maxBodyBytes: 1000 })).rejects.toThrow(
      'larger than 1000 bytes',
    );
  });

  it('HT-05/HT-09: a gzip body with a failure reason under HTTP 200 "Not Authorized", and a 403 with one', async () => {
    const url = await serve((req, res) => {
      const failure = Buffer.from(bencode({ 'failure reason': 'passkey not found' }));
      if (req.url?.startsWith('/announce')) {
        res.writeHead(200, 'Not Authorized', { 'content-encoding': 'gzip' });
        res.end(gzipSync(failure));
      } else if (req.url?.startsWith('/403')) {
        res.writeHead(403).end(failure);
      } else {
        res.writeHead(500, { 'content-type': 'text/html; charset=utf-8' }).end('<html>oops</html>');
      }
    });
    const base = url.replace('/announce', '');
    await expect(httpAnnounce(url, request)).rejects.toThrow('tracker said: passkey not found');
    await expect(httpAnnounce(`${base}/403`, request)).rejects.toThrow(
      'tracker said: passkey not found',
    );
    await expect(httpAnnounce(`${base}/500`, request)).rejects.toThrow(
      'tracker returned HTTP 500 (text/html)',
    );
  });

  it('HT-09: decodes a gzip reply, and caps the decompressed size of a gzip bomb', async () => {
    const good = Buffer.from(bencode({ interval: 60, peers: Buffer.from([127, 0, 0, 3, 0, 99]) }));
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x30));
    const url = await serve((req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip' });
      res.end(req.url?.startsWith('/bomb') ? bomb : gzipSync(good));
    });
    const base = url.replace('/announce', '');
    await expect(httpAnnounce(url, request)).resolves.toMatchObject({
      peers: [{ ip: '127.0.0.3', port: 99 }],
    });
    expect(bomb.length).toBeLessThan(1024 * 1024);
    await expect(httpAnnounce(`${base}/bomb`, request)).rejects.toThrow(
      `tracker reply larger than ${2 * 1024 * 1024} bytes`,
    );
  });

  it('gives up on a redirect loop, a redirect to another scheme, and a stall after the headers', async () => {
    const url = await serve((req, res) => {
      if (req.url?.startsWith('/announce')) res.writeHead(302, { location: req.url }).end();
      else if (req.url?.startsWith('/ftp'))
        res.writeHead(301, { location: 'ftp://127.0.0.1/x' }).end();
      else {
        res.writeHead(200);
        res.write('d8:intervali60e'); // ...and never more
      }
    });
    const base = url.replace('/announce', '');
    await expect(httpAnnounce(url, request)).rejects.toThrow('redirected too many times');
    await expect(httpAnnounce(`${base}/ftp`, request)).rejects.toThrow(
      'unsupported tracker URL scheme',
    );
    const t0 = Date.now();
    await expect(httpAnnounce(`${base}/stall`, request, { timeoutMs: 300 })).rejects.toThrow(
      'tracker timed out after 0.3 s',
    );
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('stops at once when cancelled', async () => {
    const url = await serve(() => undefined);
    const ac = new AbortController();
    const p = httpAnnounce(url, request, { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await expect(p).rejects.toThrow('announce cancelled');
    await expect(httpAnnounce(url, request, { signal: ac.signal })).rejects.toThrow('cancelled');
  });

  it('uses a fresh connection per announce (opentracker closes sockets a pooled agent would reuse)', async () => {
    // Like opentracker: answers with Content-Length, no 'Connection: close', then closes.
    const body = Buffer.from(bencode({ interval: 60, peers: '' }));
    let connections = 0;
    const raw = net.createServer((sock) => {
      connections++;
      sock.once('data', () => {
        sock.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
        sock.end(body);
      });
    });
    raw.listen(0, '127.0.0.1');
    await once(raw, 'listening');
    const url = `http://127.0.0.1:${(raw.address() as AddressInfo).port}/announce`;
    try {
      for (let i = 0; i < 3; i++) {
        await expect(httpAnnounce(url, request)).resolves.toMatchObject({ intervalSec: 60 });
      }
      expect(connections).toBe(3);
    } finally {
      raw.close();
    }
  });

  it('names a refused connection', async () => {
    const url = await serve(() => undefined);
    const port = (server!.address() as AddressInfo).port;
    server!.close();
    server = null;
    await expect(httpAnnounce(`http://127.0.0.1:${port}/announce`, request)).rejects.toThrow(
      /could not connect to tracker \(ECONNREFUSED\)/,
    );
    void url;
  });
});

describe('scrape (the /announce → /scrape convention)', () => {
  it('derives the scrape URL only when the last path segment starts with announce', () => {
    expect(scrapeUrlFor('http://t.example/announce')).toBe('http://t.example/scrape');
    expect(scrapeUrlFor('http://t.example/x/announce.php?passkey=a/b#frag')).toBe(
      'http://t.example/x/scrape.php?passkey=a/b',
    );
    expect(scrapeUrlFor('udp://t.example:80/announce')).toBe('udp://t.example:80/scrape');
    expect(scrapeUrlFor('http://t.example/a')).toBeNull();
    expect(scrapeUrlFor('http://t.example/announce/x')).toBeNull();
    expect(scrapeUrlFor('http://t.example/x%064announce')).toBeNull();
  });

  it('reads complete, downloaded, incomplete for our info-hash; names a failure', () => {
    const hash = Buffer.from('00ff'.repeat(10), 'hex');
    const other = Buffer.alloc(20, 7);
    const body = Buffer.concat([
      Buffer.from('d5:filesd20:'),
      other,
      Buffer.from('d8:completei9ee20:'),
      hash,
      Buffer.from('d8:completei5e10:downloadedi50e10:incompletei-3eeee'),
    ]);
    expect(parseScrapeResponse(body, hash)).toEqual({ seeders: 5, completed: 50, leechers: null });
    expect(() => parseScrapeResponse(body, Buffer.alloc(20, 1))).toThrow(
      'scrape reply does not mention this torrent',
    );
    expect(() => parseScrapeResponse(Buffer.from('d14:failure reason6:no waye'), hash)).toThrow(
      'tracker said: no way',
    );
    expect(() => parseScrapeResponse(Buffer.from('<html>'), hash)).toThrow(
      /^scrape reply is not valid bencode/,
    );
  });

  it('httpScrape asks /scrape with the query kept and the info-hash percent-encoded', async () => {
    const hash = Buffer.alloc(20, 0xab);
    let seen = '';
    const server = http.createServer((req, res) => {
      seen = req.url ?? '';
      res.end(
        Buffer.concat([
          Buffer.from('d5:filesd20:'),
          hash,
          Buffer.from('d8:completei1e10:downloadedi2e10:incompletei3eeee'),
        ]),
      );
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const port = (server.address() as AddressInfo).port;
      const counts = await httpScrape(`http://127.0.0.1:${port}/announce?passkey=k`, hash);
      expect(counts).toEqual({ seeders: 1, completed: 2, leechers: 3 });
      expect(seen).toBe(`/scrape?passkey=k&info_hash=${'%AB'.repeat(20)}`);
      await expect(httpScrape(`http://127.0.0.1:${port}/tracker`, hash)).rejects.toThrow(
        'tracker has no scrape URL',
      );
    } finally {
      server.close();
    }
  });
});
