/**
 * npm run bench:api — calls through the whole service (API, PostgreSQL, BullMQ, engine) against
 * SIPp parties, beside the engine alone in the same run.
 *
 * 1. POST /v1/calls throughput and latency with autocannon (BENCH_API_SECONDS, default 3 s, 16
 *    connections): every request is a real call (flow III, held 1 s) and every state change and
 *    event of it is persisted.
 * 2. End to end: calls created through the API at rising rates (BENCH_RATES, default 50,100,250)
 *    for a window each; completed calls per second (every event written), p50/p99 from the HTTP
 *    request to the first INVITE on the wire; the highest rate with no failed call.
 * 3. The engine alone (no API, no database) at the same rates, for the ratio.
 *
 * Bounded in time; all traffic on 127.0.0.1. Needs PostgreSQL and Redis (npm run prestart).
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import autocannon from 'autocannon';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { startService } from '../src/main.js';
import type { SipMessageAny } from '../src/sip/index.js';
import { dropDatabase } from '../src/store/index.js';
import { freePortBlock } from '../test/support/ports.js';
import { sharedScenario, startSippUas } from '../test/support/sipp.js';
import { cleanups, context, measureRate, percentile, round, sleep, startRig, stopRig, WINDOW_S, endedCalls } from './engine-rig.js';

const RATES = (process.env.BENCH_RATES ?? '50,100,250').split(',').map(Number);
const API_SECONDS = Number(process.env.BENCH_API_SECONDS ?? 3);
const KEY = 'ctd_bench_bootstrap_key_0123456789abcdef';

function post(port: number, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/v1/calls', method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const base = await freePortBlock(10);
  const a = await startSippUas(context, { scenario: sharedScenario('uas-answer-reinvite-offer'), traceMessages: false, port: base + 1, mediaPort: base + 4, transport: 'udp', calls: 10_000_000, timeoutSeconds: 3600 });
  const b = await startSippUas(context, { scenario: sharedScenario('uas-answer-offer'), traceMessages: false, port: base + 2, mediaPort: base + 7, transport: 'udp', calls: 10_000_000, timeoutSeconds: 3600 });
  const database = `ctd_bench_${randomBytes(4).toString('hex')}`;
  const config = loadConfig({
    DATABASE_URL: `postgresql://postgres:postgres@127.0.0.1:5432/${database}`,
    HTTP_PORT: '0',
    SIP_PORT: String(base),
    BOOTSTRAP_API_KEY: KEY,
    SECRETS_KEY: randomBytes(32).toString('hex'),
    DRAIN_MS: '0',
    LOG_LEVEL: 'warn',
    QUEUE_PREFIX: `bench-${randomBytes(4).toString('hex')}`,
  });

  // From the HTTP request to the first INVITE on the wire, per call.
  const requestedAt = new Map<string, number>();
  const firstInvite: number[] = [];
  const inviteStart = new Map<string, number>();
  const started: { service?: Awaited<ReturnType<typeof startService>> } = {};
  const service = await startService(config, pino({ level: 'warn' }), {
    onCallStarted: (job) => {
      const sipCallId = started.service?.sip?.engine.get(job.callId)?.session('a')?.callId;
      const t0 = requestedAt.get(job.callId);
      if (sipCallId && t0 !== undefined) inviteStart.set(sipCallId, t0);
    },
  });
  started.service = service;
  const transport = service.sip!.transport;
  const send = transport.send.bind(transport);
  transport.send = (message: SipMessageAny, destination) => {
    if (message.isRequest && message.method === 'INVITE' && inviteStart.size > 0) {
      const t0 = inviteStart.get(message.callId);
      if (t0 !== undefined) {
        inviteStart.delete(message.callId);
        firstInvite.push(performance.now() - t0);
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
  });
  const createRps = Math.round(create.requests.average);
  const createP50Ms = create.latency.p50;
  const createP99Ms = create.latency.p99;
  console.log(`\nPOST /v1/calls (autocannon, 16 connections, ${API_SECONDS} s): ${createRps} requests/s, p50 ${createP50Ms} ms, p99 ${createP99Ms} ms, non-2xx ${create.non2xx}`);
  // Let those calls end (held 1 s each, bounded).
  const engine = service.sip!.engine;
  for (let i = 0; i < 300 && engine.liveCalls > 0; i++) await sleep(200);
  const ended = () => endedCalls(service.metrics);
  const endedSince = async (before: { completed: number; failed: number }): Promise<{ completed: number; failed: number }> => {
    const now = await ended();
    return { completed: now.completed - before.completed, failed: now.failed - before.failed };
  };

  // 2. End to end at rising rates.
  console.log('\nthrough the API (calls requested per second → results):');
  console.log('  rate  completed/s  failed  p50/p99 request → first INVITE ms');
  const rows: { rate: number; completedPerSecond: number; failed: number; p50: number; p99: number; clean: boolean }[] = [];
  for (const rate of RATES) {
    firstInvite.length = 0;
    const before = await ended();
    const total = Math.round(rate * WINDOW_S);
    const ids: string[] = [];
    let failedRequests = 0;
    const begin = performance.now();
    let started = 0;
    const pending: Promise<void>[] = [];
    while (started < total) {
      const due = Math.min(total, Math.floor(((performance.now() - begin) / 1000) * rate));
      for (; started < due; started++) {
        const t0 = performance.now();
        pending.push(
          post(port, body).then(
            (answer) => {
              if (answer.status !== 202) {
                failedRequests++;
                return;
              }
              const id = (JSON.parse(answer.text) as { id: string }).id;
              ids.push(id);
              requestedAt.set(id, t0);
            },
            () => void failedRequests++,
          ),
        );
      }
      await sleep(5);
    }
    await Promise.all(pending);
    const windowMs = performance.now() - begin;
    // Counted from the service's own metrics (ended calls by reason), not by reading every call
    // back from the database: the bench must not load the process it measures.
    const deadline = performance.now() + 20_000;
    let { completed, failed } = await endedSince(before);
    while (completed + failed < ids.length && performance.now() < deadline) {
      await sleep(250);
      ({ completed, failed } = await endedSince(before));
    }
    const row = {
      rate,
      completedPerSecond: Math.round((completed / windowMs) * 1000),
      failed: failed + failedRequests + (ids.length - completed - failed),
      p50: round(percentile(firstInvite, 50)),
      p99: round(percentile(firstInvite, 99)),
      clean: false,
    };
    row.clean = row.failed === 0;
    rows.push(row);
    console.log(`  ${String(rate).padStart(4)}  ${String(row.completedPerSecond).padStart(11)}  ${String(row.failed).padStart(6)}  ${`${row.p50} / ${row.p99}`.padStart(32)}${row.clean ? '' : '  (not clean)'}`);
    for (const id of ids) requestedAt.delete(id);
    if (!row.clean) break;
    await sleep(1000);
  }
  await service.stop(0);
  await dropDatabase(config.databaseUrl).catch(() => undefined);

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
    }),
  );
}

await main();
process.exit(0);
