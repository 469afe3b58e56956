/**
 * An INVITE session we start as UAC (RFC 3261 §13.2, §14, §15): one leg of a 3PCC call.
 *
 *   calling ──1xx > 100──▶ proceeding ──2xx──▶ answered ──ACK sent──▶ confirmed ──BYE──▶ ended
 *   calling / proceeding ──non-2xx final, Timer B, transport failure──▶ failed
 *   calling / proceeding ──401/407 with credentials, 3xx with redirects allowed──▶ calling (new INVITE)
 *   answered / confirmed ──BYE sent or received, 408/481, session expiry, 2xx never ACKed──▶ ended
 *
 * `answered` lasts while the application owes the ACK: when our INVITE carried no offer, the
 * 2xx carries one and the ACK must carry the answer (RFC 3264 §4), which in RFC 3725 flows comes
 * from the other leg. Hanging up is always possible: CANCEL once a provisional response has come
 * (§9.1), ACK and BYE for a 2xx that crossed the CANCEL, BYE once answered.
 */
import { EventEmitter } from 'node:events';
import type { TimerHandle } from '../clock.js';
import { DigestClient, type DigestAttempt, type DigestClientCredentials } from '../auth/index.js';
import {
  carriesSessionDescription,
  DialogError,
  InviteDialogSet,
  type BodyOptions,
  type InviteDialogSetOptions,
  type ExtraHeaders,
  type OutgoingRequest,
  type RequestOptions,
  type ResponseOptions,
  type SessionDialog,
} from '../dialog/index.js';
import { createResponse, NameAddr, parseMessage, parseNameAddr, randomToken, SipRequest, SipResponse } from '../message/index.js';
import { releaseParsedHeaders } from '../message/message.js';
import type { InviteClientTransaction, InviteClientTransactionUser, ServerTransaction, TransactionFailure } from '../transaction/index.js';
import type { Destination } from '../transport/index.js';
import { joinList } from '../grammar.js';
import { parseUri, SipUri, uriEquals } from '../uri.js';
import { Invite2xxRetransmission } from './invite-2xx-retransmission.js';
import type { DialogOwner, SessionCore } from './session-core.js';

export type OutgoingInviteState = 'calling' | 'proceeding' | 'answered' | 'confirmed' | 'ended' | 'failed';

export interface OutgoingInviteOptions {
  /** Who we call: the To header, and the Request-URI unless `requestUri` is given. */
  to: string | NameAddr;
  requestUri?: string | SipUri;
  /** Who calls: the From header (a tag is added). */
  from: string | NameAddr;
  /** Our Contact, built by the UA from the transport's address. */
  contact: NameAddr;
  /** A session description offer; none for the offerless INVITE of RFC 3725 flows I and III. */
  body?: Buffer | string;
  contentType?: string;
  headers?: ExtraHeaders;
  /** A pre-loaded route set (RFC 3261 §8.1.2), e.g. an outbound proxy: `sip:proxy;lr`. */
  route?: readonly string[];
  callId?: string;
  /** Credentials for the 401/407 challenges of a trunk or proxy (RFC 3261 §22.2). */
  credentials?: DigestClientCredentials;
  /** How many 3xx to follow to their first Contact (RFC 3261 §8.1.3.4). Default 0: a 3xx fails the session. */
  maxRedirects?: number;
  /** RFC 4028: ask for a session timer of this many seconds (our refresher preference: uac). */
  sessionExpires?: number;
  /** Advertise 100rel (RFC 3262) in Supported. Default false: PRACK is still sent when a peer requires it. */
  reliableProvisionals?: boolean;
}

export type InviteFailureKind = 'rejected' | 'redirected' | 'timeout' | 'unreachable' | 'canceled' | 'auth-failed';

export interface InviteFailure {
  kind: InviteFailureKind;
  /** The final status: the response's, or 408 (timeout), 503 (transport/DNS failure, RFC 3263 §4.3), 487 (canceled before any answer). */
  status: number;
  reason: string;
  response?: SipResponse;
  /** What went wrong below SIP, for timeouts and transport failures. */
  cause?: unknown;
}

export type SessionEndCause =
  /** We sent BYE (hangup, or after a 2xx that crossed our CANCEL). */
  | 'local-bye'
  /** The peer sent BYE. */
  | 'remote-bye'
  /** A request in the dialog got 408 or 481, or timed out (RFC 3261 §12.2.1.2); a BYE went out unless it was 481. */
  | 'dialog-lost'
  /** Our 2xx to a re-INVITE was never ACKed (RFC 3261 §13.3.1.4). */
  | 'ack-timeout'
  /** RFC 4028 §10: no session refresh arrived in time. */
  | 'session-expired';

export interface SessionEnding {
  cause: SessionEndCause;
  /** The BYE received, for `remote-bye`. */
  request?: SipRequest;
  /** RFC 3326 Reason of the BYE received, if any. */
  reason?: string;
  /** The status that ended it, for `dialog-lost`. */
  status?: number;
}

/** A request from the peer inside the dialog that the application answers. */
export class IncomingDialogRequest {
  private answered = false;
  constructor(
    readonly request: SipRequest,
    private readonly respondWith: (status: number, options: ResponseOptions) => void,
  ) {}

  /** The session description the request carries, if any (an offer for re-INVITE and UPDATE). */
  get description(): string | undefined {
    return carriesSessionDescription(this.request) ? this.request.body.toString('utf8') : undefined;
  }

  get isAnswered(): boolean {
    return this.answered;
  }

  respond(status: number, options: ResponseOptions = {}): void {
    if (this.answered && status >= 200) return;
    if (status >= 200) this.answered = true;
    this.respondWith(status, options);
  }
}

/**
 * An offer in a reliable provisional response to our offerless INVITE (RFC 3262 §5, RFC 3264):
 * the answer goes in the PRACK, or in the ACK when the 2xx came before it was given.
 */
export class EarlyOffer {
  private given = false;
  constructor(
    /** The reliable provisional response that carries the offer. */
    readonly response: SipResponse,
    private readonly give: (answer: BodyOptions) => void,
  ) {}

  get description(): string {
    return this.response.body.toString('utf8');
  }

  get isAnswered(): boolean {
    return this.given;
  }

  /** Sends `answer` (a session description answering the offer); once only. */
  answer(answer: BodyOptions): void {
    if (this.given) return;
    this.given = true;
    this.give(answer);
  }
}

export interface OutgoingInviteEvents {
  /** Each provisional response above 100 (180, 183 with early media, …). */
  provisional: [response: SipResponse];
  /**
   * An offer in a reliable provisional response (our INVITE had none): answer it with
   * offer.answer(). Emitted after `provisional`. Unheard: answered at once with every stream
   * rejected (the UA's answer for unwanted offers), so that the exchange completes.
   */
  earlyOffer: [offer: EarlyOffer];
  /**
   * The first 2xx. When `ackPending` (the 2xx carried an offer), call ack() with the answer.
   * Otherwise the session ACKs by itself: at once, or, when the 2xx came while an early offer
   * awaited its answer, as soon as that answer is given (it goes in the ACK).
   */
  answered: [response: SipResponse, ackPending: boolean];
  /** The ACK of the INVITE went out. */
  confirmed: [];
  /** The INVITE failed; the session is over. */
  failed: [failure: InviteFailure];
  /** The session, once answered, is over. */
  ended: [ending: SessionEnding];
  /** A re-INVITE from the peer; answer it (a 2xx needs an answer to its offer, or an offer). Unheard: 488. */
  reinvite: [request: IncomingDialogRequest];
  /** An UPDATE from the peer. Unheard: 200 without a body, 488 to an offer. */
  update: [request: IncomingDialogRequest];
  /** Any other request in the dialog (INFO, NOTIFY, OPTIONS, REFER, MESSAGE). Unheard: 200 (REFER: 603). */
  request: [request: IncomingDialogRequest];
  /** The ACK of our 2xx to a re-INVITE; carries the answer when our 2xx held an offer. */
  ack: [ack: SipRequest];
}

