/**
 * Our UA as the called party (IncomingInviteSession) against SIPp UACs, over UDP and TCP: an
 * INVITE with an offer and one without (the offer then goes in our 200, the answer comes in the
 * ACK), CANCEL before the answer (487), BYE from either side, a 200 never ACKed (retransmitted,
 * then BYE, RFC 3261 §13.3.1.4), and re-INVITE / UPDATE / OPTIONS in the dialog. Each SIPp
 * scenario checks what it receives, so its exit status says the caller saw a correct UAS; the
 * session's events say what our side made of it.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { IncomingInviteSession } from '../../../src/sip/index.js';
import { freePortBlock } from '../../support/ports.js';
import { parseSippMessages, runSippUac, type SippResult, type SippTransport } from '../../support/sipp.js';
import { sdp, startUa, type UaUnderTest } from './harness.js';

const SCENARIO = (name: string): string => fileURLToPath(new URL(`../../peers/sipp/${name}.xml`, import.meta.url));
const TRANSPORTS: SippTransport[] = ['udp', 'tcp'];
/** Short protocol timers: 64*T1 = 3.2 s, so the no-ACK case ends within the test. */
const TIMERS = { T1: 50, T2: 400, T4: 500 };
const UA = 0;
const SIPP = 1;
const MEDIA = 4;

interface Callee {
  ua: UaUnderTest;
  sessions: IncomingInviteSession[];
  /** Resolves with the first incoming session. */
  first: Promise<IncomingInviteSession>;
  base: number;
}

/** A UA that takes calls, handing each session to `answer`. */
async function callee(t: TestContext, answer: (session: IncomingInviteSession) => void): Promise<Callee> {
  const base = await freePortBlock(10);
  const sessions: IncomingInviteSession[] = [];
  let resolveFirst: (session: IncomingInviteSession) => void = () => undefined;
  const first = new Promise<IncomingInviteSession>((resolve) => (resolveFirst = resolve));
  const ua = await startUa(t, base + UA, {
    timers: TIMERS,
    onIncomingInvite: (session) => {
      sessions.push(session);
      resolveFirst(session);
      answer(session);
    },
  });
  return { ua, sessions, first, base };
}

function dial(t: TestContext, under: Callee, transport: SippTransport, scenario: string, vars: Record<string, number> = {}): Promise<SippResult> {
  return runSippUac(t, {
    scenario: SCENARIO(scenario),
    port: under.base + SIPP,
    mediaPort: under.base + MEDIA,
    transport,
    target: `127.0.0.1:${under.base + UA}`,
    service: 'bob',
    vars,
    timeoutSeconds: 15,
  });
}

/** Rings, then answers `offer ? answer : our offer` after `ringMs`. */
function ringAndAnswer(ringMs = 50): (session: IncomingInviteSession) => void {
  return (session) => {
    session.progress(180);
    setTimeout(() => {
      if (session.state === 'proceeding') session.accept({ body: sdp(1, 41000) });
    }, ringMs);
  };
}

function once<T>(session: IncomingInviteSession, event: 'ended' | 'failed' | 'confirmed'): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} (session ${session.state})`)), 15_000);
    session.once(event, (value: unknown) => {
      clearTimeout(timer);
      resolve(value as T);
    });
  });
}

function assertSippPassed(result: SippResult): void {
  assert.equal(result.code, 0, result.report);
}

/** The messages SIPp received, as start lines. */
function received(result: SippResult): string[] {
  return parseSippMessages(result.messages)
    .filter((m) => m.direction === 'received')
    .map((m) => m.text.split('\r\n', 1)[0]!);
}

async function assertUaClean(under: Callee, timeoutMs = 6000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = under.ua.ua.stats();
    const transactions = Object.values(stats.transactions).reduce((sum, n) => sum + n, 0);
    if (stats.sessions === 0 && stats.dialogs === 0 && transactions === 0) break;
    if (Date.now() > deadline) assert.fail(`the UA still holds state: ${JSON.stringify(stats)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.deepEqual(under.ua.errors, []);
}

