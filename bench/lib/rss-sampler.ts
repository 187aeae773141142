// Samples a resident set size on a fixed interval and keeps the peak, so a
// phase can report the most memory it ever held (not just the figure at its
// end): this process's by default, or another's read from /proc (the
// platform's server in its own process, where VmHWM would be the peak over
// its whole life, setup included).
import { readFileSync } from "node:fs";

const SAMPLE_INTERVAL_MS_MIN = 10;

/** VmRSS of `pid` in bytes; NaN where /proc cannot say (the process is gone, not Linux). */
export function rssBytesOf(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match?.[1] === undefined ? Number.NaN : Number(match[1]) * 1024;
  } catch {
    return Number.NaN;
  }
}

export class RssSampler {
  private peakBytes = 0;
  private samples = 0;
  private timer: NodeJS.Timeout | undefined;

  /** `read`: the RSS in bytes, NaN when it cannot be read (that sample is skipped). */
  constructor(
    private readonly intervalMs: number,
    private readonly read: () => number = () => process.memoryUsage.rss(),
  ) {
    if (!Number.isInteger(intervalMs) || intervalMs < SAMPLE_INTERVAL_MS_MIN) throw new RangeError(`intervalMs must be an integer >= ${SAMPLE_INTERVAL_MS_MIN}, got ${intervalMs}`);
  }

  /** Another process's, from /proc/<pid>/status. */
  static ofProcess(pid: number, intervalMs: number): RssSampler {
    return new RssSampler(intervalMs, () => rssBytesOf(pid));
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.sample();
    this.timer = setInterval(() => {
      this.sample();
    }, this.intervalMs);
  }

  /** Peak since the previous call (or start), then starts a new window; NaN when no sample could be read in it. */
  takePeakBytes(): number {
    this.sample();
    const peak = this.samples === 0 ? Number.NaN : this.peakBytes;
    this.peakBytes = 0;
    this.samples = 0;
    return peak;
  }

  /** Stops sampling; the peak of the last window, as takePeakBytes. */
  stop(): number {
    const peak = this.takePeakBytes();
    clearInterval(this.timer);
    this.timer = undefined;
    return peak;
  }

  private sample(): void {
    const bytes = this.read();
    if (Number.isNaN(bytes)) return;
    this.samples += 1;
    this.peakBytes = Math.max(this.peakBytes, bytes);
  }
}
