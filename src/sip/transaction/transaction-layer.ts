/**
 * The transaction layer (RFC 3261 §17): creates client transactions for the requests the UA core
 * sends, matches every received message to its transaction (§17.1.3, §17.2.3), absorbs
 * retransmissions, creates server transactions for new requests, and pairs a CANCEL with the
 * INVITE it cancels (§9.2). What no transaction claims goes up to the core: new requests, the ACK
 * of a 2xx (a transaction of its own, §17.1.1.3), and responses no transaction is waiting for.
 */
import { systemClock, type Clock } from '../clock.js';
import type { SipMessageAny, SipRequest, SipResponse } from '../message/index.js';
import { releaseParsedHeaders } from '../message/message.js';
import { defaultTimerValues, type TimerValues } from '../timers.js';
import { TransportError, type Destination, type InboundMessage, type ResponseTarget, type TransportName } from '../transport/index.js';
import { InviteClientTransaction, type InviteClientTransactionUser } from './invite-client-transaction.js';
import { InviteServerTransaction } from './invite-server-transaction.js';
import { NonInviteClientTransaction, type NonInviteClientTransactionUser } from './non-invite-client-transaction.js';
import { NonInviteServerTransaction } from './non-invite-server-transaction.js';
import type { TransactionContext } from './transaction-context.js';
import { SipTraffic } from './sip-traffic.js';
import { clientKeyOfRequest, clientKeyOfResponse, serverKeyOfRequest } from './transaction-key.js';
import { createCancel } from './transaction-requests.js';

/** What the layer needs of the transport layer (TransportLayer fits). */
export interface TransactionTransport {
  send(message: SipMessageAny, destination: Destination): Promise<unknown>;
  /** A top Via with this branch for a request sent over `transport` (RFC 3261 §8.1.1.7, RFC 3581). */
  createVia(transport: TransportName, branch?: string): string;
  /** §18.2.2 and RFC 3581 §4: where responses to a received request go. */
  responseTargetFor(request: SipRequest, connectionId?: string): ResponseTarget;
}

export interface TransactionLayerOptions {
  transport: TransactionTransport;
  clock?: Clock;
  timers?: TimerValues;
}

export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;
export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;

/** What a received message turned out to be, once the transaction layer has seen it. */
export type Received =
  /** A retransmission, or a response its transaction took: nothing for the core to do. */
  | { kind: 'absorbed' }
  /** A new request with its server transaction: the core answers through `transaction.respond()`. */
  | { kind: 'request'; request: SipRequest; transaction: ServerTransaction; inbound: InboundMessage }
  /** An ACK no INVITE server transaction is waiting for: the ACK of a 2xx, for the dialog (§17.2.3, §13.3.1.4). */
  | { kind: 'ack'; request: SipRequest; inbound: InboundMessage }
  /**
   * A new CANCEL (§9.2) with its own server transaction, and the INVITE server transaction it
   * matches, if any: answer the CANCEL 200 and the INVITE 487, or the CANCEL 481 when `invite` is
   * undefined.
   */
  | { kind: 'cancel'; request: SipRequest; transaction: NonInviteServerTransaction; invite: InviteServerTransaction | undefined; inbound: InboundMessage }
  /** A response no client transaction is waiting for (a 2xx retransmitted after Timer M, a stray). */
  | { kind: 'response'; response: SipResponse; inbound: InboundMessage };

export interface TransactionCounts {
  clientInvite: number;
  clientNonInvite: number;
  serverInvite: number;
  serverNonInvite: number;
}

export class TransactionLayer {
  private readonly transport: TransactionTransport;
  private readonly context: TransactionContext;
  private readonly clients = new Map<string, ClientTransaction>();
  private readonly servers = new Map<string, ServerTransaction>();
  /** What went through, for metrics. */
  readonly traffic = new SipTraffic();

