/**
 * The outbox relay: takes call events from the outbox (written in the same statement as the state
 * change they describe), makes one delivery per (event, destination) in PostgreSQL and one BullMQ
 * job per delivery, and only then completes the outbox rows. Each step is idempotent (delivery
 * ids derive from event and destination, job ids from delivery and attempt), so a relay that dies
 * anywhere in between is simply redone by the next claim: nothing is lost, nothing is doubled.
 * While Redis is down the jobs cannot be added, the outbox rows stay, and they are handed over
 * when it is back.
 *
 * Each call event's delivery joins its lane (delivery-lanes.ts) before any job is added: the
 * first of a lane gets a job, due at once; the others get none and wait in the lane, to be sent
 * in sequence order by the job of the one ahead. This process's claims join their lanes in the
 * order they were claimed, so that a call whose events straddle two claims in flight keeps its
 * order.
 *
 * It also reconciles: a pending delivery long overdue whose job is not in Redis (Redis lost its
 * data), and that no live job is carrying, gets its job again.
 */
import { deliveryId, deliveryTarget, type NewWebhookDelivery, type OutboxEvent, type PendingWebhookDelivery, type Store } from '../store/index.js';
import { laneOf, type DeliveryLanes, type LaneMember } from './delivery-lanes.js';
import { jobFor, type DeliveryJob, type DeliveryQueue } from './delivery-queue.js';
import { callEventBody, subscribes } from './event-body.js';

export interface DispatcherOptions {
  store: Store;
  queue: DeliveryQueue;
  /** The per-call order of deliveries (shared with the worker). */
  lanes: DeliveryLanes;
  /** The role's clock (when a pending delivery is overdue). Default the wall clock. */
  clock?: () => Date;
  /** Outbox rows per claim. Default 500. */
  batchSize?: number;
  /** Wait between claims when the outbox was empty, ms. Default 50. */
  idleMs?: number;
  /**
   * Wait after a claim that did not fill a batch, ms: the events of the next moments gather into
   * one claim rather than each costing a claim (an UPDATE and its commit) of its own, which is what
   * the relay would otherwise spend the most on under a steady stream of calls. Default 20.
   */
  gatherMs?: number;
  /** Claims in flight at once (SKIP LOCKED keeps them apart), so one batch's Redis work overlaps the next's queries. Default 2. */
  parallel?: number;
  /** A claim not completed this long is handed out again (its relay died), ms. Default 30000. */
  reclaimAfterMs?: number;
  /** Every this often, look for pending deliveries whose job Redis lost, ms. Default 30000. */
  reconcileEveryMs?: number;
  /** …those due this long ago and still pending, ms. Default 60000. */
  overdueAfterMs?: number;
  onError?: (error: unknown) => void;
}

export interface DispatcherStats {
  events: number;
  deliveries: number;
  requeued: number;
}

export class Dispatcher {
  private running = false;
  private loops: Promise<void>[] = [];
  private reconcileTimer: NodeJS.Timeout | undefined;
  private readonly wakers = new Set<() => void>();
  private readonly counts: DispatcherStats = { events: 0, deliveries: 0, requeued: 0 };
  /** The last claim's turn to join its lanes: each claim joins after the one claimed before it. */
  private joined: Promise<void> = Promise.resolve();
  /**
   * Events handed over (their deliveries made and queued) whose outbox rows the next claim
   * removes, in its own statement; stop() removes what is left. Were the process to die first,
   * they would be claimed again after reclaimAfterMs and handed over again, which is idempotent.
   */
  private handedOver: string[] = [];

  constructor(private readonly options: DispatcherOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops = Array.from({ length: this.options.parallel ?? 2 }, () => this.run());
    this.reconcileTimer = setInterval(() => void this.reconcile().catch((error: unknown) => this.report(error)), this.options.reconcileEveryMs ?? 30_000);
    this.reconcileTimer.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    for (const wake of this.wakers) wake();
    await Promise.all(this.loops);
    const handedOver = this.handedOver.splice(0);
    if (handedOver.length > 0) await this.options.store.completeOutbox(handedOver).catch((error: unknown) => this.report(error));
  }

  stats(): DispatcherStats {
    return { ...this.counts };
  }

