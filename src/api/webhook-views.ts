/** Webhook endpoints, secrets and deliveries as the API shows them (the contract's schemas). Pure. */
import type { WebhookDelivery as DeliveryRecord, WebhookDeliveryWithAttempts, WebhookEndpoint as EndpointRecord, WebhookSigningSecrets } from '../store/index.js';
import type { components } from './contract.js';

type Schemas = components['schemas'];
export type WebhookEndpoint = Schemas['WebhookEndpoint'];
export type WebhookDelivery = Schemas['WebhookDelivery'];
export type WebhookSecret = Schemas['WebhookSecret'];

const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());

export function webhookEndpointView(endpoint: EndpointRecord): WebhookEndpoint {
  return {
    id: endpoint.id,
    object: 'webhook_endpoint',
    url: endpoint.url,
    description: endpoint.description,
    events: endpoint.events as WebhookEndpoint['events'],
    enabled: endpoint.enabled,
    disabledReason: endpoint.disabledReason,
    disabledAt: iso(endpoint.disabledAt),
    failingSince: iso(endpoint.failingSince),
    previousSecretExpiresAt: iso(endpoint.previousSecretExpiresAt),
    createdAt: endpoint.createdAt.toISOString(),
    updatedAt: endpoint.updatedAt.toISOString(),
  };
}

export function webhookDeliveryView(delivery: DeliveryRecord): WebhookDelivery {
  return {
    id: delivery.id,
    object: 'webhook_delivery',
    endpoint: delivery.endpointId,
    url: delivery.url,
    event: delivery.eventId,
    eventType: delivery.eventType,
    call: delivery.callId,
    status: delivery.status,
    attempts: delivery.attempts,
    nextAttemptAt: delivery.status === 'pending' ? iso(delivery.nextAttemptAt) : null,
    lastAttemptAt: iso(delivery.lastAttemptAt),
    responseStatus: delivery.responseStatus,
    responseBody: delivery.responseBody,
    latencyMs: delivery.latencyMs,
    error: delivery.error,
    createdAt: delivery.createdAt.toISOString(),
    deliveredAt: iso(delivery.deliveredAt),
  };
}

export function webhookDeliveryWithAttemptsView(delivery: WebhookDeliveryWithAttempts): Schemas['WebhookDeliveryWithAttempts'] {
  return {
    ...webhookDeliveryView(delivery),
    body: delivery.body,
    attemptLog: delivery.attemptLog.map((attempt) => ({ ...attempt, at: attempt.at.toISOString() })),
  };
}

export function webhookSecretView(secrets: WebhookSigningSecrets): WebhookSecret {
  return {
    object: 'webhook_secret',
    secret: secrets.secret,
    previous: secrets.previous ? { secret: secrets.previous.secret, expiresAt: secrets.previous.expiresAt.toISOString() } : null,
  };
}
