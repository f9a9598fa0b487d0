import { afterEach, describe, expect, it } from 'vitest';
import { DhtNode } from './dht-node';
import { DualStackDht } from './dual-stack';

const open: DhtNode[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close()));
});

async function node(host: string, bootstrap: { host: string; port: number }[] = []) {
  const n = await DhtNode.create({ host, bootstrap, queryTimeoutMs: 400 });
  open.push(n);
  await n.ready();
  return n;
}

describe('DualStackDht', () => {
  it('finds peers announced in the IPv4 DHT and in the IPv6 DHT with one lookup', async () => {
    const hash = new Uint8Array(20).fill(0x5a);
    // Two small networks, one per family; in each, one node announces a peer.
    const v4Entry = await node('127.0.0.61');
    const v6Entry = await node('::1');
    const v4Peer = await node('127.0.0.62', [{ host: v4Entry.host, port: v4Entry.port }]);
    const v6Peer = await node('::1', [{ host: '::1', port: v6Entry.port }]);
    await v4Peer.getPeers(hash, { announcePort: 4444 });
    await v6Peer.getPeers(hash, { announcePort: 6666 });

    const dual = new DualStackDht(
      await node('127.0.0.63', [{ host: v4Entry.host, port: v4Entry.port }]),
      await node('::1', [{ host: '::1', port: v6Entry.port }]),
    );
    expect(dual.nodeCount()).toBeGreaterThanOrEqual(2);
    const peers = await dual.getPeers(hash, { timeoutMs: 5000 });
    expect(peers).toContainEqual({ ip: '127.0.0.62', port: 4444 });
    expect(peers).toContainEqual({ ip: '::1', port: 6666 });
    // A node heard of goes to the node of its family.
    expect(await dual.addNode('::1', v6Entry.port)).toBe(true);
    expect(await dual.addNode('127.0.0.61', v4Entry.port)).toBe(true);
  });

  it('works with one family only', async () => {
    const only = new DualStackDht(await node('127.0.0.64'), null);
    expect(await only.addNode('::1', 1)).toBe(false);
    expect(only.port).toBeGreaterThan(0);
    await only.close();
  });
});
