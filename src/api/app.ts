/**
 * The HTTP app (Express 5): request ids and the access log, the public probes and docs, then
 * `/v1` behind API-key authentication, the JSON body parser, the resource routers that plug in
 * through `registerRoutes`, and problem+json for every error, unknown route and wrong method.
 *
 * The app knows no database: everything it needs comes in `AppDeps`, which main.ts wires to the
 * store and the queues (CONVENTIONS §1).
 */
import express, { type Express, type RequestHandler } from 'express';
import { pino, type Logger } from 'pino';
import { bearerAuth, type Authenticate } from './auth.js';
import { servedRoutes } from './contract-coverage.js';
import { docsRouter } from './docs.js';
import { healthRoutes, type MetricsFn, type ReadinessCheckFn } from './health.js';
import { loadContract, type ContractDocument } from './openapi-document.js';
import { problemErrorHandler, unmatchedRoute, type ApiProblem } from './problem.js';
import { accessLog, requestId } from './request-log.js';
import { createRouteHelpers, type RouteModule } from './routes.js';
import { compileContract, createValidated } from './validation.js';

export const DEFAULT_BODY_LIMIT = 64 * 1024;
export const PUBLIC_BODY_LIMIT = 1024;

export interface AppDeps {
  /** Checks an API key's secret (the store compares hashes); `null` when unknown or revoked. */
  authenticate: Authenticate;
  /** Readiness of the dependencies, for `GET /readyz`: `{ ok, checks: { postgres: { ok }, redis: { ok, detail } } }`. */
  ready: ReadinessCheckFn;
  /** The process's Prometheus exposition for GET /metrics; without it, 404. */
  metrics?: MetricsFn;
  /** The resource routers: each gets the `/v1` router and the helpers (`operation`, `validated`). */
  registerRoutes: RouteModule | readonly RouteModule[];
  /**
   * Routers of operations without an API key under /v1/public (the dial buttons' endpoints),
   * mounted before authentication, with a small body limit of their own.
   */
  publicRoutes?: RouteModule | readonly RouteModule[];
  /** Static web front ends (widget.js, /dashboard), served before /v1; outside the contract. */
  web?: RequestHandler;
  /** Turns domain errors (the store's `CallNotFound`, …) into problems; undefined leaves them 500. */
  mapError?: (error: unknown) => ApiProblem | undefined;
  /** The access and error log. Default: silent. */
  logger?: Logger;
  /** Largest accepted request body, bytes. Default 64 KiB. */
  bodyLimit?: number;
  /** Check every handler's answer against the contract (a broken answer becomes a 500). For tests and development. */
  validateResponses?: boolean;
  /** How long `ready()` may take before /readyz answers 503. Default 2000 ms. */
  readyTimeoutMs?: number;
  /** Express's `trust proxy` (for the client address in the log behind a load balancer). Default false. */
  trustProxy?: boolean | number | string;
  /** The request id generator (`req_…`). */
  requestId?: () => string;
  /** The contract; default openapi.yaml. */
  contract?: ContractDocument;
}

const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  next();
};

export function createApp(deps: AppDeps): Express {
  const contract = deps.contract ?? loadContract();
  const logger = deps.logger ?? pino({ level: 'silent' });
  const bodyLimit = deps.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const compiled = compileContract(contract, { validateResponses: deps.validateResponses === true });
  const validated = createValidated(compiled, logger);

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', deps.trustProxy ?? false);

  app.use(requestId(deps.requestId));
  app.use(accessLog(logger));
  app.use((_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });

  app.use(docsRouter(contract));
  const probes = express.Router();
  healthRoutes(deps.ready, { timeoutMs: deps.readyTimeoutMs ?? 2000, logger, ...(deps.metrics ? { metrics: deps.metrics } : {}) })(probes, createRouteHelpers(probes, contract, validated));
  app.use(probes);
  if (deps.web) app.use(deps.web);

  if (deps.publicRoutes) {
    // A visitor's request is a number and nothing else: a kilobyte is plenty.
    app.use('/v1/public', express.json({ limit: PUBLIC_BODY_LIMIT, strict: true, type: ['application/json', 'application/*+json'] }));
    const open = express.Router();
    const openHelpers = createRouteHelpers(open, contract, validated);
    for (const register of typeof deps.publicRoutes === 'function' ? [deps.publicRoutes] : deps.publicRoutes) register(open, openHelpers);
    app.use(open);
    // A public path the routers did not take is a 404 or 405 here, not an API-key challenge.
    const publicUnmatched = unmatchedRoute(() => servedRoutes(app));
    app.use((req, res, next) => (req.path.startsWith('/v1/public/') ? publicUnmatched(req, res, next) : next()));
  }

  // Authentication comes before the body is read: an anonymous client cannot make us parse 64 KiB.
  app.use('/v1', noStore, bearerAuth(deps.authenticate));
  app.use(express.json({ limit: bodyLimit, strict: true, type: ['application/json', 'application/*+json'] }));

  const resources = express.Router();
  const helpers = createRouteHelpers(resources, contract, validated);
  const modules = typeof deps.registerRoutes === 'function' ? [deps.registerRoutes] : deps.registerRoutes;
  for (const register of modules) register(resources, helpers);
  app.use(resources);

  app.use(unmatchedRoute(() => servedRoutes(app)));
  app.use(problemErrorHandler({ logger, bodyLimit, ...(deps.mapError ? { mapError: deps.mapError } : {}) }));
  return app;
}
