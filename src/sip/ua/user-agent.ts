/**
 * The UA core (RFC 3261 §8, §12–§15): sits on the transport and transaction layers, starts INVITE
 * sessions as UAC, routes in-dialog requests and ACKs to the session that owns the dialog, and
 * answers on its own what needs no application: OPTIONS outside a dialog (§11.2), unknown or
 * disallowed methods (§8.2.1: 501/405 with Allow), unsupported extensions and bodies (§8.2.2–
 * §8.2.3), requests for dialogs we do not have (§12.2.2: 481), CANCEL (§9.2), and incoming calls,
 * which a third-party call controller does not take (an application that takes them, such as a
 * phone, says so with `onIncomingInvite` and gets an IncomingInviteSession for each).
 */
import { DEFAULT_SOURCE_RATE_LIMIT, SourceRateLimit, type SourceRateLimitOptions } from '../source-rate-limit.js';
import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from '../clock.js';
import { DEFAULT_CAPABILITIES, DialogError, DialogRegistry, type Capabilities, type InviteDialogSetOptions, type SessionDialog } from '../dialog/index.js';
import { ServerLocator, type SipTransport } from '../locate/index.js';
import { createResponse, NameAddr, parseNameAddr, randomToken, type SipRequest, type SipResponse } from '../message/index.js';
import { defaultTimerValues, type TimerValues } from '../timers.js';
import { InviteServerTransaction, TransactionLayer, type Received, type ServerTransaction, type TransactionCounts } from '../transaction/index.js';
import type { Destination, InboundMessage, TransportLayer, TransportName } from '../transport/index.js';
import { SipUri } from '../uri.js';
import { IncomingInviteSession } from './incoming-invite-session.js';
import { OutgoingInviteSession, type OutgoingInviteOptions } from './outgoing-invite-session.js';
import type { DialogOwner, SessionCore } from './session-core.js';
import { checkRequest, type UasCapabilities } from './uas-checks.js';

export interface UserAgentOptions {
  /** A listening transport layer. The UA listens to its `message` events. */
  transport: TransportLayer;
  clock?: Clock;
  timers?: TimerValues;
  /** RFC 3263 for host names; numeric hosts need none. Without it, only IP literals can be reached. */
  locator?: ServerLocator;
  /** The User-Agent / Server product, e.g. `click-to-dial/0.1`. */
  product?: string;
  /** The user part of our Contact. Default `ctd`. */
  contactUser?: string;
  capabilities?: Capabilities;
  /** The answer an ACK carries for a 2xx we no longer want that holds an offer (see InviteDialogSetOptions). */
  answerForUnwantedOffer?: InviteDialogSetOptions['answerForUnwantedOffer'];
  /** The status an incoming INVITE outside a dialog gets. Default 403: a controller places calls, it takes none. */
  incomingInviteStatus?: number;
  /**
   * Per source address, how many requests outside any dialog (the ones the core answers itself,
   * and INVITEs for onIncomingInvite) it takes: past it they are dropped unanswered. Default 20/s
   * with a burst of 50; false: no limit. Requests in our dialogs are never limited.
   */
  sourceRateLimit?: SourceRateLimitOptions | false;
  /**
   * Takes incoming calls: each INVITE outside a dialog becomes an IncomingInviteSession handed
   * here, to be answered (progress, accept, reject). Without it, `incomingInviteStatus` applies.
   */
  onIncomingInvite?: (session: IncomingInviteSession) => void;
  /** Sees every message the UA sends and receives (a per-call SIP log, a ladder diagram). */
  onMessage?: (entry: SipTraceEntry) => void;
}

/** One message on the wire, as the UA saw it. */
export interface SipTraceEntry {
  direction: 'in' | 'out';
  message: SipRequest | SipResponse;
  /** The peer: where it came from or went to. */
  transport: TransportName;
  address: string;
  port: number;
  /** Wall-clock milliseconds. */
  at: number;
  /** The bytes on the wire, for a message sent (a received one has them in `message.raw`). */
  raw?: Buffer;
}

