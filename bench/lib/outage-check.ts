// The outage check of issue #8: an external PostgreSQL (started here, used
// through DATABASE_URL as any external server would be) is stopped for
// `outageMs` under posting load and started again, and the platform, never
// restarted, must catch up by itself:
// - every 201 is in the event log exactly once and in the read model;
// - every key answered 503 (or not answered at all) and retried with the same
//   key and body ends in 201, and its entry is in the log once (no doubles:
//   an attempt that committed but lost its answer replays);
// - the log holds no entry that no key was answered for;
// - /ready answered 503 throughout the outage and 200 again after it.
// Used by `npm run bench:outage` (bench/outage.ts) and, with a short outage,
// by platform/test/outage.test.ts.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { freePort, startEmbeddedPostgres } from "../../platform/src/embedded-postgres.ts";
import type { RunningPostgres } from "../../platform/src/embedded-postgres.ts";
import type { Figure } from "./results.ts";
import { info } from "./results.ts";

export interface OutageCheckOptions {
  /** How long the server stays down (the issue asks for 3 minutes). */
  readonly outageMs: number;
  /** Posting clients running side by side; each waits `postIntervalMs` between its requests. */
  readonly clients: number;
  readonly postIntervalMs: number;
  /** Load before the server is stopped and after it is back. */
  readonly loadBeforeMs: number;
  readonly loadAfterMs: number;
  /** The load stops at this many postings whatever the phase (bounds the run's size). */
  readonly postsMax: number;
  readonly log: (line: string) => void;
}

export const OUTAGE_LIMITS = {
  /** How long the platform may take to become ready (tsx compiles on start; the machine may be busy). */
  platformStartMs: 90_000,
  readyPollIntervalMs: 1_000,
  /** A key not answered 201 is retried at most this many times, this far apart, and all retries end by `retryPhaseMs`. */
  retriesPerKeyMax: 120,
  retryIntervalMs: 1_000,
  retryPhaseMs: 300_000,
  /** After the restart, the read model must reach the newest 201's position within this. */
  catchUpMs: 180_000,
  /** Each HTTP request of the check gives up after this (a hung request counts as "no answer"). */
  requestTimeoutMs: 30_000,
  pageSize: 1000,
  /** The platform's output kept for a failure report. */
  outputTailLines: 40,
  outputLineLengthMax: 400,
} as const;

const DATABASE = "trueup_outage";
const LEDGER = "outage";

interface Attempt {
  readonly key: string;
  readonly entryId: string;
  /** HTTP status, or undefined when no answer came (connection reset, timeout). */
  status: number | undefined;
  position: string | undefined;
  retries: number;
  replayedOnRetry: boolean;
}

interface ReadyPoll {
  readonly atMs: number;
  readonly status: number | undefined;
}

export interface OutageCheckResult {
  readonly figures: Figure[];
  /** One line per failed expectation; empty when the platform passed. */
  readonly failures: string[];
}

function exactly(name: string, value: number, unit: string, expected: number): Figure {
  return { name, value, unit, target: `== ${expected}`, pass: value === expected };
}

