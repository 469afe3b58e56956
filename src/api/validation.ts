/**
 * Run-time validation of requests (and, in tests, responses) against openapi.yaml with Ajv's
 * JSON Schema 2020-12 dialect, the one OpenAPI 3.1 uses. Every operation's validators are
 * compiled once, when the app is created; `validated('createCall', handler)` then hands the
 * handler typed input: path, query (coerced: `limit` is a number) and header parameters, and the
 * JSON body, with the contract's defaults filled in.
 *
 * Failures name every field at fault: path parameters → 404 (a malformed id names nothing),
 * query and header parameters → 400 `invalid_parameter`, the body → 415 when it is not JSON and
 * 422 `validation_failed` when it breaks the schema (unknown fields included).
 */
import { createHash } from 'node:crypto';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { FieldError, OperationId, OperationInput, OperationInputs, OperationResults } from './contract.js';
import type { ContractDocument, ContractOperation, JsonSchema, ParameterLocation } from './openapi-document.js';
import { ApiProblem, countDetail } from './problem.js';
import type { Principal } from './auth.js';

/** What a handler knows about the request besides its validated input. */
export interface RequestContext {
  req: Request;
  res: Response;
  /** The authenticated key's account and id; reading it in a public operation is a programming error. */
  readonly principal: Principal;
  requestId: string;
  /** The request's logger (a child bound to the request id). */
  log: Logger;
  operation: ContractOperation;
  /** A SHA-256 of the operation, its path parameters and its body (after defaults): equal for equal requests. */
  fingerprint: string;
  /** The `Idempotency-Key` header and the request's fingerprint, when the operation takes one and it was sent. */
  idempotency: { key: string; fingerprint: string } | undefined;
}

/**
 * A handler of one operation: typed input in, one of the operation's documented JSON answers out.
 * (A map indexed by operationId, rather than a generic function type, so that literals in an
 * answer, such as `{ ok: true }`, are checked against the operation's own types.)
 */
export type OperationHandlers = {
  [Op in OperationId]: (input: OperationInputs[Op], context: RequestContext) => OperationResults[Op] | Promise<OperationResults[Op]>;
};
export type OperationHandler<Op extends OperationId> = OperationHandlers[Op];

/** Marks the Express handlers made by `validated()` with their operationId (read by the coverage check). */
export const OPERATION_ID: unique symbol = Symbol.for('click-to-dial.api.operationId');

export function operationIdOf(handler: unknown): string | undefined {
  if (typeof handler !== 'function') return undefined;
  const id = (handler as unknown as Record<symbol, unknown>)[OPERATION_ID];
  return typeof id === 'string' ? id : undefined;
}

const CONTRACT_ID = 'urn:click-to-dial:openapi';
/** OpenAPI keywords that are not JSON Schema; annotations only. */
const OPENAPI_KEYWORDS = ['example', 'discriminator', 'xml', 'externalDocs'];

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A deep copy with `#/components/schemas/X` references pointed at the contract's registered schemas. */
function rewriteRefs(schema: unknown, extensions: Set<string>): unknown {
  if (Array.isArray(schema)) return schema.map((item) => rewriteRefs(item, extensions));
  if (!isObject(schema)) return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$ref' && typeof value === 'string' && value.startsWith('#/components/schemas/')) {
      out.$ref = `${CONTRACT_ID}#/$defs/${value.slice('#/components/schemas/'.length)}`;
    } else {
      if (key.startsWith('x-')) extensions.add(key);
      out[key] = rewriteRefs(value, extensions);
    }
  }
  return out;
}

