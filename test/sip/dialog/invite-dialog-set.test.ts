import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../../src/sip/clock.js';
import { InviteDialogSet } from '../../../src/sip/dialog/index.js';
import { fromAlice, inviteToAlice, sdp } from './fixtures.js';

const desk = (status: number, reason: string, extra: Partial<Parameters<typeof fromAlice>[0]> = {}) =>
  fromAlice({ status, reason, toTag: 'desk-phone', contact: '<sip:alice@192.0.2.10:5062>', ...extra });
const mobile = (status: number, reason: string, extra: Partial<Parameters<typeof fromAlice>[0]> = {}) =>
  fromAlice({ status, reason, toTag: 'mobile', contact: '<sip:alice@198.51.100.77:5060>', recordRoute: '<sip:p3.example.net;lr>, <sip:p1.example.com;lr>', ...extra });

describe('forking (RFC 3261 §12.1.2, §13.2.2.4)', () => {
  test('each To tag gets its own early dialog', () => {
    const set = new InviteDialogSet(inviteToAlice(), { clock: new ManualClock() });
    assert.deepEqual(set.receiveResponse(fromAlice({ status: 100, reason: 'Trying', toTag: undefined, contact: undefined, recordRoute: undefined })), { kind: 'trying' });
    const a = set.receiveResponse(desk(180, 'Ringing'));
    const b = set.receiveResponse(mobile(183, 'Session Progress'));
    const again = set.receiveResponse(desk(180, 'Ringing'));
    assert.equal(a.kind === 'early' && a.created, true);
    assert.equal(b.kind === 'early' && b.created, true);
    assert.equal(again.kind === 'early' && again.created, false);
    assert.equal(set.state, 'early');
    assert.equal(set.earlyDialogs.length, 2);
    const [deskDialog, mobileDialog] = set.dialogs;
    assert.equal(deskDialog!.remoteTag, 'desk-phone');
    assert.equal(mobileDialog!.remoteTarget.host, '198.51.100.77');
    assert.deepEqual(mobileDialog!.routeSet.map(String), ['<sip:p1.example.com;lr>', '<sip:p3.example.net;lr>']);
  });

  test('the first 2xx confirms its dialog and ends the other early ones; a later 2xx from the other fork is ACKed and BYEd', () => {
    const set = new InviteDialogSet(inviteToAlice(), { clock: new ManualClock() });
    set.receiveResponse(desk(180, 'Ringing'));
    set.receiveResponse(mobile(180, 'Ringing'));
    const confirmed = set.receiveResponse(mobile(200, 'OK', { body: sdp(1, '198.51.100.77') }));
    assert.equal(confirmed.kind, 'confirmed');
    if (confirmed.kind !== 'confirmed') return;
    assert.equal(confirmed.dialog.remoteTag, 'mobile');
    assert.equal(confirmed.dialog.state, 'confirmed');
    assert.equal(set.confirmed, confirmed.dialog);
    assert.deepEqual(confirmed.terminated.map((d) => d.remoteTag), ['desk-phone']);
    assert.equal(set.dialogFor('desk-phone')!.state, 'terminated');
    assert.deepEqual(set.receiveResponse(desk(180, 'Ringing')), { kind: 'ignored' }, 'an ended fork is not revived by a 1xx');

    const late = set.receiveResponse(desk(200, 'OK', { body: sdp(1, '192.0.2.10') }));
    assert.equal(late.kind, 'unwanted');
    if (late.kind !== 'unwanted') return;
    assert.equal(late.ack.request.method, 'ACK');
    assert.deepEqual(late.ack.request.cseq, { seq: 314159, method: 'ACK' });
    assert.equal(late.ack.request.to.tag, 'desk-phone');
    assert.equal(late.ack.request.requestUri, 'sip:alice@192.0.2.10:5062');
    assert.equal(late.bye.request.method, 'BYE');
    assert.deepEqual(late.bye.request.cseq, { seq: 314160, method: 'BYE' });
    assert.equal(late.bye.request.to.tag, 'desk-phone');
    assert.deepEqual(late.bye.request.headerValues('route'), ['<sip:p1.example.com;lr>', '<sip:p2.example.net;lr>']);
    assert.equal(late.dialog.state, 'terminated');
    assert.equal(set.confirmed, confirmed.dialog, 'the first answer keeps the leg');

    const retransmitted = set.receiveResponse(desk(200, 'OK', { body: sdp(1, '192.0.2.10') }));
    assert.equal(retransmitted.kind, 'retransmission');
    assert.equal(retransmitted.kind === 'retransmission' && retransmitted.ack, late.ack, 'the same ACK is re-sent');
  });

  test('a 2xx from a fork never seen before is ACKed and BYEd too', () => {
    const set = new InviteDialogSet(inviteToAlice(), { clock: new ManualClock() });
    set.receiveResponse(desk(200, 'OK', { body: sdp(1) }));
    const late = set.receiveResponse(mobile(200, 'OK', { body: sdp(1) }));
    assert.equal(late.kind, 'unwanted');
    if (late.kind !== 'unwanted') return;
    assert.equal(late.ack.request.requestUri, 'sip:alice@198.51.100.77:5060');
    assert.equal(late.bye.nextHop.host, 'p1.example.com');
    assert.equal(set.dialogs.length, 2);
  });

  test('an unwanted 2xx holding an offer gets the answer the core supplies in its ACK', () => {
    const set = new InviteDialogSet(inviteToAlice({ withOffer: false }), {
      clock: new ManualClock(),
      answerForUnwantedOffer: () => ({ body: 'v=0\r\nm=audio 0 RTP/AVP 0\r\n' }),
    });
    set.receiveResponse(desk(200, 'OK', { body: sdp(1) }));
    const late = set.receiveResponse(mobile(200, 'OK', { body: sdp(1) }));
    assert.equal(late.kind === 'unwanted' && late.ack.request.body.toString(), 'v=0\r\nm=audio 0 RTP/AVP 0\r\n');
  });

  test('the 2xx retransmission to the confirmed fork re-sends its ACK', () => {
    const set = new InviteDialogSet(inviteToAlice(), { clock: new ManualClock() });
    const first = set.receiveResponse(desk(200, 'OK', { body: sdp(1) }));
    assert.equal(first.kind, 'confirmed');
    const ack = first.kind === 'confirmed' ? first.dialog.createAck() : undefined;
    const again = set.receiveResponse(desk(200, 'OK', { body: sdp(1) }));
    assert.equal(again.kind === 'retransmission' && again.ack, ack);
  });

  test('a non-2xx final response ends every early dialog (RFC 3261 §12.3)', () => {
    const set = new InviteDialogSet(inviteToAlice(), { clock: new ManualClock() });
    set.receiveResponse(desk(180, 'Ringing'));
    set.receiveResponse(mobile(183, 'Session Progress'));
    const outcome = set.receiveResponse(fromAlice({ status: 486, reason: 'Busy Here', toTag: 'mobile', contact: undefined, recordRoute: undefined }));
    assert.equal(outcome.kind, 'rejected');
    assert.equal(outcome.kind === 'rejected' && outcome.terminated.length, 2);
    assert.ok(set.dialogs.every((d) => d.state === 'terminated'));
    assert.equal(set.state, 'rejected');
  });
});
