/**
 * The engine's failure matrix on the wire, part 3: re-INVITEs and other in-dialog requests
 * (RFC 3725 flow III) against SIPp parties over UDP and TCP. A's re-INVITE while B is still being
 * called (491, RFC 3261 §14.2), A's new offer once connected (relayed to B, RFC 3725 §4.3), an
 * offerless refresh (answered with the description last sent, RFC 3264 §8), an in-dialog OPTIONS,
 * glare on our re-INVITE to A (491, retried after the §14.1 delay), a re-INVITE A never answers
 * (A and B both get a BYE, RFC 3261 §14.1) and one A answers 481 (no BYE to A: it has no dialog
 * left, §12.2.1.2). Each test checks the engine's events, what each SIPp party received (its scenario
 * succeeded) and that the engine holds nothing afterwards.
 *
 * The tests of a describe() run concurrently (own ports, parties and engine each): every call
 * ends with a 64*T1 = 3.2 s wait for the engine to forget it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseSdp } from '../../src/sdp/index.js';
import type { SippTracedMessage } from '../support/sipp.js';
import { assertEngineClean } from './harness.js';
import { assertCallEnd, body, header, methods, ours, partyDone, reasonFor, requests, responses, setUpCall, shared, tracedAt, TRANSPORTS } from './wire-calls.js';

const CONCURRENCY = 4;
const CONNECTED_LEGS = ['a:calling', 'a:ringing 180', 'a:answered 200', 'b:calling', 'b:ringing 180', 'b:answered 200', 'a:connected', 'b:connected'];

/** Received INVITEs, one per transaction (UDP retransmissions dropped). */
function distinctInvites(messages: readonly SippTracedMessage[]): SippTracedMessage[] {
  const seen = new Set<string>();
  return requests(messages, 'INVITE').filter((m) => {
    const key = `${header(m, 'CSeq')}\n${/branch=([^;,\s]+)/i.exec(header(m, 'Via') ?? '')?.[1]}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function origin(message: SippTracedMessage | undefined): { sessionId: string; sessionVersion: number } {
  const o = parseSdp(body(message)).origin;
  return { sessionId: String(o.sessionId), sessionVersion: Number(o.sessionVersion) };
}

function withoutOrigin(sdp: string): string {
  return sdp.replace(/^o=.*$/m, '');
}

describe('re-INVITEs and requests from A', { concurrency: CONCURRENCY }, () => {
  for (const transport of TRANSPORTS) {
    test(`A re-INVITEs while B is still being called: 491, then the call connects as usual (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, {
        a: { scenario: ours('uas-reinvite-early-offer'), vars: { request_ms: 0 } },
        b: { scenario: shared('uas-answer-offer'), vars: { ring_ms: 1500 } },
      });
      const id = `call_early_reinvite_${transport}`;
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
        legs: [...CONNECTED_LEGS, 'a:ended', 'b:ended'],
      });
      const pending = responses(toA, 491, 'INVITE');
      assert.equal(pending.length >= 1, true, "A's re-INVITE got 491 Request Pending");
      const invites = distinctInvites(toA);
      assert.equal(invites.length, 2, 'A: the first INVITE and our one re-INVITE with B\'s offer');
      assert.ok(tracedAt(pending[0]!) < tracedAt(invites[1]!), 'the 491 came while B was still being called, before our re-INVITE');
      assert.deepEqual(methods(toB), ['INVITE', 'ACK', 'BYE'], "A's refused offer never reaches B");
      assert.doesNotMatch(body(requests(toB, 'ACK')[0]), /a=sendonly/, "B's ACK holds A's answer, not its refused re-offer");
      await assertEngineClean(call.under);
    });

    test(`A re-INVITEs with a new offer once connected: relayed to B, A gets B's answer (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, {
        a: { scenario: ours('uas-reinvite-after-connect-offer'), vars: { request_ms: 200, hangup_ms: 300 } },
        b: { scenario: shared('uas-answer-reinvite-offer') },
      });
      const id = `call_relay_reinvite_${transport}`;
      call.under.engine.startCall(call.request(id));
      await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      const toB = await partyDone(call.b, 'B');
      assertCallEnd(call.under, id, {
        status: 'completed',
        endReason: 'a_hangup',
        statuses: ['queued', 'calling_a', 'calling_b', 'connected', 'completed'],
        legs: [...CONNECTED_LEGS, 'a:ended', 'b:ended'],
      });
      assert.deepEqual(methods(toB), ['INVITE', 'ACK', 'INVITE', 'ACK', 'BYE'], 'B gets one re-INVITE: A\'s offer');
      const offerToB = body(distinctInvites(toB)[1]);
      assert.match(offerToB, new RegExp(`\\r?\\nm=audio ${call.mediaA} RTP/AVP 0 8 101\\r?\\n`), "the re-INVITE to B carries A's media");
      assert.match(offerToB, /\r?\na=sendonly\r?\n/, "…and A's new direction (hold)");
      assert.equal(origin(distinctInvites(toB)[1]).sessionVersion, origin(requests(toB, 'ACK')[0]).sessionVersion + 1, 'a new version towards B: A changed its media (RFC 3264 §8)');
      const answerToA = responses(toA, 200, 'INVITE')[0];
      assert.ok(answerToA, "A's re-INVITE got 200");
      assert.match(body(answerToA), new RegExp(`\\r?\\nm=audio ${call.mediaB} RTP/AVP `), "the 200 to A carries B's answer (B's media)");
      const lastToA = distinctInvites(toA)[1];
      assert.equal(origin(answerToA).sessionId, origin(lastToA).sessionId, 'same o= session towards A');
      // RFC 3264 §8: the version goes up by one when the description changes, and only then (B's
      // SIPp answer repeats its offer, so what A is told may well be unchanged).
      const changed = withoutOrigin(body(answerToA)) !== withoutOrigin(body(lastToA));
      assert.equal(origin(answerToA).sessionVersion, origin(lastToA).sessionVersion + (changed ? 1 : 0), 'o= version towards A (RFC 3264 §8)');
      await assertEngineClean(call.under);
    });

    test(`A re-INVITEs without SDP once connected (refresh): 200 with the description last sent to A, B untouched (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, {
        a: { scenario: ours('uas-refresh-after-connect-offer'), vars: { request_ms: 200, hangup_ms: 300 } },
        b: { scenario: shared('uas-answer-offer') },
      });
      const id = `call_refresh_${transport}`;
      call.under.engine.startCall(call.request(id));
      await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      const toB = await partyDone(call.b, 'B');
      assertCallEnd(call.under, id, {
        status: 'completed',
        endReason: 'a_hangup',
        statuses: ['queued', 'calling_a', 'calling_b', 'connected', 'completed'],
        legs: [...CONNECTED_LEGS, 'a:ended', 'b:ended'],
      });
      assert.deepEqual(methods(toB), ['INVITE', 'ACK', 'BYE'], 'no re-INVITE to B for a refresh');
      const refreshed = responses(toA, 200, 'INVITE')[0];
      assert.ok(refreshed, "A's refresh got 200");
      const lastToA = distinctInvites(toA)[1];
      assert.deepEqual(origin(refreshed), origin(lastToA), 'the same o= line (session id and version) as last sent to A');
      assert.equal(body(refreshed), body(lastToA), 'the very description last sent to A');
      await assertEngineClean(call.under);
    });

    test(`A sends OPTIONS inside the dialog once connected: 200, B untouched (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, {
        a: { scenario: ours('uas-options-after-connect-offer'), vars: { request_ms: 200, hangup_ms: 300 } },
        b: { scenario: shared('uas-answer-offer') },
      });
      const id = `call_options_${transport}`;
      call.under.engine.startCall(call.request(id));
      await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      const toB = await partyDone(call.b, 'B');
      assertCallEnd(call.under, id, {
        status: 'completed',
        endReason: 'a_hangup',
        statuses: ['queued', 'calling_a', 'calling_b', 'connected', 'completed'],
        legs: [...CONNECTED_LEGS, 'a:ended', 'b:ended'],
      });
      assert.equal(responses(toA, 200, 'OPTIONS').length >= 1, true, 'OPTIONS got 200');
      assert.deepEqual(methods(toB), ['INVITE', 'ACK', 'BYE']);
      await assertEngineClean(call.under);
    });
  }
});

describe('our re-INVITE to A fails', { concurrency: CONCURRENCY }, () => {
  for (const transport of TRANSPORTS) {
    test(`glare: A answers our re-INVITE 491 once; retried after 2.1–4 s (RFC 3261 §14.1), the call connects (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, { a: { scenario: ours('uas-glare-offer') }, b: { scenario: shared('uas-answer-offer') } });
      const id = `call_glare_${transport}`;
      call.under.engine.startCall(call.request(id));
      await call.under.reached(id, 'connected', 10_000);
      call.under.engine.hangup(id);
      await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      const toB = await partyDone(call.b, 'B');
      assertCallEnd(call.under, id, {
        status: 'completed',
        endReason: 'api_hangup',
        statuses: ['queued', 'calling_a', 'calling_b', 'connected', 'completed'],
        legs: [...CONNECTED_LEGS, 'a:ended', 'b:ended'],
      });
      const invites = distinctInvites(toA);
      assert.equal(invites.length, 3, 'A: the INVITE, the re-INVITE refused 491, its retry');
      const waited = tracedAt(invites[2]!) - tracedAt(invites[1]!);
      // §14.1: the owner of the Call-ID waits 2.1–4 s (randomly, in 10 ms units); some slack for the scheduler.
      assert.ok(waited >= 2090 && waited <= 4300, `retried after ${waited} ms`);
      const cseq = (m: SippTracedMessage) => Number((header(m, 'CSeq') ?? '').split(/\s+/)[0]);
      assert.ok(cseq(invites[2]!) > cseq(invites[1]!), 'the retry is a new request (higher CSeq)');
      assert.equal(body(invites[2]!), body(invites[1]!), 'the retry carries the same offer (B\'s)');
      assert.deepEqual(methods(toB), ['INVITE', 'ACK', 'BYE']);
      assert.match(body(requests(toB, 'ACK')[0]), new RegExp(`\\r?\\nm=audio ${call.mediaA} RTP/AVP `), "B's ACK carries A's answer");
      await assertEngineClean(call.under);
    });

    test(`A never answers our re-INVITE: it times out, B is released (ACK, BYE) and the call fails (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, { a: { scenario: ours('uas-reinvite-unanswered-offer') }, b: { scenario: shared('uas-answer-offer') } });
      const id = `call_reinvite_timeout_${transport}`;
      call.under.engine.startCall(call.request(id));
      const final = await call.under.final(id);
      const answeredB = call.under.events.find((e) => e.callId === id && e.type === 'leg.status' && e.leg === 'b' && e.status === 'answered')!;
      assert.ok(final.at - answeredB.at >= 3100, `the re-INVITE to A times out after 64*T1 (${final.at - answeredB.at} ms)`);
      const toA = await partyDone(call.a, 'A');
      const toB = await partyDone(call.b, 'B');
      assert.deepEqual(call.under.statuses(id).slice(0, 3), ['queued', 'calling_a', 'calling_b'], 'never connected');
      assert.deepEqual(methods(toB), ['INVITE', 'ACK', 'BYE'], "B's 200 is ACKed, then BYE'd");
      assert.match(body(requests(toB, 'ACK')[0]), /\r?\nm=audio 0 RTP\/AVP /, "B's offer is answered with its stream rejected (port 0)");
      await assertEngineClean(call.under);

      await t.test('the call failed negotiation_failed on leg a, SIP cause 408; the BYE to B says so', () => {
        assert.deepEqual(
          { status: final.status, endReason: final.endReason, failedLeg: final.failedLeg, sip: final.sip },
          { status: 'failed', endReason: 'negotiation_failed', failedLeg: 'a', sip: { code: 408, reason: 'Request Timeout' } },
        );
        assert.equal(header(requests(toB, 'BYE')[0], 'Reason'), reasonFor({ code: 408, reason: 'Request Timeout' }));
      });
      await t.test('A, whose dialog is still up on its side, gets a BYE too (RFC 3261 §14.1), saying why', () => {
        assert.deepEqual(methods(toA), ['INVITE', 'ACK', 'INVITE', 'BYE']);
        assert.equal(header(requests(toA, 'BYE')[0], 'Reason'), 'SIP;cause=408;text="Request Timeout"');
      });
    });

    test(`A answers our re-INVITE 481 (its dialog is gone): B is released, A gets no BYE, the call fails (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, { a: { scenario: ours('uas-reinvite-481-offer') }, b: { scenario: shared('uas-answer-offer') } });
      const id = `call_reinvite_481_${transport}`;
      call.under.engine.startCall(call.request(id));
      const final = await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      const toB = await partyDone(call.b, 'B');
      assert.deepEqual(
        { status: final.status, endReason: final.endReason, failedLeg: final.failedLeg, sip: final.sip },
        { status: 'failed', endReason: 'negotiation_failed', failedLeg: 'a', sip: { code: 481, reason: 'Call/Transaction Does Not Exist' } },
      );
      assert.deepEqual(methods(toA), ['INVITE', 'ACK', 'INVITE', 'ACK'], 'A: the 481 ACKed, and no BYE to a dialog it no longer has (RFC 3261 §12.2.1.2)');
      assert.deepEqual(methods(toB), ['INVITE', 'ACK', 'BYE'], "B's 200 is ACKed, then BYE'd");
      assert.equal(header(requests(toB, 'BYE')[0], 'Reason'), reasonFor({ code: 481, reason: 'Call/Transaction Does Not Exist' }));
      await assertEngineClean(call.under);
    });
  }
});
