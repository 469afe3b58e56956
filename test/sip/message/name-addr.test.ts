import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NameAddr, parseNameAddr } from '../../../src/sip/message/index.js';
import { SipUri } from '../../../src/sip/uri.js';

describe('NameAddr', () => {
  it('writes a tag in place of the one it has, or after its parameters, as withTag() does', () => {
    for (const text of [
      '<sip:alice@example.com>',
      '"Alice" <sip:alice@example.com>;tag=old',
      'Bob <sip:bob@example.com;transport=tcp>;x=1;tag=old;lr',
      'sip:carol@example.com;expires=60',
      '<sip:dave@example.com>;flag',
    ]) {
      const nameAddr = parseNameAddr(text, 'to');
      assert.equal(nameAddr.toStringWithTag('new1'), nameAddr.withTag('new1').toString(), text);
    }
    const built = new NameAddr(new SipUri({ user: 'ctd', host: '192.0.2.1', port: 5060 }), 'Click to Dial');
    assert.equal(built.toStringWithTag('t'), built.withTag('t').toString());
  });

  it('makes its parameters when first asked for, and keeps a map it is given', () => {
    const params = new Map<string, string | null>();
    const nameAddr = new NameAddr('sip:alice@example.com', undefined, params);
    params.set('tag', 'later');
    assert.equal(nameAddr.tag, 'later');
    const bare = parseNameAddr('<sip:bob@example.com>', 'contact');
    assert.equal(bare.tag, undefined);
    assert.equal(bare.params.size, 0);
    bare.params.set('expires', '60');
    assert.equal(bare.toString(), '<sip:bob@example.com>;expires=60');
  });
});
