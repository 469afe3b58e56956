/**
 * The SIP transport layer (RFC 3261 §18): UDP and TCP on one port, turning bytes into validated
 * messages and messages into bytes. Received requests get their top Via stamped (§18.2.1,
 * RFC 3581 §4); received responses not meant for us are dropped (§18.1.2); malformed requests
 * are answered statelessly where possible and malformed responses dropped (RFC 4475). Nothing a
 * peer sends escapes as an exception.
 */
import { DEFAULT_SOURCE_RATE_LIMIT, SourceRateLimit, type SourceRateLimitOptions } from '../source-rate-limit.js';
import { EventEmitter } from 'node:events';
import { networkInterfaces } from 'node:os';
import { systemClock, type Clock } from '../clock.js';
import { InvalidSipUri, SipParseError } from '../errors.js';
import {
  parseMessage,
  serializeMessage,
  validateMessage,
  type SipMessageAny,
  type SipRequest,
  type SipResponse,
  type Via,
} from '../message/index.js';
import {
  defaultPort,
  ipFamily,
  isWildcardAddress,
  normalizeAddress,
  uriHost,
  type Destination,
  type Source,
  type TransportName,
} from './address.js';
import { inspectBrokenStream, statelessAnswer, type MalformedInput } from './malformed-answer.js';
import { responseTarget, type ResponseTarget } from './response-target.js';
import { emptyTcpCounters, TcpTransport, tlsSocketFactories, type TcpCloseReason, type TcpCounters, type TcpConnectionInfo, type TcpSocketFactories, type TcpTransportOptions, type TlsOptions } from './tcp-transport.js';
import { formatVia, newBranch, setTopVia, stampReceived } from './top-via.js';
import { TransportError, toTransportError } from './transport-error.js';
import { UdpTransport, type CreateUdpSocket } from './udp-transport.js';

export interface TransportLayerOptions {
  /** Address to bind; `::` or an IPv6 address binds IPv6 sockets. Default `0.0.0.0`. */
  host?: string;
  /** One port for UDP and TCP. Default 5060; 0 lets the OS choose (the same for both). */
  port?: number;
  /** The host written in Via and Contact (SIP_PUBLIC_HOST), when it is not the bind address. */
  publicHost?: string;
  /** With an IPv6 wildcard bind, refuse IPv4 peers instead of taking them as mapped addresses. */
  ipv6Only?: boolean;
  /** Which transports to run. Default both. */
  transports?: ReadonlyArray<'udp' | 'tcp'>;
  /** Largest message accepted, in bytes. Default 64 KiB. */
  maxMessageSize?: number;
  /** Most header lines accepted in one message. Default 256. */
  maxHeaders?: number;
  /** Most TCP connections open at once, inbound and outbound. Default 1024. */
  maxConnections?: number;
  /** Per TCP connection, bytes held for a partial message or waiting to be written. Default 128 KiB. */
  maxBufferedBytes?: number;
  /** A TCP connection without traffic for this long is closed. Default 60 s; 0 never. */
  idleTimeoutMs?: number;
  /** Default 10 s. */
  connectTimeoutMs?: number;
  /** RFC 3261 §18.1.1: requests larger than this do not go over UDP. Default 1300. */
  udpMaxRequestSize?: number;
  /** Send requests larger than udpMaxRequestSize over TCP instead of UDP. Default true. */
  switchLargeRequestsToTcp?: boolean;
  /** RFC 3261 §18.1.2: drop responses whose top Via sent-by is not ours. Default true. */
  verifyResponseSentBy?: boolean;
  /** Answer malformed requests with 400/505/513. Default true. */
  answerMalformedRequests?: boolean;
  /** Those answers per source address (a flood of garbage is not answered in kind). Default 20/s, burst 50; false: no limit. */
  malformedAnswerRate?: SourceRateLimitOptions | false;
  /**
   * SIP over TLS (RFC 3261 §26.2.1; `sips:` URIs and `;transport=tls`) on its own port, 5061 by
   * default (0: the OS picks), with our certificate and the checks of the peer's. Off without it.
   */
  tls?: TlsOptions & { port?: number };
  clock?: Clock;
  sockets?: { createUdpSocket?: CreateUdpSocket; tcp?: TcpSocketFactories; tls?: TcpSocketFactories };
}

