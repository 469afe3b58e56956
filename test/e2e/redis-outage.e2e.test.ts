/**
 * Redis down and back, with the service running against a Redis of the test's own (a private
 * redis-server on a free port, so that the machine's Redis and other tests are not touched): while
 * it is down POST /v1/calls answers 503 with Retry-After and creates nothing; once it is back the
 * service recovers by itself and a call placed then connects and ends through SIPp parties.
 *
 * Under load (operations issue 7): a stream of calls is placed while the private Redis is killed
 * (SIGKILL) and started again on its append-only file, as docs/operations.md says to run it. Every
 * request is answered 202 or 503 + Retry-After, a 503 creates nothing, every 202 is one call
 * started once that completes (calls connected when Redis died too), and calls are accepted again
 * afterwards without anyone restarting the service.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { freePortBlock } from '../support/ports.js';
import { sharedScenario, startSippUas } from '../support/sipp.js';
import { checkStreamThroughOutage, startCallStream } from './call-stream.js';
import { startRedis, stopRedis } from './private-redis.js';
import { startTestService, waitForCall } from './service.js';

describe('Redis down and back', () => {
  test('POST /v1/calls answers 503 with Retry-After while Redis is down and creates nothing; the service recovers by itself', async (t) => {
    const base = await freePortBlock(10);
    const redisPort = base + 9;
    const first = await startRedis(t, redisPort);
    const a = await startSippUas(t, { scenario: sharedScenario('uas-answer-reinvite-offer'), port: base + 1, mediaPort: base + 4, transport: 'udp' });
    const b = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: base + 2, mediaPort: base + 7, transport: 'udp' });
    const ctd = await startTestService(t, { sipPort: base, env: { REDIS_URL: `redis://127.0.0.1:${redisPort}` } });
    const body = { a: { uri: a.uri('alice') }, b: { uri: b.uri('bob') }, maxDuration: 1 };

    await stopRedis(first);
    // ioredis notices the connection is gone at once; give it a moment.
    let down = await ctd.api('/v1/calls', { method: 'POST', body });
    for (let i = 0; i < 40 && down.status !== 503; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      down = await ctd.api('/v1/calls', { method: 'POST', body });
    }
    assert.equal(down.status, 503, JSON.stringify(down.body));
    assert.equal(down.body.code, 'service_unavailable');
    assert.equal(down.headers.get('retry-after'), '2');
    const listed = await ctd.api('/v1/calls');
    assert.equal(listed.status, 200, 'reading calls does not need Redis');
    assert.deepEqual(listed.body.data, [], 'no call was created');
    assert.equal((await fetch(`${ctd.baseUrl}/readyz`)).status, 503);

    await startRedis(t, redisPort); // stopped by the test's after()
    let created = await ctd.api('/v1/calls', { method: 'POST', body });
    const deadline = Date.now() + 20_000;
    while (created.status !== 202 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      created = await ctd.api('/v1/calls', { method: 'POST', body });
    }
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const ended = await waitForCall(ctd, created.body.id as string, (call) => call.status === 'completed', 20_000);
    assert.equal(ended.endReason, 'max_duration');
    assert.equal((await a.wait(10_000)).code, 0, await a.report());
    assert.equal((await b.wait(10_000)).code, 0, await b.report());
    assert.equal((await ctd.api('/v1/calls')).body.data.length, 1, 'exactly one call, placed once');
    assert.equal((await fetch(`${ctd.baseUrl}/readyz`)).status, 200);
  });

  test('killed and restarted while calls are being placed: 503 meanwhile, every accepted call placed once and completed, recovery by itself', async (t) => {
    const base = await freePortBlock(10);
    const redisPort = base + 9;
    const dir = mkdtempSync(join(tmpdir(), 'ctd-redis-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const first = await startRedis(t, redisPort, dir);
    const a = await startSippUas(t, { scenario: sharedScenario('uas-answer-reinvite-offer'), port: base + 1, mediaPort: base + 4, transport: 'udp', calls: 10_000, timeoutSeconds: 120 });
    const b = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: base + 2, mediaPort: base + 7, transport: 'udp', calls: 10_000, timeoutSeconds: 120 });
    const started = new Map<string, number>();
    const ctd = await startTestService(t, {
      sipPort: base,
      env: { REDIS_URL: `redis://127.0.0.1:${redisPort}` },
      hooks: { onCallStarted: (job) => void started.set(job.callId, (started.get(job.callId) ?? 0) + 1) },
    });
    const stream = startCallStream(ctd, { rate: 15, maxInFlight: 50, body: (i) => ({ a: { uri: a.uri(`alice${i}`) }, b: { uri: b.uri(`bob${i}`) }, maxDuration: 2 }) });
    t.after(() => stream.stop());

    // Calls going on, some connected, when Redis dies; down for 3 s: longer than the calls' 2 s,
    // so calls connected at the kill end during it.
    await checkStreamThroughOutage(t, {
      ctd,
      stream,
      started,
      parties: [a, b],
      what: 'Redis was killed',
      fault: () => stopRedis(first),
      // Stopped by the test's after().
      recover: async () => {
        await startRedis(t, redisPort, dir);
      },
      downMs: 3000,
      recoverWithinMs: 20_000,
      completeWithinMs: 30_000,
    });
  });
});
