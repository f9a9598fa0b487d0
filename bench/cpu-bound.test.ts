import { describe, expect, it } from 'vitest';
import { cpuBound, cpuBoundNote } from './cpu-bound';

const GiB = 2 ** 30;

describe('cpuBound', () => {
  it('splits the cores between the seeders and the downloader', () => {
    // 2 cores; the seeders take 1 s per GiB and the downloader 1 s per GiB: 1 GiB/s in all.
    const b = cpuBound({ cores: 2, seederCpuPerGiB: 1, downloaderCpuPerGiB: 1 });
    expect(b.zeroCpuBytesPerSec).toBeCloseTo(2 * GiB);
    expect(b.downloaderBytesPerSec).toBeCloseTo(GiB);
    // Half a GiB per second leaves 4 - 1 = 3 CPU s per GiB for the downloader.
    expect(b.cpuPerGiBFor(GiB / 2)).toBeCloseTo(3);
    expect(b.cpuPerGiBFor(4 * GiB)).toBeLessThan(0);
    expect(cpuBound({ cores: 2, seederCpuPerGiB: 1 }).downloaderBytesPerSec).toBeNull();
  });
});

describe('cpuBoundNote', () => {
  it('says when 80 % of the ceiling would need less CPU than hashing alone', () => {
    // Session 10's 1 GiB figures: seeders 2.38 s/GiB, Tessera 2.25 s/GiB at 373 MB/s; SHA-1
    // 1,592 MB/s and loopback 985 MB/s.
    const note = cpuBoundNote({
      cores: 2,
      seederCpuPerGiB: 2.38,
      tessera: { cpuPerGiB: 2.25, bytesPerSec: 373e6 },
      ceilings: { sha1: 1592e6, lowest: 985e6 },
    });
    expect(note).toContain('could reach at most 902 MB/s');
    expect(note).toContain('the cores allow 464 MB/s: Tessera reached 80 % of that');
    // 2 × 2^30 / 788e6 - 2.38 = 0.35 s/GiB, under SHA-1's 0.67 s/GiB.
    expect(note).toContain('at most 0.35 CPU s per GiB, less than checking');
    expect(note).toContain('(0.67 s per GiB)');
  });

  it('says when the seeders alone leave no room', () => {
    const note = cpuBoundNote({
      cores: 2,
      seederCpuPerGiB: 4,
      tessera: null,
      ceilings: { sha1: 1592e6, lowest: 985e6 },
    });
    expect(note).toContain('out of reach in this swarm for any downloader');
    expect(note).not.toContain("Tessera's own");
  });
});
