// Timing helpers: every workload runs either a fixed count or until a
// deadline, and always under an explicit upper bound on iterations.

export interface Timed<T> {
  readonly result: T;
  readonly elapsedMs: number;
}

export async function timed<T>(work: () => Promise<T>): Promise<Timed<T>> {
  const started = performance.now();
  const result = await work();
  return { result, elapsedMs: performance.now() - started };
}

export function perSecond(count: number, elapsedMs: number): number {
  if (elapsedMs <= 0) throw new RangeError(`elapsed time must be positive, got ${elapsedMs} ms`);
  return (count * 1000) / elapsedMs;
}

/** Runs `count` workers concurrently; rejects with the first failure once all have settled. */
export async function runWorkers<T>(count: number, worker: (index: number) => Promise<T>): Promise<T[]> {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`worker count must be a positive integer, got ${count}`);
  const settled = await Promise.allSettled(Array.from({ length: count }, (_, index) => worker(index)));
  const values: T[] = [];
  for (const outcome of settled) {
    if (outcome.status === "rejected") throw outcome.reason;
    values.push(outcome.value);
  }
  return values;
}

/**
 * Calls `step` until the deadline passes or `iterationsMax` is reached
 * (the bound that holds even if the clock misbehaves); returns the number of steps.
 */
export async function repeatUntil(options: { deadlineMs: number; iterationsMax: number }, step: (iteration: number) => Promise<void>): Promise<number> {
  let iteration = 0;
  while (iteration < options.iterationsMax && performance.now() < options.deadlineMs) {
    await step(iteration);
    iteration += 1;
  }
  return iteration;
}

/** The q-quantile (0..1) of ascending `sorted` samples: the sample below which a fraction q lies. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}
