/**
 * The message parser: bytes in, SipRequest/SipResponse or a SipParseError out (RFC 3261 §7).
 * It is pure: no sockets, no logging, no state. Only the start line, the header lines and
 * Content-Length are examined here; header values are parsed lazily by the message, and
 * validateMessage() checks the ones a transaction layer depends on.
 */
import { SipParseError } from '../errors.js';
import { isToken, isWhitespace, parseBoundedInt } from '../grammar.js';
import { canonicalName, commonHeaderNameAt } from './header-names.js';
import { SipRequest, SipResponse, type HeaderField } from './message.js';

export interface ParseLimits {
  /** Largest message accepted, in bytes. */
  maxMessageSize: number;
  /** Most header lines accepted. */
  maxHeaders: number;
}

export const defaultParseLimits: ParseLimits = { maxMessageSize: 65535, maxHeaders: 256 };

const CRLFCRLF = Buffer.from('\r\n\r\n');
const LFLF = Buffer.from('\n\n');

/**
 * Parses one message from a datagram (or a frame cut by StreamFramer). Octets beyond
 * Content-Length are ignored (RFC 3261 §18.3); without Content-Length the body runs to the end.
 */
export function parseMessage(data: Buffer, limits: ParseLimits = defaultParseLimits): SipRequest | SipResponse {
  if (data.length > limits.maxMessageSize) {
    throw new SipParseError('TOO_LARGE', `message of ${data.length} bytes exceeds ${limits.maxMessageSize}`, undefined, 513);
  }
  let start = 0;
  // RFC 3261 §7.5: CRLFs before the start line are ignored.
  while (start < data.length && (data[start] === 13 || data[start] === 10)) start++;
  if (start >= data.length) throw new SipParseError('EMPTY_MESSAGE', 'empty message');

  let headerEnd = data.indexOf(CRLFCRLF, start);
  let bodyStart = headerEnd + 4;
  if (headerEnd < 0) {
    headerEnd = data.indexOf(LFLF, start);
    bodyStart = headerEnd + 2;
  }
  if (headerEnd < 0) {
    // A datagram that ends right after its last header line has no body (RFC 4475 §3.1.2.15
    // sends one); anything else without the blank line is not a message.
    if (data[data.length - 1] !== 10) throw new SipParseError('NO_HEADER_END', 'no empty line after the headers');
    bodyStart = data.length;
    headerEnd = data.length;
    while (data[headerEnd - 1] === 10 || data[headerEnd - 1] === 13) headerEnd--;
  }

  const text = data.toString('utf8', start, headerEnd);
  const headers: HeaderField[] = [];
  let lineEnd = text.indexOf('\n');
  if (lineEnd < 0) lineEnd = text.length;
  const startLine = text.slice(0, text.charCodeAt(lineEnd - 1) === 13 ? lineEnd - 1 : lineEnd);
  const pos = lineEnd + 1;

  try {
    return finish(data, startLine, headers, scanHeaders(text, pos, headers, limits), bodyStart);
  } catch (error) {
    // Whatever the fault, the header lines read so far let a UAS answer 400 when it can.
    if (error instanceof SipParseError) {
      error.headerLines ??= headers;
      error.looksLikeRequest ??= !/^SIP\//i.test(startLine);
    }
    throw error;
  }
}

