/**
 * The SSRF guard: http(s) only; every refused kind of address, literal or resolved; a name that
 * resolves to one public and one private address is refused; and the sender connects to the
 * address that was checked even when DNS answers differently afterwards (DNS rebinding).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { checkDestination, DestinationCache, DestinationRefused, HttpSender, refusedKind, type RefusalReason } from '../../src/webhooks/index.js';

const REFUSED: ReadonlyArray<readonly [string, RefusalReason]> = [
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['::1', 'loopback'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['::', 'unspecified'],
  ['10.0.0.1', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['fec0::1', 'private'],
  ['169.254.1.1', 'link_local'],
  ['fe80::1', 'link_local'],
  ['100.64.0.1', 'shared_address_space'],
  ['100.127.255.254', 'shared_address_space'],
  ['169.254.169.254', 'metadata'],
  ['100.100.100.200', 'metadata'],
  ['192.0.0.192', 'metadata'],
  ['fd00:ec2::254', 'metadata'],
  ['fc00::1', 'unique_local'],
  ['fd12:3456:789a::1', 'unique_local'],
  ['::ffff:127.0.0.1', 'ipv4_mapped'],
  ['::ffff:8.8.8.8', 'ipv4_mapped'],
  ['::ffff:169.254.169.254', 'ipv4_mapped'],
  ['::7f00:1', 'ipv4_mapped'],
  ['64:ff9b::a00:1', 'ipv4_mapped'],
  ['2002:c0a8:101::1', 'ipv4_mapped'],
  ['224.0.0.1', 'multicast'],
  ['ff02::1', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.255', 'reserved'],
  ['198.18.0.1', 'reserved'],
  ['192.0.0.8', 'reserved'],
  ['2001::1', 'reserved'],
  ['100::1', 'reserved'],
  ['192.0.2.1', 'documentation'],
  ['198.51.100.1', 'documentation'],
  ['203.0.113.1', 'documentation'],
  ['2001:db8::1', 'documentation'],
];

const PUBLIC = ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '169.255.0.1', '2606:4700:4700::1111', '2001:4860:4860::8888'];

const url = (address: string): string => `https://${address.includes(':') ? `[${address}]` : address}/hooks`;

describe('SSRF guard', () => {
  test('classifies every refused kind of address, and public ones as fine', () => {
    for (const [address, reason] of REFUSED) assert.equal(refusedKind(address), reason, address);
    for (const address of PUBLIC) assert.equal(refusedKind(address), null, address);
  });

  test('refuses URLs whose literal address is of a refused kind', async () => {
    for (const [address, reason] of REFUSED) {
      await assert.rejects(checkDestination(url(address), { allowPrivate: false }), (error: unknown) => error instanceof DestinationRefused && error.reason === reason, address);
    }
    const ok = await checkDestination('https://8.8.8.8/hooks', { allowPrivate: false });
    assert.equal(ok.address, '8.8.8.8');
  });

  test('refuses schemes other than http and https, and malformed URLs', async () => {
    for (const bad of ['ftp://example.com/', 'file:///etc/passwd', 'gopher://example.com/', 'javascript:alert(1)', 'not a url']) {
      await assert.rejects(checkDestination(bad, { allowPrivate: true }), (error: unknown) => error instanceof DestinationRefused && (error.reason === 'not_http' || error.reason === 'bad_url'), bad);
    }
  });

  test('resolves names and refuses one that resolves to a refused address, even beside a public one', async () => {
    const resolve = async (host: string) => {
      if (host === 'internal.example.com') return [{ address: '10.1.2.3', family: 4 }];
      if (host === 'mixed.example.com') return [{ address: '93.184.216.34', family: 4 }, { address: '::1', family: 6 }];
      if (host === 'public.example.com') return [{ address: '93.184.216.34', family: 4 }];
      throw new Error('ENOTFOUND');
    };
    await assert.rejects(checkDestination('https://internal.example.com/', { allowPrivate: false, resolve }), (error: unknown) => error instanceof DestinationRefused && error.reason === 'private' && error.address === '10.1.2.3');
    await assert.rejects(checkDestination('https://mixed.example.com/', { allowPrivate: false, resolve }), (error: unknown) => error instanceof DestinationRefused && error.reason === 'loopback');
    await assert.rejects(checkDestination('https://nowhere.example.com/', { allowPrivate: false, resolve }), (error: unknown) => error instanceof DestinationRefused && error.reason === 'unresolvable');
    assert.equal((await checkDestination('https://public.example.com/', { allowPrivate: false, resolve })).address, '93.184.216.34');
    // The real resolver: localhost is loopback.
    await assert.rejects(checkDestination('http://localhost:9/', { allowPrivate: false }), (error: unknown) => error instanceof DestinationRefused && error.reason === 'loopback');
  });

  test('allowPrivate lets loopback through (tests, development) but never another scheme', async () => {
    assert.equal((await checkDestination('http://127.0.0.1:8080/', { allowPrivate: true })).address, '127.0.0.1');
    await assert.rejects(checkDestination('ftp://127.0.0.1/', { allowPrivate: true }), DestinationRefused);
  });

  test('the sender connects to the checked address, whatever DNS answers afterwards (no DNS rebinding)', async (t) => {
    const hits: string[] = [];
    const server = createServer((request, response) => {
      hits.push(String(request.headers.host));
      response.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    // First answer: loopback (allowed here); later answers would point elsewhere.
    let answers = 0;
    const resolve = async () => (answers++ === 0 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '10.9.9.9', family: 4 }]);
    const cache = new DestinationCache({ allowPrivate: true, resolve, ttlMs: 60_000 });
    const sender = new HttpSender({ timeoutMs: 2000 });
    t.after(() => sender.close());
    for (let i = 0; i < 3; i++) {
      const destination = await cache.check(`http://rebind.example.com:${port}/hooks`);
      assert.equal(destination.address, '127.0.0.1');
      const result = await sender.send(destination, {}, '{}');
      assert.equal(result.status, 200, String(result.error));
    }
    assert.equal(answers, 1, 'resolved once, then the checked answer is reused');
    assert.deepEqual(hits, Array(3).fill(`rebind.example.com:${port}`), 'the Host header is the URL\'s');
  });

  test('redirects are not followed and large bodies are cut', async (t) => {
    let redirectedTo = 0;
    const server = createServer((request, response) => {
      if (request.url === '/redirect') {
        response.writeHead(302, { location: '/target' });
        response.end();
      } else if (request.url === '/target') {
        redirectedTo++;
        response.end('target');
      } else {
        response.writeHead(200);
        response.end('y'.repeat(200_000));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    const sender = new HttpSender({ timeoutMs: 2000 });
    t.after(() => sender.close());
    const redirect = await sender.send(await checkDestination(`http://127.0.0.1:${port}/redirect`, { allowPrivate: true }), {}, '{}');
    assert.equal(redirect.status, 302);
    assert.equal(redirectedTo, 0);
    const big = await sender.send(await checkDestination(`http://127.0.0.1:${port}/big`, { allowPrivate: true }), {}, '{}');
    assert.equal(big.status, 200);
    assert.equal(big.body?.length, 1024);
    assert.match(String(big.error), /longer than 65536 bytes/);
  });
});
