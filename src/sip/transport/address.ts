/**
 * Addresses as the transports see them. Node reports IPv4 peers of a dual-stack socket as
 * `::ffff:a.b.c.d` and SIP writes IPv6 literals in brackets (RFC 3261 §25.1 IPv6reference);
 * comparisons go through normalizeAddress so that neither spelling matters.
 */
import { isIP } from 'node:net';

export type TransportName = 'udp' | 'tcp' | 'tls';

/** Where a message came from. */
export interface Source {
  transport: TransportName;
  address: string;
  port: number;
}

/** Where a message goes. `connectionId` names the stream connection to prefer (responses). */
export interface Destination {
  transport: TransportName;
  address: string;
  port: number;
  connectionId?: string;
  /** The name the address was found under, that a TLS peer's certificate must carry (RFC 5922 §7.2). */
  servername?: string;
}

/** The well-known SIP ports: 5060 for UDP and TCP, 5061 for TLS. */
export function defaultPort(transport: string): number {
  return transport.toLowerCase() === 'tls' ? 5061 : 5060;
}

/** Without brackets or the IPv4-mapped prefix, lower-cased, IPv6 in its compressed form. */
export function normalizeAddress(address: string): string {
  let text = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  text = text.toLowerCase();
  if (text.startsWith('::ffff:') && isIP(text.slice(7)) === 4) return text.slice(7);
  if (isIP(text) === 6) return compressIpv6(text);
  return text;
}

/** 4, 6, or 0 for anything that is not an IP literal (a host name); brackets are allowed. */
export function ipFamily(address: string): 0 | 4 | 6 {
  const text = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  return isIP(text) as 0 | 4 | 6;
}

/** The host as written in a Via sent-by or a SIP URI: IPv6 literals get brackets. */
export function uriHost(host: string): string {
  return ipFamily(host) === 6 && !host.startsWith('[') ? `[${host}]` : host;
}

export function isWildcardAddress(address: string): boolean {
  const text = normalizeAddress(address);
  return text === '0.0.0.0' || text === '::';
}

/** A key for "the same remote address and port", whatever the spelling. */
export function endpointKey(address: string, port: number): string {
  return `${normalizeAddress(address)}|${port}`;
}

function compressIpv6(text: string): string {
  if (text.includes('%')) return text; // scoped (link-local) addresses are kept as written
  try {
    const host = new URL(`http://[${text}]/`).hostname;
    return host.slice(1, -1);
  } catch {
    return text;
  }
}
