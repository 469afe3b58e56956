/**
 * Where a response goes: RFC 3261 §18.2.2 as amended by RFC 3581 §4 (rport), with RFC 3263 §5
 * as the fallback. A pure function of the top Via of the request and of where the request came
 * from; the transport layer calls it and does the sending.
 */
import { defaultPort, numericHost, ServerLocationError, type AddressFamily, type LocateTarget, type SipTransport } from './server-locator.js';

/** The top Via of a request as it was received, before or after received/rport were added. */
export interface ReceivedVia {
  /** The transport of the sent-protocol, as written: UDP, TCP, TLS (any case). */
  transport: string;
  /** The sent-by host: a name, an IPv4 address or a bracketed IPv6 reference. */
  host: string;
  /** The sent-by port, when the Via has one. */
  port?: number;
  received?: string;
  /** RFC 3581: `true` for a bare `rport`, the number once it is filled in, undefined when absent. */
  rport?: number | true;
  maddr?: string;
  /** The Via's `ttl` parameter, for a multicast maddr. */
  ttl?: number;
}

/** Where the request actually came from, as the socket saw it. */
export interface RequestSource {
  address: string;
  port: number;
  /**
   * Reliable transports: whether the connection the request arrived on is still open. When a
   * send on it fails, ask again with `false`.
   */
  connectionOpen: boolean;
}

export interface ResponseEndpoint {
  transport: SipTransport;
  address: string;
  port: number;
  family: AddressFamily;
}

/** The sent-by of the Via, to be located with `ServerLocator.locateSentBy()` (RFC 3263 §5). */
export type SentByTarget = LocateTarget & { transport: SipTransport };

export type ResponseDestination =
  /** Send on the connection the request arrived on (the one from `address`:`port`). */
  | ({ kind: 'connection' } & ResponseEndpoint)
  /**
   * Send to this address (opening a connection for TCP/TLS). Should that fail (a refused
   * connection, an ICMP port unreachable), RFC 3261 §18.2.2 and RFC 3263 §5 go on to `fallback`.
   */
  | ({ kind: 'address'; ttl?: number; fallback?: SentByTarget } & ResponseEndpoint)
  /** The destination is a name (an maddr that is not an address): locate it, RFC 3263 §5. */
  | { kind: 'locate'; target: SentByTarget };

const TRANSPORTS: ReadonlyMap<string, SipTransport> = new Map([
  ['UDP', 'udp'],
  ['TCP', 'tcp'],
  ['TLS', 'tls'],
]);

export function responseDestination(via: ReceivedVia, source: RequestSource): ResponseDestination {
  const transport = TRANSPORTS.get(via.transport.toUpperCase());
  if (transport === undefined) {
    throw new ServerLocationError('UNSUPPORTED_TRANSPORT', via.host, `no transport for Via transport ${via.transport}`);
  }
  const sentBy: SentByTarget = {
    host: via.host,
    ...(via.port !== undefined ? { port: via.port } : {}),
    transport,
    secure: transport === 'tls',
  };
  // RFC 3261 §18.2.1: the server adds received= whenever sent-by is not the source address, so
  // a Via without it was sent from its sent-by; either way the source is where it came from.
  const received = literal(via.received) ?? literal(source.address) ?? { address: source.address, family: 4 as const };

  if (transport !== 'udp') {
    // RFC 3261 §18.2.2: reliable transports answer on the connection the request came on while
    // it is open; then to received at the sent-by port (or the transport's default). RFC 3581
    // §4 applies rport to unreliable transports only: a closed TCP connection's source port is
    // an ephemeral one nobody listens on.
    if (source.connectionOpen) {
      const from = literal(source.address) ?? received;
      return { kind: 'connection', transport, ...from, port: source.port };
    }
    return withFallback({ transport, ...received, port: via.port ?? defaultPort(transport) }, sentBy);
  }

  if (via.maddr !== undefined && via.maddr !== '') {
    // RFC 3261 §18.2.2: maddr wins, at the sent-by port or 5060; a multicast group gets the Via's
    // ttl, or 1.
    const port = via.port ?? 5060;
    const maddr = literal(via.maddr);
    if (!maddr) return { kind: 'locate', target: { host: via.maddr, port, transport, secure: false } };
    const destination: ResponseDestination = { kind: 'address', transport, ...maddr, port };
    if (isMulticast(maddr.address, maddr.family)) destination.ttl = via.ttl ?? 1;
    return destination;
  }

  if (via.rport !== undefined) {
    // RFC 3581 §4: received and rport together: the address and port the request came from. A
    // bare rport is the one we are about to fill in with the source port (RFC 3581 §4 again).
    const rport = typeof via.rport === 'number' && isPort(via.rport) ? via.rport : source.port;
    return withFallback({ transport, ...received, port: rport }, sentBy);
  }

  // RFC 3261 §18.2.2: received, at the sent-by port or 5060.
  return withFallback({ transport, ...received, port: via.port ?? 5060 }, sentBy);
}

/** RFC 3263 §5: the sent-by is where to go next, unless it is the very address just tried. */
function withFallback(endpoint: ResponseEndpoint, sentBy: SentByTarget): ResponseDestination {
  const numeric = literal(sentBy.host);
  const sentByPort = sentBy.port ?? defaultPort(sentBy.transport);
  if (numeric && numeric.address === endpoint.address && sentByPort === endpoint.port) {
    return { kind: 'address', ...endpoint };
  }
  return { kind: 'address', ...endpoint, fallback: sentBy };
}

function literal(host: string | undefined): { address: string; family: AddressFamily } | undefined {
  if (host === undefined) return undefined;
  const numeric = numericHost(host);
  return numeric && numeric !== 'invalid' ? numeric : undefined;
}

function isPort(port: number): boolean {
  return Number.isInteger(port) && port > 0 && port <= 65535;
}

/** 224.0.0.0/4 (RFC 5771) and ff00::/8 (RFC 4291 §2.7). */
function isMulticast(address: string, family: AddressFamily): boolean {
  if (family === 6) return address.toLowerCase().startsWith('ff');
  const first = Number(address.split('.')[0]);
  return first >= 224 && first <= 239;
}
