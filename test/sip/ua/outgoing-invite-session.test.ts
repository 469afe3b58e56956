// The UAC INVITE session (RFC 3261 §9, §13–§15, §22; RFC 4028) on a ManualClock over a fake
// transport: every message is asserted as the peer would see it.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { checkDigestResponse, parseCredentials, type DigestCredentials } from '../../../src/sip/auth/index.js';
import { DialogError } from '../../../src/sip/dialog/index.js';
import type { SipRequest, SipResponse } from '../../../src/sip/message/index.js';
import type { EarlyOffer, IncomingDialogRequest, InviteFailure, InviteOptions, OutgoingInviteSession, SessionEnding } from '../../../src/sip/ua/index.js';
import {
  advance,
  advanceTo,
  ALLOW,
  ANSWER,
  BOB_TAG,
  BOB_TCP,
  BOB_URI,
  createEnv,
  flush,
  FROM,
  OFFER,
  peerRequest,
  PRODUCT,
  recordEvents,
  responseTo,
  sdp,
  type DialogIds,
  type Env,
  type ResponseSpec,
} from './fake-transport.js';

const BOB_UDP_DESTINATION = { transport: 'udp', address: '192.0.2.20', port: 5060 };

async function call(env: Env, options: Partial<InviteOptions> = {}): Promise<{ session: OutgoingInviteSession; invite: SipRequest }> {
  const session = env.ua.invite({ to: `<${BOB_URI}>`, from: FROM, body: OFFER, ...options });
  await flush();
  return { session, invite: env.net.last('INVITE') };
}

interface Answered {
  session: OutgoingInviteSession;
  invite: SipRequest;
  ok: SipResponse;
  ids: DialogIds;
}

/** A call with an offer, rung (180) and answered (200 with the answer), ACKed at clock.now(). */
async function answeredCall(env: Env, options: Partial<InviteOptions> = {}, ok: ResponseSpec = {}): Promise<Answered> {
  const { session, invite } = await call(env, options);
  env.net.deliver(responseTo(invite, 180));
  const response = responseTo(invite, 200, { body: ANSWER, ...ok });
  env.net.deliver(response);
  await flush();
  assert.equal(session.state, 'confirmed');
  return { session, invite, ok: response, ids: { callId: session.callId, localTag: session.localTag, remoteTag: BOB_TAG } };
}

function failures(session: OutgoingInviteSession): InviteFailure[] {
  const seen: InviteFailure[] = [];
  session.on('failed', (failure) => seen.push(failure));
  return seen;
}

function endings(session: OutgoingInviteSession): SessionEnding[] {
  const seen: SessionEnding[] = [];
  session.on('ended', (ending) => seen.push(ending));
  return seen;
}

/** Responses sent to the request with this CSeq method and number, as "status". */
function answersTo(env: Env, method: string, seq: number): string[] {
  return env.net.sent
    .filter((s) => !s.message.isRequest && s.message.cseq.method === method && s.message.cseq.seq === seq)
    .map((s) => String((s.message as SipResponse).status));
}

describe('OutgoingInviteSession: the INVITE (RFC 3261 §8.1.1, §13.2.1)', () => {
  it('carries From with our tag, To without one, Call-ID, CSeq 1, Contact, Max-Forwards 70, Allow, Supported, User-Agent and the offer', async () => {
    const env = createEnv();
    const { session, invite } = await call(env);
    assert.equal(env.net.sent.length, 1);
    const sent = env.net.sent[0]!;
    assert.deepEqual(sent.destination, BOB_UDP_DESTINATION);
    assert.equal(sent.at, 0);
    assert.equal(invite.startLine(), `INVITE ${BOB_URI} SIP/2.0`);
    assert.equal(invite.header('via'), 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKfake1;rport');
    assert.match(session.localTag, /^[0-9a-z]{6,}$/);
    assert.equal(invite.header('from'), `${FROM};tag=${session.localTag}`);
    assert.equal(invite.header('to'), `<${BOB_URI}>`);
    assert.equal(invite.to.tag, undefined);
    assert.ok(session.callId.length >= 10);
    assert.equal(invite.callId, session.callId);
    assert.equal(invite.header('cseq'), '1 INVITE');
    assert.equal(invite.header('contact'), '<sip:ctd@10.0.0.1:5060>');
    assert.equal(invite.header('max-forwards'), '70');
    assert.equal(invite.header('allow'), ALLOW);
    assert.equal(invite.header('supported'), 'timer', '100rel only when asked for');
    assert.equal(invite.header('user-agent'), PRODUCT);
    assert.equal(invite.header('content-type'), 'application/sdp');
    assert.equal(invite.body.toString('utf8'), OFFER);
    assert.equal(invite.hasHeader('session-expires'), false);
    assert.equal(invite.hasHeader('route'), false);
    assert.equal(session.state, 'calling');
  });

  it('reliableProvisionals adds 100rel to Supported', async () => {
    const env = createEnv();
    const { invite } = await call(env, { reliableProvisionals: true });
    assert.equal(invite.header('supported'), '100rel, timer');
  });

  it('an offerless INVITE (RFC 3725 flow I) has no body and no Content-Type', async () => {
    const env = createEnv();
    const { invite } = await call(env, { body: undefined });
    assert.equal(invite.hasHeader('content-type'), false);
    assert.equal(invite.body.length, 0);
    assert.match(env.net.sent[0]!.bytes.toString('utf8'), /\r\nContent-Length: 0\r\n\r\n$/);
  });

  it('without a product there is no User-Agent; a given Call-ID is used; each session gets its own From tag', async () => {
    const env = createEnv({ product: undefined });
    const first = await call(env, { callId: 'given-call-id@ctd.example.com' });
    const second = await call(env);
    assert.equal(first.invite.hasHeader('user-agent'), false);
    assert.equal(first.invite.callId, 'given-call-id@ctd.example.com');
    assert.notEqual(second.invite.callId, first.invite.callId);
    assert.notEqual(second.session.localTag, first.session.localTag);
    assert.notEqual(second.invite.topVia.branch, first.invite.topVia.branch);
  });

  it('a pre-loaded route sends the INVITE to the proxy with a Route header; sessionExpires asks for refresher=uac', async () => {
    const env = createEnv();
    const { invite } = await call(env, { route: ['<sip:192.0.2.99:5070;lr>'], sessionExpires: 1800 });
    assert.deepEqual(env.net.sent[0]!.destination, { transport: 'udp', address: '192.0.2.99', port: 5070 });
    assert.equal(invite.startLine(), `INVITE ${BOB_URI} SIP/2.0`);
    assert.deepEqual(invite.headerValues('route'), ['<sip:192.0.2.99:5070;lr>']);
    assert.equal(invite.header('session-expires'), '1800;refresher=uac');
  });

  it('a transport=tcp target gets a TCP Via, a ;transport=tcp Contact and no retransmission (Timer A is UDP only)', async () => {
    const env = createEnv();
    const { invite } = await call(env, { to: `<${BOB_URI};transport=tcp>` });
    assert.equal(invite.header('via'), 'SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bKfake1;rport');
    assert.equal(invite.header('contact'), '<sip:ctd@10.0.0.1:5060;transport=tcp>');
    assert.deepEqual(env.net.sent[0]!.destination, { transport: 'tcp', address: '192.0.2.20', port: 5060 });
    await advance(env.clock, 10_000);
    assert.deepEqual(env.net.log, ['INVITE']);
  });

  it('over UDP the INVITE is retransmitted at 500, 1500, 3500 ms and fails as timeout (408) at Timer B, 32 s', async () => {
    const env = createEnv();
    const { session } = await call(env);
    const failed = failures(session);
    await advance(env.clock, 31_999);
    assert.deepEqual(env.net.times('INVITE'), [0, 500, 1500, 3500, 7500, 15_500, 31_500]);
    assert.equal(failed.length, 0);
    await advance(env.clock, 1);
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.kind, 'timeout');
    assert.equal(failed[0]!.status, 408);
    assert.equal(session.state, 'failed');
  });

  it('a target that is neither an IP literal nor resolvable fails as unreachable (503) without sending anything', async () => {
    const env = createEnv();
    const session = env.ua.invite({ to: '<sip:bob@biloxi.example.com>', from: FROM, body: OFFER });
    const failed = failures(session);
    await flush();
    assert.deepEqual(env.net.log, []);
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.kind, 'unreachable');
    assert.equal(failed[0]!.status, 503);
  });
});

