/**
 * The engine's hot path: every state change of a call is its event, the update of the call and/or
 * leg it describes, and the event's outbox row, committed together (DESIGN.md "Webhooks": outbox).
 * Changes from many calls share one statement: a batch of 200 costs one round trip and one commit,
 * where one transaction per change would cost 200 of each (PostgreSQL commits ~4,000 single-row
 * transactions a second here; 250 calls/s at ~12 events each need 3,000).
 *
 * Raw `pg`, not Prisma: building and binding multi-row statements ourselves costs a fraction of the
 * CPU Prisma spends per row, and the hot path has to leave the CPU to SIP.
 */
import { isConnectionFailure } from './connection-failure.js';
import type pg from 'pg';
import { BatchQueue, groupBy, type BatchQueueStats } from './batch-queue.js';
import type { WallClock } from './clock.js';
import { EventWriteFailed, InvalidArgument, NotFound, type StoreError } from './errors.js';
import type { CallStatus, EndReason, JsonValue, LegName, LegStatus } from './model.js';
import { newId } from './random-text.js';

export interface EventInput {
  /** The call's own sequence number, 1, 2, 3…; unique per call. */
  sequence: number;
  /** `call.status`, `leg.status`, `call.transfer`… */
  type: string;
  leg?: LegName;
  status?: CallStatus | LegStatus | string;
  sip?: { code: number; reason: string };
  endReason?: EndReason;
  /** The event as published (JSON-serialisable); serialised when write() is called. */
  payload: object;
  /** When it happened (Date or epoch ms); default: the store's clock at write(). */
  at?: Date | number;
}

/** Absent fields are left as they are; null clears. */
export interface CallUpdate {
  status?: CallStatus;
  endReason?: EndReason | null;
  sipCode?: number | null;
  sipReason?: string | null;
  failedLeg?: LegName | null;
  connectedAt?: Date | null;
  endedAt?: Date | null;
  engineId?: string | null;
}

/** Absent fields are left as they are; null clears. */
export interface LegUpdate {
  leg: LegName;
  status?: LegStatus;
  sipCode?: number | null;
  sipReason?: string | null;
  sipCallId?: string | null;
  answeredAt?: Date | null;
  endedAt?: Date | null;
  /** The leg's DialogSnapshot (src/sip/dialog/dialog-snapshot.ts), JSON-serialisable. */
  dialog?: object | null;
  /** The leg's InviteSnapshot (src/sip/ua/orphaned-requests.ts) while it rings, JSON-serialisable. */
  invite?: object | null;
}

export interface CallChange {
  callId: string;
  accountId: string;
  /** Absent for a change with no public event of its own (the call or leg row is updated alone). */
  event?: EventInput;
  callUpdate?: CallUpdate;
  legUpdate?: LegUpdate;
}

/** One line of a call's SIP ladder (the engine's SipLogEntry plus its call). */
export interface SipLogInput {
  callId: string;
  leg: LegName;
  direction: 'in' | 'out';
  at: Date | number;
  peer: string;
  line: string;
  /** The whole message text, when the engine passes it. */
  message?: string | null;
}

export interface EventWriterOptions {
  /** A batch is written this long after its first change, ms. Default 5. */
  flushDelayMs?: number;
  /**
   * The same for the SIP log's lines, ms. Default 50: nobody waits on them (they are read with a
   * call's ladder), and a call sends and receives a dozen or more, so longer batches save the most
   * statements.
   */
  sipLogFlushDelayMs?: number;
  /** …or as soon as this many are waiting. Default 200. */
  maxBatch?: number;
  /**
   * The same for SIP log lines. Default 1000: a batch is one row per call in it, so the more lines
   * a batch takes, the more of a call's ladder each row holds.
   */
  sipLogMaxBatch?: number;
  /** Calls retried at once when a batch failed. Default 4. */
  retryConcurrency?: number;
  /**
   * Told about every write lost (and every change refused as malformed). The promise write()
   * returned rejects too, but a caller may not be waiting on it: this is where it is not silent.
   */
  onError?: (error: StoreError) => void;
  /** PostgreSQL went out of reach (with the error), or came back (undefined): writes wait meanwhile. */
  onOutage?: (error: unknown | undefined) => void;
}

