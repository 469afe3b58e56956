/**
 * RFC 3261 §13.3.1.4: the UAS core, not a transaction, keeps re-sending its 2xx to an INVITE
 * (T1, doubling up to T2, over unreliable transports only) until the ACK arrives; with no ACK
 * after 64*T1 the session should end with BYE (the caller decides, through onAckTimeout).
 *
 *   waiting ──ACK──▶ acknowledged;  waiting ──64*T1──▶ timed-out;  any ──stop()──▶ stopped
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { TimerValues } from '../timers.js';

export type Invite2xxRetransmissionState = 'waiting' | 'acknowledged' | 'timed-out' | 'stopped';

export class Invite2xxRetransmission {
  private current: Invite2xxRetransmissionState = 'waiting';
  private interval: number;
  private retransmitTimer: TimerHandle | undefined;
  private readonly giveUpTimer: TimerHandle;

  constructor(
    private readonly clock: Clock,
    private readonly timers: TimerValues,
    reliable: boolean,
    private readonly retransmit: () => void,
    onAckTimeout: () => void,
  ) {
    this.interval = timers.T1;
    if (!reliable) this.retransmitTimer = clock.setTimer(this.interval, () => this.fire());
    this.giveUpTimer = clock.setTimer(64 * timers.T1, () => {
      if (this.current !== 'waiting') return;
      this.stopTimers();
      this.current = 'timed-out';
      onAckTimeout();
    });
  }

  get state(): Invite2xxRetransmissionState {
    return this.current;
  }

  acknowledged(): void {
    if (this.current !== 'waiting') return;
    this.stopTimers();
    this.current = 'acknowledged';
  }

  stop(): void {
    if (this.current !== 'waiting') return;
    this.stopTimers();
    this.current = 'stopped';
  }

  private fire(): void {
    if (this.current !== 'waiting') return;
    this.retransmit();
    this.interval = Math.min(2 * this.interval, this.timers.T2);
    this.retransmitTimer = this.clock.setTimer(this.interval, () => this.fire());
  }

  private stopTimers(): void {
    this.clock.cancel(this.retransmitTimer);
    this.clock.cancel(this.giveUpTimer);
  }
}
