/**
 * The delivery worker: one BullMQ job is one attempt of one delivery. It takes a slot of the
 * receiver's throttle (or puts the job back a little later: a slow receiver holds its own slots,
 * not the worker's), checks the destination with the SSRF guard, signs the body with the
 * endpoint's secrets (both during a rotation), POSTs it, records the attempt in PostgreSQL, and
 * schedules the next attempt when one is due (a new delayed job). A 2xx is a success; 410 Gone
 * disables the endpoint; an endpoint that has failed for 5 days is disabled; either way the
 * account's other endpoints hear of it (`webhook.endpoint.disabled`).
 *
 * Delivery is at least once: a worker killed after the receiver answered but before the attempt
 * was recorded sends that attempt again (same `webhook-id`, so receivers drop the repeat).
 *
 * And ordered per call per destination: a call event's delivery is sent only while it is first
 * in its lane (delivery-lanes.ts); the ones behind wait in the lane, with no job of their own.
 * When a delivery is done with for good (delivered, or failed for good), the job that sent it
 * takes the next of its lane and sends it too, and so on: one job carries the lane's run, each
 * delivery still recorded, throttled, guarded and signed on its own. A delivery to be retried
 * ends the run; its next attempt (a delayed job) takes it up again.
 *
 * Scheduling time comes from `clock` (the retry schedule, the attempt's record, the 5-day rule),
 * so a test can move it an hour on and make the attempts due then (DeliveryQueue.promoteDue); the
 * signature's timestamp is the wall clock's, since the receiver checks it against its own.
 */
