// The UAC side: choosing a challenge, counting nonces, and knowing when to stop (RFC 3261 §22, RFC 7616, RFC 8760).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  computeDigestResponse,
  decideRetry,
  DigestClient,
  DigestParseError,
  parseChallenges,
  parseCredentials,
  type DigestChallenge,
  type DigestChallengeAnswer,
  type DigestClientOptions,
  type DigestCredentials,
} from '../../../src/sip/auth/index.js';

const REGISTER = { method: 'REGISTER', uri: 'sip:example.com' };
const INVITE = { method: 'INVITE', uri: 'sip:bob@example.com', body: 'v=0\r\n' };

/** A deterministic random source: each call returns the next counter value's bytes. */
function counterBytes(): (size: number) => Uint8Array {
  let next = 0;
  return (size) => Buffer.alloc(size, ++next);
}

function client(options: Partial<DigestClientOptions> = {}): DigestClient {
  return new DigestClient({ credentials: { username: 'alice', password: 'secret' }, randomBytes: counterBytes(), ...options });
}

function challenge(params: string, realm = 'example.com', nonce = 'n1'): string {
  return `Digest realm="${realm}", nonce="${nonce}"${params ? `, ${params}` : ''}`;
}

function retried(answer: DigestChallengeAnswer): Extract<DigestChallengeAnswer, { retry: true }> {
  assert.ok(answer.retry, `expected a retry, got ${JSON.stringify(answer)}`);
  return answer;
}

