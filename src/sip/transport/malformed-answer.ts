/**
 * The stateless answer to a request that failed parsing or validation: RFC 3261 §8.2 and
 * §21.4.1 (400, with a reason phrase that names the fault), §21.5.6 (505), §21.5.7 (513), as
 * RFC 4475 §3.1.2 and §3.3.1 expect of an element. Every request that carries a Via line is
 * answered (RFC 4475 asks for a 400 even for badinv01, quotbal and insuf): the Via, From, To,
 * Call-ID and CSeq lines are copied back as received, broken or not, because the client matches
 * the answer by its own bytes, and the response goes to the source address. ACKs and responses
 * are never answered.
 */
import { SipParseError } from '../errors.js';
import { isToken, parseBoundedInt } from '../grammar.js';
import {
  SipRequest,
  canonicalName,
  createResponse,
  randomToken,
  reasonPhrase,
  type HeaderField,
  type SipMessageAny,
  type SipResponse,
} from '../message/index.js';
import { stampReceived } from './top-via.js';

/** The header lines a response copies from its request (RFC 3261 §8.2.6.2). */
const COPIED = new Set(['via', 'from', 'to', 'call-id', 'cseq']);
/** Via lines beyond this are not worth answering for. */
const MAX_VIA_LINES = 70;

export interface MalformedInput {
  error: SipParseError;
  /** The bytes received (a datagram, or what was left of a broken stream). */
  bytes: Buffer;
  /** The message, when parsing succeeded and validation failed. */
  partial?: SipMessageAny;
}

/** The response to send back, or undefined when the message cannot or must not be answered. */
export function statelessAnswer(input: MalformedInput, source: { address: string; port: number }): SipResponse | undefined {
  const { error, partial } = input;
  let headers: HeaderField[];
  let method: string | undefined;
  if (partial) {
    // RFC 4475 §3.1.2.5, §3.1.2.19: a malformed response is dropped, never answered.
    if (!partial.isRequest) return undefined;
    headers = partial.headers;
    method = (partial as SipRequest).method;
  } else if (error.headerLines) {
    if (error.looksLikeRequest === false) return undefined;
    headers = error.headerLines;
  } else {
    const section = scanHeaderSection(input.bytes);
    if (!section || section.startLine === '' || /^SIP\//i.test(section.startLine)) return undefined;
    headers = section.headers;
    method = section.startLine.split(' ', 1)[0];
  }

  const request = new SipRequest(method && isToken(method) ? method : 'UNKNOWN', 'sip:invalid', copiedHeaders(headers));
  if (!request.hasHeader('via')) return undefined;
  // RFC 3261 §17: an ACK is never answered (it has no transaction of its own to answer on).
  const cseqMethod = (request.header('cseq') ?? '').trim().split(/\s+/).pop();
  if (cseqMethod?.toUpperCase() === 'ACK' || method === 'ACK') return undefined;
  try {
    stampReceived(request, source);
  } catch {
    // A top Via that does not parse goes back exactly as it came.
  }

  const status = error.status >= 400 && error.status <= 699 ? error.status : 400;
  const reason = status === 400 ? error.reasonPhrase : reasonPhrase(status);
  return createResponse(request, status, printable(reason), randomToken());
}

/**
 * For a broken stream: whether the first message in `unframed` is the one that broke framing
 * (its header section never ends within the limit, or its Content-Length is unusable) and so
 * may be answered, and the fault restated: a well-formed Content-Length beyond the size limit is
 * a message too large (513, RFC 3261 §21.5.7), not a bad header. When the first message is
 * intact, the framer gave up on a later message of the same read and the offender cannot be
 * told apart reliably, so nothing is answered.
 */
export function inspectBrokenStream(error: SipParseError, unframed: Buffer, maxMessageSize: number): { error: SipParseError; answerable: boolean } {
  let start = 0;
  while (start < unframed.length && (unframed[start] === 13 || unframed[start] === 10)) start++;
  const headerEnd = unframed.indexOf('\r\n\r\n', start);
  if (headerEnd < 0) return { error, answerable: true };
  const headSize = headerEnd + 4 - start;
  const section = scanHeaderSection(unframed.subarray(start, headerEnd + 4));
  const contentLength = section?.headers.find((field) => field.name === 'content-length')?.value;
  if (contentLength === undefined) return { error, answerable: headSize > maxMessageSize };
  if (parseBoundedInt(contentLength, maxMessageSize) !== null) {
    return { error, answerable: headSize + Number(contentLength) > maxMessageSize };
  }
  if (/^[0-9]{1,15}$/.test(contentLength)) {
    const tooLarge = new SipParseError('TOO_LARGE', `message of ${headSize + Number(contentLength)} bytes exceeds ${maxMessageSize}`, undefined, 513);
    return { error: tooLarge, answerable: true };
  }
  return { error, answerable: true };
}

/**
 * A lenient read of the start line and header lines, for when the parser gave up before it
 * could report them: lines that are not `name: value` are skipped rather than fatal.
 */
export function scanHeaderSection(bytes: Buffer): { startLine: string; headers: HeaderField[] } | undefined {
  let start = 0;
  while (start < bytes.length && (bytes[start] === 13 || bytes[start] === 10)) start++;
  if (start >= bytes.length) return undefined;
  let end = bytes.indexOf('\r\n\r\n', start);
  if (end < 0) end = bytes.indexOf('\n\n', start);
  if (end < 0) end = bytes.length;
  const lines = bytes.toString('utf8', start, end).split(/\r?\n/);
  const startLine = (lines[0] ?? '').trim();
  const logical: string[] = [];
  for (const line of lines.slice(1)) {
    // RFC 3261 §7.3.1: a line starting with whitespace continues the previous one.
    if ((line.startsWith(' ') || line.startsWith('\t')) && logical.length > 0) logical[logical.length - 1] += ` ${line.trim()}`;
    else logical.push(line);
  }
  const headers: HeaderField[] = [];
  for (const line of logical) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    if (!isToken(name)) continue;
    headers.push({ name: canonicalName(name), value: line.slice(colon + 1).trim() });
  }
  return { startLine, headers };
}

/** Every Via line and the first From, To, Call-ID and CSeq (RFC 4475 §3.3.8 sends several). */
function copiedHeaders(headers: HeaderField[]): HeaderField[] {
  const seen = new Set<string>();
  const out: HeaderField[] = [];
  let vias = 0;
  for (const field of headers) {
    if (!COPIED.has(field.name)) continue;
    if (field.name === 'via') {
      if (++vias > MAX_VIA_LINES) continue;
    } else if (seen.has(field.name)) {
      continue;
    }
    seen.add(field.name);
    out.push({ name: field.name, value: field.value });
  }
  return out;
}

/** RFC 3261 §25.1 Reason-Phrase: no control characters may go back on the wire. */
function printable(text: string): string {
  return text.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '?');
}
