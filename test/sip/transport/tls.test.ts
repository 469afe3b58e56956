// SIP over TLS (RFC 3261 §26.2.1, §18): two of our transport layers on loopback with a CA made by
// the test; a request and its response on one TLS connection; Via and Contact name TLS; a peer
// whose certificate does not chain to a trusted CA is refused, and so is one whose certificate
// does not name the address.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SipRequest, createResponse, parseMessage, type SipResponse } from '../../../src/sip/message/index.js';
import { TransportError, type InboundMessage } from '../../../src/sip/transport/index.js';
import { createTestCa } from '../../support/test-ca.js';
import { nextEvent, requestText, startLayer } from './helpers.js';

describe('TLS transport', () => {
  it('carries a request and its response over one TLS connection, each side checking the other\'s certificate', async (t) => {
    const ca = await createTestCa(t);
    const serverCert = await ca.issue('server');
    const clientCert = await ca.issue('client');
    const server = await startLayer(t, { transports: ['udp'], tls: { port: 0, cert: serverCert.cert, key: serverCert.key, ca: ca.ca, requireClientCertificate: true } });
    const client = await startLayer(t, { transports: ['udp'], tls: { port: 0, cert: clientCert.cert, key: clientCert.key, ca: ca.ca } });
    const serverTls = server.layer.localEndpoint('tls');
    assert.notEqual(serverTls.port, server.port, 'TLS has a port of its own');

    const request = parseMessage(Buffer.from(requestText({ transport: 'TLS', callId: 'tls-round-trip', viaHost: '127.0.0.1', viaPort: client.layer.localEndpoint('tls').port }))) as SipRequest;
    const arrived = nextEvent<[InboundMessage]>(server.layer, 'message', 5000);
    const sent = await client.layer.send(request, { transport: 'tls', address: '127.0.0.1', port: serverTls.port });
    assert.equal(sent.transport, 'tls');
    assert.match(sent.connectionId ?? '', /^tls-\d+$/);
    const [{ message, source, connectionId }] = await arrived;
    assert.equal(source.transport, 'tls');
    assert.equal(message.callId, 'tls-round-trip');
    assert.match(connectionId ?? '', /^tls-/);

    const answered = nextEvent<[InboundMessage]>(client.layer, 'message', 5000);
    const target = server.layer.responseTargetFor(message as SipRequest, connectionId);
    await server.layer.send(createResponse(message as SipRequest, 200, 'OK', 'tag1'), target);
    const [response] = await answered;
    assert.equal((response.message as SipResponse).status, 200);
    assert.equal(response.connectionId, sent.connectionId, 'the response came back on the connection the request went out on');
    assert.equal(server.layer.stats().tls?.connectionsAccepted, 1);
    assert.equal(client.layer.stats().tls?.connectionsOpened, 1);
    assert.match(client.layer.createVia('tls'), /^SIP\/2\.0\/TLS 127\.0\.0\.1:\d+;branch=z9hG4bK/);
  });

  it('refuses a server whose certificate comes from an untrusted CA, and one that does not name the address', async (t) => {
    const trusted = await createTestCa(t, 'trusted CA');
    const rogue = await createTestCa(t, 'rogue CA');
    const rogueCert = await rogue.issue('rogue');
    const own = await trusted.issue('client');
    const rogueServer = await startLayer(t, { transports: ['udp'], tls: { port: 0, cert: rogueCert.cert, key: rogueCert.key } });
    const client = await startLayer(t, { transports: ['udp'], tls: { port: 0, cert: own.cert, key: own.key, ca: trusted.ca } });
    const request = parseMessage(Buffer.from(requestText({ transport: 'TLS' }))) as SipRequest;
    await assert.rejects(
      client.layer.send(request, { transport: 'tls', address: '127.0.0.1', port: rogueServer.layer.localEndpoint('tls').port }),
      (error: unknown) => error instanceof TransportError && /certificate/i.test(error.message),
    );

    // Trusted, but for another name than the one asked for (RFC 5922 §7.2).
    const server = await trusted.issue('server');
    const named = await startLayer(t, { transports: ['udp'], tls: { port: 0, cert: server.cert, key: server.key } });
    await assert.rejects(
      client.layer.send(request, { transport: 'tls', address: '127.0.0.1', port: named.layer.localEndpoint('tls').port, servername: 'sip.example.com' }),
      (error: unknown) => error instanceof TransportError && /sip\.example\.com|altnames|certificate/i.test(error.message),
    );
    assert.equal(client.layer.stats().tls?.connectionsOpened, 0);
  });

  it('without a certificate configured, a TLS destination is refused clearly', async (t) => {
    const { layer } = await startLayer(t);
    const request = parseMessage(Buffer.from(requestText({ transport: 'TLS' }))) as SipRequest;
    await assert.rejects(layer.send(request, { transport: 'tls', address: '127.0.0.1', port: 5061 }), (error: unknown) => error instanceof TransportError && error.code === 'UNSUPPORTED_TRANSPORT');
    assert.throws(() => layer.localEndpoint('tls'), TransportError);
  });
});
