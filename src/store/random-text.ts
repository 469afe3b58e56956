/** Prefixed random identifiers (`call_…`, Stripe style) and API key secrets, from the CSPRNG. */
import { createHash, randomFillSync } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
// Bytes at or above 248 (= 62 × 4) are skipped so that every character is equally likely.
const UNBIASED_LIMIT = 248;

// One refill serves many ids: the event writer makes one per event on its hot path.
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function randomByte(): number {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  return pool[poolOffset++]!;
}

export function randomBase62(length: number): string {
  let text = '';
  while (text.length < length) {
    const byte = randomByte();
    if (byte < UNBIASED_LIMIT) text += BASE62[byte % 62];
  }
  return text;
}

export type IdPrefix = 'acc' | 'key' | 'trk' | 'call' | 'evt' | 'btn' | 'whe' | 'whd';

/** `call_` + 22 base62 characters: 131 random bits. */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBase62(22)}`;
}

export const API_KEY_PREFIX_LENGTH = 12;

/** `ctd_` + 32 base62 characters (190 random bits). */
export function newApiKeySecret(): string {
  return `ctd_${randomBase62(32)}`;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** A Standard Webhooks signing secret: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  const bytes = Buffer.alloc(32);
  randomFillSync(bytes);
  return `whsec_${bytes.toString('base64')}`;
}

/** A button call's public token: `pct_` + 32 base62 characters (190 random bits). */
export function newPublicCallToken(): string {
  return `pct_${randomBase62(32)}`;
}

/** `prefix_` + 22 base62 characters derived from `parts` (SHA-256): the same parts, the same id. */
export function derivedId(prefix: IdPrefix, ...parts: string[]): string {
  const digest = createHash('sha256').update(parts.join('\u0000'), 'utf8').digest();
  let text = '';
  for (let index = 0; text.length < 22; index += 1) text += BASE62[digest[index % digest.length]! % 62];
  return `${prefix}_${text}`;
}

/** The id of an event that is not a call's (`webhook.endpoint.disabled`, `webhook.test`): `evt_…` like call events. */
export function newWebhookEventId(): string {
  return newId('evt');
}