export interface UserAgentEvents {
  /** A listener or the stack itself threw while handling a message; the UA carried on. */
  internalError: [error: unknown];
}

export type InviteOptions = Omit<OutgoingInviteOptions, 'contact'>;

export interface UserAgentStats {
  sessions: number;
  dialogs: number;
  transactions: TransactionCounts;
  /** Requests answered by the core itself, by status. */
  answeredByCore: Record<number, number>;
  /** Requests outside any dialog dropped unanswered: their source was over its rate. */
  droppedOverSourceRate: number;
}

export class UserAgent extends EventEmitter<UserAgentEvents> {
  readonly transactions: TransactionLayer;
  readonly registry = new DialogRegistry();
  private readonly transport: TransportLayer;
  private readonly core: SessionCore;
  private readonly locator: ServerLocator | undefined;
  private readonly contactUser: string;
  private readonly uasCapabilities: UasCapabilities;
  private readonly incomingInviteStatus: number;
  private readonly owners = new Map<SessionDialog, DialogOwner>();
  /** The same, the other way round: what detach() forgets. */
  private readonly dialogsOf = new Map<DialogOwner, SessionDialog[]>();
  /** Our Contact for INVITEs, by transport: one object for every session while the address stays. */
  private readonly inviteContacts = new Map<TransportName | 'sips', NameAddr>();
  /** Our INVITE sessions by Call-ID and From tag: where responses no transaction claims go. */
  private readonly sessions = new Map<string, OutgoingInviteSession>();
  /** Incoming INVITE sessions while they last, by their INVITE's transaction (where a CANCEL finds them, §9.2). */
  private readonly incoming = new Map<ServerTransaction, IncomingInviteSession>();
  private readonly onIncomingInvite: ((session: IncomingInviteSession) => void) | undefined;
  private readonly answeredByCore: Record<number, number> = {};
  private readonly sourceLimit: SourceRateLimit | undefined;
  private readonly onMessage = (inbound: InboundMessage): void => this.receive(inbound);
  private readonly onTrace: ((entry: SipTraceEntry) => void) | undefined;

  constructor(options: UserAgentOptions) {
    super();
    this.transport = options.transport;
    this.locator = options.locator;
    this.contactUser = options.contactUser ?? 'ctd';
    this.incomingInviteStatus = options.incomingInviteStatus ?? 403;
    this.onIncomingInvite = options.onIncomingInvite;
    const clock = options.clock ?? systemClock;
    const limit = options.sourceRateLimit ?? DEFAULT_SOURCE_RATE_LIMIT;
    this.sourceLimit = limit === false ? undefined : new SourceRateLimit(clock, limit);
    const timers = options.timers ?? defaultTimerValues;
    const capabilities = options.capabilities ?? DEFAULT_CAPABILITIES;
    this.uasCapabilities = {
      allow: capabilities.allow,
      accept: capabilities.accept,
      supported: capabilities.supported,
      ...(options.product !== undefined ? { server: options.product } : {}),
    };
    const onMessage = options.onMessage;
    this.onTrace = onMessage;
    const transactionTransport = onMessage
      ? {
          send: (message: SipRequest | SipResponse, destination: Destination) =>
            this.transport.send(message, destination).then((result) => {
              onMessage({ direction: 'out', message, transport: result.transport, address: result.address, port: result.port, at: Date.now(), ...(result.raw ? { raw: result.raw } : {}) });
              return result;
            }),
          createVia: (transport: TransportName, branch?: string) => this.transport.createVia(transport, branch),
          responseTargetFor: (request: SipRequest, connectionId?: string) => this.transport.responseTargetFor(request, connectionId),
        }
      : this.transport;
    this.transactions = new TransactionLayer({ transport: transactionTransport, clock, timers });
    const dialogOptions: SessionCore['dialogOptions'] = { clock, capabilities, ackRetentionMs: 128 * timers.T1 };
    if (options.answerForUnwantedOffer) dialogOptions.answerForUnwantedOffer = options.answerForUnwantedOffer;
    this.core = {
      clock,
      timers,
      transactions: this.transactions,
      registry: this.registry,
      dialogOptions,
      product: options.product,
      resolve: (uri) => this.resolve(uri),
      attachDialog: (dialog, owner) => this.attachDialog(dialog, owner),
      detach: (owner) => this.detach(owner),
      reportError: (error) => this.reportError(error),
    };
    this.transport.on('message', this.onMessage);
  }

