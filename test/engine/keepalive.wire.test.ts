/**
 * A party that answers and then vanishes (no BYE, no responses): while connected the engine sends
 * each leg an in-dialog OPTIONS every keepaliveMs; the vanished party's times out (Timer F), which
 * ends that dialog (RFC 3261 §12.2.1.2) and the call, with a BYE carrying Reason 408 to the party
 * that is still there. A is one of our demo phones (it answers OPTIONS); B is SIPp, gone after
 * its ACK.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DemoPhone, type PhoneActivity } from '../../src/demo/index.js';
import { freePortBlock } from '../support/ports.js';
import { startSippUas } from '../support/sipp.js';
import { assertEngineClean, startEngine, TEST_TIMERS } from './harness.js';

const OURS = (name: string): string => fileURLToPath(new URL(`../peers/sipp/${name}.xml`, import.meta.url));

describe('keepalive: a party that vanishes is found', () => {
  test('B answers and vanishes: its keepalive OPTIONS times out, the call ends b_hangup (408) and A gets a BYE; A answered its own OPTIONS', async (t) => {
    const base = await freePortBlock(10);
    const activity: PhoneActivity[] = [];
    const alice = await DemoPhone.start({ name: 'alice', port: base + 1, ringMs: 50, timers: TEST_TIMERS, onActivity: (a) => activity.push(a) });
    t.after(() => alice.stop());
    const bob = await startSippUas(t, { scenario: OURS('uas-answer-vanish-offer'), port: base + 2, mediaPort: base + 7, transport: 'udp' });
    const under = await startEngine(t, base, { defaults: { keepaliveMs: 500 } });
    const id = 'call_keepalive';
    under.engine.startCall({ id, a: { uri: `<${alice.uri}>`, from: '<sip:ctd@127.0.0.1>' }, b: { uri: `<${bob.uri('bob')}>`, from: '<sip:alice@example.com>' } });
    await under.reached(id, 'connected');
    const connectedAt = Date.now();
    assert.equal((await bob.wait(10_000)).code, 0, await bob.report());

    const final = await under.final(id, 15_000);
    assert.equal(final.status, 'completed');
    assert.equal(final.endReason, 'b_hangup');
    assert.equal(final.sip?.code, 408);
    // keepaliveMs, then Timer F (64*T1 = 3.2 s here): well before any max duration.
    assert.ok(Date.now() - connectedAt < 10_000);

    const log = under.engine.sipLog(id);
    const line = (leg: 'a' | 'b', direction: 'in' | 'out', start: string) => log.some((entry) => entry.leg === leg && entry.direction === direction && entry.line.startsWith(start));
    assert.ok(line('b', 'out', 'OPTIONS '), 'B was asked');
    assert.ok(line('a', 'out', 'OPTIONS '), 'A was asked too');
    assert.ok(line('a', 'in', '200 OK (') && log.some((entry) => entry.leg === 'a' && entry.direction === 'in' && /^200 .*OPTIONS\)$/.test(entry.line)), 'A answered its OPTIONS');
    const settle = Date.now() + 3000;
    while (!activity.some((a) => a.kind === 'hung-up') && Date.now() < settle) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(activity.some((a) => a.kind === 'hung-up'), `the phone saw the call end: ${activity.map((a) => a.kind).join(', ')}`);
    assert.ok(under.engine.sipLog(id).some((entry) => entry.leg === 'a' && entry.direction === 'out' && entry.line.startsWith('BYE ')), 'A got a BYE');
    await assertEngineClean(under);
  });

  test('keepaliveMs 0 sends no OPTIONS', async (t) => {
    const base = await freePortBlock(10);
    const alice = await DemoPhone.start({ name: 'alice', port: base + 1, ringMs: 50, timers: TEST_TIMERS });
    t.after(() => alice.stop());
    const bob = await DemoPhone.start({ name: 'bob', port: base + 2, ringMs: 50, timers: TEST_TIMERS });
    t.after(() => bob.stop());
    const under = await startEngine(t, base, { defaults: { keepaliveMs: 0 } });
    const id = 'call_no_keepalive';
    under.engine.startCall({ id, a: { uri: `<${alice.uri}>`, from: '<sip:ctd@127.0.0.1>' }, b: { uri: `<${bob.uri}>`, from: '<sip:ctd@127.0.0.1>' } });
    await under.reached(id, 'connected');
    await new Promise((resolve) => setTimeout(resolve, 1200));
    under.engine.hangup(id);
    assert.equal((await under.final(id)).endReason, 'api_hangup');
    assert.equal(under.engine.sipLog(id).filter((entry) => entry.line.startsWith('OPTIONS ')).length, 0);
    await assertEngineClean(under);
  });
});
