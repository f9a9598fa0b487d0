import { hasBit } from '../picker/bitfield';
import { pickPieces } from '../picker/piece-picker';
import { allocPieceBuffer, PieceBufferPool } from '../storage/piece-buffers';
import type { SessionMemory } from './session-memory';

/** Requests are for 16 KiB blocks: what every client serves and the most many will accept. */
export const BLOCK_SIZE = 16 * 1024;

/** A request for one block, as it goes on the wire. */
export interface BlockRequest {
  index: number;
  begin: number;
  length: number;
}

/** What the scheduler needs to know of a peer, owned by the torrent. */
export interface SchedulerPeer {
  readonly key: string;
  /** The peer's bitfield (MSB first), kept current by the torrent. */
  readonly has: Uint8Array;
  /** How many requests may be outstanding to this peer right now. */
  maxOutstanding: number;
}

/** A piece whose blocks have all arrived, ready for hashing. */
export interface CompletedPiece {
  index: number;
  data: Buffer;
  /** Keys of the peers that delivered its blocks, for blame when the hash fails. */
  contributors: Set<string>;
}

export interface BlockResult {
  /** false when the block was not asked for or is not needed any more; its bytes are wasted. */
  accepted: boolean;
  /** Other peers that were asked for the same block (endgame): send them a cancel. */
  cancels: { peerKey: string; request: BlockRequest }[];
  completed: CompletedPiece | null;
}

export interface SchedulerOptions {
  pieceCount: number;
  pieceLength: number;
  totalLength: number;
  /** Bytes of piece buffers in memory at once (in flight + waiting for hash and write). */
  memoryBudgetBytes?: number;
  /** Where buffers come from and go back to: the session's, shared by its torrents; else own. */
  bufferPool?: PieceBufferPool;
  /** The session's limit on its torrents' piece buffers together (on top of this budget). */
  sessionMemory?: SessionMemory;
  /**
   * Called when a fill was held back by the memory limits and another torrent of the session
   * has since given memory back: peers should be asked to fill again (see takeMemoryWait).
   */
  onSessionRoom?: () => void;
  random?: () => number;
}

const enum BlockState {
  Open = 0,
  Requested = 1,
  Received = 2,
}

const MiB = 1024 * 1024;

/**
 * Piece buffers in memory at once by default: 32 MiB, or 24 pieces where pieces are bigger (up
 * to 96 MiB). The budget holds the pieces being downloaded plus the backlog waiting to be
 * hashed and written, so in pieces it is the depth of the pipeline to the disk: 16 pieces of
 * 4 MiB stalled downloads on a disk writing about 280 MB/s (4 MiB O_DIRECT writes took 56 ms at
 * the median, 288 ms at p90). A held 1 GiB swarm took 8.2 s at 64 MiB, 6.1 s at 96 MiB and 5.8 s
 * at 112 MiB, at a peak RSS of 145, 177 and 191 MB; the goal is under 200 MB.
 *
 * With 256 KiB pieces, 32 MiB is 128 pieces. It was 64 MiB, which only cost more: a held
 * 256 MiB swarm, 10 alternating runs, took a median 1.00 CPU-s and 0.87 s at 64 MiB against
 * 0.91 CPU-s and 0.81 s at 32 MiB (16 MiB: no better than 32), and 2,000 small files 3.40
 * against 3.22 CPU-s. Every buffer is new memory the first time round (a page fault per 4 KiB:
 * 27,600 against 21,700 faults), and a shorter backlog is still in the cache when the disk
 * thread hashes it. It still covers what is in flight: 32 MiB is 160 MB/s at a 200 ms round trip.
 */
export function defaultMemoryBudget(pieceLength: number): number {
  return Math.min(MAX_MEMORY_BUDGET, Math.max(32 * MiB, 24 * pieceLength));
}

/** The largest default budget, whatever the piece size. */
export const MAX_MEMORY_BUDGET = 96 * MiB;

/** Endgame asks at most this many peers for the same block. */
const MAX_REQUESTS_PER_BLOCK = 2;
/** Endgame duplicates only blocks outstanding at least this long. */
export const ENDGAME_MIN_WAIT_MS = 1000;