  /**
   * Starts an INVITE session (RFC 3261 §13.2.1). Our Contact names the transport of the first
   * hop (the first Route, else the target URI: its `transport` parameter, TLS for sips:, else
   * UDP), so that in-dialog requests come back on it.
   */
  invite(options: InviteOptions): OutgoingInviteSession {
    // The first hop decides (an outbound proxy over TLS gets a TLS Contact, RFC 3261 §8.1.1.8).
    const firstHop = options.route?.[0] ?? options.requestUri ?? options.to;
    const transport = transportOf(firstHop);
    const secure = transport === 'tls' && (isSecureUri(options.requestUri ?? options.to) || (options.route?.[0] !== undefined && isSecureUri(options.route[0])));
    // Object.assign, not a spread with an extra property: V8 takes a slow path for those.
    const session = new OutgoingInviteSession(this.core, Object.assign({}, options, { contact: this.inviteContact(transport, secure) }));
    this.sessions.set(`${session.callId}\n${session.localTag}`, session);
    void session.start().catch((error: unknown) => this.reportError(error));
    return session;
  }

  /**
   * Our Contact for `transport`: `<sip:ctd@host:port[;transport=tcp|tls]>`, so that in-dialog
   * requests come back on it; `<sips:ctd@host:port>` when `secure` (RFC 3261 §8.1.1.8: a sips:
   * Request-URI or top Route needs a sips: Contact).
   */
  contact(transport: TransportName = 'udp', secure = false): NameAddr {
    const { host, port } = this.transport.localEndpoint(transport);
    const params = new Map<string, string | null>();
    if (transport !== 'udp' && !secure) params.set('transport', transport);
    return new NameAddr(new SipUri({ ...(secure ? { scheme: 'sips' as const } : {}), user: this.contactUser, host, port, params }));
  }

  private inviteContact(transport: TransportName, secure: boolean): NameAddr {
    const { host, port } = this.transport.localEndpoint(transport);
    const key = secure ? 'sips' : transport;
    const known = this.inviteContacts.get(key);
    if (known !== undefined) {
      const uri = known.uri as SipUri;
      if (uri.host === host && uri.port === port) return known;
    }
    const contact = this.contact(transport, secure);
    this.inviteContacts.set(key, contact);
    return contact;
  }

  stats(): UserAgentStats {
    return {
      sessions: this.sessions.size + this.incoming.size,
      dialogs: this.registry.size,
      transactions: this.transactions.counts,
      answeredByCore: { ...this.answeredByCore },
      droppedOverSourceRate: this.sourceLimit?.refused ?? 0,
    };
  }

  /** Stops listening and ends every transaction (sessions are not hung up: do that first). */
  close(): void {
    this.transport.off('message', this.onMessage);
    this.transactions.close();
  }

  /** RFC 3263 where a locator is given; IP literals straight away. */
  async resolve(uri: SipUri): Promise<Destination[]> {
    const transport = (uri.transport as SipTransport | undefined) ?? (uri.secure ? 'tls' : undefined);
    const host = uri.paramsView.get('maddr') ?? uri.host;
    if (this.locator) {
      const targets = await this.locator.locate({ host, ...(uri.port !== undefined ? { port: uri.port } : {}), ...(transport ? { transport } : {}), secure: uri.secure });
      return targets.map((target) => {
        const destination: Destination = { transport: target.transport, address: target.address, port: target.port };
        // RFC 5922 §7.2: over TLS the certificate must name the domain the URI named.
        if (target.transport === 'tls' && target.host !== target.address) destination.servername = host;
        return destination;
      });
    }
    const literal = host.startsWith('[') ? host.slice(1, -1) : host;
    if (!/^[0-9.]+$/.test(literal) && !literal.includes(':')) throw new Error(`cannot resolve ${host}: no DNS locator configured`);
    const chosen = transport ?? 'udp';
    return [{ transport: chosen, address: literal, port: uri.port ?? (chosen === 'tls' ? 5061 : 5060) }];
  }

