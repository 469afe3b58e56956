import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ServerLocationError,
  ServerLocator,
  type ResolvedTarget,
  type ServerLocationErrorCode,
  type ServerLocatorOptions,
} from '../../../src/sip/locate/index.js';
import { orderSrvRecords } from '../../../src/sip/locate/server-locator.js';
import type { Zone, ZoneRecord } from '../../support/dns-server.js';
import { FakeResolver, scriptedRandom, seededRandom } from './fake-resolver.js';

function locatorFor(zone: Zone, options: Partial<ServerLocatorOptions> = {}): { locator: ServerLocator; dns: FakeResolver } {
  const dns = new FakeResolver(zone);
  return { locator: new ServerLocator({ resolver: dns, random: seededRandom(1), ...options }), dns };
}

const a = (address: string, ttl?: number): ZoneRecord => ({ type: 'A', address, ...(ttl !== undefined ? { ttl } : {}) });
const aaaa = (address: string): ZoneRecord => ({ type: 'AAAA', address });
const srv = (priority: number, weight: number, port: number, target: string): ZoneRecord => ({ type: 'SRV', priority, weight, port, target });
const naptr = (order: number, preference: number, service: string, replacement: string, flags = 's'): ZoneRecord => ({
  type: 'NAPTR',
  order,
  preference,
  flags,
  service,
  replacement,
});

/** transport/address/port of each target, compactly. */
const triples = (targets: ResolvedTarget[]): string[] => targets.map((t) => `${t.transport} ${t.address}:${t.port}`);

async function rejectsWith(promise: Promise<unknown>, code: ServerLocationErrorCode): Promise<ServerLocationError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return error instanceof ServerLocationError && error.code === code;
  });
  return caught as ServerLocationError;
}

/** The RFC 3263 §4.1 shape: NAPTR → SRV per transport → A per SRV target. */
const fullZone: Zone = {
  records: {
    'example.com': [
      naptr(90, 50, 'SIP+D2T', '_sip._tcp.example.com'),
      naptr(100, 50, 'SIP+D2U', '_sip._udp.example.com'),
      naptr(50, 50, 'SIPS+D2T', '_sips._tcp.example.com'),
      a('192.0.2.99'),
    ],
    '_sips._tcp.example.com': [srv(0, 0, 5061, 'tls.example.com')],
    '_sip._tcp.example.com': [srv(0, 0, 5060, 'tcp.example.com')],
    '_sip._udp.example.com': [srv(0, 0, 5060, 'udp.example.com')],
    'tls.example.com': [a('192.0.2.1')],
    'tcp.example.com': [a('192.0.2.2')],
    'udp.example.com': [a('192.0.2.3'), aaaa('2001:db8::3')],
  },
};

describe('ServerLocator: numeric hosts (RFC 3263 §4.1, §4.2)', () => {
  it('sends to an IPv4 address without any DNS lookup, over UDP at 5060', async () => {
    const { locator, dns } = locatorFor({ records: {} });
    const targets = await locator.locate({ host: '192.0.2.10', secure: false });
    assert.deepEqual(targets, [{ transport: 'udp', address: '192.0.2.10', port: 5060, family: 4, host: '192.0.2.10' }]);
    assert.deepEqual(dns.queries, []);
  });

  it('uses TLS at 5061 for a sips: URI with an IPv4 host', async () => {
    const { locator } = locatorFor({ records: {} });
    assert.deepEqual(triples(await locator.locate({ host: '192.0.2.10', secure: true })), ['tls 192.0.2.10:5061']);
  });

  it('honours an explicit port and transport on a numeric host', async () => {
    const { locator } = locatorFor({ records: {} });
    assert.deepEqual(triples(await locator.locate({ host: '192.0.2.10', port: 5080, transport: 'tcp', secure: false })), ['tcp 192.0.2.10:5080']);
  });

  it('strips the brackets of an IPv6 reference', async () => {
    const { locator, dns } = locatorFor({ records: {} });
    const targets = await locator.locate({ host: '[2001:db8::10]', port: 5062, secure: false });
    assert.deepEqual(targets, [{ transport: 'udp', address: '2001:db8::10', port: 5062, family: 6, host: '2001:db8::10' }]);
    assert.deepEqual(dns.queries, []);
  });

  it('accepts an unbracketed IPv6 address too', async () => {
    const { locator } = locatorFor({ records: {} });
    assert.deepEqual(triples(await locator.locate({ host: '::1', secure: false })), ['udp ::1:5060']);
  });

  it('rejects brackets around something that is not an IPv6 address', async () => {
    const { locator } = locatorFor({ records: {} });
    await rejectsWith(locator.locate({ host: '[192.0.2.1]', secure: false }), 'INVALID_TARGET');
    await rejectsWith(locator.locate({ host: '[2001:db8::1', secure: false }), 'INVALID_TARGET');
  });

  it('refuses an IPv6 literal when only IPv4 is enabled', async () => {
    const { locator } = locatorFor({ records: {} }, { families: [4] });
    await rejectsWith(locator.locate({ host: '[2001:db8::10]', secure: false }), 'NO_TARGETS');
  });

  it('rejects a port out of range', async () => {
    const { locator } = locatorFor({ records: {} });
    await rejectsWith(locator.locate({ host: '192.0.2.10', port: 70000, secure: false }), 'INVALID_TARGET');
    await rejectsWith(locator.locate({ host: 'example.com', port: 0, secure: false }), 'INVALID_TARGET');
  });
});

