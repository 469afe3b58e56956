/**
 * The service's configuration: read once from the environment at start, validated, frozen.
 * Nothing else reads process.env (CONVENTIONS §11). A bad value stops the process with a message
 * naming the variable, rather than running with a surprise.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { parseDelays } from './webhooks/retry-schedule.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type Role = 'api' | 'engine' | 'webhooks';
export const ROLES: readonly Role[] = ['api', 'engine', 'webhooks'];

export interface SipTlsConfig {
  port: number;
  /** PEM text, read from the files named by the variables. */
  cert: string;
  key: string;
  /** Trusted CAs (PEM); absent: Node's bundled roots. */
  ca: string | undefined;
  /** Check the certificates of the peers we connect to. */
  verifyServer: boolean;
}

export interface Config {
  sip: {
    /** UDP and TCP port of the SIP stack. */
    port: number;
    /** Address to bind. */
    host: string;
    /** Host written in Via and Contact, when it is not the bind address (NAT, containers). */
    publicHost: string | undefined;
    /** The user part of our Contact URI. */
    contactUser: string;
    /** SIP over TLS, when a certificate and key are configured (SIP_TLS_CERT, SIP_TLS_KEY). */
    tls: SipTlsConfig | undefined;
  };
  http: { host: string; port: number };
  /** A process without the api role serves GET /metrics and /healthz here, when set. */
  metricsPort: number | undefined;
  databaseUrl: string;
  /**
   * PostgreSQL connections this process opens at most: `main` for the API's and the engine's
   * statements (inserts, claims, reads), `writer` for the event writer and the outbox.
   */
  databasePools: { main: number; writer: number };
  redisUrl: string;
  /** BullMQ's key prefix: processes that share it share the queues (one deployment, one prefix). */
  queuePrefix: string;
  /** Which roles this process runs. */
  roles: readonly Role[];
  /** Creates the first account and this key on start, when set (a newcomer can call the API at once). */
  bootstrapApiKey: string | undefined;
  /** 32 bytes that encrypt trunk passwords at rest; absent: a key file made on first start (development). */
  secretsKey: Buffer | undefined;
  engine: {
    /** This engine's id in heartbeats and command queues. */
    id: string;
    heartbeatMs: number;
    /** An engine silent this long is dead: another one ends its calls. */
    failoverMs: number;
    /** On SIGTERM, how long live calls may go on before they are ended. */
    drainMs: number;
    /** A call no engine has taken this long after its creation is ended, never placed (queue_timeout). */
    queueTimeoutMs: number;
    /** While connected, each leg gets an in-dialog OPTIONS this often (a party that vanished is found); 0: never. */
    keepaliveMs: number;
  };
  logLevel: LogLevel;
  /** The dial buttons' web side (issue 6). */
  web: {
    /** The service's public base URL for embed snippets (`https://ctd.example.com`); unset: the request's host. */
    publicUrl: string | undefined;
    /** Express `trust proxy`: false (the default: X-Forwarded-For is ignored), a hop count, or addresses/subnets of the proxies. */
    trustProxy: false | number | string;
    /** Serve the development page that embeds a button (/dev/button), never in production. */
    testPage: boolean;
  };
  /** The webhooks role (docs/webhooks.md), and the API's checks of endpoint URLs. */
  webhooks: WebhookConfig;
}

