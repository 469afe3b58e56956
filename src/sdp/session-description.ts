/**
 * Parsing and writing session descriptions (RFC 4566) through sdp-transform, which is lenient by
 * design: it drops lines it does not understand and never fails. A controller forwards what it
 * reads to another party, so a body that is not valid SDP is refused here, with a typed error,
 * before it can reach the other leg.
 */
import sdpTransform from 'sdp-transform';
import type { MediaDescription, SessionDescription } from 'sdp-transform';
import { SdpParseError } from './errors.js';

export type { MediaDescription, SessionDescription };

export interface SdpParseLimits {
  /** Bodies longer than this (in characters) are refused before any parsing. */
  maxLength: number;
}

export const defaultSdpParseLimits: SdpParseLimits = { maxLength: 65_536 };

const LINE_BREAK = /\r\n|\r|\n/;
// RFC 4566 §5: every line is <type>=<value>, the type a single case-significant letter.
const SDP_LINE = /^[a-z]=/;
const ORIGIN_LINE = /^o=\S+ \d+ \d+ \S+ IP[46] \S+\s*$/;
const CONNECTION_LINE = /^c=IN IP[46] \S+\s*$/;
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
  const lines = checkLines(text);
  const description = sdpTransform.parse(text);
  checkSessionFields(description, lines);
  normaliseMedia(description);
  checkConnections(description, lines);
  return description;
}

/** Writes a description as an SDP body (CRLF line ends). The argument is not modified. */
export function writeSdp(description: SessionDescription): string {
  // sdp-transform's writer fills in defaults on the object it is given; write a copy.
  return sdpTransform.write(cloneDescription(description));
}

/** A deep copy, so that helpers can return a new description without touching their input. */
export function cloneDescription(description: SessionDescription): SessionDescription {
  return structuredClone(description);
}

/** The formats of an m-line, in the offerer's order of preference (RFC 3264 §5.1). */
export function mediaFormats(media: MediaDescription): string[] {
  return String(media.payloads ?? '')
    .split(' ')
    .filter((format) => format !== '');
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

function checkLines(text: string): RawLine[] {
  const lines: RawLine[] = [];
  let section = -1;
  text.split(LINE_BREAK).forEach((raw, index) => {
    // Trailing blank lines (and stray ones) are common in the wild and carry nothing.
    if (raw.trim() === '') return;
    if (!SDP_LINE.test(raw)) {
      throw new SdpParseError('BAD_LINE', `line ${index + 1} is not <type>=<value>: ${JSON.stringify(raw.slice(0, 60))}`, index + 1);
    }
    if (raw.startsWith('m=')) section += 1;
    lines.push({ number: index + 1, text: raw, section });
  });
  const first = lines[0];
  if (first === undefined) throw new SdpParseError('EMPTY', 'SDP body is empty');
  // RFC 4566 §5: the description begins with v=; this is also what tells SDP from other bodies.
  if (!first.text.startsWith('v=')) {
    throw new SdpParseError('MISSING_VERSION', 'SDP must begin with a v= line', first.number);
  }
  if (first.text.trimEnd() !== 'v=0') {
    throw new SdpParseError('BAD_VERSION', `unsupported SDP version ${JSON.stringify(first.text.slice(2, 20))}`, first.number);
  }
  return lines;
}

function sessionLine(lines: RawLine[], type: string): RawLine | undefined {
  return lines.find((line) => line.section === -1 && line.text.startsWith(`${type}=`));
}

function checkSessionFields(description: SessionDescription, lines: RawLine[]): void {
  // RFC 4566 §5: o=, s= and t= are mandatory at session level.
  const origin = sessionLine(lines, 'o');
  if (origin === undefined) throw new SdpParseError('MISSING_ORIGIN', 'SDP has no o= line');
  if (description.origin === undefined || !ORIGIN_LINE.test(origin.text)) {
    throw new SdpParseError('BAD_ORIGIN', `malformed o= line: ${JSON.stringify(origin.text.slice(0, 80))}`, origin.number);
  }
  description.origin.sessionId = String(description.origin.sessionId);
  // Lenient on an empty s= (RFC 4566 §5.3 asks for "s= " or "s=-"), strict on a missing one.
  if (sessionLine(lines, 's') === undefined) throw new SdpParseError('MISSING_SESSION_NAME', 'SDP has no s= line');
  const timing = sessionLine(lines, 't');
  if (timing === undefined) throw new SdpParseError('MISSING_TIMING', 'SDP has no t= line');
  if (description.timing === undefined || !/^t=\d+ \d+\s*$/.test(timing.text)) {
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
    if (mediaFormats(media).length === 0) {
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

function checkConnections(description: SessionDescription, lines: RawLine[]): void {
  for (const line of lines) {
    if (line.text.startsWith('c=') && !CONNECTION_LINE.test(line.text)) {
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
