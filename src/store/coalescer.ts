/**
 * Folds the calls made while the process is busy into one operation: requests that arrive in the
 * same turn of the event loop, or while earlier batches are still in flight, are run together
 * (one statement, one round trip, one commit). On a quiet service a call goes out in the next
 * turn of the loop, alone; under load the batches grow by themselves, which is when the round
 * trips saved matter. Unlike BatchQueue it keeps no order between calls and retries nothing:
 * each caller gets its own result, or the batch's error.
 */
export interface CoalescerOptions {
  /** Largest batch. Default 256. */
  maxBatch?: number;
  /** Batches in flight at once; further calls wait and join the next one. Default 2. */
  maxInFlight?: number;
}

interface Waiting<I, R> {
  item: I;
  resolve(result: R): void;
  reject(error: unknown): void;
}

export class Coalescer<I, R> {
  private waiting: Waiting<I, R>[] = [];
  private scheduled = false;
  private inFlight = 0;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  /** `run` gets the items and answers one result per item, in their order. */
  constructor(
    private readonly run: (items: readonly I[]) => Promise<readonly R[]>,
    options: CoalescerOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 256;
    this.maxInFlight = options.maxInFlight ?? 2;
  }

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.next();
        });
      }
    });
  }

  private next(): void {
    while (this.waiting.length > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.waiting.splice(0, this.maxBatch);
      this.inFlight++;
      let settled: Promise<readonly R[]>;
      try {
        settled = this.run(batch.map((waiting) => waiting.item));
      } catch (error) {
        settled = Promise.reject(error);
      }
      settled
        .then(
          (results) => {
            if (results.length !== batch.length) throw new Error(`coalesced operation answered ${results.length} results for ${batch.length} items`);
            batch.forEach((waiting, i) => waiting.resolve(results[i]!));
          },
          (error: unknown) => {
            for (const waiting of batch) waiting.reject(error);
          },
        )
        .catch((error: unknown) => {
          for (const waiting of batch) waiting.reject(error);
        })
        .finally(() => {
          this.inFlight--;
          this.next();
        });
    }
  }
}
