import assert from 'node:assert/strict';
import { Server, Socket } from 'node:net';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../src/sip/clock.js';
import { SipRequest, createResponse, parseMessage, type SipResponse } from '../../../src/sip/message/index.js';
import { TransportError, type InboundMessage, type MalformedMessage, type TcpConnectionInfo } from '../../../src/sip/transport/index.js';
import { TcpPeer, TcpServerPeer, countMessages, delay, nextEvent, requestText, startLayer, until } from './helpers.js';

function collect(layer: NodeJS.EventEmitter): InboundMessage[] {
  const messages: InboundMessage[] = [];
  layer.on('message', (event: InboundMessage) => messages.push(event));
  return messages;
}

for (const host of ['127.0.0.1', '::1']) {
  describe(`TCP on ${host}`, () => {
    it('delivers a request with its connection and answers on that connection (RFC 3261 §18.2.2)', async (t) => {
      const { layer, port } = await startLayer(t, { host });
      const client = await TcpPeer.connect(t, port, host);
      const arrived = nextEvent<[InboundMessage]>(layer, 'message');
      await client.write(requestText({ transport: 'TCP', callId: 'tcp-round-trip', viaHost: 'client.invalid', rport: true }));
      const [{ message, source, connectionId }] = await arrived;

      assert.ok(message instanceof SipRequest);
      assert.deepEqual(source, { transport: 'tcp', address: host, port: client.socket.localPort });
      assert.ok(connectionId);
      assert.equal(message.topVia.received, host);
      assert.equal(message.topVia.rport, client.socket.localPort);

      const target = layer.responseTargetFor(message, connectionId);
      assert.equal(target.connectionId, connectionId);
      const result = await layer.send(createResponse(message, 200, 'OK', 'tag1'), target);
      assert.equal(result.connectionId, connectionId);
      await client.waitFor((text) => text.includes('\r\n\r\n'), 'the response');
      const response = parseMessage(client.data) as SipResponse;
      assert.equal(response.status, 200);
      assert.equal(response.callId, 'tcp-round-trip');

      const stats = layer.stats();
      assert.equal(stats.tcp.messagesIn, 1);
      assert.equal(stats.tcp.messagesOut, 1);
      assert.equal(stats.tcp.connectionsOpen, 1);
      assert.equal(stats.tcp.connectionsAccepted, 1);
    });

    it('opens one connection for many requests and reads the responses from it', async (t) => {
      const { layer } = await startLayer(t, { host });
      const peer = await TcpServerPeer.open(t, host);
      const requests = Array.from({ length: 5 }, (_, i) => parseMessage(Buffer.from(requestText({ transport: 'TCP', cseq: i + 1 }))) as SipRequest);
      // Sent together: the ones that find the connection still being set up wait for it.
      const results = await Promise.all(requests.map((r) => layer.send(r, { transport: 'tcp', address: host, port: peer.port })));
      assert.equal(new Set(results.map((r) => r.connectionId)).size, 1);
      await layer.send(requests[0]!, { transport: 'tcp', address: host, port: peer.port });
      await until(() => countMessages(peer.text(), /^OPTIONS /) === 6, 'six requests');
      assert.equal(peer.connections.length, 1);
      assert.equal(layer.stats().tcp.connectionsOpened, 1);
    });
  });
}

describe('TCP framing (RFC 3261 §18.3)', () => {
  it('reassembles a message split across many small chunks', async (t) => {
    const { layer, port } = await startLayer(t);
    const messages = collect(layer);
    const client = await TcpPeer.connect(t, port);
    client.socket.setNoDelay(true);
    const bytes = Buffer.from(requestText({ transport: 'TCP', callId: 'split', body: 'hello body' }));
    for (let i = 0; i < bytes.length; i += 7) {
      await client.write(bytes.subarray(i, i + 7));
      if (i % 70 === 0) await delay(1);
    }
    await until(() => messages.length === 1, 'the split message');
    assert.equal(messages[0]!.message.callId, 'split');
    assert.equal(messages[0]!.message.body.toString(), 'hello body');
  });

  it('cuts several messages out of one chunk, in order', async (t) => {
    const { layer, port } = await startLayer(t);
    const messages = collect(layer);
    const client = await TcpPeer.connect(t, port);
    await client.write(['a', 'b', 'c'].map((id) => requestText({ transport: 'TCP', callId: id, body: `body-${id}` })).join(''));
    await until(() => messages.length === 3, 'three messages');
    assert.deepEqual(messages.map((m) => m.message.callId), ['a', 'b', 'c']);
    assert.deepEqual(messages.map((m) => m.message.body.toString()), ['body-a', 'body-b', 'body-c']);
    assert.equal(new Set(messages.map((m) => m.connectionId)).size, 1);
  });

  it('answers a double-CRLF keep-alive ping with a single CRLF (RFC 5626 §3.5.1)', async (t) => {
    const { layer, port } = await startLayer(t);
    const client = await TcpPeer.connect(t, port);
    await client.write('\r\n\r\n');
    await client.waitFor((text) => text === '\r\n', 'the pong');
    await delay(20);
    assert.equal(client.text(), '\r\n');
    assert.equal(layer.stats().tcp.pingsAnswered, 1);
  });
});

