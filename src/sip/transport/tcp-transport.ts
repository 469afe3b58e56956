/**
 * The TCP transport (RFC 3261 §18): a listening socket plus the connections it accepted or
 * opened, each cut into messages by a StreamFramer (§18.3: Content-Length frames messages on a
 * stream). Connections are kept for reuse (§18.1.1, §18.2.2) and closed after an idle time;
 * RFC 5626 §3.5.1 CRLF pings are answered. It knows nothing else of SIP: framed messages go up
 * as bytes and the transport layer parses them.
 *
 * TLS (RFC 3261 §26.3.1, RFC 5630) is the same stream transport over sockets that tlsSocketFactories()
 * makes: a connection counts as open once its handshake is done, and the certificate checks are
 * those of Node's TLS (the peer's certificate must chain to a trusted CA and name the host).
 */
import { EventEmitter } from 'node:events';
import { createServer, connect, isIP, type AddressInfo, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type SecureContextOptions } from 'node:tls';
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import { SipParseError } from '../errors.js';
import { StreamFramer } from '../message/index.js';
import { endpointKey, normalizeAddress } from './address.js';
import { TransportError, describeEndpoint, toTransportError } from './transport-error.js';

export interface TcpConnectionInfo {
  /** Stable for the life of the connection: `tcp-1`, `tcp-2`… (`tls-1`… over TLS). */
  id: string;
  remoteAddress: string;
  remotePort: number;
  direction: 'inbound' | 'outbound';
}

export type TcpCloseReason = 'idle' | 'framing' | 'peer' | 'error' | 'local' | 'shutdown';

export interface TcpSocketFactories {
  createServer(): Server;
  /** `servername`: the name the peer's certificate must carry (TLS; RFC 5922 §7). */
  connect(options: { host: string; port: number; servername?: string }): Socket;
  /** The server event that hands over a usable connection, and the client event that says it is usable. */
  acceptEvent?: 'connection' | 'secureConnection';
  connectEvent?: 'connect' | 'secureConnect';
}

export const nodeTcpSocketFactories: TcpSocketFactories = {
  createServer: () => createServer({ allowHalfOpen: false }),
  connect: (options) => connect({ host: options.host, port: options.port, allowHalfOpen: false }),
};

export interface TlsOptions {
  /** Our certificate chain and key (PEM), presented as a server and, when asked, as a client. */
  cert: string | Buffer;
  key: string | Buffer;
  /** The CAs trusted for peers' certificates (PEM); default Node's bundled roots. */
  ca?: string | Buffer | (string | Buffer)[];
  /** Check the peer's certificate when we connect (chain and name). Default true: turn it off only for tests. */
  verifyServer?: boolean;
  /** Ask connecting peers for a certificate and require a valid one (mutual TLS). Default false. */
  requireClientCertificate?: boolean;
  /** Default TLSv1.2. */
  minVersion?: SecureContextOptions['minVersion'];
}

/** Sockets for SIP over TLS (RFC 3261 §26.2.1: TLS over TCP, port 5061 by default). */
export function tlsSocketFactories(options: TlsOptions): TcpSocketFactories {
  const context = { cert: options.cert, key: options.key, minVersion: options.minVersion ?? 'TLSv1.2', ...(options.ca !== undefined ? { ca: options.ca } : {}) };
  return {
    createServer: () =>
      createTlsServer({ ...context, allowHalfOpen: false, requestCert: options.requireClientCertificate ?? false, rejectUnauthorized: options.requireClientCertificate ?? false }),
    connect: ({ host, port, servername }) =>
      tlsConnect({
        ...context,
        host,
        port,
        rejectUnauthorized: options.verifyServer ?? true,
        // SNI takes a name, never an address; without one Node checks the address against the certificate's IP SANs.
        ...(servername !== undefined && isIP(servername) === 0 ? { servername } : {}),
      }),
    acceptEvent: 'secureConnection',
    connectEvent: 'secureConnect',
  };
}

