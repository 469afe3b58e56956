/** The retry schedule and the 5-day rule, on an injected clock and injected randomness. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_RETRY_DELAYS_MS, parseDelays, RetrySchedule } from '../../src/webhooks/index.js';

const T0 = new Date('2026-12-01T09:30:00.000Z');
const at = (ms: number): Date => new Date(T0.getTime() + ms);
const H = 3_600_000;

describe('RetrySchedule', () => {
  test('without jitter the default spreads 8 attempts over about 27 hours: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h', () => {
    const schedule = new RetrySchedule({ jitter: 0 });
    assert.equal(schedule.maxAttempts, 8);
    let now = T0;
    const due: number[] = [];
    for (let attempt = 1; attempt < schedule.maxAttempts; attempt++) {
      const next = schedule.nextAttemptAt(attempt, now)!;
      due.push(next.getTime() - now.getTime());
      now = next;
    }
    assert.deepEqual(due, [5_000, 300_000, 1_800_000, 2 * H, 5 * H, 10 * H, 10 * H]);
    const total = now.getTime() - T0.getTime();
    assert.ok(total > 27 * H && total < 28 * H, `${total / H} h`);
    assert.equal(schedule.nextAttemptAt(8, now), null, 'no 9th attempt');
  });

  test('jitter moves each delay by at most ±10 %, both ways', () => {
    const low = new RetrySchedule({ random: () => 0 });
    const high = new RetrySchedule({ random: () => 0.999999 });
    const mid = new RetrySchedule({ random: () => 0.5 });
    DEFAULT_RETRY_DELAYS_MS.forEach((delay, index) => {
      assert.equal(low.nextAttemptAt(index + 1, T0)!.getTime() - T0.getTime(), Math.round(delay * 0.9));
      assert.ok(Math.abs(high.nextAttemptAt(index + 1, T0)!.getTime() - T0.getTime() - delay * 1.1) <= delay * 1e-5 + 1);
      assert.equal(mid.nextAttemptAt(index + 1, T0)!.getTime() - T0.getTime(), delay);
    });
  });

  test('verdicts: 2xx succeeds; 410 gives up at once; 3xx, 4xx, 5xx and no answer are retried until the last attempt', () => {
    const schedule = new RetrySchedule({ jitter: 0 });
    for (const status of [200, 201, 204, 299]) assert.deepEqual(schedule.verdict(1, status, T0), { kind: 'succeeded' });
    assert.deepEqual(schedule.verdict(1, 410, T0), { kind: 'failed' });
    for (const status of [301, 302, 400, 404, 429, 500, 503, null]) assert.deepEqual(schedule.verdict(1, status, T0), { kind: 'retry', at: at(5_000) });
    assert.deepEqual(schedule.verdict(7, 500, T0), { kind: 'retry', at: at(10 * H) });
    assert.deepEqual(schedule.verdict(8, 500, T0), { kind: 'failed' });
  });

  test('an endpoint is disabled after 5 days of failures without a success, not a millisecond before', () => {
    const schedule = new RetrySchedule();
    const since = T0;
    assert.equal(schedule.shouldDisable(null, at(100 * 24 * H)), false, 'not failing');
    assert.equal(schedule.shouldDisable(since, at(5 * 24 * H - 1)), false);
    assert.equal(schedule.shouldDisable(since, at(5 * 24 * H)), true);
  });

  test('a custom schedule from configuration text', () => {
    assert.deepEqual(parseDelays('5s,5m,30m,2h,5h,10h,10h'), [...DEFAULT_RETRY_DELAYS_MS]);
    assert.deepEqual(parseDelays('100ms, 1.5s, 1d'), [100, 1500, 86_400_000]);
    assert.throws(() => parseDelays('5 minutes'), /not a delay/);
    assert.throws(() => new RetrySchedule({ delaysMs: [-1] }), RangeError);
  });
});
