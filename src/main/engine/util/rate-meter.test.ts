import { describe, expect, it } from 'vitest';
import { RateMeter } from './rate-meter';

describe('RateMeter', () => {
  it('averages bytes over the window of whole seconds', () => {
    let t = 10_000;
    const meter = new RateMeter(5, () => t);
    for (let s = 0; s < 5; s++) {
      meter.add(1000);
      t += 1000;
    }
    // 4 full seconds of 1000 bytes each behind us, the current second just started.
    expect(meter.bytesPerSec()).toBeGreaterThan(990);
    expect(meter.bytesPerSec()).toBeLessThan(1010);
    expect(meter.totalBytes).toBe(5000);
  });

  it('falls to zero when nothing arrives for a whole window', () => {
    let t = 0;
    const meter = new RateMeter(5, () => t);
    meter.add(1_000_000);
    t += 6000;
    expect(meter.bytesPerSec()).toBe(0);
  });

  it('reads a rate at once for a transfer that just started', () => {
    let t = 500;
    const meter = new RateMeter(5, () => t);
    meter.add(2000);
    t = 900;
    expect(meter.bytesPerSec()).toBeGreaterThan(0);
  });
});
