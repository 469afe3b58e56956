// The transaction layer (RFC 3261 §17): client transactions for what the core sends, matching of
// everything received (§17.1.3, §17.2.3, the RFC 2543 fallback), absorption of retransmissions,
// and CANCEL pairing (§9.2).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createResponse, type SipRequest, type SipResponse } from '../../../src/sip/message/index.js';
import {
  InviteClientTransaction,
  InviteServerTransaction,
  NonInviteClientTransaction,
  NonInviteServerTransaction,
  TransactionLayer,
  type Received,
} from '../../../src/sip/transaction/index.js';
import {
  ClientTu,
  FakeTransport,
  harness,
  inbound,
  incomingRequest,
  outgoingInvite,
  outgoingRequest,
  overTheWire,
  responseTo,
  ServerTu,
  settle,
  TCP_BOB,
  UDP_BOB,
  type Harness,
  type IncomingOptions,
} from './fixtures.js';

interface Setup extends Harness {
  transport: FakeTransport;
  layer: TransactionLayer;
}

function setup(): Setup {
  const h = harness();
  const transport = new FakeTransport(h.net);
  const layer = new TransactionLayer({ transport, clock: h.clock });
  return { ...h, transport, layer };
}

function noCounts(): { clientInvite: number; clientNonInvite: number; serverInvite: number; serverNonInvite: number } {
  return { clientInvite: 0, clientNonInvite: 0, serverInvite: 0, serverNonInvite: 0 };
}

/** A request from Bob as the transport layer delivers it. */
function fromBob(s: Setup, options: IncomingOptions = {}, connectionId?: string): Received {
  const request = incomingRequest(options);
  return s.layer.receive(inbound(request, options.transport === 'TCP' ? 'tcp' : 'udp', connectionId));
}

function newRequest(received: Received): { request: SipRequest; transaction: InviteServerTransaction | NonInviteServerTransaction } {
  assert.equal(received.kind, 'request');
  if (received.kind !== 'request') throw new Error('unreachable');
  return { request: received.request, transaction: received.transaction };
}

function newInvite(s: Setup, options: IncomingOptions = {}): { request: SipRequest; ist: InviteServerTransaction } {
  const { request, transaction } = newRequest(fromBob(s, options));
  assert.ok(transaction instanceof InviteServerTransaction);
  return { request, ist: transaction };
}

function answer(request: SipRequest, status: number): SipResponse {
  return createResponse(request, status, undefined, 'ctd-tag-1');
}

