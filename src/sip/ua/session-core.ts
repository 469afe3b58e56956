/**
 * What an INVITE session needs of the UA core that owns it: the transaction layer, where a URI
 * is (RFC 3263), the dialog registry and options, and the clock. The UserAgent implements it; a
 * session never touches sockets itself.
 */
import type { Clock } from '../clock.js';
import type { DialogOptions, DialogRegistry, InviteDialogSetOptions, SessionDialog } from '../dialog/index.js';
import type { SipRequest, SipResponse } from '../message/index.js';
import type { TimerValues } from '../timers.js';
import type { ServerTransaction, TransactionLayer } from '../transaction/index.js';
import type { Destination } from '../transport/index.js';
import type { SipUri } from '../uri.js';

export interface SessionCore {
  readonly clock: Clock;
  readonly timers: TimerValues;
  readonly transactions: TransactionLayer;
  readonly registry: DialogRegistry;
  readonly dialogOptions: DialogOptions & Pick<InviteDialogSetOptions, 'answerForUnwantedOffer'>;
  /** User-Agent header value, if any. */
  readonly product: string | undefined;
  /** RFC 3263: the destinations to try for a next hop, best first. Rejects with a ServerLocationError. */
  resolve(uri: SipUri): Promise<Destination[]>;
  /** A dialog of this session exists: route its in-dialog requests here. */
  attachDialog(dialog: SessionDialog, session: DialogOwner): void;
  /** The session is over: forget it and its dialogs. */
  detach(session: DialogOwner): void;
  /** A listener or a bug threw: report it, carry on. */
  reportError(error: unknown): void;
}

/** What the core hands in-dialog traffic to. */
export interface DialogOwner {
  receiveRequest(request: SipRequest, transaction: ServerTransaction): void;
  receiveAck(ack: SipRequest): void;
  /** A CANCEL for a re-INVITE of the peer that is still unanswered: answer it 487 (RFC 3261 §9.2). */
  receiveCancel(invite: ServerTransaction): void;
  /** A response no transaction waits for (a 2xx retransmitted after Timer M). */
  receiveStrayResponse(response: SipResponse): void;
}
