import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMessage, parseVia, type SipRequest } from '../../../src/sip/message/index.js';
import { formatVia, newBranch, responseTarget } from '../../../src/sip/transport/index.js';
import { setTopVia, stampReceived } from '../../../src/sip/transport/top-via.js';
import { requestText } from './helpers.js';

describe('responseTarget (RFC 3261 §18.2.2, RFC 3581 §4)', () => {
  it('sends UDP responses to received and rport', () => {
    const via = parseVia('SIP/2.0/UDP pc33.example.com:5066;branch=z9hG4bK1;rport=40123;received=192.0.2.7');
    assert.deepEqual(responseTarget(via), { transport: 'udp', address: '192.0.2.7', port: 40123, needsResolution: false });
  });

  it('uses received with the sent-by port without rport, and the default port without either', () => {
    assert.deepEqual(responseTarget(parseVia('SIP/2.0/UDP pc33.example.com:5066;branch=z9hG4bK1;received=192.0.2.7')), {
      transport: 'udp', address: '192.0.2.7', port: 5066, needsResolution: false,
    });
    assert.deepEqual(responseTarget(parseVia('SIP/2.0/UDP 192.0.2.8;branch=z9hG4bK1')), {
      transport: 'udp', address: '192.0.2.8', port: 5060, needsResolution: false,
    });
  });

  it('asks for resolution when only a host name is known', () => {
    assert.deepEqual(responseTarget(parseVia('SIP/2.0/UDP pc33.example.com;branch=z9hG4bK1')), {
      transport: 'udp', address: 'pc33.example.com', port: 5060, needsResolution: true,
    });
  });

  it('prefers maddr, with the sent-by port, over received and rport', () => {
    const via = parseVia('SIP/2.0/UDP pc33.example.com:5070;branch=z9hG4bK1;maddr=239.255.255.1;rport=4000;received=192.0.2.7');
    assert.deepEqual(responseTarget(via), { transport: 'udp', address: '239.255.255.1', port: 5070, needsResolution: false });
  });

  it('answers TCP on the open connection, else connects to received and the sent-by port', () => {
    const via = parseVia('SIP/2.0/TCP pc33.example.com:5070;branch=z9hG4bK1;rport=40999;received=192.0.2.7');
    assert.deepEqual(responseTarget(via, { id: 'tcp-4', open: true }), {
      transport: 'tcp', address: '192.0.2.7', port: 5070, connectionId: 'tcp-4', needsResolution: false,
    });
    assert.deepEqual(responseTarget(via, { id: 'tcp-4', open: false }), { transport: 'tcp', address: '192.0.2.7', port: 5070, needsResolution: false });
    assert.deepEqual(responseTarget(parseVia('SIP/2.0/TLS [2001:db8::9];branch=z9hG4bK1')), {
      transport: 'tls', address: '2001:db8::9', port: 5061, needsResolution: false,
    });
  });

  it('refuses transports it cannot use', () => {
    assert.throws(() => responseTarget(parseVia('SIP/2.0/SCTP 192.0.2.1;branch=z9hG4bK1')), { name: 'TransportError', code: 'UNSUPPORTED_TRANSPORT' });
  });
});

describe('top Via', () => {
  it('formats the Via of an outgoing request with a fresh branch and rport (RFC 3581 §3)', () => {
    assert.equal(formatVia('udp', '192.0.2.1', 5060, 'z9hG4bKx'), 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx;rport');
    assert.equal(formatVia('tcp', '2001:db8::1', 5070, 'z9hG4bKy'), 'SIP/2.0/TCP [2001:db8::1]:5070;branch=z9hG4bKy;rport');
    const a = newBranch();
    assert.match(a, /^z9hG4bK[0-9a-z]+$/);
    assert.notEqual(a, newBranch());
  });

  it('stamps received as a bare IPv6 address for an IPv6 source', () => {
    const request = parseMessage(Buffer.from(requestText({ viaHost: '[2001:db8::5]', rport: true }))) as SipRequest;
    stampReceived(request, { address: '2001:db8::6', port: 7000 });
    assert.match(request.header('via')!, /;rport=7000;received=2001:db8::6$/);
    const again = parseMessage(Buffer.from(requestText({ viaHost: '[2001:DB8:0::5]' }))) as SipRequest;
    stampReceived(again, { address: '2001:db8::5', port: 7000 });
    assert.equal(again.topVia.received, undefined, 'the same address spelled differently');
  });

  it('rewrites only the first value of a multi-valued Via line and keeps the caches in step', () => {
    const request = parseMessage(Buffer.from(requestText({ viaHost: 'a.example.com' }).replace(/^(Via: .*)$/m, '$1, SIP/2.0/UDP b.example.com;branch=z9hG4bKb'))) as SipRequest;
    void request.vias;
    const via = request.topVia;
    via.transport = 'TCP';
    setTopVia(request, via);
    assert.match(request.header('via')!, /^SIP\/2\.0\/TCP a\.example\.com;branch=\S+, SIP\/2\.0\/UDP b\.example\.com;branch=z9hG4bKb$/);
    assert.equal(request.vias[0]!.transport, 'TCP');
    assert.equal(request.vias[1]!.transport, 'UDP');
  });
});