class ActivePiece {
  readonly blockCount: number;
  readonly state: Uint8Array;
  /** Peers a block is outstanding at (usually one; more in endgame). */
  readonly owners: (string[] | undefined)[];
  readonly contributors = new Set<string>();
  data: Buffer | null = null;
  received = 0;
  /** No open block before this index: saves rescanning the head of big pieces. */
  firstOpenHint = 0;

  constructor(
    readonly index: number,
    readonly length: number,
  ) {
    this.blockCount = Math.ceil(length / BLOCK_SIZE);
    this.state = new Uint8Array(this.blockCount);
    this.owners = new Array(this.blockCount);
  }

  blockLength(block: number): number {
    return Math.min(BLOCK_SIZE, this.length - block * BLOCK_SIZE);
  }
}

interface PeerRequests {
  peer: SchedulerPeer;
  /** Outstanding requests keyed by `index * 32768 + block` (a piece has at most 32768 blocks). */
  outstanding: Map<number, number>;
}

const BLOCKS_PER_PIECE_MAX = 32768;

/**
 * Decides which blocks to ask of which peer, and gathers the blocks into pieces.
 *
 * Pure bookkeeping with no sockets or timers, so every rule — rarest first, finish what is
 * started, endgame duplicates with cancels, re-asking for blocks a peer failed to deliver —
 * is tested with plain arrays. The torrent drives it from peer events.
 */
export class BlockScheduler {
  private readonly active = new Map<number, ActivePiece>();
  private readonly peers = new Map<string, PeerRequests>();
  /** Pieces whose data is out for hashing and writing; they count against the memory budget. */
  private pendingBytes = 0;
  private readonly pending = new Set<number>();
  /** Bytes of the pieces being downloaded (`active`). */
  private startedBytes = 0;
  /** See countInSession. */
  private countedInSession = true;
  private readonly memoryBudgetBytes: number;
  /** A fill stopped at the memory budget: freeing a piece must wake the peers (see takeMemoryWait). */
  private heldForMemory = false;
  /** Piece-sized buffers ready for reuse. */
  private readonly bufferPool: PieceBufferPool;
  private readonly random: () => number;
  /**
   * Where the next new-piece scan starts: just after the last piece picked, so that equally
   * rare pieces are taken in runs of neighbours (see PickerInput.start); random until then.
   */
  private pickCursor: number | undefined;
  /** Our verified pieces (MSB-first bitfield). */
  readonly have: Uint8Array;
  haveCount = 0;
  /** How many connected peers have each piece. */
  readonly availability: Uint32Array;

  constructor(private readonly opts: SchedulerOptions) {
    this.have = new Uint8Array(Math.ceil(opts.pieceCount / 8));
    this.availability = new Uint32Array(opts.pieceCount);
    this.memoryBudgetBytes = opts.memoryBudgetBytes ?? defaultMemoryBudget(opts.pieceLength);
    this.bufferPool = opts.bufferPool ?? new PieceBufferPool(this.memoryBudgetBytes);
    this.random = opts.random ?? Math.random;
  }

  pieceSize(index: number): number {
    const { pieceLength, totalLength } = this.opts;
    return Math.min(pieceLength, totalLength - index * pieceLength);
  }

  /** Marks pieces verified earlier (resume, checking) as had. */
  setHave(index: number): void {
    if (hasBit(this.have, index)) return;
    this.have[index >> 3]! |= 0x80 >> (index & 7);
    this.haveCount++;
  }

  /** Forgets every verified piece (before a full recheck). */
  clearHave(): void {
    this.have.fill(0);
    this.haveCount = 0;
  }

  get isComplete(): boolean {
    return this.haveCount === this.opts.pieceCount;
  }

  /** State of one piece for the piece map. */
  pieceState(index: number): 'have' | 'in-flight' | 'missing' {
    if (hasBit(this.have, index)) return 'have';
    if (this.active.has(index) || this.pending.has(index)) return 'in-flight';
    return 'missing';
  }

  activePieceIndexes(): IterableIterator<number> {
    return this.active.keys();
  }

  pendingPieceIndexes(): IterableIterator<number> {
    return this.pending.values();
  }

  addPeer(peer: SchedulerPeer): void {
    this.peers.set(peer.key, { peer, outstanding: new Map() });
  }

  outstandingCount(peerKey: string): number {
    return this.peers.get(peerKey)?.outstanding.size ?? 0;
  }