  // ---- receiving ----------------------------------------------------------------------------

  private receive(inbound: InboundMessage): void {
    if (this.onTrace) {
      const { source } = inbound;
      try {
        this.onTrace({ direction: 'in', message: inbound.message, transport: source.transport, address: source.address, port: source.port, at: Date.now() });
      } catch (error) {
        this.reportError(error);
      }
    }
    let received: Received;
    try {
      received = this.transactions.receive(inbound);
    } catch (error) {
      this.reportError(error);
      return;
    }
    try {
      this.dispatch(received);
    } catch (error) {
      this.reportError(error);
    }
  }

  private dispatch(received: Received): void {
    switch (received.kind) {
      case 'absorbed':
        return;
      case 'response': {
        const response = received.response;
        this.sessions.get(`${response.callId}\n${response.from.tag ?? ''}`)?.receiveStrayResponse(response);
        return;
      }
      case 'ack': {
        // §17.2.3: the ACK of a 2xx is the dialog's; one that matches nothing is dropped (§12.2.2).
        const dialog = this.registry.find(received.request);
        if (dialog) this.owners.get(dialog)?.receiveAck(received.request);
        return;
      }
      case 'cancel':
        this.receiveCancel(received.request, received.transaction, received.invite);
        return;
      case 'request':
        this.receiveRequest(received.request, received.transaction, received.inbound.source.address);
        return;
    }
  }

  private receiveRequest(request: SipRequest, transaction: ServerTransaction, source: string): void {
    const match = this.registry.match(request);
    if (match.kind !== 'dialog' && this.sourceLimit && !this.sourceLimit.allow(source)) {
      // A flood: no answer (it would amplify it), no transaction left behind.
      transaction.terminate();
      return;
    }
    const toTag = request.to.tag ?? randomToken();
    const early = checkRequest(request, this.uasCapabilities, { inDialog: match.kind === 'dialog', toTag });
    if (early) {
      this.respond(transaction, early);
      return;
    }
    if (match.kind === 'dialog') {
      const owner = this.owners.get(match.dialog);
      if (owner) owner.receiveRequest(request, transaction);
      else this.respond(transaction, createResponse(request, 481));
      return;
    }
    if (match.kind === 'no-dialog') {
      if (match.response) this.respond(transaction, match.response);
      return;
    }
    // Outside any dialog: OPTIONS was answered by checkRequest(); an INVITE goes to the application
    // that takes calls, if there is one, else is refused; we hold no subscriptions, so anything
    // else names a dialog that is not here.
    if (request.method === 'INVITE' && this.onIncomingInvite && transaction instanceof InviteServerTransaction) {
      this.takeIncomingInvite(transaction, this.onIncomingInvite);
      return;
    }
    if (request.method === 'INVITE') {
      this.respond(transaction, createResponse(request, this.incomingInviteStatus, undefined, toTag));
      return;
    }
    this.respond(transaction, createResponse(request, 481, undefined, toTag));
  }

  /**
   * §9.2: 200 to a CANCEL that matches an INVITE transaction, which then gets 487 if it has no
   * final response yet (once it has one, the CANCEL changes nothing); 481 when none matches.
   */
  private receiveCancel(cancel: SipRequest, transaction: ServerTransaction, invite: ServerTransaction | undefined): void {
    if (!invite) {
      this.respond(transaction, createResponse(cancel, 481));
      return;
    }
    this.respond(transaction, createResponse(cancel, 200));
    if (invite.finalResponse) return;
    const dialog = this.registry.find(invite.request);
    // The initial INVITE of an incoming session has no To tag yet: its session is found by transaction.
    const owner = dialog ? this.owners.get(dialog) : this.incoming.get(invite);
    if (owner) owner.receiveCancel(invite);
    else invite.respond(createResponse(invite.request, 487, undefined, randomToken()));
  }