  constructor(options: TransactionLayerOptions) {
    this.transport = options.transport;
    const traffic = this.traffic;
    this.context = {
      clock: options.clock ?? systemClock,
      timers: options.timers ?? defaultTimerValues,
      send: (message, destination) => {
        traffic.noteSent(message);
        return this.transport.send(message, destination);
      },
      noteTimeout: (method) => traffic.noteTimeout(method),
    };
  }

  get timers(): TimerValues {
    return this.context.timers;
  }

  get counts(): TransactionCounts {
    const counts: TransactionCounts = { clientInvite: 0, clientNonInvite: 0, serverInvite: 0, serverNonInvite: 0 };
    for (const t of this.clients.values()) counts[t instanceof InviteClientTransaction ? 'clientInvite' : 'clientNonInvite']++;
    for (const t of this.servers.values()) counts[t instanceof InviteServerTransaction ? 'serverInvite' : 'serverNonInvite']++;
    return counts;
  }

  /** Client transactions still waiting for a final response (a shutdown waits for its BYEs and CANCELs). */
  get awaitingFinalResponse(): number {
    let waiting = 0;
    for (const t of this.clients.values()) if (t.state === 'calling' || t.state === 'trying' || t.state === 'proceeding') waiting++;
    return waiting;
  }

  // ---- client side ------------------------------------------------------------------------

  /** Sends an INVITE in a new INVITE client transaction; the top Via (new branch) is added here. */
  sendInvite(request: SipRequest, destination: Destination, user: InviteClientTransactionUser): InviteClientTransaction {
    if (request.method !== 'INVITE') throw new TypeError(`sendInvite() takes an INVITE, not ${request.method}`);
    request.prependHeader('via', this.transport.createVia(destination.transport));
    const transaction = new InviteClientTransaction(this.context, request, destination, user);
    this.track(this.clients, clientKeyOfRequest(request), transaction);
    transaction.start();
    // The transaction keeps its request until Timer M; the Via parsed for its key is not needed.
    releaseParsedHeaders(request);
    return transaction;
  }

  /** Sends any request but INVITE and ACK in a new non-INVITE client transaction (§17.1.2). */
  sendRequest(request: SipRequest, destination: Destination, user: NonInviteClientTransactionUser): NonInviteClientTransaction {
    if (request.method === 'INVITE' || request.method === 'ACK') {
      throw new TypeError(`${request.method} has no non-INVITE client transaction: use sendInvite() or send the ACK directly`);
    }
    if (request.method !== 'CANCEL' || !request.hasHeader('via')) {
      request.prependHeader('via', this.transport.createVia(destination.transport));
    }
    const transaction = new NonInviteClientTransaction(this.context, request, destination, user);
    this.track(this.clients, clientKeyOfRequest(request), transaction);
    transaction.start();
    releaseParsedHeaders(request);
    return transaction;
  }

  /**
   * §9.1: a CANCEL for an INVITE of ours, with the INVITE's top Via, to the INVITE's destination.
   * The caller makes sure a provisional response has arrived (§9.1: not before).
   */
  sendCancel(invite: InviteClientTransaction, user: NonInviteClientTransactionUser, reason?: string): NonInviteClientTransaction {
    return this.sendRequest(createCancel(invite.request, reason), invite.destination, user);
  }

  /** Sends a message outside any transaction: the ACK of a 2xx (§13.2.2.4), a stateless response. */
  sendStateless(message: SipMessageAny, destination: Destination): Promise<unknown> {
    this.traffic.noteSent(message);
    return this.transport.send(message, destination);
  }

  /** A top Via for a request sent outside a transaction (the ACK of a 2xx has a branch of its own). */
  createVia(transport: TransportName): string {
    return this.transport.createVia(transport);
  }

  // ---- receiving --------------------------------------------------------------------------

