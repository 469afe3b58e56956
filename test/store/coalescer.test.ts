import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Coalescer } from '../../src/store/coalescer.js';

/** An operation whose batches the test sees and settles by hand. */
function manual<I>() {
  const batches: { items: readonly I[]; settle(results: readonly string[] | Error): void }[] = [];
  const run = (items: readonly I[]): Promise<readonly string[]> =>
    new Promise((resolve, reject) => batches.push({ items, settle: (results) => (results instanceof Error ? reject(results) : resolve(results)) }));
  return { batches, run };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Coalescer', () => {
  it('runs the calls of one turn of the event loop as one batch and gives each caller its own result', async () => {
    const op = manual<number>();
    const coalescer = new Coalescer<number, string>(op.run);
    const answers = [1, 2, 3].map((n) => coalescer.submit(n));
    assert.equal(op.batches.length, 0, 'nothing runs before the turn ends');
    await turn();
    assert.deepEqual(op.batches.map((b) => b.items), [[1, 2, 3]]);
    op.batches[0]!.settle(['one', 'two', 'three']);
    assert.deepEqual(await Promise.all(answers), ['one', 'two', 'three']);
  });

  it('a call alone on a quiet process goes out in the next turn, by itself', async () => {
    const op = manual<number>();
    const coalescer = new Coalescer<number, string>(op.run);
    const answer = coalescer.submit(7);
    await turn();
    assert.deepEqual(op.batches.map((b) => b.items), [[7]]);
    op.batches[0]!.settle(['seven']);
    assert.equal(await answer, 'seven');
  });

  it('calls made while the batches in flight are at their limit wait and go out together in the next', async () => {
    const op = manual<number>();
    const coalescer = new Coalescer<number, string>(op.run, { maxInFlight: 1 });
    const first = coalescer.submit(1);
    await turn();
    const later = [2, 3].map((n) => coalescer.submit(n));
    await turn();
    const last = coalescer.submit(4);
    await turn();
    assert.deepEqual(op.batches.map((b) => b.items), [[1]], 'one batch in flight at most');
    op.batches[0]!.settle(['a']);
    assert.equal(await first, 'a');
    await turn();
    assert.deepEqual(op.batches.map((b) => b.items), [[1], [2, 3, 4]]);
    op.batches[1]!.settle(['b', 'c', 'd']);
    assert.deepEqual([...(await Promise.all(later)), await last], ['b', 'c', 'd']);
  });

  it('splits at maxBatch', async () => {
    const op = manual<number>();
    const coalescer = new Coalescer<number, string>(op.run, { maxBatch: 2, maxInFlight: 5 });
    const answers = [1, 2, 3, 4, 5].map((n) => coalescer.submit(n));
    await turn();
    assert.deepEqual(op.batches.map((b) => b.items), [[1, 2], [3, 4], [5]]);
    for (const batch of op.batches) batch.settle(batch.items.map(String));
    assert.deepEqual(await Promise.all(answers), ['1', '2', '3', '4', '5']);
  });

  it("a failed batch rejects each of its callers with the error, and the next batch still runs", async () => {
    const op = manual<number>();
    const coalescer = new Coalescer<number, string>(op.run, { maxInFlight: 1 });
    const failing = [1, 2].map((n) => coalescer.submit(n));
    await turn();
    const after = coalescer.submit(3);
    const boom = new Error('connection refused');
    op.batches[0]!.settle(boom);
    for (const answer of failing) await assert.rejects(answer, (error) => error === boom);
    await turn();
    op.batches[1]!.settle(['three']);
    assert.equal(await after, 'three');
  });

  it('an operation that throws at once, or answers the wrong number of results, rejects its callers', async () => {
    const throwing = new Coalescer<number, string>(() => {
      throw new Error('bad statement');
    });
    await assert.rejects(throwing.submit(1), /bad statement/);
    const short = new Coalescer<number, string>(async () => ['only one']);
    const answers = [short.submit(1), short.submit(2)];
    for (const answer of answers) await assert.rejects(answer, /answered 1 results for 2 items/);
  });
});
