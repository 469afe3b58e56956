/**
 * bench:call-cost (node --expose-gc --import tsx bench/call-cost.bench.ts) — what one RFC 3725
 * flow III call costs the engine and the SIP and SDP layers under it, without sockets, SIPp or
 * the scheduler's noise: CPU per call at a steady call rate, and heap bytes per connected call.
 *
 * The engine runs on a real TransportLayer whose UDP socket is a fake; two in-process UAS
 * parties answer as the SIPp scenarios of bench:engine do (A: uas-answer-reinvite-offer, B:
 * uas-answer-offer): 100, 180, 200 with an offer, a 200 with an answer to the re-INVITE, 200 to
 * BYE, 17 messages a call. The parties build their messages from text templates; their own CPU is
 * measured apart and left out of the figures. Time is a fake clock.
 *
 * 1. Rate: as bench:engine, calls start at BENCH_RATE a (fake) second and each is hung up 1 s
 *    after it connected, so that the stack holds what it holds at that rate (live calls, ended
 *    ones waiting out 64*T1); after BENCH_WARMUP calls, the CPU of the next BENCH_RATE_CALLS
 *    calls, set-up to the end of their last timer, is divided among them.
 * 2. Hold: BENCH_CALLS calls connected at once, the clock moved past 128*T1 so that what remains
 *    is what a connected call holds; heap and ArrayBuffer bytes per call after a full GC (--expose-gc).
 *    BENCH_SNAPSHOT=file writes a heap snapshot then.
 */
import type { RemoteInfo } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { writeHeapSnapshot } from 'node:v8';
import { Engine, type CallEvent } from '../src/engine/index.js';
import { TransportLayer, type Clock, type TimerHandle, type UdpSocket } from '../src/sip/index.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 5000);
const RATE = Number(process.env.BENCH_RATE ?? 500);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5000);
const RATE_CALLS = Number(process.env.BENCH_RATE_CALLS ?? 10_000);
const HOLD_MS = 1000;
const BATCH = 100;

// ---- a fake clock that scales: a binary heap, cancelled timers dropped when they come up --------

interface FakeTimer extends TimerHandle {
  at: number;
  seq: number;
  callback: (() => void) | undefined;
}

class HeapClock implements Clock {
  private current = 0;
  private seq = 0;
  private readonly heap: FakeTimer[] = [];

  now(): number {
    return this.current;
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const timer: FakeTimer = { __timer: true, at: this.current + Math.max(0, delayMs), seq: this.seq++, callback };
    this.push(timer);
    return timer;
  }

  cancel(handle: TimerHandle | undefined): void {
    if (handle) (handle as FakeTimer).callback = undefined;
  }

  get pending(): number {
    return this.heap.filter((t) => t.callback !== undefined).length;
  }

  advance(ms: number): void {
    const target = this.current + ms;
    while (this.heap.length > 0 && this.heap[0]!.at <= target) {
      const timer = this.pop();
      this.current = timer.at;
      const callback = timer.callback;
      timer.callback = undefined;
      callback?.();
    }
    this.current = target;
  }

  private less(a: FakeTimer, b: FakeTimer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(timer: FakeTimer): void {
    const heap = this.heap;
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(heap[i]!, heap[parent]!)) break;
      const swap = heap[i]!;
      heap[i] = heap[parent]!;
      heap[parent] = swap;
      i = parent;
    }
  }

  private pop(): FakeTimer {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && this.less(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && this.less(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        const swap = heap[i]!;
        heap[i] = heap[m]!;
        heap[m] = swap;
        i = m;
      }
    }
    return top;
  }
}

// ---- the parties ---------------------------------------------------------------------------------

const LOCAL = { address: '127.0.0.1', port: 5060 };
const PARTY_A = { address: '127.0.0.2', port: 5062, user: 'alice' };
const PARTY_B = { address: '127.0.0.3', port: 5063, user: 'bob' };

let partyMs = 0;

function sdp(address: string, port: number, version: number): string {
  return (
    `v=0\r\no=sippeer 4242 ${version} IN IP4 ${address}\r\ns=sipp-peer\r\nc=IN IP4 ${address}\r\nt=0 0\r\n` +
    `m=audio ${port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n` +
    `a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n`
  );
}

/** A UAS as the SIPp scenarios: reads Via, From, To, Call-ID and CSeq by plain string search. */
class Party {
  private tags = 0;
  constructor(
    private readonly self: { address: string; port: number; user: string },
    private readonly reinviteAnswer: boolean,
    private readonly deliver: (text: string, from: { address: string; port: number }) => void,
  ) {}

