/**
 * The UAS/registrar side of SIP digest authentication (RFC 3261 §22.2–§22.4, RFC 7616, RFC 8760).
 * Nonces are stateless: a timestamp and a salt under an HMAC, so any instance holding the secret
 * can check a nonce it never issued, and an old one is recognised as stale rather than forged.
 * The only state is the highest nonce-count seen per nonce, bounded in size.
 */
import { createHmac, randomBytes as nodeRandomBytes, timingSafeEqual } from 'node:crypto';
import {
  DigestParseError,
  hashOfAlgorithm,
  parseCredentials,
  parseDigestAlgorithm,
  serializeChallenge,
  type DigestAlgorithm,
  type DigestCredentials,
  type DigestHashName,
} from './digest-challenge.js';
import { computeDigestResponse, type DigestSecret } from './digest-client.js';

export type ChallengeHeaderName = 'WWW-Authenticate' | 'Proxy-Authenticate';

export interface DigestServerOptions {
  readonly realm: string;
  /** The HMAC key of the nonces, at least 16 bytes; shared by every instance that must accept the others' nonces. */
  readonly secret: string | Uint8Array;
  /**
   * Wall-clock milliseconds since the epoch; Date.now by default. Not the monotonic systemClock
   * of the SIP layer: a nonce outlives the process that issued it.
   */
  readonly now?: () => number;
  /** The salt of each nonce; crypto.randomBytes by default. */
  readonly randomBytes?: (size: number) => Uint8Array;
  /** How long a nonce is good for; after that, a correct response is answered stale=true. */
  readonly nonceLifetimeMs?: number;
  /**
   * The algorithms offered, most preferred first: one challenge each, in this order (RFC 8760
   * §2.3). SHA-256 then MD5 by default, MD5 only for the old UAs that know nothing else.
   */
  readonly algorithms?: readonly DigestAlgorithm[];
  /** The qop-options offered; auth by default. A response without qop (RFC 2069) is refused. */
  readonly qop?: readonly ('auth' | 'auth-int')[];
  /** A proxy challenges with 407 and Proxy-Authenticate (RFC 3261 §22.3). */
  readonly proxy?: boolean;
  /** How many nonces' counts are remembered; the oldest are forgotten beyond it. */
  readonly maxTrackedNonces?: number;
}

/** Finds the secret of a user; `hash` says which hash an HA1 must have been computed with. */
export type DigestSecretLookup = (user: {
  readonly username: string;
  readonly realm: string;
  readonly hash: DigestHashName;
}) => DigestSecret | undefined | Promise<DigestSecret | undefined>;

export interface DigestServerRequest {
  readonly method: string;
  /** The Request-URI as received. */
  readonly uri: string;
  readonly body?: string | Uint8Array;
  /** The values of the request's Authorization (or, for a proxy, Proxy-Authorization) fields. */
  readonly credentials: readonly string[];
}

export type DigestRejectReason =
  /** No Digest credentials for this realm: the first request of most exchanges. */
  | 'missing-credentials'
  | 'malformed-credentials'
  | 'unsupported-algorithm'
  | 'unsupported-qop'
  /** RFC 7616 §3.4.6: the `uri` parameter names another resource than the Request-URI. */
  | 'uri-mismatch'
  /** Not a nonce of ours, or altered: its HMAC does not check. */
  | 'invalid-nonce'
  /** A correct response with an expired (or forgotten) nonce: challenged again with stale=true. */
  | 'stale-nonce'
  /** A correct response with a nonce-count already seen: a replay, challenged with stale=true. */
  | 'replayed-nonce-count'
  | 'unknown-user'
  | 'wrong-response';

export type DigestVerification =
  | {
      readonly ok: true;
      readonly username: string;
      readonly realm: string;
      readonly algorithm: DigestAlgorithm;
      readonly credentials: DigestCredentials;
    }
  | {
      readonly ok: false;
      readonly reason: DigestRejectReason;
      /** 400 for a request to reject outright; otherwise 401 (or 407 for a proxy) with `challenges`. */
      readonly status: 400 | 401 | 407;
      readonly challengeHeaderName: ChallengeHeaderName;
      /** Values for the challenge header, one field each; empty with a 400. */
      readonly challenges: readonly string[];
      /** The user name the request gave, when it gave one: for logs and lockout policies. */
      readonly username?: string;
      readonly cause?: DigestParseError;
    };

const DEFAULT_NONCE_LIFETIME_MS = 5 * 60_000;
const DEFAULT_MAX_TRACKED_NONCES = 10_000;
/** Instances sharing a secret may disagree on the time by this much. */
const MAX_CLOCK_SKEW_MS = 30_000;
const SALT_BYTES = 8;
const PAYLOAD_BYTES = 8 + SALT_BYTES;
const MAC_BYTES = 32;
const NONCE_LENGTH = Math.ceil(((PAYLOAD_BYTES + MAC_BYTES) * 4) / 3);
const NONCE_DOMAIN = 'sip-digest-nonce/1';

