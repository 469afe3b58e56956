/**
 * Order per call per destination (delivery-lanes.ts), on real Redis and PostgreSQL, with the
 * webhooks role on a simulated clock: a call's later events wait while an earlier one is being
 * retried, other calls are not held up, and a delivery done with for good (delivered, failed,
 * 410, or a ghost left by a dead worker) releases the ones behind it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { DeliveryLanes, type LaneMember } from '../../src/webhooks/index.js';
import { startReceiver, type Received } from './receiver.js';
import { advanceTo, SimulatedClock, waitUntilSettled } from './simulated-time.js';
import { startWebhookService, type WebhookService } from './webhooks-service.js';

const MINUTE = 60_000;

/** The call's own events as the receiver answered them with a 2xx, in the order they arrived. */
function deliveredSequences(received: Received[], callId: string, answered: Map<Received, number>): number[] {
  return received.filter((item) => item.event.data.call.id === callId && (answered.get(item) ?? 0) < 300).map((item) => item.event.data.sequence as number);
}

async function threeEvents(ctd: WebhookService): Promise<string> {
  const id = await ctd.newCall();
  await ctd.change(id, 2, 'call.leg.calling', { status: 'calling_a', leg: 'a' });
  await ctd.change(id, 3, 'call.leg.ringing', { leg: 'a', legStatus: 'ringing', sip: { code: 180, reason: 'Ringing' } });
  return id;
}

async function deliveriesOf(ctd: WebhookService, callId: string): Promise<{ id: string; status: string; attempts: number; error: string | null; event: string }[]> {
  const rows = (await ctd.api(`/v1/calls/${callId}/webhook-deliveries`)).body.data as { id: string; status: string; attempts: number; error: string | null; event: string }[];
  return rows;
}

/** Until the outbox is empty, the calls have `deliveries` deliveries in all, and the queue has done what is due. */
async function settledWith(ctd: WebhookService, clock: SimulatedClock, callIds: string[], deliveries: number): Promise<void> {
  await waitUntilSettled(ctd.service.webhooks!.queue, clock, async () => {
    if ((await ctd.service.store.outbox.outboxDepth()) > 0) return false;
    let n = 0;
    for (const id of callIds) n += (await deliveriesOf(ctd, id)).length;
    return n >= deliveries;
  });
}

async function laneKeys(ctd: WebhookService): Promise<string[]> {
  const queue = ctd.service.webhooks!.queue;
  const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${queue.prefix}:${queue.name}:lane:*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    return keys;
  } finally {
    redis.disconnect();
  }
}

describe('delivery lanes (Redis)', () => {
  test('the first of a lane goes, the others are parked and released one by one in sequence order; lanes of other calls are apart', async (t) => {
    const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
    const prefix = `lanes-test-${randomBytes(4).toString('hex')}:`;
    t.after(async () => {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    });
    const lanes = new DeliveryLanes(redis, { keyPrefix: prefix, ttlMs: 60_000 });
    const member = (callId: string, sequence: number): LaneMember => ({ target: 'whe_1', callId, sequence, deliveryId: `whd_${callId}_${sequence}`, jobId: `whd_${callId}_${sequence}-1` });
    // Joined out of order, in one batch: ranked by sequence all the same.
    assert.deepEqual(await lanes.join([member('x', 2), member('x', 1), member('y', 5), member('x', 3)]), [false, true, true, false]);
    assert.deepEqual(await lanes.enter(member('x', 3)), { first: false, behind: 'whd_x_1' });
    assert.deepEqual(await lanes.enter(member('x', 1)), { first: true });
    assert.deepEqual(await lanes.first([member('x', 1), member('x', 2), member('y', 5)]), [true, false, true]);
    assert.equal(await lanes.leave(member('x', 1)), 'whd_x_2-1', 'the next one, parked, is released');
    assert.deepEqual(await lanes.enter(member('x', 2)), { first: true });
    assert.equal(await lanes.leave(member('x', 2)), 'whd_x_3-1');
    assert.equal(await lanes.leave(member('x', 3)), null, 'the last leaves nothing to release');
    assert.equal(await lanes.leave(member('y', 5)), null);
    assert.deepEqual(await redis.keys(`${prefix}*`), [], 'an empty lane leaves no key behind');
  });
});

