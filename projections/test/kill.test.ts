// Proves that the read model and its checkpoint commit atomically: a worker
// process is SIGKILLed at random instants, many times, while appends go on,
// and restarted each time. Once caught up, every table equals a clean build
// from position zero, and so does the checkpoint's count of applied events:
// no event lost, none applied twice.
//
// The budget is a fixed amount of work, not a wall-clock window: KILLS kills,
// each after the worker's first commit since its start, with one round of
// appends between kills. A busy machine makes it slower, never different;
// the waits' bounds are only safety nets against a hang.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresEventStore } from "@trueup/event-store";
import { ProjectionWorker, ledgerProjection, readCheckpoint } from "../src/index.ts";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { writeBook } from "./fixtures/book.ts";
import { seededRandom } from "./fixtures/ledger-events.ts";
import { snapshot } from "./fixtures/read-model.ts";
import { killChildWorker, spawnChildWorker } from "../../test-support/child-worker.ts";
import type { ChildWorker } from "../../test-support/child-worker.ts";

const CHILD = "projections/test/fixtures/run-worker.ts";
const KILLS = 8;
const KILL_DELAY_MAX_MS = 300;
/** Safety nets only (a hang fails instead of waiting for the test timeout); no step is expected to come near them. */
const PROGRESS_TIMEOUT_MS = 120_000;
const ENTRIES_PER_LEDGER = 400;
const BATCH_SIZES = [1, 7, 25, 100, 400] as const;

describe("kill test", () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  const workers = new Set<ChildWorker>();
  beforeAll(async () => {
    db = await createTestDatabase({ poolMax: 20 });
    store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
  });
  afterAll(async () => {
    for (const worker of workers) await killGroup(worker);
    await store.close();
    await db.drop();
  });

  it("ends, after many SIGKILLs at random points, equal to a clean build from zero", { timeout: 600_000 }, async () => {
    const random = seededRandom(2025);
    await writeBook(store, { ledgerIds: ["K1", "K2", "K3"], entriesPerLedger: ENTRIES_PER_LEDGER, seed: 42 });
    const appliedAtKill: bigint[] = [];
    let rounds = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      const batchSize = BATCH_SIZES[Math.floor(random() * BATCH_SIZES.length)] ?? 1;
      const before = await eventsApplied();
      const child = await spawnWorker(batchSize);
      // Appends go on while it works: one round per kill, racing the worker.
      rounds += 1;
      const round = writeRound(rounds);
      // Kill while it works: after its first commit, at a random instant.
      await waitFor(async () => (await eventsApplied()) > before, PROGRESS_TIMEOUT_MS);
      await sleep(Math.floor(random() * KILL_DELAY_MAX_MS));
      await killGroup(child);
      await round;
      appliedAtKill.push(await eventsApplied());
    }

    await new ProjectionWorker({ pool: db.pool, eventStore: store, projection: ledgerProjection, batchSizeMax: 500 }).runUntilCaughtUp();
    const reference = { ...ledgerProjection, schemaName: "rm_ledger_ref" };
    await new ProjectionWorker({ pool: db.pool, eventStore: store, projection: reference, batchSizeMax: 1000 }).runUntilCaughtUp();
    const survived = await snapshot(db.pool, "rm_ledger");
    expect(survived).toEqual(await snapshot(db.pool, "rm_ledger_ref"));

    const total = (await readCheckpoint(db.pool, reference, reference.schemaName))?.eventsApplied ?? 0n;
    expect(total).toBeGreaterThan(1_200n);
    // The kills interrupted real work: progress between kills, and most kills came before the end.
    expect(new Set(appliedAtKill).size).toBe(KILLS);
    expect(appliedAtKill.filter((applied) => applied < total).length).toBeGreaterThan(KILLS / 2);
  });

  async function eventsApplied(): Promise<bigint> {
    return (await readCheckpoint(db.pool, ledgerProjection, ledgerProjection.schemaName))?.eventsApplied ?? 0n;
  }

  async function writeRound(round: number): Promise<void> {
    await writeBook(store, { ledgerIds: ["K1", "K2", "K3"], entriesPerLedger: 5, seed: 1_000 + round, entryPrefix: `w${round}_`, setUp: false });
  }

  /** Starts the worker in its own process group (tsx runs node as a child: a group kill takes both). */
  async function spawnWorker(batchSize: number): Promise<ChildWorker> {
    const worker = await spawnChildWorker(CHILD, { TRUEUP_TEST_PG: JSON.stringify(db.config), TRUEUP_TEST_BATCH_SIZE: String(batchSize) });
    workers.add(worker);
    return worker;
  }

  /** SIGKILLs the whole group, then waits until both processes are dead (a zombie is dead: its sockets are closed). */
  async function killGroup(worker: ChildWorker): Promise<void> {
    workers.delete(worker);
    await killChildWorker(worker);
  }
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadlineMs = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadlineMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(5);
  }
}

function sleep(delayMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, delayMs));
}
