/**
 * Failover (DESIGN.md "Processes and data flow"): every engine watches the heartbeats of the
 * others. An engine silent for `failoverMs` is dead; the first engine to claim it in PostgreSQL
 * (EngineRegistry.claimEngine: delete its row and take its unfinished calls, in one transaction,
 * so exactly one wins) ends each of its calls cleanly, through its own SIP stack:
 *
 * - an answered or connected leg gets a BYE built from its persisted DialogSnapshot;
 * - a leg still ringing gets a CANCEL built from its persisted InviteSnapshot;
 * - both with an RFC 3326 Reason (Q.850 cause 41);
 * - once the BYEs have their final response (a 481 or a timeout is an answer too: the leg is
 *   gone), or after responseWaitMs, the call is recorded `completed` (it was connected) or `failed`, endReason
 *   `controller_failover`, its event numbered after the call's last sequence in the database,
 *   so that the stream stays gap-free and the outbox publishes it.
 *
 * Calls are ended, not adopted: adopting would need the media state (SDP versions, held
 * streams) and the session timers persisted too, and a dead engine's address stays in the
 * peers' Contact and Via, so in-dialog requests from them would still go to the dead address.
 *
 * A call the dead engine had claimed but not started (still `queued`) is ended as well: its
 * INVITE may have gone out before the engine died, so placing it again could ring A twice.
 *
 * The same sweep ends calls that have waited in the queue longer than `queueTimeoutMs` with no
 * engine taking them (`queue_timeout`): their job was lost with Redis's data, gave up retrying
 * through a long outage, was never added (the API process died, or its answer was lost after the
 * insert committed), or no engine has been running. They are taken in the database the way an
 * engine takes a call to place it, so a late job finds them taken and dials nothing; and they
 * are ended rather than placed late, since a click-to-dial call minutes after the click rings a
 * phone nobody is waiting at.
 */
import type { CallStatusEvent, DialogSnapshot, EndReason, InviteSnapshot, OnSent, OrphanedRequestResult } from '../engine/index.js';
import type { Call, CallChange, LegName, SipLogInput } from '../store/index.js';

/** What the monitor needs of the store. */
export interface FailoverStore {
  staleEngines(olderThanMs: number): Promise<{ id: string }[]>;
  claimEngine(deadEngineId: string, byEngineId: string, olderThanMs: number): Promise<string[] | null>;
  liveCallsById(ids: readonly string[]): Promise<Call[]>;
  claimOverdueQueuedCalls(engineId: string, olderThanMs: number, limit?: number): Promise<string[]>;
  writeChange(change: CallChange): Promise<void>;
  appendSipLog(entries: SipLogInput[]): void;
}

/** What the monitor needs of this engine's SIP stack. */
export interface OrphanedLegEnder {
  endOrphanedLeg(snapshot: DialogSnapshot, reason?: string, onSent?: OnSent): Promise<OrphanedRequestResult>;
  cancelOrphanedLeg(invite: InviteSnapshot, reason?: string, onSent?: OnSent): Promise<OrphanedRequestResult>;
}

export interface FailoverMonitorOptions {
  engineId: string;
  store: FailoverStore;
  engine: OrphanedLegEnder;
  /** Silence after which an engine is dead (ENGINE_FAILOVER_MS). */
  failoverMs: number;
  /** How often to look; default failoverMs / 5 (at least 250 ms). */
  intervalMs?: number;
  /**
   * How long the record of a call waits for the final responses to its BYEs; default
   * 4000 ms (a UDP BYE has then been retransmitted three times). RFC 3261 §15.1.1: the session
   * is over once the BYE is handed to its transaction; waiting is only so that the record says
   * how the peer answered. A response that comes later still goes into the call's SIP log.
   */
  responseWaitMs?: number;
  /** Calls ended at once; default 32. */
  concurrency?: number;
  /** A call still queued this long after its creation is ended, never placed (CALL_QUEUE_TIMEOUT_MS); default 60000. */
  queueTimeoutMs?: number;
  /** Calls still queued past queueTimeoutMs were ended (queue_timeout). */
  onQueueTimeout?: (callIds: readonly string[]) => void;
  /** An engine was taken over: which, and how many of its calls were ended. */
  onTakeover?: (deadEngineId: string, callIds: readonly string[]) => void;
  /** Each call ended here, as the engine event it would have been (metrics and logs count it like the others). */
  onCallEnded?: (event: CallStatusEvent) => void;
  onError?: (error: unknown) => void;
}

