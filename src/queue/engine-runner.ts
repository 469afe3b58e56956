/**
 * The engine role: takes `originate` jobs (any engine may take any call; BullMQ hands each to
 * one), starts the call on this process's Engine, writes every change of it to the store (call
 * and leg state with its event, in one transaction), serves the commands sent to this engine's
 * own queue, keeps a heartbeat, and drains on shutdown.
 */
import { Worker, type Job } from 'bullmq';
import type { CallEvent, CallRequest, CallStatusEvent, Engine, LegTarget, SipLogEntry } from '../engine/index.js';
import type { Call } from '../store/index.js';
import { changeForEvent, type EventChange } from './event-mapping.js';
import { FailoverMonitor, type FailoverStore } from './failover-monitor.js';
import { DEFAULT_QUEUE_PREFIX, engineQueueName, ORIGINATE_QUEUE, type EngineCommand, type OriginateJob, type OriginateLeg } from './jobs.js';
import type { Redis } from './redis.js';

/** What the engine role needs of the store. */
export interface EngineStore extends FailoverStore {
  /** Atomically takes a queued call for this engine; false if it was canceled or taken meanwhile. */
  claimQueuedCall(callId: string, engineId: string): Promise<boolean>;
  /** Writes a change of a call (its update and its event together); resolves once committed. */
  writeChange(change: EventChange & { accountId: string }): Promise<void>;
  /** One line of a call's SIP ladder; nobody waits on it. */
  appendSipLine(entry: { callId: string; leg: 'a' | 'b'; direction: 'in' | 'out'; at: number; peer: string; line: string; message: string | null }): void;
  /** `registered`: the engine's row was not there (a first beat, or another engine took this one over). */
  heartbeat(engineId: string, info: { sipAddress: string; sipPort: number; draining: boolean }): Promise<'refreshed' | 'registered'>;
  /** Unfinished calls the database says this engine owns. */
  liveCallsOf(engineId: string): Promise<Call[]>;
  /** A trunk's credentials, for the legs that go through it. */
  trunkCredentials(accountId: string, trunkId: string): Promise<{ username?: string | null; password?: string | null; realm?: string | null } | null>;
}

export interface EngineRunnerOptions {
  engineId: string;
  engine: Engine;
  store: EngineStore;
  /** BullMQ's key prefix, as the API's CallQueues use it. */
  queuePrefix?: string;
  /** Workers block on Redis: each gets its own connection made by this factory. */
  connect: (name: string) => Redis;
  sip: { address: string; port: number };
  /** Originate jobs processed at once. Starting a call is quick; the call itself runs on. */
  concurrency?: number;
  heartbeatMs?: number;
  /** An engine silent this long is dead and this one may take over its calls (ENGINE_FAILOVER_MS). Default 10 s. */
  failoverMs?: number;
  /** How often the failover monitor looks; default failoverMs / 5. */
  failoverCheckMs?: number;
  /** A call still queued this long after its creation is ended, never placed (CALL_QUEUE_TIMEOUT_MS). Default 60 s. */
  queueTimeoutMs?: number;
  /** Calls still queued past queueTimeoutMs were ended here (queue_timeout). */
  onQueueTimeout?: (callIds: readonly string[]) => void;
  /** After this one was declared dead while it was alive (a pause longer than failoverMs). */
  onFenced?: () => void;
  /** This engine took over a dead one (logs, tests). */
  onTakeover?: (deadEngineId: string, callIds: readonly string[]) => void;
  /** A call of a dead engine (or of an earlier run of this one) was ended here: its final status event. */
  onOrphanedCallEnded?: (event: CallStatusEvent) => void;
  onError?: (error: unknown) => void;
  /** Sees each call as it starts (tests, metrics): the job's acceptedAt and when the engine took it. */
  onCallStarted?: (job: OriginateJob, startedAt: number) => void;
}

interface LiveCall {
  accountId: string;
  sequence: number;
}

export class EngineRunner {
  private originateWorker: Worker | undefined;
  private commandWorker: Worker | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private draining = false;
  private registered = false;
  private readonly calls = new Map<string, LiveCall>();
  private readonly connections: Redis[] = [];
  private readonly failover: FailoverMonitor;

  constructor(private readonly options: EngineRunnerOptions) {
    this.failover = new FailoverMonitor({
      engineId: options.engineId,
      store: options.store,
      engine: options.engine,
      failoverMs: options.failoverMs ?? 10_000,
      ...(options.failoverCheckMs !== undefined ? { intervalMs: options.failoverCheckMs } : {}),
      ...(options.onTakeover ? { onTakeover: options.onTakeover } : {}),
      ...(options.queueTimeoutMs !== undefined ? { queueTimeoutMs: options.queueTimeoutMs } : {}),
      ...(options.onQueueTimeout ? { onQueueTimeout: options.onQueueTimeout } : {}),
      ...(options.onOrphanedCallEnded ? { onCallEnded: options.onOrphanedCallEnded } : {}),
      onError: (error) => this.report(error),
    });
  }

