/**
 * The DNS lookups RFC 3263 needs (NAPTR, SRV, A, AAAA), as an interface the locator takes
 * injected, the production resolver behind it, and a small TTL-respecting cache in front of it.
 */
import type { NaptrRecord, RecordWithTtl, SrvRecord } from 'node:dns';
import { Resolver } from 'node:dns/promises';
import type { Clock } from '../clock.js';

export type { NaptrRecord, RecordWithTtl, SrvRecord };

/**
 * The subset of `node:dns/promises`' `Resolver` the locator uses, with the same shapes, so a
 * real `Resolver` satisfies it as is. Failures reject with an `Error` whose `code` is one of the
 * `node:dns` error codes (`ENOTFOUND` for NXDOMAIN, `ENODATA` for no records of that type,
 * `ESERVFAIL`, `ETIMEOUT`, …).
 */
export interface SipDnsResolver {
  resolveNaptr(hostname: string): Promise<NaptrRecord[]>;
  resolveSrv(hostname: string): Promise<SrvRecord[]>;
  resolve4(hostname: string, options: { ttl: true }): Promise<RecordWithTtl[]>;
  resolve6(hostname: string, options: { ttl: true }): Promise<RecordWithTtl[]>;
}

export interface SystemDnsResolverOptions {
  /** Name servers as `node:dns` accepts them (`'192.0.2.53'`, `'[2001:db8::53]:5353'`); the system's when absent. */
  servers?: readonly string[];
  /** Per-query timeout in milliseconds; c-ares' default when absent. */
  timeoutMs?: number;
  /** Attempts per name server before giving up. */
  tries?: number;
}

/** The production resolver: a `node:dns/promises` `Resolver` of its own (never the global one). */
export function createSystemDnsResolver(options: SystemDnsResolverOptions = {}): SipDnsResolver {
  const resolver = new Resolver({
    ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
    ...(options.tries !== undefined ? { tries: options.tries } : {}),
  });
  if (options.servers !== undefined) resolver.setServers([...options.servers]);
  return resolver;
}

/** `node:dns` codes that are answers (the name or the record type does not exist), not failures. */
const NEGATIVE_ANSWER_CODES: ReadonlySet<string> = new Set(['ENOTFOUND', 'ENODATA']);

/** The `node:dns` error code of a rejection, when it has one. */
export function dnsErrorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}

/** True for NXDOMAIN and NODATA: the DNS answered, and the answer is "nothing". */
export function isNegativeDnsAnswer(error: unknown): boolean {
  const code = dnsErrorCode(error);
  return code !== undefined && NEGATIVE_ANSWER_CODES.has(code);
}

type RecordType = 'NAPTR' | 'SRV' | 'A' | 'AAAA';
type Answer = NaptrRecord[] | SrvRecord[] | RecordWithTtl[];

interface CacheEntry {
  expiresAt: number;
  answer?: Answer;
  /** A cached negative answer: the `node:dns` code and syscall to reject with again. */
  negative?: { code: string; syscall: string };
}

export interface DnsCacheOptions {
  /** Milliseconds; a `Clock` will do. */
  clock: Pick<Clock, 'now'>;
  /** Entries kept at most; the least recently used goes first. */
  maxEntries?: number;
  /**
   * How long NXDOMAIN and NODATA are remembered. RFC 2308 §5 bounds this by the zone's SOA
   * minimum, which `node:dns` does not expose, so it is a short fixed time instead.
   */
  negativeTtlMs?: number;
  /**
   * How long NAPTR and SRV answers are kept: `node:dns` does not expose their TTL (it does for
   * A/AAAA, whose own TTL is used), so a conservative fixed time stands in for it.
   */
  recordTtlMs?: number;
  /** Upper bound on any TTL, whatever the zone says. */
  maxTtlMs?: number;
}

export const DEFAULT_DNS_CACHE_OPTIONS = {
  maxEntries: 1000,
  negativeTtlMs: 10_000,
  recordTtlMs: 60_000,
  maxTtlMs: 3_600_000,
} as const;

/**
 * A bounded cache in front of a `SipDnsResolver`. Positive answers live for their TTL (A/AAAA)
 * or `recordTtlMs` (NAPTR/SRV); NXDOMAIN and NODATA for `negativeTtlMs`. Failures (SERVFAIL,
 * timeouts, refusals) are not cached, so the next call asks again. Concurrent lookups of the same
 * name and type share one query.
 */
export class CachingDnsResolver implements SipDnsResolver {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<Answer>>();
  private readonly maxEntries: number;
  private readonly negativeTtlMs: number;
  private readonly recordTtlMs: number;
  private readonly maxTtlMs: number;

