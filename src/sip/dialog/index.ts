export { SessionDialog, type DialogOptions, type BodyOptions, type RequestOptions, type ResponseOptions, type ExtraHeaders, type OutgoingRequest, type ResponseOutcome, type RequestVerdict } from './session-dialog.js';
export { type DialogState, type DialogRole, type DialogSnapshot } from './dialog-snapshot.js';
export { InviteDialogSet, type InviteDialogSetOptions, type InviteDialogSetState, type InviteResponseOutcome } from './invite-dialog-set.js';
export { DialogRegistry, type RequestMatch } from './dialog-registry.js';
export { dialogIdOf, dialogKey, sameDialogId, type DialogId } from './dialog-id.js';
export { DialogError, type DialogErrorCode } from './errors.js';
export { OfferAnswer, carriesSessionDescription, glareRetryDelay, retryAfterSeconds, type OfferAnswerState, type InviteInProgress, type Collision } from './offer-answer.js';
export { addressRequest, isLooseRoute, type RequestAddress } from './request-addressing.js';
export { classifyProvisional, reliableRSeq, formatRAck, type RAck, type Reliability } from './reliable-provisional.js';
export {
  MIN_SE_FLOOR,
  RECOMMENDED_SESSION_EXPIRES,
  parseSessionExpires,
  formatSessionExpires,
  parseMinSE,
  sessionExpiresOf,
  minSEOf,
  sessionTimerAt,
  sessionTimerFromResponse,
  answerSessionTimer,
  sessionIntervalTooSmall,
  type SessionExpires,
  type SessionTimer,
  type SessionTimerAnswer,
  type Refresher,
} from './session-timer.js';
export {
  DEFAULT_CAPABILITIES,
  createDialogDoesNotExist,
  createRequestPending,
  createRetryLater,
  createOutOfOrder,
  createOptionsOk,
  createSessionIntervalTooSmall,
  type Capabilities,
} from './responses.js';
