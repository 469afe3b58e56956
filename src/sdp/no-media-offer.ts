/**
 * The first offer of Flow IV (RFC 3725 §4.4), the flow RFC 3725 §5 recommends for human parties:
 * an INVITE to A whose offer has no m-lines, so that A answers with none either and its session
 * is up without any media, until B's offer is sent to A in a re-INVITE. Recognise A's answer with
 * hasNoMediaLines().
 */
import type { SessionDescription } from './session-description.js';
import { blackHoleConnection, ipVersionOf, placeholderOrigin } from './media-line.js';

export interface NoMediaOfferOptions {
  /** The session-level c= address. Default 0.0.0.0: no stream is described, none will flow. */
  connectionAddress?: string;
}

/** v=, o=, s=, c= and t= only. Its origin is a placeholder: send it through describeToLeg. */
export function createNoMediaOffer(options: NoMediaOfferOptions = {}): SessionDescription {
  const address = options.connectionAddress;
  return {
    version: 0,
    origin: placeholderOrigin(),
    name: '-',
    connection: address === undefined ? blackHoleConnection(4) : { version: ipVersionOf(address), ip: address },
    timing: { start: 0, stop: 0 },
    media: [],
  };
}