/**
 * One object that hears a session's events: an alternative to a listener per event for the
 * sessions that last as long as their calls (an engine holds two per call, and seven listeners
 * each, with the dictionary that holds them, weighed more than the rest of the session).
 */
export interface OutgoingInviteObserver {
  /** The events it takes; those count as heard (no default answer is sent for them). */
  readonly observes: ReadonlySet<keyof OutgoingInviteEvents>;
  /** Called before the session's listeners, with the event's arguments. */
  sessionEvent(session: OutgoingInviteSession, event: keyof OutgoingInviteEvents, args: readonly unknown[]): void;
}

const UNLIMITED = { maxMessageSize: Number.POSITIVE_INFINITY, maxHeaders: Number.POSITIVE_INFINITY };

/** Methods whose authentication challenge we answer by re-sending (RFC 3261 §22.2). */
const MAX_AUTH_ATTEMPTS = 3;

export class OutgoingInviteSession extends EventEmitter<OutgoingInviteEvents> implements DialogOwner {
  readonly callId: string;
  readonly localTag: string;
  private current: OutgoingInviteState = 'calling';
  private observer: OutgoingInviteObserver | undefined;
  /** The INVITE last sent; gone once the session settled (64*T1 after the answer). */
  private invite: SipRequest | undefined;
  /** The dialogs of the INVITE last sent; none before the first is sent. */
  private dialogSet: InviteDialogSet | undefined;
  /** The INVITE transaction while a CANCEL may still be needed for it. */
  private transaction: InviteClientTransaction | undefined;
  private targets: Destination[] = [];
  private confirmedDialog: SessionDialog | undefined;
  private cancelRequested: string | undefined | false = false;
  private cancelSent = false;
  /** A 1xx (100 Trying included) came for the INVITE transaction in progress: a CANCEL may go (§9.1). */
  private provisionalReceived = false;
  private cancelTimer: TimerHandle | undefined;
  private sessionTimer: TimerHandle | undefined;
  // The collections below are made when first needed: most sessions never need some of them,
  // and a connected call holds its two sessions for as long as it lasts.
  /** Our 2xx responses to re-INVITEs awaiting their ACK, by CSeq. */
  private retransmissions: Map<number, Invite2xxRetransmission> | undefined;
  /** Requests of the peer handed to the application and not yet answered, by transaction. */
  private unanswered: Map<ServerTransaction, IncomingDialogRequest> | undefined;
  /**
   * Where each ACK of ours went, so that a retransmitted 2xx gets the same ACK sent the same way;
   * weakly, for as long as the dialog keeps the ACK (64*T1).
   */
  private ackDestinations: WeakMap<OutgoingRequest, Destination> | undefined;
  private digest: DigestClient | undefined;
  private digestAttempt: DigestAttempt | undefined;
  private authAttempts = 0;
  private redirects = 0;
  /** Contacts of the 3xx responses followed that are still to be tried, in order (RFC 3261 §8.1.3.4). */
  private redirectTargets: SipUri[] | undefined;
  /** The Request-URIs tried so far, once a 3xx came: a redirect back to one of them is a loop. */
  private triedUris: SipUri[] | undefined;
  private lastLocal: BodyOptions | undefined;
  /**
   * The latest description the peer sent, as text of its own: a slice of the received bytes would
   * keep the whole datagram (or the pool slab under it) for as long as the call lasts.
   */
  private lastRemote: string | undefined;
  /** 64*T1 after the answer: what only the INVITE transaction and 2xx retransmissions needed goes. */
  private settleTimer: TimerHandle | undefined;
  /** The final response to the INVITE, while it is handled (and for good when it did not come from the wire). */
  private finalResponse: SipResponse | undefined;
  /**
   * Once handled, a final response from the wire is held weakly with the bytes it came as: whoever
   * keeps it gets the same object from `response`, and if nobody does it is parsed again from
   * them. A session lasts as long as its call, and the parsed message is most of what it holds.
   */
  private finalResponseRef: WeakRef<SipResponse> | undefined;
  private finalResponseBytes: Buffer | undefined;
  private createdSets: InviteDialogSet[] | undefined;
  private dialogSetOptions: InviteDialogSetOptions | undefined;
  /** An offer of a reliable provisional response, handed to the application and not yet answered. */
  private pendingEarlyOffer: { dialog: SessionDialog; response: SipResponse } | undefined;
  /** The description of the first reliable provisional response with one: an early offer, or the answer to our offer. */
  private earlyRemote: string | undefined;
  /** PRACKs sent and not yet answered: an UPDATE offer waits for them (RFC 6337 §3.2: the PRACK and the UPDATE must not cross). */
  private pracksPending = 0;
  /** The early dialog of the latest reliable provisional response: where an UPDATE goes before the 2xx (RFC 3311 §5.1). */
  private reliableEarlyDialog: { dialog: SessionDialog; allowsUpdate: boolean } | undefined;

  constructor(
    private readonly core: SessionCore,
    private readonly options: OutgoingInviteOptions,
  ) {
    super();
    this.callId = options.callId ?? `${randomToken(12)}`;
    this.localTag = randomToken();
    this.invite = this.buildInvite(1);
    if (options.credentials) this.digest = new DigestClient({ credentials: options.credentials });
    if (options.body !== undefined) this.lastLocal = { body: options.body, contentType: options.contentType };
  }

  /** Sets the one observer of this session's events (see OutgoingInviteObserver); undefined removes it. */
  observe(observer: OutgoingInviteObserver | undefined): void {
    this.observer = observer;
  }

  /** Emits to the observer, then to the listeners. */
  private notify<K extends keyof OutgoingInviteEvents>(event: K, ...args: OutgoingInviteEvents[K]): void {
    const observer = this.observer;
    if (observer !== undefined && observer.observes.has(event)) observer.sessionEvent(this, event, args);
    (this.emit as (event: K, ...args: OutgoingInviteEvents[K]) => boolean)(event, ...args);
  }

  private hears(event: keyof OutgoingInviteEvents): boolean {
    return this.observer?.observes.has(event) === true || this.listenerCount(event) > 0;
  }

  get state(): OutgoingInviteState {
    return this.current;
  }

  /** The confirmed dialog once answered. */
  get dialog(): SessionDialog | undefined {
    return this.confirmedDialog;
  }

  /** The INVITE as last sent (after authentication or a redirect, the latest one), until 64*T1 after the answer. */
  get currentInvite(): SipRequest | undefined {
    return this.invite;
  }

  /** The INVITE, where the session cannot have settled yet (before and just after the answer). */
  private get inviteSent(): SipRequest {
    if (this.invite === undefined) throw new Error(`the INVITE is gone (session ${this.current})`);
    return this.invite;
  }

  /** Where the INVITE in progress went, while a CANCEL may still be sent for it (§9.1: to the same place). */
  get inviteDestination(): Destination | undefined {
    return this.transaction?.destination;
  }

  /** The final response to the INVITE, once there is one. */
  get response(): SipResponse | undefined {
    if (this.finalResponse !== undefined) return this.finalResponse;
    const held = this.finalResponseRef?.deref();
    if (held !== undefined || this.finalResponseBytes === undefined) return held;
    // It was accepted once, under whatever limits the transport had.
    const again = parseMessage(this.finalResponseBytes, UNLIMITED) as SipResponse;
    this.finalResponseRef = new WeakRef(again);
    return again;
  }

