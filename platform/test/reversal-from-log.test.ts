// Proves that a reversal decides from the log alone: with the projection
// stopped (the read model knows nothing of the entry), reversing a fresh
// entry answers 201, and once a worker has caught up, the same key still
// answers that 201 (a replay), never a stored ENTRY_NOT_FOUND. An entry id
// that was never posted is ENTRY_NOT_FOUND from the log too.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProjectionWorker, ledgerProjection } from "@trueup/projections";
import type { Accepted, Platform } from "./ledger-support.ts";
import { command, key, query, startPlatform } from "./ledger-support.ts";

describe("reversals decide from the log", () => {
  let p: Platform;
  let catchUp: ProjectionWorker | undefined;
  const ledgerId = "rev_log";
  beforeAll(async () => {
    p = await startPlatform();
    expect((await command(p.app, "/ledgers", { ledgerId, name: "Reversals", baseCurrency: "EUR" })).statusCode).toBe(201);
    for (const account of [
      { code: "1200", name: "Receivables", type: "asset" },
      { code: "4000", name: "Sales", type: "revenue" },
    ]) {
      expect((await command(p.app, `/ledgers/${ledgerId}/accounts`, account)).statusCode).toBe(201);
    }
    // The read model stops here: nothing posted below reaches it until catchUp runs.
    await Promise.all(p.composed.workers.map((worker) => worker.stop()));
  });
  afterAll(async () => {
    await catchUp?.stop();
    await p.close();
  });

  it("reverses an entry the projection has not seen (201), and the same key replays that 201 after catch-up", async () => {
    const posted = await command(p.app, `/ledgers/${ledgerId}/journal-entries`, {
      entryId: "fresh_entry",
      effectiveDate: "2026-04-01",
      description: "sale",
      lines: [
        { account: "1200", side: "debit", amount: "12.00", currency: "EUR" },
        { account: "4000", side: "credit", amount: "12.00", currency: "EUR" },
      ],
    });
    expect(posted.statusCode, posted.body).toBe(201);
    const k = key();
    const reversal = await command(p.app, `/ledgers/${ledgerId}/journal-entries/fresh_entry/reverse`, { effectiveDate: "2026-04-02" }, k);
    expect(reversal.statusCode, reversal.body).toBe(201);
    const never = await command(p.app, `/ledgers/${ledgerId}/journal-entries/never_posted/reverse`, { effectiveDate: "2026-04-02" });
    expect(never.statusCode).toBe(404);
    expect(never.json<{ code: string }>().code).toBe("ENTRY_NOT_FOUND");

    catchUp = new ProjectionWorker({ pool: p.db.pool, eventStore: p.store, projection: ledgerProjection });
    void catchUp.start();
    const list = await query(p.app, `/ledgers/${ledgerId}/journal-entries`, reversal.json<Accepted>().position);
    expect(list.statusCode, list.body).toBe(200);
    const again = await command(p.app, `/ledgers/${ledgerId}/journal-entries/fresh_entry/reverse`, { effectiveDate: "2026-04-02" }, k);
    expect(again.statusCode, again.body).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.json<Accepted>()).toEqual({ ...reversal.json<Accepted>(), replayed: true });
  });
});
