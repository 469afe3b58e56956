/**
 * A dialog of an INVITE session (RFC 3261 §12; §13–§15 for what the INVITE usage adds):
 *
 *   UAC: 1xx with a To tag ─▶ early ──2xx to the INVITE──▶ confirmed
 *        2xx ──────────────────────────────────────────▶ confirmed
 *   UAS: created with the INVITE ─▶ early ──our 2xx──▶ confirmed
 *   early ──non-2xx final response to the INVITE (§12.3)──────────▶ terminated
 *   any ──BYE sent (§15.1.1) or received (§15.1.2), 481/408 (§12.2.1.2)──▶ terminated
 *
 * Pure and transport-free: the dialog builds the requests and responses that belong to it and
 * says what a received message means; the UA core passes messages through and owns sockets,
 * transactions and timers. Requests are built without Via: the transaction layer adds it with
 * its branch (RFC 3261 §8.1.1.7), and for the ACK of a 2xx, which is no transaction's, the core
 * adds it once; the dialog hands back that same ACK object for every retransmitted 2xx.
 */
import type { Clock, TimerHandle } from '../clock.js';
import {
  canonicalName,
  createResponse as createBareResponse,
  MAX_CSEQ,
  NameAddr,
  parseNameAddr,
  randomToken,
  SipRequest,
  type SipResponse,
} from '../message/index.js';
import { mediaType } from '../message/message.js';
import { flatString, joinList, ownString } from '../grammar.js';
import { SipUri, type Uri } from '../uri.js';
import type { DialogId } from './dialog-id.js';
import { readSnapshot, type DialogRole, type DialogSnapshot, type DialogState } from './dialog-snapshot.js';
import { DialogError } from './errors.js';
import { carriesSessionDescription, glareRetryDelay, OfferAnswer, retryAfterSeconds } from './offer-answer.js';
import { classifyProvisional, formatRAck, reliableRSeq, type Reliability, type RSeqState } from './reliable-provisional.js';
import { addressRequest } from './request-addressing.js';
import {
  addCapabilities,
  createDialogDoesNotExist,
  createOutOfOrder,
  createRequestPending,
  createRetryLater,
  createSessionIntervalTooSmall,
  DEFAULT_CAPABILITIES,
  type Capabilities,
} from './responses.js';
import {
  answerSessionTimer,
  formatSessionExpires,
  MIN_SE_FLOOR,
  sessionExpiresOf,
  sessionIntervalTooSmall,
  sessionTimerAt,
  sessionTimerFromResponse,
  type SessionTimer,
} from './session-timer.js';

export type { DialogRole, DialogState } from './dialog-snapshot.js';

export interface DialogOptions {
  clock: Clock;
  /** Our Contact. A UAC dialog defaults to the INVITE's; a UAS dialog needs it. */
  localContact?: NameAddr | string;
  /** Allow / Accept / Supported for OPTIONS and INVITE responses and target refresh requests. */
  capabilities?: Capabilities;
  /** RFC 4028: the shortest session interval we accept (at least 90 s). */
  minSE?: number;
  /** RFC 3261 §8.1.1.6: 70 unless told otherwise. */
  maxForwards?: number;
  /** A source of [0, 1) for glare delays, Retry-After and the first local CSeq of a UAS dialog. */
  random?: () => number;
  /**
   * How long an ACK of ours is kept for retransmitted 2xx responses. A UAS retransmits for 64*T1
   * (RFC 3261 §13.3.1.4) of its own T1, which may be longer than ours: the UA core keeps it for
   * 128*T1 (64 s by default). Then it goes, with what it holds: a connected call keeps its
   * dialogs for as long as it lasts.
   */
  ackRetentionMs?: number;
}

export interface BodyOptions {
  body?: Buffer | string;
  /** Defaults to application/sdp where a body is a session description (INVITE, UPDATE, PRACK, ACK). */
  contentType?: string;
}

/** Extra header lines, `[name, value]`; they replace the dialog's own lines of the same name. */
export type ExtraHeaders = ReadonlyArray<readonly [name: string, value: string]>;

export interface RequestOptions extends BodyOptions {
  headers?: ExtraHeaders;
}

export interface ResponseOptions extends BodyOptions {
  reason?: string;
  headers?: ExtraHeaders;
}

export interface OutgoingRequest {
  /** The request, without Via. */
  request: SipRequest;
  /** Where it goes next (RFC 3261 §12.2.1.1, §8.1.2): the first route's URI, else the remote target. The core resolves it (RFC 3263). */
  nextHop: SipUri;
}

/** What a response to one of our requests in this dialog means. */
export type ResponseOutcome =
  /** A 1xx. `new`: a reliable one to PRACK with createPrack(); `retransmission` / `out-of-order`: discard it (RFC 3262 §4). */
  | { kind: 'provisional'; reliability: Reliability }
  /** A first 2xx. For an INVITE, `ackRequired`: send createAck() (with the answer if the 2xx held an offer). */
  | { kind: 'success'; ackRequired: boolean }
  /** A 2xx to an INVITE already answered: re-send `ack` if it was built (RFC 3261 §13.2.2.4). */
  | { kind: 'retransmission'; ack: OutgoingRequest | undefined }
  /** A 491 to our re-INVITE or UPDATE (RFC 3261 §14.1): call scheduleGlareRetry(). */
  | { kind: 'glare' }
  /** A non-2xx final response that leaves the dialog as it was (RFC 3261 §14.1). */
  | { kind: 'failure'; status: number }
  /** The response ended the dialog. */
  | { kind: 'terminated'; status: number }
  /** A response to no request of ours that is pending (a late 1xx, a duplicate final). */
  | { kind: 'ignored' };

/** What to do with a request received in this dialog. */
export type RequestVerdict =
  /** Process it and answer it with createResponse() (an ACK is never answered). */
  | { kind: 'accept' }
  /** Send `response` and do nothing else. */
  | { kind: 'reject'; response: SipResponse }
  /** Drop it: an ACK that matches nothing pending. */
  | { kind: 'ignore' };

/** Methods whose requests and reliable responses carry offers and answers. */
const SESSION_METHODS = new Set(['INVITE', 'UPDATE', 'PRACK']);
/** Requests that carry our Contact: target refresh requests (RFC 3261 §12.2.1.1, RFC 3311 §5.1, RFC 6665 §4.1) and REFER (RFC 3515 §2.4). */
const CONTACT_METHODS = new Set(['INVITE', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'REFER']);
/** Header fields the dialog alone writes. */
const DIALOG_HEADERS = new Set(['call-id', 'cseq', 'from', 'to', 'route', 'via']);
/** How many answered INVITEs keep their ACK for 2xx retransmissions. */
const ANSWERED_INVITES_KEPT = 4;

