/**
 * The contract and the app agree: openapi.yaml is a valid OpenAPI 3.1 document with examples
 * that match its schemas, the generated types are fresh, and every route the app serves is an
 * operation of the contract and every operation is served (DESIGN.md "The API").
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createConfig, lint } from '@redocly/openapi-core';
import request from 'supertest';
import { parse } from 'yaml';
import { CONTRACT_FILE, contractCoverage, createApp, loadContract, type RouteModule } from '../../src/api/index.js';
import { createSchemaCheck } from '../../src/api/validation.js';
import { AUTH, fakeRoutes, testApp } from './fake-routes.js';

const contract = loadContract();
const document = parse(readFileSync(CONTRACT_FILE, 'utf8')) as Record<string, unknown>;
const check = createSchemaCheck(contract);

/** An example path for an operation: `{id}` filled with an id of the right kind. */
function concretePath(path: string): string {
  if (path.startsWith('/v1/calls/')) return path.replace('{id}', 'call_8f3a2b1c9d4e5f60');
  if (path.startsWith('/v1/trunks/')) return path.replace('{id}', 'trk_4f9a1c2b7e');
  if (path.startsWith('/v1/webhook-endpoints/')) return path.replace('{id}', 'whe_7Hq2LkP9sVx4Rb1Tn6Wm3c');
  if (path.startsWith('/v1/webhook-deliveries/')) return path.replace('{id}', 'whd_Rb1Tn6Wm3c7Hq2LkP9sVx4');
  if (path.includes('/buttons/')) return path.replace('{id}', 'btn_3kQ9zV1xT7mB2nR5wY8pL4');
  if (path.startsWith('/v1/public/calls/')) return path.replace('{token}', 'pct_Vb8Qm2Zp7Lx1Nc3Rt6Ws9Yk4Hd5Jf0Ga');
  return path.replace('{id}', 'key_9d8c7b6a5f');
}

