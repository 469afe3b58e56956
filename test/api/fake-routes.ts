/**
 * A test-only registration of every operation of the contract, to exercise the framework before
 * (and independently of) the real resource routers. It uses both ways to register: `operation()`
 * by operationId, and `router.METHOD(path, validated(...))`. Handlers answer with the contract's
 * own examples, record what they received, and act out the interesting cases by id:
 *
 *   call_missing  → 404 not_found            call_ended  → hangup 409 call_already_ended
 *   call_ringing  → transfer 409             call_boom   → a plain Error (500, no internals)
 *   call_domain   → a domain error, mapped by mapError to 404
 *   trk_broken    → an answer that breaks the contract (500 when responses are checked)
 */
import type { Writable } from 'node:stream';
import { pino } from 'pino';
import {
  ApiProblem,
  createApp,
  decodeCursor,
  loadContract,
  page,
  type AppDeps,
  type Call,
  type JsonStatus,
  type OperationId,
  type ResponseBody,
  type RouteModule,
  type Trunk,
} from '../../src/api/index.js';

export const GOOD_KEY = 'sk_test_4eC39HqLyjWDarjtT1zdp7dc';
export const OTHER_KEY = 'sk_test_otherAccount00000000000';
export const AUTH = { Authorization: `Bearer ${GOOD_KEY}` };

/** A domain error as src/store would throw one (CONVENTIONS §5). */
export class CallNotFound extends Error {
  override readonly name = 'CallNotFound';
  readonly code = 'CALL_NOT_FOUND';
  constructor(readonly callId: string) {
    super(`call ${callId} not found`);
  }
}

const contract = loadContract();

/** The first example of an operation's JSON response, as its type. */
export function exampleBody<Op extends OperationId, S extends JsonStatus<Op>>(operationId: Op, status: S): ResponseBody<Op, S> {
  const examples = contract.operation(operationId).responses[String(status as number)]?.examples ?? {};
  const first = Object.values(examples)[0];
  if (first === undefined) throw new Error(`no example for ${operationId} ${String(status as number)}`);
  return structuredClone(first) as ResponseBody<Op, S>;
}

export interface Received {
  operationId: string;
  input: unknown;
  principal?: unknown;
  idempotency?: unknown;
  requestId: string;
}

/** 45 calls, newest first, alternating completed/failed, for the pagination tests. */
export function fakeCalls(): Call[] {
  const template = exampleBody('getCall', 200) as Call;
  return Array.from({ length: 45 }, (_, index) => {
    const createdAt = new Date(Date.UTC(2026, 11, 1, 12, 0, 0) - index * 60_000).toISOString();
    return { ...structuredClone(template), id: `call_${String(1000 + index)}`, createdAt, status: index % 2 === 0 ? 'completed' : 'failed' };
  });
}

