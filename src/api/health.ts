/**
 * `GET /healthz` (liveness: the process serves HTTP) and `GET /readyz` (readiness: every
 * dependency answers; 503 naming the ones that do not). Public, as probes are.
 */
import type { Logger } from 'pino';
import type { Readiness } from './contract.js';
import type { RouteModule } from './routes.js';

export type ReadinessCheckFn = () => Readiness | Promise<Readiness>;

const TIMED_OUT = Symbol('timed out');

async function withTimeout<T>(work: () => T | Promise<T>, timeoutMs: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(work),
      new Promise<typeof TIMED_OUT>((resolve) => {
        timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs);
        timer.unref();
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes(ready: ReadinessCheckFn, options: { timeoutMs: number; logger: Logger }): RouteModule {
  return (_router, { operation }) => {
    operation('getHealth', () => ({ status: 200, body: { ok: true }, headers: { 'Cache-Control': 'no-store' } }));
    operation('getReadiness', async () => {
      let readiness: Readiness;
      try {
        const result = await withTimeout(ready, options.timeoutMs);
        readiness = result === TIMED_OUT ? { ok: false, checks: { readiness: { ok: false, detail: `no answer within ${options.timeoutMs} ms` } } } : result;
      } catch (error) {
        // The error may name internal hosts; it goes to the log, not to an unauthenticated client.
        options.logger.error({ err: error }, 'readiness check threw');
        readiness = { ok: false, checks: { readiness: { ok: false, detail: 'the readiness check failed' } } };
      }
      const ok = readiness.ok && Object.values(readiness.checks).every((check) => check.ok);
      return { status: ok ? 200 : 503, body: { ...readiness, ok }, headers: { 'Cache-Control': 'no-store' } };
    });
  };
}
