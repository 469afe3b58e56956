/**
 * Session timers (RFC 4028) as dialog state: the Session-Expires and Min-SE header fields, who
 * refreshes, and when the refresh and the expiry fall due. The times are clock milliseconds; the
 * UA core sets the timers through its Clock.
 *
 * The `refresher` parameter names a role in the transaction that negotiated the interval: `uac`
 * is whoever sent that re-INVITE or UPDATE (or the initial INVITE), `uas` whoever answered it.
 */
import { parseBoundedInt, parseParams } from '../grammar.js';
import type { SipMessage, SipRequest, SipResponse } from '../message/index.js';
import { DialogError } from './errors.js';

/** RFC 4028 §4, §5: no session interval may be shorter, and it is the default Min-SE. */
export const MIN_SE_FLOOR = 90;
/** RFC 4028 §4: the recommended session interval. */
export const RECOMMENDED_SESSION_EXPIRES = 1800;

const MAX_DELTA_SECONDS = 2 ** 32 - 1;

export type Refresher = 'uac' | 'uas';

export interface SessionExpires {
  /** Seconds. */
  interval: number;
  refresher: Refresher | undefined;
}

export function parseSessionExpires(text: string): SessionExpires {
  const value = text.trim();
  const semi = value.indexOf(';');
  const interval = parseBoundedInt((semi < 0 ? value : value.slice(0, semi)).trim(), MAX_DELTA_SECONDS);
  const params = parseParams(semi < 0 ? '' : value.slice(semi));
  if (interval === null || interval === 0 || params === null) {
    throw new DialogError('BAD_SESSION_TIMER', `malformed Session-Expires: ${JSON.stringify(value.slice(0, 60))}`);
  }
  const refresher = params.get('refresher')?.toLowerCase();
  if (refresher !== undefined && refresher !== 'uac' && refresher !== 'uas') {
    throw new DialogError('BAD_SESSION_TIMER', `Session-Expires: refresher must be uac or uas, not ${refresher}`);
  }
  return { interval, refresher };
}

export function formatSessionExpires(value: SessionExpires): string {
  return value.refresher === undefined ? `${value.interval}` : `${value.interval};refresher=${value.refresher}`;
}

export function parseMinSE(text: string): number {
  const value = text.trim();
  const semi = value.indexOf(';');
  const seconds = parseBoundedInt((semi < 0 ? value : value.slice(0, semi)).trim(), MAX_DELTA_SECONDS);
  if (seconds === null) throw new DialogError('BAD_SESSION_TIMER', `malformed Min-SE: ${JSON.stringify(value.slice(0, 60))}`);
  return seconds;
}

/** The message's Session-Expires (long or compact `x` form), if any. */
export function sessionExpiresOf(message: SipMessage): SessionExpires | undefined {
  const value = message.header('session-expires');
  return value === undefined ? undefined : parseSessionExpires(value);
}

export function minSEOf(message: SipMessage): number | undefined {
  const value = message.header('min-se');
  return value === undefined ? undefined : parseMinSE(value);
}

/** The session timer of a dialog, from this side's point of view. */
export interface SessionTimer {
  /** The session interval, in seconds. */
  readonly interval: number;
  /** Whether we send the refreshes or the peer does. */
  readonly refresher: 'local' | 'remote';
  /** When the interval started: when the 2xx that negotiated it was received or sent. */
  readonly startedAt: number;
  /** RFC 4028 §7.2, §9: the refresher refreshes once half the interval has elapsed. Set only when we refresh. */
  readonly refreshAt: number | undefined;
  /** When the session expires if no refresh succeeds. */
  readonly expiresAt: number;
  /**
   * RFC 4028 §10: without a refresh, send BYE slightly before the expiry, by the smaller of
   * 32 s and a third of the interval.
   */
  readonly byeAt: number;
}

export function sessionTimerAt(interval: number, refresher: 'local' | 'remote', now: number): SessionTimer {
  const ms = interval * 1000;
  const margin = Math.min(32_000, ms / 3);
  return {
    interval,
    refresher,
    startedAt: now,
    refreshAt: refresher === 'local' ? now + ms / 2 : undefined,
    expiresAt: now + ms,
    byeAt: now + ms - margin,
  };
}

/**
 * The session timer a 2xx to our INVITE, re-INVITE or UPDATE sets up (RFC 4028 §7.2): the
 * response's Session-Expires and refresher when present; otherwise, when we asked for one and
 * the UAS does not support the extension, we refresh ourselves with the interval we asked for.
 * Undefined when neither side wants a session timer.
 */
export function sessionTimerFromResponse(request: SipRequest, response: SipResponse, now: number): SessionTimer | undefined {
  const answered = sessionExpiresOf(response);
  if (answered) {
    // RFC 4028 §9 obliges the UAS to set refresher in its 2xx; without it, refreshing ourselves
    // is the safe reading, as a refresh no one needed costs one transaction.
    const refresher = answered.refresher ?? 'uac';
    return sessionTimerAt(answered.interval, refresher === 'uac' ? 'local' : 'remote', now);
  }
  const asked = sessionExpiresOf(request);
  return asked ? sessionTimerAt(asked.interval, 'local', now) : undefined;
}

export interface SessionTimerAnswer {
  /** The Session-Expires our 2xx carries. */
  sessionExpires: SessionExpires;
  /** RFC 4028 §9: with refresher=uac the 2xx carries Require: timer. */
  requireTimer: boolean;
}

/**
 * RFC 4028 §9: the Session-Expires of our 2xx to an incoming INVITE, re-INVITE or UPDATE that
 * asked for a session timer. We keep the requested interval (one below our Min-SE was already
 * refused with 422) and the requested refresher; when none was requested the UAC refreshes if it
 * supports the extension, else we do.
 */
export function answerSessionTimer(request: SipRequest): SessionTimerAnswer | undefined {
  const asked = sessionExpiresOf(request);
  if (!asked) return undefined;
  const refresher = asked.refresher ?? (request.optionTags('supported').includes('timer') ? 'uac' : 'uas');
  return { sessionExpires: { interval: asked.interval, refresher }, requireTimer: refresher === 'uac' };
}

/**
 * RFC 4028 §8 (proxy) and §9 (UAS): a request whose Session-Expires is below our Min-SE is
 * refused with 422 carrying our Min-SE. Returns the Min-SE to send, or undefined when acceptable.
 */
export function sessionIntervalTooSmall(request: SipRequest, minSE: number): number | undefined {
  const asked = sessionExpiresOf(request);
  if (!asked) return undefined;
  const floor = Math.max(minSE, MIN_SE_FLOOR);
  return asked.interval < floor ? floor : undefined;
}
