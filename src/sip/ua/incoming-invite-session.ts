/**
 * An INVITE session we answer as UAS (RFC 3261 §13.3, with the dialog of §12.1.1, the in-dialog
 * requests of §14.2 and the endings of §15): a phone that takes calls.
 *
 *   proceeding ──progress(18x)──▶ proceeding  (100 Trying was sent by the transaction, §17.2.1)
 *   proceeding ──accept(): 2xx──▶ answered ──ACK──▶ confirmed ──BYE sent or received──▶ ended
 *   proceeding ──reject(): 3xx-6xx, CANCEL (487), BYE on the early dialog (487)──▶ failed
 *   answered ──no ACK after 64*T1 (§13.3.1.4: BYE)──▶ ended
 *   answered / confirmed ──BYE received, 408/481 to a request of ours, session expiry──▶ ended
 *
 * Offer and answer (RFC 3264, RFC 3261 §13.2.1): when the INVITE carries an offer the 2xx carries
 * the answer; when it carries none (RFC 3725 flows I and III) the 2xx carries our offer and the
 * ACK the answer. Either way accept() takes a session description: this layer never reads SDP.
 * Our 2xx goes again until its ACK (T1 doubling to T2 over UDP, §13.3.1.4); hanging up before
 * the ACK waits for it, as §15 forbids the callee a BYE before then.
 */
import { EventEmitter } from 'node:events';
import type { TimerHandle } from '../clock.js';
import {
  carriesSessionDescription,
  DialogError,
  SessionDialog,
  type OutgoingRequest,
  type RequestOptions,
  type ResponseOptions,
} from '../dialog/index.js';
import { createResponse, type NameAddr, type SipRequest, type SipResponse } from '../message/index.js';
import type { InviteServerTransaction, ServerTransaction, TransactionFailure } from '../transaction/index.js';
import type { Destination } from '../transport/index.js';
import { Invite2xxRetransmission } from './invite-2xx-retransmission.js';
import { IncomingDialogRequest, type SessionEndCause, type SessionEnding } from './outgoing-invite-session.js';
import type { DialogOwner, SessionCore } from './session-core.js';

export type IncomingInviteState = 'proceeding' | 'answered' | 'confirmed' | 'ended' | 'failed';

export type IncomingInviteFailureKind =
  /** We answered with a non-2xx final response (reject(), or hangup() before answering). */
  | 'rejected'
  /** The caller gave up before the answer: CANCEL (§9.2), or BYE on the early dialog (§15). */
  | 'canceled'
  /** The final response could not be sent. */
  | 'transport';

export interface IncomingInviteFailure {
  kind: IncomingInviteFailureKind;
  /** The final status the INVITE got: ours, or 487 for a canceled one. */
  status: number;
  reason: string;
  /** The CANCEL or BYE that canceled it. */
  request?: SipRequest;
  cause?: unknown;
}

export interface IncomingInviteEvents {
  /** The ACK of our 2xx arrived; when our 2xx held the offer, it carries the answer (remoteDescription). */
  confirmed: [ack: SipRequest];
  /** The INVITE ended without a session. */
  failed: [failure: IncomingInviteFailure];
  /** The session, once answered, is over. */
  ended: [ending: SessionEnding];
  /** A re-INVITE from the peer (hold, resume, refresh); answer it. Unheard: 488. */
  reinvite: [request: IncomingDialogRequest];
  /** An UPDATE from the peer. Unheard: 200 without a body, 488 to an offer. */
  update: [request: IncomingDialogRequest];
  /** Any other request in the dialog (OPTIONS, INFO, NOTIFY, REFER, MESSAGE). Unheard: 200 (REFER: 603). */
  request: [request: IncomingDialogRequest];
  /** The ACK of our 2xx to a re-INVITE; carries the answer when our 2xx held an offer. */
  ack: [ack: SipRequest];
}

export type IncomingInviteErrorCode =
  /** accept(), reject() or progress() once the INVITE has its final response. */
  | 'ALREADY_ANSWERED'
  /** accept() without a session description (RFC 3261 §13.3.1.4: an answer, or an offer when the INVITE had none). */
  | 'DESCRIPTION_REQUIRED'
  /** A status that does not fit the method called (progress: 101-199, reject: 300-699). */
  | 'BAD_STATUS'
  /** request() while the session is not confirmed. */
  | 'NOT_CONFIRMED';