function sent(answer: DigestChallengeAnswer, index = 0): DigestCredentials {
  const header = retried(answer).headers[index]!;
  const credentials = parseCredentials(header.value);
  assert.equal(credentials.kind, 'digest');
  return credentials as DigestCredentials;
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

function digestChallenge(value: string): DigestChallenge {
  return parseChallenges(value)[0] as DigestChallenge;
}

describe('DigestClient: answering', () => {
  it('answers a 401 with Authorization and a 407 with Proxy-Authorization', () => {
    const www = retried(client().respond(401, [challenge('qop="auth"')], REGISTER));
    assert.equal(www.headers[0]!.name, 'Authorization');
    const proxy = retried(client().respond(407, [challenge('qop="auth"', 'proxy.example.com')], INVITE));
    assert.equal(proxy.headers[0]!.name, 'Proxy-Authorization');
    assert.equal(proxy.headers[0]!.realm, 'proxy.example.com');
  });

  it('echoes realm, nonce, opaque and the algorithm as written, and uses the Request-URI as uri', () => {
    const credentials = sent(client().respond(401, [challenge('opaque="op", algorithm=sha-256, qop="auth"')], REGISTER));
    assert.equal(credentials.realm, 'example.com');
    assert.equal(credentials.nonce, 'n1');
    assert.equal(credentials.opaque, 'op');
    assert.equal(credentials.algorithm, 'sha-256');
    assert.equal(credentials.uri, 'sip:example.com');
    assert.equal(credentials.qop, 'auth');
    assert.equal(credentials.nc, '00000001');
  });

  it('draws the cnonce from the injected random source', () => {
    const credentials = sent(client({ randomBytes: (size) => Buffer.alloc(size, 7) }).respond(401, [challenge('qop="auth"')], REGISTER));
    assert.equal(credentials.cnonce, Buffer.alloc(24, 7).toString('base64'));
  });

  it('answers an old server without qop in the RFC 2069 form: no cnonce, no nc', () => {
    const credentials = sent(client().respond(401, [challenge('')], REGISTER));
    assert.equal(credentials.qop, undefined);
    assert.equal(credentials.cnonce, undefined);
    assert.equal(credentials.nc, undefined);
    assert.equal(credentials.algorithm, undefined);
    const ha1 = md5('alice:example.com:secret');
    assert.equal(credentials.response, md5(`${ha1}:n1:${md5('REGISTER:sip:example.com')}`));
  });

  it('prefers qop=auth, and uses auth-int over the body only when that is all that is offered', () => {
    assert.equal(sent(client().respond(401, [challenge('qop="auth-int,auth"')], INVITE)).qop, 'auth');
    const credentials = sent(client().respond(401, [challenge('qop="auth-int"')], INVITE));
    assert.equal(credentials.qop, 'auth-int');
    const ha2 = md5(`INVITE:sip:bob@example.com:${md5('v=0\r\n')}`);
    const expected = md5(`${md5('alice:example.com:secret')}:n1:00000001:${credentials.cnonce}:auth-int:${ha2}`);
    assert.equal(credentials.response, expected);
  });

  it('computes -sess algorithms over H(A1):nonce:cnonce', () => {
    const credentials = sent(client().respond(401, [challenge('algorithm=MD5-sess, qop="auth"')], REGISTER));
    const ha1 = md5(`${md5('alice:example.com:secret')}:n1:${credentials.cnonce}`);
    const expected = md5(`${ha1}:n1:00000001:${credentials.cnonce}:auth:${md5('REGISTER:sip:example.com')}`);
    assert.equal(credentials.response, expected);
  });

  it('computes SHA-512-256 responses as computeDigestResponse does', () => {
    const credentials = sent(client().respond(401, [challenge('algorithm=SHA-512-256, qop="auth"')], REGISTER));
    const expected = computeDigestResponse({
      algorithm: 'SHA-512-256',
      username: 'alice',
      realm: 'example.com',
      secret: { password: 'secret' },
      nonce: 'n1',
      method: 'REGISTER',
      uri: 'sip:example.com',
      qop: 'auth',
      nc: credentials.nc!,
      cnonce: credentials.cnonce!,
    });
    assert.equal(credentials.response, expected);
    assert.equal(expected.length, 64);
  });

  it('sends H(username:realm) when the server asks for userhash (RFC 7616 §3.4.4)', () => {
    const credentials = sent(client().respond(401, [challenge('algorithm=SHA-256, qop="auth", userhash=true')], REGISTER));
    assert.equal(credentials.userhash, true);
    assert.equal(credentials.username, createHash('sha256').update('alice:example.com').digest('hex'));
  });

  it('answers with a precomputed HA1 exactly as with the password, and only with its hash', () => {
    const withPassword = sent(client().respond(401, [challenge('qop="auth"')], REGISTER));
    const ha1Client = client({ credentials: { username: 'alice', realm: 'example.com', ha1: md5('alice:example.com:secret') } });
    const withHa1 = sent(ha1Client.respond(401, [challenge('qop="auth"')], REGISTER));
    assert.equal(withHa1.response, withPassword.response);
    const sha = client({ credentials: { username: 'alice', realm: 'example.com', ha1: md5('alice:example.com:secret') } });
    assert.deepEqual(sha.respond(401, [challenge('algorithm=SHA-256, qop="auth"')], REGISTER), { retry: false, reason: 'no-usable-challenge' });
  });

  it('answers only the realm its credentials are for', () => {
    const scoped = client({ credentials: { username: 'alice', password: 'secret', realm: 'example.com' } });
    assert.deepEqual(scoped.respond(401, [challenge('qop="auth"', 'other.net')], REGISTER), { retry: false, reason: 'no-usable-challenge' });
    const answer = retried(scoped.respond(401, [challenge('qop="auth"', 'other.net'), challenge('qop="auth"')], REGISTER));
    assert.deepEqual(
      answer.headers.map((h) => h.realm),
      ['example.com'],
    );
  });

  it('gives up on challenges it cannot answer: other schemes, unknown algorithms or qop, -sess without qop', () => {
    for (const value of [
      'Basic realm="example.com"',
      challenge('algorithm=SHA-1, qop="auth"'),
      challenge('qop="auth-conf"'),
      challenge('algorithm=SHA-256-sess'),
    ]) {
      assert.deepEqual(client().respond(401, [value], REGISTER), { retry: false, reason: 'no-usable-challenge' }, value);
    }
  });

  it('reports an unreadable challenge with its DigestParseError, but uses a good line beside a bad one', () => {
    const answer = client().respond(401, ['Digest realm="x'], REGISTER);
    assert.equal(answer.retry, false);
    assert.ok(!answer.retry && answer.reason === 'malformed-challenge' && answer.cause instanceof DigestParseError);
    assert.equal(sent(client().respond(401, ['Digest realm="x', challenge('qop="auth"')], REGISTER)).realm, 'example.com');
  });
});

describe('DigestClient: choosing among challenges (RFC 8760 §2.3, §2.4, §3)', () => {
  it('picks the strongest algorithm offered for a realm, whatever the order', () => {
    const offers = ['algorithm=MD5, qop="auth"', 'algorithm=SHA-512-256, qop="auth"', 'algorithm=SHA-256, qop="auth"'].map((p) => challenge(p));
    for (const order of [offers, [...offers].reverse(), [offers[1]!, offers[0]!, offers[2]!]]) {
      assert.equal(sent(client().respond(401, order, REGISTER)).algorithm, 'SHA-512-256');
    }
  });

  it('picks the strongest among challenges packed into one header value too', () => {
    const value = `${challenge('algorithm=MD5, qop="auth"')}, ${challenge('algorithm=SHA-256, qop="auth"')}`;
    assert.equal(sent(client().respond(401, [value], REGISTER)).algorithm, 'SHA-256');
  });

  it('keeps to the algorithms it is allowed, and to the server order on a tie', () => {
    const offers = [challenge('algorithm=SHA-256-sess, qop="auth"'), challenge('algorithm=SHA-256, qop="auth"'), challenge('algorithm=MD5, qop="auth"')];
    assert.equal(sent(client().respond(401, offers, REGISTER)).algorithm, 'SHA-256-sess');
    assert.equal(sent(client({ algorithms: ['MD5'] }).respond(401, offers, REGISTER)).algorithm, 'MD5');
  });

  it('answers every realm challenged, one credentials each', () => {
    const answer = retried(
      client().respond(407, [challenge('qop="auth"', 'proxy-a'), challenge('qop="auth"', 'proxy-b'), challenge('algorithm=SHA-256, qop="auth"', 'proxy-a')], INVITE),
    );
    assert.deepEqual(
      answer.headers.map((h) => [h.name, h.realm]),
      [
        ['Proxy-Authorization', 'proxy-a'],
        ['Proxy-Authorization', 'proxy-b'],
      ],
    );
    assert.equal(sent(answer, 0).algorithm, 'SHA-256');
  });
});

describe('DigestClient: nonce counts and retries', () => {
  it('counts nc up when the same nonce is challenged again on a new request', () => {
    const uac = client();
    assert.equal(sent(uac.respond(401, [challenge('qop="auth"')], REGISTER)).nc, '00000001');
    assert.equal(sent(uac.respond(401, [challenge('qop="auth"')], REGISTER)).nc, '00000002');
    // A new nonce starts again at 1.
    assert.equal(sent(uac.respond(401, [challenge('qop="auth"', 'example.com', 'n2')], REGISTER)).nc, '00000001');
  });

  it('carries credentials up front from the remembered challenge, counting on', () => {
    const uac = client();
    const first = retried(uac.respond(401, [challenge('qop="auth"')], REGISTER));
    const upFront = uac.authorize(REGISTER);
    assert.equal(upFront.headers.length, 1);
    const credentials = parseCredentials(upFront.headers[0]!.value) as DigestCredentials;
    assert.equal(credentials.nc, '00000002');
    assert.notEqual(credentials.cnonce, sent(first).cnonce);
    assert.deepEqual(upFront.attempt.entries, [
      { headerName: 'Authorization', realm: 'example.com', nonce: 'n1', staleRetries: 0, preemptive: true },
    ]);
    uac.forget();
    assert.deepEqual(uac.authorize(REGISTER).headers, []);
  });

  it('keeps proxy credentials out of new requests unless asked (RFC 3261 §22.3)', () => {
    const uac = client();
    retried(uac.respond(407, [challenge('qop="auth"', 'proxy')], INVITE));
    assert.deepEqual(uac.authorize(INVITE).headers, []);
    assert.deepEqual(
      uac.authorize(INVITE, { includeProxy: true }).headers.map((h) => h.name),
      ['Proxy-Authorization'],
    );
  });

  it('retries a stale nonce with the new one without new credentials, a bounded number of times', () => {
    const uac = client({ maxStaleRetries: 2 });
    let answer = retried(uac.respond(401, [challenge('qop="auth"', 'example.com', 'n1')], REGISTER));
    for (const nonce of ['n2', 'n3']) {
      answer = retried(uac.respond(401, [challenge('qop="auth", stale=true', 'example.com', nonce)], REGISTER, answer.attempt));
      assert.equal(sent(answer).nonce, nonce);
      assert.equal(sent(answer).nc, '00000001');
    }
    assert.deepEqual(uac.respond(401, [challenge('qop="auth", stale=TRUE', 'example.com', 'n4')], REGISTER, answer.attempt), {
      retry: false,
      reason: 'too-many-stale',
      realm: 'example.com',
    });
  });

  it('gives up when the realm it answered is challenged again without stale: the password is wrong', () => {
    const uac = client();
    const first = retried(uac.respond(401, [challenge('qop="auth"')], REGISTER));
    const rejected = { retry: false, reason: 'credentials-rejected', realm: 'example.com' };
    // The same nonce back, not stale.
    assert.deepEqual(uac.respond(401, [challenge('qop="auth"')], REGISTER, first.attempt), rejected);
    // A server that mints a nonce per challenge must not make it loop either (RFC 7616 §3.3).
    assert.deepEqual(uac.respond(401, [challenge('qop="auth"', 'example.com', 'n2')], REGISTER, first.attempt), rejected);
    // Nor does it send the rejected credentials up front on the next request.
    assert.deepEqual(uac.authorize(REGISTER).headers, []);
  });

  it('answers once more when a nonce sent up front is unknown to the server, then stops', () => {
    const uac = client();
    retried(uac.respond(401, [challenge('qop="auth"')], REGISTER));
    const upFront = uac.authorize(REGISTER);
    const renewed = retried(uac.respond(401, [challenge('qop="auth"', 'example.com', 'n2')], REGISTER, upFront.attempt));
    assert.equal(sent(renewed).nonce, 'n2');
    assert.equal(renewed.attempt.entries[0]!.preemptive, false);
    assert.deepEqual(uac.respond(401, [challenge('qop="auth"', 'example.com', 'n3')], REGISTER, renewed.attempt), {
      retry: false,
      reason: 'credentials-rejected',
      realm: 'example.com',
    });
  });

  it('after a 407 then a 401, re-sends both credentials, the proxy one with the next nc', () => {
    const uac = client();
    const afterProxy = retried(uac.respond(407, [challenge('qop="auth"', 'proxy', 'p1')], INVITE));
    const afterUas = retried(uac.respond(401, [challenge('qop="auth"', 'uas', 'u1')], INVITE, afterProxy.attempt));
    assert.deepEqual(
      afterUas.headers.map((h) => [h.name, h.realm]),
      [
        ['Proxy-Authorization', 'proxy'],
        ['Authorization', 'uas'],
      ],
    );
    assert.equal(sent(afterUas, 0).nc, '00000002');
    assert.equal(sent(afterUas, 1).nc, '00000001');
    // The proxy rejecting its realm again still ends it.
    assert.deepEqual(uac.respond(407, [challenge('qop="auth"', 'proxy', 'p1')], INVITE, afterUas.attempt), {
      retry: false,
      reason: 'credentials-rejected',
      realm: 'proxy',
    });
  });
});

describe('decideRetry', () => {
  const attempt = { entries: [{ headerName: 'Authorization' as const, realm: 'r', nonce: 'n1', staleRetries: 0, preemptive: false }] };

  it('allows a first challenge, and one for a realm or header the request did not answer', () => {
    assert.deepEqual(decideRetry(undefined, 'Authorization', digestChallenge('Digest realm="r", nonce="n1"')), { retry: true, stale: false });
    assert.deepEqual(decideRetry(attempt, 'Authorization', digestChallenge('Digest realm="other", nonce="n1"')), { retry: true, stale: false });
    assert.deepEqual(decideRetry(attempt, 'Proxy-Authorization', digestChallenge('Digest realm="r", nonce="n1"')), { retry: true, stale: false });
  });

  it('allows stale, refuses the same realm again otherwise', () => {
    assert.deepEqual(decideRetry(attempt, 'Authorization', digestChallenge('Digest realm="r", nonce="n2", stale=true')), { retry: true, stale: true });
    assert.deepEqual(decideRetry(attempt, 'Authorization', digestChallenge('Digest realm="r", nonce="n1"')), {
      retry: false,
      reason: 'credentials-rejected',
    });
    assert.deepEqual(decideRetry(attempt, 'Authorization', digestChallenge('Digest realm="r", nonce="n2", stale=true'), 0), {
      retry: false,
      reason: 'too-many-stale',
    });
  });
});
