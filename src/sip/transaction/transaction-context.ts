/**
 * What every transaction state machine is given (RFC 3261 §17): the clock its timers run on,
 * the protocol timer values, and a way to hand bytes to the transport layer. Injected, so that
 * each machine is driven by a ManualClock and a fake send in tests.
 */
import type { Clock } from '../clock.js';
import type { SipMessageAny } from '../message/index.js';
import type { TimerValues } from '../timers.js';
import type { Destination } from '../transport/index.js';

export interface TransactionContext {
  clock: Clock;
  timers: TimerValues;
  /** Sends one message; rejects (with a TransportError) when it could not be sent. */
  send(message: SipMessageAny, destination: Destination): Promise<unknown>;
  /** Timer B, F or H fired: the transaction of a `method` request timed out (for metrics). */
  noteTimeout?(method: string): void;
}

/** RFC 3261 §17: UDP is the only unreliable transport here; TCP and TLS need no retransmission. */
export function isReliable(destination: Destination): boolean {
  return destination.transport !== 'udp';
}

/** Why a transaction ended before its normal course: the peer never answered, or the transport failed. */
export type TransactionFailure =
  | { kind: 'timeout'; timer: 'B' | 'F' | 'H' }
  | { kind: 'transport'; error: unknown };
