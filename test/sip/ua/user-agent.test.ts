// The UA core's own answers (RFC 3261 §8.2, §9.2, §11.2, §12.2.2), its routing of in-dialog
// traffic and its resilience, on a ManualClock over a fake transport.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SipRequest, SipResponse } from '../../../src/sip/message/index.js';
import {
  advance,
  advanceTo,
  ALLOW,
  ANSWER,
  BOB_TAG,
  BOB_URI,
  createEnv,
  flush,
  FROM,
  OFFER,
  outOfDialogRequest,
  peerRequest,
  PRODUCT,
  responseTo,
  type Env,
} from './fake-transport.js';

function only(env: Env, what: string): SipResponse {
  const all = env.net.sends(what);
  assert.equal(all.length, 1, `one ${what} expected, sent: ${env.net.log.join(', ')}`);
  return all[0]!.message as SipResponse;
}

async function answeredCall(env: Env) {
  const session = env.ua.invite({ to: `<${BOB_URI}>`, from: FROM, body: OFFER });
  await flush();
  const invite = env.net.last('INVITE');
  env.net.deliver(responseTo(invite, 180));
  env.net.deliver(responseTo(invite, 200, { body: ANSWER }));
  await flush();
  assert.equal(session.state, 'confirmed');
  return { session, invite, ids: { callId: session.callId, localTag: session.localTag, remoteTag: BOB_TAG } };
}

