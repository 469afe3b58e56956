/**
 * PostgreSQL down and back while a call is connected, with a PostgreSQL of the test's own (initdb
 * in a temporary folder, run as the postgres user on a free port: the machine's server and the
 * other tests are not touched). While it is down the call goes on and ends by itself (the engine
 * holds it in memory), its events wait in the writer, the API answers 503 with Retry-After; once
 * it is back everything is written, in order and without gaps, and a new call goes through.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { freePortBlock } from '../support/ports.js';
import { sharedScenario, startSippUas } from '../support/sipp.js';
import { startTestService, waitForCall } from './service.js';

const BIN = '/usr/lib/postgresql/15/bin';

function postgresUid(): number | undefined {
  try {
    return Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  } catch {
    return undefined;
  }
}

/** A throw-away cluster: initdb once, then start()/stop() the server on `port` with pg_ctl. */
function privateCluster(t: TestContext, port: number): { start(): void; stop(): void } {
  const folder = mkdtempSync(join(tmpdir(), 'ctd-pg-'));
  chownSync(folder, postgresUid()!, postgresUid()!);
  const data = join(folder, 'data');
  const asPostgres = (command: string, args: string[]): void => {
    const [file, argv] = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
    execFileSync(file, argv, { stdio: 'ignore', timeout: 30_000 });
  };
  asPostgres(`${BIN}/initdb`, ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
  let running = false;
  const stop = (): void => {
    if (!running) return;
    running = false;
    // Immediate: what a crash looks like to the clients.
    asPostgres(`${BIN}/pg_ctl`, ['-D', data, '-m', 'immediate', '-w', 'stop']);
  };
  t.after(() => {
    try {
      stop();
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
  return {
    start() {
      asPostgres(`${BIN}/pg_ctl`, ['-D', data, '-l', join(folder, 'server.log'), '-w', '-o', `-p ${port} -k ${folder} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
      running = true;
    },
    stop,
  };
}

describe('PostgreSQL down and back', { skip: !existsSync(`${BIN}/initdb`) || postgresUid() === undefined ? 'PostgreSQL 15 binaries or the postgres user are missing' : false }, () => {
  test('a connected call carries on and its events are written once the database is back; the API answers 503 meanwhile', async (t) => {
    const base = await freePortBlock(10);
    const pgPort = base + 9;
    const cluster = privateCluster(t, pgPort);
    cluster.start();
    const a = await startSippUas(t, { scenario: sharedScenario('uas-answer-reinvite-offer'), port: base + 1, mediaPort: base + 4, transport: 'udp', calls: 2 });
    const b = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: base + 2, mediaPort: base + 7, transport: 'udp', calls: 2 });
    const ctd = await startTestService(t, { sipPort: base, env: { DATABASE_URL: `postgresql://postgres@127.0.0.1:${pgPort}/click_to_dial_outage` } });

    const first = await ctd.api('/v1/calls', { method: 'POST', body: { a: { uri: a.uri('alice') }, b: { uri: b.uri('bob') }, maxDuration: 3 } });
    assert.equal(first.status, 202, JSON.stringify(first.body));
    const id = first.body.id as string;
    await waitForCall(ctd, id, (call) => call.status === 'connected');

    cluster.stop();
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

    cluster.start();
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
});
