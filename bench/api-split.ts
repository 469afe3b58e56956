/**
 * bench:api's second layout: the same calls through the API with the roles in two processes, as a
 * deployment runs them (DESIGN.md: API and engines are separate processes): this process runs
 * `ROLES=api,webhooks`, a child runs `ROLES=engine` with its metrics on METRICS_PORT. The time
 * from request to first INVITE comes from the engine's own `ctd_call_dispatch_seconds` histogram
 * (the request's arrival to leg a's INVITE started), read before and after each rate; completed
 * calls from its `ctd_calls_ended_total`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { startService } from '../src/main.js';
import { dropDatabase } from '../src/store/index.js';
import { removeQueueKeys } from '../test/e2e/service.js';
import { freePortBlock } from '../test/support/ports.js';
import { placeCalls } from './call-load.js';
import { processCpuMs, round, sleep, WINDOW_S } from './engine-rig.js';

export interface SplitRow {
  rate: number;
  completedPerSecond: number;
  failed: number;
  p50: number;
  p99: number;
  /** CPU per call of the main thread of this process (API, webhooks) and of the engine process's (GC and other helper threads apart). */
  apiMsPerCall: number;
  engineMsPerCall: number;
  clean: boolean;
}

/** Series of one metric family in a Prometheus exposition: labels text → value. */
function series(text: string, name: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match && match[1] === name) found.set(match[2] ?? '', Number(match[3]));
  }
  return found;
}

interface Scrape {
  completed: number;
  failed: number;
  /** Cumulative bucket counts of ctd_call_dispatch_seconds, by upper bound (s). */
  buckets: [number, number][];
}

async function scrape(port: number): Promise<Scrape> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let completed = 0;
  let failed = 0;
  for (const [labels, value] of series(text, 'ctd_calls_ended_total')) {
    if (labels.includes('status="completed"') && labels.includes('end_reason="max_duration"')) completed += value;
    else failed += value;
  }
  const buckets: [number, number][] = [];
  for (const [labels, value] of series(text, 'ctd_call_dispatch_seconds_bucket')) {
    const le = /le="([^"]+)"/.exec(labels)?.[1];
    if (le) buckets.push([le === '+Inf' ? Infinity : Number(le), value]);
  }
  buckets.sort((x, y) => x[0] - y[0]);
  return { completed, failed, buckets };
}

/** The p-th percentile (ms) of the observations between two scrapes, interpolated within its bucket. */
function quantileMs(before: Scrape, after: Scrape, p: number): number {
  const counts = after.buckets.map(([le, count], i) => [le, count - (before.buckets[i]?.[1] ?? 0)] as const);
  const total = counts.at(-1)?.[1] ?? 0;
  if (total === 0) return NaN;
  const rank = (p / 100) * total;
  let lower = 0;
  let below = 0;
  for (const [le, cumulative] of counts) {
    if (cumulative >= rank) {
      if (le === Infinity) return lower * 1000;
      return (lower + ((le - lower) * (rank - below)) / Math.max(1, cumulative - below)) * 1000;
    }
    lower = le;
    below = cumulative;
  }
  return lower * 1000;
}

function startEngine(env: Record<string, string>, metricsPort: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr!.on('data', (chunk: Buffer) => (errors = (errors + chunk.toString('utf8')).slice(-4000)));
  return (async () => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the engine process exited (${child.exitCode}):\n${errors}`);
      const up = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then(
        (response) => response.ok,
        () => false,
      );
      if (up) return child;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`the engine process was not ready in 30 s:\n${errors}`);
      }
      await sleep(200);
    }
  })();
}

export async function measureSplitRoles(options: { rates: readonly number[]; key: string; body: string }): Promise<SplitRow[]> {
  const database = `ctd_bench_split_${randomBytes(4).toString('hex')}`;
  const shared = {
    DATABASE_URL: `postgresql://postgres:postgres@127.0.0.1:5432/${database}`,
    QUEUE_PREFIX: `bench-split-${randomBytes(4).toString('hex')}`,
    SECRETS_KEY: randomBytes(32).toString('hex'),
    DRAIN_MS: '0',
    LOG_LEVEL: 'warn',
  };
  const api = await startService(loadConfig({ ...shared, ROLES: 'api,webhooks', HTTP_PORT: '0', BOOTSTRAP_API_KEY: options.key }), pino({ level: 'warn' }));
  const ports = await freePortBlock(4);
  const metricsPort = ports + 2;
  const engine = await startEngine({ ...shared, ROLES: 'engine', SIP_PORT: String(ports), ENGINE_ID: 'bench-split-engine', METRICS_PORT: String(metricsPort) }, metricsPort);
  const rows: SplitRow[] = [];
  try {
    for (const rate of options.rates) {
      const before = await scrape(metricsPort);
      const apiCpu = processCpuMs(process.pid, process.pid);
      const engineCpu = processCpuMs(engine.pid!, engine.pid!);
      const load = await placeCalls({ port: api.http!.port, key: options.key, body: options.body, rate, total: Math.round(rate * WINDOW_S) });
      const deadline = performance.now() + 20_000;
      let after = await scrape(metricsPort);
      while (after.completed + after.failed - before.completed - before.failed < load.calls.length && performance.now() < deadline) {
        await sleep(250);
        after = await scrape(metricsPort);
      }
      const completed = after.completed - before.completed;
      const failed = after.failed - before.failed;
      const row: SplitRow = {
        rate,
        completedPerSecond: Math.round((completed / load.windowMs) * 1000),
        failed: failed + load.failed + (load.calls.length - completed - failed),
        p50: round(quantileMs(before, after, 50)),
        p99: round(quantileMs(before, after, 99)),
        apiMsPerCall: round((processCpuMs(process.pid, process.pid) - apiCpu) / Math.max(1, completed)),
        engineMsPerCall: round((processCpuMs(engine.pid!, engine.pid!) - engineCpu) / Math.max(1, completed)),
        clean: false,
      };
      row.clean = row.failed === 0;
      rows.push(row);
      console.log(
        `  ${String(rate).padStart(4)}  ${String(row.completedPerSecond).padStart(11)}  ${String(row.failed).padStart(6)}  ${`${row.p50} / ${row.p99}`.padStart(32)}  ${`${row.apiMsPerCall} + ${row.engineMsPerCall}`.padStart(19)}${row.clean ? '' : '  (not clean)'}`,
      );
      if (!row.clean) break;
      await sleep(1000);
    }
  } finally {
    const exited = new Promise((resolve) => engine.once('exit', resolve));
    engine.kill('SIGTERM');
    const killer = setTimeout(() => engine.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
    await api.stop(0);
    await dropDatabase(shared.DATABASE_URL).catch(() => undefined);
    await removeQueueKeys(api.config.redisUrl, shared.QUEUE_PREFIX).catch(() => undefined);
  }
  return rows;
}
