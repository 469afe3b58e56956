/**
 * Parsing and writing session descriptions (RFC 4566) through sdp-transform, which is lenient by
 * design: it drops lines it does not understand and never fails. A controller forwards what it
 * reads to another party, so a body that is not valid SDP is refused here, with a typed error,
 * before it can reach the other leg.
 */
import type { MediaDescription, SessionDescription } from 'sdp-transform';
import { isValidLine, parseDescriptionLines, splitLines, writeDescription } from './compiled-grammar.js';
import { SdpParseError } from './errors.js';

export type { MediaDescription, SessionDescription };

export interface SdpParseLimits {
  /** Bodies longer than this (in characters) are refused before any parsing. */
  maxLength: number;
}

export const defaultSdpParseLimits: SdpParseLimits = { maxLength: 65_536 };

const ORIGIN_LINE = /^o=\S+ \d+ \d+ \S+ IP[46] \S+\s*$/;
const CONNECTION_LINE = /^c=IN IP[46] \S+\s*$/;
const TIMING_LINE = /^t=\d+ \d+\s*$/;
const decoder = new TextDecoder('utf-8');

/**
 * Parses an SDP body. Throws SdpParseError when it is not a session description that offer/answer
 * can use. The result is normalised: ports and payload numbers are numbers, the session id a
 * string (it is often wider than a double can hold).
 */
export function parseSdp(body: string | Uint8Array, limits: SdpParseLimits = defaultSdpParseLimits): SessionDescription {
  const text = typeof body === 'string' ? body : decoder.decode(body);
  if (text.length > limits.maxLength) {
    throw new SdpParseError('TOO_LARGE', `SDP body of ${text.length} characters exceeds ${limits.maxLength}`);
  }
  const lines = splitLines(text);
  const checked = checkLines(lines);
  // What sdp-transform's parse() reads: every line of the body, blank ones skipped.
  const description = parseDescriptionLines(lines);
  checkSessionFields(description, checked);
  normaliseMedia(description);
  checkConnections(description, checked);
  return description;
}

/** Writes a description as an SDP body (CRLF line ends). The argument is not modified. */
export function writeSdp(description: SessionDescription): string {
  return writeDescription(description);
}

/** A deep copy, so that helpers can return a new description without touching their input. */
export function cloneDescription(description: SessionDescription): SessionDescription {
  return cloneValue(description);
}

/**
 * A deep copy of plain data (what sdp-transform produces: objects, arrays, strings, numbers),
 * as structuredClone() makes it but without its serialisation; anything else goes through
 * structuredClone().
 */
export function cloneValue<T>(value: T): T {
  if (typeof value !== 'object' || value === null) {
    // structuredClone() refuses functions and symbols (DataCloneError); so does this.
    return typeof value === 'function' || typeof value === 'symbol' ? structuredClone(value) : value;
  }
  if (Array.isArray(value)) {
    // slice() keeps holes as holes, as structuredClone() does.
    const copy = value.slice();
    for (let i = 0; i < copy.length; i++) {
      const item = copy[i];
      if (typeof item === 'object' || typeof item === 'function' || typeof item === 'symbol') copy[i] = cloneValue(item);
    }
    return copy as T;
  }
  const prototype = Object.getPrototypeOf(value);
  if ((prototype !== Object.prototype && prototype !== null) || Object.hasOwn(value, '__proto__')) return structuredClone(value);
  // Copying all properties at once is faster than adding them one by one.
  const copy = Object.assign({}, value) as Record<string, unknown>;
  for (const key in copy) {
    if (!Object.hasOwn(copy, key)) continue;
    const item = copy[key];
    if (typeof item === 'object' || typeof item === 'function' || typeof item === 'symbol') copy[key] = cloneValue(item);
  }
  return copy as T;
}

/** The formats of an m-line, in the offerer's order of preference (RFC 3264 §5.1). */
export function mediaFormats(media: MediaDescription): string[] {
  const text = String(media.payloads ?? '');
  const formats: string[] = [];
  let start = 0;
  for (;;) {
    const space = text.indexOf(' ', start);
    const end = space < 0 ? text.length : space;
    if (end > start) formats.push(text.slice(start, end));
    if (space < 0) return formats;
    start = space + 1;
  }
}

/** The first format of an m-line, or undefined when it lists none. */
export function firstMediaFormat(media: MediaDescription): string | undefined {
  const text = String(media.payloads ?? '');
  let start = 0;
  while (start < text.length && text.charCodeAt(start) === 32) start++;
  if (start === text.length) return undefined;
  const space = text.indexOf(' ', start);
  return text.slice(start, space < 0 ? text.length : space);
}

/**
 * Whether a description has no m-lines at all: the offer RFC 3725 §4.4 (Flow IV) sends first,
 * and the answer a party gives to it.
 */
export function hasNoMediaLines(description: SessionDescription): boolean {
  return description.media.length === 0;
}

/**
 * True when `next` carries the same origin and session version as `previous`: by RFC 3264 §8 the
 * description is then unchanged (a session refresh, not a new offer), and need not be forwarded.
 */
export function isSameDescriptionVersion(previous: SessionDescription, next: SessionDescription): boolean {
  const a = previous.origin;
  const b = next.origin;
  return (
    a.username === b.username &&
    String(a.sessionId) === String(b.sessionId) &&
    String(a.sessionVersion) === String(b.sessionVersion) &&
    a.netType === b.netType &&
    a.ipVer === b.ipVer &&
    a.address === b.address
  );
}

interface RawLine {
  /** 1-based line number in the body. */
  number: number;
  text: string;
  /** -1 for the session section, else the index of the m-line the line belongs to. */
  section: number;
}

