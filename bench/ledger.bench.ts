// Ledger benchmark (issues #3 and #8), one run against a fresh embedded
// PostgreSQL with durable settings (fsync on). Every figure has an absolute
// target and, beside it, a ratio against a limit measured in the same run on
// the same machine, interleaved with it, so a slower stretch of this shared
// VM moves the figure and its limit alike (the absolute figures swung about
// 3x between runs of the same code). Other programs' load is another matter:
// it takes more from CPU-bound work (postings) than from its limits, so the
// run measures it and warns; see BENCHMARKS.md, "Other load".
// 1. HTTP posting of 2-line entries with idempotency keys, 64 concurrent
//    clients, against the platform running in its own process (as deployed).
//    Limits: the same server's GET /health (the HTTP ceiling) and the event
//    store's own group-committed append of the same events, 64 writers.
// 2. Rebuild of the ledger projection from position zero over 1,000,000
//    journal events. Limit: a plain COPY of the same rows into the same
//    read-model tables.
// 3. Trial balance over 10,000 accounts through the query API (p99).
//    Limit: the same balance rows read straight from the read model by pg.
// BENCH_SCALE=0.05 (or BENCH_QUICK=1) runs everything at that scale, as a
// smoke test: its results go to a temporary file, not bench/results/.
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import type { EventId, EventMetadata, JsonValue, StreamName } from "@trueup/contracts";
import { streamName } from "@trueup/contracts";
import { PostgresEventStore } from "@trueup/event-store";
import type { NewEvent } from "@trueup/event-store";
import { ledgerProjection, rebuildProjection, reconciliationProjection } from "@trueup/projections";
import { connectionString, startBenchPostgres } from "./lib/bench-postgres.ts";
import { measurePostings, sampleP, sampleRate } from "./lib/ledger-postings.ts";
import type { PostingsLimits } from "./lib/ledger-postings.ts";
import { measureRebuild } from "./lib/ledger-rebuild.ts";
import { measureTrial, trialP } from "./lib/ledger-trial.ts";
import type { TrialLimits } from "./lib/ledger-trial.ts";
import { MachineLoad } from "./lib/machine-load.ts";
import { startPlatform, stopPlatform } from "./lib/platform-server.ts";
import { atLeast, below, formatTable, info, writeResults } from "./lib/results.ts";
import type { Figure } from "./lib/results.ts";
import { benchScale, scaled } from "./lib/scale.ts";
import { perSecond } from "./lib/timing.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const SCALE = benchScale();
const FULL = SCALE === 1;

const POSTINGS: PostingsLimits = {
  connections: 64,
  warmupSeconds: scaled(5, SCALE, { min: 1 }),
  rounds: 2,
  postingSeconds: scaled(10, SCALE, { min: 1 }),
  healthSeconds: scaled(5, SCALE, { min: 1 }),
  appendSeconds: scaled(5, SCALE, { min: 1 }),
};
const LIMITS = {
  /** Events per append while writing the logs the rebuild and the trial balance read. */
  appendBatch: 1_000,
  rebuildEvents: scaled(1_000_000, SCALE, { min: 10_000, step: 1_000 }),
  /** Rebuild and COPY each run this many times, interleaved (rebuild, COPY; COPY, rebuild). */
  rebuildRounds: 2,
} as const;
const TRIAL: TrialLimits = {
  accounts: scaled(10_000, SCALE, { min: 1_000, step: 1_000 }),
  warmupRequests: 10,
  requests: scaled(300, SCALE, { min: 30 }),
};

/**
 * Absolute targets (issue #3) and ratio targets (issue #8). The ratios sit
 * about 30 % below (above, for the trial balance) what the code achieved in
 * the first quiet full run (2026-12-01 22:44 UTC): see BENCHMARKS.md, "Ratio
 * targets". They fail when the code gets slower relative to the machine, not
 * when the machine is slow.
 */
const TARGETS = {
  postingsPerSecondMin: 3_000,
  postingP99MsMax: 50.000001,
  postingsVsHealthMin: 0.05,
  postingsVsAppendMin: 0.1,
  rebuildEventsPerSecondMin: 20_000,
  rebuildSecondsMax: 90.000001,
  rebuildVsCopyMin: 0.25,
  trialP99MsMax: 50.000001,
  trialP99VsSqlMax: 5.000001,
} as const;

/** Above this much CPU used by other programs during a turn, the run warns that its figures are skewed. */
const OTHER_LOAD_WARN_CORES = 0.25;

