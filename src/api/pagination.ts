/**
 * Cursor pagination (`limit`, opaque `cursor` → `{ data, nextCursor, hasMore }`). A cursor is
 * the position after the last item of a page (for example its `createdAt` and `id`), as
 * base64url JSON with a short checksum, so a made-up or truncated cursor is told apart from a
 * real one and answered `400 invalid_cursor` instead of a wrong page. It is not a secret: every
 * list is scoped to the caller's account whatever the cursor says.
 */
import { createHash } from 'node:crypto';
import { ApiProblem } from './problem.js';

export type CursorPosition = Record<string, string | number>;

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
  hasMore: boolean;
}

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 100;

/** The cursor ends with this many base64url characters of the payload's SHA-256. */
const CHECKSUM_LENGTH = 8;

function checksum(payload: string): string {
  return createHash('sha256').update(payload).digest('base64url').slice(0, CHECKSUM_LENGTH);
}

export function encodeCursor(position: CursorPosition): string {
  const payload = Buffer.from(JSON.stringify(position)).toString('base64url');
  return `${payload}${checksum(payload)}`;
}

function invalidCursor(): ApiProblem {
  return new ApiProblem('invalid_cursor', {
    detail: 'The cursor is not a nextCursor returned by this list. Start again without cursor.',
    errors: [{ field: '/cursor', in: 'query', code: 'cursor', message: 'must be a nextCursor value from a previous page' }],
  });
}

/**
 * The position a cursor stands for, with exactly the `keys` given; `undefined` without a cursor.
 * Throws `400 invalid_cursor` for anything this API did not make.
 */
export function decodeCursor<K extends string>(cursor: string | undefined, keys: readonly K[]): Record<K, string | number> | undefined {
  if (cursor === undefined) return undefined;
  if (cursor.length <= CHECKSUM_LENGTH) throw invalidCursor();
  const payload = cursor.slice(0, -CHECKSUM_LENGTH);
  if (checksum(payload) !== cursor.slice(-CHECKSUM_LENGTH)) throw invalidCursor();
  let position: unknown;
  try {
    position = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (typeof position !== 'object' || position === null || Array.isArray(position)) throw invalidCursor();
  const entries = Object.entries(position);
  if (entries.length !== keys.length) throw invalidCursor();
  for (const [key, value] of entries) {
    if (!(keys as readonly string[]).includes(key) || (typeof value !== 'string' && typeof value !== 'number')) throw invalidCursor();
  }
  return position as Record<K, string | number>;
}

/**
 * A page from `rows` fetched with `limit + 1` (the extra row only says that there is more):
 * `page(await store.listCalls({ limit: limit + 1, after }), limit, (call) => ({ createdAt: call.createdAt, id: call.id }))`.
 */
export function page<T>(rows: readonly T[], limit: number, positionOf: (last: T) => CursorPosition): Page<T> {
  const hasMore = rows.length > limit;
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  return { data, nextCursor: hasMore && last !== undefined ? encodeCursor(positionOf(last)) : null, hasMore };
}
