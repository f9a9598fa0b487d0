// Plain-data views of the engine's state. The engine produces them, the IPC contract carries
// them, the renderer draws them. Structured-clone safe: no classes, Maps, Buffers or functions.

/** A torrent's lifecycle, as a person sees it. */
export type TorrentState =
  'fetching-metadata' | 'checking' | 'downloading' | 'seeding' | 'paused' | 'error';

/** One row of the torrent list. Updated a few times a second. */
export interface TorrentSummary {
  /** The info-hash as 40 lower-case hex digits; the torrent's identity everywhere. */
  id: string;
  name: string;
  state: TorrentState;
  /**
   * Why the torrent is in the 'error' state, or, while running, why it is not moving (e.g.
   * "waiting for peers: … failed (…); retrying with back-off"), for people.
   */
  errorMessage: string | null;
  totalBytes: number;
  /** Bytes of verified pieces. */
  doneBytes: number;
  /** 0..1, from verified pieces only. */
  progress: number;
  pieceCount: number;
  piecesDone: number;
  downBytesPerSec: number;
  upBytesPerSec: number;
  /** Payload bytes received / sent since the torrent was added. */
  downloadedBytes: number;
  uploadedBytes: number;
  /** Bytes received that failed their piece's hash and were thrown away. */
  wastedBytes: number;
  peersConnected: number;
  /** Peers known from every source, connected or not. */
  peersKnown: number;
  seedsConnected: number;
  /** Seconds to completion at the current rate; null when unknown or not downloading. */
  etaSec: number | null;
  downloadDir: string;
  addedAt: number;
}

/** The state of each piece, one byte per piece, for the piece map. */
export const PieceState = {
  Missing: 0,
  InFlight: 1,
  Have: 2,
} as const;
export type PieceState = (typeof PieceState)[keyof typeof PieceState];

/** One connected (or connecting) peer of the torrent on screen. */
export interface PeerRow {
  /** "ip:port" (IPv6 as "[addr]:port"); unique within a torrent. */
  address: string;
  /** Decoded from the peer id, e.g. "Transmission 3.00"; "unknown" when undecodable. */
  client: string;
  /** Where we learned of this peer. */
  source: 'tracker' | 'incoming' | 'manual' | 'dht' | 'pex' | 'magnet';
  /** true when we opened the connection. */
  outgoing: boolean;
  amChoking: boolean;
  amInterested: boolean;
  peerChoking: boolean;
  peerInterested: boolean;
  downBytesPerSec: number;
  upBytesPerSec: number;
  /** 0..1: the share of pieces the peer says it has. */
  progress: number;
  /** Block requests we have outstanding to this peer. */
  requestsInFlight: number;
  /** Blocks the peer asked of us that we have not sent yet. */
  peerRequests: number;
  /** Pieces this peer sent that failed their hash. */
  hashFailures: number;
}

/** One file of the torrent on screen. */
export interface FileRow {
  /** Path inside the torrent's folder, with '/' separators. */
  path: string;
  lengthBytes: number;
  doneBytes: number;
  progress: number;
}

/** One tracker of the torrent on screen. */
export interface TrackerRow {
  url: string;
  tier: number;
  status: 'idle' | 'announcing' | 'working' | 'error' | 'disabled';
  lastAnnounceAt: number | null;
  nextAnnounceAt: number | null;
  peersReturned: number | null;
  seeders: number | null;
  leechers: number | null;
  /** Finished downloads the tracker has counted (from a scrape), if it told us. */
  completed: number | null;
  lastError: string | null;
  /** Tracker's 'warning message', if any. */
  lastWarning: string | null;
}

/** Everything the detail view shows for one torrent. */
/** Where a torrent's peers came from, for the Sources tab. */
export interface PeerSourceRow {
  source: PeerRow['source'];
  /** Addresses known from this source (connected or not, banned ones excluded). */
  known: number;
  connected: number;
}

export interface TorrentDetail {
  summary: TorrentSummary;
  sources: PeerSourceRow[];
  /** The DHT as this torrent sees it: nodes in the session's routing table, or why it is unused. */
  dht: { state: 'on'; nodes: number } | { state: 'off' } | { state: 'private' };
  /** PieceState per piece. */
  pieces: Uint8Array;
  peers: PeerRow[];
  files: FileRow[];
  trackers: TrackerRow[];
  infoHash: string;
  pieceLength: number;
  isPrivate: boolean;
  comment: string | null;
  createdBy: string | null;
}