  /** Oldest outstanding request's send time for the peer, for timeouts; null if none. */
  oldestRequestAt(peerKey: string): number | null {
    const entry = this.peers.get(peerKey);
    if (!entry || entry.outstanding.size === 0) return null;
    // Maps iterate in insertion order: the first entry is the oldest.
    return entry.outstanding.values().next().value ?? null;
  }

  /** Whether the peer has anything we still need. */
  isInteresting(peerHas: Uint8Array): boolean {
    const bytes = this.have.length;
    for (let i = 0; i < bytes; i++) {
      if ((peerHas[i] ?? 0) & ~this.have[i]!) return true;
    }
    return false;
  }

  /**
   * Chooses the next requests for a peer that has room: blocks of pieces already started
   * first (a finished piece frees memory and can be shared sooner), then new pieces rarest
   * first, and in endgame blocks already asked of someone else. Nothing while the peer has
   * less room than `minRoom`: the caller batches requests rather than sending one per block.
   */
  fill(peerKey: string, now: number, minRoom = 1): BlockRequest[] {
    const entry = this.peers.get(peerKey);
    if (!entry) return [];
    const { peer, outstanding } = entry;
    let room = peer.maxOutstanding - outstanding.size;
    if (room <= 0 || room < minRoom) return [];
    const out: BlockRequest[] = [];

    for (const piece of this.active.values()) {
      if (room <= 0) break;
      if (!hasBit(peer.has, piece.index)) continue;
      room -= this.takeOpenBlocks(piece, entry, room, now, out);
    }

    while (room > 0) {
      const slots = this.freePieceSlots();
      if (slots <= 0) {
        this.heldForMemory = true;
        if (this.opts.onSessionRoom) this.opts.sessionMemory?.waitForRoom(this.opts.onSessionRoom);
        break;
      }
      const perPiece = Math.ceil(this.opts.pieceLength / BLOCK_SIZE);
      const wanted = Math.min(slots, Math.max(1, Math.ceil(room / perPiece)));
      const randomFirst = this.haveCount < 4;
      const picks = pickPieces(
        {
          pieceCount: this.opts.pieceCount,
          have: this.have,
          peerHas: peer.has,
          availability: this.availability,
          inFlight: (i: number) => this.active.has(i) || this.pending.has(i),
          randomFirst,
          random: this.random,
          start: randomFirst ? undefined : this.pickCursor,
        },
        wanted,
      );
      if (picks.length === 0) break;
      this.pickCursor = picks[picks.length - 1]! + 1;
      for (const index of picks) {
        const piece = new ActivePiece(index, this.pieceSize(index));
        this.active.set(index, piece);
        this.startedBytes += piece.length;
        if (this.countedInSession) this.opts.sessionMemory?.take(piece.length);
        room -= this.takeOpenBlocks(piece, entry, room, now, out);
        if (room <= 0) break;
      }
    }

    if (room > 0 && this.inEndgame()) this.takeEndgameBlocks(entry, room, now, out);
    return out;
  }

  /** All missing pieces are started: ask a second peer for blocks still outstanding. */
  inEndgame(): boolean {
    return this.haveCount + this.active.size + this.pending.size >= this.opts.pieceCount;
  }

