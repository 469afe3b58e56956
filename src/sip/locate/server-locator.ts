/**
 * Locating SIP servers: RFC 3263 §4 (client usage) turns the host of a SIP or SIPS URI into an
 * ordered list of transport/address/port triples to try in turn, and §5 (server usage) does the
 * same for the sent-by of a Via when a response cannot go where RFC 3261 §18.2.2 first sends it.
 *
 * RFC 3263 §4.3: the caller sends to the first target and moves to the next one on a transport
 * error, or on a 503 without Retry-After or a 408 (a timeout); the list is built for that.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { NaptrRecord, SrvRecord } from 'node:dns';
import { dnsErrorCode, isNegativeDnsAnswer, type SipDnsResolver } from './dns-resolver.js';

export type SipTransport = 'udp' | 'tcp' | 'tls';
export type AddressFamily = 4 | 6;

/** What to locate: the parts of a SIP URI that RFC 3263 looks at. */
export interface LocateTarget {
  /**
   * A domain name, an IPv4 address or an IPv6 address, bracketed or not. When the URI has an
   * `maddr` parameter, pass its value here: RFC 3263 §4 makes it the TARGET.
   */
  host: string;
  port?: number;
  /** The URI's `transport` parameter. */
  transport?: SipTransport;
  /** A `sips:` URI: TLS on every hop (RFC 3261 §19.1). */
  secure: boolean;
}

export interface ResolvedTarget {
  transport: SipTransport;
  address: string;
  port: number;
  family: AddressFamily;
  /**
   * The name that was located (for a numeric host, the address). RFC 5922 §4.1: a TLS client
   * checks the server's certificate against the domain of the URI, not the SRV or NAPTR target
   * DNS led to, because DNS answers are not authenticated; so this is also the SNI name.
   */
  host: string;
}

export type ServerLocationErrorCode =
  /** Nothing resolved and some lookup failed: NXDOMAIN, SERVFAIL, a timeout, a refusal. */
  | 'DNS_FAILURE'
  /** DNS answered, but nothing usable: no records, SRV ".", or only disabled transports or families. */
  | 'NO_TARGETS'
  /** The URI asks for a transport we do not have enabled (or TLS over UDP for a sips: URI). */
  | 'UNSUPPORTED_TRANSPORT'
  /** The host or port cannot be a SIP target at all. */
  | 'INVALID_TARGET';

export interface DnsLookupFailure {
  name: string;
  type: 'NAPTR' | 'SRV' | 'A' | 'AAAA';
  /** The `node:dns` error code (`ENOTFOUND`, `ESERVFAIL`, `ETIMEOUT`, …), or `UNKNOWN`. */
  code: string;
}

export class ServerLocationError extends Error {
  override readonly name = 'ServerLocationError';
  constructor(
    readonly code: ServerLocationErrorCode,
    /** The host that was being located. */
    readonly host: string,
    message: string,
    /** Every lookup that failed on the way, for logs. */
    readonly failures: readonly DnsLookupFailure[] = [],
  ) {
    super(message);
  }
}

export interface ServerLocatorOptions {
  resolver: SipDnsResolver;
  /** Uniform in [0, 1), for RFC 2782's weighted selection. `Math.random` when absent. */
  random?: () => number;
  /**
   * The transports we can send on, in the order we prefer them when DNS leaves the choice to us
   * (SRV lookups without NAPTR). Default: udp, tcp, tls.
   */
  transports?: readonly SipTransport[];
  /** The address families we can send on, preferred first. Default: 4, 6. */
  families?: readonly AddressFamily[];
  /**
   * RFC 3261 §8.1.2: when set, every request located through `locate()` goes to this proxy,
   * whatever its own Request-URI and Route say.
   */
  outboundProxy?: LocateTarget;
}

const DEFAULT_TRANSPORTS: readonly SipTransport[] = ['udp', 'tcp', 'tls'];
const DEFAULT_FAMILIES: readonly AddressFamily[] = [4, 6];

/** RFC 3261 §19.1.2: 5060 for SIP over UDP and TCP, 5061 for SIP over TLS. */
export function defaultPort(transport: SipTransport): number {
  return transport === 'tls' ? 5061 : 5060;
}

/** RFC 3263 §4.1: the NAPTR services for SIP and the transports they name (SCTP and others left out). */
const NAPTR_SERVICES: ReadonlyMap<string, SipTransport> = new Map([
  ['SIP+D2U', 'udp'],
  ['SIP+D2T', 'tcp'],
  ['SIPS+D2T', 'tls'],
]);

/** RFC 3263 §4.1: the SRV owner-name prefix for each transport. */
const SRV_PREFIXES: Readonly<Record<SipTransport, string>> = {
  udp: '_sip._udp.',
  tcp: '_sip._tcp.',
  tls: '_sips._tcp.',
};

