// Ledger benchmark (issue #3), one run against a fresh embedded PostgreSQL
// with durable settings (fsync on):
// 1. HTTP posting of 2-line entries with idempotency keys, 64 concurrent
//    clients, against the platform running in its own process (as deployed);
//    the same server's GET /health rate is measured as the HTTP ceiling.
// 2. Rebuild of the ledger projection from position zero over 1,000,000
//    journal events (events/s and seconds).
// 3. Trial balance over 10,000 accounts through the query API (p99).
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import autocannon from "autocannon";
import pg from "pg";
import type { EventId, EventMetadata, JsonValue, StreamName } from "@trueup/contracts";
import { streamName } from "@trueup/contracts";
import { PostgresEventStore } from "@trueup/event-store";
import type { NewEvent } from "@trueup/event-store";
import { ledgerProjection, rebuildProjection } from "@trueup/projections";
import { freePort } from "../platform/src/embedded-postgres.ts";
import { connectionString, startBenchPostgres } from "./lib/bench-postgres.ts";
import { atLeast, below, formatTable, info, writeResults } from "./lib/results.ts";
import type { Figure } from "./lib/results.ts";
import { perSecond, timed } from "./lib/timing.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const LIMITS = {
  httpConnections: 64,
  httpWarmupSeconds: 5,
  httpSeconds: 20,
  rebuildEvents: 1_000_000,
  appendBatch: 1_000,
  trialAccounts: 10_000,
  trialWarmupRequests: 10,
  trialRequests: 300,
  serverStartMs: 60_000,
} as const;

const metadata = (): EventMetadata => {
  const id = randomUUID();
  return { actor: "bench", correlationId: id, causationId: id, commandId: id, occurredAt: new Date().toISOString() };
};
const event = (type: string, data: JsonValue): NewEvent => ({ eventId: randomUUID() as EventId, type, schemaVersion: 1, data, metadata: metadata() });
const stream = (category: string, id: string): StreamName => streamName(category, id);

async function startServer(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(path.join(ROOT, "node_modules/.bin/tsx"), [path.join(ROOT, "platform/src/main.ts")], {
    env: { ...process.env, LOG_LEVEL: "warn", PORT: String(port), PG_POOL_MAX: "40", ...env },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + LIMITS.serverStartMs;
  while (Date.now() < deadline) {
    if (await fetch(`${url}/ready`).then((r) => r.ok, () => false)) return { child, url };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  child.kill("SIGKILL");
  throw new Error("server did not become ready");
}

async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

async function post(url: string, body: unknown): Promise<void> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", "idempotency-key": randomUUID() }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
}

async function httpPosting(url: string): Promise<Figure[]> {
  await post(`${url}/ledgers`, { ledgerId: "bench", name: "Bench", baseCurrency: "EUR" });
  await post(`${url}/ledgers/bench/accounts`, { code: "1000", name: "Cash", type: "asset" });
  await post(`${url}/ledgers/bench/accounts`, { code: "4000", name: "Sales", type: "revenue" });
  let sequence = 0;
  const request = {
    method: "POST" as const,
    path: "/ledgers/bench/journal-entries",
    setupRequest: (req: autocannon.Request) => {
      sequence += 1;
      const amount = `${1 + (sequence % 9999)}.${String(sequence % 100).padStart(2, "0")}`;
      return {
        ...req,
        headers: { "content-type": "application/json", "idempotency-key": `bench-${sequence}-${randomUUID()}` },
        body: JSON.stringify({
          // Postings go to the open period, as in a live ledger: all in one month.
          effectiveDate: `2026-11-${String(1 + (sequence % 28)).padStart(2, "0")}`,
          description: `Invoice ${sequence}`,
          lines: [
            { account: "1000", side: "debit", amount, currency: "EUR" },
            { account: "4000", side: "credit", amount, currency: "EUR" },
          ],
        }),
      };
    },
  };
  const run = (duration: number) => autocannon({ url, connections: LIMITS.httpConnections, duration, requests: [request], timeout: 10 });
  await run(LIMITS.httpWarmupSeconds);
  const result = await run(LIMITS.httpSeconds);
  const ok = result["2xx"];
  const failed = result.non2xx + result.errors + result.timeouts;
  const ceiling = await autocannon({ url: `${url}/health`, connections: LIMITS.httpConnections, duration: 10 });
  const perSec = ok / LIMITS.httpSeconds;
  return [
    atLeast("HTTP postings, 2-line entries, 64 clients", perSec, "entries/s", 3000),
    below("HTTP posting latency p99", result.latency.p99, "ms", 50.000001),
    info("HTTP posting latency p50", result.latency.p50, "ms"),
    below("HTTP postings not 2xx (errors, timeouts)", failed, "requests", 1),
    info("HTTP ceiling: GET /health, same server, 64 clients", ceiling.requests.average, "req/s"),
    info("postings / GET /health ceiling", perSec / ceiling.requests.average, "ratio"),
  ];
}

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
  return written + 2;
}

async function writeTrialLedger(store: PostgresEventStore): Promise<void> {
  await store.append(stream("ledger", "tb"), [event("LedgerCreated", { ledgerId: "tb", name: "TB", baseCurrency: "EUR" })], { expectedRevision: "no-stream" });
  for (let first = 0; first < LIMITS.trialAccounts; first += LIMITS.appendBatch) {
    const opened = Array.from({ length: LIMITS.appendBatch }, (_, i) => event("AccountOpened", { ledgerId: "tb", code: `A${first + i}`, name: `Account ${first + i}`, type: i % 2 === 0 ? "asset" : "liability", currency: null }));
    await store.append(stream("ledger", "tb"), opened, { expectedRevision: "any" });
  }
  for (let first = 0; first < LIMITS.trialAccounts; first += LIMITS.appendBatch) {
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
          { accountCode: `A${(n + 1) % LIMITS.trialAccounts}`, side: "credit", amountMinor: String(100 + n), currency: "EUR" },
        ],
        reverses: null,
      });
    });
    await store.append(stream("period", "tb:2026-01"), entries, { expectedRevision: "any" });
  }
}

