/**
 * The dial buttons' rate limits, in Redis with rate-limiter-flexible (RateLimiterRedis over the
 * ioredis client), so that every API process counts against the same budget. Each button sets its
 * own numbers; one limiter per (kind, points) is made on first use and reused.
 */
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';
import type { ButtonLimits } from '../store/index.js';

export type LimitKind = 'ip' | 'number' | 'button_hour' | 'button_day';

const DURATIONS: Record<LimitKind, number> = { ip: 3600, number: 3600, button_hour: 3600, button_day: 86_400 };

export interface LimitRefused {
  kind: LimitKind;
  /** Seconds until a point comes back. */
  retryAfterS: number;
}

export class ButtonLimiter {
  private readonly limiters = new Map<string, RateLimiterRedis>();

  constructor(
    private readonly redis: Redis,
    /** Key prefix in Redis (tests use their own to stay apart). */
    private readonly prefix = 'ctd:btn',
  ) {}

  /**
   * Takes one point of the kind's budget for `key`; a refusal when the budget is spent. A Redis
   * failure rejects (the caller refuses the call: limits fail closed).
   */
  async consume(kind: LimitKind, limits: ButtonLimits, key: string): Promise<LimitRefused | undefined> {
    const points = pointsOf(kind, limits);
    const name = `${kind}:${points}`;
    let limiter = this.limiters.get(name);
    if (!limiter) {
      limiter = new RateLimiterRedis({ storeClient: this.redis, keyPrefix: `${this.prefix}:${kind}`, points, duration: DURATIONS[kind] });
      this.limiters.set(name, limiter);
    }
    try {
      await limiter.consume(key, 1);
      return undefined;
    } catch (result) {
      if (result instanceof RateLimiterRes) return { kind, retryAfterS: Math.max(1, Math.ceil(result.msBeforeNext / 1000)) };
      throw result;
    }
  }
}

function pointsOf(kind: LimitKind, limits: ButtonLimits): number {
  switch (kind) {
    case 'ip':
      return limits.perIpPerHour;
    case 'number':
      return limits.perNumberPerHour;
    case 'button_hour':
      return limits.perButtonPerHour;
    case 'button_day':
      return limits.perDay;
  }
}
