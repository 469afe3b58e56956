/**
 * The Prometheus metrics of one process (`GET /metrics`), with prom-client: calls started,
 * connected and ended (by status and end reason), call set-up time from the API's acceptance to
 * `connected`, live calls, SIP messages, retransmissions and transaction timeouts by method and
 * direction, webhook deliveries by outcome with their delay, BullMQ queue depths, and Node's
 * default process metrics.
 *
 * Counters that the SIP stack keeps itself (SipTraffic) are read when Prometheus scrapes, so the
 * per-message path pays an increment and nothing else. Every source is optional: a process
 * reports what its roles have.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CallEvent } from '../engine/index.js';
import type { SipTraffic } from '../sip/index.js';

export interface EngineMetricsSource {
  readonly liveCalls: number;
  readonly sipTraffic: SipTraffic;
}

export interface QueueDepth {
  queue: string;
  state: string;
  count: number;
}

export interface ServiceMetricsOptions {
  /** Labels on every series, e.g. { role: 'engine', engine: 'host-1234' }. */
  labels?: Record<string, string>;
  /** Node's process metrics (CPU, memory, event-loop lag, GC). Default true. */
  processMetrics?: boolean;
}

/** Request to first INVITE: the goal is well under 50 ms, so the buckets are fine below it. */
const DISPATCH_BUCKETS = [0.0025, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10];
/** Set-up time buckets in seconds: a call through a PSTN trunk takes seconds, on a LAN milliseconds. */
const SETUP_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60];
const DELAY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600];
/** Calls accepted by the API but not yet connected or ended are remembered this long at most. */
const ACCEPTED_MAX_AGE_MS = 4 * 3600_000;

