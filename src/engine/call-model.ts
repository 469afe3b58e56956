/**
 * The call model the engine reports (DESIGN.md "Call model"): a Call with two Legs, `a` called
 * first and `b` second, their statuses, why a call ended, and the event stream every change
 * produces. Plain types: the store persists them, webhooks publish them.
 */
import type { DigestClientCredentials } from '../sip/index.js';

export type CallStatus = 'queued' | 'calling_a' | 'calling_b' | 'connected' | 'completed' | 'failed' | 'canceled';
export type LegStatus = 'idle' | 'calling' | 'ringing' | 'early' | 'answered' | 'connected' | 'ended' | 'failed';
export type LegName = 'a' | 'b';

/** RFC 3725 flows the engine runs (§4.1, §4.3, §4.4); flow II is not offered (the RFC advises against it). */
export type Flow = 'I' | 'III' | 'IV';

export type EndReason =
  | 'a_busy'
  | 'a_no_answer'
  | 'a_rejected'
  | 'b_busy'
  | 'b_no_answer'
  | 'b_rejected'
  | 'unreachable'
  | 'codec_mismatch'
  /** An offer/answer exchange with a leg failed otherwise (a re-INVITE refused or timed out, a 2xx without SDP). */
  | 'negotiation_failed'
  | 'a_hangup'
  | 'b_hangup'
  | 'api_hangup'
  | 'max_duration'
  /** The engine that ran the call died; another one ended it with BYE/CANCEL from the persisted dialogs. */
  | 'controller_failover'
  /** The engine that ran the call was shut down (SIGTERM) and the call outlasted the drain time. */
  | 'controller_shutdown'
  /**
   * No engine took the call within CALL_QUEUE_TIMEOUT_MS of its creation (its job lost with
   * Redis, given up during a long outage, or no engine running): it was ended, never placed.
   */
  | 'queue_timeout';

export type Ringback = 'tone' | 'none';

/** Where one leg goes and how it presents itself. */
export interface LegTarget {
  /** SIP or SIPS URI of the party (name-addr or addr-spec), e.g. `sip:+15551234@trunk.example.com`. */
  uri: string;
  /** The From of the INVITE to this leg (the caller ID it sees). */
  from: string;
  /** Digest credentials for 401/407 challenges on this leg (a trunk's). */
  credentials?: DigestClientCredentials;
  /** A pre-loaded route set (an outbound proxy), e.g. `<sip:proxy.example.com;lr>`. */
  route?: readonly string[];
  /** Extra header lines on the INVITE (e.g. `P-Asserted-Identity`). */
  headers?: ReadonlyArray<readonly [string, string]>;
  /** How long it may ring before we CANCEL it, ms. */
  ringTimeoutMs?: number;
}

export interface CallRequest {
  /** Our id for the call (`call_…`); every event carries it. */
  id: string;
  a: LegTarget;
  b: LegTarget;
  /** Default III. */
  flow?: Flow;
  /** Default none. */
  ringback?: Ringback;
  /** BYE both legs after this long connected, ms; 0 or absent: no limit. */
  maxDurationMs?: number;
  /** 3xx responses followed per leg (RFC 3261 §8.1.3.4). Default 3. */
  maxRedirects?: number;
  /** The call's `queued` status is already recorded (by the API, with the call): do not emit it again. */
  alreadyQueued?: boolean;
}

/** The SIP response behind a change: the final response of a leg, or the status a leg's failure maps to. */
export interface SipCause {
  code: number;
  reason: string;
}

interface EventBase {
  /** The call's own sequence number: 1, 2, 3… in the order things happened. */
  seq: number;
  callId: string;
  /** Wall-clock milliseconds. */
  at: number;
}

export interface CallStatusEvent extends EventBase {
  type: 'call.status';
  status: CallStatus;
  endReason?: EndReason;
  /** The leg whose failure ended the call, when one did. */
  failedLeg?: LegName;
  sip?: SipCause;
}

export interface LegStatusEvent extends EventBase {
  type: 'leg.status';
  leg: LegName;
  status: LegStatus;
  sip?: SipCause;
  /** A 181: the call is being forwarded (reported with status `ringing`). */
  forwarded?: boolean;
  /** The SIP Call-ID of the leg's dialog. */
  sipCallId?: string;
}

export interface TransferEvent extends EventBase {
  type: 'call.transfer';
  outcome: 'started' | 'completed' | 'failed';
  target: string;
  method: 'reinvite' | 'refer';
  sip?: SipCause;
}

export type CallEvent = CallStatusEvent | LegStatusEvent | TransferEvent;

/** Where the engine's events go (the store's outbox; a test's array). Must not throw. */
export interface CallEventSink {
  (event: CallEvent): void;
}

export const FINAL_CALL_STATUSES: ReadonlySet<CallStatus> = new Set(['completed', 'failed', 'canceled']);
