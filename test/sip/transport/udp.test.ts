import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SipRequest, createResponse, parseMessage, type SipResponse } from '../../../src/sip/message/index.js';
import { TransportError, TransportLayer, type InboundMessage } from '../../../src/sip/transport/index.js';
import { TcpServerPeer, UdpPeer, nextEvent, requestText, responseText, startLayer, until } from './helpers.js';

for (const host of ['127.0.0.1', '::1']) {
  describe(`UDP on ${host}`, () => {
    it('delivers a request with its source and returns the response to the sender', async (t) => {
      const { layer, port } = await startLayer(t, { host });
      const client = await UdpPeer.open(t, host);
      const arrived = nextEvent<[InboundMessage]>(layer, 'message');
      await client.send(requestText({ callId: 'udp-round-trip', viaHost: 'client.invalid', rport: true }), port, host);
      const [{ message, source, connectionId, receivedAt }] = await arrived;

      assert.ok(message instanceof SipRequest);
      assert.equal(message.callId, 'udp-round-trip');
      assert.deepEqual(source, { transport: 'udp', address: host, port: client.port });
      assert.equal(connectionId, undefined);
      assert.equal(typeof receivedAt, 'number');

      const target = layer.responseTargetFor(message);
      assert.deepEqual(target, { transport: 'udp', address: host, port: client.port, needsResolution: false });
      const result = await layer.send(createResponse(message, 200, 'OK', 'tag1'), target);
      assert.equal(result.transport, 'udp');

      const datagram = await client.next();
      assert.deepEqual(result.raw, datagram, 'the send result carries the bytes sent (the SIP log uses them)');
      assert.equal(result.bytes, datagram.length);
      const response = parseMessage(datagram) as SipResponse;
      assert.equal(response.status, 200);
      assert.equal(response.callId, 'udp-round-trip');
      assert.equal(response.topVia.received, host);
      assert.equal(response.topVia.rport, client.port);

      const stats = layer.stats();
      assert.equal(stats.udp.messagesIn, 1);
      assert.equal(stats.udp.messagesOut, 1);
      assert.ok(stats.udp.bytesIn > 100 && stats.udp.bytesOut > 100);
    });
  });
}

describe('dual-stack bind on ::', () => {
  it('sees IPv4 peers by their IPv4 address and answers them over UDP and TCP', async (t) => {
    const { layer, port } = await startLayer(t, { host: '::' });
    const client = await UdpPeer.open(t, '127.0.0.1');
    const arrived = nextEvent<[InboundMessage]>(layer, 'message');
    await client.send(requestText({ viaHost: '127.0.0.1', viaPort: client.port }), port, '127.0.0.1');
    const [{ message, source }] = await arrived;
    assert.deepEqual(source, { transport: 'udp', address: '127.0.0.1', port: client.port });
    assert.equal(message.topVia.received, undefined);
    await layer.send(createResponse(message as SipRequest, 200, 'OK', 't'), layer.responseTargetFor(message as SipRequest));
    assert.equal((parseMessage(await client.next()) as SipResponse).status, 200);

    const peer = await TcpServerPeer.open(t, '127.0.0.1');
    const sent = await layer.send(message, { transport: 'tcp', address: '127.0.0.1', port: peer.port });
    assert.equal(sent.address, '127.0.0.1');
    await until(() => peer.text().startsWith('OPTIONS '), 'the request over TCP');
  });
});

