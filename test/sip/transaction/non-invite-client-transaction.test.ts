// RFC 3261 §17.1.2 (Figure 6): the non-INVITE client transaction.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SipRequest } from '../../../src/sip/message/index.js';
import { NonInviteClientTransaction } from '../../../src/sip/transaction/index.js';
import type { TimerValues } from '../../../src/sip/timers.js';
import { ClientTu, harness, outgoingRequest, responseTo, settle, TCP_BOB, UDP_BOB, type Harness } from './fixtures.js';

function start(h: Harness, options: { tcp?: boolean } = {}): { nict: NonInviteClientTransaction; tu: ClientTu; request: SipRequest } {
  const request = outgoingRequest('BYE', { transport: options.tcp ? 'tcp' : 'udp' });
  const tu = new ClientTu(h.clock);
  const nict = new NonInviteClientTransaction(h.context, request, options.tcp ? TCP_BOB : UDP_BOB, tu);
  nict.start();
  return { nict, tu, request };
}

describe('non-INVITE client transaction: trying and proceeding', () => {
  test('non-INVITE Timer E doubles to T2 in trying (0, 500, 1500, 3500, 7500, then every 4 s) and Timer F reports a timeout at 32 s', () => {
    const h = harness();
    const { nict, tu, request } = start(h);
    assert.equal(nict.state, 'trying');
    h.clock.advance(31_999);
    assert.deepEqual(h.net.times('BYE'), [0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]);
    assert.deepEqual(tu.failures, []);
    h.clock.advance(1);
    assert.equal(nict.state, 'terminated');
    assert.deepEqual(tu.failures, [{ failure: { kind: 'timeout', timer: 'F' }, at: 32_000 }]);
    assert.deepEqual(tu.terminatedAt, [32_000]);
    for (const sent of h.net.sent) {
      assert.equal(sent.message, request);
      assert.deepEqual(sent.destination, UDP_BOB);
    }
    h.clock.advance(100_000);
    assert.equal(h.net.sent.length, 11);
    assert.equal(h.clock.pendingTimers, 0);
  });

  test('Timer E stays at T2 in proceeding: the pending firing comes, then every T2, and Timer F still reports a timeout', () => {
    const h = harness();
    const { nict, tu, request } = start(h);
    h.clock.advance(100);
    nict.receiveResponse(responseTo(request, 100));
    assert.equal(nict.state, 'proceeding');
    h.clock.advance(40_000);
    // in trying the next ones would have been 1500, 3500, 7500
    assert.deepEqual(h.net.times('BYE'), [0, 500, 4500, 8500, 12_500, 16_500, 20_500, 24_500, 28_500]);
    assert.deepEqual(tu.statuses, [100]);
    assert.deepEqual(tu.failures, [{ failure: { kind: 'timeout', timer: 'F' }, at: 32_000 }]);
    assert.equal(nict.state, 'terminated');
  });

  test('Timer E with T1 = 200 ms and T2 = 1 s: 0, 200, 600, 1400, 2400 … and Timer F at 12.8 s', () => {
    const timers: TimerValues = { T1: 200, T2: 1000, T4: 5000 };
    const h = harness(timers);
    const { tu } = start(h);
    h.clock.advance(20_000);
    const expected = [0, 200, 600, 1400];
    for (let t = 2400; t < 12_800; t += 1000) expected.push(t);
    assert.deepEqual(h.net.times('BYE'), expected);
    assert.deepEqual(tu.failures, [{ failure: { kind: 'timeout', timer: 'F' }, at: 12_800 }]);
  });

  test('sends no retransmission over TCP, and Timer F still fires at 64*T1', () => {
    const h = harness();
    const { tu } = start(h, { tcp: true });
    h.clock.advance(40_000);
    assert.deepEqual(h.net.times('BYE'), [0]);
    assert.deepEqual(h.net.sent[0]?.destination, TCP_BOB);
    assert.deepEqual(tu.failures, [{ failure: { kind: 'timeout', timer: 'F' }, at: 32_000 }]);
  });

  test('passes each provisional to the TU in trying and proceeding', () => {
    const h = harness();
    const { nict, tu, request } = start(h);
    nict.receiveResponse(responseTo(request, 100));
    nict.receiveResponse(responseTo(request, 100));
    nict.receiveResponse(responseTo(request, 183));
    assert.deepEqual(tu.statuses, [100, 100, 183]);
    assert.equal(nict.state, 'proceeding');
  });

  test('a transport failure ends the transaction and tells the TU (no Timer F afterwards)', async () => {
    const h = harness();
    h.net.rejectIf = () => true;
    const { nict, tu } = start(h);
    await settle();
    assert.equal(nict.state, 'terminated');
    assert.deepEqual(tu.failures, [{ failure: { kind: 'transport', error: h.net.errors[0] }, at: 0 }]);
    assert.deepEqual(tu.terminatedAt, [0]);
    assert.equal(h.clock.pendingTimers, 0);
    h.clock.advance(40_000);
    assert.equal(h.net.sent.length, 1);
    assert.equal(tu.failures.length, 1);
  });

  test('a transport failure on a retransmission in proceeding ends the transaction too', async () => {
    const h = harness();
    h.net.rejectIf = (sent) => sent.at >= 4500;
    const { nict, tu, request } = start(h);
    nict.receiveResponse(responseTo(request, 100));
    h.clock.advance(4500);
    await settle();
    assert.equal(nict.state, 'terminated');
    assert.equal(tu.failures.length, 1);
    assert.equal(tu.failures[0]?.failure.kind, 'transport');
    assert.deepEqual(tu.terminatedAt, [4500]);
    h.clock.advance(40_000);
    assert.deepEqual(h.net.times('BYE'), [0, 500, 4500]);
  });
});

