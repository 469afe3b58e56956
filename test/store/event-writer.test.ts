import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { EventWriteFailed, EventWriter, InvalidArgument, NotFound, WriterClosed, type Account, type StoreError, type Store } from '../../src/store/index.js';
import { createTestDatabase, legs, openStore, TestClock, type TestDatabase } from './store-fixture.js';

const DIALOG = {
  version: 1,
  role: 'uac',
  state: 'confirmed',
  callId: 'a84b4c76e66710@ctd.example',
  localTag: '1928301774',
  remoteTag: 'a6c85cf',
  localUri: 'sip:ctd@ctd.example',
  localDisplayName: null,
  remoteUri: 'sip:+15551230001@trunk.example.com',
  remoteDisplayName: null,
  localCSeq: 2,
  remoteCSeq: null,
  routeSet: ['<sip:proxy.example.com;lr>'],
  remoteTarget: 'sip:alice@192.0.2.10:5060',
  localContact: '<sip:ctd@192.0.2.1:5060>',
  secure: false,
};

describe('EventWriter', () => {
  let database: TestDatabase;
  let store: Store;
  let raw: pg.Client;
  let account: Account;
  const clock = new TestClock();
  const reported: StoreError[] = [];

  before(async () => {
    database = await createTestDatabase();
    store = openStore(database, { clock: clock.now, onError: (error) => reported.push(error as StoreError) });
    raw = new pg.Client({ connectionString: database.url });
    await raw.connect();
    account = await store.createAccount('Events');
  });
  after(async () => {
    await raw.end();
    await store.close();
    await database.drop();
  });

  const newCall = async (): Promise<string> => (await store.createCall(account.id, { a: legs.a, b: legs.b })).call.id;
  const count = async (sql: string, params: unknown[] = []): Promise<number> => (await raw.query(sql, params)).rows[0].n;

  it("commits a call's update, its leg's update, its event and the event's outbox row together", async () => {
    const callId = await newCall();
    const answeredAt = new Date(clock.millis + 1500);
    await store.writeChange({
      callId,
      accountId: account.id,
      event: { sequence: 1, type: 'call.leg.answered', leg: 'a', status: 'answered', sip: { code: 200, reason: 'OK' }, payload: { leg: 'a' }, at: answeredAt },
      callUpdate: { status: 'calling_b', engineId: 'eng-1' },
      legUpdate: { leg: 'a', status: 'answered', sipCode: 200, sipReason: 'OK', sipCallId: DIALOG.callId, answeredAt, dialog: DIALOG },
    });
    const call = (await store.getCall(account.id, callId))!;
    assert.deepEqual({ status: call.status, engineId: call.engineId, lastSequence: call.lastSequence }, { status: 'calling_b', engineId: 'eng-1', lastSequence: 1 });
    assert.deepEqual(
      { status: call.legs.a.status, sipCode: call.legs.a.sipCode, sipCallId: call.legs.a.sipCallId, answeredAt: call.legs.a.answeredAt, dialog: call.legs.a.dialog },
      { status: 'answered', sipCode: 200, sipCallId: DIALOG.callId, answeredAt, dialog: DIALOG },
    );
    assert.equal(call.legs.b.status, 'idle');
    const events = (await store.callEvents(account.id, callId))!;
    const eventId = events[0]?.id;
    assert.match(eventId ?? '', /^evt_[0-9A-Za-z]{22}$/);
    assert.deepEqual(
      events.map((e) => ({ id: e.id, sequence: e.sequence, type: e.type, leg: e.leg, sipCode: e.sipCode, payload: e.payload, createdAt: e.createdAt })),
      [{ id: eventId, sequence: 1, type: 'call.leg.answered', leg: 'a', sipCode: 200, payload: { leg: 'a' }, createdAt: answeredAt }],
    );
    assert.equal(await count('SELECT count(*)::int AS n FROM outbox WHERE event_id = $1', [eventId]), 1);
  });

  it('commits none of a change whose event is refused (a sequence used twice)', async () => {
    const callId = await newCall();
    await store.writeChange({ callId, accountId: account.id, event: { sequence: 1, type: 'call.leg.calling', payload: {} }, callUpdate: { status: 'calling_a' } });
    await assert.rejects(
      store.writeChange({ callId, accountId: account.id, event: { sequence: 1, type: 'call.connected', payload: {} }, callUpdate: { status: 'connected' }, legUpdate: { leg: 'a', status: 'connected' } }),
      (error: unknown) => error instanceof EventWriteFailed && error.callId === callId && (error.cause as { code?: string }).code === '23505',
    );
    const call = (await store.getCall(account.id, callId))!;
    assert.equal(call.status, 'calling_a');
    assert.equal(call.legs.a.status, 'idle');
    assert.equal((await store.callEvents(account.id, callId))!.length, 1);
    assert.ok(reported.some((error) => error instanceof EventWriteFailed && error.callId === callId));
  });

  it('batches changes of many calls into a few statements', async () => {
    const callIds = await Promise.all(Array.from({ length: 50 }, () => newCall()));
    const before = store.events.stats().changes;
    const writes: Promise<unknown>[] = [];
    for (let sequence = 1; sequence <= 20; sequence++) {
      for (const callId of callIds) writes.push(store.writeChange({ callId, accountId: account.id, event: { sequence, type: 'call.leg.ringing', payload: { sequence } } }));
    }
    await Promise.all(writes);
    const stats = store.events.stats().changes;
    assert.equal(stats.written - before.written, 1000);
    // 1000 changes at 200 a batch: 5 batches, not 1000 transactions.
    assert.ok(stats.batches - before.batches <= 6, `${stats.batches - before.batches} batches`);
    assert.equal(stats.splitRetries, before.splitRetries);
    assert.equal(await count('SELECT count(*)::int AS n FROM call_event WHERE call_id = ANY($1)', [callIds]), 1000);
    assert.equal(await count('SELECT count(*)::int AS n FROM outbox o JOIN call_event e ON e.id = o.event_id WHERE e.call_id = ANY($1)', [callIds]), 1000);
    assert.equal(await count('SELECT count(*)::int AS n FROM call WHERE id = ANY($1) AND last_sequence = 20', [callIds]), 50);
  });

  it("keeps a call's events in order and applies its updates in that order, across batches", async () => {
    const callId = await newCall();
    const statuses = ['calling_a', 'calling_a', 'calling_b', 'calling_b', 'connected', 'completed'] as const;
    const writes = statuses.map((status, i) =>
      store.writeChange({ callId, accountId: account.id, event: { sequence: i + 1, type: `step.${i + 1}`, status, payload: {} }, callUpdate: { status } }),
    );
    // Interleave other calls' changes so that the call's changes straddle several batches.
    const others = await Promise.all(Array.from({ length: 3 }, () => newCall()));
    for (let i = 0; i < 450; i++) {
      const other = others[i % 3]!;
      writes.push(store.writeChange({ callId: other, accountId: account.id, event: { sequence: Math.floor(i / 3) + 1, type: 'noise', payload: {} } }));
    }
    writes.push(store.writeChange({ callId, accountId: account.id, event: { sequence: 7, type: 'step.7', payload: {} }, legUpdate: { leg: 'a', status: 'ended' } }));
    await Promise.all(writes);
    const call = (await store.getCall(account.id, callId))!;
    assert.equal(call.status, 'completed');
    assert.equal(call.legs.a.status, 'ended');
    assert.equal(call.lastSequence, 7);
    assert.deepEqual(
      (await store.callEvents(account.id, callId))!.map((e) => e.type),
      ['step.1', 'step.2', 'step.3', 'step.4', 'step.5', 'step.6', 'step.7'],
    );
  });

  it("retries a failed batch call by call: the other calls' writes are not lost", async () => {
    const good = await Promise.all(Array.from({ length: 20 }, () => newCall()));
    const bad = await newCall();
    reported.length = 0;
    const before = store.events.stats().changes;
    const goodWrites = good.map((callId) =>
      store.writeChange({ callId, accountId: account.id, event: { sequence: 1, type: 'call.connected', payload: {} }, callUpdate: { status: 'connected' } }),
    );
    // Not a status the schema allows: the whole batch's statement fails on it.
    const badWrite = store.writeChange({ callId: bad, accountId: account.id, event: { sequence: 1, type: 'call.bogus', payload: {} }, callUpdate: { status: 'bogus' as never } });
    await Promise.all(goodWrites);
    await assert.rejects(badWrite, EventWriteFailed);
    const stats = store.events.stats().changes;
    assert.equal(stats.splitRetries - before.splitRetries, 1);
    assert.equal(stats.lost - before.lost, 1);
    assert.equal(await count(`SELECT count(*)::int AS n FROM call WHERE id = ANY($1) AND status = 'connected'`, [good]), 20);
    assert.equal(await count('SELECT count(*)::int AS n FROM call_event WHERE call_id = ANY($1)', [good]), 20);
    assert.equal(await count('SELECT count(*)::int AS n FROM call_event WHERE call_id = $1', [bad]), 0);
    assert.deepEqual(
      reported.map((error) => (error as EventWriteFailed).callId),
      [bad],
    );
  });

  it("refuses a change for an unknown call, or another account's, without failing the batch", async () => {
    const callId = await newCall();
    const other = await store.createAccount('Other');
    reported.length = 0;
    const before = store.events.stats().changes;
    const results = await Promise.allSettled([
      store.writeChange({ callId, accountId: account.id, event: { sequence: 1, type: 'ok', payload: {} } }),
      store.writeChange({ callId: 'call_missing', accountId: account.id, event: { sequence: 1, type: 'lost', payload: {} } }),
      store.writeChange({ callId, accountId: other.id, event: { sequence: 2, type: 'wrong account', payload: {} }, callUpdate: { status: 'failed' } }),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'rejected']);
    for (const result of results.slice(1)) assert.ok(result.status === 'rejected' && result.reason instanceof EventWriteFailed && result.reason.cause instanceof NotFound);
    assert.equal(store.events.stats().changes.splitRetries, before.splitRetries);
    const call = (await store.getCall(account.id, callId))!;
    assert.equal(call.status, 'queued');
    assert.deepEqual((await store.callEvents(account.id, callId))!.map((e) => e.type), ['ok']);
    assert.equal(reported.length, 2);
  });

  it('writes a change without an event: the call or leg alone, no outbox row', async () => {
    const callId = await newCall();
    const outboxBefore = await count('SELECT count(*)::int AS n FROM outbox');
    await store.writeChange({ callId, accountId: account.id, callUpdate: { status: 'calling_a' }, legUpdate: { leg: 'b', status: 'ended', endedAt: clock.now() } });
    assert.deepEqual(await store.callEvents(account.id, callId), []);
    const call = (await store.getCall(account.id, callId))!;
    assert.equal(call.status, 'calling_a');
    assert.equal(call.legs.b.status, 'ended');
    assert.equal(call.lastSequence, 0);
    assert.equal(await count('SELECT count(*)::int AS n FROM outbox'), outboxBefore);
  });

  it('clears fields given as null and leaves absent ones alone', async () => {
    const callId = await newCall();
    await store.writeChange({ callId, accountId: account.id, event: { sequence: 1, type: 'x', payload: {} }, callUpdate: { engineId: 'eng-9', sipCode: 486, sipReason: 'Busy Here' }, legUpdate: { leg: 'a', dialog: DIALOG } });
    await store.writeChange({ callId, accountId: account.id, event: { sequence: 2, type: 'y', payload: {} }, callUpdate: { sipCode: null }, legUpdate: { leg: 'a', dialog: null } });
    const call = (await store.getCall(account.id, callId))!;
    assert.deepEqual({ engineId: call.engineId, sipCode: call.sipCode, sipReason: call.sipReason, dialog: call.legs.a.dialog }, { engineId: 'eng-9', sipCode: null, sipReason: 'Busy Here', dialog: null });
  });

  it('persists dialogs that a successor engine reads back from liveCallsOf', async () => {
    const callId = await newCall();
    await store.claimQueuedCall(callId, 'eng-dead');
    await store.writeChange({ callId, accountId: account.id, event: { sequence: 1, type: 'call.connected', payload: {} }, callUpdate: { status: 'connected' }, legUpdate: { leg: 'b', status: 'connected', dialog: { ...DIALOG, callId: 'b-leg@ctd' } } });
    const live = await store.liveCallsOf('eng-dead');
    assert.deepEqual(live.map((c) => c.id), [callId]);
    assert.deepEqual(live[0]!.legs.b.dialog, { ...DIALOG, callId: 'b-leg@ctd' });
  });

  it('takes what a change says when write() is called: the caller may reuse the objects', async () => {
    const callId = await newCall();
    const payload: Record<string, unknown> = { n: 1 };
    const dialog = { ...DIALOG };
    const pending = store.writeChange({ callId, accountId: account.id, event: { sequence: 1, type: 'x', payload }, legUpdate: { leg: 'a', dialog } });
    payload.n = 2;
    dialog.localCSeq = 99;
    await pending;
    assert.deepEqual((await store.callEvents(account.id, callId))![0]!.payload, { n: 1 });
    assert.equal((await store.getCall(account.id, callId))!.legs.a.dialog!.localCSeq, 2);
  });

  it('appends SIP log lines in order, and loses only the lines of an unknown call', async () => {
    const callId = await newCall();
    const at = clock.millis;
    const lines = ['INVITE sip:+15551230001@trunk.example.com SIP/2.0', '100 Trying (1 INVITE)', '180 Ringing (1 INVITE)', '200 OK (1 INVITE)', 'ACK sip:alice@192.0.2.10 SIP/2.0'];
    reported.length = 0;
    const writes = lines.map((line, i) => store.appendSipLog([{ callId, leg: 'a', direction: i === 0 || i === 4 ? 'out' : 'in', at: at + i, peer: 'udp:192.0.2.10:5060', line }]));
    const lost = store.appendSipLog([{ callId: 'call_missing', leg: 'a', direction: 'out', at, peer: 'udp:192.0.2.10:5060', line: 'BYE' }]);
    await Promise.all(writes);
    await assert.rejects(lost, EventWriteFailed);
    const log = (await store.sipLog(account.id, callId))!;
    assert.deepEqual(log.map((m) => m.line), lines);
    assert.deepEqual(log.map((m) => m.at.getTime()), lines.map((_, i) => at + i));
    assert.equal(log[0]!.direction, 'out');
    assert.equal(reported.length, 1);
  });

  it('keeps a call\'s lines of one batch in one row, calls apart, and reads them back in order after the rows of the old table', async () => {
    const [first, second] = [await newCall(), await newCall()];
    const at = clock.millis;
    // A line the previous release wrote, a row per message.
    await raw.query(`INSERT INTO sip_message (call_id, leg, direction, at, peer, line) VALUES ($1, 'a', 'out', $2, 'udp:192.0.2.10:5060', 'INVITE (old release)')`, [first, new Date(at - 10)]);
    const line = (callId: string, n: number) => ({ callId, leg: 'a' as const, direction: 'in' as const, at: at + n, peer: 'udp:192.0.2.10:5060', line: `line ${n}` });
    await Promise.all([store.appendSipLog([line(first, 1), line(second, 1), line(first, 2)]), store.appendSipLog([line(first, 3), line(second, 2)])]);
    assert.equal(await count('SELECT count(*)::int AS n FROM sip_log_chunk WHERE call_id = $1', [first]), 1, 'one statement, one row a call');
    assert.equal(await count('SELECT count(*)::int AS n FROM sip_log_chunk WHERE call_id = $1', [second]), 1);
    await store.appendSipLog([line(first, 4)]);
    assert.equal(await count('SELECT count(*)::int AS n FROM sip_log_chunk WHERE call_id = $1', [first]), 2, 'a later batch, a new row');
    assert.deepEqual((await store.sipLog(account.id, first))!.map((m) => m.line), ['INVITE (old release)', 'line 1', 'line 2', 'line 3', 'line 4']);
    assert.deepEqual((await store.sipLog(account.id, second))!.map((m) => m.line), ['line 1', 'line 2']);
    await assert.rejects(store.appendSipLog([{ ...line(first, 5), leg: 'c' as never }]), InvalidArgument);
    await assert.rejects(store.appendSipLog([{ ...line(first, 5), direction: 'sideways' as never }]), InvalidArgument);
  });

  it('appends single SIP lines nobody waits on (the engine\'s path): the whole message kept, text with quotes and CRLFs intact, a lost line reported', async () => {
    const callId = await newCall();
    const at = clock.millis;
    const message = 'INVITE sip:bob@192.0.2.20 SIP/2.0\r\nFrom: "Bob \\"the builder\\"" <sip:bob@x>;tag=1\r\nSubject: caf\u00e9 \u2615\r\nContent-Length: 0\r\n\r\n';
    reported.length = 0;
    store.appendSipLine({ callId, leg: 'b', direction: 'out', at, peer: 'udp:192.0.2.20:5060', line: 'INVITE sip:bob@192.0.2.20', message });
    store.appendSipLine({ callId, leg: 'b', direction: 'in', at: new Date(at + 5), peer: 'udp:192.0.2.20:5060', line: '100 Trying (1 INVITE)', message: null });
    store.appendSipLine({ callId: 'call_missing', leg: 'a', direction: 'out', at, peer: 'udp:192.0.2.10:5060', line: 'BYE', message: null });
    store.appendSipLine({ callId: '', leg: 'a', direction: 'out', at, peer: 'udp:192.0.2.10:5060', line: 'BYE', message: null });
    assert.equal(reported.length, 1, 'the line without a call id is refused at once');
    // Nothing to await: the lines are written within the SIP log's batch delay.
    let log = (await store.sipLog(account.id, callId))!;
    for (let i = 0; i < 100 && (log.length < 2 || reported.length < 2); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      log = (await store.sipLog(account.id, callId))!;
    }
    assert.deepEqual(log.map((m) => [m.leg, m.direction, m.line, m.message, m.at.getTime()]), [
      ['b', 'out', 'INVITE sip:bob@192.0.2.20', message, at],
      ['b', 'in', '100 Trying (1 INVITE)', null, at + 5],
    ]);
    assert.equal(reported.length, 2, 'the line of an unknown call is reported lost');
    assert.ok(reported.every((error) => error instanceof InvalidArgument || error instanceof EventWriteFailed));
  });

  it('refuses a malformed change at once and reports it', async () => {
    reported.length = 0;
    await assert.rejects(store.writeChange({ callId: 'call_x', accountId: account.id, event: { sequence: 0, type: 'x', payload: {} } }), InvalidArgument);
    await assert.rejects(store.writeChange({ callId: '', accountId: account.id }), InvalidArgument);
    assert.equal(reported.length, 2);
  });

  describe('outbox', () => {
    it('hands each event to one relay, again after the claim went stale, and forgets completed ones', async () => {
      // Empty the outbox of the tests above.
      await raw.query('DELETE FROM outbox');
      const callId = await newCall();
      await Promise.all([1, 2, 3].map((sequence) => store.writeChange({ callId, accountId: account.id, event: { sequence, type: `e${sequence}`, payload: {} } })));
      const [first, second] = await Promise.all([store.claimOutbox({ limit: 2 }), store.claimOutbox({ limit: 2 })]);
      const claimed = [...first!, ...second!];
      assert.equal(claimed.length, 3);
      assert.equal(new Set(claimed.map((e) => e.id)).size, 3);
      assert.deepEqual(await store.claimOutbox(), []);
      clock.advance(61_000);
      const again = await store.claimOutbox({ reclaimAfterMs: 60_000 });
      assert.equal(again.length, 3);
      assert.equal(await store.completeOutbox(again.map((e) => e.id)), 3);
      clock.advance(61_000);
      assert.deepEqual(await store.claimOutbox(), []);
      assert.equal((await store.callEvents(account.id, callId))!.length, 3);
    });

    it('a claim removes the rows handed over before it, and tells which events may go somewhere', async () => {
      await raw.query('DELETE FROM outbox');
      const quiet = await newCall();
      const withUrl = (await store.createCall(account.id, { a: legs.a, b: legs.b, webhookUrl: 'https://hooks.example.com/call' })).call.id;
      const other = await store.createAccount('Events with an endpoint');
      const hooked = (await store.createCall(other.id, { a: legs.a, b: legs.b })).call.id;
      await store.webhookEndpoints.createWebhookEndpoint(other.id, { url: 'https://hooks.example.com/account' });
      await store.createAccount('unused');
      const write = (callId: string, accountId: string, sequence: number) => store.writeChange({ callId, accountId, event: { sequence, type: 'call.leg.ringing', payload: {} } });
      await Promise.all([write(quiet, account.id, 1), write(withUrl, account.id, 1), write(hooked, other.id, 1)]);
      const first = await store.claimOutbox({ limit: 10 });
      const hints = Object.fromEntries(first.map((event) => [event.callId, [event.callExists, event.callWebhookUrl, event.accountHasEndpoints]]));
      assert.deepEqual(hints, {
        [quiet]: [true, null, false],
        [withUrl]: [true, 'https://hooks.example.com/call', false],
        [hooked]: [true, null, true],
      });
      await write(quiet, account.id, 2);
      const second = await store.claimOutbox({ limit: 10, complete: first.map((event) => event.id) });
      assert.deepEqual(second.map((event) => [event.callId, event.sequence]), [[quiet, 2]], 'the completed ones are not claimed again, even stale');
      assert.equal(await count('SELECT count(*)::int AS n FROM outbox'), 1, 'the first claim\'s rows are gone, the second\'s stay until completed');
      clock.advance(61_000);
      assert.deepEqual((await store.claimOutbox({ reclaimAfterMs: 60_000, complete: second.map((event) => event.id) })), [], 'a stale row being completed is not handed out again by the same statement');
      assert.equal(await count('SELECT count(*)::int AS n FROM outbox'), 0);
    });
  });

  it('closing with giveUpAfterMs ends while the database is out of reach: what waits is lost and reported, not waited on for ever', async () => {
    // Nothing listens on port 1: every attempt is refused, as while PostgreSQL restarts.
    const unreachable = new pg.Pool({ connectionString: 'postgresql://postgres@127.0.0.1:1/none', connectionTimeoutMillis: 1000 });
    const lost: StoreError[] = [];
    const outages: unknown[] = [];
    const writer = new EventWriter(unreachable, clock.now, { onError: (error) => lost.push(error), onOutage: (error) => outages.push(error) });
    try {
      const change = writer.write({ callId: 'call_1', accountId: account.id, event: { sequence: 1, type: 'call.queued', payload: {} } });
      writer.appendSipLine({ callId: 'call_1', leg: 'a', direction: 'out', at: clock.millis, peer: 'udp:192.0.2.10:5060', line: 'INVITE', message: null });
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.ok(outages.length >= 1, 'the writer saw the outage and kept the writes');
      const started = performance.now();
      await writer.close(500);
      assert.ok(performance.now() - started < 6000, 'closing ended');
      await assert.rejects(change, EventWriteFailed);
      assert.deepEqual(lost.map((error) => (error as EventWriteFailed).message.includes('call_1')), [true, true], 'the change and the SIP line, each reported');
    } finally {
      await unreachable.end();
    }
  });

  it('flushes on close and refuses writes after it', async () => {
    const callId = await newCall();
    const other = openStore(database, { clock: clock.now, eventWriter: { flushDelayMs: 10_000 } });
    const pending = other.writeChange({ callId, accountId: account.id, event: { sequence: 1, type: 'last', payload: {} } });
    await other.close();
    await pending;
    await assert.rejects(other.writeChange({ callId, accountId: account.id, event: { sequence: 2, type: 'late', payload: {} } }), WriterClosed);
    assert.deepEqual((await store.callEvents(account.id, callId))!.map((e) => e.type), ['last']);
  });
});
