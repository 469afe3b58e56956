/**
 * The engine: owns the UA core on a transport, runs one Call per call request, and keeps the SIP
 * log of each call (what went over the wire for its two legs, for the dashboard's ladder).
 * Persistence and queues plug in from above through `onEvent` and the command methods.
 */
import { createRejectingAnswer, parseSdp, writeSdp } from '../sdp/index.js';
import {
  serializeMessage,
  inviteSnapshotOf,
  sendOrphanedBye,
  sendOrphanedCancel,
  systemClock,
  UserAgent,
  type DialogSnapshot,
  type InviteSnapshot,
  type OnSent,
  type OrphanedRequestResult,
  type Clock,
  type OutgoingInviteSession,
  type ServerLocator,
  type SipResponse,
  type SipTraffic,
  type SipTraceEntry,
  type TimerValues,
  type TransportLayer,
  type UserAgentStats,
} from '../sip/index.js';
import { Call, type CallDependencies } from './call.js';
import type { CallEvent, CallRequest, EndReason, Flow, LegName, LegTarget } from './call-model.js';
import { EngineError } from './errors.js';
import type { RingbackSource } from './ringback-source.js';

export interface EngineOptions {
  /** A listening transport layer; the engine runs the UA core on it. */
  transport: TransportLayer;
  /** Gets every event of every call, in order per call. Must not throw. */
  onEvent: (event: CallEvent) => void;
  clock?: Clock;
  timers?: TimerValues;
  locator?: ServerLocator;
  /** The controller's address in o= lines. Default: the transport's advertised host. */
  sdpAddress?: string;
  ringback?: RingbackSource;
  product?: string;
  contactUser?: string;
  defaults?: Partial<EngineDefaults>;
  /** SIP messages logged per call. Default 64; 0 logs none. */
  sipLogLimit?: number;
  /**
   * Whether the log is also kept in memory for sipLog(). Default: only when there is no onSipLog
   * to take it (the engine role streams it to the store: a connected call should not carry it).
   */
  keepSipLog?: boolean;
  /** Finished calls whose SIP log is kept. Default 1000. */
  finishedLogs?: number;
  /** Sees each line of each call's SIP log as it is written (to persist it). */
  onSipLog?: (callId: string, entry: SipLogEntry) => void;
  /** A listener, a peer or a bug threw; the engine carried on. */
  onError?: (error: unknown) => void;
  /** A peer's re-INVITE may have changed a leg's dialog (its remote target): persist dialogSnapshot() again. */
  onDialogChange?: (callId: string, leg: LegName) => void;
}

export interface EngineDefaults {
  flow: Flow;
  ringTimeoutMs: number;
  /** 0: no limit. */
  maxDurationMs: number;
  maxRedirects: number;
  /** While connected, an in-dialog OPTIONS to each leg this often, to find parties that vanished; 0: none. */
  keepaliveMs: number;
}

/**
 * RFC 3326 Reason of the BYEs and CANCELs that end another engine's calls. Q.850 cause 41,
 * "temporary failure" (a network fault of short duration): what a PBX shows for it fits a
 * controller that went away, and no SIP response caused it.
 */
export const FAILOVER_REASON = 'Q.850;cause=41;text="controller failover"';

const DEFAULTS: EngineDefaults = { flow: 'III', ringTimeoutMs: 30_000, maxDurationMs: 4 * 3600_000, maxRedirects: 3, keepaliveMs: 120_000 };

/** One line of a call's SIP log: a ladder diagram's arrow. */
export interface SipLogEntry {
  leg: LegName;
  direction: 'in' | 'out';
  /** Wall-clock milliseconds. */
  at: number;
  /** The peer: `udp:192.0.2.10:5060`. */
  peer: string;
  /** `INVITE sip:alice@…` or `180 Ringing`, with the CSeq for responses. */
  line: string;
  /**
   * The whole message as received or sent; only on the entry given to `onSipLog`. The engine's
   * own log keeps first lines: a held call must not hold its messages' texts in memory.
   */
  message?: string;
}

export interface EngineStats {
  liveCalls: number;
  /** Ring and duration timers and ringback streams held by live calls. */
  timers: number;
  ua: UserAgentStats;
}

export class Engine {
  readonly userAgent: UserAgent;
  private readonly clock: Clock;
  private readonly calls = new Map<string, Call>();
  private readonly legsBySipCallId = new Map<string, { call: Call; leg: LegName }>();
  private readonly logs = new Map<string, SipLogEntry[]>();
  /** Lines logged per live call, against sipLogLimit. */
  private readonly logCounts = new Map<string, number>();
  private readonly keepSipLog: boolean;
  /** One for every call: each holds its own for as long as it lasts. */
  private callDependencies: CallDependencies | undefined;
  private readonly defaults: EngineDefaults;
  private readonly sdpAddress: string;
  private readonly sipLogLimit: number;
  private readonly finishedLogs: number;
  private readonly finishedOrder: string[] = [];

