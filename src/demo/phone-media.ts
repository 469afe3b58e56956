/**
 * The session descriptions of a demo phone (RFC 3264): G.711 (PCMU, PCMA) and RFC 4733
 * telephone-event on one RTP port the phone owns. It answers every m-line of an offer in order
 * (§6: same count, same order), accepting the first audio stream it can decode and rejecting the
 * others with port 0; it mirrors the offered direction (§6.1: sendonly is answered recvonly, which
 * is how a phone is put on hold, §8.4); an offer without m-lines (RFC 3725 flow IV) gets an answer
 * without any. Each description it sends bumps the o= version unless nothing changed (§8).
 */
import { randomInt } from 'node:crypto';
import {
  answerDirection,
  G711_CODECS,
  isRtpProtocol,
  mediaCodecs,
  mediaDirection,
  parseSdp,
  sameCodec,
  writeSdp,
  type Codec,
  type Direction,
  type MediaDescription,
  type SessionDescription,
} from '../sdp/index.js';

/** What the phone's current session looks like, for printing. */
export interface MediaState {
  /** The direction of the stream in use, from our side; undefined without one. */
  direction: Direction | undefined;
  /** The codec in use, e.g. `PCMU/8000`. */
  codec: string | undefined;
  /** Where the far end wants our RTP, from its last description. */
  remote: { address: string; port: number } | undefined;
}

const PCMU = 0;
const PCMA = 8;
const TELEPHONE_EVENT = 101;

export class PhoneMedia {
  private readonly sessionId = String(randomInt(1, 2 ** 31));
  private version = 0;
  /** The last description we sent, with its body minus o= (to tell whether the next one changed). */
  private last: { description: SessionDescription; text: string } | undefined;
  private current: MediaState = { direction: undefined, codec: undefined, remote: undefined };

  constructor(
    private readonly username: string,
    private readonly address: string,
    private readonly rtpPort: number,
  ) {}

  get state(): MediaState {
    return this.current;
  }

  /** Our offer, for an INVITE or re-INVITE that carried none: the last description again, or a first one. */
  offer(): string {
    if (this.last) return this.send(this.last.description);
    const media: MediaDescription = {
      type: 'audio',
      port: this.rtpPort,
      protocol: 'RTP/AVP',
      payloads: `${PCMU} ${PCMA} ${TELEPHONE_EVENT}`,
      rtp: [
        { payload: PCMU, codec: 'PCMU', rate: 8000 },
        { payload: PCMA, codec: 'PCMA', rate: 8000 },
        { payload: TELEPHONE_EVENT, codec: 'telephone-event', rate: 8000 },
      ],
      fmtp: [{ payload: TELEPHONE_EVENT, config: '0-15' }],
      direction: 'sendrecv',
    };
    return this.send(this.session([media]));
  }

  /** The answer to `offerText` (RFC 3264 §6). Throws SdpParseError for a body that is not SDP. */
  answer(offerText: string): string {
    const offer = parseSdp(offerText);
    let chosen = false;
    const media = offer.media.map((offered, index): MediaDescription => {
      const codec = chosen ? undefined : this.decodable(offered);
      if (codec === undefined || offered.port === 0) return rejected(offered);
      chosen = true;
      const events = mediaCodecs(offered).find((c) => c.name.toLowerCase() === 'telephone-event' && c.clockRate === 8000);
      const answered: MediaDescription = {
        type: offered.type,
        port: this.rtpPort,
        protocol: offered.protocol,
        payloads: events ? `${codec.payloadType} ${events.payloadType}` : String(codec.payloadType),
        rtp: [{ payload: codec.payloadType, codec: codec.name, rate: codec.clockRate }, ...(events ? [{ payload: events.payloadType, codec: events.name, rate: 8000 }] : [])],
        fmtp: events?.parameters ? [{ payload: events.payloadType, config: events.parameters }] : [],
        direction: answerDirection(mediaDirection(offer, index)),
      };
      return answered;
    });
    this.noteRemote(offer);
    return this.send(this.session(media));
  }

  /** The far end's answer to our offer (in an ACK). */
  answered(answerText: string): void {
    this.noteRemote(parseSdp(answerText));
  }

  private decodable(offered: MediaDescription): Codec | undefined {
    if (offered.type !== 'audio' || !isRtpProtocol(offered.protocol)) return undefined;
    return mediaCodecs(offered).find((codec) => G711_CODECS.some((g711) => sameCodec(codec, g711)));
  }

  private noteRemote(description: SessionDescription): void {
    const index = description.media.findIndex((m) => m.type === 'audio' && m.port !== 0 && this.decodable(m) !== undefined);
    const media = description.media[index];
    if (index < 0 || media === undefined) {
      this.current = { direction: undefined, codec: undefined, remote: undefined };
      return;
    }
    const codec = this.decodable(media)!;
    const address = media.connection?.ip ?? description.connection?.ip ?? '0.0.0.0';
    // Their direction, seen from our side: what they send we receive.
    const theirs = mediaDirection(description, index);
    const ours: Direction = theirs === 'sendonly' ? 'recvonly' : theirs === 'recvonly' ? 'sendonly' : theirs;
    this.current = { direction: ours, codec: `${codec.name}/${codec.clockRate}`, remote: { address, port: media.port } };
  }

  private session(media: MediaDescription[]): SessionDescription {
    return {
      version: 0,
      origin: { username: this.username, sessionId: this.sessionId, sessionVersion: 0, netType: 'IN', ipVer: this.address.includes(':') ? 6 : 4, address: this.address },
      name: '-',
      connection: { version: this.address.includes(':') ? 6 : 4, ip: this.address },
      timing: { start: 0, stop: 0 },
      media,
    };
  }

  /** RFC 3264 §8: the version goes up by one for each changed description, and stays for an unchanged one. */
  private send(description: SessionDescription): string {
    const text = writeSdp({ ...description, origin: { ...description.origin, sessionVersion: 0 } });
    if (this.last === undefined || this.last.text !== text) this.version += 1;
    this.last = { description, text };
    return writeSdp({ ...description, origin: { ...description.origin, sessionVersion: this.version } });
  }
}

/** RFC 3264 §6: a stream we do not take is answered with port 0 and its formats as offered. */
function rejected(offered: MediaDescription): MediaDescription {
  return { type: offered.type, port: 0, protocol: offered.protocol, payloads: offered.payloads ?? '', rtp: [], fmtp: [] };
}