describe('UDP receiving (RFC 3261 §18.2.1, RFC 3581 §4)', () => {
  it('fills a bare rport with the source port and adds received even when the host matches', async (t) => {
    const { layer, port } = await startLayer(t);
    const client = await UdpPeer.open(t);
    const arrived = nextEvent<[InboundMessage]>(layer, 'message');
    await client.send(requestText({ viaHost: '127.0.0.1', viaPort: 5070, rport: true }), port);
    const [{ message }] = await arrived;
    assert.equal(message.topVia.rport, client.port);
    assert.equal(message.topVia.received, '127.0.0.1');
    assert.match(message.header('via')!, new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:5070;branch=z9hG4bK\\w+;rport=${client.port};received=127\\.0\\.0\\.1$`));
    assert.equal(message.vias[0]!.rport, client.port, 'the parsed Via list agrees with the text');
  });

  it('adds received only when the sent-by host differs from the source address', async (t) => {
    const { layer, port } = await startLayer(t);
    const client = await UdpPeer.open(t);

    let arrived = nextEvent<[InboundMessage]>(layer, 'message');
    await client.send(requestText({ viaHost: '127.0.0.1', viaPort: client.port }), port);
    let [{ message }] = await arrived;
    assert.equal(message.topVia.received, undefined);
    assert.equal(message.topVia.rport, undefined);

    arrived = nextEvent<[InboundMessage]>(layer, 'message');
    await client.send(requestText({ viaHost: 'pc33.example.com' }), port);
    [{ message }] = await arrived;
    assert.equal(message.topVia.received, '127.0.0.1');
  });

  it('keeps the other Via values of a multi-valued Via line in place', async (t) => {
    const { layer, port } = await startLayer(t);
    const client = await UdpPeer.open(t);
    const arrived = nextEvent<[InboundMessage]>(layer, 'message');
    const text = requestText({ viaHost: 'a.example.com', rport: true }).replace(
      /^(Via: .*)$/m,
      '$1, SIP/2.0/TCP b.example.com:5070;branch=z9hG4bKb\r\nVia: SIP/2.0/UDP c.example.com;branch=z9hG4bKc',
    );
    await client.send(text, port);
    const [{ message }] = await arrived;
    assert.deepEqual(
      message.vias.map((via) => via.host),
      ['a.example.com', 'b.example.com', 'c.example.com'],
    );
    assert.equal(message.vias[0]!.received, '127.0.0.1');
    assert.equal(message.headers.filter((h) => h.name === 'via').length, 2);
  });

  it('drops a response whose sent-by is not ours and delivers one that is (RFC 3261 §18.1.2)', async (t) => {
    const { layer, port } = await startLayer(t, { publicHost: 'sip.example.net' });
    const client = await UdpPeer.open(t);
    const dropped = nextEvent(layer, 'responseDropped');
    await client.send(responseText({ viaHost: 'elsewhere.example.org', viaPort: port, callId: 'not-ours' }), port);
    await dropped;
    const delivered = nextEvent<[InboundMessage]>(layer, 'message');
    await client.send(responseText({ viaHost: 'sip.example.net', viaPort: port, callId: 'ours' }), port);
    const [{ message }] = await delivered;
    assert.equal(message.callId, 'ours');
    assert.equal(layer.stats().responsesDropped, 1);
  });

  it('delivers any response when the sent-by check is off', async (t) => {
    const { layer, port } = await startLayer(t, { verifyResponseSentBy: false });
    const client = await UdpPeer.open(t);
    const delivered = nextEvent<[InboundMessage]>(layer, 'message');
    await client.send(responseText({ viaHost: 'elsewhere.example.org', viaPort: 5060 }), port);
    const [{ message }] = await delivered;
    assert.equal((message as SipResponse).status, 200);
  });
});

describe('UDP limits', () => {
  it('answers 513 to a datagram over the size limit and 400 to too many header lines', async (t) => {
    const { layer, port } = await startLayer(t, { maxMessageSize: 1000, maxHeaders: 20 });
    const client = await UdpPeer.open(t);
    await client.send(requestText({ method: 'MESSAGE', callId: 'big', body: 'b'.repeat(1200) }), port);
    const tooLarge = parseMessage(await client.next()) as SipResponse;
    assert.equal(tooLarge.status, 513);
    assert.equal(tooLarge.reason, 'Message Too Large');
    assert.equal(tooLarge.callId, 'big');

    await client.send(requestText({ callId: 'many', extraHeaders: Array.from({ length: 30 }, (_, i) => `X-H${i}: ${i}`) }), port);
    const tooMany = parseMessage(await client.next()) as SipResponse;
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.reason, 'Bad Request (more than 20 header lines)');
    assert.deepEqual(layer.stats().malformed, { TOO_LARGE: 1, TOO_MANY_HEADERS: 1 });
  });
});

describe('UDP sending', () => {
  it('sends a request over 1300 bytes over TCP with the top Via naming TCP (RFC 3261 §18.1.1)', async (t) => {
    const { layer } = await startLayer(t);
    const peer = await TcpServerPeer.open(t);
    const request = parseMessage(Buffer.from(requestText({ method: 'MESSAGE', viaHost: '127.0.0.1', viaPort: 5060, rport: true, body: 'x'.repeat(1400) }))) as SipRequest;
    const result = await layer.send(request, { transport: 'udp', address: '127.0.0.1', port: peer.port });
    assert.equal(result.transport, 'tcp');
    assert.ok(result.connectionId);
    await until(() => peer.text().endsWith('x'.repeat(1400)), 'the request on the TCP peer');
    assert.match(peer.text(), /^MESSAGE sip:service@127\.0\.0\.1 SIP\/2\.0\r\nVia: SIP\/2\.0\/TCP 127\.0\.0\.1:5060;branch=/);
    assert.equal(request.topVia.transport, 'UDP', "the caller's message is left as it was");
    assert.equal(layer.stats().requestsMovedToTcp, 1);
  });

  it('falls back to UDP when the TCP connection for a large request is refused (RFC 3261 §18.1.1)', async (t) => {
    const { layer } = await startLayer(t);
    const peer = await UdpPeer.open(t);
    const request = parseMessage(Buffer.from(requestText({ method: 'MESSAGE', body: 'y'.repeat(1400) }))) as SipRequest;
    const result = await layer.send(request, { transport: 'udp', address: '127.0.0.1', port: peer.port });
    assert.equal(result.transport, 'udp');
    const datagram = (await peer.next()).toString('latin1');
    assert.match(datagram, /\r\nVia: SIP\/2\.0\/UDP /);
  });

  it('keeps large requests on UDP when the switch is off, and large responses always', async (t) => {
    const { layer } = await startLayer(t, { switchLargeRequestsToTcp: false });
    const peer = await UdpPeer.open(t);
    const request = parseMessage(Buffer.from(requestText({ method: 'MESSAGE', body: 'z'.repeat(1400) }))) as SipRequest;
    assert.equal((await layer.send(request, { transport: 'udp', address: '127.0.0.1', port: peer.port })).transport, 'udp');
    await peer.next();
    const response = createResponse(request, 200, 'OK', 't');
    response.body = Buffer.alloc(1500, 'r');
    assert.equal((await layer.send(response, { transport: 'udp', address: '127.0.0.1', port: peer.port })).transport, 'udp');
    assert.equal(parseMessage(await peer.next()).body.length, 1500);
  });

  it('rejects destinations that are not IP addresses and TLS with typed errors', async (t) => {
    const { layer } = await startLayer(t);
    const request = parseMessage(Buffer.from(requestText())) as SipRequest;
    await assert.rejects(layer.send(request, { transport: 'udp', address: 'example.com', port: 5060 }), (error: unknown) => {
      assert.ok(error instanceof TransportError);
      assert.equal(error.code, 'INVALID_DESTINATION');
      return true;
    });
    await assert.rejects(layer.send(request, { transport: 'udp', address: '::1', port: 5060 }), { code: 'INVALID_DESTINATION' });
    await assert.rejects(layer.send(request, { transport: 'tls', address: '127.0.0.1', port: 5061 }), { code: 'UNSUPPORTED_TRANSPORT' });
    assert.deepEqual(layer.stats().sendErrors, { INVALID_DESTINATION: 2, UNSUPPORTED_TRANSPORT: 1 });
  });
});

describe('binding', () => {
  it('binds UDP and TCP on the same port and reports EADDRINUSE clearly', async (t) => {
    const { port } = await startLayer(t);
    const second = new TransportLayer({ host: '127.0.0.1', port });
    t.after(() => second.close());
    await assert.rejects(second.listen(), (error: unknown) => {
      assert.ok(error instanceof TransportError);
      assert.equal(error.code, 'ADDRESS_IN_USE');
      assert.equal(error.errno, 'EADDRINUSE');
      assert.match(error.message, new RegExp(`udp 127\\.0\\.0\\.1:${port}: the port is already in use`));
      return true;
    });
  });

  it('reports a TCP port taken by someone else even when UDP binds', async (t) => {
    const blocker = await TcpServerPeer.open(t);
    const layer = new TransportLayer({ host: '127.0.0.1', port: blocker.port });
    t.after(() => layer.close());
    await assert.rejects(layer.listen(), { code: 'ADDRESS_IN_USE', message: new RegExp(`tcp 127\\.0\\.0\\.1:${blocker.port}`) });
    // The UDP socket it had bound is released again.
    const again = await UdpPeer.open(t, '127.0.0.1', blocker.port);
    assert.equal(again.port, blocker.port);
  });

  it('gives the public host and bound port for Via and Contact, with brackets for IPv6', async (t) => {
    const { layer, port } = await startLayer(t, { publicHost: 'sip.example.net' });
    assert.deepEqual(layer.localEndpoint('udp'), { host: 'sip.example.net', port });
    assert.match(layer.createVia('udp'), new RegExp(`^SIP/2\\.0/UDP sip\\.example\\.net:${port};branch=z9hG4bK[0-9a-z]+;rport$`));
    assert.match(layer.createVia('tcp', 'z9hG4bKfixed'), new RegExp(`^SIP/2\\.0/TCP sip\\.example\\.net:${port};branch=z9hG4bKfixed;rport$`));

    const { layer: v6, port: v6port } = await startLayer(t, { host: '::1' });
    assert.deepEqual(v6.localEndpoint('tcp'), { host: '[::1]', port: v6port });
    assert.throws(() => v6.localEndpoint('tls'), { code: 'UNSUPPORTED_TRANSPORT' });

    const { layer: bound } = await startLayer(t, { host: '127.0.0.1' });
    assert.equal(bound.localEndpoint('udp').host, '127.0.0.1');
  });
});
