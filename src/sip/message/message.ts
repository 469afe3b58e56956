/**
 * SIP requests and responses (RFC 3261 §7). Header values are kept as text and parsed into
 * typed values on first access (then cached); the bytes a message arrived as are kept in `raw`
 * so it can be logged or forwarded exactly as received (until a header is changed).
 * The typed values are views for reading: change a message through setHeader() and friends (or
 * `request.uri = …`), never by mutating a returned object.
 */
import { SipParseError } from '../errors.js';
import { flatString, parseBoundedInt, splitTopLevelInto } from '../grammar.js';
import { parseUri, type Uri } from '../uri.js';
import { parseCSeq, type CSeq } from './cseq.js';
import { canonicalName, isListHeader } from './header-names.js';
import { parseNameAddr, type NameAddr } from './name-addr.js';
import { parseVia, type Via } from './via.js';

export interface HeaderField {
  /** Canonical lower-case long name (`via`, `call-id`). */
  name: string;
  /** The value as received (unfolded and trimmed) or as set. */
  value: string;
  /** The name as written on the wire, kept for unknown headers. */
  written?: string;
}

interface ParsedHeaders {
  callId?: string;
  cseq?: CSeq;
  from?: NameAddr;
  to?: NameAddr;
  vias?: Via[];
  topVia?: Via;
  contacts?: NameAddr[];
  recordRoutes?: NameAddr[];
  routes?: NameAddr[];
  contentType?: string;
}

type HeaderValue = string | number | { toString(): string };

/** A Content-Type's media type, lower-cased, without parameters (`application/sdp`). */
export function mediaType(value: string): string {
  const semi = value.indexOf(';');
  const type = (semi >= 0 ? value.slice(0, semi) : value).trim();
  // Nearly always written in lower case already: then no copy is made.
  return type === 'application/sdp' ? type : type.toLowerCase();
}

const EMPTY = Buffer.alloc(0);

function hasWhitespace(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 9 || c === 13 || c === 10) return true;
  }
  return false;
}

export abstract class SipMessage {
  headers: HeaderField[];
  body: Buffer;
  /** The bytes this message was parsed from, when it came from the wire. */
  raw: Buffer | undefined;
  /** Typed values parsed so far; dropped whenever a header changes. */
  private parsed: ParsedHeaders = {};

  constructor(headers: HeaderField[] = [], body: Buffer = EMPTY) {
    this.headers = headers;
    this.body = body;
    this.raw = undefined;
  }

  abstract get isRequest(): boolean;
  abstract startLine(): string;

  // ---- raw access -------------------------------------------------------------------------

  /** The first line's value of a header (any spelling or compact form), or undefined. */
  header(name: string): string | undefined {
    const key = canonicalName(name);
    for (const field of this.headers) if (field.name === key) return field.value;
    return undefined;
  }

  hasHeader(name: string): boolean {
    return this.header(name) !== undefined;
  }

  /** Every value of a header across all its lines; list headers are split on top-level commas. */
  headerValues(name: string): string[] {
    const key = canonicalName(name);
    const split = isListHeader(key);
    const values: string[] = [];
    for (const field of this.headers) {
      if (field.name !== key) continue;
      if (!split) {
        values.push(field.value);
        continue;
      }
      if (!splitTopLevelInto(field.value, values)) throw new SipParseError('BAD_HEADER_VALUE', `${key}: unbalanced quotes or brackets`, key);
    }
    return values;
  }

  /** Replaces every line of the header with one line (kept where the first one stood). */
  setHeader(name: string, value: HeaderValue): this {
    const key = canonicalName(name);
    const text = flatString(String(value));
    const index = this.headers.findIndex((f) => f.name === key);
    if (index < 0) {
      this.headers.push({ name: key, value: text });
    } else {
      this.headers[index] = { name: key, value: text };
      this.headers = this.headers.filter((f, i) => i <= index || f.name !== key);
    }
    this.parsed = {};
    this.raw = undefined;
    return this;
  }

  addHeader(name: string, value: HeaderValue): this {
    this.headers.push({ name: canonicalName(name), value: flatString(String(value)) });
    this.parsed = {};
    this.raw = undefined;
    return this;
  }

  /** Adds a header line before every other line of the same header (a new top Via). */
  prependHeader(name: string, value: HeaderValue): this {
    const key = canonicalName(name);
    const index = this.headers.findIndex((f) => f.name === key);
    const field = { name: key, value: flatString(String(value)) };
    if (index < 0) this.headers.unshift(field);
    else this.headers.splice(index, 0, field);
    this.parsed = {};
    this.raw = undefined;
    return this;
  }

  removeHeader(name: string): this {
    const key = canonicalName(name);
    this.headers = this.headers.filter((f) => f.name !== key);
    this.parsed = {};
    this.raw = undefined;
    return this;
  }

  // ---- typed access (parsed on first use, then cached) ------------------------------------

  protected required(name: string): string {
    const value = this.header(name);
    if (value === undefined) throw new SipParseError('MISSING_HEADER', `missing ${name} header`, name);
    return value;
  }

  get callId(): string {
    if (this.parsed.callId === undefined) {
      const value = this.required('call-id');
      if (value === '' || hasWhitespace(value)) throw new SipParseError('BAD_HEADER_VALUE', 'Call-ID: malformed', 'call-id');
      this.parsed.callId = value;
    }
    return this.parsed.callId;
  }

  get cseq(): CSeq {
    return (this.parsed.cseq ??= parseCSeq(this.required('cseq')));
  }

