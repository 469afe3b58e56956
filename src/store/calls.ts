/** Calls and their legs as the API and the engine's recovery read them. */
import type pg from 'pg';
import { decodeKeysetCursor, encodeKeysetCursor } from './keyset-cursor.js';
import { insertCall, insertCalls, isPgUniqueViolation, type CallInsert } from './call-inserter.js';
import { Coalescer } from './coalescer.js';
import { isConnectionFailure } from './connection-failure.js';
import type { WallClock } from './clock.js';
import { IdempotencyConflict, InvalidArgument, NotFound } from './errors.js';
import {
  FINAL_CALL_STATUSES,
  type Call,
  type CallEventRecord,
  type CallPage,
  type Idempotency,
  type ListCallsQuery,
  type NewCall,
  type NewLeg,
  type SipMessageRecord,
} from './model.js';
import type { Prisma, PrismaClient } from './prisma-client.js';
import { newId } from './random-text.js';
import { toCall, toCallEvent, toSipMessages } from './records.js';

export interface CreatedCall {
  call: Call;
  /** False when an Idempotency-Key replay returned the call it created first. */
  created: boolean;
}

const FLOWS = ['I', 'III', 'IV'] as const;
const RINGBACKS = ['tone', 'none'] as const;
const DEFAULT_RING_TIMEOUT_S = 30;
const DEFAULT_PAGE = 20;
const MAX_PAGE = 100;
const finalStatuses = [...FINAL_CALL_STATUSES];

/** One insert's outcome in a coalesced batch: the call (null: no such account), or its own error. */
type InsertOutcome = { call: Call | null } | { error: unknown };

export class CallRepository {
  // The two statements every call makes on its way to its first INVITE, folded across calls
  // placed at the same moment (src/store/coalescer.ts): under load one round trip and one commit
  // serve many calls.
  private readonly inserts = new Coalescer<CallInsert, InsertOutcome>((batch) => this.insertBatch(batch));
  private readonly claims = new Coalescer<{ callId: string; engineId: string }, boolean>((batch) => this.claimBatch(batch));

  constructor(
    private readonly db: PrismaClient,
    private readonly clock: WallClock,
    /** The pool under Prisma, for the statements on the per-call hot path. */
    private readonly pool: pg.Pool,
  ) {}

  /**
   * A queued call and its two idle legs, in one transaction. With `idempotency`, the same key and
   * request hash return the call the key created first (created: false), also when the two requests
   * race; the same key with another hash throws IdempotencyConflict.
   */
  async createCall(accountId: string, input: NewCall, idempotency?: Idempotency): Promise<CreatedCall> {
    validateCall(input);
    if (idempotency) {
      const replay = await this.replay(accountId, idempotency);
      if (replay) return replay;
    }
    const trunkIds = [input.a.trunkId, input.b.trunkId].filter((id): id is string => typeof id === 'string');
    if (trunkIds.length > 0) {
      const owned = new Set((await this.db.trunk.findMany({ where: { accountId, id: { in: trunkIds } }, select: { id: true } })).map((row) => row.id));
      const missing = trunkIds.find((id) => !owned.has(id));
      if (missing !== undefined) throw new NotFound('trunk', missing);
    }
    const id = newId('call');
    const now = this.clock();
    const legs = { a: withRingTimeout(input.a), b: withRingTimeout(input.b) };
    try {
      const queuedEventId = input.queuedEvent ? newId('evt') : undefined;
      const outcome = await this.inserts.submit({ id, accountId, input, legs, idempotency, queuedEventId, now });
      if ('error' in outcome) throw outcome.error;
      const call = outcome.call;
      if (call === null) throw new NotFound('account', accountId);
      return { call, created: true };
    } catch (error) {
      if (idempotency && isPgUniqueViolation(error)) {
        // Another request with the same key committed first.
        const replay = await this.replay(accountId, idempotency);
        if (replay) return replay;
      }
      throw error;
    }
  }

  /** The call with its legs; null for an unknown call and for another account's. */
  async getCall(accountId: string, id: string): Promise<Call | null> {
    const row = await this.db.call.findFirst({ where: { id, accountId }, include: { legs: true } });
    return row ? toCall(row) : null;
  }

