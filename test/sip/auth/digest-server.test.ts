// The registrar side: stateless nonces, verification, staleness and replays; and the client and
// server of this module answering each other.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  DigestClient,
  DigestParseError,
  DigestServer,
  parseChallenges,
  parseCredentials,
  serializeCredentials,
  type DigestChallenge,
  type DigestCredentials,
  type DigestSecretLookup,
  type DigestServerOptions,
  type DigestVerification,
} from '../../../src/sip/auth/index.js';

const SECRET = 'a-test-secret-of-enough-bytes';
const REGISTER = { method: 'REGISTER', uri: 'sip:example.com' };
const USERS = new Map([['alice', 'secret']]);

const lookup: DigestSecretLookup = ({ username }) => {
  const password = USERS.get(username);
  return password === undefined ? undefined : { password };
};

/** A clock that only moves when told, and a random source that counts. */
function fixture(options: Partial<DigestServerOptions> = {}) {
  let time = 1_700_000_000_000;
  let next = 0;
  const server = new DigestServer({
    realm: 'example.com',
    secret: SECRET,
    now: () => time,
    randomBytes: (size) => Buffer.alloc(size, ++next),
    ...options,
  });
  let cnonce = 0;
  const client = (password = 'secret') =>
    new DigestClient({ credentials: { username: 'alice', password }, randomBytes: (size) => Buffer.alloc(size, 100 + ++cnonce) });
  return { server, client, advance: (ms: number) => (time += ms) };
}

function rejected(result: DigestVerification): Extract<DigestVerification, { ok: false }> {
  assert.equal(result.ok, false, 'expected a rejection');
  return result as Extract<DigestVerification, { ok: false }>;
}

function challengesOf(result: DigestVerification): DigestChallenge[] {
  return parseChallenges(rejected(result).challenges) as DigestChallenge[];
}

type Request = { method: string; uri: string; body?: string };

/** Sends a request without credentials and answers the challenge it gets. */
async function answerChallenge(server: DigestServer, client: DigestClient, request: Request = REGISTER) {
  const first = rejected(await server.verify({ ...request, credentials: [] }, lookup));
  assert.equal(first.reason, 'missing-credentials');
  const answer = client.respond(first.status as 401 | 407, first.challenges, request);
  assert.ok(answer.retry);
  return { answer, credentials: answer.headers.map((h) => h.value) };
}

/** answerChallenge, then the request again with the credentials: what the server says. */
async function register(server: DigestServer, client: DigestClient, request: Request = REGISTER) {
  const { answer, credentials } = await answerChallenge(server, client, request);
  return { answer, credentials, result: await server.verify({ ...request, credentials }, lookup) };
}

function withCredentials(value: string, change: Partial<DigestCredentials>): string {
  return serializeCredentials({ ...(parseCredentials(value) as DigestCredentials), ...change });
}

describe('DigestServer: challenges', () => {
  it('offers SHA-256 then MD5 with one fresh nonce, qop=auth, in WWW-Authenticate for a 401', async () => {
    const { server } = fixture();
    const result = rejected(await server.verify({ ...REGISTER, credentials: [] }, lookup));
    assert.equal(result.status, 401);
    assert.equal(result.challengeHeaderName, 'WWW-Authenticate');
    const challenges = challengesOf(result);
    assert.deepEqual(
      challenges.map((c) => [c.realm, c.algorithm, c.qop, c.stale]),
      [
        ['example.com', 'SHA-256', ['auth'], false],
        ['example.com', 'MD5', ['auth'], false],
      ],
    );
    assert.equal(challenges[0]!.nonce, challenges[1]!.nonce);
    assert.notEqual(server.challenge()[0], server.challenge()[0]);
  });

  it('challenges with 407 and Proxy-Authenticate as a proxy', async () => {
    const { server, client } = fixture({ proxy: true });
    assert.equal(server.credentialsHeaderName, 'Proxy-Authorization');
    const { answer, result } = await register(server, client());
    assert.ok(answer.retry && answer.headers[0]!.name === 'Proxy-Authorization');
    assert.equal(result.ok, true);
    const refused = rejected(await server.verify({ ...REGISTER, credentials: [] }, lookup));
    assert.equal(refused.status, 407);
    assert.equal(refused.challengeHeaderName, 'Proxy-Authenticate');
  });
});

