/**
 * `GET /healthz` (liveness: the process serves HTTP), `GET /readyz` (readiness: every
 * dependency answers; 503 naming the ones that do not) and `GET /metrics` (Prometheus). Public,
 * as probes are.
 */
import type { Logger } from 'pino';
import type { Readiness } from './contract.js';
import { ApiProblem } from './problem.js';
import type { RouteModule } from './routes.js';

export type ReadinessCheckFn = () => Readiness | Promise<Readiness>;
/** The Prometheus exposition: its text and content type. */
export type MetricsFn = () => Promise<{ contentType: string; text: string }>;

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

export function healthRoutes(ready: ReadinessCheckFn, options: { timeoutMs: number; logger: Logger; metrics?: MetricsFn }): RouteModule {
  return (_router, { operation }) => {
    operation('getMetrics', async (_input, { res }) => {
      if (!options.metrics) throw new ApiProblem('not_found', { detail: 'this process keeps no metrics' });
      const { contentType, text } = await options.metrics();
      res.status(200).setHeader('Cache-Control', 'no-store');
      res.type(contentType).send(text);
      // Sent as text, not as the JSON the typed results describe: the framework sees it was sent.
      return undefined as never;
    });
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