describe('UserAgent: requests it answers itself', () => {
  it('OPTIONS outside a dialog gets 200 with Allow, Accept, Supported, Server and a To tag, back to the Via sent-by', async () => {
    const env = createEnv();
    const options = outOfDialogRequest('OPTIONS');
    env.net.deliver(options);
    await flush();
    const ok = only(env, '200');
    assert.equal(ok.header('allow'), ALLOW);
    assert.equal(ok.header('accept'), 'application/sdp');
    assert.equal(ok.header('supported'), '100rel, timer');
    assert.equal(ok.header('server'), PRODUCT);
    assert.equal(ok.header('via'), options.header('via'));
    assert.equal(ok.header('cseq'), '1 OPTIONS');
    assert.equal(ok.callId, options.callId);
    assert.match(ok.to.tag ?? '', /^[0-9a-z]+$/);
    assert.deepEqual(env.net.sent[0]!.destination, { transport: 'udp', address: '192.0.2.20', port: 5060 });
    assert.deepEqual(env.ua.stats().answeredByCore, { 200: 1 });
    assert.deepEqual(env.errors, []);
  });

  it('an unknown method gets 501 with Allow', async () => {
    const env = createEnv();
    env.net.deliver(outOfDialogRequest('FOO'));
    await flush();
    const response = only(env, '501');
    assert.equal(response.reason, 'Not Implemented');
    assert.equal(response.header('allow'), ALLOW);
    assert.equal(response.header('cseq'), '1 FOO');
    assert.deepEqual(env.net.log, ['501']);
  });

  it('REGISTER, a method we know but do not allow, gets 405 with Allow', async () => {
    const env = createEnv();
    env.net.deliver(outOfDialogRequest('REGISTER', { requestUri: 'sip:10.0.0.1' }));
    await flush();
    const response = only(env, '405');
    assert.equal(response.header('allow'), ALLOW);
    assert.deepEqual(env.net.log, ['405']);
  });

  it('a request with a To tag for a dialog we do not have gets 481', async () => {
    const env = createEnv();
    env.net.deliver(peerRequest({ callId: 'no-such-call@192.0.2.20', localTag: 'not-ours', remoteTag: 'theirs' }, { method: 'BYE', cseq: 5 }));
    await flush();
    const response = only(env, '481');
    assert.equal(response.to.tag, 'not-ours');
    assert.equal(response.header('cseq'), '5 BYE');
    assert.deepEqual(env.ua.stats().answeredByCore, { 481: 1 });
  });

  it('a source flooding INVITEs outside any dialog gets its burst answered (403), then its rate; the rest is dropped unanswered, with no transaction left', async () => {
    const env = createEnv({ sourceRateLimit: { ratePerSecond: 10, burst: 5 } });
    for (let i = 1; i <= 20; i++) env.net.deliver(outOfDialogRequest('INVITE', { cseq: i, branch: `z9hG4bKflood${i}`, callId: `flood-${i}@192.0.2.20` }));
    await flush();
    assert.equal(env.net.log.filter((status) => status === '403').length, 5);
    assert.equal(env.ua.stats().droppedOverSourceRate, 15);
    await advance(env.clock, 1000); // 10 more tokens
    for (let i = 21; i <= 40; i++) env.net.deliver(outOfDialogRequest('INVITE', { cseq: i, branch: `z9hG4bKflood${i}`, callId: `flood-${i}@192.0.2.20` }));
    await flush();
    assert.equal(env.net.log.filter((status) => status === '403').length, 15);
    await advance(env.clock, 64 * 500);
    assert.deepEqual(env.ua.stats().transactions, { clientInvite: 0, clientNonInvite: 0, serverInvite: 0, serverNonInvite: 0 });
    assert.deepEqual(env.errors, []);
  });

  it('an ACK that matches nothing is dropped silently, with a To tag or without', async () => {
    const env = createEnv();
    env.net.deliver(peerRequest({ callId: 'no-such-call@192.0.2.20', localTag: 'not-ours', remoteTag: 'theirs' }, { method: 'ACK', cseq: 5 }));
    env.net.deliver(outOfDialogRequest('ACK'));
    await advance(env.clock, 10_000);
    assert.deepEqual(env.net.log, []);
    assert.deepEqual(env.ua.stats().answeredByCore, {});
    assert.deepEqual(env.errors, []);
  });

  it('an INVITE outside any dialog gets 100 Trying, then 403 with a To tag, re-sent until its ACK (absorbed by the transaction)', async () => {
    const env = createEnv();
    const invite = outOfDialogRequest('INVITE', { body: OFFER });
    env.net.deliver(invite);
    await flush();
    assert.deepEqual(env.net.log, ['100', '403']);
    const forbidden = env.net.responses(403)[0]!;
    assert.match(forbidden.to.tag ?? '', /^[0-9a-z]+$/);
    await advanceTo(env.clock, 500);
    assert.deepEqual(env.net.log, ['100', '403', '403'], 'Timer G');
    env.net.deliver(peerRequest({ callId: invite.callId, localTag: forbidden.to.tag!, remoteTag: 'bob-out-1' }, { method: 'ACK', cseq: 1, branch: invite.topVia.branch! }));
    await advanceTo(env.clock, 40_000);
    assert.deepEqual(env.net.log, ['100', '403', '403']);
    assert.deepEqual(env.ua.stats().answeredByCore, { 403: 1 });
    assert.deepEqual(env.ua.stats().transactions, { clientInvite: 0, clientNonInvite: 0, serverInvite: 0, serverNonInvite: 0 });
  });

  it('incomingInviteStatus sets the status of that refusal', async () => {
    const env = createEnv({ incomingInviteStatus: 486 });
    env.net.deliver(outOfDialogRequest('INVITE'));
    await flush();
    assert.deepEqual(env.net.log, ['100', '486']);
  });

  it('a CANCEL that matches no transaction gets 481', async () => {
    const env = createEnv();
    env.net.deliver(outOfDialogRequest('CANCEL', { branch: 'z9hG4bKnothing' }));
    await flush();
    const response = only(env, '481');
    assert.equal(response.header('cseq'), '1 CANCEL');
    assert.deepEqual(env.net.log, ['481']);
  });

  it('a CANCEL for an INVITE already answered gets 200 and changes nothing (RFC 3261 §9.2)', async () => {
    const env = createEnv();
    const invite = outOfDialogRequest('INVITE', { branch: 'z9hG4bKlate' });
    env.net.deliver(invite);
    env.net.deliver(outOfDialogRequest('CANCEL', { branch: 'z9hG4bKlate' }));
    await flush();
    assert.deepEqual(env.net.log, ['100', '403', '200']);
    assert.equal(env.net.responses(200)[0]!.header('cseq'), '1 CANCEL');
  });

  it('a request with a Require we do not support gets 420 with Unsupported', async () => {
    const env = createEnv();
    env.net.deliver(outOfDialogRequest('OPTIONS', { headers: ['Require: foo, timer'] }));
    await flush();
    const response = only(env, '420');
    assert.equal(response.header('unsupported'), 'foo');
  });
});