  /**
   * One claim: events out of the outbox into deliveries and jobs; it also removes the outbox rows
   * of the events the claims before it handed over. Its own are removed by the next claim
   * (`completeLater`, the relay's loop) or at once, by a statement of their own (a caller that
   * claims by hand). Returns how many events it moved.
   */
  async dispatchOnce(completeLater = false): Promise<number> {
    const { store } = this.options;
    const complete = this.handedOver.splice(0);
    let events: OutboxEvent[];
    try {
      events = await store.claimOutbox({ limit: this.options.batchSize ?? 500, reclaimAfterMs: this.options.reclaimAfterMs ?? 30_000, complete });
    } catch (error) {
      // Nothing of the statement happened: the next claim completes them.
      this.handedOver.push(...complete);
      throw error;
    }
    if (events.length === 0) return 0;
    const before = this.joined;
    let done!: () => void;
    this.joined = new Promise<void>((resolve) => (done = resolve));
    try {
      await this.handOver(events, before, done, completeLater);
    } finally {
      done();
    }
    this.counts.events += events.length;
    return events.length;
  }

  private async handOver(events: readonly OutboxEvent[], before: Promise<void>, joined: () => void, completeLater: boolean): Promise<void> {
    const { store } = this.options;
    // The claim said which events may go somewhere; for the others (no endpoint in the account,
    // no webhookUrl on the call, or the call deleted with its account) nothing more is read.
    const going = events.filter((event) => event.callExists && (event.callWebhookUrl !== null || event.accountHasEndpoints));
    const deliveries: NewWebhookDelivery[] = [];
    if (going.length > 0) {
      const withEndpoints = going.filter((event) => event.accountHasEndpoints);
      const [callList, endpoints] = await Promise.all([
        store.callsById([...new Set(going.map((event) => event.callId))]),
        withEndpoints.length === 0 ? [] : store.webhookEndpoints.enabledWebhookEndpoints([...new Set(withEndpoints.map((event) => event.accountId))]),
      ]);
      const calls = new Map(callList.map((call) => [call.id, call]));
      for (const event of going) {
        const call = calls.get(event.callId);
        if (!call) continue; // deleted with its account since the claim
        const to = endpoints.filter((endpoint) => endpoint.accountId === event.accountId && subscribes(endpoint.events, event.type));
        if (to.length === 0 && !call.webhookUrl) continue;
        const body = callEventBody(event, call);
        const base = { accountId: event.accountId, eventId: event.id, eventType: event.type, callId: event.callId, sequence: event.sequence, body, eventAt: event.createdAt };
        for (const endpoint of to) deliveries.push({ ...base, endpointId: endpoint.id, url: null });
        if (call.webhookUrl) deliveries.push({ ...base, endpointId: null, url: call.webhookUrl });
      }
    }
    await this.enqueueNew(deliveries, { before, joined });
    const ids = events.map((event) => event.id);
    if (completeLater) this.handedOver.push(...ids);
    else await store.completeOutbox(ids);
  }

  /**
   * Creates deliveries (once) and adds the first attempt of those not yet attempted. `turn`: wait
   * for `before` to join lanes, and say `joined` once these have.
   */
  async enqueueNew(deliveries: readonly NewWebhookDelivery[], turn?: { before: Promise<void>; joined: () => void }): Promise<void> {
    if (deliveries.length === 0) return;
    const { store } = this.options;
    const created = await store.webhookDeliveries.createDeliveriesTelling(deliveries);
    if (created.length === 0) return;
    // New rows are what we just built; rows found unattempted (a relay died before completing
    // its outbox rows) are read back, so the job carries the body as it was stored.
    const byId = new Map(deliveries.map((delivery) => [deliveryId(delivery.eventId, deliveryTarget(delivery)), delivery]));
    const pending: PendingWebhookDelivery[] = [];
    const again = created.filter((row) => !row.fresh).map((row) => row.id);
    for (const row of created) {
      const delivery = byId.get(row.id);
      if (row.fresh && delivery) {
        pending.push({
          id: row.id,
          accountId: delivery.accountId,
          endpointId: delivery.endpointId,
          url: delivery.endpointId === null ? delivery.url : null,
          eventId: delivery.eventId,
          callId: delivery.callId,
          sequence: delivery.sequence ?? null,
          body: delivery.body,
          status: 'pending',
          attempts: 0,
          eventAt: delivery.eventAt,
        });
      }
    }
    if (again.length > 0) pending.push(...(await this.lostFirstAttempts(again)));
    await this.addFirstAttempts(pending, turn);
    this.counts.deliveries += pending.length;
  }

