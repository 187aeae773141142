// Event-store benchmark (issue #2). Proves, in one run against one fresh
// embedded PostgreSQL with default durable settings (fsync on), how our
// PostgreSQL adapter compares with limits measured on the same server in the
// same run. Part 1, ours alone (nothing else has run in the process yet):
//   - append 1,000,000 events in batches, then readAll through all of them;
//     the readAll rate and the peak RSS over both.
// Part 2, comparisons, each store on a fresh database of the same server:
//   - batched appends vs raw COPY of the same rows into an unindexed table,
//     and vs the same appends through @event-driven-io/emmett-postgresql;
//   - 32 concurrent single-event writers vs one connection doing one
//     autocommit INSERT per row, and vs Emmett's 32 writers.
// Compared workloads run interleaved, in rounds with a rotating order, so a
// burst of other load on the machine (or a slow stretch of the disk) hits
// each of them alike. Every phase logs its CPU cost and the other load it ran
// next to. Prints a table and writes bench/results/eventstore.json.
// `BENCH_QUICK=1` runs a small smoke version and writes no results.
import assert from "node:assert/strict";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { STREAM_DOES_NOT_EXIST } from "@event-driven-io/emmett";
import type { ExpectedStreamVersion } from "@event-driven-io/emmett";
import { getPostgreSQLEventStore } from "@event-driven-io/emmett-postgresql";
import type { PostgresEventStore as EmmettEventStore } from "@event-driven-io/emmett-postgresql";
import { streamName } from "@trueup/contracts";
import type { EventMetadata } from "@trueup/contracts";
import { PostgresEventStore } from "@trueup/event-store";
import type { ExpectedRevision, Position } from "@trueup/event-store";
import { connectionString, startBenchPostgres } from "./lib/bench-postgres.ts";
import type { BenchPostgres } from "./lib/bench-postgres.ts";
import { ledgerEvent, ledgerEvents } from "./lib/ledger-events.ts";
import type { BenchEvent } from "./lib/ledger-events.ts";
import { NOTHING_MEASURED, PhaseMeter, combine, describe, rate } from "./lib/phase-meter.ts";
import type { Measured } from "./lib/phase-meter.ts";
import { atLeast, below, formatTable, info, writeResults } from "./lib/results.ts";
import type { Figure } from "./lib/results.ts";
import { RssSampler } from "./lib/rss-sampler.ts";
import { repeatUntil, runWorkers } from "./lib/timing.ts";

const QUICK = process.env.BENCH_QUICK === "1";

/** Events each batched workload appends (ours alone; ours, COPY, Emmett compared); with the warm-up, readAll reads 1,000,001. */
const BATCHED_EVENTS_TOTAL = QUICK ? 50_000 : 1_000_000;
/** Events per append (one transaction), and rows per COPY statement (one transaction) in the limit. */
const BATCH_SIZE = 1_000;
/** Streams a batched workload spreads over; each is owned by one worker, so revisions stay exact. */
const BATCH_STREAM_COUNT = 100;
/** Appends in flight at once in a batched workload (ours, COPY, Emmett alike): one per core. */
const BATCH_WORKERS = 2;
/** The batched workloads run interleaved, each appending BATCHED_EVENTS_TOTAL / BATCHED_ROUNDS per round. */
const BATCHED_ROUNDS = 5;
const CONCURRENT_WRITERS = 32;
/** The single-event workloads run interleaved: TIMED_ROUNDS rounds of TIMED_ROUND_MS each, per workload. */
const TIMED_ROUNDS = 3;
const TIMED_ROUND_MS = QUICK ? 1_000 : 4_000;
/** Upper bound on appends per writer over all rounds, whatever the clock says. */
const TIMED_ITERATIONS_MAX = 1_000_000;
/** readAll page size (the port allows 1..10,000). */
const READ_PAGE_SIZE = 1_000;
const RSS_SAMPLE_MS = 100;
/** Every pool has a connection for every concurrent writer, so no workload queues for one (ours and Emmett alike). */
const POOL_MAX = CONCURRENT_WRITERS;
const POOL_CONNECT_TIMEOUT_MS = 10_000;
/** Longer than the whole run, so warmed connections survive until they are used. */
const POOL_IDLE_TIMEOUT_MS = 600_000;
/** Above this much CPU used by other programs during a phase, the run warns that its figures are skewed. */
const OTHER_LOAD_WARN_CORES = 0.25;
/** pg's pool.end() does not wait for its connections to finish closing; wait this long at most. */
const POOL_CLOSE_WAIT_MS = 5_000;