describe('DigestServer: verification', () => {
  it('accepts the client of this module, with SHA-256, and names the user', async () => {
    const { server, client } = fixture();
    const { result } = await register(server, client());
    assert.ok(result.ok);
    assert.equal(result.username, 'alice');
    assert.equal(result.algorithm, 'SHA-256');
  });

  it('accepts every algorithm it offers, auth-int over the body, and an HA1 lookup', async () => {
    for (const algorithm of ['MD5', 'MD5-sess', 'SHA-256-sess', 'SHA-512-256', 'SHA-512-256-sess'] as const) {
      const { server, client } = fixture({ algorithms: [algorithm], qop: ['auth-int'] });
      const request = { method: 'REGISTER', uri: 'sip:example.com', body: '<xml/>' };
      const { result } = await register(server, client(), request);
      assert.ok(result.ok, algorithm);
      assert.equal(result.credentials.qop, 'auth-int');
    }
    const { server, client } = fixture({ algorithms: ['MD5'] });
    const first = rejected(await server.verify({ ...REGISTER, credentials: [] }, lookup));
    const answer = client().respond(401, first.challenges, REGISTER);
    assert.ok(answer.retry);
    const ha1 = createHash('md5').update('alice:example.com:secret').digest('hex');
    const byHa1: DigestSecretLookup = ({ username, hash }) => (username === 'alice' && hash === 'MD5' ? { ha1 } : undefined);
    assert.equal((await server.verify({ ...REGISTER, credentials: answer.headers.map((h) => h.value) }, byHa1)).ok, true);
  });

  it('accepts an asynchronous lookup', async () => {
    const { server, client } = fixture();
    const first = rejected(await server.verify({ ...REGISTER, credentials: [] }, lookup));
    const answer = client().respond(401, first.challenges, REGISTER);
    assert.ok(answer.retry);
    const slow: DigestSecretLookup = async (user) => lookup(user);
    assert.equal((await server.verify({ ...REGISTER, credentials: answer.headers.map((h) => h.value) }, slow)).ok, true);
  });

  it('refuses a wrong password with a fresh challenge that is not stale, and the client then gives up', async () => {
    const { server, client } = fixture();
    const uac = client('wrong');
    const { answer, result } = await register(server, uac);
    const refusal = rejected(result);
    assert.equal(refusal.reason, 'wrong-response');
    assert.equal(refusal.username, 'alice');
    assert.equal(challengesOf(result)[0]!.stale, false);
    assert.ok(answer.retry);
    const next = uac.respond(401, refusal.challenges, REGISTER, answer.attempt);
    assert.deepEqual(next, { retry: false, reason: 'credentials-rejected', realm: 'example.com' });
  });

  it('refuses an unknown user as it refuses a wrong password', async () => {
    const { server } = fixture();
    const uac = new DigestClient({ credentials: { username: 'mallory', password: 'secret' } });
    const { result } = await register(server, uac);
    assert.equal(rejected(result).reason, 'unknown-user');
    assert.equal(rejected(result).status, 401);
    assert.equal(challengesOf(result)[0]!.stale, false);
  });

  it('answers an expired nonce with stale=true, and the client retries without new credentials', async () => {
    const { server, client, advance } = fixture({ nonceLifetimeMs: 60_000 });
    const uac = client();
    const first = rejected(await server.verify({ ...REGISTER, credentials: [] }, lookup));
    advance(60_001);
    const answer = uac.respond(401, first.challenges, REGISTER);
    assert.ok(answer.retry);
    const stale = await server.verify({ ...REGISTER, credentials: answer.headers.map((h) => h.value) }, lookup);
    assert.equal(rejected(stale).reason, 'stale-nonce');
    assert.equal(challengesOf(stale)[0]!.stale, true);
    const retry = uac.respond(401, rejected(stale).challenges, REGISTER, answer.attempt);
    assert.ok(retry.retry);
    assert.equal((await server.verify({ ...REGISTER, credentials: retry.headers.map((h) => h.value) }, lookup)).ok, true);
  });

  it('does not call an expired nonce stale when the password is wrong (RFC 7616 §3.3)', async () => {
    const { server, client, advance } = fixture({ nonceLifetimeMs: 60_000 });
    const first = rejected(await server.verify({ ...REGISTER, credentials: [] }, lookup));
    advance(120_000);
    const answer = client('wrong').respond(401, first.challenges, REGISTER);
    assert.ok(answer.retry);
    const result = await server.verify({ ...REGISTER, credentials: answer.headers.map((h) => h.value) }, lookup);
    assert.equal(rejected(result).reason, 'wrong-response');
  });

  it('refuses a nonce-count already seen, and accepts the next one up front', async () => {
    const { server, client } = fixture();
    const uac = client();
    const { credentials, result } = await register(server, uac);
    assert.equal(result.ok, true);
    const replay = await server.verify({ ...REGISTER, credentials }, lookup);
    assert.equal(rejected(replay).reason, 'replayed-nonce-count');
    assert.equal(challengesOf(replay)[0]!.stale, true);
    const upFront = uac.authorize(REGISTER);
    assert.equal((parseCredentials(upFront.headers[0]!.value) as DigestCredentials).nc, '00000002');
    assert.equal((await server.verify({ ...REGISTER, credentials: upFront.headers.map((h) => h.value) }, lookup)).ok, true);
    // A lower count after a higher one is a replay too.
    assert.equal(rejected(await server.verify({ ...REGISTER, credentials }, lookup)).reason, 'replayed-nonce-count');
  });

  it('refuses a tampered nonce, one from another secret, realm or the future, without asking for the user', async () => {
    const { server, client } = fixture();
    const { credentials, result } = await register(server, client());
    assert.equal(result.ok, true);
    const nonce = (parseCredentials(credentials[0]!) as DigestCredentials).nonce;
    const flipped = nonce.slice(0, 5) + (nonce[5] === 'A' ? 'B' : 'A') + nonce.slice(6);
    const others = [
      fixture({ secret: 'another-secret-of-enough-bytes' }).server,
      fixture({ realm: 'other.example.com' }).server,
      fixture({ now: () => 1_800_000_000_000 }).server,
    ].map((other) => (parseChallenges(other.challenge()[0]!)[0] as DigestChallenge).nonce);
    let looked = 0;
    const counting: DigestSecretLookup = (user) => {
      looked++;
      return lookup(user);
    };
    for (const bad of [flipped, nonce.slice(1), `${nonce}A`, 'dcd98b7102dd2f0e8b11d0f600bfb0c093', ...others]) {
      const result = await server.verify({ ...REGISTER, credentials: [withCredentials(credentials[0]!, { nonce: bad })] }, counting);
      assert.equal(rejected(result).reason, 'invalid-nonce', bad);
      assert.equal(challengesOf(result)[0]!.stale, false);
    }
    assert.equal(looked, 0);
  });

  it('forgets the oldest counts when full, and then treats older untracked nonces as stale, never replayable', async () => {
    const { server, client, advance } = fixture({ maxTrackedNonces: 2 });
    const sessions = [];
    for (let i = 0; i < 3; i++) {
      sessions.push(await register(server, client()));
      advance(1000);
    }
    for (const session of sessions) assert.equal(session.result.ok, true);
    // The first nonce's count was forgotten: its replay must not pass.
    const replay = await server.verify({ ...REGISTER, credentials: sessions[0]!.credentials }, lookup);
    assert.equal(rejected(replay).reason, 'stale-nonce');
    // The ones still tracked are still protected.
    assert.equal(rejected(await server.verify({ ...REGISTER, credentials: sessions[2]!.credentials }, lookup)).reason, 'replayed-nonce-count');
  });

  it('refuses a uri other than the Request-URI with 400 (RFC 7616 §3.4.6)', async () => {
    const { server, client } = fixture();
    const { credentials } = await answerChallenge(server, client());
    const result = rejected(await server.verify({ method: 'REGISTER', uri: 'sip:other.com', credentials }, lookup));
    assert.equal(result.reason, 'uri-mismatch');
    assert.equal(result.status, 400);
    assert.deepEqual(result.challenges, []);
  });

  it('refuses a response computed for another method', async () => {
    const { server, client } = fixture();
    const { credentials } = await answerChallenge(server, client());
    const result = await server.verify({ method: 'INVITE', uri: 'sip:example.com', credentials }, lookup);
    assert.equal(rejected(result).reason, 'wrong-response');
  });

  it('refuses algorithms and qops it did not offer, the RFC 2069 form, and userhash', async () => {
    const { server, client } = fixture({ algorithms: ['SHA-256'] });
    const { credentials } = await answerChallenge(server, client());
    const value = credentials[0]!;
    const cases: [Partial<DigestCredentials>, string][] = [
      [{ algorithm: 'MD5' }, 'unsupported-algorithm'],
      [{ algorithm: 'SHA-1' }, 'unsupported-algorithm'],
      [{ qop: 'auth-int' }, 'unsupported-qop'],
      [{ qop: undefined, nc: undefined, cnonce: undefined }, 'unsupported-qop'],
      [{ userhash: true }, 'malformed-credentials'],
    ];
    for (const [change, reason] of cases) {
      const result = await server.verify({ ...REGISTER, credentials: [withCredentials(value, change)] }, lookup);
      assert.equal(rejected(result).reason, reason, JSON.stringify(change));
    }
  });

  it('picks its own realm among several credentials, and ignores other schemes', async () => {
    const { server, client } = fixture();
    const { credentials } = await answerChallenge(server, client());
    const others = ['NoOneKnowsThisScheme opaque-data=here', withCredentials(credentials[0]!, { realm: 'elsewhere' })];
    const result = await server.verify({ ...REGISTER, credentials: [...others, ...credentials] }, lookup);
    assert.equal(result.ok, true);
    assert.equal(rejected(await server.verify({ ...REGISTER, credentials: others }, lookup)).reason, 'missing-credentials');
  });

  it('answers malformed credentials with 400 and the DigestParseError', async () => {
    const { server } = fixture();
    const result = rejected(await server.verify({ ...REGISTER, credentials: ['Digest username="alice'] }, lookup));
    assert.equal(result.reason, 'malformed-credentials');
    assert.equal(result.status, 400);
    assert.ok(result.cause instanceof DigestParseError);
    assert.equal(result.cause.code, 'UNTERMINATED_QUOTE');
  });

  it('refuses a secret shorter than 16 bytes', () => {
    assert.throws(() => new DigestServer({ realm: 'r', secret: 'short' }), RangeError);
  });
});