  private takeIncomingInvite(transaction: InviteServerTransaction, onIncomingInvite: (session: IncomingInviteSession) => void): void {
    let session: IncomingInviteSession;
    try {
      const transport = viaTransport(transaction.request);
      const uri = transaction.request.uri;
      session = new IncomingInviteSession(this.core, transaction, this.inviteContact(transport, transport === 'tls' && uri instanceof SipUri && uri.secure));
    } catch (error) {
      // No dialog can be made of it (no Contact, §8.1.1.8; a Record-Route that is not sip:).
      if (!(error instanceof DialogError)) throw error;
      this.respond(transaction, createResponse(transaction.request, 400, `Bad Request (${error.message})`, randomToken()));
      return;
    }
    this.incoming.set(transaction, session);
    try {
      onIncomingInvite(session);
    } catch (error) {
      // An application that threw without answering: the INVITE still gets a final response.
      if (session.state === 'proceeding') session.reject(500);
      throw error;
    }
  }

  private respond(transaction: ServerTransaction, response: SipResponse): void {
    this.answeredByCore[response.status] = (this.answeredByCore[response.status] ?? 0) + 1;
    transaction.respond(response);
  }

  private attachDialog(dialog: SessionDialog, owner: DialogOwner): void {
    const previous = this.owners.get(dialog);
    if (previous === owner) return;
    if (previous !== undefined) {
      const list = this.dialogsOf.get(previous);
      const index = list === undefined ? -1 : list.indexOf(dialog);
      if (index >= 0) list!.splice(index, 1);
    }
    this.owners.set(dialog, owner);
    const list = this.dialogsOf.get(owner);
    if (list === undefined) this.dialogsOf.set(owner, [dialog]);
    else list.push(dialog);
  }

  private detach(owner: DialogOwner): void {
    for (const dialog of this.dialogsOf.get(owner) ?? []) {
      this.owners.delete(dialog);
      this.registry.remove(dialog);
    }
    this.dialogsOf.delete(owner);
    if (owner instanceof IncomingInviteSession) {
      this.incoming.delete(owner.transaction);
    }
    if (owner instanceof OutgoingInviteSession) {
      const key = `${owner.callId}\n${owner.localTag}`;
      // A 2xx may still come back for a while (RFC 6026 §8.4, Timer M): keep the route to the
      // session that long, so the ACK goes again.
      this.core.clock.setTimer(64 * this.core.timers.T1, () => {
        if (this.sessions.get(key) === owner) this.sessions.delete(key);
        // Then the dialogs no session owns go too, with the dialog sets: the other forks' (early,
        // or answered and sent BYE) and the early dialogs of attempts that failed (§12.3).
        for (const set of owner.dialogSets) {
          for (const dialog of set.dialogs) this.registry.remove(dialog);
          this.registry.removeInviteSet(set);
        }
      });
    }
  }

  private reportError(error: unknown): void {
    try {
      this.emit('internalError', error);
    } catch {
      // A listener of internalError that throws has nowhere left to report to.
    }
  }
}

/** The transport an incoming request came over, from its top Via: where our Contact points it back. */
function viaTransport(request: SipRequest): TransportName {
  const transport = request.topVia.transport.toLowerCase();
  return transport === 'tcp' || transport === 'tls' ? transport : 'udp';
}

function isSecureUri(target: string | NameAddr | SipUri): boolean {
  let uri: unknown = target;
  try {
    if (typeof target === 'string') uri = parseNameAddr(target, 'to').uri;
    else if (target instanceof NameAddr) uri = target.uri;
  } catch {
    return false;
  }
  return uri instanceof SipUri && uri.secure;
}

function transportOf(target: string | NameAddr | SipUri): TransportName {
  let uri: unknown = target;
  if (typeof target === 'string') {
    try {
      uri = parseNameAddr(target, 'to').uri;
    } catch {
      return 'udp';
    }
  } else if (target instanceof NameAddr) {
    uri = target.uri;
  }
  if (uri instanceof SipUri) {
    const transport = uri.transport;
    if (transport === 'tcp' || transport === 'tls') return transport;
    if (uri.secure) return 'tls';
  }
  return 'udp';
}