  constructor(private readonly options: EngineOptions) {
    this.clock = options.clock ?? systemClock;
    this.defaults = { ...DEFAULTS, ...options.defaults };
    this.sipLogLimit = options.sipLogLimit ?? 64;
    this.finishedLogs = options.finishedLogs ?? 1000;
    this.keepSipLog = options.keepSipLog ?? options.onSipLog === undefined;
    this.sdpAddress = options.sdpAddress ?? options.transport.localEndpoint('udp').host.replace(/^\[|\]$/g, '');
    this.userAgent = new UserAgent({
      transport: options.transport,
      clock: this.clock,
      ...(options.timers ? { timers: options.timers } : {}),
      ...(options.locator ? { locator: options.locator } : {}),
      ...(options.product ? { product: options.product } : {}),
      ...(options.contactUser ? { contactUser: options.contactUser } : {}),
      answerForUnwantedOffer: rejectingAnswer,
      ...(this.sipLogLimit > 0 ? { onMessage: (entry: SipTraceEntry) => this.log(entry) } : {}),
    });
    this.userAgent.on('internalError', (error) => this.reportError(error));
  }

  /** Starts a call: it goes from queued to calling_a at once. */
  startCall(request: CallRequest): Call {
    if (this.calls.has(request.id)) throw new EngineError('CALL_EXISTS', `call ${request.id} is already live`);
    this.callDependencies ??= {
      dialer: this.userAgent,
      clock: this.clock,
      emit: (event) => this.emit(event),
      sdpAddress: this.sdpAddress,
      ...(this.options.ringback ? { ringback: this.options.ringback } : {}),
      defaults: this.defaults,
      onFinished: (finished) => this.finished(finished),
      onLegStarted: (started, leg, session) => this.legStarted(started, leg, session),
      reportError: (error) => this.reportError(error),
    };
    const call = new Call(request, this.callDependencies);
    this.calls.set(request.id, call);
    if (this.sipLogLimit > 0) {
      this.logCounts.set(request.id, 0);
      if (this.keepSipLog) this.logs.set(request.id, []);
    }
    call.start();
    return call;
  }

  get(callId: string): Call | undefined {
    return this.calls.get(callId);
  }

  /** The hang-up command. Throws CALL_NOT_FOUND for a call this engine does not hold. */
  hangup(callId: string): void {
    const call = this.calls.get(callId);
    if (!call) throw new EngineError('CALL_NOT_FOUND', `no live call ${callId} on this engine`);
    call.hangup();
  }

  /** Replaces leg b by `target` (re-INVITE transfer), or with `method: 'refer'` sends A a REFER. */
  transfer(callId: string, target: LegTarget, method: 'reinvite' | 'refer' = 'reinvite'): Promise<boolean> {
    const call = this.calls.get(callId);
    if (!call) throw new EngineError('CALL_NOT_FOUND', `no live call ${callId} on this engine`);
    if (call.status !== 'connected') throw new EngineError('CALL_NOT_CONNECTED', `call ${callId} is ${call.status}`);
    return method === 'refer' ? call.referA(target.uri) : call.transfer(target);
  }

  /** The SIP messages of a live or recently finished call, oldest first. */
  sipLog(callId: string): readonly SipLogEntry[] {
    return this.logs.get(callId) ?? [];
  }

  get liveCalls(): number {
    return this.calls.size;
  }

  /** What the SIP stack sent and received, for metrics. */
  get sipTraffic(): SipTraffic {
    return this.userAgent.transactions.traffic;
  }

  stats(): EngineStats {
    let timers = 0;
    for (const call of this.calls.values()) timers += call.pendingTimers;
    return { liveCalls: this.calls.size, timers, ua: this.userAgent.stats() };
  }

  /** Hangs up every live call (shutdown); the UA keeps running for their BYEs. */
  hangupAll(reason: EndReason = 'api_hangup'): void {
    for (const call of [...this.calls.values()]) call.hangup(reason);
  }

  /**
   * The dialog state another engine needs to BYE this leg if this process dies: the confirmed
   * dialog of its session, once answered.
   */
  dialogSnapshot(callId: string, leg: LegName): DialogSnapshot | undefined {
    const dialog = this.calls.get(callId)?.session(leg)?.dialog;
    return dialog && dialog.state !== 'terminated' ? dialog.toJSON() : undefined;
  }

