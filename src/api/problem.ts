/**
 * RFC 9457 problem details: the one error shape of the API. Handlers throw `ApiProblem`; the
 * error middleware here turns it, body-parser failures, unknown routes, wrong methods and
 * unexpected errors into `application/problem+json`. Only src/api makes HTTP errors out of
 * domain errors (CONVENTIONS §5): `createApp({ mapError })` is where a store's `CallNotFound`
 * becomes a 404.
 */
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { FieldError, Problem } from './contract.js';

/** The kinds of problem this API answers with, their status and title; `/docs/errors` lists them. */
export const PROBLEM_CATALOGUE = {
  bad_request: { status: 400, title: 'Bad request', description: 'The request is malformed at the HTTP level (for example a path with a broken %-escape).' },
  invalid_json: { status: 400, title: 'Invalid JSON', description: 'The request body is not valid JSON. Send a JSON object with `Content-Type: application/json`.' },
  invalid_parameter: {
    status: 400,
    title: 'Invalid parameter',
    description: 'A query parameter or header is missing or malformed; `errors` names each one (`in: query`, `in: header`).',
  },
  invalid_cursor: { status: 400, title: 'Invalid cursor', description: 'The `cursor` is not a `nextCursor` this API returned. Start again without `cursor`.' },
  authentication_required: {
    status: 401,
    title: 'Authentication required',
    description: 'The request has no API key. Send `Authorization: Bearer <secret>`.',
  },
  invalid_api_key: { status: 401, title: 'Invalid API key', description: 'The API key is unknown or revoked.' },
  forbidden: { status: 403, title: 'Forbidden', description: 'The API key may not do this.' },
  origin_not_allowed: { status: 403, title: 'Origin not allowed', description: 'A public button request came from a page whose origin is not one of the button\'s `allowedOrigins`.' },
  button_disabled: { status: 403, title: 'Button disabled', description: 'The button is disabled (`enabled: false`): it takes no calls.' },
  outside_business_hours: { status: 403, title: 'Outside business hours', description: 'The button takes calls in its `businessHours` only.' },
  not_found: { status: 404, title: 'Not found', description: 'No such resource in this account, or no such URL.' },
  method_not_allowed: { status: 405, title: 'Method not allowed', description: 'The URL exists but not with this method; the `Allow` header lists the methods it takes.' },
  idempotency_key_reused: {
    status: 409,
    title: 'Idempotency key reused',
    description: 'The `Idempotency-Key` was used before with a different request. Use a new key for a new request.',
  },
  idempotency_key_in_progress: {
    status: 409,
    title: 'Idempotency key in progress',
    description: 'The first request with this `Idempotency-Key` is still being processed. Retry in a moment.',
  },
  call_already_ended: { status: 409, title: 'Call already ended', description: 'The call has ended; it cannot be hung up or changed.' },
  call_not_connected: { status: 409, title: 'Call not connected', description: 'Only a connected call can be transferred.' },
  endpoint_disabled: { status: 409, title: 'Endpoint disabled', description: 'The webhook endpoint is disabled; enable it (`PATCH` with `enabled: true`) before sending to it.' },
  conflict: { status: 409, title: 'Conflict', description: 'The request conflicts with the current state of the resource.' },
  body_too_large: { status: 413, title: 'Body too large', description: 'The request body is larger than the limit (64 KiB).' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type', description: 'Send the body as JSON with `Content-Type: application/json`.' },
  validation_failed: {
    status: 422,
    title: 'Validation failed',
    description: 'The body is JSON but breaks the schema. `errors` names every field at fault with a JSON pointer (`/a/uri`) and why.',
  },
  rate_limited: { status: 429, title: 'Too many requests', description: 'Slow down; `Retry-After` says when to try again.' },
  internal_error: { status: 500, title: 'Internal error', description: 'Something went wrong on our side. Quote the `Request-Id` if you contact us.' },
  service_unavailable: { status: 503, title: 'Service unavailable', description: 'A dependency is down; retry later.' },
} as const satisfies Record<string, { status: number; title: string; description: string }>;

export type ProblemCode = keyof typeof PROBLEM_CATALOGUE;

/** Where problem `type` URIs point: the error catalogue page, one anchor per code. */
export const PROBLEM_TYPE_BASE = '/docs/errors#';

export interface ApiProblemOptions {
  detail?: string;
  /** Every field at fault (validation problems). */
  errors?: FieldError[];
  /** Overrides the catalogue's status (required for a code outside the catalogue). */
  status?: number;
  title?: string;
  /** Response headers that belong to the problem (`WWW-Authenticate`, `Allow`, `Retry-After`). */
  headers?: Readonly<Record<string, string>>;
  cause?: unknown;
}

/** An error a handler throws to answer with a problem. */
export class ApiProblem extends Error {
  override readonly name = 'ApiProblem';
  readonly code: string;
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ProblemCode | (string & {}), options: ApiProblemOptions = {}) {
    const known = (PROBLEM_CATALOGUE as Record<string, { status: number; title: string } | undefined>)[code];
    const status = options.status ?? known?.status;
    const title = options.title ?? known?.title;
    if (status === undefined || title === undefined) throw new TypeError(`ApiProblem ${code}: a code outside the catalogue needs a status and a title`);
    super(options.detail ?? title, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = status;
    this.title = title;
    this.detail = options.detail;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }

  /** 404 for a resource of this account that does not exist: `ApiProblem.notFound('call', id)`. */
  static notFound(resource: string, id: string): ApiProblem {
    return new ApiProblem('not_found', { detail: `No ${resource} with id '${id}'.` });
  }

  /** 422 naming the body fields at fault: `ApiProblem.invalidFields([{ field: '/trunk', message: 'no such trunk' }])`. */
  static invalidFields(errors: FieldError[]): ApiProblem {
    return new ApiProblem('validation_failed', { detail: countDetail(errors, 'field'), errors: errors.map((error) => ({ in: 'body', ...error })) });
  }

  /** The RFC 9457 body for one request. */
  toJSON(instance?: string, requestId?: string): Problem {
    return {
      type: `${PROBLEM_TYPE_BASE}${this.code}`,
      title: this.title,
      status: this.status,
      ...(this.detail !== undefined ? { detail: this.detail } : {}),
      ...(instance !== undefined ? { instance } : {}),
      code: this.code,
      ...(requestId !== undefined ? { requestId } : {}),
      ...(this.errors !== undefined ? { errors: this.errors } : {}),
    };
  }
}

/** "1 field is invalid." / "3 parameters are invalid.": counting fields, not the rules they break. */
export function countDetail(errors: readonly FieldError[], noun: 'field' | 'parameter'): string {
  const count = new Set(errors.map((error) => `${error.in ?? ''}${error.field}`)).size;
  return count === 1 ? `1 ${noun} is invalid.` : `${count} ${noun}s are invalid.`;
}

/** Writes a problem as the response. */
export function sendProblem(req: Request, res: Response, problem: ApiProblem): void {
  for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
  const requestId = typeof res.locals.requestId === 'string' ? res.locals.requestId : undefined;
  res
    .status(problem.status)
    .type('application/problem+json')
    .send(JSON.stringify(problem.toJSON(req.originalUrl.split('?')[0], requestId)));
}

interface HttpError {
  type?: unknown;
  status?: unknown;
  expose?: unknown;
  message?: unknown;
  limit?: unknown;
}

/** body-parser and router errors (http-errors with a `type`) as problems; undefined for anything else. */
function problemFromHttpError(error: unknown, bodyLimit: number): ApiProblem | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const http = error as HttpError;
  switch (http.type) {
    case 'entity.parse.failed':
      return new ApiProblem('invalid_json', { detail: `The request body is not valid JSON: ${String(http.message)}`, cause: error });
    case 'entity.too.large':
      return new ApiProblem('body_too_large', { detail: `The request body is larger than ${typeof http.limit === 'number' ? http.limit : bodyLimit} bytes.`, cause: error });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiProblem('unsupported_media_type', { detail: `${String(http.message)}; send UTF-8 JSON.`, cause: error });
    default:
      break;
  }
  if (typeof http.status === 'number' && http.status >= 400 && http.status < 500) {
    return new ApiProblem('bad_request', {
      status: http.status,
      detail: http.expose === true && typeof http.message === 'string' ? http.message : 'The request is malformed.',
      cause: error,
    });
  }
  return undefined;
}

