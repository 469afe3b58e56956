/**
 * Character classes and small scanners from RFC 3261 §25.1, shared by the URI and header
 * parsers. Everything here is pure and works on strings already decoded from the wire.
 */

const TOKEN_CHARS = new Uint8Array(128);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`\'~') {
  TOKEN_CHARS[c.charCodeAt(0)] = 1;
}

export function isTokenChar(code: number): boolean {
  return code < 128 && TOKEN_CHARS[code] === 1;
}

export function isToken(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) if (!isTokenChar(value.charCodeAt(i))) return false;
  return true;
}

export function isWhitespace(code: number): boolean {
  return code === 32 || code === 9 || code === 13 || code === 10;
}

/** Index just past the closing quote of a quoted-string starting at `start` (a `"`), or -1. */
export function skipQuoted(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 92 /* \ */) i++;
    else if (c === 34 /* " */) return i + 1;
  }
  return -1;
}

export function unquote(value: string): string {
  if (value.length < 2 || value[0] !== '"' || value[value.length - 1] !== '"') return value;
  let out = '';
  for (let i = 1; i < value.length - 1; i++) {
    const c = value[i];
    if (c === '\\' && i + 1 < value.length - 1) {
      out += value[++i];
    } else {
      out += c;
    }
  }
  return out;
}

export function quote(value: string): string {
  return `"${value.replace(/(["\\])/g, '\\$1')}"`;
}

/**
 * Splits a header value on `separator` where it is not inside a quoted string or angle
 * brackets (RFC 3261 §7.3.1: a comma-separated list is equivalent to repeated header lines).
 * Returns null when a quote or bracket is left open.
 */
export function splitTopLevel(text: string, separator = ','): string[] | null {
  const sep = separator.charCodeAt(0);
  const parts: string[] = [];
  let start = 0;
  let angle = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      const end = skipQuoted(text, i);
      if (end < 0) return null;
      i = end - 1;
    } else if (c === 60 /* < */) {
      if (angle) return null;
      angle = true;
    } else if (c === 62 /* > */) {
      if (!angle) return null;
      angle = false;
    } else if (c === sep && !angle) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  if (angle) return null;
  parts.push(text.slice(start).trim());
  return parts;
}

/**
 * splitTopLevel() on `,` with the non-empty parts pushed onto `out`; false (and `out` as it
 * was) when a quote or bracket is left open. Most list headers hold one value: no array is
 * made for it.
 */
export function splitTopLevelInto(text: string, out: string[]): boolean {
  const before = out.length;
  let start = 0;
  let angle = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      const end = skipQuoted(text, i);
      if (end < 0) {
        out.length = before;
        return false;
      }
      i = end - 1;
    } else if (c === 60 /* < */) {
      if (angle) {
        out.length = before;
        return false;
      }
      angle = true;
    } else if (c === 62 /* > */) {
      if (!angle) {
        out.length = before;
        return false;
      }
      angle = false;
    } else if (c === 44 /* , */ && !angle) {
      const part = text.slice(start, i).trim();
      if (part !== '') out.push(part);
      start = i + 1;
    }
  }
  if (angle) {
    out.length = before;
    return false;
  }
  const last = start === 0 ? text.trim() : text.slice(start).trim();
  if (last !== '') out.push(last);
  return true;
}

/** Parameters as written: lower-cased names, raw values (quotes kept), null for a bare name. */
export type Params = Map<string, string | null>;

/**
 * Parses `;name=value;flag` parameters (RFC 3261 §25.1 generic-param) with LWS allowed around
 * `;` and `=`. Returns null on an empty name or a malformed value. Hand-written: it runs for
 * every Via, From and To of every message.
 */
export function parseParams(text: string, allowEmpty = false): Params | null {
  const params: Params = new Map();
  const length = text.length;
  let i = skipSpaces(text, 0);
  while (i < length) {
    if (text.charCodeAt(i) !== 59 /* ; */) return null;
    i = skipSpaces(text, i + 1);
    const nameStart = i;
    while (i < length && isTokenChar(text.charCodeAt(i))) i++;
    const name = text.slice(nameStart, i);
    i = skipSpaces(text, i);
    if (name === '') {
      if (allowEmpty && (i >= length || text.charCodeAt(i) === 59)) continue;
      return null;
    }
    if (i < length && text.charCodeAt(i) === 61 /* = */) {
      i = skipSpaces(text, i + 1);
      const valueStart = i;
      const c = text.charCodeAt(i);
      if (c === 34 /* " */) {
        i = skipQuoted(text, i);
        if (i < 0) return null;
      } else {
        // gen-value = token / host / quoted-string; `received` carries a bare IPv6 address.
        while (i < length && isParamValueChar(text.charCodeAt(i))) i++;
      }
      if (i === valueStart) return null;
      params.set(name.toLowerCase(), text.slice(valueStart, i));
      i = skipSpaces(text, i);
    } else {
      params.set(name.toLowerCase(), null);
    }
  }
  return params;
}

function isParamValueChar(code: number): boolean {
  return isTokenChar(code) || code === 58 /* : */ || code === 91 /* [ */ || code === 93 /* ] */;
}

function skipSpaces(text: string, from: number): number {
  let i = from;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9) break;
    i++;
  }
  return i;
}

export function formatParams(params: Params): string {
  let out = '';
  for (const [name, value] of params) out += value === null ? `;${name}` : `;${name}=${value}`;
  return out;
}

/** Decodes %XX escapes; invalid escapes are left as written. */
export function unescapePercent(text: string): string {
  if (text.indexOf('%') < 0) return text;
  return text.replace(/%([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** A non-negative decimal integer no larger than `max`, or null. Leading zeros are allowed. */
export function parseBoundedInt(text: string, max: number): number | null {
  if (text.length === 0) return null;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return null;
    value = value * 10 + digit;
    // Checked per digit so that a hundred-digit value cannot lose precision on the way.
    if (value > max) return null;
  }
  return value;
}

/**
 * `text` as a string of its own. A string cut from a longer one (a header value from the text of
 * a message, a tag from a header value) is, in V8, a view that keeps the whole of the longer one
 * alive; state that outlives the message (a dialog's tags and target) keeps copies instead.
 * Strings shorter than 13 characters are never such views (V8 copies them when it cuts them).
 */
export function ownString(text: string): string {
  if (text.length < 13) return text;
  // Cutting a concatenation first makes it one new flat string: the result is a view of that copy.
  return (' ' + text).slice(1);
}

/**
 * `text`, made one flat string if it was built by concatenation. A header value written with a
 * template literal is a tree of its pieces, several times its length in memory; V8 flattens it
 * in place when a character is read, and its GC then drops the tree.
 */
export function flatString(text: string): string {
  text.charCodeAt(0);
  return text;
}

const joinedLists = new WeakMap<readonly string[], { items: string[]; text: string; omitted: Map<string, string> }>();

/**
 * `items.join(', ')`, without `omit` if given: the Allow and Supported values of every request
 * and response come from the same few lists, so the text is kept with the list (and made again
 * if the list has changed since).
 */
export function joinList(items: readonly string[], omit?: string): string {
  let known = joinedLists.get(items);
  if (known === undefined || known.items.length !== items.length || known.items.some((item, i) => item !== items[i])) {
    known = { items: [...items], text: items.join(', '), omitted: new Map() };
    joinedLists.set(items, known);
  }
  if (omit === undefined || !known.items.includes(omit)) return known.text;
  let text = known.omitted.get(omit);
  if (text === undefined) {
    text = known.items.filter((item) => item !== omit).join(', ');
    known.omitted.set(omit, text);
  }
  return text;
}
