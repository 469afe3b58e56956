/**
 * npm run soak — a bounded soak of the whole service (API, PostgreSQL, BullMQ, engine, every
 * event written) against SIPp parties: SOAK_RATE calls a second (default 50) for SOAK_SECONDS
 * (default 600), each call held a random 1–20 s (maxDuration) and hung up by the engine with BYE.
 *
 * Every SOAK_SAMPLE_S (default 10 s) it prints memory (heap, ArrayBuffers, RSS), the event
 * loop's delay (p50/p99/max over the sample), live calls and calls ended so far. It fails (exit 1)
 * when a call failed, or when memory grows without bound: after a warm-up (a third of the run, at
 * least 90 s: calls last up to 20 s and ACKs are kept 64 s), the mean of the last third is compared
 * with the mean of the middle third; more than 15 % and 8 MiB more is growth, not a plateau.
 * The last line is one JSON object of the figures. All traffic is on 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { startService } from '../src/main.js';
import { dropDatabase } from '../src/store/index.js';
import { removeQueueKeys } from '../test/e2e/service.js';
import { freePortBlock } from '../test/support/ports.js';
import { sharedScenario, startSippUas } from '../test/support/sipp.js';
import { cleanups, context, round, sleep, endedCalls } from './engine-rig.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const RATE = Number(process.env.SOAK_RATE ?? 50);
const SAMPLE_S = Number(process.env.SOAK_SAMPLE_S ?? 10);
const KEY = 'ctd_soak_bootstrap_key_0123456789abcdef';
const MiB = 2 ** 20;

interface Sample {
  at: number;
  heapMiB: number;
  arrayBuffersMiB: number;
  rssMiB: number;
  loopP50Ms: number;
  loopP99Ms: number;
  loopMaxMs: number;
  liveCalls: number;
  ended: number;
}

function post(port: number, body: string): Promise<number> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/v1/calls', method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

async function main(): Promise<number> {
  const base = await freePortBlock(10);
  const timeoutSeconds = SECONDS + 120;
  const a = await startSippUas(context, { scenario: sharedScenario('uas-answer-reinvite-offer'), traceMessages: false, port: base + 1, mediaPort: base + 4, transport: 'udp', calls: 10_000_000, timeoutSeconds });
  const b = await startSippUas(context, { scenario: sharedScenario('uas-answer-offer'), traceMessages: false, port: base + 2, mediaPort: base + 7, transport: 'udp', calls: 10_000_000, timeoutSeconds });
  const config = loadConfig({
    DATABASE_URL: `postgresql://postgres:postgres@127.0.0.1:5432/ctd_soak_${randomBytes(4).toString('hex')}`,
    HTTP_PORT: '0',
    SIP_PORT: String(base),
    BOOTSTRAP_API_KEY: KEY,
    SECRETS_KEY: randomBytes(32).toString('hex'),
    QUEUE_PREFIX: `soak-${randomBytes(4).toString('hex')}`,
    DRAIN_MS: '0',
    LOG_LEVEL: 'warn',
  });
  const service = await startService(config, pino({ level: 'warn' }));
  const port = service.http!.port;
  const engine = service.sip!.engine;
  const ended = () => endedCalls(service.metrics);

  console.log(`soak — ${RATE} calls/s for ${SECONDS} s through the API, each held 1–20 s, SIPp parties on UDP 127.0.0.1`);
  console.log('      s   heap MiB  buffers MiB  RSS MiB  loop p50/p99/max ms  live calls  ended');
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const samples: Sample[] = [];
  let requested = 0;
  let refused = 0;
  const begin = performance.now();
  let nextSample = begin + SAMPLE_S * 1000;
  const pending = new Set<Promise<void>>();
  while (performance.now() - begin < SECONDS * 1000) {
    const due = Math.floor(((performance.now() - begin) / 1000) * RATE);
    for (; requested < due; requested++) {
      const body = JSON.stringify({ a: { uri: a.uri('alice') }, b: { uri: b.uri('bob') }, maxDuration: 1 + Math.floor(Math.random() * 20) });
      const sent = post(port, body).then((status) => {
        if (status !== 202) refused++;
      });
      pending.add(sent);
      void sent.finally(() => pending.delete(sent));
    }
    if (performance.now() >= nextSample) {
      nextSample += SAMPLE_S * 1000;
      const memory = process.memoryUsage();
      const { completed, failed } = await ended();
      const sample: Sample = {
        at: Math.round((performance.now() - begin) / 1000),
        heapMiB: round(memory.heapUsed / MiB),
        arrayBuffersMiB: round(memory.arrayBuffers / MiB),
        rssMiB: round(memory.rss / MiB),
        loopP50Ms: round(loop.percentile(50) / 1e6),
        loopP99Ms: round(loop.percentile(99) / 1e6),
        loopMaxMs: round(loop.max / 1e6),
        liveCalls: engine.liveCalls,
        ended: completed + failed,
      };
      loop.reset();
      samples.push(sample);
      console.log(
        `  ${String(sample.at).padStart(5)}  ${String(sample.heapMiB).padStart(9)}  ${String(sample.arrayBuffersMiB).padStart(11)}  ${String(sample.rssMiB).padStart(7)}  ${`${sample.loopP50Ms} / ${sample.loopP99Ms} / ${sample.loopMaxMs}`.padStart(19)}  ${String(sample.liveCalls).padStart(10)}  ${String(sample.ended).padStart(5)}`,
      );
    }
    await sleep(5);
  }
  await Promise.all(pending);
  // The last calls end within 20 s of their start (bounded wait).
  const deadline = performance.now() + 40_000;
  let totals = await ended();
  while (totals.completed + totals.failed < requested - refused && performance.now() < deadline) {
    await sleep(500);
    totals = await ended();
  }
  loop.disable();
  await service.stop(0);
  await dropDatabase(config.databaseUrl).catch(() => undefined);
  await removeQueueKeys(config.redisUrl, config.queuePrefix).catch(() => undefined);
  await a.stop();
  await b.stop();
  for (const fn of cleanups.reverse()) await fn();

  const held = (sample: Sample) => sample.heapMiB + sample.arrayBuffersMiB;
  const warm = samples.filter((sample) => sample.at >= Math.max(90, SECONDS / 3));
  const third = Math.floor(warm.length / 2);
  const mean = (list: Sample[]) => (list.length ? list.reduce((sum, sample) => sum + held(sample), 0) / list.length : NaN);
  const middle = mean(warm.slice(0, third));
  const last = mean(warm.slice(warm.length - third));
  const growthPercent = round(((last - middle) / middle) * 100);
  const grew = warm.length >= 4 && last - middle > 8 && growthPercent > 15;
  const lost = requested - refused - totals.completed - totals.failed;
  const ok = !grew && totals.failed === 0 && refused === 0 && lost === 0;
  console.log(
    `\n${requested} calls requested, ${refused} refused, ${totals.completed} completed, ${totals.failed} failed, ${lost} unaccounted; ` +
      `held memory ${round(middle)} → ${round(last)} MiB after warm-up (${growthPercent} %): ${grew ? 'GROWING' : 'flat'}`,
  );
  const loopP99 = Math.max(0, ...samples.map((sample) => sample.loopP99Ms));
  console.log(
    JSON.stringify({
      seconds: SECONDS,
      rate: RATE,
      calls: requested,
      completed: totals.completed,
      failed: totals.failed + refused + lost,
      heapMiddleMiB: round(middle),
      heapLastMiB: round(last),
      growthPercent,
      worstLoopP99Ms: loopP99,
      ok,
    }),
  );
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
