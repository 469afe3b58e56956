/**
 * Request ids and the access log. Every response carries `Request-Id: req_…` (problems repeat it
 * as `requestId`), and every request is logged once, when it ends, by pino-http with that id, the
 * account and key that made it, the status and the time taken: never headers (the API key is in
 * `Authorization`) nor bodies (CONVENTIONS §13).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `req_` and 24 random base62 characters (~143 bits). */
export function newRequestId(): string {
  const bytes = randomBytes(24);
  let id = 'req_';
  for (const byte of bytes) id += ALPHABET[byte % ALPHABET.length];
  return id;
}

export function requestId(generate: () => string = newRequestId): RequestHandler {
  return (_req, res, next) => {
    const id = generate();
    res.locals.requestId = id;
    res.setHeader('Request-Id', id);
    next();
  };
}

/** The pino-http middleware: one line per request, at `info` (4xx) or `error` (5xx). */
export function accessLog(logger: Logger): RequestHandler {
  const middleware = pinoHttp({
    logger,
    genReqId: (_req: IncomingMessage, res: ServerResponse) => String((res as Response).locals?.requestId ?? newRequestId()),
    customProps: (_req: IncomingMessage, res: ServerResponse) => {
      const principal = (res as Response).locals?.principal as { accountId?: string; keyId?: string } | undefined;
      return principal ? { accountId: principal.accountId, keyId: principal.keyId } : {};
    },
    customLogLevel: (_req: IncomingMessage, res: ServerResponse, error?: Error) => (error || res.statusCode >= 500 ? 'error' : 'info'),
    serializers: {
      req: (req: { id?: unknown; method?: string; url?: string; remoteAddress?: string }) => ({ id: req.id, method: req.method, url: req.url, remoteAddress: req.remoteAddress }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
    },
  });
  return middleware as unknown as RequestHandler;
}
