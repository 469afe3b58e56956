/**
 * One click-to-dial call: the RFC 3725 controller for two legs (§4.1 flow I, §4.3 flow III, §4.4
 * flow IV), from the INVITE to A until both legs are gone.
 *
 *   queued ──start()──▶ calling_a ──A answered──▶ calling_b ──B answered, media joined──▶ connected ──BYE──▶ completed
 *   calling_a / calling_b ──a leg fails, codecs do not match, a negotiation fails──▶ failed
 *   calling_a / calling_b ──hang-up command, A hangs up while B rings──▶ canceled
 *
 * Flow III: INVITE A without SDP → A's 200 has offer A1 → ACK A with a held answer (black hole,
 * or our ringback sender) → INVITE B without SDP → B's 200 has offer B1 → re-INVITE A with B1 →
 * A's 200 has answer A2 → ACK A → ACK B with A2.
 * Flow I: INVITE A without SDP → A's 200 has offer1 (unACKed) → INVITE B with offer1 → B's 200
 * has answer1 → ACK B → ACK A with answer1. Only for a B that answers at once.
 * Flow IV: INVITE A with an offer without m-lines → A's answer has none → ACK A → then as flow III.
 *
 * Towards each leg the controller behaves as one agent (RFC 3264 §8): every description sent to a
 * leg goes through describeToLeg(), which keeps its o= line, m-line order and versions.
 */
import type { Clock, TimerHandle } from '../sip/index.js';
import {
  answerInOfferOrder,
  createHeldAnswer,
  createRejectingAnswer,
  writeSdp,
  type RingbackStream,
  createLegSdpState,
  createNoMediaOffer,
  describeToLeg,
  hasCommonCodec,
  noteDescriptionFromLeg,
  parseSdp,
  type LegSdpState,
  type SessionDescription,
} from '../sdp/index.js';
import type {
  EarlyOffer,
  IncomingDialogRequest,
  InviteFailure,
  InviteOptions,
  OutgoingInviteEvents,
  OutgoingInviteObserver,
  OutgoingInviteSession,
  SessionEnding,
  SipResponse,
} from '../sip/index.js';
import {
  FINAL_CALL_STATUSES,
  type CallEvent,
  type CallRequest,
  type CallStatus,
  type EndReason,
  type Flow,
  type LegName,
  type LegStatus,
  type LegTarget,
  type SipCause,
} from './call-model.js';
import { endReasonForLegFailure, reasonHeader } from './end-reason.js';
import type { RingbackHandle, RingbackSource } from './ringback-source.js';

/** What places the INVITEs: the UA core. */
export interface Dialer {
  invite(options: InviteOptions): OutgoingInviteSession;
}

export interface CallDependencies {
  dialer: Dialer;
  clock: Clock;
  /** Gets every event of the call, numbered. */
  emit: (event: CallEvent) => void;
  /** The controller's address for o= lines. */
  sdpAddress: string;
  ringback?: RingbackSource;
  defaults: { flow: Flow; ringTimeoutMs: number; maxDurationMs: number; maxRedirects: number; keepaliveMs: number };
  /** The call reached a final status. */
  onFinished(call: Call): void;
  /** A leg got its SIP Call-ID (for the per-call SIP log). */
  onLegStarted?(call: Call, leg: LegName, session: OutgoingInviteSession): void;
  reportError(error: unknown): void;
}

/**
 * A's 200 waits unacknowledged while B rings in flow I, and A gives up after 64*T1 = 32 s
 * without an ACK (RFC 3261 §13.3.1.4): B's ring timeout is held below that.
 */
const FLOW_I_MAX_RING_MS = 25_000;

interface Leg {
  session: OutgoingInviteSession | undefined;
  status: LegStatus;
  /** A keepalive OPTIONS to this leg awaits its answer (no second one goes meanwhile). */
  keepaliveSent?: boolean;
  sdp: LegSdpState;
  ringTimer: TimerHandle | undefined;
  ringTimedOut: boolean;
  /**
   * RFC 3725 §8: the leg's offer came in a reliable provisional response and is `relaying` (B's,
   * on its way to A and back) or `answered` (in the PRACK); its 2xx then carries no new offer.
   * For flow I's B, `answered` means its reliable 1xx carried the answer to A's offer.
   */
  early: 'none' | 'relaying' | 'answered';
  /** Another fork's 2xx with an offer of its own, come while B's early offer was on its way to A. */
  forkOffer: SipResponse | undefined;
}