describe('ServerLocator: explicit port and transport (RFC 3263 §4.1, §4.2)', () => {
  it('looks up only A and AAAA when the URI has a port', async () => {
    const { locator, dns } = locatorFor(fullZone);
    const targets = await locator.locate({ host: 'example.com', port: 5070, secure: false });
    assert.deepEqual(triples(targets), ['udp 192.0.2.99:5070']);
    assert.deepEqual(dns.queries.sort(), ['A example.com', 'AAAA example.com']);
  });

  it('keeps the URI transport with an explicit port, and TLS for sips:', async () => {
    const { locator } = locatorFor(fullZone);
    assert.deepEqual(triples(await locator.locate({ host: 'example.com', port: 5070, transport: 'tcp', secure: false })), ['tcp 192.0.2.99:5070']);
    assert.deepEqual(triples(await locator.locate({ host: 'example.com', port: 5071, secure: true })), ['tls 192.0.2.99:5071']);
  });

  it('skips NAPTR and asks SRV for the transport the URI names', async () => {
    const { locator, dns } = locatorFor(fullZone);
    const targets = await locator.locate({ host: 'example.com', transport: 'tcp', secure: false });
    assert.deepEqual(triples(targets), ['tcp 192.0.2.2:5060']);
    assert.equal(dns.count('NAPTR', 'example.com'), 0);
    assert.deepEqual(dns.queries.filter((q) => q.startsWith('SRV')), ['SRV _sip._tcp.example.com']);
  });

  it('falls back to A/AAAA at the default port of the named transport when it has no SRV', async () => {
    const { locator } = locatorFor({ records: { 'example.org': [a('198.51.100.7')] } });
    assert.deepEqual(triples(await locator.locate({ host: 'example.org', transport: 'tcp', secure: false })), ['tcp 198.51.100.7:5060']);
    assert.deepEqual(triples(await locator.locate({ host: 'example.org', transport: 'tls', secure: false })), ['tls 198.51.100.7:5061']);
  });

  it('treats transport=tcp on a sips: URI as TLS over TCP', async () => {
    const { locator, dns } = locatorFor(fullZone);
    const targets = await locator.locate({ host: 'example.com', transport: 'tcp', secure: true });
    assert.deepEqual(triples(targets), ['tls 192.0.2.1:5061']);
    assert.deepEqual(dns.queries.filter((q) => q.startsWith('SRV')), ['SRV _sips._tcp.example.com']);
  });

  it('refuses a transport that is not enabled, and sips: over UDP or without TLS', async () => {
    const { locator } = locatorFor(fullZone, { transports: ['udp', 'tcp'] });
    await rejectsWith(locator.locate({ host: 'example.com', transport: 'tls', secure: false }), 'UNSUPPORTED_TRANSPORT');
    await rejectsWith(locator.locate({ host: 'example.com', secure: true }), 'UNSUPPORTED_TRANSPORT');
    const { locator: withTls } = locatorFor(fullZone);
    await rejectsWith(withTls.locate({ host: 'example.com', transport: 'udp', secure: true }), 'UNSUPPORTED_TRANSPORT');
  });
});