export interface InboundMessage {
  message: SipRequest | SipResponse;
  source: Source;
  /** The TCP connection it arrived on. */
  connectionId?: string;
  /** `clock.now()` when it arrived (monotonic milliseconds, not wall time). */
  receivedAt: number;
}

export interface MalformedMessage {
  error: SipParseError;
  source: Source;
  connectionId?: string;
  receivedAt: number;
  /** What was received (for a broken stream, what was left unframed). */
  bytes: Buffer;
  /** The status sent back, when the request could be answered. */
  answeredWith?: number;
}

export interface DroppedResponse {
  message: SipResponse;
  source: Source;
  connectionId?: string;
  reason: 'sent-by-mismatch';
}

export interface TransportErrorEvent {
  error: TransportError;
  /** Absent for errors the socket reported outside a send. */
  destination?: Destination;
}

export interface TransportLayerEvents {
  message: [event: InboundMessage];
  malformed: [event: MalformedMessage];
  responseDropped: [event: DroppedResponse];
  transportError: [event: TransportErrorEvent];
  connectionOpened: [connection: TcpConnectionInfo];
  connectionClosed: [connection: TcpConnectionInfo, reason: TcpCloseReason];
  /** A listener (or a bug) threw while a message was handled; the layer carried on. */
  internalError: [event: { error: unknown; source?: Source }];
}

export interface SendResult {
  /** The transport used: `tcp` when a large request was moved off UDP (RFC 3261 §18.1.1). */
  transport: TransportName;
  address: string;
  port: number;
  connectionId?: string;
  bytes: number;
  /** The message as sent (a SIP log keeps it without serializing it a second time). */
  raw?: Buffer;
}

export interface TrafficCounters {
  messagesIn: number;
  bytesIn: number;
  messagesOut: number;
  bytesOut: number;
}

/** A stream transport's figures: messages counted here, bytes and connections by the transport itself. */
export type StreamTrafficCounters = TrafficCounters & TcpCounters & { connectionsOpen: number };

export interface TransportStats {
  udp: TrafficCounters;
  tcp: StreamTrafficCounters;
  /** Present when TLS is enabled. */
  tls?: StreamTrafficCounters;
  /** Malformed messages by SipParseError code. */
  malformed: Record<string, number>;
  malformedAnswered: number;
  responsesDropped: number;
  requestsMovedToTcp: number;
  /** Failed sends by TransportError code. */
  sendErrors: Record<string, number>;
  internalErrors: number;
}

export class TransportLayer extends EventEmitter<TransportLayerEvents> {
  private readonly host: string;
  private readonly port: number;
  private readonly publicHost: string | undefined;
  private readonly limits: { maxMessageSize: number; maxHeaders: number };
  private readonly udpMaxRequestSize: number;
  private readonly switchLargeRequestsToTcp: boolean;
  private readonly verifyResponseSentBy: boolean;
  private readonly answerMalformedRequests: boolean;
  private readonly clock: Clock;
  private readonly udp: UdpTransport | undefined;
  private readonly tcp: TcpTransport | undefined;
  private boundPort: number | undefined;
  private state: 'idle' | 'listening' | 'closed' = 'idle';

  private readonly traffic = { udp: emptyTraffic(), tcp: emptyTraffic(), tls: emptyTraffic() };
  private readonly malformedLimit: SourceRateLimit | undefined;
  private readonly tls: TcpTransport | undefined;
  private readonly tlsPort: number;
  private boundTlsPort: number | undefined;
  private readonly malformedByCode: Record<string, number> = {};
  private readonly sendErrors: Record<string, number> = {};
  private malformedAnswered = 0;
  private responsesDropped = 0;
  private requestsMovedToTcp = 0;
  private internalErrors = 0;

