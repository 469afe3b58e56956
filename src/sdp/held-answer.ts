/**
 * The answer the controller gives party A's offer in Flow III (RFC 3725 §4.3, the ACK to A) while
 * party B is still being called: every stream A offered is answered (RFC 3264 §6) but held, so
 * that A's session is up and no media flows until B's offer moves A's media to B.
 */
import type { MediaDescription, SessionDescription } from './session-description.js';
import { cloneValue } from './session-description.js';
import { type Codec, type CodecSpec, codecAllowed, mediaCodecs } from './codecs.js';
import { type Direction, answerDirection, mediaDirection } from './direction.js';
import { rtpEndpoints } from './media-endpoints.js';
import { blackHoleConnection, disabledMediaLine, ipVersionOf, placeholderOrigin, shapeOf } from './media-line.js';

/** What the engine's RTP ringback sender can play. */
export const G711_CODECS: readonly CodecSpec[] = [
  { name: 'PCMU', clockRate: 8000, channels: 1 },
  { name: 'PCMA', clockRate: 8000, channels: 1 },
];

/**
 * Where the held answer tells A to send media.
 * - `black-hole`: c=0.0.0.0 (:: for IPv6), the classic RFC 3725 answer. RFC 3264 §8.4 no longer
 *   recommends it for hold, but every agent must understand it, and its port must not be 0.
 * - `rtp-sender`: the address and port of an RTP sender of ours that plays a ringback tone to A.
 *   The first audio stream it can serve gets that address and is answered sendonly; every other
 *   accepted stream is black-holed.
 */
export type HeldAnswerMedia =
  | { kind: 'black-hole'; port?: number }
  | { kind: 'rtp-sender'; address: string; port: number; codecs?: readonly CodecSpec[] };

export interface HeldAnswerOptions {
  /** Default: black-hole. */
  media?: HeldAnswerMedia;
  /**
   * The direction wanted for black-holed streams, narrowed to what RFC 3264 §6.1 allows for the
   * offered one. Default inactive, which every offered direction allows.
   */
  direction?: Direction;
  /** Media types accepted; other m-lines are rejected. Default audio and video. */
  mediaTypes?: readonly string[];
  /** Transports accepted; other m-lines are rejected. Default RTP/AVP and RTP/AVPF. */
  protocols?: readonly string[];
  /** Codecs the answer may choose from. Default: any codec the offer lists. */
  codecs?: readonly CodecSpec[];
}

/** The stream of A the ringback sender plays to, with A's payload type and address. */
export interface RingbackStream {
  mediaIndex: number;
  codec: Codec;
  /** Where A asked to receive this stream, from A's offer. */
  remoteAddress: string;
  remotePort: number;
}

export interface HeldAnswer {
  /** Its origin is a placeholder: send it through describeToLeg, which stamps A's origin. */
  description: SessionDescription;
  /** Null unless `media.kind` is `rtp-sender` and some audio stream can carry the tone. */
  ringback: RingbackStream | null;
}

const DEFAULT_MEDIA_TYPES: readonly string[] = ['audio', 'video'];
const DEFAULT_PROTOCOLS: readonly string[] = ['RTP/AVP', 'RTP/AVPF'];
/** RFC 863 discard: the customary non-zero port of a black-holed stream. */
const BLACK_HOLE_PORT = 9;

interface AnsweredLine {
  media: MediaDescription;
  /** Null for a rejected line, which needs no address. */
  connection: { version: number; ip: string } | null;
}