describe('ServerLocator: NAPTR (RFC 3263 §4.1, RFC 3403)', () => {
  it('orders by NAPTR order, then preference, following each replacement to SRV and A', async () => {
    const { locator } = locatorFor({
      records: {
        'example.net': [
          naptr(10, 20, 'SIP+D2T', '_sip._tcp.example.net'),
          naptr(10, 10, 'SIP+D2U', '_sip._udp.example.net'),
          naptr(5, 100, 'SIPS+D2T', '_sips._tcp.example.net'),
        ],
        '_sips._tcp.example.net': [srv(0, 0, 5061, 'edge.example.net')],
        '_sip._tcp.example.net': [srv(0, 0, 5060, 'edge.example.net')],
        '_sip._udp.example.net': [srv(0, 0, 5060, 'edge.example.net')],
        'edge.example.net': [a('203.0.113.5')],
      },
    });
    const targets = await locator.locate({ host: 'example.net', secure: false });
    assert.deepEqual(triples(targets), ['tls 203.0.113.5:5061', 'udp 203.0.113.5:5060', 'tcp 203.0.113.5:5060']);
  });

  it('follows the full chain and reports the located domain as the TLS name (RFC 5922 §4.1)', async () => {
    const { locator } = locatorFor(fullZone);
    const targets = await locator.locate({ host: 'example.com', secure: false });
    assert.deepEqual(triples(targets), ['tls 192.0.2.1:5061', 'tcp 192.0.2.2:5060', 'udp 192.0.2.3:5060', 'udp 2001:db8::3:5060']);
    assert.ok(targets.every((t) => t.host === 'example.com'));
    assert.deepEqual(targets.map((t) => t.family), [4, 4, 4, 6]);
  });

  it('discards services we do not support, non-terminal flags and disabled transports', async () => {
    const { locator, dns } = locatorFor(
      {
        records: {
          'example.net': [
            naptr(1, 1, 'SIP+D2S', '_sip._sctp.example.net'),
            naptr(1, 2, 'SIP+D2W', '_sip._ws.example.net'),
            naptr(1, 3, 'SIP+D2U', 'other.example.net', ''),
            naptr(1, 4, 'SIP+D2U', 'sip.example.net', 'a'),
            naptr(2, 1, 'SIP+D2T', '_sip._tcp.example.net'),
            naptr(3, 1, 'sip+d2u', '_sip._udp.example.net'),
          ],
          '_sip._sctp.example.net': [srv(0, 0, 5060, 'edge.example.net')],
          '_sip._tcp.example.net': [srv(0, 0, 5060, 'edge.example.net')],
          '_sip._udp.example.net': [srv(0, 0, 5060, 'edge.example.net')],
          'edge.example.net': [a('203.0.113.5')],
        },
      },
      { transports: ['udp', 'tls'] },
    );
    const targets = await locator.locate({ host: 'example.net', secure: false });
    assert.deepEqual(triples(targets), ['udp 203.0.113.5:5060']);
    assert.deepEqual(dns.queries.filter((q) => q.startsWith('SRV')), ['SRV _sip._udp.example.net']);
  });

  it('keeps only SIPS+D2T for a sips: URI', async () => {
    const { locator, dns } = locatorFor(fullZone);
    const targets = await locator.locate({ host: 'example.com', secure: true });
    assert.deepEqual(triples(targets), ['tls 192.0.2.1:5061']);
    assert.deepEqual(dns.queries.filter((q) => q.startsWith('SRV')), ['SRV _sips._tcp.example.com']);
  });

  it('asks SRV for every enabled transport when no NAPTR record is usable', async () => {
    const { locator, dns } = locatorFor({
      records: {
        'example.net': [naptr(1, 1, 'SIP+D2S', '_sip._sctp.example.net')],
        '_sip._tcp.example.net': [srv(0, 0, 5060, 'edge.example.net')],
        'edge.example.net': [a('203.0.113.5')],
      },
    });
    assert.deepEqual(triples(await locator.locate({ host: 'example.net', secure: false })), ['tcp 203.0.113.5:5060']);
    assert.deepEqual(dns.queries.filter((q) => q.startsWith('SRV')).sort(), [
      'SRV _sip._tcp.example.net',
      'SRV _sip._udp.example.net',
      'SRV _sips._tcp.example.net',
    ]);
  });

  it('lists each SRV target once when two NAPTR records point at the same SRV name', async () => {
    const { locator } = locatorFor({
      records: {
        'example.net': [naptr(1, 1, 'SIP+D2U', '_sip._udp.example.net'), naptr(2, 1, 'SIP+D2U', '_sip._udp.example.net')],
        '_sip._udp.example.net': [srv(0, 0, 5060, 'edge.example.net')],
        'edge.example.net': [a('203.0.113.5')],
      },
    });
    assert.deepEqual(triples(await locator.locate({ host: 'example.net', secure: false })), ['udp 203.0.113.5:5060']);
  });

  it('falls back to A/AAAA with the transport of the preferred NAPTR when its SRV names are empty', async () => {
    const { locator } = locatorFor({
      records: {
        'example.net': [naptr(1, 1, 'SIP+D2T', '_sip._tcp.example.net'), a('203.0.113.9')],
      },
    });
    assert.deepEqual(triples(await locator.locate({ host: 'example.net', secure: false })), ['tcp 203.0.113.9:5060']);
  });
});

