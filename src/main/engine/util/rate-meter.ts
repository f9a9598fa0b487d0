/**
 * Bytes per second over a sliding window of whole-second buckets. Cheap to feed on every block
 * (one addition), and read a few times a second for snapshots and for sizing request queues.
 */
export class RateMeter {
  private readonly buckets: Float64Array;
  private headSec = 0;
  private total = 0;

  constructor(
    private readonly windowSec = 5,
    private readonly now: () => number = Date.now,
  ) {
    this.buckets = new Float64Array(windowSec);
    this.headSec = Math.floor(this.now() / 1000);
  }

  add(bytes: number): void {
    this.advance();
    const slot = this.headSec % this.windowSec;
    this.buckets[slot] = (this.buckets[slot] ?? 0) + bytes;
    this.total += bytes;
  }

  /** Total bytes ever added. */
  get totalBytes(): number {
    return this.total;
  }

  /** Average over the window, excluding the second in progress unless it is the only one. */
  bytesPerSec(): number {
    this.advance();
    const current = this.headSec % this.windowSec;
    let sum = 0;
    for (let i = 0; i < this.windowSec; i++) if (i !== current) sum += this.buckets[i] ?? 0;
    // The second in progress counts in proportion to how much of it has passed, so a
    // transfer that just started reads as a rate at once instead of after a full second.
    const fraction = (this.now() % 1000) / 1000;
    sum += (this.buckets[current] ?? 0) * 1;
    return sum / (this.windowSec - 1 + Math.max(fraction, 0.001));
  }

  private advance(): void {
    const nowSec = Math.floor(this.now() / 1000);
    if (nowSec <= this.headSec) return;
    const steps = Math.min(nowSec - this.headSec, this.windowSec);
    for (let i = 1; i <= steps; i++) this.buckets[(this.headSec + i) % this.windowSec] = 0;
    this.headSec = nowSec;
  }
}
