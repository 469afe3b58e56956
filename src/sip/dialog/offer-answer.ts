/**
 * Offer/answer bookkeeping of an INVITE session (RFC 3264 §4, RFC 3261 §13.2.1 and §14,
 * RFC 3311 §5, RFC 3262 §5): whether an offer is outstanding and in which direction, and which
 * INVITE transactions are still in progress. That is what decides 491 and 500 for a re-INVITE or
 * UPDATE that crosses one of ours, and whether we may send one. SDP content is never read here;
 * only whether a message carries a session description.
 *
 *   stable ──we send an offer──▶ local-offer ──we receive the answer──▶ stable
 *   stable ──we receive an offer──▶ remote-offer ──we send the answer──▶ stable
 *   local-offer / remote-offer ──the carrying transaction fails──▶ stable (RFC 3261 §14.1)
 */
import type { SipMessage } from '../message/index.js';

export type OfferAnswerState = 'stable' | 'local-offer' | 'remote-offer';

export type Direction = 'local' | 'remote';

/** The transaction (CSeq and method of its request) that carried the outstanding offer. */
export interface OfferCarrier {
  readonly direction: Direction;
  readonly cseq: number;
  readonly method: string;
}

/**
 * An INVITE transaction in progress, by the TU's reckoning (RFC 3261 §14.1): `proceeding` until
 * its final response, then `awaiting-ack` after a 2xx until the ACK (RFC 6337 §4.3).
 */
export interface InviteInProgress {
  readonly cseq: number;
  phase: 'proceeding' | 'awaiting-ack';
  /** Whether the INVITE itself carried an offer. */
  readonly offerInRequest: boolean;
  /** Whether a response to it already carried a session description (RFC 3261 §13.2.1). */
  responseDescriptionSeen: boolean;
}

/** How to refuse a re-INVITE or UPDATE that collides with an exchange in progress. */
export type Collision = { status: 491 } | { status: 500 } | undefined;

export class OfferAnswer {
  state: OfferAnswerState = 'stable';
  offer: OfferCarrier | undefined;
  /** Our INVITE (initial or re-INVITE) still in progress. */
  outgoingInvite: InviteInProgress | undefined;
  /** The peer's INVITE still in progress. */
  incomingInvite: InviteInProgress | undefined;

  /** We send a session description: an answer if one is owed, else a new offer. */
  sendDescription(cseq: number, method: string): 'offer' | 'answer' {
    if (this.state === 'remote-offer') {
      this.state = 'stable';
      this.offer = undefined;
      return 'answer';
    }
    this.state = 'local-offer';
    this.offer = { direction: 'local', cseq, method };
    return 'offer';
  }

  /** We receive a session description: the answer to ours, a new offer, or (when an offer of theirs is already outstanding) nothing. */
  receiveDescription(cseq: number, method: string): 'offer' | 'answer' | 'ignored' {
    if (this.state === 'local-offer') {
      this.state = 'stable';
      this.offer = undefined;
      return 'answer';
    }
    if (this.state === 'remote-offer') return 'ignored';
    this.state = 'remote-offer';
    this.offer = { direction: 'remote', cseq, method };
    return 'offer';
  }

  /**
   * The transaction `cseq`/`method` ended without success. RFC 3261 §14.1: after a non-2xx
   * final response to a re-INVITE the session is unchanged, as if no re-INVITE had been sent;
   * RFC 3311 §5.1 says the same of UPDATE.
   */
  transactionFailed(direction: Direction, cseq: number, method: string): void {
    const offer = this.offer;
    if (offer && offer.direction === direction && offer.cseq === cseq && offer.method === method) {
      this.state = 'stable';
      this.offer = undefined;
    }
  }

  /** RFC 3261 §14.1: a UAC must not start an INVITE while another is in progress in either direction. */
  canSendInvite(): boolean {
    return this.outgoingInvite === undefined && this.incomingInvite === undefined;
  }

  /** RFC 3264 §4: no new offer until the outstanding one is answered or rejected. */
  canSendOffer(): boolean {
    return this.state === 'stable';
  }

  /** Whether an incoming re-INVITE or UPDATE must be refused, and how. */
  collision(method: string, carriesOffer: boolean): Collision {
    if (method === 'INVITE') {
      // RFC 3261 §14.2: an INVITE that crosses ours is answered 491.
      if (this.outgoingInvite) return { status: 491 };
      // RFC 3261 §14.2: a second INVITE before our final response to the first gets 500 with
      // Retry-After; RFC 6337 §4.3 extends that to the time until the ACK of our 2xx.
      if (this.incomingInvite) return { status: 500 };
      // An INVITE opens a new offer/answer exchange (with its offer or in our 2xx), so an
      // outstanding offer collides with it just as it does with an UPDATE (RFC 3311 §5.2).
      if (this.state === 'local-offer') return { status: 491 };
      if (this.state === 'remote-offer') return { status: 500 };
      return undefined;
    }
    if (method === 'UPDATE' && carriesOffer) {
      // RFC 3311 §5.2: our own offer outstanding → 491; theirs still unanswered → 500.
      if (this.state === 'local-offer') return { status: 491 };
      if (this.state === 'remote-offer') return { status: 500 };
    }
    return undefined;
  }
}

/**
 * RFC 3261 §14.1: after a 491 to a re-INVITE, wait 2.1–4 s if we own the Call-ID (we sent the
 * dialog-creating INVITE), else 0–2 s, chosen at random in units of 10 ms. RFC 3311 §5.1 applies
 * the same to UPDATE. `random` returns a value in [0, 1).
 */
export function glareRetryDelay(callIdOwner: boolean, random: () => number = Math.random): number {
  const units = callIdOwner ? 210 + Math.floor(random() * 191) : Math.floor(random() * 201);
  return units * 10;
}

/** RFC 3261 §14.2: the Retry-After of a 500 to a crossing INVITE, 0–10 s at random. */
export function retryAfterSeconds(random: () => number = Math.random): number {
  return Math.floor(random() * 11);
}

/**
 * Whether a message carries a session description: an SDP body whose disposition is `session`
 * (RFC 3261 §13.2.1, §20.11: the default for application/sdp), or a multipart body with an SDP
 * part (RFC 5621). Only the presence of the description matters here, never its content.
 */
export function carriesSessionDescription(message: SipMessage): boolean {
  if (message.body.length === 0) return false;
  const disposition = message.header('content-disposition');
  if (disposition !== undefined && disposition.split(';')[0]!.trim().toLowerCase() !== 'session') return false;
  const type = message.contentType;
  if (type === 'application/sdp') return true;
  return type !== undefined && type.startsWith('multipart/') && /application\/sdp/i.test(message.body.toString('latin1'));
}