describe('TCP connections', () => {
  it('closes a connection after the idle time, not before, and activity postpones it', async (t) => {
    const clock = new ManualClock();
    const { layer, port } = await startLayer(t, { clock, idleTimeoutMs: 60_000 });
    const closedEvent = nextEvent<[TcpConnectionInfo, string]>(layer, 'connectionClosed');
    const client = await TcpPeer.connect(t, port);
    await until(() => layer.stats().tcp.connectionsOpen === 1, 'the accepted connection');

    clock.advance(30_000);
    const arrived = nextEvent(layer, 'message');
    await client.write(requestText({ transport: 'TCP' }));
    await arrived;
    clock.advance(59_999);
    await delay(20);
    assert.equal(client.ended, false, 'traffic 59.999 s ago keeps it open');
    clock.advance(1);
    await client.closed;
    const [, reason] = await closedEvent;
    assert.equal(reason, 'idle');
    assert.equal(layer.stats().tcp.connectionsClosedIdle, 1);
    assert.equal(layer.stats().tcp.connectionsOpen, 0);
  });

  it('opens a new connection once the previous one was closed by the peer', async (t) => {
    const { layer } = await startLayer(t);
    const peer = await TcpServerPeer.open(t);
    const request = parseMessage(Buffer.from(requestText({ transport: 'TCP' }))) as SipRequest;
    const first = await layer.send(request, { transport: 'tcp', address: '127.0.0.1', port: peer.port });
    await until(() => peer.connections.length === 1, 'the first connection');
    const closed = nextEvent<[TcpConnectionInfo, string]>(layer, 'connectionClosed');
    peer.connections[0]!.socket.end();
    const [info, reason] = await closed;
    assert.equal(info.id, first.connectionId);
    assert.equal(reason, 'peer');
    assert.equal(layer.isConnectionOpen(first.connectionId!), false);
    const second = await layer.send(request, { transport: 'tcp', address: '127.0.0.1', port: peer.port, connectionId: first.connectionId });
    assert.notEqual(second.connectionId, first.connectionId);
    await until(() => peer.connections.length === 2, 'the second connection');
  });

  it('rejects with CONNECTION_REFUSED when nothing listens, and stays up', async (t) => {
    const { layer } = await startLayer(t);
    // A port that was just listening and no longer is refuses connections.
    const server = await TcpServerPeer.open(t);
    const port = server.port;
    await new Promise<void>((resolve) => server.server.close(() => resolve()));
    const request = parseMessage(Buffer.from(requestText({ transport: 'TCP' }))) as SipRequest;
    await assert.rejects(layer.send(request, { transport: 'tcp', address: '127.0.0.1', port }), (error: unknown) => {
      assert.ok(error instanceof TransportError);
      assert.equal(error.code, 'CONNECTION_REFUSED');
      assert.equal(error.errno, 'ECONNREFUSED');
      assert.deepEqual(error.context, { transport: 'tcp', address: '127.0.0.1', port });
      return true;
    });
    assert.deepEqual(layer.stats().sendErrors, { CONNECTION_REFUSED: 1 });
    assert.equal(layer.stats().tcp.connectionsOpen, 0);
  });

  it('gives up connecting after the connect timeout', async (t) => {
    const clock = new ManualClock();
    const stalled: Socket[] = [];
    const { layer } = await startLayer(t, {
      clock,
      connectTimeoutMs: 5000,
      transports: ['tcp'],
      sockets: {
        tcp: {
          createServer: () => new Server(),
          connect: () => {
            // A socket that never connects, as towards a host that drops SYNs.
            const socket = new Socket();
            stalled.push(socket);
            return socket;
          },
        },
      },
    });
    const request = parseMessage(Buffer.from(requestText({ transport: 'TCP' }))) as SipRequest;
    let settled = false;
    const sending = layer.send(request, { transport: 'tcp', address: '127.0.0.1', port: 9 });
    sending.then(() => (settled = true), () => (settled = true));
    clock.advance(4999);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'still connecting after 4.999 s');
    clock.advance(1);
    await assert.rejects(sending, { name: 'TransportError', code: 'CONNECT_TIMEOUT' });
    assert.equal(stalled.length, 1);
    assert.equal(stalled[0]!.destroyed, true);
  });

  it('refuses connections beyond the limit', async (t) => {
    const { layer, port } = await startLayer(t, { maxConnections: 2 });
    await TcpPeer.connect(t, port);
    await TcpPeer.connect(t, port);
    await until(() => layer.stats().tcp.connectionsOpen === 2, 'two connections');
    const third = await TcpPeer.connect(t, port);
    await third.closed;
    assert.equal(layer.stats().tcp.connectionsRefused, 1);
    const peer = await TcpServerPeer.open(t);
    const request = parseMessage(Buffer.from(requestText({ transport: 'TCP' }))) as SipRequest;
    await assert.rejects(layer.send(request, { transport: 'tcp', address: '127.0.0.1', port: peer.port }), { code: 'TOO_MANY_CONNECTIONS' });
  });
});