function createAjv(contract: ContractDocument, options: { coerceTypes: boolean; useDefaults: boolean }): Ajv2020 {
  const extensions = new Set<string>();
  const defs = rewriteRefs(contract.schemas, extensions);
  // Schemas inline in operations and parameters may carry extensions of their own (`x-error-message`).
  rewriteRefs(contract.document.paths, extensions);
  rewriteRefs(contract.document.components, extensions);
  const ajv = new Ajv2020({
    allErrors: true,
    verbose: true,
    strict: true,
    allowUnionTypes: true,
    coerceTypes: options.coerceTypes,
    useDefaults: options.useDefaults,
  });
  addFormats.default(ajv);
  for (const keyword of [...OPENAPI_KEYWORDS, ...extensions]) ajv.addKeyword({ keyword });
  ajv.addSchema({ $id: CONTRACT_ID, $defs: defs as Json });
  return ajv;
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function article(type: string): string {
  if (type === 'null') return 'null';
  if (type === 'integer' || type === 'object' || type === 'array') return `an ${type}`;
  return `a ${type}`;
}

function formatDescription(format: string): string {
  switch (format) {
    case 'date-time':
      return 'must be an RFC 3339 date-time with a time zone, such as 2026-12-01T09:30:00Z';
    case 'uri':
      return 'must be an absolute URL';
    case 'uri-reference':
      return 'must be a URI reference';
    case 'email':
      return 'must be an email address';
    default:
      return `must be a valid ${format}`;
  }
}

/** One Ajv error as a field error, or undefined for errors that only repeat others. */
function toFieldError(error: ErrorObject, location: Exclude<ParameterLocation, 'cookie'> | 'body'): FieldError | undefined {
  const params = error.params as Record<string, unknown>;
  const parent = isObject(error.parentSchema) ? error.parentSchema : {};
  const custom = typeof parent['x-error-message'] === 'string' ? parent['x-error-message'] : undefined;
  let field = error.instancePath;
  let message: string;
  switch (error.keyword) {
    case 'required':
      field += `/${escapePointer(String(params.missingProperty))}`;
      message = location === 'body' ? 'is required' : `is required (a ${location} parameter)`;
      break;
    case 'additionalProperties':
      field += `/${escapePointer(String(params.additionalProperty))}`;
      message = location === 'body' ? 'is not a known field' : `is not a known ${location} parameter`;
      break;
    case 'unevaluatedProperties':
      field += `/${escapePointer(String(params.unevaluatedProperty))}`;
      message = 'is not a known field';
      break;
    case 'propertyNames':
      // Ajv reports the failing rule of the name itself too (with `propertyName`); that one is kept.
      return undefined;
    case 'type': {
      const types = Array.isArray(params.type) ? (params.type as string[]) : String(params.type).split(',');
      message = `must be ${types.map(article).join(' or ')}`;
      break;
    }
    case 'enum':
      message = `must be one of: ${(params.allowedValues as unknown[]).map((value) => (typeof value === 'string' ? value : JSON.stringify(value))).join(', ')}`;
      break;
    case 'const':
      message = `must be ${JSON.stringify(params.allowedValue)}`;
      break;
    case 'pattern':
      message = custom ?? `must match the pattern ${String(params.pattern)}`;
      break;
    case 'format':
      message = custom ?? formatDescription(String(params.format));
      break;
    case 'minLength':
      message = params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters long`;
      break;
    case 'maxLength':
      message = `must be at most ${String(params.limit)} characters long`;
      break;
    case 'minimum':
      message = `must be at least ${String(params.limit)}`;
      break;
    case 'maximum':
      message = `must be at most ${String(params.limit)}`;
      break;
    case 'exclusiveMinimum':
      message = `must be greater than ${String(params.limit)}`;
      break;
    case 'exclusiveMaximum':
      message = `must be less than ${String(params.limit)}`;
      break;
    case 'minProperties':
      message = params.limit === 1 ? 'must have at least one field' : `must have at least ${String(params.limit)} fields`;
      break;
    case 'maxProperties':
      message = `must have at most ${String(params.limit)} keys`;
      break;
    case 'minItems':
      message = `must have at least ${String(params.limit)} items`;
      break;
    case 'maxItems':
      message = `must have at most ${String(params.limit)} items`;
      break;
    case 'oneOf':
    case 'anyOf':
      message = 'does not match any of the allowed forms';
      break;
    default:
      message = error.message ?? `breaks the ${error.keyword} rule`;
  }
  if (error.propertyName !== undefined) {
    // A metadata or header name that breaks `propertyNames`: name the key itself.
    field = `${error.instancePath}/${escapePointer(error.propertyName)}`;
    message = `is not an allowed name: ${message}`;
  }
  return { field, in: location, code: error.keyword, message };
}

/** Ajv's errors as field errors: one per field and rule; a wrong type hides the other rules of that field. */
export function fieldErrors(errors: readonly ErrorObject[] | null | undefined, location: Exclude<ParameterLocation, 'cookie'> | 'body'): FieldError[] {
  const mapped = (errors ?? []).map((error) => toFieldError(error, location)).filter((error): error is FieldError => error !== undefined);
  const wrongType = new Set(mapped.filter((error) => error.code === 'type').map((error) => error.field));
  const seen = new Set<string>();
  const out: FieldError[] = [];
  for (const error of mapped) {
    if (wrongType.has(error.field) && error.code !== 'type') continue;
    const key = `${error.field}\u0000${error.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(error);
  }
  // In field order (`/a/uri` before `/b`), for people; the sort is stable within a field.
  return out.sort((left, right) => (left.field < right.field ? -1 : left.field > right.field ? 1 : 0));
}

/** JSON with sorted keys: the same text for the same value, whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

interface ParameterGroup {
  location: 'path' | 'query' | 'header';
  names: string[];
  validate: ValidateFunction;
}

/** The validators of one operation. */
export interface OperationValidator {
  operation: ContractOperation;
  /** The request's validated input; throws ApiProblem. */
  parse(req: Request): OperationInput<OperationId>;
  /** Throws when a handler's answer breaks the contract (only when responses are checked). */
  checkResponse(status: number, body: unknown): void;
}

export interface CompiledContract {
  contract: ContractDocument;
  validator(operationId: string): OperationValidator;
}

function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? '0') > 0;
}

