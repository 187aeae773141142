// Samples the process's resident set size on a fixed interval and keeps the
// peak, so a phase can report the most memory it ever held (not just the
// figure at its end).
export class RssSampler {
  private peakBytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs: number) {
    if (!Number.isInteger(intervalMs) || intervalMs < 10) throw new RangeError(`intervalMs must be an integer >= 10, got ${intervalMs}`);
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.sample();
    this.timer = setInterval(() => {
      this.sample();
    }, this.intervalMs);
  }

  /** Peak since the previous call (or start), then starts a new window. */
  takePeakBytes(): number {
    this.sample();
    const peak = this.peakBytes;
    this.peakBytes = 0;
    return peak;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private sample(): void {
    this.peakBytes = Math.max(this.peakBytes, process.memoryUsage.rss());
  }
}