  private setFinalResponse(response: SipResponse): void {
    this.finalResponse = response;
    this.finalResponseRef = undefined;
    this.finalResponseBytes = undefined;
  }

  /** Every dialog set of this session's INVITEs (one per attempt), registered with the UA's registry. */
  get dialogSets(): readonly InviteDialogSet[] {
    return this.createdSets ?? [];
  }

  /** The latest session description the peer sent (offer or answer). */
  get remoteDescription(): string | undefined {
    return this.lastRemote;
  }

  /**
   * The session description of a reliable provisional response (RFC 3262 §5), once one came:
   * the peer's offer (our INVITE had none) or its answer to ours. A 2xx after it may repeat it
   * or carry none (RFC 3261 §13.2.1).
   */
  get earlyDescription(): string | undefined {
    return this.earlyRemote;
  }

  /** Sends the INVITE (after locating the next hop, RFC 3263). */
  async start(): Promise<void> {
    await this.sendInvite(this.inviteSent);
  }

  /** The ACK for the 2xx that awaits one, carrying `answer` when the 2xx held an offer (RFC 3261 §13.2.2.4). */
  ack(answer: BodyOptions = {}): void {
    const dialog = this.confirmedDialog;
    if (!dialog) throw new Error(`no 2xx awaits an ACK (session ${this.current})`);
    const ack = dialog.createAck(answer);
    if (answer.body !== undefined) this.lastLocal = answer;
    this.sendAck(ack);
    if (this.current === 'answered') {
      this.current = 'confirmed';
      this.scheduleSessionTimer();
      this.notify('confirmed');
    }
  }

  /**
   * Ends the session whatever its state: CANCEL while it rings (deferred until a provisional
   * response, §9.1), ACK and BYE once answered, BYE once confirmed. `reason` is an RFC 3326
   * Reason header value (`SIP;cause=486;text="Busy Here"`), carried by the CANCEL or the BYE.
   */
  hangup(reason?: string): void {
    switch (this.current) {
      case 'calling':
      case 'proceeding':
        if (this.cancelRequested !== false) return;
        this.cancelRequested = reason;
        if (this.current === 'proceeding' || this.provisionalReceived) this.sendCancel();
        return;
      case 'answered':
        // RFC 3261 §13.2.2.4: every 2xx is ACKed, even the one of a session we no longer want.
        this.ackThenBye(reason);
        return;
      case 'confirmed':
        this.sendBye(reason);
        return;
      default:
        return;
    }
  }

  /**
   * A re-INVITE (RFC 3261 §14.1). With a body it offers, and the answer in the 2xx is ACKed here;
   * without one the 2xx carries an offer: call ack() with the answer. Resolves with the final
   * response (a 491 is retried once after the §14.1 delay, then returned).
   */
  reinvite(options: RequestOptions = {}): Promise<SipResponse> {
    const dialog = this.requireConfirmed('re-INVITE');
    return new Promise<SipResponse>((resolve) => this.reinviteAttempt(dialog, options, resolve, false));
  }

  // (Callbacks here and below are passed as arguments, not held in variables or properties:
  // tsx names every function held in those as it is made, at a cost higher than the call's.)
  private reinviteAttempt(dialog: SessionDialog, options: RequestOptions, resolve: (response: SipResponse) => void, glareRetried: boolean): void {
    if (this.current !== 'confirmed') {
      resolve(this.invite ? createResponse(this.invite, 481, 'Call/Transaction Does Not Exist') : new SipResponse(481, 'Call/Transaction Does Not Exist'));
      return;
    }
    const outgoing = dialog.createRequest('INVITE', options);
    if (options.body !== undefined) this.lastLocal = options;
    void this.sendReinvite(dialog, outgoing, (response) => {
      if (response.status === 491 && !glareRetried) {
        dialog.scheduleGlareRetry(() => this.reinviteAttempt(dialog, options, resolve, true));
        return;
      }
      resolve(response);
    });
  }

  /**
   * An UPDATE (RFC 3311): changes the session (with an offer in `options.body`; the 2xx carries
   * the answer) or refreshes the dialog, without waiting for the INVITE to complete. Once
   * confirmed it goes in the dialog; before that, in the early dialog of the reliable provisional
   * response last received (§5.1: the peer must have listed UPDATE in its Allow, and an offer may
   * go only once the INVITE's own offer/answer exchange is over). Resolves with the final
   * response (408 on timeout).
   */
  update(options: RequestOptions = {}): Promise<SipResponse> {
    let dialog: SessionDialog;
    if (this.current === 'confirmed' && this.confirmedDialog) {
      dialog = this.confirmedDialog;
    } else {
      const early = this.reliableEarlyDialog;
      if ((this.current !== 'proceeding' && this.current !== 'calling') || early === undefined || early.dialog.state !== 'early') {
        throw new DialogError('UPDATE_NOT_ALLOWED', `cannot send UPDATE: the session is ${this.current}, with no early dialog from a reliable provisional response`);
      }
      if (!early.allowsUpdate) throw new DialogError('UPDATE_NOT_ALLOWED', 'cannot send UPDATE: the peer did not list UPDATE in the Allow of its provisional response (RFC 3311 §5.1)');
      if (options.body !== undefined && !this.earlyExchangeDone(early.dialog)) {
        throw new DialogError('UPDATE_NOT_ALLOWED', 'cannot offer in an UPDATE before the INVITE\'s offer/answer exchange is over (RFC 3311 §5.1)');
      }
      dialog = early.dialog;
    }
    const outgoing = dialog.createRequest('UPDATE', options);
    if (options.body !== undefined) this.lastLocal = options;
    return new Promise<SipResponse>((resolve) => {
      void this.sendNonInvite(outgoing, (response) => {
        this.dialogResponse(dialog, response);
        if (response.status >= 200 && response.status < 300 && carriesSessionDescription(response)) this.lastRemote = response.body.toString('utf8');
        resolve(response);
      });
    });
  }

  /** Any other request in the dialog (INFO, UPDATE, OPTIONS, REFER…); resolves with its final response (408 on timeout). */
  request(method: string, options: RequestOptions = {}): Promise<SipResponse> {
    const dialog = this.requireConfirmed(method);
    const outgoing = dialog.createRequest(method, options);
    return new Promise<SipResponse>((resolve) => {
      void this.sendNonInvite(outgoing, (response) => {
        this.dialogResponse(dialog, response);
        resolve(response);
      });
    });
  }

  // ---- the INVITE and its responses ---------------------------------------------------------

