/**
 * Our UA core on the wire against SIPp, over UDP and TCP: every outcome a 3PCC leg can have
 * (answer, busy, decline, no answer then CANCEL, redirect, digest challenge, early media, the far
 * end hanging up, a re-INVITE), retransmissions of a request the peer ignores, and the answers
 * the core gives on its own (OPTIONS, unknown methods). SIPp's exit status says whether the peer
 * saw what it expected (each scenario checks the ACK, CANCEL and BYE it gets); our session's
 * events say what the UA made of it.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { OutgoingInviteSession } from '../../../src/sip/index.js';
import { freePortBlock } from '../../support/ports.js';
import { parseSippMessages, runSippUac, sharedScenario, startSippUas, type SippTransport, type SippUasHandle, type SippUasOptions } from '../../support/sipp.js';
import { delay, next, sdp, startUa, type UaUnderTest } from './harness.js';

const OURS = (name: string): string => fileURLToPath(new URL(`../../peers/sipp/${name}.xml`, import.meta.url));
const TRANSPORTS: SippTransport[] = ['udp', 'tcp'];
// Offsets in a block of free ports. SIPp binds its media port and media port + 2.
const UA = 0;
const SIPP = 1;
const SIPP_REDIRECTED = 2;
const MEDIA = 4;
const MEDIA_REDIRECTED = 7;
const BLOCK = 10;

interface Call {
  ua: UaUnderTest;
  sipp: SippUasHandle;
  base: number;
}

async function setUp(t: TestContext, transport: SippTransport, scenario: string, options: Partial<SippUasOptions> = {}): Promise<Call> {
  const base = await freePortBlock(BLOCK);
  const sipp = await startSippUas(t, { scenario, port: base + SIPP, mediaPort: base + MEDIA, transport, timeoutSeconds: 20, ...options });
  const ua = await startUa(t, base + UA);
  return { ua, sipp, base };
}

function call(ua: UaUnderTest, sipp: SippUasHandle, body: string | undefined, extra: Partial<Parameters<UaUnderTest['ua']['invite']>[0]> = {}): OutgoingInviteSession {
  return ua.ua.invite({ to: `<${sipp.uri('alice')}>`, from: '<sip:ctd@127.0.0.1>', ...(body !== undefined ? { body } : {}), ...extra });
}

async function assertSippPassed(sipp: SippUasHandle): Promise<void> {
  const exit = await sipp.wait(15_000);
  assert.equal(exit.code, 0, await sipp.report());
}

async function hangUp(session: OutgoingInviteSession): Promise<void> {
  const ended = next(session, 'ended');
  session.hangup();
  const [ending] = await ended;
  assert.equal(ending.cause, 'local-bye');
}

describe('UA core against SIPp', () => {
  for (const transport of TRANSPORTS) {
    describe(`over ${transport.toUpperCase()}`, () => {
      test('an INVITE with an offer is answered, ACKed at once, and hung up with BYE', async (t) => {
        const { ua, sipp } = await setUp(t, transport, sharedScenario('uas-answer'), { vars: { ring_ms: 200 } });
        const session = call(ua, sipp, sdp(1));
        const provisional = next(session, 'provisional');
        const [answer, ackPending] = await next(session, 'answered');
        assert.equal((await provisional)[0].status, 180);
        assert.equal(answer.status, 200);
        assert.equal(ackPending, false);
        assert.equal(session.state, 'confirmed');
        await hangUp(session);
        await assertSippPassed(sipp);
        assert.equal(ua.requestsSent('ACK').length, 1);
        assert.deepEqual(ua.errors, []);
      });

      test('an offerless INVITE gets the offer in the 200 and the ACK carries our answer (RFC 3725 flow III)', async (t) => {
        const { ua, sipp } = await setUp(t, transport, sharedScenario('uas-answer-offer'), { vars: { ring_ms: 100 } });
        const session = call(ua, sipp, undefined);
        const [, ackPending] = await next(session, 'answered');
        assert.equal(ackPending, true);
        assert.equal(session.state, 'answered', 'the ACK waits for the application');
        assert.match(session.remoteDescription ?? '', /^m=audio /m);
        session.ack({ body: sdp(1) });
        assert.equal(session.state, 'confirmed');
        await hangUp(session);
        await assertSippPassed(sipp);
        const ack = ua.requestsSent('ACK')[0];
        assert.match(ack?.body.toString() ?? '', /^m=audio 40000 RTP\/AVP 0 8/m);
      });

      for (const [scenario, status, reason] of [
        ['uas-busy', 486, 'Busy Here'],
        ['uas-decline', 603, 'Decline'],
      ] as const) {
        test(`a ${status} fails the session with its status and is ACKed in its transaction`, async (t) => {
          const { ua, sipp } = await setUp(t, transport, sharedScenario(scenario));
          const session = call(ua, sipp, sdp(1));
          const [failure] = await next(session, 'failed');
          assert.deepEqual({ kind: failure.kind, status: failure.status, reason: failure.reason }, { kind: 'rejected', status, reason });
          await assertSippPassed(sipp);
          const [invite] = ua.requestsSent('INVITE');
          const [ack] = ua.requestsSent('ACK');
          assert.equal(ack?.topVia.branch, invite?.topVia.branch, 'the ACK of a non-2xx has the INVITE branch (RFC 3261 §17.1.1.3)');
          assert.equal(session.state, 'failed');
        });
      }

      test('hanging up while it rings sends CANCEL; the 487 ends the session as canceled', async (t) => {
        const { ua, sipp } = await setUp(t, transport, sharedScenario('uas-no-answer'));
        const session = call(ua, sipp, sdp(1));
        await next(session, 'provisional');
        const failed = next(session, 'failed');
        session.hangup('SIP;cause=480;text="Caller gave up"');
        const [failure] = await failed;
        assert.equal(failure.kind, 'canceled');
        assert.equal(failure.status, 487);
        await assertSippPassed(sipp);
        const [cancel] = ua.requestsSent('CANCEL');
        assert.equal(cancel?.topVia.branch, ua.requestsSent('INVITE')[0]?.topVia.branch, 'CANCEL shares the INVITE branch (RFC 3261 §9.1)');
        assert.equal(cancel?.header('reason'), 'SIP;cause=480;text="Caller gave up"');
      });

      test('a CANCEL asked for before any provisional response waits for one (RFC 3261 §9.1)', async (t) => {
        // The CANCEL goes out on the 100 Trying. SIPp may read it before it has sent its 180 and
        // then answers it 200 on its own and drops the call without the 487 (a SIPp quirk): the
        // INVITE is then given up 64*T1 after the CANCEL, which short timers keep short here.
        const base = await freePortBlock(BLOCK);
        const sipp = await startSippUas(t, { scenario: sharedScenario('uas-no-answer'), port: base + SIPP, mediaPort: base + MEDIA, transport });
        const ua = await startUa(t, base + UA, { timers: { T1: 50, T2: 400, T4: 500 } });
        const session = call(ua, sipp, sdp(1));
        session.hangup();
        const [failure] = await next(session, 'failed');
        assert.equal(failure.kind, 'canceled');
        assert.equal(failure.status, 487);
        const trace = ua.trace.map((e) => `${e.direction} ${e.message.isRequest ? e.message.method : e.message.status}`);
        const firstProvisional = trace.findIndex((line) => /^in 1\d\d$/.test(line));
        assert.ok(firstProvisional >= 0 && trace.indexOf('out CANCEL') > firstProvisional, `the CANCEL follows the first 1xx: ${trace.join(', ')}`);
        assert.equal(trace.filter((line) => line === 'out CANCEL').length, 1, 'one CANCEL');
      });

      test('a 302 fails the session as redirected, naming the new target', async (t) => {
        const base = await freePortBlock(BLOCK);
        const sipp = await startSippUas(t, { scenario: sharedScenario('uas-redirect'), port: base + SIPP, mediaPort: base + MEDIA, transport, keys: { redirect_to: `127.0.0.1:${base + SIPP_REDIRECTED}` } });
        const ua = await startUa(t, base + UA);
        const session = call(ua, sipp, sdp(1));
        const [failure] = await next(session, 'failed');
        assert.equal(failure.kind, 'redirected');
        assert.equal(failure.status, 302);
        assert.equal(failure.response?.contacts[0]?.uri.toString(), `sip:moved@127.0.0.1:${base + SIPP_REDIRECTED}`);
        await assertSippPassed(sipp);
      });

      test('with maxRedirects, a 302 is followed to its Contact with the next CSeq and the same Call-ID', async (t) => {
        const base = await freePortBlock(BLOCK);
        // The redirect target speaks UDP: the 302's Contact names no transport.
        const moved = await startSippUas(t, { scenario: sharedScenario('uas-answer'), port: base + SIPP_REDIRECTED, mediaPort: base + MEDIA_REDIRECTED, transport: 'udp' });
        const sipp = await startSippUas(t, { scenario: sharedScenario('uas-redirect'), port: base + SIPP, mediaPort: base + MEDIA, transport, keys: { redirect_to: `127.0.0.1:${base + SIPP_REDIRECTED}` } });
        const ua = await startUa(t, base + UA);
        const session = call(ua, sipp, sdp(1), { maxRedirects: 1 });
        await next(session, 'answered');
        await hangUp(session);
        await assertSippPassed(sipp);
        await assertSippPassed(moved);
        const [first, second] = ua.requestsSent('INVITE');
        assert.equal(second?.isRequest && second.requestUri, `sip:moved@127.0.0.1:${base + SIPP_REDIRECTED}`);
        assert.equal(second?.cseq.seq, (first?.cseq.seq ?? 0) + 1);
        assert.equal(second?.callId, first?.callId);
      });

      for (const offerless of [false, true]) {
        test(`a 401 challenge is answered with digest credentials on a new INVITE (${offerless ? 'offer in the 200' : 'offer in the INVITE'})`, async (t) => {
          const { ua, sipp } = await setUp(t, transport, OURS(offerless ? 'uas-auth-answer-offer' : 'uas-auth-answer'), { vars: { auth_user: 'alice', auth_password: 'secret' } });
          const session = call(ua, sipp, offerless ? undefined : sdp(1), { credentials: { username: 'alice', password: 'secret' } });
          const [, ackPending] = await next(session, 'answered');
          assert.equal(ackPending, offerless);
          if (offerless) session.ack({ body: sdp(1) });
          await hangUp(session);
          await assertSippPassed(sipp);
          const invites = ua.requestsSent('INVITE');
          assert.equal(invites.length, 2);
          assert.match(invites[1]?.header('authorization') ?? '', /^Digest username="alice", realm="test\.invalid", nonce="[^"]+", uri="sip:alice@127\.0\.0\.1:\d+[^"]*", response="[0-9a-f]{32}"/);
          assert.notEqual(invites[1]?.topVia.branch, invites[0]?.topVia.branch);
        });
      }

      test('a wrong password ends in the 403 of the peer, not in a loop of retries', async (t) => {
        const { ua, sipp } = await setUp(t, transport, OURS('uas-auth-answer'), { vars: { auth_user: 'alice', auth_password: 'secret' } });
        const session = call(ua, sipp, sdp(1), { credentials: { username: 'alice', password: 'wrong' } });
        const [failure] = await next(session, 'failed');
        assert.equal(failure.status, 403);
        assert.equal(ua.requestsSent('INVITE').length, 2);
        const exit = await sipp.wait(15_000);
        assert.equal(exit.code, 1, 'SIPp counts the call as failed');
      });

      test('a 183 with SDP (early media) is reported before the 200', async (t) => {
        const { ua, sipp } = await setUp(t, transport, sharedScenario('uas-early-media'), { vars: { ring_ms: 200 } });
        const session = call(ua, sipp, sdp(1));
        const [early] = await next(session, 'provisional');
        assert.equal(early.status, 183);
        assert.match(early.body.toString(), /^m=audio /m);
        await next(session, 'answered');
        await hangUp(session);
        await assertSippPassed(sipp);
      });

      test('when the far end hangs up, its BYE is answered 200 and the session ends', async (t) => {
        const { ua, sipp } = await setUp(t, transport, sharedScenario('uas-answer-then-hangup'), { vars: { ring_ms: 0, hangup_ms: 300 } });
        const session = call(ua, sipp, sdp(1));
        await next(session, 'answered');
        const [ending] = await next(session, 'ended');
        assert.equal(ending.cause, 'remote-bye');
        assert.equal(session.state, 'ended');
        await assertSippPassed(sipp);
        assert.equal(ua.ua.stats().dialogs, 0, 'the dialog is forgotten');
      });

      test('a re-INVITE with a new offer is answered and ACKed, then BYE', async (t) => {
        const { ua, sipp } = await setUp(t, transport, sharedScenario('uas-answer-reinvite'));
        const session = call(ua, sipp, sdp(1));
        await next(session, 'answered');
        const response = await session.reinvite({ body: sdp(2, 40002) });
        assert.equal(response.status, 200);
        await hangUp(session);
        await assertSippPassed(sipp);
        const invites = ua.requestsSent('INVITE');
        assert.match(invites[1]?.header('to') ?? '', /;tag=\S+/, 'the re-INVITE names the dialog (RFC 3261 §12.2.1.1)');
        assert.equal(invites[1]?.isRequest && invites[1].requestUri, session.dialog?.remoteTarget.toString(), 'it goes to the remote target');
        assert.equal(invites[1]!.cseq.seq, invites[0]!.cseq.seq + 1);
        assert.equal(ua.requestsSent('ACK').length, 2);
      });

      test('answers OPTIONS outside a dialog with 200, Allow, Accept and Supported (RFC 3261 §11.2)', async (t) => {
        const base = await freePortBlock(BLOCK);
        const ua = await startUa(t, base + UA);
        const result = await runSippUac(t, { scenario: OURS('uac-options'), port: base + SIPP, mediaPort: base + MEDIA, transport, target: `127.0.0.1:${ua.port}`, service: 'ctd' });
        assert.equal(result.code, 0, result.report);
        const ok = parseSippMessages(result.messages).find((m) => m.direction === 'received' && m.status === 200);
        assert.match(ok?.text ?? '', /^Accept: application\/sdp/m);
        assert.match(ok?.text ?? '', /^Server: ctd-test/m);
      });

      test('answers an unknown method with 501 and Allow (RFC 3261 §8.2.1)', async (t) => {
        const base = await freePortBlock(BLOCK);
        const ua = await startUa(t, base + UA);
        const result = await runSippUac(t, { scenario: OURS('uac-unknown-method'), port: base + SIPP, mediaPort: base + MEDIA, transport, target: `127.0.0.1:${ua.port}`, service: 'ctd' });
        assert.equal(result.code, 0, result.report);
        assert.equal(ua.ua.stats().answeredByCore[501], 1);
      });
    });
  }

  describe('retransmissions (UDP)', () => {
    test('retransmits an ignored INVITE after T1 and an ignored BYE after T1, same branch and CSeq', async (t) => {
      const { ua, sipp } = await setUp(t, 'udp', OURS('uas-retransmit'));
      const session = call(ua, sipp, sdp(1));
      await next(session, 'answered');
      await hangUp(session);
      await assertSippPassed(sipp);
      for (const method of ['INVITE', 'BYE']) {
        const sent = ua.requestsSent(method);
        assert.ok(sent.length >= 2, `${method} was retransmitted`);
        assert.equal(new Set(sent.map((m) => m.topVia.branch)).size, 1, `${method} retransmissions keep the branch`);
        assert.equal(new Set(sent.map((m) => m.cseq.seq)).size, 1);
      }
      assert.match(await sipp.logs(), /INVITE retransmitted after (4\d\d|5\d\d|6\d\d)(\.\d+)? ms/);
      assert.match(await sipp.logs(), /BYE retransmitted after (4\d\d|5\d\d|6\d\d)(\.\d+)? ms/);
    });

    test('an INVITE nobody answers ends after Timer B (64*T1) as a timeout', async (t) => {
      const base = await freePortBlock(BLOCK);
      const ua = await startUa(t, base + UA, { timers: { T1: 20, T2: 160, T4: 200 } });
      const started = Date.now();
      // Nothing listens on base + SIPP: over UDP the INVITE just goes unanswered.
      const session = ua.ua.invite({ to: `<sip:nobody@127.0.0.1:${base + SIPP}>`, from: '<sip:ctd@127.0.0.1>', body: sdp(1) });
      const [failure] = await next(session, 'failed');
      const elapsed = Date.now() - started;
      assert.equal(failure.kind, 'timeout');
      assert.equal(failure.status, 408);
      assert.ok(elapsed >= 64 * 20 - 50, `ended after ${elapsed} ms`);
      // Timer A: 0, 20, 60, 140, 300, 620, 1260 ms.
      assert.equal(ua.requestsSent('INVITE').length, 7);
    });

    test('an INVITE over TCP to a closed port fails at once as unreachable (503)', async (t) => {
      const base = await freePortBlock(BLOCK);
      const ua = await startUa(t, base + UA);
      const session = ua.ua.invite({ to: `<sip:nobody@127.0.0.1:${base + SIPP};transport=tcp>`, from: '<sip:ctd@127.0.0.1>' });
      const [failure] = await next(session, 'failed', 3000);
      assert.equal(failure.kind, 'unreachable');
      assert.equal(failure.status, 503);
      await delay(50);
      assert.deepEqual(ua.errors, []);
    });
  });
});
