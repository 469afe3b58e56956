/**
 * Does the app serve the contract, the whole contract and nothing but the contract? Walks the
 * Express router stack (nested routers included) and compares every route with openapi.yaml's
 * operations (DESIGN.md "The API"). Framework routes (docs) are listed but not compared.
 */
import type { Express } from 'express';
import { FRAMEWORK_ROUTER } from './docs.js';
import { loadContract, type ContractDocument } from './openapi-document.js';
import { operationIdOf } from './validation.js';

export interface ServedRoute {
  /** Upper case; `ALL` for `router.all()`. */
  method: string;
  /** The Express path, mount points included: `/v1/calls/:id`. */
  path: string;
  /** The operation its `validated()` handler is for, if it has one. */
  operationId: string | undefined;
  /** A docs route, not part of the contract. */
  framework: boolean;
}

export interface ContractCoverage {
  /** Every route the app serves. */
  served: ServedRoute[];
  /** Served routes the contract does not have. */
  undocumented: ServedRoute[];
  /** Operations of the contract that no route serves. */
  unserved: Array<{ operationId: string; method: string; path: string }>;
  /** Routes of the contract served without `validated()`, or with the handler of another operation. */
  mismatched: Array<{ route: ServedRoute; expected: string }>;
  ok: boolean;
}

interface RouteLike {
  path: string | RegExp | Array<string | RegExp>;
  methods: Record<string, boolean | undefined>;
  stack: LayerLike[];
}

interface LayerLike {
  route?: RouteLike;
  handle?: unknown;
  rawPath?: unknown;
}

function nestedStack(handle: unknown): LayerLike[] | undefined {
  if (typeof handle !== 'function') return undefined;
  const stack = (handle as { stack?: unknown }).stack;
  return Array.isArray(stack) ? (stack as LayerLike[]) : undefined;
}

function walk(stack: readonly LayerLike[], prefix: string, framework: boolean, out: ServedRoute[]): void {
  for (const layer of stack) {
    if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      const operationId = layer.route.stack.map((inner) => operationIdOf(inner.handle)).find((id) => id !== undefined);
      for (const path of paths) {
        for (const [method, enabled] of Object.entries(layer.route.methods)) {
          if (!enabled) continue;
          out.push({ method: method === '_all' ? 'ALL' : method.toUpperCase(), path: prefix + String(path), operationId, framework });
        }
      }
      continue;
    }
    const nested = nestedStack(layer.handle);
    if (nested) {
      const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath.replace(/\/$/, '') : '';
      const isFramework = framework || (layer.handle as Record<symbol, unknown>)[FRAMEWORK_ROUTER] === true;
      walk(nested, prefix + mount, isFramework, out);
    }
  }
}

/** Every route of the app, in the order Express tries them. */
export function servedRoutes(app: Express): ServedRoute[] {
  const router = (app as unknown as { router?: { stack?: LayerLike[] } }).router;
  const out: ServedRoute[] = [];
  walk(router?.stack ?? [], '', false, out);
  return out;
}

/** `/v1/calls/:id` and `/v1/calls/{id}` both become `/v1/calls/{}`. */
function shape(path: string): string {
  return path.replace(/\{[^}]+\}/g, '{}').replace(/:[A-Za-z0-9_]+/g, '{}');
}

export function contractCoverage(app: Express, contract: ContractDocument = loadContract()): ContractCoverage {
  const served = servedRoutes(app);
  const routes = served.filter((route) => !route.framework);
  const key = (method: string, path: string): string => `${method.toUpperCase()} ${shape(path)}`;
  const operationsByKey = new Map(contract.operations.map((operation) => [key(operation.method, operation.path), operation]));
  const servedKeys = new Set(routes.map((route) => key(route.method, route.path)));
  const undocumented = routes.filter((route) => !operationsByKey.has(key(route.method, route.path)));
  const unserved = contract.operations
    .filter((operation) => !servedKeys.has(key(operation.method, operation.path)))
    .map((operation) => ({ operationId: operation.operationId, method: operation.method.toUpperCase(), path: operation.path }));
  const mismatched: ContractCoverage['mismatched'] = [];
  for (const route of routes) {
    const operation = operationsByKey.get(key(route.method, route.path));
    if (operation && route.operationId !== operation.operationId) mismatched.push({ route, expected: operation.operationId });
  }
  return { served, undocumented, unserved, mismatched, ok: undocumented.length === 0 && unserved.length === 0 && mismatched.length === 0 };
}