/** The lines the checks below look at, found in one pass. */
interface CheckedLines {
  /** The first session-level o=, s= and t= lines. */
  origin: RawLine | undefined;
  sessionName: RawLine | undefined;
  timing: RawLine | undefined;
  /** Every c= line. */
  connections: RawLine[];
}

function checkLines(lines: readonly string[]): CheckedLines {
  const checked: CheckedLines = { origin: undefined, sessionName: undefined, timing: undefined, connections: [] };
  let section = -1;
  let first: RawLine | undefined;
  for (let index = 0; index < lines.length; index++) {
    const raw = lines[index]!;
    // Trailing blank lines (and stray ones) are common in the wild and carry nothing.
    if (raw.trim() === '') continue;
    if (!isValidLine(raw)) {
      throw new SdpParseError('BAD_LINE', `line ${index + 1} is not <type>=<value>: ${JSON.stringify(raw.slice(0, 60))}`, index + 1);
    }
    const type = raw.charCodeAt(0);
    first ??= { number: index + 1, text: raw, section };
    if (type === 109 /* m */) {
      section += 1;
    } else if (type === 99 /* c */) {
      checked.connections.push({ number: index + 1, text: raw, section });
    } else if (section === -1) {
      if (type === 111 /* o */) checked.origin ??= { number: index + 1, text: raw, section };
      else if (type === 115 /* s */) checked.sessionName ??= { number: index + 1, text: raw, section };
      else if (type === 116 /* t */) checked.timing ??= { number: index + 1, text: raw, section };
    }
  }
  if (first === undefined) throw new SdpParseError('EMPTY', 'SDP body is empty');
  // RFC 4566 §5: the description begins with v=; this is also what tells SDP from other bodies.
  if (!first.text.startsWith('v=')) {
    throw new SdpParseError('MISSING_VERSION', 'SDP must begin with a v= line', first.number);
  }
  if (first.text.trimEnd() !== 'v=0') {
    throw new SdpParseError('BAD_VERSION', `unsupported SDP version ${JSON.stringify(first.text.slice(2, 20))}`, first.number);
  }
  return checked;
}

function checkSessionFields(description: SessionDescription, lines: CheckedLines): void {
  // RFC 4566 §5: o=, s= and t= are mandatory at session level.
  const origin = lines.origin;
  if (origin === undefined) throw new SdpParseError('MISSING_ORIGIN', 'SDP has no o= line');
  if (description.origin === undefined || !ORIGIN_LINE.test(origin.text)) {
    throw new SdpParseError('BAD_ORIGIN', `malformed o= line: ${JSON.stringify(origin.text.slice(0, 80))}`, origin.number);
  }
  description.origin.sessionId = String(description.origin.sessionId);
  // Lenient on an empty s= (RFC 4566 §5.3 asks for "s= " or "s=-"), strict on a missing one.
  if (lines.sessionName === undefined) throw new SdpParseError('MISSING_SESSION_NAME', 'SDP has no s= line');
  const timing = lines.timing;
  if (timing === undefined) throw new SdpParseError('MISSING_TIMING', 'SDP has no t= line');
  if (description.timing === undefined || !TIMING_LINE.test(timing.text)) {
    throw new SdpParseError('BAD_TIMING', `malformed t= line: ${JSON.stringify(timing.text.slice(0, 80))}`, timing.number);
  }
}

function normaliseMedia(description: SessionDescription): void {
  description.media.forEach((media, index) => {
    // sdp-transform leaves an m-line it cannot read (a port count "49170/2", a missing port) as
    // an empty object; forwarding that would write "m=undefined NaN".
    const port = Number(media.port);
    if (media.type === undefined || media.protocol === undefined || !Number.isInteger(port) || port < 0 || port > 65_535) {
      throw new SdpParseError('BAD_MEDIA_LINE', `m-line ${index} is malformed or uses a port count`, undefined, index);
    }
    media.port = port;
    // A single format such as "0" comes back from sdp-transform as the number 0.
    media.payloads = String(media.payloads ?? '');
    // RFC 4566 §5.14: at least one media format.
    if (firstMediaFormat(media) === undefined) {
      throw new SdpParseError('BAD_MEDIA_LINE', `m-line ${index} lists no media format`, undefined, index);
    }
    for (const rtp of media.rtp) {
      rtp.payload = Number(rtp.payload);
      if (rtp.rate !== undefined) rtp.rate = Number(rtp.rate);
      if (rtp.encoding !== undefined) rtp.encoding = Number(rtp.encoding);
    }
    for (const fmtp of media.fmtp) fmtp.payload = Number(fmtp.payload);
    if (media.rtcp !== undefined) media.rtcp.port = Number(media.rtcp.port);
  });
}

function checkConnections(description: SessionDescription, lines: CheckedLines): void {
  for (const line of lines.connections) {
    if (!CONNECTION_LINE.test(line.text)) {
      throw new SdpParseError(
        'BAD_CONNECTION',
        `unsupported or malformed c= line: ${JSON.stringify(line.text.slice(0, 80))}`,
        line.number,
        line.section === -1 ? undefined : line.section,
      );
    }
  }
  // RFC 4566 §5.7: a c= at session level or in every media description. A stream with port 0 is
  // disabled (RFC 3264 §6) and carries no media, so it needs no address.
  if (description.connection !== undefined) return;
  description.media.forEach((media, index) => {
    if (media.port !== 0 && media.connection === undefined) {
      throw new SdpParseError('MISSING_CONNECTION', `active m-line ${index} has no c= line, nor has the session`, undefined, index);
    }
  });
}