export interface WebhookConfig {
  /** BullMQ queue of deliveries. */
  queueName: string;
  /** Send to loopback, private and link-local addresses (tests, local development only). */
  allowPrivate: boolean;
  timeoutMs: number;
  /** Deliveries in flight per process. */
  concurrency: number;
  /** Deliveries in flight per endpoint, across processes. */
  endpointConcurrency: number;
  /** Delays before the 2nd, 3rd… attempt. */
  retryDelaysMs: readonly number[];
  /** An endpoint failing without a success for this long is disabled. */
  disableAfterMs: number;
  /** How often pending deliveries are checked for jobs Redis lost (those overdue by twice this). */
  reconcileMs: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'INVALID_CONFIG';
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable}: ${reason}`);
  }
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

type Environment = Readonly<Record<string, string | undefined>>;

function port(env: Environment, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new ConfigError(name, `expected a port number (0-65535), got ${JSON.stringify(text)}`);
  return value;
}

function address(env: Environment, name: string, fallback: string): string {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  if (isIP(text) === 0) throw new ConfigError(name, `expected an IPv4 or IPv6 address to bind, got ${JSON.stringify(text)}`);
  return text;
}

function host(env: Environment, name: string): string | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  if (isIP(text) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(text)) {
    throw new ConfigError(name, `expected an IP address or a host name, got ${JSON.stringify(text)}`);
  }
  return text;
}

function bootstrapKey(env: Environment): string | undefined {
  const text = env.BOOTSTRAP_API_KEY;
  if (text === undefined || text === '') return undefined;
  if (!/^[A-Za-z0-9_-]{20,200}$/.test(text)) throw new ConfigError('BOOTSTRAP_API_KEY', 'expected 20 to 200 letters, digits, - or _');
  return text;
}

function token(env: Environment, name: string, fallback: string): string {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  if (!/^[A-Za-z0-9\-_.!~*'()&=+$,;?/]+$/.test(text)) throw new ConfigError(name, `not a valid SIP URI user part: ${JSON.stringify(text)}`);
  return text;
}

function queuePrefix(env: Environment): string {
  const text = env.QUEUE_PREFIX;
  if (text === undefined || text === '') return 'ctd';
  // A colon would read as one more level of BullMQ's own key names.
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(text)) throw new ConfigError('QUEUE_PREFIX', `not 1 to 64 letters, digits, "-" or "_": ${JSON.stringify(text)}`);
  return text;
}

function integer(env: Environment, name: string, fallback: number, min: number, max: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return value;
}

function url(env: Environment, name: string, fallback: string, protocols: readonly string[]): string {
  const text = env[name] === undefined || env[name] === '' ? fallback : env[name]!;
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new ConfigError(name, `not a URL: ${JSON.stringify(text.replace(/\/\/[^@/]*@/, '//***@'))}`);
  }
  if (!protocols.includes(parsed.protocol)) throw new ConfigError(name, `expected a ${protocols.join(' or ')} URL`);
  return text;
}

function roles(env: Environment): readonly Role[] {
  const text = env.ROLES;
  if (text === undefined || text.trim() === '' || text.trim() === 'all') return ROLES;
  const names = text.split(',').map((name) => name.trim()).filter((name) => name !== '');
  for (const name of names) {
    if (!(ROLES as readonly string[]).includes(name)) throw new ConfigError('ROLES', `unknown role ${JSON.stringify(name)}: expected a comma-separated list of ${ROLES.join(', ')}`);
  }
  return [...new Set(names)] as Role[];
}

/** A PEM file named by `name`, read now so that a wrong path stops the start with its variable named. */
function pemFile(env: Environment, name: string): string | undefined {
  const path = env[name];
  if (path === undefined || path === '') return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(name, `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (!text.includes('-----BEGIN ')) throw new ConfigError(name, `${path} is not a PEM file`);
  return text;
}

function sipTls(env: Environment): SipTlsConfig | undefined {
  const cert = pemFile(env, 'SIP_TLS_CERT');
  const key = pemFile(env, 'SIP_TLS_KEY');
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined) throw new ConfigError('SIP_TLS_CERT', 'SIP_TLS_KEY is set: the certificate is needed too');
  if (key === undefined) throw new ConfigError('SIP_TLS_KEY', 'SIP_TLS_CERT is set: the private key is needed too');
  const verify = (env.SIP_TLS_VERIFY ?? 'true').toLowerCase();
  if (verify !== 'true' && verify !== 'false') throw new ConfigError('SIP_TLS_VERIFY', 'expected true or false');
  return Object.freeze({ port: port(env, 'SIP_TLS_PORT', 5061), cert, key, ca: pemFile(env, 'SIP_TLS_CA'), verifyServer: verify === 'true' });
}

function secretsKey(env: Environment): Buffer | undefined {
  const text = env.SECRETS_KEY;
  if (text === undefined || text === '') return undefined;
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== 32) throw new ConfigError('SECRETS_KEY', 'expected 32 bytes, as 64 hex digits or base64');
  return key;
}

function trustProxy(env: Environment): false | number | string {
  const text = env.TRUST_PROXY?.trim();
  if (text === undefined || text === '' || text === 'false') return false;
  if (/^[0-9]+$/.test(text)) return integer(env, 'TRUST_PROXY', 0, 1, 20);
  const parts = text.split(',').map((part) => part.trim());
  for (const part of parts) {
    const [ip, prefix, extra] = part.split('/');
    const known = ['loopback', 'linklocal', 'uniquelocal'].includes(part);
    if (!known && (extra !== undefined || isIP(ip ?? '') === 0 || (prefix !== undefined && !/^[0-9]{1,3}$/.test(prefix)))) {
      // `true` is refused on purpose: it would believe any client's X-Forwarded-For.
      throw new ConfigError('TRUST_PROXY', `expected a hop count, loopback, linklocal, uniquelocal or proxy addresses/subnets, got ${JSON.stringify(part)}`);
    }
  }
  return parts.join(',');
}

function flag(env: Environment, name: string): boolean {
  const text = env[name]?.trim().toLowerCase();
  if (text === undefined || text === '' || text === 'false' || text === '0') return false;
  if (text === 'true' || text === '1') return true;
  throw new ConfigError(name, `expected true or false, got ${JSON.stringify(env[name])}`);
}

