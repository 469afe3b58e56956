/** The opaque cursor of listCalls(): base64url of the last call's (createdAt, id). */
import { InvalidCursor } from './errors.js';

export interface CallCursor {
  createdAt: Date;
  id: string;
}

export function encodeCallCursor(cursor: CallCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt.getTime(), cursor.id]), 'utf8').toString('base64url');
}

export function decodeCallCursor(text: string): CallCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursor();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw new InvalidCursor();
  const [millis, id] = parsed as unknown[];
  if (typeof millis !== 'number' || !Number.isSafeInteger(millis) || typeof id !== 'string' || !id.startsWith('call_')) throw new InvalidCursor();
  return { createdAt: new Date(millis), id };
}
