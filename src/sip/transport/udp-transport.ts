/**
 * The UDP transport (RFC 3261 §18): one socket, bound once, that hands datagrams up and sends
 * datagrams out. It knows nothing of SIP; the transport layer parses what it receives.
 */
import { createSocket, type RemoteInfo } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { ipFamily, normalizeAddress } from './address.js';
import { TransportError, toTransportError } from './transport-error.js';

/** The part of `dgram.Socket` used here, so that tests can hand in a fake. */
export interface UdpSocket {
  bind(options: { port: number; address: string; exclusive?: boolean }): unknown;
  send(data: Buffer, port: number, address: string, callback: (error: Error | null) => void): void;
  close(callback?: () => void): unknown;
  address(): { address: string; port: number };
  on(event: 'message', listener: (data: Buffer, remote: RemoteInfo) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'listening', listener: () => void): unknown;
}

export type CreateUdpSocket = (type: 'udp4' | 'udp6', ipv6Only: boolean) => UdpSocket;

/**
 * The receive buffer asked for: datagrams that arrive while the event loop is busy (a garbage
 * collection under twenty thousand calls takes 100 ms and more, and ~8,000 messages a second come
 * in at 500 calls a second) wait here; the default 208 KiB holds about 500 of them and the rest
 * are dropped, which the peers see as lost responses. Linux grants at most net.core.rmem_max
 * (see docs/operations.md).
 */
export const UDP_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

export const createNodeUdpSocket: CreateUdpSocket = (type, ipv6Only) =>
  createSocket({ type, ipv6Only: type === 'udp6' && ipv6Only, recvBufferSize: UDP_RECEIVE_BUFFER_BYTES });

export interface UdpTransportEvents {
  datagram: [data: Buffer, address: string, port: number];
  /** A failure the socket reported outside any send (on Linux, only ever a local one). */
  socketError: [error: TransportError];
}

export interface UdpTransportOptions {
  createSocket?: CreateUdpSocket;
  ipv6Only?: boolean;
}

export class UdpTransport extends EventEmitter<UdpTransportEvents> {
  private socket: UdpSocket | undefined;
  private bound: { address: string; port: number; family: 4 | 6 } | undefined;
  private readonly createSocket: CreateUdpSocket;
  private readonly ipv6Only: boolean;

  constructor(options: UdpTransportOptions = {}) {
    super();
    this.createSocket = options.createSocket ?? createNodeUdpSocket;
    this.ipv6Only = options.ipv6Only ?? false;
  }

  get local(): { address: string; port: number; family: 4 | 6 } | undefined {
    return this.bound;
  }

  /** Binds; resolves with the bound address and port (useful after binding port 0). */
  listen(host: string, port: number): Promise<{ address: string; port: number }> {
    if (this.socket) return Promise.reject(new TransportError('SOCKET_ERROR', 'UDP transport is already listening'));
    const family = ipFamily(host) === 6 ? 6 : 4;
    const socket = this.createSocket(family === 6 ? 'udp6' : 'udp4', this.ipv6Only);
    this.socket = socket;
    const context = { transport: 'udp' as const, address: host, port };
    return new Promise((resolve, reject) => {
      let binding = true;
      socket.on('error', (error) => {
        if (binding) {
          binding = false;
          this.socket = undefined;
          safeClose(socket);
          reject(toTransportError(error, 'binding', context));
          return;
        }
        this.emit('socketError', toTransportError(error, 'UDP socket', { transport: 'udp' }));
      });
      socket.on('listening', () => {
        binding = false;
        const address = socket.address();
        this.bound = { address: address.address, port: address.port, family };
        resolve({ address: address.address, port: address.port });
      });
      socket.on('message', (data, remote) => {
        this.emit('datagram', data, normalizeAddress(remote.address), remote.port);
      });
      try {
        socket.bind({ port, address: host, exclusive: true });
      } catch (error) {
        binding = false;
        this.socket = undefined;
        safeClose(socket);
        reject(toTransportError(error, 'binding', context));
      }
    });
  }

  /** Sends one datagram. Rejects with a TransportError; never throws. */
  send(data: Buffer, address: string, port: number): Promise<void> {
    const context = { transport: 'udp' as const, address, port };
    const socket = this.socket;
    if (!socket || !this.bound) return Promise.reject(new TransportError('NOT_LISTENING', 'UDP transport is not listening', context));
    const family = ipFamily(address);
    // No name resolution here: RFC 3263 lookups belong to the locator, before the transport.
    if (family === 0) return Promise.reject(new TransportError('INVALID_DESTINATION', `not an IP address: ${address}`, context));
    if (family === 6 && this.bound.family === 4) {
      return Promise.reject(new TransportError('INVALID_DESTINATION', `cannot reach IPv6 ${address} from an IPv4 socket`, context));
    }
    let target = normalizeAddress(address);
    // A dual-stack IPv6 socket reaches IPv4 peers through their mapped address.
    if (family === 4 && this.bound.family === 6) target = `::ffff:${target}`;
    return new Promise((resolve, reject) => {
      try {
        socket.send(data, port, target, (error) => {
          if (error) reject(toTransportError(error, 'sending', context));
          else resolve();
        });
      } catch (error) {
        reject(toTransportError(error, 'sending', context));
      }
    });
  }

  close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    this.bound = undefined;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => {
      try {
        socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}

function safeClose(socket: UdpSocket): void {
  try {
    socket.close();
  } catch {
    // Already closed: nothing is left to release.
  }
}
