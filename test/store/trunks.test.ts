import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { DecryptionFailed, InvalidArgument, InvalidEncryptionKey, NotFound, Store, type Account } from '../../src/store/index.js';
import { createTestDatabase, openStore, TestClock, type TestDatabase } from './store-fixture.js';

const PASSWORD = 'correct horse battery staple';

describe('trunks', () => {
  let database: TestDatabase;
  let store: Store;
  let raw: pg.Client;
  let mine: Account;
  let theirs: Account;
  const clock = new TestClock();

  before(async () => {
    database = await createTestDatabase();
    store = openStore(database, { clock: clock.now });
    raw = new pg.Client({ connectionString: database.url });
    await raw.connect();
    mine = await store.createAccount('Mine');
    theirs = await store.createAccount('Theirs');
  });
  after(async () => {
    await raw.end();
    await store.close();
    await database.drop();
  });

  it('creates a trunk with defaults and never returns its password', async () => {
    const trunk = await store.createTrunk(mine.id, { name: 'carrier', host: 'sip.carrier.example', username: 'acme', password: PASSWORD, realm: 'carrier' });
    assert.match(trunk.id, /^trk_/);
    assert.deepEqual(
      { port: trunk.port, transport: trunk.transport, numberFormat: trunk.numberFormat, isDefault: trunk.isDefault, hasPassword: trunk.hasPassword },
      { port: 5060, transport: 'udp', numberFormat: 'e164', isDefault: false, hasPassword: true },
    );
    for (const returned of [trunk, await store.getTrunk(mine.id, trunk.id), ...(await store.listTrunks(mine.id))]) {
      const text = JSON.stringify(returned);
      assert.equal(text.includes(PASSWORD), false);
      assert.equal(/password(Encrypted)?"/.test(text), false, text);
    }
  });

  it('keeps the password encrypted at rest and decrypts it for the engine', async () => {
    const trunk = await store.createTrunk(mine.id, { name: 'enc', host: 'sip.enc.example', username: 'u1', password: PASSWORD });
    const { rows } = await raw.query('SELECT password_encrypted FROM trunk WHERE id = $1', [trunk.id]);
    const sealed: string = rows[0].password_encrypted;
    assert.match(sealed, /^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal(sealed.includes(PASSWORD), false);
    assert.deepEqual(await store.trunkCredentials(mine.id, trunk.id), { trunkId: trunk.id, username: 'u1', password: PASSWORD, realm: null });
    // Another key does not open it; neither does the ciphertext moved onto another trunk.
    const wrongKey = new Store({ databaseUrl: database.url, encryptionKey: Buffer.alloc(32, 9) });
    try {
      await assert.rejects(wrongKey.trunkCredentials(mine.id, trunk.id), DecryptionFailed);
    } finally {
      await wrongKey.close();
    }
    const other = await store.createTrunk(mine.id, { name: 'moved', host: 'sip.moved.example', password: 'other' });
    await raw.query('UPDATE trunk SET password_encrypted = $1 WHERE id = $2', [sealed, other.id]);
    await assert.rejects(store.trunkCredentials(mine.id, other.id), DecryptionFailed);
    assert.throws(() => new Store({ databaseUrl: database.url, encryptionKey: Buffer.alloc(16) }), InvalidEncryptionKey);
  });

  it('updates fields, replaces and removes the password', async () => {
    const trunk = await store.createTrunk(mine.id, { name: 'upd', host: 'sip.upd.example', password: PASSWORD });
    clock.advance(1000);
    const updated = await store.updateTrunk(mine.id, trunk.id, { port: 5061, transport: 'tls', password: 'new secret' });
    assert.equal(updated.port, 5061);
    assert.equal(updated.transport, 'tls');
    assert.equal(updated.name, 'upd');
    assert.equal(updated.updatedAt.getTime() - trunk.updatedAt.getTime(), 1000);
    assert.equal((await store.trunkCredentials(mine.id, trunk.id))?.password, 'new secret');
    const cleared = await store.updateTrunk(mine.id, trunk.id, { password: null });
    assert.equal(cleared.hasPassword, false);
    assert.equal((await store.trunkCredentials(mine.id, trunk.id))?.password, null);
    await assert.rejects(store.updateTrunk(mine.id, trunk.id, { port: 70000 }), InvalidArgument);
    await assert.rejects(store.updateTrunk(mine.id, trunk.id, { transport: 'sctp' as never }), InvalidArgument);
  });

  it('keeps one default trunk per account', async () => {
    const first = await store.createTrunk(theirs.id, { name: 'd1', host: 'd1.example', isDefault: true });
    const second = await store.createTrunk(theirs.id, { name: 'd2', host: 'd2.example', isDefault: true });
    assert.equal((await store.getTrunk(theirs.id, first.id))?.isDefault, false);
    assert.equal((await store.getDefaultTrunk(theirs.id))?.id, second.id);
    await store.updateTrunk(theirs.id, first.id, { isDefault: true });
    assert.deepEqual(
      (await store.listTrunks(theirs.id)).filter((t) => t.isDefault).map((t) => t.id),
      [first.id],
    );
  });

  it("never returns, changes, decrypts or deletes another account's trunk", async () => {
    const theirTrunk = await store.createTrunk(theirs.id, { name: 'theirs', host: 'theirs.example', password: PASSWORD });
    assert.equal(await store.getTrunk(mine.id, theirTrunk.id), null);
    assert.equal(await store.trunkCredentials(mine.id, theirTrunk.id), null);
    assert.equal((await store.listTrunks(mine.id)).some((t) => t.id === theirTrunk.id), false);
    await assert.rejects(store.updateTrunk(mine.id, theirTrunk.id, { host: 'evil.example', password: 'mine now' }), NotFound);
    await assert.rejects(store.deleteTrunk(mine.id, theirTrunk.id), NotFound);
    const after = await store.getTrunk(theirs.id, theirTrunk.id);
    assert.equal(after?.host, 'theirs.example');
    assert.equal((await store.trunkCredentials(theirs.id, theirTrunk.id))?.password, PASSWORD);
    // Making one of mine the default leaves theirs alone.
    const myDefault = await store.createTrunk(mine.id, { name: 'mine-default', host: 'mine.example', isDefault: true });
    assert.equal(myDefault.isDefault, true);
    assert.ok(await store.getDefaultTrunk(theirs.id));
  });

  it('deletes a trunk', async () => {
    const trunk = await store.createTrunk(mine.id, { name: 'gone', host: 'gone.example' });
    await store.deleteTrunk(mine.id, trunk.id);
    assert.equal(await store.getTrunk(mine.id, trunk.id), null);
    await assert.rejects(store.deleteTrunk(mine.id, trunk.id), NotFound);
  });
});
