import { readFileSync } from 'node:fs';
import { uptime } from 'node:os';

/**
 * Which boot of the machine this is. Bytes written but not yet synced live in the kernel's page
 * cache: they outlive the process (a crash, a kill) but not the machine (a power cut, a kernel
 * panic). So whether unsynced data can be trusted comes down to "same boot as when it was
 * written?".
 */
export interface BootIdentity {
  /** Linux's random per-boot id; null where there is none. */
  id: string | null;
  /** When the machine booted (wall clock, ms): the fallback where there is no id. */
  timeMs: number;
}

/**
 * Boot times computed from the wall clock and the uptime agree within this within one boot;
 * two boots are further apart than that unless the machine crashed within seconds of booting.
 */
const SAME_BOOT_TOLERANCE_MS = 5_000;

let current: BootIdentity | null = null;

export function currentBoot(): BootIdentity {
  current ??= {
    id: linuxBootId(),
    timeMs: Math.round(Date.now() - uptime() * 1000),
  };
  return current;
}

export function sameBoot(a: BootIdentity, b: BootIdentity): boolean {
  if (a.id !== null && b.id !== null) return a.id === b.id;
  return Math.abs(a.timeMs - b.timeMs) < SAME_BOOT_TOLERANCE_MS;
}

function linuxBootId(): string | null {
  try {
    const id = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return id.length > 0 ? id : null;
  } catch {
    return null;
  }
}
