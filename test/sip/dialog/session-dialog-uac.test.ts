import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../../src/sip/clock.js';
import { DialogError, SessionDialog } from '../../../src/sip/dialog/index.js';
import { serializeMessage } from '../../../src/sip/message/index.js';
import { parseUri } from '../../../src/sip/uri.js';
import { ALICE_CONTACT, CALL_ID, fromAlice, inviteToAlice, LOCAL_TAG, sdp } from './fixtures.js';

function established(options: { recordRoute?: string; withOffer?: boolean; body?: string } = {}) {
  const invite = inviteToAlice({ withOffer: options.withOffer ?? true });
  const ok = fromAlice({
    status: 200,
    reason: 'OK',
    ...('recordRoute' in options ? { recordRoute: options.recordRoute } : {}),
    body: options.body ?? sdp(1, '192.0.2.10'),
  });
  const { dialog, outcome } = SessionDialog.uac(invite, ok, { clock: new ManualClock() });
  return { invite, ok, dialog, outcome };
}

describe('UAC dialog creation (RFC 3261 §12.1.2)', () => {
  test('a 180 with a To tag creates an early dialog that the 200 confirms', () => {
    const invite = inviteToAlice();
    const ringing = fromAlice({ status: 180, reason: 'Ringing' });
    const { dialog, outcome } = SessionDialog.uac(invite, ringing, { clock: new ManualClock() });
    assert.equal(dialog.state, 'early');
    assert.deepEqual(outcome, { kind: 'provisional', reliability: 'unreliable' });
    assert.deepEqual(dialog.id, { callId: CALL_ID, localTag: LOCAL_TAG, remoteTag: 'as83kd9bs' });
    assert.equal(dialog.role, 'uac');
    assert.equal(dialog.localCSeq, 314159);
    assert.equal(dialog.remoteCSeq, undefined);
    assert.equal(dialog.localUri.toString(), 'sip:ctd@ctd.example.com');
    assert.equal(dialog.remoteUri.toString(), 'sip:alice@example.com');
    assert.equal(dialog.remoteTarget.toString(), ALICE_CONTACT);
    assert.equal(dialog.secure, false);

    const ok = fromAlice({ status: 200, reason: 'OK', contact: '<sip:alice@192.0.2.11:5062>', body: sdp(1, '192.0.2.10') });
    assert.deepEqual(dialog.receiveResponse(ok), { kind: 'success', ackRequired: true });
    assert.equal(dialog.state, 'confirmed');
    assert.equal(dialog.remoteTarget.toString(), 'sip:alice@192.0.2.11:5062', 'the 2xx Contact replaces the 1xx one');
  });

  test('a 200 creates a confirmed dialog directly', () => {
    const { dialog, outcome } = established();
    assert.equal(dialog.state, 'confirmed');
    assert.deepEqual(outcome, { kind: 'success', ackRequired: true });
    assert.equal(dialog.offerAnswer.state, 'stable', 'the 200 answered the INVITE offer');
  });

  test('a 1xx without To tag or a 100 creates no dialog', () => {
    const invite = inviteToAlice();
    for (const response of [fromAlice({ status: 180, reason: 'Ringing', toTag: undefined }), fromAlice({ status: 100, reason: 'Trying', toTag: undefined })]) {
      assert.throws(() => SessionDialog.uac(invite, response, { clock: new ManualClock() }), (e: unknown) => e instanceof DialogError && e.code === 'NOT_DIALOG_CREATING');
    }
  });

  test('a sips: Request-URI makes the dialog secure', () => {
    const invite = inviteToAlice();
    invite.uri = parseUri('sips:alice@example.com');
    const { dialog } = SessionDialog.uac(invite, fromAlice({ status: 200, reason: 'OK' }), { clock: new ManualClock() });
    assert.equal(dialog.secure, true);
  });

  test('the route set is the Record-Route reversed, and the 2xx recomputes it', () => {
    const invite = inviteToAlice();
    const ringing = fromAlice({ status: 180, reason: 'Ringing', recordRoute: '<sip:p1.example.com;lr>' });
    const { dialog } = SessionDialog.uac(invite, ringing, { clock: new ManualClock() });
    assert.deepEqual(dialog.routeSet.map(String), ['<sip:p1.example.com;lr>']);
    dialog.receiveResponse(fromAlice({ status: 200, reason: 'OK', body: sdp(1) }));
    assert.deepEqual(dialog.routeSet.map(String), ['<sip:p1.example.com;lr>', '<sip:p2.example.net;lr>']);
  });
});

