/**
 * npm run bench:store — events persisted per second through the EventWriter (batched: the call
 * update, the event and its outbox row in one multi-row statement per batch) against one Prisma
 * `create` per event (the event with its outbox row, a nested create: its own transaction), on the
 * same PostgreSQL in the same run. The workload is the engine's: 250 calls of 12 events each,
 * written by many calls at once. Then the writer paced at the goal's rate (250 calls/s × 12
 * events) to show what a change waits before it is committed.
 *
 * Creates and drops its own database (ctd_bench_<random>) on BENCH_DATABASE_URL's server.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { dropDatabase, ensureDatabase, migrate, Store } from '../src/store/index.js';
import { createPrismaClient } from '../src/store/prisma-client.js';

const SERVER_URL = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres:postgres@127.0.0.1:5432/postgres';
const CALLS = 250;
const EVENTS_PER_CALL = 12;
/** Measured bursts of CALLS × EVENTS_PER_CALL through the writer, after one unmeasured. */
const WRITER_ROUNDS = 3;
/** Prisma creates before the measured ones (connections, JIT). */
const PRISMA_WARMUP = 300;
const PRISMA_CONCURRENCY = 10;
const PACED_RATE = 3000;
const PACED_SECONDS = 4;

const url = new URL(SERVER_URL);
url.pathname = `/ctd_bench_${randomBytes(5).toString('hex')}`;
const databaseUrl = url.toString();

interface Figures {
  events: number;
  seconds: number;
  cpuMs: number;
}

const perSec = (f: Figures): number => f.events / f.seconds;
const cpuUsPerEvent = (f: Figures): number => (f.cpuMs * 1000) / f.events;

function measure(): () => { seconds: number; cpuMs: number } {
  const start = performance.now();
  const cpu = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(cpu);
    return { seconds: (performance.now() - start) / 1000, cpuMs: (used.user + used.system) / 1000 };
  };
}

async function makeCalls(store: Store, accountId: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    ids.push((await store.createCall(accountId, { a: { uri: `sip:+1555${i}@trunk.example`, callerId: '<sip:ctd@example>' }, b: { uri: 'sip:+15550@trunk.example', callerId: '<sip:ctd@example>' } })).call.id);
  }
  return ids;
}

const STATUSES = ['calling_a', 'calling_a', 'calling_a', 'calling_b', 'calling_b', 'calling_b', 'calling_b', 'connected', 'connected', 'connected', 'connected', 'completed'] as const;

async function benchEventWriter(store: Store, accountId: string, callIds: string[], round: number): Promise<Figures> {
  const done = measure();
  const writes: Promise<unknown>[] = [];
  // Event by event, round robin over the calls: what many live calls produce together.
  for (let step = 1; step <= EVENTS_PER_CALL; step++) {
    const sequence = round * EVENTS_PER_CALL + step;
    for (const callId of callIds) {
      const status = STATUSES[step - 1]!;
      writes.push(
        store.writeChange({
          callId,
          accountId,
          event: { sequence, type: 'call.leg.ringing', leg: 'a', status: 'ringing', sip: { code: 180, reason: 'Ringing' }, payload: { sequence, leg: 'a' } },
          callUpdate: { status },
          legUpdate: { leg: sequence % 2 === 0 ? 'a' : 'b', status: 'ringing', sipCode: 180, sipReason: 'Ringing' },
        }),
      );
    }
  }
  await Promise.all(writes);
  return { events: writes.length, ...done() };
}

async function benchPrisma(accountId: string, callIds: string[]): Promise<Figures> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: PRISMA_CONCURRENCY });
  const prisma = createPrismaClient(pool);
  try {
    const jobs: Array<{ callId: string; sequence: number }> = [];
    for (let sequence = 1; sequence <= EVENTS_PER_CALL + 2; sequence++) for (const callId of callIds) jobs.push({ callId, sequence });
    const warmup = jobs.splice(jobs.length - PRISMA_WARMUP);
    let next = 0;
    let queue = warmup;
    const worker = async (): Promise<void> => {
      for (let job = queue[next++]; job !== undefined; job = queue[next++]) {
        const createdAt = new Date();
        await prisma.callEvent.create({
          data: {
            id: `evt_prisma_${job.callId}_${job.sequence}`,
            callId: job.callId,
            accountId,
            sequence: job.sequence,
            type: 'call.leg.ringing',
            leg: 'a',
            status: 'ringing',
            sipCode: 180,
            sipReason: 'Ringing',
            payload: { sequence: job.sequence, leg: 'a' },
            createdAt,
            outbox: { create: { createdAt } },
          },
        });
      }
    };
    await Promise.all(Array.from({ length: PRISMA_CONCURRENCY }, worker));
    queue = jobs;
    next = 0;
    const done = measure();
    await Promise.all(Array.from({ length: PRISMA_CONCURRENCY }, worker));
    return { events: jobs.length, ...done() };
  } finally {
    await prisma.$disconnect();
    await pool.end();
  }
}