  constructor(options: TransportLayerOptions = {}) {
    super();
    this.host = options.host ?? '0.0.0.0';
    this.port = options.port ?? 5060;
    this.publicHost = options.publicHost;
    this.limits = { maxMessageSize: options.maxMessageSize ?? 65536, maxHeaders: options.maxHeaders ?? 256 };
    this.udpMaxRequestSize = options.udpMaxRequestSize ?? 1300;
    this.switchLargeRequestsToTcp = options.switchLargeRequestsToTcp ?? true;
    this.verifyResponseSentBy = options.verifyResponseSentBy ?? true;
    this.answerMalformedRequests = options.answerMalformedRequests ?? true;
    this.clock = options.clock ?? systemClock;
    const malformedRate = options.malformedAnswerRate ?? DEFAULT_SOURCE_RATE_LIMIT;
    this.malformedLimit = malformedRate === false ? undefined : new SourceRateLimit(this.clock, malformedRate);
    const transports = options.transports ?? ['udp', 'tcp'];

    if (transports.includes('udp')) {
      this.udp = new UdpTransport({ createSocket: options.sockets?.createUdpSocket, ipv6Only: options.ipv6Only });
      this.udp.on('datagram', (data, address, port) => this.receive(data, { transport: 'udp', address, port }));
      this.udp.on('socketError', (error) => this.report(() => this.emit('transportError', { error })));
    }
    // TCP and TLS are the same stream transport, on their own sockets and limits each.
    const stream: TcpTransportOptions = {
      clock: this.clock,
      ...this.limits,
      maxConnections: options.maxConnections,
      maxBufferedBytes: options.maxBufferedBytes ?? 2 * this.limits.maxMessageSize,
      idleTimeoutMs: options.idleTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs,
      ipv6Only: options.ipv6Only,
    };
    if (transports.includes('tcp')) {
      this.tcp = new TcpTransport({ ...stream, sockets: options.sockets?.tcp });
      this.wireStream(this.tcp);
    }
    this.tlsPort = options.tls?.port ?? 5061;
    if (options.tls) {
      this.tls = new TcpTransport({ ...stream, sockets: options.sockets?.tls ?? tlsSocketFactories(options.tls), name: 'tls' });
      this.wireStream(this.tls);
    }
  }

  private wireStream(stream: TcpTransport): void {
    stream.on('frame', (data, connection) => this.receive(data, streamSource(stream, connection), connection.id));
    stream.on('framingError', (error, connection, unframed) => this.brokenStream(stream, error, connection, unframed));
    stream.on('connectionOpened', (connection) => this.emit('connectionOpened', connection));
    stream.on('connectionClosed', (connection, reason) => this.emit('connectionClosed', connection, reason));
    stream.on('socketError', (error) => this.report(() => this.emit('transportError', { error })));
    stream.on('internalError', (error) => this.internalError(error));
  }

  /** Binds UDP and TCP on the configured address and port; resolves with the port bound. */
  async listen(): Promise<{ address: string; port: number }> {
    if (this.state !== 'idle') throw new TransportError('SOCKET_ERROR', `transport layer is ${this.state}`);
    // With port 0 the OS picks a free UDP port, which TCP may find taken: try another.
    const attempts = this.port === 0 && this.udp && this.tcp ? 8 : 1;
    let failure: TransportError | undefined;
    for (let attempt = 0; attempt < attempts; attempt++) {
      let port = this.port;
      let transport: TransportName = 'udp';
      try {
        if (this.udp) port = (await this.udp.listen(this.host, port)).port;
        transport = 'tcp';
        if (this.tcp) port = (await this.tcp.listen(this.host, port)).port;
        transport = 'tls';
        if (this.tls) this.boundTlsPort = (await this.tls.listen(this.host, this.tlsPort)).port;
        this.boundPort = port;
        this.state = 'listening';
        return { address: this.host, port };
      } catch (error) {
        await Promise.all([this.udp?.close(), this.tcp?.close(), this.tls?.close()]);
        failure = toTransportError(error, 'binding', { transport, address: this.host, port });
        if (failure.code === 'ADDRESS_IN_USE') {
          failure = new TransportError(
            'ADDRESS_IN_USE',
            `cannot listen on ${transport} ${uriHost(this.host)}:${port}: the port is already in use (EADDRINUSE)`,
            failure.context,
            { cause: failure.cause, errno: failure.errno },
          );
        }
        if (failure.code !== 'ADDRESS_IN_USE' || this.port !== 0 || transport === 'tls') break;
      }
    }
    throw failure!;
  }

  /** Releases every socket and connection. */
  async close(): Promise<void> {
    this.state = 'closed';
    await Promise.all([this.udp?.close(), this.tcp?.close(), this.tls?.close()]);
  }

