// What Linux's /proc says of a process, for the benchmarks.
import { readFile } from 'node:fs/promises';

/** The process's peak resident memory so far (VmHWM), in KiB; throws when it is gone. */
export async function peakRssKbOf(pid: number | 'self'): Promise<number | null> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
  return kb === undefined ? null : Number(kb);
}
