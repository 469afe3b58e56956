// RFC 3261 §17.1.1 (Figure 5) with RFC 6026 §8.4: the INVITE client transaction, driven by a
// ManualClock and a recording send.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InviteClientTransaction } from '../../../src/sip/transaction/index.js';
import type { SipRequest } from '../../../src/sip/message/index.js';
import { ClientTu, harness, outgoingInvite, responseTo, settle, TCP_BOB, UDP_BOB, type Harness } from './fixtures.js';

function start(h: Harness, options: { tcp?: boolean } = {}): { ict: InviteClientTransaction; tu: ClientTu; invite: SipRequest } {
  const invite = outgoingInvite({ transport: options.tcp ? 'tcp' : 'udp' });
  const tu = new ClientTu(h.clock);
  const ict = new InviteClientTransaction(h.context, invite, options.tcp ? TCP_BOB : UDP_BOB, tu);
  ict.start();
  return { ict, tu, invite };
}

describe('INVITE client transaction: calling', () => {
  test('retransmits the INVITE at 500, 1000, 2000 ms … intervals (0, 500, 1500, 3500, 7500, 15500, 31500) over UDP until Timer B at 32 s reports a timeout', () => {
    const h = harness();
    const { ict, tu, invite } = start(h);
    assert.equal(ict.state, 'calling');
    h.clock.advance(31999);
    assert.deepEqual(h.net.times('INVITE'), [0, 500, 1500, 3500, 7500, 15500, 31500]);
    assert.equal(ict.state, 'calling');
    assert.deepEqual(tu.failures, []);
    h.clock.advance(1);
    assert.equal(ict.state, 'terminated');
    assert.deepEqual(tu.failures, [{ failure: { kind: 'timeout', timer: 'B' }, at: 32000 }]);
    assert.deepEqual(tu.terminatedAt, [32000]);
    // every retransmission is the very INVITE, to the same destination
    for (const sent of h.net.sent) {
      assert.equal(sent.message, invite);
      assert.deepEqual(sent.destination, UDP_BOB);
    }
    h.clock.advance(100_000);
    assert.equal(h.net.sent.length, 7);
    assert.equal(h.clock.pendingTimers, 0);
  });

  test('Timer A keeps doubling past T2 (no cap for INVITE, §17.1.1.2) and Timer B is 64*T1', () => {
    const h = harness({ T1: 100, T2: 150, T4: 1000 });
    const { tu } = start(h);
    h.clock.advance(10_000);
    assert.deepEqual(h.net.times('INVITE'), [0, 100, 300, 700, 1500, 3100, 6300]);
    assert.deepEqual(tu.failures, [{ failure: { kind: 'timeout', timer: 'B' }, at: 6400 }]);
  });

  test('sends no retransmission over TCP, and Timer B still fires at 64*T1', () => {
    const h = harness();
    const { tu } = start(h, { tcp: true });
    h.clock.advance(31_999);
    assert.deepEqual(h.net.times('INVITE'), [0]);
    assert.deepEqual(h.net.sent[0]?.destination, TCP_BOB);
    assert.deepEqual(tu.failures, []);
    h.clock.advance(1);
    assert.deepEqual(tu.failures, [{ failure: { kind: 'timeout', timer: 'B' }, at: 32000 }]);
  });

  test('a transport failure on the INVITE ends the transaction and tells the TU (no Timer B afterwards)', async () => {
    const h = harness();
    h.net.rejectIf = () => true;
    const { ict, tu } = start(h);
    await settle();
    assert.equal(ict.state, 'terminated');
    assert.equal(tu.failures.length, 1);
    assert.deepEqual(tu.failures[0]?.failure, { kind: 'transport', error: h.net.errors[0] });
    assert.deepEqual(tu.terminatedAt, [0]);
    assert.equal(h.clock.pendingTimers, 0);
    h.clock.advance(40_000);
    assert.equal(h.net.sent.length, 1);
    assert.equal(tu.failures.length, 1);
  });

  test('a transport failure on a Timer A retransmission ends the transaction at that instant', async () => {
    const h = harness();
    h.net.rejectIf = (sent) => sent.at >= 1500;
    const { ict, tu } = start(h);
    h.clock.advance(1500);
    await settle();
    assert.equal(ict.state, 'terminated');
    assert.equal(tu.failures[0]?.failure.kind, 'transport');
    assert.deepEqual(tu.terminatedAt, [1500]);
    h.clock.advance(40_000);
    assert.deepEqual(h.net.times('INVITE'), [0, 500, 1500]);
    assert.equal(tu.failures.length, 1);
  });

  test('terminate() stops Timers A and B without telling the TU of a failure', () => {
    const h = harness();
    const { ict, tu } = start(h);
    let ended = 0;
    ict.onEnded = () => ended++;
    h.clock.advance(100);
    ict.terminate();
    ict.terminate();
    assert.equal(ict.state, 'terminated');
    assert.equal(h.clock.pendingTimers, 0);
    assert.equal(ended, 1);
    h.clock.advance(40_000);
    assert.deepEqual(h.net.times('INVITE'), [0]);
    assert.deepEqual(tu.failures, []);
  });
});

