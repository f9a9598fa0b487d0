/**
 * Per-source-IP token buckets for incoming datagrams (DH-04). The table of IPs is bounded: when
 * it is full the least recently refilled entry is forgotten, so spoofed sources cannot grow it.
 */
export interface RateLimitOptions {
  /** Sustained datagrams per second per IP. */
  perSecond: number;
  /** Datagrams an IP may send in a burst. */
  burst: number;
  /** Most IPs tracked at once. */
  maxIps?: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { perSecond: 50, burst: 100, maxIps: 4096 };

export class IpRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly maxIps: number;

  constructor(
    private readonly o: RateLimitOptions = DEFAULT_RATE_LIMIT,
    private readonly now: () => number = Date.now,
  ) {
    this.maxIps = o.maxIps ?? 4096;
  }

  trackedIps(): number {
    return this.buckets.size;
  }

  /** True if a datagram from `ip` may be handled now (and counts it). */
  allow(ip: string): boolean {
    const t = this.now();
    let b = this.buckets.get(ip);
    if (b) {
      b.tokens = Math.min(this.o.burst, b.tokens + ((t - b.at) * this.o.perSecond) / 1000);
      b.at = t;
      // Move to the young end so eviction takes the idlest.
      this.buckets.delete(ip);
      this.buckets.set(ip, b);
    } else {
      if (this.buckets.size >= this.maxIps) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      b = { tokens: this.o.burst, at: t };
      this.buckets.set(ip, b);
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
