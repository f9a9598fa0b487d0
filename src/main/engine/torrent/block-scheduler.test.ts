import { describe, expect, it } from 'vitest';
import {
  BLOCK_SIZE,
  BlockScheduler,
  defaultMemoryBudget,
  ENDGAME_MIN_WAIT_MS,
  type SchedulerPeer,
} from './block-scheduler';
import { SessionMemory } from './session-memory';

/** A bitfield with the given pieces set. */
function bits(pieceCount: number, pieces: number[]): Uint8Array {
  const b = new Uint8Array(Math.ceil(pieceCount / 8));
  for (const i of pieces) b[i >> 3]! |= 0x80 >> (i & 7);
  return b;
}

function peer(key: string, has: Uint8Array, maxOutstanding = 100): SchedulerPeer {
  return { key, has, maxOutstanding };
}

function setup(
  pieceCount = 3,
  pieceLength = 2 * BLOCK_SIZE,
  totalLength = pieceCount * pieceLength,
) {
  const s = new BlockScheduler({ pieceCount, pieceLength, totalLength, random: () => 0 });
  return s;
}

describe('BlockScheduler', () => {
  it('asks a peer only for blocks of pieces it has, 16 KiB each, last piece short', () => {
    const s = setup(3, 2 * BLOCK_SIZE, 2 * BLOCK_SIZE * 2 + 1000);
    s.addPeer(peer('a', bits(3, [2])));
    s.availability.set([1, 1, 1]);
    const reqs = s.fill('a', 0);
    expect(reqs).toEqual([{ index: 2, begin: 0, length: 1000 }]);
    s.addPeer(peer('b', bits(3, [0, 1, 2])));
    const more = s.fill('b', ENDGAME_MIN_WAIT_MS);
    // Pieces 0 and 1 in full, then (every piece now started: endgame) the short block of
    // piece 2 that has been outstanding at a for a while.
    expect(more.slice(0, 4).every((r) => r.length === BLOCK_SIZE && r.index !== 2)).toBe(true);
    expect(more.slice(4)).toEqual([{ index: 2, begin: 0, length: 1000 }]);
  });

  it('prefers the rarest piece once a few pieces are done', () => {
    const s = setup(3);
    for (const i of [0, 1, 2]) s.availability[i] = [3, 1, 2][i]!;
    // Four pieces done would leave random-first mode; with 3 pieces, mark none and rely on rarity
    // by disabling random-first through a big torrent instead.
    const big = new BlockScheduler({
      pieceCount: 10,
      pieceLength: BLOCK_SIZE,
      totalLength: 10 * BLOCK_SIZE,
      random: () => 0,
    });
    for (const i of [0, 1, 2, 3]) big.setHave(i);
    big.availability.set([9, 9, 9, 9, 5, 2, 7, 7, 7, 7]);
    big.addPeer(peer('a', bits(10, [4, 5, 6, 7, 8, 9]), 1));
    expect(big.fill('a', 0)).toEqual([{ index: 5, begin: 0, length: BLOCK_SIZE }]);
  });

  it('after random-first, starts equally rare pieces where the last pick ended', () => {
    const s = new BlockScheduler({
      pieceCount: 40,
      pieceLength: BLOCK_SIZE,
      totalLength: 40 * BLOCK_SIZE,
      random: () => 0.5, // every scan that is not told where would start at piece 20
    });
    for (const i of [0, 1, 2, 3]) s.setHave(i);
    s.availability.fill(2);
    const all = bits(40, [...Array(40).keys()]);
    s.addPeer(peer('a', all, 2));
    s.addPeer(peer('b', all, 2));
    expect(s.fill('a', 0).map((r) => r.index)).toEqual([20, 21]);
    expect(s.fill('b', 0).map((r) => r.index)).toEqual([22, 23]);
  });

  it('assembles a piece from several peers and reports who contributed', () => {
    const s = setup(1, 2 * BLOCK_SIZE);
    s.availability[0] = 2;
    s.addPeer(peer('a', bits(1, [0]), 1));
    s.addPeer(peer('b', bits(1, [0]), 1));
    const [ra] = s.fill('a', 0);
    const [rb] = s.fill('b', 0);
    expect(ra!.begin).not.toBe(rb!.begin);
    const first = s.onBlock('a', 0, ra!.begin, new Uint8Array(BLOCK_SIZE).fill(1));
    expect(first).toMatchObject({ accepted: true, completed: null });
    const second = s.onBlock('b', 0, rb!.begin, new Uint8Array(BLOCK_SIZE).fill(2));
    expect(second.completed?.index).toBe(0);
    expect([...second.completed!.contributors].sort()).toEqual(['a', 'b']);
    expect(second.completed!.data[0]).toBe(ra!.begin === 0 ? 1 : 2);
    expect(s.pieceState(0)).toBe('in-flight');
    s.onPieceVerified(0);
    expect(s.pieceState(0)).toBe('have');
    expect(s.isComplete).toBe(true);
  });

  it('drops blocks never requested and blocks of the wrong size', () => {
    const s = setup(2);
    s.availability.set([1, 1]);
    s.addPeer(peer('a', bits(2, [0, 1]), 1));
    const [r] = s.fill('a', 0);
    expect(s.onBlock('a', r!.index === 0 ? 1 : 0, 0, new Uint8Array(BLOCK_SIZE)).accepted).toBe(
      false,
    );
    expect(s.onBlock('a', r!.index, r!.begin, new Uint8Array(10)).accepted).toBe(false);
    expect(s.onBlock('a', r!.index, r!.begin + 1, new Uint8Array(BLOCK_SIZE)).accepted).toBe(false);
    expect(s.onBlock('a', r!.index, r!.begin, new Uint8Array(BLOCK_SIZE)).accepted).toBe(true);
    // The same block twice is wasted the second time.
    expect(s.onBlock('a', r!.index, r!.begin, new Uint8Array(BLOCK_SIZE)).accepted).toBe(false);
  });

  it('keeps a block that arrives after its request was released (choke racing data on the wire)', () => {
    const s = setup(1, 2 * BLOCK_SIZE);
    s.availability[0] = 1;
    s.addPeer(peer('a', bits(1, [0]), 10));
    s.fill('a', 0);
    s.releasePeerRequests('a');
    const late = s.onBlock('a', 0, 0, new Uint8Array(BLOCK_SIZE));
    expect(late.accepted).toBe(true);
    // Only the other block is asked for again.
    expect(s.fill('a', 0)).toEqual([{ index: 0, begin: BLOCK_SIZE, length: BLOCK_SIZE }]);
  });

  it('gives a choking peer’s requests to another peer', () => {
    const s = setup(1, 2 * BLOCK_SIZE);
    s.availability[0] = 2;
    s.addPeer(peer('a', bits(1, [0]), 10));
    s.addPeer(peer('b', bits(1, [0]), 10));
    expect(s.fill('a', 0)).toHaveLength(2);
    // Not endgame-eligible yet for b: everything is requested from a, so b gets duplicates only in endgame.
    expect(s.releasePeerRequests('a')).toBe(2);
    const reqs = s.fill('b', 0);
    expect(reqs.map((r) => r.begin).sort((x, y) => x - y)).toEqual([0, BLOCK_SIZE]);
  });

  it('in endgame asks a second peer for outstanding blocks and cancels the loser', () => {
    const s = setup(1, 2 * BLOCK_SIZE);
    s.availability[0] = 2;
    s.addPeer(peer('a', bits(1, [0]), 10));
    s.addPeer(peer('b', bits(1, [0]), 10));
    const ra = s.fill('a', 0);
    expect(s.inEndgame()).toBe(true);
    // Blocks asked for a moment ago are not duplicated yet...
    expect(s.fill('b', ENDGAME_MIN_WAIT_MS - 1)).toEqual([]);
    // ...but once they have waited, a second peer is asked too.
    const rb = s.fill('b', ENDGAME_MIN_WAIT_MS);
    expect(rb).toHaveLength(2);
    const result = s.onBlock('b', 0, 0, new Uint8Array(BLOCK_SIZE));
    expect(result.cancels).toEqual([
      { peerKey: 'a', request: { index: 0, begin: 0, length: BLOCK_SIZE } },
    ]);
    expect(s.outstandingCount('a')).toBe(ra.length - 1);
    // A third peer never gets a block already asked twice.
    s.addPeer(peer('c', bits(1, [0]), 10));
    expect(s.fill('c', 10 * ENDGAME_MIN_WAIT_MS)).toEqual([]);
  });

  it('a failed piece is fetched again', () => {
    const s = setup(1, BLOCK_SIZE);
    s.availability[0] = 1;
    s.addPeer(peer('a', bits(1, [0]), 10));
    const [r] = s.fill('a', 0);
    const done = s.onBlock('a', 0, r!.begin, new Uint8Array(BLOCK_SIZE)).completed;
    expect(done).not.toBeNull();
    s.onPieceFailed(0);
    expect(s.pieceState(0)).toBe('missing');
    expect(s.fill('a', 0)).toEqual([{ index: 0, begin: 0, length: BLOCK_SIZE }]);
  });

  it('keeps piece buffers within the memory budget', () => {
    const pieceLength = 4 * BLOCK_SIZE;
    const s = new BlockScheduler({
      pieceCount: 100,
      pieceLength,
      totalLength: 100 * pieceLength,
      memoryBudgetBytes: 3 * pieceLength,
    });
    s.availability.fill(1);
    s.addPeer(peer('a', bits(100, [...Array(100).keys()]), 1000));
    const reqs = s.fill('a', 0);
    expect(new Set(reqs.map((r) => r.index)).size).toBe(3);
  });

  it('asks for nothing while the peer has less room than the batch asked for', () => {
    const s = setup(4, 4 * BLOCK_SIZE);
    s.availability.fill(1);
    s.addPeer(peer('a', bits(4, [0, 1, 2, 3]), 8));
    const first = s.fill('a', 0, 2);
    expect(first).toHaveLength(8);
    s.onBlock('a', first[0]!.index, first[0]!.begin, new Uint8Array(BLOCK_SIZE));
    // One block answered: room for one, less than the batch of two.
    expect(s.fill('a', 0, 2)).toEqual([]);
    s.onBlock('a', first[1]!.index, first[1]!.begin, new Uint8Array(BLOCK_SIZE));
    expect(s.fill('a', 0, 2)).toHaveLength(2);
  });

  it('says when a fill was held back by the memory budget, once', () => {
    const pieceLength = BLOCK_SIZE;
    const s = new BlockScheduler({
      pieceCount: 10,
      pieceLength,
      totalLength: 10 * pieceLength,
      memoryBudgetBytes: 2 * pieceLength,
    });
    s.availability.fill(1);
    s.addPeer(peer('a', bits(10, [...Array(10).keys()]), 2));
    // Room for 2 requests, budget for 2 pieces: not held back.
    const first = s.fill('a', 0);
    expect(first).toHaveLength(2);
    expect(s.takeMemoryWait()).toBe(false);
    const done = first.map((r) => s.onBlock('a', r.index, r.begin, new Uint8Array(BLOCK_SIZE)));
    // Both pieces are out for writing; the peer has room but the budget is spent.
    expect(s.fill('a', 0)).toEqual([]);
    expect(s.takeMemoryWait()).toBe(true);
    expect(s.takeMemoryWait()).toBe(false);
    s.onPieceVerified(done[0]!.completed!.index);
    expect(s.fill('a', 0)).toHaveLength(1);
  });
});

