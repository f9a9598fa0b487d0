// The announcer over real HTTP to a scripted tracker on loopback: what the tracker receives,
// decoded as bytes (HT-01, HT-02) and counted per event (HT-03).
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { bencode, type BEncodable } from '../bencode/encode';
import { Announcer } from './announcer';
import { httpAnnounce, type AnnounceRequest } from './http-announce';

/** Splits a raw query string into parameters whose values are decoded %XX byte by byte. */
function queryBytes(rawUrl: string): Map<string, Buffer> {
  const query = rawUrl.slice(rawUrl.indexOf('?') + 1);
  const out = new Map<string, Buffer>();
  for (const part of query.split('&')) {
    const [k, v = ''] = part.split('=');
    const bytes: number[] = [];
    for (let i = 0; i < v.length; i++) {
      if (v[i] === '%') {
        bytes.push(parseInt(v.slice(i + 1, i + 3), 16));
        i += 2;
      } else bytes.push(v.charCodeAt(i));
    }
    out.set(k!, Buffer.from(bytes));
  }
  return out;
}

let server: http.Server | null = null;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = null;
});

async function tracker(onAnnounce: (q: Map<string, Buffer>) => BEncodable): Promise<string> {
  server = http.createServer((req, res) => {
    // The Announcer scrapes after an announce (/announce → /scrape); these tests count announces.
    if (req.url?.startsWith('/scrape')) return void res.writeHead(404).end();
    res.end(Buffer.from(bencode(onAnnounce(queryBytes(req.url ?? '')))));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/announce?passkey=s3cr3t`;
}

describe('announces as the tracker sees them', () => {
  it('HT-01/HT-02: every byte value of info_hash and peer_id arrives intact, with every field', async () => {
    const seen: Map<string, Buffer>[] = [];
    const url = await tracker((q) => {
      seen.push(q);
      return { interval: 60, peers: '' };
    });
    const sent: AnnounceRequest[] = [];
    for (let start = 0; start < 256; start += 20) {
      const infoHash = Uint8Array.from({ length: 20 }, (_, i) => (start + i) & 255);
      const peerId = Uint8Array.from({ length: 20 }, (_, i) => (255 - start - i) & 255);
      const r: AnnounceRequest = {
        infoHash,
        peerId,
        port: 51413,
        uploaded: 1,
        downloaded: 2,
        left: 3,
        numWant: 50,
        key: 'deadbeef',
        trackerId: 'tid',
      };
      sent.push(r);
      await httpAnnounce(url, r);
    }
    expect(seen).toHaveLength(13);
    seen.forEach((q, i) => {
      expect(q.get('info_hash')).toEqual(Buffer.from(sent[i]!.infoHash));
      expect(q.get('peer_id')).toEqual(Buffer.from(sent[i]!.peerId));
      expect(
        Object.fromEntries(
          [
            'passkey',
            'port',
            'uploaded',
            'downloaded',
            'left',
            'compact',
            'numwant',
            'key',
            'trackerid',
          ].map((k) => [k, q.get(k)?.toString('latin1')]),
        ),
      ).toEqual({
        passkey: 's3cr3t',
        port: '51413',
        uploaded: '1',
        downloaded: '2',
        left: '3',
        compact: '1',
        numwant: '50',
        key: 'deadbeef',
        trackerid: 'tid',
      });
      expect(q.has('event')).toBe(false);
    });
  });

  it('HT-03: start → complete → stop → restart (seeding) → stop sends each event once', async () => {
    const events: string[] = [];
    const lefts: string[] = [];
    const url = await tracker((q) => {
      events.push(q.get('event')?.toString() ?? '(none)');
      lefts.push(q.get('left')!.toString());
      return { interval: 1800, peers: Buffer.from([127, 0, 0, 5, 0x1a, 0xe1]) };
    });
    let left = 1000;
    const a = new Announcer([[url]], () => ({ uploaded: 0, downloaded: 1000 - left, left }), {
      infoHash: new Uint8Array(20).fill(7),
      peerId: new Uint8Array(20).fill(8),
      port: 6881,
    });
    const nextStatus = (want: string) =>
      new Promise<void>((resolve) => {
        const on = () => {
          if (a.rows()[0]!.status === want) {
            a.off('status', on);
            resolve();
          }
        };
        a.on('status', on);
      });
    const firstPeers = new Promise((resolve) => a.once('peers', resolve));
    a.start();
    expect(await firstPeers).toEqual([{ ip: '127.0.0.5', port: 6881 }]);
    left = 0;
    const afterCompleted = nextStatus('working');
    a.completed();
    await afterCompleted;
    await a.stop();
    const afterRestart = nextStatus('working');
    a.start();
    await afterRestart;
    a.completed(); // already sent once: nothing
    await a.stop();
    expect(events).toEqual(['started', 'completed', 'stopped', 'started', 'stopped']);
    expect(lefts).toEqual(['1000', '0', '0', '0', '0']);
  });
});
