import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../../src/sip/clock.js';
import { DialogError, SessionDialog } from '../../../src/sip/dialog/index.js';
import { ALICE_CONTACT, CALL_ID, fromAlice, inviteToAlice, parseRequest, requestFromAlice, sdp } from './fixtures.js';

function confirmedAndAcked() {
  const { dialog } = SessionDialog.uac(inviteToAlice(), fromAlice({ status: 200, reason: 'OK', body: sdp(1, '192.0.2.10') }), {
    clock: new ManualClock(),
    random: () => 0.5,
  });
  dialog.createAck();
  return dialog;
}

describe('remote CSeq (RFC 3261 §12.2.2)', () => {
  test('the first request sets the remote CSeq; a lower one is answered 500', () => {
    const dialog = confirmedAndAcked();
    assert.deepEqual(dialog.receiveRequest(requestFromAlice({ method: 'INFO', cseq: 20, body: 'Signal=1\r\n', contentType: 'application/dtmf-relay' })), { kind: 'accept' });
    assert.equal(dialog.remoteCSeq, 20);
    const late = requestFromAlice({ method: 'INFO', cseq: 19, body: 'Signal=2\r\n', contentType: 'application/dtmf-relay' });
    const verdict = dialog.receiveRequest(late);
    assert.equal(verdict.kind, 'reject');
    assert.equal(verdict.kind === 'reject' && verdict.response.status, 500);
    assert.equal(verdict.kind === 'reject' && verdict.response.header('to'), late.header('to'));
    assert.equal(dialog.remoteCSeq, 20, 'an out-of-order request does not move the remote CSeq');
  });

  test('a request with the same CSeq as the last is not new either', () => {
    const dialog = confirmedAndAcked();
    dialog.receiveRequest(requestFromAlice({ method: 'OPTIONS', cseq: 7, contact: undefined }));
    const verdict = dialog.receiveRequest(requestFromAlice({ method: 'OPTIONS', cseq: 7, contact: undefined }));
    assert.equal(verdict.kind === 'reject' && verdict.response.status, 500);
  });

  test('CSeq may jump by more than one', () => {
    const dialog = confirmedAndAcked();
    dialog.receiveRequest(requestFromAlice({ method: 'OPTIONS', cseq: 7, contact: undefined }));
    assert.deepEqual(dialog.receiveRequest(requestFromAlice({ method: 'OPTIONS', cseq: 4711, contact: undefined })), { kind: 'accept' });
  });

  test('ACK and CANCEL are exempt from the CSeq check', () => {
    const dialog = confirmedAndAcked();
    dialog.receiveRequest(requestFromAlice({ method: 'OPTIONS', cseq: 30, contact: undefined }));
    const cancel = requestFromAlice({ method: 'CANCEL', cseq: 3, contact: undefined });
    assert.deepEqual(dialog.receiveRequest(cancel), { kind: 'accept' });
    const ack = parseRequest(`
      ACK sip:ctd@10.0.0.1:5060 SIP/2.0
      Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-old-ack
      Max-Forwards: 70
      To: <sip:ctd@ctd.example.com>;tag=${dialog.localTag}
      From: <sip:alice@example.com>;tag=${dialog.remoteTag}
      Call-ID: ${CALL_ID}
      CSeq: 3 ACK
    `);
    assert.deepEqual(dialog.receiveRequest(ack), { kind: 'ignore' }, 'dropped, never answered 500');
    assert.equal(dialog.remoteCSeq, 30);
  });

  test('a request for another dialog is a programming error', () => {
    const dialog = confirmedAndAcked();
    assert.throws(() => dialog.receiveRequest(requestFromAlice({ method: 'BYE', cseq: 9, fromTag: 'other-fork' })), (e: unknown) => e instanceof DialogError && e.code === 'NOT_IN_DIALOG');
  });
});