describe('IncomingInviteSession against SIPp callers', () => {
  for (const transport of TRANSPORTS) {
    describe(`over ${transport.toUpperCase()}`, () => {
      test('an INVITE with an offer gets 100, 180 and a 200 with the answer; the caller hangs up with BYE', async (t) => {
        const under = await callee(t, ringAndAnswer());
        const result = dial(t, under, transport, 'uac-invite-bye', { hold_ms: 200 });
        const session = await under.first;
        assert.match(session.offer ?? '', /^m=audio \d+ RTP\/AVP 0 8 101/m);
        const confirmed = once<unknown>(session, 'confirmed');
        const ended = once<{ cause: string }>(session, 'ended');
        await confirmed;
        assert.equal(session.state, 'confirmed');
        assert.equal((await ended).cause, 'remote-bye');
        assertSippPassed(await result);
        const lines = received(await result);
        assert.deepEqual(lines.slice(0, 3).map((line) => line.replace(/ SIP\/2\.0/, '')), ['SIP/2.0 100 Trying', 'SIP/2.0 180 Ringing', 'SIP/2.0 200 OK']);
        const ok = parseSippMessages((await result).messages).find((m) => m.direction === 'received' && m.status === 200 && /CSeq: 1 INVITE/.test(m.text))!;
        assert.match(ok.text, /\r\nContact: <sip:ctd@127\.0\.0\.1:\d+/, 'the 200 carries our Contact (RFC 3261 §12.1.1)');
        assert.match(ok.text, /\r\nTo: [^\r]*;tag=/, 'and our tag');
        await assertUaClean(under);
      });

      test('an INVITE without an offer gets our offer in the 200 and the answer arrives in the ACK', async (t) => {
        const under = await callee(t, ringAndAnswer());
        const result = dial(t, under, transport, 'uac-invite-nosdp-bye', { hold_ms: 200 });
        const session = await under.first;
        assert.equal(session.offer, undefined);
        const ack = await once<{ body: Buffer }>(session, 'confirmed');
        assert.match(ack.body.toString(), /^m=audio \d+ RTP\/AVP/m);
        assert.match(session.remoteDescription ?? '', /^o=sippuac 1111 1 /m, 'the ACK’s answer is the remote description');
        await once(session, 'ended');
        assertSippPassed(await result);
        await assertUaClean(under);
      });

      test('CANCEL before the answer gets 200 and the INVITE 487; the session fails as canceled', async (t) => {
        const under = await callee(t, (session) => session.progress(180));
        const result = dial(t, under, transport, 'uac-invite-cancel', { cancel_ms: 100 });
        const session = await under.first;
        const failure = await once<{ kind: string; status: number }>(session, 'failed');
        assert.deepEqual({ kind: failure.kind, status: failure.status }, { kind: 'canceled', status: 487 });
        assert.equal(session.state, 'failed');
        assert.throws(() => session.accept({ body: sdp(1) }), { name: 'IncomingInviteError', code: 'ALREADY_ANSWERED' });
        assertSippPassed(await result);
        assert.ok(received(await result).some((line) => line.startsWith('SIP/2.0 487')));
        await assertUaClean(under);
      });

      test('hangup() once confirmed sends BYE in the dialog', async (t) => {
        const under = await callee(t, ringAndAnswer());
        const result = dial(t, under, transport, 'uac-invite-wait-bye');
        const session = await under.first;
        await once(session, 'confirmed');
        const ended = once<{ cause: string }>(session, 'ended');
        session.hangup();
        assert.equal((await ended).cause, 'local-bye');
        assertSippPassed(await result);
        const bye = under.ua.requestsSent('BYE')[0]!;
        assert.equal(bye.to.tag, session.dialog.remoteTag, 'To carries the caller’s tag');
        assert.equal(bye.from.tag, session.localTag);
        await assertUaClean(under);
      });

      test('hangup() before the ACK waits for it, then sends BYE (RFC 3261 §15)', async (t) => {
        const under = await callee(t, (session) => {
          session.accept({ body: sdp(1, 41000) });
          session.hangup();
          assert.equal(session.state, 'answered', 'no BYE before the ACK');
        });
        const result = dial(t, under, transport, 'uac-invite-wait-bye');
        const session = await under.first;
        const ended = await once<{ cause: string }>(session, 'ended');
        assert.equal(ended.cause, 'local-bye');
        assertSippPassed(await result);
        const trace = under.ua.trace.map((entry) => (entry.message.isRequest ? entry.message.method : String(entry.message.status)));
        assert.ok(trace.indexOf('BYE') > trace.indexOf('ACK'), `BYE after the ACK: ${trace.join(' ')}`);
        await assertUaClean(under);
      });

      test('a 200 never ACKed is retransmitted (UDP) and the session ends with BYE after 64*T1', async (t) => {
        const under = await callee(t, (session) => session.accept({ body: sdp(1, 41000) }));
        const result = dial(t, under, transport, 'uac-invite-no-ack');
        const session = await under.first;
        const ended = await once<{ cause: string }>(session, 'ended');
        assert.equal(ended.cause, 'ack-timeout');
        assertSippPassed(await result);
        const oks = under.ua.trace.filter((entry) => entry.direction === 'out' && !entry.message.isRequest && entry.message.status === 200 && entry.message.cseq.method === 'INVITE');
        if (transport === 'udp') assert.ok(oks.length >= 4, `the 200 goes again over UDP (sent ${oks.length} times)`);
        else assert.equal(oks.length, 1, 'no 2xx retransmission over TCP');
        const bye = under.ua.requestsSent('BYE')[0]!;
        assert.match(bye.header('reason') ?? '', /cause=408/);
        await assertUaClean(under);
      });

      test('re-INVITE and UPDATE to hold and resume, OPTIONS, and an offerless re-INVITE are answered in the dialog', async (t) => {
        let version = 1;
        const answerTo = (offer: string): string => {
          version += 1;
          const direction = /a=sendonly/.test(offer) ? 'recvonly' : /a=inactive/.test(offer) ? 'inactive' : 'sendrecv';
          return sdp(version, 41000).replace('a=sendrecv', `a=${direction}`);
        };
        const seen: string[] = [];
        const under = await callee(t, (session) => {
          session.accept({ body: sdp(1, 41000) });
          session.on('reinvite', (request) => {
            seen.push(`INVITE ${request.description === undefined ? 'no-sdp' : 'offer'}`);
            // Without an offer our 200 offers (the description we last sent), and the ACK answers.
            request.respond(200, { body: request.description === undefined ? sdp(version, 41000) : answerTo(request.description) });
          });
          session.on('update', (request) => {
            seen.push(`UPDATE ${request.description === undefined ? 'no-sdp' : 'offer'}`);
            request.respond(200, request.description === undefined ? {} : { body: answerTo(request.description) });
          });
          session.on('request', (request) => {
            seen.push(request.request.method);
            request.respond(200);
          });
        });
        const result = dial(t, under, transport, 'uac-invite-hold', { hold_ms: 100 });
        const session = await under.first;
        const acks: string[] = [];
        session.on('ack', (ack) => acks.push(`${ack.cseq.seq} ${ack.body.length > 0 ? 'answer' : 'empty'}`));
        const ended = await once<{ cause: string }>(session, 'ended');
        assert.equal(ended.cause, 'remote-bye');
        assertSippPassed(await result);
        assert.deepEqual(seen, ['INVITE offer', 'INVITE offer', 'OPTIONS', 'INVITE no-sdp', 'UPDATE offer']);
        assert.deepEqual(acks, ['2 empty', '3 empty', '5 answer']);
        await assertUaClean(under);
      });
    });
  }

  test('without onIncomingInvite the UA keeps refusing calls with 403', async (t) => {
    const base = await freePortBlock(10);
    const ua = await startUa(t, base + UA, { timers: TIMERS });
    const result = await runSippUac(t, {
      scenario: SCENARIO('uac-invite-bye'),
      port: base + SIPP,
      mediaPort: base + MEDIA,
      transport: 'udp',
      target: `127.0.0.1:${base + UA}`,
      timeoutSeconds: 5,
    });
    assert.notEqual(result.code, 0);
    assert.ok(received(result).some((line) => line.startsWith('SIP/2.0 403')), received(result).join('\n'));
    assert.equal(ua.ua.stats().answeredByCore[403], 1);
  });
});
