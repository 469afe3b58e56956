/**
 * The dial button in a real browser (Chromium via playwright-core) against the whole service and
 * SIPp parties: the development test page embeds it cross-origin as a customer's site would; a
 * click calls the visitor (leg a, a SIPp UAS a number pattern allows), then the destination (leg
 * b, another SIPp UAS), and the widget shows `Connected`. A page of another origin is refused and
 * dials nothing; a spent rate limit shows its message; a closed button says so.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { freePortBlock } from '../support/ports.js';
import { sharedScenario, startSippUas } from '../support/sipp.js';
import { BOOTSTRAP_KEY, startTestService, waitForCall } from '../e2e/service.js';
import { eventually, launchBrowser, UPDATE_SCREENSHOTS } from './browser.js';

describe('the dial button in Chromium', () => {
  test('places a call that SIPp answers and shows Connected; another origin is refused; limits and hours show their messages', async (t) => {
    const base = await freePortBlock(10);
    const visitor = await startSippUas(t, { scenario: sharedScenario('uas-answer-reinvite-offer'), port: base + 1, mediaPort: base + 4, transport: 'udp' });
    const sales = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: base + 2, mediaPort: base + 7, transport: 'udp' });
    const ctd = await startTestService(t, { sipPort: base, env: { WEB_TEST_PAGE: 'true' } });
    const port = ctd.service.http!.port;
    // The page is on http://localhost:PORT, the API on http://127.0.0.1:PORT: two origins, real CORS.
    const shop = `http://localhost:${port}`;
    const visitorUri = visitor.uri('visitor');
    const created = await ctd.api('/v1/buttons', {
      method: 'POST',
      body: {
        name: 'Sales',
        label: 'Sales',
        destination: sales.uri('sales'),
        allowedOrigins: [shop],
        numberPatterns: [`^sip:visitor@127\\.0\\.0\\.1:${base + 1}$`],
        colors: { background: '#0b5fff', text: '#ffffff' },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const buttonId = created.body.id as string;

    const browser = await launchBrowser(t);
    const page = await browser.newPage({ viewport: { width: 560, height: 240 } });
    await page.goto(`${shop}/dev/button?button=${buttonId}&api=${encodeURIComponent(ctd.baseUrl)}`);
    const button = page.getByRole('button', { name: 'Sales' });
    await button.waitFor();
    await eventually('the button is enabled', () => button.isEnabled());
    const status = page.getByRole('status');
    const input = page.getByLabel('Your phone number');
    assert.equal(await input.getAttribute('type'), 'tel');
    // The page's hostile CSS (hot pink buttons) does not reach into the shadow root.
    assert.equal(await button.evaluate((element) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(element).backgroundColor), 'rgb(11, 95, 255)');
    if (UPDATE_SCREENSHOTS) await page.screenshot({ path: 'docs/button-ready.png' });

    await input.fill(visitorUri);
    await button.press('Enter');
    await eventually('the widget shows Connected', async () => (await status.textContent()) === 'Connected', 20_000);
    if (UPDATE_SCREENSHOTS) await page.screenshot({ path: 'docs/button-connected.png' });

    const [call] = (await ctd.api('/v1/calls')).body.data as { id: string; a: { uri: string }; b: { uri: string } }[];
    assert.equal(call!.a.uri, visitorUri, 'the visitor is leg a');
    assert.equal(call!.b.uri, sales.uri('sales'), 'the destination is leg b');
    await ctd.api(`/v1/calls/${call!.id}/hangup`, { method: 'POST' });
    await waitForCall(ctd, call!.id, (c) => c.status === 'completed');
    await eventually('the widget shows the end', async () => (await status.textContent()) === 'Call ended. Thank you!');
    assert.equal((await visitor.wait(10_000)).code, 0, await visitor.report());
    assert.equal((await sales.wait(10_000)).code, 0, await sales.report());

    // The same page on an origin the button does not allow: refused, nothing dialled.
    // (A server of its own on loopback: Chromium keeps public origins from reaching loopback at all.)
    const html = await (await fetch(`${ctd.baseUrl}/dev/button?button=${buttonId}&api=${encodeURIComponent(ctd.baseUrl)}`)).text();
    const evil = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(html));
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => evil.close(() => resolve())));
    const other = await browser.newPage({ viewport: { width: 560, height: 240 } });
    await other.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
    // The refusal carries no CORS grant, so the page cannot even read why: the widget says it is not available.
    await eventually('the refusal is shown', async () => (await other.getByRole('status').textContent()) === 'This button is not available right now');
    assert.ok((ctd.service.buttonRefusals?.get('origin_not_allowed') ?? 0) >= 1, 'the server refused the origin');
    assert.equal(await other.getByRole('button').isDisabled(), true);
    assert.equal((await ctd.api('/v1/calls')).body.data.length, 1, 'no second call');

    // A button whose per-address limit is spent (by a refused attempt from this address).
    const limited = await ctd.api('/v1/buttons', { method: 'POST', body: { name: 'Support', label: 'Support', destination: sales.uri('support'), allowedOrigins: [shop], limits: { perIpPerHour: 1 } } });
    const spent = await fetch(`${ctd.baseUrl}/v1/public/buttons/${limited.body.id}/calls`, { method: 'POST', headers: { origin: shop, 'content-type': 'application/json' }, body: JSON.stringify({ number: '+19005550100' }) });
    assert.equal(spent.status, 422, 'a premium-rate number is refused, and costs the address its point');
    await page.goto(`${shop}/dev/button?button=${limited.body.id}&api=${encodeURIComponent(ctd.baseUrl)}`);
    const support = page.getByRole('button', { name: 'Support' });
    await eventually('the button is enabled', () => support.isEnabled());
    await page.getByLabel('Your phone number').fill('+33 6 12 34 56 78');
    await support.click();
    await eventually('the limit is shown', async () => /^Too many attempts\. Please try again in \d+ minutes?\.$/.test((await page.getByRole('status').textContent()) ?? ''));
    if (UPDATE_SCREENSHOTS) await page.screenshot({ path: 'docs/button-rate-limited.png' });
    assert.equal((await ctd.api('/v1/calls')).body.data.length, 1, 'still one call');

    // A button outside its business hours says so and cannot be pressed.
    const today = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', weekday: 'short' }).format(new Date()).toLowerCase().slice(0, 3);
    const days = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
    const far = days[(days.indexOf(today) + 3) % 7];
    const closed = await ctd.api('/v1/buttons', {
      method: 'POST',
      body: { name: 'Night', label: 'Call us', destination: sales.uri('night'), allowedOrigins: [shop], businessHours: { timeZone: 'UTC', weekly: [{ days: [far], open: '09:00', close: '17:00' }] } },
    });
    await page.goto(`${shop}/dev/button?button=${closed.body.id}&api=${encodeURIComponent(ctd.baseUrl)}`);
    await eventually('closed is shown', async () => (await page.getByRole('status').textContent()) === 'Outside business hours');
    assert.equal(await page.getByRole('button', { name: 'Call us' }).isDisabled(), true);
    if (UPDATE_SCREENSHOTS) await page.screenshot({ path: 'docs/button-closed.png' });
    assert.ok(BOOTSTRAP_KEY);
  });
});
