// IncomingInviteSession (RFC 3261 §13.3, §15) on a ManualClock over a fake transport: every timer
// at its exact instant (2xx retransmissions T1, 2T1… capped at T2; the BYE at 64*T1 without ACK;
// session expiry), and each way the INVITE can end.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IncomingInviteSession } from '../../../src/sip/index.js';
import { parseMessage, serializeMessage, type SipRequest } from '../../../src/sip/message/index.js';
import { advance, advanceTo, BOB_TCP, createEnv, flush, OFFER, outOfDialogRequest, parseText, peerRequest, sdp, type DialogIds, type Env } from './fake-transport.js';

const CALL_ID = 'out-of-dialog-1@192.0.2.20';
const BOB_OUT_TAG = 'bob-out-1';
const OUR_OFFER = sdp(1, '10.0.0.1', 40000);

interface Incoming {
  env: Env;
  session: IncomingInviteSession;
  invite: SipRequest;
  ids: DialogIds;
  events: string[];
}

function incomingCall(options: { body?: string; headers?: readonly string[]; tcp?: boolean; answer?: (session: IncomingInviteSession) => void } = {}): Incoming {
  const sessions: IncomingInviteSession[] = [];
  const env = createEnv({
    onIncomingInvite: (session) => {
      sessions.push(session);
      options.answer?.(session);
    },
  });
  let invite = outOfDialogRequest('INVITE', { ...(options.body !== undefined ? { body: options.body } : {}), ...(options.headers ? { headers: options.headers } : {}) });
  if (options.tcp) invite = parseMessage(Buffer.from(serializeMessage(invite).toString('utf8').replace('SIP/2.0/UDP', 'SIP/2.0/TCP'))) as SipRequest;
  env.net.deliver(invite, options.tcp ? BOB_TCP : undefined);
  const session = sessions[0];
  assert.ok(session, 'the UA handed the INVITE to onIncomingInvite');
  const events: string[] = [];
  session.on('confirmed', () => events.push(`confirmed@${env.clock.now()}`));
  session.on('failed', (failure) => events.push(`failed:${failure.kind}:${failure.status}@${env.clock.now()}`));
  session.on('ended', (ending) => events.push(`ended:${ending.cause}@${env.clock.now()}`));
  return { env, session, invite, ids: { callId: CALL_ID, localTag: session.localTag, remoteTag: BOB_OUT_TAG }, events };
}

function ack(incoming: Incoming, cseq = 1, body?: string): void {
  incoming.env.net.deliver(peerRequest(incoming.ids, { method: 'ACK', cseq, ...(body !== undefined ? { body } : {}) }));
}

