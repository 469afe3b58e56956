/**
 * Requests are validated against openapi.yaml before any handler runs: every field at fault is
 * named (a JSON pointer and a sentence), query parameters arrive coerced, defaults filled in.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { AUTH, testApp } from './fake-routes.js';

const { app, received } = testApp();

const A = { uri: '+15551234567' };
const B = { uri: 'sip:support@pbx.example.com' };

interface FieldError {
  field: string;
  in: string;
  code: string;
  message: string;
}

async function createCall(body: unknown, headers: Record<string, string> = {}) {
  return request(app)
    .post('/v1/calls')
    .set(AUTH)
    .set(headers)
    .send(body as object);
}

function fields(response: { body: { errors?: FieldError[] } }): string[] {
  return (response.body.errors ?? []).map((error) => error.field);
}

function assertProblem(response: request.Response, status: number, code: string): void {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.match(response.headers['content-type'] ?? '', /^application\/problem\+json/);
  assert.equal(response.body.status, status);
  assert.equal(response.body.code, code);
  assert.equal(response.body.type, `/docs/errors#${code}`);
  assert.equal(typeof response.body.title, 'string');
  assert.equal(response.body.requestId, response.headers['request-id']);
}

describe('POST /v1/calls body', () => {
  test('a minimal call is accepted, and the handler sees the defaults filled in', async () => {
    const response = await createCall({ a: A, b: B });
    assert.equal(response.status, 202, JSON.stringify(response.body));
    assert.equal(response.body.object, 'call');
    assert.match(response.headers.location ?? '', /^\/v1\/calls\/call_/);
    const input = received.at(-1)?.input as { body: Record<string, unknown> };
    assert.deepEqual(input.body, { a: A, b: B, flow: 3, ringTimeout: 30, maxDuration: 14400, ringback: 'none' });
  });

  test('missing a and b: 422 naming both', async () => {
    const response = await createCall({});
    assertProblem(response, 422, 'validation_failed');
    assert.deepEqual(response.body.errors, [
      { field: '/a', in: 'body', code: 'required', message: 'is required' },
      { field: '/b', in: 'body', code: 'required', message: 'is required' },
    ]);
    assert.equal(response.body.detail, '2 fields are invalid.');
    assert.equal(response.body.instance, '/v1/calls');
  });

  test('a missing leg uri is named inside its leg', async () => {
    const response = await createCall({ a: {}, b: B });
    assertProblem(response, 422, 'validation_failed');
    assert.deepEqual(fields(response), ['/a/uri']);
  });

  test('wrong types: one message per field, saying the type', async () => {
    const response = await createCall({ a: 'sip:alice@example.com', b: B, flow: '3', ringTimeout: 1.5, maxDuration: true, metadata: [] });
    assertProblem(response, 422, 'validation_failed');
    assert.deepEqual(
      response.body.errors.map((error: FieldError) => [error.field, error.code, error.message]),
      [
        ['/a', 'type', 'must be an object'],
        ['/flow', 'type', 'must be an integer'],
        ['/maxDuration', 'type', 'must be an integer'],
        ['/metadata', 'type', 'must be an object'],
        ['/ringTimeout', 'type', 'must be an integer'],
      ],
    );
  });

  test('an unknown flow is refused with the flows there are', async () => {
    for (const flow of [0, 2, 5]) {
      const response = await createCall({ a: A, b: B, flow });
      assertProblem(response, 422, 'validation_failed');
      assert.deepEqual(response.body.errors, [{ field: '/flow', in: 'body', code: 'enum', message: 'must be one of: 1, 3, 4' }]);
    }
    for (const flow of [1, 3, 4]) assert.equal((await createCall({ a: A, b: B, flow })).status, 202);
  });

  test('ringback and numbers out of range', async () => {
    const response = await createCall({ a: { ...A, ringTimeout: 0 }, b: { ...B, ringTimeout: 301 }, ringback: 'music', maxDuration: 86401 });
    assertProblem(response, 422, 'validation_failed');
    assert.deepEqual(
      response.body.errors.map((error: FieldError) => [error.field, error.message]),
      [
        ['/a/ringTimeout', 'must be at least 1'],
        ['/b/ringTimeout', 'must be at most 300'],
        ['/maxDuration', 'must be at most 86400'],
        ['/ringback', 'must be one of: tone, none'],
      ],
    );
  });

  const goodUris = [
    '+15551234567',
    '+442071838750',
    'sip:alice@pbx.example.com',
    'sip:+15551234567@trunk.example.com;user=phone',
    'sips:bob@192.0.2.10:5061;transport=tls',
    'sip:[2001:db8::1]:5060',
    'sip:pbx.example.com',
    'sip:alice:secret@pbx.example.com',
    'tel:+1-555-123-4567',
    'tel:5551234;phone-context=+1555',
  ];
  const badUris = [
    'alice',
    '5551234567',
    '+0123456789',
    '+1',
    '+1555123456789012',
    'http://example.com',
    'sip:',
    'sip:alice@',
    'sip:al ice@example.com',
    'sip:alice@exa mple.com',
    'sip:alice@example.com:123456',
    'mailto:alice@example.com',
    'tel:',
    ' sip:alice@example.com',
    'sip:alice@example.com\r\nVia: evil',
  ];

  test('party URIs: sip:, sips:, tel: and E.164 are accepted', async () => {
    for (const uri of goodUris) {
      const response = await createCall({ a: { uri }, b: { uri } });
      assert.equal(response.status, 202, `${uri}: ${JSON.stringify(response.body)}`);
    }
  });

  test('party URIs: anything else is refused with one readable message', async () => {
    for (const uri of badUris) {
      const response = await createCall({ a: { uri }, b: B });
      assertProblem(response, 422, 'validation_failed');
      assert.deepEqual(
        response.body.errors,
        [{ field: '/a/uri', in: 'body', code: 'pattern', message: 'must be a sip:, sips: or tel: URI or an E.164 number such as +15551234567' }],
        uri,
      );
    }
  });

  test('caller ids and transfer targets follow the same rules', async () => {
    const response = await createCall({ a: { ...A, callerId: 'Alice' }, b: B, callerId: '555' });
    assertProblem(response, 422, 'validation_failed');
    assert.deepEqual(fields(response), ['/a/callerId', '/callerId']);
  });

  test('unknown fields are refused, at the top and inside legs', async () => {
    const response = await createCall({ a: { ...A, caller: 'x' }, b: B, from: 'x', callback_url: 'https://x.example' });
    assertProblem(response, 422, 'validation_failed');
    assert.deepEqual(
      response.body.errors.map((error: FieldError) => [error.field, error.code, error.message]),
      [
        ['/a/caller', 'additionalProperties', 'is not a known field'],
        ['/callback_url', 'additionalProperties', 'is not a known field'],
        ['/from', 'additionalProperties', 'is not a known field'],
      ],
    );
  });

  test('SIP headers: only X- and P- names, one-line values', async () => {
    const good = await createCall({ a: { ...A, headers: { 'X-Crm-Ticket': '48213', 'P-Asserted-Identity': '<sip:+15551234567@trunk.example.com>' } }, b: B });
    assert.equal(good.status, 202, JSON.stringify(good.body));
    const response = await createCall({
      a: { ...A, headers: { Via: 'SIP/2.0/UDP evil', 'X-': 'empty name', 'X-Bad Name': 'v', 'X-Two-Lines': 'a\r\nVia: evil', 'X-Number': 5 } },
      b: B,
    });
    assertProblem(response, 422, 'validation_failed');
    assert.deepEqual(
      response.body.errors.map((error: FieldError) => [error.field, error.message]),
      [
        ['/a/headers/Via', 'is not an allowed name: must be an X- or P- header name (letters, digits and -)'],
        ['/a/headers/X-', 'is not an allowed name: must be an X- or P- header name (letters, digits and -)'],
        ['/a/headers/X-Bad Name', 'is not an allowed name: must be an X- or P- header name (letters, digits and -)'],
        ['/a/headers/X-Number', 'must be a string'],
        ['/a/headers/X-Two-Lines', 'must be one line without control characters'],
      ],
    );
  });

  test('metadata: Stripe-like limits of 50 keys, keys up to 40 characters, string values up to 500', async () => {
    const fifty = Object.fromEntries(Array.from({ length: 50 }, (_, index) => [`key${index}`, 'v'.repeat(500)]));
    assert.equal((await createCall({ a: A, b: B, metadata: { ...fifty } })).status, 202);
    assert.equal((await createCall({ a: A, b: B, metadata: { ['k'.repeat(40)]: 'v' } })).status, 202);

    const tooMany = await createCall({ a: A, b: B, metadata: { ...fifty, key50: 'v' } });
    assert.deepEqual(tooMany.body.errors, [{ field: '/metadata', in: 'body', code: 'maxProperties', message: 'must have at most 50 keys' }]);

    const response = await createCall({ a: A, b: B, metadata: { ['k'.repeat(41)]: 'v', '': 'empty', long: 'v'.repeat(501), number: 7, 'a/b': 'slash' } });
    assertProblem(response, 422, 'validation_failed');
    assert.deepEqual(
      response.body.errors.map((error: FieldError) => [error.field, error.message]),
      [
        ['/metadata/', 'is not an allowed name: must not be empty'],
        ['/metadata/kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk', 'is not an allowed name: must be at most 40 characters long'],
        ['/metadata/long', 'must be at most 500 characters long'],
        ['/metadata/number', 'must be a string'],
      ],
    );
  });

  test('JSON pointers escape / and ~ in keys (RFC 6901)', async () => {
    const response = await createCall({ a: A, b: B, metadata: { 'a/b~c': 1 } });
    assert.deepEqual(fields(response), ['/metadata/a~1b~0c']);
  });

  test('webhookUrl must be an http(s) URL; trunk must be a trunk id', async () => {
    const response = await createCall({ a: A, b: B, webhookUrl: 'ftp://files.example.com/hook', trunk: 'carrier' });
    assert.deepEqual(
      response.body.errors.map((error: FieldError) => [error.field, error.message]),
      [
        ['/trunk', 'must be a trunk id (trk_…)'],
        ['/webhookUrl', 'must be an http:// or https:// URL'],
      ],
    );
    const notUrl = await createCall({ a: A, b: B, webhookUrl: 'https://exa mple.com' });
    // Not a URL at all breaks `format` as well as `pattern`: one message says it.
    assert.deepEqual(notUrl.body.errors, [{ field: '/webhookUrl', in: 'body', code: 'format', message: 'must be an http:// or https:// URL' }]);
  });

  test('every field at fault is named in one answer', async () => {
    const response = await createCall({ a: { uri: 'nope', extra: 1 }, flow: 2, metadata: { n: 1 }, ringback: 'x', webhookUrl: 'x', zzz: true });
    assertProblem(response, 422, 'validation_failed');
    assert.deepEqual(fields(response), ['/a/extra', '/a/uri', '/b', '/flow', '/metadata/n', '/ringback', '/webhookUrl', '/zzz']);
    assert.equal(response.body.detail, '8 fields are invalid.');
  });

  test('an array or no body at all is refused', async () => {
    const array = await createCall([A, B]);
    assertProblem(array, 422, 'validation_failed');
    assert.deepEqual(array.body.errors, [{ field: '', in: 'body', code: 'type', message: 'must be an object' }]);
    const none = await request(app).post('/v1/calls').set(AUTH);
    assertProblem(none, 422, 'validation_failed');
    assert.deepEqual(none.body.errors, [{ field: '', in: 'body', code: 'required', message: 'a JSON request body is required' }]);
  });

  test('patterns stay fast on hostile 60 KB strings (no catastrophic backtracking)', async () => {
    const hostile = [`sip:${'a'.repeat(60_000)}!`, `sip:${'a.'.repeat(30_000)}!`, `sip:${'a-'.repeat(30_000)}`, `+${'1'.repeat(60_000)}`, `tel:${'1'.repeat(60_000)}`];
    for (const uri of hostile) {
      const started = performance.now();
      const response = await createCall({ a: { uri }, b: B });
      const elapsed = performance.now() - started;
      assert.equal(response.status, 422);
      assert.ok(elapsed < 1000, `${uri.slice(0, 12)}…: ${elapsed.toFixed(0)} ms`);
    }
    for (const host of [`${'a-'.repeat(30_000)}!`, `[${':'.repeat(60_000)}`]) {
      const started = performance.now();
      const response = await request(app).post('/v1/trunks').set(AUTH).send({ name: 'x', host });
      assert.equal(response.status, 422);
      assert.ok(performance.now() - started < 1000);
    }
  });
});

describe('Idempotency-Key header', () => {
  test('a UUID or any 1-255 visible ASCII characters is accepted and reaches the handler', async () => {
    for (const key of ['6f1c2a9e-7d4b-4c1e-9a55-2b8f0f3c1d77', 'k', 'x'.repeat(255), 'order#4711/retry:2']) {
      const response = await createCall({ a: A, b: B }, { 'Idempotency-Key': key });
      assert.equal(response.status, 202, JSON.stringify(response.body));
      const idempotency = received.at(-1)?.idempotency as { key: string; fingerprint: string };
      assert.equal(idempotency.key, key);
      assert.match(idempotency.fingerprint, /^[0-9a-f]{64}$/);
    }
  });

  test('longer than 255 characters, with spaces or empty: 400 invalid_parameter naming the header', async () => {
    const cases: Array<[string, string]> = [
      ['x'.repeat(256), 'must be at most 255 characters long'],
      ['has space', 'must be 1 to 255 visible ASCII characters (no spaces)'],
      ['clé', 'must be 1 to 255 visible ASCII characters (no spaces)'],
    ];
    for (const [key, message] of cases) {
      const response = await createCall({ a: A, b: B }, { 'Idempotency-Key': key });
      assertProblem(response, 400, 'invalid_parameter');
      assert.deepEqual(response.body.errors, [{ field: '/Idempotency-Key', in: 'header', code: response.body.errors[0].code, message }]);
    }
  });

  test('the same body in another key order has the same fingerprint; another body has another', async () => {
    await createCall({ a: A, b: B, metadata: { x: '1', y: '2' } }, { 'Idempotency-Key': 'fp-1' });
    const first = (received.at(-1)?.idempotency as { fingerprint: string }).fingerprint;
    await createCall({ metadata: { y: '2', x: '1' }, b: B, a: A }, { 'Idempotency-Key': 'fp-2' });
    const reordered = (received.at(-1)?.idempotency as { fingerprint: string }).fingerprint;
    await createCall({ a: A, b: B, metadata: { x: '1', y: '3' } }, { 'Idempotency-Key': 'fp-3' });
    const other = (received.at(-1)?.idempotency as { fingerprint: string }).fingerprint;
    assert.equal(first, reordered);
    assert.notEqual(first, other);
  });

  test('without the header the handler sees no idempotency', async () => {
    await createCall({ a: A, b: B });
    assert.equal(received.at(-1)?.idempotency, undefined);
  });
});

describe('query parameters', () => {
  test('limit arrives as a number; absent, it is 20', async () => {
    await request(app).get('/v1/calls?limit=5').set(AUTH).expect(200);
    assert.deepEqual((received.at(-1)?.input as { query: unknown }).query, { limit: 5 });
    await request(app).get('/v1/calls').set(AUTH).expect(200);
    assert.deepEqual((received.at(-1)?.input as { query: unknown }).query, { limit: 20 });
  });

  test('limit out of range or not an integer: 400 naming /limit', async () => {
    const cases: Array<[string, string]> = [
      ['0', 'must be at least 1'],
      ['101', 'must be at most 100'],
      ['-5', 'must be at least 1'],
      ['ten', 'must be an integer'],
      ['1.5', 'must be an integer'],
      ['', 'must be an integer'],
    ];
    for (const [limit, message] of cases) {
      const response = await request(app).get(`/v1/calls?limit=${limit}`).set(AUTH);
      assertProblem(response, 400, 'invalid_parameter');
      assert.deepEqual(response.body.errors, [{ field: '/limit', in: 'query', code: response.body.errors[0].code, message }], `limit=${limit}`);
    }
  });

  test('a repeated parameter is refused', async () => {
    const response = await request(app).get('/v1/calls?limit=5&limit=6').set(AUTH);
    assertProblem(response, 400, 'invalid_parameter');
    assert.deepEqual(fields(response), ['/limit']);
  });

  test('status and creation times are checked: enum, RFC 3339 with a time zone', async () => {
    const response = await request(app).get('/v1/calls?status=ringing&createdAfter=yesterday&createdBefore=2026-12-01T10:00:00').set(AUTH);
    assertProblem(response, 400, 'invalid_parameter');
    assert.deepEqual(
      response.body.errors.map((error: FieldError) => [error.field, error.message]),
      [
        ['/createdAfter', 'must be an RFC 3339 date-time with a time zone, such as 2026-12-01T09:30:00Z'],
        ['/createdBefore', 'must be an RFC 3339 date-time with a time zone, such as 2026-12-01T09:30:00Z'],
        ['/status', 'must be one of: queued, calling_a, calling_b, connected, completed, failed, canceled'],
      ],
    );
    assert.equal(response.body.detail, '3 parameters are invalid.');
    await request(app).get('/v1/calls?status=completed&createdAfter=2026-12-01T00:00:00Z&createdBefore=2026-12-02T00:00:00%2B01:00').set(AUTH).expect(200);
  });

  test('an unknown query parameter is refused (a typo is not ignored)', async () => {
    const response = await request(app).get('/v1/calls?limt=5').set(AUTH);
    assertProblem(response, 400, 'invalid_parameter');
    assert.deepEqual(response.body.errors, [{ field: '/limt', in: 'query', code: 'additionalProperties', message: 'is not a known query parameter' }]);
    const onGet = await request(app).get('/v1/calls/call_1?expand=a').set(AUTH);
    assert.deepEqual(fields(onGet), ['/expand']);
  });

  test('a cursor with characters no cursor has: 400 invalid_parameter', async () => {
    const response = await request(app).get('/v1/calls?cursor=%21%21%21').set(AUTH);
    assertProblem(response, 400, 'invalid_parameter');
    assert.deepEqual(response.body.errors, [{ field: '/cursor', in: 'query', code: 'pattern', message: 'must be a nextCursor value from a previous page' }]);
  });

  test('a well-formed cursor this API did not make: 400 invalid_cursor', async () => {
    for (const cursor of ['abcdefghijklmnop', 'eyJ2IjoxfQ', Buffer.from('{"createdAt":"x"}').toString('base64url') + 'AAAAAAAA']) {
      const response = await request(app).get(`/v1/calls?cursor=${cursor}`).set(AUTH);
      assertProblem(response, 400, 'invalid_cursor');
      assert.deepEqual(fields(response), ['/cursor']);
    }
  });
});

describe('path parameters', () => {
  test('a malformed id is answered like an unknown one: 404', async () => {
    for (const path of ['/v1/calls/123', '/v1/calls/trk_4f9a1c2b7e', '/v1/trunks/call_1', `/v1/calls/call_${'a'.repeat(80)}`]) {
      const response = await request(app).get(path).set(AUTH);
      assertProblem(response, 404, 'not_found');
    }
    assert.notEqual(received.at(-1)?.operationId, 'getCall');
  });

  test('a well-formed id reaches the handler', async () => {
    await request(app).get('/v1/calls/call_8f3a2b1c9d4e5f60').set(AUTH).expect(200);
    assert.deepEqual(received.at(-1)?.input, { path: { id: 'call_8f3a2b1c9d4e5f60' } });
  });
});

describe('bodies of the other operations', () => {
  test('hangup takes no body: {} or nothing is fine, fields are refused', async () => {
    await request(app).post('/v1/calls/call_1/hangup').set(AUTH).expect(202);
    await request(app).post('/v1/calls/call_1/hangup').set(AUTH).send({}).expect(202);
    const response = await request(app).post('/v1/calls/call_1/hangup').set(AUTH).send({ reason: 'done' });
    assertProblem(response, 422, 'validation_failed');
    assert.deepEqual(response.body.errors, [{ field: '/reason', in: 'body', code: 'additionalProperties', message: 'is not a known field (this operation takes no body)' }]);
  });

  test('transfer needs a target; method defaults to reinvite', async () => {
    const missing = await request(app).post('/v1/calls/call_1/transfer').set(AUTH).send({ method: 'blind' });
    assertProblem(missing, 422, 'validation_failed');
    assert.deepEqual(
      missing.body.errors.map((error: FieldError) => [error.field, error.message]),
      [
        ['/method', 'must be one of: reinvite, refer'],
        ['/target', 'is required'],
      ],
    );
    await request(app).post('/v1/calls/call_1/transfer').set(AUTH).send({ target: 'sip:bob@pbx.example.com' }).expect(202);
    assert.deepEqual((received.at(-1)?.input as { body: unknown }).body, { target: 'sip:bob@pbx.example.com', method: 'reinvite' });
  });

  test('trunks: defaults on create, at least one field on update, null clears', async () => {
    const created = await request(app).post('/v1/trunks').set(AUTH).send({ name: 'PBX', host: 'pbx.example.com', password: 'pw' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.hasPassword, true);
    assert.equal('password' in created.body, false);
    assert.deepEqual((received.at(-1)?.input as { body: unknown }).body, {
      name: 'PBX',
      host: 'pbx.example.com',
      password: 'pw',
      transport: 'udp',
      numberFormat: 'e164',
      isDefault: false,
    });

    const empty = await request(app).patch('/v1/trunks/trk_1').set(AUTH).send({});
    assertProblem(empty, 422, 'validation_failed');
    assert.deepEqual(empty.body.errors, [{ field: '', in: 'body', code: 'minProperties', message: 'must have at least one field' }]);

    await request(app).patch('/v1/trunks/trk_1').set(AUTH).send({ password: null, realm: null }).expect(200);
    const bad = await request(app).patch('/v1/trunks/trk_1').set(AUTH).send({ port: 0, transport: 'sctp', host: 'bad host', hasPassword: true });
    assert.deepEqual(fields(bad), ['/hasPassword', '/host', '/port', '/transport']);
  });

  test('API keys: the body is optional', async () => {
    const response = await request(app).post('/v1/api-keys').set(AUTH);
    assert.equal(response.status, 201, JSON.stringify(response.body));
    assert.equal(response.body.name, null);
    await request(app).post('/v1/api-keys').set(AUTH).send({ name: 'CRM' }).expect(201);
    const bad = await request(app).post('/v1/api-keys').set(AUTH).send({ name: '', scopes: ['all'] });
    assert.deepEqual(fields(bad), ['/name', '/scopes']);
  });

  test('a body that is not JSON: 415 unsupported_media_type', async () => {
    const form = await request(app).post('/v1/calls').set(AUTH).type('form').send('a=1&b=2');
    assertProblem(form, 415, 'unsupported_media_type');
    assert.match(form.body.detail, /application\/x-www-form-urlencoded/);
    const text = await request(app).post('/v1/calls').set(AUTH).set('Content-Type', 'text/plain').send('{"a":1}');
    assertProblem(text, 415, 'unsupported_media_type');
  });

  test('application/merge-patch+json is read as JSON', async () => {
    await request(app).patch('/v1/trunks/trk_1').set(AUTH).set('Content-Type', 'application/merge-patch+json').send('{"name":"PBX 2"}').expect(200);
  });
});
