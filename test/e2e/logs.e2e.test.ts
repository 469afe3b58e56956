/**
 * The service's log, at debug level, through a whole call that goes out through a trunk with
 * digest credentials: every line about the call carries its call id (and the leg where one is
 * concerned), the SIP messages are there, and no secret is anywhere in it: not the API keys
 * (bootstrap, created, or a wrong one tried), not the trunk password, not SECRETS_KEY.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { freePortBlock } from '../support/ports.js';
import { sharedScenario, startSippUas } from '../support/sipp.js';
import { BOOTSTRAP_KEY, startTestService, waitForCall } from './service.js';

const OURS = (name: string): string => fileURLToPath(new URL(`../peers/sipp/${name}.xml`, import.meta.url));

describe('the log', () => {
  test('lines about a call carry its id and leg; SIP messages at debug; no key, password or secret ever appears', async (t) => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter((line) => line.length > 0));
        done();
      },
    });
    const trunkPassword = `Trunk-Pw-${randomBytes(6).toString('hex')}`;
    const secretsKey = randomBytes(32).toString('hex');
    const base = await freePortBlock(10);
    const a = await startSippUas(t, { scenario: sharedScenario('uas-answer-reinvite-offer'), port: base + 1, mediaPort: base + 4, transport: 'udp' });
    // B is a carrier that challenges: the engine answers with the trunk's credentials.
    const b = await startSippUas(t, { scenario: OURS('uas-auth-answer-offer'), port: base + 2, mediaPort: base + 7, transport: 'udp', vars: { auth_user: 'acme', auth_password: trunkPassword } });
    const ctd = await startTestService(t, { sipPort: base, env: { SECRETS_KEY: secretsKey }, logger: pino({ level: 'debug' }, sink) });

    const trunk = await ctd.api('/v1/trunks', {
      method: 'POST',
      body: { name: 'carrier', host: '127.0.0.1', port: base + 2, transport: 'udp', username: 'acme', password: trunkPassword, realm: 'test.invalid', numberFormat: 'e164', isDefault: true },
    });
    assert.equal(trunk.status, 201, JSON.stringify(trunk.body));
    const key = await ctd.api('/v1/api-keys', { method: 'POST', body: { name: 'ci' } });
    assert.equal(key.status, 201, JSON.stringify(key.body));
    const newSecret = key.body.secret as string;
    const wrongKey = `ctd_${randomBytes(16).toString('hex')}`;
    assert.equal((await ctd.api('/v1/calls', { key: wrongKey })).status, 401);

    const created = await ctd.api('/v1/calls', { method: 'POST', key: newSecret, body: { a: { uri: a.uri('alice') }, b: { uri: '+15550001111' }, callerId: 'sip:sales@example.com' } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.id as string;
    await waitForCall(ctd, id, (call) => call.status === 'connected');
    await ctd.api(`/v1/calls/${id}/hangup`, { method: 'POST' });
    const ended = await waitForCall(ctd, id, (call) => call.status === 'completed');
    assert.equal(ended.endReason, 'api_hangup');
    assert.equal((await b.wait(10_000)).code, 0, await b.report());
    assert.equal((await a.wait(10_000)).code, 0, await a.report());

    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const ofCall = records.filter((record) => record.callId === id);
    const sip = ofCall.filter((record) => typeof record.msg === 'string' && record.msg.startsWith('SIP '));
    assert.ok(sip.some((record) => record.leg === 'b' && /^SIP -> INVITE sip:\+15550001111@/.test(String(record.msg))), 'the INVITE to the carrier is logged, with its leg');
    assert.ok(sip.some((record) => record.leg === 'b' && record.msg === 'SIP <- 401 Unauthorized (1 INVITE)'), 'so is its challenge');
    assert.ok(sip.every((record) => record.leg === 'a' || record.leg === 'b'), 'every SIP line names its leg');
    const final = ofCall.find((record) => record.msg === 'call completed (api_hangup)');
    assert.equal(final?.level, 30, 'the end of the call at info');
    assert.ok(ofCall.some((record) => record.leg === 'b' && record.msg === 'leg b connected'));

    const text = lines.join('\n');
    for (const [what, secret] of [['the bootstrap key', BOOTSTRAP_KEY], ['the created key', newSecret], ['the wrong key', wrongKey], ['the trunk password', trunkPassword], ['SECRETS_KEY', secretsKey]] as const) {
      assert.ok(!text.includes(secret), `${what} is not in the log`);
    }
    assert.ok(lines.length > 20, `the log has lines (${lines.length})`);
  });
});
