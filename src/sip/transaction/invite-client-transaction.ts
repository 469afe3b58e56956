/**
 * The INVITE client transaction: RFC 3261 §17.1.1 (Figure 5) as amended by RFC 6026 §8.4.
 *
 *   calling ──1xx──▶ proceeding ──1xx──▶ proceeding
 *   calling/proceeding ──2xx──▶ accepted   (Timer M; every further 2xx goes to the TU, which ACKs it)
 *   calling/proceeding ──300-699──▶ completed  (ACK sent here; Timer D absorbs retransmissions)
 *   calling ──Timer B / transport error──▶ terminated (the TU is told)
 *   accepted ──Timer M──▶ terminated;  completed ──Timer D──▶ terminated
 *
 * Timer A retransmits the INVITE over UDP, doubling from T1 without the T2 cap (§17.1.1.2).
 */
import type { TimerHandle } from '../clock.js';
import type { SipRequest, SipResponse } from '../message/index.js';
import { timerB, timerD, timerM } from '../timers.js';
import type { Destination } from '../transport/index.js';
import { isReliable, type TransactionContext, type TransactionFailure } from './transaction-context.js';
import { createNon2xxAck } from './transaction-requests.js';

export type InviteClientState = 'calling' | 'proceeding' | 'accepted' | 'completed' | 'terminated';

export interface InviteClientTransactionUser {
  /** Every 1xx, every 2xx (retransmissions too, RFC 6026 §8.4), and the first non-2xx final response. */
  onResponse(response: SipResponse): void;
  /** Timer B fired or the INVITE could not be sent: act as on a 408 (§8.1.3.1) or 503 (§8.1.3.1, RFC 3263 §4.3). */
  onFailure(failure: TransactionFailure): void;
  onTerminated?(): void;
}

export class InviteClientTransaction {
  /** Set by the transaction layer to forget the transaction once it has terminated. */
  onEnded: (() => void) | undefined;
  readonly request: SipRequest;
  readonly destination: Destination;
  private current: InviteClientState = 'calling';
  private timerA: TimerHandle | undefined;
  private intervalA: number;
  private timerB: TimerHandle | undefined;
  private timerEnd: TimerHandle | undefined;
  private ack: SipRequest | undefined;

  constructor(
    private readonly context: TransactionContext,
    request: SipRequest,
    destination: Destination,
    private readonly user: InviteClientTransactionUser,
  ) {
    this.request = request;
    this.destination = destination;
    this.intervalA = context.timers.T1;
  }

  get state(): InviteClientState {
    return this.current;
  }

  /** Sends the INVITE and starts Timers A and B (§17.1.1.2). */
  start(): void {
    const { clock, timers } = this.context;
    this.transmit(this.request);
    if (!isReliable(this.destination)) this.timerA = clock.setTimer(this.intervalA, () => this.fireA());
    this.timerB = clock.setTimer(timerB(timers), () => {
      this.context.noteTimeout?.('INVITE');
      this.fail({ kind: 'timeout', timer: 'B' });
    });
  }

  receiveResponse(response: SipResponse): void {
    const status = response.status;
    switch (this.current) {
      case 'calling':
      case 'proceeding':
        this.stopRetransmissions();
        if (status < 200) {
          this.current = 'proceeding';
          this.user.onResponse(response);
        } else if (status < 300) {
          this.enterAccepted();
          this.user.onResponse(response);
        } else {
          this.enterCompleted(response);
          this.user.onResponse(response);
        }
        return;
      case 'accepted':
        // RFC 6026 §8.4: retransmitted (or forked) 2xx go to the TU; anything else is absorbed.
        if (status >= 200 && status < 300) this.user.onResponse(response);
        return;
      case 'completed':
        // §17.1.1.2: a retransmitted final response is answered with the same ACK, not passed up.
        if (status >= 300 && this.ack) this.transmit(this.ack);
        return;
      case 'terminated':
        return;
    }
  }

  /** The transaction ends now (Timers D, M or torn down by the TU): onTerminated fires, onFailure does not. */
  terminate(): void {
    if (this.current === 'terminated') return;
    this.stopRetransmissions();
    this.context.clock.cancel(this.timerEnd);
    this.current = 'terminated';
    this.ended();
  }

  private fireA(): void {
    if (this.current !== 'calling') return;
    this.transmit(this.request);
    this.intervalA *= 2;
    this.timerA = this.context.clock.setTimer(this.intervalA, () => this.fireA());
  }

  private enterAccepted(): void {
    this.current = 'accepted';
    this.timerEnd = this.context.clock.setTimer(timerM(this.context.timers), () => this.terminate());
  }

  private enterCompleted(response: SipResponse): void {
    this.current = 'completed';
    this.ack = createNon2xxAck(this.request, response);
    this.transmit(this.ack);
    this.timerEnd = this.context.clock.setTimer(timerD(this.context.timers, isReliable(this.destination)), () => this.terminate());
  }

  private stopRetransmissions(): void {
    this.context.clock.cancel(this.timerA);
    this.context.clock.cancel(this.timerB);
    this.timerA = this.timerB = undefined;
  }

  private fail(failure: TransactionFailure): void {
    // Timer B matters in `calling` only; a transport error while sending an ACK ends nothing the TU holds.
    if (this.current !== 'calling' && !(failure.kind === 'transport' && this.current === 'proceeding')) return;
    this.stopRetransmissions();
    this.current = 'terminated';
    this.user.onFailure(failure);
    this.ended();
  }

  private transmit(message: SipRequest): void {
    this.context.send(message, this.destination).catch((error: unknown) => {
      // §17.1.4: a transport failure on the INVITE ends the transaction; on a retransmitted ACK it is ignored.
      if (message === this.request) this.fail({ kind: 'transport', error });
    });
  }

  private ended(): void {
    const detach = this.onEnded;
    this.onEnded = undefined;
    detach?.();
    this.user.onTerminated?.();
  }
}
