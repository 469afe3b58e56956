// Property tests: credentials survive serialize∘parse; however a peer formats them, parsing gives the
// same object and writing it back reaches a fixed point; and nothing but a DigestParseError escapes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DigestParseError,
  parseChallenges,
  parseCredentials,
  serializeChallenge,
  serializeCredentials,
  type DigestCredentials,
} from '../../../src/sip/auth/index.js';

const KNOWN = new Set(['username', 'username*', 'realm', 'nonce', 'uri', 'response', 'algorithm', 'cnonce', 'opaque', 'qop', 'nc', 'userhash']);
const hasControl = (text: string) => /[\x00-\x08\x0a-\x1f\x7f]/.test(text);

/** Any text a quoted-string can carry: all of Unicode but the control characters. */
const text = fc.string({ unit: 'binary', maxLength: 16 }).map((s) => s.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, ''));
const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}$/);
const nc = fc.stringMatching(/^[0-9a-fA-F]{8}$/);

const credentialsArbitrary: fc.Arbitrary<DigestCredentials> = fc
  .record({
    // A user name may hold control characters: it then travels as username*.
    username: fc.oneof(text, fc.string({ unit: 'binary', maxLength: 12 })),
    realm: text,
    nonce: text,
    uri: text,
    response: fc.oneof(fc.stringMatching(/^[0-9a-f]{32}$/), text),
    algorithm: fc.option(fc.oneof(fc.constantFrom('MD5', 'sha-256', 'SHA-512-256-sess'), token, text), { nil: undefined }),
    opaque: fc.option(text, { nil: undefined }),
    qop: fc.option(fc.oneof(fc.constantFrom('auth', 'auth-int'), token.map((t) => t.toLowerCase())), { nil: undefined }),
    cnonce: fc.option(text, { nil: undefined }),
    nc: fc.option(nc, { nil: undefined }),
    userhash: fc.boolean(),
    extensions: fc.uniqueArray(fc.tuple(token.map((t) => t.toLowerCase()).filter((t) => !KNOWN.has(t)), text), {
      selector: ([name]) => name,
      maxLength: 3,
    }),
  })
  .map((r) => {
    const credentials: { -readonly [K in keyof DigestCredentials]: DigestCredentials[K] } = {
      kind: 'digest',
      scheme: 'Digest',
      username: r.username,
      realm: r.realm,
      nonce: r.nonce,
      uri: r.uri,
      response: r.response,
      userhash: r.userhash,
      extensions: new Map(r.extensions),
    };
    if (r.algorithm !== undefined) credentials.algorithm = r.algorithm;
    if (r.opaque !== undefined) credentials.opaque = r.opaque;
    // RFC 7616 §3.4: with qop come cnonce and nc.
    if (r.qop !== undefined) {
      credentials.qop = r.qop;
      credentials.cnonce = r.cnonce ?? 'c';
      credentials.nc = r.nc ?? '00000001';
    } else {
      if (r.cnonce !== undefined) credentials.cnonce = r.cnonce;
      if (r.nc !== undefined) credentials.nc = r.nc;
    }
    return credentials;
  });

/** Writes credentials the way a careless but valid peer might: any case, spacing, quoting and order. */
function messy(credentials: DigestCredentials, g: fc.GeneratorValue): string {
  const space = () => g(fc.constantFrom, '', ' ', '\t', '   ', '\r\n ');
  const someSpace = () => g(fc.constantFrom, ' ', '\t', '  ', '\r\n\t');
  const anyCase = (name: string) => [...name].map((c) => (g(fc.boolean) ? c.toUpperCase() : c.toLowerCase())).join('');
  const quoted = (value: string) =>
    `"${[...value].map((c) => (c === '"' || c === '\\' || g(fc.integer, { min: 0, max: 9 }) === 0 ? `\\${c}` : c)).join('')}"`;
  const value = (v: string) => (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(v) && g(fc.boolean) ? v : quoted(v));

  const params: [string, string][] = [];
  if (hasControl(credentials.username)) {
    const encoded = [...Buffer.from(credentials.username, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
    params.push(['username*', `${g(fc.constantFrom, 'UTF-8', 'utf-8')}'${g(fc.constantFrom, '', 'en')}'${encoded}`]);
  } else {
    params.push(['username', quoted(credentials.username)]);
  }
  for (const name of ['realm', 'nonce', 'uri', 'response', 'algorithm', 'cnonce', 'opaque', 'qop', 'nc'] as const) {
    const v = credentials[name];
    if (v !== undefined) params.push([name, value(v)]);
  }
  if (credentials.userhash) params.push(['userhash', g(fc.constantFrom, 'true', 'TRUE', '"true"')]);
  else if (g(fc.boolean)) params.push(['userhash', g(fc.constantFrom, 'false', 'FALSE', 'no')]);
  const known = g(fc.shuffledSubarray, params, { minLength: params.length, maxLength: params.length });
  // Extensions keep their relative order: it is part of what is written back.
  const ordered = [...known, ...[...credentials.extensions].map(([n, v]): [string, string] => [n, value(v)])];
  const written = ordered.map(([n, v]) => `${anyCase(n)}${space()}=${space()}${v}`);
  const separator = () => `${space()},${g(fc.constantFrom, '', ',', ' ,')}${space()}`;
  let out = `${g(fc.constantFrom, 'Digest', 'digest', 'DIGEST')}${someSpace()}`;
  written.forEach((param, i) => (out += (i === 0 ? '' : separator()) + param));
  return `${space()}${out}${space()}`;
}

function onlyDigestParseErrors(run: () => void): void {
  try {
    run();
  } catch (error) {
    if (!(error instanceof DigestParseError)) throw error;
  }
}

describe('credentials properties', () => {
  it('parse(serialize(c)) gives back c', () => {
    fc.assert(
      fc.property(credentialsArbitrary, (credentials) => {
        assert.deepEqual(parseCredentials(serializeCredentials(credentials)), credentials);
      }),
      { numRuns: 500 },
    );
  });

  it('however a peer formats them, parsing gives the same credentials and writing reaches a fixed point', () => {
    fc.assert(
      fc.property(credentialsArbitrary, fc.gen(), (credentials, g) => {
        const written = messy(credentials, g);
        const parsed = parseCredentials(written);
        assert.deepEqual(parsed, credentials, written);
        const once = serializeCredentials(parsed);
        assert.equal(once, serializeCredentials(credentials));
        assert.equal(serializeCredentials(parseCredentials(once)), once);
      }),
      { numRuns: 500 },
    );
  });

  it('throws nothing but DigestParseError on any text, and what parses writes back to a fixed point', () => {
    const nearlyValid = credentialsArbitrary.chain((credentials) => {
      const value = serializeCredentials(credentials);
      return fc.tuple(fc.nat(value.length), fc.nat(value.length), fc.string({ maxLength: 3 })).map(([at, cut, insert]) => {
        const end = Math.min(value.length, at + (cut % 4));
        return value.slice(0, at) + insert + value.slice(end);
      });
    });
    const input = fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ unit: fc.constantFrom(...'Digest realm=",\\ \t'), maxLength: 40 }), nearlyValid);
    fc.assert(
      fc.property(input, (value) => {
        onlyDigestParseErrors(() => {
          const once = serializeCredentials(parseCredentials(value));
          assert.equal(serializeCredentials(parseCredentials(once)), once);
        });
        onlyDigestParseErrors(() => {
          const once = parseChallenges(value).map(serializeChallenge);
          assert.deepEqual(parseChallenges(once).map(serializeChallenge), once);
        });
      }),
      { numRuns: 2000 },
    );
  });
});
