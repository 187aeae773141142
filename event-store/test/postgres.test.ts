// Proves the PostgreSQL adapter: the shared conformance suite, plus what only
// this adapter can get wrong: out-of-order commits, notifications across
// processes, append-only enforcement and unavailability mapping.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firstValueFrom, take, toArray, timeout } from "rxjs";
import pg from "pg";
import { streamName } from "@trueup/contracts";
import { GuardFailedError, InvalidAppendError, SerializedJson, PositionsAheadOfServerError, PostgresEventStore, StoreUnavailableError, StreamNotFoundError, WrongExpectedRevisionError, comparePositions, observeSubscription } from "../src/index.ts";
import { APPEND_COUNT_MAX } from "../src/port.ts";
import { MIGRATIONS, migrate } from "../src/postgres/schema.ts";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { describeEventStoreConformance, freshCategory, newEvent } from "./conformance.ts";

/** es_append's envelope array and data text for one event, as the adapter sends them (for a test's own transaction). */
function rawAppendArgs(event: ReturnType<typeof newEvent>): [string, string] {
  return [JSON.stringify([{ id: crypto.randomUUID(), type: event.type, v: 1, metadata: event.metadata }]), JSON.stringify(event.data)];
}

describeEventStoreConformance("postgres", async () => {
  const db = await createTestDatabase({ poolMax: 40 });
  const store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
  return {
    store,
    close: async () => {
      await store.close();
      await db.drop();
    },
  };
});

