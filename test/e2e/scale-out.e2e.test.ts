/**
 * Scale-out (operations issue 7): two engine processes and one API process on this machine
 * (distinct SIP ports, one database, one queue prefix), 200 calls placed through POST /v1/calls
 * at a bounded rate to SIPp parties. Every other call ends by its maxDuration, the others are hung
 * up through POST /v1/calls/{id}/hangup once connected. Checked: both engines took calls, every
 * call completed with the reason expected of it and gap-free events, SIPp counted 200 successful
 * calls and no failed one on each side, every BYE (the hung-up calls' above all) came from the
 * engine that owns the call (its Via names that engine's SIP port) and only that engine logged the
 * call's end, and nothing is left live: no unfinished row, ctd_active_calls 0 on both engines, and
 * ctd_calls_started_total adds up to 200 (no call started twice).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { freePortBlock } from '../support/ports.js';
import { parseSippMessages, sharedScenario, startSippUas, type SippUasHandle } from '../support/sipp.js';
import { createDeployment, eventually, PROCESS_BOOTSTRAP_KEY, type ServiceProcess } from './processes.js';

const CALLS = 200;
/** Calls requested per second, and at most this many requests in flight. */
const RATE = 30;
const IN_FLIGHT = 10;
/** maxDuration of the calls that end by themselves. */
const HOLD_S = 2;
/** maxDuration of the calls hung up through the API: only a bound, should the hang-up be lost. */
const HUNG_UP_BOUND_S = 25;

/** The value of a metric without labels other than the process's, from a Prometheus text exposition. */
function metricValue(exposition: string, name: string): number | undefined {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(exposition);
  return match ? Number(match[1]) : undefined;
}

/** For each SIP Call-ID, the sent-by ports of the Vias of the BYEs the party received. */
async function byeViaPorts(party: SippUasHandle): Promise<Map<string, number[]>> {
  const ports = new Map<string, number[]>();
  for (const message of parseSippMessages(await party.messages())) {
    if (message.direction !== 'received' || message.method !== 'BYE') continue;
    const callId = /^Call-ID:\s*(\S+)\s*$/im.exec(message.text)?.[1];
    const via = /^Via:\s*SIP\/2\.0\/\w+\s+[^:;\s]+:(\d+)/im.exec(message.text)?.[1];
    if (!callId || !via) continue;
    ports.set(callId, [...(ports.get(callId) ?? []), Number(via)]);
  }
  return ports;
}

