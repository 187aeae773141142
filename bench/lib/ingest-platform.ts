// The platform for the ingest bench: node itself running platform/src/main.ts
// with tsx as a loader (as `npm start` does, see platform/test/process.test.ts),
// so the child's pid IS the server and its /proc/<pid>/status VmHWM is the
// server's peak resident memory (the tsx CLI would put a wrapper process
// in between, whose memory says nothing). Plus the API calls an import
// needs first: a ledger, its cash account, a bank account, a CSV profile.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { freePort } from "../../platform/src/embedded-postgres.ts";
import { GENERATED_ACCOUNT, GENERATED_CSV_PROFILE } from "./statement-generators.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
/** How long the platform may take to become ready (tsx compiles on start; the machine may be busy). */
const SERVER_START_MS = 60_000;
const READY_POLL_MS = 200;

export interface IngestServer {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly url: string;
}

/**
 * The node flags `npm start` runs the server with (package.json's start script, its `${NAME:-default}`
 * expanded from `env` then this process's environment), so the bench measures the server as started.
 */
export function startNodeFlags(env: Readonly<Record<string, string>>): string[] {
  const scripts = z.object({ scripts: z.object({ start: z.string() }) }).parse(JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")));
  const match = /^exec node (.*?)\s*--import tsx platform\/src\/main\.ts$/.exec(scripts.scripts.start);
  if (match === null) throw new Error(`package.json's start script is not "exec node <flags> --import tsx platform/src/main.ts": ${scripts.scripts.start}`);
  const expand = (flag: string): string => flag.replace(/\$\{([A-Z_][A-Z0-9_]*):-([^}]*)\}/g, (_, name: string, fallback: string) => env[name] ?? process.env[name] ?? fallback);
  return (match[1] ?? "").split(" ").filter((flag) => flag !== "").map(expand);
}

/**
 * Extra node flags for the server from BENCH_SERVER_NODE_FLAGS (space-separated), for a look inside a
 * run: e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` (NODE_OPTIONS refuses --cpu-prof). Figures taken
 * with it are not comparable to the targets.
 */
function extraNodeFlags(): string[] {
  return (process.env.BENCH_SERVER_NODE_FLAGS ?? "").split(" ").filter((flag) => flag !== "");
}

export async function startIngestServer(env: Record<string, string>): Promise<IngestServer> {
  const port = await freePort();
  const child = spawn(process.execPath, [...startNodeFlags(env), ...extraNodeFlags(), "--import", "tsx", path.join(ROOT, "platform/src/main.ts")], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: "warn", PORT: String(port), ...env },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error("the platform did not start (no pid)");
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + SERVER_START_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the platform exited with code ${child.exitCode} before it was ready`);
    if (await fetch(`${url}/ready`).then((r) => r.ok, () => false)) return { child, pid, url };
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }
  child.kill("SIGKILL");
  throw new Error(`the platform did not become ready within ${SERVER_START_MS} ms`);
}

export async function stopIngestServer(server: IngestServer): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((resolve) => server.child.once("exit", resolve));
  server.child.kill("SIGTERM");
  await exited;
}

/** The most memory the process ever held resident (VmHWM), in bytes; NaN where /proc cannot say. */
export function peakRssBytes(pid: number): number {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match?.[1] === undefined ? Number.NaN : Number(match[1]) * 1024;
  } catch {
    return Number.NaN;
  }
}

async function post(url: string, body: unknown): Promise<unknown> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", "idempotency-key": randomUUID() }, body: JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST ${url}: ${response.status} ${text}`);
  return JSON.parse(text) as unknown;
}

function field(body: unknown, name: string): string {
  const value = typeof body === "object" && body !== null && name in body ? (body as Record<string, unknown>)[name] : undefined;
  if (typeof value !== "string") throw new Error(`answer without a string ${name}: ${JSON.stringify(body)}`);
  return value;
}

export interface IngestTarget {
  readonly ledgerId: string;
  readonly bankAccountId: string;
  /** The CSV profile saved for the generated CSV, when asked for. */
  readonly csvProfileId: string | undefined;
}

/** A ledger with a cash account, the generated files' bank account on it, and (`withCsvProfile`) the generated CSV's profile. */
export async function prepareTarget(url: string, name: string, options: { withCsvProfile: boolean }): Promise<IngestTarget> {
  const ledgerId = `ingest_${name}`;
  await post(`${url}/ledgers`, { ledgerId, name: `Ingest bench ${name}`, baseCurrency: GENERATED_ACCOUNT.currency });
  await post(`${url}/ledgers/${ledgerId}/accounts`, { code: "1100", name: "Bank", type: "asset", currency: GENERATED_ACCOUNT.currency });
  const account = await post(`${url}/ledgers/${ledgerId}/bank-accounts`, {
    kind: "bank",
    name: "Generated statements",
    iban: GENERATED_ACCOUNT.iban,
    bankId: GENERATED_ACCOUNT.bankId,
    currency: GENERATED_ACCOUNT.currency,
    ledgerAccount: "1100",
  });
  const profile = options.withCsvProfile ? field(await post(`${url}/ledgers/${ledgerId}/csv-profiles`, { profileId: "bench", ...GENERATED_CSV_PROFILE }), "profileId") : undefined;
  return { ledgerId, bankAccountId: field(account, "bankAccountId"), csvProfileId: profile };
}