function compileOperation(operation: ContractOperation, ajvs: { params: Ajv2020; body: Ajv2020; responses: Ajv2020 | undefined }): OperationValidator {
  const extensions = new Set<string>();
  const groups: ParameterGroup[] = [];
  for (const location of ['path', 'query', 'header'] as const) {
    const parameters = operation.parameters.filter((parameter) => parameter.in === location);
    if (location !== 'query' && parameters.length === 0) continue;
    const schema = {
      type: 'object',
      properties: Object.fromEntries(parameters.map((parameter) => [parameter.name, rewriteRefs(parameter.schema, extensions)])),
      required: parameters.filter((parameter) => parameter.required || location === 'path').map((parameter) => parameter.name),
      // Unknown query parameters are refused (as Stripe does): a typo (`?limt=5`) must not be ignored.
      additionalProperties: location !== 'query',
    };
    groups.push({ location, names: parameters.map((parameter) => parameter.name), validate: ajvs.params.compile(schema) });
  }
  const body = operation.requestBody ? ajvs.body.compile(rewriteRefs(operation.requestBody.schema, extensions) as JsonSchema) : undefined;
  const responses = new Map<number, ValidateFunction>();
  if (ajvs.responses) {
    for (const [status, response] of Object.entries(operation.responses)) {
      if (response.mediaType === 'application/json' && response.schema !== undefined && /^\d{3}$/.test(status)) {
        responses.set(Number(status), ajvs.responses.compile(rewriteRefs(response.schema, extensions) as JsonSchema));
      }
    }
  }
  const bodyTypes = operation.requestBody?.mediaTypes ?? ['application/json'];

  return {
    operation,
    parse(req) {
      const input: Record<'path' | 'query' | 'headers', Record<string, unknown>> & { body: unknown } = { path: {}, query: {}, headers: {}, body: undefined };
      const parameterErrors: FieldError[] = [];
      for (const group of groups) {
        let values: Record<string, unknown>;
        if (group.location === 'path') values = { ...req.params };
        else if (group.location === 'query') values = { ...(req.query as Record<string, unknown>) };
        else {
          values = {};
          for (const name of group.names) {
            const value = req.headers[name.toLowerCase()];
            if (value !== undefined) values[name] = value;
          }
        }
        if (!group.validate(values)) {
          const errors = fieldErrors(group.validate.errors, group.location);
          if (group.location === 'path') {
            // A malformed id names no resource: the answer is the one an unknown id gets.
            throw new ApiProblem('not_found', { detail: `No resource at ${req.path}: ${errors.map((error) => `${error.field.slice(1)} ${error.message}`).join('; ')}.` });
          }
          parameterErrors.push(...errors);
        }
        input[group.location === 'header' ? 'headers' : group.location] = values;
      }
      if (parameterErrors.length > 0) {
        throw new ApiProblem('invalid_parameter', { detail: countDetail(parameterErrors, 'parameter'), errors: parameterErrors });
      }
      const sent = hasBody(req);
      if (body) {
        if (sent && !req.is(bodyTypes) && !req.is('application/*+json')) {
          throw new ApiProblem('unsupported_media_type', {
            detail: `Send the body as JSON with 'Content-Type: application/json' (got ${req.headers['content-type'] ?? 'no Content-Type'}).`,
          });
        }
        if (!sent || req.body === undefined) {
          if (operation.requestBody?.required) {
            throw ApiProblem.invalidFields([{ field: '', code: 'required', message: 'a JSON request body is required' }]);
          }
        } else {
          input.body = req.body;
          if (!body(input.body)) {
            const errors = fieldErrors(body.errors, 'body');
            throw new ApiProblem('validation_failed', { detail: countDetail(errors, 'field'), errors });
          }
        }
      } else if (sent && req.body !== undefined) {
        const given = req.body as unknown;
        if (!isObject(given)) throw ApiProblem.invalidFields([{ field: '', code: 'type', message: 'this operation takes no body' }]);
        const fields = Object.keys(given);
        if (fields.length > 0) {
          throw ApiProblem.invalidFields(
            fields.map((name) => ({ field: `/${escapePointer(name)}`, code: 'additionalProperties', message: 'is not a known field (this operation takes no body)' })),
          );
        }
      }
      return input as unknown as OperationInput<OperationId>;
    },
    checkResponse(status, payload) {
      const validate = responses.get(status);
      if (!ajvs.responses) return;
      if (!validate) throw new Error(`${operation.operationId} answered ${status}, which the contract does not document as a JSON response`);
      if (!validate(payload)) {
        const errors = fieldErrors(validate.errors, 'body')
          .map((error) => `${error.field || '(root)'} ${error.message}`)
          .join('; ');
        throw new Error(`${operation.operationId} answered ${status} with a body that breaks the contract: ${errors}`);
      }
    },
  };
}

