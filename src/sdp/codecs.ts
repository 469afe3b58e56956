/**
 * Media formats of an RTP m-line and their intersection between two parties. The controller
 * never carries media, so all it needs to know is whether two legs share a codec before it joins
 * them (else the call ends with `codec_mismatch`), and which codec a held answer may name.
 */
import type { MediaDescription, SessionDescription } from './session-description.js';
import { mediaFormats } from './session-description.js';

export interface Codec {
  payloadType: number;
  /** The encoding name as the description spells it (compare case-insensitively, RFC 4855 §3). */
  name: string;
  clockRate: number;
  channels: number;
  /** The a=fmtp parameters for this payload type, if any. */
  parameters?: string;
  /**
   * True for formats that ride along a codec without carrying the voice or picture themselves:
   * RFC 4733 telephone-event, RFC 3389 comfort noise, RFC 2198 redundancy, FEC and
   * retransmission. Two parties that share only these cannot talk.
   */
  addOn: boolean;
}

/** A codec named without a payload type, to say which codecs a party accepts. */
export interface CodecSpec {
  name: string;
  clockRate?: number;
  channels?: number;
}

/** One codec both sides support: how `a` numbers it and how `b` numbers it. */
export interface CodecMatch {
  a: Codec;
  b: Codec;
}

/** RFC 3551 §6, Tables 4 and 5: the static payload types, which need no a=rtpmap. */
const STATIC_PAYLOAD_TYPES: ReadonlyMap<number, readonly [name: string, clockRate: number, channels: number]> = new Map([
  [0, ['PCMU', 8000, 1]],
  [3, ['GSM', 8000, 1]],
  [4, ['G723', 8000, 1]],
  [5, ['DVI4', 8000, 1]],
  [6, ['DVI4', 16000, 1]],
  [7, ['LPC', 8000, 1]],
  [8, ['PCMA', 8000, 1]],
  [9, ['G722', 8000, 1]],
  [10, ['L16', 44100, 2]],
  [11, ['L16', 44100, 1]],
  [12, ['QCELP', 8000, 1]],
  [13, ['CN', 8000, 1]],
  [14, ['MPA', 90000, 1]],
  [15, ['G728', 8000, 1]],
  [16, ['DVI4', 11025, 1]],
  [17, ['DVI4', 22050, 1]],
  [18, ['G729', 8000, 1]],
  [25, ['CelB', 90000, 1]],
  [26, ['JPEG', 90000, 1]],
  [28, ['nv', 90000, 1]],
  [31, ['H261', 90000, 1]],
  [32, ['MPV', 90000, 1]],
  [33, ['MP2T', 90000, 1]],
  [34, ['H263', 90000, 1]],
]);

/** RFC 3551 §3: 0–34 are (or were) statically assigned; 96–127 are dynamic. */
const LAST_STATIC_PAYLOAD_TYPE = 34;

const ADD_ON_NAMES = new Set(['telephone-event', 'cn', 'red', 'ulpfec', 'flexfec', 'rtx']);

/** The profiles whose formats are RTP payload types (RFC 3551, RFC 3711, RFC 4585, RFC 5124). */
export function isRtpProtocol(protocol: string): boolean {
  return /(^|\/)RTP\//i.test(protocol);
}

/**
 * The RTP payload formats of an m-line in its order of preference, named from a=rtpmap or, for a
 * static payload type, from RFC 3551. Formats that are not payload numbers (t38, *) are skipped.
 */