describe('IncomingInviteSession', () => {
  it('sends 100 Trying at once (from the transaction), then 180 and 200 with our tag, Contact and the answer', async () => {
    const call = incomingCall({ body: OFFER });
    assert.deepEqual(call.env.net.log, ['100']);
    assert.equal(call.session.offer, OFFER);
    call.session.progress();
    call.session.accept({ body: sdp(1, '10.0.0.1', 40000) });
    await flush();
    assert.deepEqual(call.env.net.log, ['100', '180', '200']);
    const [ringing] = call.env.net.responses(180);
    const [ok] = call.env.net.responses(200);
    assert.equal(ringing!.to.tag, call.session.localTag);
    assert.equal(ok!.to.tag, call.session.localTag, 'the same tag on every response (RFC 3261 §12.1.1)');
    assert.equal(ok!.contacts[0]?.uri.toString(), 'sip:ctd@10.0.0.1:5060');
    assert.match(ok!.body.toString(), /^m=audio 40000 /m);
    assert.equal(call.session.state, 'answered');
    ack(call);
    assert.equal(call.session.state, 'confirmed');
    assert.deepEqual(call.events, ['confirmed@0']);
  });

  it('re-sends its 2xx over UDP at T1, 2T1, 4T1… capped at T2 until the ACK, then never again', async () => {
    const call = incomingCall({ body: OFFER, answer: (session) => session.accept({ body: OUR_OFFER }) });
    await advanceTo(call.env.clock, 7_500);
    assert.deepEqual(call.env.net.times('200'), [0, 500, 1_500, 3_500, 7_500]);
    ack(call);
    await advance(call.env.clock, 60_000);
    assert.deepEqual(call.env.net.times('200'), [0, 500, 1_500, 3_500, 7_500]);
    assert.deepEqual(call.env.net.log.filter((what) => what === 'BYE'), []);
    assert.deepEqual(call.events, ['confirmed@7500']);
  });

  it('without an ACK, ends the session with BYE (Reason 408) 64*T1 after its 2xx (RFC 3261 §13.3.1.4)', async () => {
    const call = incomingCall({ body: OFFER, answer: (session) => session.accept({ body: OUR_OFFER }) });
    await advanceTo(call.env.clock, 31_999);
    assert.equal(call.env.net.requests('BYE').length, 0);
    assert.deepEqual(call.env.net.times('200'), [0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]);
    await advance(call.env.clock, 1);
    const [bye] = call.env.net.requests('BYE');
    assert.ok(bye);
    assert.equal(bye.header('reason'), 'SIP;cause=408;text="ACK not received"');
    assert.equal(bye.from.tag, call.session.localTag);
    assert.equal(bye.to.tag, BOB_OUT_TAG);
    assert.equal(bye.uri.toString(), 'sip:bob@192.0.2.20:5060', 'to the caller’s Contact (remote target)');
    assert.deepEqual(call.events, ['ended:ack-timeout@32000']);
    assert.equal(call.env.ua.stats().sessions, 0);
  });

  it('over TCP sends its 2xx once and still gives up at 64*T1', async () => {
    const call = incomingCall({ body: OFFER, tcp: true, answer: (session) => session.accept({ body: OUR_OFFER }) });
    await advanceTo(call.env.clock, 32_000);
    assert.deepEqual(call.env.net.times('200'), [0]);
    assert.equal(call.env.net.requests('BYE').length, 1);
    assert.equal(call.env.net.sends('200')[0]!.destination.transport, 'tcp');
  });

  it('an offerless INVITE is answered with our offer; the answer in the ACK becomes the remote description', async () => {
    const call = incomingCall({ answer: (session) => session.accept({ body: OUR_OFFER }) });
    assert.equal(call.session.offer, undefined);
    assert.equal(call.session.remoteDescription, undefined);
    ack(call, 1, sdp(1, '192.0.2.20', 30000));
    assert.equal(call.session.state, 'confirmed');
    assert.match(call.session.remoteDescription ?? '', /^m=audio 30000 /m);
  });

  it('refuses to answer 2xx without a session description, and misuse raises named errors', () => {
    const call = incomingCall({ body: OFFER });
    assert.throws(() => call.session.accept(), { name: 'IncomingInviteError', code: 'DESCRIPTION_REQUIRED' });
    assert.throws(() => call.session.progress(200), { code: 'BAD_STATUS' });
    assert.throws(() => call.session.reject(200), { code: 'BAD_STATUS' });
    call.session.reject(603);
    assert.throws(() => call.session.accept({ body: OUR_OFFER }), { code: 'ALREADY_ANSWERED' });
    assert.deepEqual(call.events, ['failed:rejected:603@0']);
  });

  it('hangup() before the ACK waits for it, then sends BYE (RFC 3261 §15)', async () => {
    const call = incomingCall({ body: OFFER, answer: (session) => session.accept({ body: OUR_OFFER }) });
    call.session.hangup('SIP;cause=200;text="Call completed elsewhere"');
    await advance(call.env.clock, 1_000);
    assert.equal(call.env.net.requests('BYE').length, 0);
    ack(call);
    await flush();
    const [bye] = call.env.net.requests('BYE');
    assert.equal(bye?.header('reason'), 'SIP;cause=200;text="Call completed elsewhere"');
    assert.deepEqual(call.events, ['confirmed@1000', 'ended:local-bye@1000']);
  });

  it('sends no unreliable 18x to an INVITE that requires 100rel (RFC 3262 §3)', async () => {
    const call = incomingCall({ body: OFFER, headers: ['Require: 100rel'], answer: (session) => session.progress() });
    call.session.accept({ body: OUR_OFFER });
    await flush();
    assert.deepEqual(call.env.net.log, ['100', '200']);
  });

  it('hangup() while ringing answers 480', async () => {
    const call = incomingCall({ body: OFFER, answer: (session) => session.progress() });
    call.session.hangup();
    await flush();
    assert.equal(call.env.net.responses(480).length, 1);
    assert.deepEqual(call.events, ['failed:rejected:480@0']);
  });

  it('a CANCEL before the answer gets 200 and the INVITE 487; once answered, a CANCEL changes nothing', async () => {
    const call = incomingCall({ body: OFFER, answer: (session) => session.progress() });
    const cancel = parseText([
      'CANCEL sip:ctd@10.0.0.1:5060 SIP/2.0',
      `Via: ${call.invite.header('via')!}`,
      'Max-Forwards: 70',
      `From: ${call.invite.header('from')!}`,
      `To: ${call.invite.header('to')!}`,
      `Call-ID: ${CALL_ID}`,
      'CSeq: 1 CANCEL',
    ]);
    call.env.net.deliver(cancel);
    await flush();
    assert.deepEqual(call.env.net.log, ['100', '180', '200', '487']);
    assert.equal(call.env.net.responses(200)[0]!.cseq.method, 'CANCEL');
    assert.equal(call.env.net.responses(487)[0]!.to.tag, call.session.localTag);
    assert.deepEqual(call.events, ['failed:canceled:487@0']);

    const answered = incomingCall({ body: OFFER, answer: (session) => session.accept({ body: OUR_OFFER }) });
    answered.env.net.deliver(cancel);
    await flush();
    assert.equal(answered.env.net.responses(487).length, 0);
    assert.equal(answered.session.state, 'answered');
  });

  it('a BYE on the early dialog ends it: 200 to the BYE, 487 to the INVITE', async () => {
    const call = incomingCall({ body: OFFER, answer: (session) => session.progress() });
    call.env.net.deliver(peerRequest(call.ids, { method: 'BYE', cseq: 2 }));
    await flush();
    assert.deepEqual(call.env.net.log, ['100', '180', '200', '487']);
    assert.deepEqual(call.events, ['failed:canceled:487@0']);
  });

  it('a BYE from the caller ends the session with its Reason', async () => {
    const call = incomingCall({ body: OFFER, answer: (session) => session.accept({ body: OUR_OFFER }) });
    ack(call);
    let reason: string | undefined;
    call.session.on('ended', (ending) => (reason = ending.reason));
    call.env.net.deliver(peerRequest(call.ids, { method: 'BYE', cseq: 2, headers: ['Reason: Q.850;cause=16'] }));
    await flush();
    assert.equal(call.env.net.responses(200, 'BYE').length, 1);
    assert.equal(reason, 'Q.850;cause=16');
    assert.deepEqual(call.events, ['confirmed@0', 'ended:remote-bye@0']);
    assert.equal(call.env.ua.stats().dialogs, 0);
  });

  it('answers a re-INVITE nobody listens to with 488, and retransmits a 2xx to one until its ACK', async () => {
    const call = incomingCall({ body: OFFER, answer: (session) => session.accept({ body: OUR_OFFER }) });
    ack(call);
    call.env.net.deliver(peerRequest(call.ids, { method: 'INVITE', cseq: 2, body: sdp(2) }));
    await flush();
    assert.equal(call.env.net.responses(488, 'INVITE').length, 1);

    call.session.on('reinvite', (request) => request.respond(200, { body: sdp(2, '10.0.0.1', 40000) }));
    const start = call.env.clock.now();
    call.env.net.deliver(peerRequest(call.ids, { method: 'INVITE', cseq: 3, body: sdp(3) }));
    await advance(call.env.clock, 1_500);
    const twoHundreds = call.env.net.sends('200').filter((s) => s.message.cseq.seq === 3).map((s) => s.at - start);
    assert.deepEqual(twoHundreds, [0, 500, 1_500]);
    let acked = false;
    call.session.on('ack', () => (acked = true));
    ack(call, 3);
    await advance(call.env.clock, 40_000);
    assert.equal(call.env.net.sends('200').filter((s) => s.message.cseq.seq === 3).length, 3);
    assert.ok(acked);
    assert.equal(call.session.state, 'confirmed');
  });

  it('with the caller as session refresher, sends BYE when no refresh comes before expiry (RFC 4028 §10)', async () => {
    const call = incomingCall({ body: OFFER, headers: ['Supported: timer', 'Session-Expires: 90;refresher=uac'], answer: (session) => session.accept({ body: OUR_OFFER }) });
    const [ok] = call.env.net.responses(200);
    assert.equal(ok!.header('session-expires'), '90;refresher=uac');
    ack(call);
    // byeAt = 90 s − min(32 s, 30 s) = 60 s after the 2xx.
    await advanceTo(call.env.clock, 59_999);
    assert.equal(call.env.net.requests('BYE').length, 0);
    await advance(call.env.clock, 1);
    assert.equal(call.env.net.requests('BYE')[0]?.header('reason'), 'SIP;cause=408;text="Session expired"');
    assert.deepEqual(call.events, ['confirmed@0', 'ended:session-expired@60000']);
  });

  it('answers 400 to an INVITE it cannot make a dialog of (no Contact, RFC 3261 §8.1.1.8), without calling the application', async () => {
    let called = false;
    const env = createEnv({ onIncomingInvite: () => (called = true) });
    const invite = outOfDialogRequest('INVITE', { body: OFFER });
    invite.removeHeader('contact');
    env.net.deliver(parseMessage(serializeMessage(invite)));
    await flush();
    assert.deepEqual(env.net.log, ['100', '400']);
    assert.match(env.net.responses(400)[0]!.reason, /Contact/);
    assert.equal(called, false);
    assert.deepEqual(env.errors, []);
  });

  it('a listener of onIncomingInvite that throws leaves the INVITE answered 500, and the UA reports the error', async () => {
    const env = createEnv({
      onIncomingInvite: () => {
        throw new Error('application bug');
      },
    });
    env.net.deliver(outOfDialogRequest('INVITE', { body: OFFER }));
    await flush();
    assert.deepEqual(env.net.log, ['100', '500']);
    assert.equal((env.errors[0] as Error).message, 'application bug');
    assert.equal(env.ua.stats().sessions, 0);
  });
});
