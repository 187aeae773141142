// Proves the projection worker's contract around the batch loop: lag counts
// the events behind and then reports 0; waitForPosition answers true once the
// checkpoint passes a position (also one the projection does not read) and
// false on timeout; a malformed or unbalanced event stops the worker with an
// error naming its position and nothing of its batch is kept (a broken
// invariant across events names the batch); transient
// store failures are retried; stop() ends an idle worker promptly; a version
// bump rebuilds, an older build refuses a newer schema.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { streamName } from "@trueup/contracts";
import { PostgresEventStore, StoreUnavailableError, encodePosition } from "@trueup/event-store";
import type { EventStore } from "@trueup/event-store";
import { ProjectionEventError, ProjectionFailedError, ProjectionWorker, ledgerProjection, readCheckpoint } from "../src/index.ts";
import type { PostgresProjection } from "../src/index.ts";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { LedgerWriter, entryData, ledgerEvent } from "./fixtures/ledger-events.ts";

let db: TestDatabase;
let store: PostgresEventStore;

// A database per test: a projection reads every ledger in its database, so
// the bad events one test writes must not reach another test's worker.
beforeEach(async () => {
  db = await createTestDatabase({ poolMax: 10 });
  store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
});
afterEach(async () => {
  await store.close();
  await db.drop();
});

function fresh(): { projection: PostgresProjection; writer: LedgerWriter } {
  return { projection: ledgerProjection, writer: new LedgerWriter(store, "W1") };
}

function worker(projection: PostgresProjection, eventStore: EventStore = store): ProjectionWorker {
  return new ProjectionWorker({ pool: db.pool, eventStore, projection, batchSizeMax: 100, retry: { attemptsMax: 5, delayFirstMs: 5, delayMaxMs: 20 } });
}

async function setUpLedger(writer: LedgerWriter, entries: number): Promise<void> {
  await writer.create();
  await writer.openAccount("1000", "asset");
  await writer.openAccount("4000", "revenue");
  for (let i = 0; i < entries; i++) {
    await writer.post({ entryId: `e${i}`, effectiveDate: "2025-01-15", lines: [["1000", "debit", "100", "EUR"], ["4000", "credit", "100", "EUR"]] });
  }
}

describe("lag", () => {
  it("reports the events behind and their age, then 0 once caught up", async () => {
    const { projection, writer } = fresh();
    const w = worker(projection);
    await w.runUntilCaughtUp();
    await setUpLedger(writer, 250);
    await writer.claimReversal("e0", "e0_r"); // not read by the projection: never counted
    await new Promise((resolve) => setTimeout(resolve, 50));
    const behind = await w.lag();
    expect(behind).toMatchObject({ positionsBehind: 253, positionsBehindCapped: false, head: await store.headPosition() });
    expect(behind.secondsBehind).toBeGreaterThanOrEqual(0.05);
    expect(await w.lag({ lagCountMax: 10 })).toMatchObject({ positionsBehind: 10, positionsBehindCapped: true });
    await w.runUntilCaughtUp();
    const caughtUp = await w.lag();
    expect(caughtUp).toMatchObject({ positionsBehind: 0, secondsBehind: 0, positionsBehindCapped: false });
    // The checkpoint passed the reversal claim the projection does not read: it is at the head.
    expect(caughtUp.checkpoint).toBe(caughtUp.head);
  });
});

describe("waitForPosition", () => {
  it("is true once the running worker has applied the position, false when it never comes", async () => {
    const { projection, writer } = fresh();
    const w = worker(projection);
    const running = w.start();
    try {
      await writer.create();
      const opened = await writer.openAccount("1000", "asset");
      expect(await w.waitForPosition(opened, 5_000)).toBe(true);
      // Read your writes: the row is there once the wait says so.
      const { rows } = await db.pool.query(`SELECT code FROM ${projection.schemaName}.accounts`);
      expect(rows).toEqual([{ code: "1000" }]);
      const claim = await writer.claimReversal("x", "y");
      expect(await w.waitForPosition(claim, 5_000)).toBe(true);
      const started = Date.now();
      expect(await w.waitForPosition(encodePosition(2n ** 63n, 0n), 60)).toBe(false);
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await w.stop();
    }
    await running;
  });

  it("bounds its timeout", async () => {
    const { projection } = fresh();
    await expect(worker(projection).waitForPosition(encodePosition(1n, 0n), 3_600_000)).rejects.toThrow(RangeError);
  });
});

