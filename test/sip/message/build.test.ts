import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { base36 } from '../../../src/sip/message/build.js';
import { randomToken } from '../../../src/sip/message/index.js';

describe('random tokens', () => {
  it('write bytes in base 36 exactly as BigInt does', () => {
    const cases = [Buffer.alloc(8), Buffer.alloc(12), Buffer.from([0, 0, 0, 1]), Buffer.alloc(8, 0xff), Buffer.alloc(12, 0xff), Buffer.from([1])];
    for (let i = 0; i < 2000; i++) cases.push(randomBytes(1 + (i % 16)));
    for (const bytes of cases) {
      assert.equal(base36(bytes, 0, bytes.length), BigInt('0x' + bytes.toString('hex')).toString(36), bytes.toString('hex'));
    }
    const padded = Buffer.concat([Buffer.from([9, 9]), Buffer.from('0102030405060708', 'hex')]);
    assert.equal(base36(padded, 2, 8), BigInt('0x0102030405060708').toString(36));
  });

  it('are base-36 numbers of 64 bits (12 bytes for a Call-ID), all different', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const token = randomToken();
      assert.match(token, /^[0-9a-z]{1,13}$/);
      seen.add(token);
    }
    assert.equal(seen.size, 5000);
    assert.match(randomToken(12), /^[0-9a-z]{1,19}$/);
    assert.match(randomToken(100), /^[0-9a-z]+$/);
  });
});