async function trialBalanceLatency(url: string): Promise<Figure[]> {
  // Warm-up, untimed, as the postings phase has one: the first request reads the account names into
  // the server's cache and runs before the JIT has compiled anything (one run: 83 ms, then 34, then ≤ 28).
  for (let i = 0; i < LIMITS.trialWarmupRequests; i++) await (await fetch(`${url}/ledgers/tb/trial-balance`)).arrayBuffer();
  const samples: number[] = [];
  for (let i = 0; i < LIMITS.trialRequests; i++) {
    // Timed to the last byte received; parsing the 1 MB answer is the client's cost, checked after.
    const started = performance.now();
    const response = await fetch(`${url}/ledgers/tb/trial-balance`);
    const bytes = await response.arrayBuffer();
    samples.push(performance.now() - started);
    const body = JSON.parse(Buffer.from(bytes).toString("utf8")) as { rows: unknown[]; totals: { balanced: boolean }[] };
    if (!response.ok || body.rows.length !== LIMITS.trialAccounts || body.totals.some((t) => !t.balanced)) throw new Error(`bad trial balance: ${response.status}`);
  }
  samples.sort((a, b) => a - b);
  const p = (q: number): number => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? Number.NaN;
  return [below("trial balance, 10,000 accounts, p99", p(0.99), "ms", 50.000001), info("trial balance, 10,000 accounts, p50", p(0.5), "ms")];
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
  const server = await startBenchPostgres({ database: "trueup" });
  const figures: Figure[] = [];
  try {
    if (selected.has("postings")) {
      const database = connectionString(await server.createDatabase("ledger_bench"));
      process.stdout.write("1/3 HTTP postings…\n");
      const api = await startServer({ DATABASE_URL: database });
      try {
        figures.push(...(await httpPosting(api.url)));
      } finally {
        await stopServer(api.child);
      }
    }

    if (selected.has("rebuild")) {
      process.stdout.write("2/3 writing 1,000,000 journal events, then rebuilding the projection…\n");
      await withStore(await server.createDatabase("rebuild_bench"), async (pool, store) => {
        const total = await writeRebuildLog(store);
        // A rebuild replays a log that has been in the database a while: vacuumed (hint bits and
        // visibility map set) and checkpointed. Untimed, as in the event-store bench; without it the
        // rebuild's first read of each event also pays for dirtying and writing its page again.
        await pool.query("VACUUM (ANALYZE)");
        await pool.query("CHECKPOINT");
        const rebuild = await timed(() => rebuildProjection({ pool, eventStore: store, projection: ledgerProjection, batchSizeMax: 5_000 }));
        figures.push(atLeast("projection throughput (rebuild from zero)", perSecond(total, rebuild.elapsedMs), "events/s", 20_000));
        figures.push(below("rebuild of 1,000,000 journal events", rebuild.elapsedMs / 1000, "s", 90.000001));
      });
    }

    if (selected.has("trial")) {
      process.stdout.write("3/3 trial balance over 10,000 accounts…\n");
      const config = await server.createDatabase("trial_bench");
      await withStore(config, async (pool, store) => {
        await writeTrialLedger(store);
        await rebuildProjection({ pool, eventStore: store, projection: ledgerProjection, batchSizeMax: 5_000 });
        // As a database that has been running a while: statistics gathered, written pages flushed.
        await pool.query("VACUUM (ANALYZE)");
        await pool.query("CHECKPOINT");
      });
      const query = await startServer({ DATABASE_URL: connectionString(config), TRUEUP_SERVICES: "query" });
      try {
        figures.push(...(await trialBalanceLatency(query.url)));
      } finally {
        await stopServer(query.child);
      }
    }
  } finally {
    await server.dispose();
  }
  process.stdout.write(`\n${formatTable(figures)}\n`);
  if (selected.size === PHASES.length) await writeResults(path.join(ROOT, "bench/results/ledger.json"), figures);
  else process.stdout.write(`BENCH_PHASES=${[...selected].join(",")}: a partial run, bench/results/ledger.json left as it was\n`);
}

await main();
