/**
 * The values of WWW-Authenticate / Proxy-Authenticate (challenges) and Authorization /
 * Proxy-Authorization (credentials), parsed into typed objects and written back. The grammar is
 * RFC 3261 §25.1 (challenge, credentials, digest-cln, dig-resp) read with the generic framework
 * of RFC 7235 §2.1 (auth-scheme, token68, auth-param) and the Digest parameters of RFC 7616
 * §3.3–§3.4. Pure functions over header values: no message, no I/O, no state.
 */

export type DigestParseErrorCode =
  /** The value holds nothing but whitespace and commas. */
  | 'EMPTY_VALUE'
  /** No auth-scheme where one is required, or a scheme not followed by whitespace. */
  | 'BAD_SCHEME'
  /** An auth-param without a name, an `=` or a value, or two params without a comma between. */
  | 'BAD_PARAM'
  | 'UNTERMINATED_QUOTE'
  /** A control character inside a quoted-string, or one that cannot be written in one. */
  | 'BAD_CHARACTER'
  /** RFC 7235 §2.1: each parameter name occurs only once per challenge or credentials. */
  | 'DUPLICATE_PARAM'
  /** A Digest challenge or response without a parameter RFC 7616 requires. */
  | 'MISSING_PARAM'
  /** A parameter whose value its definition does not allow (nc, username*, …). */
  | 'BAD_VALUE'
  /** An Authorization value with more than one credentials (RFC 3261 §7.3.1 forbids combining). */
  | 'MULTIPLE_CREDENTIALS';

export class DigestParseError extends Error {
  override readonly name = 'DigestParseError';
  constructor(
    readonly code: DigestParseErrorCode,
    message: string,
    /** The parameter at fault, lower-cased, when one is. */
    readonly param?: string,
  ) {
    super(message);
  }
}

/** The hash functions of the Digest algorithms SIP uses (RFC 7616 §3.2, RFC 8760 §2). */
export type DigestHashName = 'MD5' | 'SHA-256' | 'SHA-512-256';
export type DigestAlgorithm = DigestHashName | `${DigestHashName}-sess`;

export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = [
  'MD5',
  'MD5-sess',
  'SHA-256',
  'SHA-256-sess',
  'SHA-512-256',
  'SHA-512-256-sess',
];

/**
 * The algorithm a challenge or response names, matched case-insensitively; an absent parameter
 * means MD5 (RFC 7616 §3.3). Undefined for an algorithm this module does not implement.
 */
export function parseDigestAlgorithm(written: string | undefined): DigestAlgorithm | undefined {
  if (written === undefined) return 'MD5';
  const upper = written.toUpperCase();
  return DIGEST_ALGORITHMS.find((algorithm) => algorithm.toUpperCase() === upper);
}

export function hashOfAlgorithm(algorithm: DigestAlgorithm): DigestHashName {
  return (algorithm.endsWith('-sess') ? algorithm.slice(0, -'-sess'.length) : algorithm) as DigestHashName;
}

export function isSessionAlgorithm(algorithm: DigestAlgorithm): boolean {
  return algorithm.endsWith('-sess');
}

/** Parameters as received: lower-cased names, unquoted values, in the order written. */
export type AuthParams = ReadonlyMap<string, string>;

/** A challenge of a scheme other than Digest, kept as written (RFC 7235 §2.1). */
export interface OtherChallenge {
  readonly kind: 'other';
  readonly scheme: string;
  readonly params: AuthParams;
  readonly token68?: string;
}

/** A Digest challenge (RFC 7616 §3.3; RFC 3261 §25.1 digest-cln). */
export interface DigestChallenge {
  readonly kind: 'digest';
  readonly scheme: 'Digest';
  readonly realm: string;
  readonly nonce: string;
  readonly opaque?: string;
  /** As written; resolve it with parseDigestAlgorithm(). Absent means MD5. */
  readonly algorithm?: string;
  /** The qop-options, lower-cased; empty when the server sent none (RFC 2069 compatibility). */
  readonly qop: readonly string[];
  readonly stale: boolean;
  /** The protection space, as the space-separated URIs of the domain parameter. */
  readonly domain: readonly string[];
  readonly userhash: boolean;
  readonly charset?: string;
  /** Parameters this module does not know, kept so that nothing received is lost. */
  readonly extensions: AuthParams;
}