export interface ErrorHandlerOptions {
  logger: Logger;
  bodyLimit: number;
  mapError?: (error: unknown) => ApiProblem | undefined;
}

/** The last middleware: every error becomes a problem; 5xx are logged with the error, never sent. */
export function problemErrorHandler(options: ErrorHandlerOptions): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    let problem: ApiProblem | undefined = error instanceof ApiProblem ? error : undefined;
    if (!problem && options.mapError) {
      try {
        problem = options.mapError(error);
      } catch (mappingError) {
        options.logger.error({ err: mappingError }, 'mapError threw');
      }
    }
    problem ??= problemFromHttpError(error, options.bodyLimit) ?? new ApiProblem('internal_error', { cause: error });
    if (problem.status >= 500) {
      const log = (req as Request & { log?: Logger }).log ?? options.logger;
      log.error({ err: problem.code === 'internal_error' && problem.cause !== undefined ? problem.cause : problem }, 'request failed');
    }
    sendProblem(req, res, problem);
  };
}

/** A route path (Express syntax, `:name` parameters) as a matcher of request paths. */
export function routeMatcher(path: string): RegExp {
  const pattern = path
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${pattern}/?$`, 'i');
}

/**
 * After every router: 405 with `Allow` when the path is served with other methods, else 404.
 * `routes` is read on first use, when every router is registered.
 */
export function unmatchedRoute(routes: () => ReadonlyArray<{ method: string; path: string }>): RequestHandler {
  let table: Array<{ matcher: RegExp; methods: Set<string> }> | undefined;
  return (req, res) => {
    if (!table) {
      const byPath = new Map<string, Set<string>>();
      for (const route of routes()) {
        const methods = byPath.get(route.path) ?? new Set<string>();
        methods.add(route.method.toUpperCase());
        if (route.method.toUpperCase() === 'GET') methods.add('HEAD');
        byPath.set(route.path, methods);
      }
      table = [...byPath].map(([path, methods]) => ({ matcher: routeMatcher(path), methods }));
    }
    const allowed = new Set<string>();
    for (const entry of table) if (entry.matcher.test(req.path)) for (const method of entry.methods) allowed.add(method);
    // A route that takes this method but passed the request on (next()) found nothing: that is a 404.
    if (allowed.size > 0 && !allowed.has(req.method)) {
      const allow = [...allowed].sort().join(', ');
      sendProblem(req, res, new ApiProblem('method_not_allowed', { detail: `${req.method} is not allowed on ${req.path}; use ${allow}.`, headers: { Allow: allow } }));
      return;
    }
    sendProblem(req, res, new ApiProblem('not_found', { detail: `No route ${req.method} ${req.path}. See /docs for the API reference.` }));
  };
}