  constructor(
    private readonly inner: SipDnsResolver,
    private readonly options: DnsCacheOptions,
  ) {
    this.maxEntries = Math.max(1, options.maxEntries ?? DEFAULT_DNS_CACHE_OPTIONS.maxEntries);
    this.negativeTtlMs = options.negativeTtlMs ?? DEFAULT_DNS_CACHE_OPTIONS.negativeTtlMs;
    this.recordTtlMs = options.recordTtlMs ?? DEFAULT_DNS_CACHE_OPTIONS.recordTtlMs;
    this.maxTtlMs = options.maxTtlMs ?? DEFAULT_DNS_CACHE_OPTIONS.maxTtlMs;
  }

  /** Entries currently held, expired ones included until they are next touched or evicted. */
  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }

  async resolveNaptr(hostname: string): Promise<NaptrRecord[]> {
    const answer = (await this.lookup('NAPTR', hostname, 'queryNaptr', () => this.inner.resolveNaptr(hostname))) as NaptrRecord[];
    return answer.map((record) => ({ ...record }));
  }

  async resolveSrv(hostname: string): Promise<SrvRecord[]> {
    const answer = (await this.lookup('SRV', hostname, 'querySrv', () => this.inner.resolveSrv(hostname))) as SrvRecord[];
    return answer.map((record) => ({ ...record }));
  }

  resolve4(hostname: string, _options: { ttl: true }): Promise<RecordWithTtl[]> {
    return this.lookupAddresses('A', hostname, 'queryA', () => this.inner.resolve4(hostname, { ttl: true }));
  }

  resolve6(hostname: string, _options: { ttl: true }): Promise<RecordWithTtl[]> {
    return this.lookupAddresses('AAAA', hostname, 'queryAaaa', () => this.inner.resolve6(hostname, { ttl: true }));
  }

  private async lookupAddresses(
    type: 'A' | 'AAAA',
    hostname: string,
    syscall: string,
    query: () => Promise<RecordWithTtl[]>,
  ): Promise<RecordWithTtl[]> {
    const key = cacheKey(type, hostname);
    const answer = (await this.lookup(type, hostname, syscall, query)) as RecordWithTtl[];
    // A cached record reports the TTL it has left, as a caching name server would.
    const entry = this.entries.get(key);
    const remaining = entry ? Math.max(0, Math.floor((entry.expiresAt - this.options.clock.now()) / 1000)) : undefined;
    return answer.map((record) => ({
      address: record.address,
      ttl: remaining === undefined ? record.ttl : Math.min(record.ttl, remaining),
    }));
  }

  private lookup(type: RecordType, hostname: string, syscall: string, query: () => Promise<Answer>): Promise<Answer> {
    const key = cacheKey(type, hostname);
    const now = this.options.clock.now();
    const entry = this.entries.get(key);
    if (entry) {
      if (entry.expiresAt > now) {
        // Re-insert so that Map order is least recently used first.
        this.entries.delete(key);
        this.entries.set(key, entry);
        if (entry.negative) return Promise.reject(negativeAnswerError(entry.negative.code, entry.negative.syscall, hostname));
        return Promise.resolve(entry.answer ?? []);
      }
      this.entries.delete(key);
    }
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const started = query().then(
      (answer) => {
        this.store(key, { expiresAt: this.options.clock.now() + this.ttlOf(type, answer), answer });
        return answer;
      },
      (error: unknown) => {
        const code = dnsErrorCode(error);
        if (code !== undefined && NEGATIVE_ANSWER_CODES.has(code)) {
          this.store(key, { expiresAt: this.options.clock.now() + this.negativeTtlMs, negative: { code, syscall } });
        }
        throw error;
      },
    );
    const tracked = started.finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, tracked);
    return tracked;
  }

  private ttlOf(type: RecordType, answer: Answer): number {
    if (type === 'NAPTR' || type === 'SRV') return Math.min(this.recordTtlMs, this.maxTtlMs);
    const records = answer as RecordWithTtl[];
    if (records.length === 0) return this.negativeTtlMs;
    // RFC 2181 §5.2: the records of one RRset share a TTL; should they not, the smallest is safe.
    const ttlSeconds = Math.min(...records.map((record) => record.ttl));
    return Math.min(ttlSeconds * 1000, this.maxTtlMs);
  }

  private store(key: string, entry: CacheEntry): void {
    // A TTL of zero means "use once, do not cache" (RFC 1035 §3.2.1).
    if (entry.expiresAt <= this.options.clock.now()) return;
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}

function cacheKey(type: RecordType, hostname: string): string {
  // RFC 4343: DNS names compare case-insensitively; a trailing dot names the same node.
  return `${type} ${hostname.toLowerCase().replace(/\.$/, '')}`;
}

/** A fresh error shaped like the one `node:dns` raised, so callers see the same `code`. */
function negativeAnswerError(code: string, syscall: string, hostname: string): Error {
  const error = new Error(`${syscall} ${code} ${hostname}`) as Error & { code: string; syscall: string; hostname: string };
  error.code = code;
  error.syscall = syscall;
  error.hostname = hostname;
  return error;
}