interface AnsweredInvite {
  /** Until its ACK is built, which copies its credentials (then the INVITE is not needed any more). */
  invite: SipRequest | undefined;
  ack: OutgoingRequest | undefined;
  /** When the ACK was built: it is forgotten ackRetentionMs later. */
  ackBuiltAt: number;
}

interface DialogFields {
  role: DialogRole;
  state: DialogState;
  id: DialogId;
  local: NameAddr;
  remote: NameAddr;
  localContact: NameAddr;
  remoteTarget: SipUri;
  routeSet: NameAddr[];
  localCSeq: number | undefined;
  remoteCSeq: number | undefined;
  secure: boolean;
  initialInviteCSeq: number | undefined;
}

export class SessionDialog {
  readonly id: DialogId;
  /** `uac`: we sent the dialog-creating INVITE, so we own the Call-ID (RFC 3261 §14.1). */
  readonly role: DialogRole;
  /** RFC 3261 §12.1.1, §12.1.2: requests were sent over TLS to a sips: Request-URI. */
  readonly secure: boolean;
  /** Offer/answer and INVITE-in-progress bookkeeping; read it, the dialog writes it. */
  readonly offerAnswer = new OfferAnswer();

  private currentState: DialogState;
  private readonly local: NameAddr;
  private readonly remote: NameAddr;
  private contact: NameAddr;
  private target: SipUri;
  private routes: NameAddr[];
  private localSeq: number | undefined;
  private remoteSeq: number | undefined;
  private readonly initialInviteCSeq: number | undefined;
  private timer: SessionTimer | undefined;
  private rseq: RSeqState | undefined;
  private glareTimer: TimerHandle | undefined;
  private ackReleaseTimer: TimerHandle | undefined;
  /** Our requests awaiting a final response, by CSeq number (each of ours has its own; the method is checked on the way out). */
  private pending: Map<number, SipRequest> | undefined;
  /** Our INVITEs that received a 2xx, by CSeq number, with their ACK once built. */
  private answeredInvites: Map<number, AnsweredInvite> | undefined;
  // (Both maps exist only while they hold something: a connected call keeps its dialogs for as
  // long as it lasts, mostly with neither.)

  private readonly clock: Clock;
  private readonly capabilities: Capabilities;
  private readonly minSE: number;
  private readonly maxForwards: number;
  private readonly random: () => number;
  private readonly ackRetentionMs: number;

  private constructor(options: DialogOptions, fields: DialogFields) {
    this.clock = options.clock;
    this.capabilities = options.capabilities ?? DEFAULT_CAPABILITIES;
    this.minSE = Math.max(options.minSE ?? MIN_SE_FLOOR, MIN_SE_FLOOR);
    this.maxForwards = options.maxForwards ?? 70;
    this.random = options.random ?? Math.random;
    this.ackRetentionMs = options.ackRetentionMs ?? 64_000;
    this.role = fields.role;
    this.currentState = fields.state;
    this.id = fields.id;
    this.local = fields.local;
    this.remote = fields.remote;
    this.contact = fields.localContact;
    this.target = fields.remoteTarget;
    this.routes = fields.routeSet;
    this.localSeq = fields.localCSeq;
    this.remoteSeq = fields.remoteCSeq;
    this.secure = fields.secure;
    this.initialInviteCSeq = fields.initialInviteCSeq;
  }

  // ---- creation -----------------------------------------------------------------------------

  /**
   * The UAC dialog a 1xx-with-To-tag or 2xx to our INVITE creates (RFC 3261 §12.1.2): route set
   * = Record-Route reversed, remote target = Contact, local CSeq = the INVITE's, remote CSeq
   * empty. The response is then processed as by receiveResponse(), whose outcome is returned.
   * For forked INVITEs use InviteDialogSet, which calls this once per To tag.
   */
  static uac(invite: SipRequest, response: SipResponse, options: DialogOptions): { dialog: SessionDialog; outcome: ResponseOutcome } {
    if (invite.method !== 'INVITE') throw new DialogError('BAD_METHOD', `a dialog is created by an INVITE, not ${invite.method}`);
    if (response.callId !== invite.callId || response.cseq.method !== 'INVITE' || response.cseq.seq !== invite.cseq.seq) {
      throw new DialogError('NOT_IN_DIALOG', 'the response does not answer this INVITE');
    }
    const remoteTag = response.to.tag;
    if (response.status <= 100 || response.status >= 300 || (response.status < 200 && remoteTag === undefined)) {
      throw new DialogError('NOT_DIALOG_CREATING', `a ${response.status}${remoteTag === undefined ? ' without To tag' : ''} creates no dialog (RFC 3261 §12.1)`);
    }
    const localTag = invite.from.tag;
    if (localTag === undefined) throw new DialogError('NOT_DIALOG_CREATING', 'the INVITE has no From tag (RFC 3261 §8.1.1.3)');
    const localContact = options.localContact ?? invite.contacts[0];
    if (localContact === undefined) throw new DialogError('MISSING_HEADER', 'no local Contact: the INVITE has none and none was given');
    const requestUri = invite.uri;
    const fallback = requestUri instanceof SipUri ? requestUri : undefined;
    const dialog = new SessionDialog(options, {
      role: 'uac',
      state: 'early',
      // The tag is cut from the text of the response, which it would otherwise keep alive.
      id: { callId: invite.callId, localTag, remoteTag: ownString(remoteTag ?? '') },
      local: identity(invite.from),
      remote: identity(invite.to),
      localContact: toNameAddr(localContact),
      // RFC 3261 §12.1.2. A 1xx without Contact (seen in the wild) leaves the Request-URI as the target until the 2xx brings one.
      remoteTarget: targetOf(response, fallback),
      routeSet: routeSetOf(response, true),
      localCSeq: invite.cseq.seq,
      remoteCSeq: undefined,
      secure: requestUri instanceof SipUri && requestUri.secure,
      initialInviteCSeq: invite.cseq.seq,
    });
    const offerInRequest = carriesSessionDescription(invite);
    (dialog.pending ??= new Map()).set(invite.cseq.seq, invite);
    dialog.offerAnswer.outgoingInvite = { cseq: invite.cseq.seq, phase: 'proceeding', offerInRequest, responseDescriptionSeen: false };
    if (offerInRequest) dialog.offerAnswer.sendDescription(invite.cseq.seq, 'INVITE');
    return { dialog, outcome: dialog.receiveResponse(response) };
  }

