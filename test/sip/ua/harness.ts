/**
 * Our UA core on a real transport on 127.0.0.1 for the wire tests, with the bits the tests
 * assert on: every message it sent and received, and any internal error (which fails the test).
 */
import { once } from 'node:events';
import type { TestContext } from 'node:test';
import { TransportLayer, UserAgent, type OutgoingInviteEvents, type OutgoingInviteSession, type SipMessageAny, type UserAgentOptions } from '../../../src/sip/index.js';

export interface UaUnderTest {
  ua: UserAgent;
  transport: TransportLayer;
  port: number;
  /** Messages as sent or received, in order. */
  trace: { direction: 'in' | 'out'; message: SipMessageAny }[];
  errors: unknown[];
  requestsSent(method: string): SipMessageAny[];
  responsesReceived(status: number, method?: string): SipMessageAny[];
}

export async function startUa(t: TestContext, port: number, options: Partial<UserAgentOptions> = {}): Promise<UaUnderTest> {
  const transport = new TransportLayer({ host: '127.0.0.1', port });
  const trace: UaUnderTest['trace'] = [];
  const errors: unknown[] = [];
  transport.on('message', (event) => trace.push({ direction: 'in', message: event.message }));
  const send = transport.send.bind(transport);
  transport.send = async (message, destination) => {
    const result = await send(message, destination);
    trace.push({ direction: 'out', message });
    return result;
  };
  transport.on('internalError', (event) => errors.push(event.error));
  const bound = await transport.listen();
  const ua = new UserAgent({ transport, product: 'ctd-test', ...options });
  ua.on('internalError', (error) => errors.push(error));
  t.after(async () => {
    ua.close();
    await transport.close();
  });
  return {
    ua,
    transport,
    port: bound.port,
    trace,
    errors,
    requestsSent: (method) => trace.filter((e) => e.direction === 'out' && e.message.isRequest && e.message.method === method).map((e) => e.message),
    responsesReceived: (status, method) =>
      trace
        .filter((e) => e.direction === 'in' && !e.message.isRequest && e.message.status === status && (method === undefined || e.message.cseq.method === method))
        .map((e) => e.message),
  };
}

/** The next `event` of `session`, or a rejection naming what happened instead (after `timeoutMs`). */
export async function next<K extends keyof OutgoingInviteEvents>(session: OutgoingInviteSession, event: K, timeoutMs = 10_000): Promise<OutgoingInviteEvents[K]> {
  const failed = new Promise<never>((_, reject) => {
    if (event !== 'failed') session.once('failed', (failure) => reject(new Error(`session failed instead of ${event}: ${failure.kind} ${failure.status} ${failure.reason}`)));
  });
  const timer = AbortSignal.timeout(timeoutMs);
  return (await Promise.race([once(session as never, event, { signal: timer }), failed])) as OutgoingInviteEvents[K];
}

/** An SDP offer or answer from 127.0.0.1 (signalling only: nobody sends RTP in these tests). */
export function sdp(version: number, port = 40000, codecs: readonly number[] = [0, 8]): string {
  const names: Record<number, string> = { 0: 'PCMU/8000', 8: 'PCMA/8000', 101: 'telephone-event/8000' };
  return [
    'v=0',
    `o=ctd 4711 ${version} IN IP4 127.0.0.1`,
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${port} RTP/AVP ${codecs.join(' ')}`,
    ...codecs.map((pt) => `a=rtpmap:${pt} ${names[pt] ?? 'PCMU/8000'}`),
    'a=sendrecv',
    '',
  ].join('\r\n');
}

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
