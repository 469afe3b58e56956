// The engine's RTP ringback sender (RFC 3725 Flow III): what A hears while B rings.
export {
  RingbackPlayer,
  type RingbackPlayerOptions,
  type RingbackPlayOptions,
  type RingbackHandle,
  type RingbackEndReason,
} from './ringback-player.js';
export { createUdpRingbackSocket, type RingbackSocket, type SendCallback, type UdpRingbackSocketOptions } from './ringback-socket.js';
export { ringbackTargetOf, type RingbackTarget } from './ringback-target.js';
export { RingbackError, type RingbackErrorCode } from './errors.js';
export {
  NORTH_AMERICAN_RINGBACK,
  EUROPEAN_RINGBACK,
  UK_RINGBACK,
  G711_SILENCE,
  encodeMuLaw,
  encodeALaw,
  encodeG711,
  renderRingbackCycle,
  createToneFrames,
  type G711Encoding,
  type RingbackToneSpec,
  type ToneFrames,
} from './tone.js';
export { writeRtpHeader, RTP_HEADER_LENGTH, type RtpHeaderFields } from './rtp-packet.js';
