/**
 * The engine role: takes `originate` jobs (any engine may take any call; BullMQ hands each to
 * one), starts the call on this process's Engine, writes every change of it to the store (call
 * and leg state with its event, in one transaction), serves the commands sent to this engine's
 * own queue, keeps a heartbeat, and drains on shutdown.
 */
import { Worker, type Job } from 'bullmq';
import type { CallEvent, CallRequest, Engine, LegTarget, SipLogEntry } from '../engine/index.js';
import { changeForEvent, type EventChange } from './event-mapping.js';
import { engineQueueName, ORIGINATE_QUEUE, type EngineCommand, type OriginateJob, type OriginateLeg } from './jobs.js';
import type { Redis } from './redis.js';

/** What the engine role needs of the store. */
export interface EngineStore {
  /** Atomically takes a queued call for this engine; false if it was canceled or taken meanwhile. */
  claimQueuedCall(callId: string, engineId: string): Promise<boolean>;
  /** Writes a change of a call (its update and its event together); resolves once committed. */
  writeChange(change: EventChange & { accountId: string }): Promise<void>;
  appendSipLog(entries: { callId: string; leg: 'a' | 'b'; direction: 'in' | 'out'; at: Date; peer: string; line: string }[]): void;
  heartbeat(engineId: string, info: { sipAddress: string; sipPort: number; draining: boolean }): Promise<void>;
  /** A trunk's credentials, for the legs that go through it. */
  trunkCredentials(accountId: string, trunkId: string): Promise<{ username?: string | null; password?: string | null; realm?: string | null } | null>;
}

export interface EngineRunnerOptions {
  engineId: string;
  engine: Engine;
  store: EngineStore;
  /** Workers block on Redis: each gets its own connection made by this factory. */
  connect: (name: string) => Redis;
  sip: { address: string; port: number };
  /** Originate jobs processed at once. Starting a call is quick; the call itself runs on. */
  concurrency?: number;
  heartbeatMs?: number;
  /** BullMQ's key prefix (QUEUE_PREFIX); the same as the API's. */
  queuePrefix?: string;
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
  private readonly calls = new Map<string, LiveCall>();
  private readonly connections: Redis[] = [];

  constructor(private readonly options: EngineRunnerOptions) {}

  get engineId(): string {
    return this.options.engineId;
  }

  /** The Engine's onEvent: every change goes to the store, numbered per call. */
  handleEngineEvent(event: CallEvent): void {
    const live = this.calls.get(event.callId);
    if (!live) return;
    const change = changeForEvent(event, () => ++live.sequence);
    this.options.store.writeChange({ ...change, accountId: live.accountId }).catch((error: unknown) => this.report(error));
    if (event.type === 'call.status' && (event.status === 'completed' || event.status === 'failed' || event.status === 'canceled')) {
      // Leg endings follow the final status by a few milliseconds; forget the call after that.
      setTimeout(() => this.calls.delete(event.callId), 60_000).unref();
    }
  }

  /** The Engine's onSipLog. */
  handleSipLog(callId: string, entry: SipLogEntry): void {
    this.options.store.appendSipLog([{ callId, leg: entry.leg, direction: entry.direction, at: new Date(entry.at), peer: entry.peer, line: entry.line }]);
  }

  async start(): Promise<void> {
    const { engineId, concurrency = 256 } = this.options;
    await this.beat();
    this.heartbeatTimer = setInterval(() => void this.beat(), this.options.heartbeatMs ?? 2000);
    this.heartbeatTimer.unref();
    this.originateWorker = new Worker(ORIGINATE_QUEUE, (job: Job<OriginateJob>) => this.originate(job), {
      connection: this.connection('originate'),
      ...(this.options.queuePrefix ? { prefix: this.options.queuePrefix } : {}),
      concurrency,
      // A job is done as soon as its call has started: nothing long-running holds its lock.
      lockDuration: 30_000,
    });
    this.commandWorker = new Worker(engineQueueName(engineId), (job: Job<EngineCommand>) => this.command(job.data), {
      connection: this.connection('commands'),
      ...(this.options.queuePrefix ? { prefix: this.options.queuePrefix } : {}),
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
    await this.originateWorker?.close();
    await this.beat();
    const deadline = Date.now() + drainMs;
    while (this.options.engine.liveCalls > 0 && Date.now() < deadline) await sleep(100);
    this.options.engine.hangupAll();
    const byeDeadline = Date.now() + 2000;
    while (this.options.engine.liveCalls > 0 && Date.now() < byeDeadline) await sleep(50);
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
      await this.options.store.heartbeat(this.options.engineId, { sipAddress: this.options.sip.address, sipPort: this.options.sip.port, draining: this.draining });
    } catch (error) {
      this.report(error);
    }
  }

  private async originate(job: Job<OriginateJob>): Promise<void> {
    const data = job.data;
    if (this.draining) throw new Error('draining: the call goes back to the queue for another engine');
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

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