const log = (message: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
};
const count = (n: number): string => n.toLocaleString("en-US");

const metadata = (): EventMetadata => {
  const id = randomUUID();
  return { actor: "bench", correlationId: id, causationId: id, commandId: id, occurredAt: new Date().toISOString() };
};
const event = (type: string, data: JsonValue): NewEvent => ({ eventId: randomUUID() as EventId, type, schemaVersion: 1, data, metadata: metadata() });
const stream = (category: string, id: string): StreamName => streamName(category, id);

async function writeRebuildLog(store: PostgresEventStore): Promise<number> {
  await store.append(stream("ledger", "big"), [event("LedgerCreated", { ledgerId: "big", name: "Big", baseCurrency: "EUR" })], { expectedRevision: "no-stream" });
  const accounts = Array.from({ length: 20 }, (_, i) => event("AccountOpened", { ledgerId: "big", code: String(1000 + i), name: `A${i}`, type: "asset", currency: null }));
  await store.append(stream("ledger", "big"), accounts, { expectedRevision: 0n });
  let written = 0;
  while (written < LIMITS.rebuildEvents) {
    const month = String(1 + (Math.floor(written / LIMITS.appendBatch) % 12)).padStart(2, "0");
    const batch = Array.from({ length: LIMITS.appendBatch }, (_, i) => {
      const n = written + i;
      const amountMinor = String(1 + (n % 100_000));
      return event("JournalEntryPosted", {
        ledgerId: "big",
        entryId: `e${n}`,
        effectiveDate: `2026-${month}-${String(1 + (n % 28)).padStart(2, "0")}`,
        description: `entry ${n}`,
        externalReference: null,
        metadata: {},
        lines: [
          { accountCode: String(1000 + (n % 20)), side: "debit", amountMinor, currency: "EUR" },
          { accountCode: String(1000 + ((n + 7) % 20)), side: "credit", amountMinor, currency: "EUR" },
        ],
        reverses: null,
      });
    });
    await store.append(stream("period", `big:2026-${month}`), batch, { expectedRevision: "any" });
    written += batch.length;
  }
  // The ledger event and its accounts are in the log too: the rebuild replays them as well.
  return written + 1 + accounts.length;
}

async function writeTrialLedger(store: PostgresEventStore): Promise<void> {
  await store.append(stream("ledger", "tb"), [event("LedgerCreated", { ledgerId: "tb", name: "TB", baseCurrency: "EUR" })], { expectedRevision: "no-stream" });
  for (let first = 0; first < TRIAL.accounts; first += LIMITS.appendBatch) {
    const opened = Array.from({ length: LIMITS.appendBatch }, (_, i) => event("AccountOpened", { ledgerId: "tb", code: `A${first + i}`, name: `Account ${first + i}`, type: i % 2 === 0 ? "asset" : "liability", currency: null }));
    await store.append(stream("ledger", "tb"), opened, { expectedRevision: "any" });
  }
  for (let first = 0; first < TRIAL.accounts; first += LIMITS.appendBatch) {
    const entries = Array.from({ length: LIMITS.appendBatch }, (_, i) => {
      const n = first + i;
      return event("JournalEntryPosted", {
        ledgerId: "tb",
        entryId: `t${n}`,
        effectiveDate: "2026-01-31",
        description: "spread",
        externalReference: null,
        metadata: {},
        lines: [
          { accountCode: `A${n}`, side: "debit", amountMinor: String(100 + n), currency: "EUR" },
          { accountCode: `A${(n + 1) % TRIAL.accounts}`, side: "credit", amountMinor: String(100 + n), currency: "EUR" },
        ],
        reverses: null,
      });
    });
    await store.append(stream("period", "tb:2026-01"), entries, { expectedRevision: "any" });
  }
}

/** An event store on its own pool; as deployed, projection batches commit asynchronously (the log is the durable copy). */
async function withStore(config: pg.ClientConfig, run: (pool: pg.Pool, store: PostgresEventStore) => Promise<void>): Promise<void> {
  const pool = new pg.Pool({ ...config, max: 8, options: "-c synchronous_commit=off" });
  const store = await PostgresEventStore.open({ pool, listenConnection: config });
  try {
    await run(pool, store);
  } finally {
    await store.close();
    await pool.end();
  }
}

/** The CPU the bench's own processes spent per item in a workload's turns, in microseconds. */
function cpuPerItemUs(load: MachineLoad, workload: string, items: number): number {
  return items === 0 ? Number.NaN : (load.ownCpuMs(workload) * 1000) / items;
}

