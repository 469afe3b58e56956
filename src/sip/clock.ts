/**
 * The one source of time for the SIP layer. Every timer of every state machine goes through a
 * Clock so that tests drive time with a ManualClock instead of waiting.
 */
export interface TimerHandle {
  readonly __timer: true;
}

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  setTimer(delayMs: number, callback: () => void): TimerHandle;
  cancel(handle: TimerHandle | undefined): void;
}

interface RealTimer extends TimerHandle {
  timeout: NodeJS.Timeout;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(delayMs, callback) {
    const timeout = setTimeout(callback, delayMs);
    // Protocol timers must never keep a process alive on their own.
    timeout.unref();
    return { __timer: true, timeout } as RealTimer;
  },
  cancel(handle) {
    if (handle) clearTimeout((handle as RealTimer).timeout);
  },
};

interface ManualTimer extends TimerHandle {
  at: number;
  seq: number;
  callback: () => void;
  cancelled: boolean;
}

/** A clock for tests: time moves only when advance() is called; due timers fire in order. */
export class ManualClock implements Clock {
  private current = 0;
  private seq = 0;
  private timers: ManualTimer[] = [];

  now(): number {
    return this.current;
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const timer: ManualTimer = {
      __timer: true,
      at: this.current + Math.max(0, delayMs),
      seq: this.seq++,
      callback,
      cancelled: false,
    };
    this.timers.push(timer);
    return timer;
  }

  cancel(handle: TimerHandle | undefined): void {
    if (!handle) return;
    (handle as ManualTimer).cancelled = true;
    this.timers = this.timers.filter((t) => t !== handle);
  }

  /** Timers not yet fired nor cancelled. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      let next: ManualTimer | undefined;
      for (const t of this.timers) {
        if (t.at <= target && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      }
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.current = next.at;
      next.callback();
    }
    this.current = target;
  }
}
