// The outbox relay's pace: with events always waiting but never a full batch (a steady stream of
// calls), it waits gatherMs between claims so that each claim (an UPDATE and its commit) takes
// many events, instead of claiming as fast as its round trips go; with nothing waiting it waits
// idleMs. The events a claim hands over are completed by the next claim's own statement. A store
// stand-in counts the claims (the relay's SQL is tested against PostgreSQL in delivery.test.ts,
// crash.test.ts and event-writer.test.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClaimOutboxOptions, OutboxEvent, Store } from '../../src/store/index.js';
import { Dispatcher, type DispatcherOptions } from '../../src/webhooks/index.js';

function relay(eventsPerClaim: number, options: Partial<DispatcherOptions> = {}) {
  let claims = 0;
  let completed = 0;
  let completedByClaims = 0;
  let sequence = 0;
  const reads = { calls: 0, endpoints: 0 };
  const store = {
    async claimOutbox(claim: ClaimOutboxOptions = {}): Promise<OutboxEvent[]> {
      claims++;
      completed += claim.complete?.length ?? 0;
      completedByClaims += claim.complete?.length ?? 0;
      // A round trip takes at least a turn of the event loop (and timers keep running).
      await new Promise((resolve) => setImmediate(resolve));
      return Array.from({ length: eventsPerClaim }, () => ({
        id: `evt_${++sequence}`,
        callId: 'call_1',
        accountId: 'acc_1',
        sequence,
        type: 'call.leg.ringing',
        leg: 'a' as const,
        status: 'ringing',
        sipCode: 180,
        sipReason: 'Ringing',
        endReason: null,
        payload: {},
        createdAt: new Date(),
        // The call has no webhookUrl and the account no endpoint: the events go nowhere.
        callWebhookUrl: null,
        callExists: true,
        accountHasEndpoints: false,
      }));
    },
    async callsById() {
      reads.calls++;
      return [{ id: 'call_1', accountId: 'acc_1', webhookUrl: null }];
    },
    webhookEndpoints: {
      enabledWebhookEndpoints: async () => {
        reads.endpoints++;
        return [];
      },
    },
    async completeOutbox(ids: readonly string[]) {
      completed += ids.length;
      return ids.length;
    },
  } as unknown as Store;
  const dispatcher = new Dispatcher({ store, queue: {} as never, lanes: {} as never, reconcileEveryMs: 60_000, ...options });
  return { dispatcher, claims: () => claims, completed: () => completed, completedByClaims: () => completedByClaims, events: () => sequence, reads };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('outbox relay pace', () => {
  test('events always waiting, never a full batch: one claim per gatherMs per loop, every claimed event completed', async () => {
    const { dispatcher, claims, completed, completedByClaims, events, reads } = relay(3, { gatherMs: 20, parallel: 2 });
    dispatcher.start();
    await sleep(400);
    await dispatcher.stop();
    assert.ok(completedByClaims() >= events() - 2 * 3, 'all but the last claims\' events were completed by the claims after them');
    assert.deepEqual(reads, { calls: 0, endpoints: 0 }, 'events that go nowhere, as the claim said: nothing more read for them');
    // Two loops, 400 ms, one claim each per 20 ms: about 40. Claiming back to back (the relay
    // before gatherMs) makes thousands here, the stand-in answering in a turn of the loop.
    assert.ok(claims() >= 10 && claims() <= 50, `${claims()} claims in 400 ms`);
    assert.equal(completed(), events(), 'every claimed event was completed, the last by stop()');
  });

  test('a full batch is followed by the next claim at once: a backlog drains at the speed of the round trips', async () => {
    const { dispatcher, claims } = relay(5, { batchSize: 5, gatherMs: 1000, idleMs: 1000, parallel: 1 });
    dispatcher.start();
    await sleep(100);
    await dispatcher.stop();
    assert.ok(claims() > 20, `${claims()} claims in 100 ms`);
  });

  test('an empty outbox is looked at every idleMs', async () => {
    const { dispatcher, claims } = relay(0, { idleMs: 50, parallel: 1 });
    dispatcher.start();
    await sleep(300);
    await dispatcher.stop();
    assert.ok(claims() >= 4 && claims() <= 8, `${claims()} claims in 300 ms`);
  });
});
