/**
 * npm run bench:scale — completed calls per second through the API with one engine process and
 * with two, side by side in the same run: one API process (this one), engine processes started as
 * `ROLES=engine` children (their own SIP ports and ENGINE_IDs, one database, one Redis, one queue
 * prefix), SIPp parties answering at once. For each configuration, calls are requested at rising
 * rates (BENCH_RATES, default 100,200,300) for BENCH_WINDOW_S seconds (default 4), each held 1 s;
 * a rate is clean when every call completed. Also reports how the calls spread over the engines.
 * Bounded in time; all traffic on 127.0.0.1. The last line is one JSON object.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import pg from 'pg';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { startService } from '../src/main.js';
import { dropDatabase } from '../src/store/index.js';
import { removeQueueKeys } from '../test/e2e/service.js';
import { freePortBlock } from '../test/support/ports.js';
import { sharedScenario, startSippUas } from '../test/support/sipp.js';
import { cleanups, context, round, sleep } from './engine-rig.js';

const RATES = (process.env.BENCH_RATES ?? '100,200,300').split(',').map(Number);
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 4);
const KEY = 'ctd_scale_bootstrap_key_0123456789abcdef';

function post(port: number, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/v1/calls', method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', () => resolve({ status: 0, text: '' }));
    req.end(body);
  });
}

/** An engine process; resolves once it logged that it is ready. */
function startEngineProcess(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`engine ${env.ENGINE_ID} not ready in 30 s:\n${output}`)), 30_000);
    const seen = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('engine ready')) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout!.on('data', seen);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('exit', (code) => reject(new Error(`engine ${env.ENGINE_ID} exited (${code}):\n${output}`)));
  });
}

async function stopEngineProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(killer);
}

interface Row {
  engines: number;
  rate: number;
  completedPerSecond: number;
  failed: number;
  perEngine: Record<string, number>;
  clean: boolean;
}

async function main(): Promise<void> {
  const base = await freePortBlock(10);
  const a = await startSippUas(context, { scenario: sharedScenario('uas-answer-reinvite-offer'), traceMessages: false, port: base + 1, mediaPort: base + 4, transport: 'udp', calls: 10_000_000, timeoutSeconds: 3600 });
  const b = await startSippUas(context, { scenario: sharedScenario('uas-answer-offer'), traceMessages: false, port: base + 2, mediaPort: base + 7, transport: 'udp', calls: 10_000_000, timeoutSeconds: 3600 });
  const databaseUrl = `postgresql://postgres:postgres@127.0.0.1:5432/ctd_scale_${randomBytes(4).toString('hex')}`;
  const shared = {
    DATABASE_URL: databaseUrl,
    QUEUE_PREFIX: `scale-${randomBytes(4).toString('hex')}`,
    SECRETS_KEY: randomBytes(32).toString('hex'),
    DRAIN_MS: '0',
    LOG_LEVEL: 'info',
  };
  const api = await startService(loadConfig({ ...shared, ROLES: 'api', HTTP_PORT: '0', BOOTSTRAP_API_KEY: KEY, LOG_LEVEL: 'warn' }), pino({ level: 'warn' }));
  const port = api.http!.port;
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const body = JSON.stringify({ a: { uri: a.uri('alice') }, b: { uri: b.uri('bob') }, maxDuration: 1 });
  const sipBase = await freePortBlock(10);

  console.log(`bench:scale — flow III through one API process, 1 then 2 engine processes, hold 1 s, window ${WINDOW_S} s per rate`);
  console.log('  engines  rate  completed/s  failed  calls per engine');
  const rows: Row[] = [];
  for (const engines of [1, 2]) {
    const children: ChildProcess[] = [];
    for (let i = 0; i < engines; i++) {
      children.push(await startEngineProcess({ ...shared, ROLES: 'engine', SIP_PORT: String(sipBase + i * 2), ENGINE_ID: `scale-${engines}-${i}` }));
    }
    await sleep(1000);
    for (const rate of RATES) {
      const total = Math.round(rate * WINDOW_S);
      const ids: string[] = [];
      let refused = 0;
      const pending: Promise<void>[] = [];
      const begin = performance.now();
      let started = 0;
      while (started < total) {
        const due = Math.min(total, Math.floor(((performance.now() - begin) / 1000) * rate));
        for (; started < due; started++) {
          pending.push(
            post(port, body).then((answer) => {
              if (answer.status === 202) ids.push((JSON.parse(answer.text) as { id: string }).id);
              else refused++;
            }),
          );
        }
        await sleep(5);
      }
      await Promise.all(pending);
      const windowMs = performance.now() - begin;
      const deadline = performance.now() + 30_000;
      let counts = { completed: 0, ended: 0 };
      while (performance.now() < deadline) {
        const result = await db.query<{ completed: number; ended: number }>(
          `SELECT count(*) FILTER (WHERE status = 'completed' AND end_reason = 'max_duration')::int AS completed,
                  count(*) FILTER (WHERE status IN ('completed', 'failed', 'canceled'))::int AS ended
           FROM call WHERE id = ANY($1)`,
          [ids],
        );
        counts = result.rows[0]!;
        if (counts.ended === ids.length) break;
        await sleep(500);
      }
      const spread = await db.query<{ engine_id: string; n: number }>(`SELECT engine_id, count(*)::int AS n FROM call WHERE id = ANY($1) GROUP BY engine_id`, [ids]);
      const perEngine = Object.fromEntries(spread.rows.map((row) => [row.engine_id ?? 'none', row.n]));
      const failed = refused + ids.length - counts.completed;
      const row: Row = { engines, rate, completedPerSecond: Math.round((counts.completed / windowMs) * 1000), failed, perEngine, clean: failed === 0 };
      rows.push(row);
      console.log(`  ${String(engines).padStart(7)}  ${String(rate).padStart(4)}  ${String(row.completedPerSecond).padStart(11)}  ${String(failed).padStart(6)}  ${JSON.stringify(perEngine)}${row.clean ? '' : '  (not clean)'}`);
      if (!row.clean) break;
      await sleep(1500);
    }
    for (const child of children) await stopEngineProcess(child);
  }

  await db.end();
  await api.stop(0);
  await dropDatabase(databaseUrl).catch(() => undefined);
  await removeQueueKeys(api.config.redisUrl, shared.QUEUE_PREFIX).catch(() => undefined);
  await a.stop();
  await b.stop();
  for (const fn of cleanups.reverse()) await fn();
  const best = (engines: number) => Math.max(0, ...rows.filter((row) => row.engines === engines && row.clean).map((row) => row.completedPerSecond));
  const one = best(1);
  const two = best(2);
  console.log(`\nhighest clean rate: ${one} calls/s with one engine, ${two} with two (${one > 0 ? round(two / one) : 0}x) on ${(await import('node:os')).cpus().length} cores shared with the API, PostgreSQL, Redis and SIPp`);
  console.log(JSON.stringify({ oneEngineCps: one, twoEnginesCps: two, ratio: one > 0 ? round(two / one) : 0 }));
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  for (const fn of cleanups.reverse()) void fn();
  process.exit(1);
});
