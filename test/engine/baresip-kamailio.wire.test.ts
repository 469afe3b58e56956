/**
 * The engine joining two real phones: two baresip instances that auto-answer, called directly
 * and as AORs registered with Kamailio (record-routing, loose routing), over UDP and TCP. The
 * phones' own traces show what they got: A's re-INVITE carries B's offer (flow III), each ACK the
 * answer, and neither phone hangs up by itself.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { Flow } from '../../src/engine/index.js';
import { startBaresip, type BaresipHandle, type SipTransportName } from '../support/baresip.js';
import { startKamailio } from '../support/kamailio.js';
import { freePortBlock } from '../support/ports.js';
import { assertEngineClean, startEngine } from './harness.js';

const ENGINE = 0;
const PROXY = 1;
const PHONE_A = 2; // and 3 (baresip's TLS port)
const PHONE_B = 4; // and 5

async function phone(t: TestContext, options: Parameters<typeof startBaresip>[0]): Promise<BaresipHandle> {
  const handle = await startBaresip(options);
  t.after(() => handle.stop());
  return handle;
}

function audioPort(text: string): number | undefined {
  const match = /\r\nm=audio (\d+) /.exec(text);
  return match ? Number(match[1]) : undefined;
}

describe('the engine between two baresip phones', () => {
  for (const transport of ['udp', 'tcp'] as SipTransportName[]) {
    for (const flow of ['III', 'I', 'IV'] as Flow[]) {
      test(`flow ${flow} joins two phones called directly; media goes phone to phone (${transport})`, async (t) => {
        const base = await freePortBlock(6);
        const alice = await phone(t, { user: 'alice', port: base + PHONE_A, transport });
        const bob = await phone(t, { user: 'bob', port: base + PHONE_B, transport });
        // The phones' SDP as it crossed the wire, from the engine's side: baresip's own trace can
        // lose a message (another thread's line printed inside its block) on a busy machine.
        const wire: { leg: 'a' | 'b'; direction: 'in' | 'out'; message: string }[] = [];
        const under = await startEngine(t, base + ENGINE, { onSipLog: (_callId, entry) => void wire.push({ leg: entry.leg, direction: entry.direction, message: entry.message ?? '' }) });
        const id = `call_baresip_${flow}_${transport}`;
        under.engine.startCall({ id, flow, a: { uri: `<${alice.uri}>`, from: '<sip:ctd@127.0.0.1>' }, b: { uri: `<${bob.uri}>`, from: '<sip:alice@example.com>' } });
        const call = under.engine.get(id)!;
        await under.reached(id, 'connected');
        await new Promise((resolve) => setTimeout(resolve, 500));
        if (flow === 'IV') {
          // baresip refuses an offer without m-lines (488); the engine calls it again the flow III way.
          const invites = alice.sipMessages().filter((m) => m.direction === 'received' && m.method === 'INVITE');
          assert.match(invites[0]?.text ?? '', /\r\nv=0\r\n/);
          assert.doesNotMatch(invites[0]?.text ?? '', /\r\nm=/);
          assert.ok(alice.sipMessages().some((m) => m.direction === 'sent' && m.status === 488));
          assert.doesNotMatch(invites[1]?.text ?? '', /\r\nv=0\r\n/, 'the second INVITE has no SDP');
          assert.equal(call.flow, 'III');
          assert.equal(call.requestedFlow, 'IV');
        }
        // Where each phone now sends its RTP: the other phone's port, as its own SDP (its 200 OK to
        // our INVITE, as received on the wire) said.
        const answerOf = (leg: 'a' | 'b') => wire.find((m) => m.leg === leg && m.direction === 'in' && /^SIP\/2\.0 200 /.test(m.message) && /\r\nCSeq: \d+ INVITE/.test(m.message) && /\r\nm=audio/.test(m.message));
        const alicePort = audioPort(answerOf('a')?.message ?? '');
        const bobPort = audioPort(answerOf('b')?.message ?? '');
        const ladder = wire.map((m) => `${m.leg} ${m.direction} ${m.message.split('\r\n')[0]}${/\r\nm=audio/.test(m.message) ? ' (m=audio)' : ''}`).join('; ');
        assert.ok(alicePort && bobPort, `both phones described their audio: ${ladder}`);
        const toAlice = alice.sipMessages().filter((m) => m.direction === 'received' && (m.method === 'INVITE' || m.method === 'ACK'));
        const toBob = bob.sipMessages().filter((m) => m.direction === 'received' && (m.method === 'INVITE' || m.method === 'ACK'));
        const lastDescribed = (messages: typeof toAlice) => [...messages].reverse().find((m) => audioPort(m.text) !== undefined)?.text ?? '';
        assert.equal(audioPort(lastDescribed(toAlice)), bobPort, "Alice's media now goes to Bob");
        assert.equal(audioPort(lastDescribed(toBob)), alicePort, "Bob's media now goes to Alice");
        assert.match(lastDescribed(toAlice), /\r\nc=IN IP4 127\.0\.0\.1\r\n/);

        under.engine.hangup(id);
        const final = await under.final(id);
        assert.equal(final.status, 'completed');
        await new Promise((resolve) => setTimeout(resolve, 300));
        for (const handle of [alice, bob]) {
          assert.equal(handle.sipMessages().filter((m) => m.direction === 'sent' && m.method === 'BYE').length, 0, 'the phone never hung up by itself');
          assert.ok(handle.sipMessages().some((m) => m.direction === 'sent' && m.status === 200 && /CSeq: \d+ BYE/.test(m.text)), 'the phone answered our BYE');
        }
        await assertEngineClean(under);
      });
    }

    test(`flow III joins two phones registered with Kamailio, in-dialog requests on the Route set (${transport})`, async (t) => {
      const base = await freePortBlock(6);
      const kamailio = await startKamailio({ port: base + PROXY });
      t.after(() => kamailio.stop());
      await phone(t, { user: 'alice', port: base + PHONE_A, transport, registrar: { host: kamailio.host, port: kamailio.port } });
      await phone(t, { user: 'bob', port: base + PHONE_B, transport, registrar: { host: kamailio.host, port: kamailio.port } });
      const under = await startEngine(t, base + ENGINE);
      const param = transport === 'tcp' ? ';transport=tcp' : '';
      const id = `call_kamailio_${transport}`;
      under.engine.startCall({
        id,
        a: { uri: `<sip:alice@${kamailio.host}:${kamailio.port}${param}>`, from: '<sip:ctd@127.0.0.1>' },
        b: { uri: `<sip:bob@${kamailio.host}:${kamailio.port}${param}>`, from: '<sip:alice@example.com>' },
      });
      await under.reached(id, 'connected');
      under.engine.hangup(id);
      assert.equal((await under.final(id)).status, 'completed');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const log = kamailio.log();
      assert.match(log, /PEER-TEST initial INVITE to sip:alice[-@]/);
      assert.match(log, /PEER-TEST initial INVITE to sip:bob[-@]/);
      for (const method of ['ACK', 'INVITE', 'BYE']) assert.match(log, new RegExp(`PEER-TEST loose_route ${method} to sip:alice`), `${method} to A through the proxy`);
      for (const method of ['ACK', 'BYE']) assert.match(log, new RegExp(`PEER-TEST loose_route ${method} to sip:bob`), `${method} to B through the proxy`);
      await assertEngineClean(under);
    });
  }
});
