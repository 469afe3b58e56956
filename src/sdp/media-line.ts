/**
 * Building blocks shared by the helpers that write descriptions of the controller's own.
 * Internal to src/sdp.
 */
import type { MediaDescription, SessionDescription } from './session-description.js';
import { firstMediaFormat } from './session-description.js';

/** What is kept of an m-line once it is disabled: enough to write it again with port 0. */
export interface MediaLineShape {
  type: string;
  protocol: string;
  /** One media format of the line; RFC 4566 §5.14 requires at least one even with port 0. */
  format: string;
}

export function shapeOf(media: MediaDescription): MediaLineShape {
  return { type: media.type, protocol: media.protocol, format: firstMediaFormat(media) ?? '0' };
}

/**
 * A disabled (RFC 3264 §8.2) or rejected (RFC 3264 §6) m-line: port 0, same media type and
 * transport, one format ("any media formats listed are ignored"), no attributes.
 */
export function disabledMediaLine(shape: MediaLineShape): MediaDescription {
  return { type: shape.type, port: 0, protocol: shape.protocol, payloads: shape.format, rtp: [], fmtp: [] };
}

/** IPv6 when the address has a colon, else IPv4 (RFC 4566 §5.7 addrtype). */
export function ipVersionOf(address: string): 4 | 6 {
  return address.includes(':') ? 6 : 4;
}

/**
 * RFC 3725 §5: 0.0.0.0 is the IPv4 black hole, and "for other network or address types, an
 * address with an equivalent property SHOULD be used": the unspecified address :: for IPv6.
 */
export function blackHoleConnection(ipVersion: 4 | 6): { version: number; ip: string } {
  return ipVersion === 6 ? { version: 6, ip: '::' } : { version: 4, ip: '0.0.0.0' };
}

/**
 * The origin a description of the controller's own carries until it is stamped for the leg it
 * goes to (see describeToLeg): never sent as is.
 */
export function placeholderOrigin(): SessionDescription['origin'] {
  return { username: '-', sessionId: '0', sessionVersion: 0, netType: 'IN', ipVer: 4, address: '0.0.0.0' };
}