describe('in-dialog requests (RFC 3261 §12.2.1.1)', () => {
  test('a BYE over loose routers: Request-URI is the remote target, Route is the route set, next hop the first route', () => {
    const { dialog } = established();
    const { request, nextHop } = dialog.createRequest('BYE');
    assert.equal(request.method, 'BYE');
    assert.equal(request.requestUri, ALICE_CONTACT);
    assert.deepEqual(request.headerValues('route'), ['<sip:p1.example.com;lr>', '<sip:p2.example.net;lr>']);
    assert.equal(nextHop.toString(), 'sip:p1.example.com;lr');
    assert.equal(request.header('to'), '"Alice" <sip:alice@example.com>;tag=as83kd9bs');
    assert.equal(request.header('from'), `"Click to Dial" <sip:ctd@ctd.example.com>;tag=${LOCAL_TAG}`);
    assert.equal(request.callId, CALL_ID);
    assert.deepEqual(request.cseq, { seq: 314160, method: 'BYE' });
    assert.equal(request.maxForwards, 70);
    assert.equal(request.header('contact'), undefined, 'BYE is no target refresh');
    assert.equal(request.header('via'), undefined, 'the transaction layer adds Via');
    assert.equal(dialog.state, 'terminated', 'RFC 3261 §15.1.1: the dialog ends once BYE is sent');
    assert.throws(() => dialog.createRequest('INFO', { body: 'x', contentType: 'text/plain' }), (e: unknown) => e instanceof DialogError && e.code === 'DIALOG_TERMINATED');
  });

  test('a strict router gets the Request-URI and the remote target goes last in Route', () => {
    const { dialog } = established({ recordRoute: '<sip:p2.example.net;lr>, <sip:p1.example.com;method=INVITE>' });
    const { request, nextHop } = dialog.createRequest('BYE');
    assert.equal(request.requestUri, 'sip:p1.example.com', 'parameters a Request-URI may not carry are stripped');
    assert.deepEqual(request.headerValues('route'), ['<sip:p2.example.net;lr>', `<${ALICE_CONTACT}>`]);
    assert.equal(nextHop.toString(), 'sip:p1.example.com');
  });

  test('without a route set the request goes straight to the remote target', () => {
    const { dialog } = established({ recordRoute: undefined });
    const { request, nextHop } = dialog.createRequest('OPTIONS');
    assert.equal(request.requestUri, ALICE_CONTACT);
    assert.equal(request.header('route'), undefined);
    assert.equal(nextHop.toString(), ALICE_CONTACT);
  });

  test('each request takes the next CSeq and carries what its method needs', () => {
    const { dialog } = established();
    dialog.createAck();
    const info = dialog.createRequest('INFO', { body: 'Signal=5\r\nDuration=160\r\n', contentType: 'application/dtmf-relay' }).request;
    assert.deepEqual(info.cseq, { seq: 314160, method: 'INFO' });
    assert.equal(info.header('content-type'), 'application/dtmf-relay');
    assert.equal(info.body.toString(), 'Signal=5\r\nDuration=160\r\n');

    const options = dialog.createRequest('OPTIONS', { headers: [['Accept', 'application/sdp']] }).request;
    assert.deepEqual(options.cseq, { seq: 314161, method: 'OPTIONS' });
    assert.equal(options.header('accept'), 'application/sdp');

    const refer = dialog.createRequest('REFER', { headers: [['Refer-To', '<sip:bob@example.org>'], ['Referred-By', '<sip:ctd@ctd.example.com>']] }).request;
    assert.deepEqual(refer.cseq, { seq: 314162, method: 'REFER' });
    assert.equal(refer.header('refer-to'), '<sip:bob@example.org>');
    assert.equal(refer.header('contact'), '<sip:ctd@10.0.0.1:5060>');

    const update = dialog.createRequest('UPDATE', { body: sdp(2) }).request;
    assert.deepEqual(update.cseq, { seq: 314163, method: 'UPDATE' });
    assert.equal(update.header('contact'), '<sip:ctd@10.0.0.1:5060>', 'UPDATE is a target refresh (RFC 3311 §5.1)');
    assert.equal(update.header('content-type'), 'application/sdp');
    assert.equal(dialog.offerAnswer.state, 'local-offer');
    dialog.receiveResponse(fromAlice({ status: 200, reason: 'OK', cseq: 314163, method: 'UPDATE', body: sdp(2, '192.0.2.10') }));
    assert.equal(dialog.offerAnswer.state, 'stable');

    const reinvite = dialog.createRequest('INVITE', { body: sdp(3) }).request;
    assert.deepEqual(reinvite.cseq, { seq: 314164, method: 'INVITE' });
    assert.equal(reinvite.header('contact'), '<sip:ctd@10.0.0.1:5060>');
    assert.ok(reinvite.header('allow')?.includes('UPDATE'));
    assert.ok(reinvite.optionTags('supported').includes('timer'));
    assert.equal(dialog.localCSeq, 314164);

    const notify = () => dialog.createRequest('NOTIFY', { body: 'SIP/2.0 200 OK\r\n', contentType: 'message/sipfrag' });
    assert.throws(notify, (e: unknown) => e instanceof DialogError && e.code === 'MISSING_HEADER');
    assert.throws(() => dialog.createRequest('REFER'), (e: unknown) => e instanceof DialogError && e.code === 'MISSING_HEADER');
    assert.throws(() => dialog.createRequest('INFO', { headers: [['Call-ID', 'other']] }), (e: unknown) => e instanceof DialogError && e.code === 'DIALOG_HEADER');
    assert.throws(() => dialog.createRequest('INFO', { body: 'x' }), (e: unknown) => e instanceof DialogError && e.code === 'MISSING_HEADER');
  });

  test('a NOTIFY carries Event, Subscription-State and our Contact', () => {
    const { dialog } = established();
    const { request } = dialog.createRequest('NOTIFY', {
      headers: [['Event', 'refer;id=93809824'], ['Subscription-State', 'terminated;reason=noresource']],
      body: 'SIP/2.0 200 OK\r\n',
      contentType: 'message/sipfrag;version=2.0',
    });
    assert.equal(request.header('event'), 'refer;id=93809824');
    assert.equal(request.header('subscription-state'), 'terminated;reason=noresource');
    assert.equal(request.header('contact'), '<sip:ctd@10.0.0.1:5060>');
    assert.equal(request.contentType, 'message/sipfrag');
  });

  test('a second re-INVITE waits until the first is over (RFC 3261 §14.1)', () => {
    const { dialog } = established();
    dialog.createAck();
    dialog.createRequest('INVITE', { body: sdp(2) });
    assert.throws(() => dialog.createRequest('INVITE'), (e: unknown) => e instanceof DialogError && e.code === 'INVITE_IN_PROGRESS');
    assert.throws(() => dialog.createRequest('UPDATE', { body: sdp(3) }), (e: unknown) => e instanceof DialogError && e.code === 'OFFER_PENDING');
  });
});

