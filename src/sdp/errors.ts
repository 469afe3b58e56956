/**
 * Typed failures of the SDP layer. A body that is not a usable session description is refused
 * with an SdpParseError whose `code` is stable, so that the engine can map it to a SIP response
 * (488 Not Acceptable Here for an offer, a BYE for a bad answer in an ACK) without reading text.
 */
export type SdpParseErrorCode =
  | 'TOO_LARGE'
  | 'EMPTY'
  | 'BAD_LINE'
  | 'MISSING_VERSION'
  | 'BAD_VERSION'
  | 'MISSING_ORIGIN'
  | 'BAD_ORIGIN'
  | 'MISSING_SESSION_NAME'
  | 'MISSING_TIMING'
  | 'BAD_TIMING'
  | 'BAD_CONNECTION'
  | 'MISSING_CONNECTION'
  | 'BAD_MEDIA_LINE';

export class SdpParseError extends Error {
  override readonly name = 'SdpParseError';
  constructor(
    readonly code: SdpParseErrorCode,
    message: string,
    /** The 1-based line of the body at fault, when one line is. */
    readonly line?: number,
    /** The 0-based index of the m-line at fault, when one is. */
    readonly mediaIndex?: number,
  ) {
    super(message);
  }
}