export interface EventWriterStats {
  changes: BatchQueueStats;
  sipLog: BatchQueueStats;
}

type Patch = Record<string, JsonValue>;

interface PreparedEvent {
  sequence: number;
  /** The call_event row as JSON text, made when write() is called (so the payload is copied then). */
  row: string;
}

interface PreparedChange {
  callId: string;
  accountId: string;
  event: PreparedEvent | undefined;
  callPatch: Patch | undefined;
  legName: LegName | undefined;
  legPatch: Patch | undefined;
}

interface PreparedSipLine {
  callId: string;
  /** The line as JSON text, an element of its chunk's `lines`. */
  row: string;
}

const CALL_FIELDS = ['status', 'endReason', 'sipCode', 'sipReason', 'failedLeg', 'connectedAt', 'endedAt', 'engineId'] as const;
const LEG_FIELDS = ['status', 'sipCode', 'sipReason', 'sipCallId', 'answeredAt', 'endedAt', 'dialog', 'invite'] as const;

/** `patch ? 'field'`: the field was given (even as null); otherwise the column keeps its value. */
function assign(column: string, field: string, alias: string, cast = ''): string {
  const value = cast ? `(${alias}.patch->>'${field}')::${cast}` : `${alias}.patch->>'${field}'`;
  return `${column} = CASE WHEN ${alias}.patch ? '${field}' THEN ${value} ELSE t.${column} END`;
}

// One statement, hence one atomic commit, for the whole batch; its rows come as three JSON arrays
// (json_to_recordset), which costs Node a JSON.stringify where binding a dozen arrays costs it
// several times more. Calls are matched on id AND account: a change whose call does not match
// updates nothing and inserts no event (the JOINs on `c`), and is reported as lost. Each call and
// leg row appears once per batch: changes are folded first.
// The rows to update are found through their primary keys (= ANY($4), the batch's call ids)
// whatever the planner believes of the tables: it takes json_to_recordset for 100 rows and, on
// tables never analysed (a new database, autovacuum off), chose a sequential scan of every call
// for a batch of two, a cost that grew with the table (and that a prepared statement would keep).
const WRITE_CHANGES = `
WITH cu AS (
  SELECT * FROM json_to_recordset($1::json) AS cu(id text, account_id text, patch jsonb, seq int)
), c AS (
  UPDATE call AS t SET
    ${assign('status', 'status', 'cu')},
    ${assign('end_reason', 'endReason', 'cu')},
    ${assign('sip_code', 'sipCode', 'cu', 'int')},
    ${assign('sip_reason', 'sipReason', 'cu')},
    ${assign('failed_leg', 'failedLeg', 'cu')},
    ${assign('connected_at', 'connectedAt', 'cu', 'timestamptz')},
    ${assign('ended_at', 'endedAt', 'cu', 'timestamptz')},
    ${assign('engine_id', 'engineId', 'cu')},
    last_sequence = GREATEST(t.last_sequence, cu.seq)
  FROM cu
  WHERE t.id = ANY($4::text[]) AND t.id = cu.id AND t.account_id = cu.account_id
  RETURNING t.id, t.account_id
), lu AS (
  SELECT * FROM json_to_recordset($2::json) AS lu(call_id text, account_id text, name text, patch jsonb)
), l AS (
  UPDATE leg AS t SET
    ${assign('status', 'status', 'lu')},
    ${assign('sip_code', 'sipCode', 'lu', 'int')},
    ${assign('sip_reason', 'sipReason', 'lu')},
    ${assign('sip_call_id', 'sipCallId', 'lu')},
    ${assign('answered_at', 'answeredAt', 'lu', 'timestamptz')},
    ${assign('ended_at', 'endedAt', 'lu', 'timestamptz')},
    dialog = CASE WHEN lu.patch ? 'dialog' THEN NULLIF(lu.patch->'dialog', 'null'::jsonb) ELSE t.dialog END,
    invite = CASE WHEN lu.patch ? 'invite' THEN NULLIF(lu.patch->'invite', 'null'::jsonb) ELSE t.invite END
  FROM lu JOIN c ON c.id = lu.call_id AND c.account_id = lu.account_id
  WHERE t.call_id = ANY($4::text[]) AND t.call_id = lu.call_id AND t.name = lu.name
  RETURNING t.call_id
), e AS (
  INSERT INTO call_event (id, call_id, account_id, sequence, type, leg, status, sip_code, sip_reason, end_reason, payload, created_at)
  SELECT ev.id, ev.call_id, ev.account_id, ev.sequence, ev.type, ev.leg, ev.status, ev.sip_code, ev.sip_reason, ev.end_reason, ev.payload, ev.created_at
  FROM json_to_recordset($3::json) AS ev(id text, call_id text, account_id text, sequence int, type text, leg text, status text,
    sip_code int, sip_reason text, end_reason text, payload jsonb, created_at timestamptz)
  JOIN c ON c.id = ev.call_id AND c.account_id = ev.account_id
  RETURNING id, created_at
), o AS (
  INSERT INTO outbox (event_id, created_at) SELECT id, created_at FROM e
)
SELECT id, account_id FROM c`;