describe('OutgoingInviteSession: hanging up before the answer (RFC 3261 §9.1)', () => {
  it('hangup() before any provisional response sends no CANCEL; the first 180 brings it, with the INVITE branch', async () => {
    const env = createEnv();
    const { session, invite } = await call(env);
    await advanceTo(env.clock, 100);
    session.hangup();
    await advanceTo(env.clock, 700);
    assert.deepEqual(env.net.log, ['INVITE', 'INVITE'], 'only the INVITE and its Timer A retransmission at 500 ms');
    env.net.deliver(responseTo(invite, 180));
    await flush();
    assert.deepEqual(env.net.log, ['INVITE', 'INVITE', 'CANCEL']);
    const cancel = env.net.last('CANCEL');
    assert.equal(env.net.times('CANCEL')[0], 700);
    assert.equal(cancel.topVia.branch, invite.topVia.branch);
    assert.equal(session.state, 'proceeding');
  });

  it('a 100 Trying is a provisional response too: a CANCEL asked for before it goes out when it arrives', async () => {
    const env = createEnv();
    const { session, invite } = await call(env);
    session.hangup();
    env.net.deliver(responseTo(invite, 100));
    await flush();
    assert.deepEqual(env.net.log, ['INVITE', 'CANCEL']);
    assert.equal(env.net.last('CANCEL').topVia.branch, invite.topVia.branch);
  });

  it('hangup() after a 100 Trying (and nothing else) sends the CANCEL at once', async () => {
    const env = createEnv();
    const { session, invite } = await call(env);
    env.net.deliver(responseTo(invite, 100));
    await advanceTo(env.clock, 2000);
    session.hangup();
    await flush();
    assert.deepEqual(env.net.log, ['INVITE', 'CANCEL']);
    assert.deepEqual(env.net.times('CANCEL'), [2000]);
  });

  it('hangup(reason) while ringing sends one CANCEL with the INVITE Request-URI, top Via, Call-ID, From, To, CSeq number, Route and Reason', async () => {
    const env = createEnv();
    const { session, invite } = await call(env, { route: ['<sip:192.0.2.99:5070;lr>'] });
    const events = recordEvents(session, env.clock);
    env.net.deliver(responseTo(invite, 180));
    await advanceTo(env.clock, 3000);
    session.hangup('SIP;cause=480;text="Caller gave up"');
    session.hangup();
    await flush();
    const cancels = env.net.sends('CANCEL');
    assert.equal(cancels.length, 1);
    const cancel = cancels[0]!.message as SipRequest;
    assert.deepEqual(cancels[0]!.destination, { transport: 'udp', address: '192.0.2.99', port: 5070 });
    assert.equal(cancels[0]!.at, 3000);
    assert.equal(cancel.startLine(), `CANCEL ${BOB_URI} SIP/2.0`);
    assert.deepEqual(cancel.headerValues('via'), [invite.header('via')]);
    assert.equal(cancel.header('from'), invite.header('from'));
    assert.equal(cancel.header('to'), invite.header('to'));
    assert.equal(cancel.callId, invite.callId);
    assert.equal(cancel.header('cseq'), '1 CANCEL');
    assert.deepEqual(cancel.headerValues('route'), ['<sip:192.0.2.99:5070;lr>']);
    assert.equal(cancel.header('reason'), 'SIP;cause=480;text="Caller gave up"');

    env.net.deliver(responseTo(cancel, 200, { toTag: null }));
    env.net.deliver(responseTo(invite, 487));
    await flush();
    assert.equal(session.state, 'failed');
    assert.deepEqual(events.map((e) => e.name), ['provisional', 'failed']);
    const failure = events[1]!.args[0] as InviteFailure;
    assert.equal(failure.kind, 'canceled');
    assert.equal(failure.status, 487);
    assert.equal(failure.reason, 'Request Terminated');
    // §17.1.1.3: the transaction ACKs the 487 with the INVITE branch and the response's To tag.
    const ack = env.net.last('ACK');
    assert.equal(ack.topVia.branch, invite.topVia.branch);
    assert.equal(ack.header('cseq'), '1 ACK');
    assert.equal(ack.to.tag, BOB_TAG);
    session.hangup();
    await flush();
    assert.equal(env.net.sends('CANCEL').length, 1);
  });

  it('a 200 that crosses the CANCEL is ACKed, then BYEd: the session ends local-bye and is never answered nor confirmed', async () => {
    const env = createEnv();
    const { session, invite } = await call(env);
    const events = recordEvents(session, env.clock);
    env.net.deliver(responseTo(invite, 180));
    await flush();
    session.hangup('SIP;cause=487;text="Hung up"');
    await flush();
    env.net.deliver(responseTo(invite, 200, { body: ANSWER, contact: '<sip:bob@192.0.2.21:5070>' }));
    await flush();
    assert.deepEqual(env.net.log, ['INVITE', 'CANCEL', 'ACK', 'BYE']);
    const ack = env.net.last('ACK');
    const bye = env.net.last('BYE');
    assert.equal(ack.header('cseq'), '1 ACK');
    assert.equal(ack.to.tag, BOB_TAG);
    assert.notEqual(ack.topVia.branch, invite.topVia.branch, 'the ACK of a 2xx is a transaction of its own');
    assert.equal(ack.startLine(), 'ACK sip:bob@192.0.2.21:5070 SIP/2.0');
    assert.equal(bye.startLine(), 'BYE sip:bob@192.0.2.21:5070 SIP/2.0');
    assert.equal(bye.header('cseq'), '2 BYE');
    assert.equal(bye.to.tag, BOB_TAG);
    assert.equal(bye.header('reason'), 'SIP;cause=487;text="Hung up"');
    assert.deepEqual(env.net.sends('BYE')[0]!.destination, { transport: 'udp', address: '192.0.2.21', port: 5070 });
    assert.deepEqual(events.map((e) => e.name), ['provisional', 'ended']);
    assert.equal((events[1]!.args[0] as SessionEnding).cause, 'local-bye');
    assert.equal(session.state, 'ended');
  });

  it('with no final response 64*T1 after the CANCEL the session fails as canceled (487), once', async () => {
    const env = createEnv();
    const { session, invite } = await call(env);
    const failed = failures(session);
    env.net.deliver(responseTo(invite, 180));
    await advanceTo(env.clock, 1000);
    session.hangup();
    await flush();
    env.net.deliver(responseTo(env.net.last('CANCEL'), 200, { toTag: null }));
    await advanceTo(env.clock, 32_999);
    assert.equal(failed.length, 0);
    assert.equal(session.state, 'proceeding');
    await advanceTo(env.clock, 33_000);
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.kind, 'canceled');
    assert.equal(failed[0]!.status, 487);
    assert.equal(failed[0]!.reason, 'Request Terminated');
    assert.equal(failed[0]!.response, undefined);
    assert.equal(env.ua.transactions.counts.clientInvite, 0, 'the INVITE transaction was given up');
    env.net.deliver(responseTo(invite, 487));
    await advance(env.clock, 60_000);
    assert.equal(failed.length, 1);
  });
});

