// RFC 3261 §17.2.1 (Figure 7) with RFC 6026 §8.5–§8.7: the INVITE server transaction.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createResponse, type SipRequest, type SipResponse } from '../../../src/sip/message/index.js';
import { InviteServerTransaction } from '../../../src/sip/transaction/index.js';
import { TransportError, type Destination } from '../../../src/sip/transport/index.js';
import { harness, incomingRequest, ServerTu, settle, TCP_BOB, UDP_BOB, type Harness } from './fixtures.js';

function receive(h: Harness, options: { tcp?: boolean; destination?: () => Destination } = {}): { ist: InviteServerTransaction; tu: ServerTu; invite: SipRequest } {
  const invite = incomingRequest({ transport: options.tcp ? 'TCP' : 'UDP' });
  const tu = new ServerTu(h.clock);
  const ist = new InviteServerTransaction(h.context, invite, options.destination ?? (() => (options.tcp ? TCP_BOB : UDP_BOB)));
  ist.setUser(tu);
  return { ist, tu, invite };
}

function answer(invite: SipRequest, status: number): SipResponse {
  return createResponse(invite, status, undefined, 'ctd-tag-1');
}

function ackFor(invite: SipRequest): SipRequest {
  return incomingRequest({ method: 'ACK', toTag: 'ctd-tag-1', cseq: invite.cseq.seq });
}

describe('INVITE server transaction: proceeding', () => {
  test('sendTrying() answers 100 at once, only once, and not after a response from the TU', () => {
    const h = harness();
    const { ist, invite } = receive(h);
    ist.sendTrying();
    ist.sendTrying();
    assert.deepEqual(h.net.log, ['100']);
    const trying = h.net.sent[0]!.message as SipResponse;
    assert.equal(trying.callId, invite.callId);
    assert.equal(trying.topVia.branch, 'z9hG4bKbob1');
    assert.equal(trying.to.tag, undefined);

    const h2 = harness();
    const other = receive(h2);
    other.ist.respond(answer(other.invite, 180));
    other.ist.sendTrying();
    assert.deepEqual(h2.net.log, ['180']);
  });

  test('answers a retransmitted INVITE with the last provisional', () => {
    const h = harness();
    const { ist, invite } = receive(h);
    ist.sendTrying();
    h.clock.advance(300);
    ist.receiveRequest(incomingRequest());
    h.clock.advance(200);
    const ringing = answer(invite, 180);
    ist.respond(ringing);
    h.clock.advance(500);
    ist.receiveRequest(incomingRequest());
    assert.deepEqual(h.net.log, ['100', '100', '180', '180']);
    assert.deepEqual(h.net.sent.map((s) => s.at), [0, 300, 500, 1000]);
    assert.equal(h.net.sent[3]?.message, ringing);
    assert.equal(ist.state, 'proceeding');
  });

  test('a retransmitted INVITE before any response is absorbed', () => {
    const h = harness();
    const { ist } = receive(h);
    ist.receiveRequest(incomingRequest());
    assert.deepEqual(h.net.log, []);
  });

  test('sends no response on its own in proceeding, and has no timer running', () => {
    const h = harness();
    const { ist, invite, tu } = receive(h);
    ist.respond(answer(invite, 180));
    assert.equal(h.clock.pendingTimers, 0);
    h.clock.advance(120_000);
    assert.deepEqual(h.net.log, ['180']);
    assert.equal(ist.state, 'proceeding');
    assert.deepEqual(tu.failures, []);
  });

  test('an ACK in proceeding changes nothing', () => {
    const h = harness();
    const { ist, invite } = receive(h);
    ist.respond(answer(invite, 180));
    ist.receiveRequest(ackFor(invite));
    assert.equal(ist.state, 'proceeding');
  });
});

