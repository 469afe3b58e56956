/**
 * npm run bench:api — calls through the whole service (API, PostgreSQL, BullMQ, engine) against
 * SIPp parties, beside the engine alone in the same run.
 *
 * 1. POST /v1/calls throughput and latency with autocannon (BENCH_API_SECONDS, default 3 s, 16
 *    connections, on a thread of its own): every request is a real call (flow III, held 1 s) and
 *    every state change and event of it is persisted.
 * 2. End to end, one process with every role: calls created through the API at rising rates
 *    (BENCH_RATES, default 50,100,250) for a window each, from a load thread; completed calls per
 *    second (every event written), p50/p99 from the HTTP request to the first INVITE on the wire,
 *    the service thread's CPU per call; the highest rate with no failed call.
 * 2b. The same with the engine in a process of its own (bench/api-split.ts; BENCH_SPLIT=0 skips).
 * 3. The engine alone (no API, no database) at the same rates, for the ratio.
 *
 * Bounded in time; all traffic on 127.0.0.1. Needs PostgreSQL and Redis (npm run prestart);
 * BENCH_DATABASE_URL names another PostgreSQL server to make the bench's databases on.
 * To see where the time goes: BENCH_STAGES=1 splits the time to the first INVITE into its stages
 * (HTTP and insert, queue and pick-up, claim), the CPU into user and kernel time, and shows
 * PostgreSQL's and Redis's CPU and the WAL per call (BENCH_STAGES_FILE=prefix also writes each
 * call's stages, one line a call, to prefix.<rate>.<row>); BENCH_COUNT=1
 * counts the statements and Redis commands per call; BENCH_PROFILE=file.cpuprofile writes a V8
 * CPU profile of phase 2 (DevTools, speedscope); BENCH_PERF=file records it with Linux perf (run
 * with NODE_OPTIONS=--perf-basic-prof for JavaScript names).
 * The last line is one JSON object: apiCps, engineCps, ratio, p50FirstInviteMs, p99FirstInviteMs
 * (at 100/s), createP99Ms, and splitApiCps, splitP99FirstInviteMs for layout 2b.
 */
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { constants as perfConstants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { startService } from '../src/main.js';
import type { SipMessageAny } from '../src/sip/index.js';
import { dropDatabase, withDatabase } from '../src/store/index.js';
import { removeQueueKeys } from '../test/e2e/service.js';
import { freePortBlock } from '../test/support/ports.js';
import { sharedScenario, startSippUas } from '../test/support/sipp.js';
import { measureSplitRoles, type SplitRow } from './api-split.js';
import { placeCalls } from './call-load.js';
import { cleanups, commandCpuMs, context, processCpuMs, processCpuSplitMs, measureRate, percentile, round, sleep, startRig, stopRig, WINDOW_S, endedCalls } from './engine-rig.js';

const RATES = (process.env.BENCH_RATES ?? '50,100,250').split(',').map(Number);
const API_SECONDS = Number(process.env.BENCH_API_SECONDS ?? 3);
const KEY = 'ctd_bench_bootstrap_key_0123456789abcdef';
/** The PostgreSQL server the service's database is made on (as in bench:store and bench:webhooks). */
const SERVER_URL = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres:postgres@127.0.0.1:5432/postgres';

import pgLib from 'pg';
import { Redis as IoRedis } from 'ioredis';
const queryCounts = new Map<string, number>();
if (process.env.BENCH_COUNT) {
  const original = pgLib.Client.prototype.query as (...args: unknown[]) => unknown;
  pgLib.Client.prototype.query = function (this: unknown, ...args: unknown[]) {
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string })?.text ?? '?';
    const key = 'pg ' + text.replace(/\s+/g, ' ').trim().slice(0, 70);
    queryCounts.set(key, (queryCounts.get(key) ?? 0) + 1);
    return original.apply(this, args);
  } as never;
  const send = IoRedis.prototype.sendCommand as (...args: unknown[]) => unknown;
  IoRedis.prototype.sendCommand = function (this: unknown, ...args: unknown[]) {
    const command = args[0] as { name: string; args: unknown[] };
    const key = 'redis ' + command.name + (command.name === 'evalsha' ? ' ' + String(command.args[0]).slice(0, 8) : '');
    queryCounts.set(key, (queryCounts.get(key) ?? 0) + 1);
    return send.apply(this, args);
  } as never;
}
/** CPU of this process's main thread alone (the event loop that carries the calls; the load generator has its own thread), ms. */
function mainThreadCpuMs(): number {
  return processCpuMs(process.pid, process.pid);
}

