// Proves a lag scrape is cheap however far behind the projection is (defect
// 10): GET /metrics and GET /projections each read at most
// SCRAPE_EVENTS_MAX events per projection (the old code read up to 100,000
// per scrape), report the count as capped at LAG_COUNT_MAX_DEFAULT, and
// concurrent scrapes share one look instead of each reading the log.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { PostgresEventStore } from "@trueup/event-store";
import type { RecordedEvent } from "@trueup/event-store";
import { LAG_COUNT_MAX_DEFAULT, ledgerProjection, openProjectionSchema, reconciliationProjection } from "@trueup/projections";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { LedgerWriter } from "../../projections/test/fixtures/ledger-events.ts";
import type { EntrySpec } from "../../projections/test/fixtures/ledger-events.ts";
import { compose } from "../src/compose.ts";
import type { Composed } from "../src/compose.ts";

/** Events one scrape may read per projection: small, whatever the lag. */
const SCRAPE_EVENTS_MAX = 1_000;
/** Projections that read these ledger events, each at most SCRAPE_EVENTS_MAX a scrape: the ledger's read model and the continuous-matching process manager. */
const LEDGER_READERS = 2;
/** Far behind: more than a scrape may read. */
const BEHIND = 2_500;
const CONCURRENT_SCRAPES = 10;

let db: TestDatabase;
let store: PostgresEventStore;
let composed: Composed;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
  // The schema at the start of the log, and no worker anywhere: the projection stays behind.
  // (The reconciliation read model too: every registered projection is looked at; it has nothing to read here.)
  await openProjectionSchema({ pool: db.pool, eventStore: store, projection: ledgerProjection });
  await openProjectionSchema({ pool: db.pool, eventStore: store, projection: reconciliationProjection });
  const writer = new LedgerWriter(store, "far");
  await writer.create();
  await writer.openAccount("1000", "asset");
  await writer.openAccount("4000", "revenue");
  const perAppend = 500;
  for (let done = 3; done < BEHIND; done += perAppend) {
    const entries: EntrySpec[] = Array.from({ length: perAppend }, (_, i) => ({
      entryId: `e-${done + i}`,
      effectiveDate: "2026-01-15",
      lines: [["1000", "debit", "100", "EUR"], ["4000", "credit", "100", "EUR"]],
    }));
    await writer.post(...entries);
  }
  composed = await compose({ services: ["query"], logLevel: "silent", pool: db.pool, eventStore: store, ping: () => Promise.resolve() });
});

afterAll(async () => {
  await composed.close();
  await store.close();
  await db.drop();
});

/** Events returned by readAll from now on (the real reads still run). */
function countEventsRead(): () => Promise<number> {
  const spy = vi.spyOn(store, "readAll");
  return async () => {
    const pages = await Promise.all(spy.mock.results.map((r) => r.value as Promise<readonly RecordedEvent[]>));
    spy.mockRestore();
    return pages.reduce((sum, page) => sum + page.length, 0);
  };
}

describe("lag scrapes when far behind", () => {
  it("caps the count below what a scrape may read", () => {
    expect(LAG_COUNT_MAX_DEFAULT).toBeLessThanOrEqual(SCRAPE_EVENTS_MAX);
  });

  it(`GET /metrics reads at most ${SCRAPE_EVENTS_MAX} events and says the count is capped`, async () => {
    const read = countEventsRead();
    const response = await composed.app.inject({ method: "GET", url: "/metrics" });
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain(`trueup_projection_lag_events{projection="ledger"} ${LAG_COUNT_MAX_DEFAULT}`);
    expect(await read()).toBeLessThanOrEqual(SCRAPE_EVENTS_MAX * LEDGER_READERS);
  });

  it(`GET /projections reads at most ${SCRAPE_EVENTS_MAX} events`, async () => {
    const read = countEventsRead();
    const response = await composed.app.inject({ method: "GET", url: "/projections" });
    expect(response.json()).toMatchObject({ items: expect.arrayContaining([expect.objectContaining({ name: "ledger", eventsBehind: LAG_COUNT_MAX_DEFAULT, eventsBehindCapped: true, checkpoint: null })]) as unknown });
    expect(await read()).toBeLessThanOrEqual(SCRAPE_EVENTS_MAX * LEDGER_READERS);
  });

  it(`${CONCURRENT_SCRAPES} concurrent scrapes share one look at the log`, async () => {
    const read = countEventsRead();
    const responses = await Promise.all(Array.from({ length: CONCURRENT_SCRAPES }, () => composed.app.inject({ method: "GET", url: "/metrics" })));
    expect(responses.map((r) => r.statusCode)).toEqual(Array.from({ length: CONCURRENT_SCRAPES }, () => 200));
    expect(await read()).toBeLessThanOrEqual(SCRAPE_EVENTS_MAX * LEDGER_READERS);
  });
});