import { DelayedError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { newWebhookEventId, type Store, type WebhookEndpoint } from '../store/index.js';
import { laneOf, type DeliveryLanes, type LaneMember } from './delivery-lanes.js';
import { deliveryJobId, type DeliveryJob, type DeliveryQueue } from './delivery-queue.js';
import type { Dispatcher } from './dispatcher.js';
import { DestinationRefused } from './errors.js';
import { endpointDisabledBody, ENDPOINT_DISABLED_EVENT, subscribes } from './event-body.js';
import type { HttpSender, SendResult } from './http-sender.js';
import type { RetrySchedule } from './retry-schedule.js';
import { signatureHeaders } from './signer.js';
import type { DestinationCache } from './ssrf-guard.js';
import { LocalGate, type EndpointThrottle } from './endpoint-throttle.js';

export interface DeliveryWorkerOptions {
  store: Store;
  queue: DeliveryQueue;
  dispatcher: Dispatcher;
  /** The worker's own connection (it blocks on Redis). */
  connection: Redis;
  sender: HttpSender;
  guard: DestinationCache;
  throttle: EndpointThrottle;
  schedule: RetrySchedule;
  /** The per-call order of deliveries (shared with the dispatcher). */
  lanes: DeliveryLanes;
  /** Jobs processed at once by this process. Default 64. */
  concurrency?: number;
  /** An endpoint's URL, state and secrets are re-read after this long, ms. Default 2000. */
  targetCacheMs?: number;
  /** A job's lock; a worker that died holds its jobs this long before another takes them, ms. Default 30000. */
  lockDurationMs?: number;
  /** A job that found its receiver's slots taken comes back after this long (± half), ms. Default 100. */
  throttleDelayMs?: number;
  clock?: () => Date;
  /** Sees every attempt (tests, benchmarks), with the id of the BullMQ job that sent it. */
  onAttempt?: (job: DeliveryJob, result: SendResult, sentBy: string) => void;
  onError?: (error: unknown) => void;
}

interface Target {
  url: string;
  enabled: boolean;
  secrets: string[];
  failingSince: Date | null;
  /** The throttle's key: the endpoint, or for a call's own URL its origin. */
  receiver: string;
}

export class DeliveryWorker {
  private worker: Worker<DeliveryJob> | undefined;
  private readonly targets = new Map<string, { expiresAt: number; target: Promise<Target | null> }>();
  private readonly clock: () => Date;
  private readonly gate: LocalGate;

  constructor(private readonly options: DeliveryWorkerOptions) {
    this.clock = options.clock ?? (() => new Date());
    const concurrency = options.concurrency ?? 64;
    this.gate = new LocalGate({
      limit: options.throttle.limit,
      // Beside others, a saturated receiver holds at most half of the worker's slots, waiting
      // included (so the others always have the other half); alone, all of them.
      sharedWaiters: Math.max(0, Math.floor(concurrency / 2) - options.throttle.limit),
      loneWaiters: Math.max(1, concurrency - options.throttle.limit),
      maxWaitMs: 1000,
    });
  }

  start(): void {
    this.worker = new Worker<DeliveryJob>(this.options.queue.name, (job, token) => this.process(job, token), {
      connection: this.options.connection,
      prefix: this.options.queue.prefix,
      concurrency: this.options.concurrency ?? 64,
      // Longer than a send can take (the sender's own deadline ends it first); BullMQ renews it
      // while the job runs, so it only bounds how long a dead worker's jobs wait for another.
      lockDuration: this.options.lockDurationMs ?? 30_000,
      stalledInterval: Math.max(1000, Math.round((this.options.lockDurationMs ?? 30_000) / 2)),
      // A job whose workers die under it is given back this many times before BullMQ fails it
      // (the dispatcher's reconciler then adds it again: PostgreSQL says it is still pending).
      maxStalledCount: 5,
    });
    this.worker.on('error', (error) => this.report(error));
  }

  async stop(): Promise<void> {
    await this.worker?.close();
  }

  /** Forget cached endpoint state (after an API change, in the same process). */
  invalidate(endpointId?: string): void {
    if (endpointId === undefined) this.targets.clear();
    else this.targets.delete(endpointId);
  }

  private async process(job: Job<DeliveryJob>, token: string | undefined): Promise<void> {
    for (let data: DeliveryJob | null = job.data; data !== null; ) {
      const next = await this.deliver(job, token, data);
      // Written down before it is sent, so that this job started again (its worker died, or it
      // backs off for the throttle) resumes the run there.
      if (next !== null) await job.updateData(next);
      data = next;
    }
  }

  /** One delivery, by the job `job`; returns the next one this job is to send (its lane's next), or null. */
  private async deliver(job: Job<DeliveryJob>, token: string | undefined, data: DeliveryJob): Promise<DeliveryJob | null> {
    const carrier = job.id ?? deliveryJobId(data.deliveryId, data.attempt);
    const lane = laneOf(data);
    if (lane !== null && data.laneHead !== true) {
      const turn = await this.takeTurn(carrier, lane, data);
      if (turn === null || turn.deliveryId !== data.deliveryId) return turn;
    }
    const target = await this.target(data);
    if (target === null) {
      // The endpoint was deleted, and its deliveries with it.
      return this.leaveLane(lane, carrier);
    }
    if (!target.enabled) {
      await this.record(data, { status: null, body: null, latencyMs: 0, error: 'endpoint disabled: not sent' }, target.url, 'failed', null);
      return this.leaveLane(lane, carrier);
    }
    const result = await this.sendThrottled(job, token, data, target);
    return this.settle(data, target, result.at, result.result, lane, carrier);
  }

  /**
   * For a job not known to be first in its lane: its own delivery when it is first; null when it
   * waits behind another (with its data in the lane: the run reaches it in turn); or the delivery
   * this job must carry instead, handed over when it took a ghost out of the lane. A ghost is a
   * delivery ahead no longer pending in PostgreSQL (its worker died between the record and
   * leaving, and its job is gone).
   */
  private async takeTurn(carrier: string, lane: LaneMember, data: DeliveryJob): Promise<DeliveryJob | null> {
    const { lanes, store } = this.options;
    for (let ghosts = 0; ghosts < 3; ghosts++) {
      const verdict = await lanes.enter(lane, data);
      if (verdict.first) return data;
      const [ahead] = await store.webhookDeliveries.deliveries([verdict.behind]);
      if (ahead !== undefined && ahead.status === 'pending') return null;
      const next = await lanes.leave({ ...lane, deliveryId: verdict.behind }, carrier);
      if (next !== null) return next;
    }
    return null;
  }

  /** The delivery is done with: the next of its lane, if it waits with no job of its own, is this job's to send. */
  private async leaveLane(lane: LaneMember | null, carrier: string): Promise<DeliveryJob | null> {
    if (lane === null) return null;
    return this.options.lanes.leave(lane, carrier);
  }

  /**
   * The send, inside the receiver's slot (this process's gate, then the lease shared by every
   * process); the slot is held for the HTTP exchange only, not for the bookkeeping after it.
   */
  private async sendThrottled(job: Job<DeliveryJob>, token: string | undefined, data: DeliveryJob, target: Target): Promise<{ at: Date; result: SendResult }> {
    const backOff = async (): Promise<never> => {
      const base = this.options.throttleDelayMs ?? 100;
      await job.moveToDelayed(Date.now() + Math.round(base * (0.5 + Math.random())), token);
      throw new DelayedError();
    };
    if (!(await this.gate.enter(target.receiver))) return backOff();
    let lease: string | null;
    try {
      // Other processes hold the receiver's other slots: they free within milliseconds for a
      // receiver that answers at once, so ask again shortly (this process's gate bounds how many
      // of its jobs do) before putting the job back for later.
      const giveUpAt = Date.now() + 500;
      for (;;) {
        lease = await this.options.throttle.acquire(target.receiver);
        if (lease !== null || Date.now() >= giveUpAt) break;
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 10));
      }
    } catch (error) {
      this.gate.leave(target.receiver);
      throw error;
    }
    if (lease === null) {
      this.gate.leave(target.receiver);
      return backOff();
    }
    try {
      const at = this.clock();
      return { at, result: await this.send(data, target, new Date()) };
    } finally {
      this.gate.leave(target.receiver);
      this.options.throttle.release(target.receiver, lease).catch((error: unknown) => this.report(error));
    }
  }

  /** `signedAt` is the wall clock's: the receiver checks the signature's timestamp against its own. */
  private async send(data: DeliveryJob, target: Target, signedAt: Date): Promise<SendResult> {
    try {
      const destination = await this.options.guard.check(target.url);
      return await this.options.sender.send(destination, { ...signatureHeaders(data.eventId, signedAt, data.body, target.secrets) }, data.body);
    } catch (error) {
      if (!(error instanceof DestinationRefused)) throw error;
      return { status: null, body: null, latencyMs: 0, error: error.message };
    }
  }

  /** What the attempt's outcome means: the record, the next attempt, the endpoint's health; then the lane's next for `carrier`, if any. */
  private async settle(data: DeliveryJob, target: Target, at: Date, result: SendResult, lane: LaneMember | null, carrier: string): Promise<DeliveryJob | null> {
    const { schedule } = this.options;
    this.options.onAttempt?.(data, result, carrier);
    const verdict = schedule.verdict(data.attempt, result.status, at);
    await this.record(data, result, target.url, verdict.kind === 'retry' ? 'pending' : verdict.kind, verdict.kind === 'retry' ? verdict.at : null);
    if (verdict.kind === 'retry') {
      // It stays first in its lane: the next attempt need not ask.
      const next: DeliveryJob = { ...data, attempt: data.attempt + 1, dueAt: verdict.at.getTime(), ...(lane !== null ? { laneHead: true } : {}) };
      await this.options.queue.add([{ job: next, delayMs: verdict.at.getTime() - this.clock().getTime() }]);
    }
    await this.endpointHealth(data, target, at, result, verdict.kind === 'succeeded');
    // Done with for good: on to the next of the lane, after the endpoint's health is settled
    // (an endpoint disabled just now must not see the deliveries behind sent to it).
    return verdict.kind === 'retry' ? null : this.leaveLane(lane, carrier);
  }

  private async endpointHealth(data: DeliveryJob, target: Target, at: Date, result: SendResult, succeeded: boolean): Promise<void> {
    const { schedule, store } = this.options;
    if (data.endpointId === null) return;
    if (succeeded) {
      if (target.failingSince !== null) {
        await store.webhookDeliveries.markEndpointHealthy(data.endpointId);
        target.failingSince = null;
      }
      return;
    }
    if (result.status === 410) {
      await this.disable(data.endpointId, 'gone', at);
      return;
    }
    const failingSince = await store.webhookDeliveries.markEndpointFailing(data.endpointId, at);
    target.failingSince = failingSince;
    if (schedule.shouldDisable(failingSince, at)) await this.disable(data.endpointId, 'failing', at);
  }

  private async record(data: DeliveryJob, result: SendResult, url: string, status: 'pending' | 'succeeded' | 'failed', nextAttemptAt: Date | null): Promise<void> {
    await this.options.store.webhookDeliveries.recordAttempt({
      deliveryId: data.deliveryId,
      number: data.attempt,
      at: this.clock(),
      url,
      responseStatus: result.status,
      responseBody: result.body,
      latencyMs: result.latencyMs,
      error: result.error,
      status,
      nextAttemptAt,
    });
  }

  /** Turns the endpoint off (once, whichever process gets there first) and tells the account's other endpoints. */
  private async disable(endpointId: string, reason: 'gone' | 'failing', at: Date): Promise<void> {
    const disabled = await this.options.store.webhookDeliveries.disableEndpoint(endpointId, reason, at);
    this.invalidate(endpointId);
    if (disabled === null) return;
    await this.announceDisabled(disabled, at);
  }

  private async announceDisabled(disabled: WebhookEndpoint, at: Date): Promise<void> {
    const others = (await this.options.store.webhookEndpoints.enabledWebhookEndpoints([disabled.accountId])).filter(
      (endpoint) => endpoint.id !== disabled.id && subscribes(endpoint.events, ENDPOINT_DISABLED_EVENT),
    );
    const eventId = newWebhookEventId();
    const body = endpointDisabledBody(disabled, at);
    await this.options.dispatcher.enqueueNew(
      others.map((endpoint) => ({ accountId: disabled.accountId, endpointId: endpoint.id, url: null, eventId, eventType: ENDPOINT_DISABLED_EVENT, callId: null, body, eventAt: at })),
    );
  }

  private target(data: DeliveryJob): Promise<Target | null> {
    const key = data.endpointId ?? `account:${data.accountId}`;
    const now = Date.now();
    const cached = this.targets.get(key);
    if (cached && cached.expiresAt > now) return this.forJob(cached.target, data);
    const target = this.loadTarget(data);
    this.targets.set(key, { expiresAt: now + (this.options.targetCacheMs ?? 2000), target });
    target.catch(() => this.targets.delete(key));
    return this.forJob(target, data);
  }

  /** A call's own URL comes with the job; the account's secrets are shared by its calls. */
  private async forJob(target: Promise<Target | null>, data: DeliveryJob): Promise<Target | null> {
    const loaded = await target;
    if (loaded === null || data.endpointId !== null) return loaded;
    const url = data.url ?? '';
    let receiver = url;
    try {
      receiver = `url:${new URL(url).origin}`;
    } catch {
      // the guard refuses it below
    }
    return { ...loaded, url, receiver };
  }

  private async loadTarget(data: DeliveryJob): Promise<Target | null> {
    const { store } = this.options;
    if (data.endpointId !== null) {
      const endpoint = await store.webhookEndpoints.webhookEndpointTarget(data.endpointId);
      if (endpoint === null) return null;
      return { url: endpoint.url, enabled: endpoint.enabled, secrets: endpoint.secrets, failingSince: endpoint.failingSince, receiver: endpoint.id };
    }
    const secrets = await store.webhookEndpoints.accountWebhookSecrets(data.accountId);
    if (secrets === null) return null;
    return { url: '', enabled: true, secrets: [secrets.secret, ...(secrets.previous ? [secrets.previous.secret] : [])], failingSince: null, receiver: '' };
  }

  private report(error: unknown): void {
    try {
      this.options.onError?.(error);
    } catch {
      // nowhere left to report to
    }
  }
}
