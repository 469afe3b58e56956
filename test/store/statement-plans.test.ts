/**
 * The hot statements are prepared once per connection, so PostgreSQL may keep a generic plan made
 * while the tables were empty. On tables nothing analyses (autovacuum off), such plans used to
 * scan every event and every call on each relay poll and change batch, a cost that grew with the
 * tables. Here the plans are made on empty tables, the tables are then filled, and the statements
 * must reach their rows without a single sequential scan of them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Account, Store } from '../../src/store/index.js';
import { createTestDatabase, legs, openStore, TestClock, type TestDatabase } from './store-fixture.js';

const TABLES = ['call', 'leg', 'call_event', 'outbox'];
/** A backend sends its table statistics about a second after it goes idle. */
const STATS_FLUSH_MS = 1200;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('statement plans on tables never analysed', () => {
  let database: TestDatabase;
  let store: Store;
  let raw: pg.Client;
  let account: Account;
  const clock = new TestClock();

  before(async () => {
    database = await createTestDatabase();
    // One connection per pool: every execution of a statement goes through the same prepared
    // statement, whose plan is the one made while the tables were empty.
    store = openStore(database, { clock: clock.now, poolSize: 1, writerPoolSize: 1 });
    raw = new pg.Client({ connectionString: database.url });
    await raw.connect();
    account = await store.createAccount('Plans');
  });
  after(async () => {
    await raw.end();
    await store.close();
    await database.drop();
  });

  const counters = async (): Promise<{ seqScans: Record<string, number>; updates: number; hot: number }> => {
    const { rows } = await raw.query<{ relname: string; seq_scan: string; n_tup_upd: string; n_tup_hot_upd: string }>(
      'SELECT relname, seq_scan, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = ANY($1)',
      [TABLES],
    );
    const call = rows.find((row) => row.relname === 'call')!;
    return { seqScans: Object.fromEntries(rows.map((row) => [row.relname, Number(row.seq_scan)])), updates: Number(call.n_tup_upd), hot: Number(call.n_tup_hot_upd) };
  };

  /** The counters once every backend has sent its share (`updates` of the call's counted). */
  const callCounters = async (updates: number): Promise<{ seqScans: Record<string, number>; updates: number; hot: number }> => {
    for (let waited = 0; (await counters()).updates < updates && waited <= 15_000; waited += 200) await sleep(200);
    // What the backends did after the updates counted comes with their next report.
    await sleep(STATS_FLUSH_MS);
    return counters();
  };

  /** One round of what the engine and the relay do for a call: claim, a change of status with its event, relay claim. */
  const round = async (callId: string, sequence: number): Promise<void> => {
    await store.claimQueuedCall(callId, 'eng-1');
    await store.writeChange({
      callId,
      accountId: account.id,
      event: { sequence, type: 'call.leg.ringing', leg: 'a', status: 'ringing', payload: { leg: 'a' } },
      callUpdate: { status: 'calling_a' },
      legUpdate: { leg: 'a', status: 'ringing', sipCode: 180, sipReason: 'Ringing' },
    });
    const claimed = await store.claimOutbox({ limit: 5 });
    await store.completeOutbox(claimed.map((event) => event.id));
  };

  it('the claim, the call changes and the relay reach calls, legs and events by key once the tables have grown; a change of status is a HOT update', async () => {
    // Then ten rounds on one call. Past the fifth execution PostgreSQL settles on a generic plan.
    // The first claim and each change update the call.
    // Ten of each statement on empty tables, the way a new service's first moments make them.
    for (let i = 0; i < 10; i++) {
      assert.equal(await store.claimQueuedCall(`call_none_${i}`, 'eng-1'), false);
      await assert.rejects(store.writeChange({ callId: `call_none_${i}`, accountId: account.id, event: { sequence: 2, type: 'call.leg.ringing', payload: {} }, callUpdate: { status: 'calling_a' } }));
      assert.deepEqual(await store.claimOutbox({ limit: 5 }), []);
    }
    const { call: first } = await store.createCall(account.id, { a: legs.a, b: legs.b });
    for (let i = 0; i < 10; i++) await round(first.id, 2 + i);
    // Thousands of calls, each with its events, as after a while of traffic (the events through a
    // connection of its own, closed at once: its own scans must not be counted later).
    const ids: string[] = [];
    for (let batch = 0; batch < 30; batch++) {
      const created = await Promise.all(Array.from({ length: 100 }, () => store.createCall(account.id, { a: legs.a, b: legs.b })));
      ids.push(...created.map(({ call }) => call.id));
    }
    const filler = new pg.Client({ connectionString: database.url });
    await filler.connect();
    await filler.query(
      `INSERT INTO call_event (id, call_id, account_id, sequence, type, payload, created_at)
       SELECT 'evt_fill_' || c.id || '_' || n, c.id, c.account_id, n, 'call.leg.ringing', '{}'::jsonb, c.created_at
       FROM call c, generate_series(20, 27) AS n`,
    );
    await filler.end();
    await store.completeOutbox((await store.claimOutbox({ limit: 5000 })).map((event) => event.id));
    const before = await callCounters(11);

    // Calls on different pages of the table, 150 calls apart; each round updates its call twice
    // (the claim, the status).
    const spread = ids.filter((_, i) => i % 150 === 0);
    for (const callId of spread) await round(callId, 3);
    // Closed: every connection sends its statistics as it ends.
    await store.close();
    const afterRounds = await callCounters(11 + 2 * spread.length);
    assert.equal(afterRounds.updates - before.updates, 2 * spread.length, 'every round updated its call twice');
    assert.deepEqual(afterRounds.seqScans, before.seqScans, 'no sequential scan of calls, legs, events or the outbox');
    // The claim changes engine_id (in the live-calls index): not HOT. The status is in no index.
    assert.ok(afterRounds.hot - before.hot >= spread.length, `changes of status are HOT updates (${afterRounds.hot - before.hot} HOT of ${afterRounds.updates - before.updates})`);
  });
});