describe('session memory', () => {
  const pieceLength = BLOCK_SIZE;
  const all = bits(10, [...Array(10).keys()]);
  function torrent(memory: SessionMemory, onSessionRoom?: () => void): BlockScheduler {
    const s = new BlockScheduler({
      pieceCount: 10,
      pieceLength,
      totalLength: 10 * pieceLength,
      memoryBudgetBytes: 4 * pieceLength,
      sessionMemory: memory,
      onSessionRoom,
    });
    s.availability.fill(1);
    s.addPeer(peer('p', all, 100));
    return s;
  }
  const pieces = (reqs: { index: number }[]) => new Set(reqs.map((r) => r.index)).size;

  it('two torrents share the session limit; each may always start one piece', () => {
    const memory = new SessionMemory(5 * pieceLength);
    const a = torrent(memory);
    const b = torrent(memory);
    const c = torrent(memory);
    expect(pieces(a.fill('p', 0))).toBe(4); // its own budget
    expect(pieces(b.fill('p', 0))).toBe(1); // what the session has left
    expect(pieces(c.fill('p', 0))).toBe(1); // nothing left, but one piece to make progress
    expect(memory.heldBytes).toBe(6 * pieceLength);
    expect(b.fill('p', 0)).toEqual([]);
  });

  /** Wakes come in a microtask, after the call that gave memory back. */
  const wakesDelivered = () => new Promise<void>((resolve) => queueMicrotask(resolve));

  it('wakes a torrent held back by the session limit when another gives memory back', async () => {
    const memory = new SessionMemory(5 * pieceLength);
    const a = torrent(memory);
    let woken = 0;
    const b = torrent(memory, () => woken++);
    const first = a.fill('p', 0);
    expect(pieces(first)).toBe(4);
    const started = b.fill('p', 0);
    expect(pieces(started)).toBe(1);
    b.onBlock('p', started[0]!.index, 0, new Uint8Array(BLOCK_SIZE));
    expect(b.fill('p', 0)).toEqual([]); // its one piece is out for writing; no room left
    expect(woken).toBe(0);
    const done = a.onBlock('p', first[0]!.index, 0, new Uint8Array(BLOCK_SIZE)).completed!;
    a.onPieceVerified(done.index);
    expect(woken).toBe(0);
    await wakesDelivered();
    expect(woken).toBe(1);
    expect(b.takeMemoryWait()).toBe(true);
    expect(pieces(b.fill('p', 0))).toBe(1);
  });

  it('a paused torrent keeps its half-done pieces without holding back the others', () => {
    const memory = new SessionMemory(4 * pieceLength);
    const a = torrent(memory);
    const b = torrent(memory);
    expect(pieces(a.fill('p', 0))).toBe(4);
    a.countInSession(false); // paused
    expect(memory.heldBytes).toBe(0);
    expect(pieces(b.fill('p', 0))).toBe(4);
    a.countInSession(true); // running again: over the limit until pieces are written
    expect(memory.heldBytes).toBe(8 * pieceLength);
    expect(a.fill('p', 0)).toEqual([]);
    const inFlight = [...Array(10).keys()].filter((i) => a.pieceState(i) === 'in-flight');
    expect(inFlight).toHaveLength(4);
  });

  it('a torrent that goes away gives back what it held', async () => {
    const memory = new SessionMemory(4 * pieceLength);
    const a = torrent(memory);
    let woken = 0;
    const b = torrent(memory, () => woken++);
    const reqs = a.fill('p', 0);
    a.onBlock('p', reqs[0]!.index, 0, new Uint8Array(BLOCK_SIZE)); // one piece out for writing
    expect(memory.heldBytes).toBe(4 * pieceLength);
    b.fill('p', 0);
    const held = b.fill('p', 0);
    expect(held).toEqual([]);
    a.detach();
    expect(memory.heldBytes).toBe(pieceLength);
    await wakesDelivered();
    expect(woken).toBe(1);
    // The piece that was out for writing comes back after all: not given back twice.
    a.onPieceVerified(reqs[0]!.index);
    expect(memory.heldBytes).toBe(pieceLength);
    expect(pieces(b.fill('p', 0))).toBe(3);
  });
});

