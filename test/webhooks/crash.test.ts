/**
 * The outbox under SIGKILL. A child writes call state changes with their events (the engine's
 * batched writer) while it is killed -9 again and again; another child runs the webhooks role
 * and is killed -9 again and again too. Afterwards: every persisted state change has its event
 * (sequences 1..last_sequence, no gaps, the call's status and legs matching its last event) —
 * state and event cannot part, being one statement — and once a last webhooks process has run,
 * every event reached the receiver, each at least once; after dropping repeats by webhook-id
 * (which the Standard Webhooks spec asks receivers to do), exactly once. Repeats can only come
 * from a worker killed between the receiver's answer and the record of the attempt.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { openStore, createTestDatabase } from '../store/store-fixture.js';
import { startReceiver } from './receiver.js';

const STATUS_AFTER = ['', 'queued', 'calling_a', 'calling_a', 'calling_b', 'connected', 'completed'];

function startChild(role: 'writer' | 'webhooks', env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/webhooks/crash-child.ts'], {
    env: { ...process.env, ...env, CHILD_ROLE: role },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`${role} child exited (${code}) before it was ready`)));
  });
}

function kill(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const between = (low: number, high: number): number => low + Math.floor(Math.random() * (high - low));

describe('the outbox under kill -9', () => {
  test('killing the writer and the webhooks role repeatedly loses no event and delivers each once per endpoint', { timeout: 300_000 }, async (t) => {
    const database = await createTestDatabase();
    const store = openStore(database);
    const raw = new pg.Client({ connectionString: database.url });
    await raw.connect();
    const children = new Set<ChildProcess>();
    const queue = `webhooks-crash-${randomBytes(4).toString('hex')}`;
    t.after(async () => {
      for (const child of children) await kill(child);
      // The run's BullMQ and throttle keys (`bull:<queue>:…`) off the shared Redis.
      const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `bull:${queue}:*`, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
      redis.disconnect();
      await raw.end();
      await store.close();
      await database.drop();
    });
    const receiver = await startReceiver(t);
    const account = await store.createAccount('Crash');
    const { endpoint, secret } = await store.webhookEndpoints.createWebhookEndpoint(account.id, { url: receiver.url });
    receiver.secrets = [secret];
    const env = { CRASH_DATABASE_URL: database.url, CRASH_ACCOUNT_ID: account.id, CRASH_QUEUE: queue };

    let writerKills = 0;
    let webhookKills = 0;
    // Until enough happened (however slow the machine), within a bound.
    const giveUpAt = Date.now() + 90_000;
    let enough = false;
    const progress = setInterval(() => {
      void raw.query('SELECT count(*)::int AS n FROM call').then(({ rows }) => {
        if (rows[0].n >= 25 && writerKills >= 4 && webhookKills >= 4) enough = true;
      });
    }, 200);
    const going = (): boolean => !enough && Date.now() < giveUpAt;
    const writerLoop = (async () => {
      while (going()) {
        const child = await startChild('writer', env);
        children.add(child);
        await sleep(between(800, 2000));
        await kill(child);
        children.delete(child);
        writerKills++;
      }
    })();
    const webhookLoop = (async () => {
      while (going()) {
        const child = await startChild('webhooks', env);
        children.add(child);
        await sleep(between(800, 2000));
        await kill(child);
        children.delete(child);
        webhookKills++;
      }
    })();
    await Promise.all([writerLoop, webhookLoop]);
    clearInterval(progress);

    // 1. Every persisted state change has its event: no call is ahead of (or behind) its events.
    const calls = (await raw.query(`
      SELECT c.id, c.status, c.last_sequence, count(e.id)::int AS events, max(e.sequence) AS max_sequence, count(DISTINCT e.sequence)::int AS distinct_sequences,
             (SELECT status FROM leg WHERE call_id = c.id AND name = 'a') AS leg_a, (SELECT status FROM leg WHERE call_id = c.id AND name = 'b') AS leg_b
      FROM call c LEFT JOIN call_event e ON e.call_id = c.id GROUP BY c.id`)).rows;
    assert.ok(calls.length >= 10, `only ${calls.length} calls were made in 90 s`);
    let partial = 0;
    for (const call of calls) {
      assert.equal(call.events, call.last_sequence, `call ${call.id}: ${call.events} events for last_sequence ${call.last_sequence}`);
      assert.equal(call.max_sequence, call.last_sequence);
      assert.equal(call.distinct_sequences, call.events, 'no repeated sequence');
      assert.equal(call.status, STATUS_AFTER[call.last_sequence], `call ${call.id} is ${call.status} after ${call.last_sequence} events`);
      assert.equal(call.leg_a, call.last_sequence >= 3 ? 'answered' : call.last_sequence >= 2 ? 'calling' : 'idle');
      assert.equal(call.leg_b, call.last_sequence >= 4 ? 'calling' : 'idle');
      if (call.last_sequence < 6) partial++;
    }
    assert.ok(partial > 0, 'some calls were cut mid-way by a kill (the test did hit the window)');

    // 2. A last webhooks process delivers the rest.
    const last = await startChild('webhooks', env);
    children.add(last);
    const deadline = Date.now() + 90_000;
    for (;;) {
      const { rows } = await raw.query(`SELECT (SELECT count(*) FROM outbox)::int AS outbox,
        (SELECT count(*) FROM webhook_delivery WHERE status <> 'succeeded')::int AS undelivered,
        (SELECT count(*) FROM call_event)::int AS events, (SELECT count(*) FROM webhook_delivery)::int AS deliveries`);
      const state = rows[0];
      if (state.outbox === 0 && state.undelivered === 0 && state.deliveries === state.events) break;
      if (Date.now() > deadline) {
        const stuck = (await raw.query(`SELECT id, status, attempts, next_attempt_at, error, response_status FROM webhook_delivery WHERE status <> 'succeeded' LIMIT 5`)).rows;
        assert.fail(`not all delivered: ${JSON.stringify(state)} ${JSON.stringify(stuck)}`);
      }
      await sleep(200);
    }
    const eventIds = (await raw.query('SELECT id FROM call_event')).rows.map((row) => row.id as string);
    await receiver.waitFor((got) => new Set(got.map((item) => item.id)).size >= eventIds.length, 30_000);
    const counts = new Map<string, number>();
    for (const item of receiver.received) counts.set(item.id, (counts.get(item.id) ?? 0) + 1);
    assert.deepEqual([...counts.keys()].sort(), eventIds.sort(), 'every event, and nothing else, reached the endpoint');
    assert.ok(receiver.received.every((item) => item.verifiedWith.length === 1), 'all signed');
    const repeats = receiver.received.length - counts.size;
    t.diagnostic(`${calls.length} calls, ${eventIds.length} events; writer killed ${writerKills}×, webhooks role killed ${webhookKills}×; ${repeats} repeated deliveries (same webhook-id) from kills mid-send`);
    // Each kill can repeat at most the deliveries that were in flight (concurrency 16).
    assert.ok(repeats <= webhookKills * 16, `${repeats} repeats for ${webhookKills} kills`);
    assert.equal(endpoint.enabled, true);
  });
});