  /** The first attempts: a call event's joins its lane, and gets a job only when first there. */
  private async addFirstAttempts(pending: readonly PendingWebhookDelivery[], turn?: { before: Promise<void>; joined: () => void }): Promise<void> {
    const { lanes, queue } = this.options;
    const jobs = pending.map((delivery) => jobFor(delivery, 1));
    const inLane = jobs.filter((job) => laneOf(job) !== null);
    if (turn) await turn.before;
    const first = await lanes.join(inLane);
    turn?.joined();
    const waiting = new Set(inLane.filter((_, index) => !first[index]));
    for (const job of inLane) if (!waiting.has(job)) job.laneHead = true;
    await queue.add(jobs.filter((job) => !waiting.has(job)).map((job) => ({ job })));
  }

  /**
   * Of deliveries found unattempted, those whose first job is really gone. The order matters: a
   * job is removed only after its attempt is recorded, so once the job is seen absent, a row
   * still at 0 attempts was never sent (reading the row first could see it just before a worker
   * recorded and removed it, and send it twice).
   */
  private async lostFirstAttempts(ids: readonly string[]): Promise<PendingWebhookDelivery[]> {
    const absent: string[] = [];
    for (const id of ids) if (!(await this.options.queue.has(id, 1))) absent.push(id);
    const rows = await this.options.store.webhookDeliveries.deliveries(absent);
    return rows.filter((row) => row.status === 'pending' && row.attempts === 0);
  }

  /** Pending deliveries long overdue whose next attempt has no job (Redis lost it) get it back. */
  async reconcile(): Promise<number> {
    const { store, queue } = this.options;
    const now = (this.options.clock ?? (() => new Date()))();
    const overdue = await store.webhookDeliveries.overdueDeliveries(new Date(now.getTime() - (this.options.overdueAfterMs ?? 60_000)), 500);
    const jobless: PendingWebhookDelivery[] = [];
    for (const delivery of overdue) if (!(await queue.has(delivery.id, delivery.attempts + 1))) jobless.push(delivery);
    const absent = await this.uncarried(jobless);
    // As above: re-read after seeing the job absent, and requeue only what did not move meanwhile.
    const rows = new Map((await store.webhookDeliveries.deliveries(absent.map((delivery) => delivery.id))).map((row) => [row.id, row]));
    const lost: { job: DeliveryJob }[] = [];
    for (const before of absent) {
      const row = rows.get(before.id);
      if (row && row.status === 'pending' && row.attempts === before.attempts) lost.push({ job: jobFor(row, row.attempts + 1) });
    }
    await queue.add(lost);
    this.counts.requeued += lost.length;
    return lost.length;
  }

  /**
   * Of call events' deliveries with no job of their own, those no live job is carrying (a lane's
   * head waiting for the job that sent the one before it: delivery-lanes.ts). A carrier whose job
   * is gone (BullMQ gave up on it) leaves its lane's head to the reconciler.
   */
  private async uncarried(deliveries: readonly PendingWebhookDelivery[]): Promise<PendingWebhookDelivery[]> {
    const { lanes, queue } = this.options;
    const inLane: Array<{ delivery: PendingWebhookDelivery; member: LaneMember }> = [];
    const uncarried: PendingWebhookDelivery[] = [];
    for (const delivery of deliveries) {
      const member = laneOf(jobFor(delivery, delivery.attempts + 1));
      if (member === null) uncarried.push(delivery);
      else inLane.push({ delivery, member });
    }
    const carriers = await lanes.carriers(inLane.map(({ member }) => member));
    for (const [index, { delivery }] of inLane.entries()) {
      const carrier = carriers[index];
      if (carrier == null || !(await queue.hasJob(carrier))) uncarried.push(delivery);
    }
    return uncarried;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      let moved = 0;
      try {
        moved = await this.dispatchOnce(true);
        failures = 0;
      } catch (error) {
        // PostgreSQL or Redis is away: the claimed rows come back after reclaimAfterMs; try again, slower.
        failures += 1;
        this.report(error);
      }
      const batchSize = this.options.batchSize ?? 500;
      if (moved < batchSize && this.running) {
        const waitMs = failures > 0 ? Math.min(5000, 100 * 2 ** Math.min(failures, 6)) : moved === 0 ? (this.options.idleMs ?? 50) : (this.options.gatherMs ?? 20);
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            clearTimeout(timer);
            this.wakers.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, waitMs);
          this.wakers.add(wake);
        });
      }
    }
  }

  private report(error: unknown): void {
    try {
      this.options.onError?.(error);
    } catch {
      // nowhere left to report to
    }
  }
}
