/**
 * npm run bench:parse — messages parsed per second by our parser, by the npm `sip` package and
 * by SIP.js, on the same corpus in the same run. Each parser must make the headers a stack reads
 * for every message available by name: Call-ID, CSeq, the top Via's branch and the From tag.
 */
import sip from 'sip';
import { LoggerFactory, Parser } from 'sip.js/lib/core/index.js';
import { parseMessage, serializeMessage } from '../src/sip/message/index.js';
import { corpus } from './corpus.js';

const buffers = corpus.map((m) => Buffer.from(m));
const strings = corpus;
const logger = new LoggerFactory().getLogger('bench');
logger.level = 0 as never;

type Case = { name: string; run: (i: number) => unknown };

const cases: Case[] = [
  {
    name: 'ours',
    run: (i) => {
      const m = parseMessage(buffers[i % buffers.length]!);
      return m.callId.length + m.cseq.seq + m.topVia.branch!.length + (m.from.tag?.length ?? 0);
    },
  },
  {
    name: 'sip (npm)',
    run: (i) => {
      const m = sip.parse(buffers[i % buffers.length]!);
      return m.headers['call-id'].length + m.headers.cseq.seq + m.headers.via[0].params.branch.length + m.headers.from.params.tag.length;
    },
  },
  {
    name: 'SIP.js',
    run: (i) => {
      const m = Parser.parseMessage(strings[i % strings.length]!, logger)!;
      return m.callId.length + m.cseq + m.getHeader('via')!.length + (m.fromTag?.length ?? 0);
    },
  },
];

function measure(run: (i: number) => unknown, ms: number): number {
  let sink = 0;
  let count = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let k = 0; k < 500; k++) sink += Number(run(count++)) || 0;
    now = performance.now();
  }
  if (sink === -1) console.log('unreachable');
  return (count / (now - start)) * 1000;
}

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const results = new Map<string, number[]>();
for (const c of cases) measure(c.run, 300); // warm up every JIT path first
for (let r = 0; r < rounds; r++) {
  for (const c of cases) {
    const list = results.get(c.name) ?? [];
    list.push(measure(c.run, 400));
    results.set(c.name, list);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const parsed = buffers.map((b) => parseMessage(b));
for (let k = 0; k < 20000; k++) serializeMessage(parsed[k % parsed.length]!);
const serializeRate = median(Array.from({ length: rounds }, () => measure((i) => serializeMessage(parsed[i % parsed.length]!).length, 400)));

const ours = median(results.get('ours')!);
const sipRate = median(results.get('sip (npm)')!);
const sipjsRate = median(results.get('SIP.js')!);
const fastest = Math.max(sipRate, sipjsRate);

const rows = [
  ['ours (parse + Call-ID, CSeq, Via branch, From tag)', ours],
  ['sip (npm) 0.0.6', sipRate],
  ['SIP.js 0.21 core parser', sipjsRate],
  ['ours: serialize', serializeRate],
] as const;
console.log(`corpus: ${corpus.length} messages (INVITE+SDP with two Via, 180, 200+SDP, ACK, BYE); median of ${rounds} rounds`);
for (const [name, rate] of rows) console.log(`${name.padEnd(52)} ${Math.round(rate).toLocaleString('en-US').padStart(12)} msgs/s`);
console.log(`ours / fastest other parser: ${(ours / fastest).toFixed(2)}x (goal: at least 2x)`);
console.log(
  JSON.stringify({
    oursMsgsPerSec: Math.round(ours),
    sipMsgsPerSec: Math.round(sipRate),
    sipjsMsgsPerSec: Math.round(sipjsRate),
    serializeMsgsPerSec: Math.round(serializeRate),
    ratioToFastest: Number((ours / fastest).toFixed(2)),
  }),
);
