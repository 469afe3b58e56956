/**
 * The persistence layer as one object (CONVENTIONS §8): Prisma over the pg driver adapter for what
 * the API reads and writes, a raw pg pool for the engine's event writer, both on one PostgreSQL.
 * Everything is injected: the connection string, the clock, the trunk-password key.
 */
import pg from 'pg';
import { AccountRepository } from './accounts.js';
import { ApiKeyRepository, type ApiKeyOptions, type BootstrapResult } from './api-keys.js';
import { ButtonRepository } from './buttons.js';
import { CallRepository, type CreatedCall } from './calls.js';
import { systemWallClock, type WallClock } from './clock.js';
import { EngineRegistry } from './engines.js';
import type { StoreError } from './errors.js';
import { EventWriter, type CallChange, type EventWriterOptions, type SipLogInput } from './event-writer.js';
import type {
  Account,
  ApiKey,
  Authenticated,
  Button,
  ButtonCallStatus,
  ButtonUpdate,
  Call,
  CallEventRecord,
  CallPage,
  Engine,
  EngineHeartbeat,
  Idempotency,
  JsonObject,
  ListCallsQuery,
  NewApiKey,
  NewButton,
  NewCall,
  NewTrunk,
  SipMessageRecord,
  Trunk,
  TrunkCredentials,
  TrunkUpdate,
} from './model.js';
import { OutboxReader, type ClaimOutboxOptions, type OutboxEvent } from './outbox.js';
import { createPrismaClient, type PrismaClient } from './prisma-client.js';
import { SecretBox } from './secret-box.js';
import { TrunkRepository } from './trunks.js';
import { WebhookDeliveryStore, type WebhookDeliveryStoreOptions } from './webhook-deliveries.js';
import { WebhookEndpointRepository } from './webhook-endpoints.js';

const CALLS_BY_ID = `
SELECT c.id, c.account_id, c.status, c.flow, c.end_reason, c.sip_code, c.sip_reason, c.failed_leg, c.ringback, c.max_duration_s,
  c.webhook_url, c.metadata, c.idempotency_key, c.engine_id, c.last_sequence, c.created_at, c.connected_at, c.ended_at,
  l.name AS leg_name, l.uri AS leg_uri, l.caller_id AS leg_caller_id, l.trunk_id AS leg_trunk_id, l.headers AS leg_headers,
  l.ring_timeout_s AS leg_ring_timeout_s, l.status AS leg_status, l.sip_code AS leg_sip_code, l.sip_reason AS leg_sip_reason,
  l.sip_call_id AS leg_sip_call_id, l.answered_at AS leg_answered_at, l.ended_at AS leg_ended_at
FROM call c JOIN leg l ON l.call_id = c.id
WHERE c.id = ANY($1::text[])`;

interface CallWithLegRow {
  id: string;
  account_id: string;
  status: string;
  flow: string;
  end_reason: string | null;
  sip_code: number | null;
  sip_reason: string | null;
  failed_leg: string | null;
  ringback: string;
  max_duration_s: number;
  webhook_url: string | null;
  metadata: JsonObject;
  idempotency_key: string | null;
  engine_id: string | null;
  last_sequence: number;
  created_at: Date;
  connected_at: Date | null;
  ended_at: Date | null;
  leg_name: string;
  leg_uri: string;
  leg_caller_id: string;
  leg_trunk_id: string | null;
  leg_headers: Record<string, string>;
  leg_ring_timeout_s: number;
  leg_status: string;
  leg_sip_code: number | null;
  leg_sip_reason: string | null;
  leg_sip_call_id: string | null;
  leg_answered_at: Date | null;
  leg_ended_at: Date | null;
}

export interface StoreOptions {
  /** postgresql://user:password@host:port/database */
  databaseUrl: string;
  /** 32 bytes: the AES-256-GCM key of trunk passwords. */
  encryptionKey: Buffer;
  /** Default: the system clock. */
  clock?: WallClock;
  /** Connections of the pool Prisma uses (API reads and writes). Default 10. */
  poolSize?: number;
  /** Connections of the event writer's pool (a batch in flight, the outbox relay, retries). Default 6. */
  writerPoolSize?: number;
  eventWriter?: Omit<EventWriterOptions, 'onError'>;
  webhookDeliveries?: Omit<WebhookDeliveryStoreOptions, 'onError'>;
  apiKeys?: ApiKeyOptions;
  /**
   * Lost writes of the event writer and errors of idle pooled connections. Default:
   * process.emitWarning (printed on stderr).
   */
  onError?: (error: Error) => void;
}