  private buildInvite(cseq: number, requestUri?: SipUri): SipRequest {
    const options = this.options;
    const to = typeof options.to === 'string' ? parseNameAddr(options.to, 'to') : options.to;
    const from = typeof options.from === 'string' ? parseNameAddr(options.from, 'from') : options.from;
    const uri = requestUri ?? (options.requestUri === undefined ? to.uri : typeof options.requestUri === 'string' ? parseUri(options.requestUri) : options.requestUri);
    const invite = new SipRequest('INVITE', uri);
    invite.addHeader('max-forwards', this.core.dialogOptions.maxForwards ?? 70);
    for (const route of options.route ?? []) invite.addHeader('route', route);
    invite.addHeader('from', from.toStringWithTag(this.localTag));
    invite.addHeader('to', new NameAddr(to.uri, to.displayName));
    invite.addHeader('call-id', this.callId);
    invite.addHeader('cseq', `${cseq} INVITE`);
    invite.addHeader('contact', options.contact);
    const capabilities = this.core.dialogOptions.capabilities;
    if (capabilities) {
      invite.addHeader('allow', joinList(capabilities.allow));
      // 100rel only when asked for: a reliable 1xx may carry the offer, and a 3PCC leg has no
      // answer for it before the other leg answers (RFC 3262 §5, RFC 3725 §8).
      const withReliable = options.reliableProvisionals === true;
      if (capabilities.supported.some((tag) => tag !== '100rel' || withReliable)) {
        invite.addHeader('supported', joinList(capabilities.supported, withReliable ? undefined : '100rel'));
      }
    }
    if (options.sessionExpires !== undefined) invite.addHeader('session-expires', `${options.sessionExpires};refresher=uac`);
    if (this.core.product) invite.addHeader('user-agent', this.core.product);
    for (const [name, value] of options.headers ?? []) invite.addHeader(name, value);
    if (options.body !== undefined) {
      invite.body = typeof options.body === 'string' ? Buffer.from(options.body, 'utf8') : options.body;
      invite.addHeader('content-type', options.contentType ?? 'application/sdp');
    }
    return invite;
  }

  private newDialogSet(invite: SipRequest): InviteDialogSet {
    // Our Contact is the one the INVITE carries: the dialog takes it as it is, unparsed.
    this.dialogSetOptions ??= Object.assign({}, this.core.dialogOptions, { registry: this.core.registry, localContact: this.options.contact });
    const set = new InviteDialogSet(invite, this.dialogSetOptions);
    if (this.createdSets === undefined) this.createdSets = [set];
    else this.createdSets.push(set);
    return set;
  }

  /** §8.1.2 and RFC 3263: to the first Route, else the Request-URI; the next target on failure. */
  private async sendInvite(invite: SipRequest): Promise<void> {
    try {
      this.targets = await this.core.resolve(firstHop(invite));
    } catch (error) {
      if (this.current === 'calling' && this.tryNextRedirect()) return;
      this.fail({ kind: 'unreachable', status: 503, reason: 'Service Unavailable', cause: error });
      return;
    }
    this.tryNextTarget(invite);
  }

  private tryNextTarget(invite: SipRequest): void {
    if (this.current !== 'calling' && this.current !== 'proceeding') return;
    const destination = this.targets.shift();
    if (!destination) {
      this.fail({ kind: 'unreachable', status: 503, reason: 'Service Unavailable' });
      return;
    }
    // Each attempt is its own transaction: a fresh copy gets its own top Via and branch.
    const attempt = invite.clone();
    attempt.removeHeader('via');
    this.invite = attempt;
    this.dialogSet = this.newDialogSet(attempt);
    this.provisionalReceived = false;
    this.transaction = this.core.transactions.sendInvite(
      attempt,
      destination,
      transactionUser(
        (response) => this.guard(() => this.receiveInviteResponse(response)),
        (failure) => this.guard(() => this.inviteFailed(attempt, failure)),
      ),
    );
  }

  private inviteFailed(invite: SipRequest, failure: TransactionFailure): void {
    if (invite !== this.invite) return;
    // RFC 3263 §4.3: a transport failure moves on to the next destination; a timeout too, when
    // nothing at all came back from this one.
    if (this.targets.length > 0 && this.current === 'calling' && this.cancelRequested === false) {
      this.tryNextTarget(invite);
      return;
    }
    if (this.cancelRequested !== false) {
      this.fail({ kind: 'canceled', status: 487, reason: 'Request Terminated', cause: failure });
      return;
    }
    if (this.tryNextRedirect()) return;
    if (failure.kind === 'timeout') this.fail({ kind: 'timeout', status: 408, reason: 'Request Timeout', cause: failure });
    else this.fail({ kind: 'unreachable', status: 503, reason: 'Service Unavailable', cause: failure.error });
  }

  private receiveInviteResponse(response: SipResponse): void {
    if (response.status < 200) {
      this.provisionalReceived = true;
      // §9.1: any provisional response, a 100 Trying too, lets a CANCEL asked for earlier go out.
      if (this.cancelRequested !== false) this.sendCancel();
    }
    const set = this.dialogSet;
    if (set === undefined) {
      // Settled (64*T1 after the answer) as the transaction's Timer M was about to fire.
      this.receiveStrayResponse(response);
      return;
    }
    const outcome = set.receiveResponse(response);
    switch (outcome.kind) {
      case 'trying':
        this.targets = []; // RFC 3263 §4.3: once a server answered, we stay with it
        if (response.status > 100) this.provisional(response);
        return;
      case 'early': {
        this.targets = [];
        if (outcome.reliability === 'retransmission' || outcome.reliability === 'out-of-order') return;
        const reliable = outcome.reliability === 'new';
        const offered = reliable && this.carriesEarlyOffer(outcome.dialog, response);
        if (reliable && carriesSessionDescription(response)) this.earlyRemote ??= response.body.toString('utf8');
        if (reliable) this.noteReliableEarlyDialog(outcome.dialog, response);
        if (reliable && !offered) this.prack(outcome.dialog, response);
        this.provisional(response);
        // RFC 3262 §5: the answer to an offer in a reliable provisional response goes in the PRACK.
        if (offered && this.current === 'proceeding') this.earlyOffer(outcome.dialog, response);
        return;
      }
      case 'confirmed':
        this.answered(outcome.dialog, response);
        return;
      case 'retransmission':
        if (outcome.ack) this.sendAck(outcome.ack);
        return;
      case 'unwanted':
        this.sendAck(outcome.ack);
        void this.sendNonInvite(outcome.bye, (response) => byeAnswered(outcome.dialog, response));
        return;
      case 'rejected':
        this.rejected(response);
        return;
      case 'ignored':
        return;
    }
  }

  private provisional(response: SipResponse): void {
    if (this.current === 'calling') this.current = 'proceeding';
    if (carriesSessionDescription(response)) this.lastRemote = response.body.toString('utf8');
    this.notify('provisional', response);
  }

  private prack(dialog: SessionDialog, response: SipResponse, answer: BodyOptions = {}): void {
    try {
      const prack = dialog.createPrack(response, answer);
      this.pracksPending++;
      void this.sendNonInvite(prack, (reply) => {
        this.pracksPending--;
        this.dialogResponse(dialog, reply);
      });
    } catch (error) {
      this.core.reportError(error);
    }
  }

  /**
   * The early dialog of a reliable provisional response: UPDATE may go there (RFC 3311 §5.1), and
   * the peer's requests in it (an UPDATE of its own) reach this session.
   */
  private noteReliableEarlyDialog(dialog: SessionDialog, response: SipResponse): void {
    const allowsUpdate = response.headerValues('allow').some((value) => value.split(',').some((method) => method.trim().toUpperCase() === 'UPDATE'));
    this.reliableEarlyDialog = { dialog, allowsUpdate };
    this.core.attachDialog(dialog, this);
  }

  /**
   * Whether the INVITE's own offer/answer exchange is over in an early dialog (RFC 3311 §5.1,
   * RFC 6337 §3.2): a reliable 1xx carried a description (the answer to our offer, or the peer's
   * offer), nothing is outstanding, and the PRACK that carried our answer was answered.
   */
  private earlyExchangeDone(dialog: SessionDialog): boolean {
    if (this.pendingEarlyOffer !== undefined || this.pracksPending > 0 || dialog.offerAnswer.state !== 'stable') return false;
    return this.earlyRemote !== undefined;
  }