  /**
   * The UAS dialog of an INVITE we answer (RFC 3261 §12.1.1): route set = Record-Route in
   * order, remote target = Contact, remote CSeq = the INVITE's, local CSeq empty. It starts
   * `early`; answer the INVITE with createResponse(), which adds our tag, Contact and the
   * Record-Route, and moves it to `confirmed` (2xx) or `terminated` (failure).
   */
  static uas(invite: SipRequest, options: DialogOptions & { localTag?: string }): SessionDialog {
    if (invite.method !== 'INVITE') throw new DialogError('BAD_METHOD', `a dialog is created by an INVITE, not ${invite.method}`);
    if (invite.to.tag !== undefined) throw new DialogError('NOT_DIALOG_CREATING', 'an INVITE with a To tag belongs to an existing dialog');
    if (options.localContact === undefined) throw new DialogError('MISSING_HEADER', 'a UAS dialog needs our Contact');
    const requestUri = invite.uri;
    const dialog = new SessionDialog(options, {
      role: 'uas',
      state: 'early',
      id: { callId: ownString(invite.callId), localTag: options.localTag ?? randomToken(), remoteTag: ownString(invite.from.tag ?? '') },
      local: identity(invite.to),
      remote: identity(invite.from),
      localContact: toNameAddr(options.localContact),
      remoteTarget: targetOf(invite, undefined),
      routeSet: routeSetOf(invite, false),
      localCSeq: undefined,
      remoteCSeq: invite.cseq.seq,
      secure: requestUri instanceof SipUri && requestUri.secure,
      initialInviteCSeq: invite.cseq.seq,
    });
    const offerInRequest = carriesSessionDescription(invite);
    dialog.offerAnswer.incomingInvite = { cseq: invite.cseq.seq, phase: 'proceeding', offerInRequest, responseDescriptionSeen: false };
    if (offerInRequest) dialog.offerAnswer.receiveDescription(invite.cseq.seq, 'INVITE');
    return dialog;
  }

  /**
   * Rebuilds a dialog from toJSON()'s snapshot, in another process if need be. Only dialog
   * state survives: no request is pending, no offer outstanding, no session timer running.
   */
  static fromSnapshot(snapshot: DialogSnapshot, options: DialogOptions): SessionDialog {
    const fields = readSnapshot(snapshot);
    return new SessionDialog(options, {
      role: fields.role,
      state: fields.state,
      id: { callId: fields.callId, localTag: fields.localTag, remoteTag: fields.remoteTag },
      local: fields.local,
      remote: fields.remote,
      localContact: fields.localContact,
      remoteTarget: fields.remoteTarget,
      routeSet: fields.routeSet,
      localCSeq: fields.localCSeq,
      remoteCSeq: fields.remoteCSeq,
      secure: fields.secure,
      initialInviteCSeq: undefined,
    });
  }

  toJSON(): DialogSnapshot {
    return {
      version: 1,
      role: this.role,
      state: this.currentState,
      callId: this.id.callId,
      localTag: this.id.localTag,
      remoteTag: this.id.remoteTag,
      localUri: this.local.uri.toString(),
      localDisplayName: this.local.displayName ?? null,
      remoteUri: this.remote.uri.toString(),
      remoteDisplayName: this.remote.displayName ?? null,
      localCSeq: this.localSeq ?? null,
      remoteCSeq: this.remoteSeq ?? null,
      routeSet: this.routes.map((route) => route.toString()),
      remoteTarget: this.target.toString(),
      localContact: this.contact.toString(),
      secure: this.secure,
    };
  }

  // ---- state --------------------------------------------------------------------------------

  get state(): DialogState {
    return this.currentState;
  }
  get callId(): string {
    return this.id.callId;
  }
  get localTag(): string {
    return this.id.localTag;
  }
  get remoteTag(): string {
    return this.id.remoteTag;
  }
  get localUri(): Uri {
    return this.local.uri;
  }
  get remoteUri(): Uri {
    return this.remote.uri;
  }
  get localCSeq(): number | undefined {
    return this.localSeq;
  }
  get remoteCSeq(): number | undefined {
    return this.remoteSeq;
  }
  get routeSet(): readonly NameAddr[] {
    return this.routes;
  }
  get remoteTarget(): SipUri {
    return this.target;
  }
  get localContact(): NameAddr {
    return this.contact;
  }
  /** The negotiated session timer (RFC 4028), replaced by every 2xx to an INVITE or UPDATE. */
  get sessionTimer(): SessionTimer | undefined {
    return this.timer;
  }
  /** Whether a glare retry timer is running. */
  get glareRetryPending(): boolean {
    return this.glareTimer !== undefined;
  }

  /** Ends the dialog here (after a BYE, a session expiry, a failed ACK). Idempotent. */
  terminate(): void {
    this.currentState = 'terminated';
    this.cancelGlareRetry();
    if (this.ackReleaseTimer !== undefined) this.clock.cancel(this.ackReleaseTimer);
    this.ackReleaseTimer = undefined;
  }

  /** Changes our Contact for later target refresh requests and 2xx responses. */
  setLocalContact(contact: NameAddr | string): void {
    this.contact = toNameAddr(contact);
  }

  // ---- requests we send ---------------------------------------------------------------------

