/**
 * What each engine event changes in the database and which public event type it becomes
 * (the webhook and `GET /v1/calls/{id}/events` names). Pure: an engine event in, a change out.
 */
import type { CallEvent, CallStatus, LegStatus } from '../engine/index.js';

export type PublicEventType =
  | 'call.queued'
  | 'call.leg.calling'
  | 'call.leg.ringing'
  | 'call.leg.forwarded'
  | 'call.leg.answered'
  | 'call.connected'
  | 'call.transferred'
  | 'call.completed'
  | 'call.failed'
  | 'call.canceled';

export interface CallUpdate {
  status?: CallStatus;
  endReason?: string;
  sipCode?: number;
  sipReason?: string;
  failedLeg?: 'a' | 'b';
  connectedAt?: Date;
  endedAt?: Date;
}

export interface LegUpdate {
  leg: 'a' | 'b';
  status?: LegStatus;
  sipCode?: number;
  sipReason?: string;
  sipCallId?: string;
  answeredAt?: Date;
  endedAt?: Date;
  /** The leg's DialogSnapshot, added by the engine runner (what a BYE needs if the engine dies). */
  dialog?: object;
  /** The leg's InviteSnapshot while it rings (what a CANCEL needs). */
  invite?: object;
}

export interface EventChange {
  callId: string;
  /** The public event, or undefined for a change with no event of its own (a leg ending after the call did). */
  event?: {
    sequence: number;
    type: PublicEventType;
    leg?: 'a' | 'b';
    status?: string;
    sip?: { code: number; reason: string };
    endReason?: string;
    at: Date;
    payload: Record<string, unknown>;
  };
  callUpdate?: CallUpdate;
  legUpdate?: LegUpdate;
}

const CALL_EVENT_TYPES: Partial<Record<CallStatus, PublicEventType>> = {
  queued: 'call.queued',
  connected: 'call.connected',
  completed: 'call.completed',
  failed: 'call.failed',
  canceled: 'call.canceled',
};

const LEG_EVENT_TYPES: Partial<Record<LegStatus, PublicEventType>> = {
  calling: 'call.leg.calling',
  ringing: 'call.leg.ringing',
  early: 'call.leg.ringing',
  answered: 'call.leg.answered',
};

/**
 * The change an engine event makes. calling_a / calling_b are call statuses without an event of
 * their own (the leg's `calling` event says it); a leg's connected/ended/failed are recorded on
 * the leg, and published through the call's connected/completed/failed events. Public events are
 * numbered by `nextSequence` (1, 2, 3… per call with no gaps, so receivers can detect a missing
 * one), which is only called when the change has an event.
 */
export function changeForEvent(event: CallEvent, nextSequence: () => number): EventChange {
  const at = new Date(event.at);
  const sip = 'sip' in event && event.sip ? event.sip : undefined;
  if (event.type === 'call.status') {
    const callUpdate: CallUpdate = { status: event.status };
    if (event.endReason) callUpdate.endReason = event.endReason;
    if (sip) {
      callUpdate.sipCode = sip.code;
      callUpdate.sipReason = sip.reason;
    }
    if (event.failedLeg) callUpdate.failedLeg = event.failedLeg;
    if (event.status === 'connected') callUpdate.connectedAt = at;
    if (event.status === 'completed' || event.status === 'failed' || event.status === 'canceled') callUpdate.endedAt = at;
    const type = CALL_EVENT_TYPES[event.status];
    const change: EventChange = { callId: event.callId, callUpdate };
    if (type) {
      change.event = { sequence: nextSequence(), type, status: event.status, at, payload: {} };
      if (sip) change.event.sip = sip;
      if (event.endReason) change.event.endReason = event.endReason;
      if (event.failedLeg) change.event.payload.failedLeg = event.failedLeg;
    }
    return change;
  }
  if (event.type === 'leg.status') {
    const legUpdate: LegUpdate = { leg: event.leg, status: event.status };
    if (sip) {
      legUpdate.sipCode = sip.code;
      legUpdate.sipReason = sip.reason;
    }
    if (event.sipCallId) legUpdate.sipCallId = event.sipCallId;
    if (event.status === 'answered') legUpdate.answeredAt = at;
    if (event.status === 'ended' || event.status === 'failed') legUpdate.endedAt = at;
    const type = event.forwarded ? 'call.leg.forwarded' : LEG_EVENT_TYPES[event.status];
    const change: EventChange = { callId: event.callId, legUpdate };
    if (type) {
      change.event = { sequence: nextSequence(), type, leg: event.leg, status: event.status, at, payload: event.status === 'early' ? { early: true } : {} };
      if (sip) change.event.sip = sip;
    }
    return change;
  }
  // call.transfer: only the outcome is public.
  const change: EventChange = { callId: event.callId };
  if (event.outcome === 'completed') {
    change.event = { sequence: nextSequence(), type: 'call.transferred', at, payload: { target: event.target, method: event.method } };
  }
  return change;
}
