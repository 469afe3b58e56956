// RFC 4475 torture messages: every valid one parses and round-trips, every invalid one is
// rejected with the right typed error. The table of expectations mirrors shared/sip-torture.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SipParseError } from '../../../src/sip/errors.js';
import { parseMessage, serializeMessage, validateMessage, type SipRequest, type SipResponse } from '../../../src/sip/message/index.js';
import { SipUri, TelUri, uriEquals, parseUri } from '../../../src/sip/uri.js';

const TORTURE_DIR = new URL('../../../../shared/sip-torture/', import.meta.url).pathname;

function load(name: string): Buffer {
  return readFileSync(join(TORTURE_DIR, name));
}

function parseValid(name: string): SipRequest | SipResponse {
  const message = parseMessage(load(name));
  validateMessage(message);
  return message;
}

/** Every header value must be reachable by name and survive serialize → parse. */
function assertRoundTrip(message: SipRequest | SipResponse): void {
  const again = parseMessage(serializeMessage(message));
  validateMessage(again);
  assert.equal(again.startLine(), message.startLine());
  assert.deepEqual(
    again.headers.map((h) => [h.name, h.value]).filter(([n]) => n !== 'content-length'),
    message.headers.map((h) => [h.name, h.value]).filter(([n]) => n !== 'content-length'),
  );
  assert.ok(again.body.equals(message.body));
  assert.equal(again.callId, message.callId);
  assert.deepEqual(again.cseq, message.cseq);
  assert.equal(again.from.tag, message.from.tag);
  assert.deepEqual(
    again.vias.map((v) => v.toString()),
    message.vias.map((v) => v.toString()),
  );
}

// file → [error code, response status] for the invalid class of RFC 4475 §3.1.2.
const INVALID: Record<string, [string, number]> = {
  'badinv01.dat': ['BAD_HEADER_VALUE', 400],
  'clerr.dat': ['TRUNCATED_BODY', 400],
  'ncl.dat': ['BAD_CONTENT_LENGTH', 400],
  'scalar02.dat': ['BAD_HEADER_VALUE', 400],
  'scalarlg.dat': ['BAD_HEADER_VALUE', 400],
  'quotbal.dat': ['BAD_HEADER_VALUE', 400],
  'ltgtruri.dat': ['BAD_REQUEST_URI', 400],
  'lwsruri.dat': ['BAD_REQUEST_URI', 400],
  'lwsstart.dat': ['BAD_REQUEST_URI', 400],
  'trws.dat': ['BAD_START_LINE', 400],
  'escruri.dat': ['BAD_REQUEST_URI', 400],
  'regbadct.dat': ['BAD_HEADER_VALUE', 400],
  'badaspec.dat': ['BAD_HEADER_VALUE', 400],
  'baddn.dat': ['BAD_HEADER_VALUE', 400],
  'badvers.dat': ['BAD_VERSION', 505],
  'mismatch01.dat': ['CSEQ_METHOD_MISMATCH', 400],
  'mismatch02.dat': ['CSEQ_METHOD_MISMATCH', 400],
  'bigcode.dat': ['BAD_STATUS_CODE', 400],
  // Semantic cases that RFC 4475 §3.3 answers with 400.
  'insuf.dat': ['MISSING_HEADER', 400],
  'multi01.dat': ['DUPLICATE_HEADER', 400],
  'mcl01.dat': ['DUPLICATE_HEADER', 400],
};

// baddate.dat: RFC 4475 §3.1.2.12 lets an element that does not interpret Date accept it; we
// never read Date, so it parses (and never crashes).
const VALID = [
  'wsinv.dat', 'intmeth.dat', 'esc01.dat', 'escnull.dat', 'esc02.dat', 'lwsdisp.dat', 'longreq.dat',
  'dblreq.dat', 'semiuri.dat', 'transports.dat', 'mpart01.dat', 'unreason.dat', 'noreason.dat',
  'badbranch.dat', 'unkscm.dat', 'novelsc.dat', 'unksm2.dat', 'bext01.dat', 'invut.dat', 'regaut01.dat',
  'bcast.dat', 'zeromf.dat', 'cparam01.dat', 'cparam02.dat', 'regescrt.dat', 'sdp01.dat', 'inv2543.dat',
  'baddate.dat',
];