export class Store {
  /** The engine's batched writer of changes and SIP log lines. */
  readonly events: EventWriter;
  /** For the webhook relay: claim events, complete them once enqueued. */
  readonly outbox: OutboxReader;
  /** Webhook endpoints, their secrets, the account's secret, and deliveries as the API reads them. */
  readonly webhookEndpoints: WebhookEndpointRepository;
  /** The webhooks role's hot path: deliveries created per outbox batch, attempts recorded in batches. */
  readonly webhookDeliveries: WebhookDeliveryStore;
  private readonly prisma: PrismaClient;
  private readonly pool: pg.Pool;
  private readonly writerPool: pg.Pool;
  private readonly accounts: AccountRepository;
  private readonly apiKeys: ApiKeyRepository;
  private readonly trunks: TrunkRepository;
  private readonly calls: CallRepository;
  private readonly engines: EngineRegistry;
  private readonly buttons: ButtonRepository;
  private closing: Promise<void> | undefined;

  constructor(options: StoreOptions) {
    const clock = options.clock ?? systemWallClock;
    const report = options.onError ?? ((error: Error) => process.emitWarning(error));
    // A connection still closing when the store has been closed may hear the server end it
    // (a test dropping its database at once): that is no error of a running store.
    const onError = (error: Error): void => {
      if (this.closing === undefined) report(error);
    };
    const box = new SecretBox(options.encryptionKey);
    // A database that stops answering fails writes after 10 s instead of queueing them forever.
    // The hot statements are prepared (named: parsed and planned once per connection). A generic
    // plan made while the tables were still empty chose sequential scans (of every event, every
    // call) that then grew with the tables, kept for as long as nothing analyses them (autovacuum
    // off: this machine's default). Every statement of the service reaches its rows through an
    // index, so the sessions rule sequential scans out where an index can serve; planning afresh
    // instead (plan_cache_mode=force_custom_plan) cost 0.4-0.7 ms of the server's CPU per statement
    // and replanned every foreign-key check too (measured with pg_stat_statements under bench:api).
    const common = { connectionString: options.databaseUrl, connectionTimeoutMillis: 10_000, options: '-c enable_seqscan=off' };
    this.pool = new pg.Pool({ ...common, max: options.poolSize ?? 10 });
    this.writerPool = new pg.Pool({ ...common, max: options.writerPoolSize ?? 6 });
    // An idle connection's error (server restart) is emitted on the pool: unhandled, it would end
    // the process. pg-pool hangs the whole client on it, which a log would print field by field.
    const onPoolError = (error: Error): void => {
      delete (error as Error & { client?: unknown }).client;
      onError(error);
    };
    this.pool.on('error', onPoolError);
    this.writerPool.on('error', onPoolError);
    this.prisma = createPrismaClient(this.pool);
    this.accounts = new AccountRepository(this.prisma, clock);
    this.apiKeys = new ApiKeyRepository(this.prisma, clock, options.apiKeys);
    this.trunks = new TrunkRepository(this.prisma, clock, box);
    this.calls = new CallRepository(this.prisma, clock, this.pool);
    this.engines = new EngineRegistry(this.prisma, clock);
    this.buttons = new ButtonRepository(this.prisma, clock);
    // Writes lost are reported even while closing: those are the ones given up at shutdown.
    this.events = new EventWriter(this.writerPool, clock, { ...options.eventWriter, onError: report as (error: StoreError) => void });
    this.outbox = new OutboxReader(this.writerPool, clock);
    this.webhookEndpoints = new WebhookEndpointRepository(this.prisma, clock, box);
    this.webhookDeliveries = new WebhookDeliveryStore(this.writerPool, clock, { ...options.webhookDeliveries, onError: report as (error: StoreError) => void });
  }

