/**
 * Transfer and ringback on the wire, against SIPp parties:
 * - transfer by re-INVITE: the engine calls C, re-INVITEs A with C's offer, ACKs C with A's
 *   answer and BYEs B (no REFER support needed in the phones);
 * - blind transfer by REFER (RFC 3515): A accepts with 202 and reports the outcome in a NOTIFY;
 * - ringback: while B rings, A's held answer points at our RTP sender, which plays G.711 to A
 *   until B's offer moves A's media to B.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createUdpRingbackSocket, RingbackPlayer, type RingbackHandle } from '../../src/engine/ringback/index.js';
import type { RingbackSource } from '../../src/engine/index.js';
import { parseSdp } from '../../src/sdp/index.js';
import { systemClock } from '../../src/sip/index.js';
import { freePortBlock } from '../support/ports.js';
import { parseSippMessages, sharedScenario, startSippUas, type SippTransport } from '../support/sipp.js';
import { assertEngineClean, startEngine } from './harness.js';

const ours = (name: string): string => fileURLToPath(new URL(`../peers/sipp/${name}.xml`, import.meta.url));
const from = '<sip:ctd@127.0.0.1>';

describe('transfer and ringback', () => {
  for (const transport of ['udp', 'tcp'] as SippTransport[]) {
    test(`transfer by re-INVITE replaces B with C: A re-INVITEd with C's offer, C ACKed with A's answer, B released (${transport})`, async (t) => {
      const base = await freePortBlock(20);
      const a = await startSippUas(t, { scenario: ours('uas-answer-2reinvites-offer'), port: base + 1, mediaPort: base + 10, transport });
      const b = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: base + 2, mediaPort: base + 13, transport });
      const c = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: base + 3, mediaPort: base + 16, transport });
      const under = await startEngine(t, base);
      const id = `call_transfer_${transport}`;
      under.engine.startCall({ id, a: { uri: `<${a.uri('alice')}>`, from }, b: { uri: `<${b.uri('bob')}>`, from } });
      await under.reached(id, 'connected');
      const moved = await under.engine.transfer(id, { uri: `<${c.uri('carol')}>`, from });
      assert.equal(moved, true);
      assert.equal((await b.wait(10_000)).code, 0, 'B was released with BYE: ' + (await b.report()));
      assert.equal(under.engine.get(id)?.status, 'connected', 'the call stays connected, now with C');
      const transfers = under.events.filter((e) => e.callId === id && e.type === 'call.transfer').map((e) => (e.type === 'call.transfer' ? e.outcome : ''));
      assert.deepEqual(transfers, ['started', 'completed']);
      under.engine.hangup(id);
      assert.equal((await under.final(id)).status, 'completed');
      assert.equal((await a.wait(10_000)).code, 0, await a.report());
      assert.equal((await c.wait(10_000)).code, 0, await c.report());
      // A's second re-INVITE carries C's media; C's ACK carries A's answer.
      const toA = parseSippMessages(await a.messages()).filter((m) => m.direction === 'received' && m.method === 'INVITE');
      const cOffer = parseSippMessages(await c.messages()).find((m) => m.direction === 'sent' && m.status === 200 && /CSeq: \d+ INVITE/.test(m.text))!;
      const bodyOf = (text: string) => parseSdp(text.slice(text.indexOf('\r\n\r\n') + 4));
      assert.equal(bodyOf(toA[2]!.text).media[0]!.port, bodyOf(cOffer.text).media[0]!.port, "A's media goes to C");
      assert.equal(bodyOf(toA[2]!.text).origin.sessionVersion, bodyOf(toA[1]!.text).origin.sessionVersion + 1, 'one more version towards A');
      const cAck = parseSippMessages(await c.messages()).find((m) => m.direction === 'received' && m.method === 'ACK')!;
      assert.match(cAck.text, /\r\nm=audio \d+ RTP\/AVP/);
      await assertEngineClean(under);
    });

    test(`blind transfer by REFER: A accepts, its NOTIFY reports 200, both legs are released (${transport})`, async (t) => {
      const base = await freePortBlock(20);
      const a = await startSippUas(t, { scenario: ours('uas-answer-reinvite-refer-offer'), port: base + 1, mediaPort: base + 10, transport });
      const b = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: base + 2, mediaPort: base + 13, transport });
      const under = await startEngine(t, base);
      const id = `call_refer_${transport}`;
      under.engine.startCall({ id, a: { uri: `<${a.uri('alice')}>`, from }, b: { uri: `<${b.uri('bob')}>`, from } });
      await under.reached(id, 'connected');
      const ok = await under.engine.transfer(id, { uri: 'sip:carol@example.com', from }, 'refer');
      assert.equal(ok, true);
      const final = await under.final(id);
      assert.equal(final.status, 'completed');
      assert.equal((await a.wait(10_000)).code, 0, await a.report());
      assert.equal((await b.wait(10_000)).code, 0, await b.report());
      const refer = parseSippMessages(await a.messages()).find((m) => m.direction === 'received' && m.method === 'REFER')!;
      assert.match(refer.text, /\r\nRefer-To: <sip:carol@example\.com>\r\n/);
      await assertEngineClean(under);
    });
  }

  test('ringback: A hears a G.711 tone from our RTP sender while B rings, and none once B answers', async (t) => {
    const base = await freePortBlock(20);
    const socket = await createUdpRingbackSocket('127.0.0.1');
    const player = new RingbackPlayer({ socket, clock: systemClock });
    t.after(() => player.close());
    const handles: RingbackHandle[] = [];
    const ringback: RingbackSource = {
      localAddress: () => player.localAddress(),
      play: (stream) => {
        const handle = player.play(stream);
        handles.push(handle);
        return handle;
      },
    };
    const a = await startSippUas(t, { scenario: sharedScenario('uas-answer-reinvite-offer'), port: base + 1, mediaPort: base + 10, transport: 'udp' });
    const b = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: base + 2, mediaPort: base + 13, transport: 'udp', vars: { ring_ms: 1000 } });
    const under = await startEngine(t, base, { ringback });
    const id = 'call_ringback';
    under.engine.startCall({ id, ringback: 'tone', a: { uri: `<${a.uri('alice')}>`, from }, b: { uri: `<${b.uri('bob')}>`, from } });
    await under.reached(id, 'calling_b');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(player.activeStreams, 1, 'the tone plays while B rings');
    await under.reached(id, 'connected');
    assert.equal(player.activeStreams, 0, 'and stops when B answers');
    assert.equal(handles.length, 1);
    const sent = handles[0]!.packetsSent;
    assert.ok(sent >= 40 && sent <= 60, `about 50 packets a second for ~1 s of ringing: ${sent}`);
    under.engine.hangup(id);
    await under.final(id);
    const heldAck = parseSippMessages(await a.messages()).find((m) => m.direction === 'received' && m.method === 'ACK')!;
    const held = parseSdp(heldAck.text.slice(heldAck.text.indexOf('\r\n\r\n') + 4));
    const { address, port } = player.localAddress();
    assert.equal(held.media[0]!.port, port, "the held answer names our sender's port");
    assert.equal(held.media[0]!.connection?.ip ?? held.connection?.ip, address);
    assert.equal(held.media[0]!.direction, 'sendonly', 'we only send to A');
    assert.equal((await a.wait(10_000)).code, 0, await a.report());
    assert.equal((await b.wait(10_000)).code, 0, await b.report());
    await assertEngineClean(under);
  });
});
