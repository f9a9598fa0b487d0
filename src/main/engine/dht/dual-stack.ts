import { isIP } from 'node:net';
import type { PeerAddress } from '../torrent/peer-directory';
import type { DhtNode, GetPeersOptions } from './dht-node';

/**
 * The IPv4 DHT (BEP 5) and the IPv6 one (BEP 32) as one: a node serves one address family, so
 * a session that listens on both runs one of each, on the same port number. Lookups ask both
 * and merge what they find; a node heard of goes to the node of its family.
 */
export class DualStackDht {
  constructor(
    private readonly v4: DhtNode | null,
    private readonly v6: DhtNode | null,
  ) {}

  private get nodes(): DhtNode[] {
    return [this.v4, this.v6].filter((n): n is DhtNode => n !== null);
  }

  /** The UDP port for BEP 5 `port` messages (both nodes share it when both run). */
  get port(): number {
    return (this.v4 ?? this.v6)?.port ?? 0;
  }

  nodeCount(): number {
    return this.nodes.reduce((sum, n) => sum + n.nodeCount(), 0);
  }

  /** Host names go to the IPv4 node; IP literals to the node of their family. */
  addNode(host: string, port: number): Promise<boolean> {
    const node = isIP(host) === 6 ? this.v6 : this.v4;
    return node ? node.addNode(host, port) : Promise.resolve(false);
  }

  async getPeers(infoHash: Uint8Array, opts: GetPeersOptions = {}): Promise<PeerAddress[]> {
    const found = await Promise.all(this.nodes.map((n) => n.getPeers(infoHash, opts)));
    const seen = new Set<string>();
    return found.flat().filter((p) => {
      const key = `${p.ip}|${p.port}`;
      return !seen.has(key) && seen.add(key);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.close()));
  }
}