  /**
   * An in-dialog request (RFC 3261 §12.2.1.1): Request-URI and Route from the remote target and
   * route set, From/To with the tags, Call-ID, the next local CSeq, our Contact on target refresh
   * requests. ACK has createAck(), PRACK createPrack(); CANCEL belongs to the INVITE transaction
   * (§9.1). Sending BYE ends the dialog at once (§15.1.1).
   */
  createRequest(method: string, options: RequestOptions = {}): OutgoingRequest {
    if (method === 'ACK') throw new DialogError('BAD_METHOD', 'use createAck() for the ACK of a 2xx');
    if (method === 'CANCEL') throw new DialogError('BAD_METHOD', 'CANCEL is built from the INVITE by the transaction user (RFC 3261 §9.1)');
    if (!/^[A-Za-z0-9\-.!%*_+`'~]+$/.test(method)) throw new DialogError('BAD_METHOD', `invalid method ${JSON.stringify(method)}`);
    if (this.currentState === 'terminated') throw new DialogError('DIALOG_TERMINATED', `cannot send ${method}: the dialog is terminated`);
    const headers = options.headers ?? [];
    if (method === 'PRACK' && !hasExtra(headers, 'rack')) throw new DialogError('MISSING_HEADER', 'use createPrack(): a PRACK needs RAck (RFC 3262 §7.2)');
    if (method === 'REFER' && !hasExtra(headers, 'refer-to')) throw new DialogError('MISSING_HEADER', 'a REFER needs Refer-To (RFC 3515 §2.4.1)');
    if (method === 'NOTIFY' && (!hasExtra(headers, 'event') || !hasExtra(headers, 'subscription-state'))) {
      throw new DialogError('MISSING_HEADER', 'a NOTIFY needs Event and Subscription-State (RFC 6665 §8.2.1)');
    }
    // RFC 3261 §15: the callee must not send BYE on an early dialog.
    if (method === 'BYE' && this.role === 'uas' && this.currentState === 'early') {
      throw new DialogError('BYE_ON_EARLY_DIALOG', 'the callee may not send BYE on an early dialog (RFC 3261 §15)');
    }
    // RFC 3261 §14.1: no INVITE while another is in progress in either direction.
    if (method === 'INVITE' && !this.offerAnswer.canSendInvite()) {
      throw new DialogError('INVITE_IN_PROGRESS', 'an INVITE is in progress on this dialog (RFC 3261 §14.1)');
    }
    const body = toBuffer(options.body);
    const contentType = contentTypeFor(method, body, options.contentType);
    const describes = SESSION_METHODS.has(method) && body.length > 0 && isSessionDescriptionType(contentType, headers);
    if (describes) {
      // RFC 3264 §4: INVITE and UPDATE bodies are always offers, allowed only with no offer
      // outstanding; a PRACK body answers their offer or, with none outstanding, offers.
      const state = this.offerAnswer.state;
      if (state === 'local-offer' || (method !== 'PRACK' && state === 'remote-offer')) {
        throw new DialogError('OFFER_PENDING', `cannot send an offer in ${method}: an offer is outstanding (${state})`);
      }
    }

    const cseq = this.nextLocalCSeq();
    const { request, nextHop } = this.buildRequest(method, cseq, method);
    if (CONTACT_METHODS.has(method)) request.addHeader('contact', this.contact);
    if (method === 'INVITE' || method === 'UPDATE') this.addRefreshHeaders(request);
    applyExtraHeaders(request, headers);
    setBody(request, body, contentType);

    (this.pending ??= new Map()).set(cseq, request);
    if (method === 'INVITE') {
      this.offerAnswer.outgoingInvite = { cseq, phase: 'proceeding', offerInRequest: describes, responseDescriptionSeen: false };
    }
    if (describes) this.offerAnswer.sendDescription(cseq, method);
    if (method === 'BYE') this.terminate();
    return { request, nextHop };
  }

  /**
   * The ACK for the 2xx to our latest INVITE (RFC 3261 §13.2.2.4): CSeq number of the INVITE
   * with method ACK, routed like any in-dialog request, carrying the answer when the 2xx held an
   * offer (late offer). Built once; later calls, and receiveResponse() for a retransmitted 2xx,
   * return the same object, so the Via the core adds to it is kept.
   */
  createAck(options: BodyOptions = {}): OutgoingRequest {
    const invite = this.offerAnswer.outgoingInvite;
    if (invite === undefined || invite.phase !== 'awaiting-ack') {
      const latest = [...(this.answeredInvites?.values() ?? [])].pop();
      if (latest?.ack) return latest.ack;
      throw new DialogError('NOTHING_TO_ACK', 'no 2xx to an INVITE awaits its ACK');
    }
    return this.buildAck(invite.cseq, options, true);
  }

  /**
   * The PRACK for a reliable provisional response (RFC 3262 §7.2: `RAck: rseq cseq method`),
   * which must be the one receiveResponse() last reported as `new`. A body answers an offer in
   * the provisional response or makes a new offer (RFC 3262 §5).
   */
  createPrack(response: SipResponse, options: RequestOptions = {}): OutgoingRequest {
    const rseq = reliableRSeq(response);
    const last = this.rseq;
    if (rseq === undefined || last === undefined || last.rseq !== rseq || last.cseq !== response.cseq.seq) {
      throw new DialogError('NOT_RELIABLE', `${response.status} is not the latest reliable provisional response of this dialog`);
    }
    const rack = formatRAck({ rseq, cseq: response.cseq.seq, method: response.cseq.method });
    return this.createRequest('PRACK', { ...options, headers: [['rack', rack], ...(options.headers ?? [])] });
  }

  /**
   * For a 2xx to the INVITE that we do not want, typically a fork that answered after another
   * one (RFC 3261 §13.2.2.4): the ACK every 2xx needs, then the BYE that ends the dialog. A 2xx
   * holding an offer needs an answer in the ACK; without `ackBody` the ACK goes without one, as
   * the BYE follows at once.
   */
  ackAndBye(response: SipResponse, ackBody: BodyOptions = {}): { ack: OutgoingRequest; bye: OutgoingRequest } {
    const { seq, method } = response.cseq;
    if (method !== 'INVITE' || response.status < 200 || response.status >= 300) {
      throw new DialogError('NOTHING_TO_ACK', 'only a 2xx to an INVITE is acknowledged this way');
    }
    if (!this.answeredInvites?.has(seq)) {
      const invite = this.pendingRequest(seq, 'INVITE');
      if (invite === undefined) throw new DialogError('NOT_IN_DIALOG', 'the 2xx answers no INVITE of this dialog');
      this.forgetPending(seq);
      this.acceptInvite2xx(invite, response);
    }
    const ack = this.buildAck(seq, ackBody, false);
    const cseq = this.nextLocalCSeq();
    const bye = this.buildRequest('BYE', cseq, 'BYE');
    (this.pending ??= new Map()).set(cseq, bye.request);
    this.terminate();
    return { ack, bye };
  }

  /**
   * The BYE for a dialog our side gave up because a request in it timed out or got 408 (RFC 3261
   * §12.2.1.2, §14.1): the dialog is already terminated here, but the peer may still hold it, and
   * only a BYE tells it. Built even on a terminated dialog (not after 481: the peer has none).
   */
  createByeAfterLoss(headers: ExtraHeaders = []): OutgoingRequest {
    const cseq = this.nextLocalCSeq();
    const bye = this.buildRequest('BYE', cseq, 'BYE');
    applyExtraHeaders(bye.request, headers);
    (this.pending ??= new Map()).set(cseq, bye.request);
    this.terminate();
    return bye;
  }

  /**
   * RFC 3261 §14.1: after a 491, retry once a random delay has passed (2.1–4 s if we own the
   * Call-ID, else 0–2 s). `retry` runs then, unless the dialog has ended; it re-sends with
   * createRequest(). Returns the delay in milliseconds.
   */
  scheduleGlareRetry(retry: () => void): number {
    this.cancelGlareRetry();
    const delay = glareRetryDelay(this.role === 'uac', this.random);
    this.glareTimer = this.clock.setTimer(delay, () => {
      this.glareTimer = undefined;
      if (this.currentState !== 'terminated') retry();
    });
    return delay;
  }

  cancelGlareRetry(): void {
    if (this.glareTimer !== undefined) this.clock.cancel(this.glareTimer);
    this.glareTimer = undefined;
  }

  // ---- responses we receive -----------------------------------------------------------------

  /**
   * A response to a request we sent in this dialog, including the INVITE that created it.
   * Pass every final response, including those the transaction layer synthesises (408 on
   * timeout), so that pending requests are forgotten.
   */
  receiveResponse(response: SipResponse): ResponseOutcome {
    if (response.callId !== this.id.callId || response.from.tag !== this.id.localTag || (response.to.tag ?? '') !== this.id.remoteTag) {
      throw new DialogError('NOT_IN_DIALOG', 'the response belongs to another dialog');
    }
    const { seq, method } = response.cseq;
    const status = response.status;
    if (method === 'INVITE' && status >= 200 && status < 300) {
      const answered = this.answeredInvites?.get(seq);
      if (answered) return { kind: 'retransmission', ack: answered.ack };
    }
    const request = this.pendingRequest(seq, method);
    if (request === undefined) return { kind: 'ignored' };
    if (status < 200) return this.receiveProvisional(response);
    this.forgetPending(seq);
    if (status < 300) return this.receiveSuccess(request, response);
    return this.receiveFailure(response);
  }

  private forgetPending(seq: number): void {
    const pending = this.pending;
    if (pending === undefined) return;
    pending.delete(seq);
    if (pending.size === 0) this.pending = undefined;
  }

  /** Our request numbered `seq`, if it is still pending and its method is `method`. */
  private pendingRequest(seq: number, method: string): SipRequest | undefined {
    const request = this.pending?.get(seq);
    return request !== undefined && request.method === method ? request : undefined;
  }

  private receiveProvisional(response: SipResponse): ResponseOutcome {
    if (response.cseq.method !== 'INVITE') return { kind: 'provisional', reliability: 'unreliable' };
    const { reliability, rseq } = classifyProvisional(this.rseq, response);
    if (reliability === 'new') {
      this.rseq = { cseq: response.cseq.seq, rseq: rseq! };
      // RFC 3261 §13.2.1: of the provisional responses only reliable ones carry offers and answers.
      this.receiveInviteResponseDescription(response);
    }
    return { kind: 'provisional', reliability };
  }

  private receiveSuccess(request: SipRequest, response: SipResponse): ResponseOutcome {
    const seq = response.cseq.seq;
    switch (request.method) {
      case 'INVITE':
        this.acceptInvite2xx(request, response);
        return { kind: 'success', ackRequired: true };
      case 'UPDATE':
        // RFC 3311 §5.1: UPDATE is a target refresh request.
        this.refreshTarget(response);
        if (carriesSessionDescription(response) && this.offerAnswer.state === 'local-offer') {
          this.offerAnswer.receiveDescription(seq, 'UPDATE');
        }
        this.timer = sessionTimerFromResponseSafe(request, response, this.clock.now());
        break;
      case 'PRACK':
        // RFC 3262 §5: the 2xx to a PRACK that offered carries the answer.
        if (carriesSessionDescription(response) && this.offerAnswer.state === 'local-offer') {
          this.offerAnswer.receiveDescription(seq, 'PRACK');
        }
        break;
      default:
        break;
    }
    return { kind: 'success', ackRequired: false };
  }

  /** The effects of a first 2xx to one of our INVITEs. */
  private acceptInvite2xx(invite: SipRequest, response: SipResponse): void {
    const seq = response.cseq.seq;
    if (seq === this.initialInviteCSeq && this.role === 'uac') {
      // RFC 3261 §13.2.2.4: the 2xx confirms the early dialog and its route set is recomputed
      // from the 2xx (§12.1.2); once confirmed, the route set never changes (§12.2.1.2).
      if (this.currentState === 'early') this.currentState = 'confirmed';
      this.routes = routeSetOf(response, true);
    }
    // RFC 3261 §12.2.1.2: INVITE is a target refresh request.
    this.refreshTarget(response);
    this.receiveInviteResponseDescription(response);
    const outgoing = this.offerAnswer.outgoingInvite;
    if (outgoing?.cseq === seq) outgoing.phase = 'awaiting-ack';
    if (this.rseq?.cseq === seq) this.rseq = undefined;
    const answeredInvites = (this.answeredInvites ??= new Map());
    answeredInvites.set(seq, { invite, ack: undefined, ackBuiltAt: 0 });
    for (const old of answeredInvites.keys()) {
      if (answeredInvites.size <= ANSWERED_INVITES_KEPT) break;
      answeredInvites.delete(old);
    }
    this.timer = sessionTimerFromResponseSafe(invite, response, this.clock.now());
  }

  /**
   * RFC 3261 §13.2.1: the offer is in the INVITE or else in the first reliable non-failure
   * response, and the answer in the first reliable response after an offered INVITE. Later
   * descriptions in responses to the same INVITE repeat the first one.
   */
  private receiveInviteResponseDescription(response: SipResponse): void {
    const invite = this.offerAnswer.outgoingInvite;
    if (invite === undefined || invite.cseq !== response.cseq.seq || invite.responseDescriptionSeen) return;
    if (!carriesSessionDescription(response)) return;
    invite.responseDescriptionSeen = true;
    this.offerAnswer.receiveDescription(invite.cseq, 'INVITE');
  }

  private receiveFailure(response: SipResponse): ResponseOutcome {
    const { seq, method } = response.cseq;
    const status = response.status;
    this.offerAnswer.transactionFailed('local', seq, method);
    if (method === 'INVITE') {
      if (this.offerAnswer.outgoingInvite?.cseq === seq) this.offerAnswer.outgoingInvite = undefined;
      if (this.rseq?.cseq === seq) this.rseq = undefined;
      // RFC 3261 §12.3: a non-2xx final response to the dialog-creating INVITE ends its early dialogs.
      if (seq === this.initialInviteCSeq && this.role === 'uac' && this.currentState === 'early') {
        this.terminate();
        return { kind: 'terminated', status };
      }
    }
    // RFC 3261 §12.2.1.2: 481 or 408 to an in-dialog request ends the dialog.
    if (status === 481 || status === 408) {
      this.terminate();
      return { kind: 'terminated', status };
    }
    // RFC 3261 §14.1 (re-INVITE) and RFC 3311 §5.1 (UPDATE): 491 means the requests crossed.
    if (status === 491 && (method === 'INVITE' || method === 'UPDATE')) return { kind: 'glare' };
    return { kind: 'failure', status };
  }

  // ---- requests we receive ------------------------------------------------------------------

  /**
   * A request received in this dialog (found with DialogRegistry): the CSeq check of RFC 3261
   * §12.2.2, the collision rules for re-INVITE and UPDATE (§14.2, RFC 3311 §5.2), the session
   * interval floor (RFC 4028 §9), target refresh, and BYE (§15.1.2).
   */
  receiveRequest(request: SipRequest): RequestVerdict {
    if (request.callId !== this.id.callId || request.to.tag !== this.id.localTag || (request.from.tag ?? '') !== this.id.remoteTag) {
      throw new DialogError('NOT_IN_DIALOG', 'the request belongs to another dialog');
    }
    const method = request.method;
    if (method === 'ACK') return this.receiveAck(request);
    // A CANCEL is matched to its INVITE by the transaction layer (§9.2) and shares its CSeq.
    if (method === 'CANCEL') return { kind: 'accept' };
    if (this.currentState === 'terminated') {
      // Both ends hung up at once: answering the crossing BYE with 200 is harmless.
      if (method === 'BYE') return { kind: 'accept' };
      return { kind: 'reject', response: createDialogDoesNotExist(request) };
    }
    const seq = request.cseq.seq;
    // RFC 3261 §12.2.2: a request numbered below the last is out of order → 500. One numbered
    // the same is no new request either: retransmissions are absorbed by the server
    // transaction, so an equal number reaching the dialog is a stale copy (as in SIP.js, pjsip).
    if (this.remoteSeq !== undefined && seq <= this.remoteSeq) {
      return { kind: 'reject', response: createOutOfOrder(request) };
    }
    this.remoteSeq = seq;
    switch (method) {
      case 'INVITE':
      case 'UPDATE':
        return this.receiveSessionRequest(request);
      case 'PRACK':
        // RFC 3262 §5: a PRACK answers the offer of our reliable provisional response, or offers.
        if (carriesSessionDescription(request) && this.offerAnswer.state !== 'remote-offer') {
          this.offerAnswer.receiveDescription(seq, 'PRACK');
        }
        return { kind: 'accept' };
      case 'BYE':
        // RFC 3261 §15.1.2: the session and the dialog end; the BYE is answered 200.
        this.terminate();
        return { kind: 'accept' };
      default:
        return { kind: 'accept' };
    }
  }

  private receiveSessionRequest(request: SipRequest): RequestVerdict {
    const method = request.method;
    const seq = request.cseq.seq;
    const describes = carriesSessionDescription(request);
    const collision = this.offerAnswer.collision(method, describes);
    if (collision?.status === 491) return { kind: 'reject', response: createRequestPending(request) };
    if (collision?.status === 500) {
      return { kind: 'reject', response: createRetryLater(request, retryAfterSeconds(this.random)) };
    }
    let tooSmall: number | undefined;
    try {
      tooSmall = sessionIntervalTooSmall(request, this.minSE);
    } catch (error) {
      if (!(error instanceof DialogError)) throw error;
      return { kind: 'reject', response: createBareResponse(request, 400, `Bad Request (${error.message})`) };
    }
    if (tooSmall !== undefined) return { kind: 'reject', response: createSessionIntervalTooSmall(request, tooSmall) };
    // RFC 3261 §12.2.2: a target refresh request replaces the remote target with its Contact
    // (re-INVITE, §14.2; UPDATE, RFC 3311 §5.2).
    this.refreshTarget(request);
    if (method === 'INVITE') {
      this.offerAnswer.incomingInvite = { cseq: seq, phase: 'proceeding', offerInRequest: describes, responseDescriptionSeen: false };
    }
    if (describes) this.offerAnswer.receiveDescription(seq, method);
    return { kind: 'accept' };
  }

  private receiveAck(ack: SipRequest): RequestVerdict {
    const incoming = this.offerAnswer.incomingInvite;
    const seq = ack.cseq.seq;
    if (incoming === undefined || incoming.cseq !== seq || incoming.phase !== 'awaiting-ack') return { kind: 'ignore' };
    this.offerAnswer.incomingInvite = undefined;
    // RFC 3261 §13.2.1: when our 2xx carried the offer, the ACK carries the answer.
    const offer = this.offerAnswer.offer;
    if (carriesSessionDescription(ack) && offer?.direction === 'local' && offer.method === 'INVITE' && offer.cseq === seq) {
      this.offerAnswer.receiveDescription(seq, 'ACK');
    }
    return { kind: 'accept' };
  }

  // ---- responses we send --------------------------------------------------------------------

  /**
   * Our response to a request received in this dialog (or to the INVITE of a UAS dialog): the
   * To tag, our Contact on 1xx/2xx to INVITE and 2xx to UPDATE (RFC 3261 §12.1.1, §13.3.1.4;
   * RFC 3311 §5.2), Allow/Accept/Supported on 2xx to OPTIONS (§11.2) and INVITE, the session
   * timer of RFC 4028 §9, the body (an answer or, to an INVITE without offer, an offer).
   */
  createResponse(request: SipRequest, status: number, options: ResponseOptions = {}): SipResponse {
    const method = request.method;
    const seq = request.cseq.seq;
    const success = status >= 200 && status < 300;
    const initial = this.role === 'uas' && method === 'INVITE' && seq === this.initialInviteCSeq && request.to.tag === undefined;
    const response = createBareResponse(request, status, options.reason, this.id.localTag);
    // RFC 3261 §12.1.1: a dialog-creating response copies the Record-Route of the request.
    if (initial && status > 100 && status < 300) {
      for (const value of request.headerValues('record-route')) response.addHeader('record-route', value);
    }
    if ((method === 'INVITE' && status > 100 && status < 300) || (method === 'UPDATE' && success)) {
      response.addHeader('contact', this.contact);
    }
    if (method === 'INVITE' && success) addCapabilities(response, this.capabilities, false);
    if (method === 'OPTIONS' && success) addCapabilities(response, this.capabilities, true);
    let timer: SessionTimer | undefined;
    if ((method === 'INVITE' || method === 'UPDATE') && success) {
      const answer = answerSessionTimerSafe(request);
      if (answer) {
        response.addHeader('session-expires', formatSessionExpires(answer.sessionExpires));
        if (answer.requireTimer) response.addHeader('require', 'timer');
        timer = sessionTimerAt(answer.sessionExpires.interval, answer.sessionExpires.refresher === 'uas' ? 'local' : 'remote', this.clock.now());
      }
    }
    const body = toBuffer(options.body);
    const contentType = contentTypeFor(method, body, options.contentType);
    applyExtraHeaders(response, options.headers ?? []);
    setBody(response, body, contentType);

    if (SESSION_METHODS.has(method)) this.sendingSessionResponse(method, seq, status, response);
    if (method === 'INVITE' && status >= 200) {
      const incoming = this.offerAnswer.incomingInvite;
      if (incoming?.cseq === seq) {
        if (success) incoming.phase = 'awaiting-ack';
        else this.offerAnswer.incomingInvite = undefined;
      }
      if (initial && this.currentState === 'early') {
        if (success) this.currentState = 'confirmed';
        else this.terminate();
      }
    }
    if ((method === 'INVITE' || method === 'UPDATE') && success) this.timer = timer;
    return response;
  }

  private sendingSessionResponse(method: string, seq: number, status: number, response: SipResponse): void {
    if (status >= 300) {
      this.offerAnswer.transactionFailed('remote', seq, method);
      return;
    }
    const reliable = status >= 200 || reliableRSeq(response) !== undefined;
    if (!reliable || !carriesSessionDescription(response)) return;
    if (method === 'INVITE') {
      const incoming = this.offerAnswer.incomingInvite;
      if (incoming === undefined || incoming.cseq !== seq || incoming.responseDescriptionSeen) return;
      incoming.responseDescriptionSeen = true;
      this.offerAnswer.sendDescription(seq, 'INVITE');
      return;
    }
    const offer = this.offerAnswer.offer;
    if (offer?.direction === 'remote' && offer.cseq === seq && offer.method === method) this.offerAnswer.sendDescription(seq, method);
  }

  // ---- building -----------------------------------------------------------------------------

  private nextLocalCSeq(): number {
    // RFC 3261 §12.2.1.1: an empty local sequence number starts anywhere below 2**31 (§8.1.1.5).
    const next = this.localSeq === undefined ? 1 + Math.floor(this.random() * 2 ** 20) : this.localSeq + 1;
    if (next > MAX_CSEQ) throw new DialogError('CSEQ_EXHAUSTED', 'the local CSeq would reach 2**31 (RFC 3261 §8.1.1.5)');
    this.localSeq = next;
    return next;
  }

  /** The headers every in-dialog request has (RFC 3261 §12.2.1.1). */
  private buildRequest(method: string, cseq: number, cseqMethod: string): OutgoingRequest {
    const address = addressRequest(this.target, this.routes);
    const request = new SipRequest(method, address.requestUri);
    request.addHeader('max-forwards', this.maxForwards);
    for (const route of address.routes) request.addHeader('route', route);
    request.addHeader('to', this.id.remoteTag === '' ? this.remote : this.remote.toStringWithTag(this.id.remoteTag));
    request.addHeader('from', this.local.toStringWithTag(this.id.localTag));
    request.addHeader('call-id', this.id.callId);
    request.addHeader('cseq', `${cseq} ${cseqMethod}`);
    return { request, nextHop: address.nextHop };
  }

  private buildAck(seq: number, options: BodyOptions, answerRequired: boolean): OutgoingRequest {
    const answered = this.answeredInvites?.get(seq);
    if (answered === undefined) throw new DialogError('NOTHING_TO_ACK', `no 2xx to INVITE ${seq}`);
    if (answered.ack) return answered.ack;
    const body = toBuffer(options.body);
    const contentType = contentTypeFor('ACK', body, options.contentType);
    const offer = this.offerAnswer.offer;
    const owesAnswer = this.offerAnswer.state === 'remote-offer' && offer?.method === 'INVITE' && offer.cseq === seq;
    const describes = body.length > 0 && isSessionDescriptionType(contentType, []);
    // RFC 3261 §13.2.2.4: a 2xx that carries an offer is acknowledged with the answer.
    if (answerRequired && owesAnswer && !describes) {
      throw new DialogError('ANSWER_REQUIRED', 'the 2xx carried an offer: the ACK must carry the answer (RFC 3261 §13.2.2.4)');
    }
    const ack = this.buildRequest('ACK', seq, 'ACK');
    // RFC 3261 §13.2.2.4: the ACK carries the credentials of the INVITE.
    for (const name of ['authorization', 'proxy-authorization']) {
      for (const value of answered.invite?.headerValues(name) ?? []) ack.request.addHeader(name, value);
    }
    setBody(ack.request, body, contentType);
    if (describes && owesAnswer) this.offerAnswer.sendDescription(seq, 'ACK');
    if (this.offerAnswer.outgoingInvite?.cseq === seq) this.offerAnswer.outgoingInvite = undefined;
    answered.ack = ack;
    answered.invite = undefined;
    answered.ackBuiltAt = this.clock.now();
    if (this.ackReleaseTimer === undefined && this.currentState !== 'terminated') this.scheduleAckRelease(this.ackRetentionMs);
    return ack;
  }

  /** Forgets the ACKs older than ackRetentionMs: no 2xx they answer can come any more. */
  private scheduleAckRelease(delayMs: number): void {
    this.ackReleaseTimer = this.clock.setTimer(delayMs, () => {
      this.ackReleaseTimer = undefined;
      const now = this.clock.now();
      let next = Infinity;
      const answeredInvites = this.answeredInvites;
      if (answeredInvites === undefined) return;
      for (const [seq, answered] of answeredInvites) {
        if (answered.ack === undefined) continue;
        const expiry = answered.ackBuiltAt + this.ackRetentionMs;
        if (expiry <= now) answeredInvites.delete(seq);
        else next = Math.min(next, expiry);
      }
      if (answeredInvites.size === 0) this.answeredInvites = undefined;
      if (next !== Infinity) this.scheduleAckRelease(next - now);
    });
  }

  /** Allow, Supported and the session timer of a re-INVITE or UPDATE (RFC 3261 §13.2.1; RFC 4028 §7.4). */
  private addRefreshHeaders(request: SipRequest): void {
    const { allow, supported } = this.capabilities;
    if (allow.length > 0) request.addHeader('allow', joinList(allow));
    if (supported.length > 0) request.addHeader('supported', joinList(supported));
    const timer = this.timer;
    if (timer) {
      // RFC 4028 §7.4: a refresh keeps the interval and the refresher; as the sender we are `uac`.
      request.addHeader('session-expires', formatSessionExpires({ interval: timer.interval, refresher: timer.refresher === 'local' ? 'uac' : 'uas' }));
      if (this.minSE !== MIN_SE_FLOOR) request.addHeader('min-se', this.minSE);
    }
  }

  /** RFC 3261 §12.2.1.2, §12.2.2: the remote target follows the Contact of a target refresh. */
  private refreshTarget(message: SipRequest | SipResponse): void {
    const contact = message.contacts.find((c) => c.uri instanceof SipUri);
    if (contact) this.target = ownedClone(contact.uri as SipUri);
  }
}

// ---- helpers --------------------------------------------------------------------------------

/**
 * RFC 3261 §12.2.1.1: From and To carry the URIs (and display names) but only the dialog's tags.
 * The URI is checked here and kept as the text it writes: most dialogs never look at it again
 * but to write it in From and To.
 */
function identity(nameAddr: NameAddr): NameAddr {
  return new NameAddr(flatString(nameAddr.uri.toString()), nameAddr.displayName);
}

function toNameAddr(value: NameAddr | string): NameAddr {
  return typeof value === 'string' ? parseNameAddr(value, 'contact') : value;
}

function targetOf(message: SipRequest | SipResponse, fallback: SipUri | undefined): SipUri {
  const contact = message.contacts.find((c) => c.uri instanceof SipUri);
  const target = (contact?.uri as SipUri | undefined) ?? fallback;
  if (target === undefined) throw new DialogError('NO_REMOTE_TARGET', 'no Contact with a sip: or sips: URI to send in-dialog requests to');
  return ownedClone(target);
}

/**
 * A copy of a URI whose text is its own: the parts of a parsed URI are cut from the text of the
 * message, which the dialog would otherwise keep alive for as long as it lasts.
 */
function ownedClone(uri: SipUri): SipUri {
  let params: Map<string, string | null> | undefined;
  for (const [name, value] of uri.paramsView) (params ??= new Map()).set(ownString(name), value === null ? null : ownString(value));
  let headers: Map<string, string> | undefined;
  for (const [name, value] of uri.headersView) (headers ??= new Map()).set(ownString(name), ownString(value));
  const user = uri.user === undefined ? undefined : ownString(uri.user);
  const password = uri.password === undefined ? undefined : ownString(uri.password);
  return new SipUri({ scheme: uri.scheme, user, password, host: ownString(uri.host), port: uri.port, params, headers });
}

/** RFC 3261 §12.1.1 (UAS: in order), §12.1.2 (UAC: reversed). */
function routeSetOf(message: SipRequest | SipResponse, reverse: boolean): NameAddr[] {
  const routes = message.recordRoutes.map((route) => {
    if (!(route.uri instanceof SipUri)) throw new DialogError('BAD_ROUTE', `Record-Route ${route.uri.toString()} is not a sip: or sips: URI`);
    return new NameAddr(ownedClone(route.uri), route.displayName, new Map(route.params));
  });
  return reverse ? routes.reverse() : routes;
}

function toBuffer(body: Buffer | string | undefined): Buffer {
  if (body === undefined) return Buffer.alloc(0);
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
}

function contentTypeFor(method: string, body: Buffer, given: string | undefined): string | undefined {
  if (body.length === 0) return undefined;
  if (given !== undefined) return given;
  if (SESSION_METHODS.has(method) || method === 'ACK') return 'application/sdp';
  throw new DialogError('MISSING_HEADER', `a ${method} body needs a Content-Type`);
}

function isSessionDescriptionType(contentType: string | undefined, headers: ExtraHeaders): boolean {
  if (contentType === undefined) return false;
  const disposition = headers.find(([name]) => canonicalName(name) === 'content-disposition')?.[1];
  if (disposition !== undefined && disposition.split(';')[0]!.trim().toLowerCase() !== 'session') return false;
  const type = mediaType(contentType);
  return type === 'application/sdp' || type.startsWith('multipart/');
}

function setBody(message: SipRequest | SipResponse, body: Buffer, contentType: string | undefined): void {
  if (body.length === 0) return;
  message.body = body;
  if (contentType !== undefined && !message.hasHeader('content-type')) message.addHeader('content-type', contentType);
}

function hasExtra(headers: ExtraHeaders, name: string): boolean {
  return headers.some(([n]) => canonicalName(n) === name);
}

function applyExtraHeaders(message: SipRequest | SipResponse, headers: ExtraHeaders): void {
  const replaced = new Set<string>();
  for (const [name, value] of headers) {
    const lower = canonicalName(name);
    if (DIALOG_HEADERS.has(lower)) throw new DialogError('DIALOG_HEADER', `${name} is written by the dialog`);
    if (!replaced.has(lower)) {
      message.removeHeader(lower);
      replaced.add(lower);
    }
    message.addHeader(lower, value);
  }
}

function sessionTimerFromResponseSafe(request: SipRequest, response: SipResponse, now: number): SessionTimer | undefined {
  try {
    return sessionTimerFromResponse(request, response, now);
  } catch (error) {
    if (!(error instanceof DialogError)) throw error;
    // A malformed Session-Expires in a 2xx cannot be refused; as when the UAS ignores the
    // extension (RFC 4028 §7.2), we refresh with the interval we asked for, if we asked.
    const asked = sessionExpiresOf(request);
    return asked === undefined ? undefined : sessionTimerAt(asked.interval, 'local', now);
  }
}

function answerSessionTimerSafe(request: SipRequest): ReturnType<typeof answerSessionTimer> {
  try {
    return answerSessionTimer(request);
  } catch (error) {
    // receiveRequest() already refused a malformed Session-Expires with 400.
    if (error instanceof DialogError) return undefined;
    throw error;
  }
}
