/**
 * The INVITE server transaction: RFC 3261 §17.2.1 (Figure 7) as amended by RFC 6026 §8.5–§8.7.
 *
 *   proceeding ──TU sends 1xx──▶ proceeding   (a retransmitted INVITE gets the last 1xx again)
 *   proceeding ──TU sends 2xx──▶ accepted     (Timer L; the TU's 2xx retransmissions pass through)
 *   proceeding ──TU sends 300-699──▶ completed (Timer G retransmits over UDP, Timer H waits for the ACK)
 *   completed ──ACK──▶ confirmed (Timer I absorbs further ACKs) ──I──▶ terminated
 *   completed ──Timer H──▶ terminated (the TU is told: the ACK never came)
 *   accepted ──Timer L──▶ terminated;  any ──transport error──▶ terminated (the TU is told)
 */
import type { TimerHandle } from '../clock.js';
import { createResponse, type SipRequest, type SipResponse } from '../message/index.js';
import { timerH, timerI, timerL } from '../timers.js';
import type { Destination } from '../transport/index.js';
import { isReliable, type TransactionContext, type TransactionFailure } from './transaction-context.js';

export type InviteServerState = 'proceeding' | 'accepted' | 'completed' | 'confirmed' | 'terminated';

export interface InviteServerTransactionUser {
  /** Timer H fired (no ACK for our non-2xx final response) or a response could not be sent. */
  onFailure(failure: TransactionFailure): void;
  onTerminated?(): void;
}

export class InviteServerTransaction {
  /** Set by the transaction layer to forget the transaction once it has terminated. */
  onEnded: (() => void) | undefined;
  readonly request: SipRequest;
  private current: InviteServerState = 'proceeding';
  private lastResponse: SipResponse | undefined;
  private timerG: TimerHandle | undefined;
  private intervalG: number;
  private timerH: TimerHandle | undefined;
  private timerEnd: TimerHandle | undefined;
  private user: InviteServerTransactionUser | undefined;

  constructor(
    private readonly context: TransactionContext,
    request: SipRequest,
    /** Where responses go, asked again for every send (a TCP connection may have closed, §18.2.2). */
    private readonly destination: () => Destination,
  ) {
    this.request = request;
    this.intervalG = context.timers.T1;
  }

  get state(): InviteServerState {
    return this.current;
  }

  /** The final response sent, if any. */
  get finalResponse(): SipResponse | undefined {
    return this.lastResponse && this.lastResponse.status >= 200 ? this.lastResponse : undefined;
  }

  /** Who hears of timeouts and failures: set by the TU when it takes the request. */
  setUser(user: InviteServerTransactionUser): void {
    this.user = user;
  }

  /** §17.2.1: 100 Trying at once, so that the UAC stops retransmitting (the TU may take longer than 200 ms). */
  sendTrying(): void {
    if (this.current === 'proceeding' && this.lastResponse === undefined) this.respond(createResponse(this.request, 100));
  }

  /** A response from the TU. A 2xx after the first is a retransmission of it (RFC 6026 §8.5). */
  respond(response: SipResponse): void {
    const status = response.status;
    switch (this.current) {
      case 'proceeding':
        this.lastResponse = response;
        this.transmit(response);
        // A destination that could not be worked out has already failed (terminated) the transaction.
        if (this.state === 'terminated') return;
        if (status >= 200 && status < 300) {
          this.current = 'accepted';
          this.timerEnd = this.context.clock.setTimer(timerL(this.context.timers), () => this.terminate());
        } else if (status >= 300) {
          this.enterCompleted();
        }
        return;
      case 'accepted':
        if (status >= 200 && status < 300) this.transmit(response);
        return;
      default:
        // A response after the final one has no place on the wire.
        return;
    }
  }

  /** A retransmission of the INVITE, or an ACK that matched this transaction (a non-2xx's, §17.2.3). */
  receiveRequest(request: SipRequest): void {
    if (request.method === 'ACK') {
      if (this.current !== 'completed') return;
      this.stopRetransmissions();
      this.current = 'confirmed';
      this.timerEnd = this.context.clock.setTimer(timerI(this.context.timers, isReliable(this.destination())), () => this.terminate());
      return;
    }
    // §17.2.1: in proceeding and completed a retransmitted INVITE gets the most recent response;
    // RFC 6026 §8.6: in accepted it is absorbed (the TU's 2xx retransmissions cover it).
    if ((this.current === 'proceeding' || this.current === 'completed') && this.lastResponse) this.transmit(this.lastResponse);
  }

  terminate(): void {
    if (this.current === 'terminated') return;
    this.stopRetransmissions();
    this.context.clock.cancel(this.timerEnd);
    this.current = 'terminated';
    this.ended();
  }

  private enterCompleted(): void {
    this.current = 'completed';
    const { clock, timers } = this.context;
    if (!isReliable(this.destination())) this.timerG = clock.setTimer(this.intervalG, () => this.fireG());
    this.timerH = clock.setTimer(timerH(timers), () => {
      this.context.noteTimeout?.('INVITE');
      this.fail({ kind: 'timeout', timer: 'H' });
    });
  }

  private fireG(): void {
    if (this.current !== 'completed' || !this.lastResponse) return;
    this.transmit(this.lastResponse);
    this.intervalG = Math.min(2 * this.intervalG, this.context.timers.T2);
    this.timerG = this.context.clock.setTimer(this.intervalG, () => this.fireG());
  }

  private stopRetransmissions(): void {
    this.context.clock.cancel(this.timerG);
    this.context.clock.cancel(this.timerH);
    this.timerG = this.timerH = undefined;
  }

  private fail(failure: TransactionFailure): void {
    if (this.current === 'terminated') return;
    this.stopRetransmissions();
    this.context.clock.cancel(this.timerEnd);
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
