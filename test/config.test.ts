import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';

describe('configuration', () => {
  test('defaults work on a fresh machine: every role, local PostgreSQL and Redis, SIP on 5060, HTTP on 3000', () => {
    const config = loadConfig({});
    assert.deepEqual(config.roles, ['api', 'engine', 'webhooks']);
    assert.equal(config.sip.port, 5060);
    assert.equal(config.http.port, 3000);
    assert.equal(config.databaseUrl, 'postgresql://postgres:postgres@127.0.0.1:5432/click_to_dial');
    assert.equal(config.redisUrl, 'redis://127.0.0.1:6379');
    assert.equal(config.queuePrefix, 'ctd');
    assert.equal(config.bootstrapApiKey, undefined);
    assert.equal(config.engine.failoverMs, 10_000);
    assert.match(config.engine.id, /-\d+$/);
  });

  test('reads every variable', () => {
    const config = loadConfig({
      SIP_PORT: '5070', SIP_HOST: '0.0.0.0', SIP_PUBLIC_HOST: 'ctd.example.com', HTTP_PORT: '8080', ROLES: 'engine',
      DATABASE_URL: 'postgres://u:p@db:5432/x', REDIS_URL: 'redis://r:6380', BOOTSTRAP_API_KEY: 'ctd_bootstrap_key_0123456789',
      SECRETS_KEY: 'ab'.repeat(32), ENGINE_ID: 'engine-1', ENGINE_FAILOVER_MS: '5000', DRAIN_MS: '0', CALL_QUEUE_TIMEOUT_MS: '90000', DATABASE_POOL_SIZE: '4', DATABASE_WRITER_POOL_SIZE: '2', LOG_LEVEL: 'DEBUG',
      QUEUE_PREFIX: 'ctd-staging',
    });
    assert.equal(config.queuePrefix, 'ctd-staging');
    assert.equal(config.sip.port, 5070);
    assert.equal(config.sip.publicHost, 'ctd.example.com');
    assert.deepEqual(config.roles, ['engine']);
    assert.equal(config.secretsKey?.length, 32);
    assert.equal(config.engine.id, 'engine-1');
    assert.equal(config.engine.drainMs, 0);
    assert.equal(config.engine.queueTimeoutMs, 90_000);
    assert.deepEqual(config.databasePools, { main: 4, writer: 2 });
    assert.equal(config.logLevel, 'debug');
  });

  for (const [variable, value, message] of [
    ['SIP_PORT', '70000', /SIP_PORT: expected a port number/],
    ['HTTP_PORT', 'abc', /HTTP_PORT: expected a port number/],
    ['CALL_QUEUE_TIMEOUT_MS', '10', /CALL_QUEUE_TIMEOUT_MS/],
    ['DATABASE_POOL_SIZE', '1', /DATABASE_POOL_SIZE/],
    ['SIP_HOST', 'not-an-ip', /SIP_HOST: expected an IPv4 or IPv6 address/],
    ['ROLES', 'api,dialer', /ROLES: unknown role "dialer"/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL: expected a postgres: or postgresql: URL/],
    ['REDIS_URL', 'nope', /REDIS_URL: not a URL/],
    ['QUEUE_PREFIX', 'ctd:prod', /QUEUE_PREFIX: not 1 to 64 letters/],
    ['SECRETS_KEY', 'abcd', /SECRETS_KEY: expected 32 bytes/],
    ['BOOTSTRAP_API_KEY', 'short', /BOOTSTRAP_API_KEY: expected 20 to 200/],
    ['ENGINE_FAILOVER_MS', '10', /ENGINE_FAILOVER_MS: expected a whole number from 500/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL: expected one of/],
  ] as const) {
    test(`refuses ${variable}=${value} with a message naming it`, () => {
      assert.throws(() => loadConfig({ [variable]: value }), (error: unknown) => error instanceof ConfigError && error.variable === variable && message.test(error.message));
    });
  }

  test('a bad DATABASE_URL is reported without its password', () => {
    assert.throws(() => loadConfig({ DATABASE_URL: 'postgres://user:secret@[bad' }), (error: unknown) => error instanceof Error && !error.message.includes('secret'));
  });
});

describe('SIP over TLS configuration', () => {
  test('off without a certificate; with SIP_TLS_CERT and SIP_TLS_KEY it reads both files, port 5061 and peer checks on by default', async (t) => {
    const { createTestCa } = await import('./support/test-ca.js');
    assert.equal(loadConfig({}).sip.tls, undefined);
    const ca = await createTestCa(t);
    const issued = await ca.issue('engine');
    const config = loadConfig({ SIP_TLS_CERT: issued.certFile, SIP_TLS_KEY: issued.keyFile, SIP_TLS_CA: ca.caFile });
    assert.equal(config.sip.tls?.port, 5061);
    assert.equal(config.sip.tls?.verifyServer, true);
    assert.equal(config.sip.tls?.cert, issued.cert);
    assert.equal(config.sip.tls?.ca, ca.ca);
    assert.equal(loadConfig({ SIP_TLS_CERT: issued.certFile, SIP_TLS_KEY: issued.keyFile, SIP_TLS_PORT: '5071', SIP_TLS_VERIFY: 'false' }).sip.tls?.verifyServer, false);
    assert.throws(() => loadConfig({ SIP_TLS_CERT: issued.certFile }), (error: unknown) => error instanceof ConfigError && error.variable === 'SIP_TLS_KEY');
    assert.throws(() => loadConfig({ SIP_TLS_CERT: '/nonexistent/cert.pem', SIP_TLS_KEY: issued.keyFile }), (error: unknown) => error instanceof ConfigError && error.variable === 'SIP_TLS_CERT' && /ENOENT/.test(error.message));
    assert.throws(() => loadConfig({ SIP_TLS_CERT: issued.certFile, SIP_TLS_KEY: issued.keyFile, SIP_TLS_VERIFY: 'maybe' }), (error: unknown) => error instanceof ConfigError && error.variable === 'SIP_TLS_VERIFY');
  });
});
