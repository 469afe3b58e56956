/** The store's public surface (CONVENTIONS §12): what the api, queue, webhooks and main may use. */
export { Store, type StoreOptions } from './store.js';
export {
  EventWriter,
  type CallChange,
  type CallUpdate,
  type EventInput,
  type EventWriterOptions,
  type EventWriterStats,
  type LegUpdate,
  type SipLogInput,
} from './event-writer.js';
export type { BatchQueueStats } from './batch-queue.js';
export type { CreatedCall } from './calls.js';
export type { ApiKeyOptions, BootstrapResult } from './api-keys.js';
export type { ClaimOutboxOptions, OutboxEvent } from './outbox.js';
export type { WallClock } from './clock.js';
export * from './model.js';
export * from './errors.js';
export { isConnectionFailure } from './connection-failure.js';
export { Coalescer, type CoalescerOptions } from './coalescer.js';
export { ensureDatabase, dropDatabase, withDatabase } from './database.js';
export { migrate, DEFAULT_MIGRATIONS_DIR, type MigrateOptions, type MigrateResult } from './migrator.js';
export { DEFAULT_BUTTON_COLORS, DEFAULT_BUTTON_LIMITS } from './buttons.js';
export { newPublicCallToken, newWebhookEventId, sha256Hex } from './random-text.js';
export { WebhookDeliveryStore, deliveryId, deliveryTarget, type WebhookDeliveryStoreOptions } from './webhook-deliveries.js';
export { WebhookEndpointRepository, PREVIOUS_SECRET_VALID_MS } from './webhook-endpoints.js';
export { callView, type CallView, type CallLegView } from './call-view.js';