  receive(data: Buffer): void {
    const started = performance.now();
    const text = data.toString('latin1');
    const headEnd = text.indexOf('\r\n\r\n');
    const method = text.slice(0, text.indexOf(' '));
    // The lines a UAS copies into its responses (RFC 3261 §8.2.6.2), found without splitting.
    let copied = '';
    let to = '';
    for (let start = text.indexOf('\r\n') + 2; start < headEnd; ) {
      const end = text.indexOf('\r\n', start);
      const c = text.charCodeAt(start);
      if (c === 86 /* V */ || c === 70 /* F */ || c === 67 /* C */) {
        if (text.startsWith('Via:', start) || text.startsWith('From:', start) || text.startsWith('Call-ID:', start) || text.startsWith('CSeq:', start)) {
          copied += text.slice(start, end + 2);
        }
      } else if (c === 84 /* T */ && text.startsWith('To:', start)) {
        to = text.slice(start, end);
      }
      start = end + 2;
    }
    const contact = `Contact: <sip:${this.self.user}@${this.self.address}:${this.self.port};transport=UDP>\r\n`;
    const respond = (status: string, toLine: string, body = '', withContact = true): void => {
      const type = body ? 'Content-Type: application/sdp\r\n' : '';
      this.deliver(`SIP/2.0 ${status}\r\n${copied}${toLine}\r\n${withContact ? contact : ''}${type}Content-Length: ${body.length}\r\n\r\n${body}`, this.self);
    };
    const tagged = to.includes(';tag=');
    if (method === 'INVITE' && !tagged) {
      const toTag = `${to};tag=${++this.tags}SIPpTag01`;
      respond('100 Trying', to, '', false);
      respond('180 Ringing', toTag);
      respond('200 OK', toTag, sdp(this.self.address, 6000, 1));
    } else if (method === 'INVITE' && this.reinviteAnswer) {
      respond('200 OK', to, sdp(this.self.address, 6000, 2));
    } else if (method === 'BYE') {
      respond('200 OK', to);
    }
    partyMs += performance.now() - started;
  }
}

class FakeUdpSocket extends EventEmitter implements UdpSocket {
  parties = new Map<string, Party>();
  private bound = { address: LOCAL.address, port: LOCAL.port };

  bind(options: { port: number; address: string }): void {
    this.bound = { address: options.address, port: options.port };
    queueMicrotask(() => this.emit('listening'));
  }

  send(data: Buffer, port: number, address: string, callback: (error: Error | null) => void): void {
    const party = this.parties.get(`${address}:${port}`);
    setImmediate(() => {
      callback(null);
      party?.receive(data);
    });
  }

  close(callback?: () => void): void {
    queueMicrotask(() => callback?.());
  }

  address(): { address: string; port: number } {
    return this.bound;
  }

  inject(text: string, from: { address: string; port: number }): void {
    const remote: RemoteInfo = { address: from.address, port: from.port, family: 'IPv4', size: text.length };
    setImmediate(() => this.emit('message', Buffer.from(text, 'latin1'), remote));
  }
}

// ---- the run -------------------------------------------------------------------------------------

