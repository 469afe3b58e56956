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

/** Counts of the SINGLE_HEADERS lines, reused by every call (validation never nests). */
const singleCounts = new Uint32Array(SINGLE_HEADERS.length);
const SINGLE_INDEX = new Map(SINGLE_HEADERS.map((name, index) => [name, index]));

export function validateMessage(message: SipRequest | SipResponse): void {
  singleCounts.fill(0);
  let contacts = false;
  let recordRoutes = false;
  let routes = false;
  for (const field of message.headers) {
    const name = field.name;
    const single = SINGLE_INDEX.get(name);
    if (single !== undefined) singleCounts[single]!++;
    else if (name === 'contact') contacts = true;
    else if (name === 'record-route') recordRoutes = true;
    else if (name === 'route') routes = true;
  }
  // RFC 4475 §3.3.8: several values of a single-valued header cannot be reconciled.
  for (let i = 0; i < SINGLE_HEADERS.length; i++) {
    const name = SINGLE_HEADERS[i]!;
    if (singleCounts[i]! > 1) throw new SipParseError('DUPLICATE_HEADER', `more than one ${name} header`, name);
  }
  void message.vias;
  void message.callId;
  void message.from.uri;
  void message.to.uri;
  const cseq = message.cseq;
  void message.maxForwards;
  if (contacts) for (const contact of message.contacts) void contact.uri;
  if (recordRoutes) for (const entry of message.recordRoutes) void entry.uri;
  if (routes) for (const entry of message.routes) void entry.uri;
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
    if (uri instanceof SipUri && uri.headersView.size > 0) {
      throw new SipParseError('BAD_REQUEST_URI', 'headers are not allowed in the Request-URI');
    }
  } else {
    void (message as SipResponse).status;
  }
}
