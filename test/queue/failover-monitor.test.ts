/**
 * The failover monitor against a real PostgreSQL: two survivors sweep at once, one takes the dead
 * engine over and ends each of its calls the way its legs stood (BYE, CANCEL, nothing), recording
 * controller_failover with the next sequence number. The SIP side is a recorder here: the wire is
 * tested end to end in test/e2e/failover.e2e.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DialogSnapshot, InviteSnapshot, OnSent, OrphanedRequestResult } from '../../src/engine/index.js';
import { FailoverMonitor, type FailoverStore, type OrphanedLegEnder } from '../../src/queue/index.js';
import type { Account, Store } from '../../src/store/index.js';
import { createTestDatabase, legs, openStore, TestClock, type TestDatabase } from '../store/store-fixture.js';

const DIALOG: DialogSnapshot = {
  version: 1,
  role: 'uac',
  state: 'confirmed',
  callId: 'a-leg@ctd',
  localTag: 'ours',
  remoteTag: 'theirs',
  localUri: 'sip:sales@example.com',
  localDisplayName: null,
  remoteUri: 'sip:alice@192.0.2.10',
  remoteDisplayName: null,
  localCSeq: 2,
  remoteCSeq: null,
  routeSet: [],
  remoteTarget: 'sip:alice@192.0.2.10:5060',
  localContact: '<sip:ctd@192.0.2.1:5060>',
  secure: false,
};

const INVITE: InviteSnapshot = {
  version: 1,
  requestUri: 'sip:bob@192.0.2.20',
  via: 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKdead;rport',
  from: '<sip:sales@example.com>;tag=ours',
  to: '<sip:bob@192.0.2.20>',
  callId: 'b-leg@ctd',
  cseq: 1,
  routes: [],
  destination: { transport: 'udp', address: '192.0.2.20', port: 5060 },
};

class RecordingEnder implements OrphanedLegEnder {
  readonly sent: string[] = [];
  constructor(private readonly answer: 'at-once' | 'never' = 'at-once') {}
  endOrphanedLeg(snapshot: DialogSnapshot, _reason?: string, onSent?: OnSent): Promise<OrphanedRequestResult> {
    // As the SIP layer does (SessionDialog.fromSnapshot: BAD_SNAPSHOT).
    if (snapshot.version !== 1) return Promise.reject(new Error('dialog snapshot: version: unsupported'));
    return this.send('BYE', snapshot.callId, `sip:${snapshot.callId}`, onSent);
  }
  cancelOrphanedLeg(invite: InviteSnapshot, _reason?: string, onSent?: OnSent): Promise<OrphanedRequestResult> {
    return this.send('CANCEL', invite.callId, invite.requestUri, onSent);
  }
  private send(method: string, sipCallId: string, uri: string, onSent?: OnSent): Promise<OrphanedRequestResult> {
    this.sent.push(`${method} ${sipCallId}`);
    const destination = { transport: 'udp' as const, address: '192.0.2.99', port: 5060 };
    onSent?.(`${method} ${uri}`, destination);
    if (this.answer === 'never') return new Promise(() => undefined);
    return Promise.resolve({ status: 200, reason: 'OK', fromWire: true, requestLine: `${method} ${uri}`, destination });
  }
}

/** The SIP log is batched: `written` holds the lines' promises so that a test can wait for them. */
const written: Promise<void>[] = [];

function failoverStore(store: Store): FailoverStore {
  return {
    staleEngines: (ms) => store.staleEngines(ms),
    claimEngine: (dead, by, ms) => store.claimEngine(dead, by, ms),
    liveCallsById: (ids) => store.liveCallsById(ids),
    claimOverdueQueuedCalls: (engineId, ms, limit) => store.claimOverdueQueuedCalls(engineId, ms, limit),
    writeChange: (change) => store.writeChange(change),
    appendSipLog: (entries) => void written.push(store.appendSipLog(entries)),
  };
}

