// One knob for a smaller run of a bench: BENCH_SCALE=0.05 (or BENCH_QUICK=1,
// the same as 0.05) shrinks every count and duration proportionally, each
// with a floor so a scaled run still exercises every step end to end. A
// scaled run proves the bench works; its figures are not comparable to the
// targets, so it says so and writes its results away from bench/results/.

/** What BENCH_QUICK=1 means: a smoke run of a few percent. */
export const QUICK_SCALE = 0.05;

export function benchScale(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.BENCH_SCALE;
  if (raw === undefined || raw === "") return env.BENCH_QUICK === "1" ? QUICK_SCALE : 1;
  const scale = Number(raw);
  if (!Number.isFinite(scale) || scale <= 0 || scale > 1) throw new RangeError(`BENCH_SCALE must be a number in (0, 1], got ${JSON.stringify(raw)}`);
  return scale;
}

/** `full × scale`, rounded to a multiple of `step` (a batch size), and never below `min`. */
export function scaled(full: number, scale: number, options: { min: number; step?: number }): number {
  const step = options.step ?? 1;
  const value = Math.round((full * scale) / step) * step;
  return Math.max(options.min, value);
}
