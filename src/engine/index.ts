/** The 3PCC engine's public surface (RFC 3725): calls, their events, the commands on them. */
export { Engine, FAILOVER_REASON, type EngineOptions, type EngineDefaults, type EngineStats, type SipLogEntry } from './engine.js';
export { Call, type Dialer, type CallDependencies } from './call.js';
export * from './call-model.js';
export { endReasonForLegFailure, reasonHeader } from './end-reason.js';
export { EngineError, type EngineErrorCode } from './errors.js';
export type { RingbackSource, RingbackHandle } from './ringback-source.js';
export type { DialogSnapshot, InviteSnapshot, OnSent, OrphanedRequestResult } from '../sip/index.js';
