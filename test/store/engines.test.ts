import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../../src/store/index.js';
import { createTestDatabase, openStore, TestClock, type TestDatabase } from './store-fixture.js';

describe('engines', () => {
  let database: TestDatabase;
  let store: Store;
  const clock = new TestClock();

  before(async () => {
    database = await createTestDatabase();
    store = openStore(database, { clock: clock.now });
  });
  after(async () => {
    await store.close();
    await database.drop();
  });

  it('registers an engine on its first heartbeat and refreshes it on the next', async () => {
    const startedAt = clock.now();
    await store.heartbeat('eng-a', { sipAddress: '192.0.2.1', sipPort: 5060, draining: false });
    assert.deepEqual(await store.listEngines(), [{ id: 'eng-a', sipAddress: '192.0.2.1', sipPort: 5060, startedAt, heartbeatAt: startedAt, draining: false }]);
    clock.advance(5000);
    await store.heartbeat('eng-a', { sipAddress: '192.0.2.1', sipPort: 5060, draining: true });
    const second = (await store.listEngines())[0]!;
    assert.deepEqual(second.startedAt, startedAt);
    assert.deepEqual(second.heartbeatAt, clock.now());
    assert.equal(second.draining, true);
  });

  it('finds the engines whose heartbeat stopped, and only those', async () => {
    await store.heartbeat('eng-old', { sipAddress: '192.0.2.2', sipPort: 5060, draining: false });
    clock.advance(20_000);
    await store.heartbeat('eng-new', { sipAddress: '192.0.2.3', sipPort: 5062, draining: false });
    await store.heartbeat('eng-a', { sipAddress: '192.0.2.1', sipPort: 5060, draining: false });
    assert.deepEqual((await store.staleEngines(15_000)).map((e) => e.id), ['eng-old']);
    clock.advance(10_000);
    assert.deepEqual((await store.staleEngines(15_000)).map((e) => e.id), ['eng-old']);
    clock.advance(10_000);
    assert.deepEqual((await store.staleEngines(15_000)).map((e) => e.id).sort(), ['eng-a', 'eng-new', 'eng-old']);
  });

  it('removes an engine', async () => {
    assert.equal(await store.removeEngine('eng-old'), true);
    assert.equal(await store.removeEngine('eng-old'), false);
    assert.deepEqual((await store.listEngines()).map((e) => e.id).sort(), ['eng-a', 'eng-new']);
  });
});
