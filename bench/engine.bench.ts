/**
 * npm run bench:engine — how many click-to-dial calls per second the engine completes, against
 * SIPp parties on this machine, next to what SIPp alone manages in the same run.
 *
 * 1. SIPp's ceiling: its built-in UAC against its built-in UAS (INVITE, 200, ACK, BYE) at rising
 *    rates; the highest rate with no failed call and no retransmission.
 * 2. Our engine: flow III calls (A = uas-answer-reinvite-offer, B = uas-answer-offer, both SIPp
 *    UAS on UDP), each held 1 s then hung up with BYE (maxDurationMs), started at rising rates for
 *    a fixed window. For each rate: completed calls per second, failures, p50/p99 of the time from
 *    startCall() to the first INVITE on the wire and to `connected`, retransmissions SIPp saw, CPU
 *    of the engine and of SIPp, memory. The highest clean rate (no failure, no retransmission).
 * 3. Concurrency: BENCH_CONCURRENT calls (default 20,000) connected and held at once; heap bytes
 *    per call after a full GC.
 *
 * Bounded: every phase has a fixed window and a deadline; all traffic is on 127.0.0.1.
 * Environment: BENCH_RATES (e.g. "100,250,500"), BENCH_WINDOW_S (default 4), BENCH_CONCURRENT.
 */
import { readFileSync } from 'node:fs';
import { Engine, type CallEvent } from '../src/engine/index.js';
import { TransportLayer, type SipMessageAny } from '../src/sip/index.js';
import { freePortBlock } from '../test/support/ports.js';
import { runSippUac, sharedScenario, startSippUas, type SippUasHandle } from '../test/support/sipp.js';

const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 4);
const RATES = (process.env.BENCH_RATES ?? '100,250,500,750,1000').split(',').map(Number);
const SIPP_RATES = (process.env.BENCH_SIPP_RATES ?? '500,1000,1500,2000,2500').split(',').map(Number);
const CONCURRENT = Number(process.env.BENCH_CONCURRENT ?? 20_000);
const HOLD_MS = 1000;

/** The harness wants a TestContext for its cleanups; the bench runs them at the end. */
const cleanups: (() => unknown)[] = [];
const context = { after: (fn: () => unknown) => cleanups.push(fn) } as never;

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** utime + stime of a process, in ms (Linux /proc; clock ticks of 10 ms). */
function processCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

