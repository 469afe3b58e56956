/**
 * The engine's failure matrix on the wire, part 2: hang-ups (RFC 3725 flow III) against SIPp
 * parties over UDP and TCP. A party hanging up while the other rings or once connected, the
 * hang-up command in every state, a 200 that crosses our CANCEL (RFC 3261 §9.1: ACK it, then
 * BYE), and the maximum call duration. Each test checks the engine's events, what each SIPp
 * party received (its scenario succeeded) and that the engine holds nothing afterwards.
 *
 * The tests of a describe() run concurrently (own ports, parties and engine each): every call
 * ends with a 64*T1 = 3.2 s wait for the engine to forget it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertEngineClean } from './harness.js';
import { assertCallEnd, body, header, legReached, methods, ours, partyDone, requests, setUpCall, shared, TRANSPORTS } from './wire-calls.js';

const CONCURRENCY = 4;

describe('a party hangs up', { concurrency: CONCURRENCY }, () => {
  for (const transport of TRANSPORTS) {
    test(`A hangs up while B rings: CANCEL to B, canceled a_hangup (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, {
        a: { scenario: shared('uas-answer-then-hangup-offer'), vars: { hangup_ms: 300 } },
        b: { scenario: shared('uas-no-answer-offer') },
      });
      const id = `call_a_hangs_up_early_${transport}`;
      call.under.engine.startCall(call.request(id));
      await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      const toB = await partyDone(call.b, 'B');
      assertCallEnd(call.under, id, {
        status: 'canceled',
        endReason: 'a_hangup',
        failedLeg: 'a',
        statuses: ['queued', 'calling_a', 'calling_b', 'canceled'],
        legs: ['a:calling', 'a:ringing 180', 'a:answered 200', 'b:calling', 'b:ringing 180', 'a:ended', 'b:failed 487'],
      });
      assert.deepEqual(methods(toA), ['INVITE', 'ACK'], 'A is not sent a BYE of its own: its BYE was answered');
      assert.equal(toA.filter((m) => m.status === 200).length >= 1, true, "A's BYE got 200");
      assert.deepEqual(methods(toB), ['INVITE', 'CANCEL', 'ACK'], "B's INVITE is canceled and its 487 ACKed");
      await assertEngineClean(call.under);
    });

    test(`B hangs up after connect: BYE to A, completed b_hangup (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, {
        a: { scenario: shared('uas-answer-reinvite-offer') },
        b: { scenario: shared('uas-answer-then-hangup-offer'), vars: { hangup_ms: 300 } },
      });
      const id = `call_b_hangs_up_${transport}`;
      call.under.engine.startCall(call.request(id));
      await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      const toB = await partyDone(call.b, 'B');
      assertCallEnd(call.under, id, {
        status: 'completed',
        endReason: 'b_hangup',
        statuses: ['queued', 'calling_a', 'calling_b', 'connected', 'completed'],
        legs: ['a:calling', 'a:ringing 180', 'a:answered 200', 'b:calling', 'b:ringing 180', 'b:answered 200', 'a:connected', 'b:connected', 'b:ended', 'a:ended'],
      });
      assert.deepEqual(methods(toA), ['INVITE', 'ACK', 'INVITE', 'ACK', 'BYE']);
      assert.deepEqual(methods(toB), ['INVITE', 'ACK'], 'B only gets the 200 to its BYE');
      await assertEngineClean(call.under);
    });

    test(`A hangs up after connect: BYE to B, completed a_hangup (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, {
        a: { scenario: ours('uas-answer-reinvite-then-hangup-offer'), vars: { hangup_ms: 300 } },
        b: { scenario: shared('uas-answer-offer') },
      });
      const id = `call_a_hangs_up_${transport}`;
      call.under.engine.startCall(call.request(id));
      await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      const toB = await partyDone(call.b, 'B');
      assertCallEnd(call.under, id, {
        status: 'completed',
        endReason: 'a_hangup',
        statuses: ['queued', 'calling_a', 'calling_b', 'connected', 'completed'],
        legs: ['a:calling', 'a:ringing 180', 'a:answered 200', 'b:calling', 'b:ringing 180', 'b:answered 200', 'a:connected', 'b:connected', 'a:ended', 'b:ended'],
      });
      assert.deepEqual(methods(toA), ['INVITE', 'ACK', 'INVITE', 'ACK']);
      assert.deepEqual(methods(toB), ['INVITE', 'ACK', 'BYE']);
      await assertEngineClean(call.under);
    });
  }
});

describe('the hang-up command and the maximum duration', { concurrency: CONCURRENCY }, () => {
  for (const transport of TRANSPORTS) {
    test(`hang-up while A rings: CANCEL to A, canceled api_hangup (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, { a: { scenario: shared('uas-no-answer-offer') } });
      const id = `call_api_calling_a_${transport}`;
      call.under.engine.startCall(call.request(id));
      await legReached(call.under, id, 'a:ringing 180');
      call.under.engine.hangup(id);
      await call.under.final(id);
      assert.throws(() => call.under.engine.hangup(id), { code: 'CALL_NOT_FOUND' }, 'the call is no longer live');
      const toA = await partyDone(call.a, 'A');
      assertCallEnd(call.under, id, {
        status: 'canceled',
        endReason: 'api_hangup',
        statuses: ['queued', 'calling_a', 'canceled'],
        legs: ['a:calling', 'a:ringing 180', 'a:failed 487'],
      });
      assert.deepEqual(methods(toA), ['INVITE', 'CANCEL', 'ACK']);
      await assertEngineClean(call.under);
    });

    test(`hang-up while B rings: CANCEL to B, BYE to A, canceled api_hangup (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, { a: { scenario: shared('uas-answer-offer') }, b: { scenario: shared('uas-no-answer-offer') } });
      const id = `call_api_calling_b_${transport}`;
      call.under.engine.startCall(call.request(id));
      await legReached(call.under, id, 'b:ringing 180');
      call.under.engine.hangup(id);
      await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      const toB = await partyDone(call.b, 'B');
      assertCallEnd(call.under, id, {
        status: 'canceled',
        endReason: 'api_hangup',
        statuses: ['queued', 'calling_a', 'calling_b', 'canceled'],
        legs: ['a:calling', 'a:ringing 180', 'a:answered 200', 'b:calling', 'b:ringing 180', 'a:ended', 'b:failed 487'],
      });
      assert.deepEqual(methods(toA), ['INVITE', 'ACK', 'BYE']);
      assert.deepEqual(methods(toB), ['INVITE', 'CANCEL', 'ACK']);
      await assertEngineClean(call.under);
    });

    test(`hang-up after connect: BYE to both, completed api_hangup (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, { a: { scenario: shared('uas-answer-reinvite-offer') }, b: { scenario: shared('uas-answer-offer') } });
      const id = `call_api_connected_${transport}`;
      call.under.engine.startCall(call.request(id));
      await call.under.reached(id, 'connected');
      call.under.engine.hangup(id);
      await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      const toB = await partyDone(call.b, 'B');
      assertCallEnd(call.under, id, {
        status: 'completed',
        endReason: 'api_hangup',
        statuses: ['queued', 'calling_a', 'calling_b', 'connected', 'completed'],
        legs: ['a:calling', 'a:ringing 180', 'a:answered 200', 'b:calling', 'b:ringing 180', 'b:answered 200', 'a:connected', 'b:connected', 'a:ended', 'b:ended'],
      });
      assert.deepEqual(methods(toA), ['INVITE', 'ACK', 'INVITE', 'ACK', 'BYE']);
      assert.deepEqual(methods(toB), ['INVITE', 'ACK', 'BYE']);
      await assertEngineClean(call.under);
    });

    test(`maximum duration (500 ms): BYE to both, completed max_duration (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, { a: { scenario: shared('uas-answer-reinvite-offer') }, b: { scenario: shared('uas-answer-offer') } });
      const id = `call_max_duration_${transport}`;
      call.under.engine.startCall(call.request(id, { maxDurationMs: 500 }));
      const final = await call.under.final(id);
      const connected = call.under.events.find((e) => e.callId === id && e.type === 'call.status' && e.status === 'connected')!;
      const lasted = final.at - connected.at;
      assert.ok(lasted >= 490 && lasted < 1500, `connected for the maximum duration (${lasted} ms)`);
      const toA = await partyDone(call.a, 'A');
      const toB = await partyDone(call.b, 'B');
      assertCallEnd(call.under, id, {
        status: 'completed',
        endReason: 'max_duration',
        statuses: ['queued', 'calling_a', 'calling_b', 'connected', 'completed'],
        legs: ['a:calling', 'a:ringing 180', 'a:answered 200', 'b:calling', 'b:ringing 180', 'b:answered 200', 'a:connected', 'b:connected', 'a:ended', 'b:ended'],
      });
      assert.deepEqual(methods(toA), ['INVITE', 'ACK', 'INVITE', 'ACK', 'BYE']);
      assert.deepEqual(methods(toB), ['INVITE', 'ACK', 'BYE']);
      await assertEngineClean(call.under);
    });
  }
});

describe("a 200 crosses our CANCEL (RFC 3261 §9.1): it is ACKed, then BYE'd", { concurrency: CONCURRENCY }, () => {
  for (const transport of TRANSPORTS) {
    test(`hang-up while B rings, B's 200 crosses the CANCEL: ACK (port 0) and BYE to B, BYE to A, canceled api_hangup (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, { a: { scenario: shared('uas-answer-offer') }, b: { scenario: ours('uas-answer-on-cancel-offer') } });
      const id = `call_crossing_api_${transport}`;
      call.under.engine.startCall(call.request(id));
      await legReached(call.under, id, 'b:ringing 180');
      call.under.engine.hangup(id);
      await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      const toB = await partyDone(call.b, 'B');
      assertCallEnd(call.under, id, {
        status: 'canceled',
        endReason: 'api_hangup',
        statuses: ['queued', 'calling_a', 'calling_b', 'canceled'],
        legs: ['a:calling', 'a:ringing 180', 'a:answered 200', 'b:calling', 'b:ringing 180', 'a:ended', 'b:ended'],
      });
      assert.deepEqual(methods(toA), ['INVITE', 'ACK', 'BYE']);
      assert.deepEqual(methods(toB), ['INVITE', 'CANCEL', 'ACK', 'BYE'], "B's 200 is ACKed, then BYE'd");
      assert.match(body(requests(toB, 'ACK')[0]), /\r?\nm=audio 0 RTP\/AVP /, "the ACK answers B's offer with its stream rejected (port 0)");
      await assertEngineClean(call.under);
    });

    test(`B's ring timeout, B's 200 crosses the CANCEL: ACK and BYE to B, BYE to A, failed b_no_answer (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, { a: { scenario: shared('uas-answer-offer') }, b: { scenario: ours('uas-answer-on-cancel-offer') } });
      const id = `call_crossing_b_ring_timeout_${transport}`;
      call.under.engine.startCall(call.request(id, { b: { ringTimeoutMs: 500 } }));
      await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      const toB = await partyDone(call.b, 'B');
      assert.deepEqual(methods(toA), ['INVITE', 'ACK', 'BYE']);
      assert.deepEqual(methods(toB), ['INVITE', 'CANCEL', 'ACK', 'BYE'], "B's 200 is ACKed, then BYE'd");
      assert.match(body(requests(toB, 'ACK')[0]), /\r?\nm=audio 0 RTP\/AVP /, "the ACK answers B's offer with its stream rejected (port 0)");
      await assertEngineClean(call.under);
      await t.test('the call failed b_no_answer (the ring timeout ended it; B did not hang up)', () => {
        const final = call.under.events.find((e) => e.callId === id && e.type === 'call.status' && e.status === 'failed');
        assert.ok(final && final.type === 'call.status');
        assert.deepEqual({ status: final.status, endReason: final.endReason, failedLeg: final.failedLeg }, { status: 'failed', endReason: 'b_no_answer', failedLeg: 'b' });
        assert.notEqual(final.sip?.reason, 'local-bye', 'the SIP cause is a SIP status, not an internal ending cause');
        assert.doesNotMatch(header(requests(toA, 'BYE')[0], 'Reason') ?? '', /local-bye/, "the BYE to A does not present 'local-bye' as B's status");
      });
    });

    test(`A's ring timeout, A's 200 crosses the CANCEL: ACK and BYE to A, failed a_no_answer, B never called (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, { a: { scenario: ours('uas-answer-on-cancel-offer') } });
      const id = `call_crossing_a_ring_timeout_${transport}`;
      call.under.engine.startCall(call.request(id, { a: { ringTimeoutMs: 500 } }));
      await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      assert.deepEqual(methods(toA), ['INVITE', 'CANCEL', 'ACK', 'BYE'], "A's 200 is ACKed, then BYE'd");
      assert.deepEqual(call.under.legStatuses(id).filter((s) => s.startsWith('b:')), [], 'B is never called');
      await assertEngineClean(call.under);
      await t.test('the call failed a_no_answer (the ring timeout ended it; A did not hang up)', () => {
        const final = call.under.events.find((e) => e.callId === id && e.type === 'call.status' && ['completed', 'failed', 'canceled'].includes(e.status));
        assert.ok(final && final.type === 'call.status');
        assert.deepEqual({ status: final.status, endReason: final.endReason, failedLeg: final.failedLeg }, { status: 'failed', endReason: 'a_no_answer', failedLeg: 'a' });
        assert.notEqual(final.sip?.reason, 'local-bye', 'the SIP cause is a SIP status, not an internal ending cause');
      });
    });
  }
});
