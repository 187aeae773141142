// Proves the PostgreSQL JSONB document sink: the shared conformance suite,
// plus what only this adapter can get wrong: several sinks opening one
// schema at once, a batch spread over several apply calls that is still all
// or nothing, and outages (a backend terminated in the middle of a batch, a
// server that is not there) mapped to TransientDocumentError with nothing of
// the batch written, after which the same batch applies.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APPLY_CHUNK_BYTES_MAX, APPLY_CHUNK_CHANGES_MAX, DocumentTooLargeError, PostgresDocumentSink, TransientDocumentError } from "../../src/documents/index.ts";
import type { DocumentChange } from "../../src/documents/index.ts";
import { createTestDatabase } from "../../../test-support/postgres.ts";
import type { TestDatabase } from "../../../test-support/postgres.ts";
import { describeDocumentSinkConformance, freshName, pos } from "./conformance.ts";

function extraPool(config: pg.ClientConfig, options: { max: number; applicationName?: string }): pg.Pool {
  const pool = new pg.Pool({ ...config, max: options.max, idleTimeoutMillis: 10_000, connectionTimeoutMillis: 10_000, ...(options.applicationName === undefined ? {} : { application_name: options.applicationName }) });
  // Clients error when a test terminates backends on purpose: idle ones on the pool (which replaces them),
  // checked-out ones on themselves (as platform/src/storage.ts listens; the holder gets the error from its query).
  pool.on("error", () => undefined);
  pool.on("connect", (client) => client.on("error", () => undefined));
  return pool;
}

describeDocumentSinkConformance("postgres", async () => {
  const db = await createTestDatabase({ poolMax: 20 });
  const schemaName = "conformance_docs";
  const sink = await PostgresDocumentSink.open({ pool: db.pool, schemaName });
  const pools: pg.Pool[] = [];
  return {
    sink,
    another: async () => {
      const pool = extraPool(db.config, { max: 5 });
      pools.push(pool);
      return PostgresDocumentSink.open({ pool, schemaName });
    },
    close: async () => {
      for (const pool of pools) await pool.end();
      await db.drop();
    },
  };
});

describe("postgres document sink specifics", () => {
  let db: TestDatabase;
  let sink: PostgresDocumentSink;
  const schemaName = "specific_docs";
  beforeAll(async () => {
    db = await createTestDatabase({ poolMax: 20 });
    sink = await PostgresDocumentSink.open({ pool: db.pool, schemaName });
  });
  afterAll(async () => {
    await db.drop();
  });

  it("lets many sinks open one new schema at once", async () => {
    const fresh = "opened_together";
    const sinks = await Promise.all(Array.from({ length: 6 }, () => PostgresDocumentSink.open({ pool: db.pool, schemaName: fresh })));
    await sinks[0]?.applyBatch("p", [{ collection: "c", id: "a", position: pos(1), ordinal: 0, set: { v: 1 } }], pos(1));
    expect((await sinks[5]?.get("c", "a"))?.body).toEqual({ v: 1 });
    await expect(PostgresDocumentSink.open({ pool: db.pool, schemaName: "Bad-Name" })).rejects.toBeInstanceOf(RangeError);
  });

  it("writes a batch spread over several apply calls all or nothing", async () => {
    const c = freshName("c");
    const p = freshName("p");
    // The document that will grow too large sorts last, so every chunk before its own has run when it is refused.
    await sink.applyBatch(p, [{ collection: c, id: "zzz", position: pos(1), ordinal: 0, push: { h: { values: Array.from({ length: 8 }, () => "z".repeat(100_000)), keepLast: 20 } } }], pos(1));
    const many: DocumentChange[] = Array.from({ length: APPLY_CHUNK_CHANGES_MAX * 2 + 10 }, (_, i) => ({ collection: c, id: `d${i}`, position: pos(2), ordinal: 0, set: { i } }));
    const grow: DocumentChange = { collection: c, id: "zzz", position: pos(2), ordinal: 0, push: { h: { values: ["a", "b", "c"].map((x) => x.repeat(100_000)), keepLast: 20 } } };
    await expect(sink.applyBatch(p, [...many, grow], pos(2))).rejects.toBeInstanceOf(DocumentTooLargeError);
    expect(await sink.count(c)).toBe(1);
    expect(await sink.readCheckpoint(p)).toBe(pos(1));
    await sink.applyBatch(p, many, pos(2));
    expect(await sink.count(c)).toBe(many.length + 1);
    // Chunks cut by bytes: a dozen near-limit documents make more than one call's worth.
    const heavy: DocumentChange[] = Array.from({ length: 12 }, (_, i) => ({ collection: c, id: `heavy${i}`, position: pos(3), ordinal: 0, set: { text: "é".repeat(450_000) } }));
    expect(12 * 900_000).toBeGreaterThan(APPLY_CHUNK_BYTES_MAX);
    await sink.applyBatch(p, heavy, pos(3));
    expect((await sink.get(c, "heavy11"))?.body).toEqual({ text: "é".repeat(450_000) });
  }, 60_000);

  it("maps a backend terminated in the middle of a batch to TransientDocumentError; nothing of it is written, and the retry lands", async () => {
    const pool = extraPool(db.config, { max: 1, applicationName: "doomed_docs" });
    const doomed = await PostgresDocumentSink.open({ pool, schemaName });
    const c = freshName("c");
    const p = freshName("p");
    await doomed.advanceCheckpoint(p, pos(1));
    const blocker = new pg.Client(db.config);
    await blocker.connect();
    try {
      // The batch writes its documents, then waits on the checkpoint row held here; its backend is then terminated.
      await blocker.query("BEGIN");
      await blocker.query(`SELECT 1 FROM ${pg.escapeIdentifier(schemaName)}.checkpoints WHERE projection = $1 FOR UPDATE`, [p]);
      const batch: DocumentChange[] = [{ collection: c, id: "a", position: pos(2), ordinal: 0, set: { v: 1 }, push: { h: { values: [1], keepLast: 2 } } }];
      const pending = doomed.applyBatch(p, batch, pos(2)).catch((error: unknown) => error);
      let terminated = 0;
      for (let attempt = 0; attempt < 500 && terminated === 0; attempt++) {
        const killed = await db.pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'doomed_docs' AND wait_event_type = 'Lock'");
        terminated = killed.rowCount ?? 0;
        if (terminated === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(terminated).toBe(1);
      expect(await pending).toBeInstanceOf(TransientDocumentError);
      await blocker.query("ROLLBACK");
      expect(await sink.get(c, "a")).toBeUndefined();
      expect(await sink.readCheckpoint(p)).toBe(pos(1));
      await doomed.applyBatch(p, batch, pos(2));
      expect((await sink.get(c, "a"))?.body).toEqual({ v: 1, h: [1], hDropped: 0 });
      expect(await sink.readCheckpoint(p)).toBe(pos(2));
    } finally {
      await blocker.end();
      await pool.end();
    }
  });

  it("maps a server that is not there to TransientDocumentError", async () => {
    const deadPool = new pg.Pool({ host: "127.0.0.1", port: 1, user: "x", password: "x", database: "x", connectionTimeoutMillis: 1_000, max: 1 });
    deadPool.on("error", () => undefined);
    try {
      await expect(PostgresDocumentSink.open({ pool: deadPool, schemaName })).rejects.toBeInstanceOf(TransientDocumentError);
    } finally {
      await deadPool.end();
    }
  });
});
