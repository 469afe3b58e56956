/**
 * The UAC side of SIP digest authentication: RFC 3261 §22 with the Digest scheme of RFC 7616 as
 * SIP uses it (RFC 8760). Given the challenges of a 401 or 407, it says whether the request is
 * worth sending again and, if so, the Authorization or Proxy-Authorization values to send.
 * The arithmetic (computeDigestResponse) is shared with the server side.
 */
import { createHash, randomBytes as nodeRandomBytes } from 'node:crypto';
import {
  DIGEST_ALGORITHMS,
  DigestParseError,
  hashOfAlgorithm,
  isSessionAlgorithm,
  parseChallenges,
  parseDigestAlgorithm,
  serializeCredentials,
  type DigestAlgorithm,
  type DigestChallenge,
  type DigestCredentials,
  type DigestHashName,
} from './digest-challenge.js';

// ---------------------------------------------------------------------------------------------
// The arithmetic (RFC 7616 §3.4.1–§3.4.4)

const NODE_HASH: Record<DigestHashName, string> = {
  MD5: 'md5',
  'SHA-256': 'sha256',
  // RFC 7616 §3.2: SHA-512/256 is its own function (its own initial values), not a truncated SHA-512.
  'SHA-512-256': 'sha512-256',
};

/** H(data) as lower-case hex; strings are hashed as UTF-8 (RFC 7616 §4). */
export function digestHash(hash: DigestHashName, data: string | Uint8Array): string {
  return createHash(NODE_HASH[hash]).update(data).digest('hex');
}

/** What proves the user: the password, or H(username:realm:password) precomputed (a trunk's HA1). */
export type DigestSecret = { readonly password: string } | { readonly ha1: string };

export interface DigestResponseInput {
  readonly algorithm: DigestAlgorithm;
  /** The user name itself, even when the header carries its hash (RFC 7616 §3.4.4). */
  readonly username: string;
  readonly realm: string;
  readonly secret: DigestSecret;
  readonly nonce: string;
  readonly method: string;
  /** The digest-uri as sent in the `uri` parameter. */
  readonly uri: string;
  /** Absent for the RFC 2069 form. */
  readonly qop?: string;
  /** The nonce-count exactly as written in the header. */
  readonly nc?: string;
  readonly cnonce?: string;
  /** The message body, for qop=auth-int; no body hashes as the empty string (RFC 3261 §22.4). */
  readonly body?: string | Uint8Array;
}

/** The request-digest: the value of the `response` parameter, lower-case hex. */
export function computeDigestResponse(input: DigestResponseInput): string {
  const hash = hashOfAlgorithm(input.algorithm);
  const h = (data: string | Uint8Array) => digestHash(hash, data);
  // RFC 7616 §3.4.2: A1 = username:realm:password; for -sess, H(that):nonce:cnonce.
  let ha1 = 'ha1' in input.secret ? input.secret.ha1.toLowerCase() : h(`${input.username}:${input.realm}:${input.secret.password}`);
  if (isSessionAlgorithm(input.algorithm)) ha1 = h(`${ha1}:${input.nonce}:${input.cnonce ?? ''}`);
  // RFC 7616 §3.4.3: A2 = method:uri, plus :H(entity-body) for auth-int.
  const a2 = input.qop === 'auth-int' ? `${input.method}:${input.uri}:${h(input.body ?? '')}` : `${input.method}:${input.uri}`;
  // RFC 7616 §3.4.1; without qop, the RFC 2069 form that RFC 3261 §22.4 keeps for old servers.
  if (input.qop === undefined) return h(`${ha1}:${input.nonce}:${h(a2)}`);
  return h(`${ha1}:${input.nonce}:${input.nc ?? ''}:${input.cnonce ?? ''}:${input.qop}:${h(a2)}`);
}

// ---------------------------------------------------------------------------------------------
// Deciding whether to retry

export type AuthorizationHeaderName = 'Authorization' | 'Proxy-Authorization';

/** RFC 3261 §22.2, §22.3: a 401 is answered with Authorization, a 407 with Proxy-Authorization. */
export function authorizationHeaderFor(status: 401 | 407): AuthorizationHeaderName {
  return status === 407 ? 'Proxy-Authorization' : 'Authorization';
}

/** One protection space the request carried credentials for. */
export interface DigestAttemptEntry {
  readonly headerName: AuthorizationHeaderName;
  readonly realm: string;
  readonly nonce: string;
  /** How many stale challenges this request has already been re-sent for. */
  readonly staleRetries: number;
  /** Sent from a cached challenge, before this request was challenged for the realm. */
  readonly preemptive: boolean;
}

/**
 * What a request carried, to be handed back with the next 401/407 for the same request so
 * that the client can tell a rejection from a first challenge.
 */