  get engineId(): string {
    return this.options.engineId;
  }

  /** The Engine's onEvent: every change goes to the store, numbered per call. */
  handleEngineEvent(event: CallEvent): void {
    const live = this.calls.get(event.callId);
    if (!live) return;
    const change = changeForEvent(event, () => ++live.sequence);
    this.addRecoveryState(event, change);
    this.options.store.writeChange({ ...change, accountId: live.accountId }).catch((error: unknown) => this.report(error));
    if (event.type === 'call.status' && (event.status === 'completed' || event.status === 'failed' || event.status === 'canceled')) {
      // Leg endings follow the final status by a few milliseconds; forget the call after that.
      setTimeout(() => this.calls.delete(event.callId), 60_000).unref();
    }
  }

  /**
   * What another engine needs to end the leg if this process dies, written with the change it
   * belongs to (same statement, no extra round trip): the dialog once a leg is answered and
   * again when connected (flow IV re-INVITEs A before that) and after a transfer (a new B, and
   * A's dialog after its re-INVITE); the INVITE while it rings, for a CANCEL. Later in-dialog
   * requests (session refreshes) only move the local CSeq, which the BYE from a snapshot skips
   * ahead of by a margin (src/sip/ua/orphaned-requests.ts). Target refreshes by the peer are
   * written by noteDialogChange().
   */
  private addRecoveryState(event: CallEvent, change: EventChange): void {
    const engine = this.options.engine;
    if (event.type === 'leg.status' && change.legUpdate) {
      if (event.status === 'answered' || event.status === 'connected') {
        const dialog = engine.dialogSnapshot(event.callId, event.leg);
        if (dialog) change.legUpdate.dialog = dialog;
      } else if (event.status === 'ringing' || event.status === 'early') {
        const invite = engine.inviteSnapshot(event.callId, event.leg);
        if (invite) change.legUpdate.invite = invite;
      }
    } else if (event.type === 'call.transfer' && event.outcome === 'completed' && !change.legUpdate) {
      const dialog = engine.dialogSnapshot(event.callId, 'a');
      if (dialog) change.legUpdate = { leg: 'a', dialog };
    }
  }

  /** The Engine's onDialogChange: a peer's re-INVITE may have moved its remote target (RFC 3261 §12.2.2). */
  noteDialogChange(callId: string, leg: 'a' | 'b'): void {
    const live = this.calls.get(callId);
    const dialog = this.options.engine.dialogSnapshot(callId, leg);
    if (!live || !dialog) return;
    this.options.store.writeChange({ callId, accountId: live.accountId, legUpdate: { leg, dialog } }).catch((error: unknown) => this.report(error));
  }

  /** The Engine's onSipLog. */
  handleSipLog(callId: string, entry: SipLogEntry): void {
    this.options.store.appendSipLine({ callId, leg: entry.leg, direction: entry.direction, at: entry.at, peer: entry.peer, line: entry.line, message: entry.message ?? null });
  }

  async start(): Promise<void> {
    const { engineId, concurrency = 256 } = this.options;
    await this.beat();
    this.heartbeatTimer = setInterval(() => void this.beat(), this.options.heartbeatMs ?? 2000);
    this.heartbeatTimer.unref();
    // Calls an earlier run of this engine (same ENGINE_ID) left unfinished: nobody holds their
    // dialogs any more. They are ended like a dead engine's, before any new call is taken.
    const leftovers = (await this.options.store.liveCallsOf(engineId)).filter((call) => !this.options.engine.get(call.id));
    if (leftovers.length > 0) {
      await this.failover.endCalls(leftovers);
      this.options.onTakeover?.(engineId, leftovers.map((call) => call.id));
    }
    this.failover.start();
    this.originateWorker = new Worker(ORIGINATE_QUEUE, (job: Job<OriginateJob>) => this.originate(job), {
      connection: this.connection('originate'),
      prefix: this.options.queuePrefix ?? DEFAULT_QUEUE_PREFIX,
      concurrency,
      // A job is done as soon as its call has started: nothing long-running holds its lock.
      lockDuration: 30_000,
    });
    this.commandWorker = new Worker(engineQueueName(engineId), (job: Job<EngineCommand>) => this.command(job.data), {
      connection: this.connection('commands'),
      prefix: this.options.queuePrefix ?? DEFAULT_QUEUE_PREFIX,
      concurrency: 64,
    });
    for (const worker of [this.originateWorker, this.commandWorker]) worker.on('error', (error) => this.report(error));
  }

