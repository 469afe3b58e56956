// The UDP transport against a fake socket: failures the kernel reports are hard to provoke on
// loopback, and a fake shows exactly what reaches the caller.
import assert from 'node:assert/strict';
import type { RemoteInfo } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { parseMessage, type SipRequest } from '../../../src/sip/message/index.js';
import {
  TransportError,
  TransportLayer,
  type InboundMessage,
  type TransportErrorEvent,
  type UdpSocket,
} from '../../../src/sip/transport/index.js';
import { nextEvent, requestText } from './helpers.js';

class FakeUdpSocket extends EventEmitter implements UdpSocket {
  readonly sent: { data: Buffer; port: number; address: string }[] = [];
  /** The error the next send reports, as the kernel would through the callback. */
  failNextSend: Error | undefined;
  bound: { address: string; port: number } | undefined;
  closed = false;

  constructor(readonly type: 'udp4' | 'udp6') {
    super();
  }

  bind(options: { port: number; address: string }): void {
    this.bound = { address: options.address, port: options.port || 40000 };
    queueMicrotask(() => this.emit('listening'));
  }

  send(data: Buffer, port: number, address: string, callback: (error: Error | null) => void): void {
    const failure = this.failNextSend;
    this.failNextSend = undefined;
    if (!failure) this.sent.push({ data, port, address });
    queueMicrotask(() => callback(failure ?? null));
  }

  close(callback?: () => void): void {
    this.closed = true;
    queueMicrotask(() => callback?.());
  }

  address(): { address: string; port: number } {
    return this.bound!;
  }

  deliver(text: string, address: string, port: number): void {
    const remote: RemoteInfo = { address, port, family: address.includes(':') ? 'IPv6' : 'IPv4', size: text.length };
    this.emit('message', Buffer.from(text), remote);
  }
}

function errno(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

async function fakeLayer(host = '0.0.0.0'): Promise<{ layer: TransportLayer; socket: FakeUdpSocket }> {
  let socket: FakeUdpSocket | undefined;
  const layer = new TransportLayer({
    host,
    port: 5060,
    publicHost: 'sip.example.net',
    transports: ['udp'],
    sockets: { createUdpSocket: (type) => (socket = new FakeUdpSocket(type)) },
  });
  await layer.listen();
  return { layer, socket: socket! };
}

describe('UDP transport with a fake socket', () => {
  it('rejects a failed send with a typed TransportError and emits transportError', async () => {
    const { layer, socket } = await fakeLayer();
    const events: TransportErrorEvent[] = [];
    layer.on('transportError', (event) => events.push(event));
    const request = parseMessage(Buffer.from(requestText())) as SipRequest;
    const destination = { transport: 'udp' as const, address: '192.0.2.99', port: 5060 };

    for (const [code, expected] of [
      ['EHOSTUNREACH', 'HOST_UNREACHABLE'],
      ['ENETUNREACH', 'NETWORK_UNREACHABLE'],
      ['ECONNREFUSED', 'CONNECTION_REFUSED'],
      ['EMSGSIZE', 'MESSAGE_TOO_LARGE'],
    ] as const) {
      socket.failNextSend = errno(code, `send ${code} 192.0.2.99:5060`);
      await assert.rejects(layer.send(request, destination), (error: unknown) => {
        assert.ok(error instanceof TransportError);
        assert.equal(error.code, expected);
        assert.equal(error.errno, code);
        assert.deepEqual(error.context, destination);
        return true;
      });
    }
    assert.deepEqual(events.map((e) => [e.error.code, e.destination?.address]), [
      ['HOST_UNREACHABLE', '192.0.2.99'],
      ['NETWORK_UNREACHABLE', '192.0.2.99'],
      ['CONNECTION_REFUSED', '192.0.2.99'],
      ['MESSAGE_TOO_LARGE', '192.0.2.99'],
    ]);
    assert.equal(socket.sent.length, 0);
    await layer.close();
    assert.equal(socket.closed, true);
  });

  it('reports an ICMP error the socket raises as a transportError event, and carries on', async () => {
    const { layer, socket } = await fakeLayer();
    const reported = nextEvent<[TransportErrorEvent]>(layer, 'transportError');
    socket.emit('error', errno('ECONNREFUSED', 'recvmsg ECONNREFUSED'));
    const [{ error, destination }] = await reported;
    assert.equal(error.code, 'CONNECTION_REFUSED');
    assert.equal(destination, undefined);
    const arrived = nextEvent<[InboundMessage]>(layer, 'message');
    socket.deliver(requestText({ viaHost: '192.0.2.7', rport: true }), '192.0.2.7', 5062);
    assert.equal((await arrived)[0].message.topVia.rport, 5062);
    await layer.close();
  });

  it('reports IPv4 peers of a dual-stack socket by their IPv4 address and answers them mapped', async () => {
    const { layer, socket } = await fakeLayer('::');
    assert.equal(socket.type, 'udp6');
    const arrived = nextEvent<[InboundMessage]>(layer, 'message');
    socket.deliver(requestText({ viaHost: '192.0.2.7' }), '::ffff:192.0.2.7', 5060);
    const [{ message, source }] = await arrived;
    assert.deepEqual(source, { transport: 'udp', address: '192.0.2.7', port: 5060 });
    assert.equal(message.topVia.received, undefined, 'the sent-by is the same address');
    await layer.send(message, { transport: 'udp', address: '192.0.2.7', port: 5060 });
    assert.equal(socket.sent[0]!.address, '::ffff:192.0.2.7');
    await layer.close();
  });

  it('answers malformed requests to the source address and port, never to the Via', async () => {
    const { layer, socket } = await fakeLayer();
    const malformed = nextEvent(layer, 'malformed');
    socket.deliver(requestText({ viaHost: '198.51.100.1', viaPort: 5080, callId: 'bad' }).replace('CSeq: 1 OPTIONS', 'CSeq: 1 INVITE'), '192.0.2.7', 40001);
    await malformed;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(socket.sent.length, 1);
    assert.equal(socket.sent[0]!.address, '192.0.2.7');
    assert.equal(socket.sent[0]!.port, 40001);
    assert.match(socket.sent[0]!.data.toString(), /^SIP\/2\.0 400 Bad Request \(CSeq method INVITE differs from OPTIONS\)\r\n/);
    await layer.close();
  });

  it('never answers a malformed ACK', async () => {
    const { layer, socket } = await fakeLayer();
    const malformed = nextEvent(layer, 'malformed');
    socket.deliver(requestText({ method: 'ACK' }).replace('ACK sip:service@127.0.0.1 SIP/2.0', 'ACK <sip:service@127.0.0.1> SIP/2.0'), '192.0.2.7', 5060);
    await malformed;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(socket.sent.length, 0);
    await layer.close();
  });

  it('counts a listener that throws as an internal error and keeps receiving', async () => {
    const { layer, socket } = await fakeLayer();
    const internal = nextEvent(layer, 'internalError');
    layer.once('message', () => {
      throw new Error('listener bug');
    });
    socket.deliver(requestText(), '192.0.2.7', 5060);
    await internal;
    const arrived = nextEvent<[InboundMessage]>(layer, 'message');
    socket.deliver(requestText({ callId: 'next' }), '192.0.2.7', 5060);
    assert.equal((await arrived)[0].message.callId, 'next');
    assert.equal(layer.stats().internalErrors, 1);
    await layer.close();
  });
});
