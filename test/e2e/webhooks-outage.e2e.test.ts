/**
 * A webhook receiver down for an hour (issue 7), on simulated time. The whole service runs for
 * real (PostgreSQL, Redis, the SIP engine) with SIPp parties making several calls; its webhooks
 * role schedules on a simulated clock that the test moves forward, making the attempts due then.
 * The receiver (verifying signatures with the standardwebhooks library) answers 503 for the first
 * half hour and refuses connections for the second; every attempt of the default schedule within
 * that hour fails. It comes back; time moves on to the next attempts. Then every event has been
 * delivered, in sequence order per call and destination, none lost; every delivery is `succeeded`
 * and nothing is left in the queue or in the lanes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { freePortBlock } from '../support/ports.js';
import { sharedScenario, startSippUas } from '../support/sipp.js';
import { startReceiver, type Answer, type Receiver, type Received } from '../webhooks/receiver.js';
import { advanceTo, SimulatedClock, waitUntilSettled } from '../webhooks/simulated-time.js';
import { BOOTSTRAP_KEY, startTestService, waitForCall } from './service.js';

const EVENTS_PER_CALL = 9;
const CALLS = 3;
const HOUR = 3_600_000;

/** A receiver that can be failing (503), down (closed: connections refused) or up (200), at one URL throughout. */
class FlakyReceiver {
  mode: 'failing' | 'up' = 'failing';
  private current: Receiver | undefined;
  private readonly history: Received[][] = [];
  private port = 0;
  secrets: string[] = [];

  private constructor(private readonly path: string) {}

  static async start(path: string): Promise<FlakyReceiver> {
    const receiver = new FlakyReceiver(path);
    await receiver.up();
    return receiver;
  }

  private readonly answer: Answer = () => (this.mode === 'up' ? { status: 204 } : { status: 503, body: 'down for maintenance' });

  get url(): string {
    return `http://127.0.0.1:${this.port}${this.path}`;
  }

  /** Every request it got, in the order they arrived, across its restarts. */
  get received(): Received[] {
    return this.history.flat();
  }

  async up(): Promise<void> {
    this.current = await startReceiver(undefined, this.answer, this.path, this.port);
    this.current.secrets = this.secrets;
    this.port = Number(new URL(this.current.url).port);
    this.history.push(this.current.received);
  }

  async down(): Promise<void> {
    await this.current?.close();
    this.current = undefined;
  }

  setSecrets(secrets: string[]): void {
    this.secrets = secrets;
    if (this.current) this.current.secrets = secrets;
  }
}

