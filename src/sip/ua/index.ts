/** The UA core: INVITE sessions as UAC and as UAS, and the answers a UAS gives on its own (RFC 3261 §8–§15). */
export { SourceRateLimit, DEFAULT_SOURCE_RATE_LIMIT, type SourceRateLimitOptions } from '../source-rate-limit.js';
export { UserAgent, type UserAgentOptions, type UserAgentEvents, type UserAgentStats, type InviteOptions, type SipTraceEntry } from './user-agent.js';
export {
  OutgoingInviteSession,
  IncomingDialogRequest,
  EarlyOffer,
  type OutgoingInviteState,
  type OutgoingInviteOptions,
  type OutgoingInviteEvents,
  type OutgoingInviteObserver,
  type InviteFailure,
  type InviteFailureKind,
  type SessionEnding,
  type SessionEndCause,
} from './outgoing-invite-session.js';
export {
  IncomingInviteSession,
  IncomingInviteError,
  type IncomingInviteState,
  type IncomingInviteEvents,
  type IncomingInviteFailure,
  type IncomingInviteFailureKind,
  type IncomingInviteErrorCode,
} from './incoming-invite-session.js';
export { Invite2xxRetransmission, type Invite2xxRetransmissionState } from './invite-2xx-retransmission.js';
export { checkRequest, optionsResponse, defaultCapabilities, type UasCapabilities, type UasCheckOptions } from './uas-checks.js';
export {
  sendOrphanedBye,
  sendOrphanedCancel,
  inviteSnapshotOf,
  DEFAULT_ORPHAN_CSEQ_MARGIN,
  type InviteSnapshot,
  type OrphanedByeOptions,
  type OrphanedRequestResult,
  type OnSent,
} from './orphaned-requests.js';