describe('ACK for a 2xx (RFC 3261 §13.2.2.4)', () => {
  test('the ACK takes the INVITE CSeq number, is routed like any request and is re-sent for each 2xx retransmission', () => {
    const { dialog, ok } = established();
    const first = dialog.createAck();
    assert.equal(first.request.method, 'ACK');
    assert.deepEqual(first.request.cseq, { seq: 314159, method: 'ACK' });
    assert.equal(first.request.requestUri, ALICE_CONTACT);
    assert.deepEqual(first.request.headerValues('route'), ['<sip:p1.example.com;lr>', '<sip:p2.example.net;lr>']);
    assert.equal(first.nextHop.toString(), 'sip:p1.example.com;lr');
    assert.equal(first.request.body.length, 0);
    // The core adds the Via once; the retransmission gives back the same ACK with it.
    first.request.prependHeader('via', 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKack1');
    const again = dialog.receiveResponse(ok);
    assert.equal(again.kind, 'retransmission');
    assert.equal(again.kind === 'retransmission' && again.ack, first);
    assert.equal(serializeMessage(first.request).toString(), serializeMessage(dialog.createAck().request).toString());
    assert.equal(dialog.localCSeq, 314159, 'the ACK takes no new CSeq');
  });

  test('for a late offer the ACK must carry the answer', () => {
    const { dialog } = established({ withOffer: false, body: sdp(1, '192.0.2.10') });
    assert.equal(dialog.offerAnswer.state, 'remote-offer', 'the 2xx to an INVITE without SDP carries the offer');
    assert.throws(() => dialog.createAck(), (e: unknown) => e instanceof DialogError && e.code === 'ANSWER_REQUIRED');
    const { request } = dialog.createAck({ body: sdp(1, '198.51.100.7') });
    assert.equal(request.header('content-type'), 'application/sdp');
    assert.ok(request.body.toString().includes('198.51.100.7'));
    assert.equal(dialog.offerAnswer.state, 'stable');
  });

  test('a re-INVITE without SDP (RFC 3725 flow I) gets the offer in the 2xx and sends the answer in the ACK', () => {
    const { dialog } = established();
    dialog.createAck();
    const { request } = dialog.createRequest('INVITE');
    assert.equal(request.body.length, 0);
    assert.equal(dialog.offerAnswer.state, 'stable');
    const offer = fromAlice({ status: 200, reason: 'OK', cseq: request.cseq.seq, body: sdp(7, '192.0.2.10') });
    dialog.receiveResponse(offer);
    assert.equal(dialog.offerAnswer.state, 'remote-offer');
    assert.throws(() => dialog.createRequest('UPDATE', { body: sdp(8) }), (e: unknown) => e instanceof DialogError && e.code === 'OFFER_PENDING');
    const ack = dialog.createAck({ body: sdp(8, '198.51.100.7') }).request;
    assert.deepEqual(ack.cseq, { seq: request.cseq.seq, method: 'ACK' });
    assert.equal(dialog.offerAnswer.state, 'stable');
    assert.ok(dialog.offerAnswer.canSendInvite());
  });

  test('nothing to ACK before a 2xx', () => {
    const { dialog } = SessionDialog.uac(inviteToAlice(), fromAlice({ status: 180, reason: 'Ringing' }), { clock: new ManualClock() });
    assert.throws(() => dialog.createAck(), (e: unknown) => e instanceof DialogError && e.code === 'NOTHING_TO_ACK');
  });
});

describe('target refresh (RFC 3261 §12.2.1.2)', () => {
  test('the 2xx to our re-INVITE replaces the remote target; the route set stays', () => {
    const { dialog } = established();
    dialog.createAck();
    const { request } = dialog.createRequest('INVITE', { body: sdp(2) });
    const moved = fromAlice({ status: 200, reason: 'OK', cseq: request.cseq.seq, contact: '<sip:alice@203.0.113.9:5080>', recordRoute: '<sip:p9.example.org;lr>', body: sdp(2, '203.0.113.9') });
    assert.deepEqual(dialog.receiveResponse(moved), { kind: 'success', ackRequired: true });
    assert.equal(dialog.remoteTarget.toString(), 'sip:alice@203.0.113.9:5080');
    assert.deepEqual(dialog.routeSet.map(String), ['<sip:p1.example.com;lr>', '<sip:p2.example.net;lr>']);
    const ack = dialog.createAck().request;
    assert.deepEqual(ack.cseq, { seq: request.cseq.seq, method: 'ACK' });
    assert.equal(ack.requestUri, 'sip:alice@203.0.113.9:5080');
    assert.equal(dialog.createRequest('BYE').request.requestUri, 'sip:alice@203.0.113.9:5080');
  });

  test('a failed re-INVITE leaves the session as it was (RFC 3261 §14.1)', () => {
    const { dialog } = established();
    dialog.createAck();
    const { request } = dialog.createRequest('INVITE', { body: sdp(2) });
    const refused = fromAlice({ status: 488, reason: 'Not Acceptable Here', cseq: request.cseq.seq, contact: undefined });
    assert.deepEqual(dialog.receiveResponse(refused), { kind: 'failure', status: 488 });
    assert.equal(dialog.state, 'confirmed');
    assert.equal(dialog.offerAnswer.state, 'stable');
    assert.ok(dialog.offerAnswer.canSendInvite());
    assert.equal(dialog.remoteTarget.toString(), ALICE_CONTACT);
  });

  test('481 or 408 to an in-dialog request ends the dialog', () => {
    for (const [status, reason] of [[481, 'Call/Transaction Does Not Exist'], [408, 'Request Timeout']] as const) {
      const { dialog } = established();
      dialog.createAck();
      const { request } = dialog.createRequest('OPTIONS');
      const outcome = dialog.receiveResponse(fromAlice({ status, reason, cseq: request.cseq.seq, method: 'OPTIONS', contact: undefined }));
      assert.deepEqual(outcome, { kind: 'terminated', status });
      assert.equal(dialog.state, 'terminated');
    }
  });

  test('a non-2xx final response ends the early dialog (RFC 3261 §12.3)', () => {
    const { dialog } = SessionDialog.uac(inviteToAlice(), fromAlice({ status: 180, reason: 'Ringing' }), { clock: new ManualClock() });
    const busy = fromAlice({ status: 486, reason: 'Busy Here', contact: undefined });
    assert.deepEqual(dialog.receiveResponse(busy), { kind: 'terminated', status: 486 });
    assert.equal(dialog.state, 'terminated');
  });
});
