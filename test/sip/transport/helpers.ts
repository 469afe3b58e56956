// Loopback peers and small waiting helpers for the transport tests. Every socket made here is
// closed by the test context that asked for it.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import type { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { TransportLayer, type TransportLayerOptions } from '../../../src/sip/transport/index.js';

export const TORTURE_DIR = new URL('../../../../shared/sip-torture/', import.meta.url).pathname;

export function torture(name: string): Buffer {
  return readFileSync(join(TORTURE_DIR, name));
}

export async function startLayer(t: TestContext, options: TransportLayerOptions = {}): Promise<{ layer: TransportLayer; port: number }> {
  const layer = new TransportLayer({ host: '127.0.0.1', port: 0, ...options });
  t.after(() => layer.close());
  const { port } = await layer.listen();
  return { layer, port };
}

/** Resolves with the arguments of the next `event`, or rejects after `timeoutMs`. */
export function nextEvent<T extends unknown[] = unknown[]>(emitter: EventEmitter, event: string, timeoutMs = 2000): Promise<T> {
  return new Promise((resolve, reject) => {
    const listener = (...args: unknown[]): void => {
      clearTimeout(timer);
      resolve(args as T);
    };
    const timer = setTimeout(() => {
      emitter.removeListener(event, listener);
      reject(new Error(`no ${event} event within ${timeoutMs} ms`));
    }, timeoutMs);
    emitter.once(event, listener);
  });
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `condition` holds, or rejects after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

export interface RequestOptions {
  method?: string;
  uri?: string;
  transport?: string;
  viaHost?: string;
  viaPort?: number;
  rport?: boolean;
  branch?: string;
  callId?: string;
  cseq?: number;
  body?: string;
  extraHeaders?: string[];
}

export function requestText(options: RequestOptions = {}): string {
  const method = options.method ?? 'OPTIONS';
  const sentBy = options.viaPort === undefined ? (options.viaHost ?? 'client.invalid') : `${options.viaHost ?? 'client.invalid'}:${options.viaPort}`;
  const body = options.body ?? '';
  return [
    `${method} ${options.uri ?? 'sip:service@127.0.0.1'} SIP/2.0`,
    `Via: SIP/2.0/${options.transport ?? 'UDP'} ${sentBy};branch=${options.branch ?? 'z9hG4bK' + Math.random().toString(36).slice(2)}${options.rport ? ';rport' : ''}`,
    'Max-Forwards: 70',
    'From: <sip:alice@client.invalid>;tag=from1',
    'To: <sip:service@127.0.0.1>',
    `Call-ID: ${options.callId ?? 'call-' + Math.random().toString(36).slice(2)}`,
    `CSeq: ${options.cseq ?? 1} ${method}`,
    ...(options.extraHeaders ?? []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

export function responseText(options: { status?: number; viaHost: string; viaPort: number; transport?: string; callId?: string }): string {
  return [
    `SIP/2.0 ${options.status ?? 200} OK`,
    `Via: SIP/2.0/${options.transport ?? 'UDP'} ${options.viaHost}:${options.viaPort};branch=z9hG4bKresp1;rport=5060;received=127.0.0.1`,
    'From: <sip:service@127.0.0.1>;tag=ours',
    'To: <sip:bob@client.invalid>;tag=theirs',
    `Call-ID: ${options.callId ?? 'resp-call'}`,
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** A plain UDP socket on loopback standing in for a SIP peer. */
export class UdpPeer {
  readonly received: Buffer[] = [];
  private waiters: ((data: Buffer) => void)[] = [];

  constructor(readonly socket: UdpSocket, readonly port: number) {
    socket.on('message', (data) => {
      const waiter = this.waiters.shift();
      if (waiter) waiter(data);
      else this.received.push(data);
    });
  }

  static async open(t: TestContext, host = '127.0.0.1', port = 0): Promise<UdpPeer> {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    t.after(() => new Promise<void>((resolve) => socket.close(() => resolve())));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => resolve());
    });
    return new UdpPeer(socket, socket.address().port);
  }

  send(data: string | Buffer, port: number, host = '127.0.0.1'): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(typeof data === 'string' ? Buffer.from(data) : data, port, host, (error) => (error ? reject(error) : resolve())));
  }

  next(timeoutMs = 2000): Promise<Buffer> {
    const queued = this.received.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const waiter = (data: Buffer): void => {
        clearTimeout(timer);
        resolve(data);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no datagram within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }
}

/** A TCP client connection that accumulates what it reads. */
export class TcpPeer {
  data = Buffer.alloc(0);
  ended = false;
  readonly closed: Promise<void>;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => (this.data = Buffer.concat([this.data, chunk])));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.ended = true;
      resolve();
    }));
  }

  static async connect(t: TestContext, port: number, host = '127.0.0.1'): Promise<TcpPeer> {
    const socket = connect({ port, host });
    const peer = new TcpPeer(socket);
    t.after(() => {
      socket.destroy();
      return peer.closed;
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    return peer;
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(data, (error) => (error ? reject(error) : resolve())));
  }

  text(): string {
    return this.data.toString('latin1');
  }

  waitFor(condition: (text: string) => boolean, what: string, timeoutMs = 2000): Promise<void> {
    return until(() => condition(this.text()), what, timeoutMs);
  }
}

/** A raw TCP server on loopback that records its connections and what each one sent. */
export class TcpServerPeer {
  constructor(
    readonly server: Server,
    readonly port: number,
    readonly connections: { socket: Socket; data: Buffer }[],
  ) {}

  static async open(t: TestContext, host = '127.0.0.1', port = 0): Promise<TcpServerPeer> {
    const connections: { socket: Socket; data: Buffer }[] = [];
    const sockets = new Set<Socket>();
    const server = createServer();
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
      const entry = { socket, data: Buffer.alloc(0) };
      connections.push(entry);
      socket.on('data', (chunk: Buffer) => (entry.data = Buffer.concat([entry.data, chunk])));
    });
    t.after(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address();
    return new TcpServerPeer(server, typeof address === 'object' && address ? address.port : 0, connections);
  }

  text(index = 0): string {
    return this.connections[index]?.data.toString('latin1') ?? '';
  }
}

/** How many complete SIP start lines a captured stream holds. */
export function countMessages(text: string, startLine: RegExp): number {
  return text.split('\r\n').filter((line) => startLine.test(line)).length;
}
