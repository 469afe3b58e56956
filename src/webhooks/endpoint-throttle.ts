/**
 * Per-endpoint concurrency across every webhooks process: at most `limit` deliveries in flight to
 * one receiver, so that a slow receiver holds `limit` worker slots, not all of them (BullMQ's
 * groups, which do this, are a BullMQ Pro feature). A slot is a lease in a Redis sorted set scored
 * by its expiry: a process killed mid-delivery leaks nothing, its leases lapse after `leaseMs`.
 * Time comes from Redis (TIME) so that the hosts' clocks need not agree.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return 1
end
return 0`;

export interface ThrottleOptions {
  limit: number;
  /** Longer than the longest delivery (the send timeout plus a margin). */
  leaseMs: number;
  keyPrefix?: string;
}

export class EndpointThrottle {
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis,
    private readonly options: ThrottleOptions,
  ) {
    this.prefix = options.keyPrefix ?? 'ctd:webhooks:inflight:';
    if (!Number.isInteger(options.limit) || options.limit < 1) throw new RangeError('the per-endpoint limit must be a positive whole number');
  }

  get limit(): number {
    return this.options.limit;
  }

  /** A lease token when a slot was free, null when `limit` deliveries to this receiver are in flight. */
  async acquire(receiver: string): Promise<string | null> {
    const token = randomBytes(8).toString('hex');
    const got = await this.redis.eval(ACQUIRE, 1, this.prefix + receiver, this.options.leaseMs, this.options.limit, token);
    return got === 1 ? token : null;
  }

  async release(receiver: string, token: string): Promise<void> {
    await this.redis.zrem(this.prefix + receiver, token);
  }
}

/**
 * The same limit inside one process, without Redis round trips: a job for a receiver whose
 * slots are all taken waits here (for a bounded time) and goes the moment a slot frees, instead
 * of going back to Redis to be fetched again later. How many may wait depends on who else is
 * there: while other receivers have had jobs in this process within `activeWindowMs`, a busy
 * receiver may hold at most `limit + sharedWaiters` of the worker's slots (half of them) (the rest go back to
 * the queue, behind the other receivers' jobs: that is what keeps a slow receiver from starving
 * them); a receiver alone may use every slot (`loneWaiters`), since there is nobody to starve and
 * re-queueing would only cost Redis round trips and delay.
 */
export class LocalGate {
  private readonly inFlight = new Map<string, number>();
  private readonly waiters = new Map<string, Array<(entered: boolean) => void>>();

  private readonly lastSeen = new Map<string, number>();

  constructor(private readonly options: { limit: number; sharedWaiters: number; loneWaiters: number; maxWaitMs: number; activeWindowMs?: number }) {}

  private othersActive(receiver: string, now: number): boolean {
    const window = this.options.activeWindowMs ?? 1000;
    for (const [other, at] of this.lastSeen) {
      if (now - at > window) this.lastSeen.delete(other);
      else if (other !== receiver) return true;
    }
    return false;
  }

  /** True once inside (call leave() after); false when too many wait or the wait was too long. */
  enter(receiver: string): Promise<boolean> {
    const now = Date.now();
    const crowded = this.othersActive(receiver, now);
    this.lastSeen.set(receiver, now);
    const running = this.inFlight.get(receiver) ?? 0;
    if (running < this.options.limit) {
      this.inFlight.set(receiver, running + 1);
      return Promise.resolve(true);
    }
    const queue = this.waiters.get(receiver) ?? [];
    if (queue.length >= (crowded ? this.options.sharedWaiters : this.options.loneWaiters)) return Promise.resolve(false);
    this.waiters.set(receiver, queue);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        const index = queue.indexOf(wake);
        if (index >= 0) queue.splice(index, 1);
        resolve(false);
      }, this.options.maxWaitMs);
      const wake = (entered: boolean): void => {
        clearTimeout(timer);
        resolve(entered);
      };
      queue.push(wake);
    });
  }

  leave(receiver: string): void {
    const next = this.waiters.get(receiver)?.shift();
    // The slot passes straight to the next waiter: the count stays.
    if (next) next(true);
    else {
      const running = (this.inFlight.get(receiver) ?? 1) - 1;
      if (running <= 0) {
        this.inFlight.delete(receiver);
        this.waiters.delete(receiver);
      } else this.inFlight.set(receiver, running);
    }
  }
}
