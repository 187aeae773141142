// End-to-end matching bench (issue #10): "End to end through the API on
// 100,000 imported lines against 100,000 ledger lines: a run completes and its
// matches are queryable in <= 30 s."
//
// The platform runs in its own process as `npm start` runs it (its node
// flags, bench/lib/ingest-platform.ts) on a fresh embedded PostgreSQL. The
// books are the matching bench's (bench/lib/match-books.ts, same seed as
// bench/match.ts): 100,000 designed units make 104,992 statement lines and
// 122,231 ledger lines (70 % exact references, 20 % date and amount drift
// inside the rules' windows and tolerance, 5 % groups, 3 % netted Stripe
// payouts, 2 % noise), so both sides are at least the issue's 100,000.
//
// Setup, untimed (each phase's duration is reported): a ledger with its
// accounts and the bank account on its ledger account, the matching rules
// (PUT /bank-accounts/{id}/matching-rules), the statement lines imported as
// one CSV (POST /bank-accounts/{id}/statements), the ledger lines posted as
// 2-line journal entries (POST /ledgers/{id}/journal-entries, 32 in flight),
// then a wait until the summary shows both sides whole.
//
// Timed: POST /bank-accounts/{id}/reconciliation-runs `{}`, then
// GET /reconciliation-runs/{runId}?minPosition=<the run's position> until it
// answers with the run's confirmed and suggested counts, then the first page
// of GET /bank-accounts/{id}/matches?status=confirmed and ?status=suggested
// with the same minPosition (read-your-writes: a query waits for the read
// model to reach the position, else 503 READ_MODEL_BEHIND, and the bench
// asks again). Target: <= 30 s from the first byte of the run request to
// those pages. Then GET /bank-accounts/{id}/summary?minPosition=…, timed
// from the same start but outside the target, and given up on after
// SUMMARY_WAIT_MS (its plan depends on match_items' statistics: see
// BENCHMARKS.md).
//
// Beside it, limits from the same run, interleaved (before the run and after
// it; the best counts): the open items read back from PostgreSQL by the
// production reader (PostgresMatchItemReader, what the run reads) and
// proposeMatches over those items in this process (what the run computes),
// so the figure is also a ratio. Then, untimed: every match read back through
// the API and checked against the summary and the designed matches (recall,
// false confirmations), the time until every projection (the case files, the
// write-off process manager) has caught up, the server's peak RSS during the
// run and over its life, and the CPU other programs used meanwhile.
//
// `node --import tsx bench/match-api.ts` (full run: writes
// bench/results/match-api.json); `--lines 10000` is a smoke run (10,000
// designed units; results to a temporary file, not comparable to the
// target). The server's heap limit is `npm start`'s (TRUEUP_HEAP_MB, default
// 320 MB); set TRUEUP_HEAP_MB in the bench's environment to run it with
// another, and BENCH_SERVER_NODE_FLAGS for e.g. `--cpu-prof`. `--analyze`
// runs ANALYZE after the setup (results: bench/results/match-api-analyze.json).
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { z } from "zod";
import type { MatchingRules } from "@trueup/contracts";
import { PostgresMatchItemReader } from "@trueup/command-side";
import { ledgerProjection, reconciliationProjection } from "@trueup/projections";
import { proposeMatches } from "../command-side/src/reconciliation/matching/engine.ts";
import type { ExternalItem, InternalItem, MatchResult } from "../command-side/src/reconciliation/matching/types.ts";
import { RUN_LIMITS } from "../command-side/src/reconciliation/matches/run.ts";
import { connectionString, startBenchPostgres } from "./lib/bench-postgres.ts";
import { TICKS_PER_SECOND, cpuSnapshot } from "./lib/cpu-usage.ts";
import { peakRssBytes, startIngestServer, startNodeFlags, stopIngestServer } from "./lib/ingest-platform.ts";
import type { IngestServer } from "./lib/ingest-platform.ts";
import { MachineLoad } from "./lib/machine-load.ts";
import { generateBooks } from "./lib/match-books.ts";
import type { Books } from "./lib/match-books.ts";
import { BANK_LEDGER_ACCOUNT, designedOnPlatform, writeStatementCsv } from "./lib/match-api-books.ts";
import { CATEGORIES, quality, readAllMatches } from "./lib/match-api-check.ts";
import type { Quality } from "./lib/match-api-check.ts";
import { ApiClient, isConnectionCut, laterPosition } from "./lib/match-api-http.ts";
import type { JsonAnswer } from "./lib/match-api-http.ts";
import { PgActivitySampler } from "./lib/pg-activity.ts";
import { RssSampler } from "./lib/rss-sampler.ts";
import { POSTING_CONCURRENCY, importStatement, postLedgerLines, prepareAccount, summarySchema, waitForBothSides } from "./lib/match-api-setup.ts";
import type { Summary, Target } from "./lib/match-api-setup.ts";
import { waitForProjections } from "./lib/platform-server.ts";
import { atLeast, formatTable, info, writeResults } from "./lib/results.ts";
import type { Figure } from "./lib/results.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const FULL_LINES = 100_000;
const LINES_MIN = 100;
const TARGETS = { queryableSecondsMax: 30, recallPercentMin: 99 } as const;
/** The matching bench's seed (bench/match.ts): the same books, so the engine's figures compare. */
const BOOKS_SEED = 20_260_101;
/** Limit rounds: one before the run, one after it (over the same items); the faster counts. */
const LIMIT_ROUNDS = 2;
/** How long the run request may take to answer; far above the target, so a slow run is measured rather than cut. */
const RUN_ANSWER_WAIT_MS = 15 * 60_000;
/** Attempts of the run request with its one Idempotency-Key (each cut after the server's 10 s idle timeout at the most). */
const RUN_ATTEMPTS_MAX = 200;
const RUN_IDEMPOTENCY_KEY = "bench-match-api-run";
/** A page of matches as the query side allows at most. */
const MATCHES_PAGE_SIZE = 500;
/** How long the bench waits for the summary after the run (each attempt is cut by the server after 10 s silent, and its query by the 30 s statement timeout). */
const SUMMARY_WAIT_MS = 3 * 60_000;
/** How long the run's matches may take to become queryable after its answer. */
const QUERYABLE_WAIT_MS = 10 * 60_000;
/** A query with minPosition waits up to 5 s on the server (RECONCILIATION_QUERY_LIMITS) before a 503; the bench asks again after this pause. */
const QUERYABLE_RETRY_MS = 20;
const QUERY_WAIT_MS = 60_000;
const SERVER_RSS_SAMPLE_MS = 100;
/** Above this much CPU used by other programs during a phase, the run warns that its figures are skewed. */
const OTHER_LOAD_WARN_CORES = 0.25;
/** Connections the bench's own reader opens (the run's reader reads both sides at once: 2). */
const READER_POOL_MAX = 2;

