/**
 * Typed failures of the dialog layer. They report a misuse the UA core can fix (building a
 * request the dialog's state forbids, a response that cannot create a dialog), never a message
 * from the network: those are answered with responses, not exceptions.
 */
export type DialogErrorCode =
  /** The response cannot create a dialog (RFC 3261 §12.1: 101–299 with a To tag). */
  | 'NOT_DIALOG_CREATING'
  /** The message does not belong to this dialog or INVITE. */
  | 'NOT_IN_DIALOG'
  /** No SIP or SIPS URI to send in-dialog requests to (Contact missing or not sip:/sips:). */
  | 'NO_REMOTE_TARGET'
  /** A Record-Route value that is not a sip: or sips: URI. */
  | 'BAD_ROUTE'
  | 'DIALOG_TERMINATED'
  /** RFC 3261 §14.1: no new INVITE while one is in progress in either direction. */
  | 'INVITE_IN_PROGRESS'
  /** RFC 3264 §4: no new offer while one is outstanding. */
  | 'OFFER_PENDING'
  /** RFC 3261 §15: the callee must not send BYE on an early dialog. */
  | 'BYE_ON_EARLY_DIALOG'
  /** createAck() with no 2xx to acknowledge. */
  | 'NOTHING_TO_ACK'
  /** RFC 3261 §13.2.2.4: the 2xx carried an offer, so the ACK must carry the answer. */
  | 'ANSWER_REQUIRED'
  /** createPrack() for a response that is not the latest reliable provisional response. */
  | 'NOT_RELIABLE'
  /** RFC 3261 §8.1.1.5: the local CSeq would reach 2**31. */
  | 'CSEQ_EXHAUSTED'
  /** An extra header that the dialog owns (Call-ID, CSeq, From, To, Route). */
  | 'DIALOG_HEADER'
  /** A body without a Content-Type the dialog can infer, or a method without its header. */
  | 'MISSING_HEADER'
  | 'BAD_METHOD'
  /** RFC 3311 §5.1: no UPDATE before an early dialog from a reliable 1xx, to a peer that does not allow it, or with an offer before the INVITE's exchange is over. */
  | 'UPDATE_NOT_ALLOWED'
  | 'BAD_SESSION_TIMER'
  | 'BAD_SNAPSHOT';

export class DialogError extends Error {
  override readonly name = 'DialogError';
  constructor(
    readonly code: DialogErrorCode,
    message: string,
  ) {
    super(message);
  }
}
