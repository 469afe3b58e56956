// The Call state machine (RFC 3725 flows) on a ManualClock over the fake transport of the UA
// tests: the early-media variants of RFC 3725 §8, the Reason headers of the endings, checked
// message by message as each party would see them. The wire tests play the same against SIPp.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Engine, type CallEvent, type CallRequest, type RingbackHandle, type RingbackSource } from '../../src/engine/index.js';
import { ManualClock } from '../../src/sip/clock.js';
import type { SipRequest, SipResponse } from '../../src/sip/message/index.js';
import { advance, FakeTransport, flush, peerRequest, responseTo } from '../sip/ua/fake-transport.js';

const A = '192.0.2.10';
const B = '192.0.2.20';
const A_CONTACT = `<sip:alice@${A}:5060>`;
const RELIABLE = ['Require: 100rel', 'RSeq: 1'];

/** One audio line, PCMU, from `address`:`port`. */
function sdp(version: number, address: string, port: number, codec: { pt: number; name: string } = { pt: 0, name: 'PCMU' }): string {
  return ['v=0', `o=peer 77 ${version} IN IP4 ${address}`, 's=-', `c=IN IP4 ${address}`, 't=0 0', `m=audio ${port} RTP/AVP ${codec.pt}`, `a=rtpmap:${codec.pt} ${codec.name}/8000`, 'a=sendrecv', ''].join('\r\n');
}
const OFFER_A = sdp(1, A, 4000);
const OFFER_B = sdp(1, B, 6000);

interface Env {
  clock: ManualClock;
  net: FakeTransport;
  engine: Engine;
  events: CallEvent[];
  /** Requests sent to a party, by method, in order (retransmissions included). */
  to(address: string, method: string): SipRequest[];
  last(address: string, method: string): SipRequest;
  legs(): string[];
  statuses(): string[];
}

/** A ringback sender that only records what it is asked to play and stop. */
class RecordingRingback implements RingbackSource {
  readonly played: string[] = [];
  localAddress(): { address: string; port: number } {
    return { address: '10.0.0.1', port: 7078 };
  }
  play(stream: { address: string; port: number; codec: string }): RingbackHandle {
    this.played.push(`play ${stream.codec} to ${stream.address}:${stream.port}`);
    return { stop: () => this.played.push('stop') };
  }
}

function createEnv(ringback?: RingbackSource): Env {
  const clock = new ManualClock();
  const net = new FakeTransport(clock);
  const events: CallEvent[] = [];
  const engine = new Engine({ transport: net.asTransportLayer, clock, onEvent: (event) => events.push(event), sipLogLimit: 0, ...(ringback ? { ringback } : {}) });
  const to = (address: string, method: string): SipRequest[] =>
    net.sent.filter((s) => s.destination.address === address && s.message.isRequest && s.message.method === method).map((s) => s.message as SipRequest);
  return {
    clock,
    net,
    engine,
    events,
    to,
    last: (address, method) => {
      const all = to(address, method);
      assert.ok(all.length > 0, `no ${method} to ${address}`);
      return all[all.length - 1]!;
    },
    legs: () => events.flatMap((e) => (e.type === 'leg.status' ? [`${e.leg}:${e.status}${e.sip ? ` ${e.sip.code}` : ''}`] : [])),
    statuses: () => events.flatMap((e) => (e.type === 'call.status' ? [e.status] : [])),
  };
}

function request(extra: Partial<CallRequest> = {}): CallRequest {
  return { id: 'call_1', a: { uri: `<sip:alice@${A}:5060>`, from: '<sip:ctd@ctd.example.com>' }, b: { uri: `<sip:bob@${B}:5060>`, from: '<sip:alice@example.com>' }, ...extra };
}

/** A response from a party (the transaction layer matches it by branch, whatever its source). */
function deliver(env: Env, response: SipResponse): void {
  env.net.deliver(response);
}

/** Calls A; A rings and answers with its offer (flow III); returns A's INVITE. */
async function aAnswers(env: Env, extra: Partial<CallRequest> = {}): Promise<SipRequest> {
  env.engine.startCall(request(extra));
  await flush();
  const invite = env.last(A, 'INVITE');
  deliver(env, responseTo(invite, 180, { contact: A_CONTACT, toTag: 'alice-1' }));
  deliver(env, responseTo(invite, 200, { contact: A_CONTACT, toTag: 'alice-1', body: OFFER_A }));
  await flush();
  return invite;
}

