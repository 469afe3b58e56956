/**
 * The process entry: reads the configuration, starts the roles this process runs (ROLES: api,
 * engine, webhooks; all by default), and stops them cleanly on SIGINT/SIGTERM. The only module that
 * wires layers together (CONVENTIONS §1).
 *
 * - every role: PostgreSQL (the database is created and migrated on start), Redis;
 * - api: the REST API on HTTP_PORT, which inserts calls and queues their originate jobs;
 * - engine: the SIP stack on SIP_PORT and the 3PCC engine, taking originate jobs and the
 *   commands sent to it, writing every change of its calls to PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Express } from 'express';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { apiKeyRoutes } from './api/routes/api-keys.js';
import { ButtonLimiter } from './api/button-limits.js';
import { createCallPlacer } from './api/call-placement.js';
import { buttonRoutes } from './api/routes/buttons.js';
import { callRoutes } from './api/routes/calls.js';
import { publicButtonRoutes, RefusalCounter } from './api/routes/public-buttons.js';
import { webAssets } from './api/web-assets.js';
import { trunkRoutes } from './api/routes/trunks.js';
import { webhookRoutes } from './api/routes/webhooks.js';
import { ApiProblem, createApp } from './api/index.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createUdpRingbackSocket, RingbackPlayer } from './engine/ringback/index.js';
import { Engine } from './engine/index.js';
import { CallQueues, createRedis, EngineRunner, logCallEvent, logSipMessage, type EngineRunnerOptions, type Redis } from './queue/index.js';
import {
  CachingDnsResolver,
  createSystemDnsResolver,
  DEFAULT_DNS_CACHE_OPTIONS,
  ServerLocator,
  systemClock,
  TransportLayer,
} from './sip/index.js';
import { ServiceMetrics } from './metrics/index.js';
import { ensureDatabase, isConnectionFailure, migrate, Store } from './store/index.js';
import { checkDestination, DeliveryQueue, DestinationRefused, WebhookCommands, WebhooksRole, type WebhooksRoleOptions } from './webhooks/index.js';

const PRODUCT = 'click-to-dial/0.1';
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface RunningService {
  config: Config;
  store: Store;
  /** This process's Prometheus metrics (GET /metrics). */
  metrics: ServiceMetrics;
  http?: { server: Server; port: number; app: Express };
  sip?: { transport: TransportLayer; engine: Engine; runner: EngineRunner; address: string; port: number };
  webhooks?: WebhooksRole;
  /** The dial buttons' refusals by reason (issue 6), when this process runs the API. */
  buttonRefusals?: RefusalCounter;
  /** Ends the roles: stops taking calls, drains live ones for up to `drainMs`, closes connections. */
  stop(drainMs?: number): Promise<void>;
}

