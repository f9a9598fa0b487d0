/** What the choker needs to know of each connected peer. */
export interface ChokeCandidate {
  key: string;
  peerInterested: boolean;
  /** Bytes per second the peer sends us: reciprocate the best uploaders while downloading. */
  downBytesPerSec: number;
  /** Bytes per second we send the peer: while seeding, favour who takes data fastest. */
  upBytesPerSec: number;
  /** A peer with every piece never needs our data. */
  isSeed: boolean;
}

export interface ChokeDecision {
  unchoke: Set<string>;
  optimistic: string | null;
}

/**
 * Tit-for-tat as in BEP 3: unchoke the `slots` interested peers that serve us best (or, when
 * we are seeding, that download from us fastest), plus one optimistic unchoke that rotates so
 * newcomers get a chance to prove themselves. Pure: the torrent calls it every 10 seconds.
 */
export function chooseUnchoked(
  peers: readonly ChokeCandidate[],
  opts: {
    slots: number;
    seeding: boolean;
    previousOptimistic: string | null;
    rotateOptimistic: boolean;
    random?: () => number;
  },
): ChokeDecision {
  const random = opts.random ?? Math.random;
  const candidates = peers.filter((p) => p.peerInterested && !p.isSeed);
  const rate = (p: ChokeCandidate) => (opts.seeding ? p.upBytesPerSec : p.downBytesPerSec);
  const ranked = [...candidates].sort((a, b) => rate(b) - rate(a));
  const unchoke = new Set(ranked.slice(0, opts.slots).map((p) => p.key));
  const rest = ranked.slice(opts.slots);

  let optimistic: string | null = null;
  const keep = opts.previousOptimistic && rest.some((p) => p.key === opts.previousOptimistic);
  if (keep && !opts.rotateOptimistic) optimistic = opts.previousOptimistic;
  else if (rest.length > 0) optimistic = rest[Math.floor(random() * rest.length)]!.key;
  if (optimistic) unchoke.add(optimistic);
  return { unchoke, optimistic };
}
