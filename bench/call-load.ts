/** Places calls through the API from a worker thread (bench/call-load.worker.mjs): bench:api's load. */
import { Worker } from 'node:worker_threads';

export interface PlacedCalls {
  /** The calls the API accepted, with when each request was sent (performance.timeOrigin + performance.now()). */
  calls: { id: string; sentAt: number }[];
  /** Requests not answered 202. */
  failed: number;
  windowMs: number;
}

/** Places `total` calls at `rate` per second from a worker thread (bench/call-load.worker.mjs). */
export function placeCalls(options: { port: number; key: string; body: string; rate: number; total: number }): Promise<PlacedCalls> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./call-load.worker.mjs', import.meta.url), { workerData: options });
    const calls: { id: string; sentAt: number }[] = [];
    worker.on('message', (message: { kind: 'call'; id?: string; sentAt: number } | { kind: 'done'; failed: number; windowMs: number }) => {
      if (message.kind === 'call') {
        if (message.id) calls.push({ id: message.id, sentAt: message.sentAt });
      } else resolve({ calls, failed: message.failed, windowMs: message.windowMs });
    });
    worker.on('error', reject);
  });
}

