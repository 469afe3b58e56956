/**
 * The `webhooks` role of a process (ROLES=webhooks): the outbox dispatcher, the delivery worker
 * and its throttle, on their own Redis connections. And `WebhookCommands`, what the API asks of
 * webhooks (send a test event, retry a delivery): it needs only the store and the queue, so an
 * API-only process can serve those routes while the deliveries are made elsewhere.
 */
import type { Redis } from 'ioredis';
import { newWebhookEventId, type PendingWebhookDelivery, type Store } from '../store/index.js';
import { DeliveryLanes } from './delivery-lanes.js';
import { DeliveryQueue, jobFor } from './delivery-queue.js';
import { DeliveryWorker, type DeliveryWorkerOptions } from './delivery-worker.js';
import { Dispatcher, type DispatcherOptions } from './dispatcher.js';
import { EndpointThrottle } from './endpoint-throttle.js';
import { DeliveryNotFound, EndpointDisabled } from './errors.js';
import { testEventBody, TEST_EVENT } from './event-body.js';
import { HttpSender } from './http-sender.js';
import { RetrySchedule } from './retry-schedule.js';
import { DestinationCache } from './ssrf-guard.js';

export interface WebhookSettings {
  /** The BullMQ queue's name. */
  queueName: string;
  /** BullMQ's key prefix (QUEUE_PREFIX); default `bull`. */
  queuePrefix?: string;
  /** WEBHOOK_ALLOW_PRIVATE: send to loopback and private addresses (tests, development). */
  allowPrivate: boolean;
  /** Per attempt, connect to last byte, ms. */
  timeoutMs: number;
  /** Deliveries in flight per process. */
  concurrency: number;
  /** Deliveries in flight per endpoint, across processes. */
  endpointConcurrency: number;
  /** Delays before the 2nd, 3rd… attempt, ms. */
  retryDelaysMs: readonly number[];
  /** An endpoint failing this long is disabled, ms. */
  disableAfterMs: number;
  /** How often to look for pending deliveries whose job Redis lost (overdue by twice this), ms. Default 30000. */
  reconcileMs?: number;
}

export interface WebhooksRoleOptions {
  store: Store;
  settings: WebhookSettings;
  /** Each of the role's Redis connections is made by this factory (the worker's blocks). */
  connect: (name: string) => Redis;
  dispatcher?: Partial<Omit<DispatcherOptions, 'store' | 'queue' | 'lanes' | 'clock'>>;
  worker?: Partial<Pick<DeliveryWorkerOptions, 'onAttempt' | 'targetCacheMs' | 'throttleDelayMs' | 'lockDurationMs'>>;
  /**
   * The clock of the role's scheduling: when attempts are due, their records, the 5-day rule,
   * what is overdue. Default the wall clock; a test's simulated clock goes with
   * DeliveryQueue.promoteDue().
   */
  clock?: () => Date;
  onError?: (error: unknown) => void;
}

export class WebhooksRole {
  readonly queue: DeliveryQueue;
  readonly dispatcher: Dispatcher;
  readonly worker: DeliveryWorker;
  readonly lanes: DeliveryLanes;
  private readonly sender: HttpSender;

