/**
 * The SSRF guard: a webhook URL names a host chosen by a customer, and without this check the
 * service would POST into its own network (loopback, RFC 1918 ranges, the cloud metadata service).
 * Only http(s) URLs are sent to; the host is resolved here, every address it resolves to is
 * checked, and the connection is then made to the address that was checked (the sender pins it
 * through `lookup`), so a DNS answer that changes between check and connect (DNS rebinding)
 * cannot move the request. `allowPrivate` (WEBHOOK_ALLOW_PRIVATE, for tests and development)
 * skips the address check, never the scheme check.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { DestinationRefused, type RefusalReason } from './errors.js';

export interface CheckedDestination {
  url: URL;
  /** The address to connect to: checked. */
  address: string;
  family: 4 | 6;
}

export type Resolve = (host: string) => Promise<Array<{ address: string; family: number }>>;

export const systemResolve: Resolve = (host) => dnsLookup(host, { all: true, verbatim: true });

/** Refused ranges, most specific first (the first match names the reason). */
const RANGES: ReadonlyArray<readonly [RefusalReason, 'ipv4' | 'ipv6', string, number]> = [
  // IPv4 (RFC 6890 special-purpose registry)
  ['metadata', 'ipv4', '169.254.169.254', 32], // AWS, GCP, Azure, OpenStack instance metadata
  ['metadata', 'ipv4', '100.100.100.200', 32], // Alibaba Cloud metadata
  ['metadata', 'ipv4', '192.0.0.192', 32], // Oracle Cloud metadata
  ['unspecified', 'ipv4', '0.0.0.0', 8], // "this network" (RFC 1122); 0.0.0.0 reaches the local host
  ['loopback', 'ipv4', '127.0.0.0', 8],
  ['private', 'ipv4', '10.0.0.0', 8], // RFC 1918
  ['private', 'ipv4', '172.16.0.0', 12],
  ['private', 'ipv4', '192.168.0.0', 16],
  ['shared_address_space', 'ipv4', '100.64.0.0', 10], // CGNAT (RFC 6598)
  ['link_local', 'ipv4', '169.254.0.0', 16], // RFC 3927
  ['reserved', 'ipv4', '192.0.0.0', 24], // IETF protocol assignments (RFC 6890)
  ['documentation', 'ipv4', '192.0.2.0', 24], // TEST-NET-1..3 (RFC 5737)
  ['documentation', 'ipv4', '198.51.100.0', 24],
  ['documentation', 'ipv4', '203.0.113.0', 24],
  ['reserved', 'ipv4', '198.18.0.0', 15], // benchmarking (RFC 2544)
  ['reserved', 'ipv4', '192.88.99.0', 24], // 6to4 relay anycast (RFC 7526)
  ['multicast', 'ipv4', '224.0.0.0', 4],
  ['reserved', 'ipv4', '240.0.0.0', 4], // includes 255.255.255.255
  // IPv6
  ['metadata', 'ipv6', 'fd00:ec2::254', 128], // AWS IMDS over IPv6
  ['unspecified', 'ipv6', '::', 128],
  ['loopback', 'ipv6', '::1', 128],
  ['ipv4_mapped', 'ipv6', '::ffff:0:0', 96], // ::ffff:a.b.c.d reaches the IPv4 host (RFC 4291 §2.5.5.2)
  ['ipv4_mapped', 'ipv6', '::', 96], // IPv4-compatible (deprecated, same effect)
  ['ipv4_mapped', 'ipv6', '64:ff9b::', 96], // NAT64 well-known prefix (RFC 6052)
  ['ipv4_mapped', 'ipv6', '64:ff9b:1::', 48], // local-use NAT64 (RFC 8215)
  ['ipv4_mapped', 'ipv6', '2002::', 16], // 6to4 embeds an IPv4 address (RFC 3056)
  ['reserved', 'ipv6', '2001::', 23], // IETF protocol assignments, Teredo included (RFC 2928, 4380)
  ['documentation', 'ipv6', '2001:db8::', 32], // RFC 3849
  ['reserved', 'ipv6', '100::', 64], // discard-only (RFC 6666)
  ['unique_local', 'ipv6', 'fc00::', 7], // ULA (RFC 4193)
  ['link_local', 'ipv6', 'fe80::', 10],
  ['private', 'ipv6', 'fec0::', 10], // site-local (deprecated, RFC 3879)
  ['multicast', 'ipv6', 'ff00::', 8],
];

