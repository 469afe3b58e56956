/**
 * The SIP stack's public surface: what the engine and main.ts may use. Layers, bottom up:
 * message → transport → transaction → dialog → ua, with auth and locate beside them.
 */
export * from './message/index.js';
export * from './transport/index.js';
export * from './transaction/index.js';
export * from './dialog/index.js';
export * from './auth/index.js';
export * from './ua/index.js';
export {
  CachingDnsResolver,
  createSystemDnsResolver,
  DEFAULT_DNS_CACHE_OPTIONS,
  ServerLocator,
  ServerLocationError,
  responseDestination,
  type DnsCacheOptions,
  type SipDnsResolver,
  type LocateTarget,
  type ResolvedTarget,
  type ServerLocatorOptions,
  type SipTransport,
} from './locate/index.js';
export { parseUri, uriEquals, SipUri, TelUri, type Uri } from './uri.js';
export { systemClock, ManualClock, type Clock, type TimerHandle } from './clock.js';
export { defaultTimerValues, type TimerValues } from './timers.js';
export { SipParseError, InvalidSipUri } from './errors.js';