export type AuthChallenge = DigestChallenge | OtherChallenge;

/** Credentials of a scheme other than Digest, such as RFC 4475's regaut01 (`NoOneKnowsThisScheme`). */
export interface OtherCredentials {
  readonly kind: 'other';
  readonly scheme: string;
  readonly params: AuthParams;
  readonly token68?: string;
}

/** A Digest response (RFC 7616 §3.4; RFC 3261 §25.1 digest-response). */
export interface DigestCredentials {
  readonly kind: 'digest';
  readonly scheme: 'Digest';
  /** The user name, decoded from `username*` when it came in that form; the hash when userhash. */
  readonly username: string;
  readonly realm: string;
  readonly nonce: string;
  /** The digest-uri: in SIP, the Request-URI of the request (RFC 3261 §22.4). */
  readonly uri: string;
  readonly response: string;
  /** As written; absent means MD5. */
  readonly algorithm?: string;
  readonly cnonce?: string;
  readonly opaque?: string;
  /** The message-qop, lower-cased; absent for an RFC 2069 response. */
  readonly qop?: string;
  /** The nonce-count as written (8 hex digits): the response was computed over these characters. */
  readonly nc?: string;
  readonly userhash: boolean;
  readonly extensions: AuthParams;
}

export type AuthCredentials = DigestCredentials | OtherCredentials;

// ---------------------------------------------------------------------------------------------
// Scanning (RFC 7235 §2.1 with RFC 3261 §25.1 LWS)

interface RawAuthItem {
  scheme: string;
  params: Map<string, string>;
  token68: string | undefined;
}

const COMMA = 44;
const EQUALS = 61;
const DQUOTE = 34;
const BACKSLASH = 92;

// RFC 7230 §3.2.6 tchar: a superset of the SIP token of RFC 3261 §25.1, so that HTTP-style peers parse too.
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TCHAR[c.charCodeAt(0)] = 1;
}

function isTchar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

function isTokenValue(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) if (!isTchar(value.charCodeAt(i))) return false;
  return true;
}

/** RFC 3261 §25.1 LWS; values reach us unfolded, but a folded one still reads. */
function isLws(code: number): boolean {
  return code === 32 || code === 9 || code === 13 || code === 10;
}

/** Characters that neither qdtext nor quoted-pair allows (RFC 3261 §25.1, RFC 7230 §3.2.6). */
function isForbiddenControl(code: number): boolean {
  return (code < 32 && code !== 9) || code === 127;
}

function isToken68Char(code: number): boolean {
  return (
    (code >= 48 && code <= 57) ||
    (code >= 65 && code <= 90) ||
    (code >= 97 && code <= 122) ||
    code === 45 /* - */ ||
    code === 46 /* . */ ||
    code === 95 /* _ */ ||
    code === 126 /* ~ */ ||
    code === 43 /* + */ ||
    code === 47 /* / */
  );
}

function skipLws(text: string, from: number): number {
  let i = from;
  while (i < text.length && isLws(text.charCodeAt(i))) i++;
  return i;
}

function skipTchars(text: string, from: number): number {
  let i = from;
  while (i < text.length && isTchar(text.charCodeAt(i))) i++;
  return i;
}

/** token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
function skipToken68(text: string, from: number): number {
  let i = from;
  while (i < text.length && isToken68Char(text.charCodeAt(i))) i++;
  if (i === from) return from;
  while (i < text.length && text.charCodeAt(i) === EQUALS) i++;
  return i;
}

function describeAt(text: string, i: number): string {
  return i >= text.length ? 'end of value' : `${JSON.stringify(text[i])} at offset ${i}`;
}

/** Reads a quoted-string starting at `start` (a `"`); returns its unescaped content and end. */
function readQuoted(text: string, start: number, param: string): { value: string; end: number } {
  let value = '';
  for (let i = start + 1; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code === DQUOTE) return { value, end: i + 1 };
    if (code === BACKSLASH) {
      i++;
      if (i >= text.length) break;
      code = text.charCodeAt(i);
    }
    if (isForbiddenControl(code)) {
      throw new DigestParseError('BAD_CHARACTER', `control character in the quoted value of ${param}`, param);
    }
    value += text[i];
  }
  throw new DigestParseError('UNTERMINATED_QUOTE', `unterminated quoted value of ${param}`, param);
}