describe('answering in-dialog requests', () => {
  test('BYE ends the dialog and is answered 200 with the dialog tags', () => {
    const dialog = confirmedAndAcked();
    const bye = requestFromAlice({ method: 'BYE', cseq: 231, contact: undefined });
    assert.deepEqual(dialog.receiveRequest(bye), { kind: 'accept' });
    assert.equal(dialog.state, 'terminated');
    const ok = dialog.createResponse(bye, 200);
    assert.equal(ok.status, 200);
    assert.equal(ok.reason, 'OK');
    assert.deepEqual(ok.cseq, { seq: 231, method: 'BYE' });
    assert.equal(ok.to.tag, dialog.localTag);
    assert.equal(ok.from.tag, dialog.remoteTag);
    assert.equal(ok.vias.length, 2);
    assert.equal(ok.header('contact'), undefined);
    // A BYE retransmitted after the transaction is gone, or crossing ours, still gets 200.
    assert.deepEqual(dialog.receiveRequest(requestFromAlice({ method: 'BYE', cseq: 232, contact: undefined })), { kind: 'accept' });
    const info = requestFromAlice({ method: 'INFO', cseq: 233, body: 'x', contentType: 'text/plain' });
    const verdict = dialog.receiveRequest(info);
    assert.equal(verdict.kind === 'reject' && verdict.response.status, 481);
  });

  test('OPTIONS is answered 200 with Allow, Accept and Supported (RFC 3261 §11.2)', () => {
    const dialog = confirmedAndAcked();
    const options = requestFromAlice({ method: 'OPTIONS', cseq: 40, contact: undefined, extra: 'Accept: application/sdp' });
    assert.deepEqual(dialog.receiveRequest(options), { kind: 'accept' });
    const ok = dialog.createResponse(options, 200);
    assert.ok(ok.headerValues('allow').includes('INVITE'));
    assert.ok(ok.headerValues('allow').includes('UPDATE'));
    assert.deepEqual(ok.headerValues('accept'), ['application/sdp']);
    assert.deepEqual(ok.optionTags('supported'), ['100rel', 'timer']);
  });

  test('INFO is answered 200 without a body', () => {
    const dialog = confirmedAndAcked();
    const info = requestFromAlice({ method: 'INFO', cseq: 41, contact: undefined, body: 'Signal=#\r\nDuration=250\r\n', contentType: 'application/dtmf-relay' });
    dialog.receiveRequest(info);
    const ok = dialog.createResponse(info, 200);
    assert.equal(ok.status, 200);
    assert.equal(ok.body.length, 0);
    assert.equal(ok.header('content-type'), undefined);
  });

  test('an incoming re-INVITE refreshes the remote target and its 2xx carries our Contact and the answer', () => {
    const dialog = confirmedAndAcked();
    const reinvite = requestFromAlice({ method: 'INVITE', cseq: 50, contact: '<sip:alice@203.0.113.9:5080>', body: sdp(2, '203.0.113.9') });
    assert.deepEqual(dialog.receiveRequest(reinvite), { kind: 'accept' });
    assert.equal(dialog.remoteTarget.toString(), 'sip:alice@203.0.113.9:5080');
    assert.equal(dialog.offerAnswer.state, 'remote-offer');
    const ok = dialog.createResponse(reinvite, 200, { body: sdp(2) });
    assert.equal(ok.header('contact'), '<sip:ctd@10.0.0.1:5060>');
    assert.equal(ok.header('content-type'), 'application/sdp');
    assert.equal(ok.body.toString(), sdp(2));
    assert.ok(ok.header('allow')?.includes('INVITE'));
    assert.equal(dialog.offerAnswer.state, 'stable');
    assert.equal(dialog.offerAnswer.incomingInvite?.phase, 'awaiting-ack');
    const ack = parseRequest(`
      ACK sip:ctd@10.0.0.1:5060 SIP/2.0
      Via: SIP/2.0/UDP 203.0.113.9:5080;branch=z9hG4bK-ack50
      Max-Forwards: 70
      To: "Click to Dial" <sip:ctd@ctd.example.com>;tag=${dialog.localTag}
      From: Alice <sip:alice@example.com>;tag=${dialog.remoteTag}
      Call-ID: ${CALL_ID}
      CSeq: 50 ACK
    `);
    assert.deepEqual(dialog.receiveRequest(ack), { kind: 'accept' });
    assert.equal(dialog.offerAnswer.incomingInvite, undefined);
    assert.deepEqual(dialog.receiveRequest(ack), { kind: 'ignore' }, 'a retransmitted ACK is dropped');
    assert.equal(dialog.remoteCSeq, 50, 'ACK does not count in the remote CSeq');
  });

  test('an incoming UPDATE refreshes the remote target', () => {
    const dialog = confirmedAndAcked();
    const update = requestFromAlice({ method: 'UPDATE', cseq: 60, contact: '<sip:alice@198.51.100.2>' });
    assert.deepEqual(dialog.receiveRequest(update), { kind: 'accept' });
    assert.equal(dialog.remoteTarget.toString(), 'sip:alice@198.51.100.2');
    assert.equal(dialog.createResponse(update, 200).header('contact'), '<sip:ctd@10.0.0.1:5060>');
  });

  test('a re-INVITE without offer gets our offer in the 2xx and the answer in the ACK', () => {
    const dialog = confirmedAndAcked();
    const reinvite = requestFromAlice({ method: 'INVITE', cseq: 70 });
    dialog.receiveRequest(reinvite);
    dialog.createResponse(reinvite, 200, { body: sdp(5) });
    assert.equal(dialog.offerAnswer.state, 'local-offer');
    const ack = parseRequest(
      `
      ACK sip:ctd@10.0.0.1:5060 SIP/2.0
      Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-ack70
      Max-Forwards: 70
      To: "Click to Dial" <sip:ctd@ctd.example.com>;tag=${dialog.localTag}
      From: Alice <sip:alice@example.com>;tag=${dialog.remoteTag}
      Call-ID: ${CALL_ID}
      CSeq: 70 ACK
      Content-Type: application/sdp
    `,
      sdp(3, '192.0.2.10'),
    );
    dialog.receiveRequest(ack);
    assert.equal(dialog.offerAnswer.state, 'stable');
  });
});

