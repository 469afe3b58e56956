/** The CSeq header field (RFC 3261 §20.16). */
import { SipParseError } from '../errors.js';
import { isToken, parseBoundedInt } from '../grammar.js';

export interface CSeq {
  seq: number;
  method: string;
}

/** RFC 3261 §8.1.1.5: the sequence number must be less than 2**31. */
export const MAX_CSEQ = 2 ** 31 - 1;

export function parseCSeq(text: string): CSeq {
  const value = text.trim();
  let space = value.indexOf(' ');
  if (space < 0) space = value.indexOf('\t');
  if (space < 0) throw new SipParseError('BAD_HEADER_VALUE', 'CSeq: missing method', 'cseq');
  const seq = parseBoundedInt(value.slice(0, space), MAX_CSEQ);
  if (seq === null) throw new SipParseError('BAD_HEADER_VALUE', 'CSeq: sequence number out of range', 'cseq');
  const method = value.slice(space).trim();
  if (!isToken(method)) throw new SipParseError('BAD_HEADER_VALUE', 'CSeq: malformed method', 'cseq');
  return { seq, method };
}

export function formatCSeq(cseq: CSeq): string {
  return `${cseq.seq} ${cseq.method}`;
}