const LISTS: ReadonlyArray<readonly [RefusalReason, 'ipv4' | 'ipv6', BlockList]> = RANGES.map(([reason, type, network, prefix]) => {
  const list = new BlockList();
  list.addSubnet(network, prefix, type);
  return [reason, type, list] as const;
});

/** Why an address is refused, or null for a public unicast address. */
export function refusedKind(address: string): RefusalReason | null {
  const family = isIP(address);
  if (family === 0) return 'bad_url';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const [reason, listType, list] of LISTS) {
    // Only rules of the address's own family: BlockList also matches an IPv4 address against an
    // IPv6 ::ffff:0:0/96 rule (and the reverse), which would refuse every IPv4 address.
    if (listType === type && list.check(address, type)) return reason;
  }
  return null;
}

export interface GuardOptions {
  allowPrivate: boolean;
  resolve?: Resolve;
}

/** Parses, resolves and checks a webhook URL; throws DestinationRefused. */
export async function checkDestination(rawUrl: string, options: GuardOptions): Promise<CheckedDestination> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new DestinationRefused(rawUrl, 'bad_url');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new DestinationRefused(rawUrl, 'not_http');
  // URL keeps IPv6 literals in brackets.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (host === '') throw new DestinationRefused(rawUrl, 'bad_url');
  let addresses: Array<{ address: string; family: number }>;
  if (isIP(host) !== 0) addresses = [{ address: host, family: isIP(host) }];
  else {
    try {
      addresses = await (options.resolve ?? systemResolve)(host);
    } catch {
      throw new DestinationRefused(rawUrl, 'unresolvable');
    }
    if (addresses.length === 0) throw new DestinationRefused(rawUrl, 'unresolvable');
  }
  if (!options.allowPrivate) {
    // Every address must pass: a host that resolves to one public and one private address could
    // otherwise be steered to the private one by the order of the answer.
    for (const { address } of addresses) {
      const kind = refusedKind(address);
      if (kind !== null) throw new DestinationRefused(rawUrl, kind, address);
    }
  }
  const chosen = addresses[0]!;
  return { url, address: chosen.address, family: chosen.family === 6 ? 6 : 4 };
}

/**
 * A cache of checked destinations by URL host (a few seconds): one resolution per host and
 * period, not one per delivery. What is cached was checked, so the pinning still holds.
 */
export class DestinationCache {
  private readonly entries = new Map<string, { expiresAt: number; destination: Promise<CheckedDestination> }>();

  constructor(
    private readonly options: GuardOptions & { ttlMs: number; now?: () => number; maxEntries?: number },
  ) {}

  check(rawUrl: string): Promise<CheckedDestination> {
    let key: string;
    try {
      const url = new URL(rawUrl);
      key = `${url.protocol}//${url.host}`;
    } catch {
      return checkDestination(rawUrl, this.options);
    }
    const now = (this.options.now ?? Date.now)();
    const cached = this.entries.get(key);
    if (cached && cached.expiresAt > now) return cached.destination.then((destination) => ({ ...destination, url: new URL(rawUrl) }));
    const destination = checkDestination(rawUrl, this.options);
    if (this.entries.size >= (this.options.maxEntries ?? 10_000)) this.entries.clear();
    this.entries.set(key, { expiresAt: now + this.options.ttlMs, destination });
    // A refusal is cached too (a refused host stays refused for the period), but a failed lookup is not.
    destination.catch((error: unknown) => {
      if (error instanceof DestinationRefused && error.reason === 'unresolvable') this.entries.delete(key);
    });
    return destination;
  }
}
