/**
 * A child process for the crash test, killed with SIGKILL at random moments by its parent.
 *   CHILD_ROLE=writer:   writes call state changes with their events as the engine does (the
 *                        batched event writer), call after call, as fast as it can;
 *   CHILD_ROLE=webhooks: runs the webhooks role (dispatcher and delivery worker).
 */
import { Redis } from 'ioredis';
import { Store } from '../../src/store/index.js';
import { WebhooksRole } from '../../src/webhooks/index.js';

const databaseUrl = process.env.CRASH_DATABASE_URL!;
const accountId = process.env.CRASH_ACCOUNT_ID!;
const store = new Store({ databaseUrl, encryptionKey: Buffer.alloc(32, 7), poolSize: 4, writerPoolSize: 4, onError: () => undefined });

const STEPS: ReadonlyArray<{ type: string; status?: 'calling_a' | 'calling_b' | 'connected' | 'completed'; leg?: 'a' | 'b'; legStatus?: 'calling' | 'answered' }> = [
  { type: 'call.leg.calling', status: 'calling_a', leg: 'a', legStatus: 'calling' },
  { type: 'call.leg.answered', leg: 'a', legStatus: 'answered' },
  { type: 'call.leg.calling', status: 'calling_b', leg: 'b', legStatus: 'calling' },
  { type: 'call.connected', status: 'connected' },
  { type: 'call.completed', status: 'completed' },
];

async function oneCall(): Promise<void> {
  const leg = (uri: string) => ({ uri, callerId: '<sip:crash@example.com>' });
  const { call } = await store.createCall(accountId, { a: leg('sip:a@192.0.2.1'), b: leg('sip:b@192.0.2.2'), queuedEvent: true });
  let sequence = 1;
  for (const step of STEPS) {
    sequence += 1;
    await store.writeChange({
      callId: call.id,
      accountId,
      ...(step.status ? { callUpdate: { status: step.status } } : {}),
      ...(step.leg ? { legUpdate: { leg: step.leg, status: step.legStatus! } } : {}),
      event: { sequence, type: step.type, ...(step.leg ? { leg: step.leg } : {}), ...(step.status ? { status: step.status } : {}), payload: {} },
    });
  }
}

if (process.env.CHILD_ROLE === 'writer') {
  // Many calls at once, so that batches of the event writer hold changes of several calls.
  const lanes = Number(process.env.CRASH_LANES ?? 8);
  for (let lane = 0; lane < lanes; lane++) {
    void (async () => {
      for (;;) await oneCall();
    })();
  }
  process.stdout.write('ready\n');
} else {
  const role = new WebhooksRole({
    store,
    settings: {
      queueName: process.env.CRASH_QUEUE!,
      allowPrivate: true,
      timeoutMs: 1000,
      concurrency: 16,
      endpointConcurrency: 8,
      retryDelaysMs: [100, 200, 400, 800],
      disableAfterMs: 86_400_000,
    },
    connect: (name) => new Redis(process.env.CRASH_REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null, connectionName: name }),
    dispatcher: { reclaimAfterMs: 1000, idleMs: 10, reconcileEveryMs: 1000, overdueAfterMs: 3000 },
    worker: { lockDurationMs: 2000 },
  });
  role.start();
  process.stdout.write('ready\n');
}
