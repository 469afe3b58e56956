/**
 * Whether a database error means "PostgreSQL cannot be reached now" (down, restarting, the
 * network between), as opposed to a statement that failed: the first is worth waiting out, the
 * second is not. SQLSTATE class 08 (connection exception) and 57P01–57P03 (shutdown, crash,
 * cannot connect now), and the socket errors and messages of node-postgres when the server is gone.
 */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const SHUTDOWN_STATES = new Set(['57P01', '57P02', '57P03']);
const GONE = /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down)/i;

export function isConnectionFailure(error: unknown): boolean {
  for (let cause: unknown = error, depth = 0; cause !== undefined && cause !== null && depth < 5; depth++) {
    if (typeof cause !== 'object') return false;
    const { code, message } = cause as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && (SOCKET_CODES.has(code) || SHUTDOWN_STATES.has(code) || code.startsWith('08'))) return true;
    if (typeof message === 'string' && GONE.test(message)) return true;
    cause = (cause as { cause?: unknown }).cause;
  }
  return false;
}
