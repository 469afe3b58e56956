/**
 * The webhooks role's hot path on raw `pg` (like the event writer): deliveries created in one
 * statement per outbox batch, attempts recorded in batched statements, and the few endpoint
 * updates that attempts cause (failing since, disabled). A delivery's id is derived from its
 * event and target, so creating the same deliveries again (a dispatcher that died before it
 * completed its outbox rows) creates nothing new.
 */
import type pg from 'pg';
import { BatchQueue } from './batch-queue.js';
import type { WallClock } from './clock.js';
import { EventWriteFailed, type StoreError } from './errors.js';
import type { NewWebhookDelivery, PendingWebhookDelivery, WebhookAttemptRecord, WebhookDisabledReason, WebhookEndpoint } from './model.js';
import { derivedId } from './random-text.js';
import { toEndpoint } from './webhook-endpoints.js';

export interface WebhookDeliveryStoreOptions {
  /** Attempts are committed this long after the first of a batch, ms. Default 5. */
  flushDelayMs?: number;
  /** …or as soon as this many wait. Default 200. */
  maxBatch?: number;
  onError?: (error: StoreError) => void;
}

interface DeliveryRow {
  id: string;
  account_id: string;
  endpoint_id: string | null;
  url: string | null;
  event_id: string;
  call_id: string | null;
  sequence: number | null;
  body: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  event_at: Date;
}

/** The target of a delivery: an endpoint's id, or `call` for the call's own webhookUrl. */
export function deliveryTarget(delivery: Pick<NewWebhookDelivery, 'endpointId'>): string {
  return delivery.endpointId ?? 'call';
}

export function deliveryId(eventId: string, target: string): string {
  return derivedId('whd', eventId, target);
}

// A delivery as the worker takes it.
const DELIVERY_COLUMNS = 'w.id, w.account_id, w.endpoint_id, w.url, w.event_id, w.call_id, w.sequence, w.body, w.status, w.attempts, w.event_at';

// New rows, plus the rows that already existed and have not been attempted yet: together, the
// deliveries whose first job must exist (adding a job with the same id again is a no-op).
const CREATE_DELIVERIES = `
WITH input AS (
  SELECT * FROM json_to_recordset($1::json) AS d(id text, account_id text, endpoint_id text, target text, url text,
    event_id text, event_type text, call_id text, sequence int, body text, event_at timestamptz)
), inserted AS (
  INSERT INTO webhook_delivery (id, account_id, endpoint_id, target, url, event_id, event_type, call_id, sequence, body, status, attempts,
    next_attempt_at, event_at, created_at)
  SELECT id, account_id, endpoint_id, target, url, event_id, event_type, call_id, sequence, body, 'pending', 0, $2::timestamptz, event_at, $2::timestamptz
  FROM input
  ON CONFLICT (event_id, target) DO NOTHING
  RETURNING id
)
SELECT id, true AS fresh FROM inserted
UNION ALL
SELECT w.id, false AS fresh FROM webhook_delivery w JOIN input i ON i.id = w.id WHERE w.status = 'pending' AND w.attempts = 0`;

const RECORD_ATTEMPTS = `
WITH a AS (
  SELECT * FROM json_to_recordset($1::json) AS a(delivery_id text, number int, at timestamptz, url text, response_status int,
    response_body text, latency_ms int, error text, status text, next_attempt_at timestamptz)
), d AS (
  UPDATE webhook_delivery AS t SET
    attempts = GREATEST(t.attempts, a.number),
    status = a.status,
    next_attempt_at = a.next_attempt_at,
    last_attempt_at = a.at,
    response_status = a.response_status,
    response_body = a.response_body,
    latency_ms = a.latency_ms,
    error = a.error,
    delivered_at = CASE WHEN a.status = 'succeeded' THEN a.at ELSE t.delivered_at END
  FROM a WHERE t.id = a.delivery_id
  RETURNING t.id
)
INSERT INTO webhook_attempt (delivery_id, number, at, url, response_status, response_body, latency_ms, error)
SELECT a.delivery_id, a.number, a.at, a.url, a.response_status, a.response_body, a.latency_ms, a.error FROM a JOIN d ON d.id = a.delivery_id`;

interface PreparedAttempt {
  deliveryId: string;
  row: string;
}

export class WebhookDeliveryStore {
  private readonly attempts: BatchQueue<PreparedAttempt>;

  constructor(
    private readonly pool: pg.Pool,
    private readonly clock: WallClock,
    options: WebhookDeliveryStoreOptions = {},
  ) {
    const onError = options.onError ?? ((error: StoreError) => process.emitWarning(error));
    this.attempts = new BatchQueue<PreparedAttempt>({
      flushDelayMs: options.flushDelayMs ?? 5,
      maxBatch: options.maxBatch ?? 200,
      retryConcurrency: 4,
      groupOf: (attempt) => attempt.deliveryId,
      write: async (batch) => {
        await this.pool.query({ name: 'record_attempts', text: RECORD_ATTEMPTS, values: [`[${batch.map((attempt) => attempt.row).join(',')}]`] });
      },
      lost: (deliveryId, items, cause) => {
        const error = new EventWriteFailed(deliveryId, items.length, 'webhook attempts', { cause });
        onError(error);
        return error;
      },
    });
  }

  /**
   * Creates the deliveries (each once, whatever happens) and returns the ids of those that still
   * need their first job: the new ones and the ones created earlier but never attempted.
   */
  async createDeliveries(deliveries: readonly NewWebhookDelivery[]): Promise<string[]> {
    return (await this.createDeliveriesTelling(deliveries)).map((row) => row.id);
  }

