import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidSipUri } from '../../src/sip/errors.js';
import { AbsoluteUri, SipUri, parseSipUri, parseUri, uriEquals } from '../../src/sip/uri.js';

describe('SIP URIs', () => {
  it('parses every part of a sip: URI', () => {
    const uri = parseSipUri('sips:alice:secret@[2001:db8::10]:5061;transport=tcp;lr;maddr=239.255.255.1?subject=project%20x&priority=urgent');
    assert.equal(uri.scheme, 'sips');
    assert.equal(uri.user, 'alice');
    assert.equal(uri.password, 'secret');
    assert.equal(uri.host, '[2001:db8::10]');
    assert.equal(uri.hostname, '2001:db8::10');
    assert.equal(uri.port, 5061);
    assert.equal(uri.transport, 'tcp');
    assert.equal(uri.params.get('lr'), null);
    assert.equal(uri.headers.get('subject'), 'project%20x');
    assert.equal(uri.toString(), 'sips:alice:secret@[2001:db8::10]:5061;transport=tcp;lr;maddr=239.255.255.1?subject=project%20x&priority=urgent');
  });

  // RFC 3261 §19.1.4: the equivalent and non-equivalent examples.
  const equivalent: [string, string][] = [
    ['sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;security=on'],
    ['sip:carol@chicago.com;newparam=5', 'sip:carol@chicago.com;security=on'],
    ['sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com', 'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com'],
    ['sip:alice@atlanta.com?subject=project%20x&priority=urgent', 'sip:alice@atlanta.com?priority=urgent&subject=project%20x'],
  ];
  const different: [string, string][] = [
    ['SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:6000;transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting'],
    ['sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4'],
    ['sip:alice@atlanta.com', 'sips:alice@atlanta.com'],
  ];
  for (const [a, b] of equivalent) {
    it(`treats ${a} and ${b} as equivalent`, () => {
      assert.ok(uriEquals(parseUri(a), parseUri(b)));
      assert.ok(uriEquals(parseUri(b), parseUri(a)));
    });
  }
  for (const [a, b] of different) {
    it(`treats ${a} and ${b} as different`, () => {
      assert.ok(!uriEquals(parseUri(a), parseUri(b)));
    });
  }

  for (const bad of ['sip:', 'sip:alice@', 'sip:a b@example.com', 'sip:alice@example.com:99999', 'sip:alice@[::1', 'sip:alice@exa mple.com', 'sip:a@b@c', 'tel:5550123', 'nocolon']) {
    it(`rejects ${JSON.stringify(bad)} with InvalidSipUri`, () => {
      assert.throws(() => parseUri(bad), InvalidSipUri);
    });
  }

  it('keeps other schemes opaque', () => {
    const uri = parseUri('urn:service:sos');
    assert.ok(uri instanceof AbsoluteUri);
    assert.equal(uri.toString(), 'urn:service:sos');
  });

  it('clones without sharing parameters', () => {
    const uri = parseSipUri('sip:bob@example.com;transport=tcp');
    const copy = uri.clone();
    copy.params.set('lr', null);
    assert.equal(uri.params.has('lr'), false);
    assert.ok(copy instanceof SipUri);
  });
});