describe('defaultMemoryBudget', () => {
  it('is 32 MiB, or 24 pieces when pieces are bigger, up to 96 MiB', () => {
    const MiB = 1024 * 1024;
    expect(defaultMemoryBudget(256 * 1024)).toBe(32 * MiB);
    expect(defaultMemoryBudget(1 * MiB)).toBe(32 * MiB);
    expect(defaultMemoryBudget(2 * MiB)).toBe(48 * MiB);
    expect(defaultMemoryBudget(4 * MiB)).toBe(96 * MiB);
    expect(defaultMemoryBudget(16 * MiB)).toBe(96 * MiB);
  });

  it('lets a scheduler of 4 MiB pieces start 24 of them, not 16', () => {
    const pieceLength = 4 * 1024 * 1024;
    const s = new BlockScheduler({ pieceCount: 64, pieceLength, totalLength: 64 * pieceLength });
    s.availability.fill(1);
    s.addPeer(peer('a', bits(64, [...Array(64).keys()]), 100_000));
    expect(new Set(s.fill('a', 0).map((r) => r.index)).size).toBe(24);
  });
});

describe('piece buffers', () => {
  it('reuses a recycled buffer for the next full-size piece', () => {
    const s = new BlockScheduler({
      pieceCount: 3,
      pieceLength: BLOCK_SIZE,
      totalLength: 3 * BLOCK_SIZE,
      random: () => 0,
    });
    s.availability.fill(1);
    s.addPeer(peer('a', bits(3, [0, 1, 2]), 1));
    const [r1] = s.fill('a', 0);
    const first = s.onBlock('a', r1!.index, 0, new Uint8Array(BLOCK_SIZE).fill(1)).completed!;
    s.onPieceVerified(first.index);
    s.recycle(first.data);
    const [r2] = s.fill('a', 0);
    const second = s.onBlock('a', r2!.index, 0, new Uint8Array(BLOCK_SIZE).fill(2)).completed!;
    expect(second.data).toBe(first.data);
    expect(second.data[0]).toBe(2);
  });

  it('never hands out one buffer to two pieces, even when recycled twice', () => {
    const s = new BlockScheduler({
      pieceCount: 3,
      pieceLength: BLOCK_SIZE,
      totalLength: 3 * BLOCK_SIZE,
      random: () => 0,
    });
    s.availability.fill(1);
    s.addPeer(peer('a', bits(3, [0, 1, 2]), 1));
    const [r1] = s.fill('a', 0);
    const first = s.onBlock('a', r1!.index, 0, new Uint8Array(BLOCK_SIZE).fill(1)).completed!;
    s.onPieceVerified(first.index);
    s.recycle(first.data);
    s.recycle(first.data);
    const [r2] = s.fill('a', 0);
    const second = s.onBlock('a', r2!.index, 0, new Uint8Array(BLOCK_SIZE).fill(2)).completed!;
    const [r3] = s.fill('a', 0);
    const third = s.onBlock('a', r3!.index, 0, new Uint8Array(BLOCK_SIZE).fill(3)).completed!;
    expect(second.data[0]).toBe(2);
    expect(third.data[0]).toBe(3);
  });

  it('gives the short last piece a buffer of its own length and takes it back', () => {
    const s = new BlockScheduler({
      pieceCount: 2,
      pieceLength: BLOCK_SIZE,
      totalLength: BLOCK_SIZE + 100,
      random: () => 0,
    });
    s.availability.fill(1);
    s.addPeer(peer('a', bits(2, [1]), 1));
    const [r] = s.fill('a', 0);
    expect(r).toEqual({ index: 1, begin: 0, length: 100 });
    const done = s.onBlock('a', 1, 0, new Uint8Array(100).fill(9)).completed!;
    expect(done.data.length).toBe(100);
    s.onPieceVerified(1);
    s.recycle(done.data);
  });
});