/**
 * Reads `name = value` (BWS allowed around `=`) with the name already read; returns the index
 * just past the value.
 */
function readParam(text: string, equalsAt: number, name: string, item: RawAuthItem): number {
  const lower = name.toLowerCase();
  if (item.token68 !== undefined) {
    throw new DigestParseError('BAD_PARAM', `parameter ${name} after the token68 of ${item.scheme}`, lower);
  }
  let i = skipLws(text, equalsAt + 1);
  let value: string;
  if (text.charCodeAt(i) === DQUOTE) {
    const quoted = readQuoted(text, i, lower);
    value = quoted.value;
    i = quoted.end;
  } else {
    const start = i;
    i = skipTchars(text, i);
    if (i === start) throw new DigestParseError('BAD_PARAM', `no value for ${name}: ${describeAt(text, i)}`, lower);
    value = text.slice(start, i);
  }
  if (item.params.has(lower)) throw new DigestParseError('DUPLICATE_PARAM', `${lower} given twice`, lower);
  item.params.set(lower, value);
  return i;
}

/** After a param or token68: only a comma or the end may follow. */
function expectSeparator(text: string, from: number): number {
  const i = skipLws(text, from);
  if (i < text.length && text.charCodeAt(i) !== COMMA) {
    throw new DigestParseError('BAD_PARAM', `expected "," but found ${describeAt(text, i)}`);
  }
  return i;
}

/**
 * Splits a value into its challenges or credentials: `1#challenge` of RFC 7235 §4.1, of which
 * the single-challenge SIP form (RFC 3261 §25.1) is a special case. Empty list elements are
 * skipped (RFC 7230 §7).
 */
function scanAuthItems(text: string): RawAuthItem[] {
  const items: RawAuthItem[] = [];
  let current: RawAuthItem | undefined;
  let i = 0;
  for (;;) {
    i = skipLws(text, i);
    if (i >= text.length) break;
    if (text.charCodeAt(i) === COMMA) {
      i++;
      continue;
    }
    const nameStart = i;
    i = skipTchars(text, i);
    if (i === nameStart) {
      throw new DigestParseError(current ? 'BAD_PARAM' : 'BAD_SCHEME', `unexpected ${describeAt(text, i)}`);
    }
    const name = text.slice(nameStart, i);
    const afterName = skipLws(text, i);
    if (text.charCodeAt(afterName) === EQUALS) {
      if (!current) throw new DigestParseError('BAD_SCHEME', `parameter ${name} before any auth-scheme`);
      i = expectSeparator(text, readParam(text, afterName, name, current));
      continue;
    }
    // A new challenge: auth-scheme [ 1*SP ( token68 / #auth-param ) ].
    current = { scheme: name, params: new Map(), token68: undefined };
    items.push(current);
    if (afterName >= text.length || text.charCodeAt(afterName) === COMMA) {
      i = afterName;
      continue;
    }
    if (afterName === i) throw new DigestParseError('BAD_SCHEME', `no space after the scheme ${name}`);
    i = afterName;
    const token68End = skipToken68(text, i);
    if (token68End > i) {
      const after = skipLws(text, token68End);
      if (after >= text.length || text.charCodeAt(after) === COMMA) {
        current.token68 = text.slice(i, token68End);
        i = after;
        continue;
      }
    }
    // Otherwise the scheme's first auth-param must follow here, not another scheme.
    const paramStart = i;
    i = skipTchars(text, i);
    const paramName = text.slice(paramStart, i);
    const equalsAt = skipLws(text, i);
    if (paramName === '' || text.charCodeAt(equalsAt) !== EQUALS) {
      throw new DigestParseError('BAD_PARAM', `expected a parameter after ${name} but found ${describeAt(text, paramStart)}`);
    }
    i = expectSeparator(text, readParam(text, equalsAt, paramName, current));
  }
  if (items.length === 0) throw new DigestParseError('EMPTY_VALUE', 'no auth-scheme in the value');
  return items;
}