describe('non-INVITE client transaction: completed', () => {
  test('a 200 goes to the TU once, stops Timers E and F, and Timer K ends completed T4 (5 s) later over UDP', () => {
    const h = harness();
    const { nict, tu, request } = start(h);
    h.clock.advance(700);
    nict.receiveResponse(responseTo(request, 200));
    assert.equal(nict.state, 'completed');
    h.clock.advance(300);
    nict.receiveResponse(responseTo(request, 200));
    nict.receiveResponse(responseTo(request, 100));
    assert.deepEqual(tu.responses.map((r) => [r.status, r.at]), [[200, 700]]);
    h.clock.advance(5700 - 1000 - 1);
    assert.equal(nict.state, 'completed');
    h.clock.advance(1);
    assert.equal(nict.state, 'terminated');
    assert.deepEqual(tu.terminatedAt, [5700]);
    h.clock.advance(60_000);
    assert.deepEqual(h.net.times('BYE'), [0, 500]);
    assert.deepEqual(tu.failures, []);
  });

  test('Timer K is zero over TCP', () => {
    const h = harness();
    const { nict, tu, request } = start(h, { tcp: true });
    h.clock.advance(250);
    nict.receiveResponse(responseTo(request, 481));
    assert.equal(nict.state, 'completed');
    assert.deepEqual(tu.statuses, [481]);
    h.clock.advance(0);
    assert.equal(nict.state, 'terminated');
    assert.deepEqual(tu.terminatedAt, [250]);
  });

  test('Timer K follows T4', () => {
    const h = harness({ T1: 500, T2: 4000, T4: 2500 });
    const { nict, tu, request } = start(h);
    nict.receiveResponse(responseTo(request, 404));
    h.clock.advance(2499);
    assert.equal(nict.state, 'completed');
    h.clock.advance(1);
    assert.deepEqual(tu.terminatedAt, [2500]);
  });

  test('a final response in proceeding completes it; a final after Timer F is ignored', () => {
    const h = harness();
    const { nict, tu, request } = start(h);
    nict.receiveResponse(responseTo(request, 100));
    h.clock.advance(2000);
    nict.receiveResponse(responseTo(request, 486));
    assert.equal(nict.state, 'completed');
    assert.deepEqual(tu.statuses, [100, 486]);

    const h2 = harness();
    const late = start(h2);
    h2.clock.advance(32_000);
    late.nict.receiveResponse(responseTo(late.request, 200));
    assert.deepEqual(late.tu.statuses, []);
    assert.equal(late.tu.failures.length, 1);
  });

  test('terminate() stops every timer without telling the TU of a failure', () => {
    const h = harness();
    const { nict, tu } = start(h);
    let ended = 0;
    nict.onEnded = () => ended++;
    nict.terminate();
    nict.terminate();
    assert.equal(ended, 1);
    assert.equal(h.clock.pendingTimers, 0);
    h.clock.advance(40_000);
    assert.deepEqual(h.net.times('BYE'), [0]);
    assert.deepEqual(tu.failures, []);
  });
});
