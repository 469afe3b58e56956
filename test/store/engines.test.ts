import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../../src/store/index.js';
import { createTestDatabase, legs, openStore, TestClock, type TestDatabase } from './store-fixture.js';

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

  it('lets exactly one of several engines racing for a dead engine take it over, with its unfinished calls', async () => {
    const account = await store.createAccount('failover');
    await store.heartbeat('eng-dead', { sipAddress: '192.0.2.9', sipPort: 5060, draining: false });
    const live = [];
    for (let i = 0; i < 3; i++) {
      const { call } = await store.createCall(account.id, { a: legs.a, b: legs.b });
      assert.equal(await store.claimQueuedCall(call.id, 'eng-dead'), true);
      live.push(call.id);
    }
    const { call: finished } = await store.createCall(account.id, { a: legs.a, b: legs.b });
    await store.claimQueuedCall(finished.id, 'eng-dead');
    await store.writeChange({ callId: finished.id, accountId: account.id, callUpdate: { status: 'completed' }, event: { sequence: 1, type: 'call.completed', status: 'completed', payload: {} } });

    // Not dead yet: nobody may claim it.
    assert.equal(await store.claimEngine('eng-dead', 'eng-s1', 15_000), null);
    clock.advance(16_000);
    const survivors = ['eng-s1', 'eng-s2', 'eng-s3', 'eng-s4', 'eng-s5', 'eng-s6'];
    const claims = await Promise.all(survivors.map((survivor) => store.claimEngine('eng-dead', survivor, 15_000)));
    const winners = survivors.filter((_, i) => claims[i] !== null);
    assert.equal(winners.length, 1, `one winner: ${JSON.stringify(claims)}`);
    const taken = claims.find((claim) => claim !== null)!;
    assert.deepEqual([...taken].sort(), [...live].sort(), 'the unfinished calls, not the completed one');
    assert.deepEqual((await store.liveCallsOf(winners[0]!)).map((call) => call.id).sort(), [...live].sort());
    assert.deepEqual(await store.liveCallsOf('eng-dead'), []);
    assert.deepEqual((await store.liveCallsById(taken)).map((call) => call.id).sort(), [...live].sort());
    assert.equal((await store.getCall(account.id, finished.id))!.engineId, 'eng-dead', 'a finished call keeps its engine');
    assert.ok(!(await store.listEngines()).some((engine) => engine.id === 'eng-dead'));
    await assert.rejects(store.claimEngine('eng-s1', 'eng-s1', 0), /cannot claim itself/);
  });

  it('says when a heartbeat had to register the engine again (it was taken over meanwhile)', async () => {
    assert.equal(await store.heartbeat('eng-z', { sipAddress: '192.0.2.8', sipPort: 5060, draining: false }), 'registered');
    assert.equal(await store.heartbeat('eng-z', { sipAddress: '192.0.2.8', sipPort: 5060, draining: false }), 'refreshed');
    clock.advance(20_000);
    assert.deepEqual(await store.claimEngine('eng-z', 'eng-y', 15_000), []);
    assert.equal(await store.heartbeat('eng-z', { sipAddress: '192.0.2.8', sipPort: 5060, draining: false }), 'registered');
  });

  it('removes an engine', async () => {
    assert.equal(await store.removeEngine('eng-old'), true);
    assert.equal(await store.removeEngine('eng-old'), false);
    assert.deepEqual((await store.listEngines()).map((e) => e.id).sort(), ['eng-a', 'eng-new', 'eng-z']);
  });
});
