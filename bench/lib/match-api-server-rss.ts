// Another process's resident memory, sampled from /proc/<pid>/status on a
// fixed interval while a phase runs: the peak of that phase alone. (VmHWM
// is the peak over the process's whole life, which for the platform includes
// the setup's import and postings.)
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

export class ProcessRssSampler {
  private peak = 0;
  private samples = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pid: number,
    private readonly intervalMs: number,
  ) {
    if (!Number.isInteger(intervalMs) || intervalMs < SAMPLE_INTERVAL_MS_MIN) throw new RangeError(`intervalMs must be an integer >= ${SAMPLE_INTERVAL_MS_MIN}, got ${intervalMs}`);
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.sample();
    this.timer = setInterval(() => {
      this.sample();
    }, this.intervalMs);
  }

  /** Stops sampling; the highest VmRSS seen, in bytes (NaN when no sample could be read). */
  stop(): number {
    this.sample();
    clearInterval(this.timer);
    this.timer = undefined;
    return this.samples === 0 ? Number.NaN : this.peak;
  }

  private sample(): void {
    const bytes = rssBytesOf(this.pid);
    if (Number.isNaN(bytes)) return;
    this.samples += 1;
    this.peak = Math.max(this.peak, bytes);
  }
}
