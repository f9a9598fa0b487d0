/**
 * How fast any downloader could go in a swarm whose seeders share the machine's cores: the
 * seeders' CPU per GiB served and the downloader's own CPU per GiB fetched must both fit into
 * `cores` seconds per second. The machine's ceilings (SHA-1, disk, loopback) leave that out;
 * on 2 cores the seeders alone use more than half of them.
 */
export interface CpuBound {
  /** What a downloader using no CPU at all could reach, bytes per second. */
  zeroCpuBytesPerSec: number;
  /** What a downloader using `cpuPerGiB` could reach; null without one. */
  downloaderBytesPerSec: number | null;
  /**
   * The most CPU per GiB a downloader may use and still reach `target` bytes per second here;
   * negative when the seeders alone leave too little.
   */
  cpuPerGiBFor(targetBytesPerSec: number): number;
}

export function cpuBound(o: {
  cores: number;
  seederCpuPerGiB: number;
  downloaderCpuPerGiB?: number;
}): CpuBound {
  const GiB = 2 ** 30;
  const rate = (cpuPerGiB: number) => (o.cores / cpuPerGiB) * GiB;
  return {
    zeroCpuBytesPerSec: rate(o.seederCpuPerGiB),
    downloaderBytesPerSec:
      o.downloaderCpuPerGiB === undefined ? null : rate(o.seederCpuPerGiB + o.downloaderCpuPerGiB),
    cpuPerGiBFor: (target) => (o.cores * GiB) / target - o.seederCpuPerGiB,
  };
}

/** The bench's paragraph on it, for one case. */
export function cpuBoundNote(o: {
  cores: number;
  seederCpuPerGiB: number;
  tessera: { cpuPerGiB: number; bytesPerSec: number } | null;
  ceilings: { sha1: number; lowest: number };
}): string {
  const bound = cpuBound({
    cores: o.cores,
    seederCpuPerGiB: o.seederCpuPerGiB,
    downloaderCpuPerGiB: o.tessera?.cpuPerGiB,
  });
  const MB = (bytesPerSec: number) => `${(bytesPerSec / 1e6).toFixed(0)} MB/s`;
  const lines = [
    `The seeders used ${o.seederCpuPerGiB.toFixed(2)} CPU s per GiB they served: on ${o.cores} cores a downloader using no CPU at all could reach at most ${MB(bound.zeroCpuBytesPerSec)} in this swarm.`,
  ];
  if (o.tessera && bound.downloaderBytesPerSec !== null)
    lines.push(
      `With Tessera's own ${o.tessera.cpuPerGiB.toFixed(2)} CPU s per GiB, the cores allow ${MB(bound.downloaderBytesPerSec)}: Tessera reached ${((100 * o.tessera.bytesPerSec) / bound.downloaderBytesPerSec).toFixed(0)} % of that.`,
    );
  const target = 0.8 * o.ceilings.lowest;
  const allowed = bound.cpuPerGiBFor(target);
  const hashing = 2 ** 30 / o.ceilings.sha1;
  lines.push(
    allowed <= 0
      ? `80 % of the machine's ceiling (${MB(target)}) is out of reach in this swarm for any downloader: the seeders alone need more than the cores give.`
      : `80 % of the machine's ceiling (${MB(target)}) would need a downloader using at most ${allowed.toFixed(2)} CPU s per GiB${allowed < hashing ? `, less than checking the pieces' SHA-1 alone takes (${hashing.toFixed(2)} s per GiB)` : ''}.`,
  );
  return lines.join('\n');
}