describe('OutgoingInviteSession: the answer (RFC 3261 §13.2.2.4)', () => {
  it('a 2xx to an INVITE with an offer is ACKed at once, to its Contact through its Record-Route, and the session is confirmed', async () => {
    const env = createEnv();
    const { session, invite } = await call(env);
    const events = recordEvents(session, env.clock);
    env.net.deliver(responseTo(invite, 200, { body: ANSWER, contact: '<sip:bob@192.0.2.21:5070>', recordRoute: '<sip:192.0.2.99:5070;lr>' }));
    await flush();
    assert.deepEqual(env.net.log, ['INVITE', 'ACK']);
    const sent = env.net.sends('ACK')[0]!;
    const ack = sent.message as SipRequest;
    assert.deepEqual(sent.destination, { transport: 'udp', address: '192.0.2.99', port: 5070 });
    assert.equal(ack.startLine(), 'ACK sip:bob@192.0.2.21:5070 SIP/2.0');
    assert.deepEqual(ack.headerValues('route'), ['<sip:192.0.2.99:5070;lr>']);
    assert.equal(ack.header('cseq'), '1 ACK');
    assert.equal(ack.header('from'), invite.header('from'));
    assert.equal(ack.header('to'), `<${BOB_URI}>;tag=${BOB_TAG}`);
    assert.equal(ack.callId, invite.callId);
    assert.equal(ack.header('via'), 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKfake2;rport');
    assert.equal(ack.body.length, 0);
    assert.deepEqual(events.map((e) => [e.name, ...e.args.slice(1)]), [['answered', false], ['confirmed']]);
    assert.equal(session.state, 'confirmed');
    assert.equal(session.remoteDescription, ANSWER);
    assert.equal(session.dialog?.remoteTag, BOB_TAG);
    assert.equal(session.response?.status, 200);
  });

  it('keeps the final response as the bytes it came in: the same object while anyone holds it, an equal one once nobody does', async () => {
    const env = createEnv();
    // The 2xx is looked at in here only, so that nothing but the session can keep it.
    const seen = await (async () => {
      const { session, ok } = await answeredCall(env);
      assert.equal(session.response, ok, 'held by the test: the very object');
      return { session, lines: ok.headers.map((field) => `${field.name}: ${field.value}`), body: ok.body.toString('utf8'), raw: ok.raw!, weak: new WeakRef(ok) };
    })();
    const collect = collector();
    await dropReferences(collect, seen.weak);
    const again = seen.session.response!;
    if (collect) assert.equal(seen.weak.deref(), undefined, 'nothing held the 2xx: it was collected');
    assert.equal(again.status, 200);
    assert.equal(again.reason, 'OK');
    assert.deepEqual(again.headers.map((field) => `${field.name}: ${field.value}`), seen.lines);
    assert.equal(again.body.toString('utf8'), seen.body);
    assert.equal(again.to.tag, BOB_TAG);
    assert.ok(again.raw !== undefined && Buffer.compare(again.raw, seen.raw) === 0);
    assert.equal(seen.session.response, again, 'then that one while it is held');
  });

  it('a retransmitted 2xx gets the same ACK again: identical bytes, same branch, same destination', async () => {
    const env = createEnv();
    const { invite, ok } = await answeredCall(env);
    await advanceTo(env.clock, 500);
    env.net.deliver(responseTo(invite, 200, { body: ANSWER }));
    await advanceTo(env.clock, 1500);
    env.net.deliver(responseTo(invite, 200, { body: ANSWER }));
    await flush();
    const acks = env.net.sends('ACK');
    assert.equal(acks.length, 3);
    assert.deepEqual(acks.map((a) => a.at), [0, 500, 1500]);
    assert.ok(acks[1]!.bytes.equals(acks[0]!.bytes));
    assert.ok(acks[2]!.bytes.equals(acks[0]!.bytes));
    assert.deepEqual(acks.map((a) => a.destination), [BOB_UDP_DESTINATION, BOB_UDP_DESTINATION, BOB_UDP_DESTINATION]);
    assert.equal(ok.status, 200);
  });

  it('a 2xx retransmitted after Timer M, when the INVITE transaction is gone, still gets the same ACK', async () => {
    const env = createEnv();
    const { invite } = await answeredCall(env);
    await advanceTo(env.clock, 40_000);
    assert.equal(env.ua.transactions.counts.clientInvite, 0);
    env.net.deliver(responseTo(invite, 200, { body: ANSWER }));
    await flush();
    const acks = env.net.sends('ACK');
    assert.deepEqual(acks.map((a) => a.at), [0, 40_000]);
    assert.ok(acks[1]!.bytes.equals(acks[0]!.bytes));
  });

  it('an ACK is kept for 128*T1 (a peer may retransmit for 64 of its own, longer T1): a 2xx after that is ignored', async () => {
    const env = createEnv();
    const { session, invite } = await answeredCall(env);
    await advanceTo(env.clock, 64_000);
    env.net.deliver(responseTo(invite, 200, { body: ANSWER }));
    await flush();
    assert.deepEqual(env.net.sends('ACK').map((a) => a.at), [0]);
    assert.equal(session.state, 'confirmed');
    assert.equal(session.response, undefined, 'the 2xx bytes went at 64*T1');
    assert.equal(session.currentInvite, undefined, 'so did the INVITE');
  });

  it('a 2xx from a second fork is ACKed and that fork gets a BYE; the session stays with the first', async () => {
    const env = createEnv();
    const { session, invite } = await answeredCall(env);
    const ended = endings(session);
    env.net.deliver(responseTo(invite, 200, { toTag: 'bob-tag-2', contact: '<sip:bob2@192.0.2.30:5060>', body: sdp(7, '192.0.2.30') }));
    await flush();
    assert.deepEqual(env.net.log, ['INVITE', 'ACK', 'ACK', 'BYE']);
    const [, second] = env.net.sends('ACK');
    const bye = env.net.sends('BYE')[0]!;
    assert.deepEqual(second!.destination, { transport: 'udp', address: '192.0.2.30', port: 5060 });
    assert.equal((second!.message as SipRequest).startLine(), 'ACK sip:bob2@192.0.2.30:5060 SIP/2.0');
    assert.equal(second!.message.to.tag, 'bob-tag-2');
    assert.equal(second!.message.header('cseq'), '1 ACK');
    assert.deepEqual(bye.destination, { transport: 'udp', address: '192.0.2.30', port: 5060 });
    assert.equal((bye.message as SipRequest).startLine(), 'BYE sip:bob2@192.0.2.30:5060 SIP/2.0');
    assert.equal(bye.message.to.tag, 'bob-tag-2');
    assert.equal(bye.message.header('cseq'), '2 BYE');
    assert.equal(session.state, 'confirmed');
    assert.equal(session.dialog?.remoteTag, BOB_TAG);
    assert.equal(ended.length, 0);
  });

  it('an offerless INVITE: the offer in the 2xx is reported with ackPending, and ack(answer) sends the ACK carrying it', async () => {
    const env = createEnv();
    const { session, invite } = await call(env, { body: undefined });
    const events = recordEvents(session, env.clock);
    env.net.deliver(responseTo(invite, 200, { body: sdp(3, '192.0.2.20') }));
    await flush();
    assert.deepEqual(env.net.log, ['INVITE']);
    assert.deepEqual(events.map((e) => [e.name, ...e.args.slice(1)]), [['answered', true]]);
    assert.equal(session.state, 'answered');
    assert.equal(session.remoteDescription, sdp(3, '192.0.2.20'));
    await advanceTo(env.clock, 250);
    session.ack({ body: OFFER });
    await flush();
    assert.deepEqual(env.net.log, ['INVITE', 'ACK']);
    const ack = env.net.last('ACK');
    assert.equal(ack.header('content-type'), 'application/sdp');
    assert.equal(ack.body.toString('utf8'), OFFER);
    assert.deepEqual(env.net.times('ACK'), [250]);
    assert.equal(session.state, 'confirmed');
    assert.deepEqual(events.map((e) => e.name), ['answered', 'confirmed']);
  });

  it('hangup() while the ACK is still owed sends the ACK (with answerForUnwantedOffer) and then the BYE', async () => {
    const rejectAll = sdp(9, '0.0.0.0', 0);
    const env = createEnv({ answerForUnwantedOffer: () => ({ body: rejectAll }) });
    const { session, invite } = await call(env, { body: undefined });
    const ended = endings(session);
    env.net.deliver(responseTo(invite, 200, { body: sdp(3, '192.0.2.20') }));
    await flush();
    session.hangup();
    await flush();
    assert.deepEqual(env.net.log, ['INVITE', 'ACK', 'BYE']);
    assert.equal(env.net.last('ACK').body.toString('utf8'), rejectAll);
    assert.equal(env.net.last('BYE').header('cseq'), '2 BYE');
    assert.deepEqual(ended.map((e) => e.cause), ['local-bye']);
  });

  it('a 486 fails the session as rejected with the response; the transaction ACKs it with the INVITE branch', async () => {
    const env = createEnv();
    const { session, invite } = await call(env);
    const failed = failures(session);
    env.net.deliver(responseTo(invite, 486));
    await flush();
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.kind, 'rejected');
    assert.equal(failed[0]!.status, 486);
    assert.equal(failed[0]!.reason, 'Busy Here');
    assert.equal(failed[0]!.response?.status, 486);
    assert.deepEqual(env.net.log, ['INVITE', 'ACK']);
    assert.equal(env.net.last('ACK').topVia.branch, invite.topVia.branch);
  });

  it('a reliable 180 (Require: 100rel, RSeq) is PRACKed with RAck, and the dialog CSeq moves on (ACK 1, BYE 3)', async () => {
    const env = createEnv();
    const { session, invite } = await call(env, { reliableProvisionals: true });
    const events = recordEvents(session, env.clock);
    env.net.deliver(responseTo(invite, 180, { contact: '<sip:bob@192.0.2.20:5060>', headers: ['Require: 100rel', 'RSeq: 4711'] }));
    await flush();
    const prack = env.net.last('PRACK');
    assert.equal(prack.header('rack'), '4711 1 INVITE');
    assert.equal(prack.header('cseq'), '2 PRACK');
    assert.equal(prack.to.tag, BOB_TAG);
    // A retransmission of the reliable 180 is neither PRACKed again nor reported again (RFC 3262 §4).
    env.net.deliver(responseTo(invite, 180, { contact: '<sip:bob@192.0.2.20:5060>', headers: ['Require: 100rel', 'RSeq: 4711'] }));
    env.net.deliver(responseTo(prack, 200));
    env.net.deliver(responseTo(invite, 200, { body: ANSWER }));
    await flush();
    assert.equal(new Set(env.net.requests('PRACK').map((p) => p.topVia.branch)).size, 1);
    assert.deepEqual(events.map((e) => e.name), ['provisional', 'answered', 'confirmed']);
    assert.equal(env.net.last('ACK').header('cseq'), '1 ACK');
    session.hangup();
    await flush();
    assert.equal(env.net.last('BYE').header('cseq'), '3 BYE');
  });

  it('with maxRedirects 1, a 302 sends the INVITE again (CSeq 2, same Call-ID and tag) to the Contact it names', async () => {
    const env = createEnv();
    const { session, invite } = await call(env, { maxRedirects: 1 });
    env.net.deliver(responseTo(invite, 302, { reason: 'Moved Temporarily', contact: '<sip:carol@192.0.2.40:5080>' }));
    await flush();
    assert.deepEqual(env.net.log, ['INVITE', 'ACK', 'INVITE']);
    const redirected = env.net.sends('INVITE')[1]!;
    assert.deepEqual(redirected.destination, { transport: 'udp', address: '192.0.2.40', port: 5080 });
    const request = redirected.message as SipRequest;
    assert.equal(request.startLine(), 'INVITE sip:carol@192.0.2.40:5080 SIP/2.0');
    assert.equal(request.header('cseq'), '2 INVITE');
    assert.equal(request.callId, invite.callId);
    assert.equal(request.header('from'), invite.header('from'));
    assert.equal(request.header('to'), invite.header('to'));
    assert.equal(session.state, 'calling');
    // A second 302 is one too many: the session fails as redirected.
    const failed = failures(session);
    env.net.deliver(responseTo(request, 302, { reason: 'Moved Temporarily', contact: '<sip:dave@192.0.2.41>' }));
    await flush();
    assert.deepEqual(failed.map((f) => [f.kind, f.status]), [['redirected', 302]]);
    assert.equal(env.net.requests('INVITE').length, 2);
  });

  it('a 302 with several Contacts: tried highest q first (no q counts as 1.0, ties in order); a failed attempt moves on to the next', async () => {
    const env = createEnv();
    const { session, invite } = await call(env, { maxRedirects: 1 });
    const contact = '<sip:low@192.0.2.41>;q=0.1, <sip:mid@192.0.2.42>;q=0.5, <sip:first@192.0.2.43>, <sip:high@192.0.2.44>;q=1.0, <tel:+15551234>;q=1';
    env.net.deliver(responseTo(invite, 302, { reason: 'Moved Temporarily', contact }));
    await flush();
    const targets = (): string[] => env.net.requests('INVITE').slice(1).map((r) => r.startLine());
    assert.deepEqual(targets(), ['INVITE sip:first@192.0.2.43 SIP/2.0']);
    env.net.deliver(responseTo(env.net.last('INVITE'), 404));
    await flush();
    env.net.deliver(responseTo(env.net.last('INVITE'), 486));
    await flush();
    assert.deepEqual(targets(), ['INVITE sip:first@192.0.2.43 SIP/2.0', 'INVITE sip:high@192.0.2.44 SIP/2.0', 'INVITE sip:mid@192.0.2.42 SIP/2.0']);
    assert.deepEqual(env.net.requests('INVITE').map((r) => r.header('cseq')), ['1 INVITE', '2 INVITE', '3 INVITE', '4 INVITE']);
    env.net.deliver(responseTo(env.net.last('INVITE'), 200, { body: ANSWER }));
    await flush();
    assert.equal(session.state, 'confirmed');
    assert.equal(env.net.last('ACK').header('cseq'), '4 ACK');
    assert.equal(targets().length, 3, 'the last Contact (q=0.1) is never needed');
  });

  it('loop detection: a Contact already tried, or our own address, is not tried; nothing left fails the session as redirected', async () => {
    const env = createEnv();
    const { session, invite } = await call(env, { maxRedirects: 3 });
    const failed = failures(session);
    env.net.deliver(responseTo(invite, 302, { contact: '<sip:carol@192.0.2.40>' }));
    await flush();
    const carol = env.net.last('INVITE');
    assert.equal(carol.startLine(), 'INVITE sip:carol@192.0.2.40 SIP/2.0');
    // Back to the original target, to carol again (same URI, other spelling), to ourselves: nothing new.
    env.net.deliver(responseTo(carol, 301, { reason: 'Moved Permanently', contact: `<${BOB_URI}>, <sip:carol@192.0.2.40:5060>;q=0.9, <sip:loop@10.0.0.1:5060>, <sip:other@10.0.0.1>` }));
    await flush();
    assert.equal(env.net.requests('INVITE').length, 2, 'no INVITE to a target already tried or to ourselves');
    assert.deepEqual(failed.map((f) => [f.kind, f.status]), [['redirected', 301]]);
  });

  it('the hop limit counts 3xx responses: with maxRedirects 2 the third 302 fails the session; a 6xx from a redirected target ends the search', async () => {
    const env = createEnv();
    const { session, invite } = await call(env, { maxRedirects: 2 });
    const failed = failures(session);
    env.net.deliver(responseTo(invite, 302, { contact: '<sip:hop1@192.0.2.41>, <sip:spare@192.0.2.49>;q=0.2' }));
    await flush();
    env.net.deliver(responseTo(env.net.last('INVITE'), 302, { contact: '<sip:hop2@192.0.2.42>' }));
    await flush();
    assert.equal(env.net.last('INVITE').startLine(), 'INVITE sip:hop2@192.0.2.42 SIP/2.0');
    env.net.deliver(responseTo(env.net.last('INVITE'), 302, { contact: '<sip:hop3@192.0.2.43>' }));
    await flush();
    // Over the limit: that 302 is not followed, but the spare Contact of the first one still is.
    assert.equal(env.net.last('INVITE').startLine(), 'INVITE sip:spare@192.0.2.49 SIP/2.0');
    env.net.deliver(responseTo(env.net.last('INVITE'), 603));
    await flush();
    assert.deepEqual(failed.map((f) => [f.kind, f.status]), [['rejected', 603]]);
    assert.equal(env.net.requests('INVITE').length, 4);
  });

  it('a 6xx from a redirected target ends the search even with Contacts left', async () => {
    const env = createEnv();
    const { session, invite } = await call(env, { maxRedirects: 1 });
    const failed = failures(session);
    env.net.deliver(responseTo(invite, 302, { contact: '<sip:one@192.0.2.41>, <sip:two@192.0.2.42>;q=0.5' }));
    await flush();
    env.net.deliver(responseTo(env.net.last('INVITE'), 600));
    await flush();
    assert.deepEqual(failed.map((f) => [f.kind, f.status]), [['rejected', 600]]);
    assert.equal(env.net.requests('INVITE').length, 2);
  });

  it('hangup() once confirmed sends BYE with the next CSeq and ends the session local-bye at once', async () => {
    const env = createEnv();
    const { session } = await answeredCall(env);
    const ended = endings(session);
    await advanceTo(env.clock, 5000);
    session.hangup('SIP;cause=16;text="Normal call clearing"');
    await flush();
    const bye = env.net.last('BYE');
    assert.equal(bye.header('cseq'), '2 BYE');
    assert.equal(bye.header('reason'), 'SIP;cause=16;text="Normal call clearing"');
    assert.deepEqual(env.net.times('BYE'), [5000]);
    assert.deepEqual(ended.map((e) => e.cause), ['local-bye']);
    env.net.deliver(responseTo(bye, 200));
    await advance(env.clock, 60_000);
    assert.equal(new Set(env.net.requests('BYE').map((b) => b.topVia.branch)).size, 1);
    assert.equal(ended.length, 1);
  });
});

