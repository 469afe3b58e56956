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

/** Parameters as written: lower-cased names, raw values (quotes kept), null for a bare name. */
export type Params = Map<string, string | null>;

/**
 * Parses `;name=value;flag` parameters (RFC 3261 §25.1 generic-param) with LWS allowed around
 * `;` and `=`. Returns null on an empty name or a malformed value.
 */
export function parseParams(text: string, allowEmpty = false): Params | null {
  const params: Params = new Map();
  const trimmed = text.trim();
  if (trimmed === '') return params;
  if (trimmed[0] !== ';') return null;
  const parts = splitTopLevel(trimmed.slice(1), ';');
  if (!parts) return null;
  for (const part of parts) {
    if (part === '') {
      if (allowEmpty) continue;
      return null;
    }
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (!isToken(part)) return null;
      params.set(part.toLowerCase(), null);
      continue;
    }
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!isToken(name)) return null;
    if (value === '') return null;
    if (value[0] === '"') {
      if (skipQuoted(value, 0) !== value.length) return null;
    } else if (!isParamValue(value)) {
      return null;
    }
    params.set(name.toLowerCase(), value);
  }
  return params;
}

/** gen-value = token / host / quoted-string; host covers IPv6 references. */
function isParamValue(value: string): boolean {
  if (value[0] === '[') return /^\[[0-9a-fA-F:.]+\]$/.test(value);
  return isToken(value);
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

const UINT_RE = /^[0-9]+$/;

/** A non-negative decimal integer no larger than `max`, or null. Leading zeros are allowed. */
export function parseBoundedInt(text: string, max: number): number | null {
  if (!UINT_RE.test(text)) return null;
  // Digits beyond 16 would lose precision; anything that long is out of bounds anyway.
  const stripped = text.replace(/^0+(?=\d)/, '');
  if (stripped.length > 15) return null;
  const value = Number(stripped);
  return value <= max ? value : null;
}