describe("postgres event store specifics", () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  beforeAll(async () => {
    db = await createTestDatabase({ poolMax: 80 });
    store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  it("never skips an event whose transaction commits after one with a higher sequence number", async () => {
    // Writers take their sequence numbers in one order and commit in another
    // (random delays inside the transaction). A subscriber that checkpoints by
    // position must still see every event exactly once, in position order.
    const category = freshCategory();
    const writers = 48;
    const rounds = 6;
    const total = writers * rounds;
    const received = firstValueFrom(observeSubscription(() => store.subscribe({ filter: { categories: [category] } })).pipe(take(total), toArray(), timeout(90_000)));
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const client = new pg.Client(db.config);
        await client.connect();
        try {
          for (let r = 0; r < rounds; r++) {
            await client.query("BEGIN");
            await client.query("SELECT * FROM es_append($1, $2, 'any', $3::jsonb, ARRAY[$4::json])", [`${category}-w${w}`, category, ...rawAppendArgs(newEvent("Slow", { w, r }))]);
            await client.query("SELECT pg_sleep($1)", [Math.random() * 0.05]);
            await client.query("COMMIT");
            await client.query("SELECT pg_notify('trueup_events', '')");
          }
        } finally {
          await client.end();
        }
      }),
    );
    const events = await received;
    const positions = events.map((e) => e.position);
    expect(new Set(positions).size).toBe(total);
    expect([...positions].sort(comparePositions)).toEqual(positions);
    expect(new Set(events.map((e) => JSON.stringify(e.data))).size).toBe(total);
    // And a reader that pages with its own checkpoints sees the same sequence.
    const paged = [];
    let after: (typeof positions)[number] | undefined;
    for (;;) {
      const page = await store.readAll({ filter: { categories: [category] }, maxCount: 37, ...(after === undefined ? {} : { after }) });
      if (page.length === 0) break;
      paged.push(...page);
      after = page[page.length - 1]?.position;
    }
    expect(paged.map((e) => e.position)).toEqual(positions);
  });

  it("holds back later events while an earlier transaction is still open, then releases them", async () => {
    const category = freshCategory();
    const slow = new pg.Client(db.config);
    await slow.connect();
    try {
      await slow.query("BEGIN");
      await slow.query("SELECT * FROM es_append($1, $2, 'any', $3::jsonb, ARRAY[$4::json])", [`${category}-slow`, category, ...rawAppendArgs(newEvent("First"))]);
      await store.append(streamName(category, "fast"), [newEvent("Second")], { expectedRevision: "any" });
      expect(await store.readAll({ filter: { categories: [category] } })).toEqual([]);
      const both = firstValueFrom(observeSubscription(() => store.subscribe({ filter: { categories: [category] } })).pipe(take(2), toArray(), timeout(10_000)));
      await new Promise((resolve) => setTimeout(resolve, 50));
      await slow.query("COMMIT");
      expect((await both).map((e) => e.type)).toEqual(["First", "Second"]);
    } finally {
      await slow.end();
    }
  });

  it("answers many waiters with one watch: a held-back horizon costs one query per retry, not one per waiter", async () => {
    const pool = new pg.Pool({ ...db.config, max: 4 });
    let queries = 0;
    const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
    (pool as { query: unknown }).query = (...args: unknown[]) => {
      queries += 1;
      return query(...args);
    };
    const watched = await PostgresEventStore.open({ pool, listenConnection: db.config });
    const category = freshCategory();
    const slow = new pg.Client(db.config);
    await slow.connect();
    try {
      const head = await watched.headPosition();
      await slow.query("BEGIN");
      await slow.query("SELECT * FROM es_append($1, $2, 'any', $3::jsonb, ARRAY[$4::json])", [`${category}-slow`, category, ...rawAppendArgs(newEvent("First"))]);
      // Committed but held back behind `slow`: every round finds it held and retries on the 2–100 ms backoff.
      await store.append(streamName(category, "fast"), [newEvent("Second")], { expectedRevision: "any" });
      queries = 0;
      const waiters = Array.from({ length: 20 }, () => watched.waitForAppend(head));
      let settled = 0;
      for (const waiting of waiters) void waiting.then(() => (settled += 1));
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(settled).toBe(0);
      const whileHeld = queries;
      await slow.query("COMMIT");
      await Promise.all(waiters);
      // About ten rounds of the backoff in 600 ms; twenty waiters polling apiece made over two hundred queries.
      expect(whileHeld).toBeGreaterThan(0);
      expect(whileHeld).toBeLessThan(40);
    } finally {
      await slow.end();
      await watched.close();
      await pool.end();
    }
  });

  it("wakes a subscriber in another process through LISTEN/NOTIFY", async () => {
    const otherPool = new pg.Pool({ ...db.config, max: 2 });
    const other = await PostgresEventStore.open({ pool: otherPool, listenConnection: db.config });
    try {
      const category = freshCategory();
      const live = firstValueFrom(observeSubscription(() => other.subscribe({ filter: { categories: [category] } })).pipe(take(1), timeout(3_000)));
      await new Promise((resolve) => setTimeout(resolve, 200));
      const started = Date.now();
      await store.append(streamName(category, "x"), [newEvent("Ping")], { expectedRevision: "any" });
      expect((await live).type).toBe("Ping");
      // Well under the 5 s safety tick: the notification woke it.
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await other.close();
      await otherPool.end();
    }
  });

  it("refuses to edit or delete history", async () => {
    await store.append(streamName(freshCategory(), "h"), [newEvent("Kept")], { expectedRevision: "any" });
    await expect(db.pool.query("UPDATE es_events SET type = 'Changed'")).rejects.toThrow(/append-only/);
    await expect(db.pool.query("DELETE FROM es_events")).rejects.toThrow(/append-only/);
    await expect(db.pool.query("TRUNCATE es_events")).rejects.toThrow(/append-only/);
  });

  describe("appendWith: a companion write in the append's transaction", () => {
    const companionOf = (table: string, tag: string) => ({
      sql: (p: (n: number) => string) => `INSERT INTO ${table} (tag, position) SELECT ${p(1)}, a.position FROM appended a WHERE a.outcome = 'ok'`,
      values: [tag],
    });
    const rows = async (table: string) => (await db.pool.query<{ tag: string; position: string }>(`SELECT tag, position FROM ${table} ORDER BY tag`)).rows;

    it("lands with the events and sees their position, exactly as append() reports it", async () => {
      const table = `companion_${freshCategory()}`;
      await db.pool.query(`CREATE TABLE ${table} (tag text PRIMARY KEY, position text NOT NULL)`);
      const stream = streamName(freshCategory(), "c");
      const first = await store.appendWith(stream, [newEvent("A"), newEvent("B")], { expectedRevision: "no-stream" }, companionOf(table, "first"));
      expect(first.replayed).toBe(false);
      expect(await rows(table)).toEqual([{ tag: "first", position: first.position }]);
      const events = await store.readStream(stream);
      expect(events.at(-1)?.position).toBe(first.position);
    });

    it("writes neither when the companion fails, nor the companion when the append conflicts", async () => {
      const table = `companion_${freshCategory()}`;
      await db.pool.query(`CREATE TABLE ${table} (tag text PRIMARY KEY, position text NOT NULL)`);
      const stream = streamName(freshCategory(), "c");
      await store.appendWith(stream, [newEvent("A")], { expectedRevision: "no-stream" }, companionOf(table, "taken"));
      // The companion's own unique violation: thrown as PostgreSQL reported it, and the events are not written.
      await expect(store.appendWith(stream, [newEvent("B")], { expectedRevision: 0n }, companionOf(table, "taken"))).rejects.toMatchObject({
        code: "23505",
        constraint: `${table}_pkey`,
      });
      expect((await store.readStream(stream)).map((e) => e.type)).toEqual(["A"]);
      // A revision conflict: the events are refused and the companion does not run.
      await expect(store.appendWith(stream, [newEvent("C")], { expectedRevision: 5n }, companionOf(table, "conflict"))).rejects.toThrow(WrongExpectedRevisionError);
      // A replay of stored events: nothing is written, and the result says so.
      const stored = newEvent("D");
      await store.append(stream, [stored], { expectedRevision: 0n });
      const replay = await store.appendWith(stream, [stored], { expectedRevision: 0n }, companionOf(table, "replay"));
      expect(replay.replayed).toBe(true);
      expect((await rows(table)).map((r) => r.tag)).toEqual(["taken"]);
    });
  });

  describe("guarded appends: a decision that read another stream", () => {
    const closed = (code: string) => newEvent("AccountClosed", { code });
    const guard = (stream: ReturnType<typeof streamName>, afterRevision: bigint, values: string[]) => ({ stream, afterRevision, eventType: "AccountClosed", field: "code", values });

    it("writes only while the guarded stream has no matching event after the revision seen", async () => {
      const ledger = streamName(freshCategory(), "l");
      const period = streamName(freshCategory(), "p");
      await store.append(ledger, [newEvent("Opened"), closed("A")], { expectedRevision: "no-stream" });
      // Closed at revision 1: a decision that saw revision 1 already knew; other codes are not concerned.
      await store.appendWith(period, [newEvent("Posted")], { expectedRevision: "no-stream", guards: [guard(ledger, 1n, ["A"]), guard(ledger, 0n, ["B"])] });
      await expect(store.appendWith(period, [newEvent("Posted")], { expectedRevision: 0n, guards: [guard(ledger, 0n, ["B", "A"])] })).rejects.toThrow(GuardFailedError);
      expect((await store.readStream(period)).map((e) => e.type)).toEqual(["Posted"]);
    });

    it("makes an append to the guarded stream wait, so it lands after the guarded one", async () => {
      const ledger = streamName(freshCategory(), "l");
      const period = streamName(freshCategory(), "p");
      await store.append(ledger, [newEvent("Opened")], { expectedRevision: "no-stream" });
      const client = new pg.Client(db.config);
      await client.connect();
      try {
        await client.query("BEGIN");
        const guards = JSON.stringify([{ stream: ledger, after: "0", type: "AccountClosed", field: "code", values: ["A"] }]);
        const [envelopes, data] = rawAppendArgs(newEvent("Posted"));
        const posted = await client.query<{ tx_id: string }>("SELECT tx_id FROM es_append_guarded($1, $2, 'no-stream', $3::jsonb, $4::jsonb, ARRAY[$5::json])", [period, period.split("-")[0], envelopes, guards, data]);
        let closedAt: string | undefined;
        const closing = store.append(ledger, [closed("A")], { expectedRevision: 0n }).then((r) => (closedAt = r.position));
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(closedAt).toBeUndefined();
        await client.query("COMMIT");
        await closing;
        const [postedEvent] = await store.readStream(period);
        expect(postedEvent?.position.slice(0, 16)).toBe(BigInt(posted.rows[0]?.tx_id ?? "0").toString(16).padStart(16, "0"));
        expect(comparePositions(postedEvent?.position ?? ("" as never), closedAt as never)).toBe(-1);
      } finally {
        await client.end();
      }
    });
  });

  it("runs migrations once even when several processes start together", async () => {
    const stores = await Promise.all(Array.from({ length: 4 }, () => PostgresEventStore.open({ pool: db.pool, listenConnection: db.config })));
    await Promise.all(stores.map((s) => s.close()));
    const applied = await db.pool.query("SELECT version FROM es_migrations ORDER BY version");
    expect(applied.rows).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }]);
  });

  it("maps an unreachable server to StoreUnavailable", async () => {
    const deadPool = new pg.Pool({ host: "127.0.0.1", port: 1, user: "x", password: "x", database: "x", connectionTimeoutMillis: 1_000, max: 1 });
    deadPool.on("error", () => undefined);
    await expect(PostgresEventStore.open({ pool: deadPool, listenConnection: { host: "127.0.0.1", port: 1 } })).rejects.toBeInstanceOf(StoreUnavailableError);
    await deadPool.end();
  });

  it("maps a server that goes away mid-flight to StoreUnavailable", async () => {
    // The append waits on a row lock held elsewhere; its backend is then
    // terminated while the statement is in flight.
    const pool = new pg.Pool({ ...db.config, max: 1, application_name: "doomed" });
    pool.on("error", () => undefined);
    const doomed = await PostgresEventStore.open({ pool, listenConnection: db.config });
    const category = freshCategory();
    await doomed.append(streamName(category, "a"), [newEvent("A")], { expectedRevision: "any" });
    const blocker = new pg.Client(db.config);
    await blocker.connect();
    try {
      await blocker.query("BEGIN");
      await blocker.query("SELECT 1 FROM es_streams WHERE stream_name = $1 FOR UPDATE", [`${category}-a`]);
      const pending = doomed.append(streamName(category, "a"), [newEvent("B")], { expectedRevision: "any" }).catch((e: unknown) => e);
      let terminated = 0;
      for (let attempt = 0; attempt < 200 && terminated === 0; attempt++) {
        const killed = await db.pool.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'doomed' AND wait_event_type = 'Lock'",
        );
        terminated = killed.rowCount ?? 0;
        if (terminated === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(terminated).toBe(1);
      expect(await pending).toBeInstanceOf(StoreUnavailableError);
    } finally {
      await blocker.query("ROLLBACK");
      await blocker.end();
      await doomed.close();
      await pool.end();
    }
  });
});

