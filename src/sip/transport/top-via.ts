/**
 * The top Via: stamping received/rport on requests that arrive (RFC 3261 §18.2.1, RFC 3581 §4)
 * and writing the Via of requests we send (RFC 3261 §8.1.1.7, §18.1.1; RFC 3581 §3).
 */
import { splitTopLevel } from '../grammar.js';
import { BRANCH_COOKIE, randomToken, type SipMessage, type Via } from '../message/index.js';
import { normalizeAddress, uriHost, type TransportName } from './address.js';

/** RFC 3261 §8.1.1.7: a branch unique in space and time, starting with the magic cookie. */
export function newBranch(): string {
  return BRANCH_COOKIE + randomToken();
}

/**
 * A top Via value for a request we send: `SIP/2.0/UDP host:port;branch=z9hG4bK…;rport`.
 * RFC 3581 §3: we always ask for rport so that responses find us through NATs.
 */
export function formatVia(transport: TransportName, host: string, port: number, branch: string = newBranch()): string {
  return `SIP/2.0/${transport.toUpperCase()} ${uriHost(host)}:${port};branch=${branch};rport`;
}

/**
 * Adds `received` when the sent-by host differs from the source address (RFC 3261 §18.2.1), and
 * fills in a bare `rport` with the source port, adding `received` unconditionally then
 * (RFC 3581 §4). Throws SipParseError when the top Via is unreadable.
 */
export function stampReceived(request: SipMessage, source: { address: string; port: number }): void {
  const via = request.topVia;
  const address = normalizeAddress(source.address);
  if (via.rport === true) {
    via.params.set('rport', String(source.port));
    via.params.set('received', address);
  } else if (normalizeAddress(via.host) !== address) {
    via.params.set('received', address);
  } else {
    return;
  }
  setTopVia(request, via);
}

/**
 * Writes `via` back as the first Via value, leaving every other Via where it was (a line may
 * hold several comma-separated values, RFC 3261 §7.3.1), and keeps the message's parsed Vias in
 * step with the text.
 */
export function setTopVia(message: SipMessage, via: Via): void {
  const index = message.headers.findIndex((field) => field.name === 'via');
  if (index < 0) {
    message.prependHeader('via', via.toString());
    return;
  }
  const field = message.headers[index]!;
  const values = field.value.includes(',') ? (splitTopLevel(field.value) ?? [field.value]) : [field.value];
  const value = [via.toString(), ...values.slice(1).filter((part) => part !== '')].join(', ');
  message.headers[index] = field.written === undefined ? { name: 'via', value } : { name: 'via', value, written: field.written };
  // The message caches the top Via and the Via list separately; whichever was parsed before the
  // edit must show the same values as the text now does.
  for (const cached of [message.topVia, firstVia(message)]) {
    if (cached === undefined || cached === via) continue;
    cached.protocol = via.protocol;
    cached.transport = via.transport;
    cached.host = via.host;
    cached.port = via.port;
    cached.params = new Map(via.params);
  }
}

function firstVia(message: SipMessage): Via | undefined {
  try {
    return message.vias[0];
  } catch {
    return undefined;
  }
}