describe('RFC 4475 torture messages', () => {
  it('covers every file of the corpus', () => {
    const files = readdirSync(TORTURE_DIR).filter((f) => f.endsWith('.dat')).sort();
    assert.deepEqual(files, [...VALID, ...Object.keys(INVALID)].sort());
  });

  for (const name of VALID) {
    it(`parses and round-trips ${name}`, () => {
      assertRoundTrip(parseValid(name));
    });
  }

  for (const [name, [code, status]] of Object.entries(INVALID)) {
    it(`rejects ${name} with ${code} (${status})`, () => {
      assert.throws(
        () => parseValid(name),
        (error: unknown) => {
          assert.ok(error instanceof SipParseError, `expected SipParseError, got ${String(error)}`);
          assert.equal(error.code, code);
          assert.equal(error.status, status);
          assert.match(error.reasonPhrase, status === 505 ? /Version Not Supported/ : /^Bad Request \(.+\)$/);
          return true;
        },
      );
    });
  }

  it('reads the intended values of wsinv.dat through folding and odd spacing', () => {
    const m = parseValid('wsinv.dat') as SipRequest;
    assert.equal(m.maxForwards, 68);
    assert.deepEqual(m.cseq, { seq: 9, method: 'INVITE' });
    assert.equal(m.to.tag, '1918181833n');
    assert.equal(m.from.tag, '98asjd8');
    assert.equal(m.from.displayName, 'J Rosenberg \\"');
    assert.equal(m.vias.length, 3);
    assert.deepEqual(m.vias.map((v) => v.transport), ['UDP', 'TCP', 'UDP']);
    assert.equal(m.vias[1]!.branch, 'z9hG4bK9ikj8');
    assert.equal(m.vias[2]!.branch, 'z9hG4bK30239');
    assert.equal(m.header('newfangledheader'), 'newfangled value continued newfangled value');
    assert.equal(m.header('subject'), '');
    assert.equal(m.contacts[0]!.params.get('q'), '0.33');
    assert.equal(m.routes[0]!.uri.toString(), 'sip:services.example.com;lr;unknownwith=value;unknown-no-value');
    assert.equal(m.contentType, 'application/sdp');
    assert.equal(m.body.length, 150);
  });

  it('keeps the unusual method and URI of intmeth.dat verbatim', () => {
    const m = parseValid('intmeth.dat') as SipRequest;
    assert.equal(m.method, "!interesting-Method0123456789_*+`.%indeed'~");
    const uri = m.uri as SipUri;
    assert.equal(uri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    assert.equal(uri.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    assert.equal(m.callId, 'intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{');
  });

  it('compares escaped and unescaped URIs as equal (esc01.dat)', () => {
    const m = parseValid('esc01.dat') as SipRequest;
    assert.ok(uriEquals(m.to.uri, parseUri('sip:user@example.com')));
    assert.equal((m.uri as SipUri).user, 'sips%3Auser%40example.com');
  });

  it('does not truncate at an escaped NUL (escnull.dat)', () => {
    const m = parseValid('escnull.dat');
    assert.equal(m.contacts.length, 2);
    assert.equal((m.contacts[1]!.uri as SipUri).user, '%00%00');
  });

  it('ignores octets after Content-Length in one datagram (dblreq.dat)', () => {
    const m = parseValid('dblreq.dat');
    assert.equal(m.body.length, 0);
    assert.equal(m.cseq.method, 'REGISTER');
  });

  it('keeps the ; of a user part (semiuri.dat)', () => {
    const m = parseValid('semiuri.dat') as SipRequest;
    assert.equal((m.uri as SipUri).user, 'user;par=u%40example.net');
    assert.equal(m.headerValues('accept').length, 6);
  });

  it('keeps a multipart body byte for byte (mpart01.dat)', () => {
    const raw = load('mpart01.dat');
    const m = parseValid('mpart01.dat');
    const bodyStart = raw.indexOf('\r\n\r\n') + 4;
    assert.ok(m.body.equals(raw.subarray(bodyStart, bodyStart + m.body.length)));
    assert.ok(m.body.length > 0);
  });

  it('parses UTF-8 and empty reason phrases (unreason.dat, noreason.dat)', () => {
    const unreason = parseValid('unreason.dat') as SipResponse;
    assert.equal(unreason.status, 200);
    assert.match(unreason.reason, /девяносто/);
    const noreason = parseValid('noreason.dat') as SipResponse;
    assert.equal(noreason.status, 100);
    assert.equal(noreason.reason, '');
  });

  it('reads contact parameters as header or URI parameters (cparam01/02.dat)', () => {
    const header = parseValid('cparam01.dat').contacts[0]!;
    assert.ok(header.params.has('unknownparam'));
    assert.equal((header.uri as SipUri).params.size, 0);
    const inUri = parseValid('cparam02.dat').contacts[0]!;
    assert.equal(inUri.params.size, 0);
    assert.ok((inUri.uri as SipUri).params.has('unknownparam'));
  });

  it('keeps an escaped header in a Contact URI (regescrt.dat)', () => {
    const uri = parseValid('regescrt.dat').contacts[0]!.uri as SipUri;
    assert.equal(uri.headers.get('Route'), '%3Csip:sip.example.com%3E');
  });

  it('parses unknown URI schemes in To/From/Contact and the Request-URI', () => {
    const m = parseValid('unksm2.dat');
    assert.equal(m.to.uri.scheme, 'isbn');
    assert.equal(m.from.uri.scheme, 'http');
    assert.equal(parseValid('unkscm.dat') instanceof Object, true);
    assert.equal((parseValid('novelsc.dat') as SipRequest).uri.scheme, 'soap.beep');
  });

  it('parses an RFC 2543 request without branch, Max-Forwards or Content-Length (inv2543.dat)', () => {
    const m = parseValid('inv2543.dat');
    assert.equal(m.topVia.branch, undefined);
    assert.equal(m.topVia.rfc3261, false);
    assert.equal(m.maxForwards, undefined);
    assert.ok(m.body.length > 0);
  });

  it('flags a branch that is only the magic cookie as RFC 2543 (badbranch.dat)', () => {
    assert.equal(parseValid('badbranch.dat').topVia.rfc3261, false);
  });

  it('answers a bad version with the header lines a 505 needs (badvers.dat)', () => {
    try {
      parseMessage(load('badvers.dat'));
      assert.fail('should throw');
    } catch (error) {
      assert.ok(error instanceof SipParseError);
      assert.equal(error.looksLikeRequest, true);
      assert.ok(error.headerLines?.some((h) => h.name === 'via'));
    }
  });

  it('reads tel: URIs and compares them per RFC 3966', () => {
    const a = parseUri('tel:+1-201-555-0123;ext=12');
    assert.ok(a instanceof TelUri);
    assert.equal(a.digits, '+12015550123');
    assert.ok(uriEquals(a, parseUri('tel:+1(201)5550123;ext=12')));
    assert.ok(!uriEquals(a, parseUri('tel:+12015550123')));
  });
});