async function benchPaced(store: Store, accountId: string, callIds: string[]): Promise<{ rate: number; p50: number; p99: number; max: number }> {
  const total = PACED_RATE * PACED_SECONDS;
  const latencies: number[] = [];
  const writes: Promise<unknown>[] = [];
  const start = performance.now();
  const sequences = new Map<string, number>();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * PACED_RATE));
      for (; sent < due; sent++) {
        const callId = callIds[sent % callIds.length]!;
        const sequence = (sequences.get(callId) ?? 1000) + 1;
        sequences.set(callId, sequence);
        const queuedAt = performance.now();
        writes.push(
          store.writeChange({ callId, accountId, event: { sequence, type: 'call.leg.ringing', payload: { sequence } }, callUpdate: { status: 'connected' } }).then(() => {
            latencies.push(performance.now() - queuedAt);
          }),
        );
      }
      if (sent >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(writes);
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((x, y) => x - y);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { rate: total / seconds, p50: at(0.5), p99: at(0.99), max: latencies[latencies.length - 1]! };
}

await ensureDatabase(databaseUrl);
try {
  await migrate(databaseUrl);
  const store = new Store({ databaseUrl, encryptionKey: Buffer.alloc(32, 1), onError: (error) => console.error(error.message) });
  try {
    const account = await store.createAccount('bench');
    const writerCalls = await makeCalls(store, account.id, CALLS);
    const prismaCalls = await makeCalls(store, account.id, CALLS);
    const pacedCalls = await makeCalls(store, account.id, CALLS);
    // Round 0 warms up (JIT, connections, plans); the rounds after it are measured.
    await benchEventWriter(store, account.id, writerCalls, 0);
    const rounds: Figures[] = [];
    for (let round = 1; round <= WRITER_ROUNDS; round++) rounds.push(await benchEventWriter(store, account.id, writerCalls, round));
    const writer: Figures = {
      events: rounds.reduce((sum, f) => sum + f.events, 0),
      seconds: rounds.reduce((sum, f) => sum + f.seconds, 0),
      cpuMs: rounds.reduce((sum, f) => sum + f.cpuMs, 0),
    };
    const prisma = await benchPrisma(account.id, prismaCalls);
    const paced = await benchPaced(store, account.id, pacedCalls);
    const stats = store.events.stats().changes;

    const ratio = perSec(writer) / perSec(prisma);
    const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
    console.log(
      `workload: ${CALLS} calls × ${EVENTS_PER_CALL} events written by all calls at once (writer: ${WRITER_ROUNDS} such bursts after a warm-up; Prisma: one, after ${PRISMA_WARMUP} warm-up creates); PostgreSQL at ${new URL(SERVER_URL).host}`,
    );
    console.log(`${'method'.padEnd(64)} ${'events/s'.padStart(10)} ${'CPU µs/event'.padStart(13)}`);
    console.log(`${'EventWriter (call + leg update, event, outbox; batches of ≤200)'.padEnd(64)} ${fmt(perSec(writer)).padStart(10)} ${cpuUsPerEvent(writer).toFixed(1).padStart(13)}`);
    console.log(`${`Prisma create per event (event + outbox), ${PRISMA_CONCURRENCY} in flight`.padEnd(64)} ${fmt(perSec(prisma)).padStart(10)} ${cpuUsPerEvent(prisma).toFixed(1).padStart(13)}`);
    console.log(`EventWriter / Prisma: ${ratio.toFixed(1)}x; ${stats.batches} batches for ${fmt(stats.written)} changes in all`);
    console.log(
      `paced at ${fmt(PACED_RATE)} changes/s (250 calls/s × 12) for ${PACED_SECONDS} s: ${fmt(paced.rate)}/s kept up, commit wait p50 ${paced.p50.toFixed(1)} ms, p99 ${paced.p99.toFixed(1)} ms, max ${paced.max.toFixed(1)} ms`,
    );
    console.log(JSON.stringify({ eventWriterPerSec: Math.round(perSec(writer)), prismaPerSec: Math.round(perSec(prisma)), ratio: Number(ratio.toFixed(2)) }));
  } finally {
    await store.close();
  }
} finally {
  await dropDatabase(databaseUrl);
}