export interface DigestAttempt {
  readonly entries: readonly DigestAttemptEntry[];
}

export type RetryDecision =
  | { readonly retry: true; readonly stale: boolean }
  | { readonly retry: false; readonly reason: 'credentials-rejected' | 'too-many-stale' };

export const DEFAULT_MAX_STALE_RETRIES = 2;

/**
 * Whether a challenge for one realm is worth answering, given what the request carried.
 *
 * RFC 3261 §22.1: "A UAC MUST NOT re-attempt requests with the credentials that have just been
 * rejected (though the request may be retried if the nonce was stale)", and RFC 7616 §3.3: a
 * challenge without stale=true means the user name or password is wrong. So a challenge for a
 * realm the request answered is a rejection unless it is stale, whatever its nonce: servers
 * that mint a nonce per challenge would otherwise be retried forever. The one exception is a
 * nonce reused from cache that the server no longer knows: it is answered once with the new
 * nonce. Stale retries are bounded too, against a server whose nonces are always stale.
 */
export function decideRetry(
  previous: DigestAttempt | undefined,
  headerName: AuthorizationHeaderName,
  challenge: DigestChallenge,
  maxStaleRetries = DEFAULT_MAX_STALE_RETRIES,
): RetryDecision {
  const sent = previous?.entries.find((entry) => entry.headerName === headerName && entry.realm === challenge.realm);
  if (!sent) return { retry: true, stale: challenge.stale };
  if (challenge.stale) {
    return sent.staleRetries < maxStaleRetries ? { retry: true, stale: true } : { retry: false, reason: 'too-many-stale' };
  }
  if (sent.preemptive && sent.nonce !== challenge.nonce) return { retry: true, stale: false };
  return { retry: false, reason: 'credentials-rejected' };
}

// ---------------------------------------------------------------------------------------------
// The client

export type DigestClientCredentials =
  | {
      readonly username: string;
      readonly password: string;
      /** Answer this realm only; any realm when absent. */
      readonly realm?: string;
    }
  | {
      readonly username: string;
      /** An HA1 is bound to its realm, so the realm is required. */
      readonly realm: string;
      /** H(username:realm:password), hex. */
      readonly ha1: string;
      /** The hash the HA1 was computed with; only algorithms of that hash can be answered. MD5 by default. */
      readonly ha1Hash?: DigestHashName;
    };

export interface DigestClientOptions {
  readonly credentials: DigestClientCredentials;
  /** The random source for cnonces; crypto.randomBytes by default. Tests inject a fixed one. */
  readonly randomBytes?: (size: number) => Uint8Array;
  /** The algorithms this client may answer with, e.g. without MD5; all of DIGEST_ALGORITHMS by default. */
  readonly algorithms?: readonly DigestAlgorithm[];
  readonly maxStaleRetries?: number;
}

export interface DigestRequest {
  readonly method: string;
  /** The Request-URI as it will be sent; it becomes the `uri` parameter (RFC 3261 §22.4). */
  readonly uri: string;
  readonly body?: string | Uint8Array;
}

export interface AuthorizationHeader {
  readonly name: AuthorizationHeaderName;
  readonly value: string;
  readonly realm: string;
}

export type DigestGiveUpReason =
  /** A realm the request answered was challenged again without stale=true (RFC 3261 §22.1). */
  | 'credentials-rejected'
  | 'too-many-stale'
  /** No Digest challenge with an algorithm, qop and realm these credentials can answer. */
  | 'no-usable-challenge'
  /** No challenge could be read at all; `cause` says why. */
  | 'malformed-challenge';

export type DigestChallengeAnswer =
  | {
      readonly retry: true;
      /**
       * Every Authorization and Proxy-Authorization field the re-sent request carries, replacing
       * the ones it had: the realms just challenged and those it already answered.
       */
      readonly headers: readonly AuthorizationHeader[];
      /** Hand back with the next 401/407 to this request. */
      readonly attempt: DigestAttempt;
    }
  | {
      readonly retry: false;
      readonly reason: DigestGiveUpReason;
      readonly realm?: string;
      readonly cause?: DigestParseError;
    };

/** A challenge being answered: its nonce's count moves on each time it is used. */
interface NonceState {
  readonly headerName: AuthorizationHeaderName;
  readonly challenge: DigestChallenge;
  readonly algorithm: DigestAlgorithm;
  readonly qop: 'auth' | 'auth-int' | undefined;
  nc: number;
}

const HASH_STRENGTH: Record<DigestHashName, number> = { MD5: 0, 'SHA-256': 1, 'SHA-512-256': 2 };
const MAX_REMEMBERED_REALMS = 32;
/** 24 random bytes: 192 bits, written as 32 base64 characters without padding, like RFC 7616's examples. */
const CNONCE_BYTES = 24;

