/**
 * The insert behind POST /v1/calls, in raw SQL: the call, its two legs and (optionally) its
 * `call.queued` event with that event's outbox row, as ONE statement, so one round trip and one
 * commit. Prisma's nested create did the same in a transaction of six statements and cost about
 * ten times the CPU per call; this is the API's hot path (see bench:api).
 *
 * PostgreSQL runs every data-modifying CTE exactly once and the statement is atomic: the call
 * never exists without its legs, nor without its event when one was asked for.
 */
import type pg from 'pg';
import type { Call, Idempotency, Leg, LegName, NewCall, NewLeg } from './model.js';

// Calls placed at the same moment share the statement (see Coalescer); each call's values are one
// JSON object, and a call whose account does not exist inserts nothing.
const INSERT_CALLS = `
WITH v AS (
  SELECT * FROM json_to_recordset($1::json) AS v(id text, account_id text, flow text, ringback text, max_duration_s int,
    webhook_url text, metadata jsonb, idempotency_key text, request_hash text, last_sequence int, created_at timestamptz,
    legs json, queued_event_id text, token_hash text, button_id text)
), c AS (
  INSERT INTO call (id, account_id, status, flow, ringback, max_duration_s, webhook_url, metadata,
                    idempotency_key, request_hash, last_sequence, created_at)
  SELECT v.id, account.id, 'queued', v.flow, v.ringback, v.max_duration_s, v.webhook_url, v.metadata,
         v.idempotency_key, v.request_hash, v.last_sequence, v.created_at
  FROM v JOIN account ON account.id = v.account_id
  RETURNING id, account_id, created_at
), l AS (
  INSERT INTO leg (call_id, name, uri, caller_id, trunk_id, headers, ring_timeout_s, status)
  SELECT c.id, x.name, x.uri, x.caller_id, x.trunk_id, x.headers, x.ring_timeout_s, 'idle'
  FROM c JOIN v ON v.id = c.id, json_to_recordset(v.legs) AS x(name text, uri text, caller_id text, trunk_id text, headers jsonb, ring_timeout_s int)
), e AS (
  INSERT INTO call_event (id, call_id, account_id, sequence, type, status, payload, created_at)
  SELECT v.queued_event_id, c.id, c.account_id, 1, 'call.queued', 'queued', '{}'::jsonb, c.created_at
  FROM c JOIN v ON v.id = c.id WHERE v.queued_event_id IS NOT NULL
  RETURNING id, created_at
), o AS (
  INSERT INTO outbox (event_id, created_at) SELECT id, created_at FROM e
), b AS (
  -- A call placed through a dial button: its public token's hash (issue 6).
  INSERT INTO button_call (token_hash, button_id, call_id, created_at)
  SELECT v.token_hash, v.button_id, c.id, c.created_at FROM c JOIN v ON v.id = c.id WHERE v.token_hash IS NOT NULL
)
SELECT id FROM c`;

export interface CallInsert {
  id: string;
  accountId: string;
  input: NewCall;
  legs: { a: NewLeg & { ringTimeoutS: number }; b: NewLeg & { ringTimeoutS: number } };
  idempotency: Idempotency | undefined;
  /** The id of the call.queued event, when it is written with the call. */
  queuedEventId: string | undefined;
  now: Date;
}

/**
 * Inserts the call; resolves with it as the store reads it back, or null when the account does not
 * exist. Rejects with pg's error otherwise (a unique violation: the idempotency key was taken).
 */
export async function insertCall(pool: pg.Pool, insert: CallInsert): Promise<Call | null> {
  const [call] = await insertCalls(pool, [insert]);
  return call ?? null;
}

/**
 * Several calls in one statement, all or none (any error fails them all: the caller may then
 * insert them one by one to learn which one it was). Resolves with each call, or null for a call
 * whose account does not exist, in the order given.
 */
export async function insertCalls(pool: pg.Pool, inserts: readonly CallInsert[]): Promise<(Call | null)[]> {
  const rows = inserts.map(insertRow);
  const result = await pool.query<{ id: string }>({ name: 'insert_calls', text: INSERT_CALLS, values: [JSON.stringify(rows)] });
  const inserted = new Set(result.rows.map((row) => row.id));
  return inserts.map((insert) => (inserted.has(insert.id) ? queuedCall(insert) : null));
}

/** The call's values as the statements take them. */
function insertRow(insert: CallInsert) {
  const { id, accountId, input, legs, idempotency, queuedEventId } = insert;
  return {
    id,
    account_id: accountId,
    flow: input.flow ?? 'III',
    ringback: input.ringback ?? 'none',
    max_duration_s: input.maxDurationS ?? 0,
    webhook_url: input.webhookUrl ?? null,
    metadata: (input.metadata ?? {}) as Record<string, unknown>,
    idempotency_key: idempotency?.key ?? null,
    request_hash: idempotency?.requestHash ?? null,
    last_sequence: queuedEventId !== undefined ? 1 : 0,
    legs: (['a', 'b'] as const).map((name) => ({
      name,
      uri: legs[name].uri,
      caller_id: legs[name].callerId,
      trunk_id: legs[name].trunkId ?? null,
      headers: legs[name].headers ?? {},
      ring_timeout_s: legs[name].ringTimeoutS,
    })),
    queued_event_id: queuedEventId ?? null,
    token_hash: input.buttonCall?.tokenHash ?? null,
    button_id: input.buttonCall?.buttonId ?? null,
    created_at: insert.now.toISOString(),
  };
}

/** The call as inserted, as the store would read it back. */
function queuedCall(insert: CallInsert): Call {
  const { id, accountId, input, legs, idempotency, queuedEventId, now } = insert;
  const leg = (name: LegName): Leg => ({
    name,
    uri: legs[name].uri,
    callerId: legs[name].callerId,
    trunkId: legs[name].trunkId ?? null,
    headers: { ...(legs[name].headers ?? {}) },
    ringTimeoutS: legs[name].ringTimeoutS,
    status: 'idle',
    sipCode: null,
    sipReason: null,
    sipCallId: null,
    dialog: null,
    invite: null,
    answeredAt: null,
    endedAt: null,
  });
  return {
    id,
    accountId,
    status: 'queued',
    flow: input.flow ?? 'III',
    endReason: null,
    sipCode: null,
    sipReason: null,
    failedLeg: null,
    ringback: input.ringback ?? 'none',
    maxDurationS: input.maxDurationS ?? 0,
    webhookUrl: input.webhookUrl ?? null,
    metadata: (input.metadata ?? {}) as Call['metadata'],
    idempotencyKey: idempotency?.key ?? null,
    engineId: null,
    lastSequence: queuedEventId !== undefined ? 1 : 0,
    createdAt: now,
    connectedAt: null,
    endedAt: null,
    legs: { a: leg('a'), b: leg('b') },
  };
}

/** SQLSTATE 23505: the insert hit a unique index (here: the account's idempotency key). */
export function isPgUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}
