/**
 * Typed failures of the SIP layer. A parse failure carries the response a server should send
 * (400 by default, 505 for a bad version, 416 for an unsupported URI scheme) so that the
 * transaction layer can answer without guessing.
 */
export type SipParseErrorCode =
  | 'EMPTY_MESSAGE'
  | 'BAD_START_LINE'
  | 'BAD_METHOD'
  | 'BAD_REQUEST_URI'
  | 'BAD_VERSION'
  | 'BAD_STATUS_CODE'
  | 'BAD_HEADER_LINE'
  | 'BAD_HEADER_VALUE'
  | 'MISSING_HEADER'
  | 'DUPLICATE_HEADER'
  | 'BAD_CONTENT_LENGTH'
  | 'TRUNCATED_BODY'
  | 'NO_HEADER_END'
  | 'TOO_LARGE'
  | 'TOO_MANY_HEADERS'
  | 'CSEQ_METHOD_MISMATCH'
  | 'BAD_URI';

export class SipParseError extends Error {
  override readonly name = 'SipParseError';
  constructor(
    readonly code: SipParseErrorCode,
    message: string,
    /** The header at fault, as its canonical lower-case name, when one is. */
    readonly header?: string,
    /** The status a UAS answers a request with when it can answer at all. */
    readonly status: number = 400,
  ) {
    super(message);
  }

  /**
   * The header lines that were read before the fault, when the fault lies elsewhere (a bad
   * version, say): enough for a UAS to build the 400/505 that answers the request.
   */
  headerLines: { name: string; value: string }[] | undefined;
  /** Whether the message looked like a request (true) or a response (false), when known. */
  looksLikeRequest: boolean | undefined;

  /** A reason phrase for the 400 that names the fault (RFC 3261 §21.4.1 allows any phrase). */
  get reasonPhrase(): string {
    if (this.status === 505) return 'Version Not Supported';
    if (this.status === 416) return 'Unsupported URI Scheme';
    if (this.status === 513) return 'Message Too Large';
    // The message may quote the peer's bytes: keep the phrase printable (RFC 3261 §25.1 TEXT-UTF8).
    const what = this.message.replace(/[\x00-\x1f\x7f]/g, ' ').slice(0, 100);
    return `Bad Request (${what})`;
  }
}

export class InvalidSipUri extends Error {
  override readonly name = 'InvalidSipUri';
  readonly code = 'INVALID_SIP_URI';
  constructor(readonly uri: string, reason: string) {
    super(`invalid URI ${JSON.stringify(uri.slice(0, 80))}: ${reason}`);
  }
}
