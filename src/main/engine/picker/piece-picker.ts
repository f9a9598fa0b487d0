import { hasBit } from './bitfield';

export interface PickerInput {
  pieceCount: number;
  /** Our verified pieces. */
  have: Uint8Array;
  /** The peer's pieces. */
  peerHas: Uint8Array;
  /** How many connected peers have each piece. */
  availability: Uint16Array | Uint32Array;
  /** Pieces already started (or being verified): never picked again as new. */
  inFlight: (index: number) => boolean;
  /** Fewer than a few pieces done: pick at random, so we soon have something to trade. */
  randomFirst: boolean;
  random?: () => number;
  /**
   * Where to start scanning (default: a random piece). Among equally rare pieces the scan
   * takes the first ones it meets, so starting where the last pick ended makes consecutive
   * picks neighbours on disk (libtorrent's piece extent affinity): the disk thread then writes
   * them as one larger write instead of one per piece.
   */
  start?: number;
}

/**
 * New pieces to start for a peer: the rarest ones it has and we lack, ties broken at random
 * (so that downloaders spread over the swarm instead of all chasing the same piece).
 *
 * One pass over the pieces, keeping the `max` best seen so far: no sort of the whole torrent,
 * so it stays cheap with 100,000 pieces; with rarity 1 (the least possible among connected
 * peers) nothing can beat a full set of candidates, but the scan goes on only while it can.
 */
export function pickPieces(input: PickerInput, max: number): number[] {
  const { pieceCount, have, peerHas, availability, inFlight } = input;
  const random = input.random ?? Math.random;
  if (max <= 0) return [];
  const candidates: { index: number; rarity: number }[] = [];
  let worst = -1;
  let worstRarity = -1;
  // Scan from a random piece unless told where: among equally rare pieces, which one wins is
  // then random.
  const start =
    pieceCount === 0
      ? 0
      : input.start !== undefined && input.start >= 0 && input.start < pieceCount
        ? input.start
        : Math.floor(random() * pieceCount);
  for (let k = 0; k < pieceCount; k++) {
    const i = k + start < pieceCount ? k + start : k + start - pieceCount;
    if (!hasBit(peerHas, i) || hasBit(have, i)) continue;
    const rarity = input.randomFirst ? 0 : (availability[i] ?? 0);
    if (candidates.length >= max && rarity >= worstRarity) continue;
    if (inFlight(i)) continue;
    if (candidates.length < max) candidates.push({ index: i, rarity });
    else candidates[worst] = { index: i, rarity };
    if (candidates.length === max) {
      // Among equally bad candidates the one scanned last goes first, keeping the earlier ones
      // (the neighbours of the start) together.
      worst = 0;
      for (let c = 1; c < candidates.length; c++)
        if (candidates[c]!.rarity >= candidates[worst]!.rarity) worst = c;
      worstRarity = candidates[worst]!.rarity;
      // In random-first mode every candidate is as good as any other: stop early.
      if (input.randomFirst) break;
    }
  }
  candidates.sort((a, b) => a.rarity - b.rarity);
  return candidates.map((c) => c.index);
}
