// CPU accounting for a bench phase, from /proc (Linux): what this process
// spent, what the bench's PostgreSQL server spent, and what everything else
// on the machine spent meanwhile. A phase that ran next to other load says
// so, instead of passing the load off as the code's speed.
import { readFileSync, readdirSync } from "node:fs";

/** Linux reports /proc times in clock ticks; USER_HZ is 100 on every mainstream architecture. */
export const TICKS_PER_SECOND = 100;
export const PROC_ENTRIES_MAX = 100_000;

export interface CpuSnapshot {
  readonly atMs: number;
  /** All CPUs, busy time (everything but idle and iowait), in ticks. */
  readonly machineBusyTicks: number;
  readonly processMicros: number;
  readonly serverTicks: number;
}

export interface CpuReport {
  readonly elapsedMs: number;
  /** CPU seconds per wall second: 1 = one core busy. */
  readonly processCores: number;
  readonly serverCores: number;
  /** Busy CPUs not accounted for by this process or its server: other programs on the machine. */
  readonly otherCores: number;
}

export function cpuSnapshot(serverRootPid: number | undefined): CpuSnapshot {
  const usage = process.cpuUsage();
  return {
    atMs: performance.now(),
    machineBusyTicks: machineBusyTicks(),
    processMicros: usage.user + usage.system,
    serverTicks: serverRootPid === undefined ? 0 : treeTicks(serverRootPid),
  };
}

/** CPU seconds so far of the server whose postmaster is `serverRootPid` and all its backends (reaped ones too). */
export function serverCpuSeconds(serverRootPid: number): number {
  return cpuSnapshot(serverRootPid).serverTicks / TICKS_PER_SECOND;
}

export function cpuSince(start: CpuSnapshot, end: CpuSnapshot): CpuReport {
  const elapsedMs = end.atMs - start.atMs;
  const seconds = Math.max(elapsedMs, 1) / 1000;
  const processCores = (end.processMicros - start.processMicros) / 1e6 / seconds;
  const serverCores = (end.serverTicks - start.serverTicks) / TICKS_PER_SECOND / seconds;
  const machineCores = (end.machineBusyTicks - start.machineBusyTicks) / TICKS_PER_SECOND / seconds;
  return { elapsedMs, processCores, serverCores, otherCores: Math.max(0, machineCores - processCores - serverCores) };
}

export function machineBusyTicks(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  // cpu user nice system idle iowait irq softirq steal ...
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return total - (fields[3] ?? 0) - (fields[4] ?? 0);
}

export interface ProcStat {
  readonly ppid: number;
  readonly ticks: number;
  /** CPU of children that have exited and been reaped (PostgreSQL backends that disconnected). */
  readonly reapedChildrenTicks: number;
}

export function readProcStat(pid: string): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised name: state ppid ... utime(14) stime(15) cutime(16) cstime(17), 1-based.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]), reapedChildrenTicks: Number(rest[13]) + Number(rest[14]) };
  } catch {
    return undefined; // exited between listing and reading
  }
}

/** CPU of a process and its children (PostgreSQL's backends are children of the postmaster). */
function treeTicks(rootPid: number): number {
  let ticks = 0;
  const entries = readdirSync("/proc").slice(0, PROC_ENTRIES_MAX);
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(entry);
    if (stat === undefined) continue;
    if (Number(entry) === rootPid) ticks += stat.ticks + stat.reapedChildrenTicks;
    else if (stat.ppid === rootPid) ticks += stat.ticks;
  }
  return ticks;
}