export class Call {
  readonly id: string;
  /** The flow asked for; `flow` may fall back from IV to III (see legFailed). */
  readonly requestedFlow: Flow;
  private activeFlow: Flow;
  private current: CallStatus = 'queued';
  private seq = 0;
  private reason: EndReason | undefined;
  private readonly legs: Record<LegName, Leg>;
  /** A's first offer (flows I and III): what B's media must be able to meet. */
  private offerA: SessionDescription | undefined;
  /** Flow I: where the m-lines of A's offer went in the INVITE to B. */
  private mediaMapB: number[] = [];
  private durationTimer: TimerHandle | undefined;
  private keepaliveTimer: TimerHandle | undefined;
  private ringbackHandle: RingbackHandle | undefined;
  /** The ringback stream of the held answer A got in its PRACK, to start once A answers. */
  private pendingRingback: RingbackStream | undefined;
  /** Flow I: A's 2xx was ACKed with B's answer from a reliable 1xx, before B's 2xx (RFC 3725 §8). */
  private aAckedEarly = false;
  /** An offer from one leg is on its way to the other: a second one gets 491 (RFC 3261 §14.2). */
  private relaying = false;
  private transferring = false;
  private connectedAt: number | undefined;

  constructor(
    private readonly request: CallRequest,
    private readonly deps: CallDependencies,
  ) {
    this.id = request.id;
    this.requestedFlow = request.flow ?? deps.defaults.flow;
    this.activeFlow = this.requestedFlow;
    const leg = (): Leg => ({ session: undefined, status: 'idle', sdp: createLegSdpState({ address: deps.sdpAddress }), ringTimer: undefined, ringTimedOut: false, early: 'none', forkOffer: undefined });
    this.legs = { a: leg(), b: leg() };
  }

  get status(): CallStatus {
    return this.current;
  }

  /** The flow being run: the one asked for, or III after a flow IV offer was refused. */
  get flow(): Flow {
    return this.activeFlow;
  }

  get endReason(): EndReason | undefined {
    return this.reason;
  }

  legStatus(leg: LegName): LegStatus {
    return this.legs[leg].status;
  }

  session(leg: LegName): OutgoingInviteSession | undefined {
    return this.legs[leg].session;
  }

  get isFinal(): boolean {
    return FINAL_CALL_STATUSES.has(this.current);
  }

  /** Emits `queued` and calls A. */
  start(): void {
    if (this.current !== 'queued') return;
    if (!this.request.alreadyQueued) this.emitCall('queued');
    this.setStatus('calling_a');
    let body: string | undefined;
    if (this.flow === 'IV') {
      const offer = describeToLeg(this.legs.a.sdp, createNoMediaOffer());
      this.legs.a.sdp = offer.state;
      body = offer.sdp;
    }
    this.dial('a', this.request.a, body);
  }

  /** The hang-up command: ends the call from whatever state it is in. False when already over. */
  hangup(reason: EndReason = 'api_hangup'): boolean {
    if (this.isFinal) return false;
    this.finish(this.current === 'connected' ? 'completed' : 'canceled', reason);
    return true;
  }

