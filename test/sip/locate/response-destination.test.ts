import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { responseDestination, ServerLocationError, type ReceivedVia, type RequestSource } from '../../../src/sip/locate/index.js';

const fromNat: RequestSource = { address: '203.0.113.7', port: 61234, connectionOpen: false };

describe('responseDestination: unreliable transports (RFC 3261 §18.2.2, RFC 3581 §4)', () => {
  it('sends to the source address at the sent-by port when the Via has no rport', () => {
    const via: ReceivedVia = { transport: 'UDP', host: 'pc33.example.com', port: 5062 };
    assert.deepEqual(responseDestination(via, fromNat), {
      kind: 'address',
      transport: 'udp',
      address: '203.0.113.7',
      port: 5062,
      family: 4,
      fallback: { host: 'pc33.example.com', port: 5062, transport: 'udp', secure: false },
    });
  });

  it('uses port 5060 when sent-by has no port', () => {
    const via: ReceivedVia = { transport: 'UDP', host: 'pc33.example.com' };
    const destination = responseDestination(via, fromNat);
    assert.equal(destination.kind === 'address' && destination.port, 5060);
  });

  it('prefers the received parameter when the Via already carries one', () => {
    const via: ReceivedVia = { transport: 'udp', host: 'pc33.example.com', port: 5060, received: '198.51.100.4' };
    const destination = responseDestination(via, fromNat);
    assert.equal(destination.kind, 'address');
    assert.equal(destination.kind === 'address' && `${destination.address}:${destination.port}`, '198.51.100.4:5060');
  });

  it('answers a bare rport at the source port the request came from', () => {
    const via: ReceivedVia = { transport: 'UDP', host: '192.168.1.20', port: 5060, rport: true };
    const destination = responseDestination(via, fromNat);
    assert.deepEqual(destination, {
      kind: 'address',
      transport: 'udp',
      address: '203.0.113.7',
      port: 61234,
      family: 4,
      fallback: { host: '192.168.1.20', port: 5060, transport: 'udp', secure: false },
    });
  });

  it('answers an rport with a value at that value and the received address', () => {
    const via: ReceivedVia = { transport: 'UDP', host: '192.168.1.20', port: 5060, rport: 40000, received: '203.0.113.8' };
    const destination = responseDestination(via, fromNat);
    assert.equal(destination.kind === 'address' && `${destination.address}:${destination.port}`, '203.0.113.8:40000');
  });

  it('omits the fallback when sent-by is the very address and port tried', () => {
    const via: ReceivedVia = { transport: 'UDP', host: '203.0.113.7', port: 61234, rport: true };
    assert.deepEqual(responseDestination(via, fromNat), { kind: 'address', transport: 'udp', address: '203.0.113.7', port: 61234, family: 4 });
  });

  it('sends to maddr at the sent-by port, with the Via ttl for a multicast group', () => {
    const via: ReceivedVia = { transport: 'UDP', host: '192.0.2.5', port: 5070, maddr: '239.255.255.1', ttl: 4, rport: true };
    assert.deepEqual(responseDestination(via, fromNat), { kind: 'address', transport: 'udp', address: '239.255.255.1', port: 5070, family: 4, ttl: 4 });
    const noTtl = responseDestination({ transport: 'UDP', host: '192.0.2.5', maddr: '[ff02::1]' }, fromNat);
    assert.deepEqual(noTtl, { kind: 'address', transport: 'udp', address: 'ff02::1', port: 5060, family: 6, ttl: 1 });
  });

  it('sends to a unicast maddr without a ttl, and asks for a lookup when maddr is a name', () => {
    const unicast = responseDestination({ transport: 'UDP', host: 'a.example.com', maddr: '192.0.2.44' }, fromNat);
    assert.deepEqual(unicast, { kind: 'address', transport: 'udp', address: '192.0.2.44', port: 5060, family: 4 });
    const named = responseDestination({ transport: 'UDP', host: 'a.example.com', port: 5080, maddr: 'relay.example.com' }, fromNat);
    assert.deepEqual(named, { kind: 'locate', target: { host: 'relay.example.com', port: 5080, transport: 'udp', secure: false } });
  });

  it('handles IPv6 sources and bracketed sent-by hosts', () => {
    const via: ReceivedVia = { transport: 'UDP', host: '[2001:db8::5]', port: 5060, rport: true };
    const destination = responseDestination(via, { address: '2001:db8::5', port: 5060, connectionOpen: false });
    assert.deepEqual(destination, { kind: 'address', transport: 'udp', address: '2001:db8::5', port: 5060, family: 6 });
  });
});

describe('responseDestination: reliable transports (RFC 3261 §18.2.2)', () => {
  it('answers on the connection the request came on while it is open, whatever rport says', () => {
    const via: ReceivedVia = { transport: 'TCP', host: 'pc33.example.com', port: 5060, rport: true };
    const destination = responseDestination(via, { address: '203.0.113.7', port: 49152, connectionOpen: true });
    assert.deepEqual(destination, { kind: 'connection', transport: 'tcp', address: '203.0.113.7', port: 49152, family: 4 });
  });

  it('opens a connection to received at the sent-by port once the connection is closed', () => {
    const via: ReceivedVia = { transport: 'TCP', host: 'pc33.example.com', port: 5070, rport: 49152, received: '203.0.113.7' };
    const destination = responseDestination(via, { address: '203.0.113.7', port: 49152, connectionOpen: false });
    assert.deepEqual(destination, {
      kind: 'address',
      transport: 'tcp',
      address: '203.0.113.7',
      port: 5070,
      family: 4,
      fallback: { host: 'pc33.example.com', port: 5070, transport: 'tcp', secure: false },
    });
  });

  it('uses 5061 for TLS when sent-by has no port', () => {
    const via: ReceivedVia = { transport: 'TLS', host: 'pc33.example.com' };
    const destination = responseDestination(via, { address: '203.0.113.7', port: 49152, connectionOpen: false });
    assert.equal(destination.kind, 'address');
    assert.equal(destination.kind === 'address' && destination.port, 5061);
    assert.deepEqual(destination.kind === 'address' && destination.fallback, { host: 'pc33.example.com', transport: 'tls', secure: true });
  });

  it('rejects a Via transport we have no transport for', () => {
    assert.throws(
      () => responseDestination({ transport: 'SCTP', host: 'a.example.com' }, fromNat),
      (error: unknown) => error instanceof ServerLocationError && error.code === 'UNSUPPORTED_TRANSPORT',
    );
  });
});