// ---------------------------------------------------------------------------------------------
// Challenges

function isDigestScheme(scheme: string): boolean {
  // RFC 7235 §2.1: the auth-scheme is a case-insensitive token.
  return scheme.toLowerCase() === 'digest';
}

const CHALLENGE_PARAMS = new Set(['realm', 'nonce', 'opaque', 'algorithm', 'qop', 'stale', 'domain', 'userhash', 'charset']);

function required(params: Map<string, string>, name: string, what: string): string {
  const value = params.get(name);
  if (value === undefined) throw new DigestParseError('MISSING_PARAM', `${what} without ${name}`, name);
  return value;
}

function extensionsOf(params: Map<string, string>, known: Set<string>): Map<string, string> {
  const extensions = new Map<string, string>();
  for (const [name, value] of params) if (!known.has(name)) extensions.set(name, value);
  return extensions;
}

/** RFC 7616 §3.3: "true" in any case is true; anything else, or nothing, is false. */
function isTrue(value: string | undefined): boolean {
  return value !== undefined && value.toLowerCase() === 'true';
}

function toChallenge(item: RawAuthItem): AuthChallenge {
  if (!isDigestScheme(item.scheme)) {
    return item.token68 === undefined
      ? { kind: 'other', scheme: item.scheme, params: item.params }
      : { kind: 'other', scheme: item.scheme, params: item.params, token68: item.token68 };
  }
  const { params } = item;
  if (item.token68 !== undefined) throw new DigestParseError('BAD_PARAM', 'a Digest challenge takes parameters, not a token68');
  const challenge: {
    -readonly [K in keyof DigestChallenge]: DigestChallenge[K];
  } = {
    kind: 'digest',
    scheme: 'Digest',
    realm: required(params, 'realm', 'Digest challenge'),
    nonce: required(params, 'nonce', 'Digest challenge'),
    qop: splitList(params.get('qop'), ',').map((qop) => qop.toLowerCase()),
    stale: isTrue(params.get('stale')),
    domain: splitList(params.get('domain'), ' '),
    userhash: isTrue(params.get('userhash')),
    extensions: extensionsOf(params, CHALLENGE_PARAMS),
  };
  const opaque = params.get('opaque');
  if (opaque !== undefined) challenge.opaque = opaque;
  const algorithm = params.get('algorithm');
  if (algorithm !== undefined) challenge.algorithm = algorithm;
  const charset = params.get('charset');
  if (charset !== undefined) challenge.charset = charset;
  return challenge;
}

function splitList(value: string | undefined, separator: ',' | ' '): string[] {
  if (value === undefined) return [];
  const parts = separator === ',' ? value.split(',') : value.split(/[ \t]+/);
  return parts.map((part) => part.trim()).filter((part) => part !== '');
}

/**
 * Parses the values of WWW-Authenticate or Proxy-Authenticate header fields: one value, or the
 * values of several header lines in order. Each value may hold several challenges (RFC 7235
 * §4.1), although SIP senders must write one per line (RFC 3261 §7.3.1).
 * @throws DigestParseError, and nothing else, when a value is malformed.
 */
export function parseChallenges(values: string | readonly string[]): AuthChallenge[] {
  const list = typeof values === 'string' ? [values] : values;
  const challenges: AuthChallenge[] = [];
  for (const value of list) for (const item of scanAuthItems(value)) challenges.push(toChallenge(item));
  return challenges;
}

/**
 * Writes one challenge as one header value. RFC 7616 §3.3: realm, domain, nonce, opaque and qop
 * are always quoted; stale and algorithm never are.
 */
export function serializeChallenge(challenge: AuthChallenge): string {
  if (challenge.kind === 'other') return serializeOther(challenge);
  const parts = [`realm=${quote(challenge.realm, 'realm')}`];
  if (challenge.domain.length > 0) parts.push(`domain=${quote(challenge.domain.join(' '), 'domain')}`);
  parts.push(`nonce=${quote(challenge.nonce, 'nonce')}`);
  if (challenge.opaque !== undefined) parts.push(`opaque=${quote(challenge.opaque, 'opaque')}`);
  if (challenge.stale) parts.push('stale=true');
  if (challenge.algorithm !== undefined) parts.push(`algorithm=${token(challenge.algorithm, 'algorithm')}`);
  if (challenge.qop.length > 0) parts.push(`qop=${quote(challenge.qop.join(','), 'qop')}`);
  if (challenge.charset !== undefined) parts.push(`charset=${token(challenge.charset, 'charset')}`);
  if (challenge.userhash) parts.push('userhash=true');
  for (const [name, value] of challenge.extensions) parts.push(formatParam(name, value));
  return `Digest ${parts.join(', ')}`;
}

