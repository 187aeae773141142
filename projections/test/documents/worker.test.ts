// Proves the document projection worker over a real PostgresEventStore and
// the PostgreSQL document sink: given ledger events, then documents (bounded
// histories, several changes of one event to one document); the same
// documents whatever the batch size; exactly-once however it is interrupted:
// a crash between the document write and the checkpoint (the MongoDB path,
// also with only part of the documents written), SIGKILLs of a worker
// process at random instants, the sink's connections terminated mid-run —
// each ends equal to a clean build from position zero, with every posting
// line counted once. Also: a plan whose batch exceeds the sink's bounds is
// halved until it fits; transient log failures are retried and reported; a
// plan that throws (or writes outside its collections) fails the worker
// (the known gap: no dead letters); waitForPosition and stop().
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { streamName } from "@trueup/contracts";
import { PostgresEventStore, StoreUnavailableError, encodePosition } from "@trueup/event-store";
import type { EventStore, RecordedEvent } from "@trueup/event-store";
import { ProjectionFailedError } from "../../src/errors.ts";
import { DOCUMENT_LIMITS, DocumentProjectionWorker, PostgresDocumentSink, TransientDocumentError } from "../../src/documents/index.ts";
import type { DocumentChange, DocumentProjection, DocumentSink, StoredDocument } from "../../src/documents/index.ts";
import { createTestDatabase } from "../../../test-support/postgres.ts";
import type { TestDatabase } from "../../../test-support/postgres.ts";
import { withOverrides } from "../../../test-support/event-store.ts";
import { writeBook } from "../fixtures/book.ts";
import { LedgerWriter, ledgerEvent, seededRandom } from "../fixtures/ledger-events.ts";
import { killChildWorker, spawnDocumentWorker } from "./fixtures/child-worker.ts";
import type { ChildWorker } from "./fixtures/child-worker.ts";
import { ACCOUNT_DOCS, LEDGER_DOCS, LEDGER_DOCUMENT_COLLECTIONS, SimulatedCrash, crashingSink, documentTally, ledgerDocumentProjection, postingTally, withSinkOverrides } from "./fixtures/ledger-documents.ts";
import { freshName, snapshotDocuments } from "./conformance.ts";

const RETRY = { attemptsMax: 3, delayFirstMs: 5, delayMaxMs: 50 } as const;
/** Bounded only as a safety net: every wait ends on its condition. */
const WAIT_MAX_MS = 60_000;

let db: TestDatabase;
let store: PostgresEventStore;

// A database per test: the projection reads every ledger in its database.
beforeEach(async () => {
  db = await createTestDatabase({ poolMax: 10 });
  store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
});
afterEach(async () => {
  await store.close();
  await db.drop();
});

const projection = ledgerDocumentProjection();

async function openSink(schemaName: string, pool: pg.Pool = db.pool): Promise<PostgresDocumentSink> {
  return PostgresDocumentSink.open({ pool, schemaName });
}

function worker(sink: DocumentSink, options: { batchSizeMax?: number; eventStore?: EventStore; projection?: DocumentProjection } = {}): DocumentProjectionWorker {
  return new DocumentProjectionWorker({ eventStore: options.eventStore ?? store, sink, projection: options.projection ?? projection, batchSizeMax: options.batchSizeMax ?? 100, retry: RETRY });
}

/** The documents a clean build from position zero makes, in a schema of its own. */
async function cleanBuild(): Promise<Record<string, StoredDocument[]>> {
  const sink = await openSink(freshName("clean"));
  await worker(sink, { batchSizeMax: 1000 }).runUntilCaughtUp();
  return snapshotDocuments(sink, LEDGER_DOCUMENT_COLLECTIONS);
}

async function allEvents(): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for (;;) {
    const page = await store.readAll({ after: events[events.length - 1]?.position, maxCount: 1_000 });
    events.push(...page);
    if (page.length < 1_000) return events;
  }
}

/** Equal to a clean build, and every posting line of the log counted exactly once in its account's history. */
async function expectExactlyOnce(sink: DocumentSink): Promise<void> {
  const built = await snapshotDocuments(sink, LEDGER_DOCUMENT_COLLECTIONS);
  expect(built).toEqual(await cleanBuild());
  const tally = postingTally(await allEvents());
  expect(tally.size).toBeGreaterThan(0);
  expect(documentTally(built[ACCOUNT_DOCS] ?? [])).toEqual(tally);
  expect(await sink.readCheckpoint(projection.name)).toBe(await store.headPosition());
}

