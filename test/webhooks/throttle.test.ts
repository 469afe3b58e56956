/**
 * A slow receiver holds only its own slots: with 4 deliveries in flight per process and 2 per
 * endpoint, an endpoint that takes 800 ms an answer never has more than 2 requests open, and a
 * fast endpoint gets all its events while the slow one is still working through its own.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startReceiver } from './receiver.js';
import { startWebhookService } from './webhooks-service.js';

describe('per-endpoint throttle', () => {
  test('a slow endpoint never has more than its limit in flight and does not hold up a fast one', { timeout: 60_000 }, async (t) => {
    const ctd = await startWebhookService(t, { WEBHOOK_CONCURRENCY: '4', WEBHOOK_ENDPOINT_CONCURRENCY: '2', WEBHOOK_TIMEOUT_MS: '5000' });
    const slow = await startReceiver(t, () => ({ status: 200, body: 'ok', delayMs: 800 }));
    const fast = await startReceiver(t);
    await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: slow.url } });
    await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: fast.url } });
    for (let i = 0; i < 10; i++) await ctd.newCall();
    await fast.waitFor((got) => got.length >= 10, 20_000);
    assert.ok(slow.received.length < 10, `the fast endpoint finished first (the slow one has ${slow.received.length} of 10)`);
    await slow.waitFor((got) => got.length >= 10, 30_000);
    assert.ok(slow.maxConcurrent <= 2, `at most 2 open at the slow endpoint, saw ${slow.maxConcurrent}`);
    assert.equal(slow.maxConcurrent, 2, 'and it did use its 2');
    assert.equal(slow.ids().size, 10, 'each event once');
  });
});