type BenchServer = Awaited<ReturnType<typeof startBenchPostgres>>;

async function postingsPhase(server: BenchServer, load: MachineLoad): Promise<Figure[]> {
  const serverDatabase = connectionString(await server.createDatabase("ledger_bench"));
  const limitDatabase = await server.createDatabase("append_limit");
  const r = await measurePostings({ serverDatabaseUrl: serverDatabase, limitDatabase, limits: POSTINGS, log, load });
  const postings = sampleRate(r.postings);
  const health = sampleRate(r.health);
  const append = sampleRate(r.append);
  const clients = `${POSTINGS.connections} clients`;
  return [
    atLeast(`HTTP postings, 2-line entries, ${clients}`, postings, "entries/s", TARGETS.postingsPerSecondMin),
    below("HTTP posting latency p99", sampleP(r.postings, 0.99), "ms", TARGETS.postingP99MsMax),
    info("HTTP posting latency p50", sampleP(r.postings, 0.5), "ms"),
    below("HTTP postings not 2xx (errors, timeouts)", r.postings.failed, "requests", 1),
    info(`limit: GET /health, same server, ${clients}`, health, "req/s"),
    atLeast("postings / GET /health", postings / health, "x", TARGETS.postingsVsHealthMin),
    info(`limit: group-committed append of the same events, ${POSTINGS.connections} writers, one stream`, append, "events/s"),
    info("limit: events per append (group commit)", r.appendBatchMean, "events"),
    atLeast("postings / group-committed append", postings / append, "x", TARGETS.postingsVsAppendMin),
    info("CPU per posting: platform, PostgreSQL and autocannon", cpuPerItemUs(load, "postings", r.postings.count), "us"),
    info("CPU per appended event (limit): bench and PostgreSQL", cpuPerItemUs(load, "append", r.append.count), "us"),
  ];
}

async function rebuildPhase(server: BenchServer, load: MachineLoad): Promise<Figure[]> {
  const figures: Figure[] = [];
  await withStore(await server.createDatabase("rebuild_bench"), async (pool, store) => {
    const total = await writeRebuildLog(store);
    // A rebuild replays a log that has been in the database a while: vacuumed (hint bits and
    // visibility map set) and checkpointed. Untimed, as in the event-store bench; without it the
    // rebuild's first read of each event also pays for dirtying and writing its page again.
    await pool.query("VACUUM (ANALYZE)");
    await pool.query("CHECKPOINT");
    const r = await measureRebuild({ pool, store, events: total, rounds: LIMITS.rebuildRounds, log, load });
    log(`read model rows per table: ${[...r.rowsByTable].map(([t, n]) => `${t} ${n}`).join(", ")}`);
    const rebuildSeconds = r.rebuild.elapsedMs / r.rounds / 1000;
    const copySeconds = r.copy.elapsedMs / r.rounds / 1000;
    figures.push(
      atLeast("projection throughput (rebuild from zero)", perSecond(r.rebuild.count, r.rebuild.elapsedMs), "events/s", TARGETS.rebuildEventsPerSecondMin),
      below(`rebuild of ${count(LIMITS.rebuildEvents)} journal events (mean of ${r.rounds})`, rebuildSeconds, "s", TARGETS.rebuildSecondsMax),
      info(`limit: COPY of the same ${count(r.copy.count / r.rounds)} rows into the same tables (mean of ${r.rounds})`, copySeconds, "s"),
      // Time-based, so it reads as a speed: 0.5 = the rebuild takes twice as long as writing its rows by COPY.
      atLeast("rebuild / COPY of the same rows (COPY s ÷ rebuild s)", copySeconds / rebuildSeconds, "x", TARGETS.rebuildVsCopyMin),
      info("CPU per rebuilt event: bench and PostgreSQL", cpuPerItemUs(load, "rebuild", r.rebuild.count), "us"),
      info("CPU per COPY'd row (limit): bench and PostgreSQL", cpuPerItemUs(load, "copy", r.copy.count), "us"),
    );
  });
  return figures;
}

