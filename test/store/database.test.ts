import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { dropDatabase, ensureDatabase, migrate } from '../../src/store/index.js';

const SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres:postgres@127.0.0.1:5432/postgres';

describe('ensureDatabase and migrate', () => {
  const url = new URL(SERVER_URL);
  url.pathname = `/ctd_test_${randomBytes(6).toString('hex')}`;
  const databaseUrl = url.toString();
  after(() => dropDatabase(databaseUrl));

  it('creates a missing database once, then finds it there', async () => {
    assert.equal(await ensureDatabase(databaseUrl), true);
    assert.equal(await ensureDatabase(databaseUrl), false);
  });

  it('applies every migration once and records it the way Prisma Migrate does', async () => {
    const first = await migrate(databaseUrl);
    assert.ok(first.applied.length >= 1);
    const second = await migrate(databaseUrl);
    assert.deepEqual(second.applied, []);
    assert.deepEqual(second.alreadyApplied, first.applied);
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT migration_name, checksum, finished_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name');
      assert.deepEqual(
        rows.map((row) => row.migration_name),
        first.applied,
      );
      for (const row of rows) {
        assert.match(row.checksum, /^[0-9a-f]{64}$/);
        assert.ok(row.finished_at instanceof Date);
        assert.equal(row.applied_steps_count, 1);
      }
      const tables = await client.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`);
      assert.deepEqual(
        tables.rows.map((row) => row.table_name),
        ['_prisma_migrations', 'account', 'api_key', 'button', 'button_call', 'call', 'call_event', 'engine', 'leg', 'outbox', 'sip_log_chunk', 'sip_message', 'trunk', 'webhook_attempt', 'webhook_delivery', 'webhook_endpoint'],
      );
    } finally {
      await client.end();
    }
  });

  it('lets concurrent migrators of a fresh database through one at a time (Prisma advisory lock)', async () => {
    const fresh = new URL(SERVER_URL);
    fresh.pathname = `/ctd_test_${randomBytes(6).toString('hex')}`;
    const freshUrl = fresh.toString();
    await ensureDatabase(freshUrl);
    try {
      const results = await Promise.all([migrate(freshUrl), migrate(freshUrl), migrate(freshUrl)]);
      const appliedBy = results.filter((result) => result.applied.length > 0);
      assert.equal(appliedBy.length, 1);
      for (const result of results) assert.deepEqual([...result.applied, ...result.alreadyApplied], appliedBy[0]!.applied);
    } finally {
      await dropDatabase(freshUrl);
    }
  });
});