const TARGETS = {
  batchedVsCopyMin: 0.5,
  concurrentVsSingleInsertMin: 2,
  readAllEventsPerSecondMin: 100_000,
  rssMegabytesMax: 300,
  oursVsEmmettMin: 1.5,
} as const;

const RESULTS_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), "results", "eventstore.json");
const MEGABYTE = 1024 * 1024;
const LEDGER_ID = "ledger-bench";

const log = (message: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
};

// -------------------------------------------------------------- plumbing

/**
 * Emmett's driver (dumbo) replaces pg's global parsers for int8, json and
 * jsonb when its store is created. Our pool keeps pg's defaults, as in
 * production where Emmett is not loaded: these are captured before Emmett
 * runs and take precedence for our connections.
 */
type TypeId = Parameters<typeof pg.types.getTypeParser>[0];
type TypeFormat = Parameters<typeof pg.types.getTypeParser>[1];
type TextParser = (value: string) => unknown;
const OVERRIDDEN_OIDS = [pg.types.builtins.INT8, pg.types.builtins.JSON, pg.types.builtins.JSONB];
const DEFAULT_TEXT_PARSERS = new Map<TypeId, TextParser>(OVERRIDDEN_OIDS.map((oid) => [oid, pg.types.getTypeParser(oid, "text") as TextParser]));
const DEFAULT_TYPES: pg.CustomTypesConfig = {
  getTypeParser: (oid: TypeId, format?: TypeFormat): TextParser =>
    (format === "binary" ? undefined : DEFAULT_TEXT_PARSERS.get(oid)) ?? (pg.types.getTypeParser(oid, format) as TextParser),
};

function newPool(config: pg.ClientConfig, types?: pg.CustomTypesConfig): pg.Pool {
  const name = config.database ?? "?";
  const pool = new pg.Pool({
    ...config,
    ...(types === undefined ? {} : { types }),
    max: POOL_MAX,
    idleTimeoutMillis: POOL_IDLE_TIMEOUT_MS,
    connectionTimeoutMillis: POOL_CONNECT_TIMEOUT_MS,
  });
  pool.on("error", (error) => {
    log(`idle client of pool ${name} failed: ${error.message}`);
  });
  return pool;
}

/** Opens every connection before timing: connection set-up (SCRAM) is not what is measured. */
async function warmPool(pool: pg.Pool): Promise<void> {
  const clients = await runWorkers(POOL_MAX, () => pool.connect());
  for (const client of clients) client.release();
}

/** Ends the pool and waits (bounded) until its connections have really closed, so stopping the server kills none. */
async function closePool(pool: pg.Pool): Promise<void> {
  const open = pool.totalCount;
  let removed = 0;
  const allRemoved = new Promise<void>((resolve) => {
    if (open === 0) resolve();
    pool.on("remove", () => {
      removed += 1;
      if (removed >= open) resolve();
    });
  });
  await pool.end();
  await Promise.race([allRemoved, sleep(POOL_CLOSE_WAIT_MS)]);
}

/** Between phases: vacuum and analyse what was written, then checkpoint, so no phase pays for the previous one's debt. */
async function settle(pool: pg.Pool, tables: readonly string[]): Promise<void> {
  for (const table of tables) await pool.query(`VACUUM (ANALYZE) ${table}`);
  await pool.query("CHECKPOINT");
}

