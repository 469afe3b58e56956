/**
 * For the restart-under-load tests (Redis, PostgreSQL): a steady stream of POST /v1/calls against
 * a service under test while the test breaks what it depends on, and the check that the stream
 * lost nothing and doubled nothing: every request answered 202 or 503 (with Retry-After and the
 * service_unavailable problem), every 202 is exactly one call that was started once, reached SIPp
 * once and completed with gap-free events, and a 503 left no row behind.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import pg from 'pg';
import type { SippUasHandle } from '../support/sipp.js';
import { eventually } from './processes.js';
import type { ServiceUnderTest } from './service.js';

export interface StreamedRequest {
  index: number;
  /** Date.now() when sent and when answered. */
  sentAt: number;
  answeredAt: number;
  /** HTTP status; 0 when the request itself failed (connection refused, reset). */
  status: number;
  id?: string;
  code?: string;
  retryAfter: string | null;
}

export interface CallStream {
  /** The requests answered so far. */
  readonly answered: readonly StreamedRequest[];
  /** Requests answered 202 that were sent after `since`. */
  acceptedSince(since: number): number;
  /** Stops sending; resolves with every request once all have been answered, in the order sent. */
  stop(): Promise<StreamedRequest[]>;
}

/** POST /v1/calls `rate` times a second (at most `maxInFlight` unanswered) until stop(). */
export function startCallStream(ctd: ServiceUnderTest, options: { rate: number; maxInFlight: number; body: (index: number) => unknown }): CallStream {
  const answered: StreamedRequest[] = [];
  const pending = new Set<Promise<void>>();
  let stopped = false;
  const begin = Date.now();
  const sender = (async () => {
    for (let index = 0; !stopped; index++) {
      const due = begin + (index * 1000) / options.rate;
      while (!stopped && (Date.now() < due || pending.size >= options.maxInFlight)) await new Promise((resolve) => setTimeout(resolve, 5));
      if (stopped) break;
      const sentAt = Date.now();
      const request = ctd
        .api('/v1/calls', { method: 'POST', body: options.body(index) })
        .then(
          (answer) => ({ status: answer.status, id: answer.status === 202 ? (answer.body?.id as string) : undefined, code: answer.body?.code as string | undefined, retryAfter: answer.headers.get('retry-after') }),
          () => ({ status: 0, id: undefined, code: undefined, retryAfter: null }),
        )
        .then((outcome) => {
          answered.push({ index, sentAt, answeredAt: Date.now(), status: outcome.status, retryAfter: outcome.retryAfter, ...(outcome.id ? { id: outcome.id } : {}), ...(outcome.code ? { code: outcome.code } : {}) });
        });
      pending.add(request);
      void request.finally(() => pending.delete(request));
    }
  })();
  return {
    answered,
    acceptedSince: (since) => answered.filter((request) => request.status === 202 && request.sentAt >= since).length,
    async stop() {
      stopped = true;
      await sender;
      await Promise.all([...pending]);
      return [...answered].sort((x, y) => x.index - y.index);
    },
  };
}

/**
 * Every request of the stream was accepted (202) or refused with 503 + Retry-After; every accepted
 * call completed with `endReason`, was started once (`started`: the engine's onCallStarted count
 * per call id), reached each SIPp party once (SIPp created exactly as many calls as were accepted,
 * none failed), has gap-free events from call.queued through call.connected to call.completed;
 * the database holds no other call (a 503 created nothing) and the engine holds no live call.
 */