describe('ServerLocator: SRV (RFC 3263 §4.2, RFC 2782)', () => {
  it('queries _sip._udp, _sip._tcp and _sips._tcp in transport order without NAPTR', async () => {
    const { locator } = locatorFor({
      records: {
        'example.org': [],
        '_sips._tcp.example.org': [srv(0, 0, 5061, 'b.example.org')],
        '_sip._udp.example.org': [srv(0, 0, 5060, 'a.example.org')],
        'a.example.org': [a('198.51.100.1')],
        'b.example.org': [a('198.51.100.2')],
      },
    });
    assert.deepEqual(triples(await locator.locate({ host: 'example.org', secure: false })), ['udp 198.51.100.1:5060', 'tls 198.51.100.2:5061']);
    const { locator: tlsFirst } = locatorFor(
      {
        records: {
          'example.org': [],
          '_sips._tcp.example.org': [srv(0, 0, 5061, 'b.example.org')],
          '_sip._udp.example.org': [srv(0, 0, 5060, 'a.example.org')],
          'a.example.org': [a('198.51.100.1')],
          'b.example.org': [a('198.51.100.2')],
        },
      },
      { transports: ['tls', 'udp'] },
    );
    assert.deepEqual(triples(await tlsFirst.locate({ host: 'example.org', secure: false })), ['tls 198.51.100.2:5061', 'udp 198.51.100.1:5060']);
  });

  it('puts lower priority values first, whatever the weights', async () => {
    const { locator } = locatorFor({
      records: {
        'example.org': [],
        '_sip._udp.example.org': [srv(20, 100, 5060, 'backup.example.org'), srv(10, 1, 5070, 'primary.example.org')],
        'primary.example.org': [a('198.51.100.1')],
        'backup.example.org': [a('198.51.100.2')],
      },
    });
    assert.deepEqual(triples(await locator.locate({ host: 'example.org', secure: false })), ['udp 198.51.100.1:5070', 'udp 198.51.100.2:5060']);
  });

  it('picks within a priority by running weight sums against a number in [0, sum]', () => {
    const records = [
      { priority: 0, weight: 10, port: 1, name: 'b' },
      { priority: 0, weight: 30, port: 1, name: 'c' },
      { priority: 0, weight: 0, port: 1, name: 'a' },
    ];
    // Zero-weight first: a(0) b(10) c(40). 0.5 × 41 → 20 → c; then a(0) b(10): 0 → a; then b.
    assert.deepEqual(orderSrvRecords(records, scriptedRandom([0.5, 0, 0.99])).map((r) => r.name), ['c', 'a', 'b']);
    // 0.999 × 41 → 40, the inclusive top of the range, is still c's.
    assert.deepEqual(orderSrvRecords(records, scriptedRandom([0.999, 0.99, 0])).map((r) => r.name), ['c', 'b', 'a']);
  });

  it('chooses first in proportion to weight over many draws of a seeded random', () => {
    const records = [
      { priority: 1, weight: 60, port: 1, name: 'sixty' },
      { priority: 1, weight: 30, port: 1, name: 'thirty' },
      { priority: 1, weight: 10, port: 1, name: 'ten' },
    ];
    const random = seededRandom(42);
    const firsts = new Map<string, number>();
    const runs = 20_000;
    for (let i = 0; i < runs; i++) {
      const first = orderSrvRecords(records, random)[0]!.name;
      firsts.set(first, (firsts.get(first) ?? 0) + 1);
    }
    for (const [name, share] of [['sixty', 0.6], ['thirty', 0.3], ['ten', 0.1]] as const) {
      assert.ok(Math.abs((firsts.get(name) ?? 0) / runs - share) < 0.02, `${name}: ${firsts.get(name)}`);
    }
  });

  it('gives the same list for the same seed', async () => {
    const zone: Zone = {
      records: {
        'example.org': [],
        '_sip._udp.example.org': [srv(0, 50, 5060, 'a.example.org'), srv(0, 50, 5060, 'b.example.org'), srv(0, 50, 5060, 'c.example.org')],
        'a.example.org': [a('198.51.100.1')],
        'b.example.org': [a('198.51.100.2')],
        'c.example.org': [a('198.51.100.3')],
      },
    };
    const first = await locatorFor(zone, { random: seededRandom(7) }).locator.locate({ host: 'example.org', secure: false });
    const second = await locatorFor(zone, { random: seededRandom(7) }).locator.locate({ host: 'example.org', secure: false });
    assert.deepEqual(first, second);
    assert.equal(first.length, 3);
  });

  it('falls back to A and AAAA at 5060 over UDP when there is no NAPTR nor SRV', async () => {
    const { locator } = locatorFor({ records: { 'example.org': [aaaa('2001:db8::7'), a('198.51.100.7')] } });
    const targets = await locator.locate({ host: 'example.org', secure: false });
    assert.deepEqual(triples(targets), ['udp 198.51.100.7:5060', 'udp 2001:db8::7:5060']);
    const { locator: sips } = locatorFor({ records: { 'example.org': [a('198.51.100.7')] } });
    assert.deepEqual(triples(await sips.locate({ host: 'example.org', secure: true })), ['tls 198.51.100.7:5061']);
  });

  it('defaults to TCP when UDP is disabled', async () => {
    const { locator } = locatorFor({ records: { 'example.org': [a('198.51.100.7')] } }, { transports: ['tcp', 'tls'] });
    assert.deepEqual(triples(await locator.locate({ host: 'example.org', secure: false })), ['tcp 198.51.100.7:5060']);
  });

  it('does not guess at A records when SRV says "." (service decidedly not available)', async () => {
    const { locator, dns } = locatorFor({
      records: { 'example.org': [a('198.51.100.7')], '_sip._udp.example.org': [srv(0, 0, 0, '.')] },
    });
    await rejectsWith(locator.locate({ host: 'example.org', transport: 'udp', secure: false }), 'NO_TARGETS');
    assert.equal(dns.count('A', 'example.org'), 0);
  });

  it('keeps the targets of SRV records whose A lookups work when others fail', async () => {
    const { locator } = locatorFor({
      records: {
        'example.org': [],
        '_sip._udp.example.org': [srv(0, 0, 5060, 'broken.example.org'), srv(1, 0, 5060, 'gone.example.org'), srv(2, 0, 5060, 'ok.example.org')],
        'ok.example.org': [a('198.51.100.9')],
      },
      faults: { 'broken.example.org': 'servfail' },
    });
    assert.deepEqual(triples(await locator.locate({ host: 'example.org', secure: false })), ['udp 198.51.100.9:5060']);
  });
});

