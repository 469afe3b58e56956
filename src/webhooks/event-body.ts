/**
 * The bodies receivers get: `{ type, timestamp, data }` (the Standard Webhooks payload shape).
 * A call event carries the call as the API returns it (`GET /v1/calls/{id}`), read when the event
 * is dispatched (normally milliseconds after the change, so it may already be a step further
 * along than the event: `type`, `leg`, `sequence` and `sip` describe the change itself), the leg
 * it concerns, the call's gap-free sequence number and the SIP response behind it.
 */
import { callView, type Call, type CallEventRecord, type WebhookEndpoint } from '../store/index.js';

export const ENDPOINT_DISABLED_EVENT = 'webhook.endpoint.disabled';
export const TEST_EVENT = 'webhook.test';

/** Every call event type a receiver can subscribe to (docs/webhooks.md lists what each means). */
export const CALL_EVENT_TYPES = [
  'call.queued',
  'call.leg.calling',
  'call.leg.ringing',
  'call.leg.forwarded',
  'call.leg.answered',
  'call.connected',
  'call.transferred',
  'call.completed',
  'call.failed',
  'call.canceled',
] as const;

export const WEBHOOK_EVENT_TYPES = [...CALL_EVENT_TYPES, ENDPOINT_DISABLED_EVENT] as const;

export function callEventBody(event: CallEventRecord, call: Call): string {
  const payload = event.payload as { early?: unknown; target?: unknown; method?: unknown };
  const data: Record<string, unknown> = {
    call: callView(call),
    leg: event.leg,
    sequence: event.sequence,
    sip: event.sipCode === null ? null : { code: event.sipCode, reason: event.sipReason ?? '' },
  };
  if (event.type === 'call.leg.ringing') data.early = payload.early === true;
  if (event.type === 'call.transferred' && typeof payload.target === 'string') data.transfer = { target: payload.target, method: payload.method ?? 'reinvite' };
  return JSON.stringify({ type: event.type, timestamp: event.createdAt.toISOString(), data });
}

export function endpointDisabledBody(endpoint: WebhookEndpoint, at: Date): string {
  return JSON.stringify({
    type: ENDPOINT_DISABLED_EVENT,
    timestamp: at.toISOString(),
    data: {
      endpoint: { id: endpoint.id, object: 'webhook_endpoint', url: endpoint.url, enabled: false, disabledAt: endpoint.disabledAt?.toISOString() ?? at.toISOString() },
      reason: endpoint.disabledReason,
    },
  });
}

export function testEventBody(endpointId: string, at: Date): string {
  return JSON.stringify({ type: TEST_EVENT, timestamp: at.toISOString(), data: { endpoint: endpointId, message: 'A test event sent by POST /v1/webhook-endpoints/{id}/test.' } });
}

/** Whether an endpoint subscribed to `events` receives an event of `type`. */
export function subscribes(events: readonly string[], type: string): boolean {
  return events.includes('*') || events.includes(type);
}