const gc = (globalThis as { gc?: () => void }).gc;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function settle(): Promise<void> {
  // Let every setImmediate chain run out.
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function heapUsed(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await sleep(20);
  }
  // The ArrayBuffers outside the heap (message bytes) are held too.
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

interface Rig {
  clock: HeapClock;
  transport: TransportLayer;
  engine: Engine;
  counts: { connected: number; completed: number; failed: number };
}

async function startRig(maxDurationMs: number): Promise<Rig> {
  const clock = new HeapClock();
  let socket: FakeUdpSocket | undefined;
  const transport = new TransportLayer({
    host: LOCAL.address,
    port: LOCAL.port,
    transports: ['udp'],
    clock,
    sockets: { createUdpSocket: () => (socket = new FakeUdpSocket()) },
  });
  await transport.listen();
  const udp = socket!;
  const deliver = (text: string, from: { address: string; port: number }) => udp.inject(text, from);
  udp.parties.set(`${PARTY_A.address}:${PARTY_A.port}`, new Party(PARTY_A, true, deliver));
  udp.parties.set(`${PARTY_B.address}:${PARTY_B.port}`, new Party(PARTY_B, false, deliver));
  const counts = { connected: 0, completed: 0, failed: 0 };
  const onEvent = (event: CallEvent): void => {
    if (event.type !== 'call.status') return;
    if (event.status === 'connected') counts.connected++;
    else if (event.status === 'completed') counts.completed++;
    else if (event.status === 'failed' || event.status === 'canceled') counts.failed++;
  };
  // As bench:engine: a SIP log of 32 lines per call, 100 finished logs kept.
  const engine = new Engine({ transport, clock, onEvent, sipLogLimit: 32, finishedLogs: 100, onSipLog: streamSipLog, defaults: { maxDurationMs }, onError: (error) => console.error(error) });
  return { clock, transport, engine, counts };
}

async function stopRig(rig: Rig): Promise<void> {
  rig.engine.close();
  await rig.transport.close();
}

let callNumber = 0;

function startCall(rig: Rig): void {
  rig.engine.startCall({
    id: `call_${++callNumber}`,
    a: { uri: `<sip:${PARTY_A.user}@${PARTY_A.address}:${PARTY_A.port}>`, from: '<sip:ctd@127.0.0.1>' },
    b: { uri: `<sip:${PARTY_B.user}@${PARTY_B.address}:${PARTY_B.port}>`, from: '<sip:alice@example.com>' },
  });
}

// ---- 1. steady rate --------------------------------------------------------------------------

async function measureRate(): Promise<{ usPerCall: number; calls: number }> {
  const rig = await startRig(HOLD_MS);
  const tickMs = 10;
  const perTick = Math.max(1, Math.round((RATE * tickMs) / 1000));
  let started = 0;
  let cpu0: NodeJS.CpuUsage | undefined;
  let partyAtStart = 0;
  const total = WARMUP + RATE_CALLS;
  while (started < total) {
    if (started >= WARMUP && cpu0 === undefined) {
      cpu0 = process.cpuUsage();
      partyAtStart = partyMs;
    }
    for (let i = 0; i < perTick && started < total; i++, started++) startCall(rig);
    await settle();
    rig.clock.advance(tickMs);
  }
  // The last calls: their hold, their BYE, then every timer they left (64*T1).
  for (let waited = 0; waited < HOLD_MS + 33_000; waited += 100) {
    await settle();
    rig.clock.advance(100);
  }
  await settle();
  const cpu = process.cpuUsage(cpu0);
  const partyUs = (partyMs - partyAtStart) * 1000;
  const { completed, failed } = rig.counts;
  if (completed + failed < total || failed > 0) throw new Error(`rate phase: ${completed} of ${total} calls completed, ${failed} failed`);
  await stopRig(rig);
  return { usPerCall: Math.round((cpu.user + cpu.system - partyUs) / RATE_CALLS), calls: RATE_CALLS };
}

// ---- 2. hold ---------------------------------------------------------------------------------

async function measureHold(): Promise<{ bytesPerCall: number; calls: number }> {
  const rig = await startRig(0);
  const heapBefore = await heapUsed();
  for (let started = 0; started < CALLS; ) {
    for (const end = Math.min(CALLS, started + BATCH); started < end; started++) startCall(rig);
    await settle();
  }
  await settle();
  const { connected, failed } = rig.counts;
  if (connected + failed < CALLS || failed > 0) throw new Error(`hold phase: ${connected} of ${CALLS} calls connected, ${failed} failed`);
  // Past Timer M, D and K (64*T1) and the ACKs' retention (128*T1): what is left is what a
  // connected call holds.
  rig.clock.advance(65_000);
  await settle();
  const heapHeld = await heapUsed();
  if (process.env.BENCH_SNAPSHOT) writeHeapSnapshot(process.env.BENCH_SNAPSHOT);
  rig.engine.hangupAll();
  await settle();
  rig.clock.advance(33_000);
  await settle();
  await stopRig(rig);
  return { bytesPerCall: Math.round((heapHeld - heapBefore) / CALLS), calls: CALLS };
}

async function main(): Promise<void> {
  console.log('bench:call-cost — flow III calls through Engine → UA → transaction → transport (fake UDP socket, fake clock)');
  if (!gc) console.log('(run with --expose-gc for heap figures)');
  const rate = await measureRate();
  console.log(`  rate: ${RATE} calls a second, each held ${HOLD_MS} ms: ${rate.usPerCall} µs CPU per call over ${rate.calls} calls after ${WARMUP} to warm up (${Math.round(1e6 / rate.usPerCall)} calls/s of one core)`);
  const hold = await measureHold();
  console.log(`  hold: ${hold.calls} calls connected at once: ${hold.bytesPerCall} heap bytes per call (${(hold.bytesPerCall / 1024).toFixed(1)} KiB)`);
  console.log(JSON.stringify({ rate: RATE, cpuUsPerCall: rate.usPerCall, rateCalls: rate.calls, heldCalls: hold.calls, bytesPerCall: hold.bytesPerCall }));
}

await main();

/**
 * As in the engine role, each line of a call's SIP log goes out as it is written (there, to the
 * store's batched writer) instead of staying with the call; here it goes nowhere.
 */
function streamSipLog(): void {}