  /** As createDeliveries, telling the ones created now (`fresh`) from those found unattempted. */
  async createDeliveriesTelling(deliveries: readonly NewWebhookDelivery[]): Promise<Array<{ id: string; fresh: boolean }>> {
    if (deliveries.length === 0) return [];
    const rows = deliveries.map((delivery) => {
      const target = deliveryTarget(delivery);
      return {
        id: deliveryId(delivery.eventId, target),
        account_id: delivery.accountId,
        endpoint_id: delivery.endpointId,
        target,
        url: delivery.endpointId === null ? delivery.url : null,
        event_id: delivery.eventId,
        event_type: delivery.eventType,
        call_id: delivery.callId,
        sequence: delivery.sequence ?? null,
        body: delivery.body,
        event_at: delivery.eventAt.toISOString(),
      };
    });
    const { rows: pending } = await this.pool.query<{ id: string; fresh: boolean }>({ name: 'create_deliveries', text: CREATE_DELIVERIES, values: [JSON.stringify(rows), this.clock()] });
    return pending;
  }

  /** Deliveries by id (the reconciler re-queues them; retries and tests read them). */
  async deliveries(ids: readonly string[]): Promise<PendingWebhookDelivery[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.pool.query<DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_delivery w WHERE w.id = ANY($1::text[])`,
      [ids],
    );
    return rows.map(toPending);
  }

  /**
   * Pending deliveries whose next attempt was due before `dueBefore`: their job may have been lost
   * with Redis. A call event's delivery that waits behind an earlier pending one of its call to
   * the same destination is not overdue (it is due when that one is done), so the ones waiting
   * through an outage do not crowd out the ones really lost.
   */
  async overdueDeliveries(dueBefore: Date, limit: number): Promise<PendingWebhookDelivery[]> {
    const { rows } = await this.pool.query<DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_delivery w
       WHERE w.status = 'pending' AND w.next_attempt_at < $1
         AND NOT EXISTS (
           SELECT 1 FROM webhook_delivery p
           WHERE p.status = 'pending' AND p.call_id = w.call_id AND p.target = w.target AND p.sequence < w.sequence)
       ORDER BY w.next_attempt_at LIMIT $2`,
      [dueBefore, limit],
    );
    return rows.map(toPending);
  }

  /** Resolves once the attempt and the delivery's new state are committed. */
  recordAttempt(attempt: WebhookAttemptRecord): Promise<void> {
    const row = {
      delivery_id: attempt.deliveryId,
      number: attempt.number,
      at: attempt.at.toISOString(),
      url: attempt.url,
      response_status: attempt.responseStatus,
      response_body: attempt.responseBody,
      latency_ms: Math.round(attempt.latencyMs),
      error: attempt.error,
      status: attempt.status,
      next_attempt_at: attempt.nextAttemptAt?.toISOString() ?? null,
    };
    return this.attempts.push({ deliveryId: attempt.deliveryId, row: JSON.stringify(row) });
  }

  /** A retry asked for by the API: the delivery is pending again, due now. */
  async reopenDelivery(id: string): Promise<void> {
    await this.pool.query(`UPDATE webhook_delivery SET status = 'pending', next_attempt_at = $2 WHERE id = $1`, [id, this.clock()]);
  }

  /** A failed attempt: starts the endpoint's run of failures (if none is running); returns when it started. */
  async markEndpointFailing(endpointId: string, at: Date): Promise<Date | null> {
    const { rows } = await this.pool.query<{ failing_since: Date }>(
      'UPDATE webhook_endpoint SET failing_since = COALESCE(failing_since, $2) WHERE id = $1 RETURNING failing_since',
      [endpointId, at],
    );
    return rows[0]?.failing_since ?? null;
  }

  /** A successful attempt ends the endpoint's run of failures. */
  async markEndpointHealthy(endpointId: string): Promise<void> {
    await this.pool.query('UPDATE webhook_endpoint SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL', [endpointId]);
  }

  /** Disables an enabled endpoint; the endpoint as it is now when this call disabled it, null when it was not enabled. */
  async disableEndpoint(endpointId: string, reason: WebhookDisabledReason, at: Date): Promise<WebhookEndpoint | null> {
    const { rows } = await this.pool.query(
      `UPDATE webhook_endpoint SET enabled = false, disabled_at = $2, disabled_reason = $3, updated_at = $2
       WHERE id = $1 AND enabled RETURNING *`,
      [endpointId, at, reason],
    );
    const row = rows[0] as Record<string, unknown> | undefined;
    if (!row) return null;
    return toEndpoint({
      id: row.id as string,
      accountId: row.account_id as string,
      url: row.url as string,
      description: row.description as string | null,
      events: row.events as string[],
      enabled: row.enabled as boolean,
      secretEncrypted: '',
      previousSecretEncrypted: null,
      previousSecretExpiresAt: row.previous_secret_expires_at as Date | null,
      failingSince: row.failing_since as Date | null,
      disabledAt: row.disabled_at as Date | null,
      disabledReason: row.disabled_reason as string | null,
      createdAt: row.created_at as Date,
      updatedAt: row.updated_at as Date,
    });
  }

  async flush(): Promise<void> {
    await this.attempts.flush();
  }

  /** `giveUpAfterMs`: as EventWriter.close. */
  async close(giveUpAfterMs?: number): Promise<void> {
    await this.attempts.close(giveUpAfterMs);
  }
}

function toPending(row: DeliveryRow): PendingWebhookDelivery {
  return {
    id: row.id,
    accountId: row.account_id,
    endpointId: row.endpoint_id,
    url: row.url,
    eventId: row.event_id,
    callId: row.call_id,
    sequence: row.sequence,
    body: row.body,
    status: row.status,
    attempts: row.attempts,
    eventAt: row.event_at,
  };
}
