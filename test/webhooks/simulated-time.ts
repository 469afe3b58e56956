/**
 * Simulated time for the webhooks role: a clock that runs with the wall clock plus an offset the
 * test moves forward, and the step that makes the role's delayed attempts due on it (what BullMQ's
 * own timer does on the wall clock), then waits until the role has done what came due.
 */
import type { DeliveryQueue } from '../../src/webhooks/index.js';

export class SimulatedClock {
  private offsetMs = 0;

  /** The role's clock (pass it as `clock` / `webhookClock`). */
  readonly now = (): Date => new Date(Date.now() + this.offsetMs);

  advance(ms: number): void {
    this.offsetMs += Math.max(0, ms);
  }

  /** Moves to `at` (never back). */
  advanceTo(at: Date): void {
    this.advance(at.getTime() - this.now().getTime());
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Until nothing of the queue is waiting or running and no delayed attempt is due on the clock
 * (deliveries waiting in their lane have no job: they go when the one ahead is done), and
 * `alsoDone` (the outbox drained, say) holds. Bounded. Meanwhile it makes due what comes due on
 * the simulated clock (which runs on with the wall clock): BullMQ's own timer would fire such a
 * job only at its wall-clock time, later by every jump made since it was scheduled.
 */
export async function waitUntilSettled(queue: DeliveryQueue, clock: SimulatedClock, alsoDone: () => Promise<boolean> = async () => true, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await queue.promoteDue(clock.now());
    // Delayed first, then the rest: a job promoted in between is seen in one or the other.
    const due = await queue.nextDueAt();
    const counts = await queue.queue.getJobCounts('wait', 'active', 'prioritized');
    const busy = Object.values(counts).reduce((sum, n) => sum + n, 0);
    if (busy === 0 && (due === null || due.getTime() > clock.now().getTime()) && (await alsoDone())) {
      // Confirm on a second look: a job between two states (moved to delayed, promoted) is seen once.
      await sleep(50);
      const dueAgain = await queue.nextDueAt();
      const again = await queue.queue.getJobCounts('wait', 'active', 'prioritized');
      if (Object.values(again).every((n) => n === 0) && (dueAgain === null || dueAgain.getTime() > clock.now().getTime())) return;
    }
    if (Date.now() > deadline) throw new Error(`the webhooks queue did not settle in ${timeoutMs} ms: ${JSON.stringify(counts)}, next due ${due?.toISOString() ?? 'none'} (now ${clock.now().toISOString()})`);
    await sleep(25);
  }
}

/** Moves the clock to `at`, makes due what is due by then, and waits until it is done. */
export async function advanceTo(queue: DeliveryQueue, clock: SimulatedClock, at: Date, alsoDone?: () => Promise<boolean>): Promise<number> {
  clock.advanceTo(at);
  const promoted = await queue.promoteDue(clock.now());
  await waitUntilSettled(queue, clock, alsoDone);
  return promoted;
}