describe('INVITE client transaction: proceeding', () => {
  test('a 1xx stops retransmissions and Timer B: no failure even long after 64*T1', () => {
    const h = harness();
    const { ict, tu, invite } = start(h);
    h.clock.advance(700);
    ict.receiveResponse(responseTo(invite, 180));
    assert.equal(ict.state, 'proceeding');
    assert.deepEqual(tu.responses.map((r) => [r.status, r.at]), [[180, 700]]);
    h.clock.advance(120_000);
    assert.deepEqual(h.net.times('INVITE'), [0, 500]);
    assert.deepEqual(tu.failures, []);
    assert.equal(ict.state, 'proceeding');
  });

  test('passes every provisional to the TU, retransmitted ones too', () => {
    const h = harness();
    const { ict, tu, invite } = start(h);
    ict.receiveResponse(responseTo(invite, 100));
    ict.receiveResponse(responseTo(invite, 180));
    ict.receiveResponse(responseTo(invite, 180));
    ict.receiveResponse(responseTo(invite, 183));
    assert.deepEqual(tu.statuses, [100, 180, 180, 183]);
    assert.equal(ict.state, 'proceeding');
  });

  test('a transport failure of the INVITE reported after a 1xx arrived still ends the transaction', async () => {
    const h = harness();
    h.net.rejectIf = () => true;
    const { ict, tu, invite } = start(h);
    ict.receiveResponse(responseTo(invite, 100));
    assert.equal(ict.state, 'proceeding');
    await settle();
    assert.equal(ict.state, 'terminated');
    assert.deepEqual(tu.statuses, [100]);
    assert.equal(tu.failures[0]?.failure.kind, 'transport');
  });
});

describe('INVITE client transaction: completed (300-699)', () => {
  test('ACKs a 486 and re-sends that ACK for each retransmitted 486 without telling the TU again', () => {
    const h = harness();
    const { ict, tu, invite } = start(h);
    h.clock.advance(200);
    ict.receiveResponse(responseTo(invite, 486));
    assert.equal(ict.state, 'completed');
    assert.deepEqual(h.net.log, ['INVITE', 'ACK']);
    h.clock.advance(800);
    ict.receiveResponse(responseTo(invite, 486));
    h.clock.advance(2000);
    ict.receiveResponse(responseTo(invite, 486));
    assert.deepEqual(h.net.times('ACK'), [200, 1000, 3000]);
    assert.deepEqual(h.net.times('INVITE'), [0]);
    assert.deepEqual(tu.responses.map((r) => [r.status, r.at]), [[486, 200]]);
    const acks = h.net.sent.filter((s) => s.message.isRequest && s.message.method === 'ACK');
    assert.equal(acks[1]?.message, acks[0]?.message, 'the same ACK is re-sent');
    assert.equal(acks[2]?.message, acks[0]?.message);
    for (const ack of acks) assert.deepEqual(ack.destination, UDP_BOB);
    const ack = acks[0]!.message as SipRequest;
    assert.equal(ack.to.tag, 'b0b7a9');
    assert.equal(ack.topVia.branch, invite.topVia.branch);
  });

  test('a 486 in proceeding is ACKed and passed up once', () => {
    const h = harness();
    const { ict, tu, invite } = start(h);
    ict.receiveResponse(responseTo(invite, 180));
    h.clock.advance(5000);
    ict.receiveResponse(responseTo(invite, 603));
    assert.deepEqual(tu.statuses, [180, 603]);
    assert.deepEqual(h.net.log, ['INVITE', 'ACK']);
    assert.deepEqual(h.net.times('ACK'), [5000]);
  });

  test('Timer D ends completed 32 s after the 486 over UDP; later 486s are not ACKed', () => {
    const h = harness();
    const { ict, tu, invite } = start(h);
    h.clock.advance(200);
    ict.receiveResponse(responseTo(invite, 486));
    h.clock.advance(31_999);
    assert.equal(ict.state, 'completed');
    h.clock.advance(1);
    assert.equal(ict.state, 'terminated');
    assert.deepEqual(tu.terminatedAt, [32_200]);
    ict.receiveResponse(responseTo(invite, 486));
    assert.deepEqual(h.net.times('ACK'), [200]);
    assert.deepEqual(tu.failures, []);
    assert.deepEqual(tu.statuses, [486]);
  });

  test('Timer D is zero over TCP', () => {
    const h = harness();
    const { ict, tu, invite } = start(h, { tcp: true });
    h.clock.advance(300);
    ict.receiveResponse(responseTo(invite, 404));
    assert.equal(ict.state, 'completed');
    assert.deepEqual(h.net.sent[1]?.destination, TCP_BOB);
    h.clock.advance(0);
    assert.equal(ict.state, 'terminated');
    assert.deepEqual(tu.terminatedAt, [300]);
  });

  test('a 1xx or 2xx in completed is absorbed (neither ACKed nor passed up)', () => {
    const h = harness();
    const { ict, tu, invite } = start(h);
    ict.receiveResponse(responseTo(invite, 486));
    ict.receiveResponse(responseTo(invite, 180));
    ict.receiveResponse(responseTo(invite, 200));
    assert.deepEqual(tu.statuses, [486]);
    assert.deepEqual(h.net.log, ['INVITE', 'ACK']);
  });

  test('a failing ACK send ends nothing: the transaction stays completed and the TU hears of no failure', async () => {
    const h = harness();
    h.net.rejectIf = (sent) => sent.message.isRequest && sent.message.method === 'ACK';
    const { ict, tu, invite } = start(h);
    ict.receiveResponse(responseTo(invite, 486));
    await settle();
    assert.equal(ict.state, 'completed');
    assert.deepEqual(tu.failures, []);
    assert.equal(h.net.errors.length, 1);
  });
});