  /**
   * Replaces leg b by `target` while connected, without relying on REFER support in the phones:
   * call the target without SDP, re-INVITE A with its offer, ACK it with A's answer, BYE B.
   * The call stays up with B if the target fails. Resolves with whether it worked.
   */
  async transfer(target: LegTarget): Promise<boolean> {
    if (this.current !== 'connected' || this.transferring || this.relaying) return false;
    this.transferring = true;
    this.emitTransfer('started', target.uri, 'reinvite');
    const session = this.deps.dialer.invite(this.inviteOptions(target, undefined, false));
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean, sip?: SipCause): void => {
        this.transferring = false;
        this.emitTransfer(ok ? 'completed' : 'failed', target.uri, 'reinvite', sip);
        resolve(ok);
      };
      session.once('failed', (failure) => done(false, { code: failure.status, reason: failure.reason }));
      session.once('answered', (response) => {
        void this.joinTransferTarget(session, response).then(
          (sip) => done(sip === undefined, sip),
          (error: unknown) => {
            this.deps.reportError(error);
            session.hangup();
            done(false);
          },
        );
      });
    });
  }

  /**
   * A blind transfer by REFER (RFC 3515) to A: A calls the target itself; when its NOTIFY reports
   * a 2xx, both legs are released. Resolves with the final status A's NOTIFYs reported, or the
   * REFER's own failure.
   */
  async referA(targetUri: string): Promise<boolean> {
    const legA = this.legs.a.session;
    if (this.current !== 'connected' || !legA || this.transferring) return false;
    this.transferring = true;
    this.emitTransfer('started', targetUri, 'refer');
    let settle: (ok: boolean) => void = () => undefined;
    const outcome = new Promise<boolean>((resolve) => (settle = resolve));
    const stop = (): void => {
      legA.off('request', onRequest);
      legA.off('ended', onEnded);
    };
    const onRequest = (incoming: IncomingDialogRequest): void => {
      const notify = incoming.request;
      if (notify.method !== 'NOTIFY') return;
      incoming.respond(200);
      // RFC 3515 §2.4.5: the NOTIFY body is a message/sipfrag of the status line A got.
      const status = /^SIP\/2\.0 (\d{3})/.exec(notify.body.toString('utf8'))?.[1];
      if (status === undefined || Number(status) < 200) return;
      stop();
      this.transferring = false;
      const code = Number(status);
      const ok = code < 300;
      this.emitTransfer(ok ? 'completed' : 'failed', targetUri, 'refer', { code, reason: notify.body.toString('utf8').split('\r\n')[0]!.slice(12) });
      if (ok) this.finish('completed', 'a_hangup');
      settle(ok);
    };
    // A's dialog ended before a final NOTIFY (A hung up, the call was ended): the call's own
    // events say why; the transfer is over and the caller hears false.
    const onEnded = (): void => {
      stop();
      this.transferring = false;
      settle(false);
    };
    // Listening before the REFER goes out: over a stream transport A's first NOTIFYs can come in
    // the same read as its 202, and be handled before this method resumes after the await.
    legA.on('request', onRequest);
    legA.on('ended', onEnded);
    const accepted = await legA.request('REFER', { headers: [['refer-to', `<${targetUri}>`]] });
    if (accepted.status >= 300) {
      stop();
      this.transferring = false;
      this.emitTransfer('failed', targetUri, 'refer', sipOf(accepted));
      return false;
    }
    return outcome;
  }

  // ---- legs ---------------------------------------------------------------------------------

  /**
   * `reliable`: advertise 100rel (RFC 3262), because the call can use what a reliable 1xx may
   * carry: an offer answered in the PRACK (A's with the held answer, B's with A's answer after a
   * re-INVITE of A, RFC 3725 §8) or the answer to our offer (flow I's B). Flow I's A is the
   * exception: its offer must reach B in the INVITE, so it has to wait for A's 2xx.
   */
  private inviteOptions(target: LegTarget, body: string | undefined, reliable: boolean): InviteOptions {
    const options: InviteOptions = { to: target.uri, from: target.from, maxRedirects: this.request.maxRedirects ?? this.deps.defaults.maxRedirects };
    if (reliable) options.reliableProvisionals = true;
    if (body !== undefined) options.body = body;
    if (target.credentials) options.credentials = target.credentials;
    if (target.route) options.route = target.route;
    if (target.headers) options.headers = target.headers;
    return options;
  }

  private dial(name: LegName, target: LegTarget, body: string | undefined): void {
    const leg = this.legs[name];
    const session = this.deps.dialer.invite(this.inviteOptions(target, body, name === 'b' || this.flow !== 'I'));
    leg.session = session;
    this.attach(name, session);
    this.deps.onLegStarted?.(this, name, session);
    this.setLeg(name, 'calling');
    let ringTimeout = target.ringTimeoutMs ?? this.deps.defaults.ringTimeoutMs;
    if (name === 'b' && this.flow === 'I') ringTimeout = Math.min(ringTimeout, FLOW_I_MAX_RING_MS);
    leg.ringTimer = this.deps.clock.setTimer(ringTimeout, () =>
      this.guard(() => {
        leg.ringTimer = undefined;
        if (leg.status === 'answered' || leg.status === 'connected' || leg.session !== session) return;
        leg.ringTimedOut = true;
        session.hangup();
      }),
    );
  }

  private attach(name: LegName, session: OutgoingInviteSession): void {
    // One small object per leg rather than a listener per event: a connected call holds its two
    // sessions for as long as it lasts.
    session.observe(new LegObserver(this, name));
  }

  /** A leg's session event (through its LegObserver). */
  legEvent(name: LegName, session: OutgoingInviteSession, event: keyof OutgoingInviteEvents, args: readonly unknown[]): void {
    this.guard(() => {
      switch (event) {
        case 'provisional':
          this.legProvisional(name, args[0] as SipResponse);
          return;
        case 'answered':
          this.legAnswered(name, session, args[0] as SipResponse, args[1] as boolean);
          return;
        case 'earlyOffer':
          this.legEarlyOffer(name, args[0] as EarlyOffer);
          return;
        case 'failed':
          this.legFailed(name, args[0] as InviteFailure);
          return;
        case 'ended':
          this.legEnded(name, args[0] as SessionEnding);
          return;
        case 'reinvite':
          this.legReinvite(name, args[0] as IncomingDialogRequest);
          return;
        case 'update':
          this.legUpdate(name, args[0] as IncomingDialogRequest);
          return;
        default:
          return;
      }
    });
  }

  private legProvisional(name: LegName, response: SipResponse): void {
    const hasSdp = response.body.length > 0 && response.contentType === 'application/sdp';
    if (response.status === 183 || hasSdp) this.setLeg(name, 'early', sipOf(response));
    else this.setLeg(name, 'ringing', sipOf(response), response.status === 181);
    if (name === 'b' && this.flow === 'I' && this.legs.b.early === 'none' && this.legs.b.session?.earlyDescription !== undefined) this.flowIEarlyAnswer();
  }

  /**
   * An offer in a leg's reliable 1xx (RFC 3262 §5). A's (flow III): answered in the PRACK with
   * the held answer A would have got in its ACK. B's (flows III and IV, RFC 3725 §8): A is
   * re-INVITEd with it first, and A's answer goes to B in the PRACK, so that A hears B's early
   * media; B's 2xx then only confirms.
   */
  private legEarlyOffer(name: LegName, offer: EarlyOffer): void {
    if (this.isFinal) return;
    const description = parseText(offer.description);
    if (!description) {
      this.finish('failed', 'negotiation_failed', sipOf(offer.response), name);
      return;
    }
    if (name === 'a') {
      // The held answer goes to A now, so B cannot get A's offer in its INVITE: flow I becomes III.
      if (this.activeFlow === 'I') this.activeFlow = 'III';
      const a = this.legs.a;
      this.offerA = description;
      a.sdp = noteDescriptionFromLeg(a.sdp, description);
      const held = this.heldAnswerForA(description);
      a.early = 'answered';
      this.pendingRingback = held.ringback;
      offer.answer({ body: held.sdp });
      return;
    }
    const b = this.legs.b;
    if (this.current !== 'calling_b' || this.flow === 'I') {
      // Nothing to join it with: the exchange still needs an answer, one that refuses every stream.
      offer.answer({ body: writeSdp(createRejectingAnswer(description)) });
      return;
    }
    if (this.offerA && !hasCommonCodec(this.offerA, description)) {
      this.finish('failed', 'codec_mismatch', undefined, 'b');
      return;
    }
    b.sdp = noteDescriptionFromLeg(b.sdp, description);
    b.early = 'relaying';
    this.relayOfferOfB(description, (answer) => {
      b.early = 'answered';
      offer.answer({ body: answer });
      const forkOffer = b.forkOffer;
      b.forkOffer = undefined;
      if (forkOffer && b.session) {
        this.bAnswered(b.session, forkOffer, true);
        return;
      }
      // B's 2xx came while A was re-INVITEd: the answer went in its ACK, and the call is up.
      if (b.status === 'answered') this.connected();
    });
  }

  /** Flow I, B's reliable 1xx answered A's offer (RFC 3725 §8): A's pending 2xx is ACKed with it at once. */
  private flowIEarlyAnswer(): void {
    const a = this.legs.a;
    const b = this.legs.b;
    const description = parseText(b.session?.earlyDescription);
    if (!description || !this.offerA || this.current !== 'calling_b') return;
    b.early = 'answered';
    b.sdp = noteDescriptionFromLeg(b.sdp, description);
    if (!hasCommonCodec(this.offerA, description)) {
      this.finish('failed', 'codec_mismatch', undefined, 'b');
      return;
    }
    const forA = describeToLeg(a.sdp, answerInOfferOrder(description, this.mediaMapB, this.offerA));
    a.sdp = forA.state;
    a.session?.ack({ body: forA.sdp });
    this.aAckedEarly = true;
  }

  private legAnswered(name: LegName, session: OutgoingInviteSession, response: SipResponse, ackPending: boolean): void {
    const leg = this.legs[name];
    this.clearRingTimer(leg);
    this.setLeg(name, 'answered', sipOf(response));
    if (this.isFinal) {
      // The call ended while this leg answered: finish() already hung it up (ACK + BYE).
      session.hangup();
      return;
    }
    if (name === 'a') this.aAnswered(session, response, ackPending);
    else this.bAnswered(session, response, ackPending);
  }

  private aAnswered(session: OutgoingInviteSession, response: SipResponse, ackPending: boolean): void {
    const a = this.legs.a;
    if (a.early === 'answered' && !ackPending) {
      // A's offer came in a reliable 1xx and got the held answer in the PRACK; the session ACKs.
      this.startRingback(this.pendingRingback);
      this.pendingRingback = undefined;
      this.callB(undefined);
      return;
    }
    const description = readSdp(response);
    if (this.flow === 'IV') {
      // A answered our offer without m-lines; its session is up and ACKed.
      if (description) a.sdp = noteDescriptionFromLeg(a.sdp, description);
      this.callB(undefined);
      return;
    }
    if (!description) {
      // No offer to answer: finish() ACKs the 2xx and BYEs it.
      this.finish('failed', 'negotiation_failed', sipOf(response), 'a');
      return;
    }
    this.offerA = description;
    a.sdp = noteDescriptionFromLeg(a.sdp, description);
    if (this.flow === 'I') {
      // A's 200 stays unacknowledged until B's answer arrives.
      const forB = describeToLeg(this.legs.b.sdp, description);
      this.legs.b.sdp = forB.state;
      this.mediaMapB = forB.mediaMap;
      this.callB(forB.sdp);
      return;
    }
    const held = this.heldAnswerForA(description);
    session.ack({ body: held.sdp });
    this.startRingback(held.ringback);
    this.callB(undefined);
  }

  /** The answer that holds A while B is called: a black hole, or our ringback sender (RFC 3725 §4.3). */
  private heldAnswerForA(offer: SessionDescription): { sdp: string; ringback: RingbackStream | undefined } {
    const a = this.legs.a;
    const tone = this.request.ringback === 'tone' ? this.deps.ringback : undefined;
    const local = tone?.localAddress();
    const held = createHeldAnswer(offer, local ? { media: { kind: 'rtp-sender', address: local.address, port: local.port } } : {});
    const answer = describeToLeg(a.sdp, held.description);
    a.sdp = answer.state;
    return { sdp: answer.sdp, ringback: tone && held.ringback ? held.ringback : undefined };
  }

  private startRingback(stream: RingbackStream | undefined): void {
    const tone = this.deps.ringback;
    if (!stream || !tone || this.request.ringback !== 'tone') return;
    const codec = stream.codec.name.toUpperCase() === 'PCMA' ? 'PCMA' : 'PCMU';
    this.ringbackHandle = tone.play({ address: stream.remoteAddress, port: stream.remotePort, payloadType: stream.codec.payloadType, codec });
  }

  private callB(body: string | undefined): void {
    this.setStatus('calling_b');
    this.dial('b', this.request.b, body);
  }

  private bAnswered(session: OutgoingInviteSession, response: SipResponse, ackPending: boolean): void {
    const b = this.legs.b;
    // RFC 3725 §8: B's offer came in a reliable 1xx. On its way to A still: the relay connects
    // the call once done (the answer goes in this 2xx's ACK). Answered already: the 2xx only
    // confirms (the session ACKed it). A 2xx with an offer of its own (`ackPending`) comes from
    // another fork than the 1xx: its offer goes to A as in flow III, after the relay if one runs.
    if (b.early === 'relaying') {
      if (ackPending) b.forkOffer = response;
      return;
    }
    if (b.early === 'answered' && !ackPending && (this.flow !== 'I' || this.aAckedEarly)) {
      this.connected();
      return;
    }
    const description = readSdp(response) ?? parseText(session.earlyDescription);
    if (!description) {
      this.finish('failed', 'negotiation_failed', sipOf(response), 'b');
      return;
    }
    const a = this.legs.a;
    if (this.flow === 'I') {
      // B answered A's offer (its 2xx was ACKed by the session); A's ACK carries that answer.
      b.sdp = noteDescriptionFromLeg(b.sdp, description);
      if (!this.offerA || !hasCommonCodec(this.offerA, description)) {
        this.finish('failed', 'codec_mismatch', undefined, 'b');
        return;
      }
      const forA = describeToLeg(a.sdp, answerInOfferOrder(description, this.mediaMapB, this.offerA));
      // A's first offer has done its work; a connected call holds only what it needs.
      this.offerA = undefined;
      a.sdp = forA.state;
      a.session?.ack({ body: forA.sdp });
      this.connected();
      return;
    }
    // Flows III and IV: B's 200 holds offer B1, which goes to A in a re-INVITE.
    if (this.offerA && !hasCommonCodec(this.offerA, description)) {
      this.finish('failed', 'codec_mismatch', undefined, 'b');
      return;
    }
    this.offerA = undefined;
    b.sdp = noteDescriptionFromLeg(b.sdp, description);
    this.relayOfferOfB(description, (answer) => {
      session.ack({ body: answer });
      this.connected();
    });
  }

  /**
   * Flows III and IV: B's offer goes to A in a re-INVITE; A's answer, in B's m-line order and
   * under B's o= line, is handed to `answerB` (for B's ACK, or its PRACK, RFC 3725 §8).
   */
  private relayOfferOfB(offerB: SessionDescription, answerB: (sdp: string) => void): void {
    const a = this.legs.a;
    const b = this.legs.b;
    const forA = describeToLeg(a.sdp, offerB);
    a.sdp = forA.state;
    this.stopRingback();
    const legA = a.session;
    if (!legA) return;
    this.relaying = true;
    void legA.reinvite({ body: forA.sdp }).then((reply) =>
      this.guard(() => {
        this.relaying = false;
        if (this.isFinal) return;
        const answerA = reply.status < 300 ? readSdp(reply) : undefined;
        if (!answerA) {
          const codecs = reply.status === 488 || reply.status === 606;
          this.finish('failed', codecs ? 'codec_mismatch' : 'negotiation_failed', sipOf(reply), 'a');
          return;
        }
        a.sdp = noteDescriptionFromLeg(a.sdp, answerA);
        if (!hasCommonCodec(offerB, answerA)) {
          this.finish('failed', 'codec_mismatch', undefined, 'a');
          return;
        }
        const forB = describeToLeg(b.sdp, answerInOfferOrder(answerA, forA.mediaMap, offerB));
        b.sdp = forB.state;
        answerB(forB.sdp);
      }),
    );
  }

  private connected(): void {
    this.setStatus('connected');
    this.connectedAt = this.deps.clock.now();
    this.setLeg('a', 'connected');
    this.setLeg('b', 'connected');
    const max = this.request.maxDurationMs ?? this.deps.defaults.maxDurationMs;
    if (max > 0) {
      this.durationTimer = this.deps.clock.setTimer(max, () =>
        this.guard(() => {
          this.durationTimer = undefined;
          this.finish('completed', 'max_duration');
        }),
      );
    }
    this.scheduleKeepalive();
  }

  /**
   * While connected, an in-dialog OPTIONS to each leg every keepaliveMs: a party that vanished
   * (no BYE, no answers) makes it time out, which ends that dialog (RFC 3261 §12.2.1.2: 408) and,
   * through legEnded, the call, with BYE to the other leg. Any answer, even 405, means alive.
   */
  private scheduleKeepalive(): void {
    const every = this.deps.defaults.keepaliveMs;
    if (!(every > 0) || this.current !== 'connected') return;
    this.keepaliveTimer = this.deps.clock.setTimer(every, () =>
      this.guard(() => {
        this.keepaliveTimer = undefined;
        if (this.current !== 'connected') return;
        for (const name of ['a', 'b'] as const) {
          const leg = this.legs[name];
          const session = leg.session;
          if (session?.state !== 'confirmed' || leg.keepaliveSent) continue;
          leg.keepaliveSent = true;
          session.request('OPTIONS').then(
            () => (leg.keepaliveSent = false),
            (error: unknown) => this.deps.reportError(error),
          );
        }
        this.scheduleKeepalive();
      }),
    );
  }

  private legFailed(name: LegName, failure: InviteFailure): void {
    const leg = this.legs[name];
    this.clearRingTimer(leg);
    if (name === 'a' && this.activeFlow === 'IV' && this.current === 'calling_a' && (failure.status === 488 || failure.status === 606)) {
      // Many phones refuse an offer without m-lines (RFC 3725 §4.4 relies on it being
      // understood): call A again the flow III way, with no offer at all.
      this.activeFlow = 'III';
      leg.sdp = createLegSdpState({ address: this.deps.sdpAddress });
      leg.status = 'idle';
      this.dial('a', this.request.a, undefined);
      return;
    }
    const sip = { code: failure.status, reason: failure.reason };
    this.setLeg(name, 'failed', sip);
    if (this.isFinal) return;
    const reason = endReasonForLegFailure(name, failure, leg.ringTimedOut);
    this.finish(reason === 'api_hangup' ? 'canceled' : 'failed', reason, sip, name);
  }

  /**
   * A leg's session ended before the call did. Only the peer's BYE is the party hanging up; the
   * rest says what went wrong: our own BYE before the call is over can only be the ACK + BYE of
   * a 200 that crossed the CANCEL of a ring timeout (no answer in time); a request in the dialog
   * that timed out or found no dialog (408/481, RFC 3261 §12.2.1.2), a 2xx never ACKed or a
   * session timer that expired is a lost leg: a failed negotiation while the call is being set
   * up.
   */
  private legEnded(name: LegName, ending: SessionEnding): void {
    const leg = this.legs[name];
    this.setLeg(name, 'ended');
    if (this.isFinal) return;
    const hangup: EndReason = name === 'a' ? 'a_hangup' : 'b_hangup';
    if (ending.cause === 'remote-bye') {
      if (this.current === 'connected') this.finish('completed', hangup);
      else this.finish(name === 'a' ? 'canceled' : 'failed', hangup, undefined, name);
      return;
    }
    if (ending.cause === 'local-bye') {
      const reason: EndReason = leg.ringTimedOut ? (name === 'a' ? 'a_no_answer' : 'b_no_answer') : hangup;
      this.finish(this.current === 'connected' ? 'completed' : 'failed', reason, leg.ringTimedOut ? { code: 480, reason: 'Temporarily Unavailable' } : undefined, name);
      return;
    }
    const sip = lostLegCause(ending);
    if (this.current === 'connected') this.finish('completed', hangup, sip, name);
    else this.finish('failed', 'negotiation_failed', sip, name);
  }

  /**
   * A re-INVITE from a leg (RFC 3725 §4.3 once connected): its offer goes to the other leg in a
   * re-INVITE and the answer comes back in our 2xx. While B is still being called, or while
   * another offer is on its way, it gets 491 (RFC 3261 §14.2). Without an offer (a session
   * refresh, RFC 4028) it gets the description we last sent it, unchanged.
   */
  private legReinvite(name: LegName, incoming: IncomingDialogRequest): void {
    const leg = this.legs[name];
    if (this.current !== 'connected' || this.relaying || this.transferring) {
      incoming.respond(491);
      return;
    }
    const text = incoming.description;
    if (text === undefined) {
      if (leg.sdp.lastSent === null) incoming.respond(488);
      else incoming.respond(200, { body: leg.sdp.lastSent });
      return;
    }
    let offer: SessionDescription;
    try {
      offer = parseSdp(text);
    } catch {
      incoming.respond(488);
      return;
    }
    const otherName: LegName = name === 'a' ? 'b' : 'a';
    const other = this.legs[otherName];
    const otherSession = other.session;
    if (!otherSession) {
      incoming.respond(500);
      return;
    }
    leg.sdp = noteDescriptionFromLeg(leg.sdp, offer);
    const forOther = describeToLeg(other.sdp, offer);
    other.sdp = forOther.state;
    this.relaying = true;
    void otherSession.reinvite({ body: forOther.sdp }).then((reply) =>
      this.guard(() => {
        this.relaying = false;
        const answer = reply.status < 300 ? readSdp(reply) : undefined;
        if (!answer) {
          // RFC 3725 §4.3: the other side's refusal is passed back (491 stays 491: the leg retries).
          incoming.respond(reply.status >= 300 ? reply.status : 500);
          return;
        }
        other.sdp = noteDescriptionFromLeg(other.sdp, answer);
        const back = describeToLeg(leg.sdp, answerInOfferOrder(answer, forOther.mediaMap, offer));
        leg.sdp = back.state;
        incoming.respond(200, { body: back.sdp });
      }),
    );
  }

  /**
   * An UPDATE from a leg (RFC 3311). Without an offer (a session refresh, RFC 4028 §9): 200.
   * With one once connected: relayed to the other leg as a re-INVITE's would be, its answer in
   * our 2xx. Before that the leg's early session stays as it is (488), or 491 while another
   * offer is on its way (RFC 3311 §5.2).
   */
  private legUpdate(name: LegName, incoming: IncomingDialogRequest): void {
    if (incoming.description === undefined) {
      incoming.respond(200);
      return;
    }
    if (this.current === 'connected') {
      this.legReinvite(name, incoming);
      return;
    }
    incoming.respond(this.relaying ? 491 : 488);
  }

  /** The transfer target answered with offer C: move A's media to it, then let B go. */
  private async joinTransferTarget(target: OutgoingInviteSession, response: SipResponse): Promise<SipCause | undefined> {
    const offer = readSdp(response);
    const a = this.legs.a;
    if (!offer || this.current !== 'connected' || !a.session) {
      target.hangup();
      return offer ? { code: 481, reason: 'Call no longer connected' } : { code: 488, reason: 'No SDP offer' };
    }
    const forA = describeToLeg(a.sdp, offer);
    a.sdp = forA.state;
    this.relaying = true;
    const reply = await a.session.reinvite({ body: forA.sdp });
    this.relaying = false;
    const answer = reply.status < 300 ? readSdp(reply) : undefined;
    if (!answer || this.isFinal) {
      target.hangup();
      return sipOf(reply);
    }
    a.sdp = noteDescriptionFromLeg(a.sdp, answer);
    let targetSdp = noteDescriptionFromLeg(createLegSdpState({ address: this.deps.sdpAddress }), offer);
    const forTarget = describeToLeg(targetSdp, answerInOfferOrder(answer, forA.mediaMap, offer));
    targetSdp = forTarget.state;
    target.ack({ body: forTarget.sdp });
    // The old B goes; the target is leg b from now on.
    const b = this.legs.b;
    const old = b.session;
    old?.observe(undefined);
    old?.removeAllListeners();
    old?.hangup();
    b.session = target;
    b.sdp = targetSdp;
    this.attach('b', target);
    this.deps.onLegStarted?.(this, 'b', target);
    this.emitLeg('b', 'connected', sipOf(response), undefined, target.callId);
    return undefined;
  }

  // ---- ending -------------------------------------------------------------------------------

  /**
   * The call's final status: emitted once; whatever leg is still up is hung up (CANCEL, or ACK and
   * BYE, or BYE). When a leg's failure ends the call, the BYE to the other carries its status in
   * an RFC 3326 Reason header, so that A's phone can say "busy".
   */
  private finish(status: CallStatus, reason: EndReason, sip?: SipCause, failedLeg?: LegName): void {
    if (this.isFinal) return;
    this.current = status;
    this.reason = reason;
    this.deps.clock.cancel(this.durationTimer);
    this.durationTimer = undefined;
    this.deps.clock.cancel(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
    this.pendingRingback = undefined;
    this.stopRingback();
    const event: CallEvent = { ...this.base(), type: 'call.status', status, endReason: reason };
    if (sip) event.sip = sip;
    if (failedLeg) event.failedLeg = failedLeg;
    this.deps.emit(event);
    const header = this.byeReason(reason, sip, failedLeg);
    for (const name of ['a', 'b'] as const) {
      const leg = this.legs[name];
      this.clearRingTimer(leg);
      // The failed leg has no session left to tell, except after a codec mismatch: then its 2xx
      // is ACKed and BYE'd, and the Reason says why.
      leg.session?.hangup(name === failedLeg && reason !== 'codec_mismatch' ? undefined : header);
    }
    this.deps.onFinished(this);
  }

  /**
   * The RFC 3326 Reason of the BYE (or CANCEL) that releases the other leg: the failed leg's
   * final status; 480 rather than the 487 our own CANCEL drew when a ring timeout ended it (no
   * answer; RFC 3398 maps Q.850 cause 19 to 480); 488 when the two sides share no codec and no
   * leg said so itself.
   */
  private byeReason(reason: EndReason, sip: SipCause | undefined, failedLeg: LegName | undefined): string | undefined {
    if (reason === 'codec_mismatch') return sip ? reasonHeader(sip.code, sip.reason) : reasonHeader(488, 'Incompatible media');
    if (!sip || !failedLeg) return undefined;
    if (this.legs[failedLeg].ringTimedOut && sip.code === 487) return reasonHeader(480, 'Temporarily Unavailable');
    return reasonHeader(sip.code, sip.reason);
  }

  private stopRingback(): void {
    this.ringbackHandle?.stop();
    this.ringbackHandle = undefined;
  }

  private clearRingTimer(leg: Leg): void {
    this.deps.clock.cancel(leg.ringTimer);
    leg.ringTimer = undefined;
  }

  /** Engine timers this call still holds (ring, duration) and ringback: zero once it is over. */
  get pendingTimers(): number {
    return [this.legs.a.ringTimer, this.legs.b.ringTimer, this.durationTimer, this.keepaliveTimer, this.ringbackHandle].filter((t) => t !== undefined).length;
  }

  get connectedSince(): number | undefined {
    return this.connectedAt;
  }

  // ---- events -------------------------------------------------------------------------------

  private base(): { seq: number; callId: string; at: number } {
    return { seq: ++this.seq, callId: this.id, at: Date.now() };
  }

  private emitCall(status: CallStatus): void {
    this.deps.emit({ ...this.base(), type: 'call.status', status });
  }

  private setStatus(status: CallStatus): void {
    if (this.current === status || this.isFinal) return;
    this.current = status;
    this.emitCall(status);
  }

  private setLeg(name: LegName, status: LegStatus, sip?: SipCause, forwarded = false): void {
    const leg = this.legs[name];
    if (leg.status === status && !forwarded) return;
    // A leg that ended stays ended: a late provisional or a second ending says nothing new.
    if ((leg.status === 'ended' || leg.status === 'failed') && status !== 'ended') return;
    leg.status = status;
    this.emitLeg(name, status, sip, forwarded ? true : undefined, leg.session?.callId);
  }

  private emitLeg(name: LegName, status: LegStatus, sip: SipCause | undefined, forwarded: true | undefined, sipCallId: string | undefined): void {
    const event: CallEvent = { ...this.base(), type: 'leg.status', leg: name, status };
    if (sip) event.sip = sip;
    if (forwarded) event.forwarded = true;
    if (sipCallId) event.sipCallId = sipCallId;
    this.legs[name].status = status;
    this.deps.emit(event);
  }

  private emitTransfer(outcome: 'started' | 'completed' | 'failed', target: string, method: 'reinvite' | 'refer', sip?: SipCause): void {
    const event: CallEvent = { ...this.base(), type: 'call.transfer', outcome, target, method };
    if (sip) event.sip = sip;
    this.deps.emit(event);
  }

  private guard(action: () => void): void {
    try {
      action();
    } catch (error) {
      this.deps.reportError(error);
    }
  }
}