export function createHeldAnswer(offer: SessionDescription, options: HeldAnswerOptions = {}): HeldAnswer {
  const style: HeldAnswerMedia = options.media ?? { kind: 'black-hole' };
  const mediaTypes = options.mediaTypes ?? DEFAULT_MEDIA_TYPES;
  const protocols = (options.protocols ?? DEFAULT_PROTOCOLS).map((protocol) => protocol.toUpperCase());
  const blackHolePort = style.kind === 'black-hole' ? (style.port ?? BLACK_HOLE_PORT) : BLACK_HOLE_PORT;
  if (!Number.isInteger(blackHolePort) || blackHolePort <= 0 || blackHolePort > 65_535) {
    // RFC 3264 §8.4: with 0.0.0.0 "the port number MUST NOT be zero".
    throw new RangeError(`black-hole port must be 1–65535, not ${blackHolePort}`);
  }
  if (style.kind === 'rtp-sender' && (!Number.isInteger(style.port) || style.port <= 0 || style.port > 65_535 || !/^\S+$/.test(style.address))) {
    throw new RangeError(`ringback sender needs an address and a port of 1–65535, not ${style.address}:${style.port}`);
  }
  const endpoints = rtpEndpoints(offer);
  let ringback: RingbackStream | null = null;

  // RFC 3264 §6: one m-line in the answer for each in the offer, in the same order.
  const lines: AnsweredLine[] = offer.media.map((offered, index) => {
    const rejected: AnsweredLine = { media: disabledMediaLine(shapeOf(offered)), connection: null };
    // RFC 3264 §6: a stream offered with port 0 stays disabled in the answer.
    if (offered.port === 0) return rejected;
    if (!mediaTypes.includes(offered.type) || !protocols.includes(offered.protocol.toUpperCase())) return rejected;
    const endpoint = endpoints[index];
    const offeredDirection = mediaDirection(offer, index);
    const candidates = mediaCodecs(offered).filter((codec) => !codec.addOn && codecAllowed(codec, options.codecs));

    if (style.kind === 'rtp-sender' && ringback === null && offered.type === 'audio' && endpoint !== undefined) {
      const direction = answerDirection(offeredDirection, 'sendonly');
      const codec = candidates.find((candidate) => codecAllowed(candidate, style.codecs ?? G711_CODECS));
      // The tone can only go to a party that will receive and gave a real address.
      if (codec !== undefined && direction === 'sendonly' && endpoint.address !== null && !endpoint.blackHole) {
        ringback = { mediaIndex: index, codec, remoteAddress: endpoint.address, remotePort: endpoint.port };
        return {
          media: acceptedLine(offered, codec, style.port, direction),
          connection: { version: ipVersionOf(style.address), ip: style.address },
        };
      }
    }

    // RFC 3264 §6.1: answer with a format from the offer, with the offer's payload type. One is
    // enough: nothing flows, and B's offer will renegotiate.
    const codec = candidates[0];
    if (codec === undefined) return rejected;
    const direction = answerDirection(offeredDirection, options.direction ?? 'inactive');
    return {
      media: acceptedLine(offered, codec, blackHolePort, direction),
      connection: blackHoleConnection(endpoint?.ipVersion ?? 4),
    };
  });

  const sessionConnection =
    lines.find((line) => line.connection !== null)?.connection ??
    blackHoleConnection(offer.connection !== undefined && Number(offer.connection.version) === 6 ? 6 : 4);
  const media = lines.map(({ media: line, connection }) => {
    // RFC 4566 §5.7: a media-level c= only where it differs from the session's.
    if (connection !== null && (connection.ip !== sessionConnection.ip || connection.version !== sessionConnection.version)) {
      line.connection = connection;
    }
    return line;
  });

  const description: SessionDescription = {
    version: 0,
    origin: placeholderOrigin(),
    name: '-',
    connection: sessionConnection,
    // RFC 3264 §6: the t= line of the answer matches the offer's.
    timing: { start: Number(offer.timing.start), stop: Number(offer.timing.stop) },
    media,
  };
  return { description, ringback };
}

function acceptedLine(offered: MediaDescription, codec: Codec, port: number, direction: Direction): MediaDescription {
  const rtpmap = offered.rtp.filter((entry) => Number(entry.payload) === codec.payloadType);
  // The offer's fmtp for the chosen type travels with it: for some formats (AMR's octet-align,
  // for one) other parameters would name a different format.
  const fmtp = offered.fmtp.filter((entry) => Number(entry.payload) === codec.payloadType);
  return {
    type: offered.type,
    port,
    protocol: offered.protocol,
    payloads: String(codec.payloadType),
    rtp: cloneValue(rtpmap),
    fmtp: cloneValue(fmtp),
    direction,
  };
}
