/**
 * Whether a database error means "PostgreSQL cannot be reached now" (down, restarting, the
 * network between), as opposed to a statement that failed: the first is worth waiting out, the
 * second is not. SQLSTATE class 08 (connection exception) and 57P01–57P03 (shutdown, crash,
 * cannot connect now), and the socket errors and messages of node-postgres when the server is gone.
 * Prisma (over its pg driver adapter) wraps them: its P1001 (cannot reach the server), P1002 (timed
 * out), P1017 (the server closed the connection), with the adapter's error in
 * `meta.driverAdapterError` (kind DatabaseNotReachable, ConnectionClosed, SocketTimeout, or the
 * SQLSTATE). Missing those made the API answer 500, not 503, to requests whose API key had to be
 * looked up (the key cache lasts 5 s) while PostgreSQL was down.
 */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const SHUTDOWN_STATES = new Set(['57P01', '57P02', '57P03']);
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1017']);
const ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout']);
const GONE = /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down)/i;

export function isConnectionFailure(error: unknown): boolean {
  for (let cause: unknown = error, depth = 0; cause !== undefined && cause !== null && depth < 5; depth++) {
    if (typeof cause !== 'object') return false;
    const { code, message, kind, meta } = cause as { code?: unknown; message?: unknown; kind?: unknown; meta?: { driverAdapterError?: unknown } };
    if (typeof code === 'string' && (SOCKET_CODES.has(code) || SHUTDOWN_STATES.has(code) || PRISMA_CODES.has(code) || code.startsWith('08'))) return true;
    if (typeof kind === 'string' && ADAPTER_KINDS.has(kind)) return true;
    if (typeof message === 'string' && GONE.test(message)) return true;
    cause = (cause as { cause?: unknown }).cause ?? meta?.driverAdapterError;
  }
  return false;
}
