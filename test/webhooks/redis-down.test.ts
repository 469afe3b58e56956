/**
 * Redis down loses nothing: with a Redis of its own (a redis-server started for this test, without
 * persistence), the service delivers; Redis is killed -9 while events keep being written (they stay
 * in the outbox) and while a retry waits in Redis (its job dies with Redis); a new, empty Redis
 * comes up on the same port; every event is delivered, the waiting retry included (the reconciler
 * finds the pending delivery whose job is gone and adds it again).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { describe, test } from 'node:test';
import { freePortBlock } from '../support/ports.js';
import { startReceiver } from './receiver.js';
import { startWebhookService } from './webhooks-service.js';

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code})`)));
  });
  return child;
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('webhooks with Redis down', () => {
  test('events written while Redis is down, and a retry whose job died with Redis, are all delivered once it is back', { timeout: 90_000 }, async (t) => {
    const port = await freePortBlock(1);
    let redis = await startRedis(port);
    const ctd = await startWebhookService(t, { REDIS_URL: `redis://127.0.0.1:${port}`, WEBHOOK_RETRY_DELAYS: '3s,100ms', WEBHOOK_RECONCILE_MS: '500' });
    // After hooks run in the order they were added: the service stops (closing its queues on a
    // live Redis) before its Redis goes.
    t.after(() => kill(redis));
    let failFirst = true;
    const receiver = await startReceiver(t, (item) => {
      // The first delivery of the first call fails once: its retry then waits 3 s in Redis.
      if (failFirst && item.event?.type === 'call.queued') {
        failFirst = false;
        return { status: 503, body: 'deploying' };
      }
      return { status: 200, body: 'ok' };
    });
    const endpoint = (await ctd.api('/v1/webhook-endpoints', { method: 'POST', body: { url: receiver.url } })).body;
    receiver.secrets = [endpoint.secret];

    const first = await ctd.newCall();
    await receiver.waitFor((got) => got.length >= 1);
    await ctd.change(first, 2, 'call.leg.calling', { status: 'calling_a', leg: 'a', legStatus: 'calling' });
    await receiver.waitFor((got) => got.some((item) => item.event.data.sequence === 2));
    // The retry of call.queued is now a delayed job in Redis. Redis dies, and its data with it.
    await kill(redis);
    const during: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = await ctd.newCall();
      await ctd.change(id, 2, 'call.leg.calling', { status: 'calling_a', leg: 'a', legStatus: 'calling' });
      during.push(id);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    redis = await startRedis(port);

    const store = ctd.service.store;
    const expected = new Set<string>();
    for (const id of [first, ...during]) for (const event of (await store.callEvents(ctd.accountId, id))!) expected.add(event.id);
    assert.equal(expected.size, 12);
    const queuedOfFirst = (await store.callEvents(ctd.accountId, first))![0]!;
    // Every event arrives; the one that failed before Redis died arrives a second time (its retry).
    await receiver.waitFor((got) => [...expected].every((id) => got.some((item) => item.id === id)) && got.filter((item) => item.id === queuedOfFirst.id).length >= 2, 45_000);
    assert.ok(receiver.received.every((item) => item.verifiedWith.length === 1));
    for (let i = 0; i < 40; i++) {
      const page = (await ctd.api(`/v1/webhook-endpoints/${endpoint.id}/deliveries?limit=100`)).body.data as { status: string }[];
      if (page.length === 12 && page.every((delivery) => delivery.status === 'succeeded')) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.fail('not every delivery is logged as succeeded');
  });
});
