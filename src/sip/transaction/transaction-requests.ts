/**
 * The two requests a client transaction builds from its INVITE rather than from a dialog: the
 * ACK for a non-2xx final response (RFC 3261 §17.1.1.3) and the CANCEL (§9.1). Both keep the
 * INVITE's top Via (so its branch) and its Route set, and differ from it only where the RFC says.
 */
import { SipRequest, type SipResponse } from '../message/index.js';

/** Copies Request-URI, Call-ID, From, the INVITE's top Via and its Routes; CSeq number with `method`. */
function sameTransactionRequest(invite: SipRequest, method: 'ACK' | 'CANCEL', to: string): SipRequest {
  const request = new SipRequest(method, invite.requestUri);
  if (invite.hasHeader('via')) request.addHeader('via', invite.topVia.toString());
  request.addHeader('max-forwards', 70);
  for (const route of invite.headerValues('route')) request.addHeader('route', route);
  request.addHeader('from', invite.header('from') ?? '');
  request.addHeader('to', to);
  request.addHeader('call-id', invite.callId);
  request.addHeader('cseq', `${invite.cseq.seq} ${method}`);
  return request;
}

/** §17.1.1.3: To comes from the response (its tag), everything else from the INVITE. */
export function createNon2xxAck(invite: SipRequest, response: SipResponse): SipRequest {
  return sameTransactionRequest(invite, 'ACK', response.header('to') ?? invite.header('to') ?? '');
}

/**
 * §9.1: a CANCEL has the INVITE's Request-URI, Call-ID, To, From, CSeq number and top Via, and
 * its Route headers. RFC 3326 `Reason` may say why.
 */
export function createCancel(invite: SipRequest, reason?: string): SipRequest {
  const cancel = sameTransactionRequest(invite, 'CANCEL', invite.header('to') ?? '');
  if (reason !== undefined) cancel.addHeader('reason', reason);
  return cancel;
}
