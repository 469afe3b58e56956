/**
 * Handy names for the types generated from openapi.yaml (CONVENTIONS §7: contract first). The
 * generated file (`./generated/openapi.ts`, made by `npm run generate:api`, never edited) holds
 * `paths`, `operations` and `components`; this module gives its schemas their API names and
 * derives, per operationId, what a handler receives and what it may answer.
 */
import type { components, operations, paths } from './generated/openapi.js';

export type { components, operations, paths };

type Schemas = components['schemas'];

// Calls
export type Call = Schemas['Call'];
export type CallLeg = Schemas['CallLeg'];
export type CallStatus = Schemas['CallStatus'];
export type LegStatus = Schemas['LegStatus'];
export type LegName = Schemas['LegName'];
export type EndReason = Schemas['EndReason'];
export type Flow = Schemas['Flow'];
export type Ringback = Schemas['Ringback'];
export type Metadata = Schemas['Metadata'];
export type CallList = Schemas['CallList'];
export type CallEvent = Schemas['CallEvent'];
export type EventType = Schemas['EventType'];
export type CallEventList = Schemas['CallEventList'];
export type SipCause = Schemas['SipCause'];
export type SipLogLine = Schemas['SipLogLine'];
export type SipLog = Schemas['SipLog'];
export type CreateCallRequest = Schemas['CreateCallRequest'];
export type LegRequest = Schemas['LegRequest'];
export type TransferCallRequest = Schemas['TransferCallRequest'];
// Trunks
export type Trunk = Schemas['Trunk'];
export type TrunkList = Schemas['TrunkList'];
export type Transport = Schemas['Transport'];
export type NumberFormat = Schemas['NumberFormat'];
export type CreateTrunkRequest = Schemas['CreateTrunkRequest'];
export type UpdateTrunkRequest = Schemas['UpdateTrunkRequest'];
export type DeletedTrunk = Schemas['DeletedTrunk'];
// API keys
export type ApiKey = Schemas['ApiKey'];
export type ApiKeyWithSecret = Schemas['ApiKeyWithSecret'];
export type ApiKeyList = Schemas['ApiKeyList'];
export type CreateApiKeyRequest = Schemas['CreateApiKeyRequest'];
export type DeletedApiKey = Schemas['DeletedApiKey'];
// Health and errors
export type Health = Schemas['Health'];
export type Readiness = Schemas['Readiness'];
export type ReadinessCheck = Schemas['ReadinessCheck'];
export type Problem = Schemas['Problem'];
export type FieldError = Schemas['FieldError'];

/** Every operation of the contract, by its operationId: `createCall`, `listCalls`, … */
export type OperationId = keyof operations;

/** A parameter group absent from an operation is generated as `never`; a handler gets `{}` then. */
type Group<T> = [NonNullable<T>] extends [never] ? Record<string, never> : NonNullable<T>;

export type PathParams<Op extends OperationId> = Group<operations[Op]['parameters']['path']>;
/** Query parameters, coerced to their types (`limit` is a number) and with defaults filled in. */
export type QueryParams<Op extends OperationId> = Group<operations[Op]['parameters']['query']>;
/** Header parameters, by the contract's spelling (`Idempotency-Key`). */
export type HeaderParams<Op extends OperationId> = Group<operations[Op]['parameters']['header']>;

type JsonBodyOf<R> = [R] extends [never] ? undefined : R extends { content: { 'application/json': infer B } } ? B : undefined;

/** The JSON body of the request (validated, defaults filled in); `undefined` when the operation takes none. */
export type RequestBody<Op extends OperationId> =
  object extends Pick<operations[Op], 'requestBody'>
    ? JsonBodyOf<NonNullable<operations[Op]['requestBody']>> | undefined
    : JsonBodyOf<operations[Op]['requestBody']>;

type Responses<Op extends OperationId> = operations[Op]['responses'];

/** The statuses an operation answers with a JSON body of its own (problems are the framework's). */
export type JsonStatus<Op extends OperationId> = {
  [S in keyof Responses<Op>]: Responses<Op>[S] extends { content: { 'application/json': unknown } } ? S : never;
}[keyof Responses<Op>];

export type ResponseBody<Op extends OperationId, S extends keyof Responses<Op>> = Responses<Op>[S] extends {
  content: { 'application/json': infer B };
}
  ? B
  : undefined;

/** What a handler returns: one of the operation's documented JSON responses, with extra headers if needed. */
export type OperationResult<Op extends OperationId> = {
  [S in JsonStatus<Op>]: { status: S; body: ResponseBody<Op, S>; headers?: Readonly<Record<string, string | undefined>> };
}[JsonStatus<Op>];

/** Everything the contract lets a request carry, validated and typed. */
export interface OperationInput<Op extends OperationId> {
  path: PathParams<Op>;
  query: QueryParams<Op>;
  headers: HeaderParams<Op>;
  body: RequestBody<Op>;
}

/**
 * The same, precomputed for every operation: handlers are typed through these maps so that a
 * literal in a handler's answer (`{ ok: true }`) is checked against the operation's own type.
 */
export type OperationInputs = { [Op in OperationId]: OperationInput<Op> };
export type OperationResults = { [Op in OperationId]: OperationResult<Op> };
