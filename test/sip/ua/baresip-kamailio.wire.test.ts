/**
 * Our UA core against real phones and a real proxy: baresip answers the offerless INVITE of
 * RFC 3725 flow III with an offer, takes our answer from the ACK, answers a re-INVITE and our BYE;
 * through Kamailio, the 407 of the trunk user is answered with digest credentials (RFC 3261 §22.3)
 * and the ACK, re-INVITE and BYE follow the Record-Route set (§12.2.1.1).
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { startBaresip, type BaresipHandle, type SipTransportName } from '../../support/baresip.js';
import { startKamailio, type KamailioHandle } from '../../support/kamailio.js';
import { freePortBlock } from '../../support/ports.js';
import { delay, next, sdp, startUa } from './harness.js';

const TRANSPORTS: SipTransportName[] = ['udp', 'tcp'];
const TRUNK = { user: 'trunk', password: 'trunk-secret', realm: 'test.invalid' };
// Offsets in a block of free ports: baresip binds PHONE and PHONE + 1 (TLS).
const UA = 0;
const PROXY = 1;
const PHONE = 2;

async function phone(t: TestContext, options: Parameters<typeof startBaresip>[0]): Promise<BaresipHandle> {
  const handle = await startBaresip(options);
  t.after(() => handle.stop());
  return handle;
}

async function proxy(t: TestContext, port: number): Promise<KamailioHandle> {
  const handle = await startKamailio({ port, auth: TRUNK });
  t.after(() => handle.stop());
  return handle;
}

describe('UA core against baresip and Kamailio', () => {
  for (const transport of TRANSPORTS) {
    const param = transport === 'tcp' ? ';transport=tcp' : '';

    test(`calls baresip without SDP, answers its offer in the ACK, re-INVITEs it and hangs up (${transport})`, async (t) => {
      const base = await freePortBlock(4);
      const alice = await phone(t, { user: 'alice', port: base + PHONE, transport });
      const { ua, errors, requestsSent } = await startUa(t, base + UA);

      const session = ua.invite({ to: `<${alice.uri}>`, from: '"Click to dial" <sip:ctd@127.0.0.1>' });
      const [answer, ackPending] = await next(session, 'answered');
      assert.equal(answer.status, 200);
      assert.equal(ackPending, true, 'the 2xx to an offerless INVITE carries the offer');
      assert.match(session.remoteDescription ?? '', /^m=audio \d+ RTP\/AVP [\d ]*\b0\b/m, 'baresip offers PCMU');
      session.ack({ body: sdp(1, 40000, [0]) });
      assert.equal(session.state, 'confirmed');

      await delay(300);
      const reinvite = await session.reinvite({ body: sdp(2, 40010, [0]) });
      assert.equal(reinvite.status, 200);
      assert.match(reinvite.body.toString(), /^m=audio \d+ RTP\/AVP 0/m, 'baresip answers the new offer');

      const ended = next(session, 'ended');
      session.hangup();
      const [ending] = await ended;
      assert.equal(ending.cause, 'local-bye');
      await delay(300);
      const traced = alice.sipMessages();
      const acks = traced.filter((m) => m.direction === 'received' && m.method === 'ACK');
      assert.equal(acks.length, 2, 'baresip got the ACK of the INVITE and of the re-INVITE');
      assert.match(acks[0]!.text, /\r\nm=audio 40000 RTP\/AVP 0/, 'the first ACK carries our answer');
      assert.ok(traced.some((m) => m.direction === 'sent' && m.status === 200 && /CSeq: \d+ BYE/.test(m.text)), 'baresip answered our BYE');
      assert.equal(traced.filter((m) => m.direction === 'sent' && m.method === 'BYE').length, 0, 'baresip never hung up by itself');
      assert.equal(requestsSent('INVITE').length, 2);
      assert.deepEqual(errors, []);
    });

    test(`reaches a phone registered at Kamailio as the trunk user: 407, digest retry, in-dialog requests on the Route set (${transport})`, async (t) => {
      const base = await freePortBlock(4);
      const kamailio = await proxy(t, base + PROXY);
      await phone(t, { user: 'carol', port: base + PHONE, transport, registrar: { host: kamailio.host, port: kamailio.port } });
      const { ua, errors, requestsSent, responsesReceived } = await startUa(t, base + UA);

      const session = ua.invite({
        to: `<sip:carol@${kamailio.host}:${kamailio.port}${param}>`,
        from: `<sip:${TRUNK.user}@${TRUNK.realm}>`,
        credentials: { username: TRUNK.user, password: TRUNK.password },
      });
      const [answer] = await next(session, 'answered');
      assert.equal(answer.status, 200);
      assert.equal(responsesReceived(407, 'INVITE').length >= 1, true, 'Kamailio challenged the first INVITE');
      const invites = requestsSent('INVITE');
      assert.equal(invites.length >= 2, true);
      const first = invites[0]!;
      const retry = invites[invites.length - 1]!;
      assert.equal(first.isRequest && first.hasHeader('proxy-authorization'), false);
      assert.match(retry.isRequest ? (retry.header('proxy-authorization') ?? '') : '', /^Digest username="trunk", realm="test\.invalid"/);
      assert.equal(retry.cseq.seq, first.cseq.seq + 1, 'the retry has the next CSeq (RFC 3261 §22.2)');
      assert.equal(retry.callId, first.callId);
      const routeSet = session.dialog?.routeSet.map((route) => route.toString()) ?? [];
      assert.ok(routeSet.length >= 1, 'the 200 carried Record-Route');
      assert.ok(routeSet.every((route) => route.includes(`${kamailio.host}:${kamailio.port}`)), routeSet.join(' '));

      session.ack({ body: sdp(1, 40020, [0]) });
      await delay(300);
      assert.equal((await session.reinvite({ body: sdp(2, 40030, [0]) })).status, 200);
      const ended = next(session, 'ended');
      session.hangup();
      await ended;
      await delay(300);
      const log = kamailio.log();
      assert.match(log, /PEER-TEST challenge INVITE from sip:trunk@/);
      assert.match(log, /PEER-TEST authenticated INVITE from sip:trunk@\S+ as trunk/);
      for (const method of ['ACK', 'INVITE', 'BYE']) {
        assert.match(log, new RegExp(`PEER-TEST loose_route ${method} to sip:carol`), `${method} went through the proxy on the route set`);
      }
      for (const method of ['ACK', 'BYE']) {
        const sent = requestsSent(method).at(-1);
        const route = sent?.header('route') ?? '';
        assert.match(route, new RegExp(`^<sip:${kamailio.host.replaceAll('.', '\\.')}:${kamailio.port}[;>]`), `${method} carries the Route set`);
        assert.match(route, /;lr[;>]/, `${method}'s Route is a loose route`);
      }
      assert.deepEqual(errors, []);
    });
  }
});
