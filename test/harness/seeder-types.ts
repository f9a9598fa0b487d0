export type SeederKind = 'transmission' | 'aria2' | 'qbittorrent' | 'rtorrent';

export interface SeederOptions {
  torrent: string;
  /** Directory that holds the torrent's content (the file or folder named like the torrent). */
  dataDir: string;
  /** Loopback address to listen on and announce from, e.g. from allocateHost(). */
  host: string;
  /** Peer port; a free one on `host` when omitted. */
  port?: number;
  /** Private scratch directory for this client's config, state and log. */
  workDir: string;
  /** Upload cap in KiB/s (applies to loopback peers too); unlimited when omitted. */
  uploadLimitKiBps?: number;
  /** Speak BEP 11 peer exchange (qBittorrent only; off by default, as in a plain swarm). */
  peerExchange?: boolean;
  /** Bound on start-up plus the full hash check. Default 60 s. */
  readyTimeoutMs?: number;
}

export interface Seeder {
  name: SeederKind;
  host: string;
  port: number;
  pid: number;
  logFile: string;
  /** Bytes this seeder reports having uploaded for the torrent (from its own API). */
  uploadedBytes(): Promise<number>;
  stop(): Promise<void>;
}
