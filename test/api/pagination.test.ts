/** Cursor pagination: `limit` + opaque `cursor` → `{ data, nextCursor, hasMore }`. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { ApiProblem, decodeCursor, encodeCursor, page } from '../../src/api/index.js';
import { AUTH, fakeCalls, testApp } from './fake-routes.js';

describe('cursors', () => {
  test('round-trip a position, and use only URL-safe characters', () => {
    const cursor = encodeCursor({ createdAt: '2026-12-01T09:30:00.002Z', id: 'call_1' });
    assert.match(cursor, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(decodeCursor(cursor, ['createdAt', 'id']), { createdAt: '2026-12-01T09:30:00.002Z', id: 'call_1' });
    assert.equal(decodeCursor(undefined, ['id']), undefined);
  });

  test('a changed, truncated or foreign cursor is refused with 400 invalid_cursor', () => {
    const cursor = encodeCursor({ createdAt: '2026-12-01T09:30:00.002Z', id: 'call_1' });
    const forged = encodeCursor({ id: 'call_1' });
    const flipped = `${cursor.slice(0, 5)}${cursor[5] === 'A' ? 'B' : 'A'}${cursor.slice(6)}`;
    for (const bad of [cursor.slice(0, -1), flipped, 'short', forged, encodeCursor({ createdAt: 1, id: 'x', extra: 2 })]) {
      assert.throws(
        () => decodeCursor(bad, ['createdAt', 'id']),
        (error: unknown) => error instanceof ApiProblem && error.status === 400 && error.code === 'invalid_cursor' && error.errors?.[0]?.field === '/cursor',
        bad,
      );
    }
  });

  test('page() keeps limit rows and says whether there are more', () => {
    const position = (row: number) => ({ id: row });
    assert.deepEqual(page([1, 2, 3], 2, position), { data: [1, 2], nextCursor: encodeCursor({ id: 2 }), hasMore: true });
    assert.deepEqual(page([1, 2], 2, position), { data: [1, 2], nextCursor: null, hasMore: false });
    assert.deepEqual(page([], 20, position), { data: [], nextCursor: null, hasMore: false });
  });
});

describe('GET /v1/calls pages', () => {
  const { app } = testApp();

  test('walks every call once, newest first, in pages of limit', async () => {
    const all = fakeCalls();
    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor: string | null = null;
    do {
      const response: request.Response = await request(app)
        .get('/v1/calls')
        .query({ limit: 20, ...(cursor ? { cursor } : {}) })
        .set(AUTH)
        .expect(200);
      sizes.push(response.body.data.length);
      seen.push(...response.body.data.map((call: { id: string }) => call.id));
      assert.equal(response.body.hasMore, response.body.nextCursor !== null);
      cursor = response.body.nextCursor;
    } while (cursor);
    assert.deepEqual(sizes, [20, 20, 5]);
    assert.deepEqual(seen, all.map((call) => call.id));
  });

  test('the default page holds 20; a filter applies across pages', async () => {
    const first = await request(app).get('/v1/calls').set(AUTH).expect(200);
    assert.equal(first.body.data.length, 20);
    const failed = await request(app).get('/v1/calls?status=failed&limit=100').set(AUTH).expect(200);
    assert.equal(failed.body.data.length, 22);
    assert.equal(failed.body.hasMore, false);
    assert.equal(failed.body.nextCursor, null);
    assert.ok(failed.body.data.every((call: { status: string }) => call.status === 'failed'));
  });
});