describe("bad events", () => {
  it("stops on an event that fails its schema, naming its position, keeping nothing of its batch", async () => {
    const { projection, writer } = fresh();
    await setUpLedger(writer, 3);
    const w = worker(projection);
    await w.runUntilCaughtUp();
    const before = await readCheckpoint(db.pool, projection, projection.schemaName);
    await writer.post({ entryId: "good", effectiveDate: "2025-01-16", lines: [["1000", "debit", "1", "EUR"], ["4000", "credit", "1", "EUR"]] });
    const bad = { ...(entryData(writer.ledgerId, { entryId: "bad", effectiveDate: "2025-01-16", lines: [] }) as object), lines: [{ accountCode: "1000", side: "debit", amountMinor: "12.50", currency: "EUR" }] };
    const { position } = await store.append(streamName("period", `${writer.ledgerId}:2025-01`), [ledgerEvent("JournalEntryPosted", bad)], { expectedRevision: "any" });
    const failure = w.start();
    await expect(failure).rejects.toBeInstanceOf(ProjectionEventError);
    await expect(failure).rejects.toThrow(position);
    await expect(failure).rejects.toMatchObject({ position, type: "JournalEntryPosted" });
    // The good event before it was in the same batch: rolled back with it.
    expect(await readCheckpoint(db.pool, projection, projection.schemaName)).toMatchObject({ position: before?.position, eventsApplied: before?.eventsApplied });
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${projection.schemaName}.journal_entries`);
    expect(rows).toEqual([{ n: 3 }]);
  });

  it("stops on an entry that does not balance per currency", async () => {
    const { projection, writer } = fresh();
    await setUpLedger(writer, 1);
    const position = await writer.post({ entryId: "u", effectiveDate: "2025-01-16", lines: [["1000", "debit", "5", "EUR"], ["4000", "credit", "4", "EUR"]] });
    await expect(worker(projection).runUntilCaughtUp()).rejects.toThrow(new RegExp(`${position}.*does not balance in EUR`));
  });


  it("stops on a broken invariant across events (a reversal of an unknown entry), naming the batch", async () => {
    const { projection, writer } = fresh();
    await setUpLedger(writer, 1);
    const position = await writer.post({ entryId: "r", effectiveDate: "2025-01-16", reverses: "nope", lines: [["1000", "credit", "100", "EUR"], ["4000", "debit", "100", "EUR"]] });
    const failure = worker(projection).runUntilCaughtUp();
    await expect(failure).rejects.toBeInstanceOf(ProjectionFailedError);
    await expect(failure).rejects.toThrow(new RegExp(`\\.\\.${position}: every reversal links to an existing, not yet reversed entry \\(W1/nope\\)`));
  });
});

describe("retries and stopping", () => {
  it("retries transient store failures with backoff, then catches up", async () => {
    const { projection, writer } = fresh();
    await setUpLedger(writer, 5);
    let failuresLeft = 3;
    const flaky: EventStore = Object.create(store) as EventStore;
    flaky.readAll = (options) => {
      if (failuresLeft-- > 0) return Promise.reject(new StoreUnavailableError("event store unavailable: test"));
      return store.readAll(options);
    };
    await worker(projection, flaky).runUntilCaughtUp();
    expect(failuresLeft).toBeLessThan(0);
    expect((await worker(projection).lag()).positionsBehind).toBe(0);
  });

  it("gives up after the retry bound and says so", async () => {
    const { projection } = fresh();
    const down: EventStore = Object.create(store) as EventStore;
    down.headPosition = () => Promise.reject(new StoreUnavailableError("event store unavailable: test"));
    await expect(worker(projection, down).runUntilCaughtUp()).rejects.toThrow(/still failing after 6 attempts/);
  });

  it("stops an idle worker promptly, and refuses to run twice at once", async () => {
    const { projection } = fresh();
    const w = worker(projection);
    const running = w.start();
    await expect(w.start()).rejects.toThrow(/already running/);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await w.stop();
    await running;
    expect(Date.now() - started).toBeLessThan(500);
  });
});

describe("versions", () => {
  it("rebuilds a schema built by an older version, and an older build refuses a newer schema", async () => {
    const { projection, writer } = fresh();
    await setUpLedger(writer, 4);
    await worker(projection).runUntilCaughtUp();
    const v2 = { ...projection, version: projection.version + 1 };
    await worker(v2).runUntilCaughtUp();
    expect(await readCheckpoint(db.pool, v2, v2.schemaName)).toMatchObject({ version: projection.version + 1, eventsApplied: 7n });
    await expect(worker(projection).runUntilCaughtUp()).rejects.toThrow(new RegExp(`version ${projection.version + 1}`));
  });
});
