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
const STATS_FLUSH_MS = 1500;
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

  const seqScans = async (): Promise<Record<string, number>> => {
    const { rows } = await raw.query<{ relname: string; seq_scan: string }>('SELECT relname, seq_scan FROM pg_stat_user_tables WHERE relname = ANY($1)', [TABLES]);
    return Object.fromEntries(rows.map((row) => [row.relname, Number(row.seq_scan)]));
  };

  /** One round of what the engine and the relay do for a call: claim, changes with events, relay claim. */
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

  it('the claim, the call changes and the relay reach calls, legs and events by key once the tables have grown', async () => {
    // Ten rounds on nearly empty tables: past the five custom plans after which PostgreSQL settles
    // on a generic one.
    for (let i = 0; i < 10; i++) {
      const { call } = await store.createCall(account.id, { a: legs.a, b: legs.b });
      await round(call.id, 2);
    }
    // Thousands of calls, each with its events, as after a while of traffic.
    const ids: string[] = [];
    for (let batch = 0; batch < 30; batch++) {
      const created = await Promise.all(Array.from({ length: 100 }, () => store.createCall(account.id, { a: legs.a, b: legs.b })));
      ids.push(...created.map(({ call }) => call.id));
    }
    await raw.query(
      `INSERT INTO call_event (id, call_id, account_id, sequence, type, payload, created_at)
       SELECT 'evt_fill_' || c.id || '_' || n, c.id, c.account_id, n, 'call.leg.ringing', '{}'::jsonb, c.created_at
       FROM call c, generate_series(20, 27) AS n`,
    );
    await store.completeOutbox((await store.claimOutbox({ limit: 5000 })).map((event) => event.id));
    await sleep(STATS_FLUSH_MS);
    const before = await seqScans();

    for (const [i, callId] of ids.slice(-20).entries()) await round(callId, 3 + (i % 2));
    await sleep(STATS_FLUSH_MS);
    const afterRounds = await seqScans();
    assert.equal(await raw.query('SELECT count(*)::int AS n FROM call WHERE engine_id = $1', ['eng-1']).then((r) => r.rows[0].n), 30, 'the rounds did their work');
    assert.deepEqual(afterRounds, before, 'no sequential scan of calls, legs, events or the outbox');
  });
});
