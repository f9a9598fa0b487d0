// What Linux's /proc says of a process, for the benchmarks.
import { readdir, readFile } from 'node:fs/promises';

/** The process's peak resident memory so far (VmHWM), in KiB; throws when it is gone. */
export async function peakRssKbOf(pid: number | 'self'): Promise<number | null> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
  return kb === undefined ? null : Number(kb);
}

/** A process's CPU seconds so far, user + system, from /proc (throws once it is gone). */
export async function cpuSecOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ on Linux
}

export interface ProcessUsage {
  /** CPU seconds at the last sample (the process's whole life up to then). */
  lastCpuSec: number | null;
  peakRssKb: number | null;
  /** CPU seconds spent between two Date.now() moments, interpolated between samples. */
  cpuBetween(from: number, to: number): number | null;
}

/**
 * CPU seconds and peak RSS of a process, sampled from /proc every 20 ms until stopped; `findPid`
 * is asked until it names the process. Every client is measured this way for its transfer, so
 * the figures compare like with like. The last sample is at most 20 ms old when the process
 * exits, so whole-process CPU is a slight undercount.
 */
export function watchProcess(findPid: () => Promise<number | null>): {
  /** One more sample now (after any running one): a client about to be stopped calls it. */
  sampleNow(): Promise<void>;
  stop(): ProcessUsage;
} {
  let pid: number | null = null;
  const samples: { at: number; cpuSec: number }[] = [];
  let peakRssKb: number | null = null;
  let stopped = false;
  let running: Promise<void> | null = null;
  const takeSample = async () => {
    try {
      pid ??= await findPid();
      if (pid === null) return;
      const cpuSec = await cpuSecOf(pid);
      const hwm = await peakRssKbOf(pid);
      if (!stopped) samples.push({ at: Date.now(), cpuSec });
      if (hwm !== null) peakRssKb = Math.max(peakRssKb ?? 0, hwm);
    } catch {
      // gone: keep the samples so far
    }
  };
  const sample = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    running ??= takeSample().finally(() => (running = null));
    return running;
  };
  const timer = setInterval(() => void sample(), 20);
  const cpuAt = (t: number): number | null => {
    const after = samples.findIndex((s) => s.at >= t);
    if (after <= 0) return after === 0 ? samples[0]!.cpuSec : null;
    const a = samples[after - 1]!;
    const b = samples[after]!;
    return a.cpuSec + ((b.cpuSec - a.cpuSec) * (t - a.at)) / Math.max(1, b.at - a.at);
  };
  return {
    async sampleNow() {
      await running;
      await sample();
    },
    stop() {
      stopped = true;
      clearInterval(timer);
      return {
        lastCpuSec: samples.at(-1)?.cpuSec ?? null,
        peakRssKb,
        cpuBetween(from, to) {
          const a = cpuAt(from);
          const b = cpuAt(to);
          return a === null || b === null ? null : b - a;
        },
      };
    },
  };
}

/** The first process whose command line contains every string. */
export async function pidByCommandLine(parts: string[]): Promise<number | null> {
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmd = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (parts.every((s) => cmd.includes(s))) return Number(name);
  }
  return null;
}

/** The (first) child of a process: what /usr/bin/time runs. */
export async function childPidOf(pid: number): Promise<number | null> {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  const first = children.trim().split(' ')[0];
  return first ? Number(first) : null;
}
