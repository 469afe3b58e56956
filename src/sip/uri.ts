/**
 * URIs of RFC 3261 §19.1 (`sip:`, `sips:`), RFC 3966 (`tel:`) and any other absolute URI,
 * kept opaque. Parsing is strict about what may stand where (no whitespace, escapes only as
 * %XX); comparison follows RFC 3261 §19.1.4 and RFC 3966 §4.
 */
import { InvalidSipUri } from './errors.js';
import { formatParams, parseBoundedInt, unescapePercent, type Params } from './grammar.js';

/** Nearly every URI has no headers, and many no parameters: their maps are made when first asked for. */
const NO_PARAMS: ReadonlyMap<string, string | null> = new Map();
const NO_HEADERS: ReadonlyMap<string, string> = new Map();

export class SipUri {
  readonly scheme: 'sip' | 'sips';
  user: string | undefined;
  password: string | undefined;
  host: string;
  port: number | undefined;
  private paramsMap: Params | undefined;
  private headersMap: Map<string, string> | undefined;

  constructor(fields: {
    scheme?: 'sip' | 'sips';
    user?: string;
    password?: string;
    host: string;
    port?: number;
    params?: Params;
    headers?: Map<string, string>;
  }) {
    this.scheme = fields.scheme ?? 'sip';
    this.user = fields.user;
    this.password = fields.password;
    this.host = fields.host;
    this.port = fields.port;
    this.paramsMap = fields.params;
    this.headersMap = fields.headers;
  }

  get params(): Params {
    return (this.paramsMap ??= new Map());
  }

  set params(value: Params) {
    this.paramsMap = value;
  }

  /** `?name=value&…` headers, names and values as written (escaped). */
  get headers(): Map<string, string> {
    return (this.headersMap ??= new Map());
  }

  set headers(value: Map<string, string>) {
    this.headersMap = value;
  }

  /** The parameters for reading, without making a map for a URI that has none. */
  get paramsView(): ReadonlyMap<string, string | null> {
    return this.paramsMap ?? NO_PARAMS;
  }

  /** The headers for reading, without making a map for a URI that has none. */
  get headersView(): ReadonlyMap<string, string> {
    return this.headersMap ?? NO_HEADERS;
  }

  get secure(): boolean {
    return this.scheme === 'sips';
  }

  /** The `transport` URI parameter, lower-cased, if any. */
  get transport(): string | undefined {
    return this.paramsMap?.get('transport')?.toLowerCase() ?? undefined;
  }

  /** The host without IPv6 brackets. */
  get hostname(): string {
    return this.host.startsWith('[') ? this.host.slice(1, -1) : this.host;
  }

  clone(): SipUri {
    return new SipUri({
      scheme: this.scheme,
      user: this.user,
      password: this.password,
      host: this.host,
      port: this.port,
      params: this.paramsMap === undefined ? undefined : new Map(this.paramsMap),
      headers: this.headersMap === undefined ? undefined : new Map(this.headersMap),
    });
  }

  toString(): string {
    let out = `${this.scheme}:`;
    if (this.user !== undefined) {
      out += this.user;
      if (this.password !== undefined) out += `:${this.password}`;
      out += '@';
    }
    out += this.host;
    if (this.port !== undefined) out += `:${this.port}`;
    if (this.paramsMap !== undefined) out += formatParams(this.paramsMap);
    if (this.headersMap !== undefined && this.headersMap.size > 0) {
      out += '?' + [...this.headersMap].map(([k, v]) => `${k}=${v}`).join('&');
    }
    return out;
  }
}

export class TelUri {
  readonly scheme = 'tel' as const;
  /** The number as written, visual separators included. */
  number: string;
  params: Params;

  constructor(number: string, params: Params = new Map()) {
    this.number = number;
    this.params = params;
  }

  get global(): boolean {
    return this.number.startsWith('+');
  }

  /** The number without visual separators (RFC 3966 §5.1.1). */
  get digits(): string {
    return this.number.replace(/[-.()]/g, '');
  }

  toString(): string {
    return `tel:${this.number}${formatParams(this.params)}`;
  }
}

/** A URI of a scheme we do not interpret (http:, isbn:, urn:…), kept as written. */
export class AbsoluteUri {
  constructor(
    readonly scheme: string,
    readonly opaque: string,
  ) {}

  toString(): string {
    return `${this.scheme}:${this.opaque}`;
  }
}

export type Uri = SipUri | TelUri | AbsoluteUri;