/**
 * Answers digest challenges for one set of credentials (a trunk, a registration). It remembers
 * the last challenge per realm so that a nonce used again gets the next nonce-count, and so
 * that later requests can carry credentials up front.
 */
export class DigestClient {
  private readonly credentials: DigestClientCredentials;
  private readonly randomBytes: (size: number) => Uint8Array;
  private readonly algorithms: readonly DigestAlgorithm[];
  private readonly maxStaleRetries: number;
  /** Keyed by header name and realm, least recently used first. */
  private readonly states = new Map<string, NonceState>();

  constructor(options: DigestClientOptions) {
    this.credentials = options.credentials;
    this.randomBytes = options.randomBytes ?? nodeRandomBytes;
    this.algorithms = options.algorithms ?? DIGEST_ALGORITHMS;
    this.maxStaleRetries = options.maxStaleRetries ?? DEFAULT_MAX_STALE_RETRIES;
  }

  /**
   * Answers a 401 or 407. `challengeValues` are its WWW-Authenticate (401) or
   * Proxy-Authenticate (407) values, one per header line; `previous` is the attempt returned for
   * the request this response answers, if it was already sent with credentials.
   */
  respond(
    status: 401 | 407,
    challengeValues: readonly string[],
    request: DigestRequest,
    previous?: DigestAttempt,
  ): DigestChallengeAnswer {
    const headerName = authorizationHeaderFor(status);
    const read = readDigestChallenges(challengeValues);
    if (read.challenges.length === 0 && read.error) return { retry: false, reason: 'malformed-challenge', cause: read.error };

    const chosen = this.chooseByRealm(headerName, read.challenges);
    if (chosen.length === 0) return { retry: false, reason: 'no-usable-challenge' };

    const entries = new Map<string, DigestAttemptEntry>();
    for (const entry of previous?.entries ?? []) entries.set(stateKey(entry.headerName, entry.realm), entry);
    for (const state of chosen) {
      const decision = decideRetry(previous, headerName, state.challenge, this.maxStaleRetries);
      if (!decision.retry) {
        // Nor up front on later requests: that would only repeat the rejected credentials.
        this.states.delete(stateKey(headerName, state.challenge.realm));
        return { retry: false, reason: decision.reason, realm: state.challenge.realm };
      }
    }
    for (const state of chosen) {
      const key = stateKey(headerName, state.challenge.realm);
      const sent = entries.get(key);
      const known = this.states.get(key);
      // A nonce seen before keeps counting (RFC 7616 §3.4: nc counts the requests sent with it).
      if (known && known.challenge.nonce === state.challenge.nonce) state.nc = known.nc;
      this.remember(key, state);
      entries.set(key, {
        headerName,
        realm: state.challenge.realm,
        nonce: state.challenge.nonce,
        staleRetries: (sent?.staleRetries ?? 0) + (sent && state.challenge.stale ? 1 : 0),
        preemptive: false,
      });
    }

    const headers: AuthorizationHeader[] = [];
    const kept: DigestAttemptEntry[] = [];
    for (const [key, entry] of entries) {
      const state = this.states.get(key);
      if (!state) continue;
      headers.push(this.authorization(state, request));
      kept.push(entry);
    }
    return { retry: true, headers, attempt: { entries: kept } };
  }

  /**
   * Credentials for a new request from the challenges remembered, before any challenge: the
   * next REGISTER refresh, say. Proxy-Authorization is left out unless `includeProxy`: RFC 3261
   * §22.3 forbids caching proxy credentials across dialogs, except for the realm of a
   * configured outbound proxy.
   */
  authorize(request: DigestRequest, options: { includeProxy?: boolean } = {}): { headers: AuthorizationHeader[]; attempt: DigestAttempt } {
    const headers: AuthorizationHeader[] = [];
    const entries: DigestAttemptEntry[] = [];
    for (const state of this.states.values()) {
      const { headerName, challenge } = state;
      if (headerName === 'Proxy-Authorization' && !options.includeProxy) continue;
      headers.push(this.authorization(state, request));
      entries.push({ headerName, realm: challenge.realm, nonce: challenge.nonce, staleRetries: 0, preemptive: true });
    }
    return { headers, attempt: { entries } };
  }

  /** Forgets every remembered challenge, e.g. after the credentials changed. */
  forget(): void {
    this.states.clear();
  }