  /**
   * Records a received block. `block` may be a view of a socket's shared read buffer: it is
   * copied into its piece here and never kept.
   */
  onBlock(peerKey: string, index: number, begin: number, block: Uint8Array): BlockResult {
    const none: BlockResult = { accepted: false, cancels: [], completed: null };
    const piece = this.active.get(index);
    const entry = this.peers.get(peerKey);
    if (!piece || !entry || begin % BLOCK_SIZE !== 0) return none;
    const blockIndex = begin / BLOCK_SIZE;
    if (blockIndex >= piece.blockCount || block.length !== piece.blockLength(blockIndex))
      return none;
    const key = index * BLOCKS_PER_PIECE_MAX + blockIndex;
    entry.outstanding.delete(key);
    const owners = piece.owners[blockIndex];
    if (owners) {
      const at = owners.indexOf(peerKey);
      if (at >= 0) owners.splice(at, 1);
    }
    // Blocks of pieces we are not fetching are dropped. A block of a piece in progress is kept
    // even when this peer's request for it was released (a choke or a timeout races the data
    // already on the wire): throwing it away only to fetch it again helps nobody, and the
    // peer is still blamed if the piece fails its hash (contributors).
    if (piece.state[blockIndex] === BlockState.Received) return none;

    piece.data ??= this.takeBuffer(piece.length);
    piece.data.set(block, begin);
    piece.state[blockIndex] = BlockState.Received;
    piece.received++;
    piece.contributors.add(peerKey);

    const cancels: BlockResult['cancels'] = [];
    if (owners) {
      for (const other of owners) {
        this.peers.get(other)?.outstanding.delete(key);
        cancels.push({ peerKey: other, request: { index, begin, length: block.length } });
      }
      piece.owners[blockIndex] = undefined;
    }

    let completed: CompletedPiece | null = null;
    if (piece.received === piece.blockCount) {
      this.active.delete(index);
      this.startedBytes -= piece.length;
      this.pending.add(index);
      this.pendingBytes += piece.length;
      completed = { index, data: piece.data, contributors: piece.contributors };
    }
    return { accepted: true, cancels, completed };
  }

  /**
   * Gives a finished piece's buffer back (after it was written, or thrown away). Reusing
   * piece buffers keeps big allocations — and the garbage collector's pauses — off the hot path.
   */
  recycle(buffer: Buffer): void {
    // Only whole pieces: a short last piece's buffer would rarely fit another.
    if (buffer.length === this.opts.pieceLength) this.bufferPool.give(buffer);
  }

  private takeBuffer(length: number): Buffer {
    // Owns its memory (it is transferred to the disk thread) and is page-aligned where the
    // engine allows (written with O_DIRECT).
    return length === this.opts.pieceLength
      ? this.bufferPool.take(length)
      : allocPieceBuffer(length);
  }

  /** The piece's hash matched and it is on disk. */
  onPieceVerified(index: number): void {
    this.setHave(index);
    this.releasePending(index);
  }

  /** The piece's hash did not match: start it over. */
  onPieceFailed(index: number): void {
    this.releasePending(index);
  }

  /**
   * Whether a fill stopped at the memory budget since the last call (and memory has been freed
   * since, if the caller asks after onPieceVerified or onPieceFailed): then peers must be asked
   * to fill again now. Otherwise, with every request answered while pieces were out for
   * writing, no block arrives to prompt the next fill, and the download stalls until the
   * next tick (the disk worker finishes a backlog of 256 pieces in a fraction of a second:
   * 750 ms of silence every 64 MiB with 2,000 small files).
   */
  takeMemoryWait(): boolean {
    const held = this.heldForMemory;
    this.heldForMemory = false;
    return held;
  }

  /**
   * The peer choked us, timed out or went away: its outstanding requests go back to the pool
   * so that another peer is asked. Returns how many were released.
   */
  releasePeerRequests(peerKey: string): number {
    const entry = this.peers.get(peerKey);
    if (!entry) return 0;
    const released = entry.outstanding.size;
    for (const key of entry.outstanding.keys()) {
      const index = Math.floor(key / BLOCKS_PER_PIECE_MAX);
      const blockIndex = key % BLOCKS_PER_PIECE_MAX;
      const piece = this.active.get(index);
      if (!piece) continue;
      const owners = piece.owners[blockIndex];
      if (owners) {
        const at = owners.indexOf(peerKey);
        if (at >= 0) owners.splice(at, 1);
        if (owners.length > 0) continue;
        piece.owners[blockIndex] = undefined;
      }
      if (piece.state[blockIndex] === BlockState.Requested) {
        piece.state[blockIndex] = BlockState.Open;
        if (blockIndex < piece.firstOpenHint) piece.firstOpenHint = blockIndex;
      }
    }
    entry.outstanding.clear();
    return released;
  }

  removePeer(peerKey: string): void {
    this.releasePeerRequests(peerKey);
    this.peers.delete(peerKey);
    // Data can no longer arrive from this peer: untouched pieces go back to the picker.
    this.dropIdlePieces();
  }

  /** Buffers of pieces in flight and awaiting verification, in bytes. */
  get bufferedBytes(): number {
    let bytes = this.pendingBytes;
    for (const piece of this.active.values()) if (piece.data) bytes += piece.length;
    return bytes;
  }