export function mediaCodecs(media: MediaDescription): Codec[] {
  if (!isRtpProtocol(media.protocol)) return [];
  const codecs: Codec[] = [];
  for (const format of mediaFormats(media)) {
    if (!/^\d{1,3}$/.test(format)) continue;
    const payloadType = Number(format);
    const rtpmap = media.rtp.find((entry) => Number(entry.payload) === payloadType);
    const known = STATIC_PAYLOAD_TYPES.get(payloadType);
    let name: string;
    let clockRate: number;
    let channels: number;
    if (payloadType <= LAST_STATIC_PAYLOAD_TYPE && known !== undefined) {
      // RFC 3551 §6: a static assignment means the same thing whatever a=rtpmap may add.
      [name, clockRate, channels] = known;
    } else if (rtpmap !== undefined) {
      name = rtpmap.codec;
      clockRate = Number(rtpmap.rate ?? 0);
      // RFC 4566 §6: the channel count is optional and defaults to one.
      channels = rtpmap.encoding === undefined ? 1 : Number(rtpmap.encoding);
    } else {
      // A dynamic type without a=rtpmap (or an unassigned static one): nothing to match it by
      // but its number, which is what the name below makes it.
      name = `payload-type-${payloadType}`;
      clockRate = 0;
      channels = 1;
    }
    const fmtp = media.fmtp.find((entry) => Number(entry.payload) === payloadType);
    const codec: Codec = { payloadType, name, clockRate, channels, addOn: ADD_ON_NAMES.has(name.toLowerCase()) };
    if (fmtp !== undefined) codec.parameters = fmtp.config;
    codecs.push(codec);
  }
  return codecs;
}

/** Whether two codecs are the same format: by name, clock rate and channels (RFC 3264 §6.1). */
export function sameCodec(a: Codec | CodecSpec, b: Codec | CodecSpec): boolean {
  if (a.name.toLowerCase() !== b.name.toLowerCase()) return false;
  // A spec that leaves the clock rate or the channel count out accepts any.
  if (a.clockRate !== undefined && b.clockRate !== undefined && a.clockRate !== b.clockRate) return false;
  return a.channels === undefined || b.channels === undefined || a.channels === b.channels;
}

/** Whether a codec matches any of the specs (an empty or absent list accepts every codec). */
export function codecAllowed(codec: Codec, allowed: readonly CodecSpec[] | undefined): boolean {
  return allowed === undefined || allowed.length === 0 || allowed.some((spec) => sameCodec(codec, spec));
}

/**
 * The formats two m-lines have in common, in `a`'s order of preference: `codecs` carry media,
 * `addOns` (telephone-event and the like) only ride along. Dynamic payload types match by
 * encoding name, clock rate and channels, whatever their numbers (RFC 3264 §6.1); static ones
 * by their RFC 3551 meaning, which is the same as by number.
 */
export function intersectFormats(a: MediaDescription, b: MediaDescription): { codecs: CodecMatch[]; addOns: CodecMatch[] } {
  const codecs: CodecMatch[] = [];
  const addOns: CodecMatch[] = [];
  const bCodecs = mediaCodecs(b);
  for (const codecA of mediaCodecs(a)) {
    const codecB = bCodecs.find((candidate) => sameCodec(codecA, candidate));
    if (codecB === undefined) continue;
    (codecA.addOn ? addOns : codecs).push({ a: codecA, b: codecB });
  }
  return { codecs, addOns };
}

/** The media-carrying codecs two m-lines share, in `a`'s order; add-ons never count. */
export function commonCodecs(a: MediaDescription, b: MediaDescription): CodecMatch[] {
  return intersectFormats(a, b).codecs;
}

/**
 * Whether two descriptions can carry media of `mediaType` between them: some enabled m-line of
 * that type in `a` shares a codec with some enabled m-line of that type in `b`. Works for an
 * offer and its answer (whose m-lines correspond one to one) and for two offers from two legs
 * the controller is about to join (whose m-lines need not line up), which is why it compares by
 * type and not by position.
 */
export function hasCommonCodec(a: SessionDescription, b: SessionDescription, mediaType = 'audio'): boolean {
  // commonCodecs(mediaA, mediaB).length > 0, with each m-line's codecs worked out once.
  const bCodecs = enabledMedia(b, mediaType).map(mediaCodecs);
  if (bCodecs.length === 0) return false;
  for (const mediaA of enabledMedia(a, mediaType)) {
    for (const codecA of mediaCodecs(mediaA)) {
      if (codecA.addOn) continue;
      if (bCodecs.some((codecs) => codecs.some((codecB) => sameCodec(codecA, codecB)))) return true;
    }
  }
  return false;
}

function enabledMedia(description: SessionDescription, mediaType: string): MediaDescription[] {
  return description.media.filter((media) => media.type === mediaType && media.port !== 0);
}