const CHALLENGE = 'Digest realm="biloxi.example.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41", qop="auth", algorithm=MD5';

function digestOf(value: string | undefined): DigestCredentials {
  assert.ok(value, 'credentials expected');
  const credentials = parseCredentials(value);
  assert.equal(credentials.kind, 'digest');
  return credentials as DigestCredentials;
}

describe('OutgoingInviteSession: an offer in a reliable provisional response (RFC 3262 §5, RFC 3725 §8)', () => {
  const RELIABLE = ['Require: 100rel', 'RSeq: 1'];
  const PEER_OFFER = sdp(1, '192.0.2.20', 30000);

  /** An offerless INVITE (RFC 3725 flow III) with 100rel, and the 183 with the peer's offer delivered. */
  async function earlyOffered(env: Env, options: Partial<InviteOptions> = {}): Promise<{ session: OutgoingInviteSession; invite: SipRequest; offers: EarlyOffer[]; order: string[] }> {
    const session = env.ua.invite({ to: `<${BOB_URI}>`, from: FROM, reliableProvisionals: true, ...options });
    const offers: EarlyOffer[] = [];
    const order: string[] = [];
    session.on('provisional', (response) => order.push(`provisional ${response.status}`));
    session.on('earlyOffer', (offer) => {
      order.push('earlyOffer');
      offers.push(offer);
    });
    session.on('answered', (_response, ackPending) => order.push(`answered ${ackPending}`));
    session.on('confirmed', () => order.push('confirmed'));
    await flush();
    const invite = env.net.last('INVITE');
    assert.equal(invite.body.length, 0, 'the INVITE carries no offer');
    env.net.deliver(responseTo(invite, 183, { reason: 'Session Progress', headers: RELIABLE, body: PEER_OFFER }));
    await flush();
    return { session, invite, offers, order };
  }

  it('the offer is handed over and the PRACK waits for its answer, which it then carries (RAck 1 1 INVITE); the 2xx repeating the offer is ACKed without a body', async () => {
    const env = createEnv();
    const { session, invite, offers, order } = await earlyOffered(env);
    assert.deepEqual(order, ['provisional 183', 'earlyOffer']);
    assert.equal(offers[0]!.description, PEER_OFFER);
    assert.equal(session.earlyDescription, PEER_OFFER);
    assert.deepEqual(env.net.requests('PRACK'), [], 'no PRACK before the answer is known');
    // A retransmission of the 183 while the answer is awaited is not handed over again.
    env.net.deliver(responseTo(invite, 183, { reason: 'Session Progress', headers: RELIABLE, body: PEER_OFFER }));
    await flush();
    assert.equal(offers.length, 1);
    offers[0]!.answer({ body: ANSWER });
    await flush();
    const prack = env.net.last('PRACK');
    assert.equal(prack.header('rack'), '1 1 INVITE');
    assert.equal(prack.header('cseq'), '2 PRACK');
    assert.equal(prack.contentType, 'application/sdp');
    assert.equal(prack.body.toString('utf8'), ANSWER);
    env.net.deliver(responseTo(prack, 200));
    env.net.deliver(responseTo(invite, 200, { body: PEER_OFFER }));
    await flush();
    assert.deepEqual(order, ['provisional 183', 'earlyOffer', 'answered false', 'confirmed']);
    const ack = env.net.last('ACK');
    assert.equal(ack.header('cseq'), '1 ACK');
    assert.equal(ack.body.length, 0, 'the exchange was over: the ACK carries nothing');
    assert.equal(session.state, 'confirmed');
    session.hangup();
    await flush();
    assert.equal(env.net.last('BYE').header('cseq'), '3 BYE');
  });

  it('a 2xx that comes before the answer is given waits for it: the answer then goes in the ACK, and no PRACK is sent', async () => {
    const env = createEnv();
    const { session, invite, offers, order } = await earlyOffered(env);
    env.net.deliver(responseTo(invite, 200, { body: PEER_OFFER }));
    await flush();
    assert.deepEqual(order, ['provisional 183', 'earlyOffer', 'answered false']);
    assert.deepEqual(env.net.requests('ACK'), [], 'no ACK before the answer');
    assert.equal(session.state, 'answered');
    offers[0]!.answer({ body: ANSWER });
    await flush();
    assert.deepEqual(order, ['provisional 183', 'earlyOffer', 'answered false', 'confirmed']);
    assert.equal(env.net.last('ACK').body.toString('utf8'), ANSWER);
    assert.deepEqual(env.net.requests('PRACK'), []);
    assert.equal(session.state, 'confirmed');
  });

  it('without an earlyOffer listener the offer is answered at once in the PRACK with the UA\'s answer for unwanted offers', async () => {
    const env = createEnv({ answerForUnwantedOffer: () => ({ body: sdp(1, '0.0.0.0', 0) }) });
    const session = env.ua.invite({ to: `<${BOB_URI}>`, from: FROM, reliableProvisionals: true });
    await flush();
    env.net.deliver(responseTo(env.net.last('INVITE'), 183, { headers: RELIABLE, body: PEER_OFFER }));
    await flush();
    assert.equal(env.net.last('PRACK').body.toString('utf8'), sdp(1, '0.0.0.0', 0));
    assert.equal(session.state, 'proceeding');
  });

  it('hanging up while the answer is awaited sends CANCEL; an answer given later sends nothing', async () => {
    const env = createEnv();
    const { session, invite, offers } = await earlyOffered(env);
    const failed = failures(session);
    session.hangup();
    await flush();
    assert.equal(env.net.requests('CANCEL').length, 1);
    env.net.deliver(responseTo(invite, 487));
    await flush();
    assert.deepEqual(failed.map((f) => [f.kind, f.status]), [['canceled', 487]]);
    offers[0]!.answer({ body: ANSWER });
    await flush();
    assert.deepEqual(env.net.requests('PRACK'), []);
  });

  it('a 2xx crossing the CANCEL while the answer is awaited is ACKed with a rejecting answer, then BYE', async () => {
    const env = createEnv({ answerForUnwantedOffer: () => ({ body: sdp(1, '0.0.0.0', 0) }) });
    const { session, invite } = await earlyOffered(env);
    session.hangup();
    await flush();
    env.net.deliver(responseTo(invite, 200, { body: PEER_OFFER }));
    await flush();
    assert.equal(env.net.last('ACK').body.toString('utf8'), sdp(1, '0.0.0.0', 0));
    assert.equal(env.net.requests('BYE').length, 1);
    assert.equal(session.state, 'ended');
  });

  it('with an offer in our INVITE, the answer in a reliable 183 is PRACKed at once without a body; a 2xx without SDP then completes the session', async () => {
    const env = createEnv();
    const session = env.ua.invite({ to: `<${BOB_URI}>`, from: FROM, body: OFFER, reliableProvisionals: true });
    let offered = 0;
    session.on('earlyOffer', () => offered++);
    await flush();
    const invite = env.net.last('INVITE');
    env.net.deliver(responseTo(invite, 183, { headers: RELIABLE, body: ANSWER }));
    await flush();
    const prack = env.net.last('PRACK');
    assert.equal(prack.body.length, 0);
    assert.equal(session.earlyDescription, ANSWER);
    env.net.deliver(responseTo(prack, 200));
    env.net.deliver(responseTo(invite, 200));
    await flush();
    assert.equal(offered, 0, 'an answer is not an offer');
    assert.equal(session.state, 'confirmed');
    assert.equal(env.net.last('ACK').body.length, 0);
  });
});