async function waitUntil(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadlineMs = Date.now() + WAIT_MAX_MS;
  while (!(await condition())) {
    if (Date.now() > deadlineMs) throw new Error(`not reached within ${WAIT_MAX_MS} ms: ${what}`);
    await sleep(5);
  }
}

function sleep(delayMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, delayMs));
}

describe("document projection worker", () => {
  it("given ledger events, then documents: bounded histories, two lines of one entry on one account both counted", async () => {
    const sink = await openSink("given");
    const writer = new LedgerWriter(store, "L1");
    const created = await writer.create();
    const opened = await writer.openAccount("4000", "revenue");
    await writer.openAccount("1000", "asset");
    await writer.post({ entryId: "e1", effectiveDate: "2025-01-05", lines: [["1000", "debit", "300", "EUR"], ["4000", "credit", "100", "EUR"], ["4000", "credit", "200", "EUR"]] });
    await worker(sink).runUntilCaughtUp();
    expect((await sink.get(ACCOUNT_DOCS, "L1:4000"))?.body).toMatchObject({ postings: ["e1:credit:100:EUR", "e1:credit:200:EUR"], postingsDropped: 0, lastEntryId: "e1" });

    for (const n of [2, 3, 4, 5]) await writer.post({ entryId: `e${n}`, effectiveDate: "2025-01-06", lines: [["1000", "debit", `${n}00`, "EUR"], ["4000", "credit", `${n}00`, "EUR"]] });
    await writer.closePeriod("2025-01");
    await writer.closeAccount("4000");
    await worker(sink).runUntilCaughtUp();

    expect(await sink.get(ACCOUNT_DOCS, "L1:4000")).toEqual({
      collection: ACCOUNT_DOCS,
      id: "L1:4000",
      body: {
        ledgerId: "L1",
        code: "4000",
        name: "Account 4000",
        type: "revenue",
        openedAt: opened,
        status: "closed",
        lastEntryId: "e5",
        lastSide: "credit",
        postings: ["e3:credit:300:EUR", "e4:credit:400:EUR", "e5:credit:500:EUR"],
        postingsDropped: 3,
      },
      applied: { position: (await store.readStream(streamName("ledger", "L1"))).at(-1)?.position, ordinal: 0 },
    });
    expect((await sink.get(LEDGER_DOCS, "L1"))?.body).toEqual({
      name: "Ledger L1",
      baseCurrency: "EUR",
      createdAt: created,
      status: "open",
      lastEntryId: "e5",
      entries: ["e1", "e2", "e3", "e4", "e5"],
      entriesDropped: 0,
      periodEvents: ["PeriodClosed:2025-01"],
      periodEventsDropped: 0,
    });
    await expectExactlyOnce(sink);
  });

  it("makes the same documents whatever the batch size", async () => {
    await writeBook(store, { ledgerIds: ["B1", "B2"], entriesPerLedger: 60, seed: 3 });
    for (const batchSizeMax of [1, 7, 100]) {
      const sink = await openSink(freshName("batch"));
      await worker(sink, { batchSizeMax }).runUntilCaughtUp();
      await expectExactlyOnce(sink);
    }
  });

  it("heals crashes between the document write and the checkpoint, also after a partial write: equal to a clean build, nothing pushed twice", async () => {
    await writeBook(store, { ledgerIds: ["C1", "C2"], entriesPerLedger: 60, seed: 7 });
    const real = await openSink("crashed");
    const random = seededRandom(11);
    for (let round = 0; round < 8; round++) {
      // The MongoDB path: documents written (all, or only some, as when a bulk write stops), then the process dies.
      const crashing = crashingSink(real, 1 + Math.floor(random() * 4), round % 2 === 1);
      const crashed = worker(crashing, { batchSizeMax: 1 + Math.floor(random() * 20) });
      await expect(crashed.runUntilCaughtUp()).rejects.toBeInstanceOf(SimulatedCrash);
      expect(crashed.status).toMatchObject({ state: "failed", lastError: expect.stringContaining("SimulatedCrash") as unknown });
      await writeBook(store, { ledgerIds: ["C1", "C2"], entriesPerLedger: 4, seed: 100 + round, entryPrefix: `r${round}_`, setUp: false });
    }
    await worker(real, { batchSizeMax: 50 }).runUntilCaughtUp();
    await expectExactlyOnce(real);
  });

  it("ends, after SIGKILLs of its process at random instants (atomic and two-step batches), equal to a clean build from zero", { timeout: 120_000 }, async () => {
    const kills = 6;
    const random = seededRandom(2026);
    const schemaName = "killed";
    const watcher = await openSink(schemaName);
    await writeBook(store, { ledgerIds: ["K1", "K2", "K3"], entriesPerLedger: 120, seed: 42 });
    const children = new Set<ChildWorker>();
    const checkpointsAtKill: (string | undefined)[] = [];
    try {
      for (let kill = 0; kill < kills; kill++) {
        const before = await watcher.readCheckpoint(projection.name);
        const batchSize = [1, 3, 10, 40][Math.floor(random() * 4)] ?? 1;
        const child = await spawnDocumentWorker({ config: db.config, schemaName, batchSize, split: kill % 2 === 1 });
        children.add(child);
        // Appends go on while it works, racing the worker.
        const appending = writeBook(store, { ledgerIds: ["K1", "K2", "K3"], entriesPerLedger: 4, seed: 500 + kill, entryPrefix: `k${kill}_`, setUp: false });
        await waitUntil("the child committed a batch", async () => (await watcher.readCheckpoint(projection.name)) !== before);
        await sleep(Math.floor(random() * 150));
        await killChildWorker(child);
        children.delete(child);
        await appending;
        checkpointsAtKill.push(await watcher.readCheckpoint(projection.name));
      }
    } finally {
      for (const child of children) await killChildWorker(child);
    }
    const head = await store.headPosition();
    // The kills interrupted real work: progress between kills, and most kills came before the end.
    expect(new Set(checkpointsAtKill).size).toBe(kills);
    expect(checkpointsAtKill.filter((checkpoint) => checkpoint !== head).length).toBeGreaterThan(kills / 2);
    await worker(watcher, { batchSizeMax: 200 }).runUntilCaughtUp();
    await expectExactlyOnce(watcher);
  });

  it("retries while the sink's connections are terminated mid-run, and finishes without loss", async () => {
    await writeBook(store, { ledgerIds: ["O1", "O2", "O3"], entriesPerLedger: 80, seed: 9 });
    const sinkPool = new pg.Pool({ ...db.config, max: 3, idleTimeoutMillis: 10_000, connectionTimeoutMillis: 10_000, application_name: "doc_outage" });
    // Clients cut on purpose error on the pool when idle and on themselves when checked out (see platform/src/storage.ts).
    sinkPool.on("error", () => undefined);
    sinkPool.on("connect", (client) => client.on("error", () => undefined));
    try {
      const sink = await openSink("outage", sinkPool);
      const failures: unknown[] = [];
      const observed = withSinkOverrides(sink, {
        applyBatch: (name, changes, checkpoint) =>
          sink.applyBatch(name, changes, checkpoint).catch((error: unknown) => {
            failures.push(error);
            throw error;
          }),
      });
      const outage = worker(observed, { batchSizeMax: 3 });
      const run = outage.runUntilCaughtUp();
      const progress = { done: false };
      run.then(
        () => {
          progress.done = true;
        },
        () => {
          progress.done = true;
        },
      );
      let terminated = 0;
      while (!progress.done && failures.length < 5) {
        const killed = await db.pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'doc_outage'");
        terminated += killed.rowCount ?? 0;
        await sleep(3);
      }
      await run;
      expect(terminated).toBeGreaterThan(0);
      expect(failures.length).toBeGreaterThan(0);
      expect(failures.every((failure) => failure instanceof TransientDocumentError)).toBe(true);
      expect(outage.status.state).toBe("stopped");
      await expectExactlyOnce(sink);
    } finally {
      await sinkPool.end();
    }
  });

  it("retries an event store outage for as long as it lasts, saying so in its status", async () => {
    const sink = await openSink("log_outage");
    await new LedgerWriter(store, "U1").create();
    let failures = 0;
    const seen: string[] = [];
    let flaky: DocumentProjectionWorker | undefined = undefined;
    const failing = withOverrides(store, {
      headPosition: (options) => {
        if (flaky !== undefined) seen.push(flaky.status.state);
        return failures++ < RETRY.attemptsMax * 4 ? Promise.reject(new StoreUnavailableError("event store unavailable: test")) : store.headPosition(options);
      },
    });
    flaky = worker(sink, { eventStore: failing });
    await flaky.runUntilCaughtUp();
    expect(seen).toContain("retrying");
    expect((await sink.get(LEDGER_DOCS, "U1"))?.body).toMatchObject({ status: "open" });
  });

  it("halves a batch whose changes exceed the sink's bound until it fits", async () => {
    const sink = await openSink("halved");
    const docsPerEvent = 1_000;
    const events = Math.floor(DOCUMENT_LIMITS.changesPerBatchMax / docsPerEvent) + 1;
    const stream = streamName("wide", "1");
    await store.append(stream, Array.from({ length: events }, (_, i) => ledgerEvent("LedgerCreated", { i })), { expectedRevision: "no-stream" });
    let batches = 0;
    const wide: DocumentProjection = {
      name: "wide",
      version: 1,
      kind: "document",
      collections: ["wide_docs"],
      filter: { categories: ["wide"] },
      plan: (batch) => batch.flatMap((event) => Array.from({ length: docsPerEvent }, (_, d): DocumentChange => ({ collection: "wide_docs", id: `d${d}`, position: event.position, ordinal: 0, set: { last: event.revision.toString() } }))),
      onUnprojectable: () => "stop",
    };
    const counting = withSinkOverrides(sink, {
      applyBatch: async (name, changes, checkpoint) => {
        batches += 1;
        await sink.applyBatch(name, changes, checkpoint);
      },
    });
    await worker(counting, { projection: wide, batchSizeMax: 1_000 }).runUntilCaughtUp();
    expect(batches).toBeGreaterThan(2);
    expect(await sink.count("wide_docs")).toBe(docsPerEvent);
    expect((await sink.get("wide_docs", "d999"))?.body).toEqual({ last: String(events - 1) });
    expect(await sink.readCheckpoint("wide")).toBe(await store.headPosition());
  }, 120_000);

  it("fails, and says why, on a plan that throws or writes outside its collections (no dead letters: the known gap)", async () => {
    const sink = await openSink("failing");
    const first = (await store.append(streamName("poison", "1"), [ledgerEvent("LedgerCreated", { ok: true })], { expectedRevision: "no-stream" })).position;
    await store.append(streamName("poison", "1"), [ledgerEvent("LedgerCreated", { ok: false })], { expectedRevision: 0n });
    const base: Omit<DocumentProjection, "name" | "plan"> = { version: 1, kind: "document", collections: ["poisoned"], filter: { categories: ["poison"] }, onUnprojectable: () => "stop" };
    const throwing: DocumentProjection = {
      ...base,
      name: "throwing",
      plan: (events) =>
        events.map((event) => {
          if ((event.data as { ok: boolean }).ok) return { collection: "poisoned", id: "a", position: event.position, ordinal: 0, set: { ok: true } };
          throw new TypeError("cannot understand this event");
        }),
    };
    const failing = worker(sink, { projection: throwing, batchSizeMax: 1 });
    await expect(failing.runUntilCaughtUp()).rejects.toBeInstanceOf(ProjectionFailedError);
    expect(failing.status).toMatchObject({ state: "failed", checkpoint: first, lastError: expect.stringContaining("cannot understand this event") as unknown });
    expect(await sink.readCheckpoint("throwing")).toBe(first);

    const trespassing: DocumentProjection = { ...base, name: "trespassing", plan: (events) => events.map((event) => ({ collection: "elsewhere", id: "a", position: event.position, ordinal: 0 })) };
    await expect(worker(sink, { projection: trespassing }).runUntilCaughtUp()).rejects.toThrow(/not one of the projection's collections/);
    expect(await sink.count("elsewhere")).toBe(0);
  });

  it("answers waitForPosition once its checkpoint passes a position, also one it does not read, and stops promptly when idle", async () => {
    const sink = await openSink("waiting");
    const live = worker(sink);
    const running = live.start();
    try {
      const created = await new LedgerWriter(store, "W1").create();
      expect(await live.waitForPosition(created, 10_000)).toBe(true);
      expect((await sink.get(LEDGER_DOCS, "W1"))?.body).toMatchObject({ status: "open" });
      // A reversal claim is not in the projection's filter: the checkpoint passes it all the same.
      const unread = await new LedgerWriter(store, "W1").claimReversal("e1", "e1_r");
      expect(await live.waitForPosition(unread, 10_000)).toBe(true);
      expect(await live.waitForPosition(encodePosition(2n ** 60n, 0n), 50)).toBe(false);
      await expect(live.waitForPosition(created, 60_001)).rejects.toThrow(RangeError);
      await sleep(50);
      const stopAsked = Date.now();
      await live.stop();
      await running;
      expect(Date.now() - stopAsked).toBeLessThan(1_000);
      expect(live.status.state).toBe("stopped");
      await expect(live.start()).resolves.toBeUndefined();
    } finally {
      await live.stop();
    }
  });
});