// ---------------------------------------------------------------------------------------------
// Credentials

const CREDENTIALS_PARAMS = new Set([
  'username',
  'username*',
  'realm',
  'nonce',
  'uri',
  'response',
  'algorithm',
  'cnonce',
  'opaque',
  'qop',
  'nc',
  'userhash',
]);

/**
 * Parses one Authorization or Proxy-Authorization value. Schemes other than Digest come back in
 * the generic form.
 * @throws DigestParseError, and nothing else, when the value is malformed.
 */
export function parseCredentials(value: string): AuthCredentials {
  const items = scanAuthItems(value);
  // RFC 3261 §7.3.1 and RFC 7235 §4.2: one credentials per header field value.
  if (items.length > 1) throw new DigestParseError('MULTIPLE_CREDENTIALS', `${items.length} credentials in one value`);
  const item = items[0]!;
  if (!isDigestScheme(item.scheme)) {
    return item.token68 === undefined
      ? { kind: 'other', scheme: item.scheme, params: item.params }
      : { kind: 'other', scheme: item.scheme, params: item.params, token68: item.token68 };
  }
  if (item.token68 !== undefined) throw new DigestParseError('BAD_PARAM', 'Digest credentials take parameters, not a token68');
  const { params } = item;
  const what = 'Digest credentials';
  const credentials: { -readonly [K in keyof DigestCredentials]: DigestCredentials[K] } = {
    kind: 'digest',
    scheme: 'Digest',
    username: usernameOf(params),
    realm: required(params, 'realm', what),
    nonce: required(params, 'nonce', what),
    uri: required(params, 'uri', what),
    response: required(params, 'response', what),
    userhash: isTrue(params.get('userhash')),
    extensions: extensionsOf(params, CREDENTIALS_PARAMS),
  };
  const algorithm = params.get('algorithm');
  if (algorithm !== undefined) credentials.algorithm = algorithm;
  const opaque = params.get('opaque');
  if (opaque !== undefined) credentials.opaque = opaque;
  const qop = params.get('qop');
  if (qop !== undefined) {
    credentials.qop = qop.toLowerCase();
    // RFC 7616 §3.4: cnonce and nc go with qop and only with it.
    credentials.cnonce = required(params, 'cnonce', 'Digest credentials with qop');
    credentials.nc = required(params, 'nc', 'Digest credentials with qop');
  } else {
    const cnonce = params.get('cnonce');
    if (cnonce !== undefined) credentials.cnonce = cnonce;
    const nc = params.get('nc');
    if (nc !== undefined) credentials.nc = nc;
  }
  if (credentials.nc !== undefined && !/^[0-9a-fA-F]{8}$/.test(credentials.nc)) {
    throw new DigestParseError('BAD_VALUE', 'nc is not 8 hexadecimal digits', 'nc');
  }
  return credentials;
}

function usernameOf(params: Map<string, string>): string {
  const plain = params.get('username');
  const extended = params.get('username*');
  // RFC 7616 §3.4: username and username* never both.
  if (plain !== undefined && extended !== undefined) {
    throw new DigestParseError('BAD_PARAM', 'both username and username*', 'username*');
  }
  if (plain !== undefined) return plain;
  if (extended === undefined) throw new DigestParseError('MISSING_PARAM', 'Digest credentials without username', 'username');
  return decodeExtValue(extended, 'username*');
}

