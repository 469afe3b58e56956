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
import { cleanups, HOLD_MS, measureRate, round, sippCeiling, sleep, startRig, stopRig, WINDOW_S, type RateRow } from './engine-rig.js';

const RATES = (process.env.BENCH_RATES ?? '100,250,500,750,1000').split(',').map(Number);
const CONCURRENT = Number(process.env.BENCH_CONCURRENT ?? 20_000);

// ---- 3. concurrency ----------------------------------------------------------------------------

/** The JS heap and the ArrayBuffers outside it (message bytes): both are what calls hold. */
function heldBytes(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

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
  const heapBefore = heldBytes();
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
  // The set-up's transactions (Timer K, D…) are over 64*T1 = 32 s later on UDP, and the ACKs kept
  // for retransmitted 2xx go 128*T1 = 64 s after they were sent: wait them out, so that what
  // remains is what a connected call holds.
  await sleep(65_000);
  gc?.();
  await sleep(200);
  gc?.();
  const heapAfter = heldBytes();
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

  // The rates' engine lives on until its last 64*T1 timers fire (they hold it): let it go before
  // the held calls' baseline is taken, or that baseline includes it.
  if (CONCURRENT > 0) await sleep(35_000);
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
