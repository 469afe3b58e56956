/**
 * Real HTTP receivers on loopback for the webhook tests: each records what it got, verified with
 * the `standardwebhooks` library as a customer's receiver would, and answers as its `answer`
 * function says (200, 500 a few times, 410, or never).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { Webhook } from 'standardwebhooks';

export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  event: any;
  /** Which of the receiver's secrets verified it (indexes into `secrets`), empty when none did. */
  verifiedWith: number[];
  at: number;
}

export type Answer = (request: Received, count: number) => { status: number; body?: string; delayMs?: number } | 'hang';

export interface Receiver {
  url: string;
  received: Received[];
  /** Secrets to verify with (set once the endpoint is created). */
  secrets: string[];
  /** Most requests it had open at once. */
  maxConcurrent: number;
  /** Distinct webhook-ids seen. */
  ids(): Set<string>;
  waitFor(predicate: (received: Received[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** `port` 0 picks a free one; a given port brings a closed receiver back at the same URL. */
export async function startReceiver(t: TestContext | undefined, answer: Answer = () => ({ status: 200, body: 'ok' }), path = '/hooks', port = 0): Promise<Receiver> {
  const received: Received[] = [];
  const hanging: ServerResponse[] = [];
  const receiver: Receiver = {
    url: '',
    received,
    secrets: [],
    maxConcurrent: 0,
    ids: () => new Set(received.map((item) => item.id)),
    async waitFor(predicate, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > deadline) throw new Error(`receiver ${receiver.url}: condition not met in ${timeoutMs} ms; got ${received.length}: ${received.map((item) => item.event?.type).join(', ')}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    close: async () => undefined,
  };
  let open = 0;
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    open++;
    receiver.maxConcurrent = Math.max(receiver.maxConcurrent, open);
    response.on('close', () => open--);
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = { 'webhook-id': String(request.headers['webhook-id'] ?? ''), 'webhook-timestamp': String(request.headers['webhook-timestamp'] ?? ''), 'webhook-signature': String(request.headers['webhook-signature'] ?? '') };
      const verifiedWith: number[] = [];
      receiver.secrets.forEach((secret, index) => {
        try {
          new Webhook(secret).verify(body, headers);
          verifiedWith.push(index);
        } catch {
          // not this secret
        }
      });
      let event: unknown;
      try {
        event = JSON.parse(body);
      } catch {
        event = undefined;
      }
      const item: Received = { id: headers['webhook-id'], timestamp: headers['webhook-timestamp'], signature: headers['webhook-signature'], body, event, verifiedWith, at: Date.now() };
      received.push(item);
      const verdict = answer(item, received.length);
      if (verdict === 'hang') {
        hanging.push(response);
        return;
      }
      const respond = (): void => {
        response.writeHead(verdict.status, { 'content-type': 'text/plain' });
        response.end(verdict.body ?? '');
      };
      if (verdict.delayMs) setTimeout(respond, verdict.delayMs);
      else respond();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  t?.after(() => receiver.close());
  return receiver;
}
