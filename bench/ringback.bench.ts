/**
 * npm run bench:ringback — CPU cost of playing ringback to N ringing calls at once (N = 100, 500,
 * 1000), each stream 50 RTP packets a second to a UDP sink on 127.0.0.1, measured with
 * process.cpuUsage() over BENCH_SECONDS (default 3) per N. The sink runs in a child process so
 * that receiving is not counted. Compared in the same run with two references: the idle event
 * loop, and a plain ticker that socket.send()s the same number of prebuilt packets (the floor:
 * Node's dgram and the kernel), so the ratio is what the tone, the RTP header and the
 * scheduling add.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { RingbackPlayer, createUdpRingbackSocket, type RingbackHandle, type RingbackSocket } from '../src/engine/ringback/index.js';
import { systemClock } from '../src/sip/index.js';

const STREAM_COUNTS = [100, 500, 1000];
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const WARM_UP_MS = 300;
const PACKETS_PER_SECOND = 50;

// The sink: counts datagrams; answers "count" with the number received since the last answer.
const SINK = `
const dgram = require('node:dgram');
const socket = dgram.createSocket('udp4');
let received = 0;
socket.on('message', () => { received++; });
socket.bind(0, '127.0.0.1', () => {
  try { socket.setRecvBufferSize(8 * 1024 * 1024); } catch {}
  process.stdout.write('port ' + socket.address().port + '\\n');
});
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'count') { process.stdout.write('count ' + received + '\\n'); received = 0; }
  if (line === 'exit') process.exit(0);
});
`;

interface Sink {
  port: number;
  /** Datagrams received since the last call. */
  takeCount(): Promise<number>;
  close(): void;
}

