/**
 * `Authorization: Bearer <key>` on everything under /v1; 401 problems with WWW-Authenticate
 * otherwise; the key's account reaches the handlers; probes and docs are public.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { loadContract, type RouteModule } from '../../src/api/index.js';
import { GOOD_KEY, fakeRoutes, testApp } from './fake-routes.js';

const { app, received } = testApp();

function assertUnauthorized(response: request.Response, code: string, challenge: string): void {
  assert.equal(response.status, 401, JSON.stringify(response.body));
  assert.match(response.headers['content-type'] ?? '', /^application\/problem\+json/);
  assert.equal(response.body.code, code);
  assert.equal(response.body.status, 401);
  assert.equal(response.headers['www-authenticate'], challenge);
}

describe('API keys', () => {
  test('no Authorization header: 401 authentication_required with WWW-Authenticate: Bearer', async () => {
    const response = await request(app).get('/v1/calls');
    assertUnauthorized(response, 'authentication_required', 'Bearer realm="click-to-dial"');
    assert.match(response.body.detail, /Authorization: Bearer/);
  });

  test('another scheme or a malformed header: 401 with error="invalid_request"', async () => {
    for (const header of [`Basic ${Buffer.from(`${GOOD_KEY}:`).toString('base64')}`, 'Bearer', 'Bearer two words', GOOD_KEY, 'Bearer "quoted"']) {
      const response = await request(app).get('/v1/calls').set('Authorization', header);
      assertUnauthorized(response, 'authentication_required', 'Bearer realm="click-to-dial", error="invalid_request"');
    }
  });

  test('an unknown or revoked key: 401 invalid_api_key with error="invalid_token"', async () => {
    for (const key of ['sk_test_unknown', 'x'.repeat(600)]) {
      const response = await request(app).get('/v1/calls').set('Authorization', `Bearer ${key}`);
      assertUnauthorized(response, 'invalid_api_key', 'Bearer realm="click-to-dial", error="invalid_token"');
    }
  });

  test('the scheme is case-insensitive (RFC 6750)', async () => {
    await request(app).get('/v1/calls').set('Authorization', `bearer ${GOOD_KEY}`).expect(200);
    await request(app).get('/v1/calls').set('Authorization', `BEARER  ${GOOD_KEY}`).expect(200);
  });

  test('every operation under /v1 needs a key; the key is checked before the body is read', async () => {
    for (const operation of loadContract().operations.filter((candidate) => candidate.secured)) {
      const path = operation.path.replace('{id}', 'call_1');
      const response = await request(app)[operation.method as 'get'](path).set('Content-Type', 'application/json').send('{not json');
      assert.equal(response.status, 401, `${operation.operationId}: ${response.status}`);
    }
  });

  test("the handler sees the key's account and id", async () => {
    await request(app).get('/v1/calls/call_1').set('Authorization', `Bearer ${GOOD_KEY}`).expect(200);
    assert.deepEqual(received.at(-1)?.principal, { accountId: 'acct_1', keyId: 'key_1' });
  });

  test('the account is on res.locals for plain Express handlers too', async () => {
    const plain: RouteModule = (router, helpers) => {
      fakeRoutes([])(router, helpers);
      router.get('/v1/whoami', (_req, res) => {
        res.json({ accountId: res.locals.accountId, principal: res.locals.principal });
      });
    };
    const response = await request(testApp({ registerRoutes: plain }).app).get('/v1/whoami').set('Authorization', `Bearer ${GOOD_KEY}`);
    assert.deepEqual(response.body, { accountId: 'acct_1', principal: { accountId: 'acct_1', keyId: 'key_1' } });
  });

  test('authenticate may be synchronous', async () => {
    const sync = testApp({ authenticate: (secret) => (secret === 'sk_sync' ? { accountId: 'acct_9', keyId: 'key_9' } : null) }).app;
    await request(sync).get('/v1/calls').set('Authorization', 'Bearer sk_sync').expect(200);
    assert.equal((await request(sync).get('/v1/calls').set('Authorization', 'Bearer sk_other')).status, 401);
  });

  test('a failing key store is a 500, not a 401', async () => {
    const broken = testApp({
      authenticate: async () => {
        throw new Error('ECONNREFUSED 127.0.0.1:5432');
      },
    }).app;
    const response = await request(broken).get('/v1/calls').set('Authorization', 'Bearer sk_any');
    assert.equal(response.status, 500);
    assert.equal(response.body.code, 'internal_error');
    assert.ok(!JSON.stringify(response.body).includes('5432'));
  });

  test('probes, docs and the contract are public', async () => {
    for (const path of ['/healthz', '/readyz', '/docs', '/docs/errors', '/openapi.json', '/openapi.yaml']) {
      const response = await request(app).get(path);
      assert.equal(response.status, 200, path);
    }
  });
});
