// Proves the platform as a user runs it: `npm start`'s entry point boots on
// embedded PostgreSQL with no setup, serves /health, stops cleanly on SIGTERM
// (taking PostgreSQL down with it), reuses its data folder on the next start,
// and refuses a bad environment variable with one line naming it. Run as the
// README runs it (`npm start`), SIGTERM or SIGINT sent to npm alone stops
// everything: the node process, the postmaster, and no postmaster.pid stays.
// When its embedded PostgreSQL dies (kill -9 of the postmaster), the platform
// notices and exits non-zero so a supervisor restarts it; the restart works.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { freePort, isAlive, startEmbeddedPostgres } from "../src/embedded-postgres.ts";

const root = path.resolve(import.meta.dirname, "../..");
const START_TIMEOUT_MS = 60_000;

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function start(env: Record<string, string>): Started {
  // Node itself with tsx as a loader, as `npm start` runs it: the tsx CLI would put a signal-relaying parent
  // in between, which under load answered SIGINT with exit code 130 before the platform had stopped.
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "platform/src/main.ts")], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => {
    resolve(code);
  }));
  return { child, output: () => output, exited };
}

/** Every live process whose parent chain leads to `pid` (read from /proc: Linux only, like the rest of this file). */
async function descendants(pid: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    const ppid = Number.parseInt(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1] ?? "", 10);
    if (Number.isInteger(ppid)) parents.set(Number(entry), ppid);
  }
  const found: number[] = [];
  const walk = (parent: number): void => {
    for (const [child, ppid] of parents) {
      if (ppid !== parent) continue;
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

/** Waits (bounded, polling liveness only) until every pid has gone; returns the ones still alive at the limit. */
async function waitGone(pids: readonly number[], limitMs: number): Promise<number[]> {
  const deadline = Date.now() + limitMs;
  let alive = pids.filter(isAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    alive = alive.filter(isAlive);
  }
  return alive;
}

async function waitForOk(url: string, started: Started): Promise<number> {
  const begin = Date.now();
  while (Date.now() - begin < START_TIMEOUT_MS) {
    if (started.child.exitCode !== null) throw new Error(`exited early:\n${started.output()}`);
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return Date.now() - begin;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no answer from ${url} within ${START_TIMEOUT_MS} ms:\n${started.output()}`);
}

describe("npm start (platform/src/main.ts)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "trueup-start-"));
    await chmod(dir, 0o755);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("boots on embedded storage, restarts on the same data, and stops cleanly", async () => {
    const dataDir = path.join(dir, "data");
    const port = await freePort();
    const first = start({ TRUEUP_DATA: dataDir, PORT: String(port) });
    const bootMs = await waitForOk(`http://127.0.0.1:${port}/health`, first);
    expect(bootMs).toBeLessThan(START_TIMEOUT_MS);
    expect((await fetch(`http://127.0.0.1:${port}/ready`)).status).toBe(200);
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    expect(existsSync(path.join(dataDir, "pg", "postmaster.pid"))).toBe(false);

    // Leave a mark in the log behind the platform's back, then start it again.
    const db = await startEmbeddedPostgres({ dataDir: path.join(dataDir, "pg"), port: 0, database: "trueup" });
    const client = new pg.Client(db.clientConfig);
    await client.connect();
    await client.query("SELECT * FROM es_append('marker-1', 'marker', 'no-stream', $1::jsonb, ARRAY[$2::json])", [
      JSON.stringify([{ id: crypto.randomUUID(), type: "Marked", v: 1, metadata: {} }]),
      "{}",
    ]);
    await client.end();
    await db.stop();

    const second = start({ TRUEUP_DATA: dataDir, PORT: String(port) });
    await waitForOk(`http://127.0.0.1:${port}/ready`, second);
    // Clients that hang up while their postings run must not hold the shutdown up.
    const post = (url: string, body: unknown, signal: AbortSignal | null = null) =>
      fetch(`http://127.0.0.1:${port}${url}`, { method: "POST", headers: { "content-type": "application/json", "idempotency-key": crypto.randomUUID() }, body: JSON.stringify(body), signal });
    expect((await post("/ledgers", { ledgerId: "hangup", name: "Hang-ups", baseCurrency: "EUR" })).status).toBe(201);
    expect((await post("/ledgers/hangup/accounts", { code: "1000", name: "Cash", type: "asset" })).status).toBe(201);
    expect((await post("/ledgers/hangup/accounts", { code: "4000", name: "Sales", type: "revenue" })).status).toBe(201);
    const entry = { effectiveDate: "2026-11-20", description: "gone", lines: [{ account: "1000", side: "debit", amount: "1.00", currency: "EUR" }, { account: "4000", side: "credit", amount: "1.00", currency: "EUR" }] };
    const hangUps = Array.from({ length: 100 }, () => post("/ledgers/hangup/journal-entries", entry, AbortSignal.timeout(2)).catch(() => undefined));
    await Promise.all(hangUps);
    // Exit code 0: the shutdown finished by itself (its 15 s limit exits 1), so the hung-up clients did not hold it.
    second.child.kill("SIGINT");
    expect(await second.exited).toBe(0);
    // Connections are closed before the server stops: it has none to cut (it would log them as FATAL).
    expect(second.output()).not.toMatch(/FATAL|terminating connection/);

    const again = await startEmbeddedPostgres({ dataDir: path.join(dataDir, "pg"), port: 0, database: "trueup" });
    const check = new pg.Client(again.clientConfig);
    await check.connect();
    const marks = await check.query("SELECT type FROM es_events WHERE stream_name = 'marker-1'");
    const migrations = await check.query("SELECT version FROM es_migrations ORDER BY version");
    await check.end();
    await again.stop();
    expect(marks.rows).toEqual([{ type: "Marked" }]);
    expect(migrations.rows).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }]);
  });

  it("refuses a bad environment variable with one line naming it", async () => {
    const started = start({ TRUEUP_DATA: path.join(dir, "never"), PORT: "not-a-port" });
    expect(await started.exited).toBe(1);
    const lines = started.output().trim().split("\n").filter((l) => !l.startsWith("npm warn"));
    expect(lines).toEqual(['trueup: invalid configuration: PORT must be a whole number from 0 to 65535 (got "not-a-port")']);
    expect(existsSync(path.join(dir, "never"))).toBe(false);
  });

  it("refuses a data folder that is not empty and not a cluster", async () => {
    const { mkdir, writeFile } = await import("node:fs/promises");
    await mkdir(path.join(dir, "junk", "pg"), { recursive: true });
    await writeFile(path.join(dir, "junk", "pg", "notes.txt"), "mine");
    const started = start({ TRUEUP_DATA: path.join(dir, "junk"), PORT: String(await freePort()) });
    expect(await started.exited).toBe(1);
    expect(started.output()).toContain("is not empty and is not a PostgreSQL cluster");
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    // The SIGTERM run also sets the heap limits; the SIGINT run takes the start script's defaults.
    const heapMb = signal === "SIGTERM" ? "300" : undefined;
    const youngMb = signal === "SIGTERM" ? "16" : undefined;
    it(`npm start stops everything when ${signal} is sent to the npm process alone (and runs the server with its heap limits, ${heapMb ?? "the default 320"} MB old, ${youngMb ?? "the default 32"} MB semi-space)`, async () => {
      const dataDir = path.join(dir, `npm-${signal}`);
      const port = await freePort();
      const npm = spawn("npm", ["start"], {
        cwd: root,
        env: { ...process.env, LOG_LEVEL: "warn", TRUEUP_DATA: dataDir, PORT: String(port), ...(heapMb === undefined ? {} : { TRUEUP_HEAP_MB: heapMb }), ...(youngMb === undefined ? {} : { TRUEUP_YOUNG_MB: youngMb }) },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      npm.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      npm.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<void>((resolve) => npm.on("exit", () => {
        resolve();
      }));
      const started: Started = { child: npm, output: () => output, exited: exited.then(() => npm.exitCode) };
      await waitForOk(`http://127.0.0.1:${port}/ready`, started);
      const npmPid = npm.pid ?? 0;
      const tree = await descendants(npmPid);
      const pidFile = path.join(dataDir, "pg", "postmaster.pid");
      const postmaster = Number.parseInt((await readFile(pidFile, "utf8")).split("\n")[0] ?? "", 10);
      expect(tree).toContain(postmaster);
      const commandLines = await Promise.all(tree.map((pid) => readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")));
      const server = commandLines.map((line) => line.split("\0")).find((args) => args.some((arg) => arg.endsWith("platform/src/main.ts")));
      expect(server).toContain(`--max-old-space-size=${heapMb ?? "320"}`);
      expect(server).toContain(`--max-semi-space-size=${youngMb ?? "32"}`);

      process.kill(npmPid, signal); // npm only, not its process group: as `kill -TERM <pid>` would
      await exited;
      // Bounded by the platform's own shutdown limit, not by the machine's speed.
      const left = await waitGone(tree, 30_000);
      if (left.length > 0) for (const pid of left) process.kill(pid, "SIGKILL");
      expect(left).toEqual([]);
      expect(existsSync(pidFile)).toBe(false);
    }, START_TIMEOUT_MS + 60_000);
  }

  it("exits non-zero when its embedded PostgreSQL is killed, and the next start recovers the folder", async () => {
    const dataDir = path.join(dir, "killed-pg");
    const port = await freePort();
    const first = start({ TRUEUP_DATA: dataDir, PORT: String(port) });
    await waitForOk(`http://127.0.0.1:${port}/ready`, first);
    const postmaster = Number.parseInt((await readFile(path.join(dataDir, "pg", "postmaster.pid"), "utf8")).split("\n")[0] ?? "", 10);
    process.kill(postmaster, "SIGKILL");
    // Event-driven: the process's own exit. The bound is generous (noticing takes about a second plus a
    // shutdown); past it the process is stopped and the test fails with "still running", not a timeout.
    const STILL_RUNNING = "still running";
    const outcome = await Promise.race([first.exited, new Promise((resolve) => setTimeout(() => { resolve(STILL_RUNNING); }, START_TIMEOUT_MS))]);
    if (outcome === STILL_RUNNING) first.child.kill("SIGKILL");
    expect(outcome).toBe(1);
    expect(first.output()).toContain(`embedded PostgreSQL (pid ${postmaster}) died`);

    // What a supervisor does next: start it again on the same folder.
    const second = start({ TRUEUP_DATA: dataDir, PORT: String(port) });
    await waitForOk(`http://127.0.0.1:${port}/ready`, second);
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
  }, START_TIMEOUT_MS * 3);
});
