/**
 * Reliable provisional responses (RFC 3262) as UAC dialog state: which provisional responses
 * are reliable, which are new, repeated or out of order, and the RAck of the PRACK.
 */
import { parseBoundedInt } from '../grammar.js';
import type { SipResponse } from '../message/index.js';

/** RFC 3262 §7.1: RSeq is 1 to 2**32 - 1. */
const MAX_RSEQ = 2 ** 32 - 1;

export interface RAck {
  rseq: number;
  cseq: number;
  method: string;
}

export function formatRAck(rack: RAck): string {
  return `${rack.rseq} ${rack.cseq} ${rack.method}`;
}

/**
 * The RSeq of a reliable provisional response: 101–199 with `Require: 100rel` and an RSeq
 * (RFC 3262 §4: a 100 is never reliable, whatever it carries). Undefined otherwise, or when the
 * RSeq is malformed, since such a response cannot be acknowledged.
 */
export function reliableRSeq(response: SipResponse): number | undefined {
  if (response.status <= 100 || response.status >= 200) return undefined;
  if (!response.optionTags('require').includes('100rel')) return undefined;
  const text = response.header('rseq');
  if (text === undefined) return undefined;
  const rseq = parseBoundedInt(text.trim(), MAX_RSEQ);
  return rseq === null || rseq === 0 ? undefined : rseq;
}

/**
 * What a provisional response is to the UAC:
 * - `unreliable`: an ordinary provisional response;
 * - `new`: the next reliable one, to be PRACKed;
 * - `retransmission`: a reliable one already received (same CSeq and RSeq), to be discarded;
 * - `out-of-order`: a reliable one whose RSeq is not one above the last, to be discarded.
 */
export type Reliability = 'unreliable' | 'new' | 'retransmission' | 'out-of-order';

/** The last in-order reliable provisional response received for one request. */
export interface RSeqState {
  readonly cseq: number;
  readonly rseq: number;
}

/**
 * RFC 3262 §4: the UAC keeps, per request, the RSeq of the most recent in-order reliable
 * provisional response, initialised from the first one; a later one is processed only when its
 * RSeq is exactly one higher, and one with a CSeq and RSeq already seen is a retransmission.
 */
export function classifyProvisional(last: RSeqState | undefined, response: SipResponse): { reliability: Reliability; rseq: number | undefined } {
  const rseq = reliableRSeq(response);
  if (rseq === undefined) return { reliability: 'unreliable', rseq };
  const cseq = response.cseq.seq;
  if (last === undefined || last.cseq !== cseq) return { reliability: 'new', rseq };
  if (rseq <= last.rseq) return { reliability: 'retransmission', rseq };
  if (rseq === last.rseq + 1) return { reliability: 'new', rseq };
  return { reliability: 'out-of-order', rseq };
}
