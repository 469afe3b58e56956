/**
 * Order per call per destination (delivery-lanes.ts), on real Redis and PostgreSQL, with the
 * webhooks role on a simulated clock: a call's later events wait while an earlier one is being
 * retried, other calls are not held up, and a delivery done with for good (delivered, failed,
 * 410, or a ghost left by a dead worker) releases the ones behind it. Runs (one job sending a
 * lane's deliveries one after another) are tested in lane-runs.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { DeliveryLanes, laneOf, type DeliveryJob } from '../../src/webhooks/index.js';
import { deliveredSequences, deliveriesOf, laneKeys, settledWith } from './ordering-helpers.js';
import { startReceiver, type Received, type Receiver } from './receiver.js';
import { advanceTo, SimulatedClock } from './simulated-time.js';
import { startWebhookService, type WebhookService } from './webhooks-service.js';

const MINUTE = 60_000;

async function threeEvents(ctd: WebhookService): Promise<string> {
  const id = await ctd.newCall();
  await ctd.change(id, 2, 'call.leg.calling', { status: 'calling_a', leg: 'a' });
  await ctd.change(id, 3, 'call.leg.ringing', { leg: 'a', legStatus: 'ringing', sip: { code: 180, reason: 'Ringing' } });
  return id;
}

/** A call event's first attempt to endpoint whe_1, as the dispatcher makes it. */
function delivery(callId: string, sequence: number): DeliveryJob {
  return { deliveryId: `whd_${callId}_${sequence}`, attempt: 1, accountId: 'acc_1', endpointId: 'whe_1', url: null, eventId: `evt_${callId}_${sequence}`, eventAt: 0, body: `{"sequence":${sequence}}`, callId, sequence };
}

describe('delivery lanes (Redis)', () => {
  test('the first of a lane gets a job, the others wait in it and are handed one by one, in sequence order, to the job leaving before them; lanes of other calls are apart', async (t) => {
    const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
    const prefix = `lanes-test-${randomBytes(4).toString('hex')}:`;
    t.after(async () => {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    });
    const lanes = new DeliveryLanes(redis, { keyPrefix: prefix, ttlMs: 60_000 });
    const member = (job: DeliveryJob) => laneOf(job)!;
    const [x1, x2, x3, y5] = [delivery('x', 1), delivery('x', 2), delivery('x', 3), delivery('y', 5)];
    // Joined out of order, in one batch: ranked by sequence all the same.
    assert.deepEqual(await lanes.join([x2, x1, y5, x3]), [false, true, true, false]);
    assert.deepEqual(await lanes.join([x2]), [false], 'joining again (a claim redone) gives a waiting delivery no job');
    // A job of x3's own (re-added by the reconciler, say) asks: it waits.
    assert.deepEqual(await lanes.enter(member(x3), { ...x3, attempt: 2 }), { first: false, behind: 'whd_x_1' });
    assert.deepEqual(await lanes.carriers([member(x1), member(x2), member(x3)]), [null, null, null], 'nobody carries a delivery with a job of its own, nor one not yet first');
    assert.deepEqual(await lanes.leave(member(x1), 'job-a'), { ...x2, laneHead: true }, 'the next one is handed to the job leaving');
    assert.deepEqual(await lanes.carriers([member(x2), member(x3)]), ['job-a', null]);
    assert.deepEqual(await lanes.join([x2]), [false], 'nor does one being carried');
    assert.deepEqual(await lanes.leave(member(x2), 'job-a'), { ...x3, attempt: 2, laneHead: true }, 'the data its own job left there');
    assert.equal(await lanes.leave(member(x2), 'job-b'), null, 'another job leaving it again (a second sender) is handed nothing');
    assert.deepEqual(await lanes.leave(member(x2), 'job-a'), { ...x3, attempt: 2, laneHead: true }, 'its carrier, started again and leaving it again, carries on');
    assert.equal(await lanes.leave(member(x3), 'job-a'), null, 'the last leaves nothing to hand over');
    assert.equal(await lanes.leave(member(y5), 'job-y'), null);
    assert.deepEqual(await redis.keys(`${prefix}*`), [], 'an empty lane leaves no key behind');
  });
});

/** A call with no event yet (the test writes them from sequence 1). */
async function silentCall(ctd: WebhookService): Promise<string> {
  const leg = (uri: string) => ({ uri, callerId: '<sip:s@example.com>' });
  const created = await ctd.service.store.createCall(ctd.accountId, { a: leg('sip:a@192.0.2.1'), b: leg('sip:b@192.0.2.2'), webhookUrl: null, metadata: {}, queuedEvent: false });
  return created.call.id;
}

interface HeldCall {
  ctd: WebhookService;
  clock: SimulatedClock;
  receiver: Receiver;
  role: NonNullable<WebhookService['service']['webhooks']>;
  callId: string;
  /** The lane member ahead of the call's two events, with no job to send it. */
  ahead: DeliveryJob;
}

