// The SDP layer's public surface: offer/answer helpers for the 3PCC engine (RFC 3264, RFC 4566,
// RFC 3725). Pure functions on strings and parsed descriptions; imports nothing else of ours.
export { SdpParseError, type SdpParseErrorCode } from './errors.js';
export {
  parseSdp,
  writeSdp,
  cloneDescription,
  mediaFormats,
  hasNoMediaLines,
  isSameDescriptionVersion,
  defaultSdpParseLimits,
  type SdpParseLimits,
  type SessionDescription,
  type MediaDescription,
} from './session-description.js';
export {
  mediaCodecs,
  sameCodec,
  codecAllowed,
  intersectFormats,
  commonCodecs,
  hasCommonCodec,
  isRtpProtocol,
  type Codec,
  type CodecSpec,
  type CodecMatch,
} from './codecs.js';
export {
  mediaDirection,
  invertDirection,
  answerDirection,
  holdDescription,
  resumeDescription,
  isHeld,
  isBlackHoleAddress,
  type Direction,
} from './direction.js';
export { rtpEndpoints, type RtpEndpoint } from './media-endpoints.js';
export {
  createHeldAnswer,
  G711_CODECS,
  type HeldAnswer,
  type HeldAnswerMedia,
  type HeldAnswerOptions,
  type RingbackStream,
} from './held-answer.js';
export { createNoMediaOffer, type NoMediaOfferOptions } from './no-media-offer.js';
export { createRejectingAnswer } from './rejecting-answer.js';
export {
  createLegSdpState,
  describeToLeg,
  noteDescriptionFromLeg,
  answerInOfferOrder,
  reconcileMediaLines,
  stampOrigin,
  type LegSdpState,
  type LegSdpStateInit,
  type SdpOrigin,
  type MediaSlot,
  type DescriptionForLeg,
  type ReconciledDescription,
} from './leg-sdp-state.js';
