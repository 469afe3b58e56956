/**
 * /v1/webhook-endpoints through the real service (PostgreSQL, Redis): bad input answered with a
 * problem naming the field and nothing created, the SSRF check at creation, and accounts isolated
 * (another account's endpoint, secret, deliveries and retries are 404, as if they did not exist).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { startTestService } from '../e2e/service.js';

describe('webhook endpoints API', () => {
  test('bad input is a 422 naming the field; refused destinations are named; nothing is created', async (t) => {
    const ctd = await startTestService(t, { sipPort: 0, env: { ROLES: 'api', WEBHOOK_QUEUE: `webhooks-api-${randomBytes(4).toString('hex')}` } });
    const cases: Array<[unknown, string]> = [
      [{}, '/url'],
      [{ url: 'ftp://example.com/hooks' }, '/url'],
      [{ url: 'not a url' }, '/url'],
      [{ url: 'https://example.com/', events: [] }, '/events'],
      [{ url: 'https://example.com/', events: ['call.exploded'] }, '/events/0'],
      [{ url: 'https://example.com/', enabled: 'yes' }, '/enabled'],
      [{ url: 'https://example.com/', secret: 'whsec_mine' }, '/secret'],
      [{ url: 'http://10.0.0.7/hooks' }, '/url'],
      [{ url: 'http://127.0.0.1:8080/hooks' }, '/url'],
      [{ url: 'http://[::ffff:169.254.169.254]/latest/meta-data' }, '/url'],
      [{ url: 'http://localhost:3000/' }, '/url'],
    ];
    for (const [body, field] of cases) {
      const response = await ctd.api('/v1/webhook-endpoints', { method: 'POST', body });
      assert.equal(response.status, 422, `${JSON.stringify(body)}: ${response.status} ${JSON.stringify(response.body)}`);
      assert.equal(response.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      assert.ok(
        (response.body.errors as { field: string }[]).some((error) => error.field === field),
        `${JSON.stringify(body)} names ${field}: ${JSON.stringify(response.body.errors)}`,
      );
    }
    const ssrf = await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: 'http://169.254.169.254/' } });
    assert.match(ssrf.body.errors[0].message, /metadata address/);
    assert.deepEqual((await ctd.api('/v1/webhook-endpoints')).body.data, [], 'nothing was created');
    const patch = await ctd.api('/v1/webhook-endpoints/whe_doesnotexist', { method: 'PATCH', body: { enabled: false } });
    assert.equal(patch.status, 404);
    const empty = await ctd.api('/v1/webhook-endpoints/whe_doesnotexist', { method: 'PATCH', body: {} });
    assert.equal(empty.status, 422);
    const badStatus = await ctd.api('/v1/webhook-endpoints/whe_doesnotexist/deliveries?status=lost');
    assert.equal(badStatus.status, 400);
    assert.equal(badStatus.body.errors[0].field, '/status');
  });

  test("an account never sees nor changes another account's endpoints, secrets or deliveries", async (t) => {
    const ctd = await startTestService(t, { sipPort: 0, env: { ROLES: 'api', WEBHOOK_QUEUE: `webhooks-api-${randomBytes(4).toString('hex')}` } });
    const store = ctd.service.store;
    const other = await store.createAccount('Other');
    const otherKey = (await store.createApiKey(other.id, 'other')).secret;
    const mine = await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: 'https://crm.example.com/hooks', events: ['call.completed', 'call.failed'], description: 'CRM' } });
    assert.equal(mine.status, 201, JSON.stringify(mine.body));
    assert.deepEqual(mine.body.events, ['call.completed', 'call.failed']);
    assert.equal(mine.headers.get('location'), `/v1/webhook-endpoints/${mine.body.id}`);
    const id = mine.body.id as string;
    const test = await ctd.api(`/v1/webhook-endpoints/${id}/test`, { method: 'POST' });
    assert.equal(test.status, 202);
    const deliveryId = test.body.id as string;

    const asOther = { key: otherKey };
    assert.deepEqual((await ctd.api('/v1/webhook-endpoints', asOther)).body.data, []);
    for (const [method, path] of [
      ['GET', `/v1/webhook-endpoints/${id}`],
      ['DELETE', `/v1/webhook-endpoints/${id}`],
      ['GET', `/v1/webhook-endpoints/${id}/secret`],
      ['POST', `/v1/webhook-endpoints/${id}/rotate-secret`],
      ['GET', `/v1/webhook-endpoints/${id}/deliveries`],
      ['POST', `/v1/webhook-endpoints/${id}/test`],
      ['GET', `/v1/webhook-deliveries/${deliveryId}`],
      ['POST', `/v1/webhook-deliveries/${deliveryId}/retry`],
    ] as const) {
      const response = await ctd.api(path, { method, ...asOther });
      assert.equal(response.status, 404, `${method} ${path} as another account: ${response.status}`);
    }
    const patched = await ctd.api(`/v1/webhook-endpoints/${id}`, { method: 'PATCH', body: { enabled: false }, ...asOther });
    assert.equal(patched.status, 404);
    // Still there, unchanged, with the same secret; the accounts' own secrets differ.
    const still = await ctd.api(`/v1/webhook-endpoints/${id}`);
    assert.equal(still.body.enabled, true);
    assert.equal((await ctd.api(`/v1/webhook-endpoints/${id}/secret`)).body.secret, mine.body.secret);
    assert.notEqual((await ctd.api('/v1/webhook-secret')).body.secret, (await ctd.api('/v1/webhook-secret', asOther)).body.secret);
    assert.equal((await ctd.api(`/v1/webhook-endpoints/${id}/deliveries`)).body.data.length, 1);

    const updated = await ctd.api(`/v1/webhook-endpoints/${id}`, { method: 'PATCH', body: { events: ['*'], url: 'https://crm.example.com/v2/hooks' } });
    assert.equal(updated.status, 200);
    assert.deepEqual(updated.body.events, ['*']);
    const deleted = await ctd.api(`/v1/webhook-endpoints/${id}`, { method: 'DELETE' });
    assert.deepEqual(deleted.body, { id, object: 'webhook_endpoint', deleted: true });
    assert.equal((await ctd.api(`/v1/webhook-endpoints/${id}`)).status, 404);
    assert.equal((await ctd.api(`/v1/webhook-deliveries/${deliveryId}`)).status, 404, 'its deliveries went with it');
  });
});