  constructor(options: WebhooksRoleOptions) {
    const { store, settings } = options;
    this.queue = new DeliveryQueue(options.connect('webhooks-queue'), settings.queueName, settings.queuePrefix);
    const reconcileMs = settings.reconcileMs ?? 30_000;
    const clock = options.clock ?? (() => new Date());
    const schedule = new RetrySchedule({ delaysMs: settings.retryDelaysMs, disableAfterMs: settings.disableAfterMs });
    this.lanes = new DeliveryLanes(options.connect('webhooks-lanes'), {
      keyPrefix: `${settings.queuePrefix ?? 'bull'}:${settings.queueName}:lane:`,
      // Only a guard against leaks: outlasts a whole schedule twice, and each step renews it.
      ttlMs: 2 * settings.retryDelaysMs.reduce((sum, delay) => sum + delay, 0) + 86_400_000,
    });
    this.dispatcher = new Dispatcher({ store, queue: this.queue, lanes: this.lanes, clock, reconcileEveryMs: reconcileMs, overdueAfterMs: 2 * reconcileMs, ...options.dispatcher, ...(options.onError ? { onError: options.onError } : {}) });
    this.sender = new HttpSender({ timeoutMs: settings.timeoutMs, maxSocketsPerHost: Math.max(settings.endpointConcurrency, 1) });
    this.worker = new DeliveryWorker({
      store,
      queue: this.queue,
      dispatcher: this.dispatcher,
      connection: options.connect('webhooks-worker'),
      sender: this.sender,
      guard: new DestinationCache({ allowPrivate: settings.allowPrivate, ttlMs: 10_000 }),
      throttle: new EndpointThrottle(options.connect('webhooks-throttle'), {
        limit: settings.endpointConcurrency,
        // Outlasts the longest send; a killed worker's slots come back after this.
        leaseMs: settings.timeoutMs + 5_000,
        keyPrefix: `${settings.queuePrefix ?? 'bull'}:${settings.queueName}:inflight:`,
      }),
      schedule,
      lanes: this.lanes,
      clock,
      concurrency: settings.concurrency,
      ...options.worker,
      ...(options.onError ? { onError: options.onError } : {}),
    });
  }

  start(): void {
    this.dispatcher.start();
    this.worker.start();
  }

  /** Stops taking outbox rows and jobs; what is in flight finishes (or comes back after a restart). */
  async stop(): Promise<void> {
    // With Redis away BullMQ's close waits for it forever; what is left undone comes back after a
    // restart (the outbox and the pending deliveries are in PostgreSQL), so the wait is bounded.
    const bounded = (work: Promise<void>): Promise<void> => Promise.race([work.catch(() => undefined), new Promise<void>((resolve) => setTimeout(resolve, 5000).unref())]);
    await bounded(this.dispatcher.stop());
    await bounded(this.worker.stop());
    await bounded(this.queue.close());
    this.sender.close();
  }
}

export class WebhookCommands {
  constructor(
    private readonly store: Store,
    private readonly queue: DeliveryQueue,
  ) {}

  /**
   * Sends `webhook.test` to one endpoint (whatever events it subscribes to); the delivery, whose
   * id comes back, is logged like any other. EndpointDisabled for a disabled endpoint.
   */
  async sendTest(accountId: string, endpointId: string): Promise<PendingWebhookDelivery | null> {
    const endpoint = await this.store.webhookEndpoints.getWebhookEndpoint(accountId, endpointId);
    if (endpoint === null) return null;
    if (!endpoint.enabled) throw new EndpointDisabled(endpointId);
    const at = new Date();
    const eventId = newWebhookEventId();
    const [id] = await this.store.webhookDeliveries.createDeliveries([
      { accountId, endpointId, url: null, eventId, eventType: TEST_EVENT, callId: null, body: testEventBody(endpointId, at), eventAt: at },
    ]);
    const [delivery] = await this.store.webhookDeliveries.deliveries([id!]);
    await this.queue.add([{ job: jobFor(delivery!, 1) }]);
    return delivery!;
  }

  /**
   * Sends a delivery again now: its scheduled retry is brought forward, or (succeeded or given
   * up) a new attempt is added, outside its call's order (it left its lane when it was done with;
   * joining again would put it ahead of the call's later events still on their way). One waiting
   * in its lane keeps waiting for its turn. The same body and webhook-id, so a receiver that has
   * it already can tell.
   */
  async retry(accountId: string, deliveryId: string): Promise<void> {
    const found = await this.store.webhookEndpoints.getWebhookDelivery(accountId, deliveryId);
    if (found === null) throw new DeliveryNotFound(deliveryId);
    if (found.endpointId !== null) {
      const endpoint = await this.store.webhookEndpoints.getWebhookEndpoint(accountId, found.endpointId);
      if (endpoint !== null && !endpoint.enabled) throw new EndpointDisabled(found.endpointId);
    }
    const next = found.attempts + 1;
    if (found.status === 'pending' && (await this.queue.promote(deliveryId, next))) return;
    await this.store.webhookDeliveries.reopenDelivery(deliveryId);
    const [delivery] = await this.store.webhookDeliveries.deliveries([deliveryId]);
    const job = jobFor(delivery!, next);
    if (found.status !== 'pending') job.sequence = null;
    await this.queue.add([{ job }]);
  }
}