  /**
   * Sends a message. Rejects with a TransportError (never anything else). Addresses must be IP
   * literals: resolving names (RFC 3263) happens before the transport layer.
   */
  send(message: SipMessageAny, destination: Destination): Promise<SendResult> {
    // Promise chains rather than async functions: this runs for every message sent, and each
    // async function is one more promise and one more turn.
    let sending: Promise<SendResult>;
    try {
      sending = this.transmit(message, destination);
    } catch (error) {
      sending = Promise.reject(error);
    }
    return sending.catch((error: unknown) => {
      const failure = toTransportError(error, 'sending', destination);
      this.sendErrors[failure.code] = (this.sendErrors[failure.code] ?? 0) + 1;
      if (destination.transport === 'udp') this.report(() => this.emit('transportError', { error: failure, destination }));
      throw failure;
    });
  }

  /**
   * The host and port we put in Via and Contact: the public host when configured, else the
   * bind address (or, for a wildcard bind, this machine's first address of that family). An IPv6
   * host comes in brackets, ready for a sent-by or a URI.
   */
  localEndpoint(transport: TransportName): { host: string; port: number } {
    if ((transport === 'tls' && !this.tls) || (transport === 'udp' && !this.udp) || (transport === 'tcp' && !this.tcp)) {
      throw new TransportError('UNSUPPORTED_TRANSPORT', `${transport} is not enabled`);
    }
    const configured = transport === 'tls' ? this.tlsPort : this.port;
    const port = (transport === 'tls' ? this.boundTlsPort : this.boundPort) ?? (configured === 0 ? undefined : configured);
    if (port === undefined) throw new TransportError('NOT_LISTENING', 'the port is not known before listen() resolves');
    return { host: uriHost(this.publicHost ?? this.advertisedBindHost()), port };
  }

  /** A top Via for a request we send over `transport`: `SIP/2.0/UDP host:port;branch=…;rport`. */
  createVia(transport: TransportName, branch: string = newBranch()): string {
    const { host, port } = this.localEndpoint(transport);
    return formatVia(transport, host, port, branch);
  }

  /** Whether TLS is enabled (sips: and ;transport=tls destinations can be reached). */
  get tlsEnabled(): boolean {
    return this.tls !== undefined;
  }

  isConnectionOpen(connectionId: string): boolean {
    return this.streamOf(connectionId)?.isConnectionOpen(connectionId) ?? false;
  }

  /** Connection ids name their transport: `tcp-3`, `tls-1`. */
  private streamOf(connectionId: string): TcpTransport | undefined {
    return connectionId.startsWith('tls-') ? this.tls : this.tcp;
  }

  /** RFC 3261 §18.2.2 / RFC 3581 §4 for a request received here. */
  responseTargetFor(request: SipRequest, connectionId?: string): ResponseTarget {
    return responseTarget(request.topVia, connectionId === undefined ? undefined : { id: connectionId, open: this.isConnectionOpen(connectionId) });
  }

  stats(): TransportStats {
    const stream = (transport: TcpTransport | undefined, traffic: TrafficCounters): StreamTrafficCounters => ({
      ...traffic,
      ...(transport?.counters ?? emptyTcpCounters()),
      connectionsOpen: transport?.openConnections ?? 0,
    });
    return {
      udp: { ...this.traffic.udp },
      tcp: stream(this.tcp, this.traffic.tcp),
      ...(this.tls ? { tls: stream(this.tls, this.traffic.tls) } : {}),
      malformed: { ...this.malformedByCode },
      malformedAnswered: this.malformedAnswered,
      responsesDropped: this.responsesDropped,
      requestsMovedToTcp: this.requestsMovedToTcp,
      sendErrors: { ...this.sendErrors },
      internalErrors: this.internalErrors,
    };
  }

  // ---- receiving ------------------------------------------------------------------------