describe('OutgoingInviteSession: UPDATE in an early dialog (RFC 3311)', () => {
  const RELIABLE_UPDATE = ['Require: 100rel', 'RSeq: 1', 'Allow: INVITE, ACK, CANCEL, BYE, PRACK, UPDATE'];
  const PEER_OFFER = sdp(1, '192.0.2.20', 30000);

  /** An offerless INVITE whose reliable 183 offered and got `answer` in the PRACK (200). */
  async function earlyAnswered(env: Env, headers: string[] = RELIABLE_UPDATE): Promise<{ session: OutgoingInviteSession; invite: SipRequest }> {
    const session = env.ua.invite({ to: `<${BOB_URI}>`, from: FROM, reliableProvisionals: true });
    session.on('earlyOffer', (offer) => offer.answer({ body: ANSWER }));
    await flush();
    const invite = env.net.last('INVITE');
    env.net.deliver(responseTo(invite, 183, { headers, body: PEER_OFFER }));
    await flush();
    env.net.deliver(responseTo(env.net.last('PRACK'), 200));
    await flush();
    return { session, invite };
  }

  it('update() before the 2xx goes in the early dialog with the next CSeq and our offer; the 2xx answer is the new remote description', async () => {
    const env = createEnv();
    const { session, invite } = await earlyAnswered(env);
    const pending = session.update({ body: sdp(2) });
    await flush();
    const update = env.net.last('UPDATE');
    assert.equal(update.startLine(), 'UPDATE sip:bob@192.0.2.20:5060 SIP/2.0', 'to the remote target of the 183');
    assert.equal(update.header('cseq'), '3 UPDATE', 'after INVITE 1 and PRACK 2');
    assert.equal(update.to.tag, BOB_TAG);
    assert.equal(update.header('contact'), '<sip:ctd@10.0.0.1:5060>', 'UPDATE is a target refresh request (RFC 3311 §5.1)');
    assert.equal(update.body.toString('utf8'), sdp(2));
    env.net.deliver(responseTo(update, 200, { body: sdp(2, '192.0.2.20', 30000) }));
    assert.equal((await pending).status, 200);
    assert.equal(session.remoteDescription, sdp(2, '192.0.2.20', 30000));
    assert.equal(session.state, 'proceeding');
    env.net.deliver(responseTo(invite, 200));
    await flush();
    assert.equal(session.state, 'confirmed');
    assert.equal(env.net.last('ACK').body.length, 0);
  });

  it('update() refuses: before any reliable 1xx, when the peer did not Allow UPDATE, with an offer while the early offer awaits its answer', async () => {
    const env = createEnv();
    const bare = env.ua.invite({ to: `<${BOB_URI}>`, from: FROM, reliableProvisionals: true });
    await flush();
    assert.throws(() => bare.update({ body: sdp(2) }), /no early dialog/);
    const { session } = await earlyAnswered(env, ['Require: 100rel', 'RSeq: 1']);
    assert.throws(() => session.update({ body: sdp(2) }), /did not list UPDATE/);
    const waiting = env.ua.invite({ to: `<${BOB_URI}>`, from: FROM, reliableProvisionals: true });
    waiting.on('earlyOffer', () => undefined);
    await flush();
    env.net.deliver(responseTo(env.net.last('INVITE'), 183, { headers: RELIABLE_UPDATE, body: PEER_OFFER, toTag: 'bob-2' }));
    await flush();
    assert.throws(() => waiting.update({ body: sdp(2) }), /offer\/answer exchange is over/);
    assert.equal(env.net.requests('UPDATE').length, 0);
  });

  it('an UPDATE offer waits for the 200 of the PRACK that carried our answer (the two must not cross)', async () => {
    const env = createEnv();
    const session = env.ua.invite({ to: `<${BOB_URI}>`, from: FROM, reliableProvisionals: true });
    session.on('earlyOffer', (offer) => offer.answer({ body: ANSWER }));
    await flush();
    env.net.deliver(responseTo(env.net.last('INVITE'), 183, { headers: RELIABLE_UPDATE, body: PEER_OFFER }));
    await flush();
    assert.throws(
      () => session.update({ body: sdp(2) }),
      (error: unknown) => error instanceof DialogError && error.code === 'UPDATE_NOT_ALLOWED',
    );
    env.net.deliver(responseTo(env.net.last('PRACK'), 200));
    await flush();
    void session.update({ body: sdp(2) });
    await flush();
    assert.equal(env.net.requests('UPDATE').length, 1);
  });

  it("an UPDATE from the peer in the early dialog is handed over (update event) and answered in it; a BYE there gets 481", async () => {
    const env = createEnv();
    const { session } = await earlyAnswered(env);
    session.on('update', (asked) => asked.respond(200, { body: sdp(3) }));
    const ids = { callId: session.callId, localTag: session.localTag, remoteTag: BOB_TAG };
    env.net.deliver(peerRequest(ids, { method: 'UPDATE', cseq: 10, body: sdp(2, '192.0.2.20', 30000) }));
    await flush();
    const answer = env.net.responses(200).find((r) => r.cseq.method === 'UPDATE')!;
    assert.equal(answer.body.toString('utf8'), sdp(3));
    assert.equal(answer.to.tag, session.localTag);
    assert.equal(session.remoteDescription, sdp(2, '192.0.2.20', 30000));
    env.net.deliver(peerRequest(ids, { method: 'BYE', cseq: 11 }));
    await flush();
    assert.deepEqual(answersTo(env, 'BYE', 11), ['481']);
    assert.equal(session.state, 'proceeding');
  });

  it("once another fork's 2xx confirmed the session, an UPDATE in the first fork's ended early dialog gets 481", async () => {
    const env = createEnv();
    const { session, invite } = await earlyAnswered(env);
    env.net.deliver(responseTo(invite, 200, { body: sdp(1, '192.0.2.30', 7000), toTag: 'fork-2' }));
    await flush();
    session.ack({ body: ANSWER });
    assert.equal(session.state, 'confirmed');
    const fork1 = { callId: session.callId, localTag: session.localTag, remoteTag: BOB_TAG };
    env.net.deliver(peerRequest(fork1, { method: 'UPDATE', cseq: 10, body: sdp(2, '192.0.2.20', 30000) }));
    await flush();
    assert.deepEqual(answersTo(env, 'UPDATE', 10), ['481']);
    assert.deepEqual(env.errors, []);
  });

  it('an UPDATE of the peer still unanswered when the INVITE fails gets 487', async () => {
    const env = createEnv();
    const { session, invite } = await earlyAnswered(env);
    session.on('update', () => undefined);
    const ids = { callId: session.callId, localTag: session.localTag, remoteTag: BOB_TAG };
    env.net.deliver(peerRequest(ids, { method: 'UPDATE', cseq: 10, body: sdp(2, '192.0.2.20', 30000) }));
    await flush();
    env.net.deliver(responseTo(invite, 486));
    await flush();
    assert.deepEqual(answersTo(env, 'UPDATE', 10), ['487']);
  });
});

describe('OutgoingInviteSession: digest authentication (RFC 3261 §22.2)', () => {
  it('a 401 is answered with a new INVITE: CSeq 2, same Call-ID and From tag, a new branch, and Authorization for the challenge', async () => {
    const env = createEnv();
    const { session, invite } = await call(env, { credentials: { username: 'ctd', password: 'secret' } });
    env.net.deliver(responseTo(invite, 401, { headers: [`WWW-Authenticate: ${CHALLENGE}`] }));
    await flush();
    assert.deepEqual(env.net.log, ['INVITE', 'ACK', 'INVITE']);
    const second = env.net.last('INVITE');
    assert.equal(second.header('cseq'), '2 INVITE');
    assert.equal(second.callId, invite.callId);
    assert.equal(second.header('from'), invite.header('from'));
    assert.equal(second.header('to'), invite.header('to'));
    assert.notEqual(second.topVia.branch, invite.topVia.branch);
    assert.equal(second.hasHeader('proxy-authorization'), false);
    const credentials = digestOf(second.header('authorization'));
    assert.equal(credentials.username, 'ctd');
    assert.equal(credentials.realm, 'biloxi.example.com');
    assert.equal(credentials.nonce, 'dcd98b7102dd2f0e8b11d0f600bfb0c093');
    assert.equal(credentials.opaque, '5ccc069c403ebaf9f0171e9517f40e41');
    assert.equal(credentials.uri, BOB_URI);
    assert.equal(credentials.qop, 'auth');
    assert.equal(credentials.nc, '00000001');
    assert.equal(checkDigestResponse(credentials, { method: 'INVITE' }, { password: 'secret' }), true);
    assert.equal(checkDigestResponse(credentials, { method: 'INVITE' }, { password: 'wrong' }), false);
    assert.equal(second.body.toString('utf8'), OFFER);
    assert.equal(session.state, 'calling');

    // The 2xx to the authenticated INVITE is ACKed with its CSeq and its credentials.
    env.net.deliver(responseTo(second, 200, { body: ANSWER }));
    await flush();
    const ack = env.net.last('ACK');
    assert.equal(ack.header('cseq'), '2 ACK');
    assert.equal(ack.header('authorization'), second.header('authorization'));
    assert.equal(session.state, 'confirmed');
  });

  it('a second 401 with the same nonce fails the session auth-failed, and no third INVITE goes out', async () => {
    const env = createEnv();
    const { session, invite } = await call(env, { credentials: { username: 'ctd', password: 'wrong' } });
    const failed = failures(session);
    env.net.deliver(responseTo(invite, 401, { headers: [`WWW-Authenticate: ${CHALLENGE}`] }));
    await flush();
    env.net.deliver(responseTo(env.net.last('INVITE'), 401, { headers: [`WWW-Authenticate: ${CHALLENGE}`] }));
    await advance(env.clock, 40_000);
    assert.equal(env.net.requests('INVITE').length, 2);
    assert.deepEqual(env.net.log, ['INVITE', 'ACK', 'INVITE', 'ACK']);
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.kind, 'auth-failed');
    assert.equal(failed[0]!.status, 401);
    assert.equal(session.state, 'failed');
  });

  it('a 407 is answered with Proxy-Authorization (and no Authorization)', async () => {
    const env = createEnv();
    const { invite } = await call(env, { credentials: { username: 'ctd', password: 'secret' } });
    env.net.deliver(responseTo(invite, 407, { headers: [`Proxy-Authenticate: ${CHALLENGE.replace('biloxi.example.com', 'proxy.example.com')}`] }));
    await flush();
    const second = env.net.last('INVITE');
    assert.equal(second.header('cseq'), '2 INVITE');
    assert.equal(second.hasHeader('authorization'), false);
    const credentials = digestOf(second.header('proxy-authorization'));
    assert.equal(credentials.realm, 'proxy.example.com');
    assert.equal(credentials.username, 'ctd');
    assert.equal(checkDigestResponse(credentials, { method: 'INVITE' }, { password: 'secret' }), true);
  });

  it('a 401 without credentials configured fails the session as rejected 401, with no retry', async () => {
    const env = createEnv();
    const { session, invite } = await call(env);
    const failed = failures(session);
    env.net.deliver(responseTo(invite, 401, { headers: [`WWW-Authenticate: ${CHALLENGE}`] }));
    await flush();
    assert.deepEqual(env.net.log, ['INVITE', 'ACK']);
    assert.deepEqual(failed.map((f) => [f.kind, f.status]), [['rejected', 401]]);
  });
});