async function assertDurableSettings(pool: pg.Pool): Promise<string> {
  const rows = await pool.query<{ name: string; setting: string }>(
    "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', 'shared_buffers', 'max_wal_size', 'server_version') ORDER BY name",
  );
  const settings = new Map(rows.rows.map((r) => [r.name, r.setting]));
  assert.equal(settings.get("fsync"), "on", "the bench needs fsync on");
  assert.equal(settings.get("synchronous_commit"), "on", "the bench needs synchronous_commit on");
  return rows.rows.map((r) => `${r.name}=${r.setting}`).join(" ");
}

async function countRows(pool: pg.Pool, table: string): Promise<number> {
  const result = await pool.query<{ count: string }>(`SELECT count(*) AS count FROM ${table}`);
  return Number(result.rows[0]?.count);
}

// ---------------------------------------------------------------- workloads

/** A workload run in rounds: each call runs one round and returns how many events (rows) it wrote. */
type RoundRunner = (round: number) => Promise<number>;

interface Workload<Key extends string> {
  readonly key: Key;
  readonly label: string;
  readonly unit: string;
  readonly run: RoundRunner;
}

/**
 * Runs the workloads interleaved: `rounds` rounds, each workload once per
 * round, the order rotating by one each round; `beforeSlot` (not timed) runs
 * before each workload's turn. Returns each workload's totals.
 */
async function interleave<Key extends string>(
  meter: PhaseMeter,
  options: { rounds: number; beforeSlot?: () => Promise<void> },
  workloads: readonly Workload<Key>[],
): Promise<Map<Key, Measured>> {
  const { rounds, beforeSlot } = options;
  const totals = new Map<Key, Measured>(workloads.map((w) => [w.key, NOTHING_MEASURED]));
  for (let round = 0; round < rounds; round += 1) {
    for (let slot = 0; slot < workloads.length; slot += 1) {
      const workload = workloads[(round + slot) % workloads.length];
      if (workload === undefined) continue;
      await beforeSlot?.();
      const measured = await meter.measure(`round ${round + 1}/${rounds} ${workload.label}`, workload.unit, () => workload.run(round));
      totals.set(workload.key, combine(totals.get(workload.key) ?? NOTHING_MEASURED, measured));
    }
  }
  for (const workload of workloads) log(describe(`all rounds: ${workload.label}`, workload.unit, totals.get(workload.key) ?? NOTHING_MEASURED));
  return totals;
}

function total<Key extends string>(totals: Map<Key, Measured>, key: Key): Measured {
  const measured = totals.get(key);
  assert.ok(measured !== undefined && measured.count > 0, `workload ${key} measured nothing`);
  return measured;
}

/**
 * A batched workload: batch b (events b*BATCH_SIZE..) goes to stream
 * b % BATCH_STREAM_COUNT; round r runs its share of the batches, dealt
 * round-robin to BATCH_WORKERS workers. The stream count is a multiple of
 * the worker count, so within a round each stream has exactly one writer.
 */
function batched(rounds: number, append: (batch: { streamIndex: number; events: BenchEvent[] }) => Promise<void>): RoundRunner {
  assert.equal(BATCH_STREAM_COUNT % BATCH_WORKERS, 0, "each stream must belong to one worker");
  const batchCount = Math.ceil(BATCHED_EVENTS_TOTAL / BATCH_SIZE);
  const batchesPerRound = Math.ceil(batchCount / rounds);
  return async (round) => {
    const first = round * batchesPerRound;
    const end = Math.min(batchCount, first + batchesPerRound);
    const counts = await runWorkers(BATCH_WORKERS, async (worker) => {
      let appended = 0;
      for (let index = first + worker; index < end; index += BATCH_WORKERS) {
        const firstSequence = index * BATCH_SIZE;
        const count = Math.min(BATCH_SIZE, BATCHED_EVENTS_TOTAL - firstSequence);
        const events = ledgerEvents({ firstSequence, count, ledgerId: LEDGER_ID });
        await append({ streamIndex: index % BATCH_STREAM_COUNT, events });
        appended += events.length;
      }
      return appended;
    });
    return counts.reduce((a, b) => a + b, 0);
  };
}

