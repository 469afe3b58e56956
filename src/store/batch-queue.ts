/**
 * Collects writes from many calls and commits them together: after `flushDelayMs` from the first
 * waiting write, or at once when `maxBatch` are waiting. One batch is in flight at a time, so the
 * writes of one call are committed in the order they were made, across batches too. A batch that
 * fails is retried once split by group (one group a call), so that one call's bad write costs only
 * that call's writes; those are rejected and reported, never dropped in silence.
 *
 * A batch that fails because the database cannot be reached (`unavailable(error)`) is not split
 * nor rejected: it goes back to the head of the line and is tried again, backing off from 100 ms
 * to 5 s, while new writes wait behind it (up to `maxWaiting`, past which they are refused), so
 * that a database restart loses nothing and keeps every call's order.
 */
import { WriterClosed } from './errors.js';

export interface BatchQueueOptions<T> {
  flushDelayMs: number;
  maxBatch: number;
  /**
   * After a batch, what arrived meanwhile waits its own `flushDelayMs` (unless it fills a batch)
   * instead of going at once. For writes nobody waits on (the SIP log), where fewer and larger
   * statements matter more than how soon they land. Default false.
   */
  paced?: boolean;
  /** How many groups are retried at once after a batch failed. */
  retryConcurrency: number;
  groupOf(item: T): string;
  /**
   * Writes the items atomically, or throws having written none. It may refuse some groups
   * without failing the others: it returns them, with why.
   */
  write(items: readonly T[]): Promise<ReadonlyMap<string, unknown> | void>;
  /** One group's writes are lost: report it, and give the error their promises reject with. */
  lost(group: string, items: readonly T[], cause: unknown): Error;
  /** The failure means the database is out of reach now: wait it out. Default: never. */
  unavailable?(error: unknown): boolean;
  /** While it is, writes kept at most; more are refused (lost). Default 200,000. */
  maxWaiting?: number;
  /** Told once when an outage starts (with its error) and once when it ends (undefined). */
  onOutage?(error: unknown | undefined): void;
}

export interface BatchQueueStats {
  /** Batches written (retries of a failed batch not counted). */
  batches: number;
  /** Items committed. */
  written: number;
  /** Batches that failed whole and were retried split by group. */
  splitRetries: number;
  /** Items lost (rejected). */
  lost: number;
  /** Items waiting now. */
  waiting: number;
  /** Attempts of a batch that found the database out of reach. */
  outageRetries: number;
}

interface Waiting<T> {
  item: T;
  resolve(): void;
  reject(error: Error): void;
}

export class BatchQueue<T> {
  private waiting: Waiting<T>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  private readonly counts = { batches: 0, written: 0, splitRetries: 0, lost: 0, outageRetries: 0 };
  private backoffMs = 0;
  /** flush() calls waiting: a paced queue drains all the same. */
  private flushing = 0;
  /** Closing gave up on the database: what comes back from an attempt is lost, not retried. */
  private abandoned = false;

  constructor(private readonly options: BatchQueueOptions<T>) {}

  push(item: T): Promise<void> {
    if (this.closed) return Promise.reject(new WriterClosed());
    if (this.overflowing()) return Promise.reject(this.refuseOverflow(item));
    return new Promise<void>((resolve, reject) => this.enqueue({ item, resolve, reject }));
  }

  /**
   * Like push() for a write nobody waits on (a line of a SIP log): no promise is made for it; a
   * loss is still reported through `lost`.
   */
  pushQuietly(item: T): void {
    if (this.closed) {
      this.counts.lost++;
      this.options.lost(this.options.groupOf(item), [item], new WriterClosed());
    } else if (this.overflowing()) this.refuseOverflow(item);
    else this.enqueue({ item, resolve: ignore, reject: ignore });
  }

  /** During an outage, at most `maxWaiting` writes wait; more are refused. */
  private overflowing(): boolean {
    return this.backoffMs > 0 && this.waiting.length >= (this.options.maxWaiting ?? 200_000);
  }

  private refuseOverflow(item: T): Error {
    this.counts.lost++;
    return this.options.lost(this.options.groupOf(item), [item], new Error('the database is out of reach and too many writes wait for it'));
  }

  private enqueue(entry: Waiting<T>): void {
    this.waiting.push(entry);
    if (this.waiting.length >= this.options.maxBatch) this.kick();
    // While a batch is in flight the drain loop takes what arrives as soon as it is done.
    else if (!this.running && this.timer === undefined) this.timer = setTimeout(() => this.kick(), this.options.flushDelayMs);
  }

  /** Resolves once everything pushed before it is committed or rejected. */
  async flush(): Promise<void> {
    this.flushing++;
    try {
      this.kick();
      while (this.running) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    } finally {
      this.flushing--;
    }
  }