  /** The reliable provisional response holds the peer's offer, which the dialog has not seen answered (RFC 3261 §13.2.1). */
  private carriesEarlyOffer(dialog: SessionDialog, response: SipResponse): boolean {
    const { state, offer } = dialog.offerAnswer;
    return carriesSessionDescription(response) && state === 'remote-offer' && offer?.method === 'INVITE' && offer.cseq === response.cseq.seq;
  }

  private earlyOffer(dialog: SessionDialog, response: SipResponse): void {
    const pending = { dialog, response };
    this.pendingEarlyOffer = pending;
    const offer = new EarlyOffer(response, (answer) => this.guard(() => this.answerEarlyOffer(pending, answer)));
    if (!this.hears('earlyOffer')) {
      offer.answer(this.core.dialogOptions.answerForUnwantedOffer?.(response) ?? {});
      return;
    }
    this.notify('earlyOffer', offer);
  }

  private answerEarlyOffer(pending: { dialog: SessionDialog; response: SipResponse }, answer: BodyOptions): void {
    if (this.pendingEarlyOffer !== pending) return;
    this.pendingEarlyOffer = undefined;
    if (answer.body !== undefined) this.lastLocal = answer;
    if (this.current === 'answered' && this.confirmedDialog === pending.dialog) {
      // The 2xx came first: the offer still awaits its answer, which the ACK carries.
      this.ack(answer);
      return;
    }
    if (this.current === 'proceeding' && pending.dialog.state === 'early') this.prack(pending.dialog, pending.response, answer);
  }

  private answered(dialog: SessionDialog, response: SipResponse): void {
    this.setFinalResponse(response);
    this.confirmedDialog = dialog;
    // Answered: no CANCEL can follow (§9.1), and the transaction layer keeps the transaction
    // for the 2xx retransmissions until Timer M.
    this.transaction = undefined;
    this.clearCancelTimer();
    this.core.attachDialog(dialog, this);
    if (carriesSessionDescription(response)) this.lastRemote = response.body.toString('utf8');
    this.current = 'answered';
    this.settleTimer = this.core.clock.setTimer(64 * this.core.timers.T1, () => this.guard(() => this.settle()));
    // No redirect, and no request in an early dialog, can come any more: what they needed goes.
    this.reliableEarlyDialog = undefined;
    this.redirectTargets = undefined;
    this.triedUris = undefined;
    if (this.cancelRequested !== false) {
      // The 2xx crossed our CANCEL (§9.1): ACK it, then BYE.
      this.ackThenBye(this.cancelRequested);
      return;
    }
    const early = this.pendingEarlyOffer;
    if (early !== undefined && early.dialog === dialog) {
      // The offer of a reliable 1xx of this dialog awaits the application's answer: the ACK
      // carries it once given (answerEarlyOffer). The 2xx is not a new offer.
      try {
        this.notify('answered', response, false);
      } finally {
        this.releaseHandled();
      }
      return;
    }
    // RFC 3261 §13.2.1: the 2xx holds an offer when our INVITE had none and no reliable 1xx of
    // this dialog carried one (a description after that repeats it).
    const offerInResponse = dialog.offerAnswer.state === 'remote-offer';
    if (offerInResponse) {
      try {
        this.notify('answered', response, true);
      } finally {
        this.releaseHandled();
      }
      return;
    }
    // The 2xx holds the answer to our offer: ACK at once. The events follow the states,
    // answered then confirmed (unless an answered listener hung up).
    this.sendAck(dialog.createAck());
    this.current = 'confirmed';
    this.scheduleSessionTimer();
    try {
      this.notify('answered', response, false);
    } finally {
      if (this.current === 'confirmed') this.notify('confirmed');
      this.releaseHandled();
    }
  }

  /**
   * The INVITE and its final response stay (currentInvite, response) for as long as the session
   * lasts; what was parsed of them to get the dialog going goes (it is parsed again if asked for).
   */
  private releaseHandled(): void {
    releaseParsedHeaders(this.inviteSent);
    const response = this.finalResponse;
    if (response === undefined) return;
    // `raw` is dropped whenever the message is changed: then it is kept as it is.
    if (response.raw !== undefined) {
      this.finalResponseRef = new WeakRef(response);
      this.finalResponseBytes = response.raw;
      this.finalResponse = undefined;
    } else {
      releaseParsedHeaders(response);
    }
  }

  private rejected(response: SipResponse): void {
    const status = response.status;
    this.setFinalResponse(response);
    if ((status === 401 || status === 407) && this.retryWithCredentials(response)) return;
    if (status >= 300 && status < 400 && this.followRedirect(response)) return;
    // RFC 3261 §8.1.3.4: a redirected attempt that fails moves on to the next Contact, unless
    // the failure is global (6xx, §21.6).
    if (status < 600 && this.tryNextRedirect()) return;
    this.clearCancelTimer();
    if (this.cancelRequested !== false && status === 487) {
      this.fail({ kind: 'canceled', status, reason: response.reason, response });
    } else if (status === 401 || status === 407) {
      this.fail({ kind: this.digest ? 'auth-failed' : 'rejected', status, reason: response.reason, response });
    } else {
      this.fail({ kind: status < 400 ? 'redirected' : 'rejected', status, reason: response.reason, response });
    }
  }

  /** RFC 3261 §22.2, §8.1.3.5: the same INVITE again, new CSeq and branch, with credentials. */
  private retryWithCredentials(response: SipResponse): boolean {
    if (!this.digest || this.cancelRequested !== false || this.authAttempts >= MAX_AUTH_ATTEMPTS) return false;
    const status = response.status as 401 | 407;
    const answer = this.digest.respond(status, challengeLines(response), {
      method: 'INVITE',
      uri: this.inviteSent.requestUri,
      body: this.inviteSent.body,
    }, this.digestAttempt);
    if (!answer.retry) return false;
    this.authAttempts++;
    this.digestAttempt = answer.attempt;
    const next = this.nextInvite();
    for (const header of answer.headers) next.addHeader(header.name, header.value);
    this.current = 'calling';
    void this.sendInvite(next);
    return true;
  }

  /**
   * RFC 3261 §8.1.3.4: a 3xx sends the request again to its Contacts, highest q first. Each 3xx
   * followed counts against `maxRedirects` (the hop limit); a Contact already tried, or one
   * that is our own address, is a loop and is not tried (again). The Contacts of the latest 3xx
   * come before those left over from an earlier one.
   */
  private followRedirect(response: SipResponse): boolean {
    if (this.redirects >= (this.options.maxRedirects ?? 0) || this.cancelRequested !== false) return false;
    this.redirects++;
    const uri = this.inviteSent.uri;
    const tried = (this.triedUris ??= uri instanceof SipUri ? [uri] : []);
    const queued = this.redirectTargets ?? [];
    const fresh: SipUri[] = [];
    for (const uri of contactsInQOrder(response)) {
      const known = (other: SipUri): boolean => sameTarget(other, uri);
      if (tried.some(known) || queued.some(known) || fresh.some(known) || this.isOwnAddress(uri)) continue;
      fresh.push(uri);
    }
    this.redirectTargets = [...fresh, ...queued];
    return this.tryNextRedirect();
  }

  /** The next Contact of the 3xx responses followed, if one is left and the call is still wanted. */
  private tryNextRedirect(): boolean {
    if (this.cancelRequested !== false) return false;
    const next = this.redirectTargets?.shift();
    if (next === undefined) return false;
    (this.triedUris ??= []).push(next);
    const invite = this.nextInvite(next.clone());
    this.current = 'calling';
    void this.sendInvite(invite);
    return true;
  }

