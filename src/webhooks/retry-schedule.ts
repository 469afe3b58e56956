/**
 * When a failed delivery is tried again, and when an endpoint has failed long enough to be
 * turned off. Pure: the clock and the randomness are injected, so the whole day-long schedule is
 * tested in microseconds.
 *
 * The default spreads 8 attempts over about 27 hours (at once, then 5 s, 5 min, 30 min, 2 h, 5 h,
 * 10 h, 10 h later), like the schedules of the payment providers whose webhooks people trust: a
 * receiver that is down for a deploy gets the event seconds later, one down for a night still
 * gets it the next day. Each delay is moved by up to ±`jitter` of itself so that the retries of
 * many events that failed together (a receiver outage) do not all come back in the same second.
 */

/** Delays before the 2nd, 3rd… attempt, ms. */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];

/** An endpoint whose attempts have all failed for this long is disabled. */
export const DEFAULT_DISABLE_AFTER_MS = 5 * 24 * 3600_000;

export interface RetryScheduleOptions {
  delaysMs?: readonly number[];
  /** Fraction of each delay by which it may move either way. Default 0.1. */
  jitter?: number;
  /** 0 ≤ x < 1. Default Math.random. */
  random?: () => number;
  disableAfterMs?: number;
}

export type AttemptVerdict =
  | { kind: 'succeeded' }
  /** Try again at `at`. */
  | { kind: 'retry'; at: Date }
  /** No attempt left (or none makes sense, 410). */
  | { kind: 'failed' };

export class RetrySchedule {
  readonly delaysMs: readonly number[];
  readonly jitter: number;
  readonly disableAfterMs: number;
  private readonly random: () => number;

  constructor(options: RetryScheduleOptions = {}) {
    this.delaysMs = options.delaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    this.jitter = options.jitter ?? 0.1;
    this.random = options.random ?? Math.random;
    this.disableAfterMs = options.disableAfterMs ?? DEFAULT_DISABLE_AFTER_MS;
    if (this.delaysMs.some((delay) => !Number.isFinite(delay) || delay < 0)) throw new RangeError('retry delays must be non-negative numbers of ms');
    if (!(this.jitter >= 0 && this.jitter < 1)) throw new RangeError('jitter must be from 0 to below 1');
  }

  /** Attempts in all, the first included. */
  get maxAttempts(): number {
    return this.delaysMs.length + 1;
  }

  /** When attempt `attempt + 1` is due after attempt `attempt` (1-based) failed at `now`; null when none is left. */
  nextAttemptAt(attempt: number, now: Date): Date | null {
    const delay = this.delaysMs[attempt - 1];
    if (delay === undefined) return null;
    const spread = delay * this.jitter * (2 * this.random() - 1);
    return new Date(now.getTime() + Math.max(0, Math.round(delay + spread)));
  }

  /** What an attempt's HTTP status (or a network failure: null) means for the delivery. */
  verdict(attempt: number, status: number | null, now: Date): AttemptVerdict {
    if (status !== null && status >= 200 && status < 300) return { kind: 'succeeded' };
    // 410 Gone: the receiver says the URL is gone for good; retrying would only knock on it.
    if (status === 410) return { kind: 'failed' };
    const at = this.nextAttemptAt(attempt, now);
    return at === null ? { kind: 'failed' } : { kind: 'retry', at };
  }

  /** Whether an endpoint failing without a success since `failingSince` should be disabled at `now`. */
  shouldDisable(failingSince: Date | null, now: Date): boolean {
    return failingSince !== null && now.getTime() - failingSince.getTime() >= this.disableAfterMs;
  }
}

/** Parses WEBHOOK_RETRY_DELAYS-style text: `5s,5m,30m,2h,5h,10h,10h` (ms, s, m, h, d units). */
export function parseDelays(text: string): number[] {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  return text.split(',').map((part) => {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(part);
    if (!match) throw new RangeError(`not a delay: ${JSON.stringify(part)} (expected a number with ms, s, m, h or d)`);
    return Math.round(Number(match[1]) * units[match[2] ?? 'ms']!);
  });
}
