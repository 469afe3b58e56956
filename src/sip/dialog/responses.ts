/**
 * Responses the dialog layer answers with on its own authority (RFC 3261 §11.2, §12.2.2, §14.2;
 * RFC 4028 §6). Responses that carry dialog state (Contact, session timer, offer/answer) are
 * built by SessionDialog.createResponse.
 */
import { joinList } from '../grammar.js';
import { createResponse, type SipRequest, type SipResponse } from '../message/index.js';

/** What this UA supports, for Allow, Accept and Supported (RFC 3261 §20.5, §20.1, §20.37). */
export interface Capabilities {
  readonly allow: readonly string[];
  readonly accept: readonly string[];
  readonly supported: readonly string[];
}

export const DEFAULT_CAPABILITIES: Capabilities = {
  allow: ['INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'INFO', 'UPDATE', 'PRACK', 'REFER', 'NOTIFY'],
  accept: ['application/sdp'],
  supported: ['100rel', 'timer'],
};

/** RFC 3261 §12.2.2: a request with a To tag that matches no dialog. */
export function createDialogDoesNotExist(request: SipRequest): SipResponse {
  return createResponse(request, 481);
}

/** RFC 3261 §14.2: an INVITE (or RFC 3311 §5.2 UPDATE) that crosses one of ours. */
export function createRequestPending(request: SipRequest): SipResponse {
  return createResponse(request, 491);
}

/**
 * 500 with Retry-After: RFC 3261 §14.2 for an INVITE that arrives while the previous one is in
 * progress, RFC 3311 §5.2 for an UPDATE offer while an offer of the peer is unanswered.
 */
export function createRetryLater(request: SipRequest, retryAfterSeconds: number): SipResponse {
  return createResponse(request, 500).addHeader('retry-after', retryAfterSeconds);
}

/** RFC 3261 §12.2.2: a request whose CSeq is not above the last one received in the dialog. */
export function createOutOfOrder(request: SipRequest): SipResponse {
  return createResponse(request, 500, 'Server Internal Error (CSeq out of order)');
}

/** RFC 3261 §11.2: the 200 to OPTIONS lists what we allow, accept and support. */
export function createOptionsOk(request: SipRequest, capabilities: Capabilities = DEFAULT_CAPABILITIES, toTag?: string): SipResponse {
  const response = createResponse(request, 200, undefined, toTag);
  addCapabilities(response, capabilities, true);
  return response;
}

/** RFC 4028 §6: the session interval asked for is below our Min-SE. */
export function createSessionIntervalTooSmall(request: SipRequest, minSE: number): SipResponse {
  return createResponse(request, 422).addHeader('min-se', minSE);
}

export function addCapabilities(response: SipResponse, capabilities: Capabilities, withAccept: boolean): void {
  if (!response.hasHeader('allow') && capabilities.allow.length > 0) response.addHeader('allow', joinList(capabilities.allow));
  if (withAccept && !response.hasHeader('accept') && capabilities.accept.length > 0) {
    response.addHeader('accept', joinList(capabilities.accept));
  }
  if (!response.hasHeader('supported') && capabilities.supported.length > 0) {
    response.addHeader('supported', joinList(capabilities.supported));
  }
}