/** The same, split into user and kernel time (a syscall's cost on this machine is the kernel's part). */
function mainThreadSplit(): { user: number; system: number } {
  return processCpuSplitMs(process.pid, process.pid);
}

/** One row of a statement run on the bench's PostgreSQL server (BENCH_STAGES: the WAL a call costs, all its databases together). */
async function onServer<R extends pgLib.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R> {
  const client = new pgLib.Client({ connectionString: SERVER_URL });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows[0]!;
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const base = await freePortBlock(10);
  const a = await startSippUas(context, { scenario: sharedScenario('uas-answer-reinvite-offer'), traceMessages: false, port: base + 1, mediaPort: base + 4, transport: 'udp', calls: 10_000_000, timeoutSeconds: 3600 });
  const b = await startSippUas(context, { scenario: sharedScenario('uas-answer-offer'), traceMessages: false, port: base + 2, mediaPort: base + 7, transport: 'udp', calls: 10_000_000, timeoutSeconds: 3600 });
  const database = `ctd_bench_${randomBytes(4).toString('hex')}`;
  const config = loadConfig({
    DATABASE_URL: withDatabase(SERVER_URL, database),
    HTTP_PORT: '0',
    SIP_PORT: String(base),
    BOOTSTRAP_API_KEY: KEY,
    SECRETS_KEY: randomBytes(32).toString('hex'),
    DRAIN_MS: '0',
    LOG_LEVEL: 'warn',
    QUEUE_PREFIX: `bench-${randomBytes(4).toString('hex')}`,
    ...(process.env.BENCH_ROLES ? { ROLES: process.env.BENCH_ROLES } : {}),
  });

  // When each call's first INVITE went out (shared clock), joined at the end with when its
  // request was sent: the worker's answer may come after the INVITE.
  const callOfSipCallId = new Map<string, string>();
  const firstInviteAt = new Map<string, number>();
  const started: { service?: Awaited<ReturnType<typeof startService>> } = {};
  const service = await startService(config, pino({ level: 'warn' }), {
    onCallStarted: (job) => {
      const sipCallId = started.service?.sip?.engine.get(job.callId)?.session('a')?.callId;
      if (sipCallId && !firstInviteAt.has(job.callId)) callOfSipCallId.set(sipCallId, job.callId);
    },
  });
  started.service = service;
  // BENCH_STAGES=1: where the time from request to first INVITE goes (shared clock, per call).
  const stageAt = new Map<string, { insertStart?: number; insertEnd?: number; claimStart?: number; claimEnd?: number }>();
  if (process.env.BENCH_STAGES) {
    const clock = (): number => performance.timeOrigin + performance.now();
    const store = service.store;
    const createCall = store.createCall.bind(store);
    store.createCall = async (...args: Parameters<typeof createCall>) => {
      const insertStart = clock();
      const created = await createCall(...args);
      stageAt.set(created.call.id, { insertStart, insertEnd: clock() });
      return created;
    };
    const claim = store.claimQueuedCall.bind(store);
    store.claimQueuedCall = async (callId: string, engineId: string) => {
      const claimStart = clock();
      const claimed = await claim(callId, engineId);
      const stages = stageAt.get(callId);
      if (stages) Object.assign(stages, { claimStart, claimEnd: clock() });
      return claimed;
    };
  }
  const transport = service.sip!.transport;
  const send = transport.send.bind(transport);
  transport.send = (message: SipMessageAny, destination) => {
    if (message.isRequest && message.method === 'INVITE' && callOfSipCallId.size > 0) {
      const callId = callOfSipCallId.get(message.callId);
      if (callId !== undefined) {
        callOfSipCallId.delete(message.callId);
        firstInviteAt.set(callId, performance.timeOrigin + performance.now());
      }
    }
    return send(message, destination);
  };
  const port = service.http!.port;
  const body = JSON.stringify({ a: { uri: a.uri('alice') }, b: { uri: b.uri('bob') }, maxDuration: 1 });

  console.log(`bench:api — flow III through the API, hold 1 s, SIPp parties on UDP 127.0.0.1, window ${WINDOW_S} s per rate`);

  // 1. POST /v1/calls as fast as autocannon drives it.
  const create = await autocannon({
    url: `http://127.0.0.1:${port}/v1/calls`,
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body,
    connections: 16,
    duration: API_SECONDS,
    // On a thread of its own: in the service's event loop the client would be measured as the service.
    workers: 1,
  });
  const createRps = Math.round(create.requests.average);
  const createP50Ms = create.latency.p50;
  const createP99Ms = create.latency.p99;
  console.log(`\nPOST /v1/calls (autocannon, 16 connections, ${API_SECONDS} s): ${createRps} requests/s, p50 ${createP50Ms} ms, p99 ${createP99Ms} ms, non-2xx ${create.non2xx}`);
  const ended = () => endedCalls(service.metrics);
  // Let those calls end (held 1 s each, bounded): the queue may still hold some the engine has not taken.
  const engine = service.sip!.engine;
  for (let i = 0; i < 300; i++) {
    const { completed, failed } = await ended();
    if (completed + failed >= create['2xx'] && engine.liveCalls === 0) break;
    await sleep(200);
  }
  // …and their events leave the outbox, so that the first rate is not measured beside that work.
  for (let i = 0; i < 100 && (await service.store.outbox.outboxDepth()) > 0; i++) await sleep(200);
  await sleep(1000);
  const endedSince = async (before: { completed: number; failed: number }): Promise<{ completed: number; failed: number }> => {
    const now = await ended();
    return { completed: now.completed - before.completed, failed: now.failed - before.failed };
  };

  // 2. End to end at rising rates.
  console.log('\nthrough the API (calls requested per second → results):');
  console.log('  rate  completed/s  failed  p50/p99 request → first INVITE ms  service CPU ms/call');
  const rows: { rate: number; mainMsPerCall: number; completedPerSecond: number; failed: number; p50: number; p99: number; measured: number; clean: boolean }[] = [];
  // BENCH_PERF=file: Linux perf samples of the service thread's CPU (user and kernel) over the
  // end-to-end phase; run with NODE_OPTIONS=--perf-basic-prof so that JavaScript frames have names.
  const perf = process.env.BENCH_PERF ? spawn('perf', ['record', '-F', '499', '-g', '-t', String(process.pid), '-o', process.env.BENCH_PERF], { stdio: 'ignore' }) : undefined;
  const profiler = process.env.BENCH_PROFILE ? new Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  // BENCH_STAGES=1 also shows the event loop's delay and the pauses for garbage collection, which
  // are what the p99 of the stages is made of when the p50 is small.
  const loopDelay = monitorEventLoopDelay({ resolution: 2 });
  const pauses = new Map<string, number[]>();
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR ? 'major' : 'minor/other';
      pauses.set(kind, [...(pauses.get(kind) ?? []), entry.duration]);
    }
  });
  for (const rate of RATES) {
    const before = await ended();
    if (process.env.BENCH_STAGES) {
      loopDelay.reset();
      loopDelay.enable();
      pauses.clear();
      gcObserver.observe({ entryTypes: ['gc'] });
    }
    queryCounts.clear();
    const mainBefore = mainThreadCpuMs();
    const splitBefore = mainThreadSplit();
    const serversBefore = { postgres: commandCpuMs('postgres'), redis: commandCpuMs('redis-server'), walLsn: process.env.BENCH_STAGES ? (await onServer<{ lsn: string }>('SELECT pg_current_wal_lsn() AS lsn')).lsn : '0/0' };
    const total = Math.round(rate * WINDOW_S);
    const load = await placeCalls({ port, key: KEY, body, rate, total });
    const ids = load.calls.map((call) => call.id);
    const failedRequests = load.failed;
    const windowMs = load.windowMs;
    // Counted from the service's own metrics (ended calls by reason), not by reading every call
    // back from the database: the bench must not load the process it measures.
    const deadline = performance.now() + 20_000;
    let { completed, failed } = await endedSince(before);
    while (completed + failed < ids.length && performance.now() < deadline) {
      await sleep(250);
      ({ completed, failed } = await endedSince(before));
    }
    const firstInvite = load.calls.flatMap((call) => {
      const at = firstInviteAt.get(call.id);
      return at === undefined ? [] : [at - call.sentAt];
    });
    const mainMs = mainThreadCpuMs() - mainBefore;
    const row = {
      rate,
      mainMsPerCall: round(mainMs / Math.max(1, completed)),
      completedPerSecond: Math.round((completed / windowMs) * 1000),
      failed: failed + failedRequests + (ids.length - completed - failed),
      p50: round(percentile(firstInvite, 50)),
      p99: round(percentile(firstInvite, 99)),
      measured: firstInvite.length,
      clean: false,
    };
    row.clean = row.failed === 0;
    rows.push(row);
    console.log(`  ${String(rate).padStart(4)}  ${String(row.completedPerSecond).padStart(11)}  ${String(row.failed).padStart(6)}  ${`${row.p50} / ${row.p99}`.padStart(32)}  ${String(row.mainMsPerCall).padStart(19)}${row.clean ? '' : '  (not clean)'}`);
    if (process.env.BENCH_STAGES) {
      const split = mainThreadSplit();
      console.log(`    service thread per call: user ${round((split.user - splitBefore.user) / Math.max(1, completed))} ms, kernel ${round((split.system - splitBefore.system) / Math.max(1, completed))} ms`);
      const perCall = (ms: number): number => round(ms / Math.max(1, completed));
      console.log(`    servers' CPU per call: PostgreSQL ${perCall(commandCpuMs('postgres') - serversBefore.postgres)} ms, Redis ${perCall(commandCpuMs('redis-server') - serversBefore.redis)} ms`);
      console.log(`    WAL per call                     ${Math.round(Number((await onServer<{ bytes: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1) AS bytes', [serversBefore.walLsn])).bytes) / Math.max(1, completed))} bytes`);
      const spans: Record<string, number[]> = { 'request → insert': [], insert: [], 'insert → claim (queue, pick-up)': [], claim: [], 'claim → INVITE': [] };
      // BENCH_STAGES_FILE: a line a call, its send time and then its stages in the order of `spans`.
      const lines: string[] = [];
      for (const call of load.calls) {
        const st = stageAt.get(call.id);
        const invite = firstInviteAt.get(call.id);
        if (!st?.insertStart || !st.insertEnd || !st.claimStart || !st.claimEnd || invite === undefined) continue;
        const stages = [st.insertStart - call.sentAt, st.insertEnd - st.insertStart, st.claimStart - st.insertEnd, st.claimEnd - st.claimStart, invite - st.claimEnd];
        Object.values(spans).forEach((values, i) => values.push(stages[i]!));
        lines.push([call.sentAt, ...stages].map((v) => Math.round(v * 100) / 100).join(' '));
      }
      if (process.env.BENCH_STAGES_FILE) writeFileSync(`${process.env.BENCH_STAGES_FILE}.${rate}.${rows.length}`, lines.join('\n') + '\n');
      for (const [name, values] of Object.entries(spans)) console.log(`    ${name.padEnd(32)} p50 ${round(percentile(values, 50))} ms, p99 ${round(percentile(values, 99))} ms`);
      // Whether the slow ones come together (a stall: GC, the machine busy) or one by one.
      const slow = load.calls.filter((call) => (firstInviteAt.get(call.id) ?? call.sentAt) - call.sentAt > 50);
      const windows = new Set(slow.map((call) => Math.floor(call.sentAt / 100)));
      const t0 = load.calls[0]?.sentAt ?? 0;
      console.log(`    over 50 ms to the first INVITE    ${slow.length} calls, sent in ${windows.size} distinct 100 ms windows (at ${[...windows].map((w) => w * 100 - t0).sort((x, y) => x - y).map((ms) => `${Math.round(ms)} ms`).join(', ')})`);
      stageAt.clear();
      loopDelay.disable();
      gcObserver.disconnect();
      console.log(`    event-loop delay                 p50 ${round(loopDelay.percentile(50) / 1e6)} ms, p99 ${round(loopDelay.percentile(99) / 1e6)} ms, max ${round(loopDelay.max / 1e6)} ms`);
      for (const [kind, durations] of pauses) {
        console.log(`    GC ${kind.padEnd(29)} ${durations.length} pauses, ${round(durations.reduce((a, b) => a + b, 0))} ms in all, longest ${round(Math.max(...durations))} ms`);
      }
    }
    if (process.env.BENCH_COUNT) {
      for (const [key, n] of [...queryCounts].sort((x, y) => y[1] - x[1]).slice(0, 40)) console.log(`    ${(n / Math.max(1, completed)).toFixed(2).padStart(7)}/call  ${key}`);
      queryCounts.clear();
    }
    firstInviteAt.clear();
    if (!row.clean) break;
    await sleep(1000);
  }
  if (perf) {
    const exited = new Promise((resolve) => perf.once('exit', resolve));
    perf.kill('SIGINT');
    await exited;
  }
  if (profiler) {
    const { profile } = await profiler.post('Profiler.stop');
    writeFileSync(process.env.BENCH_PROFILE!, JSON.stringify(profile));
    profiler.disconnect();
  }
  await service.stop(0);
  await dropDatabase(config.databaseUrl).catch(() => undefined);
  // Its BullMQ keys (the completed jobs are kept 10 minutes) would otherwise pile up in the shared Redis.
  await removeQueueKeys(config.redisUrl, config.queuePrefix).catch(() => undefined);

  // 2b. The same with the roles in two processes (BENCH_SPLIT=0 skips it).
  let split: SplitRow[] = [];
  if (process.env.BENCH_SPLIT !== '0') {
    console.log('\nthrough the API, roles in two processes (this one: api + webhooks; a child: engine):');
    console.log('  rate  completed/s  failed  p50/p99 request → first INVITE ms  CPU ms/call api + engine');
    split = await measureSplitRoles({ rates: RATES, key: KEY, body });
  }

  // 3. The engine alone, same rates, same parties.
  console.log('\nthe engine alone (no API, no database):');
  const rig = await startRig(() => undefined, 1000);
  let engineCps = 0;
  for (const rate of RATES) {
    const row = await measureRate(rig, rate, `alone${rate}`);
    console.log(`  ${String(rate).padStart(4)}  ${String(row.completedPerSecond).padStart(11)} completed/s  ${row.failed} failed`);
    if (!row.clean) break;
    engineCps = row.completedPerSecond;
    await sleep(1000);
  }
  await stopRig(rig);
  await a.stop();
  await b.stop();
  for (const fn of cleanups.reverse()) await fn();

  const best = rows.filter((row) => row.clean).at(-1);
  const apiCps = best?.completedPerSecond ?? 0;
  const at100 = rows.find((row) => row.rate === 100) ?? best;
  console.log(`\nhighest clean rate through the API: ${apiCps} calls/s; the engine alone: ${engineCps} calls/s (ratio ${engineCps > 0 ? round(apiCps / engineCps) : 0})`);
  console.log(
    JSON.stringify({
      apiCps,
      engineCps,
      ratio: engineCps > 0 ? round(apiCps / engineCps) : 0,
      p50FirstInviteMs: at100?.p50 ?? null,
      p99FirstInviteMs: at100?.p99 ?? null,
      createP99Ms,
      splitApiCps: split.filter((row) => row.clean).at(-1)?.completedPerSecond ?? 0,
      splitP99FirstInviteMs: (split.find((row) => row.rate === 100) ?? split.filter((row) => row.clean).at(-1))?.p99 ?? null,
    }),
  );
}

await main();
process.exit(0);
