import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { IdempotencyConflict, InvalidArgument, InvalidCursor, NotFound, type Account, type Call, type Store } from '../../src/store/index.js';
import pg from 'pg';
import { insertCalls } from '../../src/store/call-inserter.js';
import { createTestDatabase, legs, openStore, TestClock, type TestDatabase } from './store-fixture.js';

describe('calls', () => {
  let database: TestDatabase;
  let store: Store;
  let mine: Account;
  let theirs: Account;
  const clock = new TestClock();

  before(async () => {
    database = await createTestDatabase();
    store = openStore(database, { clock: clock.now });
    mine = await store.createAccount('Mine');
    theirs = await store.createAccount('Theirs');
  });
  after(async () => {
    await store.close();
    await database.drop();
  });

  it('creates a queued call with its two idle legs', async () => {
    const trunk = await store.createTrunk(mine.id, { name: 't', host: 't.example' });
    const { call, created } = await store.createCall(mine.id, {
      a: { ...legs.a, trunkId: trunk.id, headers: { 'X-Campaign': 'spring' }, ringTimeoutS: 20 },
      b: legs.b,
      flow: 'IV',
      ringback: 'tone',
      maxDurationS: 3600,
      webhookUrl: 'https://hooks.example/ctd',
      metadata: { crmId: 42, tags: ['vip'] },
    });
    assert.equal(created, true);
    assert.match(call.id, /^call_/);
    assert.deepEqual(
      { status: call.status, flow: call.flow, ringback: call.ringback, maxDurationS: call.maxDurationS, lastSequence: call.lastSequence, engineId: call.engineId },
      { status: 'queued', flow: 'IV', ringback: 'tone', maxDurationS: 3600, lastSequence: 0, engineId: null },
    );
    assert.deepEqual(call.metadata, { crmId: 42, tags: ['vip'] });
    assert.deepEqual(
      { name: call.legs.a.name, status: call.legs.a.status, trunkId: call.legs.a.trunkId, headers: call.legs.a.headers, ringTimeoutS: call.legs.a.ringTimeoutS, dialog: call.legs.a.dialog },
      { name: 'a', status: 'idle', trunkId: trunk.id, headers: { 'X-Campaign': 'spring' }, ringTimeoutS: 20, dialog: null },
    );
    assert.equal(call.legs.b.ringTimeoutS, 30);
    assert.deepEqual(await store.getCall(mine.id, call.id), call);
  });

  it('refuses bad input and a trunk of another account', async () => {
    const theirTrunk = await store.createTrunk(theirs.id, { name: 'theirs', host: 'x.example' });
    await assert.rejects(store.createCall(mine.id, { a: { ...legs.a, trunkId: theirTrunk.id }, b: legs.b }), NotFound);
    await assert.rejects(store.createCall(mine.id, { a: { ...legs.a, uri: '' }, b: legs.b }), InvalidArgument);
    await assert.rejects(store.createCall(mine.id, { a: legs.a, b: legs.b, flow: 'II' as never }), InvalidArgument);
    await assert.rejects(store.createCall('acc_nobody', { a: legs.a, b: legs.b }), NotFound);
  });

  it('calls placed at the same moment share a statement, and each still gets its own outcome', async () => {
    const first = await store.createCall(mine.id, { a: legs.a, b: legs.b }, { key: 'same-moment', requestHash: 'h1' });
    // Started in one turn of the event loop: one coalesced insert, with a call of an unknown
    // account and a replayed key with another body among them.
    const outcomes = await Promise.allSettled([
      ...Array.from({ length: 12 }, (_, i) => store.createCall(mine.id, { a: legs.a, b: legs.b, metadata: { n: i }, queuedEvent: true })),
      store.createCall('acc_nobody', { a: legs.a, b: legs.b }),
      store.createCall(mine.id, { a: legs.a, b: legs.b }, { key: 'same-moment', requestHash: 'h2' }),
      store.createCall(mine.id, { a: legs.a, b: legs.b }, { key: 'same-moment', requestHash: 'h1' }),
    ]);
    const created = outcomes.slice(0, 12).map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : assert.fail(String(outcome.reason))));
    assert.deepEqual(created.map((c) => c.call.metadata), Array.from({ length: 12 }, (_, i) => ({ n: i })));
    assert.equal(new Set(created.map((c) => c.call.id)).size, 12);
    for (const { call } of created) {
      assert.deepEqual(await store.getCall(mine.id, call.id), call);
      assert.deepEqual((await store.callEvents(mine.id, call.id))!.map((e) => [e.sequence, e.type]), [[1, 'call.queued']]);
    }
    assert.ok(outcomes[12]!.status === 'rejected' && outcomes[12].reason instanceof NotFound);
    assert.ok(outcomes[13]!.status === 'rejected' && outcomes[13].reason instanceof IdempotencyConflict);
    assert.ok(outcomes[14]!.status === 'fulfilled' && outcomes[14].value.call.id === first.call.id && !outcomes[14].value.created);
  });

  it('inserts several calls in one statement (the coalesced path), skipping one of an unknown account', async () => {
    const pool = new pg.Pool({ connectionString: database.url, max: 1 });
    try {
      const now = new Date('2026-03-01T10:00:00.123Z');
      const insert = (id: string, accountId: string, queuedEventId?: string) => ({
        id,
        accountId,
        input: { a: legs.a, b: { ...legs.b, headers: { 'X-Tag': id } }, flow: 'IV' as const, maxDurationS: 60, metadata: { id } },
        legs: { a: { ...legs.a, ringTimeoutS: 20 }, b: { ...legs.b, headers: { 'X-Tag': id }, ringTimeoutS: 30 } },
        idempotency: undefined,
        queuedEventId,
        now,
      });
      const answers = await insertCalls(pool, [insert('call_multi1', mine.id, 'evt_multi1'), insert('call_multi2', 'acc_nobody', 'evt_multi2'), insert('call_multi3', theirs.id)]);
      assert.deepEqual(answers.map((call) => call?.id ?? null), ['call_multi1', null, 'call_multi3']);
      assert.deepEqual(await store.getCall(mine.id, 'call_multi1'), answers[0]);
      assert.deepEqual(await store.getCall(theirs.id, 'call_multi3'), answers[2]);
      assert.equal((await store.getCall(mine.id, 'call_multi1'))!.legs.b.headers['X-Tag'], 'call_multi1');
      assert.deepEqual((await store.callEvents(mine.id, 'call_multi1'))!.map((e) => [e.type, e.createdAt.toISOString()]), [['call.queued', now.toISOString()]]);
      assert.deepEqual(await store.callEvents(theirs.id, 'call_multi3'), []);
      const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE event_id IN ('evt_multi1', 'evt_multi2')`);
      assert.equal(rows[0]!.n, 1, 'the queued event of the inserted call has its outbox row; the refused call has none');
    } finally {
      await pool.end();
    }
  });

  it("never returns another account's call, its events or its SIP log", async () => {
    const { call } = await store.createCall(theirs.id, { a: legs.a, b: legs.b });
    assert.equal(await store.getCall(mine.id, call.id), null);
    assert.equal(await store.callEvents(mine.id, call.id), null);
    assert.equal(await store.sipLog(mine.id, call.id), null);
    assert.equal((await store.listCalls(mine.id, { limit: 100 })).calls.some((c) => c.id === call.id), false);
    assert.deepEqual(await store.callEvents(theirs.id, call.id), []);
    assert.equal(await store.getCall(mine.id, 'call_missing'), null);
  });

  describe('idempotency', () => {
    it('returns the same call for the same key and body', async () => {
      const first = await store.createCall(mine.id, { a: legs.a, b: legs.b }, { key: 'order-1', requestHash: 'h1' });
      const again = await store.createCall(mine.id, { a: legs.a, b: legs.b }, { key: 'order-1', requestHash: 'h1' });
      assert.equal(first.created, true);
      assert.equal(again.created, false);
      assert.deepEqual(again.call, first.call);
    });

    it('throws IdempotencyConflict for the same key with another body', async () => {
      const first = await store.createCall(mine.id, { a: legs.a, b: legs.b }, { key: 'order-2', requestHash: 'h1' });
      await assert.rejects(
        store.createCall(mine.id, { a: legs.b, b: legs.a }, { key: 'order-2', requestHash: 'h2' }),
        (error: unknown) => error instanceof IdempotencyConflict && error.code === 'IDEMPOTENCY_CONFLICT' && error.callId === first.call.id,
      );
    });

    it('makes one call of concurrent identical requests', async () => {
      const results = await Promise.all(
        Array.from({ length: 8 }, () => store.createCall(mine.id, { a: legs.a, b: legs.b }, { key: 'order-race', requestHash: 'same' })),
      );
      assert.equal(results.filter((r) => r.created).length, 1);
      assert.equal(new Set(results.map((r) => r.call.id)).size, 1);
      const all = await store.listCalls(mine.id, { limit: 100 });
      assert.equal(all.calls.filter((c) => c.idempotencyKey === 'order-race').length, 1);
    });

    it('keeps keys per account', async () => {
      const mineCall = await store.createCall(mine.id, { a: legs.a, b: legs.b }, { key: 'shared-key', requestHash: 'm' });
      const theirCall = await store.createCall(theirs.id, { a: legs.a, b: legs.b }, { key: 'shared-key', requestHash: 't' });
      assert.equal(theirCall.created, true);
      assert.notEqual(theirCall.call.id, mineCall.call.id);
    });
  });

  describe('listCalls', () => {
    let account: Account;
    const made: Call[] = [];

    before(async () => {
      account = await store.createAccount('Paging');
      // 25 calls over 5 distinct instants: ties on createdAt are broken by id.
      for (let i = 0; i < 25; i++) {
        if (i % 5 === 0) clock.advance(1000);
        made.push((await store.createCall(account.id, { a: legs.a, b: legs.b, metadata: { i } })).call);
      }
    });

    const newestFirst = (calls: Call[]): string[] =>
      [...calls].sort((x, y) => y.createdAt.getTime() - x.createdAt.getTime() || (x.id < y.id ? 1 : x.id > y.id ? -1 : 0)).map((c) => c.id);

    it('pages newest first with a cursor, without skipping or repeating a call', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await store.listCalls(account.id, { limit: 7, cursor });
        assert.ok(page.calls.length <= 7);
        seen.push(...page.calls.map((c) => c.id));
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== null);
      assert.equal(pages, 4);
      assert.deepEqual(seen, newestFirst(made));
    });

    it('is stable: calls created after the first page do not shift the next ones', async () => {
      const first = await store.listCalls(account.id, { limit: 10 });
      clock.advance(1000);
      const late = (await store.createCall(account.id, { a: legs.a, b: legs.b })).call;
      const second = await store.listCalls(account.id, { limit: 10, cursor: first.nextCursor });
      assert.deepEqual(second.calls.map((c) => c.id), newestFirst(made).slice(10, 20));
      assert.equal((await store.listCalls(account.id, { limit: 1 })).calls[0]?.id, late.id);
      made.push(late);
    });

    it('filters by status and creation time', async () => {
      const target = made[3]!;
      await store.writeChange({ callId: target.id, accountId: account.id, event: { sequence: 1, type: 'call.failed', status: 'failed', payload: {} }, callUpdate: { status: 'failed', endReason: 'a_busy' } });
      const failed = await store.listCalls(account.id, { status: 'failed' });
      assert.deepEqual(failed.calls.map((c) => c.id), [target.id]);
      assert.equal(failed.nextCursor, null);
      const either = await store.listCalls(account.id, { status: ['failed', 'queued'], limit: 100 });
      assert.equal(either.calls.length, made.length);
      const from = made[5]!.createdAt;
      const to = made[15]!.createdAt;
      const window = await store.listCalls(account.id, { createdAfter: from, createdBefore: to, limit: 100 });
      assert.deepEqual(
        window.calls.map((c) => c.id),
        newestFirst(made.filter((c) => c.createdAt >= from && c.createdAt < to)),
      );
      assert.equal(window.calls.length, 10);
    });

    it('refuses a cursor it did not issue', async () => {
      await assert.rejects(store.listCalls(account.id, { cursor: 'bm9wZQ' }), InvalidCursor);
      await assert.rejects(store.listCalls(account.id, { cursor: Buffer.from('[1,"acc_x"]').toString('base64url') }), InvalidCursor);
    });
  });

  describe('ownership by engines', () => {
    it('claims a queued call once, lists the live calls of an engine, and hands them over atomically', async () => {
      const { call } = await store.createCall(mine.id, { a: legs.a, b: legs.b });
      const claims = await Promise.all([store.claimQueuedCall(call.id, 'eng-1'), store.claimQueuedCall(call.id, 'eng-2')]);
      assert.deepEqual(claims.sort(), [false, true]);
      const owner = (await store.getCall(mine.id, call.id))!.engineId!;
      assert.deepEqual((await store.liveCallsOf(owner)).map((c) => c.id), [call.id]);
      // Two survivors race for the dead engine's call: one wins.
      const takeovers = await Promise.all([store.claimCall(call.id, owner, 'eng-3'), store.claimCall(call.id, owner, 'eng-4')]);
      assert.deepEqual(takeovers.sort(), [false, true]);
      assert.deepEqual(await store.liveCallsOf(owner), []);
      // An ended call is nobody's to claim.
      const newOwner = (await store.getCall(mine.id, call.id))!.engineId!;
      await store.writeChange({ callId: call.id, accountId: mine.id, event: { sequence: 1, type: 'call.completed', status: 'completed', payload: {} }, callUpdate: { status: 'completed' } });
      assert.deepEqual(await store.liveCallsOf(newOwner), []);
      assert.equal(await store.claimCall(call.id, newOwner, 'eng-5'), false);
    });

    it('claims made at the same moment for several calls: each call goes to one engine, a repeat by its owner is allowed', async () => {
      const calls = await Promise.all(Array.from({ length: 6 }, () => store.createCall(mine.id, { a: legs.a, b: legs.b })));
      const ids = calls.map(({ call }) => call.id);
      const claims = await Promise.all(ids.flatMap((id) => [store.claimQueuedCall(id, 'eng-a'), store.claimQueuedCall(id, 'eng-b')]));
      for (let i = 0; i < ids.length; i++) assert.deepEqual([claims[2 * i], claims[2 * i + 1]].sort(), [false, true], ids[i]);
      const owners = await Promise.all(ids.map(async (id) => (await store.getCall(mine.id, id))!.engineId!));
      assert.deepEqual(await Promise.all(ids.map((id, i) => store.claimQueuedCall(id, owners[i]!))), ids.map(() => true));
      assert.deepEqual(await Promise.all(ids.map((id, i) => store.claimQueuedCall(id, owners[i] === 'eng-a' ? 'eng-b' : 'eng-a'))), ids.map(() => false));
    });
  });
});
