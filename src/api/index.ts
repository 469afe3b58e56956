/** The API layer's public surface: the app, the pieces resource routers use, the contract's types. */
export { createApp, DEFAULT_BODY_LIMIT, type AppDeps } from './app.js';
export { bearerAuth, type Authenticate, type Principal } from './auth.js';
export { contractCoverage, servedRoutes, type ContractCoverage, type ServedRoute } from './contract-coverage.js';
export { loadContract, parseContract, CONTRACT_FILE, type ContractDocument, type ContractOperation } from './openapi-document.js';
export { decodeCursor, encodeCursor, page, DEFAULT_LIMIT, MAX_LIMIT, type CursorPosition, type Page } from './pagination.js';
export { ApiProblem, PROBLEM_CATALOGUE, type ApiProblemOptions, type ProblemCode } from './problem.js';
export { newRequestId } from './request-log.js';
export type { RouteHelpers, RouteModule } from './routes.js';
export type { OperationHandler, RequestContext } from './validation.js';
export type * from './contract.js';
