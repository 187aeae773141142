// Phase 1 of the ledger bench: HTTP postings against the platform in its own
// process, next to two limits measured in the same run, interleaved with it
// in rounds:
// - the same server's GET /health under the same 64 connections (what HTTP
//   alone costs on this machine right now: the ceiling of any route);
// - the event store's own group-committed append of the same events (the
//   same JournalEntryPosted payloads, 64 writers on one period stream,
//   batched while an append is in flight, as the command side batches them),
//   on a database of its own on the same PostgreSQL server.
// Before each turn the platform's projections catch up (untimed), so no turn
// pays for the previous one's postings.
import { randomUUID } from "node:crypto";
import autocannon from "autocannon";
import pg from "pg";
import { streamName } from "@trueup/contracts";
import type { EventId, EventMetadata } from "@trueup/contracts";
import { WRITER_LIMITS } from "@trueup/command-side";
import { PostgresEventStore } from "@trueup/event-store";
import type { NewEvent } from "@trueup/event-store";
import { GroupCommitAppender } from "./group-commit.ts";
import { interleave } from "./interleave.ts";
import type { MachineLoad } from "./machine-load.ts";
import { postCommand, startPlatform, stopPlatform, waitForProjections } from "./platform-server.ts";
import { perSecond, percentile, repeatUntil, runWorkers } from "./timing.ts";

export interface PostingsLimits {
  /** HTTP clients, and writers of the append limit: the same concurrency. */
  readonly connections: number;
  readonly warmupSeconds: number;
  /** Rounds of [postings, /health, append], order rotating. */
  readonly rounds: number;
  /** Measured seconds per round for each workload. */
  readonly postingSeconds: number;
  readonly healthSeconds: number;
  readonly appendSeconds: number;
}

/** Seconds autocannon waits for one answer before it counts a timeout. */
const REQUEST_TIMEOUT_SECONDS = 10;
/** Upper bound on appends per writer in one turn, whatever the clock says. */
const APPEND_ITERATIONS_MAX = 10_000_000;
const LEDGER_ID = "bench";
const ACCOUNTS = { debit: "1000", credit: "4000" } as const;

export interface Sample {
  /** Requests answered 2xx, or events appended. */
  readonly count: number;
  readonly failed: number;
  readonly elapsedMs: number;
  /** Per-request latencies of the 2xx answers (postings only). */
  readonly latenciesMs: readonly number[];
}

export interface PostingsResult {
  readonly postings: Sample;
  readonly health: Sample;
  readonly append: Sample;
  /** Mean events per append in the limit (how much group commit there was). */
  readonly appendBatchMean: number;
}

/** The n-th posting's body: a 2-line EUR entry in the open month (a live ledger posts into its open period). */
function postingBody(n: number): { effectiveDate: string; description: string; amount: string } {
  return {
    effectiveDate: `2026-11-${String(1 + (n % 28)).padStart(2, "0")}`,
    description: `Invoice ${n}`,
    amount: `${1 + (n % 9999)}.${String(n % 100).padStart(2, "0")}`,
  };
}

/** The event the platform records for the n-th posting (amount in minor units), with its audit metadata. */
function postingEvent(n: number): NewEvent {
  const { effectiveDate, description, amount } = postingBody(n);
  const amountMinor = amount.replace(".", "").replace(/^0+(?=\d)/, "");
  const commandId = randomUUID();
  const metadata: EventMetadata = { actor: "bench", correlationId: commandId, causationId: commandId, commandId, occurredAt: new Date().toISOString() };
  return {
    eventId: randomUUID() as EventId,
    type: "JournalEntryPosted",
    schemaVersion: 1,
    data: {
      ledgerId: LEDGER_ID,
      entryId: randomUUID(),
      effectiveDate,
      description,
      externalReference: null,
      metadata: {},
      lines: [
        { accountCode: ACCOUNTS.debit, side: "debit", amountMinor, currency: "EUR" },
        { accountCode: ACCOUNTS.credit, side: "credit", amountMinor, currency: "EUR" },
      ],
      reverses: null,
    },
    metadata,
  };
}

function autocannonRun(options: autocannon.Options, latenciesMs: number[] | undefined): Promise<{ result: autocannon.Result; elapsedMs: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (error: unknown, result) => {
      if (error !== null && error !== undefined) reject(error instanceof Error ? error : new Error("autocannon failed", { cause: error }));
      else resolve({ result, elapsedMs: performance.now() - started });
    });
    if (latenciesMs !== undefined) {
      instance.on("response", (_client, statusCode, _bytes, responseTimeMs) => {
        if (statusCode >= 200 && statusCode < 300) latenciesMs.push(responseTimeMs);
      });
    }
  });
}

function postingRequest(): autocannon.Request {
  let sequence = 0;
  return {
    method: "POST",
    path: `/ledgers/${LEDGER_ID}/journal-entries`,
    setupRequest: (req: autocannon.Request) => {
      sequence += 1;
      const { effectiveDate, description, amount } = postingBody(sequence);
      return {
        ...req,
        headers: { "content-type": "application/json", "idempotency-key": `bench-${sequence}-${randomUUID()}` },
        body: JSON.stringify({
          effectiveDate,
          description,
          lines: [
            { account: ACCOUNTS.debit, side: "debit", amount, currency: "EUR" },
            { account: ACCOUNTS.credit, side: "credit", amount, currency: "EUR" },
          ],
        }),
      };
    },
  };
}