async function retransmissions(sipp: SippUasHandle): Promise<number> {
  const stats = await sipp.stats();
  return Number(stats['Retransmissions(C)'] ?? 0);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- 1. SIPp alone ---------------------------------------------------------------------------

async function sippCeiling(): Promise<{ rate: number; ok: boolean; detail: string }[]> {
  const rows: { rate: number; ok: boolean; detail: string }[] = [];
  for (const rate of SIPP_RATES) {
    const base = await freePortBlock(10);
    const uas = await startSippUas(context, { scenario: '', builtIn: 'uas', traceMessages: false, port: base, mediaPort: base + 4, transport: 'udp', calls: 10_000_000, timeoutSeconds: WINDOW_S + 30 });
    const calls = Math.round(rate * WINDOW_S);
    const uac = await runSippUac(context, {
      scenario: '',
      builtIn: 'uac',
      traceMessages: false,
      port: base + 1,
      mediaPort: base + 7,
      transport: 'udp',
      calls,
      target: `127.0.0.1:${base}`,
      timeoutSeconds: WINDOW_S + 10,
      extraArgs: ['-r', String(rate), '-l', String(rate * 2)],
    });
    const failed = /Failed call\s*\|\s*\d+\s*\|\s*(\d+)/.exec(uac.report)?.[1];
    const retrans = /Retransmissions\(C\)/.test(uac.report) ? '?' : '';
    const ok = uac.code === 0 && (failed === undefined || failed === '0') && (await retransmissions(uas)) === 0;
    rows.push({ rate, ok, detail: `exit ${uac.code}, failed ${failed ?? '?'}${retrans}` });
    await uas.stop();
    if (!ok) break;
  }
  return rows;
}

// ---- 2. the engine at rising rates -------------------------------------------------------------

interface RateRow {
  rate: number;
  started: number;
  completed: number;
  failed: number;
  completedPerSecond: number;
  p50FirstInviteMs: number;
  p99FirstInviteMs: number;
  p50ConnectedMs: number;
  p99ConnectedMs: number;
  retransmissions: number;
  engineCpuPercent: number;
  sippCpuPercent: number;
  rssMiB: number;
  clean: boolean;
}

interface Rig {
  engine: Engine;
  transport: TransportLayer;
  a: SippUasHandle;
  b: SippUasHandle;
  events: (event: CallEvent) => void;
  firstInvite: Map<string, number>;
  onFirstInvite: (latencyMs: number) => void;
}

async function startRig(onEvent: (event: CallEvent) => void, maxDurationMs: number): Promise<Rig> {
  const base = await freePortBlock(10);
  const a = await startSippUas(context, { scenario: sharedScenario('uas-answer-reinvite-offer'), traceMessages: false, port: base + 1, mediaPort: base + 4, transport: 'udp', calls: 10_000_000, timeoutSeconds: 3600 });
  const b = await startSippUas(context, { scenario: sharedScenario('uas-answer-offer'), traceMessages: false, port: base + 2, mediaPort: base + 7, transport: 'udp', calls: 10_000_000, timeoutSeconds: 3600 });
  const transport = new TransportLayer({ host: '127.0.0.1', port: base });
  await transport.listen();
  const firstInvite = new Map<string, number>();
  const rig: Rig = { engine: undefined as never, transport, a, b, events: onEvent, firstInvite, onFirstInvite: () => undefined };
  const send = transport.send.bind(transport);
  transport.send = (message: SipMessageAny, destination) => {
    if (message.isRequest && message.method === 'INVITE' && firstInvite.size > 0) {
      const started = firstInvite.get(message.callId);
      if (started !== undefined) {
        firstInvite.delete(message.callId);
        rig.onFirstInvite(performance.now() - started);
      }
    }
    return send(message, destination);
  };
  rig.engine = new Engine({ transport, onEvent: (event) => rig.events(event), sipLogLimit: 32, finishedLogs: 100, defaults: { maxDurationMs } });
  return rig;
}

async function stopRig(rig: Rig): Promise<void> {
  rig.engine.close();
  await sleep(300);
  await rig.transport.close();
  await rig.a.stop();
  await rig.b.stop();
}

async function measureRate(rig: Rig, rate: number, prefix: string): Promise<RateRow> {
  const startedAt = new Map<string, number>();
  const connected: number[] = [];
  const firstInvites: number[] = [];
  let completed = 0;
  let failed = 0;
  rig.onFirstInvite = (latency) => firstInvites.push(latency);
  rig.events = (event) => {
    if (event.type !== 'call.status') return;
    if (event.status === 'connected') {
      const t0 = startedAt.get(event.callId);
      if (t0 !== undefined) connected.push(performance.now() - t0);
    } else if (event.status === 'completed' && event.endReason === 'max_duration') {
      completed++;
    } else if (event.status === 'completed' || event.status === 'failed' || event.status === 'canceled') {
      failed++;
    }
  };
  const retransBefore = (await retransmissions(rig.a)) + (await retransmissions(rig.b));
  const sippCpuBefore = processCpuMs(rig.a.pid) + processCpuMs(rig.b.pid);
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  const total = Math.round(rate * WINDOW_S);
  const tickMs = 10;
  let started = 0;
  const begin = performance.now();
  while (started < total) {
    const due = Math.min(total, Math.floor(((performance.now() - begin) / 1000) * rate));
    for (; started < due; started++) {
      const id = `${prefix}_${started}`;
      startedAt.set(id, performance.now());
      const call = rig.engine.startCall({ id, a: { uri: `<${rig.a.uri('alice')}>`, from: '<sip:ctd@127.0.0.1>' }, b: { uri: `<${rig.b.uri('bob')}>`, from: '<sip:alice@example.com>' } });
      const sipCallId = call.session('a')?.callId;
      if (sipCallId) rig.firstInvite.set(sipCallId, startedAt.get(id)!);
    }
    await sleep(tickMs);
  }
  const windowMs = performance.now() - begin;
  // Every call ends HOLD_MS after connecting; wait for the last ones (bounded).
  const deadline = performance.now() + HOLD_MS + 15_000;
  while (completed + failed < total && performance.now() < deadline) await sleep(50);
  const cpu = process.cpuUsage(cpuBefore);
  const wall = performance.now() - wallBefore;
  await sleep(600); // SIPp's stats file is written once a second
  const retrans = (await retransmissions(rig.a)) + (await retransmissions(rig.b)) - retransBefore;
  const sippCpu = processCpuMs(rig.a.pid) + processCpuMs(rig.b.pid) - sippCpuBefore;
  const lost = total - completed - failed;
  return {
    rate,
    started: total,
    completed,
    failed: failed + lost,
    completedPerSecond: Math.round((completed / windowMs) * 1000),
    p50FirstInviteMs: round(percentile(firstInvites, 50)),
    p99FirstInviteMs: round(percentile(firstInvites, 99)),
    p50ConnectedMs: round(percentile(connected, 50)),
    p99ConnectedMs: round(percentile(connected, 99)),
    retransmissions: retrans,
    engineCpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / wall) * 100),
    sippCpuPercent: Math.round((sippCpu / wall) * 100),
    rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    clean: failed + lost === 0 && retrans === 0,
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

// ---- 3. concurrency ----------------------------------------------------------------------------

async function measureConcurrency(count: number, rate: number): Promise<{ calls: number; bytesPerCall: number; seconds: number }> {
  let connected = 0;
  let ended = 0;
  const rig = await startRig((event) => {
    if (event.type !== 'call.status') return;
    if (event.status === 'connected') connected++;
    if (event.status === 'completed' || event.status === 'failed' || event.status === 'canceled') ended++;
  }, 0);
  // The log of each call is part of what a call costs: keep it as in production.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  await sleep(200);
  gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const begin = performance.now();
  let started = 0;
  while (started < count) {
    const due = Math.min(count, Math.floor(((performance.now() - begin) / 1000) * rate));
    for (; started < due; started++) {
      rig.engine.startCall({ id: `hold_${started}`, a: { uri: `<${rig.a.uri('alice')}>`, from: '<sip:ctd@127.0.0.1>' }, b: { uri: `<${rig.b.uri('bob')}>`, from: '<sip:alice@example.com>' } });
    }
    await sleep(10);
  }
  const deadline = performance.now() + 60_000;
  while (connected + ended < count && performance.now() < deadline) await sleep(100);
  // Transactions of the set-up (Timer K, D…) are over after 64*T1 = 32 s on UDP: wait them out
  // so that what remains is what a connected call holds.
  await sleep(33_000);
  gc?.();
  await sleep(200);
  gc?.();
  const heapAfter = process.memoryUsage().heapUsed;
  const seconds = (performance.now() - begin) / 1000;
  const calls = rig.engine.liveCalls;
  rig.engine.hangupAll();
  const endDeadline = performance.now() + 60_000;
  while (ended < count && performance.now() < endDeadline) await sleep(100);
  await stopRig(rig);
  return { calls, bytesPerCall: calls > 0 ? Math.round((heapAfter - heapBefore) / calls) : NaN, seconds: Math.round(seconds) };
}

// ---- run ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  console.log(`bench:engine — flow III, hold ${HOLD_MS} ms, window ${WINDOW_S} s per rate, SIPp UAS parties on UDP 127.0.0.1`);
  const ceilingRows = await sippCeiling();
  const sippCeilingCps = Math.max(0, ...ceilingRows.filter((r) => r.ok).map((r) => r.rate));
  console.log('\nSIPp alone (built-in uac → uas):');
  for (const row of ceilingRows) console.log(`  ${String(row.rate).padStart(5)} calls/s  ${row.ok ? 'clean' : 'NOT clean'}  (${row.detail})`);

  console.log('\nengine (calls started per second → results):');
  console.log('  rate  completed/s  failed  p50/p99 first INVITE ms  p50/p99 connected ms  retrans  engine CPU  SIPp CPU  RSS MiB');
  const rows: RateRow[] = [];
  const rig = await startRig(() => undefined, HOLD_MS);
  for (const rate of RATES) {
    const row = await measureRate(rig, rate, `r${rate}`);
    rows.push(row);
    console.log(
      `  ${String(rate).padStart(4)}  ${String(row.completedPerSecond).padStart(11)}  ${String(row.failed).padStart(6)}  ${`${row.p50FirstInviteMs} / ${row.p99FirstInviteMs}`.padStart(23)}  ${`${row.p50ConnectedMs} / ${row.p99ConnectedMs}`.padStart(20)}  ${String(row.retransmissions).padStart(7)}  ${`${row.engineCpuPercent}%`.padStart(10)}  ${`${row.sippCpuPercent}%`.padStart(8)}  ${String(row.rssMiB).padStart(7)}${row.clean ? '' : '  (not clean)'}`,
    );
    if (!row.clean) break;
    await sleep(1000);
  }
  await stopRig(rig);
  const clean = rows.filter((r) => r.clean);
  const best = clean.at(-1);
  const maxCleanCps = best?.completedPerSecond ?? 0;

  const concurrencyRate = Math.max(100, Math.min(1000, best?.rate ?? 100));
  console.log(`\nconcurrency: ${CONCURRENT} calls held, started at ${concurrencyRate}/s…`);
  const held = CONCURRENT > 0 ? await measureConcurrency(CONCURRENT, concurrencyRate) : { calls: 0, bytesPerCall: NaN, seconds: 0 };
  console.log(`  ${held.calls} calls connected at once, ${held.bytesPerCall} heap bytes per call (${(held.bytesPerCall / 1024).toFixed(1)} KiB), ${held.seconds} s`);

  const ratioToSipp = sippCeilingCps > 0 ? round(maxCleanCps / sippCeilingCps) : 0;
  console.log(`\nhighest clean rate: ${maxCleanCps} calls/s = ${ratioToSipp}x SIPp's own ceiling (${sippCeilingCps} calls/s)`);
  for (const fn of cleanups.reverse()) await fn();
  console.log(
    JSON.stringify({
      maxCleanCps,
      sippCeilingCps,
      ratioToSipp,
      p50FirstInviteMs: best?.p50FirstInviteMs ?? null,
      p99FirstInviteMs: best?.p99FirstInviteMs ?? null,
      p99ConnectedMs: best?.p99ConnectedMs ?? null,
      concurrentCalls: held.calls,
      bytesPerCall: held.bytesPerCall,
    }),
  );
}

await main();
