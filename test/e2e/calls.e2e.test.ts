/**
 * A call from an HTTP request to connected and back, through the whole service: the API inserts it
 * and queues it, the engine takes it and calls two SIPp parties (flow III), every state change and
 * event lands in PostgreSQL, and the API reads them back.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { contractCoverage } from '../../src/api/index.js';
import { freePortBlock } from '../support/ports.js';
import { sharedScenario, startSippUas } from '../support/sipp.js';
import { startTestService, waitForCall } from './service.js';

describe('a click-to-dial call through the API', () => {
  test('POST /v1/calls connects A and B; hang-up through the API; events, SIP log and state persisted', async (t) => {
    const base = await freePortBlock(10);
    const a = await startSippUas(t, { scenario: sharedScenario('uas-answer-reinvite-offer'), port: base + 1, mediaPort: base + 4, transport: 'udp' });
    const b = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: base + 2, mediaPort: base + 7, transport: 'udp' });
    const ctd = await startTestService(t, { sipPort: base });

    const created = await ctd.api('/v1/calls', {
      method: 'POST',
      headers: { 'idempotency-key': 'e2e-1' },
      body: { a: { uri: a.uri('alice') }, b: { uri: b.uri('bob') }, callerId: 'sip:sales@example.com', metadata: { ticket: '42' } },
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.id as string;
    assert.match(id, /^call_/);
    assert.equal(created.body.status, 'queued');
    assert.equal(created.body.flow, 3);
    assert.deepEqual(created.body.metadata, { ticket: '42' });

    // The same key and body: the same call, no second call.
    const again = await ctd.api('/v1/calls', {
      method: 'POST',
      headers: { 'idempotency-key': 'e2e-1' },
      body: { a: { uri: a.uri('alice') }, b: { uri: b.uri('bob') }, callerId: 'sip:sales@example.com', metadata: { ticket: '42' } },
    });
    assert.equal(again.status, 202);
    assert.equal(again.body.id, id);
    const conflict = await ctd.api('/v1/calls', { method: 'POST', headers: { 'idempotency-key': 'e2e-1' }, body: { a: { uri: a.uri('alice') }, b: { uri: b.uri('carol') } } });
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.code, 'idempotency_key_reused');

    const connected = await waitForCall(ctd, id, (call) => call.status === 'connected');
    assert.equal(connected.a.status, 'connected');
    assert.equal(connected.b.status, 'connected');
    assert.ok(connected.connectedAt);

    const hangup = await ctd.api(`/v1/calls/${id}/hangup`, { method: 'POST' });
    assert.equal(hangup.status, 202);
    const ended = await waitForCall(ctd, id, (call) => call.status === 'completed');
    assert.equal(ended.endReason, 'api_hangup');
    assert.equal(typeof ended.duration, 'number');
    assert.equal((await a.wait(10_000)).code, 0, await a.report());
    assert.equal((await b.wait(10_000)).code, 0, await b.report());

    const events = (await ctd.api(`/v1/calls/${id}/events`)).body.data as { sequence: number; type: string; leg: string | null }[];
    assert.deepEqual(events.map((e) => e.sequence), events.map((_, i) => i + 1), 'sequences 1, 2, 3… without gaps');
    assert.deepEqual(
      events.map((e) => (e.leg ? `${e.type}:${e.leg}` : e.type)),
      ['call.queued', 'call.leg.calling:a', 'call.leg.ringing:a', 'call.leg.answered:a', 'call.leg.calling:b', 'call.leg.ringing:b', 'call.leg.answered:b', 'call.connected', 'call.completed'],
    );
    const sip = (await ctd.api(`/v1/calls/${id}/sip`)).body.data as { leg: string; direction: string; line: string }[];
    assert.ok(sip.some((line) => line.leg === 'a' && line.direction === 'out' && line.line.startsWith('INVITE sip:alice@')));
    assert.ok(sip.some((line) => line.leg === 'b' && line.direction === 'in' && line.line.startsWith('200 OK')));

    const list = (await ctd.api('/v1/calls?status=completed&limit=5')).body;
    assert.equal(list.data[0].id, id);

    // What Prometheus scrapes from this process says the same.
    const scrape = await fetch(`${ctd.baseUrl}/metrics`);
    assert.equal(scrape.status, 200);
    assert.match(scrape.headers.get('content-type') ?? '', /^text\/plain/);
    const metrics = await scrape.text();
    const value = (series: RegExp): number => Number(series.exec(metrics)?.[1] ?? NaN);
    assert.equal(value(/^ctd_calls_connected_total\{[^}]*\} (\d+)$/m), 1);
    assert.equal(value(/^ctd_calls_ended_total\{status="completed",end_reason="api_hangup"[^}]*\} (\d+)$/m), 1);
    assert.equal(value(/^ctd_call_setup_seconds_count\{[^}]*\} (\d+)$/m), 1);
    assert.equal(value(/^ctd_sip_messages_total\{direction="out",kind="request",method="INVITE"[^}]*\} (\d+)$/m), 3, 'INVITE A, INVITE B, re-INVITE A');
    assert.equal(value(/^ctd_sip_messages_total\{direction="out",kind="request",method="BYE"[^}]*\} (\d+)$/m), 2);
    assert.equal(value(/^ctd_active_calls\{[^}]*\} (\d+)$/m), 0);
    assert.match(metrics, /^process_cpu_seconds_total\{/m, "Node's process metrics");
  });

  test('the real app serves every operation of the contract and nothing else', async (t) => {
    const ctd = await startTestService(t, { sipPort: (await freePortBlock(2)) });
    const coverage = contractCoverage(ctd.service.http!.app);
    assert.deepEqual({ undocumented: coverage.undocumented, unserved: coverage.unserved, mismatched: coverage.mismatched }, { undocumented: [], unserved: [], mismatched: [] });
    assert.equal(coverage.ok, true);
    const ready = await fetch(`${ctd.baseUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(Object.keys(((await ready.json()) as { checks: object }).checks).sort(), ['postgres', 'redis', 'sip']);
  });

  test('another account sees none of it; a call to a phone number without a trunk is refused naming the field', async (t) => {
    const base = await freePortBlock(10);
    const ctd = await startTestService(t, { sipPort: base });
    const created = await ctd.api('/v1/calls', { method: 'POST', body: { a: { uri: `sip:alice@127.0.0.1:${base + 1}` }, b: { uri: `sip:bob@127.0.0.1:${base + 2}` } } });
    assert.equal(created.status, 202);
    const other = await ctd.service.store.createAccount('other');
    const otherKey = await ctd.service.store.createApiKey(other.id, 'test');
    assert.equal((await ctd.api(`/v1/calls/${created.body.id}`, { key: otherKey.secret })).status, 404);
    assert.equal((await ctd.api(`/v1/calls/${created.body.id}/hangup`, { method: 'POST', key: otherKey.secret })).status, 404);
    assert.deepEqual((await ctd.api('/v1/calls', { key: otherKey.secret })).body.data, []);

    const number = await ctd.api('/v1/calls', { method: 'POST', body: { a: { uri: '+15551234567' }, b: { uri: `sip:bob@127.0.0.1:${base + 2}` } } });
    assert.equal(number.status, 422);
    assert.equal(number.body.errors[0].field, '/a/uri');
    // Hang up the first call (it rings nowhere: nothing listens) so that the test ends clean.
    await ctd.api(`/v1/calls/${created.body.id}/hangup`, { method: 'POST' });
    await waitForCall(ctd, created.body.id, (call) => ['completed', 'failed', 'canceled'].includes(call.status), 10_000);
  });
});
