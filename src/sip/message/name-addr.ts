/**
 * name-addr / addr-spec with header parameters (RFC 3261 §20.10, §25.1): the value of From,
 * To, Contact, Route, Record-Route, Refer-To and the like.
 */
import { SipParseError } from '../errors.js';
import { formatParams, isTokenChar, parseParams, quote, skipQuoted, unquote, type Params } from '../grammar.js';
import { parseUri, type Uri } from '../uri.js';

const NO_PARAMS: ReadonlyMap<string, string | null> = new Map();

export class NameAddr {
  private uriText: string | undefined;
  private parsedUri: Uri | undefined;
  /** Made when first asked for: a Contact or a Route seldom has parameters. */
  private paramsMap: Params | undefined;

  /** `uri` may be text, parsed on first access (most messages never look at From's URI). */
  constructor(
    uri: Uri | string,
    public displayName: string | undefined = undefined,
    params?: Params,
    private readonly header = 'uri',
  ) {
    if (typeof uri === 'string') this.uriText = uri;
    else this.parsedUri = uri;
    this.paramsMap = params;
  }

  get params(): Params {
    return (this.paramsMap ??= new Map());
  }

  set params(value: Params) {
    this.paramsMap = value;
  }

  get uri(): Uri {
    if (this.parsedUri === undefined) this.parsedUri = parseUriIn(this.uriText!, this.header);
    return this.parsedUri;
  }

  set uri(value: Uri) {
    this.parsedUri = value;
    this.uriText = undefined;
  }

  /** The URI as text, without parsing it. */
  get uriString(): string {
    return this.uriText ?? this.parsedUri!.toString();
  }

  get tag(): string | undefined {
    return this.paramsMap?.get('tag') ?? undefined;
  }

  withTag(tag: string): NameAddr {
    const params = new Map(this.paramsMap ?? NO_PARAMS);
    params.set('tag', tag);
    return new NameAddr(this.parsedUri ?? this.uriText!, this.displayName, params, this.header);
  }

  /** What `withTag(tag).toString()` writes, without making the copy. */
  toStringWithTag(tag: string): string {
    const name = this.displayName === undefined ? '' : `${quote(this.displayName)} `;
    let params = '';
    let tagged = false;
    if (this.paramsMap !== undefined) {
      for (const [key, value] of this.paramsMap) {
        if (key === 'tag') {
          params += `;tag=${tag}`;
          tagged = true;
        } else {
          params += value === null ? `;${key}` : `;${key}=${value}`;
        }
      }
    }
    if (!tagged) params += `;tag=${tag}`;
    return `${name}<${this.uriString}>${params}`;
  }

  toString(): string {
    const name = this.displayName === undefined ? '' : `${quote(this.displayName)} `;
    return `${name}<${this.uriString}>${this.paramsMap === undefined ? '' : formatParams(this.paramsMap)}`;
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
  if (value[0] === '"') {
    const end = skipQuoted(value, 0);
    if (end < 0) fail(header, 'unterminated quoted display name');
    displayName = unquote(value.slice(0, end));
    cursor = end;
    while (value[cursor] === ' ' || value[cursor] === '\t') cursor++;
    if (value[cursor] !== '<') fail(header, 'a quoted display name must be followed by <URI>');
  }
  const open = value.indexOf('<', cursor);
  if (open >= 0) {
    if (displayName === undefined) {
      const name = value.slice(0, open).trim();
      if (name !== '') {
        // Unquoted display-name = *(token LWS).
        for (let i = 0; i < name.length; i++) {
          const c = name.charCodeAt(i);
          if (!isTokenChar(c) && c !== 32 && c !== 9) fail(header, 'display name has characters that need quoting');
        }
        displayName = name.replace(/[ \t]+/g, ' ');
      }
    }
    const close = value.indexOf('>', open);
    if (close < 0) fail(header, 'unterminated <URI>');
    const uriText = value.slice(open + 1, close);
    if (uriText !== uriText.trim() || uriText === '') fail(header, 'whitespace inside <URI>');
    const params = close + 1 < value.length ? parseParams(value.slice(close + 1)) : undefined;
    if (params === null) fail(header, 'malformed parameters');
    return new NameAddr(uriText, displayName, params, header);
  }
  if (displayName !== undefined) fail(header, 'display name without <URI>');
  const semi = value.indexOf(';');
  const uriText = semi >= 0 ? value.slice(0, semi).trimEnd() : value;
  if (uriText === '' || /[\s<>"]/.test(uriText)) fail(header, 'malformed addr-spec');
  if (uriText.includes('?')) fail(header, 'a URI with headers must be enclosed in <>');
  const params = semi >= 0 ? parseParams(value.slice(semi)) : undefined;
  if (params === null) fail(header, 'malformed parameters');
  return new NameAddr(uriText, undefined, params, header);
}

function fail(header: string, why: string): never {
  throw new SipParseError('BAD_HEADER_VALUE', `${header}: ${why}`, header);
}

function parseUriIn(text: string, header: string): Uri {
  try {
    return parseUri(text);
  } catch (error) {
    throw new SipParseError('BAD_URI', `${header}: ${(error as Error).message}`, header);
  }
}
