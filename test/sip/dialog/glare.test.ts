import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../../src/sip/clock.js';
import { glareRetryDelay, retryAfterSeconds, SessionDialog } from '../../../src/sip/dialog/index.js';
import { ALICE_CONTACT, fromAlice, inviteToAlice, parseRequest, requestFromAlice, sdp } from './fixtures.js';

function confirmed(random?: () => number) {
  const clock = new ManualClock();
  const { dialog } = SessionDialog.uac(inviteToAlice(), fromAlice({ status: 200, reason: 'OK', body: sdp(1, '192.0.2.10') }), { clock, ...(random ? { random } : {}) });
  dialog.createAck();
  return { dialog, clock };
}

describe('crossing re-INVITEs (RFC 3261 §14.1, §14.2)', () => {
  test('a re-INVITE that arrives while ours is pending is answered 491', () => {
    const { dialog } = confirmed();
    dialog.createRequest('INVITE', { body: sdp(2) });
    const theirs = requestFromAlice({ method: 'INVITE', cseq: 10, body: sdp(2, '192.0.2.10') });
    const verdict = dialog.receiveRequest(theirs);
    assert.equal(verdict.kind, 'reject');
    assert.equal(verdict.kind === 'reject' && verdict.response.status, 491);
    assert.equal(verdict.kind === 'reject' && verdict.response.reason, 'Request Pending');
    assert.equal(dialog.remoteTarget.toString(), ALICE_CONTACT);
    assert.equal(dialog.offerAnswer.state, 'local-offer', 'our offer is still the outstanding one');
  });

  test('a re-INVITE before the ACK of the previous one gets 500 with Retry-After 0–10 s', () => {
    const { dialog } = confirmed(() => 0.99);
    const first = requestFromAlice({ method: 'INVITE', cseq: 10, body: sdp(2, '192.0.2.10') });
    dialog.receiveRequest(first);
    const second = requestFromAlice({ method: 'INVITE', cseq: 11, body: sdp(3, '192.0.2.10') });
    const beforeFinal = dialog.receiveRequest(second);
    assert.equal(beforeFinal.kind === 'reject' && beforeFinal.response.status, 500);
    dialog.createResponse(first, 200, { body: sdp(2) });
    const third = requestFromAlice({ method: 'INVITE', cseq: 12, body: sdp(3, '192.0.2.10') });
    const beforeAck = dialog.receiveRequest(third);
    assert.equal(beforeAck.kind, 'reject');
    if (beforeAck.kind !== 'reject') return;
    assert.equal(beforeAck.response.status, 500);
    assert.equal(beforeAck.response.header('retry-after'), '10');
    const ack = parseRequest(`
      ACK sip:ctd@10.0.0.1:5060 SIP/2.0
      Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-ack10
      Max-Forwards: 70
      To: <sip:ctd@ctd.example.com>;tag=${dialog.localTag}
      From: <sip:alice@example.com>;tag=${dialog.remoteTag}
      Call-ID: ${dialog.callId}
      CSeq: 10 ACK
    `);
    dialog.receiveRequest(ack);
    assert.deepEqual(dialog.receiveRequest(requestFromAlice({ method: 'INVITE', cseq: 13, body: sdp(4, '192.0.2.10') })), { kind: 'accept' });
  });

  test('an UPDATE offer against our outstanding offer gets 491, against their unanswered one 500 (RFC 3311 §5.2)', () => {
    const { dialog } = confirmed();
    dialog.createRequest('UPDATE', { body: sdp(2) });
    const crossing = dialog.receiveRequest(requestFromAlice({ method: 'UPDATE', cseq: 20, body: sdp(2, '192.0.2.10') }));
    assert.equal(crossing.kind === 'reject' && crossing.response.status, 491);
    assert.deepEqual(dialog.receiveRequest(requestFromAlice({ method: 'UPDATE', cseq: 21 })), { kind: 'accept' }, 'an UPDATE without offer is fine');

    const other = confirmed().dialog;
    other.receiveRequest(requestFromAlice({ method: 'UPDATE', cseq: 30, body: sdp(2, '192.0.2.10') }));
    const second = other.receiveRequest(requestFromAlice({ method: 'UPDATE', cseq: 31, body: sdp(3, '192.0.2.10') }));
    assert.equal(second.kind === 'reject' && second.response.status, 500);
    assert.ok(second.kind === 'reject' && second.response.hasHeader('retry-after'));
  });

  test('our re-INVITE answered 491 is retried after the owner delay, through the clock', () => {
    const { dialog, clock } = confirmed(() => 0.5);
    const { request } = dialog.createRequest('INVITE', { body: sdp(2) });
    const outcome = dialog.receiveResponse(fromAlice({ status: 491, reason: 'Request Pending', cseq: request.cseq.seq, contact: undefined }));
    assert.deepEqual(outcome, { kind: 'glare' });
    assert.equal(dialog.state, 'confirmed');
    assert.equal(dialog.offerAnswer.state, 'stable', 'the rejected offer is withdrawn');
    assert.ok(dialog.offerAnswer.canSendInvite());

    const resent: number[] = [];
    const delay = dialog.scheduleGlareRetry(() => resent.push(dialog.createRequest('INVITE', { body: sdp(2) }).request.cseq.seq));
    assert.equal(delay, 3050, 'owner: 2.1 s + 0.5 × 1.9 s, in 10 ms units');
    assert.ok(dialog.glareRetryPending);
    clock.advance(delay - 1);
    assert.deepEqual(resent, []);
    clock.advance(1);
    assert.deepEqual(resent, [request.cseq.seq + 1]);
    assert.equal(dialog.glareRetryPending, false);
  });

  test('a retry that falls due after the dialog ended is not sent', () => {
    const { dialog, clock } = confirmed();
    const { request } = dialog.createRequest('INVITE', { body: sdp(2) });
    dialog.receiveResponse(fromAlice({ status: 491, reason: 'Request Pending', cseq: request.cseq.seq, contact: undefined }));
    let retried = false;
    dialog.scheduleGlareRetry(() => (retried = true));
    dialog.createRequest('BYE');
    clock.advance(5000);
    assert.equal(retried, false);
    assert.equal(clock.pendingTimers, 0);
  });

  test('the UAS side (not the Call-ID owner) waits 0–2 s', () => {
    const invite = parseRequest(
      `
      INVITE sip:ctd@10.0.0.1:5060 SIP/2.0
      Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-in
      Max-Forwards: 70
      To: <sip:ctd@ctd.example.com>
      From: <sip:alice@example.com>;tag=a1
      Call-ID: theirs@example.com
      CSeq: 1 INVITE
      Contact: <${ALICE_CONTACT}>
      Content-Type: application/sdp
    `,
      sdp(1, '192.0.2.10'),
    );
    const dialog = SessionDialog.uas(invite, { clock: new ManualClock(), localContact: '<sip:ctd@10.0.0.1>', random: () => 0.999999 });
    assert.equal(dialog.scheduleGlareRetry(() => undefined), 2000);
  });
});

describe('glare retry delays (RFC 3261 §14.1)', () => {
  test('stay within 2.1–4 s for the Call-ID owner and 0–2 s otherwise, in 10 ms units', () => {
    assert.equal(glareRetryDelay(true, () => 0), 2100);
    assert.equal(glareRetryDelay(true, () => 0.999999), 4000);
    assert.equal(glareRetryDelay(false, () => 0), 0);
    assert.equal(glareRetryDelay(false, () => 0.999999), 2000);
    for (let i = 0; i < 2000; i++) {
      const owner = glareRetryDelay(true);
      const other = glareRetryDelay(false);
      assert.ok(owner >= 2100 && owner <= 4000 && owner % 10 === 0, `owner ${owner}`);
      assert.ok(other >= 0 && other <= 2000 && other % 10 === 0, `non-owner ${other}`);
    }
  });

  test('Retry-After stays within 0–10 s (RFC 3261 §14.2)', () => {
    assert.equal(retryAfterSeconds(() => 0), 0);
    assert.equal(retryAfterSeconds(() => 0.999999), 10);
    for (let i = 0; i < 500; i++) {
      const value = retryAfterSeconds();
      assert.ok(Number.isInteger(value) && value >= 0 && value <= 10);
    }
  });
});
