/**
 * API-key authentication: `Authorization: Bearer <secret>` (RFC 6750). The secret is checked by
 * the injected `authenticate` (the store hashes and looks it up); the key's account goes on
 * `res.locals.principal` (and `res.locals.accountId`) for the handlers. Failures are 401 problems
 * with `WWW-Authenticate: Bearer`, and the secret is never logged.
 */
import type { RequestHandler } from 'express';
import { ApiProblem } from './problem.js';

/** Who is calling: the account every record of the request belongs to, and the key used. */
export interface Principal {
  accountId: string;
  keyId: string;
}

/** Checks a key's secret; `null` when it is unknown or revoked. */
export type Authenticate = (secret: string) => Principal | null | Promise<Principal | null>;

export const REALM = 'click-to-dial';
/** Longer "secrets" are refused without asking the store. */
const MAX_SECRET_LENGTH = 512;

function challenge(error?: 'invalid_request' | 'invalid_token'): Record<string, string> {
  return { 'WWW-Authenticate': error ? `Bearer realm="${REALM}", error="${error}"` : `Bearer realm="${REALM}"` };
}

export function bearerAuth(authenticate: Authenticate): RequestHandler {
  return async (req, res, next) => {
    const header = req.headers.authorization;
    if (header === undefined || header.trim() === '') {
      throw new ApiProblem('authentication_required', {
        detail: 'Send your API key in the Authorization header: "Authorization: Bearer sk_live_…".',
        headers: challenge(),
      });
    }
    // RFC 6750 §2.1: the scheme is case-insensitive; the token is b64token characters.
    const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
    if (!match) {
      throw new ApiProblem('authentication_required', {
        detail: 'The Authorization header must be "Bearer <API key>".',
        headers: challenge('invalid_request'),
      });
    }
    const secret = match[1] as string;
    const principal = secret.length <= MAX_SECRET_LENGTH ? await authenticate(secret) : null;
    if (!principal) {
      throw new ApiProblem('invalid_api_key', { detail: 'The API key is not valid (it may have been revoked).', headers: challenge('invalid_token') });
    }
    res.locals.principal = principal;
    res.locals.accountId = principal.accountId;
    next();
  };
}