export class DigestServer {
  readonly realm: string;
  readonly challengeHeaderName: ChallengeHeaderName;
  readonly credentialsHeaderName: 'Authorization' | 'Proxy-Authorization';
  readonly challengeStatus: 401 | 407;
  private readonly secret: Buffer;
  private readonly now: () => number;
  private readonly randomBytes: (size: number) => Uint8Array;
  private readonly nonceLifetimeMs: number;
  private readonly algorithms: readonly DigestAlgorithm[];
  private readonly qop: readonly string[];
  private readonly counts: NonceCountTracker;

  constructor(options: DigestServerOptions) {
    this.realm = options.realm;
    this.secret = Buffer.from(options.secret);
    if (this.secret.length < 16) throw new RangeError('the nonce secret must be at least 16 bytes');
    this.now = options.now ?? Date.now;
    this.randomBytes = options.randomBytes ?? nodeRandomBytes;
    this.nonceLifetimeMs = options.nonceLifetimeMs ?? DEFAULT_NONCE_LIFETIME_MS;
    this.algorithms = options.algorithms ?? ['SHA-256', 'MD5'];
    if (this.algorithms.length === 0) throw new RangeError('at least one algorithm must be offered');
    this.qop = options.qop ?? ['auth'];
    if (this.qop.length === 0) throw new RangeError('at least one qop must be offered');
    this.counts = new NonceCountTracker(options.maxTrackedNonces ?? DEFAULT_MAX_TRACKED_NONCES);
    this.challengeHeaderName = options.proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate';
    this.credentialsHeaderName = options.proxy ? 'Proxy-Authorization' : 'Authorization';
    this.challengeStatus = options.proxy ? 407 : 401;
  }

  /**
   * Values for the challenge header of a 401/407: one per algorithm, most preferred first
   * (RFC 8760 §2.3), all with the same fresh nonce. `stale` tells the UAC that its password was
   * right and only the nonce has to change (RFC 7616 §3.3).
   */
  challenge(options: { stale?: boolean } = {}): string[] {
    const nonce = this.issueNonce();
    return this.algorithms.map((algorithm) =>
      serializeChallenge({
        kind: 'digest',
        scheme: 'Digest',
        realm: this.realm,
        nonce,
        algorithm,
        qop: this.qop,
        stale: options.stale === true,
        domain: [],
        userhash: false,
        extensions: new Map(),
      }),
    );
  }

  /** Checks a request's credentials; a rejection carries the response to send. */
  async verify(request: DigestServerRequest, lookup: DigestSecretLookup): Promise<DigestVerification> {
    let credentials: DigestCredentials | undefined;
    let parseError: DigestParseError | undefined;
    for (const value of request.credentials) {
      try {
        const parsed = parseCredentials(value);
        // RFC 3261 §22.3: credentials for other realms are someone else's; look for ours.
        if (parsed.kind === 'digest' && parsed.realm === this.realm) {
          credentials = parsed;
          break;
        }
      } catch (caught) {
        if (!(caught instanceof DigestParseError)) throw caught;
        parseError ??= caught;
      }
    }
    if (!credentials) {
      return parseError ? this.badRequest('malformed-credentials', undefined, parseError) : this.reject('missing-credentials');
    }
    const username = credentials.username;

    const algorithm = parseDigestAlgorithm(credentials.algorithm);
    if (algorithm === undefined || !this.algorithms.includes(algorithm)) return this.reject('unsupported-algorithm', username);
    // RFC 7616 §3.4: the qop must be one offered; without one there is no nc to stop replays.
    if (credentials.qop === undefined || !this.qop.includes(credentials.qop)) return this.reject('unsupported-qop', username);
    // userhash is never offered here, so a hashed user name cannot be looked up.
    if (credentials.userhash) return this.badRequest('malformed-credentials', username);
    // RFC 7616 §3.4.6: the uri parameter and the Request-URI must name the same resource.
    if (credentials.uri !== request.uri) return this.badRequest('uri-mismatch', username);

    const issuedAt = this.openNonce(credentials.nonce);
    if (issuedAt === undefined) return this.reject('invalid-nonce', username);

    const secret = await lookup({ username, realm: this.realm, hash: hashOfAlgorithm(algorithm) });
    if (!secret) return this.reject('unknown-user', username);
    if (!checkDigestResponse(credentials, request, secret)) return this.reject('wrong-response', username);

    // RFC 7616 §3.3: stale=true only once the response has proved the password.
    const now = this.now();
    if (now - issuedAt > this.nonceLifetimeMs) return this.reject('stale-nonce', username, true);
    const nc = parseInt(credentials.nc!, 16);
    const use = this.counts.use(credentials.nonce, issuedAt, nc, now - this.nonceLifetimeMs);
    if (use === 'replayed') return this.reject('replayed-nonce-count', username, true);
    if (use === 'forgotten') return this.reject('stale-nonce', username, true);
    return { ok: true, username, realm: credentials.realm, algorithm, credentials };
  }