// One row per call in the batch, its lines in the order they came; rows in the order of each
// call's first line, so that a call's chunks read back by id are in order across batches too.
const WRITE_SIP_LOG = `
INSERT INTO sip_log_chunk (call_id, lines)
SELECT call_id, lines
FROM ROWS FROM (json_to_recordset($1::json) AS (call_id text, lines json))
  WITH ORDINALITY AS s(call_id, lines, n)
ORDER BY n`;

const noop = (): void => undefined;

export class EventWriter {
  private readonly changes: BatchQueue<PreparedChange>;
  private readonly sipLines: BatchQueue<PreparedSipLine>;
  private readonly onError: (error: StoreError) => void;

  constructor(
    private readonly pool: pg.Pool,
    private readonly clock: WallClock,
    options: EventWriterOptions = {},
  ) {
    this.onError = options.onError ?? ((error) => process.emitWarning(error));
    const flushDelayMs = options.flushDelayMs ?? 5;
    const maxBatch = options.maxBatch ?? 200;
    const retryConcurrency = options.retryConcurrency ?? 4;
    this.changes = new BatchQueue<PreparedChange>({
      flushDelayMs,
      maxBatch,
      retryConcurrency,
      groupOf: groupOfChange,
      write: (batch) => this.writeChanges(batch),
      lost: (_group, items, cause) => this.report(new EventWriteFailed(items[0]?.callId ?? '', items.length, 'changes', { cause })),
      // PostgreSQL restarting: the changes wait for it, in order, instead of being lost.
      unavailable: isConnectionFailure,
      onOutage: (error) => options.onOutage?.(error),
    });
    this.sipLines = new BatchQueue<PreparedSipLine>({
      flushDelayMs: options.sipLogFlushDelayMs ?? 50,
      paced: true,
      maxBatch: options.sipLogMaxBatch ?? 1000,
      retryConcurrency,
      groupOf: (line) => line.callId,
      write: async (batch) => {
        await this.writeSipLog(batch);
      },
      lost: (callId, items, cause) => this.report(new EventWriteFailed(callId, items.length, 'sip log', { cause })),
      unavailable: isConnectionFailure,
    });
  }

  /**
   * Queues a change; the promise resolves once it is committed, or rejects with EventWriteFailed
   * (also given to onError). Everything is read from `change` now: it may be reused at once.
   */
  write(change: CallChange): Promise<void> {
    let prepared: PreparedChange;
    try {
      prepared = this.prepare(change);
    } catch (error) {
      return this.refuse(error);
    }
    const written = this.changes.push(prepared);
    // Handled here so that a caller that does not wait does not crash the process (onError has it).
    written.catch(noop);
    return written;
  }