export interface TcpTransportOptions {
  clock?: Clock;
  maxMessageSize?: number;
  maxHeaders?: number;
  /** Inbound and outbound together; connections beyond it are refused. */
  maxConnections?: number;
  /** Per connection, for a partial message received and for writes not yet flushed. */
  maxBufferedBytes?: number;
  /** A connection without traffic for this long is closed; 0 keeps connections forever. */
  idleTimeoutMs?: number;
  connectTimeoutMs?: number;
  ipv6Only?: boolean;
  sockets?: TcpSocketFactories;
  /** The transport's name in connection ids and errors: `tcp`, or `tls` over TLS sockets. */
  name?: 'tcp' | 'tls';
}

export interface TcpTransportEvents {
  frame: [data: Buffer, connection: TcpConnectionInfo];
  /** The stream broke framing; the connection closes right after the listeners return. */
  framingError: [error: SipParseError, connection: TcpConnectionInfo, unframed: Buffer];
  connectionOpened: [connection: TcpConnectionInfo];
  connectionClosed: [connection: TcpConnectionInfo, reason: TcpCloseReason];
  socketError: [error: TransportError];
  /** A listener threw; the transport carried on. */
  internalError: [error: unknown];
}

export interface TcpCounters {
  bytesIn: number;
  bytesOut: number;
  connectionsAccepted: number;
  connectionsOpened: number;
  connectionsRefused: number;
  connectionsClosedIdle: number;
  framingErrors: number;
  pingsAnswered: number;
}

interface Connection {
  info: TcpConnectionInfo;
  key: string;
  socket: Socket;
  framer: StreamFramer;
  state: 'open' | 'closing' | 'closed';
  closeReason: TcpCloseReason | undefined;
  lastActivity: number;
  idleTimer: TimerHandle | undefined;
  lingerTimer: TimerHandle | undefined;
  /** A copy of the bytes the framer holds (a partial message), for answering a broken frame. */
  tail: Buffer;
  closed: Promise<void>;
  markClosed: () => void;
}

export function emptyTcpCounters(): TcpCounters {
  return { bytesIn: 0, bytesOut: 0, connectionsAccepted: 0, connectionsOpened: 0, connectionsRefused: 0, connectionsClosedIdle: 0, framingErrors: 0, pingsAnswered: 0 };
}

const EMPTY = Buffer.alloc(0);
/** RFC 5626 §3.5.1: a double-CRLF ping is answered with a single CRLF pong. */
const PONG = Buffer.from('\r\n');
/** How long a connection we ended may wait for the peer's FIN before it is destroyed. */
const LINGER_MS = 5000;

export class TcpTransport extends EventEmitter<TcpTransportEvents> {
  readonly counters: TcpCounters = emptyTcpCounters();

  private readonly clock: Clock;
  private readonly limits: { maxMessageSize: number; maxHeaders: number };
  private readonly maxConnections: number;
  private readonly maxBufferedBytes: number;
  private readonly idleTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly ipv6Only: boolean;
  private readonly sockets: TcpSocketFactories;
  readonly name: 'tcp' | 'tls';

  private server: Server | undefined;
  private bound: AddressInfo | undefined;
  private closing = false;
  private nextId = 1;
  private readonly connections = new Map<string, Connection>();
  /** The open connection to reuse for a remote address and port. */
  private readonly byEndpoint = new Map<string, Connection>();
  private readonly connecting = new Map<string, Promise<Connection>>();
  private readonly pendingSockets = new Set<Socket>();

  constructor(options: TcpTransportOptions = {}) {
    super();
    this.clock = options.clock ?? systemClock;
    this.limits = { maxMessageSize: options.maxMessageSize ?? 65536, maxHeaders: options.maxHeaders ?? 256 };
    this.maxConnections = options.maxConnections ?? 1024;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 2 * this.limits.maxMessageSize;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.ipv6Only = options.ipv6Only ?? false;
    this.sockets = options.sockets ?? nodeTcpSocketFactories;
    this.name = options.name ?? 'tcp';
  }

  get local(): { address: string; port: number } | undefined {
    return this.bound && { address: this.bound.address, port: this.bound.port };
  }

  /** Connections not yet closed, inbound and outbound. */
  get openConnections(): number {
    return this.connections.size;
  }

  isConnectionOpen(id: string): boolean {
    return this.connections.get(id)?.state === 'open';
  }