describe('transaction layer: client transactions', () => {
  test('sendInvite adds a top Via with a new magic-cookie branch and sends the INVITE to the destination', () => {
    const s = setup();
    const invite = outgoingInvite({ noVia: true });
    const tu = new ClientTu(s.clock);
    const ict = s.layer.sendInvite(invite, UDP_BOB, tu);
    assert.ok(ict instanceof InviteClientTransaction);
    assert.equal(ict.state, 'calling');
    assert.deepEqual(invite.headerValues('via'), ['SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKlayer1;rport']);
    assert.equal(s.net.sent.length, 1);
    assert.equal(s.net.sent[0]?.message, invite);
    assert.deepEqual(s.net.sent[0]?.destination, UDP_BOB);
    assert.deepEqual(s.layer.counts, { ...noCounts(), clientInvite: 1 });

    const second = outgoingInvite({ noVia: true, cseq: 2 });
    s.layer.sendInvite(second, TCP_BOB, new ClientTu(s.clock));
    assert.deepEqual(second.headerValues('via'), ['SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bKlayer2;rport']);
  });

  test('sendInvite puts its Via above any Via already there', () => {
    const s = setup();
    const invite = outgoingInvite({ branch: 'z9hG4bKupstream' });
    s.layer.sendInvite(invite, UDP_BOB, new ClientTu(s.clock));
    assert.deepEqual(
      invite.vias.map((v) => v.branch),
      ['z9hG4bKlayer1', 'z9hG4bKupstream'],
    );
  });

  test('sendInvite takes only an INVITE; sendRequest refuses INVITE and ACK', () => {
    const s = setup();
    const tu = new ClientTu(s.clock);
    assert.throws(() => s.layer.sendInvite(outgoingRequest('BYE', { noVia: true }), UDP_BOB, tu), TypeError);
    assert.throws(() => s.layer.sendRequest(outgoingInvite({ noVia: true }), UDP_BOB, tu), TypeError);
    assert.throws(() => s.layer.sendRequest(outgoingRequest('ACK', { noVia: true }), UDP_BOB, tu), TypeError);
    assert.deepEqual(s.net.sent, []);
    assert.deepEqual(s.layer.counts, noCounts());
  });

  test('a response is matched to its client transaction by branch and CSeq method, and absorbed', () => {
    const s = setup();
    const invite = outgoingInvite({ noVia: true });
    const tu = new ClientTu(s.clock);
    const ict = s.layer.sendInvite(invite, UDP_BOB, tu);
    const bye = outgoingRequest('BYE', { noVia: true });
    const byeTu = new ClientTu(s.clock);
    const nict = s.layer.sendRequest(bye, UDP_BOB, byeTu);
    assert.ok(nict instanceof NonInviteClientTransaction);
    assert.deepEqual(s.layer.receive(inbound(responseTo(invite, 180))), { kind: 'absorbed' });
    assert.deepEqual(s.layer.receive(inbound(responseTo(bye, 200))), { kind: 'absorbed' });
    assert.deepEqual(tu.statuses, [180]);
    assert.deepEqual(byeTu.statuses, [200]);
    assert.equal(ict.state, 'proceeding');
    assert.equal(nict.state, 'completed');
  });

  test('a response for no transaction comes up as kind response', () => {
    const s = setup();
    const invite = outgoingInvite({ noVia: true });
    const tu = new ClientTu(s.clock);
    s.layer.sendInvite(invite, UDP_BOB, tu);

    const stray = responseTo(outgoingInvite({ branch: 'z9hG4bKnobody' }), 200);
    const event = inbound(stray);
    assert.deepEqual(s.layer.receive(event), { kind: 'response', response: stray, inbound: event });

    // same branch as our INVITE, but a CSeq method of CANCEL: no CANCEL transaction is waiting
    const cancelResponse = overTheWire(createResponse(invite, 200));
    cancelResponse.setHeader('cseq', '314159 CANCEL');
    assert.equal(s.layer.receive(inbound(cancelResponse)).kind, 'response');

    const noBranch = responseTo(invite, 180);
    noBranch.setHeader('via', 'SIP/2.0/UDP 10.0.0.1:5060');
    assert.equal(s.layer.receive(inbound(noBranch)).kind, 'response');
    assert.deepEqual(tu.responses, []);
  });

  test('a 2xx retransmitted after Timer M comes up as kind response; the INVITE transaction is forgotten', () => {
    const s = setup();
    const invite = outgoingInvite({ noVia: true });
    const tu = new ClientTu(s.clock);
    s.layer.sendInvite(invite, UDP_BOB, tu);
    assert.equal(s.layer.receive(inbound(responseTo(invite, 200))).kind, 'absorbed');
    s.clock.advance(31_999);
    assert.equal(s.layer.receive(inbound(responseTo(invite, 200))).kind, 'absorbed');
    assert.deepEqual(s.layer.counts, { ...noCounts(), clientInvite: 1 });
    s.clock.advance(1);
    assert.deepEqual(s.layer.counts, noCounts());
    assert.equal(s.layer.receive(inbound(responseTo(invite, 200))).kind, 'response');
    assert.deepEqual(tu.statuses, [200, 200]);
  });

  test('sendCancel keeps the INVITE top Via branch, goes to the INVITE destination, and its 200 goes to the CANCEL transaction, not the INVITE', () => {
    const s = setup();
    const invite = outgoingInvite({ noVia: true });
    const inviteTu = new ClientTu(s.clock);
    const ict = s.layer.sendInvite(invite, TCP_BOB, inviteTu);
    s.layer.receive(inbound(responseTo(invite, 180)));
    s.clock.advance(3000);
    const cancelTu = new ClientTu(s.clock);
    const cancelling = s.layer.sendCancel(ict, cancelTu, 'SIP;cause=487');
    const cancel = cancelling.request;
    assert.equal(cancel.method, 'CANCEL');
    assert.deepEqual(cancel.headerValues('via'), invite.headerValues('via'), 'no Via of its own');
    assert.equal(cancel.topVia.branch, 'z9hG4bKlayer1');
    assert.deepEqual(s.net.sent[1], { message: cancel, destination: TCP_BOB, at: 3000 });
    assert.deepEqual(s.layer.counts, { ...noCounts(), clientInvite: 1, clientNonInvite: 1 });

    assert.equal(s.layer.receive(inbound(responseTo(cancel, 200))).kind, 'absorbed');
    assert.deepEqual(cancelTu.statuses, [200]);
    assert.deepEqual(inviteTu.statuses, [180]);
    assert.equal(s.layer.receive(inbound(responseTo(invite, 487))).kind, 'absorbed');
    assert.deepEqual(inviteTu.statuses, [180, 487]);
    assert.deepEqual(s.net.log, ['INVITE', 'CANCEL', 'ACK']);
    const ack = s.net.sent[2]!.message as SipRequest;
    assert.equal(ack.topVia.branch, 'z9hG4bKlayer1');
  });

  test('a client transaction that ends (Timer F, transport failure) is forgotten', async () => {
    const s = setup();
    const tu = new ClientTu(s.clock);
    s.layer.sendRequest(outgoingRequest('OPTIONS', { noVia: true }), UDP_BOB, tu);
    s.net.rejectIf = () => true;
    const failing = new ClientTu(s.clock);
    s.layer.sendInvite(outgoingInvite({ noVia: true }), UDP_BOB, failing);
    assert.deepEqual(s.layer.counts, { ...noCounts(), clientInvite: 1, clientNonInvite: 1 });
    await settle();
    assert.equal(failing.failures[0]?.failure.kind, 'transport');
    assert.deepEqual(s.layer.counts, { ...noCounts(), clientNonInvite: 1 });
    s.net.rejectIf = undefined;
    s.clock.advance(32_000);
    assert.deepEqual(tu.failures.map((f) => [f.failure, f.at]), [[{ kind: 'timeout', timer: 'F' }, 32_000]]);
    assert.deepEqual(s.layer.counts, noCounts());
  });

  test('sendStateless sends outside any transaction; createVia gives a fresh branch each time', async () => {
    const s = setup();
    const ack = outgoingRequest('ACK', { noVia: true });
    ack.prependHeader('via', s.layer.createVia('udp'));
    await s.layer.sendStateless(ack, UDP_BOB);
    assert.deepEqual(s.net.log, ['ACK']);
    assert.deepEqual(s.layer.counts, noCounts());
    assert.equal(s.clock.pendingTimers, 0);
    assert.notEqual(s.layer.createVia('udp'), ack.header('via'));
  });

  test('the layer runs on the timer values it is given', () => {
    const h = harness();
    const layer = new TransactionLayer({ transport: new FakeTransport(h.net), clock: h.clock, timers: { T1: 100, T2: 400, T4: 1000 } });
    assert.deepEqual(layer.timers, { T1: 100, T2: 400, T4: 1000 });
    const tu = new ClientTu(h.clock);
    layer.sendInvite(outgoingInvite({ noVia: true }), UDP_BOB, tu);
    h.clock.advance(10_000);
    assert.deepEqual(h.net.times('INVITE'), [0, 100, 300, 700, 1500, 3100, 6300]);
    assert.deepEqual(tu.failures.map((f) => f.at), [6400]);
  });
});