/** Hangs up whatever is left, answers the BYEs and lets every timer run out; asserts nothing is held. */
async function endAndAssertClean(env: Env): Promise<void> {
  if (env.engine.stats().liveCalls > 0) env.engine.hangup('call_1');
  await flush();
  for (const address of [A, B]) for (const bye of env.to(address, 'BYE')) deliver(env, responseTo(bye, 200));
  // A CANCEL without a 487 gives the INVITE up after 64*T1, and the UA forgets the session 64*T1 later.
  await advance(env.clock, 40_000);
  await advance(env.clock, 40_000);
  const stats = env.engine.stats();
  const transactions = Object.values(stats.ua.transactions).reduce((sum, n) => sum + n, 0);
  assert.deepEqual({ calls: stats.liveCalls, timers: stats.timers, dialogs: stats.ua.dialogs, sessions: stats.ua.sessions, transactions }, { calls: 0, timers: 0, dialogs: 0, sessions: 0, transactions: 0 });
}

describe('Call: B offers in a reliable 183 (RFC 3725 §8)', () => {
  it('A is re-INVITEd with B\'s offer, A\'s answer goes to B in the PRACK, B\'s 200 (repeating its SDP) is ACKed without one; connected then', async () => {
    const env = createEnv();
    const inviteA = await aAnswers(env);
    assert.match(inviteA.header('supported') ?? '', /\b100rel\b/, 'A is told we support 100rel (flow III)');
    assert.match(env.last(A, 'ACK').body.toString('utf8'), /c=IN IP4 0\.0\.0\.0/, 'A held');
    const inviteB = env.last(B, 'INVITE');
    assert.match(inviteB.header('supported') ?? '', /\b100rel\b/);
    assert.equal(inviteB.body.length, 0);
    deliver(env, responseTo(inviteB, 183, { headers: RELIABLE, body: OFFER_B }));
    await flush();
    assert.deepEqual(env.to(B, 'PRACK'), [], 'no PRACK before A answered B\'s offer');
    const reinvite = env.last(A, 'INVITE');
    assert.notEqual(reinvite, inviteA);
    assert.match(reinvite.body.toString('utf8'), /m=audio 6000 RTP\/AVP 0/, "B's media goes to A");
    deliver(env, responseTo(reinvite, 200, { contact: A_CONTACT, body: sdp(2, A, 4000) }));
    await flush();
    const prack = env.last(B, 'PRACK');
    assert.equal(prack.header('rack'), `1 ${inviteB.cseq.seq} INVITE`);
    assert.match(prack.body.toString('utf8'), new RegExp(`c=IN IP4 ${A.replace(/\./g, '\\.')}\\r\\n[^]*m=audio 4000 RTP/AVP 0`), "A's answer in the PRACK");
    assert.deepEqual(env.statuses(), ['queued', 'calling_a', 'calling_b'], 'not connected before B answers');
    deliver(env, responseTo(prack, 200));
    deliver(env, responseTo(inviteB, 200, { body: OFFER_B }));
    await flush();
    assert.equal(env.last(B, 'ACK').body.length, 0, 'the exchange ended in the PRACK');
    assert.equal(env.to(A, 'INVITE').length, 2, 'one re-INVITE to A only');
    assert.deepEqual(env.statuses(), ['queued', 'calling_a', 'calling_b', 'connected']);
    assert.deepEqual(env.legs(), ['a:calling', 'a:ringing 180', 'a:answered 200', 'b:calling', 'b:early 183', 'b:answered 200', 'a:connected', 'b:connected']);
    await endAndAssertClean(env);
  });

  it("B's 200 during the re-INVITE of A waits: A's answer then goes in B's ACK, no PRACK, and the call connects", async () => {
    const env = createEnv();
    await aAnswers(env);
    const inviteB = env.last(B, 'INVITE');
    deliver(env, responseTo(inviteB, 183, { headers: RELIABLE, body: OFFER_B }));
    await flush();
    deliver(env, responseTo(inviteB, 200, { body: OFFER_B }));
    await flush();
    assert.deepEqual(env.to(B, 'ACK'), [], 'B\'s ACK waits for A\'s answer');
    assert.deepEqual(env.statuses(), ['queued', 'calling_a', 'calling_b']);
    deliver(env, responseTo(env.last(A, 'INVITE'), 200, { contact: A_CONTACT, body: sdp(2, A, 4000) }));
    await flush();
    assert.match(env.last(B, 'ACK').body.toString('utf8'), /m=audio 4000 RTP\/AVP 0/);
    assert.deepEqual(env.to(B, 'PRACK'), []);
    assert.deepEqual(env.statuses(), ['queued', 'calling_a', 'calling_b', 'connected']);
    await endAndAssertClean(env);
  });

  it("another fork's 200 with an offer of its own, during the re-INVITE of A: that offer goes to A next, and that fork's 200 is ACKed with A's answer", async () => {
    const env = createEnv();
    await aAnswers(env);
    const inviteB = env.last(B, 'INVITE');
    deliver(env, responseTo(inviteB, 183, { headers: RELIABLE, body: OFFER_B, toTag: 'bob-fork-1' }));
    await flush();
    const first = env.last(A, 'INVITE');
    deliver(env, responseTo(inviteB, 200, { body: sdp(1, '192.0.2.30', 7000), toTag: 'bob-fork-2', contact: '<sip:bob@192.0.2.30:5060>' }));
    await flush();
    deliver(env, responseTo(first, 200, { contact: A_CONTACT, body: sdp(2, A, 4000) }));
    await flush();
    assert.deepEqual(env.to(B, 'PRACK'), [], 'fork 1 ended with the 2xx of fork 2: no PRACK');
    const second = env.last(A, 'INVITE');
    assert.notEqual(second, first);
    assert.match(second.body.toString('utf8'), /m=audio 7000 RTP\/AVP 0/, "fork 2's media goes to A");
    deliver(env, responseTo(second, 200, { contact: A_CONTACT, body: sdp(3, A, 4000) }));
    await flush();
    const ack = env.net.sent.find((sent) => sent.message.isRequest && sent.message.method === 'ACK' && sent.message.to.tag === 'bob-fork-2');
    assert.ok(ack, "fork 2's 200 is ACKed");
    assert.match(ack.message.body.toString('utf8'), /m=audio 4000 RTP\/AVP 0/, "with A's answer");
    assert.deepEqual(env.statuses(), ['queued', 'calling_a', 'calling_b', 'connected']);
    await endAndAssertClean(env);
  });

  it('B\'s early offer with no codec A offered: failed codec_mismatch, CANCEL to B, BYE to A with Reason 488', async () => {
    const env = createEnv();
    await aAnswers(env);
    const inviteB = env.last(B, 'INVITE');
    deliver(env, responseTo(inviteB, 183, { headers: RELIABLE, body: sdp(1, B, 6000, { pt: 18, name: 'G729' }) }));
    await flush();
    assert.equal(env.to(A, 'INVITE').length, 1, 'A is not re-INVITEd with an offer it cannot take');
    assert.equal(env.to(B, 'CANCEL').length, 1);
    assert.equal(env.last(A, 'BYE').header('reason'), 'SIP;cause=488;text="Incompatible media"');
    const final = env.events.find((e) => e.type === 'call.status' && e.status === 'failed');
    assert.ok(final && final.type === 'call.status' && final.endReason === 'codec_mismatch');
    deliver(env, responseTo(inviteB, 487));
    await flush();
    await endAndAssertClean(env);
  });

  it("A refuses the re-INVITE with B's early offer (488): failed codec_mismatch on leg a, CANCEL to B with Reason 488, BYE to A", async () => {
    const env = createEnv();
    await aAnswers(env);
    const inviteB = env.last(B, 'INVITE');
    deliver(env, responseTo(inviteB, 183, { headers: RELIABLE, body: OFFER_B }));
    await flush();
    deliver(env, responseTo(env.last(A, 'INVITE'), 488, { contact: null, reason: 'Not Acceptable Here' }));
    await flush();
    const cancel = env.last(B, 'CANCEL');
    assert.equal(cancel.header('reason'), 'SIP;cause=488;text="Not Acceptable Here"');
    assert.equal(env.to(A, 'BYE').length, 1, 'A, still up after refusing the new offer, is released');
    assert.deepEqual(env.to(B, 'PRACK'), []);
    deliver(env, responseTo(inviteB, 487));
    await flush();
    await endAndAssertClean(env);
  });
});