  /** Newest first, keyset-paginated on (createdAt, id) so pages neither skip nor repeat calls. */
  async listCalls(accountId: string, query: ListCallsQuery = {}): Promise<CallPage> {
    const limit = Math.min(MAX_PAGE, Math.max(1, Math.trunc(query.limit ?? DEFAULT_PAGE)));
    const and: Prisma.CallWhereInput[] = [{ accountId }];
    if (query.status !== undefined) {
      const statuses = typeof query.status === 'string' ? [query.status] : [...query.status];
      and.push({ status: { in: statuses } });
    }
    if (query.createdAfter) and.push({ createdAt: { gte: query.createdAfter } });
    if (query.createdBefore) and.push({ createdAt: { lt: query.createdBefore } });
    if (query.cursor) {
      const cursor = decodeKeysetCursor(query.cursor, 'call_');
      and.push({ OR: [{ createdAt: { lt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { lt: cursor.id } }] });
    }
    const rows = await this.db.call.findMany({
      where: { AND: and },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: limit + 1,
      include: { legs: true },
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { calls: page.map(toCall), nextCursor: rows.length > limit && last ? encodeKeysetCursor(last) : null };
  }

  /** The call's events in sequence order; null for an unknown call and for another account's. */
  async callEvents(accountId: string, id: string): Promise<CallEventRecord[] | null> {
    if (!(await this.owns(accountId, id))) return null;
    const rows = await this.db.callEvent.findMany({ where: { callId: id }, orderBy: { sequence: 'asc' } });
    return rows.map(toCallEvent);
  }

  /** The call's SIP ladder in the order it was written; null for an unknown call and for another account's. */
  async sipLog(accountId: string, id: string): Promise<SipMessageRecord[] | null> {
    if (!(await this.owns(accountId, id))) return null;
    const [legacy, chunks] = await Promise.all([
      this.db.sipMessage.findMany({ where: { callId: id }, orderBy: { id: 'asc' } }),
      this.db.sipLogChunk.findMany({ where: { callId: id }, orderBy: { id: 'asc' } }),
    ]);
    return toSipMessages(legacy, chunks);
  }

  /** Calls an engine owns that have not ended, with their legs and dialogs: what a successor must end or adopt. */
  async liveCallsOf(engineId: string): Promise<Call[]> {
    const rows = await this.db.call.findMany({
      // endedAt: null as well: what the partial index call_engine_id_live_idx holds.
      where: { engineId, endedAt: null, status: { notIn: finalStatuses } },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      include: { legs: true },
    });
    return rows.map(toCall);
  }

  /** The unfinished calls among `ids`, with their legs and dialogs, oldest first. */
  async liveCallsById(ids: readonly string[]): Promise<Call[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.call.findMany({
      where: { id: { in: [...ids] }, status: { notIn: finalStatuses } },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      include: { legs: true },
    });
    return rows.map(toCall);
  }

  /**
   * Moves a live call from one owner to another, atomically: true when it was `fromEngineId`'s
   * (null: nobody's) and is now `toEngineId`'s; false when someone else got there first or it ended.
   */
  async claimCall(callId: string, fromEngineId: string | null, toEngineId: string): Promise<boolean> {
    const { count } = await this.db.call.updateMany({
      where: { id: callId, engineId: fromEngineId, status: { notIn: finalStatuses } },
      data: { engineId: toEngineId },
    });
    return count === 1;
  }

  /** Takes a call that is still queued and nobody's, for the engine that will place it. */
  claimQueuedCall(callId: string, engineId: string): Promise<boolean> {
    return this.claims.submit({ callId, engineId });
  }

  /**
   * Takes for `engineId` the calls still queued and nobody's that were created more than
   * `olderThanMs` ago (their job lost, given up, or no engine about to take it), oldest first, at
   * most `limit`: the engine ends them instead of placing them (FailoverMonitor). Taken the way an
   * engine takes a call to place it, so that the two can never both have it.
   */
  async claimOverdueQueuedCalls(engineId: string, olderThanMs: number, limit = 100): Promise<string[]> {
    const { rows } = await this.pool.query<{ id: string }>(
      `UPDATE call SET engine_id = $1
       WHERE id IN (
         SELECT id FROM call
         WHERE engine_id IS NULL AND ended_at IS NULL AND status = 'queued' AND created_at < $2
         ORDER BY created_at
         LIMIT $3
         FOR UPDATE SKIP LOCKED)
       RETURNING id`,
      [engineId, new Date(this.clock().getTime() - olderThanMs), limit],
    );
    return rows.map((row) => row.id);
  }

  /**
   * The claims of a moment in one statement. Taking a call again is allowed to the engine that has
   * it (its job retried after a failure between the claim and the dial, PostgreSQL out of reach);
   * the runner knows whether it dialled already.
   */
  private async claimBatch(batch: readonly { callId: string; engineId: string }[]): Promise<boolean[]> {
    const { rows } = await this.pool.query<{ id: string; engine_id: string }>({
      name: 'claim_queued_calls',
      text: `UPDATE call AS t SET engine_id = v.engine_id
       FROM json_to_recordset($1::json) AS v(id text, engine_id text)
       WHERE t.id = ANY($2::text[]) AND t.id = v.id AND (t.engine_id IS NULL OR t.engine_id = v.engine_id) AND t.status = 'queued'
       RETURNING t.id, t.engine_id`,
      // = ANY($2): through the primary key whatever the planner's statistics (see WRITE_CHANGES).
      values: [JSON.stringify(batch.map((claim) => ({ id: claim.callId, engine_id: claim.engineId }))), batch.map((claim) => claim.callId)],
    });
    const taken = new Set(rows.map((row) => `${row.id} ${row.engine_id}`));
    return batch.map((claim) => taken.has(`${claim.callId} ${claim.engineId}`));
  }

  /**
   * Inserts a moment's calls in one statement. When that fails for a reason of one call's (its
   * idempotency key taken meanwhile), each is inserted alone so that only that one gets the error;
   * PostgreSQL out of reach fails them all at once.
   */
  private async insertBatch(batch: readonly CallInsert[]): Promise<InsertOutcome[]> {
    if (batch.length > 1) {
      try {
        return (await insertCalls(this.pool, batch)).map((call) => ({ call }));
      } catch (error) {
        if (isConnectionFailure(error)) return batch.map(() => ({ error }));
      }
    }
    return Promise.all(
      batch.map((insert) =>
        insertCall(this.pool, insert).then(
          (call) => ({ call }),
          (error: unknown) => ({ error }),
        ),
      ),
    );
  }

  private async owns(accountId: string, id: string): Promise<boolean> {
    return (await this.db.call.findFirst({ where: { id, accountId }, select: { id: true } })) !== null;
  }

  private async replay(accountId: string, idempotency: Idempotency): Promise<CreatedCall | null> {
    const row = await this.db.call.findUnique({
      where: { accountId_idempotencyKey: { accountId, idempotencyKey: idempotency.key } },
      include: { legs: true },
    });
    if (row === null) return null;
    if (row.requestHash !== idempotency.requestHash) throw new IdempotencyConflict(idempotency.key, row.id);
    return { call: toCall(row), created: false };
  }
}

function withRingTimeout(leg: NewLeg): NewLeg & { ringTimeoutS: number } {
  return { ...leg, ringTimeoutS: leg.ringTimeoutS ?? DEFAULT_RING_TIMEOUT_S };
}

function validateCall(input: NewCall): void {
  for (const name of ['a', 'b'] as const) {
    const leg = input[name];
    if (typeof leg?.uri !== 'string' || leg.uri.trim() === '') throw new InvalidArgument(`${name}.uri`, 'empty');
    if (typeof leg.callerId !== 'string' || leg.callerId.trim() === '') throw new InvalidArgument(`${name}.callerId`, 'empty');
    if (leg.ringTimeoutS !== undefined && (!Number.isInteger(leg.ringTimeoutS) || leg.ringTimeoutS < 1)) {
      throw new InvalidArgument(`${name}.ringTimeoutS`, 'not a positive whole number of seconds');
    }
  }
  if (input.flow !== undefined && !FLOWS.includes(input.flow)) throw new InvalidArgument('flow', `not one of ${FLOWS.join(', ')}`);
  if (input.ringback !== undefined && !RINGBACKS.includes(input.ringback)) throw new InvalidArgument('ringback', `not one of ${RINGBACKS.join(', ')}`);
  if (input.maxDurationS !== undefined && (!Number.isInteger(input.maxDurationS) || input.maxDurationS < 0)) {
    throw new InvalidArgument('maxDurationS', 'not a whole number of seconds (0: no limit)');
  }
}
