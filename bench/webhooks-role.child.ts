/** The webhooks role of bench:webhooks, in its own process; prints its CPU use every 100 ms. */
import { Redis } from 'ioredis';
import { Store } from '../src/store/index.js';
import { WebhooksRole } from '../src/webhooks/index.js';

const store = new Store({ databaseUrl: process.env.BENCH_CHILD_DATABASE_URL!, encryptionKey: Buffer.alloc(32, 9), poolSize: 4, writerPoolSize: 6 });
const role = new WebhooksRole({
  store,
  settings: {
    queueName: 'webhooks',
    queuePrefix: process.env.BENCH_CHILD_PREFIX!,
    allowPrivate: true,
    timeoutMs: 10_000,
    concurrency: Number(process.env.WEBHOOK_CONCURRENCY ?? 64),
    endpointConcurrency: Number(process.env.WEBHOOK_ENDPOINT_CONCURRENCY ?? 20),
    retryDelaysMs: [5000, 300_000],
    disableAfterMs: 5 * 86_400_000,
  },
  connect: (name) => new Redis(process.env.BENCH_CHILD_REDIS_URL!, { maxRetriesPerRequest: null, connectionName: name }),
  onError: (error) => console.error('webhooks role:', error),
});
role.start();
const report = (): void => {
  const cpu = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ user: cpu.user, system: cpu.system })}\n`);
};
report();
setInterval(report, 100).unref();
process.on('SIGTERM', () => {
  void role.stop().finally(() => void store.close().finally(() => process.exit(0)));
});
