// Parsing and writing challenge and credentials values (RFC 3261 §25.1, RFC 7235 §2.1, RFC 7616 §3.3–§3.4).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  DigestParseError,
  parseChallenges,
  parseCredentials,
  parseDigestAlgorithm,
  serializeChallenge,
  serializeCredentials,
  type DigestChallenge,
  type DigestCredentials,
  type DigestParseErrorCode,
} from '../../../src/sip/auth/index.js';
import { parseMessage } from '../../../src/sip/message/index.js';

const TORTURE_DIR = new URL('../../../../shared/sip-torture/', import.meta.url).pathname;

function onlyDigest(value: string | string[]): DigestChallenge {
  const challenges = parseChallenges(value);
  assert.equal(challenges.length, 1);
  assert.equal(challenges[0]!.kind, 'digest');
  return challenges[0] as DigestChallenge;
}

function digestCredentials(value: string): DigestCredentials {
  const credentials = parseCredentials(value);
  assert.equal(credentials.kind, 'digest');
  return credentials as DigestCredentials;
}

function assertParseError(parse: () => unknown, code: DigestParseErrorCode): void {
  assert.throws(parse, (error: unknown) => {
    assert.ok(error instanceof DigestParseError, `expected a DigestParseError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

describe('parseChallenges', () => {
  it('reads every Digest parameter into its typed field', () => {
    const challenge = onlyDigest(
      'Digest realm="atlanta.com", domain="sip:ss1.carrier.com sip:ss2.carrier.com", nonce="ea9c8e88df84f1cec4341ae6cbe5a359", ' +
        'opaque="", stale=FALSE, algorithm=SHA-512-256-sess, qop="auth,auth-int", charset=UTF-8, userhash=true',
    );
    assert.deepEqual(challenge, {
      kind: 'digest',
      scheme: 'Digest',
      realm: 'atlanta.com',
      nonce: 'ea9c8e88df84f1cec4341ae6cbe5a359',
      opaque: '',
      algorithm: 'SHA-512-256-sess',
      qop: ['auth', 'auth-int'],
      stale: false,
      domain: ['sip:ss1.carrier.com', 'sip:ss2.carrier.com'],
      userhash: true,
      charset: 'UTF-8',
      extensions: new Map(),
    });
  });

  it('defaults: no qop, not stale, no userhash, MD5', () => {
    const challenge = onlyDigest('Digest realm="biloxi.com", nonce="abc"');
    assert.deepEqual(challenge.qop, []);
    assert.equal(challenge.stale, false);
    assert.equal(challenge.userhash, false);
    assert.equal(challenge.algorithm, undefined);
    assert.equal(parseDigestAlgorithm(challenge.algorithm), 'MD5');
  });

  it('unescapes quoted strings holding escaped quotes, backslashes and commas', () => {
    const challenge = onlyDigest(String.raw`Digest realm="the \"big\", \\bad\\ realm", nonce="a,b,c", opaque="\x"`);
    assert.equal(challenge.realm, 'the "big", \\bad\\ realm');
    assert.equal(challenge.nonce, 'a,b,c');
    assert.equal(challenge.opaque, 'x');
  });

  it('ignores the case of the scheme, the parameter names and stale, and odd spacing', () => {
    const challenge = onlyDigest('  dIgEsT   REALM = "x"  ,NONCE="y",,  Qop="AUTH , auth-int" ,\tSTALE = TRUE , Algorithm=sha-256  ');
    assert.equal(challenge.scheme, 'Digest');
    assert.equal(challenge.realm, 'x');
    assert.equal(challenge.nonce, 'y');
    assert.deepEqual(challenge.qop, ['auth', 'auth-int']);
    assert.equal(challenge.stale, true);
    assert.equal(challenge.algorithm, 'sha-256');
    assert.equal(parseDigestAlgorithm(challenge.algorithm), 'SHA-256');
  });

  it('reads a value folded over several lines', () => {
    const challenge = onlyDigest('Digest realm="x",\r\n nonce="y",\r\n\tqop="auth"');
    assert.equal(challenge.nonce, 'y');
    assert.deepEqual(challenge.qop, ['auth']);
  });

  it('accepts tokens where quoted strings are usual, and quoted strings where tokens are', () => {
    const challenge = onlyDigest('Digest realm=atlanta.com, nonce=abc123, algorithm="MD5", stale="true", qop=auth');
    assert.equal(challenge.realm, 'atlanta.com');
    assert.equal(challenge.algorithm, 'MD5');
    assert.equal(challenge.stale, true);
    assert.deepEqual(challenge.qop, ['auth']);
  });

  it('splits several challenges in one value, whatever their schemes', () => {
    const challenges = parseChallenges(
      'Digest realm="a", nonce="1", algorithm=SHA-256, Basic realm="b, c", Digest realm="a", nonce="1", algorithm=MD5, Bearer abc.def==, Newauth',
    );
    assert.deepEqual(
      challenges.map((c) => [c.kind, c.scheme]),
      [
        ['digest', 'Digest'],
        ['other', 'Basic'],
        ['digest', 'Digest'],
        ['other', 'Bearer'],
        ['other', 'Newauth'],
      ],
    );
    assert.deepEqual(challenges[1], { kind: 'other', scheme: 'Basic', params: new Map([['realm', 'b, c']]) });
    assert.deepEqual(challenges[3], { kind: 'other', scheme: 'Bearer', params: new Map(), token68: 'abc.def==' });
    assert.equal((challenges[2] as DigestChallenge).algorithm, 'MD5');
  });

  it('joins the challenges of several header lines in order', () => {
    const challenges = parseChallenges(['Digest realm="a", nonce="1", algorithm=SHA-256', 'Digest realm="a", nonce="1"']);
    assert.deepEqual(
      challenges.map((c) => (c as DigestChallenge).algorithm),
      ['SHA-256', undefined],
    );
  });

  it('keeps unknown parameters as extensions', () => {
    const challenge = onlyDigest('Digest realm="x", nonce="y", ik="00112233", Foo=Bar');
    assert.deepEqual(challenge.extensions, new Map([['ik', '00112233'], ['foo', 'Bar']]));
  });

  it('writes realm, nonce, opaque, domain and qop quoted; stale and algorithm as tokens (RFC 7616 §3.3)', () => {
    const value = serializeChallenge(
      onlyDigest('Digest realm=x, nonce=y, opaque=z, stale=TRUE, algorithm="SHA-256", qop=auth, domain="sip:a sip:b"'),
    );
    assert.equal(value, 'Digest realm="x", domain="sip:a sip:b", nonce="y", opaque="z", stale=true, algorithm=SHA-256, qop="auth"');
    assert.deepEqual(parseChallenges(value), parseChallenges('Digest realm=x, nonce=y, opaque=z, stale=TRUE, algorithm="SHA-256", qop=auth, domain="sip:a sip:b"'));
  });

  it('refuses malformed values with a typed error', () => {
    const cases: [string, DigestParseErrorCode][] = [
      ['', 'EMPTY_VALUE'],
      [' , ,', 'EMPTY_VALUE'],
      ['realm="x", nonce="y"', 'BAD_SCHEME'],
      ['"Digest" realm="x"', 'BAD_SCHEME'],
      ['Digest"realm"', 'BAD_SCHEME'],
      ['Digest realm="x', 'UNTERMINATED_QUOTE'],
      ['Digest realm="x\\', 'UNTERMINATED_QUOTE'],
      ['Digest realm="x" nonce="y"', 'BAD_PARAM'],
      ['Digest realm="x", nonce=', 'BAD_PARAM'],
      ['Digest realm="x", nonce="y", =z', 'BAD_PARAM'],
      ['Digest realm="x", nonce=a b', 'BAD_PARAM'],
      ['Digest realm="x", nonce=<y>', 'BAD_PARAM'],
      ['Digest realm', 'BAD_PARAM'],
      ['Digest realm="x", realm="y", nonce="1"', 'DUPLICATE_PARAM'],
      ['Digest realm="x", REALM="x", nonce="1"', 'DUPLICATE_PARAM'],
      ['Digest nonce="1"', 'MISSING_PARAM'],
      ['Digest realm="x"', 'MISSING_PARAM'],
      ['Digest realm="a\u0000b", nonce="1"', 'BAD_CHARACTER'],
      ['Digest realm="a\nb", nonce="1"', 'BAD_CHARACTER'],
      ['Basic abc==, realm="x"', 'BAD_PARAM'],
    ];
    for (const [value, code] of cases) assertParseError(() => parseChallenges(value), code);
  });
});

describe('parseCredentials', () => {
  const value =
    'Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", ' +
    'qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"';

  it('reads a SIP Authorization value (RFC 3261 §22.4)', () => {
    assert.deepEqual(digestCredentials(value), {
      kind: 'digest',
      scheme: 'Digest',
      username: 'bob',
      realm: 'biloxi.com',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      uri: 'sip:bob@biloxi.com',
      response: '6629fae49393a05397450978507c4ef1',
      cnonce: '0a4f113b',
      opaque: '5ccc069c403ebaf9f0171e9517f40e41',
      qop: 'auth',
      nc: '00000001',
      userhash: false,
      extensions: new Map(),
    });
  });

  it('writes quoted and token parameters as RFC 3261 §25.1 and RFC 7616 §3.4 want them', () => {
    assert.equal(
      serializeCredentials(digestCredentials(value)),
      'Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", ' +
        'response="6629fae49393a05397450978507c4ef1", cnonce="0a4f113b", opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, nc=00000001',
    );
  });

  it('keeps the nonce-count as written, since the response was computed over those characters', () => {
    assert.equal(digestCredentials(value.replace('nc=00000001', 'nc=0000000A')).nc, '0000000A');
  });

  it('reads username* (RFC 7616 §3.4.4, RFC 8187) and writes it back as a plain username', () => {
    const credentials = digestCredentials(
      `Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm="api@example.org", nonce="n", uri="/doe.json", response="r", userhash=false`,
    );
    assert.equal(credentials.username, 'Jäsøn Doe');
    assert.match(serializeCredentials(credentials), /^Digest username="Jäsøn Doe", /);
  });

  it('writes a user name no quoted-string can carry as username*', () => {
    const credentials: DigestCredentials = { ...digestCredentials(value), username: 'bob\r\nX-Evil: 1' };
    const written = serializeCredentials(credentials);
    assert.match(written, /^Digest username\*=UTF-8''bob%0D%0AX-Evil%3A%201, /);
    assert.equal(digestCredentials(written).username, 'bob\r\nX-Evil: 1');
  });

  it('reads the unknown scheme of RFC 4475 regaut01 into the generic form and writes it back unchanged', () => {
    const message = parseMessage(readFileSync(TORTURE_DIR + 'regaut01.dat'));
    const written = message.header('authorization')!;
    assert.equal(written, 'NoOneKnowsThisScheme opaque-data=here');
    const credentials = parseCredentials(written);
    assert.deepEqual(credentials, { kind: 'other', scheme: 'NoOneKnowsThisScheme', params: new Map([['opaque-data', 'here']]) });
    assert.equal(serializeCredentials(credentials), written);
  });

  it('reads token68 credentials of other schemes', () => {
    const credentials = parseCredentials('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
    assert.deepEqual(credentials, { kind: 'other', scheme: 'Basic', params: new Map(), token68: 'QWxhZGRpbjpvcGVuIHNlc2FtZQ==' });
    assert.equal(serializeCredentials(credentials), 'Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
  });

  it('refuses malformed credentials with a typed error', () => {
    const cases: [string, DigestParseErrorCode][] = [
      ['', 'EMPTY_VALUE'],
      [`${value}, Digest username="eve"`, 'MULTIPLE_CREDENTIALS'],
      [value.replace('username="bob", ', ''), 'MISSING_PARAM'],
      [value.replace('uri="sip:bob@biloxi.com", ', ''), 'MISSING_PARAM'],
      [value.replace('response="6629fae49393a05397450978507c4ef1", ', ''), 'MISSING_PARAM'],
      [value.replace('cnonce="0a4f113b", ', ''), 'MISSING_PARAM'],
      [value.replace('nc=00000001, ', ''), 'MISSING_PARAM'],
      [value.replace('nc=00000001', 'nc=1'), 'BAD_VALUE'],
      [value.replace('nc=00000001', 'nc=0000000g'), 'BAD_VALUE'],
      [value.replace('username="bob"', `username="bob", username*=UTF-8''bob`), 'BAD_PARAM'],
      [value.replace('username="bob"', 'username*=bob'), 'BAD_VALUE'],
      [value.replace('username="bob"', `username*=KOI8-R''bob`), 'BAD_VALUE'],
      [value.replace('username="bob"', `username*=UTF-8''%C3%28`), 'BAD_VALUE'],
      [value.replace('username="bob"', 'username="bob" realm="x"'), 'BAD_PARAM'],
      ['Digest QWxhZGRpbg==', 'BAD_PARAM'],
    ];
    for (const [input, code] of cases) assertParseError(() => parseCredentials(input), code);
  });

  it('writes a token parameter received quoted as no token back quoted, unchanged', () => {
    const odd = digestCredentials(value.replace('qop=auth', 'qop="auth int"').replace('response=', 'algorithm="SHA 256", response='));
    assert.equal(odd.algorithm, 'SHA 256');
    assert.match(serializeCredentials(odd), /algorithm="SHA 256", .*qop="auth int"/);
    assert.deepEqual(digestCredentials(serializeCredentials(odd)), odd);
  });

  it('refuses to write what no header can carry', () => {
    assertParseError(() => serializeCredentials({ ...digestCredentials(value), realm: 'a"\nb' }), 'BAD_CHARACTER');
    assertParseError(() => serializeCredentials({ kind: 'other', scheme: 'Bad Scheme', params: new Map() }), 'BAD_SCHEME');
  });
});
