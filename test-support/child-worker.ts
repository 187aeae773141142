// Test support for kill tests: starts a worker script under tsx in its own
// process group and SIGKILLs it (tsx runs node as a child: a group kill
// takes both), waiting until both processes are dead and their sockets
// closed. The script prints "ready <pid>" when it is about to start.
import { spawn } from "node:child_process";
import type { ChildProcessByStdio } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const TSX = path.join(ROOT, "node_modules/.bin/tsx");
/** Safety nets only: a hang fails instead of waiting for the test's timeout. */
export const CHILD_READY_TIMEOUT_MS = 60_000;
const CHILD_DEATH_TIMEOUT_MS = 5_000;

export interface ChildWorker {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  readonly exited: Promise<void>;
  /** The node process tsx started (the one that prints "ready <pid>"). */
  readonly workerPid: number;
  /** The last 4,000 characters it wrote to stderr. */
  stderr(): string;
}

/** Starts `script` (a path from the repository root) with `env` added to this process's environment. */
export async function spawnChildWorker(script: string, env: Readonly<Record<string, string>>): Promise<ChildWorker> {
  const child = spawn(TSX, [path.join(ROOT, script)], { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  const exited = new Promise<void>((resolve) => child.on("exit", () => { resolve(); }));
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const workerPid = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`worker not ready after ${CHILD_READY_TIMEOUT_MS} ms: ${stderr}`));
    }, CHILD_READY_TIMEOUT_MS);
    child.stdout.on("data", (chunk: Buffer) => {
      const ready = /ready (\d+)/.exec(chunk.toString());
      if (ready === null) return;
      clearTimeout(timer);
      resolve(Number(ready[1]));
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`worker exited before it was ready (${String(code)}, ${String(signal)}): ${stderr}`));
    });
  });
  return { child, exited, workerPid, stderr: () => stderr };
}

export async function killChildWorker(worker: ChildWorker): Promise<void> {
  const { pid } = worker.child;
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
  await worker.exited;
  await waitUntilDead(worker.workerPid);
}

/** Waits until `pid` is dead (gone, or a zombie waiting to be reaped: its sockets are closed). */
export async function waitUntilDead(pid: number): Promise<void> {
  const deadlineMs = Date.now() + CHILD_DEATH_TIMEOUT_MS;
  while (!(await isDead(pid))) {
    if (Date.now() > deadlineMs) throw new Error(`process ${pid} still alive ${CHILD_DEATH_TIMEOUT_MS} ms after SIGKILL`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function isDead(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}
