/** `GET /healthz`, `GET /readyz` and `GET /metrics`: public probes; readiness names the dependency that is down. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { testApp } from './fake-routes.js';

describe('probes', () => {
  test('/healthz answers 200 { ok: true }, uncached', async () => {
    const response = await request(testApp().app).get('/healthz').expect(200);
    assert.deepEqual(response.body, { ok: true });
    assert.equal(response.headers['cache-control'], 'no-store');
  });

  test('/readyz answers 200 with every check when all are up', async () => {
    const response = await request(testApp().app).get('/readyz').expect(200);
    assert.deepEqual(response.body, { ok: true, checks: { postgres: { ok: true }, redis: { ok: true } } });
  });

  test('/readyz answers 503 naming the dependency that is down', async () => {
    const app = testApp({ ready: async () => ({ ok: false, checks: { postgres: { ok: true }, redis: { ok: false, detail: 'connection refused' } } }) }).app;
    const response = await request(app).get('/readyz').expect(503);
    assert.deepEqual(response.body, { ok: false, checks: { postgres: { ok: true }, redis: { ok: false, detail: 'connection refused' } } });
  });

  test('/metrics answers the exposition text as its source gives it, uncached, without an API key', async () => {
    const response = await request(testApp().app).get('/metrics').expect(200);
    assert.match(response.headers['content-type'] ?? '', /^text\/plain; version=0\.0\.4/);
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.match(response.text, /^ctd_up 1$/m);
  });

  test('/metrics is a 404 problem in a process that keeps none', async () => {
    const response = await request(testApp({ metrics: undefined }).app).get('/metrics').expect(404);
    assert.equal(response.body.code, 'not_found');
  });

  test('a failed check makes /readyz 503 even if ok was claimed', async () => {
    const app = testApp({ ready: () => ({ ok: true, checks: { redis: { ok: false } } }) }).app;
    const response = await request(app).get('/readyz').expect(503);
    assert.equal(response.body.ok, false);
  });

  test('a readiness check that throws: 503, the error logged, not shown', async () => {
    const { app, log } = testApp({
      ready: async () => {
        throw new Error('getaddrinfo ENOTFOUND db.internal');
      },
    });
    const response = await request(app).get('/readyz').expect(503);
    assert.deepEqual(response.body, { ok: false, checks: { readiness: { ok: false, detail: 'the readiness check failed' } } });
    assert.ok(log.lines.some((line) => line.msg === 'readiness check threw' && JSON.stringify(line).includes('db.internal')));
  });

  test('a readiness check that hangs: 503 after the timeout', async () => {
    const app = testApp({ ready: () => new Promise(() => {}), readyTimeoutMs: 50 }).app;
    const started = performance.now();
    const response = await request(app).get('/readyz').expect(503);
    assert.ok(performance.now() - started < 2000);
    assert.deepEqual(response.body, { ok: false, checks: { readiness: { ok: false, detail: 'no answer within 50 ms' } } });
  });

  test('probes take no parameters', async () => {
    const response = await request(testApp().app).get('/healthz?verbose=1');
    assert.equal(response.status, 400);
    assert.equal(response.body.code, 'invalid_parameter');
  });
});