async function httpTurn(options: autocannon.Options, withLatencies: boolean): Promise<Sample> {
  const latenciesMs: number[] = [];
  const { result, elapsedMs } = await autocannonRun(options, withLatencies ? latenciesMs : undefined);
  return { count: result["2xx"], failed: result.non2xx + result.errors + result.timeouts, elapsedMs, latenciesMs };
}

function appendTurn(appender: GroupCommitAppender, writers: number, seconds: number, next: () => number): Promise<Sample> {
  return (async () => {
    const started = performance.now();
    const deadlineMs = started + seconds * 1000;
    const counts = await runWorkers(writers, () =>
      repeatUntil({ deadlineMs, iterationsMax: APPEND_ITERATIONS_MAX }, async () => {
        await appender.submit(postingEvent(next()));
      }),
    );
    return { count: counts.reduce((a, b) => a + b, 0), failed: 0, elapsedMs: performance.now() - started, latenciesMs: [] };
  })();
}

export function combineSamples(samples: readonly Sample[]): Sample {
  return {
    count: samples.reduce((a, s) => a + s.count, 0),
    failed: samples.reduce((a, s) => a + s.failed, 0),
    elapsedMs: samples.reduce((a, s) => a + s.elapsedMs, 0),
    latenciesMs: samples.flatMap((s) => s.latenciesMs).sort((a, b) => a - b),
  };
}

export const sampleRate = (s: Sample): number => perSecond(s.count, s.elapsedMs);
export const sampleP = (s: Sample, q: number): number => percentile(s.latenciesMs, q);

/**
 * `serverDatabase` is the platform's (empty) database; `limitDatabase` another
 * empty one on the same server, for the append limit.
 */
export async function measurePostings(
  options: { readonly serverDatabaseUrl: string; readonly limitDatabase: pg.ClientConfig; readonly limits: PostingsLimits; readonly log: (message: string) => void; readonly load: MachineLoad },
): Promise<PostingsResult> {
  const { limits, log } = options;
  const api = await startPlatform({ DATABASE_URL: options.serverDatabaseUrl });
  options.load.watch(api.child.pid);
  // Durable commits, as the command side appends; as many connections as the platform has.
  const pool = new pg.Pool({ ...options.limitDatabase, max: 40, idleTimeoutMillis: 600_000, connectionTimeoutMillis: 10_000 });
  const store = await PostgresEventStore.open({ pool, listenConnection: options.limitDatabase });
  try {
    await postCommand(`${api.url}/ledgers`, { ledgerId: LEDGER_ID, name: "Bench", baseCurrency: "EUR" });
    await postCommand(`${api.url}/ledgers/${LEDGER_ID}/accounts`, { code: ACCOUNTS.debit, name: "Cash", type: "asset" });
    await postCommand(`${api.url}/ledgers/${LEDGER_ID}/accounts`, { code: ACCOUNTS.credit, name: "Sales", type: "revenue" });
    const appender = new GroupCommitAppender(store, streamName("period", `${LEDGER_ID}:2026-11`), {
      batchSizeMax: WRITER_LIMITS.batchSizeMax,
      queueLengthMax: limits.connections,
    });
    let appended = 0;
    const nextEvent = (): number => (appended += 1);
    const posting = (seconds: number): autocannon.Options => ({
      url: api.url, connections: limits.connections, duration: seconds, requests: [postingRequest()], timeout: REQUEST_TIMEOUT_SECONDS,
    });
    const health = (seconds: number): autocannon.Options => ({
      url: `${api.url}/health`, connections: limits.connections, duration: seconds, timeout: REQUEST_TIMEOUT_SECONDS,
    });

    // Warm-up, untimed: the platform's JIT, plans and pools; the limit's store and plans.
    await httpTurn(posting(limits.warmupSeconds), false);
    await httpTurn(health(Math.max(1, limits.warmupSeconds / 2)), false);
    await appendTurn(appender, limits.connections, Math.max(1, limits.warmupSeconds / 2), nextEvent);
    const warmupAppends = { appends: appender.appends, events: appender.events };

    const rounds = await interleave(
      {
        rounds: limits.rounds,
        log,
        load: options.load,
        // The projection worker catches up on the previous turn's postings before the next turn starts.
        beforeTurn: () => waitForProjections(api.url, log),
        describe: (s: Sample) => `${s.count} in ${(s.elapsedMs / 1000).toFixed(1)} s = ${Math.round(sampleRate(s))}/s${s.failed > 0 ? `, ${s.failed} failed` : ""}`,
      },
      {
        postings: { label: `HTTP postings, ${limits.connections} clients`, run: () => httpTurn(posting(limits.postingSeconds), true) },
        health: { label: `GET /health, ${limits.connections} clients`, run: () => httpTurn(health(limits.healthSeconds), false) },
        append: { label: `group-committed append, ${limits.connections} writers`, run: () => appendTurn(appender, limits.connections, limits.appendSeconds, nextEvent) },
      },
    );
    const timedAppends = appender.appends - warmupAppends.appends;
    const appendBatchMean = timedAppends === 0 ? 0 : (appender.events - warmupAppends.events) / timedAppends;
    log(`append limit: ${timedAppends} appends, ${appendBatchMean.toFixed(1)} events per append on average`);
    return { postings: combineSamples(rounds.postings), health: combineSamples(rounds.health), append: combineSamples(rounds.append), appendBatchMean };
  } finally {
    await store.close();
    await pool.end();
    await stopPlatform(api);
    options.load.unwatch(api.child.pid);
  }
}