describe('ServerLocator: address families', () => {
  it('uses AAAA alone when the name has no A record', async () => {
    const { locator } = locatorFor({ records: { 'v6.example.org': [aaaa('2001:db8::1')] } });
    const targets = await locator.locate({ host: 'v6.example.org', secure: false });
    assert.deepEqual(targets, [{ transport: 'udp', address: '2001:db8::1', port: 5060, family: 6, host: 'v6.example.org' }]);
  });

  it('does not look up AAAA when IPv6 is disabled, and finds nothing for an IPv6-only name', async () => {
    const { locator, dns } = locatorFor({ records: { 'v6.example.org': [aaaa('2001:db8::1')] } }, { families: [4] });
    const error = await rejectsWith(locator.locate({ host: 'v6.example.org', secure: false }), 'NO_TARGETS');
    assert.equal(dns.count('AAAA', 'v6.example.org'), 0);
    assert.deepEqual(error.failures.find((f) => f.type === 'A'), { name: 'v6.example.org', type: 'A', code: 'ENODATA' });
  });

  it('lists IPv6 first when it is the preferred family', async () => {
    const { locator } = locatorFor({ records: { 'example.org': [a('198.51.100.7'), aaaa('2001:db8::7')] } }, { families: [6, 4] });
    assert.deepEqual(triples(await locator.locate({ host: 'example.org', secure: false })), ['udp 2001:db8::7:5060', 'udp 198.51.100.7:5060']);
  });
});

