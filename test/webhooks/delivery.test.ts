/**
 * Deliveries through the whole webhooks role, against real receivers on loopback, PostgreSQL and
 * Redis: signatures verified with the `standardwebhooks` library, a receiver failing then
 * recovering (one event, attempts counted), one hanging past the timeout, one answering 410
 * (endpoint disabled, the account's other endpoint told), secret rotation (both signatures), the
 * call's own webhookUrl signed with the account's secret, the delivery log, retry and test event.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startReceiver } from './receiver.js';
import { startWebhookService } from './webhooks-service.js';

describe('webhook deliveries', () => {
  test('every event reaches a verifying receiver once, signed, with the call as the API shows it', async (t) => {
    const ctd = await startWebhookService(t);
    const receiver = await startReceiver(t);
    const created = await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: receiver.url } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(created.body.secret, /^whsec_/);
    receiver.secrets = [created.body.secret];

    const callId = await ctd.newCall();
    await ctd.change(callId, 2, 'call.leg.calling', { status: 'calling_a', leg: 'a', legStatus: 'calling' });
    await ctd.change(callId, 3, 'call.leg.ringing', { leg: 'a', legStatus: 'early', sip: { code: 183, reason: 'Session Progress' } });
    await receiver.waitFor((got) => got.length >= 3);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(receiver.received.length, 3, 'each event once');
    for (const item of receiver.received) assert.deepEqual(item.verifiedWith, [0], `verified: ${item.body}`);
    const events = receiver.received.map((item) => item.event).sort((x, y) => x.data.sequence - y.data.sequence);
    assert.deepEqual(events.map((event) => event.type), ['call.queued', 'call.leg.calling', 'call.leg.ringing']);
    assert.deepEqual(events.map((event) => event.data.sequence), [1, 2, 3]);
    assert.equal(events[2].data.early, true);
    assert.deepEqual(events[2].data.sip, { code: 183, reason: 'Session Progress' });
    assert.equal(events[2].data.leg, 'a');
    assert.equal(events[0].data.sip, null);
    assert.equal(events[0].data.call.id, callId);
    assert.deepEqual(events[0].data.call.metadata, { ticket: '42' });
    const apiCall = (await ctd.api(`/v1/calls/${callId}`)).body;
    assert.deepEqual(Object.keys(events[2].data.call).sort(), Object.keys(apiCall).sort(), 'data.call has the API call object fields');
    // The webhook-id is the event id of GET /v1/calls/{id}/events.
    const apiEvents = (await ctd.api(`/v1/calls/${callId}/events`)).body.data as { id: string }[];
    assert.deepEqual([...receiver.ids()].sort(), apiEvents.map((event) => event.id).sort());

    const log = await ctd.api(`/v1/webhook-endpoints/${created.body.id}/deliveries?limit=2`);
    assert.equal(log.status, 200);
    assert.equal(log.body.data.length, 2);
    assert.equal(log.body.hasMore, true);
    const next = await ctd.api(`/v1/webhook-endpoints/${created.body.id}/deliveries?limit=2&cursor=${log.body.nextCursor}`);
    assert.equal(next.body.data.length, 1);
    for (const delivery of [...log.body.data, ...next.body.data]) {
      assert.equal(delivery.status, 'succeeded');
      assert.equal(delivery.attempts, 1);
      assert.equal(delivery.responseStatus, 200);
      assert.equal(delivery.responseBody, 'ok');
      assert.equal(typeof delivery.latencyMs, 'number');
    }
  });

  test('a receiver that fails with 500 three times then answers 200 gets the event once it recovers, attempts counted', async (t) => {
    const ctd = await startWebhookService(t);
    const receiver = await startReceiver(t, (_item, count) => (count <= 3 ? { status: 500, body: 'x'.repeat(3000) } : { status: 200, body: 'ok' }));
    const endpoint = (await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: receiver.url, events: ['call.queued'] } })).body;
    receiver.secrets = [endpoint.secret];
    await ctd.newCall();
    await receiver.waitFor((got) => got.length >= 4);
    assert.equal(receiver.ids().size, 1, 'one event, sent four times');
    assert.ok(receiver.received.every((item) => item.verifiedWith.length === 1));
    let delivery;
    for (let i = 0; i < 40; i++) {
      delivery = (await ctd.api(`/v1/webhook-endpoints/${endpoint.id}/deliveries`)).body.data[0];
      if (delivery?.status === 'succeeded') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(delivery.status, 'succeeded');
    assert.equal(delivery.attempts, 4);
    const detail = (await ctd.api(`/v1/webhook-deliveries/${delivery.id}`)).body;
    assert.deepEqual(detail.attemptLog.map((attempt: { responseStatus: number }) => attempt.responseStatus), [500, 500, 500, 200]);
    assert.equal(Buffer.byteLength(detail.attemptLog[0].responseBody), 1024, 'the first 1 KiB of the body is kept');
    // The endpoint's run of failures ended with the success.
    assert.equal((await ctd.api(`/v1/webhook-endpoints/${endpoint.id}`)).body.failingSince, null);
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(receiver.received.length, 4, 'nothing sent after the success');
  });

  test('a receiver that hangs past the timeout is retried, each attempt logged as timed out', async (t) => {
    const ctd = await startWebhookService(t, { WEBHOOK_TIMEOUT_MS: '300', WEBHOOK_RETRY_DELAYS: '50ms' });
    const receiver = await startReceiver(t, () => 'hang');
    const endpoint = (await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: receiver.url, events: ['call.queued'] } })).body;
    await ctd.newCall();
    let delivery;
    for (let i = 0; i < 80; i++) {
      delivery = (await ctd.api(`/v1/webhook-endpoints/${endpoint.id}/deliveries`)).body.data[0];
      if (delivery?.status === 'failed') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(delivery.status, 'failed', 'given up after its 2 attempts');
    assert.equal(delivery.attempts, 2);
    assert.equal(delivery.responseStatus, null);
    assert.match(delivery.error, /timed out after 300 ms/);
    assert.ok(delivery.latencyMs >= 250, `latency ${delivery.latencyMs}`);
    assert.equal(receiver.received.length, 2);
    assert.notEqual((await ctd.api(`/v1/webhook-endpoints/${endpoint.id}`)).body.failingSince, null);
  });

  test('410 Gone disables the endpoint and the account\'s other endpoint hears of it', async (t) => {
    const ctd = await startWebhookService(t);
    const gone = await startReceiver(t, () => ({ status: 410, body: 'gone' }));
    const watcher = await startReceiver(t);
    const goneEndpoint = (await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: gone.url, events: ['call.queued'] } })).body;
    const watcherEndpoint = (await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: watcher.url, events: ['webhook.endpoint.disabled'] } })).body;
    watcher.secrets = [watcherEndpoint.secret];
    await ctd.newCall();
    await watcher.waitFor((got) => got.length >= 1);
    const notice = watcher.received[0]!;
    assert.deepEqual(notice.verifiedWith, [0]);
    assert.equal(notice.event.type, 'webhook.endpoint.disabled');
    assert.equal(notice.event.data.endpoint.id, goneEndpoint.id);
    assert.equal(notice.event.data.reason, 'gone');
    const after = (await ctd.api(`/v1/webhook-endpoints/${goneEndpoint.id}`)).body;
    assert.equal(after.enabled, false);
    assert.equal(after.disabledReason, 'gone');
    assert.equal(gone.received.length, 1, '410 is not retried');
    // Disabled: no more deliveries, and a test event is refused.
    await ctd.newCall();
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(gone.received.length, 1);
    const test410 = await ctd.api(`/v1/webhook-endpoints/${goneEndpoint.id}/test`, { method: 'POST' });
    assert.equal(test410.status, 409);
    assert.equal(test410.body.code, 'endpoint_disabled');
    // Enabled again: the test event goes through (and is logged).
    const reenabled = await ctd.api(`/v1/webhook-endpoints/${goneEndpoint.id}`, { method: 'PATCH', body: { enabled: true } });
    assert.equal(reenabled.body.enabled, true);
    assert.equal(reenabled.body.disabledReason, null);
  });

  test('during a rotation both the new and the previous secret sign; the call\'s own webhookUrl is signed with the account secret', async (t) => {
    const ctd = await startWebhookService(t);
    const receiver = await startReceiver(t);
    const perCall = await startReceiver(t);
    const endpoint = (await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: receiver.url, events: ['call.queued'] } })).body;
    const rotated = await ctd.api(`/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, { method: 'POST' });
    assert.equal(rotated.status, 200);
    assert.equal(rotated.body.previous.secret, endpoint.secret);
    assert.notEqual(rotated.body.secret, endpoint.secret);
    const hours = (Date.parse(rotated.body.previous.expiresAt) - Date.now()) / 3600_000;
    assert.ok(hours > 23.9 && hours <= 24, `previous valid for ${hours} h`);
    assert.deepEqual((await ctd.api(`/v1/webhook-endpoints/${endpoint.id}/secret`)).body, rotated.body);
    receiver.secrets = [rotated.body.secret, endpoint.secret];
    const account = (await ctd.api('/v1/webhook-secret')).body;
    assert.match(account.secret, /^whsec_/);
    perCall.secrets = [account.secret, endpoint.secret];
    await ctd.newCall(perCall.url);
    await receiver.waitFor((got) => got.length >= 1);
    await perCall.waitFor((got) => got.length >= 1);
    assert.deepEqual(receiver.received[0]!.verifiedWith, [0, 1], 'verifies with either secret');
    assert.equal(receiver.received[0]!.signature.split(' ').length, 2);
    assert.deepEqual(perCall.received[0]!.verifiedWith, [0], 'the account secret, not the endpoint one');
    assert.equal(perCall.received[0]!.event.type, 'call.queued');
  });

  test('a test event and a retry are sent again with the same webhook-id, and logged', async (t) => {
    const ctd = await startWebhookService(t);
    const receiver = await startReceiver(t);
    const endpoint = (await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: receiver.url, events: ['call.completed'] } })).body;
    receiver.secrets = [endpoint.secret];
    const sent = await ctd.api(`/v1/webhook-endpoints/${endpoint.id}/test`, { method: 'POST' });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    assert.equal(sent.body.eventType, 'webhook.test');
    await receiver.waitFor((got) => got.length >= 1);
    assert.equal(receiver.received[0]!.event.type, 'webhook.test');
    assert.deepEqual(receiver.received[0]!.verifiedWith, [0]);
    for (let i = 0; i < 40 && (await ctd.api(`/v1/webhook-deliveries/${sent.body.id}`)).body.status !== 'succeeded'; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    const retried = await ctd.api(`/v1/webhook-deliveries/${sent.body.id}/retry`, { method: 'POST' });
    assert.equal(retried.status, 202);
    await receiver.waitFor((got) => got.length >= 2);
    assert.equal(receiver.received[1]!.id, receiver.received[0]!.id);
    for (let i = 0; i < 40 && (await ctd.api(`/v1/webhook-deliveries/${sent.body.id}`)).body.attempts !== 2; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await ctd.api(`/v1/webhook-deliveries/${sent.body.id}`)).body.attempts, 2);
  });

  test('an endpoint failing for WEBHOOK_DISABLE_AFTER without a success is disabled (reason failing) and the others are told', async (t) => {
    const ctd = await startWebhookService(t, { WEBHOOK_RETRY_DELAYS: '400ms,400ms,400ms,400ms,400ms,400ms', WEBHOOK_DISABLE_AFTER: '1s' });
    const failing = await startReceiver(t, () => ({ status: 500, body: 'down' }));
    const watcher = await startReceiver(t);
    const failingEndpoint = (await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: failing.url, events: ['call.queued'] } })).body;
    const watcherEndpoint = (await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: watcher.url, events: ['webhook.endpoint.disabled'] } })).body;
    watcher.secrets = [watcherEndpoint.secret];
    await ctd.newCall();
    await watcher.waitFor((got) => got.length >= 1, 20_000);
    assert.equal(watcher.received[0]!.event.data.reason, 'failing');
    assert.equal(watcher.received[0]!.event.data.endpoint.id, failingEndpoint.id);
    const after = (await ctd.api(`/v1/webhook-endpoints/${failingEndpoint.id}`)).body;
    assert.equal(after.enabled, false);
    assert.equal(after.disabledReason, 'failing');
    const attemptsThen = failing.received.length;
    assert.ok(attemptsThen >= 3, `failed ${attemptsThen} times over more than 1 s first`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(failing.received.length, attemptsThen, 'no attempt once disabled');
  });
});