async function trialPhase(server: BenchServer, load: MachineLoad): Promise<Figure[]> {
  const config = await server.createDatabase("trial_bench");
  await withStore(config, async (pool, store) => {
    await writeTrialLedger(store);
    await rebuildProjection({ pool, eventStore: store, projection: ledgerProjection, batchSizeMax: 5_000 });
    // The query service waits for every registered projection's schema: the (empty) reconciliation one too.
    await rebuildProjection({ pool, eventStore: store, projection: reconciliationProjection });
    // As a database that has been running a while: statistics gathered, written pages flushed.
    await pool.query("VACUUM (ANALYZE)");
    await pool.query("CHECKPOINT");
  });
  const query = await startPlatform({ DATABASE_URL: connectionString(config), TRUEUP_SERVICES: "query" });
  load.watch(query.child.pid);
  try {
    const r = await measureTrial({ url: query.url, database: config, ledgerId: "tb", limits: TRIAL, load });
    log(`trial balance samples: other load ${r.otherCores.toFixed(2)} cores`);
    const accounts = `${count(TRIAL.accounts)} accounts`;
    return [
      below(`trial balance, ${accounts}, p99`, trialP(r.apiMs, 0.99), "ms", TARGETS.trialP99MsMax),
      info(`trial balance, ${accounts}, p50`, trialP(r.apiMs, 0.5), "ms"),
      info(`limit: the same balance rows by SQL (pg, same server), p99`, trialP(r.sqlMs, 0.99), "ms"),
      info(`limit: the same balance rows by SQL, p50`, trialP(r.sqlMs, 0.5), "ms"),
      below("trial balance p99 / SQL p99", trialP(r.apiMs, 0.99) / trialP(r.sqlMs, 0.99), "x", TARGETS.trialP99VsSqlMax),
    ];
  } finally {
    await stopPlatform(query);
    load.unwatch(query.child.pid);
  }
}

const PHASES = ["postings", "rebuild", "trial"] as const;
type Phase = (typeof PHASES)[number];

/** BENCH_PHASES=postings,trial runs only those (for iterating); results are written only by a full run. */
function phases(): Set<Phase> {
  const wanted = (process.env.BENCH_PHASES ?? PHASES.join(",")).split(",").map((p) => p.trim());
  for (const p of wanted) if (!(PHASES as readonly string[]).includes(p)) throw new Error(`BENCH_PHASES: unknown phase ${p} (${PHASES.join(", ")})`);
  return new Set(wanted as Phase[]);
}

async function main(): Promise<void> {
  const selected = phases();
  const started = performance.now();
  if (!FULL) log(`BENCH_SCALE=${SCALE}: a smoke run; its figures are not comparable to the targets`);
  const server = await startBenchPostgres({ database: "trueup" });
  const load = new MachineLoad(() => [server.serverPid()]);
  const onSignal = (): void => {
    void server.dispose().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const figures: Figure[] = [];
  try {
    if (selected.has("postings")) {
      process.stdout.write(`1/3 HTTP postings, /health and group-committed appends, ${POSTINGS.rounds} interleaved rounds…\n`);
      figures.push(...(await postingsPhase(server, load)));
    }
    if (selected.has("rebuild")) {
      process.stdout.write(`2/3 writing ${count(LIMITS.rebuildEvents)} journal events, then rebuild and COPY, ${LIMITS.rebuildRounds} interleaved rounds…\n`);
      figures.push(...(await rebuildPhase(server, load)));
    }
    if (selected.has("trial")) {
      process.stdout.write(`3/3 trial balance over ${count(TRIAL.accounts)} accounts, alternating with the same rows by SQL…\n`);
      figures.push(...(await trialPhase(server, load)));
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await server.dispose();
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  process.stdout.write(`\nLedger bench, ${new Date().toISOString().slice(0, 10)}, ${seconds} s${FULL ? "" : ` (BENCH_SCALE=${SCALE}: not comparable to the targets)`}\n\n`);
  figures.push(info("other load on the machine during a turn (max)", load.otherCoresMax, "cores"));
  process.stdout.write(`${formatTable(figures)}\n`);
  if (load.otherCoresMax > OTHER_LOAD_WARN_CORES) {
    process.stdout.write(
      `\nWARNING: other programs used up to ${load.otherCoresMax.toFixed(2)} of the machine's cores during a turn (see the log); ` +
        "the figures are skewed by that load, ratios included: re-run on a quiet machine.\n",
    );
  }
  if (selected.size !== PHASES.length) {
    process.stdout.write(`BENCH_PHASES=${[...selected].join(",")}: a partial run, no results file written\n`);
    return;
  }
  // A scaled run proves the bench end to end, results file included, without replacing the real one.
  const file = FULL ? path.join(ROOT, "bench/results/ledger.json") : path.join(tmpdir(), `trueup-ledger-bench-scale-${SCALE}.json`);
  await writeResults(file, figures);
  log(`wrote ${file}`);
}

await main();
