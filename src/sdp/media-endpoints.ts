/**
 * Where a party wants to receive each of its streams: what the engine's ringback sender sends to,
 * and what it logs when it joins two legs.
 */
import type { SessionDescription } from './session-description.js';
import { type Direction, isBlackHoleAddress, mediaDirection } from './direction.js';

export interface RtpEndpoint {
  /** Index of the m-line. */
  mediaIndex: number;
  type: string;
  protocol: string;
  /** The connection address without any multicast TTL or count ("224.2.1.1/127" → "224.2.1.1"). */
  address: string | null;
  ipVersion: 4 | 6 | null;
  /** 0 when the stream is disabled or rejected (RFC 3264 §6). */
  port: number;
  /**
   * Where RTCP goes: a=rtcp (RFC 3605) when present, the RTP port with a=rtcp-mux (RFC 5761),
   * else the next port up (RFC 3550 §11). Null for a disabled stream.
   */
  rtcpPort: number | null;
  direction: Direction;
  /** False for a port of 0. */
  enabled: boolean;
  /** The address is 0.0.0.0 or its IPv6 equivalent: send nothing there (RFC 3264 §8.4). */
  blackHole: boolean;
}

/** One entry per m-line, in order. */
export function rtpEndpoints(description: SessionDescription): RtpEndpoint[] {
  return description.media.map((media, mediaIndex) => {
    // RFC 4566 §5.7: a media-level c= overrides the session-level one.
    const connection = media.connection ?? description.connection;
    const address = connection === undefined ? null : (connection.ip.split('/')[0] ?? connection.ip);
    const port = Number(media.port);
    let rtcpPort: number | null = null;
    if (port !== 0) {
      if (media.rtcp !== undefined) rtcpPort = Number(media.rtcp.port);
      else if (media.rtcpMux !== undefined) rtcpPort = port;
      else rtcpPort = port + 1;
    }
    return {
      mediaIndex,
      type: media.type,
      protocol: media.protocol,
      address,
      ipVersion: connection === undefined ? null : Number(connection.version) === 6 ? 6 : 4,
      port,
      rtcpPort,
      direction: mediaDirection(description, mediaIndex),
      enabled: port !== 0,
      blackHole: address !== null && isBlackHoleAddress(address),
    };
  });
}