function* refsIn(value: unknown, at = '#'): Generator<[string, string]> {
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) yield* refsIn(item, `${at}/${index}`);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (key === '$ref' && typeof item === 'string') yield [at, item];
      else yield* refsIn(item, `${at}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    }
  }
}

function resolvePointer(ref: string): unknown {
  let target: unknown = document;
  for (const segment of ref.slice(2).split('/')) {
    const key = segment.replace(/~1/g, '/').replace(/~0/g, '~');
    target = typeof target === 'object' && target !== null ? (target as Record<string, unknown>)[key] : undefined;
  }
  return target;
}

describe('openapi.yaml', () => {
  test('is an OpenAPI 3.1 document that Redocly lints clean with its recommended rules', async () => {
    assert.match(String(document.openapi), /^3\.1\./);
    const config = await createConfig({
      extends: ['recommended'],
      // The probes have no client errors to document.
      rules: { 'operation-4xx-response': 'off' },
    });
    const problems = await lint({ ref: CONTRACT_FILE, config });
    const described = problems.map((problem) => `${problem.severity} ${problem.ruleId}: ${problem.message} at ${problem.location[0]?.pointer ?? '?'}`);
    assert.deepEqual(described, []);
  });

  test('every $ref resolves inside the document', () => {
    const refs = [...refsIn(document)];
    assert.ok(refs.length > 100, `expected many $refs, found ${refs.length}`);
    for (const [at, ref] of refs) {
      assert.ok(ref.startsWith('#/'), `${at}: only local references are used (${ref})`);
      assert.notEqual(resolvePointer(ref), undefined, `${at}: ${ref} does not resolve`);
    }
  });

  test('has the operations of the API at the agreed paths', () => {
    const operations = contract.operations.map((operation) => `${operation.method.toUpperCase()} ${operation.path} ${operation.operationId}`).sort();
    assert.deepEqual(operations, [
      'DELETE /v1/api-keys/{id} deleteApiKey',
      'DELETE /v1/buttons/{id} deleteButton',
      'DELETE /v1/trunks/{id} deleteTrunk',
      'DELETE /v1/webhook-endpoints/{id} deleteWebhookEndpoint',
      'GET /healthz getHealth',
      'GET /metrics getMetrics',
      'GET /readyz getReadiness',
      'GET /v1/api-keys listApiKeys',
      'GET /v1/buttons listButtons',
      'GET /v1/buttons/{id} getButton',
      'GET /v1/calls listCalls',
      'GET /v1/calls/{id} getCall',
      'GET /v1/calls/{id}/events listCallEvents',
      'GET /v1/calls/{id}/sip getCallSipLog',
      'GET /v1/calls/{id}/webhook-deliveries listCallWebhookDeliveries',
      'GET /v1/public/buttons/{id} getPublicButton',
      'GET /v1/public/calls/{token} getPublicCall',
      'GET /v1/public/calls/{token}/events streamPublicCall',
      'GET /v1/trunks listTrunks',
      'GET /v1/trunks/{id} getTrunk',
      'GET /v1/webhook-deliveries/{id} getWebhookDelivery',
      'GET /v1/webhook-endpoints listWebhookEndpoints',
      'GET /v1/webhook-endpoints/{id} getWebhookEndpoint',
      'GET /v1/webhook-endpoints/{id}/deliveries listWebhookDeliveries',
      'GET /v1/webhook-endpoints/{id}/secret getWebhookEndpointSecret',
      'GET /v1/webhook-secret getAccountWebhookSecret',
      'PATCH /v1/buttons/{id} updateButton',
      'PATCH /v1/trunks/{id} updateTrunk',
      'PATCH /v1/webhook-endpoints/{id} updateWebhookEndpoint',
      'POST /v1/api-keys createApiKey',
      'POST /v1/buttons createButton',
      'POST /v1/calls createCall',
      'POST /v1/calls/{id}/hangup hangupCall',
      'POST /v1/calls/{id}/transfer transferCall',
      'POST /v1/public/buttons/{id}/calls createPublicButtonCall',
      'POST /v1/trunks createTrunk',
      'POST /v1/webhook-deliveries/{id}/retry retryWebhookDelivery',
      'POST /v1/webhook-endpoints createWebhookEndpoint',
      'POST /v1/webhook-endpoints/{id}/rotate-secret rotateWebhookEndpointSecret',
      'POST /v1/webhook-endpoints/{id}/test sendTestWebhook',
      'POST /v1/webhook-secret/rotate rotateAccountWebhookSecret',
    ]);
  });

  test('every operation is public exactly when it is outside /v1 or under /v1/public', () => {
    for (const operation of contract.operations) {
      const secured = operation.path.startsWith('/v1/') && !operation.path.startsWith('/v1/public/');
      assert.equal(operation.secured, secured, `${operation.operationId}: secured=${operation.secured}`);
    }
  });

  test('every operation documents its errors as problems: 401 when secured, 404 with an id, 413/415/422 with a body', () => {
    for (const operation of contract.operations) {
      const statuses = Object.keys(operation.responses);
      const need = [
        ...(operation.secured ? ['401', '500'] : []),
        ...(operation.path.includes('{id}') || operation.path.includes('{token}') ? ['404'] : []),
        ...(operation.requestBody ? ['413', '415', '422'] : []),
        ...(operation.parameters.some((parameter) => parameter.in === 'query' || parameter.in === 'header') ? ['400'] : []),
      ];
      for (const status of need) assert.ok(statuses.includes(status), `${operation.operationId} does not document ${status}`);
      for (const [status, response] of Object.entries(operation.responses)) {
        if (Number(status) >= 400 && operation.operationId !== 'getReadiness') {
          assert.equal(response.mediaType, 'application/problem+json', `${operation.operationId} ${status} is not a problem`);
        }
      }
    }
  });

  test('lists take limit (1-100, default 20) and cursor, and answer { data, nextCursor, hasMore }', () => {
    for (const operationId of ['listCalls', 'listTrunks', 'listApiKeys', 'listButtons']) {
      const operation = contract.operation(operationId);
      const limit = operation.parameters.find((parameter) => parameter.name === 'limit');
      assert.deepEqual(limit?.schema, { type: 'integer', minimum: 1, maximum: 100, default: 20 });
      assert.ok(operation.parameters.some((parameter) => parameter.name === 'cursor' && parameter.in === 'query'));
      const schema = operation.responses['200']?.schema as { $ref: string };
      const list = resolvePointer(schema.$ref) as { required: string[] };
      assert.deepEqual(list.required, ['data', 'nextCursor', 'hasMore']);
    }
  });

  test('every operation has a summary, a tag, and examples of its request body and of each JSON answer', () => {
    for (const operation of contract.operations) {
      const raw = (document.paths as Record<string, Record<string, { summary?: string; tags?: string[] }>>)[operation.path]?.[operation.method];
      assert.ok(raw?.summary, `${operation.operationId} has no summary`);
      assert.ok(raw?.tags?.length, `${operation.operationId} has no tag`);
      if (operation.requestBody) assert.ok(Object.keys(operation.requestBody.examples).length > 0, `${operation.operationId} has no request example`);
      for (const [status, response] of Object.entries(operation.responses)) {
        if (response.schema) assert.ok(Object.keys(response.examples).length > 0, `${operation.operationId} ${status} has no example`);
      }
    }
  });

  test("every example matches its schema (request bodies, answers and problems)", () => {
    let checked = 0;
    for (const operation of contract.operations) {
      for (const [name, example] of Object.entries(operation.requestBody?.examples ?? {})) {
        assert.deepEqual(check(operation.requestBody?.schema ?? true, example), [], `${operation.operationId} request example ${name}`);
        checked++;
      }
      for (const [status, response] of Object.entries(operation.responses)) {
        for (const [name, example] of Object.entries(response.examples)) {
          assert.deepEqual(check(response.schema ?? true, example), [], `${operation.operationId} ${status} example ${name}`);
          checked++;
        }
      }
    }
    assert.ok(checked > 50, `only ${checked} examples`);
  });

  test('every request example is accepted by the running app', async () => {
    const { app } = testApp();
    for (const operation of contract.operations) {
      for (const [name, example] of Object.entries(operation.requestBody?.examples ?? {})) {
        const response = await request(app)[operation.method as 'post'](concretePath(operation.path)).set(AUTH).send(example as object);
        assert.ok(response.status < 300, `${operation.operationId} example ${name}: ${response.status} ${JSON.stringify(response.body)}`);
      }
    }
  });

  test('the generated types are up to date with the contract', () => {
    const result = spawnSync(process.execPath, ['scripts/generate-api.mjs', '--check'], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
  });
});

describe('contract coverage', () => {
  test('the app with every operation registered serves the contract, the whole contract and nothing else', () => {
    const coverage = contractCoverage(testApp().app);
    assert.deepEqual(coverage.undocumented, []);
    assert.deepEqual(coverage.unserved, []);
    assert.deepEqual(coverage.mismatched, []);
    assert.equal(coverage.ok, true);
    // The docs are served too, but are the framework's, not the contract's.
    const framework = coverage.served.filter((route) => route.framework).map((route) => route.path);
    assert.deepEqual(framework.sort(), ['/docs', '/docs/assets/:file', '/docs/errors', '/docs/init.js', '/openapi.json', '/openapi.yaml']);
  });

  test('every operation of the contract answers through its validated handler', async () => {
    const { app, received } = testApp();
    for (const operation of contract.operations) {
      const example = Object.values(operation.requestBody?.examples ?? {})[0];
      let call = request(app)[operation.method as 'get'](concretePath(operation.path)).set(AUTH);
      if (example !== undefined) call = call.send(example as object);
      const response = await call;
      assert.ok(response.status < 300, `${operation.operationId}: ${response.status} ${JSON.stringify(response.body)}`);
      if (operation.secured) assert.equal(received.at(-1)?.operationId, operation.operationId);
    }
  });

  test('reports a route that is not in the contract', () => {
    const extra: RouteModule = (router) => {
      router.get('/v1/calls/:id/recording', (_req, res) => {
        res.json({});
      });
    };
    const coverage = contractCoverage(testApp({ registerRoutes: [fakeRoutes([]), extra] }).app);
    assert.equal(coverage.ok, false);
    assert.deepEqual(
      coverage.undocumented.map((route) => `${route.method} ${route.path}`),
      ['GET /v1/calls/:id/recording'],
    );
  });

  test('reports the operations nobody serves', () => {
    const onlyCalls: RouteModule = (_router, { operation }) => {
      operation('getCall', ({ path }) => ({ status: 200, body: { id: path.id } as never }));
    };
    const coverage = contractCoverage(testApp({ registerRoutes: onlyCalls }).app);
    const unserved = coverage.unserved.map((operation) => operation.operationId);
    assert.ok(unserved.includes('createCall'));
    assert.ok(!unserved.includes('getCall'));
    assert.ok(!unserved.includes('getHealth'), 'the probes are served by the framework');
    assert.ok(!unserved.includes('getMetrics'), 'so is /metrics');
    assert.equal(unserved.length, contract.operations.length - 4);
  });

  test('reports routes served without validated(), or with the handler of another operation', () => {
    const wrong: RouteModule = (router, { validated }) => {
      router.get('/v1/trunks', (_req, res) => {
        res.json({ data: [], nextCursor: null, hasMore: false });
      });
      router.get('/v1/api-keys', validated('listTrunks', () => ({ status: 200, body: { data: [], nextCursor: null, hasMore: false } })));
    };
    const coverage = contractCoverage(testApp({ registerRoutes: wrong }).app);
    assert.deepEqual(
      coverage.mismatched.map(({ route, expected }) => `${route.method} ${route.path}: ${route.operationId ?? 'none'} instead of ${expected}`),
      ['GET /v1/trunks: none instead of listTrunks', 'GET /v1/api-keys: listTrunks instead of listApiKeys'],
    );
  });

  test('sees routes of nested routers with their mount paths', async () => {
    const { Router } = await import('express');
    const nested: RouteModule = (router, { validated }) => {
      const trunks = Router();
      trunks.get('/:id', validated('getTrunk', ({ path }) => ({ status: 200, body: { id: path.id } as never })));
      router.use('/v1/trunks', trunks);
    };
    const coverage = contractCoverage(createApp({ authenticate: () => null, ready: () => ({ ok: true, checks: {} }), registerRoutes: nested }));
    const route = coverage.served.find((served) => served.operationId === 'getTrunk');
    assert.equal(route?.path, '/v1/trunks/:id');
    assert.ok(!coverage.unserved.some((operation) => operation.operationId === 'getTrunk'));
  });

  test('validated() refuses an operationId the contract does not have, at registration', () => {
    const typo: RouteModule = (_router, { operation }) => {
      operation('getCalls' as 'getCall', () => ({ status: 200, body: {} as never }));
    };
    assert.throws(() => testApp({ registerRoutes: typo }), /openapi\.yaml has no operation getCalls/);
  });
});