interface Candidate {
  transport: SipTransport;
  srvName: string;
}

export interface AddressAnswer {
  address: string;
  family: AddressFamily;
}

/** The state of one locate() call: the failures seen, and address lookups shared across SRV targets. */
class Lookup {
  readonly failures: DnsLookupFailure[] = [];
  /** Failures that say DNS is broken or the name does not exist, as opposed to "not published". */
  hardFailure = false;
  readonly addresses = new Map<string, Promise<AddressAnswer[]>>();

  fail(name: string, type: DnsLookupFailure['type'], error: unknown, routine: boolean): void {
    this.failures.push({ name, type, code: dnsErrorCode(error) ?? 'UNKNOWN' });
    // A NAPTR or SRV owner name that does not exist is how a domain says "not published here":
    // RFC 3263 then falls through to the next step, so that is no evidence of a DNS failure.
    if (!(routine && isNegativeDnsAnswer(error)) && dnsErrorCode(error) !== 'ENODATA') this.hardFailure = true;
  }
}

export class ServerLocator {
  private readonly resolver: SipDnsResolver;
  private readonly random: () => number;
  private readonly transports: readonly SipTransport[];
  private readonly families: readonly AddressFamily[];
  private readonly outboundProxy: LocateTarget | undefined;

  constructor(options: ServerLocatorOptions) {
    this.resolver = options.resolver;
    this.random = options.random ?? Math.random;
    this.transports = [...new Set(options.transports ?? DEFAULT_TRANSPORTS)];
    this.families = [...new Set(options.families ?? DEFAULT_FAMILIES)];
    if (this.transports.length === 0) throw new RangeError('ServerLocator needs at least one transport');
    if (this.families.length === 0) throw new RangeError('ServerLocator needs at least one address family');
    this.outboundProxy = options.outboundProxy;
  }

  /**
   * RFC 3263 §4: where to send a request whose next hop is `target` (the Request-URI, or the
   * first Route when the route set is loose-routing), as targets to try in order. Rejects with a
   * `ServerLocationError` only when there is nowhere at all to send it.
   */
  locate(target: LocateTarget): Promise<ResolvedTarget[]> {
    return this.run(this.outboundProxy ?? target, true);
  }

  /**
   * RFC 3263 §5: where to send a response when the address RFC 3261 §18.2.2 chose failed: the
   * top Via's sent-by, located like a URI with the Via's transport, but without NAPTR (the
   * transport is known) and never through the outbound proxy.
   */
  locateSentBy(sentBy: LocateTarget & { transport: SipTransport }): Promise<ResolvedTarget[]> {
    return this.run(sentBy, false);
  }

  private async run(target: LocateTarget, useNaptr: boolean): Promise<ResolvedTarget[]> {
    const host = target.host.trim();
    const lookup = new Lookup();
    if (host === '') throw new ServerLocationError('INVALID_TARGET', host, 'empty host');
    if (target.port !== undefined && !(Number.isInteger(target.port) && target.port > 0 && target.port <= 65535)) {
      throw new ServerLocationError('INVALID_TARGET', host, `invalid port ${target.port}`);
    }
    const transport = this.requestedTransport(target, host);

    const numeric = numericHost(host);
    if (numeric === 'invalid') throw new ServerLocationError('INVALID_TARGET', host, `invalid IP literal ${host}`);
    if (numeric) {
      // RFC 3263 §4.1/§4.2: a numeric TARGET needs no DNS: UDP for sip:, TLS over TCP for sips:,
      // unless the URI names a transport, and the transport's default port unless it names one.
      if (!this.families.includes(numeric.family)) {
        throw new ServerLocationError('NO_TARGETS', host, `IPv${numeric.family} is not enabled`);
      }
      const chosen = transport ?? this.defaultTransport(target.secure);
      return [{ transport: chosen, address: numeric.address, port: target.port ?? defaultPort(chosen), family: numeric.family, host: numeric.address }];
    }

    let results: ResolvedTarget[];
    if (target.port !== undefined) {
      // RFC 3263 §4.2: a port in the URI means A/AAAA only, no NAPTR nor SRV.
      const chosen = transport ?? this.defaultTransport(target.secure);
      results = await this.addressTargets(lookup, host, chosen, target.port, host);
    } else if (transport !== undefined) {
      // RFC 3263 §4.2 (and §5 for sent-by): transport known, so SRV for it alone, then A/AAAA.
      results = await this.srvThenAddresses(lookup, host, [{ transport, srvName: SRV_PREFIXES[transport] + host }], transport);
    } else {
      const naptr = useNaptr ? await this.naptrCandidates(lookup, host, target.secure) : [];
      if (naptr.length > 0) {
        // RFC 3263 §4.2: transport chosen by NAPTR, so the SRV names it points at; failing those,
        // A/AAAA with the transport of the most preferred record.
        results = await this.srvThenAddresses(lookup, host, naptr, naptr[0]!.transport);
      } else {
        // RFC 3263 §4.1: no (usable) NAPTR, so one SRV query per transport we support; only
        // _sips._tcp for a sips: URI, whose every hop must be TLS.
        const transports = target.secure ? (['tls'] as const) : this.transports;
        const candidates = transports.map((t) => ({ transport: t, srvName: SRV_PREFIXES[t] + host }));
        results = await this.srvThenAddresses(lookup, host, candidates, this.defaultTransport(target.secure));
      }
    }

    if (results.length === 0) {
      const code = lookup.hardFailure ? 'DNS_FAILURE' : 'NO_TARGETS';
      const detail = lookup.failures.map((f) => `${f.type} ${f.name}: ${f.code}`).join('; ');
      throw new ServerLocationError(code, host, `cannot locate ${host}${detail ? ` (${detail})` : ''}`, lookup.failures);
    }
    return results;
  }