describe('ServerLocator: outbound proxy (RFC 3261 §8.1.2)', () => {
  const proxyZone: Zone = {
    records: {
      'proxy.example.net': [a('203.0.113.50')],
      'example.com': [a('192.0.2.99')],
    },
  };

  it('sends every request to the configured proxy instead of the Request-URI host', async () => {
    const { locator, dns } = locatorFor(proxyZone, { outboundProxy: { host: 'proxy.example.net', port: 5070, transport: 'tcp', secure: false } });
    const targets = await locator.locate({ host: 'example.com', secure: false });
    assert.deepEqual(targets, [{ transport: 'tcp', address: '203.0.113.50', port: 5070, family: 4, host: 'proxy.example.net' }]);
    assert.ok(dns.queries.every((q) => q.endsWith('proxy.example.net')));
  });

  it('does not apply the proxy to locateSentBy (responses, RFC 3263 §5)', async () => {
    const { locator, dns } = locatorFor(proxyZone, { outboundProxy: { host: 'proxy.example.net', secure: false } });
    const targets = await locator.locateSentBy({ host: 'example.com', transport: 'udp', secure: false });
    assert.deepEqual(triples(targets), ['udp 192.0.2.99:5060']);
    assert.equal(dns.count('NAPTR', 'example.com'), 0);
    assert.equal(dns.count('SRV', '_sip._udp.example.com'), 1);
  });
});

describe('ServerLocator: DNS failures', () => {
  it('rejects with DNS_FAILURE when the name does not exist (NXDOMAIN)', async () => {
    const { locator } = locatorFor({ records: {} });
    const error = await rejectsWith(locator.locate({ host: 'nowhere.invalid', secure: false }), 'DNS_FAILURE');
    assert.equal(error.host, 'nowhere.invalid');
    assert.ok(error.failures.some((f) => f.type === 'A' && f.code === 'ENOTFOUND'));
    assert.ok(error.failures.some((f) => f.type === 'NAPTR'));
  });

  it('rejects with DNS_FAILURE when every server fails or times out', async () => {
    const { locator } = locatorFor({
      records: {},
      faults: {
        'example.org': 'servfail',
        '_sip._udp.example.org': 'timeout',
        '_sip._tcp.example.org': 'servfail',
        '_sips._tcp.example.org': 'refused',
      },
    });
    const error = await rejectsWith(locator.locate({ host: 'example.org', secure: false }), 'DNS_FAILURE');
    assert.deepEqual(new Set(error.failures.map((f) => f.code)), new Set(['ESERVFAIL', 'ETIMEOUT', 'EREFUSED']));
  });

  it('rejects with NO_TARGETS when the name exists but has no usable records', async () => {
    const { locator } = locatorFor({ records: { 'example.org': [] } });
    await rejectsWith(locator.locate({ host: 'example.org', secure: false }), 'NO_TARGETS');
  });

  it('falls through partial failures: a failing NAPTR and SRV do not stop a working SRV', async () => {
    const { locator } = locatorFor({
      records: {
        '_sip._tcp.example.org': [srv(0, 0, 5060, 'edge.example.org')],
        'edge.example.org': [a('198.51.100.4')],
      },
      faults: { 'example.org': 'servfail', '_sip._udp.example.org': 'timeout' },
    });
    assert.deepEqual(triples(await locator.locate({ host: 'example.org', secure: false })), ['tcp 198.51.100.4:5060']);
  });

  it('falls through to A/AAAA when every SRV lookup fails', async () => {
    const { locator } = locatorFor({
      records: { 'example.org': [a('198.51.100.4')] },
      faults: { '_sip._udp.example.org': 'timeout', '_sip._tcp.example.org': 'servfail', '_sips._tcp.example.org': 'servfail' },
    });
    assert.deepEqual(triples(await locator.locate({ host: 'example.org', secure: false })), ['udp 198.51.100.4:5060']);
  });
});