describe('transaction layer: server transactions', () => {
  test('a new INVITE creates a server transaction and is answered 100 Trying at once, where its Via says (received, rport)', () => {
    const s = setup();
    const { request, ist } = newInvite(s, { sentBy: '192.0.2.20:5060;received=198.51.100.7;rport=40001' });
    assert.equal(request.method, 'INVITE');
    assert.equal(ist.state, 'proceeding');
    assert.equal(ist.request, request);
    assert.deepEqual(s.net.log, ['100']);
    assert.deepEqual(s.net.sent[0]?.destination, { transport: 'udp', address: '198.51.100.7', port: 40001 });
    assert.deepEqual(s.layer.counts, { ...noCounts(), serverInvite: 1 });
  });

  test('absorbs a retransmitted INVITE and answers it with the last response', () => {
    const s = setup();
    const { request, ist } = newInvite(s);
    ist.respond(answer(request, 180));
    s.clock.advance(500);
    assert.deepEqual(fromBob(s), { kind: 'absorbed' });
    assert.deepEqual(s.net.log, ['100', '180', '180']);
    assert.deepEqual(s.net.sent.map((x) => x.at), [0, 0, 500]);
    assert.deepEqual(s.layer.counts, { ...noCounts(), serverInvite: 1 });
  });

  test('absorbs a retransmitted INVITE in accepted (RFC 6026) without answering it', () => {
    const s = setup();
    const { request, ist } = newInvite(s);
    ist.respond(answer(request, 200));
    assert.deepEqual(fromBob(s), { kind: 'absorbed' });
    assert.deepEqual(s.net.log, ['100', '200']);
    assert.equal(ist.state, 'accepted');
  });

  test('an ACK for a non-2xx is absorbed by its INVITE server transaction (confirmed), and so are its retransmissions', () => {
    const s = setup();
    const { request, ist } = newInvite(s);
    const tu = new ServerTu(s.clock);
    ist.setUser(tu);
    ist.respond(answer(request, 486));
    s.clock.advance(700);
    assert.deepEqual(fromBob(s, { method: 'ACK', toTag: 'ctd-tag-1' }), { kind: 'absorbed' });
    assert.equal(ist.state, 'confirmed');
    assert.deepEqual(fromBob(s, { method: 'ACK', toTag: 'ctd-tag-1' }), { kind: 'absorbed' });
    s.clock.advance(60_000);
    assert.deepEqual(s.net.times('486'), [0, 500]);
    assert.deepEqual(tu.failures, []);
    assert.deepEqual(tu.terminatedAt, [5700]);
  });

  test('the ACK of a 2xx is not absorbed (kind ack), with a new branch or even with the INVITE branch', () => {
    const s = setup();
    const { request, ist } = newInvite(s);
    ist.respond(answer(request, 200));
    const ack = incomingRequest({ method: 'ACK', branch: 'z9hG4bKbobAck2xx', toTag: 'ctd-tag-1', requestUri: 'sip:ctd@10.0.0.1:5060' });
    const event = inbound(ack);
    assert.deepEqual(s.layer.receive(event), { kind: 'ack', request: ack, inbound: event });
    const sameBranch = fromBob(s, { method: 'ACK', toTag: 'ctd-tag-1' });
    assert.equal(sameBranch.kind, 'ack');
    assert.equal(ist.state, 'accepted');
  });

  test('an ACK whose To tag is not that of our final response comes up as kind ack', () => {
    const s = setup();
    const { request, ist } = newInvite(s);
    ist.respond(answer(request, 486));
    assert.equal(fromBob(s, { method: 'ACK', toTag: 'someone-else' }).kind, 'ack');
    assert.equal(ist.state, 'completed');
  });

  test('an ACK while the INVITE server transaction has no final response, or after it has ended, comes up as kind ack', () => {
    const s = setup();
    const { request, ist } = newInvite(s);
    assert.equal(fromBob(s, { method: 'ACK', toTag: 'ctd-tag-1' }).kind, 'ack');
    assert.equal(ist.state, 'proceeding');
    ist.respond(answer(request, 486));
    s.clock.advance(32_000);
    assert.equal(ist.state, 'terminated');
    assert.deepEqual(s.layer.counts, noCounts());
    assert.equal(fromBob(s, { method: 'ACK', toTag: 'ctd-tag-1' }).kind, 'ack');
  });

  test('a CANCEL is paired with its INVITE server transaction; its retransmission is absorbed and gets its 200 again', () => {
    const s = setup();
    const { ist } = newInvite(s);
    const received = fromBob(s, { method: 'CANCEL' });
    assert.equal(received.kind, 'cancel');
    if (received.kind !== 'cancel') return;
    assert.equal(received.invite, ist);
    assert.ok(received.transaction instanceof NonInviteServerTransaction);
    assert.equal(received.transaction.request, received.request);
    assert.equal(received.request.method, 'CANCEL');
    assert.deepEqual(s.layer.counts, { ...noCounts(), serverInvite: 1, serverNonInvite: 1 });
    // a CANCEL is not answered 100 by the layer
    assert.deepEqual(s.net.log, ['100']);
    received.transaction.respond(createResponse(received.request, 200));
    ist.respond(answer(ist.request, 487));
    s.clock.advance(100);
    assert.deepEqual(fromBob(s, { method: 'CANCEL' }), { kind: 'absorbed' });
    assert.deepEqual(s.net.log, ['100', '200', '487', '200']);
    assert.equal(s.net.sent[3]?.at, 100);
  });

  test('a CANCEL for no INVITE gets invite undefined', () => {
    const s = setup();
    const received = fromBob(s, { method: 'CANCEL', branch: 'z9hG4bKlonely' });
    assert.equal(received.kind, 'cancel');
    if (received.kind !== 'cancel') return;
    assert.equal(received.invite, undefined);
    assert.ok(received.transaction instanceof NonInviteServerTransaction);
    assert.deepEqual(s.layer.counts, { ...noCounts(), serverNonInvite: 1 });
  });

  test('a CANCEL with another branch, or from another sent-by, is not paired with the INVITE', () => {
    const s = setup();
    newInvite(s);
    const otherBranch = fromBob(s, { method: 'CANCEL', branch: 'z9hG4bKbob2' });
    assert.equal(otherBranch.kind === 'cancel' && otherBranch.invite, undefined);
    const otherSentBy = fromBob(s, { method: 'CANCEL', sentBy: '192.0.2.20:5070' });
    assert.equal(otherSentBy.kind === 'cancel' && otherSentBy.invite, undefined);
  });

  test('the same branch from another sent-by is a new transaction (§17.2.3)', () => {
    const s = setup();
    const first = newInvite(s);
    const second = newInvite(s, { sentBy: '192.0.2.21:5060' });
    assert.notEqual(second.ist, first.ist);
    assert.deepEqual(s.layer.counts, { ...noCounts(), serverInvite: 2 });
  });

  test('RFC 2543 request without magic cookie matches its retransmission', () => {
    const s = setup();
    const { request, ist } = newInvite(s, { branch: null });
    ist.respond(answer(request, 180));
    assert.deepEqual(fromBob(s, { branch: null }), { kind: 'absorbed' });
    assert.deepEqual(s.net.log, ['100', '180', '180']);
    // another CSeq is another request
    assert.equal(fromBob(s, { branch: null, cseq: 2 }).kind, 'request');
    assert.deepEqual(s.layer.counts, { ...noCounts(), serverInvite: 2 });
  });

  test('RFC 2543: a branch without the cookie (branch=1) is matched the old way too', () => {
    const s = setup();
    newInvite(s, { branch: '1' });
    assert.deepEqual(fromBob(s, { branch: '1' }), { kind: 'absorbed' });
    assert.equal(fromBob(s, { branch: '1', callId: 'another@192.0.2.20' }).kind, 'request');
  });

  test('RFC 2543: a request that differs only in its To tag is not a retransmission', () => {
    const s = setup();
    newRequest(fromBob(s, { method: 'OPTIONS', branch: null, toTag: 'a' }));
    assert.equal(fromBob(s, { method: 'OPTIONS', branch: null, toTag: 'a' }).kind, 'absorbed');
    assert.equal(fromBob(s, { method: 'OPTIONS', branch: null, toTag: 'b' }).kind, 'request');
  });

  test('RFC 2543: the ACK of a non-2xx without a branch is matched by Request-URI, tags, Call-ID, CSeq number and Via', () => {
    const s = setup();
    const { request, ist } = newInvite(s, { branch: null });
    ist.respond(answer(request, 603));
    assert.equal(fromBob(s, { method: 'ACK', branch: null, toTag: 'ctd-tag-1', cseq: 2 }).kind, 'ack');
    assert.equal(fromBob(s, { method: 'ACK', branch: null, toTag: 'ctd-tag-1', requestUri: 'sip:other@10.0.0.1' }).kind, 'ack');
    assert.equal(ist.state, 'completed');
    assert.deepEqual(fromBob(s, { method: 'ACK', branch: null, toTag: 'ctd-tag-1' }), { kind: 'absorbed' });
    assert.equal(ist.state, 'confirmed');
  });

  test('RFC 2543: a CANCEL without a branch is paired with its INVITE', () => {
    const s = setup();
    const { ist } = newInvite(s, { branch: null });
    const received = fromBob(s, { method: 'CANCEL', branch: null });
    assert.equal(received.kind, 'cancel');
    assert.equal(received.kind === 'cancel' && received.invite, ist);
  });

  test('a new non-INVITE request gets its own transaction, no 100; its retransmission is absorbed silently in trying and answered after', () => {
    const s = setup();
    const { request, transaction } = newRequest(fromBob(s, { method: 'OPTIONS', branch: 'z9hG4bKopt1' }));
    assert.ok(transaction instanceof NonInviteServerTransaction);
    assert.equal(transaction.state, 'trying');
    assert.deepEqual(s.net.sent, []);
    assert.deepEqual(fromBob(s, { method: 'OPTIONS', branch: 'z9hG4bKopt1' }), { kind: 'absorbed' });
    assert.deepEqual(s.net.sent, []);
    transaction.respond(createResponse(request, 200));
    assert.deepEqual(fromBob(s, { method: 'OPTIONS', branch: 'z9hG4bKopt1' }), { kind: 'absorbed' });
    assert.deepEqual(s.net.log, ['200', '200']);
  });

  test('after Timer J the key is free again: a late retransmission comes up as a new request', () => {
    const s = setup();
    const { request, transaction } = newRequest(fromBob(s, { method: 'BYE', toTag: 'ctd-tag-1' }));
    transaction.respond(createResponse(request, 200));
    s.clock.advance(32_000);
    assert.equal(transaction.state, 'terminated');
    assert.deepEqual(s.layer.counts, noCounts());
    const late = newRequest(fromBob(s, { method: 'BYE', toTag: 'ctd-tag-1' }));
    assert.notEqual(late.transaction, transaction);
  });

  test('responses to a request over TCP go back on its connection while open, then to the Via sent-by', () => {
    const s = setup();
    s.transport.openConnections.add('conn-1');
    const received = fromBob(s, { transport: 'TCP', sentBy: '192.0.2.20:5062' }, 'conn-1');
    const { request, transaction } = newRequest(received);
    assert.deepEqual(s.net.sent[0]?.destination, { transport: 'tcp', address: '192.0.2.20', port: 5062, connectionId: 'conn-1' });
    s.transport.openConnections.delete('conn-1');
    transaction.respond(answer(request, 486));
    assert.deepEqual(s.net.sent[1]?.destination, { transport: 'tcp', address: '192.0.2.20', port: 5062 });
    // reliable: no Timer G
    s.clock.advance(5000);
    assert.deepEqual(s.net.log, ['100', '486']);
  });

  test('a request whose response destination cannot be resolved (maddr is a name) ends its transaction without throwing', () => {
    const s = setup();
    const { request, ist } = newInvite(s, { sentBy: '192.0.2.20:5060;maddr=proxy.biloxi.example.com' });
    assert.equal(ist.state, 'terminated');
    assert.deepEqual(s.net.sent, []);
    assert.deepEqual(s.layer.counts, noCounts());
    assert.doesNotThrow(() => ist.respond(answer(request, 486)));
    assert.equal(s.clock.pendingTimers, 0);

    const options = newRequest(fromBob(s, { method: 'OPTIONS', sentBy: '192.0.2.20:5060;maddr=proxy.biloxi.example.com' }));
    const tu = new ServerTu(s.clock);
    options.transaction.setUser(tu);
    options.transaction.respond(createResponse(options.request, 200));
    assert.equal(options.transaction.state, 'terminated');
    assert.equal(tu.failures[0]?.failure.kind, 'transport');
    assert.equal(s.clock.pendingTimers, 0);
    assert.deepEqual(s.layer.counts, noCounts());
  });

  test('close() ends every transaction and stops their timers', () => {
    const s = setup();
    const ict = s.layer.sendInvite(outgoingInvite({ noVia: true }), UDP_BOB, new ClientTu(s.clock));
    const nict = s.layer.sendRequest(outgoingRequest('OPTIONS', { noVia: true }), UDP_BOB, new ClientTu(s.clock));
    const { request, ist } = newInvite(s);
    ist.respond(answer(request, 486));
    const bye = newRequest(fromBob(s, { method: 'BYE', toTag: 'ctd-tag-1', branch: 'z9hG4bKbye' }));
    bye.transaction.respond(createResponse(bye.request, 200));
    assert.ok(s.clock.pendingTimers > 0);
    s.layer.close();
    assert.deepEqual(s.layer.counts, noCounts());
    assert.equal(s.clock.pendingTimers, 0);
    assert.deepEqual([ict.state, nict.state, ist.state, bye.transaction.state], ['terminated', 'terminated', 'terminated', 'terminated']);
    const before = s.net.sent.length;
    s.clock.advance(60_000);
    assert.equal(s.net.sent.length, before);
  });
});

