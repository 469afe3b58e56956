/**
 * The demo phones on the wire: our own engine (src/engine) calls two of them and connects them
 * with RFC 3725 flows I, III and IV over UDP and TCP, so that our UAC and our UAS meet, and at
 * the end each phone's media points at the other's RTP port (the controller joined them and
 * carries no media). And a SIPp caller that holds, resumes, re-INVITEs without SDP and UPDATEs
 * gets the answers RFC 3264 asks for from the phone's own SDP logic.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DemoPhone, type PhoneActivity } from '../../src/demo/index.js';
import type { Flow } from '../../src/engine/index.js';
import { TransportLayer, UserAgent } from '../../src/sip/index.js';
import { assertEngineClean, startEngine, TEST_TIMERS } from '../engine/harness.js';
import { freePortBlock } from '../support/ports.js';
import { parseSippMessages, runSippUac, type SippTransport } from '../support/sipp.js';

const SCENARIO = (name: string): string => fileURLToPath(new URL(`../peers/sipp/${name}.xml`, import.meta.url));

async function phone(t: TestContext, name: string, port: number, activity: PhoneActivity[] = []): Promise<DemoPhone> {
  const started = await DemoPhone.start({ name, port, ringMs: 100, timers: TEST_TIMERS, onActivity: (a) => activity.push(a) });
  t.after(() => started.stop());
  return started;
}

function uriOver(phoneUnderTest: DemoPhone, transport: SippTransport): string {
  return transport === 'tcp' ? `${phoneUnderTest.uri};transport=tcp` : phoneUnderTest.uri;
}

describe('the engine connects two demo phones', () => {
  for (const transport of ['udp', 'tcp'] as SippTransport[]) {
    for (const flow of ['III', 'I', 'IV'] as Flow[]) {
      test(`flow ${flow} over ${transport.toUpperCase()}: both answer, their media points at each other, both get BYE`, async (t) => {
        const base = await freePortBlock(10);
        const aliceActivity: PhoneActivity[] = [];
        const bobActivity: PhoneActivity[] = [];
        const alice = await phone(t, 'alice', base + 1, aliceActivity);
        const bob = await phone(t, 'bob', base + 2, bobActivity);
        const under = await startEngine(t, base);
        const id = `call_demo_${flow}_${transport}`;
        under.engine.startCall({ id, flow, a: { uri: `<${uriOver(alice, transport)}>`, from: '<sip:ctd@127.0.0.1>' }, b: { uri: `<${uriOver(bob, transport)}>`, from: '<sip:ctd@127.0.0.1>' } });
        await under.reached(id, 'connected');

        // The phones' own view of the session once connected: each sends to the other's RTP port.
        // (The engine is connected once it has sent the last ACK; the phone hears it a moment later.)
        const lastMedia = (activity: PhoneActivity[]) => [...activity].reverse().find((a) => a.media?.remote !== undefined)?.media;
        const settled = Date.now() + 3000;
        while ((lastMedia(aliceActivity)?.remote?.port !== bob.rtpPort || lastMedia(bobActivity)?.remote?.port !== alice.rtpPort) && Date.now() < settled) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.deepEqual(lastMedia(aliceActivity)?.remote, { address: '127.0.0.1', port: bob.rtpPort }, JSON.stringify(aliceActivity));
        assert.deepEqual(lastMedia(bobActivity)?.remote, { address: '127.0.0.1', port: alice.rtpPort }, JSON.stringify(bobActivity));
        assert.equal(lastMedia(aliceActivity)?.direction, 'sendrecv');
        assert.equal(lastMedia(bobActivity)?.direction, 'sendrecv');
        assert.match(lastMedia(aliceActivity)?.codec ?? '', /^PCM[UA]\/8000$/);

        under.engine.hangup(id);
        const final = await under.final(id);
        assert.equal(final.status, 'completed');
        assert.equal(final.endReason, 'api_hangup');
        assert.deepEqual(under.statuses(id), ['queued', 'calling_a', 'calling_b', 'connected', 'completed']);
        // The BYEs reach the phones a moment after the engine sent them.
        const deadline = Date.now() + 3000;
        while ((alice.liveCalls > 0 || bob.liveCalls > 0) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        for (const activity of [aliceActivity, bobActivity]) {
          assert.deepEqual(
            activity.filter((a) => a.kind === 'ringing' || a.kind === 'answered' || a.kind === 'hung-up').map((a) => `${a.kind}${a.detail === 'remote-bye' ? ' remote-bye' : ''}`),
            ['ringing', 'answered', 'hung-up remote-bye'],
          );
          assert.equal(activity.filter((a) => a.kind === 'error').length, 0, JSON.stringify(activity));
        }
        assert.deepEqual([alice.callsTaken, alice.liveCalls, bob.callsTaken, bob.liveCalls], [1, 0, 1, 0]);
        await assertEngineClean(under);
      });
    }
  }
});

describe('a demo phone called by SIPp', () => {
  for (const transport of ['udp', 'tcp'] as SippTransport[]) {
    test(`answers hold, resume, an offerless re-INVITE and an UPDATE per RFC 3264 (${transport.toUpperCase()})`, async (t) => {
      const base = await freePortBlock(10);
      const activity: PhoneActivity[] = [];
      const bob = await phone(t, 'bob', base, activity);
      const result = await runSippUac(t, {
        scenario: SCENARIO('uac-invite-hold'),
        port: base + 1,
        mediaPort: base + 4,
        transport,
        target: `127.0.0.1:${base}`,
        service: 'bob',
        vars: { hold_ms: 100 },
        timeoutSeconds: 15,
      });
      assert.equal(result.code, 0, result.report);
      const oks = parseSippMessages(result.messages).filter((m) => m.direction === 'received' && m.status === 200 && /CSeq: \d+ (INVITE|UPDATE)/.test(m.text));
      const versions = oks.map((m) => Number(/\r\no=bob \d+ (\d+) /.exec(m.text)?.[1]));
      // RFC 3264 §8: every changed description a version higher; the offer repeated unchanged keeps it.
      assert.deepEqual(versions, [1, 2, 3, 3, 4], oks.map((m) => m.text).join('\n\n'));
      assert.ok(oks.every((m) => m.text.includes(`m=audio ${bob.rtpPort} RTP/AVP`)), 'every description names the phone’s RTP port');
      const changes = activity.filter((a) => a.kind === 'media-changed').map((a) => a.media?.direction);
      assert.deepEqual(changes, ['recvonly', 'sendrecv', 'sendrecv', 'recvonly']);
      assert.equal(activity.at(-1)?.kind, 'hung-up');
    });
  }
});

describe('a demo phone called by our own UA', () => {
  async function caller(t: TestContext, port: number): Promise<UserAgent> {
    const transport = new TransportLayer({ host: '127.0.0.1', port });
    await transport.listen();
    const ua = new UserAgent({ transport, timers: TEST_TIMERS });
    t.after(async () => {
      ua.close();
      await transport.close();
    });
    return ua;
  }

  test('refuses an INVITE that requires 100rel with 420 (it sends no reliable provisional responses)', async (t) => {
    const base = await freePortBlock(10);
    const bob = await phone(t, 'bob', base);
    const ua = await caller(t, base + 1);
    const session = ua.invite({ to: `<${bob.uri}>`, from: '<sip:ctd@127.0.0.1>', headers: [['require', '100rel']] });
    const failure = await new Promise<{ status: number }>((resolve) => session.once('failed', resolve));
    assert.equal(failure.status, 420);
    assert.equal(session.response?.header('unsupported'), '100rel');
  });

  test('answers an offerless INVITE with its offer, OPTIONS with 200, REFER with 405, and takes the BYE', async (t) => {
    const base = await freePortBlock(10);
    const activity: PhoneActivity[] = [];
    const bob = await phone(t, 'bob', base, activity);
    const ua = await caller(t, base + 1);
    const session = ua.invite({ to: `<${bob.uri}>`, from: '<sip:ctd@127.0.0.1>' });
    const [, ackPending] = await new Promise<[unknown, boolean]>((resolve) => session.once('answered', (response, pending) => resolve([response, pending])));
    assert.equal(ackPending, true, 'the 200 carries the phone’s offer');
    assert.match(session.remoteDescription ?? '', new RegExp(`^m=audio ${bob.rtpPort} RTP/AVP 0 8 101`, 'm'));
    session.ack({ body: session.remoteDescription!.replace(/^o=bob /m, 'o=ctd ').replace(`m=audio ${bob.rtpPort}`, 'm=audio 40000') });
    assert.equal((await session.request('OPTIONS')).status, 200);
    assert.equal((await session.request('REFER', { headers: [['refer-to', '<sip:carol@127.0.0.1>']] })).status, 405);
    const ended = new Promise((resolve) => session.once('ended', resolve));
    session.hangup();
    await ended;
    const deadline = Date.now() + 3000;
    while (bob.liveCalls > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(activity.map((a) => a.kind), ['ringing', 'answered', 'connected', 'hung-up']);
    assert.deepEqual(activity.find((a) => a.kind === 'connected')?.media, { direction: 'sendrecv', codec: 'PCMU/8000', remote: { address: '127.0.0.1', port: 40000 } });
  });
});