const compiledContracts = new WeakMap<ContractDocument, Map<boolean, CompiledContract>>();

/** Compiles every operation of the contract (once per contract and mode; apps share the result). */
export function compileContract(contract: ContractDocument, options: { validateResponses?: boolean } = {}): CompiledContract {
  const mode = options.validateResponses === true;
  let byMode = compiledContracts.get(contract);
  if (!byMode) {
    byMode = new Map();
    compiledContracts.set(contract, byMode);
  }
  const cached = byMode.get(mode);
  if (cached) return cached;
  const ajvs = {
    params: createAjv(contract, { coerceTypes: true, useDefaults: true }),
    body: createAjv(contract, { coerceTypes: false, useDefaults: true }),
    responses: mode ? createAjv(contract, { coerceTypes: false, useDefaults: false }) : undefined,
  };
  const validators = new Map(contract.operations.map((operation) => [operation.operationId, compileOperation(operation, ajvs)]));
  const compiled: CompiledContract = {
    contract,
    validator(operationId) {
      const found = validators.get(operationId);
      if (!found) throw new Error(`openapi.yaml has no operation ${operationId}`);
      return found;
    },
  };
  byMode.set(mode, compiled);
  return compiled;
}

function principalOf(res: Response, operation: ContractOperation): Principal {
  const principal = res.locals.principal as Principal | undefined;
  if (!principal) {
    throw new Error(
      operation.secured
        ? `${operation.operationId} needs an API key but ran without the auth middleware (is it outside /v1?)`
        : `${operation.operationId} is public: it has no principal`,
    );
  }
  return principal;
}