describe('transaction layer: traffic counters (metrics)', () => {
  test('counts messages by direction, kind and method; a message sent again and a request received again count as retransmissions; Timer B counts a timeout', () => {
    const s = setup();
    s.layer.sendInvite(outgoingInvite({ noVia: true }), UDP_BOB, new ClientTu(s.clock));
    s.clock.advance(500 + 1000); // Timer A: at 500 and 1500 ms
    s.clock.advance(32_000); // Timer B
    const { request, ist } = newInvite(s, { cseq: 7 });
    ist.respond(answer(request, 180));
    fromBob(s, { cseq: 7 }); // the INVITE again: absorbed, the 180 repeated
    const rows = (list: object[]) => list.map((row) => JSON.stringify(row)).sort();
    assert.deepEqual(rows(s.layer.traffic.messageRows()), rows([
      { direction: 'out', kind: 'request', method: 'INVITE', count: 1 },
      { direction: 'in', kind: 'request', method: 'INVITE', count: 2 },
      { direction: 'out', kind: 'response', method: 'INVITE', count: 2 },
    ]));
    const retransmitted = s.net.sent.length - 3;
    assert.ok(retransmitted >= 3, `Timer A retransmitted (${retransmitted} sends beyond the first three)`);
    assert.deepEqual(rows(s.layer.traffic.retransmissionRows()), rows([
      { direction: 'out', method: 'INVITE', count: retransmitted },
      { direction: 'in', method: 'INVITE', count: 1 },
    ]));
    assert.deepEqual(s.layer.traffic.timeoutRows(), [{ method: 'INVITE', count: 1 }]);
  });
});
