// Property tests: the parser never fails with anything but a SipParseError, whatever the bytes,
// and serialize∘parse reaches a fixed point after one round.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SipParseError } from '../../../src/sip/errors.js';
import { parseMessage, serializeMessage, validateMessage, type SipMessage } from '../../../src/sip/message/index.js';

const TORTURE_DIR = new URL('../../../../shared/sip-torture/', import.meta.url).pathname;
const corpus = readdirSync(TORTURE_DIR)
  .filter((f) => f.endsWith('.dat'))
  .map((f) => readFileSync(TORTURE_DIR + f));

/** Parses and touches every typed accessor; returns the message or the SipParseError. */
function exercise(bytes: Buffer): SipMessage | SipParseError {
  try {
    const message = parseMessage(bytes);
    validateMessage(message);
    void message.contacts;
    void message.recordRoutes;
    void message.routes;
    return message;
  } catch (error) {
    if (error instanceof SipParseError) return error;
    throw error;
  }
}

const token = fc.stringMatching(/^[A-Za-z0-9.!%*_+`'~-]{1,12}$/);
// RFC 3261 user part: unreserved characters and %-escapes.
const user = fc.stringMatching(/^(?:[A-Za-z0-9._~!*'()&=+$,;?/-]|%[0-9A-F]{2}){1,12}$/);
const host = fc.oneof(
  fc.stringMatching(/^[a-z][a-z0-9-]{0,8}[a-z0-9](\.[a-z]{2,5}){1,2}$/),
  fc.ipV4(),
  fc.ipV6().map((ip) => `[${ip}]`),
);
const displayName = fc.oneof(fc.constant(''), fc.string({ maxLength: 12 }).map((s) => `"${s.replace(/[\\"\r\n]/g, '')}" `));
const nameAddr = fc
  .tuple(displayName, user, host, fc.option(fc.integer({ min: 1, max: 65535 })), fc.option(token))
  .map(([name, user, h, port, tag]) => `${name}<sip:${user}@${h}${port === null ? '' : `:${port}`}>${tag === null ? '' : `;tag=${tag}`}`);
const generatedRequest = fc
  .record({
    method: fc.constantFrom('INVITE', 'BYE', 'OPTIONS', 'INFO', 'X-CUSTOM'),
    to: nameAddr,
    from: nameAddr,
    callId: token,
    seq: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    viaHost: host,
    branch: token,
    extra: fc.array(fc.tuple(fc.stringMatching(/^X-[A-Za-z]{1,8}$/), fc.stringMatching(/^[ -~]{0,30}$/)), { maxLength: 4 }),
    body: fc.string({ maxLength: 80 }),
  })
  .map((r) =>
    Buffer.from(
      [
        `${r.method} sip:target@example.com SIP/2.0`,
        `Via: SIP/2.0/UDP ${r.viaHost};branch=z9hG4bK${r.branch};rport`,
        `To: ${r.to}`,
        `From: ${r.from}`,
        `Call-ID: ${r.callId}`,
        `CSeq: ${r.seq} ${r.method}`,
        'Max-Forwards: 70',
        ...r.extra.map(([n, v]) => `${n}: ${v}`),
        `Content-Length: ${Buffer.byteLength(r.body)}`,
        '',
        r.body,
      ].join('\r\n'),
    ),
  );

describe('parser properties', () => {
  it('never throws anything but SipParseError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        exercise(Buffer.from(bytes));
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws anything but SipParseError on mutated torture messages', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...corpus),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        (base, flips) => {
          const bytes = Buffer.from(base);
          for (const [position, value] of flips) bytes[position % bytes.length] = value;
          exercise(bytes);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('parses every generated well-formed request', () => {
    fc.assert(
      fc.property(generatedRequest, (bytes) => {
        const result = exercise(bytes);
        assert.ok(!(result instanceof SipParseError), result instanceof SipParseError ? result.message : '');
      }),
      { numRuns: 1000 },
    );
  });

  it('reaches a fixed point: serialize(parse(serialize(parse(x)))) equals serialize(parse(x))', () => {
    const roundTrip = (bytes: Buffer): void => {
      const first = exercise(bytes);
      if (first instanceof SipParseError) return;
      const once = serializeMessage(first);
      const second = exercise(once);
      assert.ok(!(second instanceof SipParseError), 'a serialized message must parse again');
      assert.equal(serializeMessage(second).toString('latin1'), once.toString('latin1'));
    };
    fc.assert(fc.property(generatedRequest, roundTrip), { numRuns: 1000 });
    for (const message of corpus) roundTrip(message);
  });
});