const log = (message: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
};
const count = (n: number): string => n.toLocaleString("en-US");
const seconds = (ms: number): number => ms / 1000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function atMost(name: string, value: number, unit: string, maximum: number): Figure {
  return { name, value, unit, target: `<= ${maximum}`, pass: value <= maximum };
}

function exactly(name: string, value: number, unit: string, expected: number): Figure {
  return { name, value, unit, target: `= ${expected}`, pass: value === expected };
}

function options(): { lines: number; analyze: boolean } {
  const { values } = parseArgs({ options: { lines: { type: "string" }, analyze: { type: "boolean" } }, strict: true });
  const lines = values.lines === undefined ? FULL_LINES : Number(values.lines);
  if (!Number.isInteger(lines) || lines < LINES_MIN || lines > FULL_LINES) throw new RangeError(`--lines must be a whole number from ${LINES_MIN} to ${count(FULL_LINES)}, got ${values.lines}`);
  return { lines, analyze: values.analyze === true };
}

/** The server's V8 old-space limit as `npm start` passes it, in MB (NaN if the flag is absent). */
function serverHeapMb(): number {
  const flag = startNodeFlags({}).find((f) => f.startsWith("--max-old-space-size="));
  return flag === undefined ? Number.NaN : Number(flag.split("=")[1]);
}

// ---- The limits: what the run's read and the engine cost, in this process. ----

interface Items {
  readonly external: ExternalItem[];
  readonly internal: InternalItem[];
}

async function readItems(reader: PostgresMatchItemReader, target: Target, load: MachineLoad): Promise<{ items: Items; elapsedMs: number }> {
  const window = { from: null, to: null, itemsMax: RUN_LIMITS.itemsPerSideMax };
  load.begin();
  const started = performance.now();
  // Both sides at once, as runReconciliation reads them.
  const [external, internal] = await Promise.all([reader.runExternal(target.bankAccountId, window), reader.runInternal(target.ledgerId, BANK_LEDGER_ACCOUNT, window)]);
  const elapsedMs = performance.now() - started;
  load.end("read");
  return { items: { external, internal }, elapsedMs };
}

function engine(items: Items, rules: MatchingRules, load: MachineLoad): { result: MatchResult; elapsedMs: number } {
  load.begin();
  const started = performance.now();
  const result = proposeMatches({ external: items.external, internal: items.internal, rules });
  const elapsedMs = performance.now() - started;
  load.end("engine");
  return { result, elapsedMs };
}