/** `validated(operationId, handler)` as an Express handler: validation, typed input, the answer written. */
export function createValidated(compiled: CompiledContract, fallbackLogger: Logger) {
  return function validated<Op extends OperationId>(operationId: Op, handler: OperationHandler<Op>): RequestHandler {
    const validator = compiled.validator(operationId);
    const { operation } = validator;
    const idempotencyHeader = operation.parameters.find((parameter) => parameter.in === 'header' && parameter.name.toLowerCase() === 'idempotency-key')?.name;
    const middleware: RequestHandler = async (req, res) => {
      const input = validator.parse(req);
      // Hashed only when asked for (an Idempotency-Key, a button's dedup): most requests never need it.
      let fingerprint: string | undefined;
      const fingerprintOf = (): string =>
        (fingerprint ??= createHash('sha256')
          .update(canonicalJson({ operationId, path: input.path, body: input.body ?? null }))
          .digest('hex'));
      const key = idempotencyHeader ? (input.headers as Record<string, unknown>)[idempotencyHeader] : undefined;
      const context: RequestContext = {
        req,
        res,
        get principal() {
          return principalOf(res, operation);
        },
        requestId: String(res.locals.requestId ?? ''),
        log: (req as Request & { log?: Logger }).log ?? fallbackLogger,
        operation,
        get fingerprint() {
          return fingerprintOf();
        },
        idempotency: typeof key === 'string' ? { key, fingerprint: fingerprintOf() } : undefined,
      };
      const result = await handler(input as unknown as OperationInputs[Op], context);
      if (res.headersSent) return;
      const answer = result as { status: number; body: unknown; headers?: Readonly<Record<string, string | undefined>> } | undefined;
      if (!answer || typeof answer.status !== 'number') throw new Error(`${operationId}: the handler returned no { status, body }`);
      validator.checkResponse(answer.status, answer.body);
      for (const [name, value] of Object.entries(answer.headers ?? {})) if (value !== undefined) res.setHeader(name, value);
      res.status(answer.status);
      if (answer.body === undefined) res.end();
      else res.json(answer.body);
    };
    Object.defineProperty(middleware, OPERATION_ID, { value: operationId });
    Object.defineProperty(middleware, 'name', { value: `validated(${operationId})` });
    return middleware;
  };
}

/**
 * Checks any value against any schema of the contract (`#/components/schemas/…` references
 * resolved), without coercion or defaults: for tests of the document's own examples.
 */
export function createSchemaCheck(contract: ContractDocument): (schema: JsonSchema, value: unknown) => FieldError[] {
  const ajv = createAjv(contract, { coerceTypes: false, useDefaults: false });
  const compiled = new Map<string, ValidateFunction>();
  return (schema, value) => {
    const key = JSON.stringify(schema);
    let validate = compiled.get(key);
    if (!validate) {
      validate = ajv.compile(rewriteRefs(schema, new Set()) as JsonSchema);
      compiled.set(key, validate);
    }
    return validate(value) ? [] : fieldErrors(validate.errors, 'body');
  };
}
