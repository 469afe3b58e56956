/**
 * The service's configuration: read once from the environment at start, validated, frozen.
 * Nothing else reads process.env (CONVENTIONS §11). A bad value stops the process with a message
 * naming the variable, rather than running with a surprise.
 */
import { isIP } from 'node:net';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

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
  };
  logLevel: LogLevel;
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

function token(env: Environment, name: string, fallback: string): string {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  if (!/^[A-Za-z0-9\-_.!~*'()&=+$,;?/]+$/.test(text)) throw new ConfigError(name, `not a valid SIP URI user part: ${JSON.stringify(text)}`);
  return text;
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
    }),
    logLevel: level as LogLevel,
  });
}