  private receive(bytes: Buffer, source: Source, connectionId?: string): void {
    const receivedAt = this.clock.now();
    const traffic = this.traffic[source.transport];
    traffic.messagesIn++;
    if (source.transport === 'udp') traffic.bytesIn += bytes.length;
    try {
      let message: SipMessageAny | undefined;
      try {
        message = parseMessage(bytes, this.limits);
        validateMessage(message);
      } catch (error) {
        const parseError = asParseError(error);
        if (!parseError) throw error;
        this.malformed({ error: parseError, bytes, partial: message }, source, connectionId, receivedAt, true);
        return;
      }
      const event: InboundMessage = { message, source, receivedAt };
      if (connectionId !== undefined) event.connectionId = connectionId;
      if (message.isRequest) {
        stampReceived(message, source);
      } else if (this.verifyResponseSentBy && !this.isOurSentBy(message.topVia)) {
        // RFC 3261 §18.1.2: a response whose sent-by is not what we insert is discarded.
        this.responsesDropped++;
        const dropped: DroppedResponse = { message, source, reason: 'sent-by-mismatch' };
        if (connectionId !== undefined) dropped.connectionId = connectionId;
        this.report(() => this.emit('responseDropped', dropped));
        return;
      }
      this.emit('message', event);
    } catch (error) {
      this.internalError(error, source);
    }
  }

  private brokenStream(stream: TcpTransport, error: SipParseError, connection: TcpConnectionInfo, unframed: Buffer): void {
    try {
      const inspected = inspectBrokenStream(error, unframed, this.limits.maxMessageSize);
      this.malformed({ error: inspected.error, bytes: unframed }, streamSource(stream, connection), connection.id, this.clock.now(), inspected.answerable);
    } catch (failure) {
      this.internalError(failure, streamSource(stream, connection));
    }
  }

  private malformed(input: MalformedInput, source: Source, connectionId: string | undefined, receivedAt: number, answerable: boolean): void {
    const { error } = input;
    this.malformedByCode[error.code] = (this.malformedByCode[error.code] ?? 0) + 1;
    const answer = answerable && this.answerMalformedRequests && (this.malformedLimit?.allow(source.address) ?? true) ? statelessAnswer(input, source) : undefined;
    if (answer) {
      this.malformedAnswered++;
      this.answer(answer, source, connectionId);
    }
    const event: MalformedMessage = { error, source, receivedAt, bytes: input.bytes };
    if (connectionId !== undefined) event.connectionId = connectionId;
    if (answer) event.answeredWith = answer.status;
    this.report(() => this.emit('malformed', event));
  }

  /** A stateless answer goes back where the request came from, on its connection if any. */
  private answer(response: SipResponse, source: Source, connectionId: string | undefined): void {
    // A stream answer is worth sending only on the connection the request used; opening one to
    // the peer's ephemeral port would be pointless.
    if (source.transport !== 'udp' && (connectionId === undefined || !this.isConnectionOpen(connectionId))) return;
    const destination: Destination = { ...source };
    if (connectionId !== undefined) destination.connectionId = connectionId;
    this.send(response, destination).catch(() => undefined);
  }

  private isOurSentBy(via: Via): boolean {
    const ours = via.transport.toLowerCase() === 'tls' ? this.boundTlsPort : this.boundPort;
    if ((via.port ?? defaultPort(via.transport)) !== ours) return false;
    const host = normalizeAddress(via.host);
    if (this.publicHost !== undefined && host === normalizeAddress(this.publicHost)) return true;
    if (host === normalizeAddress(this.advertisedBindHost())) return true;
    return !isWildcardAddress(this.host) && host === normalizeAddress(this.host);
  }

  private advertisedBindHost(): string {
    if (!isWildcardAddress(this.host)) return this.host;
    const family = ipFamily(this.host) === 6 ? 'IPv6' : 'IPv4';
    for (const addresses of Object.values(networkInterfaces())) {
      for (const address of addresses ?? []) {
        if (!address.internal && address.family === family && !address.address.startsWith('fe80')) return address.address;
      }
    }
    return family === 'IPv6' ? '::1' : '127.0.0.1';
  }

  // ---- sending --------------------------------------------------------------------------

  private transmit(message: SipMessageAny, destination: Destination): Promise<SendResult> {
    if (destination.transport === 'udp' && this.udp) {
      const bytes = serializeMessage(message);
      const large = message.isRequest && bytes.length > this.udpMaxRequestSize && this.switchLargeRequestsToTcp && this.tcp;
      return large ? this.transmitOtherwise(message, destination, bytes) : this.sendUdp(bytes, destination);
    }
    return this.transmitOtherwise(message, destination, undefined);
  }

