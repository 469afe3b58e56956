// The ACK of a non-2xx (RFC 3261 §17.1.1.3) and the CANCEL (§9.1) built from the INVITE, and the
// transaction keys (§17.1.3, §17.2.3).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseMessage, serializeMessage, validateMessage, type SipRequest } from '../../../src/sip/message/index.js';
import { clientKeyOfRequest, clientKeyOfResponse, createCancel, createNon2xxAck, serverKeyOfRequest } from '../../../src/sip/transaction/index.js';
import { BRANCH, CALL_ID, FROM_TAG, incomingRequest, outgoingInvite, responseTo } from './fixtures.js';

/** Our INVITE as a proxy would have it: our Via on top of another one. */
function inviteWithTwoVias(): SipRequest {
  const invite = outgoingInvite();
  invite.addHeader('via', 'SIP/2.0/UDP 10.0.0.99:5060;branch=z9hG4bKdownstream');
  return invite;
}

describe('createNon2xxAck (§17.1.1.3)', () => {
  test("the non-2xx ACK has the INVITE's Request-URI, top Via only, Route set, CSeq number with ACK and the To tag of the response", () => {
    const invite = inviteWithTwoVias();
    const busy = responseTo(invite, 486, 'busy-tag-9');
    const ack = createNon2xxAck(invite, busy);
    assert.equal(ack.method, 'ACK');
    assert.equal(ack.requestUri, 'sip:bob@biloxi.example.com');
    assert.deepEqual(ack.headerValues('via'), ['SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKnashds8;rport']);
    assert.deepEqual(ack.headerValues('route'), ['<sip:p1.example.com;lr>', '<sip:p2.example.net;lr>']);
    assert.deepEqual(ack.cseq, { seq: 314159, method: 'ACK' });
    assert.equal(ack.to.tag, 'busy-tag-9');
    assert.equal(ack.header('to'), 'Bob <sip:bob@biloxi.example.com>;tag=busy-tag-9');
    assert.equal(ack.header('from'), invite.header('from'));
    assert.equal(ack.from.tag, FROM_TAG);
    assert.equal(ack.callId, CALL_ID);
    assert.equal(ack.maxForwards, 70);
    assert.equal(ack.body.length, 0);
    assert.equal(ack.header('content-type'), undefined);
  });

  test('the ACK takes its Via from the INVITE, not from the response (no received/rport the peer stamped)', () => {
    const invite = outgoingInvite();
    const response = responseTo(invite, 503);
    response.setHeader('via', 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKnashds8;rport=5061;received=203.0.113.9');
    const ack = createNon2xxAck(invite, response);
    assert.equal(ack.header('via'), 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKnashds8;rport');
  });

  test('the ACK is a valid request on the wire', () => {
    const invite = outgoingInvite();
    const ack = createNon2xxAck(invite, responseTo(invite, 404));
    const again = parseMessage(serializeMessage(ack)) as SipRequest;
    assert.doesNotThrow(() => validateMessage(again));
    assert.equal(again.startLine(), 'ACK sip:bob@biloxi.example.com SIP/2.0');
    assert.equal(again.header('content-length'), '0');
  });

  test('an INVITE without Route gives an ACK without Route', () => {
    const invite = outgoingInvite();
    invite.removeHeader('route');
    const ack = createNon2xxAck(invite, responseTo(invite, 480));
    assert.equal(ack.hasHeader('route'), false);
  });
});

describe('createCancel (§9.1)', () => {
  test('the CANCEL keeps the top Via branch and copies Request-URI, Call-ID, To, From, CSeq number and Routes', () => {
    const invite = inviteWithTwoVias();
    const cancel = createCancel(invite);
    assert.equal(cancel.method, 'CANCEL');
    assert.equal(cancel.requestUri, invite.requestUri);
    assert.deepEqual(cancel.headerValues('via'), ['SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKnashds8;rport']);
    assert.equal(cancel.topVia.branch, BRANCH);
    assert.equal(cancel.header('to'), 'Bob <sip:bob@biloxi.example.com>');
    assert.equal(cancel.to.tag, undefined);
    assert.equal(cancel.header('from'), invite.header('from'));
    assert.equal(cancel.callId, CALL_ID);
    assert.deepEqual(cancel.cseq, { seq: 314159, method: 'CANCEL' });
    assert.deepEqual(cancel.headerValues('route'), ['<sip:p1.example.com;lr>', '<sip:p2.example.net;lr>']);
    assert.equal(cancel.maxForwards, 70);
    assert.equal(cancel.body.length, 0);
    assert.equal(cancel.hasHeader('reason'), false);
    assert.doesNotThrow(() => validateMessage(parseMessage(serializeMessage(cancel))));
  });

  test('a Reason (RFC 3326) is added when given', () => {
    const cancel = createCancel(outgoingInvite(), 'SIP;cause=600;text="Busy Everywhere"');
    assert.deepEqual(cancel.headerValues('reason'), ['SIP;cause=600;text="Busy Everywhere"']);
  });
});

describe('transaction keys', () => {
  test('§17.1.3: a response matches its request by top Via branch and CSeq method; the CANCEL and its INVITE do not collide', () => {
    const invite = outgoingInvite();
    const cancel = createCancel(invite);
    assert.equal(clientKeyOfResponse(responseTo(invite, 180)), clientKeyOfRequest(invite));
    assert.equal(clientKeyOfResponse(responseTo(cancel, 200)), clientKeyOfRequest(cancel));
    assert.notEqual(clientKeyOfRequest(cancel), clientKeyOfRequest(invite));
    assert.notEqual(clientKeyOfResponse(responseTo(outgoingInvite({ branch: 'z9hG4bKother' }), 180)), clientKeyOfRequest(invite));
  });

  test('a response without a branch has no client key', () => {
    const invite = outgoingInvite();
    const response = responseTo(invite, 200);
    response.setHeader('via', 'SIP/2.0/UDP 10.0.0.1:5060');
    assert.equal(clientKeyOfResponse(response), undefined);
  });

  test('§17.2.3: an ACK maps to its INVITE’s server key; a CANCEL only when asked for as INVITE', () => {
    const invite = incomingRequest();
    const ack = incomingRequest({ method: 'ACK', toTag: 'x' });
    const cancel = incomingRequest({ method: 'CANCEL' });
    assert.equal(serverKeyOfRequest(ack), serverKeyOfRequest(invite));
    assert.notEqual(serverKeyOfRequest(cancel), serverKeyOfRequest(invite));
    assert.equal(serverKeyOfRequest(cancel, 'INVITE'), serverKeyOfRequest(invite));
  });

  test('§17.2.3: the sent-by is part of the key (host case-insensitive, port significant)', () => {
    const invite = incomingRequest({ sentBy: 'Phone.Biloxi.Example.com:5060' });
    assert.equal(serverKeyOfRequest(incomingRequest({ sentBy: 'phone.biloxi.example.com:5060' })), serverKeyOfRequest(invite));
    assert.notEqual(serverKeyOfRequest(incomingRequest({ sentBy: 'phone.biloxi.example.com:5070' })), serverKeyOfRequest(invite));
  });

  test('a branch without the magic cookie falls back to RFC 2543 matching: CSeq number, Call-ID, From tag, Request-URI and top Via each count', () => {
    const base = { branch: '1234' } as const;
    const key = serverKeyOfRequest(incomingRequest(base));
    assert.equal(serverKeyOfRequest(incomingRequest(base)), key);
    assert.notEqual(serverKeyOfRequest(incomingRequest({ ...base, cseq: 2 })), key);
    assert.notEqual(serverKeyOfRequest(incomingRequest({ ...base, callId: 'other@192.0.2.20' })), key);
    assert.notEqual(serverKeyOfRequest(incomingRequest({ ...base, fromTag: 'other' })), key);
    assert.notEqual(serverKeyOfRequest(incomingRequest({ ...base, requestUri: 'sip:other@10.0.0.1:5060' })), key);
    assert.notEqual(serverKeyOfRequest(incomingRequest({ ...base, branch: '5678' })), key);
    // with the cookie, only branch, sent-by and method count
    const cookie = serverKeyOfRequest(incomingRequest({ branch: 'z9hG4bK1234' }));
    assert.equal(serverKeyOfRequest(incomingRequest({ branch: 'z9hG4bK1234', cseq: 2, callId: 'other@x' })), cookie);
  });

  test('RFC 2543: an ACK without a branch has the key of its INVITE', () => {
    const invite = incomingRequest({ branch: null });
    const ack = incomingRequest({ method: 'ACK', branch: null, toTag: 'ctd-tag-1' });
    assert.equal(serverKeyOfRequest(ack), serverKeyOfRequest(invite));
  });
});
