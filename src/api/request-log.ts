/**
 * Request ids and the access log. Every response carries `Request-Id: req_…` (problems repeat it
 * as `requestId`), and every request is logged once, when it ends, with that id, the
 * account and key that made it, the status and the time taken: never headers (the API key is in
 * `Authorization`) nor bodies (CONVENTIONS §13).
 */
import { randomBytes } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';

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
    // When the request came in: a call's dispatch time (request to first INVITE) is measured from it.
    res.locals.receivedAt = Date.now();
    res.setHeader('Request-Id', id);
    next();
  };
}

/**
 * One line per request when it ends: `request completed` at info (a 5xx: `request errored` at
 * error; a client that went away first: `request aborted` at warn), with the request id, method,
 * URL, client address, status, time taken and the principal. `req.log` is a child logger bound to
 * the request id, made the first time a handler logs. Written here rather than with pino-http:
 * that made a child logger and several closures for every request, on the API's hot path.
 */
export function accessLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    const id = (): string => String(res.locals?.requestId ?? '');
    let child: Logger | undefined;
    Object.defineProperty(req, 'log', { configurable: true, enumerable: false, get: () => (child ??= logger.child({ req: { id: id(), method: req.method, url: req.originalUrl } })) });
    const done = (finished: boolean): void => {
      res.off('finish', onFinish);
      res.off('close', onClose);
      const level = !finished ? 'warn' : res.statusCode >= 500 ? 'error' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      const principal = res.locals?.principal as { accountId?: string; keyId?: string } | undefined;
      logger[level](
        {
          req: { id: id(), method: req.method, url: req.originalUrl, remoteAddress: req.socket?.remoteAddress },
          ...(principal ? { accountId: principal.accountId, keyId: principal.keyId } : {}),
          res: { statusCode: res.statusCode },
          responseTime: Math.round(performance.now() - started),
        },
        !finished ? 'request aborted' : level === 'error' ? 'request errored' : 'request completed',
      );
    };
    const onFinish = (): void => done(true);
    const onClose = (): void => done(res.writableFinished);
    res.on('finish', onFinish);
    res.on('close', onClose);
    next();
  };
}