describe('Call: A offers in a reliable 183', () => {
  it('the held answer goes in the PRACK; A\'s 200 is ACKed without SDP; B is called; then flow III as usual', async () => {
    const env = createEnv();
    env.engine.startCall(request());
    await flush();
    const inviteA = env.last(A, 'INVITE');
    deliver(env, responseTo(inviteA, 183, { contact: A_CONTACT, toTag: 'alice-1', headers: RELIABLE, body: OFFER_A }));
    await flush();
    const prack = env.last(A, 'PRACK');
    assert.match(prack.body.toString('utf8'), /c=IN IP4 0\.0\.0\.0/);
    assert.deepEqual(env.to(B, 'INVITE'), [], 'B waits for A to answer');
    deliver(env, responseTo(prack, 200));
    deliver(env, responseTo(inviteA, 200, { contact: A_CONTACT, toTag: 'alice-1', body: OFFER_A }));
    await flush();
    assert.equal(env.last(A, 'ACK').body.length, 0);
    const inviteB = env.last(B, 'INVITE');
    deliver(env, responseTo(inviteB, 200, { body: OFFER_B }));
    await flush();
    deliver(env, responseTo(env.last(A, 'INVITE'), 200, { contact: A_CONTACT, body: sdp(2, A, 4000) }));
    await flush();
    assert.match(env.last(B, 'ACK').body.toString('utf8'), /m=audio 4000 RTP\/AVP 0/);
    assert.deepEqual(env.statuses(), ['queued', 'calling_a', 'calling_b', 'connected']);
    await endAndAssertClean(env);
  });
});