interface LimitRound {
  readonly readMs: number;
  readonly engineMs: number;
  readonly items: { readonly external: number; readonly internal: number };
  readonly proposals: Readonly<Record<string, number>>;
  readonly autoConfirm: number;
}

async function limitRound(reader: PostgresMatchItemReader, target: Target, rules: MatchingRules, load: MachineLoad): Promise<LimitRound> {
  const read = await readItems(reader, target, load);
  const run = engine(read.items, rules, load);
  log(`limit: read ${count(read.items.external.length)} + ${count(read.items.internal.length)} items in ${read.elapsedMs.toFixed(0)} ms; proposeMatches ${run.elapsedMs.toFixed(0)} ms (${count(run.result.proposals.length)} proposals)`);
  return {
    readMs: read.elapsedMs,
    engineMs: run.elapsedMs,
    items: { external: read.items.external.length, internal: read.items.internal.length },
    proposals: { ...run.result.counts.proposals },
    autoConfirm: run.result.counts.autoConfirm,
  };
}

// ---- The timed run. ----

const runAnswerSchema = z.looseObject({
  runId: z.string(),
  items: z.object({ external: z.number(), internal: z.number() }),
  proposals: z.record(z.string(), z.number()),
  autoConfirmed: z.number(),
  suggested: z.number(),
  ambiguous: z.number(),
  conflicts: z.number(),
  bounds: z.array(z.looseObject({ bound: z.string(), times: z.number(), detail: z.string() })),
  position: z.string().nullable(),
});
type RunAnswer = z.infer<typeof runAnswerSchema>;
const matchesPageSchema = z.looseObject({ items: z.array(z.unknown()) });
const runReadSchema = z.looseObject({ runId: z.string(), now: z.array(z.object({ kind: z.string(), status: z.string(), count: z.number() })) });
type RunRead = z.infer<typeof runReadSchema>;

interface TimedRun {
  readonly answer: RunAnswer;
  readonly run: RunRead;
  /** Undefined when it did not answer within SUMMARY_WAIT_MS. */
  readonly summary: Summary | undefined;
  /** From the run request's first byte: its answer, the run readable, its matches listed (the target), the summary readable (NaN: not within SUMMARY_WAIT_MS). */
  readonly answerMs: number;
  /** When the server closed an attempt's connection without an answer, from the first byte. */
  readonly cuts: readonly number[];
  /** The same for the GETs until queryable. */
  readonly queryCuts: readonly number[];
  /** The same for the summary. */
  readonly summaryCuts: readonly number[];
  readonly runQueryableMs: number;
  readonly matchesQueryableMs: number;
  readonly summaryQueryableMs: number;
  readonly runPeakRssBytes: number;
  readonly serverCpuS: number;
  readonly postgresCpuS: number;
  readonly otherCores: number;
  readonly startedAt: string;
  readonly endedAt: string;
  /** performance.now() - start at the end of the timed phase (the summary's answer, or giving up on it). */
  readonly endedAtMs: number;
}

/**
 * GETs `path` until it answers 200: a 503 (the read model not yet at
 * minPosition) is asked again, and so is a connection the server closed
 * without an answer (its 10 s idle timeout; counted in `cuts`); anything
 * else fails.
 */
async function untilQueryable(client: ApiClient, path: string, deadline: number, cuts: number[], started: number): Promise<unknown> {
  for (;;) {
    let answer: JsonAnswer;
    try {
      answer = await client.get(path, QUERY_WAIT_MS);
    } catch (error) {
      if (!isConnectionCut(error) || performance.now() > deadline) throw error;
      cuts.push(performance.now() - started);
      log(`timed: the server closed the connection of ${path.slice(0, 60)}… without an answer, ${((performance.now() - started) / 1000).toFixed(1)} s after the run request; asking again`);
      continue;
    }
    if (answer.status === 200) return answer.body;
    if (answer.status !== 503) throw new Error(`GET ${path}: ${answer.status} ${answer.text.slice(0, 2_000)}`);
    if (performance.now() > deadline) throw new Error(`GET ${path} was still answering 503 after ${QUERYABLE_WAIT_MS} ms: ${answer.text.slice(0, 500)}`);
    await sleep(QUERYABLE_RETRY_MS);
  }
}

/** How long a cut connection may precede the server's exit being visible (the child's exit event). */
const EXIT_NOTICE_MS = 500;