/** Trunk passwords are encrypted with SECRETS_KEY; without one (development) a key file is made once. */
function secretsKey(config: Config, logger: Logger): Buffer {
  if (config.secretsKey) return config.secretsKey;
  const file = join(REPO, '.data', 'secrets.key');
  if (existsSync(file)) return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
  mkdirSync(dirname(file), { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, key.toString('hex'), { mode: 0o600 });
  logger.warn({ file }, 'SECRETS_KEY is not set: made a key file for trunk passwords (set SECRETS_KEY in production)');
  return key;
}

export interface ServiceHooks {
  /** An engine took a call and started it (benchmarks, tests): the job and Date.now() then. */
  onCallStarted?: EngineRunnerOptions['onCallStarted'];
  /** Every webhook attempt (benchmarks, tests). */
  onWebhookAttempt?: NonNullable<WebhooksRoleOptions['worker']>['onAttempt'];
  /** The webhooks role's scheduling clock (tests simulate hours with it); default the wall clock. */
  webhookClock?: WebhooksRoleOptions['clock'];
}

export async function startService(config: Config, logger: Logger = pino({ level: config.logLevel }), hooks: ServiceHooks = {}): Promise<RunningService> {
  const redisConnections: Redis[] = [];
  const redis = (name: string): Redis => {
    const connection = createRedis(config.redisUrl, name);
    connection.on('error', (error) => logger.warn({ err: error, connection: name }, 'Redis connection error'));
    redisConnections.push(connection);
    return connection;
  };

  if (await ensureDatabase(config.databaseUrl)) logger.info('created the database');
  const migrated = await migrate(config.databaseUrl);
  if (migrated.applied.length > 0) logger.info({ applied: migrated.applied }, 'applied database migrations');
  const store = new Store({
    databaseUrl: config.databaseUrl,
    poolSize: config.databasePools.main,
    writerPoolSize: config.databasePools.writer,
    encryptionKey: secretsKey(config, logger),
    onError: (error) => logger.error({ err: error }, 'store error'),
  });
  if (config.bootstrapApiKey) {
    const bootstrap = await store.bootstrap(config.bootstrapApiKey);
    logger.info({ bootstrap: bootstrap.created ? 'created the first account and its API key' : 'the bootstrap key already exists' }, 'BOOTSTRAP_API_KEY');
  }

  const metrics = new ServiceMetrics({ labels: { roles: config.roles.join(','), ...(config.roles.includes('engine') ? { engine: config.engine.id } : {}) } });
  const service: RunningService = { config, store, metrics, stop: async () => undefined };
  const stoppers: ((drainMs: number) => Promise<void>)[] = [];

  if (config.roles.includes('engine')) {
    const sipLog = logger.child({ component: 'sip' });
    const callLog = logger.child({ component: 'engine' });
    const transport = new TransportLayer({
      host: config.sip.host,
      port: config.sip.port,
      ...(config.sip.publicHost !== undefined ? { publicHost: config.sip.publicHost } : {}),
      ...(config.sip.tls
        ? { tls: { port: config.sip.tls.port, cert: config.sip.tls.cert, key: config.sip.tls.key, verifyServer: config.sip.tls.verifyServer, ...(config.sip.tls.ca ? { ca: config.sip.tls.ca } : {}) } }
        : {}),
    });
    transport.on('malformed', (event) => sipLog.warn({ source: event.source, code: event.error.code, answeredWith: event.answeredWith }, `malformed SIP message: ${event.error.message}`));
    transport.on('transportError', (event) => sipLog.warn({ code: event.error.code, destination: event.destination }, event.error.message));
    transport.on('internalError', (event) => sipLog.error({ err: event.error, source: event.source }, 'error while handling a SIP message'));
    const { address, port } = await transport.listen();
    const ringbackSocket = await createUdpRingbackSocket(config.sip.host);
    const ringback = new RingbackPlayer({ socket: ringbackSocket, clock: systemClock });
    const locator = new ServerLocator({ resolver: new CachingDnsResolver(createSystemDnsResolver(), { ...DEFAULT_DNS_CACHE_OPTIONS, clock: systemClock }) });
    // The engine and its runner need each other: the engine reports to the runner, which drives it.
    const runnerRef: { current?: EngineRunner } = {};
    const engine = new Engine({
      transport,
      locator,
      ringback,
      product: PRODUCT,
      contactUser: config.sip.contactUser,
      defaults: { keepaliveMs: config.engine.keepaliveMs },
      ...(config.sip.publicHost !== undefined ? { sdpAddress: config.sip.publicHost } : {}),
      onEvent: (event) => {
        metrics.observeEvent(event);
        logCallEvent(callLog, event);
        runnerRef.current?.handleEngineEvent(event);
      },
      onSipLog: (callId, entry) => {
        logSipMessage(sipLog, callId, entry);
        runnerRef.current?.handleSipLog(callId, entry);
      },
      onDialogChange: (callId, leg) => runnerRef.current?.noteDialogChange(callId, leg),
      onError: (error) => sipLog.error({ err: error }, 'engine error'),
    });
    const runner = new EngineRunner({
      engineId: config.engine.id,
      engine,
      connect: redis,
      queuePrefix: config.queuePrefix,
      sip: { address: config.sip.publicHost ?? address, port },
      heartbeatMs: config.engine.heartbeatMs,
      failoverMs: config.engine.failoverMs,
      queueTimeoutMs: config.engine.queueTimeoutMs,
      onQueueTimeout: (callIds) => logger.warn({ calls: callIds.length }, 'ended calls no engine had taken within CALL_QUEUE_TIMEOUT_MS (queue_timeout): their jobs were lost or gave up, or no engine was running'),
      onTakeover: (deadEngineId, callIds) => {
        if (deadEngineId === config.engine.id) logger.warn({ calls: callIds.length }, 'ended the calls an earlier run of this engine left');
        // An engine stopped cleanly leaves its row, with no call: removing it is routine.
        else if (callIds.length === 0) logger.info({ deadEngineId }, 'removed the registration of an engine that stopped beating (it had no live call)');
        else logger.warn({ deadEngineId, calls: callIds.length }, 'took over a dead engine and ended its calls');
      },
      onOrphanedCallEnded: (event) => {
        metrics.observeEvent(event);
        logCallEvent(callLog, event);
      },
      onFenced: () => logger.error({ engineId: config.engine.id }, 'this engine was declared dead while alive (no heartbeat for ENGINE_FAILOVER_MS) and its calls were taken over: let them go'),
      onError: (error) => logger.error({ err: error }, 'engine role error'),
      onCallStarted: (job, startedAt) => {
        metrics.callAccepted(job.callId, job.acceptedAt);
        metrics.callDispatched(job.requestedAt ?? job.acceptedAt, startedAt);
        hooks.onCallStarted?.(job, startedAt);
      },
      store: {
        claimQueuedCall: (callId, engineId) => store.claimQueuedCall(callId, engineId),
        writeChange: (change) => store.writeChange(change),
        appendSipLog: (entries) => void store.appendSipLog(entries).catch((error: unknown) => logger.error({ err: error }, 'SIP log write failed')),
        appendSipLine: (entry) => store.appendSipLine(entry),
        heartbeat: (engineId, info) => store.heartbeat(engineId, info),
        trunkCredentials: (accountId, trunkId) => store.trunkCredentials(accountId, trunkId),
        liveCallsOf: (engineId) => store.liveCallsOf(engineId),
        liveCallsById: (ids) => store.liveCallsById(ids),
        staleEngines: (olderThanMs) => store.staleEngines(olderThanMs),
        claimEngine: (deadEngineId, byEngineId, olderThanMs) => store.claimEngine(deadEngineId, byEngineId, olderThanMs),
        claimOverdueQueuedCalls: (engineId, olderThanMs, limit) => store.claimOverdueQueuedCalls(engineId, olderThanMs, limit),
      },
    });
    runnerRef.current = runner;
    metrics.watchEngine(engine);
    await runner.start();
    service.sip = { transport, engine, runner, address, port };
    const tlsPort = config.sip.tls ? transport.localEndpoint('tls').port : undefined;
    sipLog.info({ address, port, tlsPort, engineId: config.engine.id }, `engine ready: SIP on ${address}:${port} (UDP and TCP)${tlsPort !== undefined ? `, TLS on ${tlsPort}` : ''}`);
    stoppers.push(async (drainMs) => {
      await runner.stop(drainMs);
      engine.close();
      ringback.close();
      await transport.close();
    });
  }

  if (config.roles.includes('api')) {
    const queues = new CallQueues(redis('api-queues'), config.queuePrefix, (error) => logger.warn({ err: error }, 'call queue error'));
    const webhookQueue = new DeliveryQueue(redis('api-webhooks'), config.webhooks.queueName, config.queuePrefix);
    const refusedUrl = async (url: string): Promise<string | null> => {
      if (config.webhooks.allowPrivate) return null;
      try {
        await checkDestination(url, { allowPrivate: false });
        return null;
      } catch (error) {
        // A host that does not resolve yet is accepted: every delivery checks again.
        return error instanceof DestinationRefused && error.reason !== 'unresolvable' ? error.reason : null;
      }
    };
    const readyRedis = redis('api-ready');
    metrics.watchQueues(() => queues.depths());
    const placer = createCallPlacer({ store, queues, sipHost: config.sip.publicHost ?? config.sip.host });
    const refusals = new RefusalCounter((reason) => metrics.observeButtonRefusal(reason));
    const app = createApp({
      metrics: () => metrics.exposition(),
      // PostgreSQL out of reach (restarting): 503 and a retry, not a 500 (nothing was written).
      mapError: (error) =>
        isConnectionFailure(error) ? new ApiProblem('service_unavailable', { detail: 'the database cannot be reached: retry in a moment', headers: { 'Retry-After': '2' } }) : undefined,
      authenticate: (secret) => store.authenticate(secret),
      ready: async () => {
        const checks: Record<string, { ok: boolean; detail?: string }> = {};
        checks.postgres = await store.ping().then(
          () => ({ ok: true }),
          (error: unknown) => ({ ok: false, detail: (error as Error).message }),
        );
        checks.redis = await readyRedis.ping().then(
          () => ({ ok: true }),
          (error: unknown) => ({ ok: false, detail: (error as Error).message }),
        );
        if (config.roles.includes('engine')) checks.sip = { ok: service.sip !== undefined };
        return { ok: Object.values(checks).every((check) => check.ok), checks };
      },
      registerRoutes: [
        callRoutes({ store, queues, sipHost: config.sip.publicHost ?? config.sip.host }),
        trunkRoutes(store),
        apiKeyRoutes(store),
        buttonRoutes({ store, placer, publicUrl: config.web.publicUrl }),
        webhookRoutes({ store, commands: new WebhookCommands(store, webhookQueue), refusedUrl }),
      ],
      // Dial buttons (issue 6): the public endpoints, widget.js, the dashboard.
      publicRoutes: publicButtonRoutes({ store, placer, limiter: new ButtonLimiter(redis('api-limits'), `${config.queuePrefix}:btn`), refusals, logger: logger.child({ component: 'buttons' }) }),
      web: webAssets({ testPage: config.web.testPage }),
      trustProxy: config.web.trustProxy,
      logger: logger.child({ component: 'api' }),
    });
    service.buttonRefusals = refusals;
    const server = await new Promise<Server>((resolve, reject) => {
      const listening = app.listen(config.http.port, config.http.host, () => resolve(listening));
      listening.once('error', reject);
    });
    const bound = server.address();
    const httpPort = typeof bound === 'object' && bound ? bound.port : config.http.port;
    service.http = { server, port: httpPort, app };
    logger.info({ host: config.http.host, port: httpPort }, `API listening on http://${config.http.host}:${httpPort} (reference at /docs)`);
    stoppers.unshift(async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Event streams (the buttons' SSE) stay open until their call ends: cut what is left after a moment.
      server.closeIdleConnections();
      const cut = setTimeout(() => server.closeAllConnections(), 1000);
      await closed;
      clearTimeout(cut);
      await queues.close();
      await webhookQueue.close();
    });
  }

  if (!config.roles.includes('api') && config.metricsPort !== undefined) {
    const server = await serveMetrics(metrics, config.http.host, config.metricsPort);
    const bound = server.address();
    logger.info({ port: typeof bound === 'object' && bound ? bound.port : config.metricsPort }, 'metrics on /metrics');
    stoppers.unshift(() => new Promise<void>((resolve) => server.close(() => resolve())));
  }

  if (config.roles.includes('webhooks')) {
    const webhookLog = logger.child({ component: 'webhooks' });
    const role = new WebhooksRole({
      store,
      settings: { ...config.webhooks, queuePrefix: config.queuePrefix },
      connect: redis,
      ...(hooks.webhookClock ? { clock: hooks.webhookClock } : {}),
      onError: (error) => webhookLog.error({ err: error }, 'webhooks role error'),
      worker: {
        onAttempt: (job, result, sentBy) => {
          // 2xx delivered; 410 gone (the endpoint is disabled); anything else (or no answer) failed.
          const status = result.status;
          if (status !== null && status >= 200 && status < 300) metrics.observeWebhookDelivery('delivered', Date.now() - job.eventAt);
          else metrics.observeWebhookDelivery(status === 410 ? 'gone' : 'failed');
          hooks.onWebhookAttempt?.(job, result, sentBy);
        },
      },
    });
    role.start();
    service.webhooks = role;
    webhookLog.info({ queue: config.webhooks.queueName, allowPrivate: config.webhooks.allowPrivate }, 'webhooks role: delivering the outbox');
    // Before the store closes (the stoppers run in order; the API's is first).
    stoppers.push(() => role.stop());
  }

  service.stop = async (drainMs = config.engine.drainMs) => {
    for (const stop of stoppers) await stop(drainMs);
    await Promise.all(redisConnections.map((connection) => connection.quit().catch(() => undefined)));
    // PostgreSQL out of reach at shutdown: the writes still waiting get this long, then are lost
    // (logged), so that the process stops. Its calls are not left live for it: they were ended
    // on the wire, and their rows are ended by whichever engine takes this one over.
    await store.close({ giveUpAfterMs: SHUTDOWN_WRITE_WAIT_MS });
  };
  return service;
}

/** GET /metrics and /healthz for a process that runs no API (an engine, a webhook worker). */
function serveMetrics(metrics: ServiceMetrics, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      metrics.exposition().then(
        ({ contentType, text }) => res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' }).end(text),
        () => res.writeHead(500).end(),
      );
    } else if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: this process serves /metrics and /healthz only\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`configuration error: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  const logger = pino({ level: config.logLevel });
  let service: RunningService;
  try {
    service = await startService(config, logger);
  } catch (error) {
    logger.fatal({ err: error }, `cannot start: ${(error as Error).message}`);
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, drainMs: config.engine.drainMs }, 'shutting down: no new calls; live calls may finish');
    service.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

/** How long stopping waits for an unreachable PostgreSQL to take the last writes. */
const SHUTDOWN_WRITE_WAIT_MS = 10_000;

const isEntry = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) void main();
