/** Buttons in PostgreSQL: defaults, account scoping, the call a token names, and the SIP log's whole messages. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InvalidArgument, NotFound, sha256Hex, Store, type Account } from '../../src/store/index.js';
import { createTestDatabase, legs, openStore, TestClock, type TestDatabase } from './store-fixture.js';

describe('buttons', () => {
  let database: TestDatabase;
  let store: Store;
  let mine: Account;
  let theirs: Account;
  const clock = new TestClock();

  before(async () => {
    database = await createTestDatabase();
    store = openStore(database, { clock: clock.now });
    mine = await store.createAccount('Mine');
    theirs = await store.createAccount('Theirs');
  });
  after(async () => {
    await store.close();
    await database.drop();
  });

  it('creates a button with defaults; updates and deletes it in its account only', async () => {
    const button = await store.createButton(mine.id, { name: 'Sales', destination: 'sip:sales@pbx.example.com', allowedOrigins: ['https://www.example.com'] });
    assert.match(button.id, /^btn_/);
    assert.deepEqual(
      { label: button.label, colors: button.colors, limits: button.limits, enabled: button.enabled, hours: button.businessHours, patterns: button.numberPatterns },
      { label: 'Call me', colors: { background: '#0b5fff', text: '#ffffff' }, limits: { perIpPerHour: 5, perNumberPerHour: 3, perButtonPerHour: 100, perDay: 500 }, enabled: true, hours: null, patterns: [] },
    );
    assert.equal(await store.getButton(theirs.id, button.id), null);
    assert.deepEqual(await store.listButtons(theirs.id), []);
    await assert.rejects(store.updateButton(theirs.id, button.id, { enabled: false }), NotFound);
    await assert.rejects(store.deleteButton(theirs.id, button.id), NotFound);
    assert.equal((await store.findButton(button.id))?.enabled, true);

    clock.advance(1000);
    const hours = { timeZone: 'Europe/Paris', weekly: [{ days: ['mon' as const], open: '09:00', close: '12:00' }] };
    const updated = await store.updateButton(mine.id, button.id, { enabled: false, businessHours: hours, limits: { perDay: 7 } });
    assert.equal(updated.enabled, false);
    assert.deepEqual(updated.businessHours, hours);
    assert.equal(updated.limits.perDay, 7);
    assert.equal(updated.limits.perIpPerHour, 5);
    assert.ok(updated.updatedAt > button.updatedAt);
    assert.equal((await store.updateButton(mine.id, button.id, { businessHours: null })).businessHours, null);
    await assert.rejects(store.createButton(mine.id, { name: ' ', destination: 'sip:x@y', allowedOrigins: ['https://a.example'] }), InvalidArgument);
    await assert.rejects(store.updateButton(mine.id, button.id, { limits: { perDay: 0 } }), InvalidArgument);
    await store.deleteButton(mine.id, button.id);
    assert.equal(await store.findButton(button.id), null);
  });

  it('a button call is written with its call and found by its token hash; deleting the button keeps the call', async () => {
    const button = await store.createButton(mine.id, { name: 'Support', destination: 'sip:support@pbx.example.com', allowedOrigins: ['https://support.example.com'] });
    const token = 'pct_TestTokenTestTokenTestToken0123';
    const { call } = await store.createCall(mine.id, { ...legs, queuedEvent: true, buttonCall: { buttonId: button.id, tokenHash: sha256Hex(token) } });
    const status = await store.buttonCallStatus(sha256Hex(token));
    assert.deepEqual(status, { buttonId: button.id, callId: call.id, allowedOrigins: ['https://support.example.com'], status: 'queued', endReason: null, failedLeg: null });
    assert.equal(await store.buttonCallStatus(sha256Hex('pct_other')), null);
    await store.deleteButton(mine.id, button.id);
    assert.equal(await store.buttonCallStatus(sha256Hex(token)), null, 'the token stops working');
    assert.equal((await store.getCall(mine.id, call.id))?.id, call.id, 'the call is kept');
  });

  it('keeps the whole text of SIP messages beside their first line', async () => {
    const { call } = await store.createCall(mine.id, legs);
    const message = 'SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n';
    await store.appendSipLog([
      { callId: call.id, leg: 'a', direction: 'in', at: clock.millis, peer: 'udp:192.0.2.10:5060', line: '180 Ringing (1 INVITE)', message },
      { callId: call.id, leg: 'a', direction: 'out', at: clock.millis + 1, peer: 'udp:192.0.2.10:5060', line: 'CANCEL sip:alice@192.0.2.10' },
    ]);
    const log = (await store.sipLog(mine.id, call.id))!;
    assert.deepEqual(log.map((line) => line.message), [message, null]);
  });
});
