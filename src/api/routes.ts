/**
 * How resource routers plug into the app. A route module is a function that receives an Express
 * router and the helpers; it registers each operation either by operationId alone (the path and
 * method come from the contract):
 *
 *     export const callRoutes = (calls: CallService): RouteModule => (_router, { operation }) => {
 *       operation('getCall', async ({ path }, { principal }) => ({
 *         status: 200,
 *         body: await calls.get(principal.accountId, path.id),
 *       }));
 *     };
 *
 * or on the router itself, with the handler wrapped by `validated()`:
 *
 *     router.post('/v1/calls/:id/hangup', validated('hangupCall', async ({ path }, ctx) => …));
 *
 * Either way the handler gets validated, typed input and returns `{ status, body, headers? }`,
 * one of the operation's documented JSON responses; errors are thrown as `ApiProblem` (or as
 * domain errors that `createApp({ mapError })` turns into problems).
 */
import type { RequestHandler, Router } from 'express';
import type { OperationId } from './contract.js';
import type { ContractDocument } from './openapi-document.js';
import type { OperationHandler } from './validation.js';

export interface RouteHelpers {
  /** The Express handler for `operationId`: validates the request, runs `handler`, writes its answer. */
  validated<Op extends OperationId>(operationId: Op, handler: OperationHandler<Op>): RequestHandler;
  /** Registers `handler` on the router at the operation's method and path from the contract. */
  operation<Op extends OperationId>(operationId: Op, handler: OperationHandler<Op>): void;
  contract: ContractDocument;
}

export type RouteModule = (router: Router, helpers: RouteHelpers) => void;

export function createRouteHelpers(router: Router, contract: ContractDocument, validated: RouteHelpers['validated']): RouteHelpers {
  return {
    validated,
    operation(operationId, handler) {
      const { method, expressPath } = contract.operation(operationId);
      router[method](expressPath, validated(operationId, handler));
    },
    contract,
  };
}