/** RFC 8187 §3.2.1 ext-value: charset "'" [ language ] "'" value-chars. */
function decodeExtValue(text: string, param: string): string {
  const match = /^([!#$%&+\-^_`{}~A-Za-z0-9]+)'[A-Za-z0-9-]*'((?:%[0-9A-Fa-f]{2}|[A-Za-z0-9!#$&+\-.^_`|~])*)$/.exec(text);
  if (!match) throw new DigestParseError('BAD_VALUE', `${param} is not an RFC 8187 ext-value`, param);
  const charset = match[1]!.toLowerCase();
  const bytes = Buffer.from(match[2]!.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
  if (charset === 'iso-8859-1') return bytes.toString('latin1');
  if (charset !== 'utf-8') throw new DigestParseError('BAD_VALUE', `${param} in an unsupported charset`, param);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new DigestParseError('BAD_VALUE', `${param} is not valid UTF-8`, param);
  }
}

function encodeExtValue(value: string): string {
  let encoded = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    encoded += /[A-Za-z0-9!#$&+\-.^_`|~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return `UTF-8''${encoded}`;
}

function canQuote(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (isForbiddenControl(value.charCodeAt(i))) return false;
  return true;
}

/**
 * Writes credentials as one header value. RFC 7616 §3.4 and RFC 3261 §25.1: username, realm,
 * nonce, uri, response, cnonce and opaque are quoted; algorithm, qop, nc and userhash are not.
 */
export function serializeCredentials(credentials: AuthCredentials): string {
  if (credentials.kind === 'other') return serializeOther(credentials);
  // RFC 7616 §4: a user name that no quoted-string can carry goes as username* (RFC 8187).
  const parts = [
    canQuote(credentials.username)
      ? `username=${quote(credentials.username, 'username')}`
      : `username*=${encodeExtValue(credentials.username)}`,
    `realm=${quote(credentials.realm, 'realm')}`,
    `nonce=${quote(credentials.nonce, 'nonce')}`,
    `uri=${quote(credentials.uri, 'uri')}`,
    `response=${quote(credentials.response, 'response')}`,
  ];
  if (credentials.algorithm !== undefined) parts.push(`algorithm=${token(credentials.algorithm, 'algorithm')}`);
  if (credentials.cnonce !== undefined) parts.push(`cnonce=${quote(credentials.cnonce, 'cnonce')}`);
  if (credentials.opaque !== undefined) parts.push(`opaque=${quote(credentials.opaque, 'opaque')}`);
  if (credentials.qop !== undefined) parts.push(`qop=${token(credentials.qop, 'qop')}`);
  if (credentials.nc !== undefined) parts.push(`nc=${token(credentials.nc, 'nc')}`);
  if (credentials.userhash) parts.push('userhash=true');
  for (const [name, value] of credentials.extensions) parts.push(formatParam(name, value));
  return `Digest ${parts.join(', ')}`;
}

// ---------------------------------------------------------------------------------------------
// Writing

function serializeOther(item: OtherChallenge | OtherCredentials): string {
  if (!isTokenValue(item.scheme)) throw new DigestParseError('BAD_SCHEME', 'the auth-scheme is not a token');
  if (item.token68 !== undefined) {
    if (item.params.size > 0 || skipToken68(item.token68, 0) !== item.token68.length) {
      throw new DigestParseError('BAD_VALUE', 'a token68 is alone and made of token68 characters');
    }
    return `${item.scheme} ${item.token68}`;
  }
  if (item.params.size === 0) return item.scheme;
  return `${item.scheme} ${[...item.params].map(([name, value]) => formatParam(name, value)).join(', ')}`;
}

/** An extension parameter: as a token when it is one, otherwise quoted (RFC 7235 §2.2). */
function formatParam(name: string, value: string): string {
  if (!isTokenValue(name)) throw new DigestParseError('BAD_PARAM', 'a parameter name is not a token');
  return `${name}=${isTokenValue(value) ? value : quote(value, name)}`;
}

function quote(value: string, param: string): string {
  if (!canQuote(value)) throw new DigestParseError('BAD_CHARACTER', `${param} holds a control character`, param);
  return `"${value.replace(/(["\\])/g, '\\$1')}"`;
}

/**
 * A parameter senders write as a token. One received quoted that is no token (`algorithm="a b"`)
 * is written back quoted, the only way to carry it unchanged.
 */
function token(value: string, param: string): string {
  return isTokenValue(value) ? value : quote(value, param);
}
