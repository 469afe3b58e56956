/** The producer side, used by the API: new calls to originate, and commands for live calls. */
import { Queue, type BulkJobOptions } from 'bullmq';
import { Coalescer } from '../store/index.js';
import { DEFAULT_QUEUE_PREFIX, engineQueueName, ORIGINATE_QUEUE, type EngineCommand, type OriginateJob } from './jobs.js';
import type { Redis } from './redis.js';

export class CallQueues {
  private readonly originate: Queue;
  private readonly engineQueues = new Map<string, Queue>();
  // The calls accepted at the same moment go to Redis in one round trip (addBulk).
  private readonly adds = new Coalescer<OriginateJob, void>(async (jobs) => {
    if (jobs.length === 1) await this.originate.add('originate', jobs[0]!, originateOptions(jobs[0]!));
    else await this.originate.addBulk(jobs.map((job) => ({ name: 'originate', data: job, opts: originateOptions(job) })));
    return jobs.map(() => undefined);
  });

  /** `prefix`: BullMQ's key prefix, the same for every process of one deployment. */
  constructor(
    private readonly connection: Redis,
    private readonly prefix = DEFAULT_QUEUE_PREFIX,
    /** Connection errors of the queues (Redis down): reported, not thrown. */
    private readonly onError: (error: Error) => void = () => undefined,
  ) {
    this.originate = new Queue(ORIGINATE_QUEUE, { connection, prefix });
    this.originate.on('error', (error) => this.onError(error));
  }

  /** Whether Redis is connected now: while it is not, adding a job would wait for it. */
  get available(): boolean {
    return this.connection.status === 'ready';
  }

  /** Adds the call's originate job; its id is the call id, so adding it twice adds it once. */
  originateCall(job: OriginateJob): Promise<void> {
    return this.adds.submit(job);
  }

  /** Removes a call's originate job if no engine has taken it yet. True when it was removed. */
  async withdraw(callId: string): Promise<boolean> {
    const job = await this.originate.getJob(callId);
    if (!job) return false;
    const state = await job.getState();
    if (state !== 'waiting' && state !== 'delayed' && state !== 'prioritized') return false;
    try {
      await job.remove();
      return true;
    } catch {
      return false;
    }
  }

  /** Jobs waiting, running, delayed and failed on the originate queue (metrics). */
  async depths(): Promise<{ queue: string; state: string; count: number }[]> {
    const counts = await this.originate.getJobCounts('waiting', 'active', 'delayed', 'failed');
    return Object.entries(counts).map(([state, count]) => ({ queue: ORIGINATE_QUEUE, state, count }));
  }

  /** A command for the engine that owns the call. */
  async command(engineId: string, command: EngineCommand): Promise<void> {
    let queue = this.engineQueues.get(engineId);
    if (!queue) {
      queue = new Queue(engineQueueName(engineId), { connection: this.connection, prefix: this.prefix });
      queue.on('error', (error) => this.onError(error));
      this.engineQueues.set(engineId, queue);
    }
    await queue.add(command.type, command, { removeOnComplete: true, removeOnFail: { age: 3600 } });
  }

  async close(): Promise<void> {
    await Promise.all([this.originate.close(), ...[...this.engineQueues.values()].map((q) => q.close())]);
  }
}

function originateOptions(job: OriginateJob): BulkJobOptions {
  return {
    jobId: job.callId,
    // Kept a while after completion so that a duplicate add within that time stays a no-op;
    // the database's call row is what really makes a retry harmless.
    removeOnComplete: { age: 600, count: 100_000 },
    removeOnFail: { age: 86_400 },
    // An attempt that fails (PostgreSQL out of reach, a draining engine) is tried again, by any
    // engine, for about 3 minutes; the claim in the database keeps a retry from dialling twice.
    attempts: 10,
    backoff: { type: 'exponential', delay: 200 },
  };
}
