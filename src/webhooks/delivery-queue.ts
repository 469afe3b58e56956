/**
 * The BullMQ queue of deliveries: one job per attempt of one (event, destination) delivery, its id
 * `<deliveryId>-<attempt>`, so that adding the same attempt twice (a dispatcher that died between
 * adding its jobs and completing its outbox rows, a reconciler pass racing a worker) adds it once.
 * A job carries what the worker needs to send (the body as signed, the destination); never a
 * secret: the worker reads those from PostgreSQL.
 */
import { Queue, type Job } from 'bullmq';
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
  /** The call and its event's sequence: a call's deliveries to one destination go out in this order (delivery-lanes.ts). Null for other events. */
  callId?: string | null;
  sequence?: number | null;
  /**
   * True when the job is known to be first in its lane (dispatched first, the next attempt of one
   * that was, or handed over by the one ahead: delivery-lanes.ts), so the worker need not ask;
   * otherwise it asks before sending.
   */
  laneHead?: boolean;
  /**
   * When a retry is due on the role's clock, epoch ms (absent for first attempts, due at once).
   * BullMQ's own delay is what makes it due in production; a simulated clock makes it due with
   * promoteDue().
   */
  dueAt?: number;
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
    callId: delivery.callId,
    sequence: delivery.sequence,
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
    return this.hasJob(deliveryJobId(deliveryId, attempt));
  }

  /** As has(), by job id (a job carrying a lane's run: delivery-lanes.ts). */
  async hasJob(jobId: string): Promise<boolean> {
    const job = await this.queue.getJob(jobId);
    if (job === undefined) return false;
    const state = await job.getState();
    if (state !== 'failed' && state !== 'completed' && state !== 'unknown') return true;
    await job.remove().catch(() => undefined);
    return false;
  }

  /** Makes a delayed attempt due now; false when there is no such delayed job. */
  async promote(deliveryId: string, attempt: number): Promise<boolean> {
    return this.promoteJob(deliveryJobId(deliveryId, attempt));
  }

  /** As promote(), by job id; false when the job is not delayed (already running, done, or not added yet). */
  private async promoteJob(jobId: string): Promise<boolean> {
    const job = await this.queue.getJob(jobId);
    if (!job) return false;
    try {
      await job.promote();
      return true;
    } catch {
      // Not delayed (BullMQ's promote checks, atomically): running, done, or promoted by another releaser.
      return false;
    }
  }

  /**
   * Makes due every delayed attempt whose time (`dueAt`, on the role's clock) has come by `now`:
   * what BullMQ's timer does by itself on the wall clock, for a clock that is not the wall clock
   * (a test's simulated hour). Jobs with no `dueAt` (a first attempt backing off for the throttle)
   * are left to BullMQ's timer. Returns how many it promoted.
   */
  async promoteDue(now: Date): Promise<number> {
    let promoted = 0;
    for (const job of await this.delayed()) {
      if (job.data.dueAt !== undefined && job.data.dueAt <= now.getTime() && (await this.promoteJob(job.id!))) promoted++;
    }
    return promoted;
  }

  /** The earliest `dueAt` among delayed attempts; null when none. */
  async nextDueAt(): Promise<Date | null> {
    let earliest: number | null = null;
    for (const job of await this.delayed()) if (job.data.dueAt !== undefined && (earliest === null || job.data.dueAt < earliest)) earliest = job.data.dueAt;
    return earliest === null ? null : new Date(earliest);
  }

  private async delayed(): Promise<Job<DeliveryJob>[]> {
    const all: Job<DeliveryJob>[] = [];
    const page = 1000;
    for (let start = 0; ; start += page) {
      const jobs = await this.queue.getDelayed(start, start + page - 1);
      all.push(...jobs);
      if (jobs.length < page) return all;
    }
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
