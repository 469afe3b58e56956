/**
 * The engine's SIP log: onSipLog gets every message of a call with its whole text (as received,
 * or as sent), for the dashboard's ladder, while the engine's own per-call log keeps first lines
 * only (when it keeps one at all, `keepSipLog`): a held call must not hold its messages' texts in memory.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SipLogEntry } from '../../src/engine/index.js';
import { freePortBlock } from '../support/ports.js';
import { parseSippMessages, sharedScenario, startSippUas } from '../support/sipp.js';
import { startEngine } from './harness.js';

test('onSipLog gets each message whole; the in-memory log keeps only first lines', async (t) => {
  const base = await freePortBlock(10);
  const a = await startSippUas(t, { scenario: sharedScenario('uas-answer-reinvite-offer'), port: base + 1, mediaPort: base + 4, transport: 'udp' });
  const b = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: base + 2, mediaPort: base + 7, transport: 'udp' });
  const logged: SipLogEntry[] = [];
  const under = await startEngine(t, base, { onSipLog: (_callId, entry) => logged.push(entry), keepSipLog: true });
  const id = 'call_siplog';
  under.engine.startCall({ id, flow: 'III', a: { uri: `<${a.uri('alice')}>`, from: '<sip:ctd@127.0.0.1>' }, b: { uri: `<${b.uri('bob')}>`, from: '<sip:ctd@127.0.0.1>' } });
  await under.reached(id, 'connected');
  under.engine.hangup(id);
  await under.final(id);
  assert.equal((await a.wait(10_000)).code, 0, await a.report());
  assert.equal((await b.wait(10_000)).code, 0, await b.report());

  assert.ok(logged.length >= 12, `${logged.length} messages`);
  for (const entry of logged) {
    assert.equal(typeof entry.message, 'string', entry.line);
    const first = /^\d{3} /.test(entry.line) ? `SIP/2.0 ${entry.line.replace(/ \([^)]*\)$/, '')}` : `${entry.line} SIP/2.0`;
    assert.ok(entry.message!.startsWith(`${first}\r\n`), `${entry.line}: ${JSON.stringify(entry.message!.slice(0, 80))}`);
    assert.match(entry.message!, /\r\nCall-ID: |\r\ni: /i);
  }
  // What A sent us is what we logged, byte for byte (the 200 OK to the first INVITE, with its SDP).
  const fromA = parseSippMessages(await a.messages()).filter((m) => m.direction === 'sent' && m.text.startsWith('SIP/2.0 200 OK'));
  const ok = logged.find((entry) => entry.leg === 'a' && entry.direction === 'in' && entry.line === '200 OK (1 INVITE)');
  assert.ok(ok && fromA.some((m) => m.text.trim() === ok.message!.trim()), 'the received 200 OK is kept as received');
  assert.match(ok!.message!, /\r\n\r\nv=0\r\n/, 'with its body');

  const kept = under.engine.sipLog(id);
  assert.equal(kept.length, logged.length);
  assert.ok(kept.every((entry) => !('message' in entry)), 'the engine keeps no message text');
});
