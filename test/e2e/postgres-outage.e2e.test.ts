/**
 * PostgreSQL down and back while a call is connected, with a PostgreSQL of the test's own (initdb
 * in a temporary folder, run as the postgres user on a free port: the machine's server and the
 * other tests are not touched). While it is down the call goes on and ends by itself (the engine
 * holds it in memory), its events wait in the writer, the API answers 503 with Retry-After; once
 * it is back everything is written, in order and without gaps, and a new call goes through.
 *
 * Under load (operations issue 7): a stream of calls is placed while the private server is stopped
 * (immediate) and started again. Every request is answered 202 or 503 + Retry-After, a 503 creates
 * nothing, every 202 is one call started once that completes with all its events, in order and
 * gap-free (calls connected when the database went away too), and calls are accepted again
 * afterwards without anyone restarting the service.
 *
 * Stopped while it is down, the service stops all the same, after the writer's shutdown wait (it
 * used to wait for the database for ever), and says what it gave up.
 *
 * pg_ctl runs asynchronously: the service under test lives in this process, and a blocked event
 * loop would stall its SIP timers and the stream of requests too.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { promisify } from 'node:util';
import { freePortBlock } from '../support/ports.js';
import { sharedScenario, startSippUas } from '../support/sipp.js';
import { checkStreamThroughOutage, startCallStream, type CallStream } from './call-stream.js';
import { eventually } from './processes.js';
import { startTestService, waitForCall, type ServiceUnderTest } from './service.js';

const BIN = '/usr/lib/postgresql/15/bin';

function postgresUid(): number | undefined {
  try {
    return Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  } catch {
    return undefined;
  }
}

const execFileAsync = promisify(execFile);

interface PrivateCluster {
  /** Starts the server; nothing if it runs. */
  start(): Promise<void>;
  /** Stops it (immediate); nothing if it is stopped. */
  stop(): Promise<void>;
}

/**
 * A throw-away cluster: initdb once, then start()/stop() the server on `port` with pg_ctl.
 * Removed by the test's after(), which runs after() hooks in the order they were added: this one
 * runs before the service's, so a test stops its service first itself (serviceFirst()).
 */
