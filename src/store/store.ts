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
import { OutboxReader, type ClaimOutboxOptions } from './outbox.js';
import { createPrismaClient, type PrismaClient } from './prisma-client.js';
import { SecretBox } from './secret-box.js';
import { TrunkRepository } from './trunks.js';

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
    const common = { connectionString: options.databaseUrl, connectionTimeoutMillis: 10_000 };
    this.pool = new pg.Pool({ ...common, max: options.poolSize ?? 10 });
    this.writerPool = new pg.Pool({ ...common, max: options.writerPoolSize ?? 6 });
    // An idle connection's error (server restart) is emitted on the pool: unhandled, it would end the process.
    this.pool.on('error', onError);
    this.writerPool.on('error', onError);
    this.prisma = createPrismaClient(this.pool);
    this.accounts = new AccountRepository(this.prisma, clock);
    this.apiKeys = new ApiKeyRepository(this.prisma, clock, options.apiKeys);
    this.trunks = new TrunkRepository(this.prisma, clock, box);
    this.calls = new CallRepository(this.prisma, clock, this.pool);
    this.engines = new EngineRegistry(this.prisma, clock);
    this.buttons = new ButtonRepository(this.prisma, clock);
    this.events = new EventWriter(this.writerPool, clock, { ...options.eventWriter, onError: onError as (error: StoreError) => void });
    this.outbox = new OutboxReader(this.writerPool, clock);
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

  // The engine's hot path (shortcuts to this.events)
  /** Resolves once the change is committed; rejects with EventWriteFailed (also given to onError). */
  writeChange(change: CallChange): Promise<void> {
    return this.events.write(change);
  }
  appendSipLog(entries: readonly SipLogInput[]): Promise<void> {
    return this.events.appendSipLog(entries);
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
  claimOutbox(options?: ClaimOutboxOptions): Promise<CallEventRecord[]> {
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

  /** Flushes the event writer, then closes both pools. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.events.close();
      await this.prisma.$disconnect();
      await Promise.all([this.pool.end(), this.writerPool.end()]);
    })();
    return this.closing;
  }
}