  /** Queues lines of SIP ladders; batched like changes, in their own statements. */
  appendSipLog(entries: readonly SipLogInput[]): Promise<void> {
    let prepared: PreparedSipLine[];
    try {
      prepared = entries.map(prepareSipLine);
    } catch (error) {
      return this.refuse(error);
    }
    const written = Promise.all(prepared.map((line) => this.sipLines.push(line))).then(noop);
    written.catch(noop);
    return written;
  }

  /**
   * One line of a SIP ladder, on the engine's hot path (a dozen or more per call): like
   * appendSipLog, but no promise is made for it. A line that cannot be written is reported to onError.
   */
  appendSipLine(entry: SipLogInput): void {
    try {
      this.sipLines.pushQuietly(prepareSipLine(entry));
    } catch (error) {
      if (error instanceof InvalidArgument) this.report(error);
      else throw error;
    }
  }

  /** Resolves once everything queued before it is committed or reported lost. */
  async flush(): Promise<void> {
    await Promise.all([this.changes.flush(), this.sipLines.flush()]);
  }

  /**
   * Flushes, then refuses new writes. Does not end the pool (the store owns it). `giveUpAfterMs`:
   * what the database has not taken by then is lost and reported (BatchQueue.close).
   */
  async close(giveUpAfterMs?: number): Promise<void> {
    await Promise.all([this.changes.close(giveUpAfterMs), this.sipLines.close(giveUpAfterMs)]);
  }

  stats(): EventWriterStats {
    return { changes: this.changes.stats(), sipLog: this.sipLines.stats() };
  }

  private prepare(change: CallChange): PreparedChange {
    const legName = change.legUpdate?.leg;
    if (change.legUpdate && legName !== 'a' && legName !== 'b') throw new InvalidArgument('legUpdate.leg', 'not a or b');
    const callId = requireText(change.callId, 'callId');
    const accountId = requireText(change.accountId, 'accountId');
    return {
      callId,
      accountId,
      event: change.event === undefined ? undefined : this.prepareEvent(callId, accountId, change.event),
      callPatch: change.callUpdate ? patchOf(change.callUpdate, CALL_FIELDS) : undefined,
      legName,
      legPatch: change.legUpdate ? patchOf(change.legUpdate, LEG_FIELDS) : undefined,
    };
  }

  private prepareEvent(callId: string, accountId: string, event: EventInput): PreparedEvent {
    if (!Number.isSafeInteger(event.sequence) || event.sequence < 1) throw new InvalidArgument('event.sequence', 'not a positive integer');
    const row = {
      id: newId('evt'),
      call_id: callId,
      account_id: accountId,
      sequence: event.sequence,
      type: requireText(event.type, 'event.type'),
      leg: event.leg ?? null,
      status: event.status ?? null,
      sip_code: event.sip?.code ?? null,
      sip_reason: event.sip?.reason ?? null,
      end_reason: event.endReason ?? null,
      payload: event.payload ?? {},
      created_at: event.at === undefined ? this.clock().toISOString() : toIso(event.at, 'event.at'),
    };
    return { sequence: event.sequence, row: JSON.stringify(row) };
  }

