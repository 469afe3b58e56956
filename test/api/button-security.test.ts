/**
 * Abuse of the public button endpoints, against the real service (PostgreSQL, Redis, the engine):
 * a forged Origin, a number a pattern refuses, a burst from one address, a burst to one number
 * from many addresses, a disabled button, another account's call token. Each is refused with its
 * status, counted, and dials nothing: no call row (and so no originate job, whose id is the call id).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { freePortBlock } from '../support/ports.js';
import { BOOTSTRAP_KEY, startTestService, type ApiBody, type ServiceUnderTest } from '../e2e/service.js';

const SHOP = 'https://www.shop.example';

interface PublicAnswer {
  status: number;
  body: ApiBody;
  headers: Headers;
}

async function publicRequest(ctd: ServiceUnderTest, path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<PublicAnswer> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${ctd.baseUrl}${path}`, { method: init.method ?? 'GET', headers, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}

async function setUp(t: Parameters<typeof startTestService>[0], button: Record<string, unknown> = {}, env: Record<string, string> = {}) {
  const base = await freePortBlock(4);
  const ctd = await startTestService(t, { sipPort: base, env });
  // Numbers go out through a trunk where nothing answers: accepted calls ring nowhere.
  await ctd.api('/v1/trunks', { method: 'POST', body: { name: 'nowhere', host: '127.0.0.1', port: base + 3, isDefault: true } });
  const created = await ctd.api('/v1/buttons', { method: 'POST', body: { name: 'Sales', destination: `sip:sales@127.0.0.1:${base + 2}`, allowedOrigins: [SHOP], ...button } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const principal = await ctd.service.store.authenticate(BOOTSTRAP_KEY);
  const calls = async (): Promise<number> => (await ctd.service.store.listCalls(principal!.accountId, { limit: 100 })).calls.length;
  const ask = (number: string, headers: Record<string, string> = { origin: SHOP }, extra: Record<string, unknown> = {}) =>
    publicRequest(ctd, `/v1/public/buttons/${created.body.id}/calls`, { method: 'POST', body: { number, ...extra }, headers });
  return { ctd, button: created.body as ApiBody, calls, ask, accountId: principal!.accountId };
}

describe('public button endpoints refuse abuse and dial nothing', () => {
  test('a forged or missing Origin: 403 origin_not_allowed, no CORS grant, preflight refused too', async (t) => {
    const { ctd, button, calls, ask } = await setUp(t);
    for (const origin of ['https://evil.example.net', 'https://www.shop.example.evil.net', 'http://www.shop.example', 'null']) {
      const refused = await ask('+33612345678', { origin });
      assert.equal(refused.status, 403, origin);
      assert.equal(refused.body.code, 'origin_not_allowed');
      assert.equal(refused.headers.get('access-control-allow-origin'), null);
    }
    assert.equal((await ask('+33612345678', {})).status, 403, 'no Origin at all');
    const preflight = await fetch(`${ctd.baseUrl}/v1/public/buttons/${button.id}/calls`, { method: 'OPTIONS', headers: { origin: 'https://evil.example.net', 'access-control-request-method': 'POST' } });
    assert.equal(preflight.status, 403);
    assert.equal(preflight.headers.get('access-control-allow-origin'), null);
    const good = await fetch(`${ctd.baseUrl}/v1/public/buttons/${button.id}/calls`, { method: 'OPTIONS', headers: { origin: SHOP, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    assert.equal(good.status, 204);
    assert.equal(good.headers.get('access-control-allow-origin'), SHOP);
    assert.match(good.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.equal((await publicRequest(ctd, `/v1/public/buttons/${button.id}`, { headers: { origin: 'https://evil.example.net' } })).status, 403);
    const shown = await publicRequest(ctd, `/v1/public/buttons/${button.id}`, { headers: { origin: SHOP } });
    assert.equal(shown.status, 200);
    assert.equal(shown.headers.get('access-control-allow-origin'), SHOP);
    assert.deepEqual(Object.keys(shown.body).sort(), ['available', 'colors', 'id', 'label', 'object', 'unavailableReason'], 'nothing of the account');
    const wrongMethod = await publicRequest(ctd, `/v1/public/buttons/${button.id}`, { method: 'DELETE', headers: { origin: SHOP } });
    assert.equal(wrongMethod.status, 405, 'a public path answers 405, never an API-key challenge');
    assert.equal(wrongMethod.headers.get('www-authenticate'), null);
    assert.equal((await publicRequest(ctd, '/v1/public/nothing-here', { headers: { origin: SHOP } })).status, 404);
    assert.equal(await calls(), 0);
    assert.equal(ctd.service.buttonRefusals?.get('origin_not_allowed'), 7);
    const metrics = await (await fetch(`${ctd.baseUrl}/metrics`)).text();
    assert.match(metrics, /ctd_button_refusals_total\{reason="origin_not_allowed"[^}]*\} 7/);
  });

  test('a number a pattern refuses, a premium-rate number, a destination from the browser: 422 naming the field', async (t) => {
    const { ask, calls, ctd } = await setUp(t, { numberPatterns: ['^\\+33[1-9][0-9]{8}$'] });
    const german = await ask('+4915112345678');
    assert.equal(german.status, 422);
    assert.deepEqual(german.body.errors.map((error: { field: string; code: string }) => [error.field, error.code]), [['/number', 'no_pattern_matches']]);
    const premium = await ask('+33899123456');
    assert.equal(premium.status, 422);
    assert.equal(premium.body.errors[0].code, 'premium_rate');
    const sip = await ask('sip:victim@198.51.100.7');
    assert.equal(sip.status, 422);
    const forged = await ask('+33612345678', { origin: SHOP }, { destination: 'sip:premium@198.51.100.7' });
    assert.equal(forged.status, 422);
    assert.deepEqual(forged.body.errors.map((error: { field: string }) => error.field), ['/destination']);
    const junk = await ask('33612345678; DROP TABLE');
    assert.equal(junk.status, 422);
    assert.equal(junk.headers.get('access-control-allow-origin'), null, 'the body is refused before anything else');
    assert.equal(await calls(), 0);
    assert.equal(ctd.service.buttonRefusals?.get('no_pattern_matches'), 2, 'the German number and the SIP URI');
    assert.equal(ctd.service.buttonRefusals?.get('premium_rate'), 1);
  });

  test('a burst from one address: 429 with Retry-After past the limit; X-Forwarded-For is not believed unless configured', async (t) => {
    const { ask, calls, ctd } = await setUp(t, { limits: { perIpPerHour: 2 } });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await ask(`+3361234567${i}`, { origin: SHOP, 'x-forwarded-for': `203.0.113.${i + 1}` }));
    assert.deepEqual(answers.map((answer) => answer.status), [202, 202, 429, 429]);
    const limited = answers[2]!;
    assert.equal(limited.body.code, 'rate_limited');
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter > 3000 && retryAfter <= 3600, `Retry-After ${retryAfter}`);
    assert.equal(limited.headers.get('access-control-allow-origin'), SHOP, 'the widget may read the refusal');
    assert.match(limited.headers.get('access-control-expose-headers') ?? '', /Retry-After/);
    assert.equal(await calls(), 2);
    assert.equal(ctd.service.buttonRefusals?.get('rate_limited_ip'), 2);
  });

  test('a burst to one number from many addresses (X-Forwarded-For trusted from a configured proxy): 429 per number', async (t) => {
    const { ask, calls, ctd } = await setUp(t, { limits: { perIpPerHour: 5, perNumberPerHour: 2 } }, { TRUST_PROXY: 'loopback' });
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await ask('+33612345678', { origin: SHOP, 'x-forwarded-for': `203.0.113.${i + 1}` }));
    assert.deepEqual(answers.map((answer) => answer.status), [202, 202, 429, 429, 429]);
    assert.match(answers[2]!.body.detail, /to this number/);
    // Another number from another address still gets through: the limit is the number's.
    assert.equal((await ask('+33699999999', { origin: SHOP, 'x-forwarded-for': '198.51.100.9' })).status, 202);
    assert.equal(await calls(), 3);
    assert.equal(ctd.service.buttonRefusals?.get('rate_limited_number'), 3);
  });

  test('a disabled button and a closed one: 403 with their codes; the public view says why', async (t) => {
    const { ask, calls, ctd, button } = await setUp(t);
    await ctd.api(`/v1/buttons/${button.id}`, { method: 'PATCH', body: { enabled: false } });
    const disabled = await ask('+33612345678');
    assert.equal(disabled.status, 403);
    assert.equal(disabled.body.code, 'button_disabled');
    assert.equal((await publicRequest(ctd, `/v1/public/buttons/${button.id}`, { headers: { origin: SHOP } })).body.unavailableReason, 'disabled');
    // Open on no day of the week but one that is not today, wherever the test runs.
    const today = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', weekday: 'short' }).format(new Date()).toLowerCase().slice(0, 3);
    const other = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].find((day) => day !== today && day !== dayAfter(today) && day !== dayBefore(today))!;
    await ctd.api(`/v1/buttons/${button.id}`, { method: 'PATCH', body: { enabled: true, businessHours: { timeZone: 'UTC', weekly: [{ days: [other], open: '00:00', close: '24:00' }] } } });
    const closed = await ask('+33612345678');
    assert.equal(closed.status, 403);
    assert.equal(closed.body.code, 'outside_business_hours');
    assert.equal((await publicRequest(ctd, `/v1/public/buttons/${button.id}`, { headers: { origin: SHOP } })).body.unavailableReason, 'outside_business_hours');
    assert.equal(await calls(), 0);
    assert.equal((await ask('+33612345678', { origin: SHOP }, {})).status, 403);
    assert.equal((await publicRequest(ctd, '/v1/public/buttons/btn_doesnotexist0000000000/calls', { method: 'POST', body: { number: '+33612345678' }, headers: { origin: SHOP } })).status, 404);
  });

  test('call tokens: status only; unknown tokens, call ids and another button’s origin are refused; other accounts see nothing', async (t) => {
    const { ask, ctd, accountId } = await setUp(t);
    const ticket = await ask('+33612345678');
    assert.equal(ticket.status, 202, JSON.stringify(ticket.body));
    assert.match(ticket.body.token, /^pct_[A-Za-z0-9]{32}$/);
    const status = await publicRequest(ctd, ticket.body.statusUrl, { headers: { origin: SHOP } });
    assert.equal(status.status, 200);
    assert.deepEqual(Object.keys(status.body).sort(), ['final', 'object', 'status'], 'nothing else of the account');
    assert.equal(status.headers.get('access-control-allow-origin'), SHOP);

    // Another account, with its own button on its own site.
    const other = await ctd.service.store.createAccount('other');
    const otherKey = (await ctd.service.store.createApiKey(other.id, 'k')).secret;
    await ctd.api('/v1/buttons', { key: otherKey, method: 'POST', body: { name: 'Theirs', destination: 'sip:them@127.0.0.1:9', allowedOrigins: ['https://other.example'] } });
    assert.equal((await publicRequest(ctd, ticket.body.statusUrl, { headers: { origin: 'https://other.example' } })).status, 403, 'another button’s site cannot follow the call');
    assert.equal((await publicRequest(ctd, `${ticket.body.statusUrl}/events`, { headers: { origin: 'https://other.example' } })).status, 403);
    const [call] = (await ctd.service.store.listCalls(accountId)).calls;
    assert.equal((await ctd.api(`/v1/calls/${call!.id}`, { key: otherKey })).status, 404, 'another account’s key cannot read it');
    assert.equal((await publicRequest(ctd, `/v1/public/calls/${call!.id}`, { headers: { origin: SHOP } })).status, 404, 'a call id is not a token');
    assert.equal((await publicRequest(ctd, `/v1/public/calls/pct_${'A'.repeat(32)}`, { headers: { origin: SHOP } })).status, 404);
    assert.equal(call!.legs.a.uri, '+33612345678', 'the visitor is leg a');
    assert.match(call!.legs.b.uri, /^sip:sales@127\.0\.0\.1:/, 'the destination is the button’s, leg b');
    assert.deepEqual(call!.metadata, { button: (await ctd.api('/v1/buttons')).body.data[0].id });

    // The event stream: text/event-stream, the status as its first event.
    const controller = new AbortController();
    const stream = await fetch(`${ctd.baseUrl}${ticket.body.eventsUrl}`, { headers: { origin: SHOP }, signal: controller.signal });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = stream.body!.getReader();
    let text = '';
    while (!text.includes('event: status')) text += new TextDecoder().decode((await reader.read()).value);
    assert.match(text, /data: \{"object":"public_call","status":"[a-z_]+","final":(true|false)\}/);
    controller.abort();
  });
});

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
function dayAfter(day: string): string {
  return DAYS[(DAYS.indexOf(day) + 1) % 7]!;
}
function dayBefore(day: string): string {
  return DAYS[(DAYS.indexOf(day) + 6) % 7]!;
}
