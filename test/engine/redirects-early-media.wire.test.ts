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
import type { SippTracedMessage } from '../support/sipp.js';
import { assertCallEnd, body, header, methods, ours, partyDone, requests, setUpCall, shared, tracedAt, TRANSPORTS } from './wire-calls.js';

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

const EARLY = ours('uas-early-offer-prack-offer');
const CONNECTED = ['queued', 'calling_a', 'calling_b', 'connected', 'completed'] as const;

/** The m= port of the audio line of a traced message's SDP. */
function audioPort(message: SippTracedMessage | undefined): number | undefined {
  const port = /\r?\nm=audio (\d+) /.exec(body(message))?.[1];
  return port === undefined ? undefined : Number(port);
}

describe('early media (RFC 3725 §8, RFC 3262)', { concurrency: CONCURRENCY }, () => {
  for (const transport of TRANSPORTS) {
    test(`B offers in a reliable 183: A is re-INVITEd with it, A's answer goes to B in the PRACK, B's 200 only confirms (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, { a: { scenario: shared('uas-answer-offer') }, b: { scenario: EARLY } });
      const id = `call_early_b_${transport}`;
      call.under.engine.startCall(call.request(id, { ringback: 'tone' }));
      await call.under.reached(id, 'connected');
      call.under.engine.hangup(id);
      await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      const toB = await partyDone(call.b, 'B');
      assertCallEnd(call.under, id, {
        status: 'completed',
        endReason: 'api_hangup',
        statuses: [...CONNECTED],
        legs: ['a:calling', 'a:ringing 180', 'a:answered 200', 'b:calling', 'b:early 183', 'b:answered 200', 'a:connected', 'b:connected', 'a:ended', 'b:ended'],
      });
      assert.match(header(requests(toB, 'INVITE')[0], 'Supported') ?? '', /\b100rel\b/, 'the INVITE to B says Supported: 100rel');
      assert.deepEqual(methods(toA), ['INVITE', 'ACK', 'INVITE', 'ACK', 'BYE'], 'A: held, then one re-INVITE with B\'s early offer');
      assert.deepEqual(methods(toB), ['INVITE', 'PRACK', 'ACK', 'BYE'], 'B: its 183 PRACKed, its 200 ACKed');
      const reinviteA = requests(toA, 'INVITE')[1];
      assert.equal(audioPort(reinviteA), call.mediaB, "the re-INVITE to A carries B's media (from the 183)");
      const prack = requests(toB, 'PRACK')[0];
      assert.equal(audioPort(prack), call.mediaA, "the PRACK carries A's answer: A's media");
      assert.equal(body(requests(toB, 'ACK')[0]), '', 'the ACK carries no SDP: the exchange ended in the PRACK');
      assert.ok(tracedAt(reinviteA!) <= tracedAt(prack!), 'A is re-INVITEd before B gets the PRACK (RFC 3725 §8)');
      const final200 = call.under.engine.sipLog(id).find((entry) => entry.leg === 'b' && entry.direction === 'in' && /^200 .*INVITE/.test(entry.line));
      const connected = call.under.events.find((e) => e.callId === id && e.type === 'call.status' && e.status === 'connected');
      assert.ok(final200 && connected && connected.at >= final200.at, "connected once B's 200 came, not at the PRACK");
      await assertEngineClean(call.under);
    });

    test(`flow IV: B offers in a reliable 183: A (answered without m-lines) is re-INVITEd with it, A's answer goes in the PRACK (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, { a: { scenario: ours('uas-answer-nomedia-reinvite') }, b: { scenario: EARLY } });
      const id = `call_early_b_flow4_${transport}`;
      call.under.engine.startCall(call.request(id, { flow: 'IV' }));
      await call.under.reached(id, 'connected');
      call.under.engine.hangup(id);
      await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      const toB = await partyDone(call.b, 'B');
      assertCallEnd(call.under, id, {
        status: 'completed',
        endReason: 'api_hangup',
        statuses: [...CONNECTED],
        legs: ['a:calling', 'a:ringing 180', 'a:answered 200', 'b:calling', 'b:early 183', 'b:answered 200', 'a:connected', 'b:connected', 'a:ended', 'b:ended'],
      });
      assert.deepEqual(methods(toB), ['INVITE', 'PRACK', 'ACK', 'BYE']);
      assert.equal(audioPort(requests(toA, 'INVITE')[1]), call.mediaB, "the re-INVITE to A carries B's early offer");
      assert.equal(audioPort(requests(toB, 'PRACK')[0]), call.mediaA, "the PRACK carries A's answer");
      await assertEngineClean(call.under);
    });

    test(`A offers in a reliable 183: the held answer goes in the PRACK, A's 200 is ACKed without SDP, then flow III as usual (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, { a: { scenario: EARLY }, b: { scenario: shared('uas-answer-offer') } });
      const id = `call_early_a_${transport}`;
      call.under.engine.startCall(call.request(id));
      await call.under.reached(id, 'connected');
      call.under.engine.hangup(id);
      await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      const toB = await partyDone(call.b, 'B');
      assertCallEnd(call.under, id, {
        status: 'completed',
        endReason: 'api_hangup',
        statuses: [...CONNECTED],
        legs: ['a:calling', 'a:early 183', 'a:answered 200', 'b:calling', 'b:ringing 180', 'b:answered 200', 'a:connected', 'b:connected', 'a:ended', 'b:ended'],
      });
      assert.deepEqual(methods(toA), ['INVITE', 'PRACK', 'ACK', 'INVITE', 'ACK', 'BYE']);
      const held = body(requests(toA, 'PRACK')[0]);
      assert.match(held, /\r?\nc=IN IP4 0\.0\.0\.0\r?\n/, 'the PRACK holds A on the black hole');
      assert.equal(body(requests(toA, 'ACK')[0]), '', "the ACK of A's 200 carries no SDP");
      assert.equal(audioPort(requests(toA, 'INVITE')[1]), call.mediaB, "the re-INVITE to A carries B's offer");
      assert.equal(audioPort(requests(toB, 'ACK')[0]), call.mediaA, "B's ACK carries A's answer");
      await assertEngineClean(call.under);
    });

    test(`A and B both offer in reliable 183s: the call connects, every exchange completed once (${transport})`, async (t) => {
      const call = await setUpCall(t, transport, { a: { scenario: EARLY }, b: { scenario: EARLY } });
      const id = `call_early_both_${transport}`;
      call.under.engine.startCall(call.request(id));
      await call.under.reached(id, 'connected');
      call.under.engine.hangup(id);
      await call.under.final(id);
      const toA = await partyDone(call.a, 'A');
      const toB = await partyDone(call.b, 'B');
      assertCallEnd(call.under, id, {
        status: 'completed',
        endReason: 'api_hangup',
        statuses: [...CONNECTED],
        legs: ['a:calling', 'a:early 183', 'a:answered 200', 'b:calling', 'b:early 183', 'b:answered 200', 'a:connected', 'b:connected', 'a:ended', 'b:ended'],
      });
      assert.deepEqual(methods(toA), ['INVITE', 'PRACK', 'ACK', 'INVITE', 'ACK', 'BYE']);
      assert.deepEqual(methods(toB), ['INVITE', 'PRACK', 'ACK', 'BYE']);
      assert.equal(audioPort(requests(toB, 'PRACK')[0]), call.mediaA);
      assert.equal(audioPort(requests(toA, 'INVITE')[1]), call.mediaB);
      await assertEngineClean(call.under);
    });
  }
});