  /** One round trip to PostgreSQL (readiness checks); rejects when it does not answer. */
  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  // Accounts and API keys
  createAccount(name: string): Promise<Account> {
    return this.accounts.createAccount(name);
  }
  getAccount(id: string): Promise<Account | null> {
    return this.accounts.getAccount(id);
  }
  webhookSecret(accountId: string): Promise<string | null> {
    return this.accounts.webhookSecret(accountId);
  }
  createApiKey(accountId: string, name: string): Promise<NewApiKey> {
    return this.apiKeys.createApiKey(accountId, name);
  }
  authenticate(secret: string): Promise<Authenticated | null> {
    return this.apiKeys.authenticate(secret);
  }
  listApiKeys(accountId: string): Promise<ApiKey[]> {
    return this.apiKeys.listApiKeys(accountId);
  }
  revokeApiKey(accountId: string, id: string): Promise<ApiKey> {
    return this.apiKeys.revokeApiKey(accountId, id);
  }
  bootstrap(secret: string): Promise<BootstrapResult> {
    return this.apiKeys.bootstrap(secret);
  }

  // Trunks
  createTrunk(accountId: string, input: NewTrunk): Promise<Trunk> {
    return this.trunks.createTrunk(accountId, input);
  }
  listTrunks(accountId: string): Promise<Trunk[]> {
    return this.trunks.listTrunks(accountId);
  }
  getTrunk(accountId: string, id: string): Promise<Trunk | null> {
    return this.trunks.getTrunk(accountId, id);
  }
  getDefaultTrunk(accountId: string): Promise<Trunk | null> {
    return this.trunks.getDefaultTrunk(accountId);
  }
  updateTrunk(accountId: string, id: string, update: TrunkUpdate): Promise<Trunk> {
    return this.trunks.updateTrunk(accountId, id, update);
  }
  deleteTrunk(accountId: string, id: string): Promise<void> {
    return this.trunks.deleteTrunk(accountId, id);
  }
  trunkCredentials(accountId: string, id: string): Promise<TrunkCredentials | null> {
    return this.trunks.trunkCredentials(accountId, id);
  }

  // Calls
  createCall(accountId: string, input: NewCall, idempotency?: Idempotency): Promise<CreatedCall> {
    return this.calls.createCall(accountId, input, idempotency);
  }
  getCall(accountId: string, id: string): Promise<Call | null> {
    return this.calls.getCall(accountId, id);
  }
  listCalls(accountId: string, query?: ListCallsQuery): Promise<CallPage> {
    return this.calls.listCalls(accountId, query);
  }
  callEvents(accountId: string, id: string): Promise<CallEventRecord[] | null> {
    return this.calls.callEvents(accountId, id);
  }
  sipLog(accountId: string, id: string): Promise<SipMessageRecord[] | null> {
    return this.calls.sipLog(accountId, id);
  }
  /**
   * Calls by id, whatever their account (the webhook dispatcher's batch read); missing ids are
   * left out. Raw pg, one statement: it runs once per outbox batch on the webhooks' hot path.
   */
  async callsById(ids: readonly string[]): Promise<Call[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.writerPool.query<CallWithLegRow>(CALLS_BY_ID, [ids]);
    const calls = new Map<string, Call>();
    for (const row of rows) {
      let call = calls.get(row.id);
      if (!call) {
        call = {
          id: row.id,
          accountId: row.account_id,
          status: row.status as Call['status'],
          flow: row.flow as Call['flow'],
          endReason: row.end_reason,
          sipCode: row.sip_code,
          sipReason: row.sip_reason,
          failedLeg: row.failed_leg as Call['failedLeg'],
          ringback: row.ringback as Call['ringback'],
          maxDurationS: row.max_duration_s,
          webhookUrl: row.webhook_url,
          metadata: row.metadata,
          idempotencyKey: row.idempotency_key,
          engineId: row.engine_id,
          lastSequence: row.last_sequence,
          createdAt: row.created_at,
          connectedAt: row.connected_at,
          endedAt: row.ended_at,
          legs: {} as Call['legs'],
        };
        calls.set(row.id, call);
      }
      call.legs[row.leg_name as 'a' | 'b'] = {
        name: row.leg_name as 'a' | 'b',
        uri: row.leg_uri,
        callerId: row.leg_caller_id,
        trunkId: row.leg_trunk_id,
        headers: row.leg_headers,
        ringTimeoutS: row.leg_ring_timeout_s,
        status: row.leg_status as Call['legs']['a']['status'],
        sipCode: row.leg_sip_code,
        sipReason: row.leg_sip_reason,
        sipCallId: row.leg_sip_call_id,
        // Not read: the dispatcher shows calls, it does not resume their dialogs.
        dialog: null,
        invite: null,
        answeredAt: row.leg_answered_at,
        endedAt: row.leg_ended_at,
      };
    }
    return [...calls.values()].filter((call) => call.legs.a !== undefined && call.legs.b !== undefined);
  }
  liveCallsOf(engineId: string): Promise<Call[]> {
    return this.calls.liveCallsOf(engineId);
  }
  /** Unfinished calls by id (any account's: for the engine that took them over). */
  liveCallsById(ids: readonly string[]): Promise<Call[]> {
    return this.calls.liveCallsById(ids);
  }
  claimCall(callId: string, fromEngineId: string | null, toEngineId: string): Promise<boolean> {
    return this.calls.claimCall(callId, fromEngineId, toEngineId);
  }
  claimQueuedCall(callId: string, engineId: string): Promise<boolean> {
    return this.calls.claimQueuedCall(callId, engineId);
  }

