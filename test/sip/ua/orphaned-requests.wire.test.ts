/**
 * BYE and CANCEL for sessions another process started (src/sip/ua/orphaned-requests.ts), on the
 * wire: our UA on 127.0.0.1 sends them from persisted snapshots to a UDP socket playing the
 * peer, which checks what RFC 3261 asks of them and answers.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { describe, test, type TestContext } from 'node:test';
import {
  createResponse,
  parseMessage,
  sendOrphanedBye,
  sendOrphanedCancel,
  serializeMessage,
  systemClock,
  type DialogSnapshot,
  type InviteSnapshot,
  type SipRequest,
} from '../../../src/sip/index.js';
import { freePortBlock } from '../../support/ports.js';
import { startUa } from './harness.js';

/** A UDP peer: hands each request to `answer`, sends back what it returns (to the request's source). */
async function peer(t: TestContext, port: number, answer: (request: SipRequest) => number | undefined): Promise<{ received: SipRequest[] }> {
  const socket: Socket = createSocket('udp4');
  const received: SipRequest[] = [];
  socket.on('message', (bytes, from) => {
    const message = parseMessage(bytes);
    if (!message.isRequest) return;
    received.push(message);
    const status = answer(message);
    if (status !== undefined) socket.send(serializeMessage(createResponse(message, status)), from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(port, '127.0.0.1', resolve));
  t.after(() => socket.close());
  return { received };
}

function snapshot(peerPort: number, proxyPort?: number): DialogSnapshot {
  return {
    version: 1,
    role: 'uac',
    state: 'confirmed',
    callId: 'orphan-1@ctd',
    localTag: 'ours-1',
    remoteTag: 'theirs-1',
    localUri: 'sip:sales@example.com',
    localDisplayName: 'Sales',
    remoteUri: 'sip:alice@example.com',
    remoteDisplayName: null,
    localCSeq: 3,
    remoteCSeq: 1,
    routeSet: proxyPort === undefined ? [] : [`<sip:127.0.0.1:${proxyPort};lr>`],
    remoteTarget: `sip:alice@127.0.0.1:${peerPort}`,
    localContact: '<sip:ctd@127.0.0.1:5999>',
    secure: false,
  };
}

describe('requests from persisted snapshots', () => {
  test('BYE from a DialogSnapshot: the dialog\'s Call-ID, tags and remote target, its route set, CSeq past the margin, Reason; resolves with the 200', async (t) => {
    const base = await freePortBlock(4);
    const us = await startUa(t, base);
    // The first route is a loose-routing proxy (RFC 3261 §16.12): the BYE goes there, Request-URI the remote target.
    const proxy = await peer(t, base + 2, () => 200);
    const result = await sendOrphanedBye(us.ua, snapshot(base + 1, base + 2), { clock: systemClock, headers: [['reason', 'Q.850;cause=41']] });
    assert.deepEqual([result.status, result.fromWire], [200, true]);
    const bye = proxy.received[0]!;
    assert.equal(bye.method, 'BYE');
    assert.equal(bye.requestUri, `sip:alice@127.0.0.1:${base + 1}`);
    assert.deepEqual(bye.headerValues('route'), [`<sip:127.0.0.1:${base + 2};lr>`]);
    assert.equal(bye.callId, 'orphan-1@ctd');
    assert.equal(bye.from.tag, 'ours-1');
    assert.equal(bye.to.tag, 'theirs-1');
    assert.deepEqual([bye.cseq.seq, bye.cseq.method], [103, 'BYE']);
    assert.equal(bye.header('reason'), 'Q.850;cause=41');
    // Its Via is ours: the response came back to this UA.
    assert.match(bye.topVia.toString(), new RegExp(`127\\.0\\.0\\.1:${base}`));
  });

  test('a 481 (the peer forgot the dialog) and no answer at all (408) both settle the BYE', async (t) => {
    const base = await freePortBlock(4);
    const us = await startUa(t, base, { timers: { T1: 20, T2: 80, T4: 100 } });
    await peer(t, base + 1, () => 481);
    assert.equal((await sendOrphanedBye(us.ua, snapshot(base + 1), { clock: systemClock })).status, 481);
    const silent = await peer(t, base + 3, () => undefined);
    const timedOut = await sendOrphanedBye(us.ua, snapshot(base + 3), { clock: systemClock });
    assert.deepEqual([timedOut.status, timedOut.fromWire], [408, false]);
    assert.ok(silent.received.length > 1, 'the BYE was retransmitted (UDP, Timer E)');
  });

  test('CANCEL from an InviteSnapshot: the INVITE\'s Via (branch and sent-by), Request-URI, From, To, Call-ID and CSeq number, to where the INVITE went', async (t) => {
    const base = await freePortBlock(4);
    const us = await startUa(t, base, { timers: { T1: 20, T2: 80, T4: 100 } });
    const callee = await peer(t, base + 1, () => 200);
    const invite: InviteSnapshot = {
      version: 1,
      requestUri: `sip:bob@127.0.0.1:${base + 1}`,
      via: 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKdeadengine1;rport',
      from: '<sip:sales@example.com>;tag=ours-2',
      to: `<sip:bob@127.0.0.1:${base + 1}>`,
      callId: 'orphan-2@ctd',
      cseq: 7,
      routes: [],
      destination: { transport: 'udp', address: '127.0.0.1', port: base + 1 },
    };
    const result = await sendOrphanedCancel(us.ua, invite, 'Q.850;cause=41');
    // The peer's 200 names the dead engine's Via: our transport drops it (RFC 3261 §18.1.2).
    assert.deepEqual([result.status, result.fromWire], [408, false]);
    const cancel = callee.received[0]!;
    assert.equal(cancel.method, 'CANCEL');
    assert.equal(cancel.requestUri, invite.requestUri);
    assert.deepEqual(cancel.headerValues('via'), [invite.via], 'one Via, the INVITE\'s: the UAS matches the CANCEL on it (§9.2)');
    assert.equal(cancel.header('from'), invite.from);
    assert.equal(cancel.header('to'), invite.to);
    assert.equal(cancel.to.tag, undefined);
    assert.equal(cancel.callId, 'orphan-2@ctd');
    assert.deepEqual([cancel.cseq.seq, cancel.cseq.method], [7, 'CANCEL']);
    assert.equal(cancel.header('reason'), 'Q.850;cause=41');
  });

  test('a malformed snapshot is refused before anything is sent', async (t) => {
    const base = await freePortBlock(2);
    const us = await startUa(t, base);
    await assert.rejects(sendOrphanedBye(us.ua, { ...snapshot(base + 1), remoteTarget: 'not a uri' }, { clock: systemClock }), /BAD_SNAPSHOT|dialog snapshot: remoteTarget/);
    assert.equal(us.requestsSent('BYE').length, 0);
  });
});