/** Fails the bench, saying so, when the server process is gone (a cut connection may be its death: a heap OOM, a crash). */
async function exitedMeanwhile(server: IngestServer, started: number, waitMs: number): Promise<void> {
  if (waitMs > 0 && server.child.exitCode === null && server.child.signalCode === null) await sleep(waitMs);
  if (server.child.exitCode === null && server.child.signalCode === null) return;
  throw new Error(`the server exited (code ${server.child.exitCode}, signal ${server.child.signalCode}) ${((performance.now() - started) / 1000).toFixed(1)} s after the run request; its last words are on stderr above (e.g. "FATAL ERROR: Reached heap limit": TRUEUP_HEAP_MB is ${serverHeapMb()} MB)`);
}

/**
 * POST the run, and the same Idempotency-Key again whenever the server cuts
 * the connection before it answers (a run silent longer than the server's
 * idle timeout, HTTP_LIMITS.connectionTimeoutMs: the run goes on, and the key
 * answers it once it is done) or answers 409 CONCURRENCY_CONFLICT (the first
 * attempt still holds the key). The answer's time is when an attempt got it.
 */
async function postRun(client: ApiClient, server: IngestServer, path: string, started: number): Promise<{ answer: JsonAnswer; cuts: number[] }> {
  const deadline = started + RUN_ANSWER_WAIT_MS;
  const cuts: number[] = [];
  for (let attempt = 1; attempt <= RUN_ATTEMPTS_MAX; attempt++) {
    await exitedMeanwhile(server, started, 0);
    const timeoutMs = Math.max(1, Math.round(deadline - performance.now()));
    try {
      const answer = await client.request("POST", path, { body: {}, idempotencyKey: RUN_IDEMPOTENCY_KEY, timeoutMs, ownConnection: true });
      if (answer.status === 409 && answer.text.includes("CONCURRENCY_CONFLICT")) continue;
      return { answer, cuts };
    } catch (error) {
      // A refused connection after a cut is the server gone: wait for its exit to say so.
      await exitedMeanwhile(server, started, isConnectionCut(error) ? 0 : EXIT_NOTICE_MS);
      if (!isConnectionCut(error) || performance.now() > deadline) throw error;
      cuts.push(performance.now() - started);
      log(`timed: the server closed the run request's connection without an answer after ${((performance.now() - started) / 1000).toFixed(1)} s (attempt ${attempt}); sending the same Idempotency-Key again`);
    }
  }
  throw new Error(`no answer to the run after ${RUN_ATTEMPTS_MAX} attempts`);
}

function nowCount(run: RunRead, status: string): number {
  return run.now.filter((n) => n.status === status).reduce((sum, n) => sum + n.count, 0);
}

async function timedRun(client: ApiClient, server: IngestServer, target: Target, load: MachineLoad, postgresPid: () => number | undefined): Promise<TimedRun> {
  const account = encodeURIComponent(target.bankAccountId);
  const rss = RssSampler.ofProcess(server.pid, SERVER_RSS_SAMPLE_MS);
  const startedAt = new Date().toISOString();
  rss.start();
  load.begin();
  const cpuBefore = { server: cpuSnapshot(server.pid), postgres: cpuSnapshot(postgresPid()) };
  const started = performance.now();
  const { answer: posted, cuts } = await postRun(client, server, `/bank-accounts/${account}/reconciliation-runs`, started);
  const answerMs = performance.now() - started;
  if (posted.status !== 201) {
    rss.stop();
    load.end("run");
    throw new Error(`POST reconciliation-runs answered ${posted.status} after ${answerMs.toFixed(0)} ms: ${posted.text.slice(0, 4_000)}`);
  }
  const answer = runAnswerSchema.parse(posted.body);
  if (answer.position === null) throw new Error(`the run's answer has no position: ${posted.text.slice(0, 2_000)}`);
  const deadline = performance.now() + QUERYABLE_WAIT_MS;
  const minPosition = `minPosition=${answer.position}`;
  log(`timed: run answered after ${(answerMs / 1000).toFixed(2)} s`);
  const queryCuts: number[] = [];
  const run = runReadSchema.parse(await untilQueryable(client, `/reconciliation-runs/${encodeURIComponent(answer.runId)}?${minPosition}`, deadline, queryCuts, started));
  const runQueryableMs = performance.now() - started;
  log(`timed: GET run answered ${(runQueryableMs / 1000).toFixed(2)} s after the run request`);
  for (const status of ["confirmed", "suggested"] as const) {
    const page = matchesPageSchema.parse(await untilQueryable(client, `/bank-accounts/${account}/matches?status=${status}&limit=${MATCHES_PAGE_SIZE}&${minPosition}`, deadline, queryCuts, started));
    const expected = Math.min(MATCHES_PAGE_SIZE, status === "confirmed" ? answer.autoConfirmed : answer.suggested);
    assert.equal(page.items.length, expected, `GET matches?status=${status}: a first page of ${page.items.length}, expected ${expected}`);
  }
  const matchesQueryableMs = performance.now() - started;
  log(`timed: first pages of confirmed and suggested matches ${(matchesQueryableMs / 1000).toFixed(2)} s after the run request`);
  // CPU and other load up to the target's end; the summary's wait below would only dilute them.
  const cpuAfter = { server: cpuSnapshot(server.pid), postgres: cpuSnapshot(postgresPid()) };
  const otherCores = load.end("run");
  const endedAt = new Date().toISOString();
  const summaryCuts: number[] = [];
  let summary: Summary | undefined;
  let summaryQueryableMs = Number.NaN;
  try {
    summary = summarySchema.parse(await untilQueryable(client, `/bank-accounts/${account}/summary?${minPosition}`, performance.now() + SUMMARY_WAIT_MS, summaryCuts, started));
    summaryQueryableMs = performance.now() - started;
  } catch (error) {
    log(`timed: the summary did not answer within ${SUMMARY_WAIT_MS} ms: ${error instanceof Error ? error.message : String(error)}`);
  }
  const runPeakRssBytes = rss.stop();
  // The read model at the run's position holds all of the run: its counts now are the answer's.
  assert.equal(nowCount(run, "confirmed"), answer.autoConfirmed, "GET run: confirmed matches now ≠ the run's autoConfirmed");
  assert.equal(nowCount(run, "suggested"), answer.suggested, "GET run: suggested matches now ≠ the run's suggested");
  const cpu = (which: "server" | "postgres"): number => (cpuAfter[which].serverTicks - cpuBefore[which].serverTicks) / TICKS_PER_SECOND;
  return {
    answer, run, summary, answerMs, cuts, queryCuts, summaryCuts, runQueryableMs, matchesQueryableMs, summaryQueryableMs, runPeakRssBytes,
    serverCpuS: cpu("server"), postgresCpuS: cpu("postgres"), otherCores, startedAt, endedAt, endedAtMs: performance.now() - started,
  };
}

