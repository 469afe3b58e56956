/**
 * Floods at the engine's SIP port while it runs a call: a SIPp UAC sends unsolicited INVITEs as
 * fast as it is told (the engine takes no calls: 403), and a socket sends malformed requests (a
 * stateless 400 each). Each source gets its burst and its rate answered, the rest is dropped
 * unanswered with nothing kept; the call in progress, with parties on the same address, is not
 * disturbed, and afterwards the engine holds nothing.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { describe, test } from 'node:test';
import { freePortBlock } from '../support/ports.js';
import { runSippUac, sharedScenario, startSippUas } from '../support/sipp.js';
import { assertEngineClean, startEngine } from './harness.js';

const MALFORMED = (i: number) => `INVITE sip:ctd@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKm${i}\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:ctd@127.0.0.1>\r\nCall-ID: m${i}\r\nCSeq: not-a-number INVITE\r\nContent-Length: 0\r\n\r\n`;

describe('floods at the SIP port', () => {
  test('unsolicited INVITEs and malformed requests are answered up to a rate per source; the call in progress completes', async (t) => {
    const base = await freePortBlock(10);
    const a = await startSippUas(t, { scenario: sharedScenario('uas-answer-reinvite-offer'), port: base + 1, mediaPort: base + 4, transport: 'udp' });
    const b = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: base + 2, mediaPort: base + 7, transport: 'udp' });
    const under = await startEngine(t, base, { defaults: { maxDurationMs: 2500 } });
    const id = 'call_under_flood';
    under.engine.startCall({ id, a: { uri: `<${a.uri('alice')}>`, from: '<sip:ctd@127.0.0.1>' }, b: { uri: `<${b.uri('bob')}>`, from: '<sip:alice@example.com>' } });
    await under.reached(id, 'connected');

    // The garbage: 1,000 malformed requests, bounded, from one socket.
    const garbage = createSocket('udp4');
    let answersToGarbage = 0;
    garbage.on('message', () => answersToGarbage++);
    await new Promise<void>((resolve) => garbage.bind(0, '127.0.0.1', () => resolve()));
    t.after(() => garbage.close());
    const sendGarbage = (async () => {
      for (let i = 0; i < 1000; i++) {
        garbage.send(MALFORMED(i), under.transport.localEndpoint('udp').port, '127.0.0.1');
        if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    // The INVITEs: SIPp's built-in UAC, 400 calls at 200 a second.
    const flood = runSippUac(t, { scenario: '', builtIn: 'uac', traceMessages: false, port: base + 3, mediaPort: base + 8, transport: 'udp', calls: 400, target: `127.0.0.1:${base}`, timeoutSeconds: 6, extraArgs: ['-r', '200', '-l', '400'] });
    await sendGarbage;

    const final = await under.final(id, 15_000);
    assert.equal(final.status, 'completed');
    assert.equal(final.endReason, 'max_duration', 'the call ran its course');
    assert.equal((await a.wait(10_000)).code, 0, await a.report());
    assert.equal((await b.wait(10_000)).code, 0, await b.report());
    await flood;

    const ua = under.engine.stats().ua;
    const answered403 = ua.answeredByCore[403] ?? 0;
    assert.ok(ua.droppedOverSourceRate > 0, 'some INVITEs were dropped');
    // 50 at once, then 20 a second, over a few seconds of flood.
    assert.ok(answered403 >= 50 && answered403 <= 50 + 20 * 10, `403s sent: ${answered403}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stats = under.transport.stats();
    const seen = Object.values(stats.malformed).reduce((sum, count) => sum + count, 0);
    assert.equal(seen, 1000, `every garbage request was seen: ${JSON.stringify(stats.malformed)}`);
    assert.ok(stats.malformedAnswered >= 50 && stats.malformedAnswered <= 50 + 20 * 5, `400s sent: ${stats.malformedAnswered}`);
    assert.equal(answersToGarbage, stats.malformedAnswered);
    await assertEngineClean(under);
  });
});
