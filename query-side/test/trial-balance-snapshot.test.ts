// Proves that a trial balance read in code ranges is one instant of the
// books: postings committed between two range reads (made deterministic by
// the reader's hook, not by timing) never show up in only some ranges. Each
// posting debits an account in the first range and credits one in the last,
// so a range read on its own snapshot would come out unbalanced; the answer
// must equal the whole ledger read at once just before the request, and
// every currency must balance, now and as of a date.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresEventStore } from "@trueup/event-store";
import { ProjectionWorker, ledgerProjection } from "@trueup/projections";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { LedgerWriter } from "../../projections/test/fixtures/ledger-events.ts";
import { LedgerReader, trialBalanceJson, trialBalanceResponse } from "../src/index.ts";

const CODES = ["A1", "A2", "B1", "B2", "C1", "C2", "D1", "D2"];
// Two accounts per range, up to four ranges: A*, B*, C*, D*.
const RANGES = { trialBalanceChunkAccounts: 2, trialBalanceChunksMax: 4 } as const;

describe("trial balance in ranges: one snapshot for every range", () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  let writer: LedgerWriter;
  let entries = 0;

  const catchUp = () => new ProjectionWorker({ pool: db.pool, eventStore: store, projection: ledgerProjection }).runUntilCaughtUp();
  const read = async (reader: LedgerReader, asOf?: string) => trialBalanceResponse.parse(JSON.parse(await trialBalanceJson(reader, "snap", asOf)));

  /** A balanced posting across the first and the last range, projected before it returns. */
  async function postAcross(amountMinor: string): Promise<void> {
    entries += 1;
    await writer.post({ entryId: `x${entries}`, effectiveDate: "2026-03-10", lines: [["A1", "debit", amountMinor, "EUR"], ["D2", "credit", amountMinor, "EUR"]] });
    await catchUp();
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
    writer = new LedgerWriter(store, "snap");
    await writer.create();
    for (const code of CODES) await writer.openAccount(code, "asset");
    await writer.post({ entryId: "seed", effectiveDate: "2026-03-01", lines: [["B1", "debit", "500", "EUR"], ["C2", "credit", "500", "EUR"]] });
    await catchUp();
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  for (const asOf of [undefined, "2026-03-31"]) {
    it(`postings committed between range reads are in no range or in all (asOf ${asOf ?? "none"})`, async () => {
      const whole = new LedgerReader(db.pool, ledgerProjection.schemaName);
      let hookCalls = 0;
      const inRanges = new LedgerReader(db.pool, ledgerProjection.schemaName, {
        ...RANGES,
        beforeTrialBalanceRange: async () => {
          hookCalls += 1;
          await postAcross(String(100 * hookCalls));
        },
      });
      for (let round = 0; round < 3; round++) {
        const before = await read(whole, asOf);
        const answer = await read(inRanges, asOf);
        expect(answer.totals.every((t) => t.balanced)).toBe(true);
        expect(answer).toEqual(before);
      }
      // Three rounds, each with at least three ranges: postings really landed between range reads.
      expect(hookCalls).toBeGreaterThanOrEqual(6);
      const after = await read(whole, asOf);
      expect(after.totals.every((t) => t.balanced)).toBe(true);
      expect(after.rows.find((r) => r.code === "A1")?.debit).not.toBe("0.00");
    });
  }
});
