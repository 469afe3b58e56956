/**
 * The API reference at /docs is rendered from the same openapi.yaml, works offline (every asset
 * is served from node_modules), and the contract is served as YAML and JSON.
 */
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { parse } from 'yaml';
import { CONTRACT_FILE, PROBLEM_CATALOGUE, loadContract } from '../../src/api/index.js';
import { testApp } from './fake-routes.js';

const { app } = testApp();

describe('GET /docs', () => {
  test('is an HTML page whose scripts and styles all come from this server', async () => {
    const response = await request(app).get('/docs').expect(200);
    assert.match(response.headers['content-type'] ?? '', /^text\/html/);
    const html = response.text;
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1] as string);
    assert.ok(urls.includes('/docs/assets/swagger-ui-bundle.js'));
    assert.ok(urls.includes('/docs/assets/swagger-ui.css'));
    for (const url of urls) {
      assert.ok(url.startsWith('/'), `${url} is not on this server`);
      const asset = await request(app).get(url);
      assert.equal(asset.status, 200, url);
    }
  });

  test('the bundle is the real Swagger UI and the page loads /openapi.json without an online validator', async () => {
    const bundle = await request(app).get('/docs/assets/swagger-ui-bundle.js').expect(200);
    assert.match(bundle.headers['content-type'] ?? '', /javascript/);
    assert.ok(bundle.text.length > 500_000);
    assert.ok(bundle.text.includes('SwaggerUIBundle'));
    const init = await request(app).get('/docs/init.js').expect(200);
    assert.ok(init.text.includes("url: '/openapi.json'"));
    assert.ok(init.text.includes('validatorUrl: null'));
  });

  test('only the listed assets are served', async () => {
    for (const file of ['index.html', 'package.json', 'constructor', '..%2Fpackage.json', 'swagger-initializer.js']) {
      assert.equal((await request(app).get(`/docs/assets/${file}`)).status, 404, file);
    }
  });

  test('/docs/errors describes every problem code, at the anchor its type points to', async () => {
    const response = await request(app).get('/docs/errors').expect(200);
    for (const [code, { status, title }] of Object.entries(PROBLEM_CATALOGUE)) {
      assert.ok(response.text.includes(`<tr id="${code}"><td>${status}</td><td><code>${code}</code></td><td>${title}</td>`), code);
    }
    // Every problem example of the contract names a documented code.
    for (const operation of loadContract().operations) {
      for (const answer of Object.values(operation.responses)) {
        if (answer.mediaType !== 'application/problem+json') continue;
        for (const example of Object.values(answer.examples) as Array<{ type: string; code: string; status: number }>) {
          assert.equal(example.type, `/docs/errors#${example.code}`);
          assert.equal(PROBLEM_CATALOGUE[example.code as keyof typeof PROBLEM_CATALOGUE]?.status, example.status, example.code);
        }
      }
    }
  });
});

describe('the contract itself', () => {
  test('GET /openapi.yaml is the file', async () => {
    const response = await request(app).get('/openapi.yaml').expect(200);
    assert.match(response.headers['content-type'] ?? '', /^application\/yaml/);
    assert.equal(response.text, readFileSync(CONTRACT_FILE, 'utf8'));
  });

  test('GET /openapi.json is the same document as JSON', async () => {
    const response = await request(app).get('/openapi.json').expect(200);
    assert.match(response.headers['content-type'] ?? '', /^application\/json/);
    assert.deepEqual(response.body, parse(readFileSync(CONTRACT_FILE, 'utf8')));
    assert.equal(response.body.openapi.slice(0, 3), '3.1');
  });
});
