/** The service with the api and webhooks roles (no engine) for webhook tests, and helpers to make call events as the engine would. */
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import type { ServiceHooks } from '../../src/main.js';
import { BOOTSTRAP_KEY, startTestService, type ServiceUnderTest } from '../e2e/service.js';

export interface WebhookService extends ServiceUnderTest {
  accountId: string;
  /** A queued call with its call.queued event (sequence 1), as POST /v1/calls writes it. */
  newCall(webhookUrl?: string): Promise<string>;
  /** Writes the call's next event with its state change, as the engine's runner does. */
  change(callId: string, sequence: number, type: string, update?: { status?: string; leg?: 'a' | 'b'; legStatus?: string; sip?: { code: number; reason: string } }): Promise<void>;
}

export async function startWebhookService(t: TestContext, env: Record<string, string> = {}, hooks: ServiceHooks = {}): Promise<WebhookService> {
  const service = await startTestService(t, {
    hooks,
    sipPort: 0,
    env: {
      ROLES: 'api,webhooks',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_QUEUE: `webhooks-test-${randomBytes(4).toString('hex')}`,
      WEBHOOK_TIMEOUT_MS: '1000',
      WEBHOOK_RETRY_DELAYS: '100ms,100ms,100ms,100ms,100ms',
      ...env,
    },
  });
  const store = service.service.store;
  const auth = await store.authenticate(BOOTSTRAP_KEY);
  const accountId = auth!.accountId;
  const leg = (uri: string) => ({ uri, callerId: '<sip:sales@example.com>' });
  return {
    ...service,
    accountId,
    async newCall(webhookUrl) {
      const created = await store.createCall(accountId, { a: leg('sip:alice@192.0.2.10'), b: leg('sip:bob@192.0.2.11'), webhookUrl: webhookUrl ?? null, metadata: { ticket: '42' }, queuedEvent: true });
      return created.call.id;
    },
    async change(callId, sequence, type, update = {}) {
      await store.writeChange({
        callId,
        accountId,
        ...(update.status ? { callUpdate: { status: update.status as 'connected' } } : {}),
        ...(update.leg ? { legUpdate: { leg: update.leg, status: (update.legStatus ?? 'calling') as 'calling', ...(update.sip ? { sipCode: update.sip.code, sipReason: update.sip.reason } : {}) } } : {}),
        event: { sequence, type, ...(update.leg ? { leg: update.leg } : {}), ...(update.sip ? { sip: update.sip } : {}), payload: type === 'call.leg.ringing' ? { early: true } : {} },
      });
    },
  };
}