/** Reads header lines from `pos` into `headers`; returns the Content-Length, if any. */
function scanHeaders(text: string, start: number, headers: HeaderField[], limits: ParseLimits): number | undefined {
  let contentLength: number | undefined;
  let pos = start;
  let lineEnd: number;
  while (pos < text.length) {
    lineEnd = text.indexOf('\n', pos);
    if (lineEnd < 0) lineEnd = text.length;
    let line: string | undefined;
    // RFC 3261 §7.3.1: a line starting with whitespace continues the previous one.
    while (lineEnd + 1 < text.length && isFoldChar(text.charCodeAt(lineEnd + 1))) {
      line = (line ?? text.slice(pos, lineEnd)).trimEnd() + ' ';
      const next = text.indexOf('\n', lineEnd + 1);
      const nextEnd = next < 0 ? text.length : next;
      line += text.slice(lineEnd + 1, nextEnd).trim();
      lineEnd = nextEnd;
    }
    const lineStart = line === undefined ? pos : 0;
    const source = line ?? text;
    let end = line === undefined ? lineEnd : line.length;
    pos = lineEnd + 1;
    if (isFoldChar(source.charCodeAt(lineStart))) throw new SipParseError('BAD_HEADER_LINE', 'continuation line before any header');
    const colon = source.indexOf(':', lineStart);
    if (colon <= lineStart || colon >= end) {
      throw new SipParseError('BAD_HEADER_LINE', `header line without a name and colon: ${clip(source.slice(lineStart, end))}`);
    }
    let nameEnd = colon;
    while (nameEnd > lineStart && isFoldChar(source.charCodeAt(nameEnd - 1))) nameEnd--;
    // The usual names are recognised in place: no string is cut for them.
    const common = commonHeaderNameAt(source, lineStart, nameEnd - lineStart);
    let name: string;
    let written: string;
    if (common !== undefined) {
      name = common.name;
      written = common.spelling;
    } else {
      written = source.slice(lineStart, nameEnd);
      if (!isToken(written)) throw new SipParseError('BAD_HEADER_LINE', `invalid header name: ${clip(written)}`);
      name = canonicalName(written);
    }
    let valueStart = colon + 1;
    while (valueStart < end && isWhitespace(source.charCodeAt(valueStart))) valueStart++;
    while (end > valueStart && isWhitespace(source.charCodeAt(end - 1))) end--;
    const value = source.slice(valueStart, end);
    if (headers.length >= limits.maxHeaders) {
      throw new SipParseError('TOO_MANY_HEADERS', `more than ${limits.maxHeaders} header lines`);
    }
    // Compact forms are written back long; other names keep the spelling they came with.
    headers.push(written.length > 1 ? { name, value, written } : { name, value });
    if (name === 'content-length') {
      const parsed = parseBoundedInt(value, Number.MAX_SAFE_INTEGER);
      if (parsed === null) throw new SipParseError('BAD_CONTENT_LENGTH', `invalid Content-Length: ${clip(value)}`, name);
      if (parsed > limits.maxMessageSize) {
        throw new SipParseError('TOO_LARGE', `Content-Length ${parsed} exceeds ${limits.maxMessageSize}`, name, 513);
      }
      if (contentLength !== undefined) throw new SipParseError('DUPLICATE_HEADER', 'more than one Content-Length', name);
      contentLength = parsed;
    }
  }

  return contentLength;
}

function finish(data: Buffer, startLine: string, headers: HeaderField[], contentLength: number | undefined, bodyStart: number): SipRequest | SipResponse {
  let body: Buffer;
  if (contentLength === undefined) {
    body = data.subarray(bodyStart);
  } else {
    if (bodyStart + contentLength > data.length) {
      throw new SipParseError('TRUNCATED_BODY', `Content-Length ${contentLength} exceeds the ${data.length - bodyStart} body bytes received`, 'content-length');
    }
    body = data.subarray(bodyStart, bodyStart + contentLength);
  }

  const message = parseStartLine(startLine, headers, body);
  message.raw = data;
  return message;
}

const VERSION = 'SIP/2.0';
const VERSION_RE = /^SIP\/[0-9]+\.[0-9]+$/i;

function parseStartLine(line: string, headers: HeaderField[], body: Buffer): SipRequest | SipResponse {
  if (line.length > 4 && line.slice(0, 4).toUpperCase() === 'SIP/') {
    const first = line.indexOf(' ');
    const version = first < 0 ? line : line.slice(0, first);
    checkVersion(version);
    const second = line.indexOf(' ', first + 1);
    const codeText = second < 0 ? line.slice(first + 1) : line.slice(first + 1, second);
    if (!/^[0-9]{3}$/.test(codeText)) throw new SipParseError('BAD_STATUS_CODE', `invalid status code: ${clip(codeText)}`);
    const status = Number(codeText);
    if (status < 100 || status > 699) throw new SipParseError('BAD_STATUS_CODE', `status code ${status} out of range`);
    const reason = second < 0 ? '' : line.slice(second + 1);
    return new SipResponse(status, reason, headers, body);
  }
  // Request-Line = Method SP Request-URI SP SIP-Version: exactly one space each (RFC 4475 §3.1.2.9).
  const first = line.indexOf(' ');
  const last = line.lastIndexOf(' ');
  if (first <= 0 || last === first) throw new SipParseError('BAD_START_LINE', `malformed request line: ${clip(line)}`);
  const method = line.slice(0, first);
  const uri = line.slice(first + 1, last);
  const version = line.slice(last + 1);
  if (!isToken(method)) throw new SipParseError('BAD_METHOD', `invalid method: ${clip(method)}`);
  if (version === '') throw new SipParseError('BAD_START_LINE', 'trailing whitespace after the SIP version');
  checkVersion(version);
  if (uri === '' || /\s/.test(uri)) throw new SipParseError('BAD_REQUEST_URI', 'whitespace in the Request-URI');
  if (uri[0] === '<') throw new SipParseError('BAD_REQUEST_URI', 'Request-URI enclosed in <>');
  return new SipRequest(method, uri, headers, body);
}

function checkVersion(version: string): void {
  if (version === VERSION || version.toUpperCase() === VERSION) return;
  if (VERSION_RE.test(version)) throw new SipParseError('BAD_VERSION', `unsupported version ${clip(version)}`, undefined, 505);
  throw new SipParseError('BAD_START_LINE', `malformed SIP version: ${clip(version)}`);
}

function isFoldChar(code: number): boolean {
  return code === 32 || code === 9;
}

function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
