/**
 * The engine's failure matrix on the wire, part 1: calls that never connect (RFC 3725 flow III
 * unless said), against SIPp parties over UDP and TCP. Each test checks the engine's events (call
 * statuses in order, end reason, failed leg, SIP cause, leg statuses), what each SIPp party saw
 * (its scenario succeeded; the ACK, CANCEL, BYE and Reason header it received) and that the
 * engine holds nothing afterwards.
 *
 * The tests of a describe() run concurrently (each has its own ports, parties and engine): every
 * call ends with a 64*T1 = 3.2 s wait for the engine to forget it, which would add up otherwise.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertEngineClean } from './harness.js';
import { assertCallEnd, body, header, methods, ours, partyDone, reasonFor, requests, setUpCall, shared, TRANSPORTS } from './wire-calls.js';

const CONCURRENCY = 4;

describe('failures calling A (flow III): B is never called', { concurrency: CONCURRENCY }, () => {
  for (const transport of TRANSPORTS) {
    const rejections = [
      { scenario: 'uas-busy-offer', sip: { code: 486, reason: 'Busy Here' }, endReason: 'a_busy' },
      { scenario: 'uas-decline-offer', sip: { code: 603, reason: 'Decline' }, endReason: 'a_rejected' },
    ] as const;
    for (const { scenario, sip, endReason } of rejections) {
      test(`A answers ${sip.code}: failed ${endReason}, the ${sip.code} ACKed (${transport})`, async (t) => {
        const call = await setUpCall(t, transport, { a: { scenario: shared(scenario) } });
        const id = `call_a_${sip.code}_${transport}`;
        call.under.engine.startCall(call.request(id));
        await call.under.final(id);
        const toA = await partyDone(call.a, 'A');
        assertCallEnd(call.under, id, {
          status: 'failed',
          endReason,
          failedLeg: 'a',
          sip,
          statuses: ['queued', 'calling_a', 'failed'],
          legs: ['a:calling', `a:failed ${sip.code}`],
        });
        assert.deepEqual(methods(toA), ['INVITE', 'ACK'], 'A gets its INVITE and the ACK of its rejection, nothing else');
        await assertEngineClean(call.under);
      });
    }

    test(`A does not answer within its ring timeout: CANCEL, 487, failed a_no_answer (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, { a: { scenario: shared('uas-no-answer-offer') } });
      const id = `call_a_no_answer_${transport}`;
      const started = Date.now();
      call.under.engine.startCall(call.request(id, { a: { ringTimeoutMs: 500 } }));
      const final = await call.under.final(id);
      assert.ok(final.at - started >= 500, `no CANCEL before the ring timeout (${final.at - started} ms)`);
      const toA = await partyDone(call.a, 'A');
      assertCallEnd(call.under, id, {
        status: 'failed',
        endReason: 'a_no_answer',
        failedLeg: 'a',
        sip: { code: 487, reason: 'Request Terminated' },
        statuses: ['queued', 'calling_a', 'failed'],
        legs: ['a:calling', 'a:ringing 180', 'a:failed 487'],
      });
      assert.deepEqual(methods(toA), ['INVITE', 'CANCEL', 'ACK'], 'A gets the CANCEL, and the ACK of its 487');
      await assertEngineClean(call.under);
    });

    test(`A's host name does not resolve: failed unreachable (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, {});
      const id = `call_a_unresolvable_${transport}`;
      const uri = `<sip:alice@no-such-host.invalid${transport === 'tcp' ? ';transport=tcp' : ''}>`;
      call.under.engine.startCall(call.request(id, { a: { uri } }));
      await call.under.final(id);
      assertCallEnd(call.under, id, {
        status: 'failed',
        endReason: 'unreachable',
        failedLeg: 'a',
        sip: { code: 503, reason: 'Service Unavailable' },
        statuses: ['queued', 'calling_a', 'failed'],
        legs: ['a:calling', 'a:failed 503'],
      });
      await assertEngineClean(call.under);
    });
  }

  for (const transport of TRANSPORTS) {
    const tcp = transport === 'tcp' ? ';transport=tcp' : '';
    test(`A redirects (302) to a party that is busy: the 302 ACKed, the new target called, failed a_busy (${transport})`, async (t) => {
      // Party "b" of the port block plays the redirect target of leg a; B itself is never called.
      const call = await setUpCall(t, transport, {
        a: { scenario: shared('uas-redirect-offer'), keys: (ports) => ({ redirect_to: `127.0.0.1:${ports.b}${tcp}` }) },
        b: { scenario: shared('uas-busy-offer') },
      });
      const id = `call_a_redirect_busy_${transport}`;
      call.under.engine.startCall(call.request(id));
      await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      const toTarget = await partyDone(call.b, 'the redirect target');
      assertCallEnd(call.under, id, {
        status: 'failed',
        endReason: 'a_busy',
        failedLeg: 'a',
        sip: { code: 486, reason: 'Busy Here' },
        statuses: ['queued', 'calling_a', 'failed'],
        legs: ['a:calling', 'a:failed 486'],
      });
      assert.deepEqual(methods(toA), ['INVITE', 'ACK'], 'the 302 is ACKed');
      assert.deepEqual(methods(toTarget), ['INVITE', 'ACK'], 'the Contact of the 302 gets the INVITE, its 486 is ACKed');
      assert.match(requests(toTarget, 'INVITE')[0]!.text, /^INVITE sip:moved@127\.0\.0\.1:\d+/, 'the INVITE goes to the Contact of the 302 (RFC 3261 §8.1.3.4)');
      await assertEngineClean(call.under);
    });

    test(`A redirects (302) with redirects off (maxRedirects 0): the 302 ACKed, failed a_rejected (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, { a: { scenario: shared('uas-redirect-offer'), keys: (ports) => ({ redirect_to: `127.0.0.1:${ports.b}${tcp}` }) } });
      const id = `call_a_redirect_off_${transport}`;
      call.under.engine.startCall(call.request(id, { maxRedirects: 0 }));
      await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      assertCallEnd(call.under, id, {
        status: 'failed',
        endReason: 'a_rejected',
        failedLeg: 'a',
        sip: { code: 302, reason: 'Moved Temporarily' },
        statuses: ['queued', 'calling_a', 'failed'],
        legs: ['a:calling', 'a:failed 302'],
      });
      assert.deepEqual(methods(toA), ['INVITE', 'ACK']);
      await assertEngineClean(call.under);
    });
  }

  test('A unreachable over TCP (connection refused): failed unreachable at once', async (t) => {
    const call = await setUpCall(t, 'tcp', {});
    const id = 'call_a_refused_tcp';
    const started = Date.now();
    call.under.engine.startCall(call.request(id));
    const final = await call.under.final(id);
    assert.ok(final.at - started < 1000, `a refused connection fails the leg at once (${final.at - started} ms)`);
    assertCallEnd(call.under, id, {
      status: 'failed',
      endReason: 'unreachable',
      failedLeg: 'a',
      sip: { code: 503, reason: 'Service Unavailable' },
      statuses: ['queued', 'calling_a', 'failed'],
      legs: ['a:calling', 'a:failed 503'],
    });
    await assertEngineClean(call.under);
  });

  test('A unreachable over UDP (no response at all): Timer B, failed unreachable', async (t) => {
    const call = await setUpCall(t, 'udp', {});
    const id = 'call_a_timeout_udp';
    const started = Date.now();
    call.under.engine.startCall(call.request(id));
    const final = await call.under.final(id);
    // Timer B = 64*T1 = 3.2 s with the harness's T1 = 50 ms.
    assert.ok(final.at - started >= 3100 && final.at - started < 5000, `the INVITE times out after 64*T1 (${final.at - started} ms)`);
    assertCallEnd(call.under, id, {
      status: 'failed',
      endReason: 'unreachable',
      failedLeg: 'a',
      sip: { code: 408, reason: 'Request Timeout' },
      statuses: ['queued', 'calling_a', 'failed'],
      legs: ['a:calling', 'a:failed 408'],
    });
    await assertEngineClean(call.under);
  });

  for (const transport of TRANSPORTS) {
    test(`A's 200 carries no SDP (flow III needs an offer): failed negotiation_failed, ACK and BYE to A (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, { a: { scenario: ours('uas-answer-nosdp-offer') } });
      const id = `call_a_nosdp_${transport}`;
      call.under.engine.startCall(call.request(id));
      await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      assertCallEnd(call.under, id, {
        status: 'failed',
        endReason: 'negotiation_failed',
        failedLeg: 'a',
        sip: { code: 200, reason: 'OK' },
        statuses: ['queued', 'calling_a', 'failed'],
        legs: ['a:calling', 'a:ringing 180', 'a:answered 200', 'a:ended'],
      });
      assert.deepEqual(methods(toA), ['INVITE', 'ACK', 'BYE'], 'A: its 200 ACKed (no SDP: there was no offer), then BYE');
      assert.equal(body(requests(toA, 'ACK')[0]), '', 'the ACK carries no body');
      await assertEngineClean(call.under);
    });
  }
});

describe('failures calling B once A answered (flow III): A gets a BYE with the Reason', { concurrency: CONCURRENCY }, () => {
  for (const transport of TRANSPORTS) {
    const rejections = [
      { scenario: 'uas-busy-offer', sip: { code: 486, reason: 'Busy Here' }, endReason: 'b_busy', ringing: false, toA: { code: 486, reason: 'Busy Here' } },
      { scenario: 'uas-decline-offer', sip: { code: 603, reason: 'Decline' }, endReason: 'b_rejected', ringing: false, toA: { code: 603, reason: 'Decline' } },
      // The 487 is the echo of our own CANCEL: A is told 480 (no answer), not "request terminated".
      { scenario: 'uas-no-answer-offer', sip: { code: 487, reason: 'Request Terminated' }, endReason: 'b_no_answer', ringing: true, toA: { code: 480, reason: 'Temporarily Unavailable' } },
    ] as const;
    for (const { scenario, sip, endReason, ringing, toA: reasonToA } of rejections) {
      test(`B ${ringing ? 'rings past its ring timeout' : `answers ${sip.code}`}: failed ${endReason}, BYE to A with Reason cause=${reasonToA.code} (${transport})`, async (t) => {
        const call = await setUpCall(t, transport, { a: { scenario: shared('uas-answer-offer') }, b: { scenario: shared(scenario) } });
        const id = `call_b_${endReason}_${transport}`;
        call.under.engine.startCall(call.request(id, { b: { ringTimeoutMs: 500 } }));
        await call.under.final(id);
        const toA = await partyDone(call.a, 'A');
        const toB = await partyDone(call.b, 'B');
        assertCallEnd(call.under, id, {
          status: 'failed',
          endReason,
          failedLeg: 'b',
          sip,
          statuses: ['queued', 'calling_a', 'calling_b', 'failed'],
          legs: ['a:calling', 'a:ringing 180', 'a:answered 200', 'b:calling', ...(ringing ? ['b:ringing 180'] : []), `b:failed ${sip.code}`, 'a:ended'],
        });
        assert.deepEqual(methods(toA), ['INVITE', 'ACK', 'BYE'], 'A: answered, held, then BYE');
        assert.equal(header(requests(toA, 'BYE')[0], 'Reason'), reasonFor(reasonToA), "the BYE to A carries B's status (RFC 3326)");
        assert.deepEqual(methods(toB), ringing ? ['INVITE', 'CANCEL', 'ACK'] : ['INVITE', 'ACK'], 'B: its final response ACKed');
        await assertEngineClean(call.under);
      });
    }
  }

  for (const transport of TRANSPORTS) {
    const sip = transport === 'tcp' ? { code: 503, reason: 'Service Unavailable' } : { code: 408, reason: 'Request Timeout' };
    const how = transport === 'tcp' ? 'connection refused' : 'no response: Timer B';
    test(`B unreachable (${transport}, ${how}): failed unreachable, BYE to A with Reason cause=${sip.code}`, async (t) => {
      const call = await setUpCall(t, transport, { a: { scenario: shared('uas-answer-offer') } });
      const id = `call_b_unreachable_${transport}`;
      call.under.engine.startCall(call.request(id));
      await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      assertCallEnd(call.under, id, {
        status: 'failed',
        endReason: 'unreachable',
        failedLeg: 'b',
        sip,
        statuses: ['queued', 'calling_a', 'calling_b', 'failed'],
        legs: ['a:calling', 'a:ringing 180', 'a:answered 200', 'b:calling', `b:failed ${sip.code}`, 'a:ended'],
      });
      assert.deepEqual(methods(toA), ['INVITE', 'ACK', 'BYE']);
      assert.equal(header(requests(toA, 'BYE')[0], 'Reason'), reasonFor(sip), "the BYE to A carries B's failure (RFC 3326)");
      await assertEngineClean(call.under);
    });
  }

  for (const transport of TRANSPORTS) {
    test(`codec mismatch (A only PCMU, B only G729): failed codec_mismatch, B's 200 ACKed with port 0, BYE to both (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, {
        a: { scenario: ours('uas-answer-codec-offer'), keys: { codec_pt: '0', codec_name: 'PCMU' } },
        b: { scenario: ours('uas-answer-codec-offer'), keys: { codec_pt: '18', codec_name: 'G729' } },
      });
      const id = `call_codecs_${transport}`;
      call.under.engine.startCall(call.request(id));
      await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      const toB = await partyDone(call.b, 'B');
      assertCallEnd(call.under, id, {
        status: 'failed',
        endReason: 'codec_mismatch',
        failedLeg: 'b',
        statuses: ['queued', 'calling_a', 'calling_b', 'failed'],
        legs: ['a:calling', 'a:ringing 180', 'a:answered 200', 'b:calling', 'b:ringing 180', 'b:answered 200', 'a:ended', 'b:ended'],
      });
      assert.deepEqual(methods(toA), ['INVITE', 'ACK', 'BYE'], 'A is never re-INVITEd with an offer it cannot take');
      assert.deepEqual(methods(toB), ['INVITE', 'ACK', 'BYE'], "B's 200 is ACKed, then BYE");
      assert.match(body(requests(toB, 'ACK')[0]), /\r?\nm=audio 0 RTP\/AVP 18\r?\n/, "the ACK to B rejects its stream (port 0), answering B's offer");
      const incompatible = reasonFor({ code: 488, reason: 'Incompatible media' });
      assert.equal(header(requests(toA, 'BYE')[0], 'Reason'), incompatible, 'the BYE to A says why (RFC 3326)');
      assert.equal(header(requests(toB, 'BYE')[0], 'Reason'), incompatible, 'the BYE to B too');
      await assertEngineClean(call.under);
    });
  }

  for (const transport of TRANSPORTS) {
    test(`flow I, B busy: A's pending 200 ACKed with a rejecting answer, BYE with Reason; B's INVITE had A's offer (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, { a: { scenario: shared('uas-answer-offer') }, b: { scenario: shared('uas-busy') } });
      const id = `call_flow1_b_busy_${transport}`;
      call.under.engine.startCall(call.request(id, { flow: 'I' }));
      await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      const toB = await partyDone(call.b, 'B');
      const sip = { code: 486, reason: 'Busy Here' };
      assertCallEnd(call.under, id, {
        status: 'failed',
        endReason: 'b_busy',
        failedLeg: 'b',
        sip,
        statuses: ['queued', 'calling_a', 'calling_b', 'failed'],
        legs: ['a:calling', 'a:ringing 180', 'a:answered 200', 'b:calling', 'b:failed 486', 'a:ended'],
      });
      assert.match(body(requests(toB, 'INVITE')[0]), new RegExp(`\\r?\\nm=audio ${call.mediaA} RTP/AVP 0 8 101\\r?\\n`), "B's INVITE carries A's offer");
      assert.deepEqual(methods(toA), ['INVITE', 'ACK', 'BYE']);
      assert.match(body(requests(toA, 'ACK')[0]), /\r?\nm=audio 0 RTP\/AVP /, "A's offer is answered in the ACK with its stream rejected (port 0)");
      assert.equal(header(requests(toA, 'BYE')[0], 'Reason'), reasonFor(sip), "the BYE to A carries B's 486");
      await assertEngineClean(call.under);
    });
  }
});
