/**
 * A whole call through SIPp parties with webhooks on: the receiver (verifying with the
 * standardwebhooks library) gets exactly the call's events, each once, in `sequence` order with
 * no gap, and so does the call's own webhookUrl (signed with the account's secret).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { freePortBlock } from '../support/ports.js';
import { sharedScenario, startSippUas } from '../support/sipp.js';
import { startReceiver } from '../webhooks/receiver.js';
import { startTestService, waitForCall } from './service.js';

const EXPECTED = ['call.queued', 'call.leg.calling:a', 'call.leg.ringing:a', 'call.leg.answered:a', 'call.leg.calling:b', 'call.leg.ringing:b', 'call.leg.answered:b', 'call.connected', 'call.completed'];

describe('webhooks of a real call', () => {
  test('a call through SIPp produces exactly its events at the receivers, in sequence order, without gaps', async (t) => {
    const base = await freePortBlock(10);
    const a = await startSippUas(t, { scenario: sharedScenario('uas-answer-reinvite-offer'), port: base + 1, mediaPort: base + 4, transport: 'udp' });
    const b = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: base + 2, mediaPort: base + 7, transport: 'udp' });
    const ctd = await startTestService(t, { sipPort: base, env: { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_QUEUE: `webhooks-e2e-${randomBytes(4).toString('hex')}` } });
    const receiver = await startReceiver(t);
    const perCall = await startReceiver(t);
    const endpoint = await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: receiver.url } });
    assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
    receiver.secrets = [endpoint.body.secret];
    perCall.secrets = [(await ctd.api('/v1/webhook-secret')).body.secret];

    const created = await ctd.api('/v1/calls', { method: 'POST', body: { a: { uri: a.uri('alice') }, b: { uri: b.uri('bob') }, webhookUrl: perCall.url } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.id as string;
    await waitForCall(ctd, id, (call) => call.status === 'connected');
    await ctd.api(`/v1/calls/${id}/hangup`, { method: 'POST' });
    await waitForCall(ctd, id, (call) => call.status === 'completed');
    assert.equal((await a.wait(10_000)).code, 0, await a.report());
    assert.equal((await b.wait(10_000)).code, 0, await b.report());

    for (const target of [receiver, perCall]) {
      await target.waitFor((got) => got.some((item) => item.event.type === 'call.completed'));
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(target.received.length, EXPECTED.length, `each event once: ${target.received.map((item) => item.event.type).join(', ')}`);
      for (const item of target.received) assert.deepEqual(item.verifiedWith, [0], 'signature verified');
      const events = target.received.map((item) => item.event).sort((x, y) => x.data.sequence - y.data.sequence);
      assert.deepEqual(events.map((event) => event.data.sequence), EXPECTED.map((_, index) => index + 1), 'no gaps');
      assert.deepEqual(events.map((event) => (event.data.leg ? `${event.type}:${event.data.leg}` : event.type)), EXPECTED);
      assert.ok(events.every((event) => event.data.call.id === id));
      const answered = events.find((event) => event.type === 'call.leg.answered');
      assert.deepEqual(answered.data.sip, { code: 200, reason: 'OK' });
      const completed = events.at(-1);
      assert.equal(completed.data.call.status, 'completed');
      assert.equal(completed.data.call.endReason, 'api_hangup');
    }
    // The call's deliveries, as the dashboard shows them: every event to both destinations, delivered.
    const listed = await ctd.api(`/v1/calls/${id}/webhook-deliveries`);
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    const rows = listed.body.data as { eventType: string; status: string; endpoint: string | null; url: string | null; attempts: number }[];
    assert.equal(rows.length, 2 * EXPECTED.length);
    assert.ok(rows.every((row) => row.status === 'succeeded' && row.attempts === 1), JSON.stringify(rows.map((row) => row.status)));
    assert.equal(rows.filter((row) => row.url === perCall.url).length, EXPECTED.length, 'the call\'s own webhookUrl');
    const other = await ctd.service.store.createAccount('other');
    const otherKey = await ctd.service.store.createApiKey(other.id, 'test');
    assert.equal((await ctd.api(`/v1/calls/${id}/webhook-deliveries`, { key: otherKey.secret })).status, 404, 'another account sees nothing of them');
    // And the deliveries are on /metrics, with their delay.
    const metrics = await (await fetch(`${ctd.baseUrl}/metrics`)).text();
    const delivered = Number(/^ctd_webhook_deliveries_total\{outcome="delivered"[^}]*\} (\d+)$/m.exec(metrics)?.[1]);
    assert.equal(delivered, 2 * EXPECTED.length);
    assert.equal(Number(/^ctd_webhook_delivery_delay_seconds_count\{[^}]*\} (\d+)$/m.exec(metrics)?.[1]), 2 * EXPECTED.length);
  });
});
