/**
 * The dashboard in Chromium against the whole service: sign in with an API key (kept in
 * sessionStorage), the call placed to two SIPp parties is in the list, its page shows the event
 * timeline and the SIP ladder with one arrow per logged message, and an arrow opens the whole message.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { freePortBlock } from '../support/ports.js';
import { sharedScenario, startSippUas } from '../support/sipp.js';
import { BOOTSTRAP_KEY, startTestService, waitForCall } from '../e2e/service.js';
import { eventually, launchBrowser, UPDATE_SCREENSHOTS } from './browser.js';

describe('the dashboard in Chromium', () => {
  test('signs in, lists the call, draws its ladder with one arrow per SIP message, shows a whole message', async (t) => {
    const base = await freePortBlock(10);
    const a = await startSippUas(t, { scenario: sharedScenario('uas-answer-reinvite-offer'), port: base + 1, mediaPort: base + 4, transport: 'udp' });
    const b = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: base + 2, mediaPort: base + 7, transport: 'udp' });
    const ctd = await startTestService(t, { sipPort: base });
    const created = await ctd.api('/v1/calls', { method: 'POST', body: { a: { uri: a.uri('alice') }, b: { uri: b.uri('bob') }, callerId: 'sip:sales@example.com' } });
    assert.equal(created.status, 202);
    const id = created.body.id as string;
    await waitForCall(ctd, id, (call) => call.status === 'connected');
    await ctd.api(`/v1/calls/${id}/hangup`, { method: 'POST' });
    await waitForCall(ctd, id, (call) => call.status === 'completed');
    assert.equal((await a.wait(10_000)).code, 0, await a.report());
    assert.equal((await b.wait(10_000)).code, 0, await b.report());
    // The SIP log is written in batches: wait until it stops growing.
    let sip: { line: string; message: string | null }[] = [];
    let previous = -1;
    await eventually('the SIP log is complete', async () => {
      sip = (await ctd.api(`/v1/calls/${id}/sip`)).body.data;
      const stable = sip.length === previous && sip.length > 0;
      previous = sip.length;
      await new Promise((resolve) => setTimeout(resolve, 300));
      return stable;
    });
    assert.ok(sip.length >= 12, `a flow III call and its hang-up is a dozen messages or more, got ${sip.length}`);
    for (const line of sip) {
      // A request's first line is the line; a response's is its status line without the CSeq note.
      const first = /^\d{3} /.test(line.line) ? `SIP/2.0 ${line.line.replace(/ \([^)]*\)$/, '')}` : `${line.line} SIP/2.0`;
      assert.ok(line.message?.startsWith(`${first}\r\n`), `${line.line}: the whole message is kept (${JSON.stringify(line.message?.slice(0, 60))})`);
    }

    const browser = await launchBrowser(t);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${ctd.baseUrl}/dashboard`);
    await page.getByLabel('API key').fill('not-a-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('This API key is not valid.').waitFor();
    await page.getByLabel('API key').fill(BOOTSTRAP_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const row = page.locator(`tr[data-call="${id}"]`);
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /completed/);
    assert.match((await row.textContent()) ?? '', /api_hangup/);
    assert.equal(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem('ctd.apiKey')), BOOTSTRAP_KEY);
    assert.equal(await page.evaluate(() => (globalThis as unknown as { localStorage: { length: number } }).localStorage.length), 0, 'nothing in localStorage');
    // Filters: another status hides it.
    await page.getByLabel('Status').selectOption('failed');
    await eventually('the filter applies', async () => (await row.count()) === 0);
    await page.getByLabel('Status').selectOption('completed');
    await row.waitFor();
    if (UPDATE_SCREENSHOTS) await page.screenshot({ path: 'docs/dashboard-calls.png' });

    await row.getByRole('link').click();
    await page.getByRole('heading', { name: `Call ${id}` }).waitFor();
    const arrows = page.locator('svg.ladder g.arrow');
    await eventually('the ladder is drawn', async () => (await arrows.count()) === sip.length);
    assert.equal(await arrows.count(), sip.length, 'one arrow per SIP message');
    assert.deepEqual(await page.locator('svg.ladder text.party').allTextContents(), ['A', 'Service', 'B']);
    assert.match((await page.getByRole('list', { name: 'Events' }).textContent()) ?? '', /call\.connected[\s\S]*call\.completed/);

    await arrows.first().click();
    const message = page.locator('#sip-message');
    await message.waitFor();
    const text = (await message.textContent()) ?? '';
    assert.match(text, /^INVITE sip:alice@127\.0\.0\.1:\d+ SIP\/2\.0\r?\n/);
    assert.match(text, /\r?\nCall-ID: /i);
    if (UPDATE_SCREENSHOTS) await page.screenshot({ path: 'docs/dashboard-ladder.png', fullPage: true });
  });
});
