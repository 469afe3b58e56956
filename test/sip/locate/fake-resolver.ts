/**
 * An in-process SipDnsResolver over the same Zone shape the wire test server serves, failing
 * the way `node:dns` does (ENOTFOUND, ENODATA, ESERVFAIL, EREFUSED, ETIMEOUT), and logging every
 * query so tests can say which lookups happened.
 */
import type { NaptrRecord, RecordWithTtl, SrvRecord } from 'node:dns';
import type { SipDnsResolver } from '../../../src/sip/locate/index.js';
import type { Zone, ZoneRecord } from '../../support/dns-server.js';

const FAULT_CODES = { servfail: 'ESERVFAIL', refused: 'EREFUSED', timeout: 'ETIMEOUT' } as const;

export class FakeResolver implements SipDnsResolver {
  /** "TYPE name" for every query, in order. */
  readonly queries: string[] = [];

  constructor(public zone: Zone) {}

  async resolveNaptr(hostname: string): Promise<NaptrRecord[]> {
    return this.lookup('NAPTR', hostname).map((record) => {
      if (record.type !== 'NAPTR') throw new Error('unreachable');
      const { order, preference, flags, service, regexp, replacement } = record;
      return { order, preference, flags, service, regexp: regexp ?? '', replacement };
    });
  }

  async resolveSrv(hostname: string): Promise<SrvRecord[]> {
    return this.lookup('SRV', hostname).map((record) => {
      if (record.type !== 'SRV') throw new Error('unreachable');
      const { priority, weight, port, target } = record;
      return { priority, weight, port, name: target };
    });
  }

  async resolve4(hostname: string, _options: { ttl: true }): Promise<RecordWithTtl[]> {
    return this.addresses('A', hostname);
  }

  async resolve6(hostname: string, _options: { ttl: true }): Promise<RecordWithTtl[]> {
    return this.addresses('AAAA', hostname);
  }

  /** How many queries of that type and name were made. */
  count(type: string, name: string): number {
    return this.queries.filter((query) => query === `${type} ${name}`).length;
  }

  private addresses(type: 'A' | 'AAAA', hostname: string): RecordWithTtl[] {
    return this.lookup(type, hostname).map((record) => {
      if (record.type !== 'A' && record.type !== 'AAAA') throw new Error('unreachable');
      return { address: record.address, ttl: record.ttl ?? 300 };
    });
  }

  private lookup(type: ZoneRecord['type'], hostname: string): ZoneRecord[] {
    this.queries.push(`${type} ${hostname}`);
    const name = hostname.toLowerCase();
    const fault = Object.entries(this.zone.faults ?? {}).find(([owner]) => owner.toLowerCase() === name)?.[1];
    if (fault) throw dnsError(FAULT_CODES[fault], type, hostname);
    const owner = Object.keys(this.zone.records).find((key) => key.toLowerCase() === name);
    if (owner === undefined) throw dnsError('ENOTFOUND', type, hostname);
    const records = this.zone.records[owner]!.filter((record) => record.type === type);
    if (records.length === 0) throw dnsError('ENODATA', type, hostname);
    return records;
  }
}

export function dnsError(code: string, type: string, hostname: string): Error {
  const syscall = `query${type.charAt(0)}${type.slice(1).toLowerCase()}`;
  return Object.assign(new Error(`${syscall} ${code} ${hostname}`), { code, syscall, hostname });
}

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random that returns these values in turn, then fails the test if asked for more. */
export function scriptedRandom(values: number[]): () => number {
  const queue = [...values];
  return () => {
    const next = queue.shift();
    if (next === undefined) throw new Error('scriptedRandom: no values left');
    return next;
  };
}