  /**
   * Flushes, then refuses new writes (WriterClosed). With `giveUpAfterMs`, writes still waiting
   * then (the database out of reach all that time) are given up: lost, each group reported, so
   * that a process told to stop during an outage does stop.
   */
  async close(giveUpAfterMs?: number): Promise<void> {
    this.closed = true;
    if (giveUpAfterMs === undefined) return this.flush();
    let timer: NodeJS.Timeout | undefined;
    const flushed = this.flush();
    const late = await Promise.race([flushed.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), giveUpAfterMs)))]);
    clearTimeout(timer);
    if (!late) return;
    this.abandoned = true;
    this.giveUp(this.waiting.splice(0), new Error(`the database was out of reach for the ${giveUpAfterMs} ms allowed at shutdown`));
    // The batch in flight ends with its attempt (or its pause), and goes nowhere after it.
    await flushed;
  }

  stats(): BatchQueueStats {
    return { ...this.counts, waiting: this.waiting.length };
  }

  private kick(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.running || this.waiting.length === 0) return;
    this.running = true;
    void this.drain();
  }

  private async drain(): Promise<void> {
    try {
      // The first batch goes now; what waits after it goes at once or, paced, after its delay.
      do {
        const batch = this.waiting.splice(0, this.options.maxBatch);
        try {
          await this.writeBatch(batch);
        } catch (error) {
          // writeBatch settles every item itself; this is a bug in it, not a database failure.
          for (const entry of batch) entry.reject(error instanceof Error ? error : new Error(String(error)));
        }
      } while (this.waiting.length > 0 && this.goesAtOnce());
    } finally {
      this.running = false;
      if (this.waiting.length > 0 && this.timer === undefined) this.timer = setTimeout(() => this.kick(), this.options.flushDelayMs);
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Whether what waits after a batch is written at once, or (paced) after its own delay. */
  private goesAtOnce(): boolean {
    return !this.options.paced || this.flushing > 0 || this.closed || this.waiting.length >= this.options.maxBatch;
  }

  private async writeBatch(batch: Waiting<T>[]): Promise<void> {
    this.counts.batches++;
    let refused: ReadonlyMap<string, unknown> | void;
    try {
      refused = await this.options.write(batch.map((entry) => entry.item));
    } catch (error) {
      if (this.options.unavailable?.(error)) {
        // Back to the head of the line, in order; tried again after a pause.
        this.counts.batches--;
        this.counts.outageRetries++;
        if (this.backoffMs === 0) this.options.onOutage?.(error);
        this.backoffMs = Math.min(5000, Math.max(100, this.backoffMs * 2));
        if (this.abandoned) {
          this.giveUp(batch, error);
          return;
        }
        this.waiting.unshift(...batch);
        await new Promise((resolve) => setTimeout(resolve, this.backoffMs));
        if (this.abandoned) this.giveUp(this.waiting.splice(0), error);
        return;
      }
      // The batch's own error is not reported: each group's retry reports what it hits itself.
      this.counts.splitRetries++;
      await this.retrySplit(batch);
      return;
    }
    if (this.backoffMs > 0) {
      this.backoffMs = 0;
      this.options.onOutage?.(undefined);
    }
    this.settle(batch, refused);
  }

  private async retrySplit(batch: Waiting<T>[]): Promise<void> {
    const queue = this.groupsOf(batch);
    const worker = async (): Promise<void> => {
      for (let group = queue.shift(); group !== undefined; group = queue.shift()) {
        let refused: ReadonlyMap<string, unknown> | void;
        try {
          refused = await this.options.write(group.map((entry) => entry.item));
        } catch (error) {
          this.reject(group, error);
          continue;
        }
        this.settle(group, refused);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.retryConcurrency, queue.length) }, worker));
  }

  private settle(entries: Waiting<T>[], refused: ReadonlyMap<string, unknown> | void): void {
    if (!refused || refused.size === 0) {
      for (const entry of entries) entry.resolve();
      this.counts.written += entries.length;
      return;
    }
    for (const [key, group] of groupBy(entries, (entry) => this.options.groupOf(entry.item))) {
      if (refused.has(key)) {
        this.reject(group, refused.get(key));
        continue;
      }
      for (const entry of group) entry.resolve();
      this.counts.written += group.length;
    }
  }

  /** Loses `entries`, group by group, each group reported once. */
  private giveUp(entries: Waiting<T>[], cause: unknown): void {
    for (const group of this.groupsOf(entries)) this.reject(group, cause);
  }

  /** The entries by group (one a call), each in its order. */
  private groupsOf(entries: Waiting<T>[]): Waiting<T>[][] {
    return [...groupBy(entries, (entry) => this.options.groupOf(entry.item)).values()];
  }

  private reject(group: Waiting<T>[], cause: unknown): void {
    const first = group[0];
    if (first === undefined) return;
    const items = group.map((entry) => entry.item);
    const error = this.options.lost(this.options.groupOf(first.item), items, cause);
    this.counts.lost += group.length;
    for (const entry of group) entry.reject(error);
  }
}

const ignore = (): void => undefined;

/** `items` by `keyOf`, in the order each key first came, each group in its items' order. */
export function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}
