/**
 * Where a server transaction sends its responses (RFC 3261 §18.2.2 with RFC 3581 §4), from the
 * top Via of the request as received (received/rport already stamped) and the state of the
 * connection it arrived on. Pure: no sockets, no name resolution.
 */
import type { Via } from '../message/index.js';
import { defaultPort, ipFamily, normalizeAddress, type TransportName } from './address.js';
import { TransportError } from './transport-error.js';

export interface ResponseTarget {
  transport: TransportName;
  /** An IP address without brackets, or a host name when `needsResolution`. */
  address: string;
  port: number;
  /** The connection to answer on; present only while it is open. */
  connectionId?: string;
  /** RFC 3261 §18.2.2 / RFC 3263 §6: the address is a host name to resolve first. */
  needsResolution: boolean;
}

export interface RequestConnection {
  id: string;
  open: boolean;
}

export function responseTarget(via: Via, connection?: RequestConnection): ResponseTarget {
  const transport = via.transport.toLowerCase();
  if (transport !== 'udp' && transport !== 'tcp' && transport !== 'tls') {
    throw new TransportError('UNSUPPORTED_TRANSPORT', `cannot answer over ${via.transport}`);
  }
  const sentByPort = via.port ?? defaultPort(transport);

  if (transport !== 'udp') {
    // §18.2.2: a reliable transport answers on the connection the request came on while it is
    // open; after that, a new connection to `received` (else the sent-by host) and the sent-by
    // port. rport plays no part here (RFC 3581 §4 covers unreliable transports only).
    const address = via.received ?? via.host;
    return withConnection({ transport, ...hostTarget(address), port: sentByPort }, connection);
  }

  // §18.2.2: maddr wins, with the sent-by port (RFC 3581 §4 applies only without maddr).
  const maddr = via.maddr;
  if (maddr !== undefined) return { transport, ...hostTarget(maddr), port: sentByPort };

  // RFC 3581 §4: received and rport together name the address and port the request came
  // from; §18.2.2: otherwise received with the sent-by port, or the sent-by itself.
  const rport = via.rport;
  const port = typeof rport === 'number' && Number.isInteger(rport) && rport > 0 && rport < 65536 ? rport : sentByPort;
  return { transport, ...hostTarget(via.received ?? via.host), port };
}

function hostTarget(host: string): { address: string; needsResolution: boolean } {
  const isAddress = ipFamily(host) !== 0;
  return { address: isAddress ? normalizeAddress(host) : host, needsResolution: !isAddress };
}

function withConnection(target: ResponseTarget, connection: RequestConnection | undefined): ResponseTarget {
  return connection?.open ? { ...target, connectionId: connection.id } : target;
}
