/**
 * The RTP fixed header (RFC 3550 §5.1) as the ringback sender writes it: version 2, no padding,
 * no extension, no contributing sources, so always 12 bytes.
 */

export const RTP_VERSION = 2;
export const RTP_HEADER_LENGTH = 12;

/** The fields that vary from packet to packet and stream to stream. */
export interface RtpHeaderFields {
  /** RFC 3551 §4.1: set on the first packet of a talkspurt (after a silence or a gap). */
  marker: boolean;
  payloadType: number;
  /** 16 bits; wraps. */
  sequenceNumber: number;
  /** 32 bits, in the clock rate of the payload; wraps. */
  timestamp: number;
  ssrc: number;
}

/**
 * Writes the 12-byte header at `offset` and returns the offset just past it. Values are masked
 * to their field widths, so a caller may let sequence numbers and timestamps run past their wrap.
 */
export function writeRtpHeader(target: Uint8Array, header: RtpHeaderFields, offset = 0): number {
  if (offset < 0 || offset + RTP_HEADER_LENGTH > target.length) {
    throw new RangeError(`an RTP header needs ${RTP_HEADER_LENGTH} bytes at offset ${offset} of ${target.length}`);
  }
  const { sequenceNumber, timestamp, ssrc } = header;
  // V=2 in the top two bits; P, X and CC all zero.
  target[offset] = RTP_VERSION << 6;
  target[offset + 1] = (header.marker ? 0x80 : 0) | (header.payloadType & 0x7f);
  target[offset + 2] = (sequenceNumber >>> 8) & 0xff;
  target[offset + 3] = sequenceNumber & 0xff;
  target[offset + 4] = (timestamp >>> 24) & 0xff;
  target[offset + 5] = (timestamp >>> 16) & 0xff;
  target[offset + 6] = (timestamp >>> 8) & 0xff;
  target[offset + 7] = timestamp & 0xff;
  target[offset + 8] = (ssrc >>> 24) & 0xff;
  target[offset + 9] = (ssrc >>> 16) & 0xff;
  target[offset + 10] = (ssrc >>> 8) & 0xff;
  target[offset + 11] = ssrc & 0xff;
  return offset + RTP_HEADER_LENGTH;
}
