/** What the order-per-call tests read back: a call's deliveries, what a receiver got, the lanes left in Redis, a settled queue. */
import { Redis } from 'ioredis';
import type { Received } from './receiver.js';
import { type SimulatedClock, waitUntilSettled } from './simulated-time.js';
import type { WebhookService } from './webhooks-service.js';

export interface DeliveryView {
  id: string;
  status: string;
  attempts: number;
  error: string | null;
  /** The webhook-id. */
  event: string;
  eventType: string;
}

/** The call's own events as the receiver answered them with a 2xx, in the order they arrived. */
export function deliveredSequences(received: Received[], callId: string, answered: Map<Received, number>): number[] {
  return received.filter((item) => item.event.data.call.id === callId && (answered.get(item) ?? 0) < 300).map((item) => item.event.data.sequence as number);
}

/** The call's events as they arrived, whatever the answer. */
export function arrivedSequences(received: Received[], callId: string): number[] {
  return received.filter((item) => item.event.data.call.id === callId).map((item) => item.event.data.sequence as number);
}

export async function deliveriesOf(ctd: WebhookService, callId: string): Promise<DeliveryView[]> {
  return (await ctd.api(`/v1/calls/${callId}/webhook-deliveries`)).body.data as DeliveryView[];
}

/** Until the outbox is empty, the calls have `deliveries` deliveries in all, and the queue has done what is due. */
export async function settledWith(ctd: WebhookService, clock: SimulatedClock, callIds: string[], deliveries: number): Promise<void> {
  await waitUntilSettled(ctd.service.webhooks!.queue, clock, async () => {
    if ((await ctd.service.store.outbox.outboxDepth()) > 0) return false;
    let n = 0;
    for (const id of callIds) n += (await deliveriesOf(ctd, id)).length;
    return n >= deliveries;
  });
}

export async function laneKeys(ctd: WebhookService): Promise<string[]> {
  const queue = ctd.service.webhooks!.queue;
  const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${queue.prefix}:${queue.name}:lane:*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    return keys;
  } finally {
    redis.disconnect();
  }
}
