// Proves the process-manager projection over a real PostgreSQL: its effects
// run once per event in log order and are recorded with their outcome; and a
// connection cut while its transaction waits on an effect (between queries,
// the moment a process manager is most exposed) is a retried outage, not an
// uncaught exception: the worker finishes, and each event's effect is asked
// for again only after the cut (the handler is idempotent by contract).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresEventStore } from "@trueup/event-store";
import type { RecordedEvent } from "@trueup/event-store";
import { newEventId, streamName } from "@trueup/contracts";
import { ProjectionWorker, processManagerProjection } from "../src/index.ts";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";

const metadata = { actor: "t", correlationId: "c", causationId: "c", commandId: "c", occurredAt: "2026-01-01T00:00:00.000Z" };

describe("a process manager as a projection", () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  beforeAll(async () => {
    db = await createTestDatabase({ poolMax: 10 });
    store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
    await store.append(streamName("job", "1"), Array.from({ length: 5 }, (_, n) => ({ eventId: newEventId(), type: "JobAsked", schemaVersion: 1, data: { n }, metadata })), { expectedRevision: "no-stream" });
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  it("survives its connection being cut while it waits on an effect, and records each effect once", { timeout: 60_000 }, async () => {
    const handled: number[] = [];
    let cut = false;
    const manager = processManagerProjection({
      name: "jobs",
      schemaName: "pm_jobs",
      filter: { categories: ["job"] },
      handle: async (event: RecordedEvent) => {
        const n = (event.data as { n: number }).n;
        if (n === 2 && !cut) {
          cut = true;
          // The batch's transaction is open and idle now: cut every other connection of this database under it.
          await db.pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        handled.push(n);
        return { done: n };
      },
    });
    await new ProjectionWorker({ pool: db.pool, eventStore: store, projection: manager, retry: { delayFirstMs: 20, delayMaxMs: 200, attemptsMax: 10 } }).runUntilCaughtUp();
    const { rows } = await db.pool.query<{ outcome: { done: number } }>("SELECT outcome FROM pm_jobs.effects ORDER BY position");
    expect(rows.map((r) => r.outcome.done)).toEqual([0, 1, 2, 3, 4]);
    // Asked again after the cut (the batch rolled back), never skipped.
    expect(cut).toBe(true);
    expect([...new Set(handled)]).toEqual([0, 1, 2, 3, 4]);
  });

  it("holds back nothing while its effects run: an event appended by an effect is readable before the batch commits", async () => {
    const seen: boolean[] = [];
    const manager = processManagerProjection({
      name: "echo",
      schemaName: "pm_echo",
      filter: { categories: ["job"] },
      handle: async (event: RecordedEvent) => {
        const n = (event.data as { n: number }).n;
        await store.append(streamName("echo", String(n)), [{ eventId: newEventId(), type: "Echoed", schemaVersion: 1, data: { n }, metadata }], { expectedRevision: "no-stream" });
        const deadline = Date.now() + 2_000;
        let visible = false;
        while (!visible && Date.now() < deadline) {
          visible = (await store.readAll({ filter: { categories: ["echo"] } })).some((e) => (e.data as { n: number }).n === n);
          if (!visible) await new Promise((resolve) => setTimeout(resolve, 20));
        }
        seen.push(visible);
        return { echoed: n };
      },
    });
    await new ProjectionWorker({ pool: db.pool, eventStore: store, projection: manager }).runUntilCaughtUp();
    // Before the checkpoint's lock became an advisory one, the batch's FOR UPDATE gave it an xid: every echo was held back until the commit.
    expect(seen).toEqual([true, true, true, true, true]);
  });
});
