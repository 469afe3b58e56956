/**
 * name-addr / addr-spec with header parameters (RFC 3261 §20.10, §25.1): the value of From,
 * To, Contact, Route, Record-Route, Refer-To and the like.
 */
import { SipParseError } from '../errors.js';
import { formatParams, isTokenChar, parseParams, quote, skipQuoted, unquote, type Params } from '../grammar.js';
import { parseUri, type Uri } from '../uri.js';

export class NameAddr {
  constructor(
    public uri: Uri,
    public displayName: string | undefined = undefined,
    public params: Params = new Map(),
  ) {}

  get tag(): string | undefined {
    return this.params.get('tag') ?? undefined;
  }

  withTag(tag: string): NameAddr {
    const params = new Map(this.params);
    params.set('tag', tag);
    return new NameAddr(this.uri, this.displayName, params);
  }

  toString(): string {
    const name = this.displayName === undefined ? '' : `${quote(this.displayName)} `;
    return `${name}<${this.uri.toString()}>${formatParams(this.params)}`;
  }
}

/**
 * Parses one name-addr or addr-spec. `header` names the header in errors. An addr-spec's
 * `;params` are header parameters, never URI parameters (RFC 3261 §20), and it may not contain
 * `?` headers (RFC 4475 §3.1.2.13).
 */
export function parseNameAddr(text: string, header: string): NameAddr {
  const value = text.trim();
  let displayName: string | undefined;
  let cursor = 0;
  const fail = (why: string): never => {
    throw new SipParseError('BAD_HEADER_VALUE', `${header}: ${why}`, header);
  };
  if (value[0] === '"') {
    const end = skipQuoted(value, 0);
    if (end < 0) fail('unterminated quoted display name');
    displayName = unquote(value.slice(0, end));
    cursor = end;
    while (value[cursor] === ' ' || value[cursor] === '\t') cursor++;
    if (value[cursor] !== '<') fail('a quoted display name must be followed by <URI>');
  }
  const open = value.indexOf('<', cursor);
  if (open >= 0) {
    if (displayName === undefined) {
      const name = value.slice(0, open).trim();
      if (name !== '') {
        // Unquoted display-name = *(token LWS).
        for (let i = 0; i < name.length; i++) {
          const c = name.charCodeAt(i);
          if (!isTokenChar(c) && c !== 32 && c !== 9) fail('display name has characters that need quoting');
        }
        displayName = name.replace(/[ \t]+/g, ' ');
      }
    }
    const close = value.indexOf('>', open);
    if (close < 0) fail('unterminated <URI>');
    const uriText = value.slice(open + 1, close);
    if (uriText !== uriText.trim() || uriText === '') fail('whitespace inside <URI>');
    const params = parseParams(value.slice(close + 1));
    if (!params) fail('malformed parameters');
    return new NameAddr(parseUriIn(uriText, header), displayName, params!);
  }
  if (displayName !== undefined) fail('display name without <URI>');
  const semi = value.indexOf(';');
  const uriText = semi >= 0 ? value.slice(0, semi).trimEnd() : value;
  if (uriText === '' || /[\s<>"]/.test(uriText)) fail('malformed addr-spec');
  if (uriText.includes('?')) fail('a URI with headers must be enclosed in <>');
  const params = parseParams(semi >= 0 ? value.slice(semi) : '');
  if (!params) fail('malformed parameters');
  return new NameAddr(parseUriIn(uriText, header), undefined, params!);
}

function parseUriIn(text: string, header: string): Uri {
  try {
    return parseUri(text);
  } catch (error) {
    throw new SipParseError('BAD_URI', `${header}: ${(error as Error).message}`, header);
  }
}
