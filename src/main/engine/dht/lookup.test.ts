import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { KrpcResponseBody, NodeContact } from './krpc';
import { lookup, usableFrom, type LookupSeed } from './lookup';
import { bigIntToId, distance, K, RoutingTable } from './routing-table';

/** An in-memory DHT: every node has a real routing table, offered every other node. */
function network(size: number) {
  const nodes: NodeContact[] = Array.from({ length: size }, (_, i) => ({
    id: Uint8Array.from(randomBytes(20)),
    ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    port: 6881,
  }));
  const tables = new Map<string, RoutingTable>();
  for (const n of nodes) {
    const table = new RoutingTable(n.id);
    for (const other of nodes) table.insert(other, 'response');
    tables.set(n.ip, table);
  }
  const byDistance = (target: Uint8Array) =>
    [...nodes].sort((a, b) => {
      const da = distance(a.id, target);
      const db = distance(b.id, target);
      return da < db ? -1 : da > db ? 1 : 0;
    });
  return { nodes, tables, byDistance };
}

describe('iterative lookup', () => {
  it('converges on the K closest nodes of a 500-node network, with at most α queries in flight', async () => {
    const net = network(500);
    const target = Uint8Array.from(randomBytes(20));
    let inFlight = 0;
    let peak = 0;
    const holder = net.byDistance(target)[0]!;
    const result = await lookup({
      target,
      seeds: [net.nodes[0]!, net.nodes[1]!],
      query: async (to: LookupSeed): Promise<KrpcResponseBody | null> => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 1 + Math.random() * 3));
        inFlight--;
        const table = net.tables.get(to.ip)!;
        const self = net.nodes.find((n) => n.ip === to.ip)!;
        return {
          id: self.id,
          nodes: table.closest(target, K),
          token: Uint8Array.of(1),
          ...(to.ip === holder.ip ? { values: [{ ip: '192.0.2.1', port: 1 }] } : {}),
        };
      },
    });
    expect(peak).toBeLessThanOrEqual(3);
    const want = net
      .byDistance(target)
      .slice(0, K)
      .map((n) => n.ip);
    expect(result.closest.map((c) => c.node.ip)).toEqual(want);
    expect(result.closest.every((c) => c.token?.[0] === 1)).toBe(true);
    expect(result.peers).toEqual([{ ip: '192.0.2.1', port: 1 }]);
    expect(result.queries).toBeLessThanOrEqual(100);
  });

  it('stops after maxQueries', async () => {
    let queries = 0;
    // Every reply names 8 brand-new nodes, each closer than all before: it would never end.
    let counter = 0;
    const fresh = (): NodeContact => {
      counter++;
      return {
        id: bigIntToId((1n << 100n) - BigInt(counter)),
        ip: `10.9.${counter >> 8}.${counter & 255}`,
        port: 1,
      };
    };
    const result = await lookup({
      target: new Uint8Array(20),
      seeds: [fresh()],
      maxQueries: 25,
      query: async (to) => {
        queries++;
        return { id: to.id!, nodes: Array.from({ length: 8 }, fresh) };
      },
    });
    expect(queries).toBe(25);
    expect(result.queries).toBe(25);
  });

  it('ends at timeoutMs when nobody answers, and on abort', async () => {
    const never = () => new Promise<KrpcResponseBody | null>(() => {});
    const started = Date.now();
    const result = await lookup({
      target: new Uint8Array(20),
      seeds: [{ ip: '10.0.0.1', port: 1 }],
      query: never,
      timeoutMs: 150,
    });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(result).toMatchObject({ closest: [], peers: [], queries: 1, responses: 0 });

    const controller = new AbortController();
    const pending = lookup({
      target: new Uint8Array(20),
      seeds: [{ ip: '10.0.0.1', port: 1 }],
      query: never,
      signal: controller.signal,
    });
    controller.abort();
    expect((await pending).responses).toBe(0);
  });

  it('asks bootstrap addresses without ids, skips what it is told to, and ends when nodes fail', async () => {
    const asked: string[] = [];
    const result = await lookup({
      target: new Uint8Array(20),
      seeds: [
        { ip: '10.0.0.1', port: 1 },
        { ip: '10.0.0.2', port: 2 },
      ],
      skip: (c) => c.ip === '10.0.0.66',
      query: async (to) => {
        asked.push(to.ip);
        if (to.ip === '10.0.0.2') return null;
        if (to.ip === '10.0.0.1')
          return {
            id: new Uint8Array(20).fill(1),
            nodes: [
              { id: new Uint8Array(20).fill(2), ip: '10.0.0.66', port: 66 },
              { id: new Uint8Array(20).fill(3), ip: '10.0.0.3', port: 3 },
            ],
          };
        return null;
      },
    });
    expect(asked.sort()).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    expect(result.closest.map((c) => c.node.ip)).toEqual(['10.0.0.1']);
  });

  it('ignores unusable addresses, and loopback ones named by a remote node', () => {
    expect(usableFrom({ ip: '192.0.2.1', port: 1 }, '198.51.100.1')).toBe(true);
    expect(usableFrom({ ip: '192.0.2.1', port: 0 }, '198.51.100.1')).toBe(false);
    expect(usableFrom({ ip: '0.0.0.0', port: 1 }, '198.51.100.1')).toBe(false);
    expect(usableFrom({ ip: '224.0.0.1', port: 1 }, '198.51.100.1')).toBe(false);
    expect(usableFrom({ ip: '255.255.255.255', port: 1 }, '198.51.100.1')).toBe(false);
    expect(usableFrom({ ip: '127.0.0.1', port: 1 }, '198.51.100.1')).toBe(false);
    expect(usableFrom({ ip: '127.0.0.1', port: 1 }, '127.0.0.9')).toBe(true);
    expect(usableFrom({ ip: '2001:db8::1', port: 1 }, '2001:db8::2')).toBe(true);
    expect(usableFrom({ ip: '::', port: 1 }, '2001:db8::2')).toBe(false);
    expect(usableFrom({ ip: 'ff02::1', port: 1 }, '2001:db8::2')).toBe(false);
    expect(usableFrom({ ip: '::ffff:10.0.0.1', port: 1 }, '2001:db8::2')).toBe(false);
    expect(usableFrom({ ip: '::1', port: 1 }, '2001:db8::2')).toBe(false);
    expect(usableFrom({ ip: '::1', port: 1 }, '::1')).toBe(true);
  });
});