/** A call whose two events wait in their lane behind `aheadId`, a member no job will send. */
async function twoEventsBehind(t: TestContext, aheadId: string): Promise<HeldCall> {
  const clock = new SimulatedClock();
  const ctd = await startWebhookService(t, {}, { webhookClock: clock.now });
  const receiver = await startReceiver(t);
  const endpoint = await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: receiver.url } });
  const role = ctd.service.webhooks!;
  const callId = await silentCall(ctd);
  const ahead = { ...delivery(callId, 0), endpointId: endpoint.body.id as string, deliveryId: aheadId };
  assert.deepEqual(await role.lanes.join([ahead]), [true]);
  await ctd.change(callId, 1, 'call.leg.calling', { status: 'calling_a', leg: 'a' });
  await ctd.change(callId, 2, 'call.leg.ringing', { leg: 'a', legStatus: 'ringing', sip: { code: 180, reason: 'Ringing' } });
  await settledWith(ctd, clock, [callId], 2);
  assert.equal(receiver.received.length, 0, 'held behind the one ahead');
  return { ctd, clock, receiver, role, callId, ahead };
}

/** The reconciler gives the call's first event a job; both events then go, in order, and no lane is left. */
async function reconciledInOrder(held: HeldCall, why: string): Promise<void> {
  assert.equal(await held.role.dispatcher.reconcile(), 1, why);
  await held.receiver.waitFor((got) => got.length >= 2);
  assert.deepEqual(held.receiver.received.map((item) => item.event.data.sequence), [1, 2]);
  await settledWith(held.ctd, held.clock, [held.callId], 2);
  assert.deepEqual(await laneKeys(held.ctd), []);
}

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

  test('a delivery done with and retried through the API is sent at once, outside the order, while its call\'s lane is held; the lane keeps its order', { timeout: 60_000 }, async (t) => {
    const clock = new SimulatedClock();
    const ctd = await startWebhookService(t, { WEBHOOK_RETRY_DELAYS: '1h' }, { webhookClock: clock.now });
    const answered = new Map<Received, number>();
    let failing = false;
    const receiver = await startReceiver(t, (item) => {
      const status = failing && item.event.data.sequence === 3 ? 500 : 200;
      answered.set(item, status);
      return { status };
    });
    await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: receiver.url } });
    // One claim: the first event's job carries the second and the third, whose retry then holds the lane.
    await ctd.service.webhooks!.dispatcher.stop();
    failing = true;
    const x = await ctd.newCall();
    await ctd.change(x, 2, 'call.leg.calling', { status: 'calling_a', leg: 'a' });
    await ctd.change(x, 3, 'call.leg.ringing', { leg: 'a', legStatus: 'ringing', sip: { code: 180, reason: 'Ringing' } });
    await ctd.change(x, 4, 'call.leg.answered', { leg: 'a', legStatus: 'answered', sip: { code: 200, reason: 'OK' } });
    assert.equal(await ctd.service.webhooks!.dispatcher.dispatchOnce(), 4);
    await settledWith(ctd, clock, [x], 4);
    assert.deepEqual(receiver.received.map((item) => item.event.data.sequence), [1, 2, 3], 'the fourth waits behind the third');
    const first = (await deliveriesOf(ctd, x)).find((row) => row.eventType === 'call.queued')!;
    assert.equal((await ctd.api(`/v1/webhook-deliveries/${first.id}/retry`, { method: 'POST' })).status, 202);
    await receiver.waitFor((got) => got.length >= 4);
    await settledWith(ctd, clock, [x], 4);
    assert.deepEqual(receiver.received.map((item) => item.event.data.sequence), [1, 2, 3, 1], 'sent at once; the third keeps its schedule and the fourth still waits');
    failing = false;
    await advanceTo(ctd.service.webhooks!.queue, clock, new Date(clock.now().getTime() + 2 * 3_600_000));
    await receiver.waitFor((got) => deliveredSequences(got, x, answered).length === 5);
    assert.deepEqual(receiver.received.map((item) => item.event.data.sequence), [1, 2, 3, 1, 3, 4]);
    await settledWith(ctd, clock, [x], 4);
    assert.ok((await deliveriesOf(ctd, x)).every((row) => row.status === 'succeeded'));
    assert.deepEqual(await laneKeys(ctd), []);
  });

  test('a ghost left first in a lane by a dead worker holds the call only until the reconciler finds the delivery behind it overdue', { timeout: 60_000 }, async (t) => {
    // What a worker killed between its record and leaving the lane leaves, once BullMQ gave up on its job: a member no longer pending (here: none at all).
    const held = await twoEventsBehind(t, 'whd_ghost');
    assert.equal(await held.role.dispatcher.reconcile(), 0, 'not overdue yet');
    held.clock.advance(3 * MINUTE);
    await reconciledInOrder(held, 'the first event, overdue behind a delivery no longer pending, gets a job');
  });

  test('a lane\'s head whose carrier\'s job is gone gets a job of its own from the reconciler, not while that job lives', { timeout: 60_000 }, async (t) => {
    const held = await twoEventsBehind(t, 'whd_ahead');
    // The one ahead leaves and its job takes the first event; then that job is held up (here: a delayed stand-in).
    await held.role.queue.queue.add('deliver', { ...held.ahead, laneHead: true }, { jobId: 'carrier-alive', delay: 3_600_000 });
    const handed = await held.role.lanes.leave(laneOf(held.ahead)!, 'carrier-alive');
    assert.equal(handed?.sequence, 1);
    held.clock.advance(3 * MINUTE);
    assert.equal(await held.role.dispatcher.reconcile(), 0, 'its carrier is alive: it will send it');
    await held.role.queue.queue.remove('carrier-alive');
    await reconciledInOrder(held, 'its carrier is gone');
  });
});
