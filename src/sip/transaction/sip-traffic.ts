/**
 * Running totals of what the transaction layer sent and received, for metrics: messages by
 * direction, kind and method (a response counts under its CSeq method), retransmissions (a
 * message object sent again: Timers A, E and G, a 2xx's ACK sent again, a response repeated for
 * a retransmitted request; and requests received again), and transactions that timed out
 * (Timers B, F, H). Plain counters: reading them costs the hot path nothing but an increment.
 */
import type { SipMessageAny } from '../message/index.js';

export type TrafficDirection = 'in' | 'out';

export interface TrafficRow {
  direction: TrafficDirection;
  kind: 'request' | 'response';
  method: string;
  count: number;
}

export class SipTraffic {
  private readonly messages = new Map<string, number>();
  private readonly retransmissions = new Map<string, number>();
  private readonly timeouts = new Map<string, number>();
  /** Messages sent once: sending one of them again is a retransmission. */
  private readonly sentOnce = new WeakSet<SipMessageAny>();

  noteSent(message: SipMessageAny): void {
    if (this.sentOnce.has(message)) {
      bump(this.retransmissions, `out ${methodOf(message)}`);
      return;
    }
    this.sentOnce.add(message);
    bump(this.messages, `out ${kindOf(message)} ${methodOf(message)}`);
  }

  noteReceived(message: SipMessageAny): void {
    bump(this.messages, `in ${kindOf(message)} ${methodOf(message)}`);
  }

  /** A request a server transaction already had (the peer did not hear our answer in time). */
  noteRetransmissionReceived(method: string): void {
    bump(this.retransmissions, `in ${method}`);
  }

  noteTimeout(method: string): void {
    bump(this.timeouts, method);
  }

  messageRows(): TrafficRow[] {
    return [...this.messages].map(([key, count]) => {
      const [direction, kind, method] = key.split(' ') as [TrafficDirection, 'request' | 'response', string];
      return { direction, kind, method, count };
    });
  }

  retransmissionRows(): { direction: TrafficDirection; method: string; count: number }[] {
    return [...this.retransmissions].map(([key, count]) => {
      const [direction, method] = key.split(' ') as [TrafficDirection, string];
      return { direction, method, count };
    });
  }

  timeoutRows(): { method: string; count: number }[] {
    return [...this.timeouts].map(([method, count]) => ({ method, count }));
  }
}

function bump(counters: Map<string, number>, key: string): void {
  counters.set(key, (counters.get(key) ?? 0) + 1);
}

function kindOf(message: SipMessageAny): 'request' | 'response' {
  return message.isRequest ? 'request' : 'response';
}

/** Methods are tokens, so they cannot break the key apart; an unreadable CSeq counts as "?". */
function methodOf(message: SipMessageAny): string {
  if (message.isRequest) return message.method;
  try {
    return message.cseq.method;
  } catch {
    return '?';
  }
}
