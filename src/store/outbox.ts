/**
 * The outbox's reading side (the writing side is the event writer's transaction): a relay claims
 * events, hands each to the webhook queue, then completes them. A claim that is not completed
 * within `reclaimAfterMs` (the relay died) is handed out again, so delivery is at least once.
 */
import type pg from 'pg';
import type { WallClock } from './clock.js';
import type { CallEventRecord, JsonObject, LegName } from './model.js';

export interface ClaimOutboxOptions {
  /** Default 100. */
  limit?: number;
  /** Default 60000. */
  reclaimAfterMs?: number;
  /**
   * Events handed over since the last claim: completed (removed) by the same statement, which
   * saves the relay a statement and a commit per claim.
   */
  complete?: readonly string[];
}

/**
 * A claimed event, with what tells the relay whether it goes anywhere, read by the claim itself:
 * most events of most calls go nowhere (no endpoint, no webhookUrl) and then the relay reads
 * nothing more for them.
 */
export interface OutboxEvent extends CallEventRecord {
  /** The call's own webhookUrl; null too when the call is gone (deleted with its account). */
  callWebhookUrl: string | null;
  /** The call still exists. */
  callExists: boolean;
  /** The account has an enabled webhook endpoint now. */
  accountHasEndpoints: boolean;
}

interface EventRow {
  call_webhook_url: string | null;
  call_exists: boolean;
  account_has_endpoints: boolean;
  id: string;
  call_id: string;
  account_id: string;
  sequence: number;
  type: string;
  leg: string | null;
  status: string | null;
  sip_code: number | null;
  sip_reason: string | null;
  end_reason: string | null;
  payload: JsonObject;
  created_at: Date;
}

export class OutboxReader {
  constructor(
    private readonly pool: pg.Pool,
    private readonly clock: WallClock,
  ) {}

  /**
   * Oldest first; concurrent relays never get the same event (FOR UPDATE SKIP LOCKED). The
   * events in `complete` are removed by the same statement (and never claimed again by it).
   * Every table is reached through a primary key (= ANY(ARRAY(...)), a LATERAL kept apart by
   * OFFSET 0) whatever the planner's statistics: on tables never analysed it joined the few
   * claimed events to sequential scans of every event and every call, each poll.
   */
  async claimOutbox(options: ClaimOutboxOptions = {}): Promise<OutboxEvent[]> {
    const now = this.clock();
    const staleBefore = new Date(now.getTime() - (options.reclaimAfterMs ?? 60_000));
    const { rows } = await this.pool.query<EventRow>({
      name: 'claim_outbox',
      text: `WITH done AS (
         DELETE FROM outbox WHERE event_id = ANY($4::text[])),
       claimed AS (
         UPDATE outbox SET claimed_at = $1
         WHERE event_id = ANY(ARRAY(
           SELECT event_id FROM outbox
           WHERE (claimed_at IS NULL OR claimed_at < $2) AND event_id <> ALL($4::text[])
           ORDER BY created_at
           LIMIT $3
           FOR UPDATE SKIP LOCKED))
         RETURNING event_id)
       SELECT e.*, c.webhook_url AS call_webhook_url, c.id IS NOT NULL AS call_exists,
         EXISTS (SELECT 1 FROM webhook_endpoint w WHERE w.account_id = e.account_id AND w.enabled) AS account_has_endpoints
       FROM call_event e
       LEFT JOIN LATERAL (SELECT id, webhook_url FROM call WHERE call.id = e.call_id OFFSET 0) c ON true
       WHERE e.id = ANY(ARRAY(SELECT event_id FROM claimed))
       ORDER BY e.created_at, e.call_id, e.sequence`,
      values: [now, staleBefore, options.limit ?? 100, options.complete ?? []],
    });
    return rows.map((row) => ({
      id: row.id,
      callId: row.call_id,
      accountId: row.account_id,
      sequence: row.sequence,
      type: row.type,
      leg: row.leg as LegName | null,
      status: row.status,
      sipCode: row.sip_code,
      sipReason: row.sip_reason,
      endReason: row.end_reason,
      payload: row.payload,
      createdAt: row.created_at,
      callWebhookUrl: row.call_webhook_url,
      callExists: row.call_exists,
      accountHasEndpoints: row.account_has_endpoints,
    }));
  }

  /** Removes handed-over events from the outbox (the events themselves stay). */
  async completeOutbox(eventIds: readonly string[]): Promise<number> {
    if (eventIds.length === 0) return 0;
    const result = await this.pool.query('DELETE FROM outbox WHERE event_id = ANY($1::text[])', [eventIds]);
    return result.rowCount ?? 0;
  }

  /** Events waiting in the outbox (a gauge for the dashboard). */
  async outboxDepth(): Promise<number> {
    const { rows } = await this.pool.query<{ depth: string }>('SELECT count(*) AS depth FROM outbox');
    return Number(rows[0]?.depth ?? 0);
  }
}
