/**
 * The opaque cursor of the store's newest-first lists (calls, webhook deliveries): base64url of
 * the last row's (createdAt, id). Decoding checks the id's prefix, so that a cursor of one list is
 * refused by another.
 */
import { InvalidCursor } from './errors.js';

export interface KeysetCursor {
  createdAt: Date;
  id: string;
}

export function encodeKeysetCursor(cursor: KeysetCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt.getTime(), cursor.id]), 'utf8').toString('base64url');
}

/** `idPrefix`: what the ids of the list start with (`call_`, `whd_`). */
export function decodeKeysetCursor(text: string, idPrefix: string): KeysetCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursor();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw new InvalidCursor();
  const [millis, id] = parsed as unknown[];
  if (typeof millis !== 'number' || !Number.isSafeInteger(millis) || typeof id !== 'string' || !id.startsWith(idPrefix)) throw new InvalidCursor();
  return { createdAt: new Date(millis), id };
}