describe('Call: ringback with early offers', () => {
  it("A's early offer with ringback: the PRACK names our sender (sendonly), the tone starts when A answers and stops when B's early offer goes to A", async () => {
    const ringback = new RecordingRingback();
    const env = createEnv(ringback);
    env.engine.startCall(request({ ringback: 'tone' }));
    await flush();
    const inviteA = env.last(A, 'INVITE');
    deliver(env, responseTo(inviteA, 183, { contact: A_CONTACT, toTag: 'alice-1', headers: RELIABLE, body: OFFER_A }));
    await flush();
    const held = env.last(A, 'PRACK').body.toString('utf8');
    assert.match(held, /c=IN IP4 10\.0\.0\.1\r\n/);
    assert.match(held, /m=audio 7078 RTP\/AVP 0\r\n/);
    assert.match(held, /a=sendonly/);
    assert.deepEqual(ringback.played, [], 'no tone to a phone that has not answered');
    deliver(env, responseTo(env.last(A, 'PRACK'), 200));
    deliver(env, responseTo(inviteA, 200, { contact: A_CONTACT, toTag: 'alice-1', body: OFFER_A }));
    await flush();
    assert.deepEqual(ringback.played, [`play PCMU to ${A}:4000`]);
    deliver(env, responseTo(env.last(B, 'INVITE'), 183, { headers: RELIABLE, body: OFFER_B }));
    await flush();
    assert.deepEqual(ringback.played, [`play PCMU to ${A}:4000`, 'stop'], "B's early media replaces the tone");
    await endAndAssertClean(env);
  });
});

describe('Call: flow I with B answering in a reliable 183', () => {
  it("A's INVITE does not offer 100rel; B's early answer ACKs A's 200 at once; B's 200 without SDP connects", async () => {
    const env = createEnv();
    const inviteA = await aAnswers(env, { flow: 'I' });
    assert.doesNotMatch(inviteA.header('supported') ?? '', /100rel/, "A's offer must wait for its 200 (flow I)");
    assert.deepEqual(env.to(A, 'ACK'), [], "A's 200 unACKed while B is called");
    const inviteB = env.last(B, 'INVITE');
    assert.match(inviteB.body.toString('utf8'), /m=audio 4000/);
    deliver(env, responseTo(inviteB, 183, { headers: RELIABLE, body: sdp(1, B, 6000) }));
    await flush();
    assert.match(env.last(A, 'ACK').body.toString('utf8'), /m=audio 6000 RTP\/AVP 0/, "A's ACK carries B's early answer");
    assert.equal(env.last(B, 'PRACK').body.length, 0);
    deliver(env, responseTo(env.last(B, 'PRACK'), 200));
    deliver(env, responseTo(inviteB, 200));
    await flush();
    assert.equal(env.to(A, 'ACK').length, 1, 'A is ACKed once');
    assert.deepEqual(env.statuses(), ['queued', 'calling_a', 'calling_b', 'connected']);
    await endAndAssertClean(env);
  });
});

