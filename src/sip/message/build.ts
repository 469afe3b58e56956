/** Building responses from requests (RFC 3261 §8.2.6) and other small constructions. */
import { randomBytes, randomFillSync } from 'node:crypto';
import { SipResponse, type SipRequest } from './message.js';

/** Default reason phrases (RFC 3261 §21 and later RFCs). */
export const REASON_PHRASES: Record<number, string> = {
  100: 'Trying',
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  182: 'Queued',
  183: 'Session Progress',
  199: 'Early Dialog Terminated',
  200: 'OK',
  202: 'Accepted',
  204: 'No Notification',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Moved Temporarily',
  305: 'Use Proxy',
  380: 'Alternative Service',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  410: 'Gone',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  420: 'Bad Extension',
  421: 'Extension Required',
  422: 'Session Interval Too Small',
  423: 'Interval Too Brief',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  484: 'Address Incomplete',
  485: 'Ambiguous',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  489: 'Bad Event',
  491: 'Request Pending',
  493: 'Undecipherable',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  505: 'Version Not Supported',
  513: 'Message Too Large',
  600: 'Busy Everywhere',
  603: 'Decline',
  604: 'Does Not Exist Anywhere',
  606: 'Not Acceptable',
};

export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? (status < 200 ? 'Session Progress' : status < 300 ? 'OK' : 'Unknown');
}

/**
 * Random bytes drawn from the CSPRNG a pool at a time: a token is wanted for every tag, branch
 * and Call-ID, and one randomBytes() call per token costs more than the token is worth.
 */
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafeSlow(POOL_SIZE);
let poolOffset = POOL_SIZE;

/** A random token for tags and branches: 64 bits, base-36. */
export function randomToken(bytes = 8): string {
  if (!(Number.isInteger(bytes) && bytes >= 1 && bytes <= 64)) return BigInt('0x' + randomBytes(bytes).toString('hex')).toString(36);
  if (poolOffset + bytes > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const offset = poolOffset;
  poolOffset += bytes;
  return base36(pool, offset, bytes);
}

const CHUNK = 36 ** 4;

/**
 * The bytes `[offset, offset + length)` read as one big-endian unsigned number, in base 36 as
 * BigInt's toString(36) writes it, without a BigInt: the number is divided by 36^4 in 32-bit
 * words (each step stays below 2^53), and each remainder is four digits.
 */
export function base36(bytes: Uint8Array, offset: number, length: number): string {
  const words: number[] = [];
  // The first word takes what does not divide into fours.
  let first = length % 4;
  if (first === 0) first = 4;
  let position = offset;
  for (let size = first; position < offset + length; size = 4) {
    let word = 0;
    for (let i = 0; i < size; i++) word = word * 256 + bytes[position + i]!;
    words.push(word);
    position += size;
  }
  let out = '';
  let top = 0;
  while (top < words.length) {
    let remainder = 0;
    for (let i = top; i < words.length; i++) {
      const current = remainder * 4294967296 + words[i]!;
      words[i] = Math.floor(current / CHUNK);
      remainder = current % CHUNK;
    }
    while (top < words.length && words[top] === 0) top++;
    const digits = remainder.toString(36);
    out = (top < words.length ? digits.padStart(4, '0') : digits) + out;
  }
  return out === '' ? '0' : out;
}

/**
 * A response to `request` carrying its Via, From, To, Call-ID and CSeq (RFC 3261 §8.2.6.2).
 * `toTag` is added to To when the request's To has none and the status is above 100.
 */
export function createResponse(request: SipRequest, status: number, reason = reasonPhrase(status), toTag?: string): SipResponse {
  const response = new SipResponse(status, reason);
  for (const field of request.headers) {
    if (field.name === 'via' || field.name === 'from' || field.name === 'call-id' || field.name === 'cseq') {
      response.headers.push({ name: field.name, value: field.value });
    } else if (field.name === 'to') {
      let value = field.value;
      if (status > 100 && toTag !== undefined && !hasTag(request)) value = `${value};tag=${toTag}`;
      response.headers.push({ name: 'to', value });
    }
  }
  // RFC 3261 §8.2.6.1: a 100 Trying copies any Timestamp header.
  const timestamp = request.header('timestamp');
  if (status === 100 && timestamp !== undefined) response.headers.push({ name: 'timestamp', value: timestamp });
  return response;
}

function hasTag(request: SipRequest): boolean {
  try {
    return request.to.tag !== undefined;
  } catch {
    return false;
  }
}