function privateCluster(t: TestContext, port: number): PrivateCluster {
  const folder = mkdtempSync(join(tmpdir(), 'ctd-pg-'));
  chownSync(folder, postgresUid()!, postgresUid()!);
  const data = join(folder, 'data');
  const asPostgres = (command: string, args: string[]): [string, string[]] => (process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args]);
  execFileSync(...asPostgres(`${BIN}/initdb`, ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']), { stdio: 'ignore', timeout: 30_000 });
  const pgCtl = async (args: string[]): Promise<void> => {
    await execFileAsync(...asPostgres(`${BIN}/pg_ctl`, ['-D', data, ...args]), { timeout: 30_000 });
  };
  let running = false;
  const stop = async (): Promise<void> => {
    if (!running) return;
    running = false;
    // Immediate: what a crash looks like to the clients.
    await pgCtl(['-m', 'immediate', '-w', 'stop']);
  };
  t.after(async () => {
    try {
      await stop();
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
  return {
    async start() {
      if (running) return;
      // -l: pg_ctl leaves the server's output in a file, not in our pipe (execFile waits for the pipe to close).
      await pgCtl(['-l', join(folder, 'server.log'), '-w', '-o', `-p ${port} -k ${folder} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
      running = true;
    },
    stop,
  };
}

/**
 * Added before the cluster, so run before its removal: the stream stops, the server is started
 * again if the test ended during an outage, and the service stops while its database is up. Stopped
 * without it, the service's writer would wait for the database forever with the changes it holds,
 * and keep the test process alive.
 */
function serviceFirst(t: TestContext): { cluster?: PrivateCluster; ctd?: ServiceUnderTest; stream?: CallStream } {
  const parts: { cluster?: PrivateCluster; ctd?: ServiceUnderTest; stream?: CallStream } = {};
  t.after(async () => {
    await parts.stream?.stop();
    if (parts.ctd) {
      await parts.cluster?.start();
      await parts.ctd.stop();
    }
  });
  return parts;
}

/** Ports, the private cluster (started), the teardown order, and two SIPp parties taking `calls`. */
async function outageSetUp(t: TestContext, parties: { calls: number; timeoutSeconds?: number }) {
  const base = await freePortBlock(10);
  const pgPort = base + 9;
  const teardown = serviceFirst(t);
  const cluster = (teardown.cluster = privateCluster(t, pgPort));
  await cluster.start();
  const a = await startSippUas(t, { scenario: sharedScenario('uas-answer-reinvite-offer'), port: base + 1, mediaPort: base + 4, transport: 'udp', ...parties });
  const b = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: base + 2, mediaPort: base + 7, transport: 'udp', ...parties });
  return { base, teardown, cluster, a, b, env: { DATABASE_URL: `postgresql://postgres@127.0.0.1:${pgPort}/click_to_dial_outage` } };
}

describe('PostgreSQL down and back', { skip: !existsSync(`${BIN}/initdb`) || postgresUid() === undefined ? 'PostgreSQL 15 binaries or the postgres user are missing' : false }, () => {
  test('a connected call carries on and its events are written once the database is back; the API answers 503 meanwhile', async (t) => {
    const { base, teardown, cluster, a, b, env } = await outageSetUp(t, { calls: 2 });
    const ctd = (teardown.ctd = await startTestService(t, { sipPort: base, env }));

    const first = await ctd.api('/v1/calls', { method: 'POST', body: { a: { uri: a.uri('alice') }, b: { uri: b.uri('bob') }, maxDuration: 3 } });
    assert.equal(first.status, 202, JSON.stringify(first.body));
    const id = first.body.id as string;
    await waitForCall(ctd, id, (call) => call.status === 'connected');

    await cluster.stop();
    const refused = await ctd.api('/v1/calls', { method: 'POST', body: { a: { uri: a.uri('alice') }, b: { uri: b.uri('bob') } } });
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'service_unavailable');
    assert.equal(refused.headers.get('retry-after'), '2');
    assert.equal((await fetch(`${ctd.baseUrl}/readyz`)).status, 503);
    // The call ends by itself (max duration) while the database is down.
    const engine = ctd.service.sip!.engine;
    const endBy = Date.now() + 10_000;
    while (engine.liveCalls > 0 && Date.now() < endBy) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(engine.liveCalls, 0, 'the call ended during the outage');

    await cluster.start();
    const ended = await waitForCall(ctd, id, (call) => call.status === 'completed', 20_000);
    assert.equal(ended.endReason, 'max_duration');
    const events = (await ctd.api(`/v1/calls/${id}/events`)).body.data as { sequence: number; type: string }[];
    assert.deepEqual(events.map((event) => event.sequence), events.map((_, i) => i + 1), 'every event, in order, no gap');
    assert.equal(events.at(-1)?.type, 'call.completed');

    let second = await ctd.api('/v1/calls', { method: 'POST', body: { a: { uri: a.uri('alice') }, b: { uri: b.uri('bob') }, maxDuration: 1 } });
    const retryBy = Date.now() + 10_000;
    while (second.status !== 202 && Date.now() < retryBy) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      second = await ctd.api('/v1/calls', { method: 'POST', body: { a: { uri: a.uri('alice') }, b: { uri: b.uri('bob') }, maxDuration: 1 } });
    }
    assert.equal(second.status, 202, JSON.stringify(second.body));
    assert.equal((await waitForCall(ctd, second.body.id as string, (call) => call.status === 'completed', 20_000)).endReason, 'max_duration');
    assert.equal((await a.wait(10_000)).code, 0, await a.report());
    assert.equal((await b.wait(10_000)).code, 0, await b.report());
  });

  test('told to stop while the database is down, the service stops: the writes it holds are given up after the shutdown wait and logged, not waited on for ever', async (t) => {
    const { base, teardown, cluster, a, b, env } = await outageSetUp(t, { calls: 1 });
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const ctd = (teardown.ctd = await startTestService(t, { sipPort: base, logger, env }));
    const placed = await ctd.api('/v1/calls', { method: 'POST', body: { a: { uri: a.uri('alice') }, b: { uri: b.uri('bob') }, maxDuration: 1 } });
    assert.equal(placed.status, 202, JSON.stringify(placed.body));
    await waitForCall(ctd, placed.body.id as string, (call) => call.status === 'connected');
    await cluster.stop();
    // The call ends (max duration) with nowhere to write it: its last changes wait in the writer.
    const engine = ctd.service.sip!.engine;
    await eventually('the call ended during the outage', 10_000, async () => (engine.liveCalls === 0 ? true : undefined));
    const stopping = Date.now();
    await ctd.stop();
    const tookMs = Date.now() - stopping;
    assert.ok(tookMs < 25_000, `stopped after ${tookMs} ms`);
    assert.ok(tookMs >= 9_000, `the writes were given their time first (${tookMs} ms)`);
    assert.ok(lines.some((line) => /store error/.test(line) && /shutdown/.test(line)), `the writes given up are logged:\n${lines.join('')}`);
    // SIPp saw the call end properly all the same.
    assert.equal((await a.wait(10_000)).code, 0, await a.report());
    assert.equal((await b.wait(10_000)).code, 0, await b.report());
  });

  test('stopped (immediate) and started again while calls are being placed: 503 meanwhile, every accepted call placed once and completed with all its events, recovery by itself', async (t) => {
    const { base, teardown, cluster, a, b, env } = await outageSetUp(t, { calls: 10_000, timeoutSeconds: 120 });
    const started = new Map<string, number>();
    const ctd = (teardown.ctd = await startTestService(t, {
      sipPort: base,
      env,
      hooks: { onCallStarted: (job) => void started.set(job.callId, (started.get(job.callId) ?? 0) + 1) },
    }));
    const stream = (teardown.stream = startCallStream(ctd, { rate: 15, maxInFlight: 50, body: (i) => ({ a: { uri: a.uri(`alice${i}`) }, b: { uri: b.uri(`bob${i}`) }, maxDuration: 2 }) }));

    // Down for 6 s: longer than the calls' 2 s, so calls connected at the stop end during it, and
    // than the API's 5 s key cache, so requests are authenticated against the absent database too.
    await checkStreamThroughOutage(t, {
      ctd,
      stream,
      started,
      parties: [a, b],
      what: 'PostgreSQL stopped',
      fault: () => cluster.stop(),
      recover: () => cluster.start(),
      downMs: 6000,
      recoverWithinMs: 30_000,
      completeWithinMs: 40_000,
    });
  });
});