describe("postgres event store input limits", () => {
  it("rejects data PostgreSQL cannot store (NUL in a string) as an invalid append, writing nothing", async () => {
    const db = await createTestDatabase({ poolMax: 2 });
    const store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
    try {
      const stream = streamName(freshCategory(), "nul");
      await expect(store.append(stream, [newEvent("A", { text: "a\u0000b" })], { expectedRevision: "any" })).rejects.toBeInstanceOf(InvalidAppendError);
      await expect(store.readStream(stream)).rejects.toBeInstanceOf(StreamNotFoundError);
    } finally {
      await store.close();
      await db.drop();
    }
  });
});

describe("postgres event store: data stored as json (migration 3)", () => {
  it("still refuses what jsonb refused, NUL and unpaired surrogate escapes, and takes what only looks like them", async () => {
    const db = await createTestDatabase({ poolMax: 2 });
    const store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
    try {
      for (const text of ["a\ud800b", "\udc00", "\ud800\ud800", "x\u0000", "\ud800\u0041"]) {
        // As data, and as serialized bytes (the import's line batches): the same check on either.
        for (const data of [{ text }, new SerializedJson(Buffer.from(JSON.stringify({ text })))]) {
          const stream = streamName(freshCategory(), "bad");
          const refused = await store.append(stream, [newEvent("A", {}, { data })], { expectedRevision: "no-stream" }).catch((e: unknown) => e);
          expect(refused, JSON.stringify(text)).toBeInstanceOf(InvalidAppendError);
          await expect(store.readStream(stream)).rejects.toBeInstanceOf(StreamNotFoundError);
        }
      }
      // Bytes that are not UTF-8: PostgreSQL refuses them, as an invalid append.
      const latin1 = streamName(freshCategory(), "latin1");
      const invalid = new SerializedJson(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d]));
      await expect(store.append(latin1, [newEvent("A", {}, { data: invalid })], { expectedRevision: "no-stream" })).rejects.toBeInstanceOf(InvalidAppendError);
      await expect(store.readStream(latin1)).rejects.toBeInstanceOf(StreamNotFoundError);
      // A pair, and the six characters "\\u0000" (an escaped backslash, then "u0000"), are ordinary data.
      const fine = ["\ud83d\ude00", "\\u0000", "\\\\ud800", "ends with a backslash \\"];
      const stream = streamName(freshCategory(), "fine");
      const asBytes = fine.map((text) => newEvent("A", {}, { data: new SerializedJson(Buffer.from(JSON.stringify({ text }))) }));
      await store.append(stream, [...fine.map((text) => newEvent("A", { text })), ...asBytes], { expectedRevision: "no-stream" });
      expect((await store.readStream(stream)).map((e) => (e.data as { text: string }).text)).toEqual([...fine, ...fine]);
    } finally {
      await store.close();
      await db.drop();
    }
  });

  it("keeps a log written before it: the same events read back, and a retry of one is still a replay", async () => {
    const db = await createTestDatabase({ poolMax: 2 });
    try {
      await migrate(db.pool, MIGRATIONS.slice(0, 2), "es_migrations");
      const stream = streamName(freshCategory(), "old");
      const events = [newEvent("Old", { amount: "12.30", nested: { b: [1, 2.5, null, true], a: "é\n" } }), newEvent("Old", {})];
      const envelopes = events.map((e) => ({ id: e.eventId, type: e.type, v: e.schemaVersion, data: e.data, metadata: e.metadata }));
      await db.pool.query("SELECT * FROM es_append($1, $2, 'no-stream', $3::jsonb)", [stream, stream.split("-")[0], JSON.stringify(envelopes)]);
      const store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
      try {
        const stored = await store.readStream(stream);
        expect(stored.map((e) => ({ eventId: e.eventId, data: e.data, metadata: e.metadata }))).toEqual(events.map((e) => ({ eventId: e.eventId, data: e.data, metadata: e.metadata })));
        const again = await store.append(stream, events, { expectedRevision: "no-stream" });
        expect(again).toMatchObject({ replayed: true, nextExpectedRevision: 1n, position: stored[1]?.position });
        const types = await db.pool.query("SELECT atttypid::regtype::text AS type FROM pg_attribute WHERE attrelid = 'es_events'::regclass AND attname = 'data'");
        expect(types.rows).toEqual([{ type: "json" }]);
      } finally {
        await store.close();
      }
    } finally {
      await db.drop();
    }
  });

  it("sends each event's data as its own parameter, padded: any count up to the append limit lands whole and in order", async () => {
    const db = await createTestDatabase({ poolMax: 2 });
    const store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
    try {
      for (const count of [1, 2, 3, 5, 8, 9, 1000, APPEND_COUNT_MAX]) {
        const stream = streamName(freshCategory(), `n${count}`);
        await store.append(stream, Array.from({ length: count }, (_, i) => newEvent("N", { i })), { expectedRevision: "no-stream" });
        const read = await store.readStream(stream, { maxCount: count });
        expect(read.map((e) => (e.data as { i: number }).i)).toEqual(Array.from({ length: count }, (_, i) => i));
      }
    } finally {
      await store.close();
      await db.drop();
    }
  });
});