/** The SIP cause of a leg lost without a BYE from its party (for the event and the other leg's Reason). */
function lostLegCause(ending: SessionEnding): SipCause {
  switch (ending.cause) {
    case 'dialog-lost':
      return ending.status === 481 ? { code: 481, reason: 'Call/Transaction Does Not Exist' } : { code: ending.status ?? 408, reason: 'Request Timeout' };
    case 'ack-timeout':
      return { code: 408, reason: 'ACK not received' };
    case 'session-expired':
      return { code: 408, reason: 'Session expired' };
    default:
      return { code: 500, reason: ending.cause };
  }
}

function sipOf(response: SipResponse): SipCause {
  return { code: response.status, reason: response.reason };
}

/** A session description from its text, or undefined when there is none or it does not parse. */
function parseText(text: string | undefined): SessionDescription | undefined {
  if (text === undefined || text.length === 0) return undefined;
  try {
    return parseSdp(text);
  } catch {
    return undefined;
  }
}

/** The session description of a message, or undefined when it has none or it does not parse. */
function readSdp(message: SipResponse): SessionDescription | undefined {
  if (message.body.length === 0 || message.contentType !== 'application/sdp') return undefined;
  try {
    return parseSdp(message.body);
  } catch {
    return undefined;
  }
}

/** The events a Call takes from each leg's session. */
const LEG_EVENTS: ReadonlySet<keyof OutgoingInviteEvents> = new Set(['provisional', 'answered', 'earlyOffer', 'failed', 'ended', 'reinvite', 'update']);

class LegObserver implements OutgoingInviteObserver {
  readonly observes = LEG_EVENTS;

  constructor(
    private readonly call: Call,
    private readonly leg: LegName,
  ) {}

  sessionEvent(session: OutgoingInviteSession, event: keyof OutgoingInviteEvents, args: readonly unknown[]): void {
    this.call.legEvent(this.leg, session, event, args);
  }
}
