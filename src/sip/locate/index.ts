/** RFC 3263: locating SIP servers for requests, and where responses go. */
export {
  CachingDnsResolver,
  createSystemDnsResolver,
  DEFAULT_DNS_CACHE_OPTIONS,
  type DnsCacheOptions,
  type SipDnsResolver,
  type SystemDnsResolverOptions,
} from './dns-resolver.js';
export {
  defaultPort,
  ServerLocationError,
  ServerLocator,
  type AddressFamily,
  type DnsLookupFailure,
  type LocateTarget,
  type ResolvedTarget,
  type ServerLocationErrorCode,
  type ServerLocatorOptions,
  type SipTransport,
} from './server-locator.js';
export {
  responseDestination,
  type ReceivedVia,
  type RequestSource,
  type ResponseDestination,
  type ResponseEndpoint,
  type SentByTarget,
} from './response-destination.js';