/** The summary, untimed, for the consistency check when it did not answer in the timed phase: up to SUMMARY_WAIT_MS more. */
async function waitForSummary(client: ApiClient, target: Target): Promise<Summary | undefined> {
  try {
    return summarySchema.parse(await untilQueryable(client, `/bank-accounts/${encodeURIComponent(target.bankAccountId)}/summary`, performance.now() + SUMMARY_WAIT_MS, [], performance.now()));
  } catch (error) {
    log(`the summary did not answer within another ${SUMMARY_WAIT_MS} ms: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

// ---- Setup. ----

interface Setup {
  readonly target: Target;
  readonly prepareMs: number;
  readonly csvMs: number;
  readonly csvBytes: number;
  readonly importMs: number;
  readonly postingsMs: number;
  readonly postingRetries: number;
  readonly catchUpMs: number;
}

async function setUp(client: ApiClient, books: Books, folder: string, load: MachineLoad): Promise<Setup> {
  let started = performance.now();
  const target = await prepareAccount(client, books.rules);
  const prepareMs = performance.now() - started;
  started = performance.now();
  const csv = await writeStatementCsv(books.external, path.join(folder, "statement.csv"));
  const csvMs = performance.now() - started;
  log(`setup: account and rules in ${prepareMs.toFixed(0)} ms; CSV of ${count(csv.lines)} lines (${(csv.bytes / 1024 / 1024).toFixed(1)} MiB) in ${csvMs.toFixed(0)} ms`);
  load.begin();
  const imported = await importStatement(client, target, { path: path.join(folder, "statement.csv"), lines: csv.lines });
  load.end("import");
  log(`setup: imported ${count(csv.lines)} lines in ${(imported.answerMs / 1000).toFixed(1)} s`);
  load.begin();
  const posted = await postLedgerLines(client, target, books.internal);
  load.end("postings");
  log(`setup: posted ${count(books.internal.length)} entries in ${(posted.elapsedMs / 1000).toFixed(1)} s (${posted.retries} retries)`);
  started = performance.now();
  const summary = await waitForBothSides(client, target, { external: books.external.length, internal: books.internal.length, position: laterPosition(imported.position, posted.position) });
  const catchUpMs = performance.now() - started;
  log(`setup: read models caught up in ${(catchUpMs / 1000).toFixed(1)} s: ${count(summary.external.total)} statement lines, ${count(summary.internal.total)} ledger lines, all unmatched: ${summary.external.unmatched === summary.external.total && summary.internal.unmatched === summary.internal.total}`);
  return { target, prepareMs, csvMs, csvBytes: csv.bytes, importMs: imported.answerMs, postingsMs: posted.elapsedMs, postingRetries: posted.retries, catchUpMs };
}

// ---- Figures. ----

interface Measured {
  readonly lines: number;
  /** How long the --analyze ANALYZE took; NaN without it. */
  readonly analyzeMs: number;
  readonly books: Books;
  readonly generateMs: number;
  readonly setup: Setup;
  readonly limits: readonly LimitRound[];
  readonly run: TimedRun;
  readonly allCaughtUpMs: number;
  readonly readBack: { readonly pages: number; readonly elapsedMs: number; readonly matches: number };
  readonly quality: Quality;
  readonly lifetimePeakRssBytes: number;
  readonly heapMb: number;
}

function sameProposals(first: LimitRound, answer: RunAnswer): boolean {
  const kinds = new Set([...Object.keys(first.proposals), ...Object.keys(answer.proposals)]);
  return [...kinds].every((k) => (first.proposals[k] ?? 0) === (answer.proposals[k] ?? 0)) && first.autoConfirm === answer.autoConfirmed && answer.conflicts === 0;
}

function figures(m: Measured): Figure[] {
  const { run, setup, quality: q } = m;
  const what = `${count(m.books.external.length)} statement lines × ${count(m.books.internal.length)} ledger lines${Number.isNaN(m.analyzeMs) ? "" : ", ANALYZE after setup"}`;
  const readBestMs = Math.min(...m.limits.map((l) => l.readMs));
  const engineBestMs = Math.min(...m.limits.map((l) => l.engineMs));
  const first = m.limits[0];
  assert(first !== undefined);
  const statusKinds = [...q.byStatusKind.entries()].sort(([a], [b]) => a.localeCompare(b));
  return [
    atMost(`${what}: run request to matches queryable (POST run → GET run and first pages of confirmed and suggested matches, ?minPosition)`, seconds(run.matchesQueryableMs), "s", TARGETS.queryableSecondsMax),
    info(`${what}: of which the run request (POST → 201)`, seconds(run.answerMs), "s"),
    info(`${what}: run request: connections the server closed without an answer (same key sent again)`, run.cuts.length, "times"),
    ...(run.cuts.length === 0 ? [] : [info(`${what}: run request: first connection closed without an answer after`, seconds(run.cuts[0] ?? Number.NaN), "s")]),
    info(`${what}: GETs until queryable: connections the server closed without an answer (asked again)`, run.queryCuts.length, "times"),
    info(`${what}: of which answer → GET /reconciliation-runs/{id}?minPosition answers`, seconds(run.runQueryableMs - run.answerMs), "s"),
    info(`${what}: of which → first pages of matches answer`, seconds(run.matchesQueryableMs - run.runQueryableMs), "s"),
    info(`${what}: run request to GET summary?minPosition answers (not the target; NaN: not within ${SUMMARY_WAIT_MS / 1000} s)`, seconds(run.summaryQueryableMs), "s"),
    info(`${what}: GET summary: connections the server closed without an answer (asked again)`, run.summaryCuts.length, "times"),
    info(`${what}: limit: open items read back from PostgreSQL (PostgresMatchItemReader, both sides, best of ${m.limits.length})`, seconds(readBestMs), "s"),
    info(`${what}: limit: proposeMatches over those items in the bench process (best of ${m.limits.length})`, seconds(engineBestMs), "s"),
    info(`${what}: limit: read + engine`, seconds(readBestMs + engineBestMs), "s"),
    info(`${what}: end to end / (read + engine)`, run.matchesQueryableMs / (readBestMs + engineBestMs), "x"),
    info(`${what}: run request / (read + engine)`, run.answerMs / (readBestMs + engineBestMs), "x"),
    exactly(`${what}: the run proposed what the engine proposes in-process (counts by kind, autoConfirm; no conflicts)`, sameProposals(first, run.answer) ? 1 : 0, "", 1),
    info(`${what}: server peak RSS during the timed run (VmRSS sampled every ${SERVER_RSS_SAMPLE_MS} ms)`, run.runPeakRssBytes / 1024 / 1024, "MB"),
    info(`${what}: server peak RSS over its life, setup included (VmHWM)`, m.lifetimePeakRssBytes / 1024 / 1024, "MB"),
    info(`${what}: server heap limit (--max-old-space-size, TRUEUP_HEAP_MB)`, m.heapMb, "MB"),
    info(`${what}: CPU of the server process during the timed run`, run.serverCpuS, "s"),
    info(`${what}: CPU of PostgreSQL (all backends) during the timed run`, run.postgresCpuS, "s"),
    info(`${what}: other load on the machine during the timed run`, run.otherCores, "cores"),
    info(`${what}: run read items, external`, run.answer.items.external, "items"),
    info(`${what}: run read items, internal`, run.answer.items.internal, "items"),
    ...Object.entries(run.answer.proposals).map(([kind, n]) => info(`${what}: run proposals ${kind}`, n, "proposals")),
    info(`${what}: run autoConfirmed`, run.answer.autoConfirmed, "matches"),
    info(`${what}: run suggested`, run.answer.suggested, "matches"),
    info(`${what}: run ambiguous`, run.answer.ambiguous, "proposals"),
    info(`${what}: run conflicts`, run.answer.conflicts, "proposals"),
    info(`${what}: run bounds hit`, run.answer.bounds.reduce((sum, b) => sum + b.times, 0), "times"),
    ...statusKinds.map(([key, n]) => info(`${what}: matches listed, ${key}`, n, "matches")),
    ...(["external", "internal"] as const).flatMap((side) =>
      (["matched", "suggested", "unmatched"] as const).map((status) => info(`${what}: summary, ${side} items ${status}`, run.summary?.[side][status] ?? Number.NaN, "items")),
    ),
    atLeast(`${what}: recall (designed matches listed with exactly their items)`, q.recallPercent, "%", TARGETS.recallPercentMin),
    ...CATEGORIES.map((c) => info(`${what}: recall, ${c} (${count(q.designed[c])} designed)`, (100 * q.found[c]) / Math.max(1, q.designed[c]), "%")),
    exactly(`${what}: false confirmations (confirmed, not a designed match)`, q.falseConfirmations, "matches", 0),
    info(`${what}: live matches that are not designed ones`, q.undesigned, "matches"),
    exactly(`${what}: disagreements between the listed matches and the summary`, q.inconsistencies.length, "", 0),
    info(`${what}: run answer → every projection caught up (cases, write-offs too)`, seconds(m.allCaughtUpMs), "s"),
    info(`${what}: every match read back through the API (${m.readBack.pages} pages of 500)`, seconds(m.readBack.elapsedMs), "s"),
    info(`${what}: setup: generate the books`, seconds(m.generateMs), "s"),
    info(`${what}: setup: ledger, accounts, bank account, CSV profile, rules`, seconds(setup.prepareMs), "s"),
    info(`${what}: setup: write the CSV (${(setup.csvBytes / 1024 / 1024).toFixed(1)} MiB)`, seconds(setup.csvMs), "s"),
    info(`${what}: setup: import the CSV (upload → answer)`, seconds(setup.importMs), "s"),
    info(`${what}: setup: post the journal entries (${POSTING_CONCURRENCY} in flight, ${setup.postingRetries} retries)`, seconds(setup.postingsMs), "s"),
    info(`${what}: setup: postings rate`, (m.books.internal.length * 1000) / setup.postingsMs, "entries/s"),
    info(`${what}: setup: until the summary shows both sides whole`, seconds(setup.catchUpMs), "s"),
    ...(Number.isNaN(m.analyzeMs) ? [] : [info(`${what}: setup: ANALYZE (--analyze)`, seconds(m.analyzeMs), "s")]),
  ];
}

// ---- Main. ----

async function measure(options: { lines: number; analyze: boolean; folder: string; databaseUrl: string; load: MachineLoad; postgresPid: () => number | undefined }): Promise<Measured> {
  const { lines, load } = options;
  let started = performance.now();
  const books = generateBooks({ pairs: lines, seed: BOOKS_SEED });
  const generateMs = performance.now() - started;
  log(`generated ${count(lines)} units in ${(generateMs / 1000).toFixed(1)} s: ${count(books.external.length)} statement lines, ${count(books.internal.length)} ledger lines, ${count(books.designed.length)} designed matches`);
  const designed = designedOnPlatform(books.external, books.designed);
  const server = await startIngestServer({ DATABASE_URL: options.databaseUrl });
  load.watch(server.pid);
  const client = new ApiClient(server.url, { socketsMax: POSTING_CONCURRENCY });
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: READER_POOL_MAX, idleTimeoutMillis: 10_000, connectionTimeoutMillis: 10_000 });
  try {
    const setup = await setUp(client, books, options.folder, load);
    let analyzeMs = Number.NaN;
    if (options.analyze) {
      // --analyze: statistics for every table as a database that has run a while has them (autovacuum's
      // analyze comes within a minute or so of the setup's writes; the run would otherwise race it).
      const analyzeStarted = performance.now();
      await pool.query("ANALYZE");
      analyzeMs = performance.now() - analyzeStarted;
      log(`setup: ANALYZE in ${analyzeMs.toFixed(0)} ms`);
    }
    const reader = new PostgresMatchItemReader(pool, { reconciliation: reconciliationProjection.schemaName, ledger: ledgerProjection.schemaName });
    const limits: LimitRound[] = [await limitRound(reader, setup.target, books.rules, load)];
    log(`timed: POST /bank-accounts/${setup.target.bankAccountId}/reconciliation-runs …`);
    // BENCH_PG_ACTIVITY=1: what PostgreSQL's backends do during the timed phase (printed, not a figure).
    const activity = process.env.BENCH_PG_ACTIVITY === "1" ? new PgActivitySampler(pool) : undefined;
    activity?.start();
    const run = await timedRun(client, server, setup.target, load, options.postgresPid);
    const profile = activity?.stop();
    if (profile !== undefined) {
      log(`PostgreSQL activity during the timed phase: ${profile.samples} samples of 50 ms; backend-samples by application | wait | statement:`);
      for (const { key, count: n } of profile.top) log(`  ${String(n).padStart(6)}  ${key}`);
    }
    log(`timed: answer after ${(run.answerMs / 1000).toFixed(2)} s (${count(run.answer.autoConfirmed)} confirmed, ${count(run.answer.suggested)} suggested, ${run.answer.conflicts} conflicts); run queryable at ${(run.runQueryableMs / 1000).toFixed(2)} s, its matches at ${(run.matchesQueryableMs / 1000).toFixed(2)} s, summary at ${(run.summaryQueryableMs / 1000).toFixed(2)} s`);
    started = performance.now();
    await waitForProjections(server.url, log);
    const allCaughtUpMs = performance.now() - started + (run.endedAtMs - run.answerMs);
    const readBack = await readAllMatches(client, setup.target.bankAccountId);
    const q = quality({ matches: readBack.matches, runId: run.answer.runId, designed, summary: run.summary ?? (await waitForSummary(client, setup.target)) });
    for (const problem of q.inconsistencies) log(`inconsistent: ${problem}`);
    limits.push(await limitRound(reader, setup.target, books.rules, load));
    for (let round = limits.length; round < LIMIT_ROUNDS; round++) limits.push(await limitRound(reader, setup.target, books.rules, load));
    return {
      lines, analyzeMs, books, generateMs, setup, limits, run, allCaughtUpMs,
      readBack: { pages: readBack.pages, elapsedMs: readBack.elapsedMs, matches: readBack.matches.length },
      quality: q, lifetimePeakRssBytes: peakRssBytes(server.pid), heapMb: serverHeapMb(),
    };
  } catch (error) {
    // Said before the server is stopped: its shutdown waits for a run in progress (up to 15 s).
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    throw error;
  } finally {
    client.close();
    await pool.end();
    await stopIngestServer(server);
    load.unwatch(server.pid);
  }
}

async function main(): Promise<void> {
  const { lines, analyze } = options();
  const full = lines === FULL_LINES;
  const started = performance.now();
  if (!full) log(`--lines ${lines}: a smoke run; its figures are not comparable to the target`);
  const folder = await mkdtemp(path.join(tmpdir(), "trueup-match-api-"));
  const postgres = await startBenchPostgres({ database: "trueup" });
  const load = new MachineLoad(() => [postgres.serverPid()]);
  const onSignal = (): void => {
    void Promise.allSettled([postgres.dispose(), rm(folder, { recursive: true, force: true })]).finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let measured: Measured;
  try {
    const databaseUrl = connectionString(await postgres.createDatabase("match_api"));
    measured = await measure({ lines, analyze, folder, databaseUrl, load, postgresPid: () => postgres.serverPid() });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await postgres.dispose();
    await rm(folder, { recursive: true, force: true });
  }
  const list = [...figures(measured), info("other load on the machine during a phase (max)", load.otherCoresMax, "cores")];
  const elapsed = ((performance.now() - started) / 1000).toFixed(0);
  process.stdout.write(`\nMatching end to end through the API, ${new Date().toISOString().slice(0, 10)}, timed run ${measured.run.startedAt.slice(11, 19)}–${measured.run.endedAt.slice(11, 19)} UTC, ${elapsed} s in all${full ? "" : ` (--lines ${lines}: not comparable to the target)`}\n\n`);
  process.stdout.write(`${formatTable(list)}\n`);
  if (load.otherCoresMax > OTHER_LOAD_WARN_CORES) {
    process.stdout.write(`\nWARNING: other programs used up to ${load.otherCoresMax.toFixed(2)} of the machine's cores during a phase; the figures are skewed by that load: re-run on a quiet machine.\n`);
  }
  const file = full ? path.join(ROOT, `bench/results/match-api${analyze ? "-analyze" : ""}.json`) : path.join(tmpdir(), `trueup-match-api-bench-${lines}${analyze ? "-analyze" : ""}.json`);
  await writeResults(file, list);
  log(`wrote ${file}`);
}

await main();
