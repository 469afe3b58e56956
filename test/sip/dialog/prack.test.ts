import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../../src/sip/clock.js';
import { DialogError, InviteDialogSet, SessionDialog } from '../../../src/sip/dialog/index.js';
import { ALICE_CONTACT, fromAlice, inviteToAlice, sdp } from './fixtures.js';

const reliable = (status: number, rseq: number, body?: string) =>
  fromAlice({ status, reason: status === 180 ? 'Ringing' : 'Session Progress', extra: `Require: 100rel\nRSeq: ${rseq}`, ...(body ? { body } : {}) });

describe('reliable provisional responses (RFC 3262)', () => {
  test('a reliable 180 is PRACKed with RAck: rseq cseq method', () => {
    const { dialog, outcome } = SessionDialog.uac(inviteToAlice(), reliable(180, 988789), { clock: new ManualClock() });
    assert.deepEqual(outcome, { kind: 'provisional', reliability: 'new' });
    const { request, nextHop } = dialog.createPrack(reliable(180, 988789));
    assert.equal(request.method, 'PRACK');
    assert.equal(request.header('rack'), '988789 314159 INVITE');
    assert.deepEqual(request.cseq, { seq: 314160, method: 'PRACK' });
    assert.equal(request.requestUri, ALICE_CONTACT);
    assert.equal(nextHop.host, 'p1.example.com');
    assert.equal(request.to.tag, 'as83kd9bs');
  });

  test('a retransmission (same RSeq) and an out-of-order one are discarded', () => {
    const set = new InviteDialogSet(inviteToAlice(), { clock: new ManualClock() });
    const first = set.receiveResponse(reliable(183, 10, sdp(1, '192.0.2.10')));
    assert.equal(first.kind === 'early' && first.reliability, 'new');
    const duplicate = set.receiveResponse(reliable(183, 10, sdp(1, '192.0.2.10')));
    assert.equal(duplicate.kind === 'early' && duplicate.reliability, 'retransmission');
    const skipped = set.receiveResponse(reliable(180, 12));
    assert.equal(skipped.kind === 'early' && skipped.reliability, 'out-of-order');
    const next = set.receiveResponse(reliable(180, 11));
    assert.equal(next.kind === 'early' && next.reliability, 'new');
    const dialog = set.dialogs[0]!;
    assert.throws(() => dialog.createPrack(reliable(180, 12)), (e: unknown) => e instanceof DialogError && e.code === 'NOT_RELIABLE');
    assert.equal(dialog.createPrack(reliable(180, 11)).request.header('rack'), '11 314159 INVITE');
  });

  test('a 100 or a 1xx without RSeq is never reliable', () => {
    const { dialog } = SessionDialog.uac(inviteToAlice(), fromAlice({ status: 180, reason: 'Ringing', extra: 'Require: 100rel' }), { clock: new ManualClock() });
    assert.throws(() => dialog.createPrack(fromAlice({ status: 180, reason: 'Ringing', extra: 'Require: 100rel' })), (e: unknown) => e instanceof DialogError && e.code === 'NOT_RELIABLE');
    assert.deepEqual(dialog.receiveResponse(fromAlice({ status: 100, reason: 'Trying', extra: 'Require: 100rel\nRSeq: 5' })), { kind: 'provisional', reliability: 'unreliable' });
  });

  test('the answer in a reliable 183 completes the offer of the INVITE; an offer in it is answered in the PRACK', () => {
    const early = SessionDialog.uac(inviteToAlice(), reliable(183, 1, sdp(1, '192.0.2.10')), { clock: new ManualClock() }).dialog;
    assert.equal(early.offerAnswer.state, 'stable');

    const late = SessionDialog.uac(inviteToAlice({ withOffer: false }), reliable(183, 1, sdp(1, '192.0.2.10')), { clock: new ManualClock() }).dialog;
    assert.equal(late.offerAnswer.state, 'remote-offer');
    const { request } = late.createPrack(reliable(183, 1, sdp(1, '192.0.2.10')), { body: sdp(1) });
    assert.equal(request.header('content-type'), 'application/sdp');
    assert.equal(late.offerAnswer.state, 'stable');
    // The 2xx repeats the description of the 183: no new offer, and the ACK needs no body.
    late.receiveResponse(fromAlice({ status: 200, reason: 'OK', body: sdp(1, '192.0.2.10') }));
    assert.equal(late.offerAnswer.state, 'stable');
    assert.equal(late.createAck().request.body.length, 0);
  });

  test('an unreliable 183 with SDP changes no offer/answer state (RFC 3261 §13.2.1)', () => {
    const { dialog } = SessionDialog.uac(inviteToAlice(), fromAlice({ status: 183, reason: 'Session Progress', body: sdp(1, '192.0.2.10') }), { clock: new ManualClock() });
    assert.equal(dialog.offerAnswer.state, 'local-offer');
  });
});
