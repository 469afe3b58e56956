/**
 * A token bucket per source address, for the requests the UA core answers by itself (outside any
 * dialog: an INVITE nobody takes, a request for a dialog that is not here, OPTIONS) and for the
 * transport's stateless answers to malformed requests. A peer that floods them gets its answers
 * up to `burst`, then `ratePerSecond`; past that its requests are dropped unanswered, so that a
 * flood costs us little and is not amplified. Traffic of the dialogs we have is never limited.
 * Pure: the clock is injected; the table is bounded (the sources seen least recently go first).
 */
import type { Clock } from './clock.js';

export interface SourceRateLimitOptions {
  /** Answers per second per source, once the burst is spent. */
  ratePerSecond: number;
  /** Answers a source may get at once. */
  burst: number;
  /** Sources tracked at most; default 10,000. */
  maxSources?: number;
}

export const DEFAULT_SOURCE_RATE_LIMIT: SourceRateLimitOptions = { ratePerSecond: 20, burst: 50 };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class SourceRateLimit {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxSources: number;
  /** Requests refused so far, all sources together. */
  refused = 0;

  constructor(
    private readonly clock: Pick<Clock, 'now'>,
    private readonly options: SourceRateLimitOptions,
  ) {
    if (!(options.ratePerSecond > 0) || !(options.burst >= 1)) throw new RangeError('a source rate limit needs ratePerSecond > 0 and burst >= 1');
    this.maxSources = options.maxSources ?? 10_000;
  }

  /** Takes one token for `source`; false when it has none left (drop the request). */
  allow(source: string): boolean {
    const now = this.clock.now();
    let bucket = this.buckets.get(source);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxSources) this.forgetOldest();
      bucket = { tokens: this.options.burst, updatedAt: now };
    } else {
      // Re-inserted below, so that the Map's order is the order sources were last seen.
      this.buckets.delete(source);
      bucket.tokens = Math.min(this.options.burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.options.ratePerSecond);
      bucket.updatedAt = now;
    }
    this.buckets.set(source, bucket);
    if (bucket.tokens < 1) {
      this.refused++;
      return false;
    }
    bucket.tokens -= 1;
    return true;
  }

  get trackedSources(): number {
    return this.buckets.size;
  }

  private forgetOldest(): void {
    const oldest = this.buckets.keys().next();
    if (!oldest.done) this.buckets.delete(oldest.value);
  }
}
