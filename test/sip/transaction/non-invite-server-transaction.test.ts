// RFC 3261 §17.2.2 (Figure 8): the non-INVITE server transaction.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createResponse, type SipRequest, type SipResponse } from '../../../src/sip/message/index.js';
import { NonInviteServerTransaction } from '../../../src/sip/transaction/index.js';
import { TransportError, type Destination } from '../../../src/sip/transport/index.js';
import { harness, incomingRequest, ServerTu, settle, TCP_BOB, UDP_BOB, type Harness } from './fixtures.js';

function receive(h: Harness, options: { tcp?: boolean; destination?: () => Destination } = {}): { nist: NonInviteServerTransaction; tu: ServerTu; request: SipRequest } {
  const request = incomingRequest({ method: 'BYE', toTag: 'ctd-tag-1', transport: options.tcp ? 'TCP' : 'UDP' });
  const tu = new ServerTu(h.clock);
  const nist = new NonInviteServerTransaction(h.context, request, options.destination ?? (() => (options.tcp ? TCP_BOB : UDP_BOB)));
  nist.setUser(tu);
  return { nist, tu, request };
}

function answer(request: SipRequest, status: number): SipResponse {
  return createResponse(request, status);
}

describe('non-INVITE server transaction', () => {
  test('absorbs a retransmission in trying: nothing is sent', () => {
    const h = harness();
    const { nist } = receive(h);
    nist.receiveRequest();
    nist.receiveRequest();
    assert.equal(nist.state, 'trying');
    assert.deepEqual(h.net.sent, []);
    assert.equal(nist.finalResponse, undefined);
  });

  test('a 1xx moves trying to proceeding; a retransmission then gets the last provisional', () => {
    const h = harness();
    const { nist, request } = receive(h);
    nist.respond(answer(request, 100));
    assert.equal(nist.state, 'proceeding');
    const progress = answer(request, 183);
    h.clock.advance(100);
    nist.respond(progress);
    assert.equal(nist.state, 'proceeding');
    h.clock.advance(400);
    nist.receiveRequest();
    assert.deepEqual(h.net.log, ['100', '183', '183']);
    assert.deepEqual(h.net.sent.map((s) => s.at), [0, 100, 500]);
    assert.equal(h.net.sent[2]?.message, progress);
    assert.equal(nist.finalResponse, undefined);
  });

  test('a final response moves to completed, every retransmission gets it again, and Timer J ends it 64*T1 later over UDP', () => {
    const h = harness();
    const { nist, tu, request } = receive(h);
    h.clock.advance(100);
    const ok = answer(request, 200);
    nist.respond(ok);
    assert.equal(nist.state, 'completed');
    assert.equal(nist.finalResponse, ok);
    h.clock.advance(900);
    nist.receiveRequest();
    h.clock.advance(19_000);
    nist.receiveRequest();
    assert.deepEqual(h.net.times('200'), [100, 1000, 20_000]);
    for (const sent of h.net.sent) {
      assert.equal(sent.message, ok);
      assert.deepEqual(sent.destination, UDP_BOB);
    }
    h.clock.advance(32_100 - 20_000 - 1);
    assert.equal(nist.state, 'completed');
    h.clock.advance(1);
    assert.equal(nist.state, 'terminated');
    assert.deepEqual(tu.terminatedAt, [32_100]);
    nist.receiveRequest();
    assert.equal(h.net.sent.length, 3);
    assert.deepEqual(tu.failures, []);
  });

  test('sends no response on its own: no retransmission timer in completed', () => {
    const h = harness();
    const { nist, request } = receive(h);
    nist.respond(answer(request, 200));
    h.clock.advance(40_000);
    assert.deepEqual(h.net.times('200'), [0]);
  });

  test('Timer J is zero over TCP', () => {
    const h = harness();
    const { nist, tu, request } = receive(h, { tcp: true });
    h.clock.advance(70);
    nist.respond(answer(request, 481));
    assert.equal(nist.state, 'completed');
    assert.deepEqual(h.net.sent[0]?.destination, TCP_BOB);
    h.clock.advance(0);
    assert.equal(nist.state, 'terminated');
    assert.deepEqual(tu.terminatedAt, [70]);
  });

  test('Timer J follows T1 (64*T1)', () => {
    const h = harness({ T1: 250, T2: 4000, T4: 5000 });
    const { nist, tu, request } = receive(h);
    nist.respond(answer(request, 200));
    h.clock.advance(15_999);
    assert.equal(nist.state, 'completed');
    h.clock.advance(1);
    assert.deepEqual(tu.terminatedAt, [16_000]);
  });

  test('further responses from the TU are discarded in completed', () => {
    const h = harness();
    const { nist, request } = receive(h);
    nist.respond(answer(request, 200));
    nist.respond(answer(request, 500));
    nist.respond(answer(request, 100));
    nist.receiveRequest();
    assert.deepEqual(h.net.log, ['200', '200']);
    assert.equal(nist.finalResponse?.status, 200);
  });

  test('a transport failure ends the transaction and tells the TU; Timer J is cancelled', async () => {
    const h = harness();
    h.net.rejectIf = () => true;
    const { nist, tu, request } = receive(h);
    nist.respond(answer(request, 200));
    assert.equal(nist.state, 'completed');
    await settle();
    assert.equal(nist.state, 'terminated');
    assert.deepEqual(tu.failures, [{ failure: { kind: 'transport', error: h.net.errors[0] }, at: 0 }]);
    assert.equal(h.clock.pendingTimers, 0);
    h.clock.advance(40_000);
    assert.deepEqual(tu.terminatedAt, [0]);
  });

  test('a failed answer to a retransmission ends the transaction too', async () => {
    const h = harness();
    h.net.rejectIf = (sent) => sent.at >= 1000;
    const { nist, tu, request } = receive(h);
    nist.respond(answer(request, 200));
    h.clock.advance(1000);
    nist.receiveRequest();
    await settle();
    assert.equal(nist.state, 'terminated');
    assert.equal(tu.failures[0]?.failure.kind, 'transport');
    assert.deepEqual(tu.terminatedAt, [1000]);
  });

  test('a final response whose destination cannot be worked out fails the transaction and it stays terminated', () => {
    const h = harness();
    const error = new TransportError('UNSUPPORTED_TRANSPORT', 'cannot answer to proxy.example: a name in maddr is not resolved');
    const { nist, tu, request } = receive(h, {
      destination: () => {
        throw error;
      },
    });
    assert.doesNotThrow(() => nist.respond(answer(request, 200)));
    assert.equal(nist.state, 'terminated');
    assert.deepEqual(tu.failures, [{ failure: { kind: 'transport', error }, at: 0 }]);
    assert.equal(h.clock.pendingTimers, 0, 'no Timer J on a terminated transaction');
    h.clock.advance(40_000);
    assert.deepEqual(tu.terminatedAt, [0], 'onTerminated once');
    nist.receiveRequest();
    assert.deepEqual(h.net.sent, []);
  });

  test('terminate() ends it at once and cancels Timer J; retransmissions are not answered afterwards', () => {
    const h = harness();
    const { nist, tu, request } = receive(h);
    let ended = 0;
    nist.onEnded = () => ended++;
    nist.respond(answer(request, 200));
    nist.terminate();
    nist.terminate();
    assert.equal(ended, 1);
    assert.equal(h.clock.pendingTimers, 0);
    nist.receiveRequest();
    assert.deepEqual(h.net.log, ['200']);
    assert.deepEqual(tu.failures, []);
  });
});
