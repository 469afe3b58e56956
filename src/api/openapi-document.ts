/**
 * openapi.yaml, read once and indexed by operation: the one source the validators, the docs,
 * the 404/405 answers and the contract coverage check are built from.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** The contract at the repository root (`../../openapi.yaml` from both src/api and dist/api). */
export const CONTRACT_FILE = fileURLToPath(new URL('../../openapi.yaml', import.meta.url));

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];
export type ParameterLocation = 'path' | 'query' | 'header' | 'cookie';

/** A JSON Schema (2020-12, the OpenAPI 3.1 dialect) as it appears in the document. */
export type JsonSchema = Record<string, unknown> | boolean;

export interface ContractParameter {
  name: string;
  in: ParameterLocation;
  required: boolean;
  schema: JsonSchema;
}

export interface ContractResponse {
  /** The media type of its body (`application/json`, `application/problem+json`), if it has one. */
  mediaType?: string;
  schema?: JsonSchema;
  /** The body examples, by name (references resolved). */
  examples: Record<string, unknown>;
}

export interface ContractOperation {
  operationId: string;
  method: HttpMethod;
  /** The contract's path template: `/v1/calls/{id}`. */
  path: string;
  /** The same as an Express route path: `/v1/calls/:id`. */
  expressPath: string;
  parameters: ContractParameter[];
  requestBody?: { required: boolean; mediaTypes: string[]; schema: JsonSchema; examples: Record<string, unknown> };
  responses: Record<string, ContractResponse>;
  /** Whether the operation needs an API key (`security: []` makes it public). */
  secured: boolean;
}

export interface ContractDocument {
  /** The file's text, served as /openapi.yaml. */
  text: string;
  /** The parsed document, served as /openapi.json. */
  document: Record<string, unknown>;
  operations: readonly ContractOperation[];
  operation(operationId: string): ContractOperation;
  /** `components.schemas`, as in the document. */
  schemas: Record<string, JsonSchema>;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Resolves a local `$ref` (`#/components/parameters/Limit`) against the document. */
function resolve(document: Json, value: unknown): unknown {
  let current = value;
  for (let hops = 0; isObject(current) && typeof current.$ref === 'string'; hops++) {
    if (hops > 16) throw new Error(`openapi.yaml: $ref cycle at ${String(current.$ref)}`);
    const ref = current.$ref;
    if (!ref.startsWith('#/')) throw new Error(`openapi.yaml: only local $refs are supported, got ${ref}`);
    let target: unknown = document;
    for (const segment of ref.slice(2).split('/')) {
      const key = segment.replace(/~1/g, '/').replace(/~0/g, '~');
      target = isObject(target) ? target[key] : undefined;
    }
    if (target === undefined) throw new Error(`openapi.yaml: unresolved $ref ${ref}`);
    current = target;
  }
  return current;
}

function examplesOf(document: Json, media: Json): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if ('example' in media) out.example = media.example;
  if (isObject(media.examples)) {
    for (const [name, example] of Object.entries(media.examples)) {
      const resolved = resolve(document, example);
      if (isObject(resolved) && 'value' in resolved) out[name] = resolved.value;
    }
  }
  return out;
}

/** `/v1/calls/{id}` → `/v1/calls/:id`. */
export function toExpressPath(template: string): string {
  return template.replace(/\{([^}]+)\}/g, ':$1');
}

export function parseContract(text: string): ContractDocument {
  const document = parse(text) as unknown;
  if (!isObject(document) || typeof document.openapi !== 'string' || !document.openapi.startsWith('3.1')) {
    throw new Error('openapi.yaml: expected an OpenAPI 3.1 document');
  }
  const globalSecurity = Array.isArray(document.security) ? document.security : [];
  const operations: ContractOperation[] = [];
  for (const [path, rawItem] of Object.entries(isObject(document.paths) ? document.paths : {})) {
    const item = resolve(document, rawItem) as Json;
    const shared = Array.isArray(item.parameters) ? item.parameters : [];
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (!isObject(operation)) continue;
      if (typeof operation.operationId !== 'string') throw new Error(`openapi.yaml: ${method.toUpperCase()} ${path} has no operationId`);
      const byKey = new Map<string, ContractParameter>();
      for (const raw of [...shared, ...(Array.isArray(operation.parameters) ? operation.parameters : [])]) {
        const parameter = resolve(document, raw) as Json;
        const location = parameter.in as ParameterLocation;
        byKey.set(`${location}:${String(parameter.name)}`, {
          name: String(parameter.name),
          in: location,
          required: parameter.required === true,
          schema: (parameter.schema as JsonSchema | undefined) ?? true,
        });
      }
      let requestBody: ContractOperation['requestBody'];
      if (operation.requestBody !== undefined) {
        const body = resolve(document, operation.requestBody) as Json;
        const content = isObject(body.content) ? body.content : {};
        const json = isObject(content['application/json']) ? (content['application/json'] as Json) : undefined;
        if (!json) throw new Error(`openapi.yaml: ${operation.operationId} has a request body that is not application/json`);
        requestBody = {
          required: body.required === true,
          mediaTypes: Object.keys(content),
          schema: (json.schema as JsonSchema | undefined) ?? true,
          examples: examplesOf(document, json),
        };
      }
      const responses: Record<string, ContractResponse> = {};
      for (const [status, rawResponse] of Object.entries(isObject(operation.responses) ? operation.responses : {})) {
        const response = resolve(document, rawResponse) as Json;
        const content = isObject(response.content) ? response.content : {};
        const [mediaType] = Object.keys(content);
        const media = mediaType ? (resolve(document, content[mediaType]) as Json) : undefined;
        responses[status] = {
          ...(mediaType ? { mediaType } : {}),
          ...(media?.schema !== undefined ? { schema: media.schema as JsonSchema } : {}),
          examples: media ? examplesOf(document, media) : {},
        };
      }
      const security = Array.isArray(operation.security) ? operation.security : globalSecurity;
      operations.push({
        operationId: operation.operationId,
        method,
        path,
        expressPath: toExpressPath(path),
        parameters: [...byKey.values()],
        ...(requestBody ? { requestBody } : {}),
        responses,
        secured: security.length > 0,
      });
    }
  }
  const byId = new Map<string, ContractOperation>();
  for (const operation of operations) {
    if (byId.has(operation.operationId)) throw new Error(`openapi.yaml: operationId ${operation.operationId} is used twice`);
    byId.set(operation.operationId, operation);
  }
  const components = isObject(document.components) ? document.components : {};
  return {
    text,
    document,
    operations,
    operation(operationId) {
      const found = byId.get(operationId);
      if (!found) throw new Error(`openapi.yaml has no operation ${operationId}`);
      return found;
    },
    schemas: (isObject(components.schemas) ? components.schemas : {}) as Record<string, JsonSchema>,
  };
}

const loaded = new Map<string, ContractDocument>();

/** The contract, read and parsed once per process. */
export function loadContract(file = CONTRACT_FILE): ContractDocument {
  let contract = loaded.get(file);
  if (!contract) {
    contract = parseContract(readFileSync(file, 'utf8'));
    loaded.set(file, contract);
  }
  return contract;
}
