// The DHT's public surface (BEP 5). One DhtNode per session: getPeers(infoHash, { announcePort })
// every few minutes per running torrent, addNode() for peers' `port` messages (PW-18) and a
// trackerless torrent's `nodes` (torrentNodes, DH-05), the bootstrap list from settings.
export {
  DhtNode,
  type DhtHost,
  type DhtNodeEvents,
  type DhtNodeOptions,
  type DhtStats,
  type GetPeersOptions,
} from './dht-node';
export { DualStackDht } from './dual-stack';
export { torrentNodes } from './torrent-nodes';
export type { PeerAddress } from '../torrent/peer-directory';
