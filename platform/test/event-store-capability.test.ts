// Proves that the composition root takes the PostgreSQL-only append extras
// (guards, a companion write) from the event-store port's named capability,
// not from the adapter's class: a store that is not a PostgresEventStore but
// declares `transactionalAppend` gets it used, and a store that lacks it
// still serves postings (answers stored after the append) with replays.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresEventStore } from "@trueup/event-store";
import type { EventStore, EventStoreCapabilities } from "@trueup/event-store";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { withOverrides } from "../../test-support/event-store.ts";
import { compose } from "../src/compose.ts";
import { command, key } from "./ledger-support.ts";

/** `store` as a plain port (so `instanceof PostgresEventStore` is false), with the given capabilities; its close is left to the test. */
function delegating(store: PostgresEventStore, capabilities: EventStoreCapabilities): EventStore {
  return withOverrides(store, { capabilities, close: () => Promise.resolve() });
}

async function postTwice(eventStore: EventStore, db: TestDatabase): Promise<{ first: number; replayed: string | undefined }> {
  const composed = await compose({ services: ["command"], logLevel: "silent", pool: db.pool, eventStore, ping: () => Promise.resolve() });
  try {
    const ledgerId = `L${Math.random().toString(36).slice(2, 8)}`;
    expect((await command(composed.app, "/ledgers", { ledgerId, name: "Books", baseCurrency: "EUR" })).statusCode).toBe(201);
    for (const code of ["1000", "4000"]) {
      expect((await command(composed.app, `/ledgers/${ledgerId}/accounts`, { code, name: `A${code}`, type: code === "1000" ? "asset" : "revenue" })).statusCode).toBe(201);
    }
    const body = {
      effectiveDate: "2026-01-15",
      description: "capability check",
      lines: [
        { account: "1000", side: "debit", amount: "10.00", currency: "EUR" },
        { account: "4000", side: "credit", amount: "10.00", currency: "EUR" },
      ],
    };
    const k = key();
    const first = await command(composed.app, `/ledgers/${ledgerId}/journal-entries`, body, k);
    expect(first.statusCode, first.body).toBe(201);
    const again = await command(composed.app, `/ledgers/${ledgerId}/journal-entries`, body, k);
    expect(again.statusCode).toBe(first.statusCode);
    const replayed = again.headers["idempotent-replayed"];
    return { first: first.statusCode, replayed: typeof replayed === "string" ? replayed : undefined };
  } finally {
    await composed.close();
  }
}

describe("the transactional-append capability", () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  beforeAll(async () => {
    db = await createTestDatabase({ poolMax: 20 });
    store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  it("is offered by the PostgreSQL adapter", () => {
    expect(store.capabilities.transactionalAppend).toBeDefined();
  });

  it("is used by the composition root whenever a store declares it, whatever its class", async () => {
    const offered = store.capabilities.transactionalAppend;
    if (offered === undefined) throw new Error("the PostgreSQL adapter must offer transactionalAppend");
    let calls = 0;
    const counted = delegating(store, {
      transactionalAppend: {
        append: (stream, events, options, companion) => {
          calls += 1;
          return offered.append(stream, events, options, companion);
        },
      },
    });
    const result = await postTwice(counted, db);
    expect(result).toEqual({ first: 201, replayed: "true" });
    expect(calls).toBeGreaterThan(0);
  });

  it("is optional: a store without it still posts once and replays the answer", async () => {
    const plain = delegating(store, {});
    expect(await postTwice(plain, db)).toEqual({ first: 201, replayed: "true" });
  });
});
