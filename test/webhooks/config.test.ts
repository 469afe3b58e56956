/** The webhooks role's configuration: defaults, every variable read, each bad value named. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('webhook configuration', () => {
  test('defaults: private addresses refused, 10 s timeout, the day-long schedule, 5 days to disable', () => {
    const { webhooks, queuePrefix } = loadConfig({});
    assert.equal(webhooks.allowPrivate, false);
    assert.equal(webhooks.timeoutMs, 10_000);
    assert.deepEqual(webhooks.retryDelaysMs, [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
    assert.equal(webhooks.disableAfterMs, 5 * 86_400_000);
    assert.equal(webhooks.concurrency, 64);
    assert.equal(webhooks.endpointConcurrency, 20);
    assert.equal(webhooks.queueName, 'webhooks');
    assert.equal(queuePrefix, 'ctd');
  });

  test('reads every variable', () => {
    const { webhooks, queuePrefix } = loadConfig({
      WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_TIMEOUT_MS: '2500', WEBHOOK_RETRY_DELAYS: '1s,1m', WEBHOOK_DISABLE_AFTER: '2d',
      WEBHOOK_CONCURRENCY: '8', WEBHOOK_ENDPOINT_CONCURRENCY: '2', WEBHOOK_RECONCILE_MS: '1000', WEBHOOK_QUEUE: 'hooks-eu', QUEUE_PREFIX: 'ctd-prod',
    });
    assert.deepEqual({ ...webhooks, retryDelaysMs: [...webhooks.retryDelaysMs] }, {
      queueName: 'hooks-eu', allowPrivate: true, timeoutMs: 2500, concurrency: 8, endpointConcurrency: 2, retryDelaysMs: [1000, 60_000], disableAfterMs: 2 * 86_400_000, reconcileMs: 1000,
    });
    assert.equal(queuePrefix, 'ctd-prod');
  });

  for (const [variable, value, message] of [
    ['WEBHOOK_ALLOW_PRIVATE', 'maybe', /expected true or false/],
    ['WEBHOOK_TIMEOUT_MS', '50', /expected a whole number from 100/],
    ['WEBHOOK_RETRY_DELAYS', '5s,soon', /not a delay: "soon"/],
    ['WEBHOOK_DISABLE_AFTER', '1d,2d', /expected 1 comma-separated delays/],
    ['WEBHOOK_CONCURRENCY', '0', /expected a whole number from 1/],
    ['WEBHOOK_ENDPOINT_CONCURRENCY', '1000', /to 256/],
    ['WEBHOOK_QUEUE', 'a:b', /WEBHOOK_QUEUE: expected/],
    ['QUEUE_PREFIX', 'bull:x', /QUEUE_PREFIX: not 1 to 64/],
  ] as const) {
    test(`refuses ${variable}=${value} with a message naming it`, () => {
      assert.throws(() => loadConfig({ [variable]: value }), (error: unknown) => error instanceof ConfigError && error.variable === variable && message.test(error.message));
    });
  }
});