describe('webhooks in order per call', () => {
  test('a call\'s later events wait while its first is retried, another call\'s are not held up, and they follow in order once it is delivered', { timeout: 60_000 }, async (t) => {
    const clock = new SimulatedClock();
    const ctd = await startWebhookService(t, { WEBHOOK_RETRY_DELAYS: '1m,10m,1h' }, { webhookClock: clock.now });
    const answered = new Map<Received, number>();
    let failing: string | null = null;
    const receiver = await startReceiver(t, (item) => {
      const status = item.event.data.call.id === failing ? 500 : 200;
      answered.set(item, status);
      return { status };
    });
    const endpoint = await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: receiver.url } });
    receiver.secrets = [endpoint.body.secret];
    const queue = ctd.service.webhooks!.queue;

    const x = await ctd.newCall();
    failing = x;
    await ctd.change(x, 2, 'call.leg.calling', { status: 'calling_a', leg: 'a' });
    await ctd.change(x, 3, 'call.leg.ringing', { leg: 'a', legStatus: 'ringing', sip: { code: 180, reason: 'Ringing' } });
    await ctd.change(x, 4, 'call.leg.answered', { leg: 'a', legStatus: 'answered', sip: { code: 200, reason: 'OK' } });
    const y = await threeEvents(ctd);
    await settledWith(ctd, clock, [x, y], 7);
    assert.deepEqual(deliveredSequences(receiver.received, y, answered), [1, 2, 3], 'the other call is not held up');
    assert.deepEqual(receiver.received.filter((item) => item.event.data.call.id === x).map((item) => item.event.data.sequence), [1], 'only the first of the failing call was tried');
    // For the reconciler, the ones waiting behind are not overdue (only the first, once its time is past, could be lost).
    const overdue = await ctd.service.store.webhookDeliveries.overdueDeliveries(new Date(clock.now().getTime() + 3_600_000), 100);
    assert.deepEqual(overdue.filter((row) => row.callId === x).map((row) => row.sequence), [1]);

    await advanceTo(queue, clock, new Date(clock.now().getTime() + 2 * MINUTE));
    assert.deepEqual(receiver.received.filter((item) => item.event.data.call.id === x).map((item) => item.event.data.sequence), [1, 1], 'its retry, still alone');

    failing = null;
    await advanceTo(queue, clock, new Date(clock.now().getTime() + 12 * MINUTE));
    await receiver.waitFor(() => deliveredSequences(receiver.received, x, answered).length === 4);
    assert.deepEqual(deliveredSequences(receiver.received, x, answered), [1, 2, 3, 4], 'then the rest, in sequence order');
    await settledWith(ctd, clock, [x, y], 7);
    const rows = await deliveriesOf(ctd, x);
    assert.ok(rows.every((row) => row.status === 'succeeded'), JSON.stringify(rows));
    assert.deepEqual(rows.map((row) => row.attempts).sort(), [1, 1, 1, 3]);
    assert.ok(receiver.received.every((item) => item.verifiedWith.length === 1), 'signed, and verified on the wall clock');
    assert.deepEqual(await laneKeys(ctd), []);
  });

  test('a delivery whose schedule runs out releases the ones behind it', { timeout: 60_000 }, async (t) => {
    const clock = new SimulatedClock();
    const ctd = await startWebhookService(t, { WEBHOOK_RETRY_DELAYS: '1m' }, { webhookClock: clock.now });
    const answered = new Map<Received, number>();
    const receiver = await startReceiver(t, (item) => {
      // The receiver chokes on this call's first event, for good.
      const status = item.event.type === 'call.queued' ? 400 : 204;
      answered.set(item, status);
      return { status };
    });
    await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: receiver.url } });
    const x = await threeEvents(ctd);
    await settledWith(ctd, clock, [x], 3);
    assert.deepEqual(receiver.received.map((item) => item.event.data.sequence), [1]);
    await advanceTo(ctd.service.webhooks!.queue, clock, new Date(clock.now().getTime() + 2 * MINUTE));
    await receiver.waitFor(() => deliveredSequences(receiver.received, x, answered).length === 2);
    assert.deepEqual(receiver.received.map((item) => item.event.data.sequence), [1, 1, 2, 3], 'after the last attempt of the first, the others in order');
    await settledWith(ctd, clock, [x], 3);
    const rows = await deliveriesOf(ctd, x);
    assert.deepEqual(rows.map((row) => `${row.status}/${row.attempts}`).sort(), ['failed/2', 'succeeded/1', 'succeeded/1']);
    assert.deepEqual(await laneKeys(ctd), []);
  });

  test('410 Gone: the deliveries waiting behind are released, recorded failed and not sent to the disabled endpoint', { timeout: 60_000 }, async (t) => {
    const clock = new SimulatedClock();
    const ctd = await startWebhookService(t, { WEBHOOK_RETRY_DELAYS: '1h' }, { webhookClock: clock.now });
    // 500 until every event has its delivery (an endpoint disabled sooner would get none for the later events), then 410.
    let gone = false;
    const receiver = await startReceiver(t, () => ({ status: gone ? 410 : 500 }));
    const endpoint = await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: receiver.url } });
    const x = await threeEvents(ctd);
    await settledWith(ctd, clock, [x], 3);
    gone = true;
    await advanceTo(ctd.service.webhooks!.queue, clock, new Date(clock.now().getTime() + 2 * 3_600_000));
    const deadline = Date.now() + 15_000;
    let rows = await deliveriesOf(ctd, x);
    while (!rows.every((row) => row.status === 'failed')) {
      assert.ok(Date.now() < deadline, `not all failed: ${JSON.stringify(rows)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      rows = await deliveriesOf(ctd, x);
    }
    assert.deepEqual(receiver.received.map((item) => item.event.data.sequence), [1, 1], 'only the first was sent (twice: 500, then 410)');
    assert.deepEqual(rows.filter((row) => row.attempts === 1 && row.error === 'endpoint disabled: not sent').length, 2);
    assert.equal((await ctd.api(`/v1/webhook-endpoints/${endpoint.body.id}`)).body.enabled, false);
    await settledWith(ctd, clock, [x], 3);
    assert.deepEqual(await laneKeys(ctd), []);
  });

  test('a ghost left first in a lane by a dead worker holds the call only until the one behind asks again', { timeout: 60_000 }, async (t) => {
    const clock = new SimulatedClock();
    const ctd = await startWebhookService(t, {}, { webhookClock: clock.now });
    const receiver = await startReceiver(t);
    const endpoint = await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: receiver.url } });
    const role = ctd.service.webhooks!;
    // What a worker killed between its record and leaving the lane leaves: a member no longer pending (here: none at all).
    const x = await ctd.service.store.createCall(ctd.accountId, { a: { uri: 'sip:a@192.0.2.1', callerId: '<sip:s@example.com>' }, b: { uri: 'sip:b@192.0.2.2', callerId: '<sip:s@example.com>' }, webhookUrl: null, metadata: {}, queuedEvent: false });
    const ghost: LaneMember = { target: endpoint.body.id, callId: x.call.id, sequence: 0, deliveryId: 'whd_ghost', jobId: 'whd_ghost-1' };
    assert.deepEqual(await role.lanes.join([ghost]), [true]);
    await ctd.change(x.call.id, 1, 'call.leg.calling', { status: 'calling_a', leg: 'a' });
    await ctd.change(x.call.id, 2, 'call.leg.ringing', { leg: 'a', legStatus: 'ringing', sip: { code: 180, reason: 'Ringing' } });
    await settledWith(ctd, clock, [x.call.id], 2);
    assert.equal(receiver.received.length, 0, 'held behind the ghost');
    // Its recheck comes (BullMQ's timer, lanes' recheckMs later): here at once.
    const [first] = await ctd.service.store.webhookDeliveries.overdueDeliveries(new Date(Date.now() + 3_600_000), 10).then((rows) => rows.filter((row) => row.sequence === 1));
    assert.ok(await role.queue.promote(first!.id, 1), 'the first event waits parked');
    await receiver.waitFor((got) => got.length >= 2);
    assert.deepEqual(receiver.received.map((item) => item.event.data.sequence), [1, 2]);
    await settledWith(ctd, clock, [x.call.id], 2);
    assert.deepEqual(await laneKeys(ctd), []);
  });
});