/** How one call was ended. */
export interface OrphanedCallOutcome {
  callId: string;
  status: 'completed' | 'failed';
  /** status 0: no final response within responseWaitMs (the transaction goes on). */
  legs: Partial<Record<LegName, { request: 'BYE' | 'CANCEL'; status: number } | { request: 'none'; why: string }>>;
}

const sleep = (ms: number): Promise<undefined> => new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref());

function peerOf(destination: { transport: string; address: string; port: number }): string {
  return `${destination.transport}:${destination.address}:${destination.port}`;
}

const ANSWERED = new Set(['answered', 'connected']);
const RINGING = new Set(['calling', 'ringing', 'early']);

export class FailoverMonitor {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<unknown> | undefined;
  private stopped = false;
  /**
   * Since when the database has answered this monitor without a break. Heartbeats stop for
   * everyone while PostgreSQL is out of reach: right after it is back every engine looks silent,
   * so no engine is judged before the others had failoverMs of working database to beat in.
   */
  private healthySince: number | undefined = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: FailoverMonitorOptions) {}

  start(): void {
    const interval = this.options.intervalMs ?? Math.max(250, Math.floor(this.options.failoverMs / 5));
    this.timer = setInterval(() => {
      if (this.sweeping || this.stopped) return;
      this.sweeping = this.sweep()
        .catch((error: unknown) => this.report(error))
        .finally(() => {
          this.sweeping = undefined;
        });
    }, interval);
    this.timer.unref();
  }

  /** Stops looking; resolves once a takeover in progress has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.sweeping;
  }

  /** One look: claims every dead engine it can and ends their calls. Returns the engines taken over. */
  async sweep(): Promise<string[]> {
    const { engineId, failoverMs, store } = this.options;
    const taken: string[] = [];
    let stale: { id: string }[];
    try {
      stale = await store.staleEngines(failoverMs);
    } catch (error) {
      this.healthySince = undefined;
      throw error;
    }
    const now = Date.now();
    this.healthySince ??= now;
    if (now - this.healthySince < failoverMs) return taken;
    for (const dead of stale) {
      if (dead.id === engineId) continue;
      const callIds = await store.claimEngine(dead.id, engineId, failoverMs);
      if (callIds === null) continue;
      taken.push(dead.id);
      await this.endCalls(await store.liveCallsById(callIds));
      this.options.onTakeover?.(dead.id, callIds);
    }
    await this.endOverdueQueuedCalls();
    return taken;
  }

  /** Ends the calls that have waited in the queue past queueTimeoutMs (queue_timeout). Returns their ids. */
  async endOverdueQueuedCalls(): Promise<string[]> {
    const { engineId, store } = this.options;
    const ids = await store.claimOverdueQueuedCalls(engineId, this.options.queueTimeoutMs ?? 60_000);
    if (ids.length === 0) return ids;
    await this.endCalls(await store.liveCallsById(ids), 'queue_timeout');
    this.options.onQueueTimeout?.(ids);
    return ids;
  }

  /** Ends calls this engine holds in the database but not in memory (taken over, or left by an earlier run of itself). */
  async endCalls(calls: readonly Call[], endReason: EndReason = 'controller_failover'): Promise<OrphanedCallOutcome[]> {
    const outcomes: OrphanedCallOutcome[] = [];
    const queue = [...calls];
    const workers = Array.from({ length: Math.min(queue.length, this.options.concurrency ?? 32) }, async () => {
      for (let call = queue.shift(); call; call = queue.shift()) {
        try {
          outcomes.push(await this.endCall(call, endReason));
        } catch (error) {
          this.report(error);
        }
      }
    });
    await Promise.all(workers);
    return outcomes;
  }

  private async endCall(call: Call, endReason: EndReason): Promise<OrphanedCallOutcome> {
    const outcome: OrphanedCallOutcome = { callId: call.id, status: call.status === 'connected' ? 'completed' : 'failed', legs: {} };
    const legChanges: CallChange[] = [];
    await Promise.all(
      (['a', 'b'] as const).map(async (name) => {
        const leg = call.legs[name];
        let sent: Promise<OrphanedRequestResult> | undefined;
        const request = ANSWERED.has(leg.status) ? 'BYE' : 'CANCEL';
        const onSent: OnSent = (line, destination) =>
          this.options.store.appendSipLog([{ callId: call.id, leg: name, direction: 'out', at: new Date(), peer: peerOf(destination), line }]);
        try {
          // The JSON columns hold what the engine wrote; the SIP layer validates it (BAD_SNAPSHOT).
          if (ANSWERED.has(leg.status)) {
            if (leg.dialog) sent = this.options.engine.endOrphanedLeg(leg.dialog as unknown as DialogSnapshot, undefined, onSent);
            else outcome.legs[name] = { request: 'none', why: 'answered, but its dialog was not persisted' };
          } else if (RINGING.has(leg.status)) {
            if (leg.invite) sent = this.options.engine.cancelOrphanedLeg(leg.invite as unknown as InviteSnapshot, undefined, onSent);
            else outcome.legs[name] = { request: 'none', why: 'no provisional response persisted: nothing to CANCEL' };
          } else {
            return;
          }
        } catch (error) {
          // A snapshot that cannot be used must not keep the call open for ever: it is recorded ended all the same.
          this.report(error);
          outcome.legs[name] = { request: 'none', why: `unusable snapshot: ${(error as Error).message}` };
        }
        if (sent) {
          sent.then(
            (result) => this.logResponse(call.id, name, result),
            (error: unknown) => this.report(error),
          );
          // The 200 to a CANCEL is never seen here (it names the dead engine's Via, see
          // orphaned-requests.ts): only a BYE's answer is worth waiting for.
          const wait = request === 'BYE' ? (this.options.responseWaitMs ?? 4000) : 0;
          const result = await Promise.race([sent.catch(() => undefined), sleep(wait)]);
          outcome.legs[name] = result ? { request, status: result.status } : { request, status: 0 };
        }
        const at = new Date();
        const answered = ANSWERED.has(leg.status);
        // A BYE'd leg ended; a CANCELed one failed with the 487 its INVITE gets (RFC 3261 §9.2).
        legChanges.push({
          callId: call.id,
          accountId: call.accountId,
          legUpdate: answered
            ? { leg: name, status: 'ended', endedAt: at }
            : { leg: name, status: 'failed', sipCode: 487, sipReason: 'Request Terminated', endedAt: at },
        });
      }),
    );
    const at = new Date();
    const status = outcome.status;
    const writes = legChanges.map((change) => this.options.store.writeChange(change));
    writes.push(
      this.options.store.writeChange({
        callId: call.id,
        accountId: call.accountId,
        callUpdate: { status, endReason, endedAt: at },
        event: { sequence: call.lastSequence + 1, type: status === 'completed' ? 'call.completed' : 'call.failed', status, endReason, at, payload: {} },
      }),
    );
    await Promise.all(writes);
    try {
      this.options.onCallEnded?.({ type: 'call.status', callId: call.id, seq: call.lastSequence + 1, at: at.getTime(), status, endReason });
    } catch (error) {
      this.report(error);
    }
    return outcome;
  }

  private logResponse(callId: string, leg: LegName, result: OrphanedRequestResult): void {
    if (!result.destination || !result.fromWire) return;
    const method = result.requestLine.split(' ')[0]!;
    this.options.store.appendSipLog([{ callId, leg, direction: 'in', at: new Date(), peer: peerOf(result.destination), line: `${result.status} ${result.reason} (${method})` }]);
  }

  private report(error: unknown): void {
    try {
      this.options.onError?.(error);
    } catch {
      // nowhere left to report to
    }
  }
}