  /** A URI that would bring the INVITE back to this UA (our Contact's host and port). */
  private isOwnAddress(uri: SipUri): boolean {
    const own = this.options.contact.uri;
    return own instanceof SipUri && own.host.toLowerCase() === uri.host.toLowerCase() && portOf(own) === portOf(uri);
  }

  /** The next INVITE of this session: same Call-ID and From tag, CSeq one higher, no Via or credentials. */
  private nextInvite(requestUri?: SipUri): SipRequest {
    const invite = this.inviteSent;
    return this.buildInvite(invite.cseq.seq + 1, requestUri ?? (invite.uri instanceof SipUri ? invite.uri : undefined));
  }

  private fail(failure: InviteFailure): void {
    if (this.current === 'failed' || this.current === 'ended') return;
    this.current = 'failed';
    this.pendingEarlyOffer = undefined;
    this.transaction = undefined;
    this.clearCancelTimer();
    // An UPDATE of the peer in an early dialog, still unanswered: the dialog is gone (§15.1.2).
    for (const asked of [...(this.unanswered?.values() ?? [])]) this.guard(() => asked.respond(487));
    this.unanswered = undefined;
    this.core.detach(this);
    this.notify('failed', failure);
  }

  // ---- CANCEL, ACK, BYE ---------------------------------------------------------------------

  private sendCancel(): void {
    const transaction = this.transaction;
    if (!transaction || this.cancelSent) return;
    this.cancelSent = true;
    const reason = this.cancelRequested === false ? undefined : this.cancelRequested;
    this.core.transactions.sendCancel(transaction, {
      onResponse: () => undefined,
      onFailure: () => undefined,
    }, reason);
    // §9.1: with no final response 64*T1 after the CANCEL, the INVITE transaction is given up.
    this.cancelTimer = this.core.clock.setTimer(64 * this.core.timers.T1, () =>
      this.guard(() => {
        if (this.current !== 'calling' && this.current !== 'proceeding') return;
        transaction.terminate();
        this.fail({ kind: 'canceled', status: 487, reason: 'Request Terminated' });
      }),
    );
  }

  private clearCancelTimer(): void {
    this.core.clock.cancel(this.cancelTimer);
    this.cancelTimer = undefined;
  }

  private ackThenBye(reason: string | undefined): void {
    const dialog = this.confirmedDialog;
    if (!dialog) return;
    if (this.current !== 'answered') {
      this.sendBye(reason);
      return;
    }
    const response = this.response;
    if (!response) return;
    // RFC 3261 §13.2.2.4: the 2xx is ACKed (with an answer rejecting its offer when we have
    // one; the ACK may go without, as the BYE follows at once), then the session ends.
    const offer = dialog.offerAnswer.state === 'remote-offer';
    const answer = offer ? (this.core.dialogOptions.answerForUnwantedOffer?.(response) ?? {}) : {};
    const { ack, bye } = dialog.ackAndBye(response, answer);
    this.sendAck(ack);
    if (reason !== undefined) bye.request.addHeader('reason', reason);
    this.end({ cause: 'local-bye' });
    void this.sendNonInvite(bye, (response) => byeAnswered(dialog, response), true);
  }

  private sendBye(reason: string | undefined, cause: SessionEndCause = 'local-bye'): void {
    const dialog = this.confirmedDialog;
    if (!dialog || this.current === 'ended' || this.current === 'failed') return;
    const headers: [string, string][] = reason === undefined ? [] : [['reason', reason]];
    const bye = dialog.createRequest('BYE', { headers });
    this.end({ cause });
    void this.sendNonInvite(bye, (response) => byeAnswered(dialog, response), true);
  }

  private byeLostDialog(dialog: SessionDialog, status: 408): void {
    const bye = dialog.createByeAfterLoss([['reason', `SIP;cause=${status};text="Request Timeout"`]]);
    this.end({ cause: 'dialog-lost', status });
    void this.sendNonInvite(bye, (response) => byeAnswered(dialog, response), true);
  }

  private sendAck(ack: OutgoingRequest): void {
    // The dialog hands back the same ACK for every retransmitted 2xx: its Via is added once.
    if (!ack.request.hasHeader('via')) {
      this.resolveOnce(ack.nextHop).then(
        (destination) => {
          if (!ack.request.hasHeader('via')) ack.request.prependHeader('via', this.core.transactions.createVia(destination.transport));
          this.noteAckDestination(ack, destination);
          return this.core.transactions.sendStateless(ack.request, destination);
        },
        (error: unknown) => this.core.reportError(error),
      ).catch((error: unknown) => this.core.reportError(error));
      return;
    }
    const destination = this.ackDestinations?.get(ack);
    if (destination) {
      this.core.transactions.sendStateless(ack.request, destination).catch((error: unknown) => this.core.reportError(error));
      return;
    }
    // Settled meanwhile: where it went was forgotten, so it is located again.
    this.resolveOnce(ack.nextHop).then(
      (again) => this.core.transactions.sendStateless(ack.request, again),
      (error: unknown) => this.core.reportError(error),
    ).catch((error: unknown) => this.core.reportError(error));
  }

  private noteAckDestination(ack: OutgoingRequest, destination: Destination): void {
    (this.ackDestinations ??= new WeakMap()).set(ack, destination);
  }

  private async resolveOnce(uri: SipUri): Promise<Destination> {
    const destinations = await this.core.resolve(uri);
    const first = destinations[0];
    if (!first) throw new Error(`no destination for ${uri.toString()}`);
    return first;
  }

  /**
   * An in-dialog non-INVITE request in its own transaction; `onFinal` gets the final response or
   * a synthesised 408/503. A BYE challenged with 401/407 is sent again with credentials.
   */
  private async sendNonInvite(outgoing: OutgoingRequest, onFinal: (response: SipResponse) => void, authRetry = false, attempt = 0): Promise<void> {
    const request = outgoing.request;
    let destination: Destination;
    try {
      destination = await this.resolveOnce(outgoing.nextHop);
    } catch (error) {
      this.core.reportError(error);
      onFinal(createResponse(request, 503, 'Service Unavailable'));
      return;
    }
    // The transaction outlives the exchange (Timer K): what the callback holds goes once it is called.
    const exchange: Exchange = { pending: onFinal };
    this.core.transactions.sendRequest(
      request,
      destination,
      transactionUser(
        (response) =>
          this.guard(() => {
            if (response.status < 200 || exchange.pending === undefined) return;
            if (authRetry && (response.status === 401 || response.status === 407) && attempt < MAX_AUTH_ATTEMPTS) {
              const retried = this.withCredentials(request, response);
              if (retried) {
                const callback = exchange.pending;
                exchange.pending = undefined;
                void this.sendNonInvite({ request: retried, nextHop: outgoing.nextHop }, callback, authRetry, attempt + 1);
                return;
              }
            }
            finishExchange(exchange, response);
          }),
        (failure) => this.guard(() => finishExchange(exchange, createResponse(request, failure.kind === 'timeout' ? 408 : 503))),
      ),
    );
  }

  /** A copy of `request` with CSeq one higher and credentials for the challenge, or undefined. */
  private withCredentials(request: SipRequest, response: SipResponse): SipRequest | undefined {
    if (!this.digest) return undefined;
    const status = response.status as 401 | 407;
    const answer = this.digest.respond(status, challengeLines(response), { method: request.method, uri: request.requestUri, body: request.body });
    if (!answer.retry) return undefined;
    const copy = request.clone();
    copy.removeHeader('via').removeHeader('authorization').removeHeader('proxy-authorization');
    copy.setHeader('cseq', `${request.cseq.seq + 1} ${request.method}`);
    for (const header of answer.headers) copy.addHeader(header.name, header.value);
    return copy;
  }

