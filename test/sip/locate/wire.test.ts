/**
 * The locator with the real node:dns resolver (c-ares) on the wire, against the test DNS server
 * on 127.0.0.1: our record encodings and node's decoding have to agree.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../../src/sip/clock.js';
import {
  CachingDnsResolver,
  createSystemDnsResolver,
  ServerLocationError,
  ServerLocator,
  type SipDnsResolver,
} from '../../../src/sip/locate/index.js';
import { startDnsServer, type TestDnsServer } from '../../support/dns-server.js';
import { seededRandom } from './fake-resolver.js';

describe('ServerLocator over real DNS', () => {
  let dnsServer: TestDnsServer;
  let resolver: SipDnsResolver;

  before(async () => {
    dnsServer = await startDnsServer({
      records: {
        'example.test': [
          { type: 'NAPTR', order: 10, preference: 10, flags: 'S', service: 'SIPS+D2T', replacement: '_sips._tcp.example.test' },
          { type: 'NAPTR', order: 20, preference: 10, flags: 'S', service: 'SIP+D2U', replacement: '_sip._udp.example.test' },
          { type: 'NAPTR', order: 5, preference: 10, flags: 'S', service: 'SIP+D2S', replacement: '_sip._sctp.example.test' },
          { type: 'NAPTR', order: 30, preference: 10, flags: 'U', service: 'E2U+sip', regexp: '!^.*$!sip:info@example.test!', replacement: '.' },
        ],
        '_sips._tcp.example.test': [
          { type: 'SRV', priority: 10, weight: 0, port: 5061, target: 'tls2.example.test' },
          { type: 'SRV', priority: 5, weight: 0, port: 5061, target: 'tls1.example.test' },
        ],
        '_sip._udp.example.test': [{ type: 'SRV', priority: 0, weight: 5, port: 5080, target: 'udp.example.test' }],
        'tls1.example.test': [{ type: 'A', address: '192.0.2.1', ttl: 60 }, { type: 'AAAA', address: '2001:db8::1' }],
        'tls2.example.test': [{ type: 'AAAA', address: '2001:db8:0:0:1::2' }],
        'udp.example.test': [{ type: 'A', address: '192.0.2.3' }],
        'plain.test': [{ type: 'A', address: '198.51.100.1' }, { type: 'AAAA', address: '::ffff:198.51.100.1' }],
        'srvonly.test': [],
        '_sip._tcp.srvonly.test': [{ type: 'SRV', priority: 0, weight: 0, port: 5090, target: 'host.srvonly.test' }],
        'host.srvonly.test': [{ type: 'A', address: '198.51.100.2' }],
        'empty.test': [],
      },
      faults: { '_sip._udp.srvonly.test': 'servfail', '_sips._tcp.srvonly.test': 'timeout', 'broken.test': 'servfail' },
    });
    resolver = createSystemDnsResolver({ servers: [dnsServer.server], timeoutMs: 200, tries: 1 });
  });

  after(() => dnsServer.close());

  it('decodes NAPTR, SRV, A and AAAA as node:dns does', async () => {
    const naptr = await resolver.resolveNaptr('example.test');
    assert.deepEqual(
      naptr.find((r) => r.service === 'E2U+sip'),
      { flags: 'U', service: 'E2U+sip', regexp: '!^.*$!sip:info@example.test!', replacement: '', order: 30, preference: 10 },
    );
    assert.deepEqual(await resolver.resolveSrv('_sip._udp.example.test'), [{ name: 'udp.example.test', port: 5080, priority: 0, weight: 5 }]);
    assert.deepEqual(await resolver.resolve4('tls1.example.test', { ttl: true }), [{ address: '192.0.2.1', ttl: 60 }]);
    assert.deepEqual(await resolver.resolve6('tls2.example.test', { ttl: true }), [{ address: '2001:db8::1:0:0:2', ttl: 300 }]);
  });

  it('follows NAPTR to SRV to A/AAAA in RFC 3263 order', async () => {
    const locator = new ServerLocator({ resolver, random: seededRandom(3) });
    const targets = await locator.locate({ host: 'example.test', secure: false });
    assert.deepEqual(
      targets.map((t) => `${t.transport} ${t.address}:${t.port} ${t.host}`),
      [
        'tls 192.0.2.1:5061 example.test',
        'tls 2001:db8::1:5061 example.test',
        'tls 2001:db8::1:0:0:2:5061 example.test',
        'udp 192.0.2.3:5080 example.test',
      ],
    );
  });

  it('falls back to A/AAAA at the default port when there is no NAPTR nor SRV', async () => {
    const locator = new ServerLocator({ resolver });
    const targets = await locator.locate({ host: 'plain.test', secure: false });
    assert.deepEqual(targets, [
      { transport: 'udp', address: '198.51.100.1', port: 5060, family: 4, host: 'plain.test' },
      { transport: 'udp', address: '::ffff:198.51.100.1', port: 5060, family: 6, host: 'plain.test' },
    ]);
  });

  it('gets past a SERVFAIL and a timeout to the SRV record that answers', async () => {
    const locator = new ServerLocator({ resolver });
    const targets = await locator.locate({ host: 'srvonly.test', secure: false });
    assert.deepEqual(targets, [{ transport: 'tcp', address: '198.51.100.2', port: 5090, family: 4, host: 'srvonly.test' }]);
  });

  it('rejects with DNS_FAILURE on NXDOMAIN', async () => {
    const locator = new ServerLocator({ resolver });
    await assert.rejects(locator.locate({ host: 'nxdomain.test', secure: false }), (error: unknown) => {
      assert.ok(error instanceof ServerLocationError);
      assert.equal(error.code, 'DNS_FAILURE');
      assert.ok(error.failures.some((f) => f.name === 'nxdomain.test' && f.type === 'A' && f.code === 'ENOTFOUND'));
      return true;
    });
  });

  it('rejects with DNS_FAILURE on SERVFAIL and NO_TARGETS on NODATA', async () => {
    const locator = new ServerLocator({ resolver });
    await assert.rejects(locator.locate({ host: 'broken.test', port: 5060, secure: false }), { code: 'DNS_FAILURE' });
    await assert.rejects(locator.locate({ host: 'empty.test', secure: false }), (error: unknown) => {
      assert.ok(error instanceof ServerLocationError);
      assert.equal(error.code, 'NO_TARGETS');
      assert.ok(error.failures.some((f) => f.type === 'A' && f.code === 'ENODATA'));
      return true;
    });
  });

  it('asks the wire once per name while the cache holds the answers', async () => {
    const cache = new CachingDnsResolver(resolver, { clock: new ManualClock() });
    const locator = new ServerLocator({ resolver: cache, families: [4] });
    const queriesBefore = dnsServer.queries.length;
    const first = await locator.locate({ host: 'example.test', secure: true });
    const asked = dnsServer.queries.length - queriesBefore;
    const second = await locator.locate({ host: 'example.test', secure: true });
    assert.deepEqual(second, first);
    assert.equal(dnsServer.queries.length - queriesBefore, asked);
    assert.deepEqual(
      dnsServer.queries.slice(queriesBefore).map((q) => `${q.type} ${q.name}`).sort(),
      ['A tls1.example.test', 'A tls2.example.test', 'NAPTR example.test', 'SRV _sips._tcp.example.test'],
    );
  });
});
