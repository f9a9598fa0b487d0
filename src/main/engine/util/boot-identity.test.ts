import { describe, expect, it } from 'vitest';
import { currentBoot, sameBoot } from './boot-identity';

describe('boot identity', () => {
  it('is stable within a process, and has an id on Linux', () => {
    expect(currentBoot()).toEqual(currentBoot());
    if (process.platform === 'linux') expect(currentBoot().id).toMatch(/^[0-9a-f-]{36}$/);
    // The machine booted in the past, and not before 2000.
    expect(currentBoot().timeMs).toBeLessThanOrEqual(Date.now());
    expect(currentBoot().timeMs).toBeGreaterThan(Date.UTC(2000, 0, 1));
  });

  it('compares ids when both have one, else boot times within seconds', () => {
    const t = 1_700_000_000_000;
    expect(sameBoot({ id: 'a', timeMs: t }, { id: 'a', timeMs: t + 60_000 })).toBe(true);
    expect(sameBoot({ id: 'a', timeMs: t }, { id: 'b', timeMs: t })).toBe(false);
    expect(sameBoot({ id: null, timeMs: t }, { id: 'a', timeMs: t + 1_000 })).toBe(true);
    expect(sameBoot({ id: null, timeMs: t }, { id: null, timeMs: t + 30_000 })).toBe(false);
  });
});