describe('UAS dialog (RFC 3261 §12.1.1)', () => {
  const incomingInvite = () =>
    parseRequest(
      `
      INVITE sip:ctd@10.0.0.1:5060 SIP/2.0
      Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bK-p1-1
      Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-alice-1
      Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.net;lr>
      Max-Forwards: 69
      To: <sip:ctd@ctd.example.com>
      From: Alice <sip:alice@example.com>;tag=alice-tag
      Call-ID: incoming-1@example.com
      CSeq: 10 INVITE
      Contact: <${ALICE_CONTACT}>
      Content-Type: application/sdp
    `,
      sdp(1, '192.0.2.10'),
    );

  test('the route set is the Record-Route in order and the 2xx confirms the dialog', () => {
    const invite = incomingInvite();
    const dialog = SessionDialog.uas(invite, { clock: new ManualClock(), localContact: '<sip:ctd@10.0.0.1:5060>', localTag: 'ctd-uas' });
    assert.equal(dialog.state, 'early');
    assert.equal(dialog.role, 'uas');
    assert.deepEqual(dialog.routeSet.map(String), ['<sip:p1.example.com;lr>', '<sip:p2.example.net;lr>']);
    assert.equal(dialog.remoteCSeq, 10);
    assert.equal(dialog.localCSeq, undefined);
    assert.equal(dialog.remoteTarget.toString(), ALICE_CONTACT);
    assert.throws(() => dialog.createRequest('BYE'), (e: unknown) => e instanceof DialogError && e.code === 'BYE_ON_EARLY_DIALOG');

    const ringing = dialog.createResponse(invite, 180);
    assert.equal(ringing.to.tag, 'ctd-uas');
    assert.deepEqual(ringing.headerValues('record-route'), ['<sip:p1.example.com;lr>', '<sip:p2.example.net;lr>']);
    assert.equal(ringing.header('contact'), '<sip:ctd@10.0.0.1:5060>');
    const ok = dialog.createResponse(invite, 200, { body: sdp(1) });
    assert.equal(dialog.state, 'confirmed');
    assert.equal(ok.to.tag, 'ctd-uas');
    assert.equal(dialog.offerAnswer.state, 'stable');

    const { request, nextHop } = dialog.createRequest('BYE');
    assert.equal(request.requestUri, ALICE_CONTACT);
    assert.deepEqual(request.headerValues('route'), ['<sip:p1.example.com;lr>', '<sip:p2.example.net;lr>']);
    assert.equal(nextHop.host, 'p1.example.com');
    assert.equal(request.from.tag, 'ctd-uas');
    assert.equal(request.to.tag, 'alice-tag');
    assert.ok(request.cseq.seq >= 1 && request.cseq.seq < 2 ** 31);
  });

  test('a failure response ends the UAS dialog', () => {
    const invite = incomingInvite();
    const dialog = SessionDialog.uas(invite, { clock: new ManualClock(), localContact: '<sip:ctd@10.0.0.1:5060>' });
    dialog.createResponse(invite, 486);
    assert.equal(dialog.state, 'terminated');
  });
});
