/**
 * Transport failures as values with stable codes (RFC 3261 §18.4: the transport layer reports
 * failures to the transaction layer, which turns them into 503-like outcomes, §17.1.4). The
 * operating system's errno is kept in `errno` for logs; callers branch on `code`.
 */
import type { TransportName } from './address.js';

export type TransportErrorCode =
  | 'CONNECTION_REFUSED'
  | 'CONNECTION_RESET'
  | 'CONNECTION_CLOSED'
  | 'CONNECT_TIMEOUT'
  | 'TIMED_OUT'
  | 'HOST_UNREACHABLE'
  | 'NETWORK_UNREACHABLE'
  | 'TOO_MANY_CONNECTIONS'
  | 'BUFFER_FULL'
  | 'MESSAGE_TOO_LARGE'
  | 'ADDRESS_IN_USE'
  | 'ADDRESS_NOT_AVAILABLE'
  | 'PERMISSION_DENIED'
  | 'INVALID_DESTINATION'
  | 'UNSUPPORTED_TRANSPORT'
  | 'NOT_LISTENING'
  | 'SOCKET_ERROR';

export interface TransportErrorContext {
  transport?: TransportName;
  address?: string;
  port?: number;
  connectionId?: string;
}

export class TransportError extends Error {
  override readonly name = 'TransportError';
  /** The errno-style code Node reported (`ECONNREFUSED`), when there was one. */
  readonly errno: string | undefined;

  constructor(
    readonly code: TransportErrorCode,
    message: string,
    readonly context: TransportErrorContext = {},
    options: { cause?: unknown; errno?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.errno = options.errno;
  }
}

const ERRNO_CODES: Record<string, TransportErrorCode> = {
  ECONNREFUSED: 'CONNECTION_REFUSED',
  ECONNRESET: 'CONNECTION_RESET',
  EPIPE: 'CONNECTION_RESET',
  ECONNABORTED: 'CONNECTION_RESET',
  ETIMEDOUT: 'TIMED_OUT',
  EHOSTUNREACH: 'HOST_UNREACHABLE',
  EHOSTDOWN: 'HOST_UNREACHABLE',
  ENETUNREACH: 'NETWORK_UNREACHABLE',
  ENETDOWN: 'NETWORK_UNREACHABLE',
  EMSGSIZE: 'MESSAGE_TOO_LARGE',
  EADDRINUSE: 'ADDRESS_IN_USE',
  EADDRNOTAVAIL: 'ADDRESS_NOT_AVAILABLE',
  EACCES: 'PERMISSION_DENIED',
  EPERM: 'PERMISSION_DENIED',
  EAFNOSUPPORT: 'INVALID_DESTINATION',
  ERR_SOCKET_BAD_PORT: 'INVALID_DESTINATION',
  ERR_SOCKET_DGRAM_NOT_RUNNING: 'NOT_LISTENING',
  ERR_STREAM_DESTROYED: 'CONNECTION_CLOSED',
  ERR_STREAM_WRITE_AFTER_END: 'CONNECTION_CLOSED',
  ERR_SOCKET_CLOSED: 'CONNECTION_CLOSED',
};

/** Wraps whatever a socket threw or reported into a TransportError (kept as is if it is one). */
export function toTransportError(error: unknown, action: string, context: TransportErrorContext = {}): TransportError {
  if (error instanceof TransportError) return error;
  const errno = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : undefined;
  const code = (errno && ERRNO_CODES[errno]) || 'SOCKET_ERROR';
  const where = context.address === undefined ? '' : ` ${describeEndpoint(context)}`;
  const why = error instanceof Error ? error.message : String(error);
  return new TransportError(code, `${action}${where} failed: ${why}`, context, { cause: error, errno });
}

export function describeEndpoint(context: TransportErrorContext): string {
  const host = context.address !== undefined && context.address.includes(':') ? `[${context.address}]` : context.address;
  return `${context.transport ?? ''}${context.transport ? ' ' : ''}${host ?? '?'}:${context.port ?? '?'}`;
}