describe('OutgoingInviteSession: requests from the peer (RFC 3261 §12.2.2, §13.3, §14.2, §15.1.2)', () => {
  it('a re-INVITE with no reinvite listener gets 100 and then 488 with our To tag; the session carries on', async () => {
    const env = createEnv();
    const { session, ids } = await answeredCall(env);
    env.net.deliver(peerRequest(ids, { method: 'INVITE', cseq: 10, body: sdp(2, '192.0.2.20') }));
    await flush();
    assert.deepEqual(answersTo(env, 'INVITE', 10), ['100', '488']);
    const rejection = env.net.responses(488)[0]!;
    assert.equal(rejection.to.tag, session.localTag);
    assert.equal(rejection.header('via'), 'SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bKbob-invite-10');
    assert.equal(session.state, 'confirmed');
    // The 488 is the INVITE server transaction's: Timer G re-sends it until its ACK comes.
    await advance(env.clock, 500);
    assert.deepEqual(answersTo(env, 'INVITE', 10), ['100', '488', '488']);
    env.net.deliver(peerRequest(ids, { method: 'ACK', cseq: 10, branch: 'z9hG4bKbob-invite-10' }));
    await advance(env.clock, 10_000);
    assert.deepEqual(answersTo(env, 'INVITE', 10), ['100', '488', '488']);
  });

  it('a re-INVITE answered 200 by a listener: the 200 goes again at +500, +1500, +3500 ms until the ACK, then never again', async () => {
    const env = createEnv();
    const { session, ids } = await answeredCall(env);
    const acks: SipRequest[] = [];
    session.on('ack', (ack) => acks.push(ack));
    session.on('reinvite', (asked) => asked.respond(200, { body: sdp(2) }));
    await advanceTo(env.clock, 10_000);
    env.net.deliver(peerRequest(ids, { method: 'INVITE', cseq: 10, body: sdp(2, '192.0.2.20') }));
    await advanceTo(env.clock, 15_000);
    assert.deepEqual(env.net.times('200'), [10_000, 10_500, 11_500, 13_500]);
    const ok = env.net.responses(200, 'INVITE')[0]!;
    assert.equal(ok.header('contact'), '<sip:ctd@10.0.0.1:5060>');
    assert.equal(ok.to.tag, session.localTag);
    assert.equal(ok.body.toString('utf8'), sdp(2));
    assert.equal(session.remoteDescription, sdp(2, '192.0.2.20'));
    assert.ok(env.net.sends('200').every((s) => s.bytes.equals(env.net.sends('200')[0]!.bytes)), 'the same 200 each time');
    env.net.deliver(peerRequest(ids, { method: 'ACK', cseq: 10 }));
    await advanceTo(env.clock, 80_000);
    assert.deepEqual(env.net.times('200'), [10_000, 10_500, 11_500, 13_500]);
    assert.equal(acks.length, 1);
    assert.equal(acks[0]!.header('cseq'), '10 ACK');
    assert.equal(session.state, 'confirmed');
    assert.deepEqual(env.net.requests('BYE'), []);
  });

  it('a re-INVITE 2xx never ACKed: BYE with Reason 408 at 64*T1 and ended(ack-timeout) exactly once', async () => {
    const env = createEnv();
    const { session, ids } = await answeredCall(env);
    const ended = endings(session);
    session.on('reinvite', (asked) => asked.respond(200, { body: sdp(2) }));
    await advanceTo(env.clock, 1000);
    env.net.deliver(peerRequest(ids, { method: 'INVITE', cseq: 10, body: sdp(2, '192.0.2.20') }));
    await advanceTo(env.clock, 32_999);
    assert.deepEqual(env.net.requests('BYE'), []);
    assert.equal(ended.length, 0);
    await advanceTo(env.clock, 33_000);
    assert.deepEqual(env.net.times('BYE'), [33_000]);
    const bye = env.net.last('BYE');
    assert.equal(bye.header('reason'), 'SIP;cause=408;text="ACK not received"');
    assert.equal(bye.header('cseq'), '2 BYE');
    assert.deepEqual(ended.map((e) => e.cause), ['ack-timeout']);
    assert.equal(session.state, 'ended');
    const oks = env.net.times('200');
    assert.deepEqual(oks, [1000, 1500, 2500, 4500, 8500, 12_500, 16_500, 20_500, 24_500, 28_500, 32_500]);
    env.net.deliver(responseTo(bye, 200));
    await advance(env.clock, 100_000);
    assert.equal(ended.length, 1);
    assert.deepEqual(env.net.times('200'), oks, 'no 200 after the give-up');
    assert.equal(new Set(env.net.requests('BYE').map((b) => b.header('cseq'))).size, 1);
  });

  it('over TCP the 2xx to a re-INVITE is sent once, and without an ACK the session still ends at 64*T1', async () => {
    const env = createEnv();
    const { session, ids } = await answeredCall(env);
    const ended = endings(session);
    session.on('reinvite', (asked) => asked.respond(200, { body: sdp(2) }));
    env.net.openConnections.add('tcp-1');
    env.net.deliver(peerRequest(ids, { method: 'INVITE', cseq: 10, transport: 'TCP', body: sdp(2, '192.0.2.20') }), BOB_TCP, 'tcp-1');
    await advanceTo(env.clock, 31_999);
    const oks = env.net.sends('200');
    assert.equal(oks.length, 1);
    assert.deepEqual(oks[0]!.destination, { transport: 'tcp', address: '192.0.2.20', port: 5060, connectionId: 'tcp-1' });
    await advanceTo(env.clock, 32_000);
    assert.deepEqual(ended.map((e) => e.cause), ['ack-timeout']);
    assert.deepEqual(env.net.times('BYE'), [32_000]);
  });

  it('a BYE from the peer gets 200 with our To tag and ends the session remote-bye with its Reason', async () => {
    const env = createEnv();
    const { session, ids } = await answeredCall(env);
    const ended = endings(session);
    const bye = peerRequest(ids, { method: 'BYE', cseq: 11, headers: ['Reason: Q.850;cause=16;text="Normal call clearing"'] });
    env.net.deliver(bye);
    await flush();
    assert.deepEqual(answersTo(env, 'BYE', 11), ['200']);
    assert.equal(env.net.responses(200, 'BYE')[0]!.to.tag, session.localTag);
    assert.equal(ended.length, 1);
    assert.equal(ended[0]!.cause, 'remote-bye');
    assert.equal(ended[0]!.reason, 'Q.850;cause=16;text="Normal call clearing"');
    assert.equal(ended[0]!.request?.method, 'BYE');
    assert.equal(session.state, 'ended');
    // A retransmitted BYE gets the same 200 from its transaction; the session ends once.
    env.net.deliver(peerRequest(ids, { method: 'BYE', cseq: 11 }));
    await flush();
    assert.deepEqual(answersTo(env, 'BYE', 11), ['200', '200']);
    assert.equal(ended.length, 1);
    // The dialog is gone: a new request in it gets 481.
    env.net.deliver(peerRequest(ids, { method: 'INFO', cseq: 12 }));
    await flush();
    assert.deepEqual(answersTo(env, 'INFO', 12), ['481']);
    session.hangup();
    await flush();
    assert.deepEqual(env.net.requests('BYE'), []);
  });

  it('a CANCEL from the peer for its unanswered re-INVITE gets 200, and the re-INVITE gets 487', async () => {
    const env = createEnv();
    const { session, ids } = await answeredCall(env);
    let asked: IncomingDialogRequest | undefined;
    session.on('reinvite', (request) => (asked = request));
    env.net.deliver(peerRequest(ids, { method: 'INVITE', cseq: 10, branch: 'z9hG4bKbob-reinv', body: sdp(2, '192.0.2.20') }));
    await flush();
    assert.ok(asked);
    assert.deepEqual(answersTo(env, 'INVITE', 10), ['100']);
    env.net.deliver(peerRequest(ids, { method: 'CANCEL', cseq: 10, branch: 'z9hG4bKbob-reinv', contact: null }));
    await flush();
    assert.deepEqual(answersTo(env, 'CANCEL', 10), ['200']);
    assert.deepEqual(answersTo(env, 'INVITE', 10), ['100', '487']);
    const terminated = env.net.responses(487)[0]!;
    assert.equal(terminated.to.tag, session.localTag);
    assert.equal(terminated.topVia.branch, 'z9hG4bKbob-reinv');
    assert.equal(asked.isAnswered, true);
    asked.respond(200, { body: sdp(2) });
    await flush();
    assert.deepEqual(answersTo(env, 'INVITE', 10), ['100', '487'], 'a late answer of the application goes nowhere');
    assert.equal(session.state, 'confirmed');
  });

  it('unheard in-dialog requests: INFO and an UPDATE without body get 200, an UPDATE offer 488, a REFER 603', async () => {
    const env = createEnv();
    const { ids } = await answeredCall(env);
    env.net.deliver(peerRequest(ids, { method: 'INFO', cseq: 10 }));
    env.net.deliver(peerRequest(ids, { method: 'UPDATE', cseq: 11 }));
    env.net.deliver(peerRequest(ids, { method: 'UPDATE', cseq: 12, body: sdp(2, '192.0.2.20') }));
    env.net.deliver(peerRequest(ids, { method: 'REFER', cseq: 13, headers: ['Refer-To: <sip:carol@192.0.2.40>'] }));
    await flush();
    assert.deepEqual(answersTo(env, 'INFO', 10), ['200']);
    assert.deepEqual(answersTo(env, 'UPDATE', 11), ['200']);
    assert.deepEqual(answersTo(env, 'UPDATE', 12), ['488']);
    assert.deepEqual(answersTo(env, 'REFER', 13), ['603']);
  });

  it('a request numbered below the last one from the peer gets 500 (RFC 3261 §12.2.2)', async () => {
    const env = createEnv();
    const { ids } = await answeredCall(env);
    env.net.deliver(peerRequest(ids, { method: 'INFO', cseq: 10 }));
    env.net.deliver(peerRequest(ids, { method: 'INFO', cseq: 9 }));
    await flush();
    assert.deepEqual(answersTo(env, 'INFO', 9), ['500']);
  });
});