export async function runOutageCheck(options: OutageCheckOptions): Promise<OutageCheckResult> {
  const folder = await mkdtemp(path.join(tmpdir(), "trueup-outage-"));
  await chmod(folder, 0o755); // as root the server runs as `postgres`, which must reach the folder
  const dataDir = path.join(folder, "pg");
  const pgPort = await freePort();
  const startServer = (): Promise<RunningPostgres> => startEmbeddedPostgres({ dataDir, port: pgPort, database: DATABASE });
  let server: RunningPostgres | undefined = await startServer();
  let platform: ChildProcess | undefined;
  let stoppingPlatform = false;
  try {
    const databaseUrl = server.connectionString;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    platform = spawn(process.execPath, ["--import", "tsx", path.resolve(import.meta.dirname, "../../platform/src/main.ts")], {
      cwd: path.resolve(import.meta.dirname, "../.."),
      env: { ...process.env, LOG_LEVEL: "warn", PORT: String(port), DATABASE_URL: databaseUrl },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const output = keepTail(platform, options.log);
    // The platform must ride the outage out: exiting is a failure, reported at once with its last lines.
    let exitedWith: string | undefined;
    platform.once("exit", (code, signal) => {
      if (stoppingPlatform) return;
      exitedWith = `status ${code ?? "none"}, signal ${signal ?? "none"}`;
      options.log(`the platform EXITED (${exitedWith}); its last lines:\n${output()}`);
    });
    await waitReady(url, platform).catch((error: unknown) => {
      throw new Error(`${error instanceof Error ? error.message : String(error)}; its last lines:\n${output()}`);
    });
    await setUpLedger(url);
    options.log(`platform ready on ${url}, PostgreSQL on port ${pgPort}`);

    const attempts: Attempt[] = [];
    const load = startLoad({ url, attempts, options });
    await sleep(options.loadBeforeMs);

    const polls: ReadyPoll[] = [];
    options.log(`stopping PostgreSQL for ${options.outageMs} ms`);
    await server.stop();
    server = undefined;
    const outageStart = Date.now();
    while (Date.now() - outageStart < options.outageMs) {
      polls.push({ atMs: Date.now() - outageStart, status: await status(`${url}/ready`) });
      await sleep(OUTAGE_LIMITS.readyPollIntervalMs);
    }
    const duringOutage = polls.slice();
    options.log("starting PostgreSQL again");
    server = await startServer();
    const restartedAt = Date.now();
    let readyAgainAfterMs: number | undefined;
    while (Date.now() - restartedAt < options.loadAfterMs) {
      if (readyAgainAfterMs === undefined && (await status(`${url}/ready`)) === 200) readyAgainAfterMs = Date.now() - restartedAt;
      await sleep(OUTAGE_LIMITS.readyPollIntervalMs);
    }
    load.stop();
    await load.done;
    readyAgainAfterMs ??= await waitReadyAgain(url, restartedAt);
    options.log(`load done (${attempts.length} postings); retrying every key not answered 201`);
    if (exitedWith === undefined) await retryUnanswered(url, attempts);
    const caughtUp = exitedWith === undefined && (await waitForReadModel(url, attempts));
    const readModelIds = caughtUp ? await readModelEntryIds(url) : new Map<string, number>();
    const logIds = await logEntryIds(server.clientConfig);
    const result = verdict({ attempts, duringOutage, readyAgainAfterMs, caughtUp, readModelIds, logIds, exitedWith });
    if (result.failures.length > 0) options.log(`the platform's last lines:\n${output()}`);
    return result;
  } finally {
    const child = platform;
    stoppingPlatform = true;
    if (child?.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    await server?.stop();
    await rm(folder, { recursive: true, force: true });
  }
}

function verdict(input: {
  attempts: readonly Attempt[];
  duringOutage: readonly ReadyPoll[];
  readyAgainAfterMs: number | undefined;
  caughtUp: boolean;
  readModelIds: ReadonlyMap<string, number>;
  logIds: ReadonlyMap<string, number>;
  exitedWith: string | undefined;
}): OutageCheckResult {
  const { attempts, duringOutage, readModelIds, logIds } = input;
  const firstAnswers = (predicate: (a: Attempt) => boolean): number => attempts.filter(predicate).length;
  const retried = attempts.filter((a) => a.retries > 0);
  const never201 = attempts.filter((a) => a.status !== 201);
  const notOnceInLog = attempts.filter((a) => a.status === 201 && logIds.get(a.entryId) !== 1);
  const notInReadModel = attempts.filter((a) => a.status === 201 && readModelIds.get(a.entryId) !== 1);
  const known = new Set(attempts.map((a) => a.entryId));
  const unclaimed = [...logIds.keys()].filter((id) => !known.has(id));
  const readyDuringOutage = duringOutage.filter((p) => p.status === 200);
  const figures: Figure[] = [
    info("postings sent under load", attempts.length, "postings"),
    info("first answer 201", firstAnswers((a) => a.retries === 0 && a.status === 201), "postings"),
    info("first answer 503 or none", retried.length, "postings"),
    info("retried keys whose first attempt had committed (replayed)", retried.filter((a) => a.replayedOnRetry).length, "postings"),
    exactly("platform stayed up through the outage (1 = yes)", input.exitedWith === undefined ? 1 : 0, "", 1),
    exactly("keys never answered 201 after retries", never201.length, "keys", 0),
    exactly("201s not exactly once in the event log", notOnceInLog.length, "entries", 0),
    exactly("entries in the log no key was answered for", unclaimed.length, "entries", 0),
    exactly("read model caught up after the outage (1 = yes)", input.caughtUp ? 1 : 0, "", 1),
    exactly("201s not exactly once in the read model", notInReadModel.length, "entries", 0),
    info("/ready polls during the outage", duringOutage.length, "polls"),
    exactly("/ready polls answering 200 during the outage", readyDuringOutage.length, "polls", 0),
    exactly("/ready back to 200 after the outage (1 = yes)", input.readyAgainAfterMs === undefined ? 0 : 1, "", 1),
  ];
  if (input.readyAgainAfterMs !== undefined) figures.push(info("/ready back to 200, after the restart", input.readyAgainAfterMs, "ms"));
  const failures = figures.filter((f) => f.pass === false).map((f) => `${f.name}: ${f.value} (target ${f.target ?? ""})`);
  const sample = (list: readonly Attempt[]): string => list.slice(0, 5).map((a) => `${a.entryId}=${a.status ?? "none"}`).join(", ");
  if (never201.length > 0) failures.push(`e.g. ${sample(never201)}`);
  if (notOnceInLog.length > 0) failures.push(`e.g. ${notOnceInLog.slice(0, 5).map((a) => `${a.entryId}×${logIds.get(a.entryId) ?? 0}`).join(", ")}`);
  if (duringOutage.length === 0) failures.push("no /ready poll fell inside the outage");
  return { figures, failures };
}

// --- the platform through HTTP -------------------------------------------------

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + OUTAGE_LIMITS.platformStartMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the platform exited during start (status ${child.exitCode})`);
    if ((await status(`${url}/ready`)) === 200) return;
    await sleep(200);
  }
  throw new Error(`the platform did not become ready within ${OUTAGE_LIMITS.platformStartMs} ms`);
}

/** Milliseconds from `since` until /ready answered 200 again, or undefined if it never did within the catch-up limit. */
async function waitReadyAgain(url: string, since: number): Promise<number | undefined> {
  while (Date.now() - since < OUTAGE_LIMITS.catchUpMs) {
    if ((await status(`${url}/ready`)) === 200) return Date.now() - since;
    await sleep(OUTAGE_LIMITS.readyPollIntervalMs);
  }
  return undefined;
}

/**
 * The platform's output: its own lines ("trueup: …", e.g. a worker giving up)
 * are logged as they come; everything (request logs included) is kept as a
 * bounded tail, shown when the check fails.
 */
function keepTail(child: ChildProcess, log: (line: string) => void): () => string {
  const tail: string[] = [];
  const take = (chunk: Buffer): void => {
    for (const line of chunk.toString().split("\n")) {
      if (line.trim() === "") continue;
      if (line.startsWith("trueup:")) log(`platform: ${line}`);
      tail.push(line.length > OUTAGE_LIMITS.outputLineLengthMax ? `${line.slice(0, OUTAGE_LIMITS.outputLineLengthMax)}…` : line);
      if (tail.length > OUTAGE_LIMITS.outputTailLines) tail.shift();
    }
  };
  child.stdout?.on("data", take);
  child.stderr?.on("data", take);
  return () => tail.join("\n");
}

async function status(url: string): Promise<number | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(OUTAGE_LIMITS.requestTimeoutMs) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return undefined;
  }
}

async function post(url: string, key: string, body: unknown): Promise<{ status: number | undefined; json: Record<string, unknown> }> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": key },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(OUTAGE_LIMITS.requestTimeoutMs),
    });
    const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    return { status: response.status, json };
  } catch {
    return { status: undefined, json: {} };
  }
}

async function setUpLedger(url: string): Promise<void> {
  const steps: [string, unknown][] = [
    ["/ledgers", { ledgerId: LEDGER, name: "Outage check", baseCurrency: "EUR" }],
    [`/ledgers/${LEDGER}/accounts`, { code: "1000", name: "Cash", type: "asset" }],
    [`/ledgers/${LEDGER}/accounts`, { code: "4000", name: "Sales", type: "revenue" }],
  ];
  for (const [route, body] of steps) {
    const answer = await post(`${url}${route}`, `setup-${route}-${JSON.stringify(body).length}`, body);
    if (answer.status !== 201) throw new Error(`set-up ${route} answered ${answer.status ?? "nothing"}`);
  }
}

function entryBody(entryId: string): unknown {
  return {
    entryId,
    effectiveDate: "2026-11-20",
    description: `outage check ${entryId}`,
    lines: [
      { account: "1000", side: "debit", amount: "1.00", currency: "EUR" },
      { account: "4000", side: "credit", amount: "1.00", currency: "EUR" },
    ],
  };
}

function startLoad(input: { url: string; attempts: Attempt[]; options: OutageCheckOptions }): { stop(): void; done: Promise<void> } {
  const { url, attempts, options } = input;
  let stopped = false;
  const client = async (): Promise<void> => {
    while (!stopped && attempts.length < options.postsMax) {
      const entryId = `e${attempts.length.toString().padStart(6, "0")}`;
      const attempt: Attempt = { key: `outage-${entryId}`, entryId, status: undefined, position: undefined, retries: 0, replayedOnRetry: false };
      attempts.push(attempt);
      const answer = await post(`${url}/ledgers/${LEDGER}/journal-entries`, attempt.key, entryBody(entryId));
      attempt.status = answer.status;
      if (typeof answer.json.position === "string") attempt.position = answer.json.position;
      await sleep(options.postIntervalMs);
    }
  };
  const done = Promise.all(Array.from({ length: options.clients }, client)).then(() => undefined);
  return {
    stop: () => {
      stopped = true;
    },
    done,
  };
}

/** Every key not answered 201: the same key and body again, until 201 (bounded). */
async function retryUnanswered(url: string, attempts: readonly Attempt[]): Promise<void> {
  const deadline = Date.now() + OUTAGE_LIMITS.retryPhaseMs;
  for (const attempt of attempts) {
    while (attempt.status !== 201 && attempt.retries < OUTAGE_LIMITS.retriesPerKeyMax && Date.now() < deadline) {
      attempt.retries += 1;
      const answer = await post(`${url}/ledgers/${LEDGER}/journal-entries`, attempt.key, entryBody(attempt.entryId));
      attempt.status = answer.status;
      if (typeof answer.json.position === "string") attempt.position = answer.json.position;
      attempt.replayedOnRetry = answer.json.replayed === true;
      if (attempt.status !== 201) await sleep(OUTAGE_LIMITS.retryIntervalMs);
    }
  }
}

/** Waits with minPosition (the newest 201's position) until the read model has applied it. */
async function waitForReadModel(url: string, attempts: readonly Attempt[]): Promise<boolean> {
  const positions = attempts.map((a) => a.position).filter((p): p is string => p !== undefined);
  const newest = positions.reduce((a, b) => (a > b ? a : b), "");
  if (newest === "") return false;
  const begin = Date.now();
  while (Date.now() - begin < OUTAGE_LIMITS.catchUpMs) {
    if ((await status(`${url}/ledgers/${LEDGER}/journal-entries?limit=1&minPosition=${newest}`)) === 200) return true;
    await sleep(OUTAGE_LIMITS.readyPollIntervalMs);
  }
  return false;
}

async function readModelEntryIds(url: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let cursor: string | null = null;
  do {
    const page: Response = await fetch(`${url}/ledgers/${LEDGER}/journal-entries?limit=${OUTAGE_LIMITS.pageSize}${cursor === null ? "" : `&cursor=${cursor}`}`);
    if (!page.ok) throw new Error(`reading the read model answered ${page.status}`);
    const body = (await page.json()) as { items: { entryId: string }[]; nextCursor: string | null };
    for (const item of body.items) counts.set(item.entryId, (counts.get(item.entryId) ?? 0) + 1);
    cursor = body.nextCursor;
  } while (cursor !== null);
  return counts;
}

// --- the event log, read directly ------------------------------------------------

async function logEntryIds(config: pg.ClientConfig): Promise<Map<string, number>> {
  const client = new pg.Client(config);
  await client.connect();
  try {
    const rows = await client.query<{ entry_id: string; n: string }>(
      "SELECT data->>'entryId' AS entry_id, count(*) AS n FROM es_events WHERE type = 'JournalEntryPosted' AND data->>'ledgerId' = $1 GROUP BY 1",
      [LEDGER],
    );
    return new Map(rows.rows.map((r) => [r.entry_id, Number.parseInt(r.n, 10)]));
  } finally {
    await client.end();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
