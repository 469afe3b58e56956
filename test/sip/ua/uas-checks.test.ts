// RFC 4475 §3.3 semantic cases and RFC 3261 §8.2 checks, answered without any application.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseMessage, validateMessage, type SipRequest } from '../../../src/sip/message/index.js';
import { checkRequest, defaultCapabilities } from '../../../src/sip/ua/uas-checks.js';

const TORTURE_DIR = new URL('../../../../shared/sip-torture/', import.meta.url).pathname;

function torture(name: string): SipRequest {
  const message = parseMessage(readFileSync(TORTURE_DIR + name));
  validateMessage(message);
  assert.ok(message.isRequest);
  return message as SipRequest;
}

function request(lines: string[]): SipRequest {
  const message = parseMessage(Buffer.from([...lines, 'Content-Length: 0', '', ''].join('\r\n')));
  validateMessage(message);
  return message as SipRequest;
}

const check = (req: SipRequest, inDialog = false) => checkRequest(req, defaultCapabilities, { inDialog, toTag: 'ourtag' });

const BASE = [
  'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds',
  'To: <sip:ctd@192.0.2.9>',
  'From: <sip:alice@192.0.2.1>;tag=1928301774',
  'Call-ID: a84b4c76e66710',
  'Max-Forwards: 70',
];

describe('UAS checks (RFC 3261 §8.2)', () => {
  it('answers unknown Require extensions with 420 and Unsupported (bext01.dat)', () => {
    const response = check(torture('bext01.dat'))!;
    assert.equal(response.status, 420);
    assert.equal(response.header('unsupported'), 'nothingsupportsthis, nothingsupportsthiseither');
    assert.equal(response.to.tag, 'ourtag');
  });

  it('answers an INVITE with an unknown body type with 415 and Accept (invut.dat)', () => {
    const response = check(torture('invut.dat'))!;
    assert.equal(response.status, 415);
    assert.equal(response.header('accept'), 'application/sdp');
  });

  it('answers unknown Request-URI schemes with 416 (unkscm.dat, novelsc.dat)', () => {
    assert.equal(check(torture('unkscm.dat'))!.status, 416);
    assert.equal(check(torture('novelsc.dat'))!.status, 416);
  });

  it('answers an INVITE whose Accept excludes SDP with 406 (sdp01.dat)', () => {
    assert.equal(check(torture('sdp01.dat'))!.status, 406);
  });

  it('answers OPTIONS with Max-Forwards 0 as a UA may (zeromf.dat)', () => {
    const response = check(torture('zeromf.dat'))!;
    assert.equal(response.status, 200);
    assert.match(response.header('allow')!, /INVITE/);
  });

  it('answers REGISTER with 405 and Allow: we are not a registrar (unksm2.dat, cparam01.dat)', () => {
    for (const name of ['unksm2.dat', 'cparam01.dat', 'cparam02.dat', 'regescrt.dat', 'regaut01.dat']) {
      const response = check(torture(name))!;
      assert.equal(response.status, 405, name);
      assert.match(response.header('allow')!, /BYE/);
    }
  });

  it('answers an unknown method with 501 and Allow', () => {
    const response = check(request(['FOO sip:ctd@192.0.2.9 SIP/2.0', ...BASE, 'CSeq: 1 FOO']))!;
    assert.equal(response.status, 501);
    assert.match(response.header('allow')!, /OPTIONS/);
  });

  it('answers OPTIONS outside a dialog with 200, Allow, Accept and Supported', () => {
    const response = check(request(['OPTIONS sip:ctd@192.0.2.9 SIP/2.0', ...BASE, 'CSeq: 1 OPTIONS']))!;
    assert.equal(response.status, 200);
    assert.equal(response.header('accept'), 'application/sdp');
    assert.match(response.header('supported')!, /100rel/);
    assert.equal(response.callId, 'a84b4c76e66710');
  });

  it('answers a request with a To tag and no dialog with 481', () => {
    const lines = ['BYE sip:ctd@192.0.2.9 SIP/2.0', ...BASE.map((l) => (l.startsWith('To:') ? `${l};tag=gone` : l)), 'CSeq: 2 BYE'];
    assert.equal(check(request(lines))!.status, 481);
    assert.equal(check(request(lines), true), undefined);
  });

  it('lets a plain INVITE, an ACK and an RFC 2543 INVITE through to the application', () => {
    assert.equal(check(request(['INVITE sip:ctd@192.0.2.9 SIP/2.0', ...BASE, 'CSeq: 1 INVITE'])), undefined);
    assert.equal(check(request(['ACK sip:ctd@192.0.2.9 SIP/2.0', ...BASE, 'CSeq: 1 ACK'])), undefined);
    assert.equal(check(torture('inv2543.dat')), undefined);
  });
});