describe('INVITE server transaction: completed and confirmed', () => {
  test('Timer G retransmits the 486 at 500, 1500, 3500, 7500 ms then caps at T2 (every 4 s); Timer H reports the missing ACK at 32 s', () => {
    const h = harness();
    const { ist, tu, invite } = receive(h);
    const busy = answer(invite, 486);
    ist.respond(busy);
    assert.equal(ist.state, 'completed');
    assert.equal(ist.finalResponse, busy);
    h.clock.advance(31_999);
    assert.deepEqual(h.net.times('486'), [0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]);
    for (const sent of h.net.sent) assert.equal(sent.message, busy);
    assert.deepEqual(tu.failures, []);
    h.clock.advance(1);
    assert.equal(ist.state, 'terminated');
    assert.deepEqual(tu.failures, [{ failure: { kind: 'timeout', timer: 'H' }, at: 32_000 }]);
    assert.deepEqual(tu.terminatedAt, [32_000]);
    h.clock.advance(60_000);
    assert.equal(h.net.sent.length, 11);
    assert.equal(h.clock.pendingTimers, 0);
  });

  test('Timer G with T1 = 100 ms, T2 = 300 ms: 100, 300, 600, 900 … and Timer H at 64*T1', () => {
    const h = harness({ T1: 100, T2: 300, T4: 5000 });
    const { ist, tu, invite } = receive(h);
    ist.respond(answer(invite, 500));
    h.clock.advance(10_000);
    const expected = [0, 100, 300];
    for (let t = 600; t < 6400; t += 300) expected.push(t);
    assert.deepEqual(h.net.times('500'), expected);
    assert.deepEqual(tu.failures, [{ failure: { kind: 'timeout', timer: 'H' }, at: 6400 }]);
  });

  test('Timer G is not used over TCP; Timer H still fires at 64*T1', () => {
    const h = harness();
    const { ist, tu, invite } = receive(h, { tcp: true });
    ist.respond(answer(invite, 486));
    h.clock.advance(40_000);
    assert.deepEqual(h.net.times('486'), [0]);
    assert.deepEqual(h.net.sent[0]?.destination, TCP_BOB);
    assert.deepEqual(tu.failures, [{ failure: { kind: 'timeout', timer: 'H' }, at: 32_000 }]);
    assert.equal(ist.state, 'terminated');
  });

  test('a retransmitted INVITE in completed gets the final response again (Timer G keeps its own schedule)', () => {
    const h = harness();
    const { ist, invite } = receive(h);
    ist.respond(answer(invite, 486));
    h.clock.advance(200);
    ist.receiveRequest(incomingRequest());
    h.clock.advance(1300);
    assert.deepEqual(h.net.times('486'), [0, 200, 500, 1500]);
  });

  test('ACK moves completed to confirmed, stops Timers G and H, and Timer I (T4) ends it; further ACKs and INVITEs are absorbed', () => {
    const h = harness();
    const { ist, tu, invite } = receive(h);
    ist.respond(answer(invite, 486));
    h.clock.advance(2000);
    ist.receiveRequest(ackFor(invite));
    assert.equal(ist.state, 'confirmed');
    h.clock.advance(1000);
    ist.receiveRequest(ackFor(invite));
    ist.receiveRequest(incomingRequest());
    assert.equal(ist.state, 'confirmed');
    h.clock.advance(3999);
    assert.equal(ist.state, 'confirmed');
    h.clock.advance(1);
    assert.equal(ist.state, 'terminated');
    assert.deepEqual(tu.terminatedAt, [7000]);
    h.clock.advance(60_000);
    assert.deepEqual(h.net.times('486'), [0, 500, 1500]);
    assert.deepEqual(tu.failures, [], 'Timer H was stopped by the ACK');
  });

  test('Timer I is zero over TCP', () => {
    const h = harness();
    const { ist, tu, invite } = receive(h, { tcp: true });
    ist.respond(answer(invite, 404));
    h.clock.advance(1234);
    ist.receiveRequest(ackFor(invite));
    assert.equal(ist.state, 'confirmed');
    h.clock.advance(0);
    assert.equal(ist.state, 'terminated');
    assert.deepEqual(tu.terminatedAt, [1234]);
    assert.deepEqual(tu.failures, []);
  });

  test('a response from the TU after the final one is not sent', () => {
    const h = harness();
    const { ist, invite } = receive(h);
    ist.respond(answer(invite, 486));
    ist.respond(answer(invite, 200));
    ist.respond(answer(invite, 180));
    ist.respond(answer(invite, 603));
    assert.deepEqual(h.net.log, ['486']);
    assert.equal(ist.finalResponse?.status, 486);
    assert.equal(ist.state, 'completed');
  });
});

