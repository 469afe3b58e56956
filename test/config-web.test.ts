/** The dial buttons' configuration (issue 6): PUBLIC_URL, TRUST_PROXY, WEB_TEST_PAGE. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';

describe('configuration of the web side', () => {
  test('defaults: snippets use the request host, X-Forwarded-For is ignored, no test page', () => {
    assert.deepEqual({ ...loadConfig({}).web }, { publicUrl: undefined, trustProxy: false, testPage: false });
  });

  test('reads PUBLIC_URL (without a trailing slash), TRUST_PROXY as hops or proxies, WEB_TEST_PAGE', () => {
    const config = loadConfig({ PUBLIC_URL: 'https://ctd.example.com/', TRUST_PROXY: 'loopback, 10.0.0.0/8', WEB_TEST_PAGE: 'true' });
    assert.deepEqual({ ...config.web }, { publicUrl: 'https://ctd.example.com', trustProxy: 'loopback,10.0.0.0/8', testPage: true });
    assert.equal(loadConfig({ TRUST_PROXY: '2' }).web.trustProxy, 2);
  });

  for (const [variable, value, message] of [
    ['TRUST_PROXY', 'true', /TRUST_PROXY: expected a hop count/],
    ['TRUST_PROXY', 'proxy.example.com', /TRUST_PROXY: expected a hop count/],
    ['PUBLIC_URL', 'ftp://ctd.example.com', /PUBLIC_URL: expected a http: or https: URL/],
    ['WEB_TEST_PAGE', 'yes', /WEB_TEST_PAGE: expected true or false/],
  ] as const) {
    test(`refuses ${variable}=${value} with a message naming it`, () => {
      assert.throws(() => loadConfig({ [variable]: value }), (error: unknown) => error instanceof ConfigError && error.variable === variable && message.test(error.message));
    });
  }
});