describe('webhooks through a receiver outage', () => {
  test('a receiver down for an hour of simulated time gets every event afterwards, in order per call, and nothing is left hanging', { timeout: 180_000 }, async (t) => {
    const clock = new SimulatedClock();
    const base = await freePortBlock(10);
    const a = await startSippUas(t, { scenario: sharedScenario('uas-answer-reinvite-offer'), port: base + 1, mediaPort: base + 4, transport: 'udp', calls: CALLS });
    const b = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: base + 2, mediaPort: base + 7, transport: 'udp', calls: CALLS });
    const queueName = `webhooks-outage-${randomBytes(4).toString('hex')}`;
    // The default retry schedule (5 s, 5 min, 30 min, 2 h…, with its jitter): attempts 1–4 of each
    // delivery fall within the hour, the 5th after it.
    const ctd = await startTestService(t, { sipPort: base, env: { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_QUEUE: queueName, WEBHOOK_TIMEOUT_MS: '2000' }, hooks: { webhookClock: clock.now } });
    const role = ctd.service.webhooks!;
    const store = ctd.service.store;
    const endpointReceiver = await FlakyReceiver.start('/hooks');
    const callReceiver = await FlakyReceiver.start('/call-hooks');
    t.after(async () => {
      await endpointReceiver.down();
      await callReceiver.down();
    });
    const endpoint = await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: endpointReceiver.url } });
    assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
    endpointReceiver.setSecrets([endpoint.body.secret]);
    callReceiver.setSecrets([(await ctd.api('/v1/webhook-secret')).body.secret]);
    const accountId = (await store.authenticate(BOOTSTRAP_KEY))!.accountId;

    // The outage starts; the calls happen during it (the last one also with its own webhookUrl).
    const outageStart = clock.now().getTime();
    const ids = await Promise.all(
      Array.from({ length: CALLS }, async (_, index) => {
        const body = { a: { uri: a.uri(`alice${index}`) }, b: { uri: b.uri(`bob${index}`) }, ...(index === CALLS - 1 ? { webhookUrl: callReceiver.url } : {}) };
        const created = await ctd.api('/v1/calls', { method: 'POST', body });
        assert.equal(created.status, 202, JSON.stringify(created.body));
        const id = created.body.id as string;
        await waitForCall(ctd, id, (call) => call.status === 'connected');
        await ctd.api(`/v1/calls/${id}/hangup`, { method: 'POST' });
        await waitForCall(ctd, id, (call) => call.status === 'completed');
        return id;
      }),
    );
    assert.equal((await a.wait(15_000)).code, 0, await a.report());
    assert.equal((await b.wait(15_000)).code, 0, await b.report());
    const expectedDeliveries = CALLS * EVENTS_PER_CALL + EVENTS_PER_CALL;
    const deliveryRows = async () => (await Promise.all(ids.map(async (id) => (await ctd.api(`/v1/calls/${id}/webhook-deliveries`)).body.data as { id: string; status: string; attempts: number; url: string | null; event: string }[]))).flat();
    const allDispatched = async (): Promise<boolean> => (await store.outbox.outboxDepth()) === 0 && (await deliveryRows()).length === expectedDeliveries;
    await waitUntilSettled(role.queue, clock, allDispatched);

    // The hour of the outage, attempt time after attempt time: 503 for half of it, then refused connections.
    let steps = 0;
    let refusing = false;
    for (;;) {
      const next = await role.queue.nextDueAt();
      if (next === null || next.getTime() >= outageStart + HOUR) break;
      if (next.getTime() >= outageStart + HOUR / 2 && !refusing) {
        clock.advanceTo(new Date(outageStart + HOUR / 2));
        await endpointReceiver.down();
        await callReceiver.down();
        refusing = true;
      }
      await advanceTo(role.queue, clock, next);
      assert.ok(++steps < 100, 'the outage hour takes a bounded number of steps');
    }
    const duringOutage = [...endpointReceiver.received, ...callReceiver.received];
    // Only the first event of each call was tried (the others wait behind it), and only ever failed.
    assert.ok(duringOutage.length > 0, 'the receivers were tried during the outage');
    assert.ok(duringOutage.every((item) => item.event.data.sequence === 1), `only each call's first event was sent: ${duringOutage.map((item) => item.event.data.sequence).join(',')}`);
    const pendingDuring = await deliveryRows();
    assert.ok(pendingDuring.every((row) => row.status === 'pending'), 'nothing delivered nor given up during the outage');

    // The receivers come back an hour in; time moves on to the next attempts until nothing is pending.
    clock.advanceTo(new Date(outageStart + HOUR));
    endpointReceiver.mode = 'up';
    callReceiver.mode = 'up';
    await endpointReceiver.up();
    await callReceiver.up();
    for (;;) {
      const rows = await deliveryRows();
      if (rows.every((row) => row.status !== 'pending')) break;
      const next = await role.queue.nextDueAt();
      assert.ok(next !== null, `pending deliveries with no attempt due: ${JSON.stringify(rows.filter((row) => row.status === 'pending'))}`);
      await advanceTo(role.queue, clock, next);
      assert.ok(++steps < 200, 'bounded');
    }
    await waitUntilSettled(role.queue, clock);

    // Every delivery succeeded; each call's first delivery failed attempts 1–4 within the hour and succeeded at the 5th, after it.
    const rows = await deliveryRows();
    assert.equal(rows.length, expectedDeliveries);
    assert.ok(rows.every((row) => row.status === 'succeeded'), JSON.stringify(rows.map((row) => row.status)));
    for (const row of rows) {
      const delivery = await store.webhookEndpoints.getWebhookDelivery(accountId, row.id);
      const log = delivery!.attemptLog;
      const failed = log.filter((attempt) => attempt.at.getTime() < outageStart + HOUR);
      assert.ok(failed.every((attempt) => attempt.responseStatus === 503 || (attempt.responseStatus === null && attempt.error !== null)), `attempts within the hour failed: ${JSON.stringify(failed)}`);
      assert.ok(log.at(-1)!.responseStatus === 204 && log.at(-1)!.at.getTime() >= outageStart + HOUR, 'the last attempt, after the hour, succeeded');
      if (failed.length > 0) {
        assert.equal(failed.length, 4, `the first event's attempts of the hour: ${JSON.stringify(log)}`);
        assert.ok(failed.some((attempt) => attempt.responseStatus === 503) && failed.some((attempt) => attempt.responseStatus === null), 'both 503 and refused connections');
        assert.equal(log.length, 5);
      } else assert.equal(log.length, 1, 'a delivery that waited was sent once, when its turn came');
    }

    // The receivers: every event, verified, at least once (here exactly once), in sequence order per call.
    for (const [receiver, callIds] of [
      [endpointReceiver, ids],
      [callReceiver, [ids.at(-1)!]],
    ] as const) {
      const delivered = receiver.received.filter((item) => !duringOutage.includes(item));
      assert.ok(delivered.every((item) => item.verifiedWith.length === 1), 'signatures verified');
      for (const id of callIds) {
        const sequences = delivered.filter((item) => item.event.data.call.id === id).map((item) => item.event.data.sequence as number);
        assert.deepEqual(sequences, Array.from({ length: EVENTS_PER_CALL }, (_, index) => index + 1), `call ${id} at ${receiver.url}: in order, none lost`);
      }
    }

    // Nothing left hanging: no job in the queue, no lane in Redis, the outbox empty, the endpoint healthy.
    const counts = await role.queue.queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed');
    assert.deepEqual(Object.values(counts).filter((n) => n > 0), [], JSON.stringify(counts));
    const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
    try {
      const lanes: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${role.queue.prefix}:${queueName}:lane:*`, 'COUNT', 1000);
        cursor = next;
        lanes.push(...keys);
      } while (cursor !== '0');
      assert.deepEqual(lanes, [], 'no lane left');
    } finally {
      redis.disconnect();
    }
    assert.equal(await store.outbox.outboxDepth(), 0);
    const after = await ctd.api(`/v1/webhook-endpoints/${endpoint.body.id}`);
    assert.equal(after.body.enabled, true);
    t.diagnostic(`${expectedDeliveries} deliveries, ${steps} steps of simulated time, ended ${((clock.now().getTime() - outageStart) / HOUR).toFixed(2)} h after the outage began`);
  });
});
