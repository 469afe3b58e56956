/** The webhooks layer's public surface (CONVENTIONS §12). */
export { WebhooksRole, WebhookCommands, type WebhookSettings, type WebhooksRoleOptions } from './webhooks-role.js';
export { DeliveryQueue, DEFAULT_WEBHOOK_QUEUE, deliveryJobId, type DeliveryJob } from './delivery-queue.js';
export { Dispatcher, type DispatcherOptions, type DispatcherStats } from './dispatcher.js';
export { DeliveryWorker, type DeliveryWorkerOptions } from './delivery-worker.js';
export { DeliveryLanes, laneOf, type DeliveryLanesOptions, type LaneMember, type EnterVerdict } from './delivery-lanes.js';
export { EndpointThrottle, type ThrottleOptions } from './endpoint-throttle.js';
export { HttpSender, type SendResult, type SenderOptions } from './http-sender.js';
export { RetrySchedule, DEFAULT_RETRY_DELAYS_MS, DEFAULT_DISABLE_AFTER_MS, parseDelays, type AttemptVerdict, type RetryScheduleOptions } from './retry-schedule.js';
export { signatureHeaders, type SignedHeaders } from './signer.js';
export { checkDestination, refusedKind, DestinationCache, systemResolve, type CheckedDestination, type GuardOptions, type Resolve } from './ssrf-guard.js';
export { CALL_EVENT_TYPES, WEBHOOK_EVENT_TYPES, ENDPOINT_DISABLED_EVENT, TEST_EVENT, callEventBody, subscribes } from './event-body.js';
export * from './errors.js';
