import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../src/sip/clock.js';
import { CachingDnsResolver, DEFAULT_DNS_CACHE_OPTIONS, ServerLocator } from '../../../src/sip/locate/index.js';
import { FakeResolver } from './fake-resolver.js';

function cached(options: { maxEntries?: number; negativeTtlMs?: number; recordTtlMs?: number } = {}) {
  const clock = new ManualClock();
  const dns = new FakeResolver({
    records: {
      'example.com': [
        { type: 'A', address: '192.0.2.1', ttl: 30 },
        { type: 'A', address: '192.0.2.2', ttl: 20 },
        { type: 'NAPTR', order: 1, preference: 1, flags: 's', service: 'SIP+D2U', replacement: '_sip._udp.example.com' },
      ],
      '_sip._udp.example.com': [{ type: 'SRV', priority: 0, weight: 0, port: 5060, target: 'example.com' }],
      'zero.example.com': [{ type: 'A', address: '192.0.2.9', ttl: 0 }],
      'v6.example.com': [{ type: 'AAAA', address: '2001:db8::1', ttl: 60 }],
    },
    faults: { 'broken.example.com': 'servfail' },
  });
  return { clock, dns, cache: new CachingDnsResolver(dns, { clock, ...options }) };
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

describe('CachingDnsResolver', () => {
  it('keeps A records for the smallest TTL of the set, then asks again', async () => {
    const { clock, dns, cache } = cached();
    const first = await cache.resolve4('example.com', { ttl: true });
    assert.deepEqual(first.map((r) => r.address), ['192.0.2.1', '192.0.2.2']);
    clock.advance(19_000);
    await cache.resolve4('example.com', { ttl: true });
    assert.equal(dns.count('A', 'example.com'), 1);
    clock.advance(1_000);
    await cache.resolve4('example.com', { ttl: true });
    assert.equal(dns.count('A', 'example.com'), 2);
  });

  it('reports the TTL left on a cached record', async () => {
    const { clock, cache } = cached();
    await cache.resolve6('v6.example.com', { ttl: true });
    clock.advance(45_000);
    assert.deepEqual(await cache.resolve6('v6.example.com', { ttl: true }), [{ address: '2001:db8::1', ttl: 15 }]);
  });

  it('does not cache a TTL of zero', async () => {
    const { dns, cache } = cached();
    await cache.resolve4('zero.example.com', { ttl: true });
    await cache.resolve4('zero.example.com', { ttl: true });
    assert.equal(dns.count('A', 'zero.example.com'), 2);
    assert.equal(cache.size, 0);
  });

  it('keeps NAPTR and SRV answers for recordTtlMs, as node:dns gives no TTL for them', async () => {
    const { clock, dns, cache } = cached({ recordTtlMs: 5_000 });
    await cache.resolveNaptr('example.com');
    await cache.resolveSrv('_sip._udp.example.com');
    clock.advance(4_999);
    assert.equal((await cache.resolveNaptr('EXAMPLE.com.'))[0]!.service, 'SIP+D2U');
    await cache.resolveSrv('_sip._udp.example.com');
    assert.equal(dns.count('NAPTR', 'example.com'), 1);
    assert.equal(dns.count('SRV', '_sip._udp.example.com'), 1);
    clock.advance(1);
    await cache.resolveNaptr('example.com');
    assert.equal(dns.count('NAPTR', 'example.com'), 2);
  });

  it('remembers NXDOMAIN and NODATA briefly, failing with the same code', async () => {
    const { clock, dns, cache } = cached({ negativeTtlMs: 2_000 });
    assert.equal(await codeOf(cache.resolve4('missing.example.com', { ttl: true })), 'ENOTFOUND');
    assert.equal(await codeOf(cache.resolve4('missing.example.com', { ttl: true })), 'ENOTFOUND');
    assert.equal(await codeOf(cache.resolveSrv('example.com')), 'ENODATA');
    assert.equal(await codeOf(cache.resolveSrv('example.com')), 'ENODATA');
    assert.equal(dns.count('A', 'missing.example.com'), 1);
    assert.equal(dns.count('SRV', 'example.com'), 1);
    clock.advance(2_000);
    assert.equal(await codeOf(cache.resolve4('missing.example.com', { ttl: true })), 'ENOTFOUND');
    assert.equal(dns.count('A', 'missing.example.com'), 2);
  });

  it('does not cache SERVFAIL', async () => {
    const { dns, cache } = cached();
    assert.equal(await codeOf(cache.resolve4('broken.example.com', { ttl: true })), 'ESERVFAIL');
    assert.equal(await codeOf(cache.resolve4('broken.example.com', { ttl: true })), 'ESERVFAIL');
    assert.equal(dns.count('A', 'broken.example.com'), 2);
  });

  it('evicts the least recently used entry beyond maxEntries', async () => {
    const { dns, cache } = cached({ maxEntries: 2 });
    await cache.resolve4('example.com', { ttl: true });
    await cache.resolve6('v6.example.com', { ttl: true });
    await cache.resolve4('example.com', { ttl: true }); // now the most recently used
    await cache.resolveNaptr('example.com'); // evicts AAAA v6.example.com
    assert.equal(cache.size, 2);
    await cache.resolve4('example.com', { ttl: true });
    await cache.resolve6('v6.example.com', { ttl: true });
    assert.equal(dns.count('A', 'example.com'), 1);
    assert.equal(dns.count('AAAA', 'v6.example.com'), 2);
  });

  it('shares one query between concurrent lookups of the same name', async () => {
    const { dns, cache } = cached();
    const answers = await Promise.all([cache.resolveSrv('_sip._udp.example.com'), cache.resolveSrv('_SIP._udp.example.com')]);
    assert.deepEqual(answers[0], answers[1]);
    assert.equal(dns.queries.length, 1);
  });

  it('hands out copies, so a caller cannot change what is cached', async () => {
    const { cache } = cached();
    const first = await cache.resolveSrv('_sip._udp.example.com');
    first[0]!.port = 1;
    assert.equal((await cache.resolveSrv('_sip._udp.example.com'))[0]!.port, 5060);
  });

  it('serves a ServerLocator, which then asks DNS once per name until the TTL runs out', async () => {
    const { clock, dns, cache } = cached();
    const locator = new ServerLocator({ resolver: cache, families: [4] });
    const first = await locator.locate({ host: 'example.com', secure: false });
    const second = await locator.locate({ host: 'example.com', secure: false });
    assert.deepEqual(second, first);
    assert.equal(dns.queries.length, 3); // NAPTR, SRV, A
    clock.advance(DEFAULT_DNS_CACHE_OPTIONS.recordTtlMs);
    await locator.locate({ host: 'example.com', secure: false });
    assert.equal(dns.queries.length, 6);
  });
});