  connectionInfo(id: string): TcpConnectionInfo | undefined {
    const connection = this.connections.get(id);
    return connection?.state === 'open' ? connection.info : undefined;
  }

  listen(host: string, port: number): Promise<{ address: string; port: number }> {
    if (this.server) return Promise.reject(new TransportError('SOCKET_ERROR', `${this.name.toUpperCase()} transport is already listening`));
    this.closing = false;
    const server = this.sockets.createServer();
    this.server = server;
    const context = { transport: this.name, address: host, port };
    return new Promise((resolve, reject) => {
      let listening = false;
      server.on(this.sockets.acceptEvent ?? 'connection', (socket: Socket) => this.accept(socket));
      // A TLS handshake that fails (a bad certificate, a scanner) ends that socket only.
      server.on('tlsClientError', (error: Error) => this.emit('socketError', toTransportError(error, 'TLS handshake', { transport: this.name })));
      server.on('error', (error) => {
        if (!listening) {
          this.server = undefined;
          server.close(() => undefined);
          reject(toTransportError(error, 'listening on', context));
          return;
        }
        this.emit('socketError', toTransportError(error, `${this.name.toUpperCase()} server`, { transport: this.name }));
      });
      server.listen({ host, port, exclusive: true, ipv6Only: this.ipv6Only && isIP(host) === 6 }, () => {
        listening = true;
        this.bound = server.address() as AddressInfo;
        resolve({ address: this.bound.address, port: this.bound.port });
      });
    });
  }

  /**
   * Writes one message: on `connectionId` when that connection is still open, else on an open
   * connection to the same address and port, else on a new one (RFC 3261 §18.1.1, §18.2.2).
   * Resolves with the connection used once the bytes are handed to the kernel.
   */
  send(data: Buffer, destination: { address: string; port: number; connectionId?: string; servername?: string }): Promise<TcpConnectionInfo> {
    // An open connection is written to synchronously, so that an answer written from a
    // framingError listener goes out before the connection is ended.
    const open = this.openConnectionFor(destination);
    if (open) return this.write(open, data).then(() => open.info);
    return this.connectionFor(destination).then((connection) => this.write(connection, data).then(() => connection.info));
  }

