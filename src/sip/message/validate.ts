/**
 * Eager checks of the header fields the transaction and dialog layers rely on (RFC 3261 §8.1.1,
 * §8.2, §16.3). Parsing stays lazy for everything else. A message that fails here is answered
 * 400 (a request) or dropped (a response), never processed.
 */
import { SipParseError } from '../errors.js';
import { parseBoundedInt } from '../grammar.js';
import { SipUri } from '../uri.js';
import { SINGLE_HEADERS } from './header-names.js';
import type { SipRequest, SipResponse } from './message.js';

const MAX_EXPIRES = 2 ** 32 - 1;

export function validateMessage(message: SipRequest | SipResponse): void {
  const counts = new Map<string, number>();
  for (const field of message.headers) {
    counts.set(field.name, (counts.get(field.name) ?? 0) + 1);
  }
  // RFC 4475 §3.3.8: several values of a single-valued header cannot be reconciled.
  for (const name of SINGLE_HEADERS) {
    if ((counts.get(name) ?? 0) > 1) throw new SipParseError('DUPLICATE_HEADER', `more than one ${name} header`, name);
  }
  void message.vias;
  void message.callId;
  void message.from.uri;
  void message.to.uri;
  const cseq = message.cseq;
  void message.maxForwards;
  if (counts.has('contact')) for (const contact of message.contacts) void contact.uri;
  if (counts.has('record-route')) for (const entry of message.recordRoutes) void entry.uri;
  if (counts.has('route')) for (const entry of message.routes) void entry.uri;
  const expires = message.header('expires');
  if (expires !== undefined && parseBoundedInt(expires, MAX_EXPIRES) === null) {
    throw new SipParseError('BAD_HEADER_VALUE', 'Expires: not a delta-seconds value', 'expires');
  }
  if (message.isRequest) {
    const request = message as SipRequest;
    // RFC 3261 §8.1.1.5: the CSeq method matches the request's method.
    if (cseq.method !== request.method) {
      throw new SipParseError('CSEQ_METHOD_MISMATCH', `CSeq method ${cseq.method} differs from ${request.method}`, 'cseq');
    }
    const uri = request.uri;
    // RFC 3261 §19.1.1: headers are not allowed in a Request-URI.
    if (uri instanceof SipUri && uri.headers.size > 0) {
      throw new SipParseError('BAD_REQUEST_URI', 'headers are not allowed in the Request-URI');
    }
  } else {
    void (message as SipResponse).status;
  }
}
