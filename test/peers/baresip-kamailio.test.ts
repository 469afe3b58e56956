/**
 * Proves that baresip and Kamailio behave as the real peers our 3PCC tests need (RFC 3725): baresip
 * auto-answers with and without an SDP offer in the INVITE, stays in the call, takes re-INVITEs and
 * BYE; Kamailio registers it, record-routes the dialog, loose-routes in-dialog requests and
 * challenges the trunk user. SIPp plays our future controller (scenarios in test/peers/baresip/ and
 * test/peers/kamailio/).
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseSipTrace, startBaresip, type BaresipHandle, type SipTransportName } from '../support/baresip.js';
import { startKamailio } from '../support/kamailio.js';
import { freePortBlock, LOOPBACK as HOST } from '../support/ports.js';
import { runSippUac } from '../support/sipp.js';

const TRANSPORTS: SipTransportName[] = ['udp', 'tcp'];
const scenario = (path: string): string => fileURLToPath(new URL(path, import.meta.url));
const TRUNK = { user: 'trunk', password: 'trunk-secret', realm: 'test.invalid' };

describe("baresip's -s trace as the harness reads it", () => {
  test('each block is one message; a line another thread printed inside a block does not lose it', () => {
    const block = (head: string, text: string): string => `\x1b[36;1m#\n${head}${text}\x1b[;m\n`;
    const raw =
      block('UDP 127.0.0.1:5060 -> 127.0.0.1:5070\n', 'INVITE sip:alice@127.0.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n') +
      'call: answering call on line 1\n' +
      block('aubuf: underrun (stray line of another thread)\nUDP 127.0.0.1:5070 -> 127.0.0.1:5060\n', 'SIP/2.0 200 OK\r\nServer: baresip v1.0.0\r\n\r\n');
    const messages = parseSipTrace(raw);
    assert.deepEqual(
      messages.map((m) => [m.direction, m.transport, m.source, m.method ?? m.status]),
      [
        ['received', 'UDP', '127.0.0.1:5060', 'INVITE'],
        ['sent', 'UDP', '127.0.0.1:5070', 200],
      ],
    );
  });
});

describe('baresip as an auto-answering phone', () => {
  for (const transport of TRANSPORTS) {
    test(`answers an INVITE without SDP with an offer, takes the answer from the ACK, stays up, answers a re-INVITE and BYE (${transport})`, async (t) => {
      const ports = await freePortBlock(PORT_BLOCK);
      const phone = await startPhone(t, { user: 'alice', port: ports + PHONE, transport });

      const sipp = await runSippUac(t, {
        scenario: scenario('./baresip/uac-offerless-reinvite.xml'),
        target: `${HOST}:${ports + PHONE}`,
        service: 'alice',
        transport,
        port: ports + SIPP,
        mediaPort: ports + SIPP_MEDIA,
      });

      assert.equal(sipp.code, 0, sipp.report);
      const offer = phone.sipMessages().find((m) => m.direction === 'sent' && m.status === 200 && /CSeq: 1 INVITE/.test(m.text));
      assert.match(offer?.text ?? '', /\r\nm=audio \d+ RTP\/AVP /, 'the 200 carries an SDP offer');
      const ack = phone.sipMessages().find((m) => m.direction === 'received' && m.method === 'ACK');
      assert.match(ack?.text ?? '', /\r\nm=audio \d+ RTP\/AVP /, 'the ACK with the answer reached baresip');
      assertStayedInCall(phone);
    });

    test(`answers an INVITE with an SDP offer, stays up, answers a re-INVITE and BYE (${transport})`, async (t) => {
      const ports = await freePortBlock(PORT_BLOCK);
      const phone = await startPhone(t, { user: 'alice', port: ports + PHONE, transport });

      const sipp = await runSippUac(t, {
        scenario: scenario('./baresip/uac-offer-reinvite.xml'),
        target: `${HOST}:${ports + PHONE}`,
        service: 'alice',
        transport,
        port: ports + SIPP,
        mediaPort: ports + SIPP_MEDIA,
      });

      assert.equal(sipp.code, 0, sipp.report);
      assertStayedInCall(phone);
    });
  }
});

describe('Kamailio as registrar and record-routing proxy', () => {
  for (const transport of TRANSPORTS) {
    test(`routes calls to a registered AOR through it, with Record-Route and loose routing (${transport})`, async (t) => {
      const ports = await freePortBlock(PORT_BLOCK);
      const proxy = await startKamailio({ port: ports + PROXY });
      atEnd(t, () => proxy.stop());
      const phone = await startPhone(t, {
        user: 'bob',
        port: ports + PHONE,
        transport,
        registrar: { host: proxy.host, port: proxy.port },
      });
      await proxy.waitForLog(new RegExp(`PEER-TEST registering sip:bob@${HOST}:${proxy.port} .* via ${transport}`));

      for (const name of ['uac-offerless-via-proxy', 'uac-offer-via-proxy']) {
        const sipp = await runSippUac(t, {
          scenario: scenario(`./kamailio/${name}.xml`),
          target: `${proxy.host}:${proxy.port}`,
          service: 'bob',
          transport,
          port: ports + SIPP,
          mediaPort: ports + SIPP_MEDIA,
        });
        assert.equal(sipp.code, 0, `${name}: ${sipp.report}\n--- kamailio ---\n${proxy.log()}`);
      }

      // Per call: ACK, re-INVITE, its ACK, BYE.
      for (const [method, count] of [['ACK', 4], ['INVITE', 2], ['BYE', 2]] as const) {
        const routed = proxy.log().match(new RegExp(`PEER-TEST loose_route ${method} `, 'g')) ?? [];
        assert.equal(routed.length, count, `Kamailio loose-routed the in-dialog ${method} requests`);
      }
      // The in-dialog requests reached the phone through the proxy: its Via is on top.
      const proxyVia = new RegExp(`\\r\\nVia: SIP/2\\.0/${transport.toUpperCase()} ${HOST}:${proxy.port};`);
      const received = phone.sipMessages().filter((m) => m.direction === 'received' && m.method !== null);
      for (const method of ['INVITE', 'ACK', 'BYE']) {
        const requests = received.filter((m) => m.method === method);
        assert.ok(requests.length >= 2, `the phone received ${method} requests`);
        for (const request of requests) assert.match(request.text, proxyVia, `${method} came through Kamailio`);
      }
      assertStayedInCall(phone);
    });

    test(`challenges an INVITE from the trunk user with 407 and accepts the credentials SIPp sends (${transport})`, async (t) => {
      const ports = await freePortBlock(PORT_BLOCK);
      const proxy = await startKamailio({ port: ports + PROXY, auth: TRUNK });
      atEnd(t, () => proxy.stop());
      const phone = await startPhone(t, {
        user: 'carol',
        port: ports + PHONE,
        transport,
        registrar: { host: proxy.host, port: proxy.port },
      });

      const sipp = await runSippUac(t, {
        scenario: scenario('./kamailio/uac-offerless-auth.xml'),
        target: `${proxy.host}:${proxy.port}`,
        service: 'carol',
        transport,
        port: ports + SIPP,
        mediaPort: ports + SIPP_MEDIA,
        extraArgs: ['-key', 'caller', TRUNK.user, '-au', TRUNK.user, '-ap', TRUNK.password],
      });

      assert.equal(sipp.code, 0, `${sipp.report}\n--- kamailio ---\n${proxy.log()}`);
      assert.match(sipp.messages, /^SIP\/2\.0 407 /m);
      assert.match(sipp.messages, /^Proxy-Authorization: Digest username="trunk"/m);
      await proxy.waitForLog(/PEER-TEST challenge INVITE from sip:trunk@/);
      await proxy.waitForLog(/PEER-TEST authenticated INVITE from sip:trunk@\S+ as trunk/);
      // Other users (the phone's REGISTER) are not challenged.
      assert.doesNotMatch(proxy.log(), /PEER-TEST challenge REGISTER/);
      assertStayedInCall(phone);
    });
  }

  test('challenges the REGISTER of the protected user with 401 and baresip answers with its password', async (t) => {
    const ports = await freePortBlock(PORT_BLOCK);
    const proxy = await startKamailio({ port: ports + PROXY, auth: TRUNK });
    atEnd(t, () => proxy.stop());

    // startBaresip resolves only once the REGISTER got its 200.
    await startPhone(t, {
      user: TRUNK.user,
      port: ports + PHONE,
      registrar: { host: proxy.host, port: proxy.port, password: TRUNK.password },
    });

    // Kamailio's log reaches us through a pipe, behind the 200 that baresip already has.
    await proxy.waitForLog(/PEER-TEST challenge REGISTER from sip:trunk@/);
    await proxy.waitForLog(/PEER-TEST authenticated REGISTER from sip:trunk@\S+ as trunk/);
    await proxy.waitForLog(/PEER-TEST registering sip:trunk@/);
  });
});

/** baresip sent no BYE and every call it had ended with the peer's BYE, answered 200. */
function assertStayedInCall(phone: BaresipHandle): void {
  const messages = phone.sipMessages();
  const sentByes = messages.filter((m) => m.direction === 'sent' && m.method === 'BYE');
  assert.equal(sentByes.length, 0, `baresip hung up by itself:\n${phone.log()}`);
  const established = phone.log().match(/Call established/g)?.length ?? 0;
  const closedByPeer = phone.log().match(/session closed: Connection reset by peer/g)?.length ?? 0;
  const closed = phone.log().match(/session closed: /g)?.length ?? 0;
  assert.ok(established > 0, 'baresip established a call');
  assert.equal(closedByPeer, established, 'every call ended by the remote BYE');
  assert.equal(closed, closedByPeer, `no session closed for another reason:\n${phone.log()}`);
  assert.ok(
    messages.some((m) => m.direction === 'sent' && m.status === 200 && /\r\nCSeq: \d+ BYE\r\n/.test(m.text)),
    'baresip answered the BYE with 200',
  );
}