  claimOverdueQueuedCalls(engineId: string, olderThanMs: number, limit?: number): Promise<string[]> {
    return this.calls.claimOverdueQueuedCalls(engineId, olderThanMs, limit);
  }

  // The engine's hot path (shortcuts to this.events)
  /** Resolves once the change is committed; rejects with EventWriteFailed (also given to onError). */
  writeChange(change: CallChange): Promise<void> {
    return this.events.write(change);
  }
  appendSipLog(entries: readonly SipLogInput[]): Promise<void> {
    return this.events.appendSipLog(entries);
  }
  /** One line, nobody waiting on it (the engine's SIP log); a loss goes to onError. */
  appendSipLine(entry: SipLogInput): void {
    this.events.appendSipLine(entry);
  }

  // Engines
  heartbeat(engineId: string, beat: EngineHeartbeat): Promise<'refreshed' | 'registered'> {
    return this.engines.heartbeat(engineId, beat);
  }
  claimEngine(deadEngineId: string, byEngineId: string, olderThanMs: number): Promise<string[] | null> {
    return this.engines.claimEngine(deadEngineId, byEngineId, olderThanMs);
  }
  staleEngines(olderThanMs: number): Promise<Engine[]> {
    return this.engines.staleEngines(olderThanMs);
  }
  listEngines(): Promise<Engine[]> {
    return this.engines.listEngines();
  }
  removeEngine(engineId: string): Promise<boolean> {
    return this.engines.removeEngine(engineId);
  }

  // Outbox (shortcuts to this.outbox)
  claimOutbox(options?: ClaimOutboxOptions): Promise<OutboxEvent[]> {
    return this.outbox.claimOutbox(options);
  }
  completeOutbox(eventIds: readonly string[]): Promise<number> {
    return this.outbox.completeOutbox(eventIds);
  }

  // Buttons (issue 6)
  createButton(accountId: string, input: NewButton): Promise<Button> {
    return this.buttons.createButton(accountId, input);
  }
  listButtons(accountId: string): Promise<Button[]> {
    return this.buttons.listButtons(accountId);
  }
  getButton(accountId: string, id: string): Promise<Button | null> {
    return this.buttons.getButton(accountId, id);
  }
  /** By id alone, whatever the account: for the public endpoints. */
  findButton(id: string): Promise<Button | null> {
    return this.buttons.findButton(id);
  }
  updateButton(accountId: string, id: string, update: ButtonUpdate): Promise<Button> {
    return this.buttons.updateButton(accountId, id, update);
  }
  deleteButton(accountId: string, id: string): Promise<void> {
    return this.buttons.deleteButton(accountId, id);
  }
  buttonCallStatus(tokenHash: string): Promise<ButtonCallStatus | null> {
    return this.buttons.buttonCallStatus(tokenHash);
  }

  /**
   * Flushes the event writer, then closes both pools. Idempotent. `giveUpAfterMs`: writes the
   * database has not taken by then (it is out of reach) are lost and reported, so that closing
   * ends; without it, closing waits for the database as long as it takes.
   */
  close(options: { giveUpAfterMs?: number } = {}): Promise<void> {
    this.closing ??= (async () => {
      // Side by side, so that giving up takes giveUpAfterMs in all, not once per writer.
      await Promise.all([this.events.close(options.giveUpAfterMs), this.webhookDeliveries.close(options.giveUpAfterMs)]);
      await this.prisma.$disconnect();
      await Promise.all([this.pool.end(), this.writerPool.end()]);
    })();
    return this.closing;
  }
}