function delays(env: Environment, name: string, fallback: string, count: { min: number; max: number }): number[] {
  const text = env[name] === undefined || env[name] === '' ? fallback : env[name]!;
  let parsed: number[];
  try {
    parsed = parseDelays(text);
  } catch (error) {
    throw new ConfigError(name, (error as Error).message);
  }
  if (parsed.length < count.min || parsed.length > count.max) throw new ConfigError(name, `expected ${count.min === count.max ? count.min : `${count.min} to ${count.max}`} comma-separated delays, got ${parsed.length}`);
  return parsed;
}

function webhooks(env: Environment): WebhookConfig {
  const queueName = env.WEBHOOK_QUEUE === undefined || env.WEBHOOK_QUEUE === '' ? 'webhooks' : env.WEBHOOK_QUEUE;
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(queueName)) throw new ConfigError('WEBHOOK_QUEUE', 'expected 1 to 100 letters, digits, ., - or _');
  return Object.freeze({
    queueName,
    allowPrivate: flag(env, 'WEBHOOK_ALLOW_PRIVATE'),
    timeoutMs: integer(env, 'WEBHOOK_TIMEOUT_MS', 10_000, 100, 60_000),
    concurrency: integer(env, 'WEBHOOK_CONCURRENCY', 64, 1, 1024),
    endpointConcurrency: integer(env, 'WEBHOOK_ENDPOINT_CONCURRENCY', 20, 1, 256),
    retryDelaysMs: Object.freeze(delays(env, 'WEBHOOK_RETRY_DELAYS', '5s,5m,30m,2h,5h,10h,10h', { min: 0, max: 20 })),
    disableAfterMs: delays(env, 'WEBHOOK_DISABLE_AFTER', '5d', { min: 1, max: 1 })[0]!,
    reconcileMs: integer(env, 'WEBHOOK_RECONCILE_MS', 30_000, 100, 3_600_000),
  });
}

/** Reads and validates the configuration; throws ConfigError naming the first bad variable. */
export function loadConfig(env: Environment = process.env): Config {
  const level = (env.LOG_LEVEL ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new ConfigError('LOG_LEVEL', `expected one of ${LOG_LEVELS.join(', ')}`);
  const sipHost = address(env, 'SIP_HOST', '127.0.0.1');
  return Object.freeze({
    sip: Object.freeze({
      port: port(env, 'SIP_PORT', 5060),
      host: sipHost,
      publicHost: host(env, 'SIP_PUBLIC_HOST'),
      contactUser: token(env, 'SIP_CONTACT_USER', 'ctd'),
      tls: sipTls(env),
    }),
    http: Object.freeze({ host: address(env, 'HTTP_HOST', '127.0.0.1'), port: port(env, 'HTTP_PORT', 3000) }),
    metricsPort: env.METRICS_PORT === undefined || env.METRICS_PORT === '' ? undefined : port(env, 'METRICS_PORT', 0),
    databaseUrl: url(env, 'DATABASE_URL', 'postgresql://postgres:postgres@127.0.0.1:5432/click_to_dial', ['postgres:', 'postgresql:']),
    databasePools: Object.freeze({ main: integer(env, 'DATABASE_POOL_SIZE', 10, 2, 200), writer: integer(env, 'DATABASE_WRITER_POOL_SIZE', 6, 1, 100) }),
    redisUrl: url(env, 'REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']),
    queuePrefix: queuePrefix(env),
    roles: roles(env),
    bootstrapApiKey: bootstrapKey(env),
    secretsKey: secretsKey(env),
    engine: Object.freeze({
      id: token(env, 'ENGINE_ID', `${hostname().replace(/[^A-Za-z0-9-]/g, '-')}-${process.pid}`),
      heartbeatMs: integer(env, 'ENGINE_HEARTBEAT_MS', 2000, 100, 60_000),
      failoverMs: integer(env, 'ENGINE_FAILOVER_MS', 10_000, 500, 600_000),
      drainMs: integer(env, 'DRAIN_MS', 30_000, 0, 3_600_000),
      queueTimeoutMs: integer(env, 'CALL_QUEUE_TIMEOUT_MS', 60_000, 1000, 86_400_000),
      keepaliveMs: integer(env, 'ENGINE_KEEPALIVE_S', 120, 0, 86_400) * 1000,
    }),
    logLevel: level as LogLevel,
    webhooks: webhooks(env),
    web: Object.freeze({
      publicUrl: env.PUBLIC_URL ? url(env, 'PUBLIC_URL', '', ['http:', 'https:']).replace(/\/$/, '') : undefined,
      trustProxy: trustProxy(env),
      testPage: flag(env, 'WEB_TEST_PAGE'),
    }),
  });
}