export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly callsStarted: Counter;
  private readonly callsConnected: Counter;
  private readonly callsEnded: Counter<'status' | 'end_reason'>;
  private readonly setupSeconds: Histogram;
  private readonly dispatchSeconds: Histogram;
  private readonly webhookDeliveries: Counter<'outcome'>;
  private readonly webhookDelay: Histogram;
  private readonly buttonRefusals: Counter<'reason'>;
  /** When the API accepted each live call (its job's acceptedAt), for the set-up time. */
  private readonly acceptedAt = new Map<string, number>();
  private engine: EngineMetricsSource | undefined;
  private queueDepths: (() => Promise<QueueDepth[]>) | undefined;

  constructor(options: ServiceMetricsOptions = {}) {
    if (options.labels) this.registry.setDefaultLabels(options.labels);
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.buttonRefusals = new Counter({ name: 'ctd_button_refusals_total', help: 'Dial-button requests refused (origin, disabled, hours, number, rate limits), by reason.', labelNames: ['reason'], registers });
    this.callsStarted = new Counter({ name: 'ctd_calls_started_total', help: 'Calls this engine started placing (leg a called).', registers });
    this.callsConnected = new Counter({ name: 'ctd_calls_connected_total', help: 'Calls whose two legs were joined.', registers });
    this.callsEnded = new Counter({
      name: 'ctd_calls_ended_total',
      help: 'Calls that ended, by final status (completed, failed, canceled) and end reason.',
      labelNames: ['status', 'end_reason'],
      registers,
    });
    this.setupSeconds = new Histogram({
      name: 'ctd_call_setup_seconds',
      help: 'From the API accepting the call to connected.',
      buckets: SETUP_BUCKETS,
      registers,
    });
    this.dispatchSeconds = new Histogram({
      name: 'ctd_call_dispatch_seconds',
      help: "From the API receiving the request to the engine starting leg a's INVITE (insert, queue, pick-up, claim).",
      buckets: DISPATCH_BUCKETS,
      registers,
    });
    this.webhookDeliveries = new Counter({
      name: 'ctd_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome (delivered, failed, gone, refused).',
      labelNames: ['outcome'],
      registers,
    });
    this.webhookDelay = new Histogram({
      name: 'ctd_webhook_delivery_delay_seconds',
      help: 'From the state change to its webhook delivered.',
      buckets: DELAY_BUCKETS,
      registers,
    });
    // (Inside collect(), `this` is the metric; these read the sources set later.)
    const engine = (): EngineMetricsSource | undefined => this.engine;
    const queueDepths = (): Promise<QueueDepth[]> => this.queueDepths?.().catch(() => []) ?? Promise.resolve([]);
    new Gauge({
      name: 'ctd_active_calls',
      help: 'Calls live on this engine.',
      registers,
      collect() {
        this.set(engine()?.liveCalls ?? 0);
      },
    });
    new Counter({
      name: 'ctd_sip_messages_total',
      help: 'SIP messages by direction (in, out), kind (request, response) and method (a response counts under its CSeq method); retransmissions apart.',
      labelNames: ['direction', 'kind', 'method'],
      registers,
      collect() {
        this.reset();
        for (const row of engine()?.sipTraffic.messageRows() ?? []) this.inc({ direction: row.direction, kind: row.kind, method: row.method }, row.count);
      },
    });
    new Counter({
      name: 'ctd_sip_retransmissions_total',
      help: 'SIP retransmissions: sent again by us (out) or received again (in), by method.',
      labelNames: ['direction', 'method'],
      registers,
      collect() {
        this.reset();
        for (const row of engine()?.sipTraffic.retransmissionRows() ?? []) this.inc({ direction: row.direction, method: row.method }, row.count);
      },
    });
    new Counter({
      name: 'ctd_sip_transaction_timeouts_total',
      help: 'SIP transactions that timed out (Timers B, F, H), by method.',
      labelNames: ['method'],
      registers,
      collect() {
        this.reset();
        for (const row of engine()?.sipTraffic.timeoutRows() ?? []) this.inc({ method: row.method }, row.count);
      },
    });
    new Gauge({
      name: 'ctd_queue_jobs',
      help: 'BullMQ jobs by queue and state.',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        this.reset();
        for (const depth of await queueDepths()) this.set({ queue: depth.queue, state: depth.state }, depth.count);
      },
    });
  }

  /** The engine role's live figures. */
  watchEngine(engine: EngineMetricsSource): void {
    this.engine = engine;
  }

  /** Where queue depths come from (the API role's queues). */
  watchQueues(depths: () => Promise<QueueDepth[]>): void {
    this.queueDepths = depths;
  }

  /** An engine started a call whose request came in at `requestedAt` (ms since the epoch). */
  callDispatched(requestedAt: number, startedAt: number): void {
    this.dispatchSeconds.observe(Math.max(0, startedAt - requestedAt) / 1000);
  }

  /** An engine took a call the API accepted at `acceptedAt` (ms since the epoch). */
  callAccepted(callId: string, acceptedAt: number): void {
    this.acceptedAt.set(callId, acceptedAt);
    if (this.acceptedAt.size > 10_000) this.forgetStale(Date.now());
  }

  /** Every event of the engine goes through here. */
  observeEvent(event: CallEvent): void {
    if (event.type !== 'call.status') return;
    switch (event.status) {
      case 'calling_a':
        this.callsStarted.inc();
        return;
      case 'connected': {
        this.callsConnected.inc();
        const accepted = this.acceptedAt.get(event.callId);
        if (accepted !== undefined) this.setupSeconds.observe(Math.max(0, event.at - accepted) / 1000);
        this.acceptedAt.delete(event.callId);
        return;
      }
      case 'completed':
      case 'failed':
      case 'canceled':
        this.callsEnded.inc({ status: event.status, end_reason: event.endReason ?? 'unknown' });
        this.acceptedAt.delete(event.callId);
        return;
      default:
        return;
    }
  }

  /** A webhook delivery attempt ended; `delayMs` from the state change, when delivered. */
  observeWebhookDelivery(outcome: 'delivered' | 'failed' | 'gone' | 'refused', delayMs?: number): void {
    this.webhookDeliveries.inc({ outcome });
    if (delayMs !== undefined) this.webhookDelay.observe(Math.max(0, delayMs) / 1000);
  }

  /** A public dial-button request was refused (issue 6). */
  observeButtonRefusal(reason: string): void {
    this.buttonRefusals.inc({ reason });
  }

  /** The exposition text, and its content type. */
  async exposition(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  private forgetStale(now: number): void {
    for (const [callId, at] of this.acceptedAt) if (now - at > ACCEPTED_MAX_AGE_MS) this.acceptedAt.delete(callId);
  }
}