describe('Call: an UPDATE from a leg (RFC 3311)', () => {
  /** A flow III call, connected; returns A's dialog ids as the peer sees them. */
  async function connected(env: Env): Promise<{ callId: string; localTag: string; remoteTag: string }> {
    await aAnswers(env);
    deliver(env, responseTo(env.last(B, 'INVITE'), 200, { body: OFFER_B }));
    await flush();
    deliver(env, responseTo(env.last(A, 'INVITE'), 200, { contact: A_CONTACT, body: sdp(2, A, 4000) }));
    await flush();
    assert.deepEqual(env.statuses(), ['queued', 'calling_a', 'calling_b', 'connected']);
    const legA = env.last(A, 'INVITE');
    return { callId: legA.callId, localTag: legA.from.tag!, remoteTag: 'alice-1' };
  }

  it("once connected, A's UPDATE with a new offer goes to B in a re-INVITE, and B's answer comes back in the 200 to the UPDATE", async () => {
    const env = createEnv();
    const ids = await connected(env);
    const hold = sdp(3, A, 4000).replace('a=sendrecv', 'a=sendonly');
    env.net.deliver(peerRequest(ids, { method: 'UPDATE', cseq: 5, body: hold }), { transport: 'udp', address: A, port: 5060 });
    await flush();
    const toB = env.last(B, 'INVITE');
    assert.match(toB.body.toString('utf8'), /a=sendonly/, "A's new direction reaches B");
    deliver(env, responseTo(toB, 200, { body: sdp(2, B, 6000).replace('a=sendrecv', 'a=recvonly') }));
    await flush();
    const answer = env.net.responses(200, 'UPDATE')[0];
    assert.ok(answer, "A's UPDATE answered 200");
    assert.match(answer.body.toString('utf8'), /m=audio 6000 RTP\/AVP 0[^]*a=recvonly/, "with B's answer");
    await endAndAssertClean(env);
  });

  it('an UPDATE without an offer (a session refresh) gets 200 without a body and reaches nobody else', async () => {
    const env = createEnv();
    const ids = await connected(env);
    const invitesToB = env.to(B, 'INVITE').length;
    env.net.deliver(peerRequest(ids, { method: 'UPDATE', cseq: 5 }), { transport: 'udp', address: A, port: 5060 });
    await flush();
    const answer = env.net.responses(200, 'UPDATE')[0];
    assert.ok(answer);
    assert.equal(answer.body.length, 0);
    assert.equal(env.to(B, 'INVITE').length, invitesToB);
    await endAndAssertClean(env);
  });

  it("a blind transfer by REFER whose final NOTIFY comes in the same read as the 202 (a stream transport) completes", async () => {
    const env = createEnv();
    const ids = await connected(env);
    const transfer = env.engine.transfer('call_1', { uri: 'sip:carol@example.com', from: '<sip:ctd@ctd.example.com>' }, 'refer');
    await flush();
    const refer = env.last(A, 'REFER');
    // Both handled in one go, with no turn of the event loop between them.
    deliver(env, responseTo(refer, 202));
    const sipfrag = { contentType: 'message/sipfrag;version=2.0', headers: ['Event: refer', 'Subscription-State: terminated;reason=noresource'] };
    env.net.deliver(peerRequest(ids, { method: 'NOTIFY', cseq: 7, body: 'SIP/2.0 200 OK\r\n', ...sipfrag }), { transport: 'udp', address: A, port: 5060 });
    assert.equal(await transfer, true);
    assert.ok(env.events.some((e) => e.type === 'call.transfer' && e.outcome === 'completed'));
    assert.deepEqual(env.statuses(), ['queued', 'calling_a', 'calling_b', 'connected', 'completed']);
    await endAndAssertClean(env);
  });

  it('a blind transfer by REFER ends with false when A hangs up before its final NOTIFY', async () => {
    const env = createEnv();
    const ids = await connected(env);
    const transfer = env.engine.transfer('call_1', { uri: 'sip:carol@example.com', from: '<sip:ctd@ctd.example.com>' }, 'refer');
    await flush();
    deliver(env, responseTo(env.last(A, 'REFER'), 202));
    await flush();
    env.net.deliver(peerRequest(ids, { method: 'BYE', cseq: 8 }), { transport: 'udp', address: A, port: 5060 });
    assert.equal(await transfer, false);
    assert.equal(env.statuses().at(-1), 'completed');
    await endAndAssertClean(env);
  });
});

describe('Call: the Reason of the BYE to A (RFC 3326)', () => {
  it("B's ring timeout: CANCEL, 487, then BYE to A with cause 480 (no answer), not our own CANCEL's 487", async () => {
    const env = createEnv();
    await aAnswers(env, { b: { uri: `<sip:bob@${B}:5060>`, from: '<sip:alice@example.com>', ringTimeoutMs: 1000 } });
    const inviteB = env.last(B, 'INVITE');
    deliver(env, responseTo(inviteB, 180));
    await advance(env.clock, 1000);
    assert.equal(env.to(B, 'CANCEL').length, 1);
    deliver(env, responseTo(inviteB, 487));
    await flush();
    assert.equal(env.last(A, 'BYE').header('reason'), 'SIP;cause=480;text="Temporarily Unavailable"');
    const final = env.events.find((e) => e.type === 'call.status' && e.status === 'failed');
    assert.ok(final && final.type === 'call.status');
    assert.deepEqual({ endReason: final.endReason, sip: final.sip }, { endReason: 'b_no_answer', sip: { code: 487, reason: 'Request Terminated' } });
    await endAndAssertClean(env);
  });
});
