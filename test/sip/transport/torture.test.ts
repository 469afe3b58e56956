// Every RFC 4475 torture message sent over UDP: valid requests are delivered, invalid requests
// that can be answered get the status RFC 4475 names on the wire, everything else gets nothing,
// and the process carries on. See /work/shared/sip-torture/README.md for the table.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseMessage, type SipResponse } from '../../../src/sip/message/index.js';
import type { InboundMessage, MalformedMessage } from '../../../src/sip/transport/index.js';
import { TORTURE_DIR, UdpPeer, delay, startLayer, torture } from './helpers.js';

/** Invalid requests whose Via, From, To, Call-ID and CSeq all parse: answered with this status. */
const ANSWERED: Record<string, number> = {
  'clerr.dat': 400,
  'ncl.dat': 400,
  'ltgtruri.dat': 400,
  'lwsruri.dat': 400,
  'lwsstart.dat': 400,
  'trws.dat': 400,
  'escruri.dat': 400,
  'regbadct.dat': 400,
  'badvers.dat': 505,
  'mismatch01.dat': 400,
  'mismatch02.dat': 400,
  'multi01.dat': 400,
  'mcl01.dat': 400,
};

/**
 * Requests where a header the answer copies is itself malformed or missing: RFC 4475 still asks
 * for a 400, so the lines go back byte for byte and the client matches them to its own.
 */
const ANSWERED_VERBATIM: Record<string, string> = {
  'badinv01.dat': 'Via is malformed',
  'scalar02.dat': 'CSeq number is out of range',
  'quotbal.dat': 'To is malformed',
  'badaspec.dat': 'To is malformed',
  'baddn.dat': 'From is malformed',
  'insuf.dat': 'From, To and Call-ID are missing',
};

/** Invalid messages that get nothing back: responses (RFC 4475 §3.1.2.5, §3.1.2.19). */
const SILENT: Record<string, string> = {
  'scalarlg.dat': 'response',
  'bigcode.dat': 'response',
};

/** RFC 4475 §3.1.2.12: an element that never interprets Date may accept baddate.dat. */
const ACCEPTED_INVALID = ['baddate.dat'];

/** Valid responses: delivered only when the sent-by check is off (their Via is not ours). */
const VALID_RESPONSES = ['unreason.dat', 'noreason.dat', 'bcast.dat'];

const FILES = readdirSync(TORTURE_DIR).filter((f) => f.endsWith('.dat')).sort();

describe('RFC 4475 torture messages over UDP', () => {
  it('accounts for every invalid file of the README table', () => {
    const table = readFileSync(join(TORTURE_DIR, 'README.md'), 'utf8');
    const invalid = [...table.matchAll(/^\| (\S+\.dat) \| [0-9.]+ \| invalid \|/gm)].map((m) => m[1]!);
    assert.equal(invalid.length, 19);
    for (const file of invalid) assert.equal([file in ANSWERED, file in ANSWERED_VERBATIM, file in SILENT, ACCEPTED_INVALID.includes(file)].filter(Boolean).length, 1, file);
    for (const file of [...Object.keys(ANSWERED), ...Object.keys(ANSWERED_VERBATIM), ...Object.keys(SILENT)]) assert.ok(FILES.includes(file), file);
  });

  it('answers, delivers or drops each one as RFC 4475 expects, and survives', async (t) => {
    const { layer, port } = await startLayer(t);
    const client = await UdpPeer.open(t);
    const outcome = new Map<string, string>();
    let current = '';
    layer.on('message', (event: InboundMessage) => outcome.set(current, `message:${event.message.isRequest ? 'request' : 'response'}`));
    layer.on('malformed', (event: MalformedMessage) => outcome.set(current, `malformed:${event.answeredWith ?? 'silent'}`));
    layer.on('responseDropped', () => outcome.set(current, 'dropped'));

    for (const file of FILES) {
      current = file;
      await client.send(torture(file), port);
      const deadline = Date.now() + 2000;
      while (!outcome.has(file) && Date.now() < deadline) await delay(2);
      const result = outcome.get(file);
      if (file in ANSWERED) {
        const status = ANSWERED[file]!;
        assert.equal(result, `malformed:${status}`, file);
        const answer = parseMessage(await client.next()) as SipResponse;
        assert.equal(answer.status, status, file);
        assert.match(answer.reason, status === 505 ? /^Version Not Supported$/ : /^Bad Request \(.+\)$/, file);
        assert.equal(answer.callId, /^Call-ID:\s*(\S+)/im.exec(torture(file).toString('latin1'))![1], file);
        assert.equal(answer.topVia.received, '127.0.0.1', file);
        assert.ok(answer.to.tag, `${file}: the answer carries a To tag`);
      } else if (file in ANSWERED_VERBATIM) {
        assert.equal(result, 'malformed:400', `${file}: ${ANSWERED_VERBATIM[file]}`);
        const answer = (await client.next()).toString('utf8');
        assert.match(answer, /^SIP\/2\.0 400 Bad Request \(.+\)\r\n/, file);
        const sentVia = /^Via:[^\r\n]*/m.exec(torture(file).toString('utf8'))![0];
        assert.ok(answer.includes(sentVia.replace(/^Via:\s*/, '')), `${file}: its Via comes back verbatim`);
      } else if (file in SILENT) {
        assert.equal(result, 'malformed:silent', `${file}: ${SILENT[file]}`);
      } else if (VALID_RESPONSES.includes(file)) {
        assert.equal(result, 'dropped', file);
      } else {
        assert.equal(result, 'message:request', file);
      }
    }
    await delay(50);
    assert.deepEqual(client.received.map((d) => d.toString('latin1').split('\r\n', 1)[0]), [], 'no other datagram came back');
    const stats = layer.stats();
    assert.equal(stats.internalErrors, 0);
    assert.equal(stats.malformedAnswered, Object.keys(ANSWERED).length + Object.keys(ANSWERED_VERBATIM).length);
    assert.equal(stats.udp.messagesIn, FILES.length);
    assert.equal(stats.udp.messagesOut, Object.keys(ANSWERED).length + Object.keys(ANSWERED_VERBATIM).length);
  });

  it('delivers the valid responses when the sent-by check is off', async (t) => {
    const { layer, port } = await startLayer(t, { verifyResponseSentBy: false });
    const client = await UdpPeer.open(t);
    const statuses: number[] = [];
    layer.on('message', (event: InboundMessage) => statuses.push((event.message as SipResponse).status));
    for (const file of VALID_RESPONSES) await client.send(torture(file), port);
    const deadline = Date.now() + 2000;
    while (statuses.length < VALID_RESPONSES.length && Date.now() < deadline) await delay(2);
    assert.equal(statuses.length, VALID_RESPONSES.length);
    await delay(20);
    assert.equal(client.received.length, 0, 'a response is never answered');
  });
});
