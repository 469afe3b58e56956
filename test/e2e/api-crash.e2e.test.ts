/**
 * An API process killed (kill -9) between writing a call's row and queueing its originate job:
 * the client saw no answer and retries with the same Idempotency-Key, as it should. The retry must
 * place the call, once: before, it answered 202 with the call that already existed, and that call
 * stayed `queued` forever, since no job for it would ever exist.
 *
 * To stop the API exactly there, the test's private Redis is paused for writes (CLIENT PAUSE WRITE,
 * which holds the scripts BullMQ adds jobs with): the API still counts it reachable, writes the
 * row, and its job waits in Redis's input; the kill drops it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test, type TestContext } from 'node:test';
import { freePortBlock } from '../support/ports.js';
import { sharedScenario, startSippUas } from '../support/sipp.js';
import { startRedis } from './private-redis.js';
import { createDeployment, eventually, PROCESS_BOOTSTRAP_KEY } from './processes.js';

/** The API killed between the row and the job; the test's own Redis paused for writes meanwhile. */
async function crashMidRequest(t: TestContext, engineEnv: Record<string, string> = {}) {
  const ports = await freePortBlock(10);
  const redisPort = ports + 9;
  await startRedis(t, redisPort);
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const redisCli = (...args: string[]): string => execFileSync('redis-cli', ['-p', String(redisPort), ...args], { encoding: 'utf8', timeout: 5000 });
  const deployment = await createDeployment(t);
  const a = await startSippUas(t, { scenario: sharedScenario('uas-answer-reinvite-offer'), port: ports + 3, mediaPort: ports + 4, transport: 'udp', calls: 1 });
  const b = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: ports + 5, mediaPort: ports + 7, transport: 'udp', calls: 1 });
  const apiEnv = { ROLES: 'api', HTTP_PORT: String(ports), BOOTSTRAP_API_KEY: PROCESS_BOOTSTRAP_KEY, REDIS_URL: redisUrl };
  const api = await deployment.start('api', apiEnv);
  const engine = await deployment.start('engine', { ROLES: 'engine', ENGINE_ID: 'engine-one', SIP_PORT: String(ports + 1), REDIS_URL: redisUrl, DRAIN_MS: '0', ...engineEnv });
  const baseUrl = `http://127.0.0.1:${ports}`;
  const request = { method: 'POST', body: { a: { uri: a.uri('alice') }, b: { uri: b.uri('bob') }, maxDuration: 1 }, headers: { 'idempotency-key': 'crash-1' } };

  // At most 10 s; unpaused as soon as the API is dead (and killed with the test, if it fails first).
  redisCli('CLIENT', 'PAUSE', '10000', 'WRITE');
  const first = deployment.api(baseUrl, '/v1/calls', request).then(
    (answer) => answer.status,
    () => 'no answer',
  );
  const [row] = await eventually('the call row written', 8000, async () => {
    const rows = await deployment.query<{ id: string }>('SELECT id FROM call');
    return rows.length > 0 ? rows : undefined;
  });
  api.child.kill('SIGKILL');
  await api.exited;
  assert.equal(await first, 'no answer');
  redisCli('CLIENT', 'UNPAUSE');
  return { deployment, apiEnv, engine, baseUrl, request, callId: row!.id, parties: [a, b] };
}

/** The call as the API shows it once it has `status`; on a timeout, the row and the engine's log. */
async function callReaching(
  { deployment, engine, baseUrl, callId }: Pick<Awaited<ReturnType<typeof crashMidRequest>>, 'deployment' | 'engine' | 'baseUrl' | 'callId'>,
  status: string,
  timeoutMs: number,
) {
  return eventually(`the call ${status}`, timeoutMs, async () => {
    const call = (await deployment.api(baseUrl, `/v1/calls/${callId}`)).body;
    return call.status === status ? call : undefined;
  }).catch(async (error: Error) => {
    const [call] = await deployment.query('SELECT status, engine_id, created_at FROM call WHERE id = $1', [callId]);
    return assert.fail(`${error.message}: ${JSON.stringify(call)}\n${engine.tail()}`);
  });
}

async function eventsOf(deployment: Awaited<ReturnType<typeof createDeployment>>, callId: string) {
  return deployment.query<{ sequence: number; type: string }>('SELECT sequence, type FROM call_event WHERE call_id = $1 ORDER BY sequence', [callId]);
}

describe('an API process killed mid-request', () => {
  test('killed between the call row and its originate job: the retry with the same Idempotency-Key places that call, once', async (t) => {
    const { deployment, apiEnv, engine, baseUrl, request, callId, parties } = await crashMidRequest(t);
    await deployment.start('api-again', apiEnv);
    const retry = await deployment.api(baseUrl, '/v1/calls', request);
    assert.equal(retry.status, 202, JSON.stringify(retry.body));
    assert.equal(retry.body.id, callId, 'the same call back');
    const ended = await callReaching({ deployment, engine, baseUrl, callId }, 'completed', 20_000);
    assert.equal(ended.endReason, 'max_duration');
    // Placed once: each SIPp party took exactly one call and exited by itself after it.
    for (const party of parties) {
      assert.equal((await party.wait(10_000)).code, 0, await party.report());
      assert.equal(Number((await party.stats()).TotalCallCreated), 1);
    }
    assert.equal((await deployment.query('SELECT id FROM call')).length, 1, 'one call');
    const events = await eventsOf(deployment, callId);
    assert.deepEqual(events.map((event) => event.sequence), events.map((_, i) => i + 1));
    assert.deepEqual([events[0]?.type, events.at(-1)?.type], ['call.queued', 'call.completed']);
  });

  test('killed there and the client never retries: the call is ended after CALL_QUEUE_TIMEOUT_MS, failed with queue_timeout, never placed', async (t) => {
    const { deployment, apiEnv, engine, baseUrl, callId, parties } = await crashMidRequest(t, { CALL_QUEUE_TIMEOUT_MS: '3000', ENGINE_FAILOVER_MS: '2000' });
    await deployment.start('api-again', apiEnv);
    const ended = await callReaching({ deployment, engine, baseUrl, callId }, 'failed', 15_000);
    assert.deepEqual([ended.endReason, ended.a.status, ended.b.status, ended.connectedAt], ['queue_timeout', 'idle', 'idle', null]);
    const events = await eventsOf(deployment, callId);
    assert.deepEqual(events.map((event) => [event.sequence, event.type]), [[1, 'call.queued'], [2, 'call.failed']]);
    // Never placed: neither SIPp party saw an INVITE.
    for (const party of parties) assert.equal(Number((await party.stats()).TotalCallCreated), 0, await party.report());
    assert.match(engine.tail(), /CALL_QUEUE_TIMEOUT_MS/, 'the engine said so in its log');
  });
});