  private freePieceSlots(): number {
    const own = this.memoryBudgetBytes - this.pendingBytes - this.startedBytes;
    const free = Math.min(own, this.opts.sessionMemory?.freeBytes ?? own);
    // Always allow one piece so a piece bigger than the budget can still be fetched.
    if (this.active.size === 0 && this.pending.size === 0)
      return Math.max(1, Math.floor(free / this.opts.pieceLength));
    return Math.floor(free / this.opts.pieceLength);
  }

  private takeOpenBlocks(
    piece: ActivePiece,
    entry: PeerRequests,
    room: number,
    now: number,
    out: BlockRequest[],
  ): number {
    let taken = 0;
    for (let b = piece.firstOpenHint; b < piece.blockCount && taken < room; b++) {
      if (piece.state[b] !== BlockState.Open) {
        if (b === piece.firstOpenHint) piece.firstOpenHint++;
        continue;
      }
      piece.state[b] = BlockState.Requested;
      if (b === piece.firstOpenHint) piece.firstOpenHint++;
      piece.owners[b] = [entry.peer.key];
      entry.outstanding.set(piece.index * BLOCKS_PER_PIECE_MAX + b, now);
      out.push({ index: piece.index, begin: b * BLOCK_SIZE, length: piece.blockLength(b) });
      taken++;
    }
    return taken;
  }

  private takeEndgameBlocks(
    entry: PeerRequests,
    room: number,
    now: number,
    out: BlockRequest[],
  ): void {
    const { peer } = entry;
    for (const piece of this.active.values()) {
      if (room <= 0) return;
      if (!hasBit(peer.has, piece.index)) continue;
      for (let b = 0; b < piece.blockCount && room > 0; b++) {
        if (piece.state[b] !== BlockState.Requested) continue;
        const owners = piece.owners[b];
        if (!owners || owners.length >= MAX_REQUESTS_PER_BLOCK || owners.includes(peer.key))
          continue;
        // Only blocks that have waited a while: a fresh request is most likely already on its
        // way, and asking twice would only fetch it twice (the cancel comes too late).
        const key = piece.index * BLOCKS_PER_PIECE_MAX + b;
        const askedAt =
          owners.length > 0 ? this.peers.get(owners[0]!)?.outstanding.get(key) : undefined;
        if (askedAt !== undefined && now - askedAt < ENDGAME_MIN_WAIT_MS) continue;
        owners.push(peer.key);
        entry.outstanding.set(piece.index * BLOCKS_PER_PIECE_MAX + b, now);
        out.push({ index: piece.index, begin: b * BLOCK_SIZE, length: piece.blockLength(b) });
        room--;
      }
    }
  }

  private releasePending(index: number): void {
    if (!this.pending.delete(index)) return;
    this.pendingBytes -= this.pieceSize(index);
    if (this.countedInSession) this.opts.sessionMemory?.give(this.pieceSize(index));
  }

  /**
   * Whether what this torrent holds counts against the session's limit: not while it is
   * paused (it cannot take more then, and its half-done pieces, kept for when it resumes,
   * must not hold back the torrents that are running).
   */
  countInSession(counted: boolean): void {
    if (counted === this.countedInSession) return;
    this.countedInSession = counted;
    const held = this.startedBytes + this.pendingBytes;
    if (counted) this.opts.sessionMemory?.take(held);
    else this.opts.sessionMemory?.give(held);
  }

  /**
   * The torrent is going away: what it holds is given back to the session's memory. Its
   * buffers may still be on their way to the disk, but nothing of this torrent asks for more.
   */
  detach(): void {
    const { sessionMemory, onSessionRoom } = this.opts;
    if (onSessionRoom) sessionMemory?.stopWaiting(onSessionRoom);
    this.countInSession(false);
    this.startedBytes = 0;
    this.pendingBytes = 0;
    this.active.clear();
    this.pending.clear();
  }

  /** A started piece with nothing received and nothing outstanding goes back to the picker. */
  private dropIdlePieces(): void {
    for (const [index, piece] of this.active) {
      if (piece.received > 0) continue;
      if (piece.state.some((s) => s !== BlockState.Open)) continue;
      this.active.delete(index);
      this.startedBytes -= piece.length;
      if (this.countedInSession) this.opts.sessionMemory?.give(piece.length);
    }
  }
}
