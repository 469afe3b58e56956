/**
 * /v1/buttons against the real service (PostgreSQL, Redis): create with defaults and the snippet,
 * read, list, update, delete, every bad field named, and no account sees another's buttons.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { freePortBlock } from '../support/ports.js';
import { startTestService } from '../e2e/service.js';

const ORIGIN = 'https://www.example.com';

describe('/v1/buttons', () => {
  test('create (defaults filled, snippet to paste), get, list, update, delete', async (t) => {
    const ctd = await startTestService(t, { sipPort: await freePortBlock(2) });
    const created = await ctd.api('/v1/buttons', { method: 'POST', body: { name: 'Sales', destination: 'sip:sales@pbx.example.com', allowedOrigins: [ORIGIN, 'https://*.shop.example.com'] } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const button = created.body;
    assert.match(button.id, /^btn_[A-Za-z0-9]{22}$/);
    assert.equal(created.headers.get('location'), `/v1/buttons/${button.id}`);
    assert.equal(button.object, 'button');
    assert.equal(button.label, 'Call me');
    assert.deepEqual(button.colors, { background: '#0b5fff', text: '#ffffff' });
    assert.deepEqual(button.limits, { perIpPerHour: 5, perNumberPerHour: 3, perButtonPerHour: 100, perDay: 500 });
    assert.deepEqual(button.numberPatterns, []);
    assert.equal(button.allowPremiumRate, false);
    assert.equal(button.businessHours, null);
    assert.equal(button.enabled, true);
    assert.equal(button.snippet, `<script src="${ctd.baseUrl}/widget.js" data-button="${button.id}" async></script>`);

    assert.deepEqual((await ctd.api(`/v1/buttons/${button.id}`)).body, button);
    const widget = await fetch(`${ctd.baseUrl}/widget.js`);
    assert.equal(widget.status, 200);
    assert.match(widget.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match(await widget.text(), /attachShadow/);
    assert.equal((await fetch(`${ctd.baseUrl}/dev/button?button=${button.id}`)).status, 404, 'no test page unless WEB_TEST_PAGE');
    const dashboard = await fetch(`${ctd.baseUrl}/dashboard`);
    assert.equal(dashboard.status, 200);
    assert.match(dashboard.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.deepEqual((await ctd.api('/v1/buttons')).body.data.map((b: { id: string }) => b.id), [button.id]);

    const hours = { timeZone: 'Europe/Paris', weekly: [{ days: ['mon', 'tue'], open: '09:00', close: '17:30' }] };
    const updated = await ctd.api(`/v1/buttons/${button.id}`, { method: 'PATCH', body: { enabled: false, label: 'Talk to sales', businessHours: hours, limits: { perDay: 10 } } });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    assert.equal(updated.body.enabled, false);
    assert.equal(updated.body.label, 'Talk to sales');
    assert.deepEqual(updated.body.businessHours, hours);
    assert.deepEqual(updated.body.limits, { perIpPerHour: 5, perNumberPerHour: 3, perButtonPerHour: 100, perDay: 10 });
    assert.equal(updated.body.destination, 'sip:sales@pbx.example.com', 'fields not given are kept');
    const reopened = await ctd.api(`/v1/buttons/${button.id}`, { method: 'PATCH', body: { businessHours: null } });
    assert.equal(reopened.body.businessHours, null);

    const deleted = await ctd.api(`/v1/buttons/${button.id}`, { method: 'DELETE' });
    assert.deepEqual(deleted.body, { id: button.id, object: 'button', deleted: true });
    assert.equal((await ctd.api(`/v1/buttons/${button.id}`)).status, 404);
    assert.equal((await ctd.api(`/v1/buttons/${button.id}`, { method: 'DELETE' })).status, 404);
  });

  test('bad fields are refused with 422 naming each one, and nothing is created', async (t) => {
    const ctd = await startTestService(t, { sipPort: await freePortBlock(2) });
    const cases: Array<[Record<string, unknown>, string[]]> = [
      [{ name: 'x', destination: 'sip:a@b.example.com', allowedOrigins: ['https://*.com'] }, ['/allowedOrigins/0']],
      [{ name: 'x', destination: 'sip:a@b.example.com', allowedOrigins: ['https://example.com/path'] }, ['/allowedOrigins/0']],
      [{ name: 'x', destination: 'sip:a@b.example.com', allowedOrigins: ['https://*.*.example.com'] }, ['/allowedOrigins/0']],
      [{ name: 'x', destination: 'sip:a@b.example.com', allowedOrigins: [ORIGIN], numberPatterns: ['^(+33$', '\\+33', '^(1+)+$'] }, ['/numberPatterns/0', '/numberPatterns/1', '/numberPatterns/2']],
      [{ name: 'x', destination: 'sip:a@b.example.com', allowedOrigins: [ORIGIN], numberPatterns: [`^${'1'.repeat(240)}$`] }, ['/numberPatterns/0']],
      [{ name: 'x', destination: 'sip:a@b.example.com', allowedOrigins: [ORIGIN], businessHours: { timeZone: 'Nowhere/Land', weekly: [{ days: ['mon'], open: '18:00', close: '09:00' }] } }, ['/businessHours/timeZone', '/businessHours/weekly/0/close']],
      [{ name: 'x', destination: '+33612345678', allowedOrigins: [ORIGIN] }, ['/destination']],
      [{ name: 'x', destination: 'sip:a@b.example.com', allowedOrigins: [ORIGIN], colors: { background: 'red', text: '#fff' } }, ['/colors/background', '/colors/text']],
      [{ name: 'x', destination: 'sip:a@b.example.com', allowedOrigins: [ORIGIN], limits: { perIpPerHour: 0 } }, ['/limits/perIpPerHour']],
      [{ name: 'x', destination: 'sip:a@b.example.com', allowedOrigins: [] }, ['/allowedOrigins']],
      [{ name: 'x', destination: 'sip:a@b.example.com', allowedOrigins: [ORIGIN], label: '<img src=x>' }, ['/label']],
      [{ name: 'x', destination: 'sip:a@b.example.com', allowedOrigins: [ORIGIN], trunk: 'trk_nope' }, ['/trunk']],
    ];
    for (const [body, fields] of cases) {
      const answer = await ctd.api('/v1/buttons', { method: 'POST', body });
      assert.equal(answer.status, 422, `${JSON.stringify(body)}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      assert.deepEqual([...new Set(answer.body.errors.map((error: { field: string }) => error.field))], fields, JSON.stringify(answer.body.errors));
    }
    assert.deepEqual((await ctd.api('/v1/buttons')).body.data, []);
  });

  test('a number destination goes through the default trunk; another account sees none of it', async (t) => {
    const ctd = await startTestService(t, { sipPort: await freePortBlock(2) });
    const trunk = await ctd.api('/v1/trunks', { method: 'POST', body: { name: 'carrier', host: '127.0.0.1', port: 5999, isDefault: true } });
    assert.equal(trunk.status, 201);
    const created = await ctd.api('/v1/buttons', { method: 'POST', body: { name: 'Line', destination: '+33198765432', allowedOrigins: [ORIGIN] } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const other = await ctd.service.store.createAccount('other');
    const key = (await ctd.service.store.createApiKey(other.id, 'k')).secret;
    assert.equal((await ctd.api(`/v1/buttons/${created.body.id}`, { key })).status, 404);
    assert.equal((await ctd.api(`/v1/buttons/${created.body.id}`, { key, method: 'PATCH', body: { enabled: false } })).status, 404);
    assert.equal((await ctd.api(`/v1/buttons/${created.body.id}`, { key, method: 'DELETE' })).status, 404);
    assert.deepEqual((await ctd.api('/v1/buttons', { key })).body.data, []);
    assert.equal((await ctd.api(`/v1/buttons/${created.body.id}`)).body.enabled, true, 'unchanged by the other account');
  });
});