  /**
   * The challenge to answer for each realm: the strongest hash offered, the earlier one on a tie.
   * RFC 8760 §2.4 has the UAC take the topmost it supports "unless a local policy dictates
   * otherwise"; ours is strength, because challenges are not integrity-protected and an on-path
   * attacker could reorder them to put MD5 first (the downgrade of RFC 8760 §3).
   */
  private chooseByRealm(headerName: AuthorizationHeaderName, challenges: readonly DigestChallenge[]): NonceState[] {
    const best = new Map<string, NonceState>();
    for (const challenge of challenges) {
      const usable = this.usable(challenge);
      if (!usable) continue;
      const current = best.get(challenge.realm);
      if (!current || HASH_STRENGTH[hashOfAlgorithm(usable.algorithm)] > HASH_STRENGTH[hashOfAlgorithm(current.algorithm)]) {
        best.set(challenge.realm, { headerName, challenge, ...usable, nc: 0 });
      }
    }
    return [...best.values()];
  }

  private usable(challenge: DigestChallenge): Pick<NonceState, 'algorithm' | 'qop'> | undefined {
    const algorithm = parseDigestAlgorithm(challenge.algorithm);
    if (algorithm === undefined || !this.algorithms.includes(algorithm)) return undefined;
    const credentials = this.credentials;
    // RFC 3261 §22.1: each realm is its own protection space with its own user names and passwords.
    if (credentials.realm !== undefined && credentials.realm !== challenge.realm) return undefined;
    if ('ha1' in credentials && hashOfAlgorithm(algorithm) !== (credentials.ha1Hash ?? 'MD5')) return undefined;
    if (challenge.qop.length === 0) {
      // RFC 7616 §3.4: cnonce is sent only with qop, yet a -sess A1 needs one: unanswerable.
      if (isSessionAlgorithm(algorithm)) return undefined;
      return { algorithm, qop: undefined };
    }
    // auth protects as much as SIP needs; auth-int only when it is all that is offered.
    if (challenge.qop.includes('auth')) return { algorithm, qop: 'auth' };
    if (challenge.qop.includes('auth-int')) return { algorithm, qop: 'auth-int' };
    return undefined;
  }

  private remember(key: string, state: NonceState): void {
    this.states.delete(key);
    this.states.set(key, state);
    if (this.states.size > MAX_REMEMBERED_REALMS) this.states.delete(this.states.keys().next().value!);
  }

  private authorization(state: NonceState, request: DigestRequest): AuthorizationHeader {
    const { headerName, challenge, algorithm, qop } = state;
    const credentials = this.credentials;
    let nc: string | undefined;
    let cnonce: string | undefined;
    if (qop !== undefined) {
      state.nc += 1;
      nc = state.nc.toString(16).padStart(8, '0');
      cnonce = Buffer.from(this.randomBytes(CNONCE_BYTES)).toString('base64');
    }
    const secret: DigestSecret = 'ha1' in credentials ? { ha1: credentials.ha1 } : { password: credentials.password };
    const response = computeDigestResponse({
      algorithm,
      username: credentials.username,
      realm: challenge.realm,
      secret,
      nonce: challenge.nonce,
      method: request.method,
      uri: request.uri,
      qop,
      nc,
      cnonce,
      body: request.body,
    });
    const value: DigestCredentials = {
      kind: 'digest',
      scheme: 'Digest',
      // RFC 7616 §3.4.4: with userhash, the header names the user by H(username:realm).
      username: challenge.userhash ? digestHash(hashOfAlgorithm(algorithm), `${credentials.username}:${challenge.realm}`) : credentials.username,
      realm: challenge.realm,
      nonce: challenge.nonce,
      uri: request.uri,
      response,
      // RFC 7616 §3.4: algorithm and opaque are echoed as the challenge gave them.
      algorithm: challenge.algorithm,
      cnonce,
      opaque: challenge.opaque,
      qop,
      nc,
      userhash: challenge.userhash,
      extensions: new Map(),
    };
    return { name: headerName, value: serializeCredentials(value), realm: challenge.realm };
  }
}

function stateKey(headerName: AuthorizationHeaderName, realm: string): string {
  return `${headerName} ${realm}`;
}

/**
 * Reads the Digest challenges of a response, line by line, so that one unreadable line does not
 * hide a good challenge on another. Other schemes are ignored (RFC 7235 §2.1: a client ignores
 * challenges it does not understand).
 */
function readDigestChallenges(values: readonly string[]): { challenges: DigestChallenge[]; error?: DigestParseError } {
  const challenges: DigestChallenge[] = [];
  let error: DigestParseError | undefined;
  for (const value of values) {
    try {
      for (const challenge of parseChallenges(value)) if (challenge.kind === 'digest') challenges.push(challenge);
    } catch (caught) {
      if (!(caught instanceof DigestParseError)) throw caught;
      error ??= caught;
    }
  }
  return error ? { challenges, error } : { challenges };
}
