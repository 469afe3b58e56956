/**
 * npm run bench:webhooks — webhook deliveries per second to a local receiver that answers at once,
 * and the delay from the state change (the event row's time, written by the engine's batched
 * writer) to the receiver, at 100 and 1,000 events per second, a few seconds each. The whole path
 * is real: event writer → outbox → dispatcher → BullMQ (Redis) → delivery worker (SSRF guard,
 * Standard Webhooks signature, http.request) → receiver, with every attempt recorded in PostgreSQL.
 * The writer and the receiver run in this process, the webhooks role in a child process (as it
 * would beside an engine); one endpoint subscribed to every event.
 *
 * Creates and drops its own database on BENCH_DATABASE_URL's server and uses its own BullMQ prefix.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import pg from 'pg';
import { dropDatabase, ensureDatabase, migrate, Store } from '../src/store/index.js';

const SERVER_URL = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres:postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const RATES = (process.env.BENCH_RATES ?? '100,1000').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const CALLS = 500;

const url = new URL(SERVER_URL);
url.pathname = `/ctd_bench_${randomBytes(5).toString('hex')}`;
const databaseUrl = url.toString();
const prefix = `ctd-bench-${randomBytes(4).toString('hex')}`;

interface Row {
  rate: number;
  events: number;
  delivered: number;
  deliveriesPerSec: number;
  p50: number;
  p99: number;
  max: number;
  childCpuPct: number;
}

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

async function main(): Promise<void> {
  await ensureDatabase(databaseUrl);
  await migrate(databaseUrl);
  const store = new Store({ databaseUrl, encryptionKey: Buffer.alloc(32, 9), poolSize: 4, writerPoolSize: 4 });
  const raw = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const children: ReturnType<typeof spawn>[] = [];
  try {
    const delays: number[] = [];
    let received = 0;
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const now = Date.now();
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { timestamp: string };
        delays.push(now - Date.parse(body.timestamp));
        received++;
        response.end('ok');
      });
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;

    const account = await store.createAccount('Bench');
    await store.webhookEndpoints.createWebhookEndpoint(account.id, { url: receiverUrl });
    const callIds: string[] = [];
    for (let i = 0; i < CALLS; i++) {
      callIds.push((await store.createCall(account.id, { a: { uri: `sip:a${i}@192.0.2.1`, callerId: '<sip:ctd@example>' }, b: { uri: 'sip:b@192.0.2.2', callerId: '<sip:ctd@example>' } })).call.id);
    }

    // BENCH_PROCESSES webhooks processes (default 1): the role scales out like the engines.
    const processes = Number(process.env.BENCH_PROCESSES ?? 1);
    const cpuOf: Array<{ user: number; system: number } | undefined> = [];
    for (let index = 0; index < processes; index++) {
      const child = spawn(process.execPath, [...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/whprof'] : []), '--import', 'tsx', 'bench/webhooks-role.child.ts'], {
        env: { ...process.env, BENCH_CHILD_DATABASE_URL: databaseUrl, BENCH_CHILD_REDIS_URL: REDIS_URL, BENCH_CHILD_PREFIX: prefix },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      cpuOf.push(undefined);
      child.stdout!.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n')) if (line.startsWith('{')) cpuOf[index] = JSON.parse(line) as { user: number; system: number };
      });
    }
    const childCpu = (): { user: number; system: number } =>
      cpuOf.reduce<{ user: number; system: number }>((sum, cpu) => ({ user: sum.user + (cpu?.user ?? 0), system: sum.system + (cpu?.system ?? 0) }), { user: 0, system: 0 });
    while (cpuOf.some((cpu) => cpu === undefined)) await new Promise((resolve) => setTimeout(resolve, 20));

    const sequences = new Map<string, number>();
    let written = 0;
    const writeEvent = (): void => {
      const callId = callIds[written % CALLS]!;
      const sequence = (sequences.get(callId) ?? 0) + 1;
      sequences.set(callId, sequence);
      written++;
      void store.writeChange({ callId, accountId: account.id, callUpdate: { status: 'calling_a' }, legUpdate: { leg: 'a', status: 'ringing' }, event: { sequence, type: 'call.leg.ringing', leg: 'a', status: 'ringing', sip: { code: 180, reason: 'Ringing' }, payload: {} } });
    };

    const rows: Row[] = [];
    for (const rate of [RATES[0]!, ...RATES]) {
      const warmup = written === 0;
      delays.length = 0;
      received = 0;
      const total = Math.round(rate * (warmup ? 1 : SECONDS));
      const cpuBefore = childCpu();
      const started = performance.now();
      let sent = 0;
      // Paced in 10 ms ticks: each tick writes what the rate owes by then.
      await new Promise<void>((resolve) => {
        const tick = setInterval(() => {
          const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
          while (sent < due) {
            writeEvent();
            sent++;
          }
          if (sent >= total) {
            clearInterval(tick);
            resolve();
          }
        }, 10);
      });
      const depth = await raw.query<{ outbox: number; pending: number }>(`SELECT (SELECT count(*) FROM outbox)::int AS outbox, (SELECT count(*) FROM webhook_delivery WHERE status = 'pending')::int AS pending`);
      if (process.env.BENCH_DEBUG) console.error(`rate ${rate}: after writing, outbox ${depth.rows[0]!.outbox}, pending deliveries ${depth.rows[0]!.pending}, received ${received}/${total}`);
      const deadline = performance.now() + 30_000;
      while (received < total && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      const seconds = (performance.now() - started) / 1000;
      const cpuAfter = childCpu();
      if (warmup) continue;
      const sorted = [...delays].sort((x, y) => x - y);
      rows.push({
        rate,
        events: total,
        delivered: received,
        deliveriesPerSec: received / seconds,
        p50: quantile(sorted, 0.5),
        p99: quantile(sorted, 0.99),
        max: sorted.at(-1) ?? NaN,
        childCpuPct: ((cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system) / 1000 / (seconds * 1000)) * 100,
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const recorded = (await raw.query<{ n: number }>(`SELECT count(*)::int AS n FROM webhook_delivery WHERE status = 'succeeded'`)).rows[0]!.n;
    server.closeAllConnections();
    server.close();

    console.log('rate (ev/s) | events | delivered | deliveries/s | p50 delay ms | p99 delay ms | max ms | webhooks processes CPU');
    for (const row of rows) {
      console.log(
        `${String(row.rate).padStart(11)} | ${String(row.events).padStart(6)} | ${String(row.delivered).padStart(9)} | ${row.deliveriesPerSec.toFixed(0).padStart(12)} | ${String(row.p50).padStart(12)} | ${String(row.p99).padStart(12)} | ${String(row.max).padStart(6)} | ${row.childCpuPct.toFixed(0)} %`,
      );
    }
    console.log(`${processes} webhooks process(es), ${Number(process.env.WEBHOOK_CONCURRENCY ?? 64)} deliveries in flight each, ${Number(process.env.WEBHOOK_ENDPOINT_CONCURRENCY ?? 20)} per endpoint; load average ${loadavg().map((load) => load.toFixed(1)).join(' ')} on ${cpus().length} CPUs`);
    console.log(`deliveries recorded as succeeded in PostgreSQL: ${recorded} (of ${written} events written, warm-up included)`);
    const top = rows.at(-1)!;
    console.log(JSON.stringify({ eventsPerSec: Math.round(top.deliveriesPerSec), p50DelayMs: top.p50, p99DelayMs: top.p99 }));
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await raw.end();
    await store.close();
    await dropDatabase(databaseUrl).catch(() => undefined);
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  }
}

await main();
