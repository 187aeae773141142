// Measures one bench phase: how many items it handled, in how long, at what
// CPU cost (this process, the PostgreSQL server) and next to how much other
// load on the machine. Logs one line per phase, so every figure in the table
// can be traced to the conditions it was measured in.
import { cpuSince, cpuSnapshot } from "./cpu-usage.ts";
import type { RssSampler } from "./rss-sampler.ts";
import { perSecond } from "./timing.ts";

const MEGABYTE = 1024 * 1024;

export interface Measured {
  readonly count: number;
  readonly elapsedMs: number;
  readonly processCpuMs: number;
  readonly serverCpuMs: number;
  /** Highest average load from other programs over any measured stretch, in cores. */
  readonly otherCoresMax: number;
  /** Highest resident set size of this process while the phase ran. */
  readonly peakRssBytes: number;
}

export const NOTHING_MEASURED: Measured = { count: 0, elapsedMs: 0, processCpuMs: 0, serverCpuMs: 0, otherCoresMax: 0, peakRssBytes: 0 };

export function rate(measured: Measured): number {
  return perSecond(measured.count, measured.elapsedMs);
}

/** Two stretches of the same workload (e.g. interleaved rounds) as one. */
export function combine(a: Measured, b: Measured): Measured {
  return {
    count: a.count + b.count,
    elapsedMs: a.elapsedMs + b.elapsedMs,
    processCpuMs: a.processCpuMs + b.processCpuMs,
    serverCpuMs: a.serverCpuMs + b.serverCpuMs,
    otherCoresMax: Math.max(a.otherCoresMax, b.otherCoresMax),
    peakRssBytes: Math.max(a.peakRssBytes, b.peakRssBytes),
  };
}

export function describe(label: string, unit: string, m: Measured): string {
  const perItemUs = (cpuMs: number): string => (m.count === 0 ? "-" : ((cpuMs * 1000) / m.count).toFixed(1));
  return (
    `${label}: ${m.count} ${unit} in ${(m.elapsedMs / 1000).toFixed(1)} s = ${Math.round(rate(m))} ${unit}/s; ` +
    `CPU per ${unit.replace(/s$/, "")}: bench ${perItemUs(m.processCpuMs)} us, server ${perItemUs(m.serverCpuMs)} us; ` +
    `other load up to ${m.otherCoresMax.toFixed(2)} cores; peak RSS ${(m.peakRssBytes / MEGABYTE).toFixed(0)} MB`
  );
}

export class PhaseMeter {
  constructor(
    private readonly serverPid: () => number | undefined,
    private readonly rss: RssSampler,
    private readonly log: (message: string) => void,
  ) {}

  async measure(label: string, unit: string, work: () => Promise<number>): Promise<Measured> {
    this.rss.takePeakBytes(); // start a new window
    const start = cpuSnapshot(this.serverPid());
    const count = await work();
    const report = cpuSince(start, cpuSnapshot(this.serverPid()));
    const seconds = report.elapsedMs / 1000;
    const measured: Measured = {
      count,
      elapsedMs: report.elapsedMs,
      processCpuMs: report.processCores * seconds * 1000,
      serverCpuMs: report.serverCores * seconds * 1000,
      otherCoresMax: report.otherCores,
      peakRssBytes: this.rss.takePeakBytes(),
    };
    this.log(describe(label, unit, measured));
    return measured;
  }
}
