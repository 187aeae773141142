// Proves what a command meets at the command path's queue limits: a full
// stream-writer queue or a full idempotency batcher answers 503 OVERLOADED
// with Retry-After, writes nothing and stores nothing under the key, so the
// same key retried later posts once. Small limits are injected to reach the
// bounds with a handful of requests.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { IDEMPOTENCY_BATCH_LIMITS, IdempotencyStore, LedgerCommandService, ledgerCommandRoutes } from "@trueup/command-side";
import type { MicroBatcherLimits, WriterLimits } from "@trueup/command-side";
import { PostgresEventStore } from "@trueup/event-store";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { buildApp } from "../src/app.ts";
import { command, key } from "./ledger-support.ts";

const posting = (i: number) => ({
  effectiveDate: "2026-03-10",
  description: `sale ${i}`,
  lines: [
    { account: "1200", side: "debit", amount: "1.00", currency: "EUR" },
    { account: "4000", side: "credit", amount: "1.00", currency: "EUR" },
  ],
});

describe("command path limits answer 503 OVERLOADED", () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  const apps: FastifyInstance[] = [];
  beforeAll(async () => {
    db = await createTestDatabase({ poolMax: 10 });
    store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await store.close();
    await db.drop();
  });

  async function commandApp(limits: { writer?: Partial<WriterLimits>; batcher?: MicroBatcherLimits }): Promise<FastifyInstance> {
    const idempotency = await IdempotencyStore.open(db.pool, { limits: limits.batcher ?? IDEMPOTENCY_BATCH_LIMITS });
    const transactional = store.capabilities.transactionalAppend;
    const atomic = transactional === undefined ? undefined : idempotency.atomicAppender(transactional);
    const service = new LedgerCommandService(store, atomic, { writerLimits: limits.writer });
    const app = await buildApp({ services: ["command"], logLevel: "silent", ping: () => Promise.resolve(), plugins: [ledgerCommandRoutes({ service, idempotency })] });
    apps.push(app);
    return app;
  }

  async function postedCount(ledgerId: string): Promise<number> {
    const rows = await db.pool.query<{ n: string }>("SELECT count(*) AS n FROM es_events WHERE type = 'JournalEntryPosted' AND data->>'ledgerId' = $1", [ledgerId]);
    return Number(rows.rows[0]?.n ?? "0");
  }

  async function overloadThenRetry(app: FastifyInstance, ledgerId: string): Promise<void> {
    expect((await command(app, "/ledgers", { ledgerId, name: "Busy", baseCurrency: "EUR" })).statusCode).toBe(201);
    for (const account of [
      { code: "1200", name: "Receivables", type: "asset" },
      { code: "4000", name: "Sales", type: "revenue" },
    ]) {
      expect((await command(app, `/ledgers/${ledgerId}/accounts`, account)).statusCode).toBe(201);
    }
    const keys = Array.from({ length: 40 }, () => key());
    const answers = await Promise.all(keys.map((k, i) => command(app, `/ledgers/${ledgerId}/journal-entries`, posting(i), k)));
    const refused = answers.flatMap((r, i) => (r.statusCode === 201 ? [] : [{ r, i }]));
    expect(refused.length).toBeGreaterThan(0);
    for (const { r } of refused) {
      expect(r.statusCode, r.body).toBe(503);
      expect(r.json<{ code: string }>().code).toBe("OVERLOADED");
      expect(r.headers["retry-after"]).toBeDefined();
    }
    expect(await postedCount(ledgerId)).toBe(40 - refused.length);
    // Nothing was kept under the refused keys: retried one by one, each posts once.
    for (const { i } of refused) {
      const retried = await command(app, `/ledgers/${ledgerId}/journal-entries`, posting(i), keys[i]);
      expect(retried.statusCode, retried.body).toBe(201);
      expect(retried.headers["idempotent-replayed"]).toBeUndefined();
    }
    expect(await postedCount(ledgerId)).toBe(40);
  }

  it("a full stream-writer queue", async () => {
    await overloadThenRetry(await commandApp({ writer: { queueLengthMax: 2 } }), "busy_writer");
  });

  it("a full idempotency batcher", async () => {
    await overloadThenRetry(await commandApp({ batcher: { batchSizeMax: 1, inFlightMax: 1, queueLengthMax: 2 } }), "busy_keys");
  });
});
