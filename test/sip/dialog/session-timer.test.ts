import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../../src/sip/clock.js';
import { DialogError, parseMinSE, parseSessionExpires, SessionDialog, sessionTimerAt } from '../../../src/sip/dialog/index.js';
import { fromAlice, inviteToAlice, requestFromAlice, sdp } from './fixtures.js';

describe('Session-Expires and Min-SE (RFC 4028 §4, §5)', () => {
  test('parse with and without refresher, in any case, with other parameters', () => {
    assert.deepEqual(parseSessionExpires('1800'), { interval: 1800, refresher: undefined });
    assert.deepEqual(parseSessionExpires('4000;refresher=UAS'), { interval: 4000, refresher: 'uas' });
    assert.deepEqual(parseSessionExpires(' 90 ; refresher=uac ; x-vendor=1'), { interval: 90, refresher: 'uac' });
    assert.equal(parseMinSE('120'), 120);
    for (const bad of ['', 'abc', '1800;refresher=proxy', '0', '-5']) {
      assert.throws(() => parseSessionExpires(bad), (e: unknown) => e instanceof DialogError && e.code === 'BAD_SESSION_TIMER', bad);
    }
  });

  test('the refresher refreshes at half the interval; the other side gives up min(32 s, interval/3) before expiry', () => {
    assert.deepEqual(sessionTimerAt(1800, 'local', 1000), {
      interval: 1800,
      refresher: 'local',
      startedAt: 1000,
      refreshAt: 1000 + 900_000,
      expiresAt: 1000 + 1_800_000,
      byeAt: 1000 + 1_800_000 - 32_000,
    });
    const short = sessionTimerAt(90, 'remote', 0);
    assert.equal(short.refreshAt, undefined);
    assert.equal(short.expiresAt, 90_000);
    assert.equal(short.byeAt, 60_000, 'a third of 90 s is less than 32 s');
  });
});

describe('session timer as dialog state', () => {
  test('refresher=uac in the 2xx to our INVITE makes us the refresher', () => {
    const clock = new ManualClock();
    clock.advance(5000);
    const invite = inviteToAlice({ extra: 'Session-Expires: 1800' });
    const ok = fromAlice({ status: 200, reason: 'OK', extra: 'Require: timer\nSession-Expires: 1200;refresher=uac', body: sdp(1) });
    const { dialog } = SessionDialog.uac(invite, ok, { clock });
    assert.deepEqual(dialog.sessionTimer, sessionTimerAt(1200, 'local', 5000));
    assert.equal(dialog.sessionTimer?.refreshAt, 5000 + 600_000);

    dialog.createAck();
    clock.advance(600_000);
    const { request } = dialog.createRequest('UPDATE');
    assert.equal(request.header('session-expires'), '1200;refresher=uac', 'the refresh keeps interval and refresher (RFC 4028 §7.4)');
    dialog.receiveResponse(fromAlice({ status: 200, reason: 'OK', cseq: request.cseq.seq, method: 'UPDATE', extra: 'Require: timer\nSession-Expires: 1200;refresher=uac' }));
    assert.equal(dialog.sessionTimer?.startedAt, 605_000);
    assert.equal(dialog.sessionTimer?.expiresAt, 605_000 + 1_200_000);
  });

  test('refresher=uas in the 2xx (compact form) leaves the refreshing to the peer', () => {
    const clock = new ManualClock();
    const invite = inviteToAlice({ extra: 'Session-Expires: 1800' });
    const ok = fromAlice({ status: 200, reason: 'OK', extra: 'x: 1800;refresher=uas', body: sdp(1) });
    const { dialog } = SessionDialog.uac(invite, ok, { clock });
    assert.equal(dialog.sessionTimer?.refresher, 'remote');
    assert.equal(dialog.sessionTimer?.refreshAt, undefined);
    assert.equal(dialog.sessionTimer?.byeAt, 1_800_000 - 32_000);
  });

  test('a UAS without session timer support leaves us refreshing with our interval (RFC 4028 §7.2)', () => {
    const { dialog } = SessionDialog.uac(inviteToAlice({ extra: 'Session-Expires: 1800' }), fromAlice({ status: 200, reason: 'OK', body: sdp(1) }), { clock: new ManualClock() });
    assert.equal(dialog.sessionTimer?.interval, 1800);
    assert.equal(dialog.sessionTimer?.refresher, 'local');
  });

  test('no Session-Expires on either side: no session timer', () => {
    const { dialog } = SessionDialog.uac(inviteToAlice(), fromAlice({ status: 200, reason: 'OK', body: sdp(1) }), { clock: new ManualClock() });
    assert.equal(dialog.sessionTimer, undefined);
  });

  test('an incoming refresh is answered with its interval and refresher, and Require: timer for refresher=uac', () => {
    const clock = new ManualClock();
    const { dialog } = SessionDialog.uac(inviteToAlice(), fromAlice({ status: 200, reason: 'OK', body: sdp(1) }), { clock });
    dialog.createAck();
    clock.advance(1000);
    const refresh = requestFromAlice({ method: 'UPDATE', cseq: 5, extra: 'Supported: timer\nSession-Expires: 600' });
    assert.deepEqual(dialog.receiveRequest(refresh), { kind: 'accept' });
    const ok = dialog.createResponse(refresh, 200);
    assert.equal(ok.header('session-expires'), '600;refresher=uac');
    assert.deepEqual(ok.optionTags('require'), ['timer']);
    assert.deepEqual(dialog.sessionTimer, sessionTimerAt(600, 'remote', 1000));

    const asksUs = requestFromAlice({ method: 'UPDATE', cseq: 6, extra: 'Session-Expires: 600;refresher=uas' });
    dialog.receiveRequest(asksUs);
    const ok2 = dialog.createResponse(asksUs, 200);
    assert.equal(ok2.header('session-expires'), '600;refresher=uas');
    assert.equal(ok2.header('require'), undefined);
    assert.equal(dialog.sessionTimer?.refresher, 'local');
  });

  test('an interval below our Min-SE is refused with 422 and our Min-SE (RFC 4028 §9)', () => {
    const { dialog } = SessionDialog.uac(inviteToAlice(), fromAlice({ status: 200, reason: 'OK', body: sdp(1) }), { clock: new ManualClock(), minSE: 300 });
    dialog.createAck();
    const verdict = dialog.receiveRequest(requestFromAlice({ method: 'INVITE', cseq: 5, extra: 'Session-Expires: 120', body: sdp(2) }));
    assert.equal(verdict.kind, 'reject');
    if (verdict.kind !== 'reject') return;
    assert.equal(verdict.response.status, 422);
    assert.equal(verdict.response.header('min-se'), '300');
    assert.equal(dialog.offerAnswer.state, 'stable');
    assert.ok(dialog.offerAnswer.canSendInvite(), 'the refused INVITE is not in progress');
  });
});
