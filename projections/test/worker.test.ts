// Proves the projection worker's contract around the batch loop: lag counts
// the events behind and then reports 0; waitForPosition answers true once the
// checkpoint passes a position (also one the projection does not read) and
// false on timeout; an event the projection cannot apply (malformed, a year
// PostgreSQL cannot store, unbalanced, a broken invariant across events) is
// isolated from its batch and becomes a dead letter: the ledger is held on it
// (without spinning) until a retry after a fix, a projection whose policy is
// to park moves past it and applies it on retry; transient store failures are
// retried for as long as they last, far past the policy's attemptsMax;
// stop() ends an idle worker promptly; a version bump rebuilds, an older
// build refuses a newer schema.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { streamName } from "@trueup/contracts";
import { PostgresEventStore, StoreUnavailableError, encodePosition } from "@trueup/event-store";
import type { EventStore } from "@trueup/event-store";
import type { JsonValue } from "@trueup/contracts";
import { ProjectionFailedError, ProjectionWorker, ledgerProjection, readCheckpoint, retryDeadLetters } from "../src/index.ts";
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

const RETRY = { attemptsMax: 5, delayFirstMs: 5, delayMaxMs: 20 } as const;

function worker(projection: PostgresProjection, eventStore: EventStore = store): ProjectionWorker {
  return new ProjectionWorker({ pool: db.pool, eventStore, projection, batchSizeMax: 100, retry: RETRY, haltRecheckMs: 50 });
}

/** The store, counting reads of the log. */
function countingStore(): { store: EventStore; reads: () => number } {
  let reads = 0;
  const counting: EventStore = Object.create(store) as EventStore;
  counting.readAll = (options) => {
    reads += 1;
    return store.readAll(options);
  };
  return { store: counting, reads: () => reads };
}

