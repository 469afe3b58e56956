/**
 * Several engines, as separate processes sharing PostgreSQL and Redis: calls placed through the
 * API spread over two engines; a hang-up through the API reaches the engine that owns the call;
 * one engine is killed with SIGKILL mid-call and the other ends its calls from the persisted
 * dialogs (BYE to both SIPp parties, RFC 3326 Reason), records them `controller_failover` with
 * gap-free events in the outbox, and leaves nothing `connected`.
 *
 * SIPp answers a request of a call at the address the call's first message came from (here the
 * dead engine), not at the request's Via as RFC 3261 §18.2.2 and RFC 3581 say; so the 200s to the
 * survivor's BYEs are lost, the BYE is retransmitted, and the record waits responseWaitMs (4 s).
 * SIPp still counts each call successful: it received the BYE and answered it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { freePortBlock } from '../support/ports.js';
import { fileURLToPath } from 'node:url';
import { parseSippMessages, sharedScenario, startSippUas, type SippUasHandle } from '../support/sipp.js';
import { createDeployment, eventually, PROCESS_BOOTSTRAP_KEY, type Deployment } from './processes.js';

const HEARTBEAT_MS = 300;
const FAILOVER_MS = 3000;

interface PlacedCall {
  id: string;
  engine: string;
}

async function ownerOf(deployment: Deployment, id: string): Promise<{ engine: string | null; status: string }> {
  const [row] = await deployment.query<{ engine_id: string | null; status: string }>('SELECT engine_id, status FROM call WHERE id = $1', [id]);
  return { engine: row?.engine_id ?? null, status: row?.status ?? 'missing' };
}

/** The BYEs a SIPp party received for `sipCallId`. */
async function byesReceived(party: SippUasHandle, sipCallId: string): Promise<string[]> {
  return parseSippMessages(await party.messages())
    .filter((m) => m.direction === 'received' && m.method === 'BYE' && new RegExp(`^Call-ID:\\s*${sipCallId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`, 'im').test(m.text))
    .map((m) => m.text);
}

