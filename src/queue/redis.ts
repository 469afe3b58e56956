/**
 * Redis connections for BullMQ. BullMQ 6 takes an ioredis client instance; workers block on
 * Redis, so their connections must have `maxRetriesPerRequest: null` (BullMQ refuses otherwise).
 */
import { Redis } from 'ioredis';

export function createRedis(url: string, name: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, connectionName: name, lazyConnect: false });
}

export type { Redis };
