/**
 * SIP over TLS to a proxy that requires it: Kamailio with its TLS module on loopback, certificates
 * from a CA the test makes. The engine reaches both parties (SIPp UAS on UDP) through Kamailio over
 * TLS (a Route to `sip:127.0.0.1:PORT;transport=tls;lr`), each side checking the other's
 * certificate; Kamailio record-routes, so the in-dialog requests (ACKs, the re-INVITE to A, the
 * BYEs) go over TLS too, and our Contact is a sips: URI. A proxy whose certificate comes from a CA
 * we do not trust is never sent a message: the call fails unreachable.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startKamailio } from '../support/kamailio.js';
import { freePortBlock } from '../support/ports.js';
import { sharedScenario, startSippUas } from '../support/sipp.js';
import { createTestCa } from '../support/test-ca.js';
import { assertEngineClean, startEngine } from './harness.js';

describe('the engine through a TLS proxy (Kamailio)', () => {
  test('flow III connects two parties reached through Kamailio over TLS; every request to them goes over TLS', async (t) => {
    const ca = await createTestCa(t);
    const proxyCert = await ca.issue('kamailio');
    const engineCert = await ca.issue('engine');
    const base = await freePortBlock(10);
    const more = await freePortBlock(10);
    const kamailio = await startKamailio({ port: more, tls: { port: more + 1, ...proxyCert, caFile: ca.caFile } });
    t.after(() => kamailio.stop());
    const a = await startSippUas(t, { scenario: sharedScenario('uas-answer-reinvite-offer'), port: base + 1, mediaPort: base + 4, transport: 'udp' });
    const b = await startSippUas(t, { scenario: sharedScenario('uas-answer-offer'), port: base + 2, mediaPort: base + 7, transport: 'udp' });
    const under = await startEngine(t, base, {}, { tls: { port: more + 3, cert: engineCert.cert, key: engineCert.key, ca: ca.ca } });
    const route = [`<sip:127.0.0.1:${more + 1};transport=tls;lr>`];

    const id = 'call_tls';
    under.engine.startCall({
      id,
      a: { uri: `<${a.uri('alice')}>`, from: '<sip:ctd@127.0.0.1>', route },
      b: { uri: `<${b.uri('bob')}>`, from: '<sip:alice@example.com>', route },
    });
    await under.reached(id, 'connected');
    under.engine.hangup(id);
    assert.equal((await under.final(id)).status, 'completed');
    assert.equal((await a.wait(10_000)).code, 0, await a.report());
    assert.equal((await b.wait(10_000)).code, 0, await b.report());

    const log = kamailio.log();
    assert.match(log, /PEER-TEST initial INVITE to sip:alice@127\.0\.0\.1:\d+ from [^ ]+ via tls/);
    assert.match(log, /PEER-TEST initial INVITE to sip:bob@127\.0\.0\.1:\d+ from [^ ]+ via tls/);
    // In-dialog requests go to each party's Contact (SIPp's is sip:service@…), through the proxy.
    const inDialog = (method: string, port: number) => new RegExp(`PEER-TEST loose_route ${method} to sip:[^@ ]+@127\\.0\\.0\\.1:${port}[^ ]* via tls`);
    for (const method of ['ACK', 'INVITE', 'BYE']) assert.match(log, inDialog(method, base + 1), `${method} to A over TLS`);
    for (const method of ['ACK', 'BYE']) assert.match(log, inDialog(method, base + 2), `${method} to B over TLS`);
    const invites = under.engine.sipLog(id).filter((line) => line.direction === 'out' && line.line.startsWith('INVITE '));
    assert.ok(invites.length >= 3 && invites.every((line) => line.peer.startsWith('tls:')), `every INVITE went out over TLS: ${invites.map((l) => l.peer).join(', ')}`);
    const stats = under.transport.stats();
    assert.ok((stats.tls?.connectionsOpened ?? 0) >= 1);
    assert.equal(stats.udp.messagesOut, 0, 'nothing went out over UDP');
    await assertEngineClean(under);
  });

  test('a proxy whose certificate is not from a trusted CA gets nothing: the call fails unreachable', async (t) => {
    const trusted = await createTestCa(t, 'trusted CA');
    const rogue = await createTestCa(t, 'rogue CA');
    const proxyCert = await rogue.issue('kamailio');
    const engineCert = await trusted.issue('engine');
    const base = await freePortBlock(10);
    const kamailio = await startKamailio({ port: base + 5, tls: { port: base + 6, ...proxyCert, caFile: rogue.caFile } });
    t.after(() => kamailio.stop());
    const under = await startEngine(t, base, {}, { tls: { port: base + 3, cert: engineCert.cert, key: engineCert.key, ca: trusted.ca } });
    const id = 'call_tls_rogue';
    under.engine.startCall({ id, a: { uri: `<sip:alice@127.0.0.1:${base + 1}>`, from: '<sip:ctd@127.0.0.1>', route: [`<sip:127.0.0.1:${base + 6};transport=tls;lr>`] }, b: { uri: `<sip:bob@127.0.0.1:${base + 2}>`, from: '<sip:alice@example.com>' } });
    const final = await under.final(id);
    assert.equal(final.status, 'failed');
    assert.equal(final.endReason, 'unreachable');
    assert.doesNotMatch(kamailio.log(), /PEER-TEST initial INVITE/);
    await assertEngineClean(under);
  });
});
