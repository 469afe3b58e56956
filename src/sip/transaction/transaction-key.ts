/**
 * Matching messages to transactions (RFC 3261 §17.1.3, §17.2.3). Pure functions from a message
 * to a map key; the transaction layer keeps the maps.
 */
import type { SipRequest, SipResponse } from '../message/index.js';

/**
 * §17.1.3: a response matches the client transaction whose request had the same top Via branch
 * and whose method is the CSeq method (a CANCEL and its INVITE share a branch).
 */
export function clientKeyOfResponse(response: SipResponse): string | undefined {
  const branch = response.topVia.branch;
  if (branch === undefined) return undefined;
  return `${branch}\n${response.cseq.method}`;
}

export function clientKeyOfRequest(request: SipRequest): string {
  return `${request.topVia.branch ?? ''}\n${request.method}`;
}

/**
 * §17.2.3: with an RFC 3261 branch, branch + sent-by + method, where an ACK matches its INVITE.
 * Without the magic cookie (RFC 2543 peers), the fallback of §17.2.3: Request-URI, From tag,
 * Call-ID, CSeq, top Via; the To tag is compared separately (an ACK's To tag is the one of our
 * final response, the INVITE's had none).
 */
export function serverKeyOfRequest(request: SipRequest, method: string = request.method === 'ACK' ? 'INVITE' : request.method): string {
  const via = request.topVia;
  const sentBy = `${via.host.toLowerCase()}:${via.port ?? ''}`;
  if (via.rfc3261) return `3261\n${via.branch}\n${sentBy}\n${method}`;
  const cseq = request.cseq;
  return `2543\n${request.requestUri}\n${request.from.tag ?? ''}\n${request.callId}\n${cseq.seq}\n${method}\n${via.transport}/${sentBy}/${via.branch ?? ''}`;
}
