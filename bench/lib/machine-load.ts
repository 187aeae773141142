// How much CPU other programs used while a turn ran: the machine's busy time
// minus this process and every process tree the bench started (PostgreSQL's
// postmaster and backends, the platform's tsx and node). This VM is shared;
// a turn that ran next to other load says so, instead of passing the load
// off as the code's speed (CPU-heavy work such as HTTP postings loses more
// to it than I/O-bound limits do, so even a ratio moves under it).
import { readdirSync } from "node:fs";
import { PROC_ENTRIES_MAX, TICKS_PER_SECOND, machineBusyTicks, readProcStat } from "./cpu-usage.ts";

interface Snapshot {
  readonly atMs: number;
  readonly machineBusyTicks: number;
  readonly ownTicks: number;
}

interface Stat {
  readonly ppid: number;
  /** Own time plus that of exited, reaped children (PostgreSQL backends that disconnected). */
  readonly ticks: number;
}

function readStats(): Map<number, Stat> {
  const stats = new Map<number, Stat>();
  for (const entry of readdirSync("/proc").slice(0, PROC_ENTRIES_MAX)) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(entry);
    if (stat !== undefined) stats.set(Number(entry), { ppid: stat.ppid, ticks: stat.ticks + stat.reapedChildrenTicks });
  }
  return stats;
}

/** CPU ticks of this process and of every descendant of it or of `roots`. */
function ownTicks(roots: readonly number[]): number {
  const stats = readStats();
  const mine = new Set<number>([process.pid, ...roots]);
  // Parents have lower pids only usually; iterate to a fixed point (bounded by the tree depth).
  for (let changed = true, passes = 0; changed && passes < 16; passes++) {
    changed = false;
    for (const [pid, stat] of stats) {
      if (!mine.has(pid) && mine.has(stat.ppid)) {
        mine.add(pid);
        changed = true;
      }
    }
  }
  let ticks = 0;
  for (const pid of mine) ticks += stats.get(pid)?.ticks ?? 0;
  return ticks;
}

export class MachineLoad {
  private start: Snapshot | undefined;
  /** Highest other load over any measured turn, in cores. */
  otherCoresMax = 0;

  private readonly watched = new Set<number>();
  private readonly ownCpu = new Map<string, number>();

  /** `fixedRoots`: processes the bench started (their descendants count as the bench's too). */
  constructor(private readonly fixedRoots: () => readonly (number | undefined)[]) {}

  /** A process started later (the platform), counted as the bench's until unwatched. */
  watch(pid: number | undefined): void {
    if (pid !== undefined) this.watched.add(pid);
  }

  unwatch(pid: number | undefined): void {
    if (pid !== undefined) this.watched.delete(pid);
  }

  private roots(): number[] {
    return [...this.fixedRoots(), ...this.watched].filter((pid): pid is number => pid !== undefined);
  }

  begin(): void {
    this.start = { atMs: performance.now(), machineBusyTicks: machineBusyTicks(), ownTicks: ownTicks(this.roots()) };
  }

  /**
   * Other programs' average CPU since begin(), in cores (1 = one core busy).
   * The CPU the bench's own processes spent meanwhile is added to `workload`'s
   * total (see ownCpuMs).
   */
  end(workload?: string): number {
    const start = this.start;
    if (start === undefined) throw new Error("MachineLoad.end() without begin()");
    const seconds = Math.max(performance.now() - start.atMs, 1) / 1000;
    const machine = (machineBusyTicks() - start.machineBusyTicks) / TICKS_PER_SECOND / seconds;
    const own = (ownTicks(this.roots()) - start.ownTicks) / TICKS_PER_SECOND / seconds;
    const other = Math.max(0, machine - own);
    this.otherCoresMax = Math.max(this.otherCoresMax, other);
    if (workload !== undefined) this.ownCpu.set(workload, (this.ownCpu.get(workload) ?? 0) + own * seconds * 1000);
    this.start = undefined;
    return other;
  }

  /**
   * CPU milliseconds the bench's own processes (this one, PostgreSQL, the platform) spent in
   * `workload`'s turns. Unlike a rate, CPU per item barely moves with other load: it shows
   * whether the code got more expensive even on a run whose rates the load skewed.
   */
  ownCpuMs(workload: string): number {
    return this.ownCpu.get(workload) ?? Number.NaN;
  }
}
