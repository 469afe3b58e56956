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

const INSERT_CALL = `
WITH c AS (
  INSERT INTO call (id, account_id, status, flow, ringback, max_duration_s, webhook_url, metadata,
                    idempotency_key, request_hash, last_sequence, created_at)
  SELECT $1, account.id, 'queued', $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11
  FROM account WHERE account.id = $2
  RETURNING id, account_id, created_at
), l AS (
  INSERT INTO leg (call_id, name, uri, caller_id, trunk_id, headers, ring_timeout_s, status)
  SELECT c.id, v.name, v.uri, v.caller_id, v.trunk_id, v.headers, v.ring_timeout_s, 'idle'
  FROM c, json_to_recordset($12::json) AS v(name text, uri text, caller_id text, trunk_id text, headers jsonb, ring_timeout_s int)
), e AS (
  INSERT INTO call_event (id, call_id, account_id, sequence, type, status, payload, created_at)
  SELECT $13, c.id, c.account_id, 1, 'call.queued', 'queued', '{}'::jsonb, c.created_at
  FROM c WHERE $13::text IS NOT NULL
  RETURNING id, created_at
), o AS (
  INSERT INTO outbox (event_id, created_at) SELECT id, created_at FROM e
), b AS (
  -- A call placed through a dial button: its public token's hash (issue 6).
  INSERT INTO button_call (token_hash, button_id, call_id, created_at)
  SELECT $14, $15, c.id, c.created_at FROM c WHERE $14::text IS NOT NULL
)
SELECT count(*)::int AS inserted FROM c`;

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
  const { id, accountId, input, legs, idempotency, queuedEventId, now } = insert;
  const flow = input.flow ?? 'III';
  const ringback = input.ringback ?? 'none';
  const maxDurationS = input.maxDurationS ?? 0;
  const webhookUrl = input.webhookUrl ?? null;
  const metadata = (input.metadata ?? {}) as Record<string, unknown>;
  const lastSequence = queuedEventId !== undefined ? 1 : 0;
  const legRows = (['a', 'b'] as const).map((name) => ({
    name,
    uri: legs[name].uri,
    caller_id: legs[name].callerId,
    trunk_id: legs[name].trunkId ?? null,
    headers: legs[name].headers ?? {},
    ring_timeout_s: legs[name].ringTimeoutS,
  }));
  const result = await pool.query<{ inserted: number }>(INSERT_CALL, [
    id,
    accountId,
    flow,
    ringback,
    maxDurationS,
    webhookUrl,
    JSON.stringify(metadata),
    idempotency?.key ?? null,
    idempotency?.requestHash ?? null,
    lastSequence,
    now,
    JSON.stringify(legRows),
    queuedEventId ?? null,
    input.buttonCall?.tokenHash ?? null,
    input.buttonCall?.buttonId ?? null,
  ]);
  if (result.rows[0]?.inserted !== 1) return null;
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
    flow,
    endReason: null,
    sipCode: null,
    sipReason: null,
    failedLeg: null,
    ringback,
    maxDurationS,
    webhookUrl,
    metadata: metadata as Call['metadata'],
    idempotencyKey: idempotency?.key ?? null,
    engineId: null,
    lastSequence,
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