  private async sendReinvite(dialog: SessionDialog, outgoing: OutgoingRequest, onFinal: (response: SipResponse) => void): Promise<void> {
    const request = outgoing.request;
    let destination: Destination;
    try {
      destination = await this.resolveOnce(outgoing.nextHop);
    } catch (error) {
      this.core.reportError(error);
      const failed = createResponse(request, 503, 'Service Unavailable');
      this.dialogResponse(dialog, failed);
      onFinal(failed);
      return;
    }
    // The transaction outlives the exchange (Timer M): what the callback holds goes once it is
    // called (a promise of reinvite() would keep the response it resolved with).
    // The transaction outlives the exchange (Timer M): what the callback holds goes once it is
    // called (a promise of reinvite() would keep the response it resolved with).
    const exchange: Exchange = { pending: onFinal };
    this.core.transactions.sendInvite(
      request,
      destination,
      transactionUser(
        (response) =>
          this.guard(() => {
            const outcome = this.dialogResponse(dialog, response);
            if (outcome === 'retransmission' || response.status < 200 || exchange.pending === undefined) return;
            if (response.status < 300) {
              if (carriesSessionDescription(response)) this.lastRemote = response.body.toString('utf8');
              // With our offer in the re-INVITE the 2xx holds the answer: ACK at once. Without,
              // it holds an offer and the application ACKs with its answer.
              if (carriesSessionDescription(request) || !carriesSessionDescription(response)) this.sendAck(dialog.createAck());
            }
            finishExchange(exchange, response);
          }),
        (failure) =>
          this.guard(() => {
            if (exchange.pending === undefined) return;
            const synthetic = createResponse(request, failure.kind === 'timeout' ? 408 : 503);
            this.dialogResponse(dialog, synthetic);
            finishExchange(exchange, synthetic);
          }),
      ),
    );
  }

  /** Passes a response to the dialog; 408/481 end the session (RFC 3261 §12.2.1.2). */
  private dialogResponse(dialog: SessionDialog, response: SipResponse): string {
    const outcome = dialog.receiveResponse(response);
    if (outcome.kind === 'retransmission') {
      if (outcome.ack) this.sendAck(outcome.ack);
      return 'retransmission';
    }
    if (outcome.kind === 'terminated' && (this.current === 'confirmed' || this.current === 'answered')) {
      // RFC 3261 §12.2.1.2, §14.1: a 408 (a proxy's or the peer's) or no response at all ends the
      // dialog on our side, but the peer may still hold it: a BYE tells it. A 481 says it has none.
      if (outcome.status === 481) this.end({ cause: 'dialog-lost', status: outcome.status });
      else this.byeLostDialog(dialog, 408);
    }
    // RFC 4028 §10: a 2xx to our re-INVITE or UPDATE refreshed the session: its timer starts again.
    if (outcome.kind === 'success' && (response.cseq.method === 'INVITE' || response.cseq.method === 'UPDATE')) this.scheduleSessionTimer();
    return outcome.kind;
  }

  // ---- requests from the peer ---------------------------------------------------------------

  receiveRequest(request: SipRequest, transaction: ServerTransaction): void {
    const confirmed = this.confirmedDialog;
    // An early dialog attached here may be another fork's, ended by the 2xx: it is not this one.
    const dialog = confirmed !== undefined ? (confirmed.remoteTag === (request.from.tag ?? '') ? confirmed : undefined) : this.earlyDialogOf(request);
    if (!dialog) {
      transaction.respond(createResponse(request, 481));
      return;
    }
    if (dialog.state === 'early' && request.method !== 'UPDATE' && request.method !== 'INFO' && request.method !== 'OPTIONS') {
      // RFC 3261 §15, §14: before the 2xx the callee may not BYE nor re-INVITE; UPDATE (RFC 3311
      // §5.2) and the odd INFO are what an early dialog carries.
      transaction.respond(dialog.createResponse(request, request.method === 'BYE' ? 481 : 403));
      return;
    }
    const verdict = dialog.receiveRequest(request);
    if (verdict.kind === 'reject') {
      transaction.respond(verdict.response);
      return;
    }
    if (verdict.kind === 'ignore') return;
    switch (request.method) {
      case 'BYE': {
        transaction.respond(dialog.createResponse(request, 200));
        const ending: SessionEnding = { cause: 'remote-bye', request };
        const reason = request.header('reason');
        if (reason !== undefined) ending.reason = reason;
        this.end(ending);
        return;
      }
      case 'INVITE':
        this.incoming('reinvite', request, transaction, dialog, () => 488);
        return;
      case 'UPDATE':
        this.incoming('update', request, transaction, dialog, (asked) => (asked.description === undefined ? 200 : 488));
        return;
      case 'PRACK':
        transaction.respond(dialog.createResponse(request, 200));
        return;
      default:
        this.incoming('request', request, transaction, dialog, () => (request.method === 'REFER' ? 603 : 200));
        return;
    }
  }

  private incoming(
    event: 'reinvite' | 'update' | 'request',
    request: SipRequest,
    transaction: ServerTransaction,
    dialog: SessionDialog,
    unheard: (asked: IncomingDialogRequest) => number,
  ): void {
    if (carriesSessionDescription(request)) this.lastRemote = request.body.toString('utf8');
    const asked = new IncomingDialogRequest(request, (status, options) => {
      if (status >= 200) this.unanswered?.delete(transaction);
      const response = dialog.createResponse(request, status, options);
      if (options.body !== undefined && status >= 200 && status < 300) this.lastLocal = options;
      transaction.respond(response);
      if (request.method === 'INVITE' && status >= 200 && status < 300) this.await2xxAck(response, transaction);
      if (status >= 200 && status < 300 && (request.method === 'INVITE' || request.method === 'UPDATE')) this.scheduleSessionTimer();
    });
    (this.unanswered ??= new Map()).set(transaction, asked);
    if (!this.hears(event)) {
      asked.respond(unheard(asked));
      return;
    }
    try {
      this.notify(event, asked);
    } catch (error) {
      // A listener that threw without answering: the request still gets a final response.
      asked.respond(500);
      throw error;
    }
  }

  /** The early dialog a request of the peer belongs to, before any 2xx. */
  private earlyDialogOf(request: SipRequest): SessionDialog | undefined {
    const early = this.reliableEarlyDialog?.dialog;
    if (early === undefined || early.state !== 'early' || (request.from.tag ?? '') !== early.remoteTag) return undefined;
    return early;
  }

  receiveCancel(invite: ServerTransaction): void {
    const asked = this.unanswered?.get(invite);
    this.unanswered?.delete(invite);
    if (asked && !asked.isAnswered) asked.respond(487);
  }

  /** RFC 3261 §13.3.1.4: our 2xx to a re-INVITE goes again until its ACK arrives. */
  private await2xxAck(response: SipResponse, transaction: ServerTransaction): void {
    let reliable = false;
    try {
      reliable = transaction.request.topVia.transport.toUpperCase() !== 'UDP';
    } catch {
      // unreadable Via: treat as unreliable
    }
    const cseq = response.cseq.seq;
    const retransmission = new Invite2xxRetransmission(
      this.core.clock,
      this.core.timers,
      reliable,
      () => transaction.respond(response),
      () =>
        this.guard(() => {
          this.retransmissions?.delete(cseq);
          if (this.current === 'confirmed') this.sendBye('SIP;cause=408;text="ACK not received"', 'ack-timeout');
        }),
    );
    this.retransmissions ??= new Map();
    this.retransmissions.get(cseq)?.stop();
    this.retransmissions.set(cseq, retransmission);
  }

