/** Where and how to play ringback to party A, from the held answer's choice of A's stream. */
import type { RingbackStream } from '../../sdp/index.js';
import type { G711Encoding } from './tone.js';

export interface RingbackTarget {
  /** A's RTP address and port for the stream, from A's offer. */
  address: string;
  port: number;
  /** The payload type A's offer gave the codec (RFC 3264 §6.1: the answer uses A's numbering). */
  payloadType: number;
  codec: G711Encoding;
}

/** The target for the stream createHeldAnswer chose, or null if the player cannot encode it. */
export function ringbackTargetOf(stream: RingbackStream): RingbackTarget | null {
  const name = stream.codec.name.toUpperCase();
  if ((name !== 'PCMU' && name !== 'PCMA') || stream.codec.clockRate !== 8000 || stream.codec.channels !== 1) return null;
  return { address: stream.remoteAddress, port: stream.remotePort, payloadType: stream.codec.payloadType, codec: name };
}
