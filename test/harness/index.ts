// The harness's public surface for swarm tests and benchmarks.
export { HarnessError, type HarnessErrorCode } from './errors';
export { makeRandomFile, makeTree, sha1File, listFiles, compareTrees, type FileSpec } from './data';
export { makeTorrent, infoHashOf, type MakeTorrentOptions } from './mktorrent';
export { startOpentracker, type Tracker } from './tracker';
export {
  startSeeder,
  startTransmissionSeeder,
  startAria2Seeder,
  startQbittorrentSeeder,
  startRtorrentSeeder,
  type Seeder,
  type SeederKind,
  type SeederOptions,
} from './seeders';
export { aria2Download, type DownloadResult } from './aria2';
export { qbittorrentDownload } from './qbittorrent';
export { rtorrentDownload } from './rtorrent';
export type { DaemonDownloadOptions, DaemonDownloadResult } from './downloader-types';
export { startSwarm, type Swarm, type SwarmOptions } from './swarm';
export { allocateHost, freePort, freeUdpPort, waitFor, sleep } from './proc';
export { makeTempDir } from './temp';