async function startPhone(t: TestContext, options: Parameters<typeof startBaresip>[0]): Promise<BaresipHandle> {
  // Short lifetime: a leaked baresip goes away soon even if stop() is never reached.
  const phone = await startBaresip({ lifetimeSeconds: 45, ...options });
  atEnd(t, () => phone.stop());
  return phone;
}

const cleanups = new WeakMap<TestContext, (() => Promise<void>)[]>();

/**
 * Runs `stop` when the test ends, pass or fail, last started first: the phone must go before the
 * proxy, or its un-REGISTER over UDP goes unanswered and stop() waits for the SIGKILL.
 */
function atEnd(t: TestContext, stop: () => Promise<void>): void {
  let stack = cleanups.get(t);
  if (!stack) {
    const created: (() => Promise<void>)[] = [];
    cleanups.set(t, created);
    stack = created;
    t.after(async () => {
      const failures: unknown[] = [];
      for (const cleanup of created.reverse()) await cleanup().catch((error: unknown) => failures.push(error));
      if (failures.length > 0) throw new AggregateError(failures, 'stopping the peers failed');
    });
  }
  stack.push(stop);
}

// ---------------------------------------------------------------------------------------------
// Ports: one block of consecutive ports per test (freePortBlock), free for both UDP and TCP when chosen.

const PROXY = 0;
const SIPP = 1;
/** baresip binds UDP+TCP on this port and TLS on the next one. */
const PHONE = 2;
/** SIPp binds its media port and media port + 2. */
const SIPP_MEDIA = 4;
const PORT_BLOCK = 8;