/** A misuse of the session by the application; nothing the peer sends raises one. */
export class IncomingInviteError extends Error {
  override readonly name = 'IncomingInviteError';
  constructor(
    readonly code: IncomingInviteErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export class IncomingInviteSession extends EventEmitter<IncomingInviteEvents> implements DialogOwner {
  /** The INVITE that started the session. */
  readonly request: SipRequest;
  /** The UAS dialog (§12.1.1): early until our 2xx, then confirmed. */
  readonly dialog: SessionDialog;
  private current: IncomingInviteState = 'proceeding';
  private final: SipResponse | undefined;
  /** §13.3.1.4: our 2xx to the INVITE, re-sent until its ACK. */
  private answerRetransmission: Invite2xxRetransmission | undefined;
  /** The same for our 2xx responses to re-INVITEs, by CSeq. */
  private readonly retransmissions = new Map<number, Invite2xxRetransmission>();
  /** Requests of the peer handed to the application and not yet answered. */
  private readonly unanswered = new Map<ServerTransaction, IncomingDialogRequest>();
  /** hangup() while the 2xx awaits its ACK: the BYE goes once the ACK is in (§15), with this Reason. */
  private byeAfterAck: { reason: string | undefined } | undefined;
  private sessionTimer: TimerHandle | undefined;
  private lastRemote: Buffer | undefined;

  constructor(
    private readonly core: SessionCore,
    /** The INVITE's server transaction. */
    readonly transaction: InviteServerTransaction,
    contact: NameAddr,
  ) {
    super();
    this.request = transaction.request;
    this.dialog = SessionDialog.uas(this.request, Object.assign({}, core.dialogOptions, { localContact: contact }));
    if (carriesSessionDescription(this.request)) this.lastRemote = this.request.body;
    core.registry.add(this.dialog);
    core.attachDialog(this.dialog, this);
    transaction.setUser({ onFailure: (failure) => this.guard(() => this.inviteTransactionFailed(failure)) });
  }

  get state(): IncomingInviteState {
    return this.current;
  }

  get callId(): string {
    return this.dialog.callId;
  }

  get localTag(): string {
    return this.dialog.localTag;
  }

  /** The offer the INVITE carries; undefined for an offerless INVITE (our 2xx must then offer). */
  get offer(): string | undefined {
    return carriesSessionDescription(this.request) ? this.request.body.toString('utf8') : undefined;
  }

  /** The latest session description the peer sent (the INVITE's offer, the ACK's answer, a re-INVITE's offer). */
  get remoteDescription(): string | undefined {
    return this.lastRemote?.toString('utf8');
  }

  /** Our final response to the INVITE, once sent. */
  get response(): SipResponse | undefined {
    return this.final;
  }

  /**
   * A provisional response, 180 Ringing by default. We send no reliable ones (RFC 3262): when the
   * INVITE requires 100rel, which forbids unreliable 18x (§3), none is sent; 100 Trying is enough.
   */
  progress(status = 180, options: ResponseOptions = {}): void {
    this.requireProceeding('progress');
    if (status <= 100 || status >= 200) throw new IncomingInviteError('BAD_STATUS', `progress() sends 101-199, not ${status}`);
    if (this.request.optionTags('require').includes('100rel')) return;
    this.transaction.respond(this.dialog.createResponse(this.request, status, options));
  }

  /**
   * Answers 200 OK with `body`: the answer to the INVITE's offer, or our offer when the INVITE
   * had none (the ACK then brings the answer). The 2xx goes again until the ACK (§13.3.1.4).
   */
  accept(options: ResponseOptions & { status?: number } = {}): void {
    this.requireProceeding('accept');
    if (options.body === undefined || options.body.length === 0) {
      throw new IncomingInviteError('DESCRIPTION_REQUIRED', `the 2xx must carry ${this.offer === undefined ? 'an offer: the INVITE had none' : 'the answer to the INVITE’s offer'} (RFC 3261 §13.3.1.4)`);
    }
    const status = options.status ?? 200;
    if (status < 200 || status >= 300) throw new IncomingInviteError('BAD_STATUS', `accept() sends a 2xx, not ${status}`);
    const response = this.dialog.createResponse(this.request, status, options);
    this.final = response;
    this.current = 'answered';
    const transaction = this.transaction;
    this.answerRetransmission = new Invite2xxRetransmission(
      this.core.clock,
      this.core.timers,
      isReliableRequest(this.request),
      () => transaction.respond(response),
      () => this.guard(() => this.ackTimedOut()),
    );
    transaction.respond(response);
  }

  /** A final non-2xx response: 486 Busy Here by default, 603 Decline, 480… (the transaction ACKs it, §17.2.1). */
  reject(status = 486, options: ResponseOptions = {}): void {
    this.requireProceeding('reject');
    if (status < 300 || status > 699) throw new IncomingInviteError('BAD_STATUS', `reject() sends 300-699, not ${status}`);
    const response = this.dialog.createResponse(this.request, status, options);
    this.final = response;
    this.transaction.respond(response);
    this.fail({ kind: 'rejected', status, reason: response.reason });
  }

  /**
   * Ends the session whatever its state: 480 before answering, BYE once the ACK of our 2xx is in
   * (deferred until then, §15), BYE once confirmed. `reason` is an RFC 3326 Reason header value.
   */
  hangup(reason?: string): void {
    switch (this.current) {
      case 'proceeding':
        this.reject(480, reason === undefined ? {} : { headers: [['reason', reason]] });
        return;
      case 'answered':
        this.byeAfterAck ??= { reason };
        return;
      case 'confirmed':
        this.sendBye(reason);
        return;
      default:
        return;
    }
  }

  /** Any non-INVITE request in the confirmed dialog (OPTIONS, INFO, UPDATE…); resolves with its final response (408/503 synthesised). */
  sendRequest(method: string, options: RequestOptions = {}): Promise<SipResponse> {
    if (this.current !== 'confirmed') return Promise.reject(new IncomingInviteError('NOT_CONFIRMED', `cannot send ${method}: the session is ${this.current}`));
    const outgoing = this.dialog.createRequest(method, options);
    return new Promise<SipResponse>((resolve) => {
      void this.sendNonInvite(outgoing, (response) => {
        this.dialogResponse(response);
        resolve(response);
      });
    });
  }

  // ---- what the UA core hands us ----------------------------------------------------------

  receiveAck(ack: SipRequest): void {
    const verdict = this.dialog.receiveRequest(ack);
    const seq = ack.cseq.seq;
    if (seq === this.request.cseq.seq) {
      this.answerRetransmission?.acknowledged();
      if (verdict.kind !== 'accept' || this.current !== 'answered') return;
      if (carriesSessionDescription(ack)) this.lastRemote = ack.body;
      this.current = 'confirmed';
      this.scheduleSessionTimer();
      const pending = this.byeAfterAck;
      try {
        this.emit('confirmed', ack);
      } finally {
        if (pending !== undefined) this.sendBye(pending.reason);
      }
      return;
    }
    this.retransmissions.get(seq)?.acknowledged();
    this.retransmissions.delete(seq);
    if (verdict.kind !== 'accept') return;
    if (carriesSessionDescription(ack)) this.lastRemote = ack.body;
    this.emit('ack', ack);
  }

  receiveRequest(request: SipRequest, transaction: ServerTransaction): void {
    if (this.current === 'ended' || this.current === 'failed') {
      transaction.respond(createResponse(request, 481));
      return;
    }
    const verdict = this.dialog.receiveRequest(request);
    if (verdict.kind === 'reject') {
      transaction.respond(verdict.response);
      return;
    }
    if (verdict.kind === 'ignore') return;
    switch (request.method) {
      case 'BYE':
        transaction.respond(this.dialog.createResponse(request, 200));
        this.remoteBye(request);
        return;
      case 'INVITE':
        this.incoming('reinvite', request, transaction, () => 488);
        return;
      case 'UPDATE':
        this.incoming('update', request, transaction, (asked) => (asked.description === undefined ? 200 : 488));
        return;
      case 'PRACK':
        // We send no reliable provisional responses; a PRACK changes nothing here.
        transaction.respond(this.dialog.createResponse(request, 200));
        return;
      default:
        this.incoming('request', request, transaction, () => (request.method === 'REFER' ? 603 : 200));
        return;
    }
  }

  /** §9.2: a CANCEL for the INVITE before its final response (487), or for a re-INVITE of the peer. */
  receiveCancel(invite: ServerTransaction): void {
    if (invite === this.transaction) {
      if (this.current !== 'proceeding') return;
      const response = this.dialog.createResponse(this.request, 487);
      this.final = response;
      this.transaction.respond(response);
      this.fail({ kind: 'canceled', status: 487, reason: response.reason });
      return;
    }
    const asked = this.unanswered.get(invite);
    this.unanswered.delete(invite);
    if (asked && !asked.isAnswered) asked.respond(487);
  }

  receiveStrayResponse(): void {
    // Every request of ours is sent in a transaction, which takes its responses.
  }

  // ---- in-dialog requests of the peer -------------------------------------------------------

  private remoteBye(request: SipRequest): void {
    if (this.current === 'proceeding') {
      // §15: the caller may end an early dialog with BYE; the INVITE then gets 487.
      const response = createResponse(this.request, 487, undefined, this.dialog.localTag);
      this.final = response;
      this.transaction.respond(response);
      this.fail({ kind: 'canceled', status: 487, reason: response.reason, request });
      return;
    }
    const ending: SessionEnding = { cause: 'remote-bye', request };
    const reason = request.header('reason');
    if (reason !== undefined) ending.reason = reason;
    this.end(ending);
  }

  private incoming(
    event: 'reinvite' | 'update' | 'request',
    request: SipRequest,
    transaction: ServerTransaction,
    unheard: (asked: IncomingDialogRequest) => number,
  ): void {
    if (carriesSessionDescription(request)) this.lastRemote = request.body;
    const asked = new IncomingDialogRequest(request, (status, options) => {
      if (status >= 200) this.unanswered.delete(transaction);
      if (this.current === 'ended' || this.current === 'failed') {
        transaction.respond(createResponse(request, status >= 200 && status < 300 ? 481 : status, undefined, this.dialog.localTag));
        return;
      }
      const response = this.dialog.createResponse(request, status, options);
      transaction.respond(response);
      const success = status >= 200 && status < 300;
      if (request.method === 'INVITE' && success) this.await2xxAck(response, transaction);
      // RFC 4028 §10: a 2xx to a re-INVITE or UPDATE refreshes the session.
      if (success && (request.method === 'INVITE' || request.method === 'UPDATE')) this.scheduleSessionTimer();
    });
    this.unanswered.set(transaction, asked);
    if (this.listenerCount(event) === 0) {
      asked.respond(unheard(asked));
      return;
    }
    try {
      this.emit(event, asked);
    } catch (error) {
      // A listener that threw without answering: the request still gets a final response.
      asked.respond(500);
      throw error;
    }
  }

  /** RFC 3261 §13.3.1.4: our 2xx to a re-INVITE goes again until its ACK; without one, BYE. */
  private await2xxAck(response: SipResponse, transaction: ServerTransaction): void {
    const seq = response.cseq.seq;
    const retransmission = new Invite2xxRetransmission(
      this.core.clock,
      this.core.timers,
      isReliableRequest(transaction.request),
      () => transaction.respond(response),
      () =>
        this.guard(() => {
          this.retransmissions.delete(seq);
          if (this.current === 'confirmed') this.sendBye('SIP;cause=408;text="ACK not received"', 'ack-timeout');
        }),
    );
    this.retransmissions.get(seq)?.stop();
    this.retransmissions.set(seq, retransmission);
  }

  // ---- endings ------------------------------------------------------------------------------

  /** §13.3.1.4: no ACK for our 2xx within 64*T1: the dialog is confirmed, the session is ended with BYE. */
  private ackTimedOut(): void {
    if (this.current !== 'answered') return;
    this.current = 'confirmed';
    this.sendBye('SIP;cause=408;text="ACK not received"', 'ack-timeout');
  }

  private inviteTransactionFailed(failure: TransactionFailure): void {
    // Timer H after our non-2xx: the ACK never came, but the INVITE had its answer; nothing changes.
    if (failure.kind === 'timeout') return;
    if (this.current === 'proceeding') {
      this.fail({ kind: 'transport', status: 503, reason: 'Service Unavailable', cause: failure.error });
    } else if (this.current === 'answered') {
      this.end({ cause: 'dialog-lost', status: 503 });
    }
  }

  private sendBye(reason: string | undefined, cause: SessionEndCause = 'local-bye'): void {
    if (this.current === 'ended' || this.current === 'failed') return;
    const dialog = this.dialog;
    const bye = dialog.createRequest('BYE', { headers: reason === undefined ? [] : [['reason', reason]] });
    this.end({ cause });
    void this.sendNonInvite(bye, (response) => byeAnswered(dialog, response));
  }

  private end(ending: SessionEnding): void {
    if (this.current === 'ended' || this.current === 'failed') return;
    this.current = 'ended';
    this.stopTimers();
    // RFC 3261 §15.1.2: requests of the peer still unanswered when the session ends get 487.
    for (const asked of [...this.unanswered.values()]) this.guard(() => asked.respond(487));
    this.unanswered.clear();
    this.dialog.terminate();
    this.core.detach(this);
    this.emit('ended', ending);
  }

  private fail(failure: IncomingInviteFailure): void {
    if (this.current === 'ended' || this.current === 'failed') return;
    this.current = 'failed';
    this.stopTimers();
    this.dialog.terminate();
    this.core.detach(this);
    this.emit('failed', failure);
  }

  private stopTimers(): void {
    this.core.clock.cancel(this.sessionTimer);
    this.sessionTimer = undefined;
    this.answerRetransmission?.stop();
    for (const retransmission of this.retransmissions.values()) retransmission.stop();
    this.retransmissions.clear();
  }

  /**
   * RFC 4028 §10: when we are the refresher, an UPDATE without a body at half the interval (§7.4
   * allows UPDATE; it needs no offer); a failed refresh ends the session. When the peer refreshes,
   * BYE if no refresh came before the session expires.
   */
  private scheduleSessionTimer(): void {
    this.core.clock.cancel(this.sessionTimer);
    this.sessionTimer = undefined;
    const timer = this.dialog.sessionTimer;
    if (!timer || this.current !== 'confirmed') return;
    const now = this.core.clock.now();
    if (timer.refresher === 'local' && timer.refreshAt !== undefined) {
      this.sessionTimer = this.core.clock.setTimer(Math.max(0, timer.refreshAt - now), () =>
        this.guard(() => {
          if (this.current !== 'confirmed') return;
          void this.sendRequest('UPDATE').then((response) => {
            if (response.status >= 200 && response.status < 300) this.scheduleSessionTimer();
            else if (this.current === 'confirmed') this.sendBye('SIP;cause=408;text="Session refresh failed"');
          });
        }),
      );
    } else {
      this.sessionTimer = this.core.clock.setTimer(Math.max(0, timer.byeAt - now), () =>
        this.guard(() => {
          if (this.current === 'confirmed') this.sendBye('SIP;cause=408;text="Session expired"', 'session-expired');
        }),
      );
    }
  }

  // ---- sending ------------------------------------------------------------------------------

  /** A 408/481 to a request of ours ends the session (§12.2.1.2). */
  private dialogResponse(response: SipResponse): void {
    let outcome;
    try {
      outcome = this.dialog.receiveResponse(response);
    } catch (error) {
      if (error instanceof DialogError) return;
      throw error;
    }
    if (outcome.kind === 'terminated' && (this.current === 'confirmed' || this.current === 'answered')) {
      this.end({ cause: 'dialog-lost', status: outcome.status });
    }
  }

  /** A non-INVITE request in its own transaction (§17.1.2), to the dialog's next hop (RFC 3263). */
  private async sendNonInvite(outgoing: OutgoingRequest, onFinal: (response: SipResponse) => void): Promise<void> {
    const request = outgoing.request;
    let destination: Destination | undefined;
    try {
      destination = (await this.core.resolve(outgoing.nextHop))[0];
    } catch (error) {
      this.core.reportError(error);
    }
    if (destination === undefined) {
      onFinal(createResponse(request, 503, 'Service Unavailable'));
      return;
    }
    let pending: ((response: SipResponse) => void) | undefined = onFinal;
    const finish = (response: SipResponse): void => {
      const callback = pending;
      pending = undefined;
      callback?.(response);
    };
    this.core.transactions.sendRequest(request, destination, {
      onResponse: (response) => this.guard(() => response.status >= 200 && finish(response)),
      onFailure: (failure) => this.guard(() => finish(createResponse(request, failure.kind === 'timeout' ? 408 : 503))),
    });
  }

  private requireProceeding(what: string): void {
    if (this.current !== 'proceeding') throw new IncomingInviteError('ALREADY_ANSWERED', `cannot ${what}(): the INVITE has its final response (session ${this.current})`);
  }

  /** A listener that throws must not break the SIP machinery: report it and carry on. */
  private guard(action: () => void): void {
    try {
      action();
    } catch (error) {
      this.core.reportError(error);
    }
  }
}

/** The response to our BYE goes to the (ended) dialog, which forgets the request then. */
function byeAnswered(dialog: SessionDialog, response: SipResponse): void {
  try {
    dialog.receiveResponse(response);
  } catch (error) {
    if (!(error instanceof DialogError)) throw error;
  }
}

/** §17.2.1, §13.3.1.4: 2xx retransmissions are for unreliable transports only. */
function isReliableRequest(request: SipRequest): boolean {
  try {
    return request.topVia.transport.toUpperCase() !== 'UDP';
  } catch {
    return false;
  }
}