  /** The transport the URI itself dictates, if any; rejects what we cannot honour. */
  private requestedTransport(target: LocateTarget, host: string): SipTransport | undefined {
    let transport = target.transport;
    if (target.secure) {
      // RFC 3261 §26.2.2 and RFC 3263 §4.1: a sips: URI is TLS; transport=tcp means TLS over TCP.
      if (transport === 'udp') throw new ServerLocationError('UNSUPPORTED_TRANSPORT', host, 'sips: over UDP is not defined');
      if (transport !== undefined) transport = 'tls';
      if (!this.transports.includes('tls')) throw new ServerLocationError('UNSUPPORTED_TRANSPORT', host, 'sips: needs TLS, which is not enabled');
    }
    if (transport !== undefined && !this.transports.includes(transport)) {
      throw new ServerLocationError('UNSUPPORTED_TRANSPORT', host, `transport ${transport} is not enabled`);
    }
    return transport;
  }

  /** RFC 3263 §4.1: UDP for sip: (TCP, then TLS, when UDP is disabled), TLS for sips:. */
  private defaultTransport(secure: boolean): SipTransport {
    if (secure) return 'tls';
    return (['udp', 'tcp', 'tls'] as const).find((t) => this.transports.includes(t)) ?? 'udp';
  }

  /** RFC 3263 §4.1: the NAPTR records we can use, most preferred first. */
  private async naptrCandidates(lookup: Lookup, host: string, secure: boolean): Promise<Candidate[]> {
    let records: NaptrRecord[];
    try {
      records = await this.resolver.resolveNaptr(host);
    } catch (error) {
      lookup.fail(host, 'NAPTR', error, true);
      return [];
    }
    const usable = records
      .map((record) => ({ record, transport: NAPTR_SERVICES.get(record.service.toUpperCase()) }))
      .filter((entry): entry is { record: NaptrRecord; transport: SipTransport } => {
        const { record, transport } = entry;
        // RFC 3263 §4.1: only services for transports we support; for sips: only TLS ones.
        // Only the terminal "s" flag leads to SRV, which is all RFC 3263 defines.
        return (
          transport !== undefined &&
          this.transports.includes(transport) &&
          (!secure || transport === 'tls') &&
          record.flags.toLowerCase() === 's' &&
          record.replacement !== '' &&
          record.replacement !== '.'
        );
      })
      // RFC 3403 §4.1: order first, then preference, both lowest first. The lower-ranked records
      // stay in the list as fallbacks, which is what RFC 3263 §4.3 failover wants.
      .sort((a, b) => a.record.order - b.record.order || a.record.preference - b.record.preference);
    const seen = new Set<string>();
    const candidates: Candidate[] = [];
    for (const { record, transport } of usable) {
      const key = `${transport} ${record.replacement.toLowerCase()}`;
      if (seen.has(key)) continue;
      seen.add(key);
      candidates.push({ transport, srvName: record.replacement });
    }
    return candidates;
  }

