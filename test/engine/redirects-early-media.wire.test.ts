/**
 * The engine on the wire, part 4: redirection (RFC 3261 §8.1.3.4: Contacts in q-order, the hop
 * limit, loop detection), 181 reported as `forwarded`, and the early-media variants of RFC 3725
 * §8 (B's offer in a reliable 183, answered through PRACK with A's answer), against SIPp parties
 * over UDP and TCP. Each test checks the engine's events, what each SIPp party received (its
 * scenario succeeded) and that the engine holds nothing afterwards.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertEngineClean } from './harness.js';
import { assertCallEnd, methods, ours, partyDone, requests, setUpCall, shared, TRANSPORTS } from './wire-calls.js';

const CONCURRENCY = 4;

describe('redirection and forwarding', { concurrency: CONCURRENCY }, () => {
  for (const transport of TRANSPORTS) {
    const tcp = transport === 'tcp' ? ';transport=tcp' : '';
    test(`A's 302 lists four Contacts: itself and the engine (loops) are skipped, the others tried highest q first (${transport})`, async (t) => {
      // B's port plays the lowest-q target (busy); the q=0.7 one is where nothing listens.
      const call = await setUpCall(t, transport, {
        a: {
          scenario: ours('uas-redirect-contacts-offer'),
          keys: (ports) => ({
            contacts: [
              `<sip:alice@127.0.0.1:${ports.a}${tcp}>;q=1.0`,
              `<sip:ctd@127.0.0.1:${ports.engine}${tcp}>;q=0.9`,
              `<sip:low@127.0.0.1:${ports.b}${tcp}>;q=0.3`,
              `<sip:high@127.0.0.1:${ports.nobody}${tcp}>;q=0.7`,
            ].join(', '),
          }),
        },
        b: { scenario: shared('uas-busy-offer') },
      });
      const id = `call_redirect_q_${transport}`;
      const started = call.under.engine.startCall(call.request(id));
      await call.under.final(id, 15_000);
      const toA = await partyDone(call.a, 'A');
      const toTarget = await partyDone(call.b, 'the q=0.3 target');
      assertCallEnd(call.under, id, {
        status: 'failed',
        endReason: 'a_busy',
        failedLeg: 'a',
        sip: { code: 486, reason: 'Busy Here' },
        statuses: ['queued', 'calling_a', 'failed'],
        legs: ['a:calling', 'a:failed 486'],
      });
      assert.deepEqual(methods(toA), ['INVITE', 'ACK'], 'A: one INVITE (no loop back to it), its 302 ACKed');
      assert.deepEqual(methods(toTarget), ['INVITE', 'ACK'], 'the last target: INVITE, its 486 ACKed');
      assert.match(requests(toTarget, 'INVITE')[0]!.text, /^INVITE sip:low@127\.0\.0\.1:\d+/);
      // Every attempt of leg a, in order (over TCP the q=0.7 one never reaches the wire: refused).
      const attempts = (started.session('a')?.dialogSets ?? []).map((set) => `${set.invite.requestUri.replace(/@.*/, '')} ${set.invite.cseq.seq}`);
      assert.deepEqual(attempts, ['sip:alice 1', 'sip:high 2', 'sip:low 3'], 'q=0.7 before q=0.3, CSeq one up each time; never the engine itself or A again');
      await assertEngineClean(call.under);
    });

    test(`B says 181 before 180: reported as ringing, forwarded (the 180 after it changes no status); the call connects (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, { a: { scenario: shared('uas-answer-offer') }, b: { scenario: ours('uas-forwarded-answer-offer') } });
      const id = `call_forwarded_${transport}`;
      call.under.engine.startCall(call.request(id));
      await call.under.reached(id, 'connected');
      call.under.engine.hangup(id);
      await call.under.final(id);
      await partyDone(call.a, 'A');
      await partyDone(call.b, 'B');
      assertCallEnd(call.under, id, {
        status: 'completed',
        endReason: 'api_hangup',
        statuses: ['queued', 'calling_a', 'calling_b', 'connected', 'completed'],
        legs: ['a:calling', 'a:ringing 180', 'a:answered 200', 'b:calling', 'b:ringing 181', 'b:answered 200', 'a:connected', 'b:connected', 'a:ended', 'b:ended'],
      });
      const forwarded = call.under.events.filter((e) => e.callId === id && e.type === 'leg.status' && e.forwarded === true);
      assert.deepEqual(
        forwarded.map((e) => (e.type === 'leg.status' ? [e.leg, e.status, e.sip?.code] : [])),
        [['b', 'ringing', 181]],
        'only the 181 is marked forwarded',
      );
      await assertEngineClean(call.under);
    });
  }
});
