/**
 * Redis down and back, with the service running against a Redis of the test's own (a private
 * redis-server on a free port, so that the machine's Redis and other tests are not touched): while
 * it is down POST /v1/calls answers 503 with Retry-After and creates nothing; once it is back the
 * service recovers by itself and a call placed then connects and ends through SIPp parties.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { freePortBlock } from '../support/ports.js';
import { sharedScenario, startSippUas } from '../support/sipp.js';
import { startTestService, waitForCall } from './service.js';

async function startRedis(t: TestContext, port: number): Promise<ChildProcess> {
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' });
  t.after(() => {
    if (redis.exitCode === null) redis.kill('SIGKILL');
  });
  const deadline = Date.now() + 5000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) return redis;
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function stop(redis: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => redis.once('exit', resolve));
  redis.kill('SIGKILL');
  await exited;
}

describe('Redis down and back', () => {
  test('POST /v1/calls answers 503 with Retry-After while Redis is down and creates nothing; the service recovers by itself', async (t) => {
    const base = await freePortBlock(10);
    const redisPort = base + 9;
    const first = await startRedis(t, redisPort);
    const a = await startSippUas(t, { scenario: sharedScenario('uas-answer-reinvite-offer'), port: base + 1, mediaPort: base + 4, transport: 'udp' });
    const b = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: base + 2, mediaPort: base + 7, transport: 'udp' });
    const ctd = await startTestService(t, { sipPort: base, env: { REDIS_URL: `redis://127.0.0.1:${redisPort}` } });
    const body = { a: { uri: a.uri('alice') }, b: { uri: b.uri('bob') }, maxDuration: 1 };

    await stop(first);
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
});
