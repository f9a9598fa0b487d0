// The engine's one public surface (STYLE.md 3): the app, the command line, the headless server
// and the tests import from here and nowhere deeper.
export {
  Session,
  type SessionOptions,
  type AddTorrentOptions,
  type SessionEvents,
} from './session';
export { Torrent, type TorrentEvents } from './torrent/torrent';
export { EngineError, InvalidTorrentError } from './errors';
export {
  InvalidMagnetError,
  isMagnetLink,
  parseMagnetLink,
  parsePeerAddress,
  type MagnetLink,
} from './magnet/magnet-link';
export { parseMetainfo, type Metainfo, type TorrentFile } from './metainfo/metainfo';
export { addressKey, type PeerAddress } from './torrent/peer-directory';
export { TrackerError } from './tracker/http-announce';
export { resolveInside } from './metainfo/paths';