export function fakeRoutes(received: Received[]): RouteModule {
  const calls = fakeCalls();
  const idempotent = new Map<string, { fingerprint: string; call: Call }>();
  return (router, { operation, validated }) => {
    const note = (operationId: string, input: unknown, context: { principal: unknown; idempotency: unknown; requestId: string }): void => {
      received.push({ operationId, input, principal: context.principal, idempotency: context.idempotency, requestId: context.requestId });
    };

    operation('createCall', (input, context) => {
      note('createCall', input, context);
      const { idempotency } = context;
      if (idempotency) {
        const key = `${context.principal.accountId}:${idempotency.key}`;
        const earlier = idempotent.get(key);
        if (earlier && earlier.fingerprint !== idempotency.fingerprint) {
          throw new ApiProblem('idempotency_key_reused', { detail: `The Idempotency-Key '${idempotency.key}' was used with another request body.` });
        }
        if (earlier) return { status: 202, body: earlier.call, headers: { 'Idempotent-Replayed': 'true', Location: `/v1/calls/${earlier.call.id}` } };
      }
      const call: Call = { ...exampleBody('createCall', 202), id: `call_${String(received.length).padStart(4, '0')}x`, flow: input.body.flow ?? 3 };
      if (idempotency) idempotent.set(`${context.principal.accountId}:${idempotency.key}`, { fingerprint: idempotency.fingerprint, call });
      return { status: 202, body: call, headers: { Location: `/v1/calls/${call.id}` } };
    });

    router.get(
      '/v1/calls',
      validated('listCalls', ({ query }, context) => {
        note('listCalls', { query }, context);
        const limit = query.limit ?? 20;
        const after = decodeCursor(query.cursor, ['createdAt', 'id']);
        const rows = calls.filter(
          (call) =>
            (query.status === undefined || call.status === query.status) &&
            (query.createdAfter === undefined || call.createdAt >= new Date(query.createdAfter).toISOString()) &&
            (query.createdBefore === undefined || call.createdAt < new Date(query.createdBefore).toISOString()) &&
            (after === undefined || call.createdAt < String(after.createdAt) || (call.createdAt === after.createdAt && call.id < String(after.id))),
        );
        return { status: 200, body: page(rows.slice(0, limit + 1), limit, (call) => ({ createdAt: call.createdAt, id: call.id })) };
      }),
    );

    operation('getCall', ({ path }, context) => {
      note('getCall', { path }, context);
      if (path.id === 'call_missing') throw ApiProblem.notFound('call', path.id);
      if (path.id === 'call_domain') throw new CallNotFound(path.id);
      return { status: 200, body: { ...exampleBody('getCall', 200), id: path.id } };
    });

    router.post(
      '/v1/calls/:id/hangup',
      validated('hangupCall', (input, context) => {
        note('hangupCall', input, context);
        if (input.path.id === 'call_ended') {
          throw new ApiProblem('call_already_ended', { detail: `Call ${input.path.id} has already ended (completed).` });
        }
        return { status: 202, body: { ...exampleBody('hangupCall', 202), id: input.path.id } };
      }),
    );

    operation('transferCall', (input, context) => {
      note('transferCall', input, context);
      if (input.path.id === 'call_ringing') {
        throw new ApiProblem('call_not_connected', { detail: `Call ${input.path.id} is calling_b; only a connected call can be transferred.` });
      }
      return { status: 202, body: { ...exampleBody('transferCall', 202), id: input.path.id } };
    });

    operation('listCallEvents', ({ path }, context) => {
      note('listCallEvents', { path }, context);
      return { status: 200, body: exampleBody('listCallEvents', 200) };
    });

    operation('getCallSipLog', ({ path }, context) => {
      note('getCallSipLog', { path }, context);
      if (path.id === 'call_boom') throw new Error('connect to postgres://ctd:hunter2@10.0.0.5/ctd failed');
      return { status: 200, body: exampleBody('getCallSipLog', 200) };
    });

    operation('createTrunk', (input, context) => {
      note('createTrunk', input, context);
      const trunk: Trunk = {
        ...exampleBody('createTrunk', 201),
        name: input.body.name,
        host: input.body.host,
        port: input.body.port ?? null,
        transport: input.body.transport ?? 'udp',
        hasPassword: typeof input.body.password === 'string',
      };
      return { status: 201, body: trunk, headers: { Location: `/v1/trunks/${trunk.id}` } };
    });
    operation('listTrunks', (input, context) => {
      note('listTrunks', input, context);
      return { status: 200, body: exampleBody('listTrunks', 200) };
    });
    router.get(
      '/v1/trunks/:id',
      validated('getTrunk', ({ path }, context) => {
        note('getTrunk', { path }, context);
        if (path.id === 'trk_broken') return { status: 200, body: { ...exampleBody('getTrunk', 200), password: 'leaked' } as Trunk };
        return { status: 200, body: { ...exampleBody('getTrunk', 200), id: path.id } };
      }),
    );
    operation('updateTrunk', (input, context) => {
      note('updateTrunk', input, context);
      return { status: 200, body: { ...exampleBody('updateTrunk', 200), id: input.path.id } };
    });
    operation('deleteTrunk', ({ path }, context) => {
      note('deleteTrunk', { path }, context);
      return { status: 200, body: { id: path.id, object: 'trunk', deleted: true } };
    });

    operation('createApiKey', (input, context) => {
      note('createApiKey', input, context);
      return { status: 201, body: { ...exampleBody('createApiKey', 201), name: input.body?.name ?? null } };
    });
    operation('listApiKeys', (input, context) => {
      note('listApiKeys', input, context);
      return { status: 200, body: exampleBody('listApiKeys', 200) };
    });
    router.delete(
      '/v1/api-keys/:id',
      validated('deleteApiKey', ({ path }, context) => {
        note('deleteApiKey', { path }, context);
        return { status: 200, body: { id: path.id, object: 'api_key', deleted: true } };
      }),
    );

    // Buttons (issue 6); the public operations too (behind the key here: the framework is under test).
    operation('createButton', (input, context) => {
      note('createButton', input, context);
      return { status: 201, body: { ...exampleBody('createButton', 201), name: input.body.name } };
    });
    operation('listButtons', (input, context) => {
      note('listButtons', input, context);
      return { status: 200, body: exampleBody('listButtons', 200) };
    });
    operation('getButton', ({ path }, context) => {
      note('getButton', { path }, context);
      return { status: 200, body: { ...exampleBody('getButton', 200), id: path.id } };
    });
    operation('updateButton', (input, context) => {
      note('updateButton', input, context);
      return { status: 200, body: { ...exampleBody('updateButton', 200), id: input.path.id } };
    });
    operation('deleteButton', ({ path }, context) => {
      note('deleteButton', { path }, context);
      return { status: 200, body: { id: path.id, object: 'button', deleted: true } };
    });
    operation('getPublicButton', ({ path }, context) => {
      note('getPublicButton', { path }, context);
      return { status: 200, body: { ...exampleBody('getPublicButton', 200), id: path.id } };
    });
    operation('createPublicButtonCall', (input, context) => {
      note('createPublicButtonCall', input, context);
      return { status: 202, body: exampleBody('createPublicButtonCall', 202) };
    });
    operation('getPublicCall', ({ path }, context) => {
      note('getPublicCall', { path }, context);
      return { status: 200, body: exampleBody('getPublicCall', 200) };
    });
    operation('streamPublicCall', ({ path }, context) => {
      note('streamPublicCall', { path }, context);
      context.res.status(200).type('text/event-stream').end('event: status\ndata: {"object":"public_call","status":"connected","final":false}\n\n');
      return undefined as never;
    });
    // Webhooks: answers made here (their examples are partial), checked against the contract all the same.
    const endpoint = (id: string) => ({
      id,
      object: 'webhook_endpoint' as const,
      url: 'https://crm.example.com/hooks/calls',
      description: null,
      events: ['*' as const],
      enabled: true,
      disabledReason: null,
      disabledAt: null,
      failingSince: null,
      previousSecretExpiresAt: null,
      createdAt: '2026-12-01T09:30:00.000Z',
      updatedAt: '2026-12-01T09:30:00.000Z',
    });
    const delivery = (id: string) => ({
      id,
      object: 'webhook_delivery' as const,
      endpoint: 'whe_7Hq2LkP9sVx4Rb1Tn6Wm3c',
      url: null,
      event: 'evt_3kTq9XvB2mLw7Rc1Zp4Hs8',
      eventType: 'call.completed',
      call: 'call_8f3a2b1c9d4e5f60',
      status: 'pending' as const,
      attempts: 0,
      nextAttemptAt: '2026-12-01T09:30:00.000Z',
      lastAttemptAt: null,
      responseStatus: null,
      responseBody: null,
      latencyMs: null,
      error: null,
      createdAt: '2026-12-01T09:30:00.000Z',
      deliveredAt: null,
    });
    const secret = { object: 'webhook_secret' as const, secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', previous: null };
    operation('createWebhookEndpoint', (input, context) => {
      note('createWebhookEndpoint', input, context);
      return { status: 201, body: { ...endpoint('whe_7Hq2LkP9sVx4Rb1Tn6Wm3c'), url: input.body.url, secret: secret.secret } };
    });
    operation('listWebhookEndpoints', (input, context) => {
      note('listWebhookEndpoints', input, context);
      return { status: 200, body: { data: [endpoint('whe_7Hq2LkP9sVx4Rb1Tn6Wm3c')], nextCursor: null, hasMore: false } };
    });
    operation('getWebhookEndpoint', (input, context) => {
      note('getWebhookEndpoint', input, context);
      return { status: 200, body: endpoint(input.path.id) };
    });
    operation('updateWebhookEndpoint', (input, context) => {
      note('updateWebhookEndpoint', input, context);
      return { status: 200, body: endpoint(input.path.id) };
    });
    operation('deleteWebhookEndpoint', (input, context) => {
      note('deleteWebhookEndpoint', input, context);
      return { status: 200, body: { id: input.path.id, object: 'webhook_endpoint', deleted: true } };
    });
    operation('getWebhookEndpointSecret', (input, context) => {
      note('getWebhookEndpointSecret', input, context);
      return { status: 200, body: secret };
    });
    operation('rotateWebhookEndpointSecret', (input, context) => {
      note('rotateWebhookEndpointSecret', input, context);
      return { status: 200, body: secret };
    });
    operation('listWebhookDeliveries', (input, context) => {
      note('listWebhookDeliveries', input, context);
      return { status: 200, body: { data: [delivery('whd_Rb1Tn6Wm3c7Hq2LkP9sVx4')], nextCursor: null, hasMore: false } };
    });
    operation('listCallWebhookDeliveries', (input, context) => {
      note('listCallWebhookDeliveries', input, context);
      return { status: 200, body: { data: [delivery('whd_Rb1Tn6Wm3c7Hq2LkP9sVx4')], nextCursor: null, hasMore: false } };
    });
    operation('sendTestWebhook', (input, context) => {
      note('sendTestWebhook', input, context);
      return { status: 202, body: delivery('whd_Rb1Tn6Wm3c7Hq2LkP9sVx4') };
    });
    operation('getWebhookDelivery', (input, context) => {
      note('getWebhookDelivery', input, context);
      return { status: 200, body: { ...delivery(input.path.id), body: '{}', attemptLog: [] } };
    });
    operation('retryWebhookDelivery', (input, context) => {
      note('retryWebhookDelivery', input, context);
      return { status: 202, body: delivery(input.path.id) };
    });
    operation('getAccountWebhookSecret', (input, context) => {
      note('getAccountWebhookSecret', input, context);
      return { status: 200, body: secret };
    });
    operation('rotateAccountWebhookSecret', (input, context) => {
      note('rotateAccountWebhookSecret', input, context);
      return { status: 200, body: secret };
    });
  };
}

/** Collects pino's lines, to check what the access log says (and does not). */
export class LogLines {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly stream: Writable & { write(chunk: string): boolean } = {
    write: (chunk: string): boolean => {
      for (const line of chunk.split('\n')) if (line.trim() !== '') this.lines.push(JSON.parse(line) as Record<string, unknown>);
      return true;
    },
  } as Writable & { write(chunk: string): boolean };
}

export interface TestApp {
  app: ReturnType<typeof createApp>;
  received: Received[];
  log: LogLines;
}

/** The app with the fake routes, a fake key store and responses checked against the contract. */
export function testApp(overrides: Partial<AppDeps> = {}): TestApp {
  const received: Received[] = [];
  const log = new LogLines();
  const app = createApp({
    authenticate: async (secret) => {
      if (secret === GOOD_KEY) return { accountId: 'acct_1', keyId: 'key_1' };
      if (secret === OTHER_KEY) return { accountId: 'acct_2', keyId: 'key_2' };
      return null;
    },
    ready: () => ({ ok: true, checks: { postgres: { ok: true }, redis: { ok: true } } }),
    metrics: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', text: '# HELP ctd_up 1 while serving\n# TYPE ctd_up gauge\nctd_up 1\n' }),
    registerRoutes: fakeRoutes(received),
    mapError: (error) => (error instanceof CallNotFound ? ApiProblem.notFound('call', error.callId) : undefined),
    logger: pino({ level: 'info' }, log.stream),
    validateResponses: true,
    ...overrides,
  });
  return { app, received, log };
}
