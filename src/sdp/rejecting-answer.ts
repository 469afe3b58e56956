/**
 * An answer that rejects every stream of an offer (RFC 3264 §6: port 0 on each m-line, in the
 * offer's order). The controller sends it where an ACK must carry an answer but no media may
 * flow: the 2xx of a leg that is being hung up at once (a call that ended while it was answering,
 * a second fork, a codec mismatch).
 */
import { blackHoleConnection, disabledMediaLine, placeholderOrigin, shapeOf } from './media-line.js';
import type { SessionDescription } from './session-description.js';

/** Its origin is a placeholder: send it through describeToLeg, or as it is to a leg about to be hung up. */
export function createRejectingAnswer(offer: SessionDescription): SessionDescription {
  return {
    version: 0,
    origin: placeholderOrigin(),
    name: '-',
    connection: blackHoleConnection(4),
    timing: { start: Number(offer.timing.start), stop: Number(offer.timing.stop) },
    media: offer.media.map((media) => disabledMediaLine(shapeOf(media))),
  };
}
