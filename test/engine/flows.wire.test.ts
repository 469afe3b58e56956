/**
 * RFC 3725 flows I, III and IV connecting two SIPp user agents, over UDP and TCP: each SIPp
 * scenario checks what it receives (SDP or none in the INVITE, the answer in the ACK, exactly one
 * re-INVITE), so SIPp's exit status says the peer saw a correct flow; the engine's events say the
 * call went queued → calling_a → calling_b → connected → completed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Flow } from '../../src/engine/index.js';
import { parseSdp } from '../../src/sdp/index.js';
import { freePortBlock } from '../support/ports.js';
import { parseSippMessages, sharedScenario, startSippUas, type SippTransport } from '../support/sipp.js';
import { assertEngineClean, startEngine } from './harness.js';

const ENGINE = 0;
const PARTY_A = 1;
const PARTY_B = 2;
const MEDIA_A = 4;
const MEDIA_B = 7;

/** What each party runs for each flow: A gets the INVITE first, B second. */
const SCENARIOS: Record<Flow, { a: string; b: string }> = {
  // A: INVITE without SDP, offer in the 200, held answer in the ACK, one re-INVITE with B's offer.
  III: { a: 'uas-answer-reinvite-offer', b: 'uas-answer-offer' },
  // A: INVITE without SDP, offer in the 200, ACK with B's answer. B: INVITE with A's offer.
  I: { a: 'uas-answer-offer', b: 'uas-answer' },
  // A: INVITE with an offer without m-lines, answered without m-lines, then one re-INVITE with B's offer.
  IV: { a: 'peers/uas-answer-nomedia-reinvite', b: 'uas-answer-offer' },
};

function scenarioPath(name: string): string {
  return name.startsWith('peers/') ? new URL(`../peers/sipp/${name.slice(6)}.xml`, import.meta.url).pathname : sharedScenario(name);
}

describe('RFC 3725 flows between two SIPp parties', () => {
  for (const transport of ['udp', 'tcp'] as SippTransport[]) {
    for (const flow of ['III', 'I', 'IV'] as Flow[]) {
      test(`flow ${flow} connects A and B and ends with BYE to both (${transport})`, async (t) => {
        const base = await freePortBlock(10);
        const a = await startSippUas(t, { scenario: scenarioPath(SCENARIOS[flow].a), port: base + PARTY_A, mediaPort: base + MEDIA_A, transport });
        const b = await startSippUas(t, { scenario: scenarioPath(SCENARIOS[flow].b), port: base + PARTY_B, mediaPort: base + MEDIA_B, transport });
        const under = await startEngine(t, base + ENGINE);
        const id = `call_${flow}_${transport}`;
        under.engine.startCall({ id, flow, a: { uri: `<${a.uri('alice')}>`, from: '<sip:ctd@127.0.0.1>' }, b: { uri: `<${b.uri('bob')}>`, from: '"Alice" <sip:alice@example.com>' } });
        await under.reached(id, 'connected');
        under.engine.hangup(id);
        const final = await under.final(id);
        assert.equal(final.status, 'completed');
        assert.equal(final.endReason, 'api_hangup');
        assert.deepEqual(under.statuses(id), ['queued', 'calling_a', 'calling_b', 'connected', 'completed']);
        const legs = under.legStatuses(id);
        for (const expected of ['a:calling', 'a:answered', 'b:calling', 'b:answered', 'a:connected', 'b:connected', 'a:ended', 'b:ended']) {
          assert.ok(legs.includes(expected), `${expected} in ${legs.join(', ')}`);
        }
        assert.ok(legs.indexOf('a:answered') < legs.indexOf('b:calling'), 'B is called once A answered');
        const seqs = under.events.filter((e) => e.callId === id).map((e) => e.seq);
        assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'events are numbered 1, 2, 3… per call');

        const exitA = await a.wait(10_000);
        const exitB = await b.wait(10_000);
        assert.equal(exitA.code, 0, await a.report());
        assert.equal(exitB.code, 0, await b.report());

        // What went over the wire, from the parties' side.
        const toA = parseSippMessages(await a.messages()).filter((m) => m.direction === 'received');
        const toB = parseSippMessages(await b.messages()).filter((m) => m.direction === 'received');
        const invitesToA = toA.filter((m) => m.method === 'INVITE');
        const sdpOf = (text: string) => parseSdp(text.slice(text.indexOf('\r\n\r\n') + 4));
        if (flow === 'III') {
          assert.doesNotMatch(invitesToA[0]!.text, /\r\nv=0/, 'flow III: the first INVITE to A has no SDP');
          const heldAck = toA.find((m) => m.method === 'ACK')!;
          assert.match(heldAck.text, /\r\nc=IN IP4 0\.0\.0\.0\r\n/, 'A is held on the black hole while B rings');
          assert.equal(invitesToA.length, 2, 'one re-INVITE to A');
          const reinvite = sdpOf(invitesToA[1]!.text);
          assert.equal(reinvite.origin.sessionVersion, sdpOf(heldAck.text).origin.sessionVersion + 1, 'the re-INVITE bumps the version towards A (RFC 3264 §8)');
          assert.equal(reinvite.origin.sessionId, sdpOf(heldAck.text).origin.sessionId, 'same o= session towards A');
          assert.match(toB.find((m) => m.method === 'ACK')!.text, /\r\nm=audio \d+ RTP\/AVP/, "B's ACK carries A's answer");
        }
        if (flow === 'I') {
          assert.doesNotMatch(invitesToA[0]!.text, /\r\nv=0/, 'flow I: the INVITE to A has no SDP');
          assert.match(toB.find((m) => m.method === 'INVITE')!.text, /\r\nm=audio \d+ RTP\/AVP/, "B's INVITE carries A's offer");
          assert.equal(invitesToA.length, 1, 'no re-INVITE in flow I');
          const ackA = toA.find((m) => m.method === 'ACK')!;
          assert.match(ackA.text, /\r\nm=audio \d+ RTP\/AVP/, "A's ACK carries B's answer");
        }
        if (flow === 'IV') {
          const first = sdpOf(invitesToA[0]!.text);
          assert.equal(first.media.length, 0, 'flow IV: the first offer to A has no m-lines');
          assert.equal(sdpOf(invitesToA[1]!.text).media.length, 1, "the re-INVITE carries B's audio");
        }
        assert.ok(under.engine.sipLog(id).length >= 10, 'the call has its SIP log');
        await assertEngineClean(under);
      });
    }
  }
});