describe("a log restored into another server", () => {
  it("refuses to open when stored positions are ahead of the server's transaction ids, and names the fix", async () => {
    // A logical dump/restore (COPY) keeps es_events.tx_id as the old server wrote it. Inserting a row with an
    // explicit tx_id is exactly what that restore does; here the old server had run 10^9 more transactions.
    const db = await createTestDatabase({ poolMax: 4 });
    try {
      const store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
      await store.append(streamName(freshCategory(), "s"), [newEvent("Before")], { expectedRevision: "no-stream" });
      await store.close();
      // Reopening a healthy log is fine.
      await (await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config })).close();
      const next = await db.pool.query<{ next: string }>("SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS next");
      const restoredTxId = BigInt(next.rows[0]?.next ?? "0") + 1_000_000_000n;
      await db.pool.query(
        `INSERT INTO es_events (tx_id, stream_name, category, revision, event_id, type, schema_version, data, metadata)
         VALUES ($1::text::xid8, 'restored-1', 'restored', 0, gen_random_uuid(), 'Restored', 1, '{}', '{}')`,
        [restoredTxId.toString()],
      );
      const refused = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(PositionsAheadOfServerError);
      expect(refused).toMatchObject({ newestTxId: restoredTxId });
      expect((refused as Error).message).toMatch(/Restoring the event log/);
    } finally {
      await db.drop();
    }
  });
});
