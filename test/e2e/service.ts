/**
 * The whole service for end-to-end tests: a fresh database (created, migrated, dropped at the end),
 * the real Redis, the API on a free port and an engine on a free SIP port, with a bootstrap key.
 */
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../../src/config.js';
import { startService, type RunningService, type ServiceHooks } from '../../src/main.js';
import { dropDatabase } from '../../src/store/index.js';

/** A JSON answer of the API, read loosely: the tests assert on its fields. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ApiBody = Record<string, any>;

export const BOOTSTRAP_KEY = 'ctd_e2e_bootstrap_key_0123456789abcdef';

export interface ServiceUnderTest {
  service: RunningService;
  baseUrl: string;
  sipPort: number;
  /** fetch() against the API with the bootstrap key. */
  api(path: string, init?: { method?: string; body?: unknown; headers?: Record<string, string>; key?: string }): Promise<{ status: number; body: ApiBody; headers: Headers }>;
}

export async function startTestService(t: TestContext, options: { sipPort: number; env?: Record<string, string>; logger?: Logger; hooks?: ServiceHooks }): Promise<ServiceUnderTest> {
  const database = `ctd_e2e_${randomBytes(4).toString('hex')}`;
  const config = loadConfig({
    DATABASE_URL: `postgresql://postgres:postgres@127.0.0.1:5432/${database}`,
    HTTP_PORT: '0',
    SIP_PORT: String(options.sipPort),
    BOOTSTRAP_API_KEY: BOOTSTRAP_KEY,
    SECRETS_KEY: randomBytes(32).toString('hex'),
    ENGINE_ID: `e2e-${randomBytes(3).toString('hex')}`,
    // Its own queues: another service on the same Redis (a test running beside it) would take its jobs.
    QUEUE_PREFIX: `e2e-${randomBytes(4).toString('hex')}`,
    DRAIN_MS: '0',
    ...options.env,
  });
  const service = await startService(config, options.logger ?? pino({ level: process.env.E2E_LOG ?? 'silent' }), options.hooks);
  t.after(async () => {
    await service.stop(0);
    await dropDatabase(config.databaseUrl).catch(() => undefined);
    await removeQueueKeys(config.redisUrl, config.queuePrefix).catch(() => undefined);
  });
  const baseUrl = `http://127.0.0.1:${service.http!.port}`;
  return {
    service,
    baseUrl,
    sipPort: service.sip?.port ?? options.sipPort,
    async api(path, init = {}) {
      const headers: Record<string, string> = { authorization: `Bearer ${init.key ?? BOOTSTRAP_KEY}`, ...init.headers };
      if (init.body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(`${baseUrl}${path}`, { method: init.method ?? 'GET', headers, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
    },
  };
}

/** Polls GET /v1/calls/{id} until `done(call)` (bounded). */
export async function waitForCall(service: ServiceUnderTest, id: string, done: (call: ApiBody) => boolean, timeoutMs = 15_000): Promise<ApiBody> {
  const deadline = Date.now() + timeoutMs;
  let last: ApiBody = {};
  while (Date.now() < deadline) {
    last = (await service.api(`/v1/calls/${id}`)).body;
    if (done(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`call ${id} did not get there in ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

/** Deletes this run's BullMQ keys (its QUEUE_PREFIX is its own), so that the shared Redis does not fill up with test queues. */
async function removeQueueKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
