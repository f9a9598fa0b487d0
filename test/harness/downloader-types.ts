// What the harness's daemon downloaders (qbittorrentDownload, rtorrentDownload) take and give.

export interface DaemonDownloadOptions {
  torrent: string;
  outDir: string;
  /** Loopback address to listen on and announce from, e.g. from allocateHost(). */
  host: string;
  /** Peer port; a free one on `host` when omitted. */
  port?: number;
  /** Private scratch directory for the client's profile, session and log. */
  workDir: string;
  timeoutMs: number;
  /** Runs after 100 %, before the client is stopped (a benchmark's last CPU sample). */
  beforeStop?: () => Promise<void>;
}

export interface DaemonDownloadResult {
  /** From the add request to 100 %. */
  wallMs: number;
  /** Date.now() when the add request was answered. */
  addedAt: number;
  /** Date.now() clock: the moment of 100 %, from the client's own finished hook. */
  doneAt: number;
}