  /** Ends one connection (after flushing what was written to it). */
  closeConnection(id: string): void {
    const connection = this.connections.get(id);
    if (connection) this.end(connection, 'local');
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const socket of this.pendingSockets) socket.destroy();
    this.pendingSockets.clear();
    const closed: Promise<void>[] = [];
    for (const connection of this.connections.values()) {
      if (connection.state === 'open') connection.closeReason = 'shutdown';
      connection.state = 'closing';
      this.clock.cancel(connection.idleTimer);
      this.clock.cancel(connection.lingerTimer);
      connection.socket.destroy();
      closed.push(connection.closed);
    }
    this.byEndpoint.clear();
    const server = this.server;
    this.server = undefined;
    this.bound = undefined;
    if (server) closed.push(new Promise((resolve) => server.close(() => resolve())));
    await Promise.all(closed);
  }

  // ---- connections ----------------------------------------------------------------------

  private accept(socket: Socket): void {
    const address = socket.remoteAddress;
    const port = socket.remotePort;
    if (this.closing || this.connections.size + this.connecting.size >= this.maxConnections || address === undefined || port === undefined) {
      this.counters.connectionsRefused++;
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    this.counters.connectionsAccepted++;
    this.register(socket, 'inbound', address, port);
  }

  private openConnectionFor(destination: { address: string; port: number; connectionId?: string }): Connection | undefined {
    if (destination.connectionId !== undefined) {
      const connection = this.connections.get(destination.connectionId);
      if (connection?.state === 'open') return connection;
    }
    const existing = this.byEndpoint.get(endpointKey(destination.address, destination.port));
    return existing?.state === 'open' ? existing : undefined;
  }

  private connectionFor(destination: { address: string; port: number; connectionId?: string; servername?: string }): Promise<Connection> {
    const context = { transport: this.name, address: destination.address, port: destination.port };
    if (this.closing || !this.server) return Promise.reject(new TransportError('NOT_LISTENING', `${this.name.toUpperCase()} transport is not listening`, context));
    if (isIP(normalizeAddress(destination.address)) === 0) {
      return Promise.reject(new TransportError('INVALID_DESTINATION', `not an IP address: ${destination.address}`, context));
    }
    const key = endpointKey(destination.address, destination.port);
    // Requests sent while the connection is being set up share it.
    const pending = this.connecting.get(key);
    if (pending) return pending;
    if (this.connections.size + this.connecting.size >= this.maxConnections) {
      return Promise.reject(new TransportError('TOO_MANY_CONNECTIONS', `${this.maxConnections} TCP connections are open`, context));
    }
    const opening = this.open(destination.address, destination.port, key, destination.servername).finally(() => this.connecting.delete(key));
    this.connecting.set(key, opening);
    return opening;
  }

  private open(address: string, port: number, key: string, servername?: string): Promise<Connection> {
    const context = { transport: this.name, address, port };
    return new Promise((resolve, reject) => {
      let socket: Socket;
      try {
        socket = this.sockets.connect({ host: normalizeAddress(address), port, ...(servername !== undefined ? { servername } : {}) });
      } catch (error) {
        reject(toTransportError(error, 'connecting to', context));
        return;
      }
      this.pendingSockets.add(socket);
      let settled = false;
      const fail = (error: TransportError): void => {
        if (settled) return;
        settled = true;
        this.clock.cancel(timer);
        this.pendingSockets.delete(socket);
        socket.destroy();
        reject(error);
      };
      const timer = this.clock.setTimer(this.connectTimeoutMs, () => {
        fail(new TransportError('CONNECT_TIMEOUT', `connecting to ${describeEndpoint(context)} timed out after ${this.connectTimeoutMs} ms`, context));
      });
      socket.on('error', (error) => fail(toTransportError(error, 'connecting to', context)));
      socket.once('close', () => fail(new TransportError('CONNECTION_CLOSED', `connection to ${describeEndpoint(context)} closed while connecting`, context)));
      socket.once(this.sockets.connectEvent ?? 'connect', () => {
        if (settled) return;
        if (this.closing) {
          fail(new TransportError('NOT_LISTENING', `${this.name.toUpperCase()} transport closed while connecting`, context));
          return;
        }
        settled = true;
        this.clock.cancel(timer);
        this.pendingSockets.delete(socket);
        this.counters.connectionsOpened++;
        resolve(this.register(socket, 'outbound', address, port, key));
      });
    });
  }

  private register(socket: Socket, direction: 'inbound' | 'outbound', address: string, port: number, key = endpointKey(address, port)): Connection {
    let markClosed!: () => void;
    const closed = new Promise<void>((resolve) => (markClosed = resolve));
    const connection: Connection = {
      info: { id: `${this.name}-${this.nextId++}`, remoteAddress: normalizeAddress(address), remotePort: port, direction },
      key,
      socket,
      framer: new StreamFramer(this.limits),
      state: 'open',
      closeReason: undefined,
      lastActivity: this.clock.now(),
      idleTimer: undefined,
      lingerTimer: undefined,
      tail: EMPTY,
      closed,
      markClosed,
    };
    socket.setNoDelay(true);
    this.connections.set(connection.info.id, connection);
    this.byEndpoint.set(key, connection);
    socket.on('data', (chunk: Buffer) => this.receive(connection, chunk));
    socket.on('error', () => {
      if (connection.state === 'open') connection.closeReason = 'error';
    });
    socket.on('close', () => this.closed(connection));
    this.armIdleTimer(connection, this.idleTimeoutMs);
    this.dispatch(() => this.emit('connectionOpened', connection.info));
    return connection;
  }

  private write(connection: Connection, data: Buffer): Promise<void> {
    const { info } = connection;
    const context = { transport: this.name, address: info.remoteAddress, port: info.remotePort, connectionId: info.id };
    if (connection.state !== 'open' || connection.socket.destroyed) {
      return Promise.reject(new TransportError('CONNECTION_CLOSED', `connection ${info.id} is closed`, context));
    }
    // A peer that does not read must not make us hold an unbounded backlog.
    if (connection.socket.writableLength + data.length > this.maxBufferedBytes) {
      return Promise.reject(new TransportError('BUFFER_FULL', `connection ${info.id} has ${connection.socket.writableLength} bytes unsent`, context));
    }
    connection.lastActivity = this.clock.now();
    this.counters.bytesOut += data.length;
    return new Promise((resolve, reject) => {
      connection.socket.write(data, (error) => {
        if (error) reject(toTransportError(error, 'writing to', context));
        else resolve();
      });
    });
  }

  private receive(connection: Connection, chunk: Buffer): void {
    if (connection.state !== 'open') return;
    connection.lastActivity = this.clock.now();
    this.counters.bytesIn += chunk.length;
    const framed = connection.framer.push(chunk);
    if (!framed.error) connection.tail = this.keepTail(connection, chunk);
    for (let i = 0; i < framed.pings; i++) {
      this.counters.pingsAnswered++;
      this.write(connection, PONG).catch(() => undefined);
    }
    for (const message of framed.messages) {
      if (connection.state !== 'open') return;
      this.dispatch(() => this.emit('frame', message, connection.info));
    }
    if (framed.error) {
      this.brokenFrame(connection, framed.error, framed.unframed!);
      return;
    }
    if (connection.framer.buffered > this.maxBufferedBytes) {
      const error = new SipParseError('TOO_LARGE', `more than ${this.maxBufferedBytes} bytes buffered for one message`, undefined, 513);
      this.brokenFrame(connection, error, connection.tail);
    }
  }

  /** The framer holds a suffix of what it was fed; keep the same bytes. */
  private keepTail(connection: Connection, chunk: Buffer): Buffer {
    const held = connection.framer.buffered;
    if (held === 0) return EMPTY;
    if (held <= chunk.length) return chunk.subarray(chunk.length - held);
    const joined = Buffer.concat([connection.tail, chunk]);
    return joined.subarray(joined.length - held);
  }

  private brokenFrame(connection: Connection, error: SipParseError, unframed: Buffer): void {
    connection.tail = EMPTY;
    this.counters.framingErrors++;
    // Listeners may answer on this connection (a 400 or 513) before it closes: a stream whose
    // framing is lost cannot be resynchronised (RFC 3261 §18.3), so it is not read any further.
    this.dispatch(() => this.emit('framingError', error, connection.info, unframed));
    this.end(connection, 'framing');
  }

  private end(connection: Connection, reason: TcpCloseReason): void {
    if (connection.state !== 'open') return;
    connection.state = 'closing';
    connection.closeReason = reason;
    if (this.byEndpoint.get(connection.key) === connection) this.byEndpoint.delete(connection.key);
    this.clock.cancel(connection.idleTimer);
    connection.socket.end();
    connection.lingerTimer = this.clock.setTimer(LINGER_MS, () => connection.socket.destroy());
  }

  private closed(connection: Connection): void {
    if (connection.state === 'closed') return;
    const reason = connection.closeReason ?? 'peer';
    connection.state = 'closed';
    this.clock.cancel(connection.idleTimer);
    this.clock.cancel(connection.lingerTimer);
    this.connections.delete(connection.info.id);
    if (this.byEndpoint.get(connection.key) === connection) this.byEndpoint.delete(connection.key);
    connection.markClosed();
    this.dispatch(() => this.emit('connectionClosed', connection.info, reason));
  }

  private armIdleTimer(connection: Connection, delay: number): void {
    if (!(this.idleTimeoutMs > 0) || !Number.isFinite(this.idleTimeoutMs)) return;
    connection.idleTimer = this.clock.setTimer(delay, () => {
      if (connection.state !== 'open') return;
      const idleFor = this.clock.now() - connection.lastActivity;
      if (idleFor >= this.idleTimeoutMs) {
        this.counters.connectionsClosedIdle++;
        this.end(connection, 'idle');
      } else {
        this.armIdleTimer(connection, this.idleTimeoutMs - idleFor);
      }
    });
  }

  /** Runs a listener call so that nothing a listener throws reaches the socket's event loop. */
  private dispatch(call: () => void): void {
    try {
      call();
    } catch (error) {
      try {
        this.emit('internalError', error);
      } catch {
        // An internalError listener that throws has nowhere left to report to.
      }
    }
  }
}