  /**
   * SRV for each candidate in turn, each set ordered per RFC 2782; then the addresses of every
   * SRV target. With no SRV records at all, RFC 3263 §4.2: A/AAAA of the host itself at the
   * default port of `fallbackTransport`.
   */
  private async srvThenAddresses(
    lookup: Lookup,
    host: string,
    candidates: readonly Candidate[],
    fallbackTransport: SipTransport,
  ): Promise<ResolvedTarget[]> {
    const answers = await Promise.all(candidates.map((candidate) => this.querySrv(lookup, candidate.srvName)));
    // Random draws happen here, in candidate order, so a seeded random gives a repeatable list.
    const ordered = candidates.flatMap((candidate, i) =>
      orderSrvRecords(answers[i]!.records, this.random).map((record) => ({ transport: candidate.transport, record })),
    );
    if (ordered.length === 0) {
      // RFC 2782: a lone "." target means the service is decidedly not available at this domain,
      // so guessing at its A/AAAA records would go against what the domain published.
      if (answers.some((answer) => answer.declined)) return [];
      return this.addressTargets(lookup, host, fallbackTransport, defaultPort(fallbackTransport), host);
    }
    const perRecord = await Promise.all(
      ordered.map(({ transport, record }) => this.addressTargets(lookup, record.name, transport, record.port, host)),
    );
    return dedupe(perRecord.flat());
  }

  private async querySrv(lookup: Lookup, name: string): Promise<{ records: SrvRecord[]; declined: boolean }> {
    try {
      const records = await this.resolver.resolveSrv(name);
      const usable = records.filter((record) => record.name !== '' && record.name !== '.');
      return { records: usable, declined: records.length > 0 && usable.length === 0 };
    } catch (error) {
      lookup.fail(name, 'SRV', error, true);
      return { records: [], declined: false };
    }
  }

  private async addressTargets(
    lookup: Lookup,
    name: string,
    transport: SipTransport,
    port: number,
    host: string,
  ): Promise<ResolvedTarget[]> {
    const addresses = await this.addressesOf(lookup, name);
    return addresses.map(({ address, family }) => ({ transport, address, port, family, host }));
  }

  /** A and AAAA of a name, for the enabled families in order of preference; once per locate(). */
  private addressesOf(lookup: Lookup, name: string): Promise<AddressAnswer[]> {
    const key = name.toLowerCase();
    let pending = lookup.addresses.get(key);
    if (!pending) {
      pending = this.queryAddresses(lookup, name);
      lookup.addresses.set(key, pending);
    }
    return pending;
  }

  private async queryAddresses(lookup: Lookup, name: string): Promise<AddressAnswer[]> {
    // Zones that put an address where RFC 2782 wants a name exist; take the address as it is.
    const numeric = numericHost(name);
    if (numeric && numeric !== 'invalid') return this.families.includes(numeric.family) ? [numeric] : [];
    const perFamily = await Promise.all(
      this.families.map(async (family): Promise<AddressAnswer[]> => {
        try {
          const records =
            family === 4 ? await this.resolver.resolve4(name, { ttl: true }) : await this.resolver.resolve6(name, { ttl: true });
          return records.map((record) => ({ address: record.address, family }));
        } catch (error) {
          lookup.fail(name, family === 4 ? 'A' : 'AAAA', error, false);
          return [];
        }
      }),
    );
    return perFamily.flat();
  }
}

/**
 * RFC 2782 "Usage rules": lowest priority first; within one priority, repeatedly pick a record
 * at random with probability proportional to its weight, zero-weight records placed first so
 * that they have a very small chance of being picked early.
 */
export function orderSrvRecords(records: readonly SrvRecord[], random: () => number): SrvRecord[] {
  const priorities = [...new Set(records.map((record) => record.priority))].sort((a, b) => a - b);
  const ordered: SrvRecord[] = [];
  for (const priority of priorities) {
    const group = records.filter((record) => record.priority === priority);
    const remaining = [...group.filter((r) => r.weight === 0), ...group.filter((r) => r.weight !== 0)];
    while (remaining.length > 0) {
      const sum = remaining.reduce((total, record) => total + record.weight, 0);
      // "a uniform random number between 0 and the sum computed (inclusive)"
      const pick = Math.min(sum, Math.floor(random() * (sum + 1)));
      let running = 0;
      let index = remaining.length - 1;
      for (let i = 0; i < remaining.length; i++) {
        running += remaining[i]!.weight;
        if (running >= pick) {
          index = i;
          break;
        }
      }
      ordered.push(remaining[index]!);
      remaining.splice(index, 1);
    }
  }
  return ordered;
}

/** An IP literal, with or without the brackets of an RFC 3261 IPv6reference; undefined for a name. */
export function numericHost(host: string): AddressAnswer | 'invalid' | undefined {
  if (host.startsWith('[') || host.endsWith(']')) {
    const inner = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : '';
    return isIPv6(inner) ? { address: inner, family: 6 } : 'invalid';
  }
  if (isIPv4(host)) return { address: host, family: 4 };
  if (isIPv6(host)) return { address: host, family: 6 };
  return undefined;
}

function dedupe(targets: ResolvedTarget[]): ResolvedTarget[] {
  const seen = new Set<string>();
  return targets.filter((target) => {
    const key = `${target.transport} ${target.address} ${target.port}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
