/**
 * The non-INVITE client transaction: RFC 3261 §17.1.2 (Figure 6).
 *
 *   trying ──1xx──▶ proceeding
 *   trying/proceeding ──200-699──▶ completed (Timer K absorbs retransmissions) ──K──▶ terminated
 *   trying/proceeding ──Timer F / transport error──▶ terminated (the TU is told)
 *
 * Timer E retransmits over UDP: in trying from T1 doubling up to T2, in proceeding every T2.
 */
import type { TimerHandle } from '../clock.js';
import type { SipRequest, SipResponse } from '../message/index.js';
import { timerF, timerK } from '../timers.js';
import type { Destination } from '../transport/index.js';
import { isReliable, type TransactionContext, type TransactionFailure } from './transaction-context.js';

export type NonInviteClientState = 'trying' | 'proceeding' | 'completed' | 'terminated';

export interface NonInviteClientTransactionUser {
  /** Each 1xx, then the final response (once). */
  onResponse(response: SipResponse): void;
  /** Timer F fired or the request could not be sent: act as on a 408 or 503 (§8.1.3.1). */
  onFailure(failure: TransactionFailure): void;
  onTerminated?(): void;
}

export class NonInviteClientTransaction {
  /** Set by the transaction layer to forget the transaction once it has terminated. */
  onEnded: (() => void) | undefined;
  readonly request: SipRequest;
  readonly destination: Destination;
  private current: NonInviteClientState = 'trying';
  private timerE: TimerHandle | undefined;
  private intervalE: number;
  private timerF: TimerHandle | undefined;
  private timerK: TimerHandle | undefined;

  constructor(
    private readonly context: TransactionContext,
    request: SipRequest,
    destination: Destination,
    private readonly user: NonInviteClientTransactionUser,
  ) {
    this.request = request;
    this.destination = destination;
    this.intervalE = context.timers.T1;
  }

  get state(): NonInviteClientState {
    return this.current;
  }

  start(): void {
    const { clock, timers } = this.context;
    this.transmit();
    if (!isReliable(this.destination)) this.timerE = clock.setTimer(this.intervalE, () => this.fireE());
    this.timerF = clock.setTimer(timerF(timers), () => {
      this.context.noteTimeout?.(this.request.method);
      this.fail({ kind: 'timeout', timer: 'F' });
    });
  }

  receiveResponse(response: SipResponse): void {
    if (this.current !== 'trying' && this.current !== 'proceeding') return;
    if (response.status < 200) {
      if (this.current === 'trying') {
        this.current = 'proceeding';
        // §17.1.2.2: in proceeding Timer E is reset to T2 at each firing.
        this.intervalE = this.context.timers.T2;
      }
      this.user.onResponse(response);
      return;
    }
    this.stopTimers();
    this.current = 'completed';
    this.timerK = this.context.clock.setTimer(timerK(this.context.timers, isReliable(this.destination)), () => this.terminate());
    this.user.onResponse(response);
  }

  terminate(): void {
    if (this.current === 'terminated') return;
    this.stopTimers();
    this.context.clock.cancel(this.timerK);
    this.current = 'terminated';
    this.ended();
  }

  private fireE(): void {
    if (this.current !== 'trying' && this.current !== 'proceeding') return;
    this.transmit();
    const { T2 } = this.context.timers;
    this.intervalE = this.current === 'trying' ? Math.min(2 * this.intervalE, T2) : T2;
    this.timerE = this.context.clock.setTimer(this.intervalE, () => this.fireE());
  }

  private stopTimers(): void {
    this.context.clock.cancel(this.timerE);
    this.context.clock.cancel(this.timerF);
    this.timerE = this.timerF = undefined;
  }

  private fail(failure: TransactionFailure): void {
    if (this.current !== 'trying' && this.current !== 'proceeding') return;
    this.stopTimers();
    this.current = 'terminated';
    this.user.onFailure(failure);
    this.ended();
  }

  private transmit(): void {
    this.context.send(this.request, this.destination).catch((error: unknown) => this.fail({ kind: 'transport', error }));
  }

  private ended(): void {
    const detach = this.onEnded;
    this.onEnded = undefined;
    detach?.();
    this.user.onTerminated?.();
  }
}