describe('INVITE server transaction: accepted (RFC 6026)', () => {
  test('absorbs a retransmitted INVITE in accepted (RFC 6026 §8.6) and never retransmits the 2xx on its own', () => {
    const h = harness();
    const { ist, invite } = receive(h);
    ist.sendTrying();
    h.clock.advance(10);
    ist.respond(answer(invite, 200));
    assert.equal(ist.state, 'accepted');
    h.clock.advance(490);
    ist.receiveRequest(incomingRequest());
    h.clock.advance(500);
    ist.receiveRequest(incomingRequest());
    h.clock.advance(20_000);
    assert.deepEqual(h.net.log, ['100', '200']);
    assert.deepEqual(h.net.times('200'), [10]);
  });

  test("passes the TU's 2xx retransmissions through in accepted and ends after Timer L (64*T1)", () => {
    const h = harness();
    const { ist, tu, invite } = receive(h);
    const ok = answer(invite, 200);
    ist.respond(ok);
    h.clock.advance(500);
    ist.respond(ok);
    h.clock.advance(1000);
    ist.respond(ok);
    ist.respond(answer(invite, 486));
    ist.respond(answer(invite, 180));
    assert.deepEqual(h.net.log, ['200', '200', '200']);
    assert.deepEqual(h.net.times('200'), [0, 500, 1500]);
    h.clock.advance(32_000 - 1500 - 1);
    assert.equal(ist.state, 'accepted');
    h.clock.advance(1);
    assert.equal(ist.state, 'terminated');
    assert.deepEqual(tu.terminatedAt, [32_000]);
    assert.deepEqual(tu.failures, []);
    ist.respond(ok);
    assert.equal(h.net.sent.length, 3);
  });

  test('an ACK in accepted does not move the transaction (the ACK of a 2xx belongs to the dialog)', () => {
    const h = harness();
    const { ist, invite } = receive(h);
    ist.respond(answer(invite, 200));
    ist.receiveRequest(ackFor(invite));
    assert.equal(ist.state, 'accepted');
  });

  test('a failed 2xx retransmission in accepted tells the TU and cancels Timer L', async () => {
    const h = harness();
    h.net.rejectIf = (sent) => sent.at >= 1000;
    const { ist, tu, invite } = receive(h);
    const ok = answer(invite, 200);
    ist.respond(ok);
    h.clock.advance(1000);
    ist.respond(ok);
    await settle();
    assert.equal(ist.state, 'terminated');
    assert.equal(tu.failures.length, 1);
    assert.equal(tu.failures[0]?.failure.kind, 'transport');
    assert.deepEqual(tu.terminatedAt, [1000]);
    assert.equal(h.clock.pendingTimers, 0);
  });
});

describe('INVITE server transaction: failures and destinations', () => {
  test('a transport failure ends the transaction and tells the TU; Timers G and H stop', async () => {
    const h = harness();
    h.net.rejectIf = () => true;
    const { ist, tu, invite } = receive(h);
    ist.respond(answer(invite, 486));
    await settle();
    assert.equal(ist.state, 'terminated');
    assert.deepEqual(tu.failures, [{ failure: { kind: 'transport', error: h.net.errors[0] }, at: 0 }]);
    assert.deepEqual(tu.terminatedAt, [0]);
    assert.equal(h.clock.pendingTimers, 0);
    h.clock.advance(40_000);
    assert.deepEqual(h.net.times('486'), [0]);
    assert.equal(tu.failures.length, 1);
  });

  test('the destination is asked again for every send (a closed connection falls back to the Via)', () => {
    const h = harness();
    let destination: Destination = { ...TCP_BOB, connectionId: 'tcp-7' };
    const { ist, invite } = receive(h, { tcp: true, destination: () => destination });
    ist.respond(answer(invite, 180));
    destination = { transport: 'tcp', address: '192.0.2.20', port: 5070 };
    ist.receiveRequest(incomingRequest({ transport: 'TCP' }));
    assert.deepEqual(
      h.net.sent.map((s) => s.destination),
      [{ ...TCP_BOB, connectionId: 'tcp-7' }, { transport: 'tcp', address: '192.0.2.20', port: 5070 }],
    );
  });

  test('a 486 whose destination cannot be worked out fails the transaction without throwing or coming back to life', () => {
    const h = harness();
    const error = new TransportError('UNSUPPORTED_TRANSPORT', 'cannot answer to proxy.example: a name in maddr is not resolved');
    const { ist, tu, invite } = receive(h, {
      destination: () => {
        throw error;
      },
    });
    assert.doesNotThrow(() => ist.respond(answer(invite, 486)));
    assert.equal(ist.state, 'terminated');
    assert.deepEqual(tu.failures, [{ failure: { kind: 'transport', error }, at: 0 }]);
    assert.equal(h.clock.pendingTimers, 0, 'no Timer G or H on a terminated transaction');
    h.clock.advance(40_000);
    assert.equal(tu.failures.length, 1);
    assert.deepEqual(tu.terminatedAt, [0]);
    assert.deepEqual(h.net.sent, []);
  });

  test('a 2xx whose destination cannot be worked out leaves the transaction terminated, not accepted', () => {
    const h = harness();
    const { ist, tu, invite } = receive(h, {
      destination: () => {
        throw new TransportError('UNSUPPORTED_TRANSPORT', 'cannot answer over SCTP');
      },
    });
    ist.respond(answer(invite, 200));
    assert.equal(ist.state, 'terminated');
    assert.equal(h.clock.pendingTimers, 0, 'no Timer L on a terminated transaction');
    h.clock.advance(40_000);
    assert.deepEqual(tu.terminatedAt, [0]);
    assert.equal(tu.failures.length, 1);
  });

  test('without a TU a failure still ends the transaction', async () => {
    const h = harness();
    h.net.rejectIf = () => true;
    const invite = incomingRequest();
    const ist = new InviteServerTransaction(h.context, invite, () => UDP_BOB);
    let ended = 0;
    ist.onEnded = () => ended++;
    ist.sendTrying();
    await settle();
    assert.equal(ist.state, 'terminated');
    assert.equal(ended, 1);
  });
});
