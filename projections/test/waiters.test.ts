// Proves read-your-writes waits are cheap and bounded (defect 10): however
// many requests wait for a position, one process looks at the checkpoint
// through ONE shared poller (not one 10 ms loop per request), a commit by
// the worker in the same process wakes every waiter without a query, a wait
// that times out answers false and leaves nothing behind, and waiters beyond
// the bound are refused with OVERLOADED instead of piling up.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TrueupError } from "@trueup/contracts";
import { PostgresEventStore, encodePosition } from "@trueup/event-store";
import type { Position } from "@trueup/event-store";
import { CheckpointWaiters, ProjectionWorker, ledgerProjection } from "../src/index.ts";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { LedgerWriter } from "./fixtures/ledger-events.ts";

const WAITERS = 500;
/** Generous: a bound on a wait for an event, never a timing assertion. */
const WAIT_MS = 60_000;

let db: TestDatabase;
let store: PostgresEventStore;

beforeEach(async () => {
  db = await createTestDatabase({ poolMax: 10 });
  store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
});
afterEach(async () => {
  vi.restoreAllMocks();
  await store.close();
  await db.drop();
});

/** Counts the checkpoint reads made through the pool from now on (the real queries still run). */
function countCheckpointReads(): () => number {
  const spy = vi.spyOn(db.pool, "query");
  return () => spy.mock.calls.filter(([text]) => typeof text === "string" && text.includes('FROM "rm_ledger"."checkpoint"') && !text.includes("FOR UPDATE")).length;
}

async function ahead(writer: LedgerWriter): Promise<Position> {
  await writer.create();
  return writer.openAccount("1000", "asset");
}

describe("waiting for a position", () => {
  it(`${WAITERS} waiters in the worker's process: one commit wakes them all, without a read per waiter`, async () => {
    const worker = new ProjectionWorker({ pool: db.pool, eventStore: store, projection: ledgerProjection, waitPollIntervalMs: WAIT_MS });
    await worker.runUntilCaughtUp();
    const position = await ahead(new LedgerWriter(store, "W1"));
    const reads = countCheckpointReads();
    const waits = Array.from({ length: WAITERS }, () => worker.waitForPosition(position, WAIT_MS));
    await worker.runUntilCaughtUp();
    expect(await Promise.all(waits)).toEqual(Array.from({ length: WAITERS }, () => true));
    // At most the shared poller's first look; the old code read once per waiter every 10 ms.
    expect(reads()).toBeLessThanOrEqual(1);
  });

  it(`${WAITERS} waiters in a process without the worker share one poller`, async () => {
    const pollIntervalMs = 50;
    const waiters = new CheckpointWaiters({ pool: db.pool, projection: ledgerProjection, pollIntervalMs });
    const elsewhere = new ProjectionWorker({ pool: db.pool, eventStore: store, projection: ledgerProjection });
    await elsewhere.runUntilCaughtUp();
    const position = await ahead(new LedgerWriter(store, "W2"));
    const reads = countCheckpointReads();
    const startedMs = Date.now();
    const waits = Array.from({ length: WAITERS }, () => waiters.wait(position, WAIT_MS));
    expect(waiters.size).toBe(WAITERS);
    await elsewhere.runUntilCaughtUp();
    expect(await Promise.all(waits)).toEqual(Array.from({ length: WAITERS }, () => true));
    const elapsedMs = Date.now() - startedMs;
    // One poller sleeps pollIntervalMs between looks, however many wait (a bound, whatever the machine's speed).
    expect(reads()).toBeLessThanOrEqual(2 + Math.ceil(elapsedMs / pollIntervalMs));
    expect(waiters.size).toBe(0);
  });

  it("a wait that times out answers false and leaves no waiter behind", async () => {
    const waiters = new CheckpointWaiters({ pool: db.pool, projection: ledgerProjection, pollIntervalMs: 20 });
    await new ProjectionWorker({ pool: db.pool, eventStore: store, projection: ledgerProjection }).runUntilCaughtUp();
    const never = encodePosition(2n ** 63n, 0n);
    expect(await Promise.all([waiters.wait(never, 50), waiters.wait(never, 0)])).toEqual([false, false]);
    expect(waiters.size).toBe(0);
    await expect(waiters.wait(never, 3_600_000)).rejects.toThrow(RangeError);
  });

  it("refuses waiters beyond its bound with OVERLOADED; those already waiting are answered", async () => {
    const waiters = new CheckpointWaiters({ pool: db.pool, projection: ledgerProjection, pollIntervalMs: 20, waitersMax: 3 });
    const never = encodePosition(2n ** 63n, 0n);
    const waiting = [waiters.wait(never, 100), waiters.wait(never, 100), waiters.wait(never, 100)];
    const refused = await waiters.wait(never, 100).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TrueupError);
    expect((refused as TrueupError).code).toBe("OVERLOADED");
    expect(await Promise.all(waiting)).toEqual([false, false, false]);
    // Room again once they have gone.
    expect(await waiters.wait(never, 0)).toBe(false);
  });
});