  private async writeChanges(batch: readonly PreparedChange[]): Promise<ReadonlyMap<string, unknown>> {
    // Fold the batch: one row per call and per leg, later changes over earlier ones.
    const calls = new Map<string, { id: string; account_id: string; patch: Patch; seq: number }>();
    const legs = new Map<string, { call_id: string; account_id: string; name: LegName; patch: Patch }>();
    const events: string[] = [];
    for (const change of batch) {
      const sequence = change.event?.sequence ?? 0;
      if (change.event) events.push(change.event.row);
      const group = groupOfChange(change);
      const call = calls.get(group);
      if (call === undefined) calls.set(group, { id: change.callId, account_id: change.accountId, patch: { ...change.callPatch }, seq: sequence });
      else {
        Object.assign(call.patch, change.callPatch);
        call.seq = Math.max(call.seq, sequence);
      }
      if (change.legName !== undefined && change.legPatch !== undefined) {
        const key = `${group} ${change.legName}`;
        const leg = legs.get(key);
        if (leg === undefined) legs.set(key, { call_id: change.callId, account_id: change.accountId, name: change.legName, patch: { ...change.legPatch } });
        else Object.assign(leg.patch, change.legPatch);
      }
    }
    const { rows } = await this.pool.query<{ id: string; account_id: string }>({ name: 'write_changes', text: WRITE_CHANGES, values: [
      JSON.stringify([...calls.values()]),
      JSON.stringify([...legs.values()]),
      `[${events.join(',')}]`,
      [...calls.values()].map((call) => call.id),
    ] });
    const refused = new Map<string, unknown>();
    if (rows.length !== calls.size) {
      const matched = new Set(rows.map((row) => `${row.account_id} ${row.id}`));
      for (const [group, call] of calls) if (!matched.has(group)) refused.set(group, new NotFound('call', call.id));
    }
    return refused;
  }

  private async writeSipLog(batch: readonly PreparedSipLine[]): Promise<void> {
    const chunks = groupBy(batch, (line) => line.callId);
    const json = [...chunks].map(([callId, lines]) => `{"call_id":${JSON.stringify(callId)},"lines":[${lines.map((line) => line.row).join(',')}]}`);
    await this.pool.query({ name: 'write_sip_log', text: WRITE_SIP_LOG, values: [`[${json.join(',')}]`] });
  }

  private report(error: StoreError): StoreError {
    try {
      this.onError(error);
    } catch {
      // A throwing reporter must not stop the writer from settling the other writes.
    }
    return error;
  }

  private refuse<T>(error: unknown): Promise<T> {
    const refused = Promise.reject(error instanceof InvalidArgument ? this.report(error) : error);
    refused.catch(noop);
    return refused as Promise<T>;
  }
}

/**
 * A SIP log line as the JSON of its element in a chunk's `lines`, written field by field (it is
 * on the engine's hot path: a dozen or more a call). The JSON column checks nothing: the leg and
 * the direction are checked here.
 */
function prepareSipLine(entry: SipLogInput): PreparedSipLine {
  const callId = requireText(entry.callId, 'callId');
  if (entry.leg !== 'a' && entry.leg !== 'b') throw new InvalidArgument('leg', 'not a or b');
  if (entry.direction !== 'in' && entry.direction !== 'out') throw new InvalidArgument('direction', 'not in or out');
  const message = typeof entry.message === 'string' ? JSON.stringify(entry.message) : 'null';
  const row = `{"leg":"${entry.leg}","direction":"${entry.direction}","at":"${toIso(entry.at, 'at')}","peer":${JSON.stringify(String(entry.peer))},"line":${JSON.stringify(String(entry.line))},"message":${message}}`;
  return { callId, row };
}

/** Changes are grouped, folded and retried by call, and a call is only ever updated by its own account. */
function groupOfChange(change: PreparedChange): string {
  return `${change.accountId} ${change.callId}`;
}

function patchOf<T extends object>(update: T, fields: readonly string[]): Patch {
  const patch: Patch = {};
  for (const field of fields) {
    const value = (update as Record<string, unknown>)[field];
    if (value === undefined) continue;
    if (value instanceof Date) patch[field] = value.toISOString();
    // An object (the dialog) is copied now: the caller may change it once write() has returned.
    else if (typeof value === 'object' && value !== null) patch[field] = JSON.parse(JSON.stringify(value)) as JsonValue;
    else patch[field] = value as JsonValue;
  }
  return patch;
}

function requireText(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw new InvalidArgument(field, 'not a non-empty string');
  return value;
}

function toIso(value: Date | number, field: string): string {
  const date = typeof value === 'number' ? new Date(value) : value;
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) throw new InvalidArgument(field, 'not a date');
  return date.toISOString();
}