  private issueNonce(): string {
    const payload = Buffer.alloc(PAYLOAD_BYTES);
    payload.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(this.now()))), 0);
    Buffer.from(this.randomBytes(SALT_BYTES)).copy(payload, 8, 0, SALT_BYTES);
    return Buffer.concat([payload, this.mac(payload)]).toString('base64url');
  }

  /** The issue time of a nonce of ours, or undefined for anything else. */
  private openNonce(nonce: string): number | undefined {
    if (nonce.length !== NONCE_LENGTH || !/^[A-Za-z0-9_-]+$/.test(nonce)) return undefined;
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== PAYLOAD_BYTES + MAC_BYTES) return undefined;
    const payload = raw.subarray(0, PAYLOAD_BYTES);
    if (!timingSafeEqual(raw.subarray(PAYLOAD_BYTES), this.mac(payload))) return undefined;
    const issuedAt = Number(payload.readBigUInt64BE(0));
    if (issuedAt - this.now() > MAX_CLOCK_SKEW_MS) return undefined;
    return issuedAt;
  }

  private mac(payload: Buffer): Buffer {
    // The realm is under the MAC so that a nonce from one realm is worthless in another.
    return createHmac('sha256', this.secret).update(`${NONCE_DOMAIN}\0${this.realm}\0`).update(payload).digest();
  }

  private reject(reason: DigestRejectReason, username?: string, stale = false): DigestVerification {
    return {
      ok: false,
      reason,
      status: this.challengeStatus,
      challengeHeaderName: this.challengeHeaderName,
      challenges: this.challenge({ stale }),
      ...(username === undefined ? {} : { username }),
    };
  }

  private badRequest(reason: DigestRejectReason, username?: string, cause?: DigestParseError): DigestVerification {
    return {
      ok: false,
      reason,
      status: 400,
      challengeHeaderName: this.challengeHeaderName,
      challenges: [],
      ...(username === undefined ? {} : { username }),
      ...(cause === undefined ? {} : { cause }),
    };
  }
}

/**
 * Whether credentials carry the response that `secret` gives for the request, compared in
 * constant time. Only the arithmetic: the nonce, realm and nonce-count are the caller's to check.
 */
export function checkDigestResponse(
  credentials: DigestCredentials,
  request: { readonly method: string; readonly body?: string | Uint8Array },
  secret: DigestSecret,
): boolean {
  const algorithm = parseDigestAlgorithm(credentials.algorithm);
  if (algorithm === undefined) return false;
  const expected = computeDigestResponse({
    algorithm,
    username: credentials.username,
    realm: credentials.realm,
    secret,
    nonce: credentials.nonce,
    method: request.method,
    uri: credentials.uri,
    qop: credentials.qop,
    nc: credentials.nc,
    cnonce: credentials.cnonce,
    body: request.body,
  });
  return constantTimeEqual(expected, credentials.response.toLowerCase());
}

function constantTimeEqual(expected: string, received: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(received);
  // timingSafeEqual needs equal lengths; compare with itself so that the time does not tell.
  if (a.length !== b.length) {
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

/**
 * The highest nonce-count accepted per nonce (RFC 7616 §3.4: a count seen twice is a replay),
 * least recently used first. When room runs out the oldest entry is forgotten, and so that its
 * counts cannot be replayed, any untracked nonce issued no later than it is treated as stale.
 */
class NonceCountTracker {
  private readonly highest = new Map<string, { issuedAt: number; nc: number }>();
  /** The newest issue time among the nonces forgotten for room. */
  private horizon = -Infinity;

  constructor(private readonly capacity: number) {}

  use(nonce: string, issuedAt: number, nc: number, expiredBefore: number): 'accepted' | 'replayed' | 'forgotten' {
    const entry = this.highest.get(nonce);
    if (entry) {
      // Strictly increasing: an out-of-order request gets stale=true and is re-sent with a higher count.
      if (nc <= entry.nc) return 'replayed';
      this.highest.delete(nonce);
    } else if (issuedAt <= this.horizon) {
      return 'forgotten';
    }
    this.highest.set(nonce, { issuedAt, nc });
    this.makeRoom(expiredBefore);
    return 'accepted';
  }

  private makeRoom(expiredBefore: number): void {
    for (const [nonce, entry] of this.highest) {
      if (this.highest.size <= this.capacity) return;
      this.highest.delete(nonce);
      // An expired nonce is answered stale anyway, so forgetting it opens nothing.
      if (entry.issuedAt >= expiredBefore) this.horizon = Math.max(this.horizon, entry.issuedAt);
    }
  }
}