describe('INVITE client transaction: accepted (RFC 6026 §8.4)', () => {
  test('passes every 2xx to the TU in accepted and ends after Timer M (64*T1)', () => {
    const h = harness();
    const { ict, tu, invite } = start(h);
    h.clock.advance(100);
    ict.receiveResponse(responseTo(invite, 180));
    h.clock.advance(200);
    ict.receiveResponse(responseTo(invite, 200));
    assert.equal(ict.state, 'accepted');
    h.clock.advance(700);
    ict.receiveResponse(responseTo(invite, 200));
    h.clock.advance(1000);
    ict.receiveResponse(responseTo(invite, 200, 'forked-2nd'));
    assert.deepEqual(tu.responses.map((r) => [r.status, r.at]), [[180, 100], [200, 300], [200, 1000], [200, 2000]]);
    assert.equal(tu.responses[3]?.response.to.tag, 'forked-2nd');
    // the transaction never ACKs a 2xx: that is the TU's (§13.2.2.4)
    assert.deepEqual(h.net.log, ['INVITE']);
    h.clock.advance(32_300 - 2000 - 1);
    assert.equal(ict.state, 'accepted');
    h.clock.advance(1);
    assert.equal(ict.state, 'terminated');
    assert.deepEqual(tu.terminatedAt, [32_300]);
    assert.deepEqual(tu.failures, []);
    ict.receiveResponse(responseTo(invite, 200));
    assert.equal(tu.responses.length, 4);
  });

  test('a 2xx in calling stops Timer A and Timer B', () => {
    const h = harness();
    const { ict, tu, invite } = start(h);
    h.clock.advance(600);
    ict.receiveResponse(responseTo(invite, 200));
    h.clock.advance(31_000);
    assert.deepEqual(h.net.times('INVITE'), [0, 500]);
    assert.deepEqual(tu.failures, []);
    assert.equal(ict.state, 'accepted');
  });

  test('a 1xx or non-2xx in accepted is absorbed', () => {
    const h = harness();
    const { ict, tu, invite } = start(h);
    ict.receiveResponse(responseTo(invite, 200));
    ict.receiveResponse(responseTo(invite, 180));
    ict.receiveResponse(responseTo(invite, 486));
    assert.deepEqual(tu.statuses, [200]);
    assert.deepEqual(h.net.log, ['INVITE']);
    assert.equal(ict.state, 'accepted');
  });

  test('Timer M follows T1 (64*T1) over TCP too', () => {
    const h = harness({ T1: 100, T2: 4000, T4: 5000 });
    const { ict, tu, invite } = start(h, { tcp: true });
    ict.receiveResponse(responseTo(invite, 200));
    h.clock.advance(6399);
    assert.equal(ict.state, 'accepted');
    h.clock.advance(1);
    assert.equal(ict.state, 'terminated');
    assert.deepEqual(tu.terminatedAt, [6400]);
  });
});
