/**
 * The BullMQ queue of deliveries: one job per attempt of one (event, destination) delivery, its id
 * `<deliveryId>-<attempt>`, so that adding the same attempt twice (a dispatcher that died between
 * adding its jobs and completing its outbox rows, a reconciler pass racing a worker) adds it once.
 * A job carries what the worker needs to send (the body as signed, the destination); never a
 * secret: the worker reads those from PostgreSQL.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { PendingWebhookDelivery } from '../store/index.js';

export const DEFAULT_WEBHOOK_QUEUE = 'webhooks';

export interface DeliveryJob {
  deliveryId: string;
  /** 1-based attempt number. */
  attempt: number;
  accountId: string;
  endpointId: string | null;
  /** The call's own webhookUrl (endpointId null). */
  url: string | null;
  /** The webhook-id. */
  eventId: string;
  /** Epoch ms of the state change (for the delay measured by benchmarks). */
  eventAt: number;
  body: string;
}

export function deliveryJobId(deliveryId: string, attempt: number): string {
  return `${deliveryId}-${attempt}`;
}

export function jobFor(delivery: PendingWebhookDelivery, attempt: number): DeliveryJob {
  return {
    deliveryId: delivery.id,
    attempt,
    accountId: delivery.accountId,
    endpointId: delivery.endpointId,
    url: delivery.url,
    eventId: delivery.eventId,
    eventAt: delivery.eventAt.getTime(),
    body: delivery.body,
  };
}

export class DeliveryQueue {
  readonly queue: Queue<DeliveryJob>;

  constructor(connection: Redis, name: string = DEFAULT_WEBHOOK_QUEUE, prefix?: string) {
    this.queue = new Queue<DeliveryJob>(name, { connection, ...(prefix ? { prefix } : {}) });
    // Connection errors are the connection's to report (main.ts logs them); operations fail on their own.
    this.queue.on('error', () => undefined);
  }

  /** BullMQ's key prefix. */
  get prefix(): string {
    return this.queue.opts.prefix ?? 'bull';
  }

  get name(): string {
    return this.queue.name;
  }

  /** Adds the attempts (each once, whatever happens), due after `delayMs` (default at once). */
  async add(jobs: ReadonlyArray<{ job: DeliveryJob; delayMs?: number }>): Promise<void> {
    if (jobs.length === 0) return;
    await this.queue.addBulk(
      jobs.map(({ job, delayMs }) => ({
        name: 'deliver',
        data: job,
        opts: {
          jobId: deliveryJobId(job.deliveryId, job.attempt),
          ...(delayMs && delayMs > 0 ? { delay: Math.round(delayMs) } : {}),
          // PostgreSQL keeps the record of every attempt; Redis only what is still to do.
          removeOnComplete: true,
          removeOnFail: { age: 86_400 },
          // A worker failure (not a receiver failure: those are recorded and rescheduled by us) is retried soon.
          attempts: 5,
          backoff: { type: 'exponential', delay: 1000 },
        },
      })),
    );
  }

  /**
   * Whether the attempt's job is still to run (waiting, delayed, active). A job that BullMQ gave
   * up on (stalled too often: its workers kept dying) is removed, so that it can be added again.
   */
  async has(deliveryId: string, attempt: number): Promise<boolean> {
    const job = await this.queue.getJob(deliveryJobId(deliveryId, attempt));
    if (job === undefined) return false;
    const state = await job.getState();
    if (state !== 'failed' && state !== 'completed' && state !== 'unknown') return true;
    await job.remove().catch(() => undefined);
    return false;
  }

  /** Makes a delayed attempt due now; false when there is no such delayed job. */
  async promote(deliveryId: string, attempt: number): Promise<boolean> {
    const job = await this.queue.getJob(deliveryJobId(deliveryId, attempt));
    if (!job || !(await job.isDelayed())) return false;
    await job.promote();
    return true;
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
