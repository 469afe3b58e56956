/**
 * The service as separate processes for end-to-end tests of several engines: each role runs as a
 * child `node --import tsx src/main.ts` with its own environment (ROLES, ENGINE_ID, SIP_PORT…),
 * as in production, so a test can kill -9 one of them. Every child is killed by PID when the test
 * ends. Each test gets its own database and its own queues (QUEUE_PREFIX), so that the engines
 * of tests running at the same time never take each other's jobs; both are removed at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { dropDatabase } from '../../src/store/index.js';
import { removeQueueKeys, untilReady, type ApiBody } from './service.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PROCESS_BOOTSTRAP_KEY = 'ctd_e2e_processes_key_0123456789abcdef';

export interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (null after a signal) and the signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The child's log lines (pino JSON) so far, parsed. */
  logs(): Record<string, unknown>[];
  /** The last lines of output, for assertion messages. */
  tail(): string;
}

export interface Deployment {
  databaseUrl: string;
  redisUrl: string;
  /** SQL against the deployment's database (a test's direct look at the rows). */
  query<T extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Starts a process with these roles and settings; resolves once it says it is ready (an API: once /readyz says so). */
  start(name: string, env: Record<string, string>): Promise<ServiceProcess>;
  api(baseUrl: string, path: string, init?: { method?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: ApiBody }>;
}

export async function createDeployment(t: TestContext): Promise<Deployment> {
  const databaseUrl = `postgresql://postgres:postgres@127.0.0.1:5432/ctd_e2e_${randomBytes(4).toString('hex')}`;
  const redisUrl = 'redis://127.0.0.1:6379';
  const queuePrefix = `e2e-${randomBytes(4).toString('hex')}`;
  const secretsKey = randomBytes(32).toString('hex');
  const children: ServiceProcess[] = [];
  let pool: pg.Pool | undefined;
  t.after(async () => {
    for (const child of children) {
      if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
    }
    await Promise.all(children.map((child) => child.exited));
    await pool?.end();
    await dropDatabase(databaseUrl).catch(() => undefined);
    await removeQueueKeys(redisUrl, queuePrefix).catch(() => undefined);
  });
  return {
    databaseUrl,
    redisUrl,
    async query(sql, params = []) {
      if (!pool) {
        pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
        // A client still closing when after() drops the database hears the server end it; without a
        // listener that 'error' would be thrown into whatever test runs then.
        pool.on('error', () => undefined);
      }
      return (await pool.query(sql, params)).rows;
    },
    async start(name, env) {
      const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'main.ts')], {
        cwd: REPO,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          DATABASE_URL: databaseUrl,
          REDIS_URL: redisUrl,
          QUEUE_PREFIX: queuePrefix,
          SECRETS_KEY: secretsKey,
          LOG_LEVEL: 'info',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const lines: Record<string, unknown>[] = [];
      let text = '';
      const take = (chunk: Buffer): void => {
        text = (text + chunk.toString('utf8')).slice(-64 * 1024);
        for (const line of chunk.toString('utf8').split('\n')) {
          if (!line.startsWith('{')) continue;
          try {
            lines.push(JSON.parse(line) as Record<string, unknown>);
          } catch {
            // a line cut between two chunks: the tail keeps it for the report
          }
        }
      };
      child.stdout!.on('data', take);
      child.stderr!.on('data', take);
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
      const handle: ServiceProcess = { name, child, pid: child.pid ?? -1, exited, logs: () => lines, tail: () => `--- ${name} (pid ${child.pid}) ---\n${text.slice(-6000)}` };
      children.push(handle);
      const roles = (env.ROLES ?? 'api,engine,webhooks').split(',');
      const ready = (): boolean =>
        (!roles.includes('engine') || lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('engine ready'))) &&
        (!roles.includes('api') || lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('API listening')));
      const deadline = Date.now() + 60_000;
      while (!ready()) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited before it was ready\n${handle.tail()}`);
        if (Date.now() > deadline) throw new Error(`${name} was not ready within 60 s\n${handle.tail()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      if (roles.includes('api') && env.HTTP_PORT) await untilReady(`http://127.0.0.1:${env.HTTP_PORT}`);
      return handle;
    },
    async api(baseUrl, path, init = {}) {
      const headers: Record<string, string> = { authorization: `Bearer ${PROCESS_BOOTSTRAP_KEY}`, ...init.headers };
      if (init.body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(`${baseUrl}${path}`, { method: init.method ?? 'GET', headers, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });
      const text = await response.text();
      return { status: response.status, body: text ? (JSON.parse(text) as ApiBody) : {} };
    },
  };
}

/** Polls `check` until it returns a value (not undefined), at most `timeoutMs`. */
export async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