describe('OutgoingInviteSession: re-INVITEs and glare (RFC 3261 §14)', () => {
  /** Our INVITEs, without their Timer A retransmissions. */
  function distinctInvites(env: Env): SipRequest[] {
    const seen = new Set<string>();
    return env.net.requests('INVITE').filter((invite) => {
      const branch = invite.topVia.branch ?? '';
      if (seen.has(branch)) return false;
      seen.add(branch);
      return true;
    });
  }

  async function glare(t: TestContext, random: number): Promise<{ env: Env; delays: number[]; result: SipResponse | undefined; reinvites: SipRequest[] }> {
    t.mock.method(Math, 'random', () => random);
    const env = createEnv();
    const { session } = await answeredCall(env);
    await advanceTo(env.clock, 1000);
    let result: SipResponse | undefined;
    void session.reinvite({ body: sdp(2) }).then((response) => (result = response));
    await flush();
    const first = env.net.last('INVITE');
    assert.equal(first.header('cseq'), '2 INVITE');
    env.net.deliver(responseTo(first, 491));
    await flush();
    assert.equal(result, undefined, 'the first 491 is not the end of it');
    const delays: number[] = [];
    for (let at = 1010; at <= 6000; at += 10) {
      await advanceTo(env.clock, at);
      if (distinctInvites(env).length > 2 && delays.length === 0) delays.push(at - 1000);
    }
    const reinvites = distinctInvites(env).slice(1);
    if (reinvites.length === 2) {
      env.net.deliver(responseTo(reinvites[1]!, 491));
      await advance(env.clock, 20_000);
    }
    return { env, delays, result, reinvites: distinctInvites(env).slice(1) };
  }

  it('a 491 to our re-INVITE is retried once, 2.1 s later at the earliest (we own the Call-ID), with the next CSeq; the second 491 is the result', async (t) => {
    const { env, delays, result, reinvites } = await glare(t, 0);
    assert.deepEqual(delays, [2100]);
    assert.deepEqual(reinvites.map((r) => r.header('cseq')), ['2 INVITE', '3 INVITE']);
    assert.equal(reinvites[1]!.body.toString('utf8'), sdp(2));
    assert.notEqual(reinvites[1]!.topVia.branch, reinvites[0]!.topVia.branch);
    assert.equal(result?.status, 491);
    // Each 491 was ACKed by its transaction.
    assert.deepEqual(env.net.requests('ACK').map((a) => a.header('cseq')), ['1 ACK', '2 ACK', '3 ACK']);
  });

  it('the glare retry comes 4 s later at the latest', async (t) => {
    const { delays, reinvites } = await glare(t, 0.9999);
    assert.deepEqual(delays, [4000]);
    assert.equal(reinvites.length, 2);
  });

  it('reinvite() with an offer ACKs the 2xx at once and resolves with it', async () => {
    const env = createEnv();
    const { session } = await answeredCall(env);
    const pending = session.reinvite({ body: sdp(2) });
    await flush();
    const reinvite = env.net.last('INVITE');
    assert.equal(reinvite.header('contact'), '<sip:ctd@10.0.0.1:5060>');
    assert.equal(reinvite.header('allow'), ALLOW);
    env.net.deliver(responseTo(reinvite, 200, { body: sdp(5, '192.0.2.20') }));
    const response = await pending;
    await flush();
    assert.equal(response.status, 200);
    assert.equal(env.net.last('ACK').header('cseq'), '2 ACK');
    assert.equal(session.remoteDescription, sdp(5, '192.0.2.20'));
  });

  it('a re-INVITE from the peer while ours is pending gets 491', async () => {
    const env = createEnv();
    const { session, ids } = await answeredCall(env);
    session.on('reinvite', (asked) => asked.respond(200, { body: sdp(2) }));
    void session.reinvite({ body: sdp(2) });
    await flush();
    env.net.deliver(peerRequest(ids, { method: 'INVITE', cseq: 10, body: sdp(2, '192.0.2.20') }));
    await flush();
    assert.deepEqual(answersTo(env, 'INVITE', 10), ['100', '491']);
  });

  it('while the peer re-INVITE is unanswered, reinvite() rejects (INVITE_IN_PROGRESS) and a second peer re-INVITE gets 500 with Retry-After', async () => {
    const env = createEnv();
    const { session, ids } = await answeredCall(env);
    session.on('reinvite', () => undefined);
    env.net.deliver(peerRequest(ids, { method: 'INVITE', cseq: 10, body: sdp(2, '192.0.2.20') }));
    await flush();
    await assert.rejects(session.reinvite({ body: sdp(2) }), (error: unknown) => error instanceof DialogError && error.code === 'INVITE_IN_PROGRESS');
    env.net.deliver(peerRequest(ids, { method: 'INVITE', cseq: 11, body: sdp(3, '192.0.2.20') }));
    await flush();
    assert.deepEqual(answersTo(env, 'INVITE', 11), ['100', '500']);
    const retryAfter = Number(env.net.responses(500)[0]!.header('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 0 && retryAfter <= 10, `Retry-After ${retryAfter}`);
    assert.deepEqual(env.net.requests('INVITE').length, 1, 'no re-INVITE of ours went out');
  });

  it('a BYE from the peer while our re-INVITE is pending ends the session remote-bye; the 487 that follows resolves the re-INVITE', async () => {
    const env = createEnv();
    const { session, ids } = await answeredCall(env);
    const ended = endings(session);
    let result: SipResponse | undefined;
    void session.reinvite({ body: sdp(2) }).then((response) => (result = response));
    await flush();
    const reinvite = env.net.last('INVITE');
    env.net.deliver(responseTo(reinvite, 100));
    env.net.deliver(peerRequest(ids, { method: 'BYE', cseq: 10 }));
    await flush();
    assert.deepEqual(answersTo(env, 'BYE', 10), ['200']);
    assert.deepEqual(ended.map((e) => e.cause), ['remote-bye']);
    env.net.deliver(responseTo(reinvite, 487));
    await flush();
    assert.equal(result?.status, 487);
    assert.equal(env.net.last('ACK').header('cseq'), '2 ACK');
    assert.equal(env.net.last('ACK').topVia.branch, reinvite.topVia.branch);
  });

  it('hangup() while our re-INVITE is pending sends BYE (CSeq 3); a 200 to the re-INVITE crossing it is still ACKed', async () => {
    const env = createEnv();
    const { session } = await answeredCall(env);
    const ended = endings(session);
    void session.reinvite({ body: sdp(2) });
    await flush();
    const reinvite = env.net.last('INVITE');
    session.hangup();
    await flush();
    assert.equal(env.net.last('BYE').header('cseq'), '3 BYE');
    assert.deepEqual(ended.map((e) => e.cause), ['local-bye']);
    env.net.deliver(responseTo(reinvite, 200, { body: sdp(5, '192.0.2.20') }));
    await flush();
    const acks = env.net.requests('ACK');
    assert.deepEqual(acks.map((a) => a.header('cseq')), ['1 ACK', '2 ACK']);
  });

  it('a BYE from the peer while its re-INVITE is unanswered: 200 to the BYE and 487 to the re-INVITE (RFC 3261 §15.1.2)', async () => {
    const env = createEnv();
    const { session, ids } = await answeredCall(env);
    let asked: IncomingDialogRequest | undefined;
    session.on('reinvite', (request) => (asked = request));
    env.net.deliver(peerRequest(ids, { method: 'INVITE', cseq: 10, body: sdp(2, '192.0.2.20') }));
    env.net.deliver(peerRequest(ids, { method: 'BYE', cseq: 11 }));
    await flush();
    assert.deepEqual(answersTo(env, 'BYE', 11), ['200']);
    assert.deepEqual(answersTo(env, 'INVITE', 10), ['100', '487']);
    assert.equal(asked?.isAnswered, true);
    assert.equal(session.state, 'ended');
  });
});

describe('OutgoingInviteSession: a request in the dialog that times out or gets 408/481 (RFC 3261 §12.2.1.2, §14.1)', () => {
  it('a re-INVITE never answered (Timer B, 64*T1) ends the session dialog-lost 408 and sends BYE with Reason 408, next CSeq', async () => {
    const env = createEnv();
    const { session } = await answeredCall(env);
    const ended = endings(session);
    const results: number[] = [];
    void session.reinvite({ body: sdp(2) }).then((response) => results.push(response.status));
    await flush();
    const reinvite = env.net.last('INVITE');
    assert.equal(reinvite.header('cseq'), '2 INVITE');
    await advance(env.clock, 64 * 500 - 1);
    assert.deepEqual(results, []);
    assert.deepEqual(env.net.requests('BYE'), []);
    await advance(env.clock, 1);
    assert.deepEqual(results, [408]);
    assert.deepEqual(ended.map((e) => [e.cause, e.status]), [['dialog-lost', 408]]);
    const bye = env.net.last('BYE');
    assert.equal(bye.header('cseq'), '3 BYE');
    assert.equal(bye.header('reason'), 'SIP;cause=408;text="Request Timeout"');
    assert.equal(bye.header('call-id'), session.callId);
    assert.equal(session.state, 'ended');
    env.net.deliver(responseTo(bye, 200));
    await flush();
    assert.equal(env.net.requests('BYE').length, 1, 'one BYE, answered');
  });

  it('a re-INVITE answered 408 (a proxy gave up) ends the session with a BYE too', async () => {
    const env = createEnv();
    const { session } = await answeredCall(env);
    const ended = endings(session);
    const pending = session.reinvite({ body: sdp(2) });
    await flush();
    env.net.deliver(responseTo(env.net.last('INVITE'), 408));
    assert.equal((await pending).status, 408);
    await flush();
    assert.deepEqual(ended.map((e) => [e.cause, e.status]), [['dialog-lost', 408]]);
    assert.deepEqual(env.net.requests('BYE').map((b) => b.header('cseq')), ['3 BYE']);
    assert.deepEqual(env.net.requests('ACK').map((a) => a.header('cseq')), ['1 ACK', '2 ACK'], 'the 408 was ACKed by its transaction');
  });

  it('a re-INVITE answered 481 ends the session without a BYE: the peer has no dialog', async () => {
    const env = createEnv();
    const { session } = await answeredCall(env);
    const ended = endings(session);
    const pending = session.reinvite({ body: sdp(2) });
    await flush();
    env.net.deliver(responseTo(env.net.last('INVITE'), 481));
    assert.equal((await pending).status, 481);
    await flush();
    assert.deepEqual(ended.map((e) => [e.cause, e.status]), [['dialog-lost', 481]]);
    assert.deepEqual(env.net.requests('BYE'), []);
  });

  it('an in-dialog OPTIONS that times out (Timer F) ends the session with a BYE', async () => {
    const env = createEnv();
    const { session } = await answeredCall(env);
    const ended = endings(session);
    const pending = session.request('OPTIONS');
    await flush();
    assert.equal(env.net.requests('OPTIONS').length, 1);
    await advance(env.clock, 64 * 500);
    assert.equal((await pending).status, 408);
    await flush();
    assert.deepEqual(ended.map((e) => [e.cause, e.status]), [['dialog-lost', 408]]);
    assert.deepEqual(env.net.requests('BYE').map((b) => b.header('reason')), ['SIP;cause=408;text="Request Timeout"']);
  });

  it('a 2xx to the re-INVITE arriving after its timeout changes nothing: one BYE, the session stays ended', async () => {
    const env = createEnv();
    const { session } = await answeredCall(env);
    void session.reinvite({ body: sdp(2) });
    await flush();
    const reinvite = env.net.last('INVITE');
    await advance(env.clock, 64 * 500);
    assert.equal(env.net.requests('BYE').length, 1);
    env.net.deliver(responseTo(reinvite, 200, { body: sdp(5, '192.0.2.20') }));
    await flush();
    assert.equal(env.net.requests('BYE').length, 1);
    assert.equal(session.state, 'ended');
  });
});

describe('OutgoingInviteSession: ending with requests of the peer pending (RFC 3261 §15.1.2)', () => {
  it('hangup() while the peer re-INVITE is unanswered answers it 487, then sends the BYE; a late answer goes nowhere', async () => {
    const env = createEnv();
    const { session, ids } = await answeredCall(env);
    let asked: IncomingDialogRequest | undefined;
    session.on('reinvite', (request) => (asked = request));
    env.net.deliver(peerRequest(ids, { method: 'INVITE', cseq: 10, body: sdp(2, '192.0.2.20') }));
    await flush();
    session.hangup();
    await flush();
    assert.deepEqual(env.net.log.slice(2), ['100', '487', 'BYE']);
    asked!.respond(200, { body: sdp(2) });
    await flush();
    assert.deepEqual(answersTo(env, 'INVITE', 10), ['100', '487']);
  });

  it('a reinvite listener that hangs up without answering: the re-INVITE gets 487 and the session ends local-bye', async () => {
    const env = createEnv();
    const { session, ids } = await answeredCall(env);
    const ended = endings(session);
    session.on('reinvite', () => session.hangup());
    env.net.deliver(peerRequest(ids, { method: 'INVITE', cseq: 10, body: sdp(2, '192.0.2.20') }));
    await flush();
    assert.deepEqual(answersTo(env, 'INVITE', 10), ['100', '487']);
    assert.deepEqual(ended.map((e) => e.cause), ['local-bye']);
    assert.equal(env.net.requests('BYE').length, 1);
  });
});

describe('OutgoingInviteSession: session timers (RFC 4028)', () => {
  const ASK = { sessionExpires: 90 };

  it('Session-Expires 90;refresher=uac in the 200: we refresh at 45 s with the same offer, and again 45 s after that refresh succeeded', async () => {
    const env = createEnv();
    const { session, invite } = await answeredCall(env, ASK, { headers: ['Session-Expires: 90;refresher=uac', 'Require: timer'] });
    assert.equal(invite.header('session-expires'), '90;refresher=uac');
    assert.deepEqual(session.dialog?.sessionTimer?.refresher, 'local');
    await advanceTo(env.clock, 44_999);
    assert.equal(env.net.requests('INVITE').length, 1);
    await advanceTo(env.clock, 45_000);
    assert.deepEqual(env.net.times('INVITE'), [0, 45_000]);
    const refresh = env.net.last('INVITE');
    assert.equal(refresh.header('cseq'), '2 INVITE');
    assert.equal(refresh.header('session-expires'), '90;refresher=uac');
    assert.equal(refresh.body.toString('utf8'), OFFER, 'the session description last sent, unchanged');
    assert.equal(refresh.to.tag, BOB_TAG);
    env.net.deliver(responseTo(refresh, 200, { body: ANSWER, headers: ['Session-Expires: 90;refresher=uac', 'Require: timer'] }));
    await flush();
    assert.equal(env.net.last('ACK').header('cseq'), '2 ACK');
    await advanceTo(env.clock, 89_999);
    assert.equal(env.net.requests('INVITE').length, 2);
    await advanceTo(env.clock, 90_000);
    assert.deepEqual(env.net.times('INVITE'), [0, 45_000, 90_000]);
    assert.equal(env.net.last('INVITE').header('cseq'), '3 INVITE');
    assert.equal(session.state, 'confirmed');
  });

  it('Session-Expires 90;refresher=uas in the 200 and no refresh from the peer: BYE at 60 s (expiry less min(32 s, 30 s)), ended session-expired', async () => {
    const env = createEnv();
    const { session } = await answeredCall(env, ASK, { headers: ['Session-Expires: 90;refresher=uas'] });
    const ended = endings(session);
    await advanceTo(env.clock, 59_999);
    assert.deepEqual(env.net.requests('BYE'), []);
    assert.equal(env.net.requests('INVITE').length, 1, 'we are not the refresher');
    await advanceTo(env.clock, 60_000);
    assert.deepEqual(env.net.times('BYE'), [60_000]);
    assert.equal(env.net.last('BYE').header('reason'), 'SIP;cause=408;text="Session expired"');
    assert.deepEqual(ended.map((e) => e.cause), ['session-expired']);
  });

  it('with a 1800 s interval refreshed by the peer, the BYE comes 32 s before the expiry (at 1768 s)', async () => {
    const env = createEnv();
    await answeredCall(env, { sessionExpires: 1800 }, { headers: ['Session-Expires: 1800;refresher=uas'] });
    await advanceTo(env.clock, 1_767_999);
    assert.deepEqual(env.net.requests('BYE'), []);
    await advanceTo(env.clock, 1_768_000);
    assert.deepEqual(env.net.times('BYE'), [1_768_000]);
  });

  it('a refresh re-INVITE from the peer answered 200 restarts the interval: no BYE at 60 s, BYE at 40 + 60 s', async () => {
    const env = createEnv();
    const { session, ids } = await answeredCall(env, ASK, { headers: ['Session-Expires: 90;refresher=uas'] });
    session.on('reinvite', (asked) => asked.respond(200, { body: OFFER }));
    await advanceTo(env.clock, 40_000);
    env.net.deliver(peerRequest(ids, { method: 'INVITE', cseq: 10, body: ANSWER, headers: ['Session-Expires: 90;refresher=uac', 'Supported: timer'] }));
    await flush();
    const ok = env.net.responses(200, 'INVITE')[0]!;
    assert.equal(ok.header('session-expires'), '90;refresher=uac');
    assert.equal(ok.header('require'), 'timer');
    env.net.deliver(peerRequest(ids, { method: 'ACK', cseq: 10 }));
    await advanceTo(env.clock, 99_999);
    assert.deepEqual(env.net.requests('BYE'), []);
    await advanceTo(env.clock, 100_000);
    assert.deepEqual(env.net.times('BYE'), [100_000]);
  });

  it('an UPDATE refresh from the peer (no body, no listener) gets 200 and restarts the interval', async () => {
    const env = createEnv();
    const { ids } = await answeredCall(env, ASK, { headers: ['Session-Expires: 90;refresher=uas'] });
    await advanceTo(env.clock, 50_000);
    env.net.deliver(peerRequest(ids, { method: 'UPDATE', cseq: 10, headers: ['Session-Expires: 90;refresher=uac', 'Supported: timer'] }));
    await flush();
    assert.deepEqual(answersTo(env, 'UPDATE', 10), ['200']);
    assert.equal(env.net.responses(200, 'UPDATE')[0]!.header('session-expires'), '90;refresher=uac');
    await advanceTo(env.clock, 109_999);
    assert.deepEqual(env.net.requests('BYE'), []);
    await advanceTo(env.clock, 110_000);
    assert.deepEqual(env.net.times('BYE'), [110_000]);
  });

  it('a re-INVITE of ours answered 2xx restarts the session timer: no BYE at the old time (60 s), BYE at 30 + 60 s', async () => {
    const env = createEnv();
    const { session } = await answeredCall(env, ASK, { headers: ['Session-Expires: 90;refresher=uas'] });
    const ended = endings(session);
    await advanceTo(env.clock, 30_000);
    const pending = session.reinvite({ body: sdp(2) });
    await flush();
    const reinvite = env.net.last('INVITE');
    assert.equal(reinvite.header('session-expires'), '90;refresher=uas');
    env.net.deliver(responseTo(reinvite, 200, { body: ANSWER, headers: ['Session-Expires: 90;refresher=uas'] }));
    assert.equal((await pending).status, 200);
    await advanceTo(env.clock, 89_999);
    assert.deepEqual(env.net.requests('BYE'), [], 'the session was refreshed at 30 s');
    assert.equal(ended.length, 0);
    await advanceTo(env.clock, 90_000);
    assert.deepEqual(env.net.times('BYE'), [90_000]);
  });

  it('a refresh answered 481 ends the session dialog-lost without a BYE', async () => {
    const env = createEnv();
    const { session } = await answeredCall(env, ASK, { headers: ['Session-Expires: 90;refresher=uac'] });
    const ended = endings(session);
    await advanceTo(env.clock, 45_000);
    env.net.deliver(responseTo(env.net.last('INVITE'), 481));
    await flush();
    assert.deepEqual(ended.map((e) => [e.cause, e.status]), [['dialog-lost', 481]]);
    assert.deepEqual(env.net.requests('BYE'), []);
    await advance(env.clock, 100_000);
    assert.equal(env.net.requests('INVITE').length, 2);
  });
});

/** A full GC, when the test runner lets us have one (through V8's flags, as --expose-gc would). */
function collector(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

/** Lets the current job end (WeakRefs hold their target until it does), then collects. */
async function dropReferences(collect: (() => void) | undefined, weak: WeakRef<object>): Promise<void> {
  for (let i = 0; i < 5 && weak.deref() !== undefined; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    collect?.();
  }
}
