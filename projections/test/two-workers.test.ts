// Proves that two workers of one projection, each with its own pool (as two
// processes run them), apply every event exactly once between them: the
// checkpoint's advisory lock lets one batch at a time write, and the second
// waits, finds the checkpoint moved and reads on from there, before its
// apply: rows are written once (the checkpoint's conditional update alone
// would roll a second apply back), and apply itself, where a process
// manager's effects run, is called once per event.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newEventId, streamName } from "@trueup/contracts";
import { PostgresEventStore } from "@trueup/event-store";
import type { RecordedEvent } from "@trueup/event-store";
import { ProjectionWorker, qualified } from "../src/index.ts";
import type { PostgresProjection } from "../src/index.ts";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";

const metadata = { actor: "t", correlationId: "c", causationId: "c", commandId: "c", occurredAt: "2026-01-01T00:00:00.000Z" };
const EVENTS = 600;
/** Events handed to apply, over both workers: what a process manager's effects would see. */
let applied = 0;

const tally: PostgresProjection<readonly RecordedEvent[]> = {
  name: "tally",
  version: 1,
  kind: "postgres",
  schemaName: "rm_tally",
  filter: { categories: ["tally"] },
  batchSizeMax: 25,
  ddl: (schemaName) => [
    // No key: a batch applied twice would land twice, and show in the counts.
    `CREATE TABLE ${qualified(schemaName, "seen")} (position text NOT NULL)`,
    `CREATE TABLE ${qualified(schemaName, "total")} (n integer NOT NULL)`,
    `INSERT INTO ${qualified(schemaName, "total")} VALUES (0)`,
  ],
  plan: (events) => events,
  apply: async (tx, events, schemaName) => {
    // A pause inside the transaction, before its first write: the other worker's batch comes in meanwhile.
    applied += events.length;
    await tx.query("SELECT pg_sleep(0.005)");
    await tx.query(`INSERT INTO ${qualified(schemaName, "seen")} SELECT unnest($1::text[])`, [events.map((e) => e.position)]);
    await tx.query(`UPDATE ${qualified(schemaName, "total")} SET n = n + $1`, [events.length]);
  },
  onUnprojectable: () => "stop",
};

describe("two workers of one projection", () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  const pools: pg.Pool[] = [];
  beforeAll(async () => {
    db = await createTestDatabase({ poolMax: 6 });
    store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
    for (let at = 0; at < EVENTS; at += 100) {
      await store.append(streamName("tally", String(at)), Array.from({ length: 100 }, (_, n) => ({ eventId: newEventId(), type: "Counted", schemaVersion: 1, data: { n: at + n }, metadata })), { expectedRevision: "no-stream" });
    }
  });
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    await store.close();
    await db.drop();
  });

  it("apply every event exactly once between them", async () => {
    const workers = [0, 1].map(() => {
      const pool = new pg.Pool({ ...db.config, max: 3 });
      pools.push(pool);
      return new ProjectionWorker({ pool, eventStore: store, projection: tally });
    });
    await Promise.all(workers.map((worker) => worker.runUntilCaughtUp()));
    const seen = await db.pool.query<{ n: number; distinct: number }>("SELECT count(*)::int AS n, count(DISTINCT position)::int AS distinct FROM rm_tally.seen");
    const total = await db.pool.query<{ n: number }>("SELECT n FROM rm_tally.total");
    expect(seen.rows[0]).toEqual({ n: EVENTS, distinct: EVENTS });
    expect(total.rows[0]?.n).toBe(EVENTS);
    expect(applied).toBe(EVENTS);
  });
});
