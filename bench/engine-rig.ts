/**
 * The pieces bench:engine and bench:api share: an Engine with two SIPp parties (flow III, A =
 * uas-answer-reinvite-offer, B = uas-answer-offer, UDP), calls started at a given rate for a
 * window, and their figures (completed per second, failures, latencies, retransmissions, CPU).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Engine, type CallEvent } from '../src/engine/index.js';
import type { ServiceMetrics } from '../src/metrics/index.js';
import { TransportLayer, type SipMessageAny } from '../src/sip/index.js';
import { freePortBlock } from '../test/support/ports.js';
import { runSippUac, sharedScenario, startSippUas, type SippUasHandle } from '../test/support/sipp.js';

export const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 4);
export const HOLD_MS = 1000;
const SIPP_RATES = (process.env.BENCH_SIPP_RATES ?? '500,1000,1500,2000,2500').split(',').map(Number);

/** The harness wants a TestContext for its cleanups; the bench runs them at the end. */
export const cleanups: (() => unknown)[] = [];
export const context = { after: (fn: () => unknown) => cleanups.push(fn) } as never;

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The fields of a /proc stat file after the command's name (utime is [11]), or undefined when it is gone. */
function statFields(path: string): string[] | undefined {
  try {
    return readFileSync(path, 'utf8').split(') ')[1]!.split(' ');
  } catch {
    return undefined;
  }
}

/** utime and stime of a process (or of one of its threads), in ms (Linux /proc; clock ticks of 10 ms). */
export function processCpuSplitMs(pid: number, thread?: number): { user: number; system: number } {
  const fields = statFields(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`);
  return fields ? { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10 } : { user: 0, system: 0 };
}

/** utime + stime of a process (or of one of its threads), in ms (Linux /proc; clock ticks of 10 ms). */
export function processCpuMs(pid: number, thread?: number): number {
  const { user, system } = processCpuSplitMs(pid, thread);
  return user + system;
}

/**
 * utime + stime of every process running `command` (its /proc comm: postgres, redis-server), ms:
 * the servers' share of a call's cost. With cutime + cstime: what its children that have exited
 * had (a backend whose connection closed during the window lives on in its postmaster's figures).
 */
export function commandCpuMs(command: string): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== command) continue;
    } catch {
      continue;
    }
    const fields = statFields(`/proc/${entry}/stat`);
    if (fields) total += (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 10;
  }
  return total;
}

export async function retransmissions(sipp: SippUasHandle): Promise<number> {
  const stats = await sipp.stats();
  return Number(stats['Retransmissions(C)'] ?? 0);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- 1. SIPp alone ---------------------------------------------------------------------------

export async function sippCeiling(): Promise<{ rate: number; ok: boolean; detail: string }[]> {
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

export interface RateRow {
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

export interface Rig {
  engine: Engine;
  transport: TransportLayer;
  a: SippUasHandle;
  b: SippUasHandle;
  events: (event: CallEvent) => void;
  firstInvite: Map<string, number>;
  onFirstInvite: (latencyMs: number) => void;
}

export async function startRig(onEvent: (event: CallEvent) => void, maxDurationMs: number): Promise<Rig> {
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
  rig.engine = new Engine({ transport, onEvent: (event) => rig.events(event), sipLogLimit: 32, finishedLogs: 100, onSipLog: streamSipLog, defaults: { maxDurationMs } });
  return rig;
}

export async function stopRig(rig: Rig): Promise<void> {
  rig.engine.close();
  await sleep(300);
  await rig.transport.close();
  await rig.a.stop();
  await rig.b.stop();
}

export async function measureRate(rig: Rig, rate: number, prefix: string): Promise<RateRow> {
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

export function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/**
 * As in the engine role, each line of a call's SIP log goes out as it is written (there, to the
 * store's batched writer) instead of staying with the call; here it goes nowhere.
 */
function streamSipLog(): void {}

/**
 * Calls a service ended so far, from its own metrics (not by reading calls back, which would load
 * the process measured): held to the end (max_duration), and every other ending.
 */
export async function endedCalls(metrics: ServiceMetrics): Promise<{ completed: number; failed: number }> {
  const metric = await metrics.registry.getSingleMetric('ctd_calls_ended_total')!.get();
  let completed = 0;
  let failed = 0;
  for (const value of metric.values) {
    if (value.labels.status === 'completed' && value.labels.end_reason === 'max_duration') completed += value.value;
    else failed += value.value;
  }
  return { completed, failed };
}