export async function checkEveryAcceptedCallCompletedOnce(options: {
  ctd: ServiceUnderTest;
  requests: readonly StreamedRequest[];
  started: ReadonlyMap<string, number>;
  parties: readonly SippUasHandle[];
  endReason: string;
  timeoutMs: number;
  report: () => Promise<string>;
}): Promise<{ accepted: string[]; refused: number }> {
  const { ctd, requests, started, parties, endReason, timeoutMs, report } = options;
  const fail = async (error: Error): Promise<never> => assert.fail(`${error.message}\n${await report()}`);
  const other = requests.filter((request) => request.status !== 202 && request.status !== 503);
  assert.deepEqual(other, [], 'every request answered 202 or 503');
  const refused = requests.filter((request) => request.status === 503);
  const badRefusals = refused.filter((request) => request.code !== 'service_unavailable' || request.retryAfter !== '2');
  assert.deepEqual(badRefusals, [], 'every 503 is service_unavailable with Retry-After: 2');
  const accepted = requests.filter((request) => request.status === 202).map((request) => request.id!);
  assert.equal(new Set(accepted).size, accepted.length, 'a call id per accepted request');

  const pool = new pg.Pool({ connectionString: ctd.service.config.databaseUrl, max: 1 });
  pool.on('error', () => undefined);
  try {
    const query = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> => (await pool.query<T>(sql, params)).rows;
    await eventually(`the ${accepted.length} accepted calls ended`, timeoutMs, async () => {
      const [row] = await query<{ open: number }>("SELECT count(*)::int AS open FROM call WHERE status NOT IN ('completed', 'failed', 'canceled')");
      return row!.open === 0 ? true : undefined;
    }).catch(async (error: Error) => {
      const open = await query("SELECT id, status, engine_id, created_at FROM call WHERE status NOT IN ('completed', 'failed', 'canceled')").catch(() => []);
      return fail(new Error(`${error.message}; still open: ${JSON.stringify(open)}`));
    });

    const rows = await query<{ id: string; status: string; end_reason: string | null }>('SELECT id, status, end_reason FROM call');
    assert.deepEqual(rows.map((row) => row.id).sort(), [...accepted].sort(), 'the database holds exactly the accepted calls');
    const wrong = rows.filter((row) => row.status !== 'completed' || row.end_reason !== endReason);
    assert.deepEqual(wrong, [], `every call completed (${endReason})`);

    const badEvents = await query<{ call_id: string; types: string[]; sequences: number[] }>(
      `SELECT call_id, array_agg(type ORDER BY sequence) AS types, array_agg(sequence ORDER BY sequence) AS sequences FROM call_event GROUP BY call_id
       HAVING min(sequence) <> 1 OR max(sequence) <> count(*) OR count(DISTINCT sequence) <> count(*)
           OR (array_agg(type ORDER BY sequence))[1] <> 'call.queued'
           OR (array_agg(type ORDER BY sequence DESC))[1] <> 'call.completed'
           OR bool_and(type <> 'call.connected')`,
    );
    assert.deepEqual(badEvents, [], 'every call\'s events, gap-free, from call.queued through call.connected to call.completed');
    const [withEvents] = await query<{ n: number }>('SELECT count(DISTINCT call_id)::int AS n FROM call_event');
    assert.equal(withEvents!.n, accepted.length);
  } finally {
    await pool.end();
  }

  const startedTwice = [...started].filter(([, count]) => count !== 1);
  assert.deepEqual(startedTwice, [], 'no call started twice');
  assert.deepEqual([...started.keys()].sort(), [...accepted].sort(), 'the engine started every accepted call, and only those');

  for (const party of parties) {
    const stats = await eventually(`SIPp on ${party.port} counted ${accepted.length} successful calls`, 15_000, async () => {
      const row = await party.stats();
      return Number(row['SuccessfulCall(C)']) + Number(row['FailedCall(C)']) >= accepted.length && Number(row.CurrentCall) === 0 ? row : undefined;
    }).catch(fail);
    assert.equal(Number(stats['FailedCall(C)']), 0, await party.report());
    assert.equal(Number(stats.TotalCallCreated), accepted.length, `SIPp on ${party.port} was called once per accepted call\n${await party.report()}`);
    assert.equal(Number(stats['SuccessfulCall(C)']), accepted.length, await party.report());
  }
  assert.equal(ctd.service.sip!.engine.liveCalls, 0, 'no call left live on the engine');
  return { accepted, refused: refused.length };
}

/**
 * The whole outage under load, once calls are connected: the dependency is broken (`fault`) while
 * the stream goes on, the service must answer 503 and say it is not ready, it stays down `downMs`,
 * comes back (`recover`), the service must accept calls again by itself, and then every accepted
 * call (those connected at the fault too) completed once, nothing refused before the fault.
 */
export async function checkStreamThroughOutage(
  t: TestContext,
  options: {
    ctd: ServiceUnderTest;
    stream: CallStream;
    started: ReadonlyMap<string, number>;
    parties: readonly SippUasHandle[];
    /** What breaks, as the messages say it: "PostgreSQL stopped", "Redis was killed". */
    what: string;
    fault: () => Promise<void>;
    recover: () => Promise<void>;
    downMs: number;
    recoverWithinMs: number;
    completeWithinMs: number;
  },
): Promise<void> {
  const { ctd, stream, started, parties, what } = options;
  const report = async (): Promise<string> => (await Promise.all(parties.map((party) => party.report()))).join('\n');
  await eventually('calls connected before the outage', 20_000, async () => (stream.acceptedSince(0) >= 20 && ctd.service.sip!.engine.liveCalls > 0 ? true : undefined));
  const connectedAtFault = ((await ctd.api('/v1/calls?status=connected&limit=100')).body.data as { id: string }[]).map((call) => call.id);
  assert.ok(connectedAtFault.length > 0, `calls connected when ${what}`);
  const faultAt = Date.now();
  await options.fault();
  await eventually('a 503 during the outage', 10_000, async () => (stream.answered.some((request) => request.status === 503) ? true : undefined));
  await eventually('readyz says not ready', 10_000, async () => ((await fetch(`${ctd.baseUrl}/readyz`)).status === 503 ? true : undefined));
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, faultAt + options.downMs - Date.now())));
  const restartedAt = Date.now();
  await options.recover();
  await eventually('calls accepted again', options.recoverWithinMs, async () => (stream.acceptedSince(restartedAt) >= 15 ? true : undefined)).catch(async (error: Error) =>
    assert.fail(`${error.message}\n${JSON.stringify(stream.answered.slice(-5))}`),
  );
  const requests = await stream.stop();

  const refusedBeforeFault = requests.filter((request) => request.status === 503 && request.answeredAt < faultAt);
  // A request still in flight at the fault may get one; none answered before it.
  assert.deepEqual(refusedBeforeFault, [], 'no 503 before the outage');
  const { accepted, refused } = await checkEveryAcceptedCallCompletedOnce({ ctd, requests, started, parties, endReason: 'max_duration', timeoutMs: options.completeWithinMs, report });
  for (const id of connectedAtFault) assert.ok(accepted.includes(id));
  assert.equal((await fetch(`${ctd.baseUrl}/readyz`)).status, 200);
  const duringOutage = requests.filter((request) => request.sentAt >= faultAt && request.sentAt < restartedAt);
  t.diagnostic(
    `${requests.length} requests: ${accepted.length} accepted (${duringOutage.filter((request) => request.status === 202).length} of them sent during the outage), ${refused} refused with 503; ` +
      `${connectedAtFault.length} calls connected when ${what}; accepted again ${(requests.find((request) => request.status === 202 && request.sentAt >= restartedAt)?.sentAt ?? NaN) - restartedAt} ms after the restart`,
  );
}