  receiveAck(ack: SipRequest): void {
    const dialog = this.confirmedDialog;
    if (!dialog || dialog.remoteTag !== (ack.from.tag ?? '')) return;
    const verdict = dialog.receiveRequest(ack);
    this.retransmissions?.get(ack.cseq.seq)?.acknowledged();
    this.retransmissions?.delete(ack.cseq.seq);
    if (verdict.kind !== 'accept') return;
    if (carriesSessionDescription(ack)) this.lastRemote = ack.body.toString('utf8');
    this.notify('ack', ack);
  }

  /**
   * Past Timer M no 2xx to the INVITE can come any more (RFC 6026 §8.4): the wire bytes of the
   * final response (`response` is then undefined), the INVITE's dialog sets and the early
   * dialogs of other forks go; the session keeps its confirmed dialog and descriptions.
   */
  private settle(): void {
    this.settleTimer = undefined;
    // (Still awaiting the application's ACK, the 2xx is needed to build it.)
    if (this.current !== 'answered') {
      this.finalResponseBytes = undefined;
      this.finalResponseRef = undefined;
    }
    for (const set of this.createdSets ?? []) {
      for (const dialog of set.dialogs) if (dialog !== this.confirmedDialog) this.core.registry.remove(dialog);
      this.core.registry.removeInviteSet(set);
    }
    this.createdSets = undefined;
    this.dialogSet = undefined;
    this.dialogSetOptions = undefined;
    // (The ACK of a re-INVITE finds its way again: see sendAck.)
    this.ackDestinations = undefined;
    if (this.current !== 'answered') this.invite = undefined;
  }

  receiveStrayResponse(response: SipResponse): void {
    // A 2xx to our INVITE after its transaction ended (RFC 6026 §8.4: past Timer M): ACK it again.
    if (response.cseq.method !== 'INVITE' || response.status < 200 || response.status >= 300) return;
    const dialog = this.core.registry.find(response);
    if (dialog) this.dialogResponse(dialog, response);
  }

  // ---- endings ------------------------------------------------------------------------------

  private end(ending: SessionEnding): void {
    if (this.current === 'ended' || this.current === 'failed') return;
    this.current = 'ended';
    this.pendingEarlyOffer = undefined;
    this.core.clock.cancel(this.sessionTimer);
    this.core.clock.cancel(this.settleTimer);
    this.settleTimer = undefined;
    this.clearCancelTimer();
    for (const retransmission of this.retransmissions?.values() ?? []) retransmission.stop();
    this.retransmissions = undefined;
    // RFC 3261 §15.1.2: requests of the peer still unanswered when the session ends get 487.
    for (const asked of [...(this.unanswered?.values() ?? [])]) this.guard(() => asked.respond(487));
    this.unanswered = undefined;
    this.confirmedDialog?.terminate();
    this.core.detach(this);
    this.notify('ended', ending);
  }

  /** RFC 4028 §10: refresh at half the interval when we refresh; BYE before expiry when the peer should. */
  private scheduleSessionTimer(): void {
    this.core.clock.cancel(this.sessionTimer);
    const timer = this.confirmedDialog?.sessionTimer;
    if (!timer || this.current !== 'confirmed') return;
    const now = this.core.clock.now();
    if (timer.refresher === 'local' && timer.refreshAt !== undefined) {
      this.sessionTimer = this.core.clock.setTimer(Math.max(0, timer.refreshAt - now), () => this.guard(() => this.refreshSession()));
    } else {
      this.sessionTimer = this.core.clock.setTimer(Math.max(0, timer.byeAt - now), () =>
        this.guard(() => {
          if (this.current === 'confirmed') this.sendBye('SIP;cause=408;text="Session expired"', 'session-expired');
        }),
      );
    }
  }

  /** A refresh re-INVITE carries the session description last sent, unchanged (RFC 4028 §7.4, RFC 3264 §8). */
  private refreshSession(): void {
    if (this.current !== 'confirmed') return;
    void this.reinvite(this.lastLocal ?? {}).then((response) => {
      if (response.status >= 200 && response.status < 300) this.scheduleSessionTimer();
      else if (this.current === 'confirmed') this.sendBye('SIP;cause=408;text="Session refresh failed"');
    });
  }

  private requireConfirmed(what: string): SessionDialog {
    if (this.current !== 'confirmed' || !this.confirmedDialog) throw new Error(`cannot send ${what}: the session is ${this.current}`);
    return this.confirmedDialog;
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

/** A request's exchange: whom its final response goes to, until it has gone. */
interface Exchange {
  pending: ((response: SipResponse) => void) | undefined;
}

function finishExchange(exchange: Exchange, response: SipResponse): void {
  const callback = exchange.pending;
  exchange.pending = undefined;
  callback?.(response);
}

/** A transaction user from its two callbacks (given as arguments, so that tsx does not name them one by one). */
function transactionUser(onResponse: (response: SipResponse) => void, onFailure: (failure: TransactionFailure) => void): InviteClientTransactionUser {
  return { onResponse, onFailure };
}

/**
 * The final response to a BYE goes to its (ended) dialog, which forgets the request then:
 * an ended session is kept for 64*T1, and with it what its dialog still waits for.
 */
function byeAnswered(dialog: SessionDialog, response: SipResponse): void {
  try {
    dialog.receiveResponse(response);
  } catch (error) {
    // A response the dialog does not take as its own (RFC 2543 peers without tags) changes nothing.
    if (!(error instanceof DialogError)) throw error;
  }
}

function firstHop(request: SipRequest): SipUri {
  const route = request.routes[0];
  const uri = route ? route.uri : request.uri;
  if (!(uri instanceof SipUri)) throw new Error(`cannot send to ${uri.toString()}: not a sip: or sips: URI`);
  return uri;
}

/** The challenges of a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate), one string per header line as the digest client wants them. */
function challengeLines(response: SipResponse): string[] {
  const name = response.status === 407 ? 'proxy-authenticate' : 'www-authenticate';
  return response.headers.filter((field) => field.name === name).map((field) => field.value);
}

/**
 * The SIP Contacts of a 3xx, highest q first (RFC 3261 §8.1.3.4, §20.10); a Contact without q
 * counts as 1.0, as proxies take it (§16.6), and equal q keep their order in the response.
 */
function contactsInQOrder(response: SipResponse): SipUri[] {
  const ranked: { uri: SipUri; q: number }[] = [];
  for (const contact of response.contacts) {
    if (!(contact.uri instanceof SipUri)) continue;
    const text = contact.params.get('q');
    const q = text === undefined || text === null ? 1 : Number(text);
    ranked.push({ uri: contact.uri, q: Number.isFinite(q) && q >= 0 && q <= 1 ? q : 1 });
  }
  return ranked.sort((x, y) => y.q - x.q).map((entry) => entry.uri);
}

function portOf(uri: SipUri): number {
  return uri.port ?? (uri.scheme === 'sips' ? 5061 : 5060);
}

/**
 * Whether two redirect targets are the same for loop detection: equal by RFC 3261 §19.1.4, where
 * an absent port counts as the default one (`sip:carol@host` and `sip:carol@host:5060` reach the
 * same place, though §19.1.4 does not call them equal).
 */
function sameTarget(a: SipUri, b: SipUri): boolean {
  if (portOf(a) !== portOf(b)) return false;
  if (a.port === b.port) return uriEquals(a, b);
  const withPort = (uri: SipUri): SipUri => {
    const copy = uri.clone();
    copy.port = portOf(uri);
    return copy;
  };
  return uriEquals(withPort(a), withPort(b));
}
