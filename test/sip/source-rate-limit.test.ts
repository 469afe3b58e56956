// The per-source token bucket for requests the UA core answers by itself (flood protection).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SourceRateLimit } from '../../src/sip/source-rate-limit.js';

function clockAt(start = 0): { now(): number; advance(ms: number): void } {
  let now = start;
  return { now: () => now, advance: (ms) => (now += ms) };
}

describe('SourceRateLimit', () => {
  test('a source gets its burst at once, then its rate; sources do not share buckets', () => {
    const clock = clockAt();
    const limit = new SourceRateLimit(clock, { ratePerSecond: 10, burst: 5 });
    const allowed = (source: string, n: number) => Array.from({ length: n }, () => limit.allow(source)).filter(Boolean).length;
    assert.equal(allowed('192.0.2.1', 20), 5);
    assert.equal(limit.refused, 15);
    assert.equal(allowed('192.0.2.2', 3), 3, 'another source has its own bucket');
    clock.advance(500); // 5 tokens back at 10/s
    assert.equal(allowed('192.0.2.1', 20), 5);
    clock.advance(10_000); // refilled, but never above the burst
    assert.equal(allowed('192.0.2.1', 20), 5);
  });

  test('the table is bounded: the source seen least recently is forgotten first', () => {
    const clock = clockAt();
    const limit = new SourceRateLimit(clock, { ratePerSecond: 1, burst: 1, maxSources: 2 });
    assert.equal(limit.allow('a'), true);
    assert.equal(limit.allow('b'), true);
    assert.equal(limit.allow('a'), false, 'a spent its token (and is now the most recent)');
    assert.equal(limit.allow('c'), true, 'c pushes out b, the least recent');
    assert.equal(limit.trackedSources, 2);
    assert.equal(limit.allow('b'), true, 'b comes back as new');
    assert.equal(limit.allow('a'), true, 'a was pushed out by b, so it is new again too');
  });

  test('refuses nonsense settings', () => {
    assert.throws(() => new SourceRateLimit(clockAt(), { ratePerSecond: 0, burst: 5 }), RangeError);
    assert.throws(() => new SourceRateLimit(clockAt(), { ratePerSecond: 5, burst: 0 }), RangeError);
  });
});
