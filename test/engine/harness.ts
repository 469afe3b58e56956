/**
 * An Engine on a real transport on 127.0.0.1 for the wire tests, with short protocol timers
 * (T1 = 50 ms, so every transaction is over within 64*T1 = 3.2 s) and the events it emitted.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { Engine, type CallEvent, type CallStatus, type EngineOptions } from '../../src/engine/index.js';
import { TransportLayer, type TransportLayerOptions } from '../../src/sip/index.js';

export const TEST_TIMERS = { T1: 50, T2: 400, T4: 500 };

export interface EngineUnderTest {
  engine: Engine;
  transport: TransportLayer;
  port: number;
  events: CallEvent[];
  errors: unknown[];
  /** Resolves with the call's final status event (rejects after `timeoutMs`). */
  final(callId: string, timeoutMs?: number): Promise<CallEvent & { type: 'call.status' }>;
  /** Resolves when the call reaches `status`. */
  reached(callId: string, status: CallStatus, timeoutMs?: number): Promise<void>;
  /** The call statuses of a call, in order. */
  statuses(callId: string): string[];
  /** `a:calling`, `b:ringing`… for a call, in order. */
  legStatuses(callId: string): string[];
}

export async function startEngine(t: TestContext, port: number, options: Partial<EngineOptions> = {}, transportOptions: Partial<TransportLayerOptions> = {}): Promise<EngineUnderTest> {
  const transport = new TransportLayer({ host: '127.0.0.1', port, ...transportOptions });
  const bound = await transport.listen();
  const events: CallEvent[] = [];
  const errors: unknown[] = [];
  const waiters: (() => void)[] = [];
  const engine = new Engine({
    transport,
    timers: TEST_TIMERS,
    onEvent: (event) => {
      events.push(event);
      for (const waiter of [...waiters]) waiter();
    },
    onError: (error) => errors.push(error),
    ...options,
  });
  t.after(async () => {
    engine.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await transport.close();
  });
  const waitFor = <T>(find: () => T | undefined, what: string, timeoutMs: number): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const found = find();
      if (found !== undefined) return resolve(found);
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(check), 1);
        reject(new Error(`timed out waiting for ${what}; events: ${events.map(describe).join(', ')}`));
      }, timeoutMs);
      const check = (): void => {
        const hit = find();
        if (hit === undefined) return;
        clearTimeout(timer);
        waiters.splice(waiters.indexOf(check), 1);
        resolve(hit);
      };
      waiters.push(check);
    });
  const callEvents = (callId: string) => events.filter((e) => e.callId === callId);
  return {
    engine,
    transport,
    port: bound.port,
    events,
    errors,
    final: (callId, timeoutMs = 15_000) =>
      waitFor(
        () => callEvents(callId).find((e): e is CallEvent & { type: 'call.status' } => e.type === 'call.status' && ['completed', 'failed', 'canceled'].includes(e.status)),
        `the end of ${callId}`,
        timeoutMs,
      ),
    reached: async (callId, status, timeoutMs = 15_000) => {
      await waitFor(() => callEvents(callId).find((e) => e.type === 'call.status' && e.status === status), `${callId} ${status}`, timeoutMs);
    },
    statuses: (callId) => callEvents(callId).filter((e) => e.type === 'call.status').map((e) => (e.type === 'call.status' ? e.status : '')),
    legStatuses: (callId) => callEvents(callId).flatMap((e) => (e.type === 'leg.status' ? [`${e.leg}:${e.status}`] : [])),
  };
}

function describe(event: CallEvent): string {
  if (event.type === 'call.status') return `${event.status}${event.endReason ? `(${event.endReason})` : ''}`;
  if (event.type === 'leg.status') return `${event.leg}:${event.status}${event.sip ? ` ${event.sip.code}` : ''}`;
  return `transfer ${event.outcome}`;
}

/**
 * After a call: no live call, dialog, session or engine timer; every transaction over within
 * 64*T1 (polled, bounded); nothing thrown inside the engine.
 */
export async function assertEngineClean(under: EngineUnderTest, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = under.engine.stats();
    const transactions = Object.values(stats.ua.transactions).reduce((sum, n) => sum + n, 0);
    const clean = stats.liveCalls === 0 && stats.timers === 0 && stats.ua.dialogs === 0 && stats.ua.sessions === 0 && transactions === 0;
    if (clean) break;
    if (Date.now() > deadline) {
      assert.fail(`the engine still holds state ${timeoutMs} ms after the call: ${JSON.stringify(stats)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.deepEqual(under.errors, [], 'no error inside the engine');
}