  /**
   * SIGTERM: take no new calls, let live ones run for up to `drainMs`, then hang up what is left
   * and give their BYEs a moment.
   */
  async stop(drainMs = 0): Promise<void> {
    this.draining = true;
    await this.failover.stop();
    await this.originateWorker?.close();
    await this.beat();
    const deadline = Date.now() + drainMs;
    while (this.options.engine.liveCalls > 0 && Date.now() < deadline) await sleep(100);
    // What outlasted the drain is ended: BYE to answered legs, CANCEL to ringing ones.
    this.options.engine.hangupAll('controller_shutdown');
    // Their BYEs and CANCELs get their final responses (bounded: a peer that never answers
    // would hold the process for Timer F, 32 s), then the events of those endings are flushed
    // by the store's close().
    const transactions = this.options.engine.userAgent.transactions;
    const byeDeadline = Date.now() + STOP_BYE_WAIT_MS;
    while ((this.options.engine.liveCalls > 0 || transactions.awaitingFinalResponse > 0) && Date.now() < byeDeadline) await sleep(50);
    await this.commandWorker?.close();
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    await Promise.all(this.connections.map((connection) => connection.quit().catch(() => undefined)));
  }

  private connection(name: string): Redis {
    const connection = this.options.connect(`${this.options.engineId}-${name}`);
    this.connections.push(connection);
    return connection;
  }

  private async beat(): Promise<void> {
    try {
      const beat = await this.options.store.heartbeat(this.options.engineId, { sipAddress: this.options.sip.address, sipPort: this.options.sip.port, draining: this.draining });
      if (beat === 'registered' && this.registered) this.fenced();
      this.registered = true;
    } catch (error) {
      this.report(error);
    }
  }

  /**
   * This engine was declared dead while it was alive (it could not beat for failoverMs: a long
   * pause, a partition from PostgreSQL) and another engine took over its calls and sent their
   * BYEs. It lets them go without writing anything: the calls are the other engine's now, and
   * their events are numbered by it.
   */
  private fenced(): void {
    this.calls.clear();
    // Hung up locally: where the other engine's BYE came first, ours gets a 481; nothing is written.
    this.options.engine.hangupAll('controller_failover');
    this.options.onFenced?.();
  }

  private async originate(job: Job<OriginateJob>): Promise<void> {
    const data = job.data;
    if (this.draining) throw new Error('draining: the call goes back to the queue for another engine');
    // Placed here already (a stalled job delivered again): nothing to do.
    if (this.calls.has(data.callId)) return;
    // The database says who owns the call: a call canceled while queued, or taken by another
    // engine after a stalled job, is not placed twice.
    if (!(await this.options.store.claimQueuedCall(data.callId, this.options.engineId))) return;
    const request: CallRequest = {
      id: data.callId,
      a: await this.legTarget(data.accountId, data.a),
      b: await this.legTarget(data.accountId, data.b),
      flow: data.flow,
      ringback: data.ringback,
      maxDurationMs: data.maxDurationMs,
      alreadyQueued: true,
    };
    this.calls.set(data.callId, { accountId: data.accountId, sequence: data.sequence });
    this.options.engine.startCall(request);
    this.options.onCallStarted?.(data, Date.now());
  }

  private async legTarget(accountId: string, leg: OriginateLeg): Promise<LegTarget> {
    const target: LegTarget = { uri: leg.uri, from: leg.from };
    if (leg.headers) target.headers = leg.headers;
    if (leg.ringTimeoutMs !== undefined) target.ringTimeoutMs = leg.ringTimeoutMs;
    if (leg.route) target.route = leg.route;
    if (leg.trunkId) {
      const credentials = await this.options.store.trunkCredentials(accountId, leg.trunkId);
      if (credentials?.username && credentials.password) {
        target.credentials = { username: credentials.username, password: credentials.password, ...(credentials.realm ? { realm: credentials.realm } : {}) };
      }
    }
    return target;
  }

  private async command(command: EngineCommand): Promise<void> {
    const call = this.options.engine.get(command.callId);
    if (!call) return;
    if (command.type === 'hangup') {
      call.hangup();
      return;
    }
    await this.options.engine.transfer(command.callId, { uri: command.target, from: command.from ?? '<sip:ctd@invalid>' }, command.method).catch((error: unknown) => this.report(error));
  }

  private report(error: unknown): void {
    try {
      this.options.onError?.(error);
    } catch {
      // nowhere left to report to
    }
  }
}

/** How long a stopping engine waits for the final responses to its last BYEs and CANCELs. */
const STOP_BYE_WAIT_MS = 5000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