describe('scale-out', () => {
  test(`two engine processes and one API process: ${CALLS} calls spread over both, every call completes, hang-ups reach the owning engine`, async (t) => {
    const ports = await freePortBlock(10);
    const deployment = await createDeployment(t);
    const a = await startSippUas(t, { scenario: sharedScenario('uas-answer-reinvite-offer'), port: ports + 3, mediaPort: ports + 4, transport: 'udp', calls: CALLS, timeoutSeconds: 120 });
    const b = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: ports + 5, mediaPort: ports + 7, transport: 'udp', calls: CALLS, timeoutSeconds: 120 });
    await deployment.start('api', { ROLES: 'api', HTTP_PORT: String(ports), BOOTSTRAP_API_KEY: PROCESS_BOOTSTRAP_KEY });
    const baseUrl = `http://127.0.0.1:${ports}`;
    // The API process created and migrated the database: the engines can start side by side.
    const sipPorts: Record<string, number> = { 'engine-one': ports + 1, 'engine-two': ports + 2 };
    const [one, two] = await Promise.all(
      Object.entries(sipPorts).map(([id, sipPort]) => deployment.start(id, { ROLES: 'engine', ENGINE_ID: id, SIP_PORT: String(sipPort), METRICS_PORT: '0', DRAIN_MS: '0' })),
    );
    const engines: Record<string, ServiceProcess> = { 'engine-one': one!, 'engine-two': two! };
    const report = async (): Promise<string> => [one!.tail(), two!.tail(), await a.report(), await b.report()].join('\n');
    const fail = async (error: Error): Promise<never> => assert.fail(`${error.message}\n${await report()}`);
    const metricsPorts = await eventually('engines serve /metrics', 10_000, async () => {
      const found = Object.values(engines).map((engine) => engine.logs().find((line) => line.msg === 'metrics on /metrics')?.port as number | undefined);
      return found.every((port) => typeof port === 'number') ? (found as number[]) : undefined;
    });
    const metricsOf = async (port: number): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

    // Call i ends by itself when i is even, is hung up through the API once connected when odd.
    const ids: string[] = new Array<string>(CALLS);
    const refused: string[] = [];
    const toHangUp = new Set<string>();
    const hangups: Promise<void>[] = [];
    let placing = true;
    const begin = Date.now();
    // Hang-ups as the calls connect: one query for every odd call not hung up yet. A call that
    // ended before it could be hung up is a failure (its row says how it ended).
    const neverConnected: string[] = [];
    const hangingUp = (async () => {
      while ((placing || toHangUp.size > 0) && Date.now() - begin < 45_000) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        if (toHangUp.size === 0) continue;
        const rows = await deployment.query<{ id: string; status: string; end_reason: string | null }>('SELECT id, status, end_reason FROM call WHERE id = ANY($1)', [[...toHangUp]]);
        for (const row of rows) {
          if (row.status === 'connected') {
            toHangUp.delete(row.id);
            hangups.push(
              deployment.api(baseUrl, `/v1/calls/${row.id}/hangup`, { method: 'POST' }).then((answer) => {
                if (answer.status !== 202) refused.push(`hangup ${row.id}: ${answer.status} ${JSON.stringify(answer.body)}`);
              }),
            );
          } else if (['completed', 'failed', 'canceled'].includes(row.status)) {
            toHangUp.delete(row.id);
            neverConnected.push(`${row.id}: ${row.status}/${row.end_reason}`);
          }
        }
      }
    })();
    let inFlight = 0;
    const requests: Promise<void>[] = [];
    for (let i = 0; i < CALLS; i++) {
      const due = begin + (i * 1000) / RATE;
      while (Date.now() < due || inFlight >= IN_FLIGHT) await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight++;
      const hangUp = i % 2 === 1;
      const body = { a: { uri: a.uri(`alice${i}`) }, b: { uri: b.uri(`bob${i}`) }, callerId: 'sip:sales@example.com', maxDuration: hangUp ? HUNG_UP_BOUND_S : HOLD_S, metadata: { i: String(i) } };
      requests.push(
        deployment
          .api(baseUrl, '/v1/calls', { method: 'POST', body })
          .then((created) => {
            if (created.status !== 202) refused.push(`call ${i}: ${created.status} ${JSON.stringify(created.body)}`);
            else {
              ids[i] = created.body.id as string;
              if (hangUp) toHangUp.add(ids[i]);
            }
          })
          .finally(() => inFlight--),
      );
    }
    await Promise.all(requests);
    const placedMs = Date.now() - begin;
    placing = false;
    assert.deepEqual(refused, [], 'every call was accepted');
    await hangingUp;
    await Promise.all(hangups);
    assert.deepEqual(refused, [], 'every hang-up was accepted');
    if (neverConnected.length > 0 || toHangUp.size > 0) {
      const left = await deployment.query('SELECT id, status, end_reason, engine_id FROM call WHERE id = ANY($1)', [[...toHangUp]]);
      assert.fail(`every odd call connected and was hung up; ended first: ${JSON.stringify(neverConnected)}; still not connected: ${JSON.stringify(left)}\n${await report()}`);
    }

    // Every call ended.
    await eventually(`all ${CALLS} calls ended`, 40_000, async () => {
      const [row] = await deployment.query<{ ended: number }>("SELECT count(*)::int AS ended FROM call WHERE id = ANY($1) AND status IN ('completed', 'failed', 'canceled')", [ids]);
      return row!.ended === CALLS ? true : undefined;
    }).catch(fail);
    const endedMs = Date.now() - begin;
    const rows = await deployment.query<{ id: string; status: string; end_reason: string | null; engine_id: string | null }>('SELECT id, status, end_reason, engine_id FROM call WHERE id = ANY($1)', [ids]);
    const byId = new Map(rows.map((row) => [row.id, row]));
    assert.equal(rows.length, CALLS);
    const wrong = ids
      .map((id, i) => ({ i, id, row: byId.get(id)!, expected: i % 2 === 1 ? 'api_hangup' : 'max_duration' }))
      .filter(({ row, expected }) => row.status !== 'completed' || row.end_reason !== expected)
      .map(({ i, id, row, expected }) => `call ${i} ${id}: ${row.status}/${row.end_reason}, expected completed/${expected}`);
    assert.deepEqual(wrong, [], 'every call completed with the reason expected of it');

    // Both engines took calls.
    const perEngine: Record<string, number> = {};
    for (const row of rows) perEngine[row.engine_id ?? 'none'] = (perEngine[row.engine_id ?? 'none'] ?? 0) + 1;
    assert.deepEqual(Object.keys(perEngine).sort(), ['engine-one', 'engine-two'], `calls per engine: ${JSON.stringify(perEngine)}`);
    assert.ok(perEngine['engine-one']! > 0 && perEngine['engine-two']! > 0, JSON.stringify(perEngine));

    // Every call's events are gap-free, from call.queued to call.completed.
    const badEvents = await deployment.query<{ call_id: string }>(
      `SELECT call_id FROM call_event WHERE call_id = ANY($1) GROUP BY call_id
       HAVING min(sequence) <> 1 OR max(sequence) <> count(*) OR count(DISTINCT sequence) <> count(*)
           OR bool_and(type <> 'call.completed') OR bool_and(type <> 'call.connected')`,
      [ids],
    );
    assert.deepEqual(badEvents, [], 'events gap-free, connected then completed');
    const [eventCalls] = await deployment.query<{ n: number }>('SELECT count(DISTINCT call_id)::int AS n FROM call_event WHERE call_id = ANY($1)', [ids]);
    assert.equal(eventCalls!.n, CALLS);

    // SIPp: every call succeeded on both sides, and the parties exited by themselves after CALLS calls.
    for (const party of [a, b]) {
      assert.equal((await party.wait(20_000).catch(fail)).code, 0, await party.report());
      const stats = await party.stats();
      assert.equal(Number(stats['SuccessfulCall(C)']), CALLS, await party.report());
      assert.equal(Number(stats['FailedCall(C)']), 0, await party.report());
      assert.equal(Number(stats['TotalCallCreated']), CALLS, 'no call dialled twice');
    }

    // Every BYE came from the engine that owns the call: its Via names that engine's SIP port.
    const byes = { a: await byeViaPorts(a), b: await byeViaPorts(b) };
    const legs = await deployment.query<{ call_id: string; name: 'a' | 'b'; sip_call_id: string }>('SELECT call_id, name, sip_call_id FROM leg WHERE call_id = ANY($1)', [ids]);
    assert.equal(legs.length, CALLS * 2);
    const misrouted: string[] = [];
    for (const leg of legs) {
      const owner = byId.get(leg.call_id)!.engine_id!;
      const received = byes[leg.name].get(leg.sip_call_id) ?? [];
      if (received.length === 0 || received.some((port) => port !== sipPorts[owner])) misrouted.push(`${leg.call_id} leg ${leg.name} (owner ${owner} on ${sipPorts[owner]}): BYE Via ports ${JSON.stringify(received)}`);
    }
    assert.deepEqual(misrouted, [], 'each party got its BYE from the owning engine');
    // The owner, and only it, logged the end of each hung-up call.
    const endLines = (engine: ServiceProcess): Map<string, string> =>
      new Map(engine.logs().filter((line) => typeof line.callId === 'string' && typeof line.endReason === 'string').map((line) => [line.callId as string, line.endReason as string]));
    const ends = { 'engine-one': endLines(one!), 'engine-two': endLines(two!) };
    const unlogged = ids
      .filter((_, i) => i % 2 === 1)
      .filter((id) => {
        const owner = byId.get(id)!.engine_id as keyof typeof ends;
        const other = owner === 'engine-one' ? 'engine-two' : 'engine-one';
        return ends[owner].get(id) !== 'api_hangup' || ends[other].has(id);
      });
    assert.deepEqual(unlogged, [], 'the owning engine, and only it, ended each hung-up call');

    // Nothing left live: no unfinished row, no call on either engine, every call started once.
    assert.deepEqual(await deployment.query("SELECT id, status FROM call WHERE status NOT IN ('completed', 'failed', 'canceled')"), [], 'no call stays live');
    await eventually('no active call on either engine', 10_000, async () => {
      const active = await Promise.all(metricsPorts.map(async (port) => metricValue(await metricsOf(port), 'ctd_active_calls')));
      return active.every((count) => count === 0) ? true : undefined;
    }).catch(fail);
    const started = await Promise.all(metricsPorts.map(async (port) => metricValue(await metricsOf(port), 'ctd_calls_started_total') ?? 0));
    assert.equal(started.reduce((sum, n) => sum + n, 0), CALLS, `calls started per engine: ${started.join(', ')}`);
    for (const engine of Object.values(engines)) assert.equal(engine.child.exitCode, null, `${engine.name} still runs\n${engine.tail()}`);

    t.diagnostic(`${CALLS} calls placed in ${placedMs} ms (${RATE}/s requested), all ended ${endedMs} ms after the first; per engine ${JSON.stringify(perEngine)}`);
  });
});
