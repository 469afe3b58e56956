// The published digest examples (RFC 2617 §3.5, RFC 7616 §3.9.1), produced by the client from the
// RFC's challenge with the RFC's cnonce, and checked by the server's arithmetic.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  checkDigestResponse,
  computeDigestResponse,
  DigestClient,
  parseChallenges,
  parseCredentials,
  type DigestCredentials,
} from '../../../src/sip/auth/index.js';

/** A random source that returns the bytes of a cnonce the RFC wrote in base64. */
const cnonceSource = (cnonce: string) => () => Buffer.from(cnonce, 'base64');

function digestCredentials(value: string): DigestCredentials {
  const credentials = parseCredentials(value);
  assert.equal(credentials.kind, 'digest');
  return credentials as DigestCredentials;
}

describe('RFC 2617 §3.5 (Mufasa, "Circle Of Life")', () => {
  const challenge = `Digest
                 realm="testrealm@host.com",
                 qop="auth,auth-int",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41"`;
  const authorization = `Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41"`;
  const request = { method: 'GET', uri: '/dir/index.html' };

  it('computes response 6629fae49393a05397450978507c4ef1', () => {
    const response = computeDigestResponse({
      algorithm: 'MD5',
      username: 'Mufasa',
      realm: 'testrealm@host.com',
      secret: { password: 'Circle Of Life' },
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      method: 'GET',
      uri: '/dir/index.html',
      qop: 'auth',
      nc: '00000001',
      cnonce: '0a4f113b',
    });
    assert.equal(response, '6629fae49393a05397450978507c4ef1');
  });

  it('the client answers the challenge with exactly the RFC credentials', () => {
    const client = new DigestClient({
      credentials: { username: 'Mufasa', password: 'Circle Of Life' },
      randomBytes: cnonceSource('0a4f113b'),
    });
    const answer = client.respond(401, [challenge], request);
    assert.ok(answer.retry);
    assert.equal(answer.headers.length, 1);
    assert.equal(answer.headers[0]!.name, 'Authorization');
    assert.deepEqual(parseCredentials(answer.headers[0]!.value), parseCredentials(authorization));
  });

  it('the server arithmetic accepts the RFC credentials and refuses another password', () => {
    const credentials = digestCredentials(authorization);
    assert.equal(checkDigestResponse(credentials, request, { password: 'Circle Of Life' }), true);
    assert.equal(checkDigestResponse(credentials, request, { password: 'Circle of Life' }), false);
    assert.equal(checkDigestResponse(credentials, { method: 'POST' }, { password: 'Circle Of Life' }), false);
  });
});

describe('RFC 7616 §3.9.1 (Mufasa, "Circle of Life", SHA-256 and MD5)', () => {
  // Erratum 4495: the password has a lower-case "of" here, unlike RFC 2617.
  const password = 'Circle of Life';
  const challenges = [
    `Digest
    realm="http-auth@example.org",
    qop="auth, auth-int",
    algorithm=SHA-256,
    nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
    `Digest
    realm="http-auth@example.org",
    qop="auth, auth-int",
    algorithm=MD5,
    nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
  ];
  const md5Authorization = `Digest username="Mufasa",
    realm="http-auth@example.org",
    uri="/dir/index.html",
    algorithm=MD5,
    nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    nc=00000001,
    cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    qop=auth,
    response="8ca523f5e9506fed4657c9700eebdbec",
    opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`;
  const sha256Authorization = `Digest username="Mufasa",
    realm="http-auth@example.org",
    uri="/dir/index.html",
    algorithm=SHA-256,
    nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    nc=00000001,
    cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    qop=auth,
    response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
    opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`;
  const request = { method: 'GET', uri: '/dir/index.html' };
  const randomBytes = cnonceSource('f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ');

  it('parses both challenges of the example', () => {
    const parsed = parseChallenges(challenges);
    assert.equal(parsed.length, 2);
    for (const challenge of parsed) {
      assert.equal(challenge.kind, 'digest');
      if (challenge.kind !== 'digest') continue;
      assert.equal(challenge.realm, 'http-auth@example.org');
      assert.deepEqual(challenge.qop, ['auth', 'auth-int']);
      assert.equal(challenge.opaque, 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS');
    }
  });

  it('the client answers with SHA-256, the stronger, giving 753927fa…b6c1', () => {
    const client = new DigestClient({ credentials: { username: 'Mufasa', password }, randomBytes });
    const answer = client.respond(401, challenges, request);
    assert.ok(answer.retry);
    assert.equal(answer.headers.length, 1);
    assert.deepEqual(parseCredentials(answer.headers[0]!.value), parseCredentials(sha256Authorization));
  });

  it('a client limited to MD5 answers with 8ca523f5e9506fed4657c9700eebdbec', () => {
    const client = new DigestClient({ credentials: { username: 'Mufasa', password }, randomBytes, algorithms: ['MD5'] });
    const answer = client.respond(401, challenges, request);
    assert.ok(answer.retry);
    assert.deepEqual(parseCredentials(answer.headers[0]!.value), parseCredentials(md5Authorization));
  });

  it('the server arithmetic accepts both RFC responses, with the password or with HA1', () => {
    for (const value of [md5Authorization, sha256Authorization]) {
      const credentials = digestCredentials(value);
      assert.equal(checkDigestResponse(credentials, request, { password }), true);
      assert.equal(checkDigestResponse(credentials, request, { password: 'Circle Of Life' }), false);
    }
    const md5 = digestCredentials(md5Authorization);
    const ha1 = computeHa1Md5('Mufasa:http-auth@example.org:Circle of Life');
    assert.equal(checkDigestResponse(md5, request, { ha1 }), true);
    assert.equal(checkDigestResponse(md5, request, { ha1: ha1.toUpperCase() }), true);
  });
});

function computeHa1Md5(a1: string): string {
  // Independent of the module: node:crypto directly.
  return createHash('md5').update(a1).digest('hex');
}