  private sendUdp(bytes: Buffer, destination: Destination): Promise<SendResult> {
    return this.udp!.send(bytes, destination.address, destination.port).then(() => {
      this.traffic.udp.messagesOut++;
      this.traffic.udp.bytesOut += bytes.length;
      return { transport: 'udp' as const, address: normalizeAddress(destination.address), port: destination.port, bytes: bytes.length, raw: bytes };
    });
  }

  /** TCP, TLS, and a large request that should move to TCP (RFC 3261 §18.1.1). */
  private async transmitOtherwise(message: SipMessageAny, destination: Destination, serialized: Buffer | undefined): Promise<SendResult> {
    const bytes = serialized ?? serializeMessage(message);
    if (destination.transport === 'tls') return this.sendTls(bytes, destination);
    if (destination.transport === 'tcp') return this.sendTcp(bytes, destination);

    if (message.isRequest && bytes.length > this.udpMaxRequestSize && this.switchLargeRequestsToTcp && this.tcp) {
      // RFC 3261 §18.1.1: a request over 1300 bytes (path MTU unknown) goes over a congestion
      // controlled transport, and the top Via must then name it.
      try {
        const result = await this.sendTcp(serializeMessage(withTransport(message, 'TCP')), { ...destination, transport: 'tcp' });
        this.requestsMovedToTcp++;
        return result;
      } catch (error) {
        // §18.1.1: if the connection attempt is refused or reset, retry over UDP.
        const failure = toTransportError(error, 'sending', destination);
        if (failure.code !== 'CONNECTION_REFUSED' && failure.code !== 'CONNECTION_RESET') throw failure;
      }
    }
    if (!this.udp) throw new TransportError('UNSUPPORTED_TRANSPORT', 'UDP is not enabled', destination);
    return this.sendUdp(bytes, destination);
  }

  private async sendTcp(bytes: Buffer, destination: Destination): Promise<SendResult> {
    if (!this.tcp) throw new TransportError('UNSUPPORTED_TRANSPORT', 'TCP is not enabled', destination);
    const connection = await this.tcp.send(bytes, destination);
    this.traffic.tcp.messagesOut++;
    return { transport: 'tcp', address: connection.remoteAddress, port: connection.remotePort, connectionId: connection.id, bytes: bytes.length, raw: bytes };
  }

  private async sendTls(bytes: Buffer, destination: Destination): Promise<SendResult> {
    if (!this.tls) throw new TransportError('UNSUPPORTED_TRANSPORT', 'TLS is not enabled (no certificate configured)', destination);
    const connection = await this.tls.send(bytes, destination);
    this.traffic.tls.messagesOut++;
    return { transport: 'tls', address: connection.remoteAddress, port: connection.remotePort, connectionId: connection.id, bytes: bytes.length, raw: bytes };
  }

  // ---- failures -------------------------------------------------------------------------

  /** Emits to listeners without letting a listener's exception out. */
  private report(emit: () => void): void {
    try {
      emit();
    } catch (error) {
      this.internalError(error);
    }
  }

  private internalError(error: unknown, source?: Source): void {
    this.internalErrors++;
    try {
      this.emit('internalError', source === undefined ? { error } : { error, source });
    } catch {
      // An internalError listener that throws has nowhere left to report to.
    }
  }
}

function emptyTraffic(): TrafficCounters {
  return { messagesIn: 0, bytesIn: 0, messagesOut: 0, bytesOut: 0 };
}

function streamSource(stream: TcpTransport, connection: TcpConnectionInfo): Source {
  return { transport: stream.name, address: connection.remoteAddress, port: connection.remotePort };
}

/** Parse and validation failures are the peer's; a URI error that escaped unwrapped is too. */
function asParseError(error: unknown): SipParseError | undefined {
  if (error instanceof SipParseError) return error;
  if (error instanceof InvalidSipUri) return new SipParseError('BAD_URI', error.message);
  return undefined;
}

/** A copy of a request whose top Via names another transport (RFC 3261 §18.1.1). */
function withTransport(message: SipMessageAny, transport: string): SipMessageAny {
  const copy = message.clone();
  try {
    const via = copy.topVia;
    via.transport = transport;
    setTopVia(copy, via);
  } catch {
    // A request without a readable Via is sent as it is; the peer will answer 400.
  }
  return copy;
}
