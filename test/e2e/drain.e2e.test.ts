/**
 * Graceful shutdown of an engine process (SIGTERM): it takes no new call, lets its live calls run
 * for DRAIN_MS, then ends them with BYE to both SIPp parties, records them `controller_shutdown`
 * and exits 0. A call placed meanwhile stays queued for another engine.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { freePortBlock } from '../support/ports.js';
import { parseSippMessages, sharedScenario, startSippUas } from '../support/sipp.js';
import { createDeployment, eventually, PROCESS_BOOTSTRAP_KEY } from './processes.js';

const DRAIN_MS = 1500;

describe('graceful shutdown', () => {
  test('SIGTERM: no new calls; live calls run for DRAIN_MS, then BYE on both legs, controller_shutdown, exit 0', async (t) => {
    const ports = await freePortBlock(10);
    const deployment = await createDeployment(t);
    const a = await startSippUas(t, { scenario: sharedScenario('uas-answer-reinvite-offer'), port: ports + 3, mediaPort: ports + 4, transport: 'udp', calls: 1, timeoutSeconds: 60 });
    const b = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: ports + 5, mediaPort: ports + 7, transport: 'udp', calls: 1, timeoutSeconds: 60 });
    await deployment.start('api', { ROLES: 'api', HTTP_PORT: String(ports), BOOTSTRAP_API_KEY: PROCESS_BOOTSTRAP_KEY });
    const baseUrl = `http://127.0.0.1:${ports}`;
    const engine = await deployment.start('engine', { ROLES: 'engine', ENGINE_ID: 'engine-draining', SIP_PORT: String(ports + 1), DRAIN_MS: String(DRAIN_MS) });

    const created = await deployment.api(baseUrl, '/v1/calls', { method: 'POST', body: { a: { uri: a.uri('alice') }, b: { uri: b.uri('bob') }, callerId: 'sip:sales@example.com' } });
    assert.equal(created.status, 202);
    const id = created.body.id as string;
    await eventually('connected', 20_000, async () => ((await deployment.api(baseUrl, `/v1/calls/${id}`)).body.status === 'connected' ? true : undefined)).catch((error: Error) =>
      assert.fail(`${error.message}\n${engine.tail()}`),
    );

    const signalledAt = Date.now();
    engine.child.kill('SIGTERM');
    // Draining: a new call is not taken (it waits in the queue for another engine).
    await eventually('the engine says it drains', 10_000, async () => (engine.logs().some((line) => String(line.msg).startsWith('shutting down')) ? true : undefined));
    const later = await deployment.api(baseUrl, '/v1/calls', { method: 'POST', body: { a: { uri: a.uri('carol') }, b: { uri: b.uri('dave') }, callerId: 'sip:sales@example.com' } });
    assert.equal(later.status, 202);
    // Still connected during the drain time.
    await new Promise((resolve) => setTimeout(resolve, DRAIN_MS / 3));
    assert.equal((await deployment.api(baseUrl, `/v1/calls/${id}`)).body.status, 'connected', 'the live call runs on while the engine drains');

    const exit = await engine.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, engine.tail());
    assert.ok(Date.now() - signalledAt >= DRAIN_MS, 'the engine waited for the drain time');

    const ended = (await deployment.api(baseUrl, `/v1/calls/${id}`)).body;
    assert.equal(ended.status, 'completed', JSON.stringify(ended));
    assert.equal(ended.endReason, 'controller_shutdown');
    const events = (await deployment.api(baseUrl, `/v1/calls/${id}/events`)).body.data as { sequence: number; type: string }[];
    assert.deepEqual(events.map((e) => e.sequence), events.map((_, i) => i + 1));
    assert.equal(events[events.length - 1]!.type, 'call.completed');
    assert.equal((await deployment.api(baseUrl, `/v1/calls/${later.body.id}`)).body.status, 'queued', 'the call placed during the drain was not taken');

    // Both parties got their BYE and answered it: SIPp exits 0 after its one call.
    for (const party of [a, b]) {
      assert.equal((await party.wait(15_000)).code, 0, await party.report());
      assert.ok(parseSippMessages(await party.messages()).some((m) => m.direction === 'received' && m.method === 'BYE'));
    }
  });
});