const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]*):/;
// RFC 3261 §25.1: user = 1*( unreserved / escaped / user-unreserved ).
const USER_RE = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/;
const PASSWORD_RE = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,]|%[0-9A-Fa-f]{2})*$/;
const HOSTNAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?)*\.?$/;
const IPV6_REF_RE = /^\[[0-9A-Fa-f:.]+\]$/;
const PARAM_CHARS_RE = /^(?:[A-Za-z0-9\-_.!~*'()[\]/:&+$]|%[0-9A-Fa-f]{2})+$/;
const HEADER_CHARS_RE = /^(?:[A-Za-z0-9\-_.!~*'()[\]/?:+$]|%[0-9A-Fa-f]{2})*$/;
const OPAQUE_RE = /^[^\s<>"]+$/;

export function parseUri(text: string): Uri {
  // The scheme of nearly every URI, written as nearly everyone writes it.
  if (text.startsWith('sip:')) return parseSipUri(text, 'sip', text.slice(4));
  if (text.startsWith('sips:')) return parseSipUri(text, 'sips', text.slice(5));
  const match = SCHEME_RE.exec(text);
  if (!match) throw new InvalidSipUri(text, 'no scheme');
  const scheme = match[1]!.toLowerCase();
  const rest = text.slice(match[0].length);
  if (scheme === 'sip' || scheme === 'sips') return parseSipUri(text, scheme, rest);
  if (scheme === 'tel') return parseTelUri(text, rest);
  if (!OPAQUE_RE.test(rest)) throw new InvalidSipUri(text, 'invalid characters');
  return new AbsoluteUri(scheme, rest);
}

/** Parses and insists on a sip:/sips: URI. */
export function parseSipUri(text: string): SipUri;
export function parseSipUri(text: string, scheme: 'sip' | 'sips', rest: string): SipUri;
export function parseSipUri(text: string, scheme?: 'sip' | 'sips', rest?: string): SipUri {
  if (scheme === undefined || rest === undefined) {
    const uri = parseUri(text);
    if (!(uri instanceof SipUri)) throw new InvalidSipUri(text, 'not a sip: or sips: URI');
    return uri;
  }
  let remainder = rest;
  let user: string | undefined;
  let password: string | undefined;
  const at = remainder.indexOf('@');
  if (at >= 0) {
    // '@' may appear only as the userinfo separator: user, params and headers must escape it.
    if (remainder.indexOf('@', at + 1) >= 0) throw new InvalidSipUri(text, 'more than one @');
    const userinfo = remainder.slice(0, at);
    remainder = remainder.slice(at + 1);
    const colon = userinfo.indexOf(':');
    user = colon >= 0 ? userinfo.slice(0, colon) : userinfo;
    if (colon >= 0) password = userinfo.slice(colon + 1);
    if (!USER_RE.test(user)) throw new InvalidSipUri(text, 'invalid user part');
    if (password !== undefined && !PASSWORD_RE.test(password)) throw new InvalidSipUri(text, 'invalid password');
  }
  let headersText: string | undefined;
  const question = remainder.indexOf('?');
  if (question >= 0) {
    headersText = remainder.slice(question + 1);
    remainder = remainder.slice(0, question);
  }
  let paramsText = '';
  const semi = remainder.indexOf(';');
  if (semi >= 0) {
    paramsText = remainder.slice(semi);
    remainder = remainder.slice(0, semi);
  }
  const { host, port } = parseHostPort(remainder, text);
  let params: Params | undefined;
  if (paramsText) {
    params = new Map();
    for (let start = 1; start <= paramsText.length; ) {
      let end = paramsText.indexOf(';', start);
      if (end < 0) end = paramsText.length;
      const part = paramsText.slice(start, end);
      start = end + 1;
      const eq = part.indexOf('=');
      const name = eq >= 0 ? part.slice(0, eq) : part;
      const value = eq >= 0 ? part.slice(eq + 1) : null;
      if (!PARAM_CHARS_RE.test(name)) throw new InvalidSipUri(text, 'invalid parameter name');
      if (value !== null && !PARAM_CHARS_RE.test(value)) throw new InvalidSipUri(text, 'invalid parameter value');
      params.set(name.toLowerCase(), value);
    }
  }
  let headers: Map<string, string> | undefined;
  if (headersText !== undefined) {
    headers = new Map();
    for (let start = 0; start <= headersText.length; ) {
      let end = headersText.indexOf('&', start);
      if (end < 0) end = headersText.length;
      const part = headersText.slice(start, end);
      start = end + 1;
      const eq = part.indexOf('=');
      if (eq <= 0) throw new InvalidSipUri(text, 'invalid header');
      const name = part.slice(0, eq);
      const value = part.slice(eq + 1);
      if (!HEADER_CHARS_RE.test(name) || !HEADER_CHARS_RE.test(value)) throw new InvalidSipUri(text, 'invalid header');
      headers.set(name, value);
    }
  }
  return new SipUri({ scheme, user, password, host, port, params, headers });
}

export function parseHostPort(text: string, whole = text): { host: string; port: number | undefined } {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new InvalidSipUri(whole, 'unterminated IPv6 reference');
    host = text.slice(0, close + 1);
    const after = text.slice(close + 1);
    if (after !== '') {
      if (after[0] !== ':') throw new InvalidSipUri(whole, 'junk after IPv6 reference');
      portText = after.slice(1);
    }
    if (!IPV6_REF_RE.test(host)) throw new InvalidSipUri(whole, 'invalid IPv6 reference');
  } else {
    const colon = text.indexOf(':');
    host = colon >= 0 ? text.slice(0, colon) : text;
    if (colon >= 0) portText = text.slice(colon + 1);
    if (!HOSTNAME_RE.test(host)) throw new InvalidSipUri(whole, 'invalid host');
  }
  let port: number | undefined;
  if (portText !== undefined) {
    const value = parseBoundedInt(portText, 65535);
    if (value === null) throw new InvalidSipUri(whole, 'invalid port');
    port = value;
  }
  return { host, port };
}

// RFC 3966 §3: global numbers start with '+'; local numbers need phone-context.
const TEL_NUMBER_RE = /^(?:\+[0-9\-.()]*[0-9][0-9\-.()]*|[0-9A-Fa-f*#\-.()]*[0-9A-Fa-f*#][0-9A-Fa-f*#\-.()]*)$/;

function parseTelUri(text: string, rest: string): TelUri {
  const semi = rest.indexOf(';');
  const number = semi >= 0 ? rest.slice(0, semi) : rest;
  if (!TEL_NUMBER_RE.test(number)) throw new InvalidSipUri(text, 'invalid telephone number');
  const params: Params = new Map();
  if (semi >= 0) {
    for (const part of rest.slice(semi + 1).split(';')) {
      const eq = part.indexOf('=');
      const name = eq >= 0 ? part.slice(0, eq) : part;
      const value = eq >= 0 ? part.slice(eq + 1) : null;
      if (!PARAM_CHARS_RE.test(name) || (value !== null && !PARAM_CHARS_RE.test(value))) {
        throw new InvalidSipUri(text, 'invalid parameter');
      }
      params.set(name.toLowerCase(), value);
    }
  }
  if (!number.startsWith('+') && !params.has('phone-context')) {
    throw new InvalidSipUri(text, 'a local number needs phone-context');
  }
  return new TelUri(number, params);
}

// RFC 3261 §19.1.4: these parameters must match when either URI has them.
const ALWAYS_COMPARED = ['user', 'ttl', 'method', 'maddr', 'transport'];

/** URI equivalence of RFC 3261 §19.1.4 (sip/sips) and RFC 3966 §4 (tel). */
export function uriEquals(a: Uri, b: Uri): boolean {
  if (a instanceof SipUri && b instanceof SipUri) return sipUriEquals(a, b);
  if (a instanceof TelUri && b instanceof TelUri) return telUriEquals(a, b);
  if (a instanceof AbsoluteUri && b instanceof AbsoluteUri) {
    return a.scheme === b.scheme && unescapePercent(a.opaque) === unescapePercent(b.opaque);
  }
  return false;
}

function sipUriEquals(a: SipUri, b: SipUri): boolean {
  if (a.scheme !== b.scheme) return false;
  if (decoded(a.user) !== decoded(b.user) || decoded(a.password) !== decoded(b.password)) return false;
  if (a.host.toLowerCase() !== b.host.toLowerCase() || a.port !== b.port) return false;
  const aParams = a.paramsView;
  const bParams = b.paramsView;
  for (const name of ALWAYS_COMPARED) {
    if (aParams.has(name) !== bParams.has(name)) return false;
  }
  for (const [name, value] of aParams) {
    if (!bParams.has(name)) continue;
    if (paramValue(value) !== paramValue(bParams.get(name) ?? null)) return false;
  }
  if (a.headersView.size !== b.headersView.size) return false;
  if (a.headersView.size === 0) return true;
  const bHeaders = new Map([...b.headersView].map(([k, v]) => [k.toLowerCase(), unescapePercent(v)]));
  for (const [name, value] of a.headersView) {
    if (bHeaders.get(name.toLowerCase()) !== unescapePercent(value)) return false;
  }
  return true;
}

function telUriEquals(a: TelUri, b: TelUri): boolean {
  if (a.digits.toLowerCase() !== b.digits.toLowerCase()) return false;
  if (a.params.size !== b.params.size) return false;
  for (const [name, value] of a.params) {
    if (!b.params.has(name) || paramValue(value) !== paramValue(b.params.get(name) ?? null)) return false;
  }
  return true;
}

function decoded(text: string | undefined): string | undefined {
  return text === undefined ? undefined : unescapePercent(text);
}

function paramValue(value: string | null): string | null {
  return value === null ? null : unescapePercent(value).toLowerCase();
}
