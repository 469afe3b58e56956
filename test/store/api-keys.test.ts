import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { InvalidArgument, NotFound, type Store } from '../../src/store/index.js';
import { createTestDatabase, openStore, TestClock, type TestDatabase } from './store-fixture.js';

describe('accounts and API keys', () => {
  let database: TestDatabase;
  let store: Store;
  let raw: pg.Client;
  const clock = new TestClock();

  before(async () => {
    database = await createTestDatabase();
    store = openStore(database, { clock: clock.now });
    raw = new pg.Client({ connectionString: database.url });
    await raw.connect();
  });
  after(async () => {
    await raw.end();
    await store.close();
    await database.drop();
  });

  it('creates accounts with prefixed ids and a webhook signing secret of their own', async () => {
    const account = await store.createAccount('Acme');
    assert.match(account.id, /^acc_[0-9A-Za-z]{22}$/);
    assert.equal(account.name, 'Acme');
    assert.deepEqual(account.createdAt, clock.now());
    assert.deepEqual(await store.getAccount(account.id), account);
    assert.match((await store.webhookSecret(account.id)) ?? '', /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(await store.getAccount('acc_missing'), null);
    await assert.rejects(store.createAccount('  '), InvalidArgument);
  });

  it('stores only the SHA-256 of a key: the secret is in no column of the database', async () => {
    const account = await store.createAccount('Hashing');
    const { key, secret } = await store.createApiKey(account.id, 'server');
    assert.match(secret, /^ctd_[0-9A-Za-z]{32}$/);
    assert.match(key.id, /^key_/);
    assert.equal(key.prefix, secret.slice(0, 12));
    assert.equal(Object.hasOwn(key, 'hash'), false);
    assert.equal(JSON.stringify(key).includes(secret), false);
    const { rows } = await raw.query('SELECT * FROM api_key WHERE id = $1', [key.id]);
    assert.equal(rows[0].hash, createHash('sha256').update(secret).digest('hex'));
    const dump = await raw.query(`SELECT string_agg(t::text, ' ') AS everything FROM api_key t`);
    assert.equal(dump.rows[0].everything.includes(secret), false);
    assert.ok(dump.rows[0].everything.includes(secret.slice(0, 12)));
  });

  it('authenticates a key by its secret, and nothing else', async () => {
    const account = await store.createAccount('Auth');
    const { key, secret } = await store.createApiKey(account.id, 'server');
    assert.deepEqual(await store.authenticate(secret), { accountId: account.id, keyId: key.id });
    assert.equal(await store.authenticate(`${secret}x`), null);
    assert.equal(await store.authenticate(secret.slice(0, -1)), null);
    assert.equal(await store.authenticate(''), null);
    assert.equal(await store.authenticate(key.prefix), null);
  });

  it('writes lastUsedAt at most once a minute', async () => {
    const account = await store.createAccount('Touch');
    const { key, secret } = await store.createApiKey(account.id, 'server');
    const lastUsed = async (): Promise<number | undefined> => (await store.listApiKeys(account.id)).find((k) => k.id === key.id)?.lastUsedAt?.getTime();
    await store.authenticate(secret);
    const first = clock.millis;
    assert.equal(await lastUsed(), first);
    clock.advance(30_000);
    await store.authenticate(secret);
    assert.equal(await lastUsed(), first, 'not again within the minute');
    clock.advance(31_000);
    await store.authenticate(secret);
    assert.equal(await lastUsed(), clock.millis);
  });

  it('refuses a revoked key at once on the process that revoked it, and after the cache on the others', async () => {
    const account = await store.createAccount('Revoke');
    const { key, secret } = await store.createApiKey(account.id, 'server');
    const other = openStore(database, { clock: clock.now, apiKeys: { authCacheMs: 5000 } });
    try {
      assert.ok(await store.authenticate(secret));
      assert.ok(await other.authenticate(secret));
      const revoked = await store.revokeApiKey(account.id, key.id);
      assert.deepEqual(revoked.revokedAt, clock.now());
      assert.equal(await store.authenticate(secret), null);
      clock.advance(5000);
      assert.equal(await other.authenticate(secret), null);
      // Revoking again changes nothing.
      clock.advance(1000);
      assert.deepEqual((await store.revokeApiKey(account.id, key.id)).revokedAt, revoked.revokedAt);
    } finally {
      await other.close();
    }
  });

  it("never lists, revokes or authenticates into another account's keys", async () => {
    const mine = await store.createAccount('Mine');
    const theirs = await store.createAccount('Theirs');
    const { key: myKey } = await store.createApiKey(mine.id, 'mine');
    const { key: theirKey, secret: theirSecret } = await store.createApiKey(theirs.id, 'theirs');
    assert.deepEqual(
      (await store.listApiKeys(mine.id)).map((k) => k.id),
      [myKey.id],
    );
    await assert.rejects(store.revokeApiKey(mine.id, theirKey.id), (error: unknown) => error instanceof NotFound && error.code === 'NOT_FOUND');
    assert.deepEqual(await store.authenticate(theirSecret), { accountId: theirs.id, keyId: theirKey.id });
    await assert.rejects(store.createApiKey('acc_nobody', 'x'), NotFound);
  });

  it('bootstraps the default account and key once, also when processes race', async () => {
    const secret = 'bootstrap_0123456789abcdef';
    const stores = [store, openStore(database, { clock: clock.now }), openStore(database, { clock: clock.now })];
    try {
      const results = await Promise.all(stores.map((s) => s.bootstrap(secret)));
      assert.equal(results.filter((r) => r.created).length, 1);
      assert.equal(new Set(results.map((r) => r.keyId)).size, 1);
      const again = await store.bootstrap(secret);
      assert.equal(again.created, false);
      assert.deepEqual(await store.authenticate(secret), { accountId: again.accountId, keyId: again.keyId });
      assert.equal((await store.getAccount(again.accountId))?.name, 'default');
      const { rows } = await raw.query(`SELECT count(*)::int AS n FROM account WHERE name = 'default'`);
      assert.equal(rows[0].n, 1);
      // A revoked bootstrap key stays revoked.
      await store.revokeApiKey(again.accountId, again.keyId);
      assert.equal((await store.bootstrap(secret)).created, false);
      assert.equal(await store.authenticate(secret), null);
    } finally {
      await Promise.all(stores.slice(1).map((s) => s.close()));
    }
  });
});