describe('FailoverMonitor', () => {
  let database: TestDatabase;
  let store: Store;
  let account: Account;
  const clock = new TestClock();

  before(async () => {
    database = await createTestDatabase();
    store = openStore(database, { clock: clock.now });
    account = await store.createAccount('failover');
  });
  after(async () => {
    await store.close();
    await database.drop();
  });

  /** A call owned by `engine`, written as the engine runner would have: `events` changes, numbered 1, 2, 3… */
  async function callOf(engine: string, state: { status: string; a?: object; b?: object }, events: number): Promise<string> {
    const { call } = await store.createCall(account.id, { a: legs.a, b: legs.b });
    assert.equal(await store.claimQueuedCall(call.id, engine), true);
    for (let sequence = 1; sequence <= events; sequence++) {
      await store.writeChange({ callId: call.id, accountId: account.id, event: { sequence, type: 'call.leg.ringing', payload: {} } });
    }
    await store.writeChange({ callId: call.id, accountId: account.id, callUpdate: { status: state.status as never } });
    if (state.a) await store.writeChange({ callId: call.id, accountId: account.id, legUpdate: { leg: 'a', ...state.a } as never });
    if (state.b) await store.writeChange({ callId: call.id, accountId: account.id, legUpdate: { leg: 'b', ...state.b } as never });
    return call.id;
  }

  it('of two survivors sweeping at once, one ends each call of the dead engine the way its legs stood', async () => {
    await store.heartbeat('eng-dead', { sipAddress: '192.0.2.1', sipPort: 5060, draining: false });
    const connected = await callOf('eng-dead', { status: 'connected', a: { status: 'connected', dialog: DIALOG }, b: { status: 'connected', dialog: { ...DIALOG, callId: 'b1@ctd' } } }, 7);
    const ringingB = await callOf('eng-dead', { status: 'calling_b', a: { status: 'answered', dialog: { ...DIALOG, callId: 'a2@ctd' } }, b: { status: 'ringing', invite: { ...INVITE, callId: 'b2@ctd' } } }, 5);
    const claimedOnly = await callOf('eng-dead', { status: 'queued' }, 1);
    const lostDialog = await callOf('eng-dead', { status: 'connected', a: { status: 'connected' }, b: { status: 'connected', dialog: { ...DIALOG, callId: 'b4@ctd' } } }, 7);
    const badSnapshot = await callOf('eng-dead', { status: 'connected', a: { status: 'connected', dialog: { version: 9 } }, b: { status: 'connected', dialog: { ...DIALOG, callId: 'b5@ctd' } } }, 7);
    await store.heartbeat('eng-s1', { sipAddress: '192.0.2.2', sipPort: 5060, draining: false });
    await store.heartbeat('eng-s2', { sipAddress: '192.0.2.3', sipPort: 5060, draining: false });
    clock.advance(11_000);
    await store.heartbeat('eng-s1', { sipAddress: '192.0.2.2', sipPort: 5060, draining: false });
    await store.heartbeat('eng-s2', { sipAddress: '192.0.2.3', sipPort: 5060, draining: false });

    const enders = { s1: new RecordingEnder(), s2: new RecordingEnder() };
    const errors: unknown[] = [];
    const monitor = (id: 's1' | 's2'): FailoverMonitor =>
      new FailoverMonitor({ engineId: `eng-${id}`, store: failoverStore(store), engine: enders[id], failoverMs: 10_000, onError: (error) => errors.push(error) });
    const [took1, took2] = await Promise.all([monitor('s1').sweep(), monitor('s2').sweep()]);
    assert.deepEqual([...took1, ...took2], ['eng-dead'], 'exactly one survivor took the dead engine over');
    const winner = took1.length === 1 ? enders.s1 : enders.s2;
    const loser = took1.length === 1 ? enders.s2 : enders.s1;
    assert.deepEqual(loser.sent, []);
    assert.deepEqual([...winner.sent].sort(), ['BYE a-leg@ctd', 'BYE a2@ctd', 'BYE b1@ctd', 'BYE b4@ctd', 'BYE b5@ctd', 'CANCEL b2@ctd']);
    assert.equal(errors.length, 1, 'the unusable snapshot was reported');

    const read = async (id: string) => (await store.getCall(account.id, id))!;
    const lastEvent = async (id: string) => (await store.callEvents(account.id, id))!.at(-1)!;

    const c1 = await read(connected);
    assert.deepEqual([c1.status, c1.endReason, c1.legs.a.status, c1.legs.b.status], ['completed', 'controller_failover', 'ended', 'ended']);
    assert.deepEqual([(await lastEvent(connected)).sequence, (await lastEvent(connected)).type], [8, 'call.completed']);

    const c2 = await read(ringingB);
    assert.deepEqual([c2.status, c2.endReason, c2.legs.a.status, c2.legs.b.status, c2.legs.b.sipCode], ['failed', 'controller_failover', 'ended', 'failed', 487]);
    assert.deepEqual([(await lastEvent(ringingB)).sequence, (await lastEvent(ringingB)).type], [6, 'call.failed']);

    // Claimed but never started: ended, not placed again (its INVITE may have gone out).
    const c3 = await read(claimedOnly);
    assert.deepEqual([c3.status, c3.endReason, c3.legs.a.status], ['failed', 'controller_failover', 'idle']);
    assert.equal((await lastEvent(claimedOnly)).sequence, 2);

    for (const id of [lostDialog, badSnapshot]) {
      const call = await read(id);
      assert.deepEqual([call.status, call.legs.a.status, call.legs.b.status], ['completed', 'ended', 'ended'], 'nothing stays connected, BYE or no BYE');
    }
    await Promise.all(written);
    const sip = (await store.sipLog(account.id, connected))!.map((line) => `${line.direction} ${line.line}`);
    assert.deepEqual(sip.sort(), ['in 200 OK (BYE)', 'in 200 OK (BYE)', 'out BYE sip:a-leg@ctd', 'out BYE sip:b1@ctd']);
    const owners = new Set((await Promise.all([connected, ringingB, claimedOnly].map(read))).map((call) => call.engineId));
    assert.equal(owners.size, 1);
    assert.notEqual([...owners][0], 'eng-dead');
    // The next sweep finds nothing: the dead engine is gone.
    assert.deepEqual(await monitor('s1').sweep(), []);
  });

  it('ends a call left queued past queueTimeoutMs once, failed with queue_timeout, and leaves younger and taken ones alone', async () => {
    const queued = async (): Promise<string> => (await store.createCall(account.id, { a: legs.a, b: legs.b, queuedEvent: true })).call.id;
    const overdue = await queued();
    const taken = await queued();
    assert.equal(await store.claimQueuedCall(taken, 'eng-busy'), true);
    clock.advance(50_000);
    const young = await queued();
    clock.advance(11_000);
    const ended: string[] = [];
    const monitor = (id: string): FailoverMonitor =>
      new FailoverMonitor({ engineId: id, store: failoverStore(store), engine: new RecordingEnder(), failoverMs: 10_000, queueTimeoutMs: 60_000, onCallEnded: (event) => ended.push(`${event.callId} ${event.endReason}`) });
    const [first, second] = await Promise.all([monitor('eng-q1').endOverdueQueuedCalls(), monitor('eng-q2').endOverdueQueuedCalls()]);
    assert.deepEqual([...first, ...second], [overdue], 'one of the two took it');
    assert.deepEqual(ended, [`${overdue} queue_timeout`]);
    const call = (await store.getCall(account.id, overdue))!;
    assert.deepEqual([call.status, call.endReason, call.legs.a.status, call.legs.b.status], ['failed', 'queue_timeout', 'idle', 'idle']);
    const events = (await store.callEvents(account.id, overdue))!;
    assert.deepEqual(events.map((event) => [event.sequence, event.type]), [[1, 'call.queued'], [2, 'call.failed']]);
    assert.equal(await store.claimQueuedCall(overdue, 'eng-late'), false, 'a job that comes late finds it taken and dials nothing');
    for (const id of [young, taken]) assert.equal((await store.getCall(account.id, id))!.status, 'queued');
    assert.deepEqual(await monitor('eng-q1').endOverdueQueuedCalls(), [], 'nothing more to end');
  });

  it('records the call even when a BYE gets no answer, after responseWaitMs', async () => {
    await store.heartbeat('eng-dead-2', { sipAddress: '192.0.2.4', sipPort: 5060, draining: false });
    const id = await callOf('eng-dead-2', { status: 'connected', a: { status: 'connected', dialog: DIALOG }, b: { status: 'connected', dialog: { ...DIALOG, callId: 'b9@ctd' } } }, 3);
    clock.advance(11_000);
    const ender = new RecordingEnder('never');
    const monitor = new FailoverMonitor({ engineId: 'eng-s3', store: failoverStore(store), engine: ender, failoverMs: 10_000, responseWaitMs: 50 });
    assert.ok((await monitor.sweep()).includes('eng-dead-2'));
    const call = (await store.getCall(account.id, id))!;
    assert.deepEqual([call.status, call.endReason], ['completed', 'controller_failover']);
    assert.deepEqual(ender.sent.sort(), ['BYE a-leg@ctd', 'BYE b9@ctd']);
  });
});
