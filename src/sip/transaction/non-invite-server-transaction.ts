/**
 * The non-INVITE server transaction: RFC 3261 §17.2.2 (Figure 8).
 *
 *   trying ──TU sends 1xx──▶ proceeding (a retransmitted request gets the last 1xx again)
 *   trying/proceeding ──TU sends 200-699──▶ completed (Timer J: retransmissions get the final response again)
 *   completed ──Timer J──▶ terminated;  any ──transport error──▶ terminated (the TU is told)
 */
import type { TimerHandle } from '../clock.js';
import type { SipRequest, SipResponse } from '../message/index.js';
import { timerJ } from '../timers.js';
import type { Destination } from '../transport/index.js';
import { isReliable, type TransactionContext, type TransactionFailure } from './transaction-context.js';

export type NonInviteServerState = 'trying' | 'proceeding' | 'completed' | 'terminated';

export interface NonInviteServerTransactionUser {
  onFailure(failure: TransactionFailure): void;
  onTerminated?(): void;
}

export class NonInviteServerTransaction {
  /** Set by the transaction layer to forget the transaction once it has terminated. */
  onEnded: (() => void) | undefined;
  readonly request: SipRequest;
  private current: NonInviteServerState = 'trying';
  private lastResponse: SipResponse | undefined;
  private timerJ: TimerHandle | undefined;
  private user: NonInviteServerTransactionUser | undefined;

  constructor(
    private readonly context: TransactionContext,
    request: SipRequest,
    private readonly destination: () => Destination,
  ) {
    this.request = request;
  }

  get state(): NonInviteServerState {
    return this.current;
  }

  get finalResponse(): SipResponse | undefined {
    return this.lastResponse && this.lastResponse.status >= 200 ? this.lastResponse : undefined;
  }

  setUser(user: NonInviteServerTransactionUser): void {
    this.user = user;
  }

  respond(response: SipResponse): void {
    if (this.current !== 'trying' && this.current !== 'proceeding') return;
    this.lastResponse = response;
    this.transmit(response);
    // A destination that could not be worked out has already failed (terminated) the transaction.
    if (this.state === 'terminated') return;
    if (response.status < 200) {
      this.current = 'proceeding';
      return;
    }
    this.current = 'completed';
    let reliable = false;
    try {
      reliable = isReliable(this.destination());
    } catch {
      // The send above has already failed the transaction.
    }
    this.timerJ = this.context.clock.setTimer(timerJ(this.context.timers, reliable), () => this.terminate());
  }

  /** §17.2.2: a retransmission is absorbed in trying, answered with the last response after that. */
  receiveRequest(): void {
    if ((this.current === 'proceeding' || this.current === 'completed') && this.lastResponse) this.transmit(this.lastResponse);
  }

  terminate(): void {
    if (this.current === 'terminated') return;
    this.context.clock.cancel(this.timerJ);
    this.current = 'terminated';
    this.ended();
  }

  private fail(failure: TransactionFailure): void {
    if (this.current === 'terminated') return;
    this.context.clock.cancel(this.timerJ);
    this.current = 'terminated';
    this.user?.onFailure(failure);
    this.ended();
  }

  private transmit(response: SipResponse): void {
    let destination: Destination;
    try {
      destination = this.destination();
    } catch (error) {
      this.fail({ kind: 'transport', error });
      return;
    }
    this.context.send(response, destination).catch((error: unknown) => this.fail({ kind: 'transport', error }));
  }

  private ended(): void {
    const detach = this.onEnded;
    this.onEnded = undefined;
    detach?.();
    this.user?.onTerminated?.();
  }
}
