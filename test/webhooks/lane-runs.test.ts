/**
 * Runs (delivery-lanes.ts), on real Redis and PostgreSQL: a call's events that wait behind an
 * earlier one to the same destination have no job of their own; the job that sent the one ahead
 * sends them, one after another, in sequence order. The dispatcher is stopped and driven by hand
 * (dispatchOnce) so that a burst is one claim, as under a backlog.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deliveryJobId, type DeliveryJob } from '../../src/webhooks/index.js';
import { arrivedSequences, deliveredSequences, deliveriesOf, laneKeys, settledWith } from './ordering-helpers.js';
import { startReceiver, type Received } from './receiver.js';
import { advanceTo, SimulatedClock } from './simulated-time.js';
import { startWebhookService, type WebhookService } from './webhooks-service.js';

const MINUTE = 60_000;

interface Attempt {
  target: string;
  callId: string;
  sequence: number;
  deliveryId: string;
  attempt: number;
  sentBy: string;
}

/** Starts the service with its dispatcher stopped, recording which job sent each attempt. */
async function serviceWithAttempts(t: Parameters<typeof startWebhookService>[0], env: Record<string, string> = {}, clock?: SimulatedClock): Promise<{ ctd: WebhookService; attempts: Attempt[] }> {
  const attempts: Attempt[] = [];
  const onWebhookAttempt = (job: DeliveryJob, _result: unknown, sentBy: string): void => {
    attempts.push({ target: job.endpointId ?? 'call', callId: job.callId!, sequence: job.sequence!, deliveryId: job.deliveryId, attempt: job.attempt, sentBy });
  };
  const ctd = await startWebhookService(t, env, { onWebhookAttempt, ...(clock ? { webhookClock: clock.now } : {}) });
  await ctd.service.webhooks!.dispatcher.stop();
  return { ctd, attempts };
}

/** The call's events 2..`last` after its call.queued (sequence 1). */
async function burst(ctd: WebhookService, callId: string, last: number): Promise<void> {
  for (let sequence = 2; sequence <= last; sequence++) await ctd.change(callId, sequence, 'call.leg.ringing', { leg: 'a', legStatus: 'ringing', sip: { code: 180, reason: 'Ringing' } });
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, index) => from + index);