describe('several engines', () => {
  test('calls spread over two engines; hang-up reaches the owner; kill -9 of one: the other BYEs its calls and records controller_failover', async (t) => {
    const ports = await freePortBlock(10);
    const deployment = await createDeployment(t);
    const a = await startSippUas(t, { scenario: sharedScenario('uas-answer-reinvite-offer'), port: ports + 3, mediaPort: ports + 4, transport: 'udp', calls: 50, timeoutSeconds: 120 });
    const b = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: ports + 5, mediaPort: ports + 7, transport: 'udp', calls: 50, timeoutSeconds: 120 });
    const timing = { ENGINE_HEARTBEAT_MS: String(HEARTBEAT_MS), ENGINE_FAILOVER_MS: String(FAILOVER_MS), DRAIN_MS: '0' };
    await deployment.start('api', { ROLES: 'api', HTTP_PORT: String(ports), BOOTSTRAP_API_KEY: PROCESS_BOOTSTRAP_KEY });
    const baseUrl = `http://127.0.0.1:${ports}`;
    const engines = {
      one: await deployment.start('engine-one', { ROLES: 'engine', ENGINE_ID: 'engine-one', SIP_PORT: String(ports + 1), ...timing }),
      two: await deployment.start('engine-two', { ROLES: 'engine', ENGINE_ID: 'engine-two', SIP_PORT: String(ports + 2), ...timing }),
    };
    const report = async (): Promise<string> => {
      if (process.env.E2E_DUMP) {
        const { writeFileSync } = await import('node:fs');
        writeFileSync('/tmp/failover-a.log', await a.messages());
        writeFileSync('/tmp/failover-b.log', await b.messages());
      }
      return [engines.one.tail(), engines.two.tail(), await a.report(), await b.report()].join('\n');
    };

    // Calls one after another until each engine owns some (BullMQ hands each job to one worker).
    const placed: PlacedCall[] = [];
    for (let i = 0; i < 12; i++) {
      const created = await deployment.api(baseUrl, '/v1/calls', { method: 'POST', body: { a: { uri: a.uri(`alice${i}`) }, b: { uri: b.uri(`bob${i}`) }, callerId: 'sip:sales@example.com' } });
      assert.equal(created.status, 202, JSON.stringify(created.body));
      const id = created.body.id as string;
      const owner = await eventually(`call ${i} connected`, 20_000, async () => {
        const row = await ownerOf(deployment, id);
        return row.status === 'connected' ? row : undefined;
      }).catch(async (error: Error) => assert.fail(`${error.message}\n${await report()}`));
      placed.push({ id, engine: owner.engine! });
      const owners = new Set(placed.map((call) => call.engine));
      if (placed.length >= 3 && owners.has('engine-one') && owners.has('engine-two')) break;
    }
    const ofOne = placed.filter((call) => call.engine === 'engine-one');
    const ofTwo = placed.filter((call) => call.engine === 'engine-two');
    assert.ok(ofOne.length > 0 && ofTwo.length > 0, `both engines own calls: ${JSON.stringify(placed)}`);

    // A hang-up through the API goes to the queue of the engine that owns the call.
    const hungUp = ofTwo[0]!;
    assert.equal((await deployment.api(baseUrl, `/v1/calls/${hungUp.id}/hangup`, { method: 'POST' })).status, 202);
    const afterHangup = await eventually('hung-up call completed', 15_000, async () => {
      const call = (await deployment.api(baseUrl, `/v1/calls/${hungUp.id}`)).body;
      return call.status === 'completed' ? call : undefined;
    });
    assert.equal(afterHangup.endReason, 'api_hangup');

    // The persisted dialogs of engine one's calls, as a successor reads them.
    for (const call of ofOne) {
      const legs = await deployment.query<{ name: string; dialog: { callId: string; state: string; localCSeq: number } | null }>('SELECT name, dialog FROM leg WHERE call_id = $1 ORDER BY name', [call.id]);
      for (const leg of legs) assert.equal(leg.dialog?.state, 'confirmed', `leg ${leg.name} of ${call.id} has its dialog persisted`);
    }

    // kill -9 engine one mid-call.
    const killedAt = Date.now();
    engines.one.child.kill('SIGKILL');
    await engines.one.exited;

    for (const call of ofOne) {
      const ended = await eventually(`${call.id} ended by failover`, FAILOVER_MS + 20_000, async () => {
        const body = (await deployment.api(baseUrl, `/v1/calls/${call.id}`)).body;
        return body.status === 'completed' ? body : undefined;
      }).catch(async (error: Error) => assert.fail(`${error.message}\n${await report()}`));
      assert.equal(ended.endReason, 'controller_failover');
      assert.equal(ended.a.status, 'ended');
      assert.equal(ended.b.status, 'ended');
    }
    const tookMs = Date.now() - killedAt;
    t.diagnostic(`engine one's ${ofOne.length} call(s) ended ${tookMs} ms after kill -9 (failover after ${FAILOVER_MS} ms of silence)`);

    // Each SIPp party of those calls received its BYE from the survivor, with the Reason.
    for (const call of ofOne) {
      const legs = await deployment.query<{ name: string; sip_call_id: string }>('SELECT name, sip_call_id FROM leg WHERE call_id = $1 ORDER BY name', [call.id]);
      for (const leg of legs) {
        const party = leg.name === 'a' ? a : b;
        const byes = await eventually(`BYE for leg ${leg.name} of ${call.id} at SIPp`, 5000, async () => {
          const found = await byesReceived(party, leg.sip_call_id);
          return found.length > 0 ? found : undefined;
        }).catch(async (error: Error) => assert.fail(`${error.message}\n${await report()}`));
        assert.match(byes[0]!, /^Reason:\s*Q\.850;cause=41/im);
        assert.match(byes[0]!, new RegExp(`^Via:[^\\r\\n]*127\\.0\\.0\\.1:${ports + 2}`, 'im'), 'the BYE came from the surviving engine');
      }
      // Gap-free events, the last one the failover's, in the outbox for the webhooks.
      const events = await deployment.query<{ sequence: number; type: string; end_reason: string | null; id: string }>('SELECT id, sequence, type, end_reason FROM call_event WHERE call_id = $1 ORDER BY sequence', [call.id]);
      assert.deepEqual(events.map((e) => e.sequence), events.map((_, i) => i + 1));
      const last = events[events.length - 1]!;
      assert.deepEqual([last.type, last.end_reason], ['call.completed', 'controller_failover']);
      assert.equal((await deployment.query('SELECT 1 FROM outbox WHERE event_id = $1', [last.id])).length, 1);
      const sip = (await deployment.api(baseUrl, `/v1/calls/${call.id}/sip`)).body.data as { line: string; direction: string }[];
      assert.ok(sip.some((line) => line.direction === 'out' && line.line.startsWith('BYE ')), 'the failover BYEs are in the call\'s SIP log');
    }

    // The dead engine is gone from the registry; the survivor's calls were left alone.
    assert.deepEqual((await deployment.query<{ id: string }>('SELECT id FROM engine ORDER BY id')).map((row) => row.id), ['engine-two']);
    for (const call of ofTwo.slice(1)) assert.equal((await ownerOf(deployment, call.id)).status, 'connected');
    for (const call of ofTwo.slice(1)) {
      assert.equal((await deployment.api(baseUrl, `/v1/calls/${call.id}/hangup`, { method: 'POST' })).status, 202);
      await eventually(`${call.id} hung up on engine two`, 15_000, async () => ((await ownerOf(deployment, call.id)).status === 'completed' ? true : undefined));
    }
    assert.deepEqual(await deployment.query("SELECT id FROM call WHERE status NOT IN ('completed', 'failed', 'canceled')"), [], 'no call stays live');
    // Every SIPp call ended well (each got its BYE and answered it).
    await eventually('SIPp counted every call', 10_000, async () => {
      const [sa, sb] = [await a.stats(), await b.stats()];
      return Number(sa['SuccessfulCall(C)']) === placed.length && Number(sb['SuccessfulCall(C)']) === placed.length ? true : undefined;
    }).catch(async (error: Error) => assert.fail(`${error.message}\n${await report()}`));
    assert.equal(Number((await a.stats())['FailedCall(C)'] ?? 0), 0, await a.report());
    assert.equal(Number((await b.stats())['FailedCall(C)'] ?? 0), 0, await b.report());
  });

  test('a ringing leg of a killed engine gets a CANCEL from the survivor (same branch, Reason), and the call is recorded failed', async (t) => {
    const ports = await freePortBlock(10);
    const deployment = await createDeployment(t);
    const scenario = fileURLToPath(new URL('../peers/sipp/uas-ring-until-cancel.xml', import.meta.url));
    const a = await startSippUas(t, { scenario, port: ports + 3, mediaPort: ports + 4, transport: 'udp', calls: 1, timeoutSeconds: 60 });
    const timing = { ENGINE_HEARTBEAT_MS: String(HEARTBEAT_MS), ENGINE_FAILOVER_MS: String(FAILOVER_MS), DRAIN_MS: '0' };
    await deployment.start('api', { ROLES: 'api', HTTP_PORT: String(ports), BOOTSTRAP_API_KEY: PROCESS_BOOTSTRAP_KEY });
    const baseUrl = `http://127.0.0.1:${ports}`;
    const engines = {
      'engine-one': await deployment.start('engine-one', { ROLES: 'engine', ENGINE_ID: 'engine-one', SIP_PORT: String(ports + 1), ...timing }),
      'engine-two': await deployment.start('engine-two', { ROLES: 'engine', ENGINE_ID: 'engine-two', SIP_PORT: String(ports + 2), ...timing }),
    };
    const report = async (): Promise<string> => [engines['engine-one'].tail(), engines['engine-two'].tail(), await a.report()].join('\n');

    const created = await deployment.api(baseUrl, '/v1/calls', { method: 'POST', body: { a: { uri: a.uri('alice'), ringTimeout: 60 }, b: { uri: `sip:bob@127.0.0.1:${ports + 5}` }, callerId: 'sip:sales@example.com' } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.id as string;
    // Ringing, with what a CANCEL needs persisted.
    const ringing = await eventually('leg a ringing with its INVITE persisted', 20_000, async () => {
      const [row] = await deployment.query<{ engine_id: string; status: string; invite: { via: string; callId: string; cseq: number } | null }>(
        "SELECT c.engine_id, l.status, l.invite FROM call c JOIN leg l ON l.call_id = c.id AND l.name = 'a' WHERE c.id = $1",
        [id],
      );
      return row?.status === 'ringing' && row.invite ? row : undefined;
    }).catch(async (error: Error) => assert.fail(`${error.message}\n${await report()}`));
    const owner = engines[ringing.engine_id as keyof typeof engines];
    assert.ok(owner, `owned by one of the engines: ${ringing.engine_id}`);
    const survivorPort = ringing.engine_id === 'engine-one' ? ports + 2 : ports + 1;

    owner.child.kill('SIGKILL');
    await owner.exited;

    const ended = await eventually('call failed by failover', FAILOVER_MS + 20_000, async () => {
      const body = (await deployment.api(baseUrl, `/v1/calls/${id}`)).body;
      return body.status === 'failed' ? body : undefined;
    }).catch(async (error: Error) => assert.fail(`${error.message}\n${await report()}`));
    assert.equal(ended.endReason, 'controller_failover');
    assert.equal(ended.a.status, 'failed');
    assert.equal(ended.a.sipCode, 487);
    assert.equal(ended.b.status, 'idle', 'B was never called');

    // SIPp matched the CANCEL to its INVITE and found the Reason (its scenario checks it), and
    // the CANCEL kept the INVITE's Via (the dead engine's branch) while coming from the survivor.
    assert.equal((await a.wait(15_000)).code, 0, await report());
    const cancel = parseSippMessages(await a.messages()).find((m) => m.direction === 'received' && m.method === 'CANCEL');
    assert.ok(cancel, await report());
    assert.ok(cancel.text.includes(ringing.invite!.via.split(';branch=')[1]!.split(';')[0]!), 'the CANCEL has the INVITE\'s branch');
    assert.match(cancel.text, new RegExp(`^CSeq:\\s*${ringing.invite!.cseq} CANCEL`, 'im'));
    const sip = (await deployment.api(baseUrl, `/v1/calls/${id}/sip`)).body.data as { line: string; direction: string; peer: string }[];
    assert.ok(sip.some((line) => line.direction === 'out' && line.line.startsWith('CANCEL ')), 'the CANCEL is in the SIP log');
    const events = await deployment.query<{ sequence: number; type: string }>('SELECT sequence, type FROM call_event WHERE call_id = $1 ORDER BY sequence', [id]);
    assert.deepEqual(events.map((e) => e.sequence), events.map((_, i) => i + 1));
    assert.equal(events[events.length - 1]!.type, 'call.failed');
    t.diagnostic(`CANCEL sent by the engine on port ${survivorPort}`);
  });

  test('an engine restarted with the same ENGINE_ID ends the calls its killed run left, before taking new ones', async (t) => {
    const ports = await freePortBlock(10);
    const deployment = await createDeployment(t);
    const a = await startSippUas(t, { scenario: sharedScenario('uas-answer-reinvite-offer'), port: ports + 3, mediaPort: ports + 4, transport: 'udp', calls: 1, timeoutSeconds: 60 });
    const b = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: ports + 5, mediaPort: ports + 7, transport: 'udp', calls: 1, timeoutSeconds: 60 });
    await deployment.start('api', { ROLES: 'api', HTTP_PORT: String(ports), BOOTSTRAP_API_KEY: PROCESS_BOOTSTRAP_KEY });
    const baseUrl = `http://127.0.0.1:${ports}`;
    // No other engine, and a failover time no test waits for: only the restart can end the call.
    const env = { ROLES: 'engine', ENGINE_ID: 'engine-phoenix', SIP_PORT: String(ports + 1), ENGINE_HEARTBEAT_MS: String(HEARTBEAT_MS), ENGINE_FAILOVER_MS: '600000', DRAIN_MS: '0' };
    const first = await deployment.start('engine-phoenix', env);
    const created = await deployment.api(baseUrl, '/v1/calls', { method: 'POST', body: { a: { uri: a.uri('alice') }, b: { uri: b.uri('bob') }, callerId: 'sip:sales@example.com' } });
    const id = created.body.id as string;
    await eventually('connected', 20_000, async () => ((await ownerOf(deployment, id)).status === 'connected' ? true : undefined)).catch((error: Error) => assert.fail(`${error.message}\n${first.tail()}`));
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await deployment.start('engine-phoenix-again', env);
    const ended = await eventually('the leftover call ended', 15_000, async () => {
      const body = (await deployment.api(baseUrl, `/v1/calls/${id}`)).body;
      return body.status === 'completed' ? body : undefined;
    }).catch((error: Error) => assert.fail(`${error.message}\n${second.tail()}`));
    assert.equal(ended.endReason, 'controller_failover');
    assert.ok(second.logs().some((line) => line.msg === 'ended the calls an earlier run of this engine left'), second.tail());
    // Same address as before: SIPp's 200s come back, and both parties end their call well.
    for (const party of [a, b]) assert.equal((await party.wait(15_000)).code, 0, await party.report());
  });

  test('an engine paused past the failover time (SIGSTOP) finds its calls taken over when it resumes, and lets them go without writing', async (t) => {
    const ports = await freePortBlock(10);
    const deployment = await createDeployment(t);
    const a = await startSippUas(t, { scenario: sharedScenario('uas-answer-reinvite-offer'), port: ports + 3, mediaPort: ports + 4, transport: 'udp', calls: 1, timeoutSeconds: 60 });
    const b = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: ports + 5, mediaPort: ports + 7, transport: 'udp', calls: 1, timeoutSeconds: 60 });
    const timing = { ENGINE_HEARTBEAT_MS: String(HEARTBEAT_MS), ENGINE_FAILOVER_MS: String(FAILOVER_MS), DRAIN_MS: '0' };
    await deployment.start('api', { ROLES: 'api', HTTP_PORT: String(ports), BOOTSTRAP_API_KEY: PROCESS_BOOTSTRAP_KEY });
    const baseUrl = `http://127.0.0.1:${ports}`;
    const engines = {
      'engine-one': await deployment.start('engine-one', { ROLES: 'engine', ENGINE_ID: 'engine-one', SIP_PORT: String(ports + 1), ...timing }),
      'engine-two': await deployment.start('engine-two', { ROLES: 'engine', ENGINE_ID: 'engine-two', SIP_PORT: String(ports + 2), ...timing }),
    };
    const created = await deployment.api(baseUrl, '/v1/calls', { method: 'POST', body: { a: { uri: a.uri('alice') }, b: { uri: b.uri('bob') }, callerId: 'sip:sales@example.com' } });
    const id = created.body.id as string;
    const owner = await eventually('connected', 20_000, async () => {
      const row = await ownerOf(deployment, id);
      return row.status === 'connected' ? row.engine! : undefined;
    });
    const paused = engines[owner as keyof typeof engines];
    paused.child.kill('SIGSTOP');
    t.after(() => void paused.child.kill('SIGCONT'));

    await eventually('taken over', FAILOVER_MS + 20_000, async () => ((await ownerOf(deployment, id)).status === 'completed' ? true : undefined));
    const events = await deployment.query('SELECT sequence FROM call_event WHERE call_id = $1', [id]);
    paused.child.kill('SIGCONT');
    await eventually('the resumed engine notices', 10_000, async () => (paused.logs().some((line) => String(line.msg).startsWith('this engine was declared dead')) ? true : undefined)).catch(
      (error: Error) => assert.fail(`${error.message}\n${paused.tail()}`),
    );
    // Give it time to do anything it should not (write an ending of its own).
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const [call] = await deployment.query<{ status: string; end_reason: string; engine_id: string }>('SELECT status, end_reason, engine_id FROM call WHERE id = $1', [id]);
    assert.deepEqual([call!.status, call!.end_reason], ['completed', 'controller_failover']);
    assert.notEqual(call!.engine_id, owner);
    assert.equal((await deployment.query('SELECT sequence FROM call_event WHERE call_id = $1', [id])).length, events.length, 'the resumed engine wrote no event');
    assert.deepEqual((await deployment.query<{ id: string }>('SELECT id FROM engine ORDER BY id')).map((row) => row.id), ['engine-one', 'engine-two'], 'it beats again and may take new calls');
  });
});