  get from(): NameAddr {
    return (this.parsed.from ??= parseNameAddr(this.required('from'), 'from'));
  }

  get to(): NameAddr {
    return (this.parsed.to ??= parseNameAddr(this.required('to'), 'to'));
  }

  get vias(): Via[] {
    if (this.parsed.vias === undefined) {
      const values = this.headerValues('via');
      if (values.length === 0) throw new SipParseError('MISSING_HEADER', 'missing Via header', 'via');
      this.parsed.vias = values.map(parseVia);
    }
    return this.parsed.vias;
  }

  /** The first Via, parsed without parsing the others (the common case on every message). */
  get topVia(): Via {
    if (this.parsed.topVia === undefined) {
      if (this.parsed.vias !== undefined) return (this.parsed.topVia = this.parsed.vias[0]!);
      const line = this.header('via');
      if (line === undefined) throw new SipParseError('MISSING_HEADER', 'missing Via header', 'via');
      this.parsed.topVia = line.indexOf(',') < 0 ? parseVia(line) : this.vias[0]!;
    }
    return this.parsed.topVia;
  }

  /** Contact values; empty when absent. A `*` (REGISTER only) is reported by `contactWildcard`. */
  get contacts(): NameAddr[] {
    if (this.parsed.contacts === undefined) {
      const values = this.headerValues('contact');
      this.parsed.contacts = values.length === 1 && values[0] === '*' ? [] : values.map((v) => parseNameAddr(v, 'contact'));
    }
    return this.parsed.contacts;
  }

  get contactWildcard(): boolean {
    return this.header('contact')?.trim() === '*';
  }

  get recordRoutes(): NameAddr[] {
    return (this.parsed.recordRoutes ??= this.headerValues('record-route').map((v) => parseNameAddr(v, 'record-route')));
  }

  get routes(): NameAddr[] {
    return (this.parsed.routes ??= this.headerValues('route').map((v) => parseNameAddr(v, 'route')));
  }

  get maxForwards(): number | undefined {
    const value = this.header('max-forwards');
    if (value === undefined) return undefined;
    const hops = parseBoundedInt(value, 255);
    if (hops === null) throw new SipParseError('BAD_HEADER_VALUE', 'Max-Forwards: out of range', 'max-forwards');
    return hops;
  }

  /** The media type, lower-cased, without parameters (`application/sdp`). */
  get contentType(): string | undefined {
    if (this.parsed.contentType !== undefined) return this.parsed.contentType;
    const value = this.header('content-type');
    if (value === undefined) return undefined;
    return (this.parsed.contentType = mediaType(value));
  }

  /** Option tags of Require, Supported, Proxy-Require, Unsupported (lower-cased). */
  optionTags(name: 'require' | 'supported' | 'proxy-require' | 'unsupported'): string[] {
    return this.headerValues(name).map((tag) => tag.toLowerCase());
  }

  /** A copy with its own header list; the body bytes are shared (bodies are never mutated in place). */
  abstract clone(): SipMessage;
}

export class SipRequest extends SipMessage {
  method: string;
  /** The Request-URI as written. */
  private uriText: string;
  private parsedUri: Uri | undefined;

  constructor(method: string, uri: string | Uri, headers?: HeaderField[], body?: Buffer) {
    super(headers, body);
    this.method = method;
    this.uriText = typeof uri === 'string' ? uri : uri.toString();
    this.parsedUri = typeof uri === 'string' ? undefined : uri;
  }

  get isRequest(): true {
    return true;
  }

  /** The Request-URI text exactly as received or set. */
  get requestUri(): string {
    return this.uriText;
  }

  /** The Request-URI, parsed on first use. Throws SipParseError when malformed. */
  get uri(): Uri {
    if (!this.parsedUri) {
      try {
        this.parsedUri = parseUri(this.uriText);
      } catch (error) {
        throw new SipParseError('BAD_REQUEST_URI', (error as Error).message);
      }
    }
    return this.parsedUri;
  }

  set uri(value: Uri) {
    this.parsedUri = value;
    this.uriText = value.toString();
  }

  startLine(): string {
    return `${this.method} ${this.uriText} SIP/2.0`;
  }

  clone(): SipRequest {
    const copy = new SipRequest(this.method, this.uriText, this.headers.map((f) => ({ ...f })), this.body);
    copy.raw = this.raw;
    return copy;
  }
}

export class SipResponse extends SipMessage {
  status: number;
  reason: string;

  constructor(status: number, reason: string, headers?: HeaderField[], body?: Buffer) {
    super(headers, body);
    this.status = status;
    this.reason = reason;
  }

  get isRequest(): false {
    return false;
  }

  startLine(): string {
    return `SIP/2.0 ${this.status} ${this.reason}`;
  }

  clone(): SipResponse {
    const copy = new SipResponse(this.status, this.reason, this.headers.map((f) => ({ ...f })), this.body);
    copy.raw = this.raw;
    return copy;
  }
}

export type SipMessageAny = SipRequest | SipResponse;

/**
 * Forgets the typed values parsed so far; they are parsed again from the header text when next
 * asked for, so nothing changes but memory. For src/sip only (not exported by the folder's
 * index): a session keeps its INVITE and the final response for as long as it lasts, while the
 * NameAddrs, URIs and Vias parsed to handle them are seldom read again.
 */
export function releaseParsedHeaders(message: SipMessage): void {
  (message as unknown as { parsed: ParsedHeaders }).parsed = {};
}

export function isRequest(message: SipMessage): message is SipRequest {
  return message.isRequest;
}
