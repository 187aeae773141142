// Turns many concurrent single-item calls into few batched calls: items that
// arrive while a batch is in flight wait and go together in the next one.
// Bounded: items per batch, batches in flight, and items waiting.
import { TrueupError } from "@trueup/contracts";

export interface MicroBatcherLimits {
  readonly batchSizeMax: number;
  readonly inFlightMax: number;
  readonly queueLengthMax: number;
}

interface Waiting<I, O> {
  readonly item: I;
  readonly resolve: (value: O) => void;
  readonly reject: (error: unknown) => void;
}

export class MicroBatcher<I, O> {
  private readonly queue: Waiting<I, O>[] = [];
  private inFlight = 0;

  constructor(
    /** Must return one result per item, in order. */
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly limits: MicroBatcherLimits,
  ) {}

  submit(item: I): Promise<O> {
    if (this.queue.length >= this.limits.queueLengthMax) {
      // 503 OVERLOADED (Retry-After): the caller has done nothing yet and may retry.
      return Promise.reject(new TrueupError("OVERLOADED", `batcher queue full (${this.limits.queueLengthMax} waiting)`));
    }
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.limits.inFlightMax && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.limits.batchSizeMax);
      this.inFlight += 1;
      void this.execute(batch).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  private async execute(batch: Waiting<I, O>[]): Promise<void> {
    try {
      const results = await this.run(batch.map((w) => w.item));
      if (results.length !== batch.length) throw new Error(`batch of ${batch.length} returned ${results.length} results`);
      batch.forEach((w, i) => {
        w.resolve(results[i] as O);
      });
    } catch (error) {
      for (const w of batch) w.reject(error);
    }
  }
}