  /** Everything the transport layer delivers comes through here (already validated, so its headers read). */
  receive(inbound: InboundMessage): Received {
    const message = inbound.message;
    this.traffic.noteReceived(message);
    if (!message.isRequest) {
      const key = clientKeyOfResponse(message);
      const transaction = key === undefined ? undefined : this.clients.get(key);
      if (!transaction) return { kind: 'response', response: message, inbound };
      transaction.receiveResponse(message);
      return { kind: 'absorbed' };
    }
    const request = message;
    if (request.method === 'ACK') return this.receiveAck(request, inbound);

    const key = serverKeyOfRequest(request);
    const existing = this.servers.get(key);
    if (existing && this.sameRequest(existing, request)) {
      this.traffic.noteRetransmissionReceived(request.method);
      existing.receiveRequest(request);
      return { kind: 'absorbed' };
    }
    const destination = this.destinationOf(request, inbound);
    if (request.method === 'INVITE') {
      const transaction = new InviteServerTransaction(this.context, request, destination);
      this.track(this.servers, key, transaction);
      // §17.2.1: 100 Trying at once; the TU's own answer may take longer than 200 ms.
      transaction.sendTrying();
      return { kind: 'request', request, transaction, inbound };
    }
    const transaction = new NonInviteServerTransaction(this.context, request, destination);
    this.track(this.servers, key, transaction);
    if (request.method === 'CANCEL') {
      // §9.2: the CANCEL matches the INVITE server transaction the INVITE's key would find.
      const invite = this.servers.get(serverKeyOfRequest(request, 'INVITE'));
      return { kind: 'cancel', request, transaction, invite: invite instanceof InviteServerTransaction ? invite : undefined, inbound };
    }
    return { kind: 'request', request, transaction, inbound };
  }

  private receiveAck(ack: SipRequest, inbound: InboundMessage): Received {
    const transaction = this.servers.get(serverKeyOfRequest(ack));
    // §17.2.3: an ACK matches the INVITE server transaction only when that one sent a non-2xx
    // final response (its To tag is that response's); the ACK of a 2xx is the dialog's.
    if (transaction instanceof InviteServerTransaction && transaction.state !== 'accepted') {
      const final = transaction.finalResponse;
      if (final && final.status >= 300 && final.to.tag === ack.to.tag) {
        transaction.receiveRequest(ack);
        return { kind: 'absorbed' };
      }
    }
    return { kind: 'ack', request: ack, inbound };
  }

  /** The RFC 2543 fallback also compares the To tag (§17.2.3); with a branch the key says it all. */
  private sameRequest(transaction: ServerTransaction, request: SipRequest): boolean {
    if (request.topVia.rfc3261) return true;
    return transaction.request.to.tag === request.to.tag;
  }

  /** Where responses to `request` go, worked out when the first one is sent. */
  private destinationOf(request: SipRequest, inbound: InboundMessage): () => Destination {
    return () => this.responseDestination(request, inbound);
  }

  /** §18.2.2, RFC 3581 §4: answer on the request's connection while it is open, else where its Via says. */
  private responseDestination(request: SipRequest, inbound: InboundMessage): Destination {
    const target = this.transport.responseTargetFor(request, inbound.connectionId);
    if (target.needsResolution) {
      // We stamp `received` on every request whose sent-by is not its source address (§18.2.1),
      // so only an maddr that is a name leads here; RFC 3263 §5 lookups for it are not done.
      throw new TransportError('UNSUPPORTED_TRANSPORT', `cannot answer to ${target.address}: a name in maddr is not resolved`);
    }
    const destination: Destination = { transport: target.transport, address: target.address, port: target.port };
    if (target.connectionId !== undefined) destination.connectionId = target.connectionId;
    return destination;
  }

  private track<T extends ClientTransaction | ServerTransaction>(map: Map<string, T>, key: string, transaction: T): void {
    map.get(key)?.terminate();
    map.set(key, transaction);
    transaction.onEnded = () => {
      if (map.get(key) === transaction) map.delete(key);
    };
  }

  /** Ends every transaction (shutdown): each TU hears onTerminated, none hears a failure. */
  close(): void {
    for (const transaction of [...this.clients.values(), ...this.servers.values()]) transaction.terminate();
    this.clients.clear();
    this.servers.clear();
  }
}
