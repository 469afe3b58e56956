/**
 * The engine role's log lines about calls: every line carries `callId`, and `leg` where one is
 * concerned. A call's end is worth `info` (one line a call, with its reason and SIP cause); every
 * other step goes at `debug`, with the SIP messages, so that a busy engine's `info` log stays
 * readable. The lines hold URIs and SIP causes, never credentials (trunk passwords never reach
 * the engine's events).
 */
import type { CallEvent, SipLogEntry } from '../engine/index.js';

/** What this needs of a pino logger. */
export interface CallLogger {
  info(fields: object, message: string): void;
  debug(fields: object, message: string): void;
  isLevelEnabled(level: string): boolean;
}

const FINAL = new Set(['completed', 'failed', 'canceled']);

export function logCallEvent(log: CallLogger, event: CallEvent): void {
  switch (event.type) {
    case 'call.status': {
      const fields = {
        callId: event.callId,
        seq: event.seq,
        status: event.status,
        ...(event.endReason ? { endReason: event.endReason } : {}),
        ...(event.failedLeg ? { leg: event.failedLeg } : {}),
        ...(event.sip ? { sipCode: event.sip.code, sipReason: event.sip.reason } : {}),
      };
      if (FINAL.has(event.status)) log.info(fields, `call ${event.status}${event.endReason ? ` (${event.endReason})` : ''}`);
      else if (log.isLevelEnabled('debug')) log.debug(fields, `call ${event.status}`);
      return;
    }
    case 'leg.status':
      if (!log.isLevelEnabled('debug')) return;
      log.debug(
        {
          callId: event.callId,
          leg: event.leg,
          seq: event.seq,
          status: event.status,
          ...(event.sip ? { sipCode: event.sip.code, sipReason: event.sip.reason } : {}),
          ...(event.sipCallId ? { sipCallId: event.sipCallId } : {}),
        },
        `leg ${event.leg} ${event.status}`,
      );
      return;
    case 'call.transfer':
      log.info(
        { callId: event.callId, leg: 'b', seq: event.seq, outcome: event.outcome, target: event.target, method: event.method, ...(event.sip ? { sipCode: event.sip.code } : {}) },
        `transfer ${event.outcome}`,
      );
      return;
  }
}

/** A SIP message of a call, at debug level. */
export function logSipMessage(log: CallLogger, callId: string, entry: SipLogEntry): void {
  if (!log.isLevelEnabled('debug')) return;
  log.debug({ callId, leg: entry.leg, direction: entry.direction, peer: entry.peer }, `SIP ${entry.direction === 'in' ? '<-' : '->'} ${entry.line}`);
}