  /** What another engine needs to CANCEL this leg's INVITE if this process dies while it rings. */
  inviteSnapshot(callId: string, leg: LegName): InviteSnapshot | undefined {
    const session = this.calls.get(callId)?.session(leg);
    const destination = session?.inviteDestination;
    const invite = session?.currentInvite;
    if (!session || !destination || !invite || (session.state !== 'calling' && session.state !== 'proceeding')) return undefined;
    try {
      return inviteSnapshotOf(invite, destination);
    } catch {
      return undefined;
    }
  }

  /**
   * Ends a leg of a call another engine ran and left behind (it died): a BYE from the persisted
   * dialog through this engine's SIP stack, with an RFC 3326 Reason. Resolves once the BYE
   * transaction has its final response (a 481 or a 408 included: the leg is gone either way).
   */
  endOrphanedLeg(snapshot: DialogSnapshot, reason: string = FAILOVER_REASON, onSent?: OnSent): Promise<OrphanedRequestResult> {
    return sendOrphanedBye(this.userAgent, snapshot, { clock: this.clock, headers: [['reason', reason]], ...(onSent ? { onSent } : {}) });
  }

  /** The same for a leg that was still ringing: a CANCEL of its INVITE. */
  cancelOrphanedLeg(invite: InviteSnapshot, reason: string = FAILOVER_REASON, onSent?: OnSent): Promise<OrphanedRequestResult> {
    return sendOrphanedCancel(this.userAgent, invite, reason, onSent);
  }

  close(): void {
    this.hangupAll();
    this.userAgent.close();
  }

  // ---- internals ----------------------------------------------------------------------------

  private emit(event: CallEvent): void {
    try {
      this.options.onEvent(event);
    } catch (error) {
      this.reportError(error);
    }
  }

  private legStarted(call: Call, leg: LegName, session: OutgoingInviteSession): void {
    this.legsBySipCallId.set(session.callId, { call, leg });
    const onDialogChange = this.options.onDialogChange;
    if (onDialogChange) {
      // The Call answers the re-INVITE; by now the dialog has taken its Contact (RFC 3261 §12.2.2).
      session.on('reinvite', () => {
        if (call.session(leg) !== session) return;
        try {
          onDialogChange(call.id, leg);
        } catch (error) {
          this.reportError(error);
        }
      });
    }
  }

  private finished(call: Call): void {
    this.calls.delete(call.id);
    // Its legs are still hanging up: the log keeps taking their BYEs and ACKs for a while.
    this.finishedOrder.push(call.id);
    // (legsBySipCallId forgets the call's legs by the timer below.)
    while (this.finishedOrder.length > this.finishedLogs) this.logs.delete(this.finishedOrder.shift()!);
    if (this.finishedLogs === 0) this.logs.delete(call.id);
    this.clock.setTimer(64 * (this.options.timers?.T1 ?? 500), () => {
      this.logCounts.delete(call.id);
      for (const name of ['a', 'b'] as const) {
        const session = call.session(name);
        if (session && this.legsBySipCallId.get(session.callId)?.call === call) this.legsBySipCallId.delete(session.callId);
      }
    });
  }

  private log(entry: SipTraceEntry): void {
    let callId: string;
    try {
      callId = entry.message.callId;
    } catch {
      return;
    }
    const owner = this.legsBySipCallId.get(callId);
    if (!owner) return;
    const count = this.logCounts.get(owner.call.id);
    if (count === undefined || count >= this.sipLogLimit) return;
    this.logCounts.set(owner.call.id, count + 1);
    const message = entry.message;
    const line = message.isRequest ? `${message.method} ${message.requestUri}` : `${message.status} ${message.reason} (${cseqOf(message)})`;
    const logged: SipLogEntry = { leg: owner.leg, direction: entry.direction, at: entry.at, peer: `${entry.transport}:${entry.address}:${entry.port}`, line };
    this.logs.get(owner.call.id)?.push(logged);
    if (this.options.onSipLog) {
      try {
        const text = (entry.raw ?? message.raw ?? serializeMessage(message)).toString('utf8');
        this.options.onSipLog(owner.call.id, { ...logged, message: text });
      } catch (error) {
        this.reportError(error);
      }
    }
  }

  private reportError(error: unknown): void {
    try {
      this.options.onError?.(error);
    } catch {
      // nowhere left to report to
    }
  }
}

function cseqOf(response: SipResponse): string {
  try {
    const { seq, method } = response.cseq;
    return `${seq} ${method}`;
  } catch {
    return '?';
  }
}

/** For a 2xx that must be ACKed but is not wanted (a second fork, a leg hung up as it answered): reject every stream. */
function rejectingAnswer(response: SipResponse): { body: string } | undefined {
  try {
    return { body: writeSdp(createRejectingAnswer(parseSdp(response.body))) };
  } catch {
    return undefined;
  }
}