describe('TCP limits', () => {
  it('answers 513 to a message over the size limit and closes the connection', async (t) => {
    const { layer, port } = await startLayer(t, { maxMessageSize: 2000 });
    const malformed = nextEvent<[MalformedMessage]>(layer, 'malformed');
    const client = await TcpPeer.connect(t, port);
    await client.write(requestText({ transport: 'TCP', callId: 'too-big', body: 'b'.repeat(5000) }));
    const [event] = await malformed;
    assert.equal(event.error.code, 'TOO_LARGE');
    assert.equal(event.answeredWith, 513);
    await client.closed;
    const response = parseMessage(client.data) as SipResponse;
    assert.equal(response.status, 513);
    assert.equal(response.reason, 'Message Too Large');
    assert.equal(response.callId, 'too-big');
    assert.deepEqual(layer.stats().malformed, { TOO_LARGE: 1 });
  });

  it('closes a connection whose header section never ends', async (t) => {
    const { layer, port } = await startLayer(t, { maxMessageSize: 1000 });
    const client = await TcpPeer.connect(t, port);
    await client.write(`OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n${'X-Filler: aaaaaaaaaaaaaaaaaaaa\r\n'.repeat(60)}`);
    await client.closed;
    assert.equal(layer.stats().tcp.framingErrors, 1);
  });

  it('closes a connection with a negative Content-Length after answering 400', async (t) => {
    const { layer, port } = await startLayer(t);
    const client = await TcpPeer.connect(t, port);
    await client.write(requestText({ transport: 'TCP', callId: 'neg' }).replace('Content-Length: 0', 'Content-Length: -5'));
    await client.closed;
    const response = parseMessage(client.data) as SipResponse;
    assert.equal(response.status, 400);
    assert.match(response.reason, /^Bad Request \(.*Content-Length.*\)$/);
    await until(() => layer.stats().tcp.connectionsOpen === 0, 'the connection to close on our side');
  });

  it('answers 400 to too many header lines and keeps the connection', async (t) => {
    const { layer, port } = await startLayer(t, { maxHeaders: 20 });
    const messages = collect(layer);
    const client = await TcpPeer.connect(t, port);
    const extra = Array.from({ length: 30 }, (_, i) => `X-Extra-${i}: ${i}`);
    await client.write(requestText({ transport: 'TCP', callId: 'many', extraHeaders: extra }));
    await client.waitFor((text) => text.includes('\r\n\r\n'), 'the 400');
    const response = parseMessage(client.data) as SipResponse;
    assert.equal(response.status, 400);
    assert.match(response.reason, /more than 20 header lines/);
    assert.equal(response.callId, 'many');
    await client.write(requestText({ transport: 'TCP', callId: 'after' }));
    await until(() => messages.length === 1, 'the next request on the same connection');
    assert.equal(messages[0]!.message.callId, 'after');
  });
});
