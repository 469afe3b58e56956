/**
 * Why a call ended, from the way a leg failed (pure). RFC 3261 §21 status classes, as CPaaS users
 * read them: busy (486, 600), no answer (408 and 480 from the far end, 487 after our own ring
 * timeout), unreachable (no response at all, a transport or DNS failure, 404/410/484/604 that
 * say the party does not exist, 502–504), codec mismatch (488, 606), rejected otherwise (603 and
 * the rest).
 */
import type { InviteFailure } from '../sip/index.js';
import type { EndReason, LegName } from './call-model.js';

export function endReasonForLegFailure(leg: LegName, failure: InviteFailure, ringTimedOut: boolean): EndReason {
  if (failure.kind === 'timeout' || failure.kind === 'unreachable') return 'unreachable';
  if (failure.kind === 'canceled') return ringTimedOut ? (`${leg}_no_answer` as const) : 'api_hangup';
  const status = failure.status;
  if (status === 486 || status === 600) return `${leg}_busy`;
  if (status === 408 || status === 480) return `${leg}_no_answer`;
  if (status === 488 || status === 606) return 'codec_mismatch';
  if ([404, 410, 484, 502, 503, 504, 604].includes(status)) return 'unreachable';
  return `${leg}_rejected`;
}

/** RFC 3326: the Reason header a BYE or CANCEL carries to say which final response caused it. */
export function reasonHeader(code: number, text: string): string {
  return `SIP;cause=${code};text="${text.replace(/["\\\r\n]/g, '')}"`;
}
