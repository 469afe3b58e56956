/**
 * BatchQueue's pace, with a write the test settles by hand: what arrives while a batch is in
 * flight goes at once behind it (the call changes, which the webhooks wait on), or, paced, waits
 * its own delay so that batches stay few and large (the SIP log). Its database behaviour (order,
 * split retries, outages) is tested through the event writer against PostgreSQL.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchQueue } from '../../src/store/batch-queue.js';

function manualQueue(options: { paced?: boolean; flushDelayMs?: number; maxBatch?: number }) {
  const batches: { items: readonly number[]; done(): void }[] = [];
  const queue = new BatchQueue<number>({
    flushDelayMs: options.flushDelayMs ?? 40,
    maxBatch: options.maxBatch ?? 100,
    retryConcurrency: 1,
    paced: options.paced,
    groupOf: (item) => String(item),
    write: (items) => new Promise<void>((resolve) => batches.push({ items, done: resolve })),
    lost: (_group, _items, cause) => (cause instanceof Error ? cause : new Error(String(cause))),
  });
  return { queue, batches };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `n` batches have started (or fails after 2 s). */
async function started(batches: readonly unknown[], n: number): Promise<void> {
  for (let waited = 0; batches.length < n; waited += 2) {
    if (waited > 2000) assert.fail(`${n} batches expected, ${batches.length} started`);
    await sleep(2);
  }
}

describe('BatchQueue pace', () => {
  it('unpaced: what arrived during a batch is written the moment it is done', async () => {
    const { queue, batches } = manualQueue({});
    const first = queue.push(1);
    await started(batches, 1);
    const second = queue.push(2);
    batches[0]!.done();
    await first;
    await sleep(0);
    assert.equal(batches.length, 2, 'the next batch started without waiting for the delay');
    batches[1]!.done();
    await second;
  });

  it('paced: what arrived during a batch waits its own delay, then goes as one batch', async () => {
    const { queue, batches } = manualQueue({ paced: true, flushDelayMs: 40 });
    const first = queue.push(1);
    await started(batches, 1);
    const later = [2, 3].map((n) => queue.push(n));
    batches[0]!.done();
    await first;
    const doneAt = performance.now();
    await sleep(10);
    assert.equal(batches.length, 1, 'nothing goes before the delay');
    await started(batches, 2);
    assert.ok(performance.now() - doneAt >= 35, 'the second batch waited about flushDelayMs');
    assert.deepEqual(batches[1]!.items, [2, 3]);
    batches[1]!.done();
    await Promise.all(later);
  });

  it('paced: a full batch still goes at once, and flush() writes everything without the delay', async () => {
    const { queue, batches } = manualQueue({ paced: true, flushDelayMs: 10_000, maxBatch: 2 });
    const firstTwo = [1, 2].map((n) => queue.push(n));
    await started(batches, 1);
    const next = [3, 4, 5].map((n) => queue.push(n));
    batches[0]!.done();
    await Promise.all(firstTwo);
    await started(batches, 2);
    assert.deepEqual(batches[1]!.items, [3, 4], 'a full batch waits for no timer');
    const flushed = queue.flush();
    batches[1]!.done();
    await started(batches, 3);
    assert.deepEqual(batches[2]!.items, [5], 'flush() takes the rest at once, not after 10 s');
    batches[2]!.done();
    await flushed;
    await Promise.all(next);
    assert.equal(queue.stats().waiting, 0);
  });
});