async function startSink(): Promise<Sink> {
  const child = spawn(process.execPath, ['-e', SINK], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const waiting: Array<(line: string) => void> = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const next = () => new Promise<string>((resolve) => waiting.push(resolve));
  const port = Number((await next()).split(' ')[1]);
  return {
    port,
    async takeCount() {
      const answer = next();
      child.stdin.write('count\n');
      return Number((await answer).split(' ')[1]);
    },
    close() {
      child.stdin.write('exit\n');
    },
  };
}

interface Measurement {
  cpuUs: number;
  wallMs: number;
  packets: number;
  sentUntilCount: number;
  received: number;
}

/** CPU and wall time over SECONDS, after a warm-up; `packets` reads the send counter. */
async function measure(sink: Sink, packets: () => number): Promise<Measurement> {
  await sleep(WARM_UP_MS);
  await sink.takeCount();
  const sentBefore = packets();
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  await sleep(SECONDS * 1000);
  const cpu = process.cpuUsage(cpuBefore);
  const wallMs = performance.now() - wallBefore;
  const sent = packets() - sentBefore;
  // The sink counts on until asked, so compare it with what was sent until then.
  await sleep(100);
  const sentUntilCount = packets() - sentBefore;
  const received = await sink.takeCount();
  return { cpuUs: cpu.user + cpu.system, wallMs, packets: sent, sentUntilCount, received };
}

async function idleLoop(sink: Sink): Promise<Measurement> {
  return measure(sink, () => 0);
}

/** The floor: one 20 ms ticker sending N prebuilt 172-byte packets through the same socket. */
async function plainSend(sink: Sink, streams: number): Promise<Measurement> {
  const socket: RingbackSocket = await createUdpRingbackSocket('127.0.0.1');
  const packets = Array.from({ length: streams }, (_, index) => {
    const packet = Buffer.alloc(172, 0xff);
    packet[0] = 0x80;
    packet.writeUInt32BE(index, 8);
    return packet;
  });
  const noop = () => {};
  let sent = 0;
  let tick = 0;
  let running = true;
  const start = performance.now();
  const onTick = () => {
    if (!running) return;
    for (const packet of packets) socket.send(packet, sink.port, '127.0.0.1', noop);
    sent += packets.length;
    tick++;
    setTimeout(onTick, Math.max(0, start + tick * 20 - performance.now()));
  };
  onTick();
  const result = await measure(sink, () => sent);
  running = false;
  socket.close();
  return result;
}

async function ringback(sink: Sink, streams: number): Promise<Measurement> {
  const player = new RingbackPlayer({ socket: await createUdpRingbackSocket('127.0.0.1'), clock: systemClock });
  const handles: RingbackHandle[] = [];
  for (let index = 0; index < streams; index++) {
    handles.push(player.play({ address: '127.0.0.1', port: sink.port, payloadType: 0, codec: 'PCMU' }));
  }
  const result = await measure(sink, () => handles.reduce((sum, handle) => sum + handle.packetsSent, 0));
  if (player.activeStreams !== streams) throw new Error(`only ${player.activeStreams} of ${streams} streams still play`);
  player.close();
  return result;
}

const sink = await startSink();
const idle = await idleLoop(sink);
const idleCpuUsPerSecond = idle.cpuUs / (idle.wallMs / 1000);

interface Row {
  streams: number;
  ringback: Measurement;
  plain: Measurement;
  cpuUsPerCallSecond: number;
  plainCpuUsPerCallSecond: number;
}
const rows: Row[] = [];
for (const streams of STREAM_COUNTS) {
  const plain = await plainSend(sink, streams);
  const played = await ringback(sink, streams);
  const perCallSecond = (m: Measurement) => (m.cpuUs / (m.wallMs / 1000) - idleCpuUsPerSecond) / streams;
  rows.push({ streams, ringback: played, plain, cpuUsPerCallSecond: perCallSecond(played), plainCpuUsPerCallSecond: perCallSecond(plain) });
}
sink.close();

const corePercent = (m: Measurement) => (m.cpuUs / (m.wallMs * 1000)) * 100;
const fixed = (value: number, digits = 1) => value.toFixed(digits);
console.log(`ringback to N streams on 127.0.0.1 for ${SECONDS} s each (PCMU, 20 ms, 172-byte packets); node ${process.version}`);
console.log(`idle event loop: ${fixed(corePercent(idle), 2)} % of a core (${fixed(idleCpuUsPerSecond, 0)} µs CPU/s), subtracted below`);
console.log(
  ['streams', 'ringback %core', 'plain send %core', 'µs/call·s', 'plain µs/call·s', 'ratio', '%core/100 calls', 'sent/expected', 'received']
    .map((title, index) => (index === 0 ? title.padEnd(8) : title.padStart(18)))
    .join(''),
);
for (const row of rows) {
  const expected = row.streams * PACKETS_PER_SECOND * (row.ringback.wallMs / 1000);
  console.log(
    [
      String(row.streams).padEnd(8),
      fixed(corePercent(row.ringback)).padStart(18),
      fixed(corePercent(row.plain)).padStart(18),
      fixed(row.cpuUsPerCallSecond).padStart(18),
      fixed(row.plainCpuUsPerCallSecond).padStart(18),
      `${fixed(row.cpuUsPerCallSecond / row.plainCpuUsPerCallSecond, 2)}x`.padStart(18),
      fixed(row.cpuUsPerCallSecond / 100, 3).padStart(18),
      `${fixed((row.ringback.packets / expected) * 100)} %`.padStart(18),
      `${fixed((row.ringback.received / Math.max(1, row.ringback.sentUntilCount)) * 100)} %`.padStart(18),
    ].join(''),
  );
}
console.log('µs/call·s: µs of CPU per second of ringback per call, net of the idle loop; ratio: ringback / plain send');
console.log(
  JSON.stringify({
    streams: rows.map((row) => row.streams),
    cpuUsPerCallSecond: rows.map((row) => Number(fixed(row.cpuUsPerCallSecond, 2))),
    corePercentPer100Calls: rows.map((row) => Number(fixed(row.cpuUsPerCallSecond / 100, 3))),
    plainSendCpuUsPerCallSecond: rows.map((row) => Number(fixed(row.plainCpuUsPerCallSecond, 2))),
    ratioToPlainSend: rows.map((row) => Number(fixed(row.cpuUsPerCallSecond / row.plainCpuUsPerCallSecond, 2))),
    idleCpuUsPerSecond: Math.round(idleCpuUsPerSecond),
    sentToExpected: rows.map((row) => Number(fixed(row.ringback.packets / (row.streams * PACKETS_PER_SECOND * (row.ringback.wallMs / 1000)), 3))),
    seconds: SECONDS,
  }),
);