/** Bounded only as a safety net: every wait ends on its condition. */
async function waitUntil(condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadlineMs = Date.now() + 60_000;
  while (!(await condition())) {
    if (Date.now() > deadlineMs) throw new Error("condition not met within 60 s");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function entryIds(projection: PostgresProjection): Promise<string[]> {
  const { rows } = await db.pool.query<{ entry_id: string }>(`SELECT entry_id FROM ${projection.schemaName}.journal_entries ORDER BY position`);
  return rows.map((r) => r.entry_id);
}

async function deadLetters(projection: PostgresProjection): Promise<{ position: string; status: string; type: string; attempts: number; entryId: string; error: string }[]> {
  const { rows } = await db.pool.query<{ position: string; status: string; type: string; attempts: number; entry_id: string; error: string }>(
    `SELECT position, status, type, attempts, event->'data'->>'entryId' AS entry_id, error FROM ${projection.schemaName}.dead_letters ORDER BY position`,
  );
  return rows.map((r) => ({ position: r.position, status: r.status, type: r.type, attempts: r.attempts, entryId: r.entry_id, error: r.error }));
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
  it("holds the ledger on an event that fails its schema: a blocking dead letter, the events before it applied, no spinning", async () => {
    const { projection, writer } = fresh();
    await setUpLedger(writer, 3);
    const counting = countingStore();
    const w = worker(projection, counting.store);
    await w.runUntilCaughtUp();
    const good = await writer.post({ entryId: "good", effectiveDate: "2025-01-16", lines: [["1000", "debit", "1", "EUR"], ["4000", "credit", "1", "EUR"]] });
    const bad = { ...(entryData(writer.ledgerId, { entryId: "bad", effectiveDate: "2025-01-16", lines: [] }) as object), lines: [{ accountCode: "1000", side: "debit", amountMinor: "12.50", currency: "EUR" }] };
    const { position } = await store.append(streamName("period", `${writer.ledgerId}:2025-01`), [ledgerEvent("JournalEntryPosted", bad)], { expectedRevision: "any" });
    const after = await writer.post({ entryId: "after", effectiveDate: "2025-01-17", lines: [["1000", "debit", "2", "EUR"], ["4000", "credit", "2", "EUR"]] });
    const running = w.start();
    try {
      await waitUntil(() => w.status.state === "halted");
      expect(w.status).toMatchObject({ state: "halted", haltedAt: position });
      expect(w.unreadyReason).toContain(`dead letter at position ${position}`);
      // The good event of the same batch was isolated from the bad one and applied; nothing after the bad one was.
      expect((await readCheckpoint(db.pool, projection, projection.schemaName))?.position).toBe(good);
      expect(await entryIds(projection)).toEqual(["e0", "e1", "e2", "good"]);
      expect(await deadLetters(projection)).toEqual([{ position, status: "blocking", type: "JournalEntryPosted", attempts: 1, entryId: "bad", error: expect.stringContaining("amountMinor") as unknown }]);
      // Held, not spinning: no reads of the log while it waits for an operator.
      const reads = counting.reads();
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(counting.reads()).toBe(reads);
      expect(after > position).toBe(true);
    } finally {
      await w.stop();
    }
    await running;
  });

  it("the ledger halts on a date PostgreSQL cannot store (year 0000), and a retry after a fix resumes it", async () => {
    const { writer } = fresh();
    await setUpLedger(writer, 1);
    let fixed = false;
    // Stands for a fix deployed by the operator (e.g. an upcaster moving the date into range): the event applies once fixed.
    const projection: PostgresProjection = {
      ...ledgerProjection,
      plan: (events) => ledgerProjection.plan(fixed ? events.map((e) => ({ ...e, data: JSON.parse(JSON.stringify(e.data).replace("0000-01-15", "2025-01-15")) as JsonValue })) : events),
    };
    const position = await writer.post({ entryId: "y0", effectiveDate: "0000-01-15", lines: [["1000", "debit", "7", "EUR"], ["4000", "credit", "7", "EUR"]] });
    const w = new ProjectionWorker({ pool: db.pool, eventStore: store, projection, batchSizeMax: 100, retry: RETRY, haltRecheckMs: 60_000 });
    const running = w.start();
    try {
      await waitUntil(() => w.status.state === "halted");
      expect(w.status.haltedAt).toBe(position);
      // A retry without a fix: tried again (woken at once, not after the 60 s re-check), held again, attempts counted.
      expect(await retryDeadLetters({ pool: db.pool, eventStore: store, projection })).toEqual({ retryRequested: 1, resolved: 0, stillFailing: 0 });
      w.retryNow();
      await waitUntil(async () => (await deadLetters(projection))[0]?.attempts === 2);
      await waitUntil(() => w.status.state === "halted");
      fixed = true;
      await retryDeadLetters({ pool: db.pool, eventStore: store, projection });
      w.retryNow();
      await waitUntil(async () => (await deadLetters(projection))[0]?.status === "resolved");
      expect(w.status.state).toBe("running");
      expect(await entryIds(projection)).toEqual(["e0", "y0"]);
      expect((await w.lag()).positionsBehind).toBe(0);
    } finally {
      await w.stop();
    }
    await running;
  });

  it("a projection whose policy is to park moves past the event, keeps it as a dead letter, and applies it on retry after a fix", async () => {
    const { writer } = fresh();
    await setUpLedger(writer, 2);
    let fixed = false;
    const projection: PostgresProjection = {
      ...ledgerProjection,
      onUnprojectable: () => "park",
      plan: (events) => {
        if (!fixed && events.some((e) => JSON.stringify(e.data).includes('"entryId":"odd"'))) throw new Error("cannot plan odd");
        return ledgerProjection.plan(events);
      },
    };
    const position = await writer.post({ entryId: "odd", effectiveDate: "2025-01-20", lines: [["1000", "debit", "3", "EUR"], ["4000", "credit", "3", "EUR"]] });
    await writer.post({ entryId: "later", effectiveDate: "2025-01-21", lines: [["1000", "debit", "4", "EUR"], ["4000", "credit", "4", "EUR"]] });
    const w = worker(projection);
    await w.runUntilCaughtUp();
    expect(w.status.state).not.toBe("halted");
    expect(await entryIds(projection)).toEqual(["e0", "e1", "later"]);
    expect(await deadLetters(projection)).toEqual([{ position, status: "parked", type: "JournalEntryPosted", attempts: 1, entryId: "odd", error: "Error: cannot plan odd" }]);
    expect((await w.lag()).positionsBehind).toBe(0);
    expect(await retryDeadLetters({ pool: db.pool, eventStore: store, projection })).toEqual({ retryRequested: 0, resolved: 0, stillFailing: 1 });
    fixed = true;
    expect(await retryDeadLetters({ pool: db.pool, eventStore: store, projection })).toEqual({ retryRequested: 0, resolved: 1, stillFailing: 0 });
    expect(await entryIds(projection)).toEqual(["e0", "e1", "odd", "later"]);
    const { rows } = await db.pool.query<{ debit: string }>(`SELECT debit_minor::text AS debit FROM ${projection.schemaName}.balances WHERE code = '1000'`);
    expect(rows).toEqual([{ debit: "207" }]);
  });

  it("stops on an entry that does not balance per currency", async () => {
    const { projection, writer } = fresh();
    await setUpLedger(writer, 1);
    const position = await writer.post({ entryId: "u", effectiveDate: "2025-01-16", lines: [["1000", "debit", "5", "EUR"], ["4000", "credit", "4", "EUR"]] });
    await expect(worker(projection).runUntilCaughtUp()).rejects.toThrow(new RegExp(`${position}.*does not balance in EUR`));
  });

  it("stops on a broken invariant across events (a reversal of an unknown entry), naming the event", async () => {
    const { projection, writer } = fresh();
    await setUpLedger(writer, 1);
    const position = await writer.post({ entryId: "r", effectiveDate: "2025-01-16", reverses: "nope", lines: [["1000", "credit", "100", "EUR"], ["4000", "debit", "100", "EUR"]] });
    const failure = worker(projection).runUntilCaughtUp();
    await expect(failure).rejects.toBeInstanceOf(ProjectionFailedError);
    await expect(failure).rejects.toThrow(new RegExp(`${position}\\.\\.${position}: every reversal links to an existing, not yet reversed entry \\(W1/nope\\)`));
  });
});

describe("the same entry twice in the log (EventStoreDB dedups ids only at the same expected revision)", () => {
  for (const batchSizeMax of [1, 100]) {
    it(`tolerates an exact copy and parks one with other content (batches of ${batchSizeMax})`, async () => {
      const { projection, writer } = fresh();
      await setUpLedger(writer, 1);
      const entry = { entryId: "twice", effectiveDate: "2025-01-18", lines: [["1000", "debit", "10", "EUR"], ["4000", "credit", "10", "EUR"]] } as const;
      await writer.post(entry);
      await writer.post(entry); // a new event id, the same entry: a retried posting written again
      const conflicting = await writer.post({ ...entry, lines: [["1000", "debit", "99", "EUR"], ["4000", "credit", "99", "EUR"]] });
      await writer.post({ entryId: "next", effectiveDate: "2025-01-19", lines: [["1000", "debit", "1", "EUR"], ["4000", "credit", "1", "EUR"]] });
      const w = new ProjectionWorker({ pool: db.pool, eventStore: store, projection, batchSizeMax, retry: RETRY, haltRecheckMs: 50 });
      await w.runUntilCaughtUp();
      expect(await entryIds(projection)).toEqual(["e0", "twice", "next"]);
      const { rows } = await db.pool.query<{ debit: string; lines: string }>(`SELECT debit_minor::text AS debit, line_count::text AS lines FROM ${projection.schemaName}.balances WHERE code = '1000'`);
      expect(rows).toEqual([{ debit: "111", lines: "3" }]);
      const letters = await deadLetters(projection);
      expect(letters).toMatchObject([{ position: conflicting, status: "parked", entryId: "twice" }]);
      expect(letters[0]?.error).toContain("with other content");
      expect((await w.lag()).positionsBehind).toBe(0);
    });
  }
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

  it("keeps retrying an outage far past the policy's attemptsMax, says so in its status, and catches up when it ends", async () => {
    const { projection, writer } = fresh();
    await setUpLedger(writer, 2);
    const outageFailures = RETRY.attemptsMax * 6;
    let failures = 0;
    const down: EventStore = Object.create(store) as EventStore;
    const seen: { state: string; consecutiveFailures: number }[] = [];
    down.headPosition = () => {
      // What the worker reports while the outage lasts, read at each of its attempts.
      seen.push({ state: w.status.state, consecutiveFailures: w.status.consecutiveFailures });
      return failures++ < outageFailures ? Promise.reject(new StoreUnavailableError("event store unavailable: test")) : store.headPosition();
    };
    const w = worker(projection, down);
    await w.runUntilCaughtUp();
    expect(failures).toBeGreaterThan(outageFailures);
    expect(seen[outageFailures]).toEqual({ state: "retrying", consecutiveFailures: outageFailures });
    expect(w.status).toMatchObject({ consecutiveFailures: 0, lastError: undefined });
    expect((await w.lag()).positionsBehind).toBe(0);
    expect(await entryIds(projection)).toEqual(["e0", "e1"]);
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
    expect(w.status.state).toBe("stopped");
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