describe('UserAgent: listeners that throw', () => {
  it('a session listener that throws is reported through internalError and the call carries on', async () => {
    const env = createEnv();
    const session = env.ua.invite({ to: `<${BOB_URI}>`, from: FROM, body: OFFER });
    const boom = new Error('listener bug');
    session.on('provisional', () => {
      throw boom;
    });
    await flush();
    const invite = env.net.last('INVITE');
    env.net.deliver(responseTo(invite, 180));
    await flush();
    assert.deepEqual(env.errors, [boom]);
    assert.equal(session.state, 'proceeding');
    env.net.deliver(responseTo(invite, 200, { body: ANSWER }));
    await flush();
    assert.equal(session.state, 'confirmed');
    assert.deepEqual(env.net.log, ['INVITE', 'ACK']);
  });

  it('an ended listener that throws on a BYE from the peer: the BYE still gets its 200, and the UA goes on answering', async () => {
    const env = createEnv();
    const { session, ids } = await answeredCall(env);
    const boom = new Error('ended listener bug');
    session.on('ended', () => {
      throw boom;
    });
    env.net.deliver(peerRequest(ids, { method: 'BYE', cseq: 20 }));
    await flush();
    assert.deepEqual(env.errors, [boom]);
    assert.equal(session.state, 'ended');
    assert.equal(env.net.responses(200, 'BYE').length, 1);
    env.net.deliver(outOfDialogRequest('OPTIONS'));
    await flush();
    assert.equal(env.net.responses(200, 'OPTIONS').length, 1);
  });

  it('a reinvite listener that throws before answering: reported, and the re-INVITE still gets a final response (500)', async () => {
    const env = createEnv();
    const { session, ids } = await answeredCall(env);
    session.on('reinvite', () => {
      throw new Error('reinvite listener bug');
    });
    env.net.deliver(peerRequest(ids, { method: 'INVITE', cseq: 10, body: ANSWER }));
    await flush();
    assert.equal(env.errors.length, 1);
    assert.equal((env.errors[0] as Error).message, 'reinvite listener bug');
    const reinviteAnswers = env.net.sent.filter((s) => !s.message.isRequest && s.message.cseq.method === 'INVITE').map((s) => (s.message as SipResponse).status);
    assert.deepEqual(reinviteAnswers, [100, 500]);
    assert.equal(session.state, 'confirmed');
  });

  it('an internalError listener that throws is swallowed', async () => {
    const env = createEnv();
    env.ua.on('internalError', () => {
      throw new Error('the reporter itself is broken');
    });
    const session = env.ua.invite({ to: `<${BOB_URI}>`, from: FROM, body: OFFER });
    session.on('provisional', () => {
      throw new Error('listener bug');
    });
    await flush();
    env.net.deliver(responseTo(env.net.last('INVITE'), 180));
    await flush();
    assert.equal(env.errors.length, 1);
    env.net.deliver(outOfDialogRequest('OPTIONS'));
    await flush();
    assert.equal(env.net.responses(200, 'OPTIONS').length, 1);
  });

  it('a response the transaction layer cannot match (no Via branch we sent) is dropped without error', async () => {
    const env = createEnv();
    const session = env.ua.invite({ to: `<${BOB_URI}>`, from: FROM, body: OFFER });
    await flush();
    const invite = env.net.last('INVITE');
    const stray = responseTo(invite, 180);
    stray.setHeader('via', 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKsomeoneelse;rport');
    env.net.deliver(stray);
    await flush();
    assert.equal(session.state, 'calling');
    assert.deepEqual(env.errors, []);
  });
});

describe('UserAgent: stats()', () => {
  it('counts sessions, dialogs, transactions and its own answers through a call', async () => {
    const env = createEnv();
    assert.deepEqual(env.ua.stats(), { sessions: 0, dialogs: 0, transactions: { clientInvite: 0, clientNonInvite: 0, serverInvite: 0, serverNonInvite: 0 }, answeredByCore: {}, droppedOverSourceRate: 0 });
    const session = env.ua.invite({ to: `<${BOB_URI}>`, from: FROM, body: OFFER });
    await flush();
    const invite = env.net.last('INVITE');
    assert.equal(env.ua.stats().sessions, 1);
    assert.deepEqual(env.ua.stats().transactions, { clientInvite: 1, clientNonInvite: 0, serverInvite: 0, serverNonInvite: 0 });
    env.net.deliver(responseTo(invite, 180));
    assert.equal(env.ua.stats().dialogs, 1, 'the early dialog');
    env.net.deliver(responseTo(invite, 200, { body: ANSWER }));
    await flush();
    assert.equal(env.ua.stats().dialogs, 1);
    env.net.deliver(outOfDialogRequest('OPTIONS'));
    env.net.deliver(outOfDialogRequest('FOO'));
    env.net.deliver(outOfDialogRequest('FOO', { cseq: 2 }));
    await flush();
    assert.deepEqual(env.ua.stats().answeredByCore, { 200: 1, 501: 2 });
    assert.deepEqual(env.ua.stats().transactions, { clientInvite: 1, clientNonInvite: 0, serverInvite: 0, serverNonInvite: 3 });
    await advanceTo(env.clock, 40_000); // Timers M and J
    assert.deepEqual(env.ua.stats().transactions, { clientInvite: 0, clientNonInvite: 0, serverInvite: 0, serverNonInvite: 0 });
    session.hangup();
    await flush();
    const bye = env.net.last('BYE');
    assert.equal(env.ua.stats().transactions.clientNonInvite, 1);
    assert.equal(env.ua.stats().dialogs, 0, 'the dialog is forgotten once the session ended');
    assert.equal(env.ua.stats().sessions, 1, 'the session is kept 64*T1 for late 2xx');
    env.net.deliver(responseTo(bye, 200));
    await advanceTo(env.clock, 40_000 + 31_999);
    assert.equal(env.ua.stats().sessions, 1);
    await advanceTo(env.clock, 40_000 + 32_000);
    assert.deepEqual(env.ua.stats(), { sessions: 0, dialogs: 0, transactions: { clientInvite: 0, clientNonInvite: 0, serverInvite: 0, serverNonInvite: 0 }, answeredByCore: { 200: 1, 501: 2 }, droppedOverSourceRate: 0 });
  });

  it('a call that rang (early dialog) and was rejected leaves no dialog behind once 64*T1 has passed', async () => {
    const env = createEnv();
    const session = env.ua.invite({ to: `<${BOB_URI}>`, from: FROM, body: OFFER });
    await flush();
    const invite = env.net.last('INVITE');
    env.net.deliver(responseTo(invite, 180));
    env.net.deliver(responseTo(invite, 486));
    await flush();
    assert.equal(session.state, 'failed');
    await advance(env.clock, 32_000);
    assert.deepEqual(env.ua.stats(), { sessions: 0, dialogs: 0, transactions: { clientInvite: 0, clientNonInvite: 0, serverInvite: 0, serverNonInvite: 0 }, answeredByCore: {}, droppedOverSourceRate: 0 });
  });

  it('the dialog of a second fork that answered (ACK + BYE) is forgotten too once the session is over', async () => {
    const env = createEnv();
    const { session, invite } = await answeredCall(env);
    env.net.deliver(responseTo(invite, 200, { toTag: 'bob-tag-2', contact: '<sip:bob2@192.0.2.30:5060>', body: ANSWER }));
    await flush();
    const forkBye = env.net.last('BYE');
    env.net.deliver(responseTo(forkBye, 200));
    session.hangup();
    await flush();
    env.net.deliver(responseTo(env.net.last('BYE'), 200));
    await advance(env.clock, 32_000);
    assert.equal(env.ua.stats().dialogs, 0);
    assert.equal(env.ua.stats().sessions, 0);
  });
});

describe('UserAgent: routing inside dialogs', () => {
  it('in-dialog requests go to the session that owns the dialog; another session of the UA sees none of them', async () => {
    const env = createEnv();
    const first = await answeredCall(env);
    const second = env.ua.invite({ to: `<${BOB_URI}>`, from: FROM, body: OFFER });
    const seen: string[] = [];
    first.session.on('request', (asked) => {
      seen.push(`first ${asked.request.method}`);
      asked.respond(200);
    });
    second.on('request', (asked) => seen.push(`second ${asked.request.method}`));
    await flush();
    env.net.deliver(peerRequest(first.ids, { method: 'INFO', cseq: 30 }));
    await flush();
    assert.deepEqual(seen, ['first INFO']);
    assert.equal(env.net.responses(200, 'INFO').length, 1);
  });

  it('close() stops listening: later messages get no answer', async () => {
    const env = createEnv();
    env.ua.close();
    env.net.deliver(outOfDialogRequest('OPTIONS'));
    await flush();
    assert.deepEqual(env.net.log, []);
    assert.equal(env.net.listenerCount('message'), 0);
  });

  it('the ACK of our 2xx to a re-INVITE reaches the session even though it has a new branch', async () => {
    const env = createEnv();
    const { session, ids } = await answeredCall(env);
    const acks: SipRequest[] = [];
    session.on('ack', (ack) => acks.push(ack));
    session.on('reinvite', (asked) => asked.respond(200, { body: OFFER }));
    env.net.deliver(peerRequest(ids, { method: 'INVITE', cseq: 40, body: ANSWER }));
    env.net.deliver(peerRequest(ids, { method: 'ACK', cseq: 40, branch: 'z9hG4bKbob-ack-new' }));
    await advance(env.clock, 5000);
    assert.equal(acks.length, 1);
    assert.equal(env.net.responses(200, 'INVITE').length, 1, 'no retransmission after the ACK');
  });
});
