/**
 * One error shape everywhere: bad JSON, oversized bodies, unknown routes, wrong methods, domain
 * errors, conflicts and crashes all answer RFC 9457 problem+json with a request id, and nothing
 * internal leaks.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { ApiProblem, DEFAULT_BODY_LIMIT } from '../../src/api/index.js';
import { AUTH, OTHER_KEY, testApp } from './fake-routes.js';

const { app, log } = testApp();
const A = { uri: '+15551234567' };
const B = { uri: 'sip:support@pbx.example.com' };

function assertProblem(response: request.Response, status: number, code: string): void {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.match(response.headers['content-type'] ?? '', /^application\/problem\+json; charset=utf-8$/);
  const body = response.body as Record<string, unknown>;
  assert.equal(body.status, status);
  assert.equal(body.code, code);
  assert.equal(body.type, `/docs/errors#${code}`);
  assert.equal(typeof body.title, 'string');
  assert.equal(body.requestId, response.headers['request-id']);
  for (const key of Object.keys(body)) assert.ok(['type', 'title', 'status', 'detail', 'instance', 'code', 'requestId', 'errors'].includes(key), `unexpected ${key}`);
}

describe('request bodies the parser refuses', () => {
  test('bad JSON: 400 invalid_json saying where', async () => {
    const response = await request(app).post('/v1/calls').set(AUTH).set('Content-Type', 'application/json').send('{"a": {"uri": "+15551234567"},, }');
    assertProblem(response, 400, 'invalid_json');
    assert.match(response.body.detail, /^The request body is not valid JSON: /);
    assert.equal(response.body.instance, '/v1/calls');
  });

  test('a JSON string or number as the whole body is not accepted', async () => {
    for (const text of ['"a call"', '42', 'null']) {
      const response = await request(app).post('/v1/calls').set(AUTH).set('Content-Type', 'application/json').send(text);
      assertProblem(response, 400, 'invalid_json');
    }
  });

  test('a body over 64 KiB: 413 body_too_large, with the limit', async () => {
    const metadata = { note: 'x'.repeat(DEFAULT_BODY_LIMIT) };
    const response = await request(app).post('/v1/calls').set(AUTH).send({ a: A, b: B, metadata });
    assertProblem(response, 413, 'body_too_large');
    assert.equal(response.body.detail, 'The request body is larger than 65536 bytes.');
  });

  test('just under the limit the body is parsed and validated', async () => {
    const metadata = { note: 'x'.repeat(DEFAULT_BODY_LIMIT - 200) };
    const response = await request(app).post('/v1/calls').set(AUTH).send({ a: A, b: B, metadata });
    assertProblem(response, 422, 'validation_failed');
    assert.deepEqual(response.body.errors, [{ field: '/metadata/note', in: 'body', code: 'maxLength', message: 'must be at most 500 characters long' }]);
  });

  test('the limit can be set', async () => {
    const small = testApp({ bodyLimit: 100 }).app;
    const response = await request(small).post('/v1/calls').set(AUTH).send({ a: A, b: B, metadata: { note: 'x'.repeat(100) } });
    assertProblem(response, 413, 'body_too_large');
    assert.equal(response.body.detail, 'The request body is larger than 100 bytes.');
  });

  test('an unsupported charset: 415', async () => {
    const response = await request(app).post('/v1/calls').set(AUTH).set('Content-Type', 'application/json; charset=latin1').send('{}');
    assertProblem(response, 415, 'unsupported_media_type');
  });
});

describe('routes and methods', () => {
  test('an unknown route: 404 not_found', async () => {
    for (const path of ['/v1/cals', '/v1/calls/call_1/recording', '/v2/calls']) {
      const response = await request(app).get(path).set(AUTH);
      assertProblem(response, 404, 'not_found');
      assert.equal(response.body.instance, path);
    }
    assertProblem(await request(app).get('/'), 404, 'not_found');
  });

  test('under /v1 authentication comes first: an unknown route without a key is 401', async () => {
    assertProblem(await request(app).get('/v1/cals'), 401, 'authentication_required');
  });

  test('a known path with another method: 405 with Allow', async () => {
    const cases: Array<[string, string, string]> = [
      ['delete', '/v1/calls', 'GET, HEAD, POST'],
      ['put', '/v1/calls/call_1', 'GET, HEAD'],
      ['get', '/v1/calls/call_1/hangup', 'POST'],
      ['post', '/v1/trunks/trk_1', 'DELETE, GET, HEAD, PATCH'],
      ['patch', '/v1/api-keys', 'GET, HEAD, POST'],
    ];
    for (const [method, path, allow] of cases) {
      const response = await request(app)[method as 'get'](path).set(AUTH);
      assertProblem(response, 405, 'method_not_allowed');
      assert.equal(response.headers.allow, allow, `${method} ${path}`);
    }
    const probe = await request(app).post('/healthz');
    assertProblem(probe, 405, 'method_not_allowed');
    assert.equal(probe.headers.allow, 'GET, HEAD');
  });

  test('HEAD is answered wherever GET is', async () => {
    const response = await request(app).head('/healthz');
    assert.equal(response.status, 200);
  });

  test('a path with a broken %-escape: 400 bad_request', async () => {
    const response = await request(app).get('/v1/calls/call_%E0%A4%A').set(AUTH);
    assertProblem(response, 400, 'bad_request');
  });
});

describe('errors from handlers', () => {
  test('ApiProblem.notFound: 404 naming the resource', async () => {
    const response = await request(app).get('/v1/calls/call_missing').set(AUTH);
    assertProblem(response, 404, 'not_found');
    assert.equal(response.body.detail, "No call with id 'call_missing'.");
    assert.equal(response.body.instance, '/v1/calls/call_missing');
  });

  test('a domain error becomes a problem through mapError', async () => {
    const response = await request(app).get('/v1/calls/call_domain').set(AUTH);
    assertProblem(response, 404, 'not_found');
    assert.equal(response.body.detail, "No call with id 'call_domain'.");
  });

  test('conflicts with the state of the call: 409', async () => {
    const ended = await request(app).post('/v1/calls/call_ended/hangup').set(AUTH);
    assertProblem(ended, 409, 'call_already_ended');
    const ringing = await request(app).post('/v1/calls/call_ringing/transfer').set(AUTH).send({ target: 'sip:bob@pbx.example.com' });
    assertProblem(ringing, 409, 'call_not_connected');
  });

  test('an unexpected error: 500 internal_error, with nothing of the error in the answer, and logged', async () => {
    const response = await request(app).get('/v1/calls/call_boom/sip').set(AUTH);
    assertProblem(response, 500, 'internal_error');
    const text = JSON.stringify(response.body);
    for (const secret of ['hunter2', 'postgres', '10.0.0.5', 'at ', '.ts']) assert.ok(!text.includes(secret), `the answer mentions ${secret}`);
    const logged = log.lines.find((line) => line.msg === 'request failed' && JSON.stringify(line).includes('hunter2'));
    assert.ok(logged, 'the error is in the log');
    assert.equal((logged.req as { id?: string } | undefined)?.id, response.headers['request-id']);
  });

  test('an answer that breaks the contract is a 500 when responses are checked (never a leak)', async () => {
    const response = await request(app).get('/v1/trunks/trk_broken').set(AUTH);
    assertProblem(response, 500, 'internal_error');
    assert.ok(!JSON.stringify(response.body).includes('leaked'));
    assert.ok(log.lines.some((line) => JSON.stringify(line).includes('getTrunk answered 200 with a body that breaks the contract: /password is not a known field')));
  });

  test('a problem with a code outside the catalogue needs its status and title', () => {
    assert.throws(() => new ApiProblem('trunk_in_use'), /needs a status and a title/);
    const problem = new ApiProblem('trunk_in_use', { status: 409, title: 'Trunk in use', detail: 'Calls use it.' });
    assert.deepEqual(problem.toJSON('/v1/trunks/trk_1', 'req_1'), {
      type: '/docs/errors#trunk_in_use',
      title: 'Trunk in use',
      status: 409,
      detail: 'Calls use it.',
      instance: '/v1/trunks/trk_1',
      code: 'trunk_in_use',
      requestId: 'req_1',
    });
  });
});

describe('idempotency (as a resource router implements it with ctx.idempotency)', () => {
  test('the same key and body give the same call back, marked Idempotent-Replayed', async () => {
    const headers = { ...AUTH, 'Idempotency-Key': 'order-4711' };
    const first = await request(app).post('/v1/calls').set(headers).send({ a: A, b: B });
    const again = await request(app).post('/v1/calls').set(headers).send({ b: B, a: A });
    assert.equal(first.status, 202);
    assert.equal(again.status, 202);
    assert.equal(again.body.id, first.body.id);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(first.headers['idempotent-replayed'], undefined);
  });

  test('the same key with another body: 409 idempotency_key_reused', async () => {
    const headers = { ...AUTH, 'Idempotency-Key': 'order-4712' };
    await request(app).post('/v1/calls').set(headers).send({ a: A, b: B }).expect(202);
    const response = await request(app).post('/v1/calls').set(headers).send({ a: A, b: { uri: '+15559876543' } });
    assertProblem(response, 409, 'idempotency_key_reused');
  });

  test('keys are per account', async () => {
    const first = await request(app).post('/v1/calls').set(AUTH).set('Idempotency-Key', 'order-4713').send({ a: A, b: B });
    const other = await request(app).post('/v1/calls').set('Authorization', `Bearer ${OTHER_KEY}`).set('Idempotency-Key', 'order-4713').send({ a: A, b: B });
    assert.notEqual(other.body.id, first.body.id);
  });
});

describe('request ids and the access log', () => {
  test('every answer has its own Request-Id: req_ and 24 characters', async () => {
    const answers = await Promise.all([
      request(app).get('/healthz'),
      request(app).get('/v1/calls').set(AUTH),
      request(app).get('/v1/calls'),
      request(app).get('/nowhere'),
      request(app).get('/docs'),
    ]);
    const ids = answers.map((answer) => answer.headers['request-id']);
    for (const id of ids) assert.match(id ?? '', /^req_[A-Za-z0-9]{24}$/);
    assert.equal(new Set(ids).size, ids.length);
  });

  test('one access log line per request, with the request id and the account, never the key', async () => {
    const response = await request(app).get('/v1/calls?limit=2').set(AUTH);
    const id = response.headers['request-id'];
    const lines = log.lines.filter((line) => (line.req as { id?: string } | undefined)?.id === id && line.msg === 'request completed');
    assert.equal(lines.length, 1);
    const [line] = lines as [Record<string, unknown>];
    assert.equal(line.accountId, 'acct_1');
    assert.equal(line.keyId, 'key_1');
    assert.deepEqual(line.req, { id, method: 'GET', url: '/v1/calls?limit=2', remoteAddress: (line.req as { remoteAddress: string }).remoteAddress });
    assert.deepEqual(line.res, { statusCode: 200 });
    assert.equal(typeof line.responseTime, 'number');
    assert.ok(!JSON.stringify(log.lines).includes('sk_test_'), 'an API key is in the log');
  });

  test('API answers are not cached; every answer says nosniff', async () => {
    const response = await request(app).get('/v1/calls').set(AUTH);
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.equal(response.headers['x-content-type-options'], 'nosniff');
    assert.equal(response.headers['x-powered-by'], undefined);
  });
});
