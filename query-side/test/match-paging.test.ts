// Proves MatchReader's paging of a bank account's matches over a real
// PostgreSQL read model built by the matching projection: every match exactly
// once, in id order, with and without a status, whatever the page size and
// however the statuses interleave in id order (auto-confirmed proposals,
// rejections and unmatches among them).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reconStream } from "@trueup/contracts";
import { PostgresEventStore } from "@trueup/event-store";
import type { NewEvent } from "@trueup/event-store";
import { ProjectionWorker, ledgerProjection, matchingProjection, reconciliationProjection } from "@trueup/projections";
import { MatchReader } from "../src/index.ts";
import type { MatchStatus } from "../src/reconciliation/match-reader.ts";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { reconciliationEvent } from "../../test-support/reconciliation-events.ts";
import { seededRandom } from "../../test-support/random.ts";

const ACCOUNT = "mp_bank";
const MATCHES = 1_500;

function proposed(n: number, autoConfirmed: boolean): NewEvent {
  return reconciliationEvent("MatchProposed", {
    bankAccountId: ACCOUNT, matchId: `${ACCOUNT}:m${String(n).padStart(5, "0")}`, runId: "run-1", kind: "1:1",
    externalIds: [`ext-${n}`], internalIds: [`e${n}:0`], currency: "EUR", ruleId: "amount-date", score: 80,
    criteria: [{ criterion: "amount", grade: "exact", points: 0, reason: "amount exact" }],
    differenceMinor: "0", writeOff: null, residual: null, ambiguous: false, learned: [], autoConfirmed,
  });
}

describe("paging a bank account's matches", () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  let reader: MatchReader;
  const statusOf = new Map<string, MatchStatus>();

  beforeAll(async () => {
    db = await createTestDatabase();
    store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
    const random = seededRandom(11);
    const events: NewEvent[] = [];
    for (let n = 0; n < MATCHES; n++) {
      const matchId = `${ACCOUNT}:m${String(n).padStart(5, "0")}`;
      const roll = random();
      events.push(proposed(n, roll < 0.5));
      if (roll < 0.4) statusOf.set(matchId, "confirmed");
      else if (roll < 0.5) {
        events.push(reconciliationEvent("MatchUnmatched", { bankAccountId: ACCOUNT, matchId, reason: "wrong customer", externalIds: [`ext-${n}`], internalIds: [`e${n}:0`] }));
        statusOf.set(matchId, "unmatched");
      } else if (roll < 0.7) {
        events.push(reconciliationEvent("MatchRejected", { bankAccountId: ACCOUNT, matchId, reason: "not it", externalIds: [`ext-${n}`], internalIds: [`e${n}:0`] }));
        statusOf.set(matchId, "rejected");
      } else statusOf.set(matchId, "suggested");
    }
    for (let at = 0; at < events.length; at += 1_000) await store.append(reconStream(ACCOUNT), events.slice(at, at + 1_000), { expectedRevision: "any" });
    await new ProjectionWorker({ pool: db.pool, eventStore: store, projection: matchingProjection }).runUntilCaughtUp();
    await db.pool.query("ANALYZE rm_matching.matches");
    reader = new MatchReader(db.pool, { matching: matchingProjection.schemaName, reconciliation: reconciliationProjection.schemaName, ledger: ledgerProjection.schemaName });
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  const pageThrough = async (status: MatchStatus | undefined, limit: number): Promise<string[]> => {
    const ids: string[] = [];
    for (let pages = 0; pages <= MATCHES + 1; pages++) {
      const page = await reader.matches(ACCOUNT, { status, afterId: ids[ids.length - 1], limit });
      ids.push(...page.map((m) => m.matchId));
      for (const match of page) expect(match.status, match.matchId).toBe(statusOf.get(match.matchId));
      if (page.length < limit) return ids;
    }
    throw new Error("paging did not end");
  };

  it("returns every match once, in id order, with and without a status, at any page size", async () => {
    const all = [...statusOf.keys()].sort();
    for (const limit of [1, 7, 500]) expect(await pageThrough(undefined, limit)).toEqual(all);
    for (const status of ["suggested", "confirmed", "rejected", "unmatched"] as const) {
      expect(await pageThrough(status, 97)).toEqual(all.filter((id) => statusOf.get(id) === status));
    }
    // Another account's matches never show.
    expect(await reader.matches("mp_other", { limit: 10 })).toEqual([]);
  });
});