describe('runs: a lane\'s waiting deliveries sent by one job', () => {
  test('a burst of one call\'s events goes out in order, one at a time, from one job per destination', { timeout: 60_000 }, async (t) => {
    const { ctd, attempts } = await serviceWithAttempts(t);
    const receiver = await startReceiver(t, () => ({ status: 200, delayMs: 30 }));
    const own = await startReceiver(t, () => ({ status: 204, delayMs: 30 }));
    const endpoint = await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: receiver.url } });
    receiver.secrets = [endpoint.body.secret];
    const x = await ctd.newCall(own.url);
    await burst(ctd, x, 8);
    assert.equal(await ctd.service.webhooks!.dispatcher.dispatchOnce(), 8, 'one claim');
    await settledWith(ctd, new SimulatedClock(), [x], 16);
    assert.deepEqual(arrivedSequences(receiver.received, x), range(1, 8));
    assert.deepEqual(arrivedSequences(own.received, x), range(1, 8));
    assert.equal(receiver.maxConcurrent, 1, 'one at a time');
    assert.ok(receiver.received.every((item) => item.verifiedWith.length === 1), 'each signed');
    for (const target of [endpoint.body.id as string, 'call']) {
      const mine = attempts.filter((attempt) => attempt.target === target);
      assert.equal(mine.length, 8);
      const first = mine.find((attempt) => attempt.sequence === 1)!;
      assert.deepEqual(new Set(mine.map((attempt) => attempt.sentBy)), new Set([deliveryJobId(first.deliveryId, 1)]), `${target}: every one sent by the job of the first`);
    }
    const rows = await deliveriesOf(ctd, x);
    assert.ok(rows.every((row) => row.status === 'succeeded' && row.attempts === 1), JSON.stringify(rows));
    assert.deepEqual(await laneKeys(ctd), []);
  });

  test('a failure in the middle of a run stops it there; the rest follow in order, sent by the retry, once it succeeds; another call\'s run is not held up', { timeout: 60_000 }, async (t) => {
    const clock = new SimulatedClock();
    const { ctd, attempts } = await serviceWithAttempts(t, { WEBHOOK_RETRY_DELAYS: '1m' }, clock);
    const answered = new Map<Received, number>();
    let x = '';
    let failed = false;
    const receiver = await startReceiver(t, (item) => {
      const refuse = item.event.data.call.id === x && item.event.data.sequence === 3 && !failed;
      if (refuse) failed = true;
      const status = refuse ? 503 : 200;
      answered.set(item, status);
      return { status };
    });
    await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: receiver.url } });
    x = await ctd.newCall();
    const y = await ctd.newCall();
    for (let sequence = 2; sequence <= 5; sequence++) {
      for (const call of [x, y]) await ctd.change(call, sequence, 'call.leg.ringing', { leg: 'a', legStatus: 'ringing' });
    }
    assert.equal(await ctd.service.webhooks!.dispatcher.dispatchOnce(), 10, 'one claim, the two calls interleaved');
    await settledWith(ctd, clock, [x, y], 10);
    assert.deepEqual(deliveredSequences(receiver.received, y, answered), range(1, 5), 'the other call is not held up');
    assert.deepEqual(arrivedSequences(receiver.received, x), [1, 2, 3], 'the run stopped at the failure');
    const waiting = (await deliveriesOf(ctd, x)).filter((row) => row.status === 'pending').map((row) => row.attempts).sort();
    assert.deepEqual(waiting, [0, 0, 1], 'the failed one waits for its retry, the two behind it for their turn');

    await advanceTo(ctd.service.webhooks!.queue, clock, new Date(clock.now().getTime() + 2 * MINUTE));
    await receiver.waitFor((got) => deliveredSequences(got, x, answered).length === 5);
    assert.deepEqual(arrivedSequences(receiver.received, x), [1, 2, 3, 3, 4, 5]);
    const ofX = attempts.filter((attempt) => attempt.callId === x);
    const retry = ofX.find((attempt) => attempt.sequence === 3 && attempt.attempt === 2)!;
    assert.deepEqual(ofX.filter((attempt) => attempt.sequence >= 4).map((attempt) => attempt.sentBy), [retry.sentBy, retry.sentBy], 'carried on by the retry\'s job');
    assert.equal(retry.sentBy, deliveryJobId(retry.deliveryId, 2));
    await settledWith(ctd, clock, [x, y], 10);
    assert.deepEqual((await deliveriesOf(ctd, x)).map((row) => row.attempts).sort(), [1, 1, 1, 1, 2]);
    assert.deepEqual(await laneKeys(ctd), []);
  });

  test('a slow receiver\'s run for one call holds only that call: another call\'s burst to the same endpoint is delivered meanwhile', { timeout: 60_000 }, async (t) => {
    const { ctd } = await serviceWithAttempts(t);
    let slow = '';
    const receiver = await startReceiver(t, (item) => ({ status: 200, ...(item.event.data.call.id === slow ? { delayMs: 200 } : {}) }));
    await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: receiver.url } });
    slow = await ctd.newCall();
    const quick = await ctd.newCall();
    await burst(ctd, slow, 5);
    await burst(ctd, quick, 5);
    assert.equal(await ctd.service.webhooks!.dispatcher.dispatchOnce(), 10);
    await receiver.waitFor((got) => got.length >= 10);
    assert.deepEqual(arrivedSequences(receiver.received, slow), range(1, 5));
    assert.deepEqual(arrivedSequences(receiver.received, quick), range(1, 5));
    const slowAt = receiver.received.filter((item) => item.event.data.call.id === slow).map((item) => item.at);
    const quickAt = receiver.received.filter((item) => item.event.data.call.id === quick).map((item) => item.at);
    for (let index = 1; index < slowAt.length; index++) assert.ok(slowAt[index]! - slowAt[index - 1]! >= 190, `the slow call's event ${index + 1} was sent before the answer to the one before it`);
    assert.ok(quickAt.at(-1)! < slowAt.at(-1)!, 'the quick call did not wait for the slow one');
  });
});