/**
 * A single-event workload: CONCURRENT_WRITERS writers, each appending one
 * event per call to its own stream for TIMED_ROUND_MS per round.
 */
function singleWriters(append: (writer: number, event: BenchEvent) => Promise<void>): RoundRunner {
  const sequences = Array.from({ length: CONCURRENT_WRITERS }, (_, writer) => writer * TIMED_ITERATIONS_MAX);
  return async () => {
    const deadlineMs = performance.now() + TIMED_ROUND_MS;
    const counts = await runWorkers(CONCURRENT_WRITERS, (writer) =>
      repeatUntil({ deadlineMs, iterationsMax: TIMED_ITERATIONS_MAX }, async () => {
        const sequence = sequences[writer] ?? 0;
        sequences[writer] = sequence + 1;
        await append(writer, ledgerEvent(sequence, LEDGER_ID));
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  };
}

// ------------------------------------------------------------------ limits

const LIMIT_TABLE_COLUMNS = `
  tx_id          xid8        NOT NULL DEFAULT pg_current_xact_id(),
  seq            bigint      NOT NULL DEFAULT nextval('limit_seq'),
  stream_name    text        NOT NULL,
  category       text        NOT NULL,
  revision       bigint      NOT NULL,
  event_id       uuid        NOT NULL,
  type           text        NOT NULL,
  schema_version integer     NOT NULL,
  data           json        NOT NULL,
  metadata       jsonb       NOT NULL,
  recorded_at    timestamptz NOT NULL DEFAULT now()`;
const LIMIT_INSERT_COLUMNS = "stream_name, category, revision, event_id, type, schema_version, data, metadata";

/** The same columns as es_events, without a primary key or any index: the cheapest place to put these rows. */
async function createLimitTables(pool: pg.Pool): Promise<void> {
  await pool.query(`CREATE SEQUENCE limit_seq AS bigint CACHE 1;
    CREATE TABLE copy_events (${LIMIT_TABLE_COLUMNS});
    CREATE TABLE single_events (${LIMIT_TABLE_COLUMNS});`);
}

/** COPY text format: backslash, tab, newline and carriage return must be escaped. */
function copyField(value: string): string {
  return value.replace(/[\\\t\n\r]/g, (c) => (c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r"));
}

function copyRows(stream: string, firstRevision: bigint, events: readonly BenchEvent[]): string {
  return events
    .map((e, i) =>
      [stream, "ledger", (firstRevision + BigInt(i)).toString(), e.eventId, e.type, String(e.schemaVersion), JSON.stringify(e.data), JSON.stringify(e.metadata)]
        .map(copyField)
        .join("\t"),
    )
    .join("\n")
    .concat("\n");
}

function copyBatched(pool: pg.Pool, runId: string): RoundRunner {
  const nextRevisions = new Map<number, bigint>();
  return batched(BATCHED_ROUNDS, async ({ streamIndex, events }) => {
    const first = nextRevisions.get(streamIndex) ?? 0n;
    const text = copyRows(`ledger-${runId}-${streamIndex}`, first, events);
    const client = await pool.connect();
    try {
      const copy = client.query(copyFrom(`COPY copy_events (${LIMIT_INSERT_COLUMNS}) FROM STDIN`));
      await pipeline(Readable.from([text]), copy);
      assert.equal(copy.rowCount, events.length);
    } finally {
      client.release();
    }
    nextRevisions.set(streamIndex, first + BigInt(events.length));
  });
}

/** One connection, one autocommit INSERT (one commit, one WAL flush) per row. */
function insertOneByOne(client: pg.Client, runId: string): RoundRunner {
  let revision = 0;
  return () =>
    repeatUntil({ deadlineMs: performance.now() + TIMED_ROUND_MS, iterationsMax: TIMED_ITERATIONS_MAX }, async () => {
      const e = ledgerEvent(revision, LEDGER_ID);
      await client.query(
        `INSERT INTO single_events (${LIMIT_INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb)`,
        [`ledger-${runId}-single`, "ledger", revision, e.eventId, e.type, e.schemaVersion, JSON.stringify(e.data), JSON.stringify(e.metadata)],
      );
      revision += 1;
    });
}

// -------------------------------------------------------------------- ours

function oursBatched(store: PostgresEventStore, runId: string, rounds: number): RoundRunner {
  const revisions = new Map<number, bigint>();
  return batched(rounds, async ({ streamIndex, events }) => {
    const expectedRevision: ExpectedRevision = revisions.get(streamIndex) ?? "no-stream";
    const result = await store.append(streamName("ledger", `${runId}-${streamIndex}`), events, { expectedRevision });
    assert.equal(result.replayed, false);
    revisions.set(streamIndex, result.nextExpectedRevision);
  });
}

function oursSingleWriters(store: PostgresEventStore, runId: string): RoundRunner {
  const revisions: ExpectedRevision[] = Array.from({ length: CONCURRENT_WRITERS }, () => "no-stream");
  return singleWriters(async (writer, event) => {
    const result = await store.append(streamName("ledger", `${runId}-single-${writer}`), [event], {
      expectedRevision: revisions[writer] ?? "no-stream",
    });
    revisions[writer] = result.nextExpectedRevision;
  });
}

/** Pages through the whole log in position order; returns how many events it read. */
async function oursReadAll(store: PostgresEventStore, expectedTotal: number): Promise<number> {
  const pagesMax = Math.ceil(expectedTotal / READ_PAGE_SIZE) + 1;
  let after: Position | undefined;
  let read = 0;
  for (let page = 0; page < pagesMax; page += 1) {
    const events = await store.readAll({ after, maxCount: READ_PAGE_SIZE });
    for (const event of events) {
      assert.ok(after === undefined || event.position > after, "readAll must return events in position order");
      after = event.position;
    }
    read += events.length;
    if (events.length < READ_PAGE_SIZE) return read;
  }
  throw new Error(`readAll did not reach the end of the log within ${pagesMax} pages`);
}

// ------------------------------------------------------------------ Emmett

function toEmmett(event: BenchEvent): { type: string; data: BenchEvent["data"]; metadata: EventMetadata & { messageId: string } } {
  // Emmett takes the message id from metadata.messageId (and stores it in its own column).
  return { type: event.type, data: event.data, metadata: { messageId: event.eventId, ...event.metadata } };
}

function emmettBatched(store: EmmettEventStore, runId: string): RoundRunner {
  const versions = new Map<number, bigint>();
  return batched(BATCHED_ROUNDS, async ({ streamIndex, events }) => {
    const expectedStreamVersion: ExpectedStreamVersion = versions.get(streamIndex) ?? STREAM_DOES_NOT_EXIST;
    const result = await store.appendToStream(`ledger-${runId}-${streamIndex}`, events.map(toEmmett), { expectedStreamVersion });
    versions.set(streamIndex, result.nextExpectedStreamVersion);
  });
}

function emmettSingleWriters(store: EmmettEventStore, runId: string): RoundRunner {
  const versions: ExpectedStreamVersion[] = Array.from({ length: CONCURRENT_WRITERS }, () => STREAM_DOES_NOT_EXIST);
  return singleWriters(async (writer, event) => {
    const result = await store.appendToStream(`ledger-${runId}-single-${writer}`, [toEmmett(event)], {
      expectedStreamVersion: versions[writer] ?? STREAM_DOES_NOT_EXIST,
    });
    versions[writer] = result.nextExpectedStreamVersion;
  });
}

// -------------------------------------------------------------------- run

interface Results {
  readonly oursAloneBatched: Measured;
  readonly readAll: Measured;
  readonly peakRssBytes: number;
  readonly oursBatched: Measured;
  readonly copyBatched: Measured;
  readonly emmettBatched: Measured;
  readonly oursSingle: Measured;
  readonly emmettSingle: Measured;
  readonly insertOneByOne: Measured;
}

async function measure(postgres: BenchPostgres, sampler: RssSampler): Promise<Results> {
  const runId = Date.now().toString(36);
  const meter = new PhaseMeter(() => postgres.serverPid(), sampler, log);
  const alone = await oursAlone(meter, postgres.server.clientConfig, runId);
  const compared = await comparisons(meter, postgres, runId);
  return { ...alone, ...compared };
}

/**
 * Part 1, ours alone in a process that has run nothing else (as a service
 * would): append 1,000,000 events, then readAll through all of them. Gives
 * the readAll rate and the peak RSS.
 */
async function oursAlone(
  meter: PhaseMeter,
  config: pg.ClientConfig,
  runId: string,
): Promise<Pick<Results, "oursAloneBatched" | "readAll" | "peakRssBytes">> {
  const pool = newPool(config);
  try {
    log(`server settings: ${await assertDurableSettings(pool)}`);
    const store = await PostgresEventStore.open({ pool, listenConnection: config });
    try {
      // Warm-up outside timing: first append (plans, catalog caches), every pool connection open.
      await store.append(streamName("ledger", `${runId}-warmup`), [ledgerEvent(0, LEDGER_ID)], { expectedRevision: "no-stream" });
      await warmPool(pool);
      const batchedMeasured = await meter.measure(
        `ours alone: batched append (${BATCH_SIZE}/append, ${BATCH_WORKERS} in flight)`,
        "events",
        () => oursBatched(store, runId, 1)(0),
      );
      await settle(pool, ["es_events", "es_streams"]);
      const logged = 1 + batchedMeasured.count;
      const readAll = await meter.measure(`ours alone: readAll, ${READ_PAGE_SIZE}/page`, "events", () => oursReadAll(store, logged));
      assert.equal(readAll.count, logged, "readAll must return every appended event exactly once");
      assert.equal(await countRows(pool, "es_events"), logged, "ours must have stored every appended event");
      const peakRssBytes = Math.max(batchedMeasured.peakRssBytes, readAll.peakRssBytes);
      const memory = process.memoryUsage();
      log(
        `ours alone: appended and read ${logged} events; peak RSS ${(peakRssBytes / MEGABYTE).toFixed(0)} MB ` +
          `(now: rss ${(memory.rss / MEGABYTE).toFixed(0)}, heap used ${(memory.heapUsed / MEGABYTE).toFixed(0)} of ${(memory.heapTotal / MEGABYTE).toFixed(0)}, ` +
          `external ${(memory.external / MEGABYTE).toFixed(0)} MB)`,
      );
      return { oursAloneBatched: batchedMeasured, readAll, peakRssBytes };
    } finally {
      await store.close();
    }
  } finally {
    await closePool(pool);
  }
}

interface Stores {
  readonly ours: PostgresEventStore;
  readonly emmett: EmmettEventStore;
  readonly oursPool: pg.Pool;
  readonly limitsPool: pg.Pool;
  readonly emmettPool: pg.Pool;
  readonly insertClient: pg.Client;
}

/** Part 2, the comparisons: ours, the limits and Emmett, each on a fresh database of the same server. */
async function comparisons(
  meter: PhaseMeter,
  postgres: BenchPostgres,
  runId: string,
): Promise<Omit<Results, "oursAloneBatched" | "readAll" | "peakRssBytes">> {
  const oursConfig = await postgres.createDatabase("ours_compare");
  const limitsConfig = await postgres.createDatabase("limits");
  const emmettConfig = await postgres.createDatabase("emmett");
  const oursPool = newPool(oursConfig, DEFAULT_TYPES);
  const limitsPool = newPool(limitsConfig);
  const emmettPool = newPool(emmettConfig);
  const insertClient = new pg.Client(limitsConfig);
  let ours: PostgresEventStore | undefined;
  let emmett: EmmettEventStore | undefined;
  try {
    ours = await PostgresEventStore.open({ pool: oursPool, listenConnection: { ...oursConfig, types: DEFAULT_TYPES } });
    emmett = getPostgreSQLEventStore(connectionString(emmettConfig), { connectionOptions: { pool: emmettPool } });
    await createLimitTables(limitsPool);
    await insertClient.connect();
    return await compareWith({ ours, emmett, oursPool, limitsPool, emmettPool, insertClient }, meter, runId);
  } finally {
    await emmett?.close();
    await ours?.close();
    await insertClient.end().catch(() => undefined);
    await Promise.all([oursPool, limitsPool, emmettPool].map(closePool));
  }
}

async function compareWith(s: Stores, meter: PhaseMeter, runId: string): Promise<Omit<Results, "oursAloneBatched" | "readAll" | "peakRssBytes">> {
  // Warm-up outside timing: first appends (Emmett creates its schema lazily here), every pool connection open.
  await s.ours.append(streamName("ledger", `${runId}-warmup`), [ledgerEvent(0, LEDGER_ID)], { expectedRevision: "no-stream" });
  await s.emmett.appendToStream(`ledger-${runId}-warmup`, [toEmmett(ledgerEvent(0, LEDGER_ID))], { expectedStreamVersion: STREAM_DOES_NOT_EXIST });
  await Promise.all([s.oursPool, s.limitsPool, s.emmettPool].map(warmPool));
  const warmups = 1;
  const parsed = await s.oursPool.query<{ n: unknown }>("SELECT 1::int8 AS n");
  assert.equal(parsed.rows[0]?.n, "1", "our pool must keep pg's default type parsers");

  // Each batched turn writes hundreds of MB; a checkpoint before each turn keeps one workload's
  // write-back (dirty pages, the next checkpoint) from being paid inside another's timing.
  const checkpoint = async (): Promise<void> => {
    await s.limitsPool.query("CHECKPOINT");
  };
  const batchedLabel = `batched append (${BATCH_SIZE}/append, ${BATCH_WORKERS} in flight)`;
  const batchedTotals = await interleave(meter, { rounds: BATCHED_ROUNDS, beforeSlot: checkpoint }, [
    { key: "ours", label: `ours: ${batchedLabel}`, unit: "events", run: oursBatched(s.ours, runId, BATCHED_ROUNDS) },
    { key: "copy", label: `limit: COPY into an unindexed table (${BATCH_SIZE} rows/COPY, ${BATCH_WORKERS} in flight)`, unit: "rows", run: copyBatched(s.limitsPool, runId) },
    { key: "emmett", label: `emmett: ${batchedLabel}`, unit: "events", run: emmettBatched(s.emmett, runId) },
  ]);
  await settle(s.oursPool, ["es_events", "es_streams"]);
  await settle(s.limitsPool, ["copy_events"]);
  await settle(s.emmettPool, ["emt_messages", "emt_streams"]);

  // The single-event turns are short and write little: no checkpoint between them (one would
  // make every turn start with a storm of full-page writes, which steady state does not have).
  const singleTotals = await interleave(meter, { rounds: TIMED_ROUNDS }, [
    { key: "ours", label: `ours: ${CONCURRENT_WRITERS} single-event writers`, unit: "events", run: oursSingleWriters(s.ours, runId) },
    { key: "emmett", label: `emmett: ${CONCURRENT_WRITERS} single-event writers`, unit: "events", run: emmettSingleWriters(s.emmett, runId) },
    { key: "insert", label: "limit: 1 connection, autocommit INSERT per row", unit: "rows", run: insertOneByOne(s.insertClient, runId) },
  ]);

  const results = {
    oursBatched: total(batchedTotals, "ours"),
    copyBatched: total(batchedTotals, "copy"),
    emmettBatched: total(batchedTotals, "emmett"),
    oursSingle: total(singleTotals, "ours"),
    emmettSingle: total(singleTotals, "emmett"),
    insertOneByOne: total(singleTotals, "insert"),
  };
  assert.equal(await countRows(s.oursPool, "es_events"), warmups + results.oursBatched.count + results.oursSingle.count, "ours must have stored every appended event");
  assert.equal(await countRows(s.emmettPool, "emt_messages"), warmups + results.emmettBatched.count + results.emmettSingle.count, "Emmett must have stored every appended event");
  assert.equal(await countRows(s.limitsPool, "copy_events"), results.copyBatched.count, "COPY must have stored every row");
  return results;
}

function otherLoadMax(r: Results): number {
  const phases = [r.oursAloneBatched, r.readAll, r.oursBatched, r.copyBatched, r.emmettBatched, r.oursSingle, r.emmettSingle, r.insertOneByOne];
  return Math.max(...phases.map((m) => m.otherCoresMax));
}

function figures(r: Results): Figure[] {
  const events = BATCHED_EVENTS_TOTAL.toLocaleString("en-US");
  const logged = r.readAll.count.toLocaleString("en-US");
  const batched = `(${BATCH_SIZE}/append, ${BATCH_WORKERS} in flight)`;
  return [
    info(`ours: batched append ${batched}`, rate(r.oursBatched), "events/s"),
    info(`limit: COPY into unindexed table (${BATCH_SIZE} rows/COPY, ${BATCH_WORKERS} in flight)`, rate(r.copyBatched), "rows/s"),
    atLeast("batched append / COPY", rate(r.oursBatched) / rate(r.copyBatched), "x", TARGETS.batchedVsCopyMin),
    info(`ours: ${CONCURRENT_WRITERS} concurrent single-event writers`, rate(r.oursSingle), "events/s"),
    info("limit: 1 connection, autocommit INSERT per row", rate(r.insertOneByOne), "rows/s"),
    atLeast(`${CONCURRENT_WRITERS} writers / single-row INSERT`, rate(r.oursSingle) / rate(r.insertOneByOne), "x", TARGETS.concurrentVsSingleInsertMin),
    info(`ours alone: batched append of ${events} events ${batched}`, rate(r.oursAloneBatched), "events/s"),
    atLeast(`ours alone: readAll of ${logged} events (${READ_PAGE_SIZE}/page)`, rate(r.readAll), "events/s", TARGETS.readAllEventsPerSecondMin),
    below("ours alone: peak RSS, appending + reading them", r.peakRssBytes / MEGABYTE, "MB", TARGETS.rssMegabytesMax),
    info(`emmett: batched append ${batched}`, rate(r.emmettBatched), "events/s"),
    atLeast("batched append ours / emmett", rate(r.oursBatched) / rate(r.emmettBatched), "x", TARGETS.oursVsEmmettMin),
    info(`emmett: ${CONCURRENT_WRITERS} concurrent single-event writers`, rate(r.emmettSingle), "events/s"),
    atLeast(`${CONCURRENT_WRITERS} writers ours / emmett`, rate(r.oursSingle) / rate(r.emmettSingle), "x", TARGETS.oursVsEmmettMin),
    info("other load on the machine during a phase (max)", otherLoadMax(r), "cores"),
  ];
}

async function main(): Promise<void> {
  const started = performance.now();
  const sampler = new RssSampler(RSS_SAMPLE_MS);
  sampler.start();
  const postgres = await startBenchPostgres({ database: "trueup_bench" });
  // Interrupted: still stop the server and delete its folder.
  const onSignal = (): void => {
    void postgres.dispose().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let results: Results;
  try {
    results = await measure(postgres, sampler);
  } finally {
    sampler.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await postgres.dispose();
  }
  const table = figures(results);
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  process.stdout.write(`\nEvent store bench, ${new Date().toISOString().slice(0, 10)}, ${seconds} s${QUICK ? " (QUICK: not comparable to the targets)" : ""}\n\n`);
  process.stdout.write(`${formatTable(table)}\n`);
  const otherCoresMax = otherLoadMax(results);
  if (otherCoresMax > OTHER_LOAD_WARN_CORES) {
    process.stdout.write(
      `\nWARNING: other programs used up to ${otherCoresMax.toFixed(2)} of the machine's cores during a phase (see the log); ` +
        "the figures are skewed by that load, re-run on a quiet machine.\n",
    );
  }
  if (QUICK) return;
  await writeResults(RESULTS_FILE, table);
  log(`wrote ${path.relative(process.cwd(), RESULTS_FILE)}`);
}

await main();
