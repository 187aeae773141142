// Proves continuous reconciliation over a real PostgreSQL, through the API:
// - importing a statement starts a run by itself: a line whose reference
//   and amount equal a posted entry's is confirmed without anyone asking,
//   recorded as the process manager's run;
// - a posting on the bank's ledger account starts one too, for an open
//   line already imported;
// - an account whose rules say `continuous: false` is left alone;
// - a clerk's manual match racing the process manager's run over the same
//   items: exactly one of them holds the items, the other is refused (or
//   finds nothing to do), never both;
// - a trigger handed over again (a crash before the checkpoint)
//   proposes nothing new;
// - turned on over an existing log, it starts no run for what was imported
//   or posted before.
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTINUOUS_ACTOR, ContinuousMatching, MatchCommandService, PostgresMatchItemReader } from "@trueup/command-side";
import { ledgerProjection, reconciliationProjection } from "@trueup/projections";
import { compose } from "../src/compose.ts";
import type { Platform } from "./ledger-support.ts";
import { command, key, query, startPlatform } from "./ledger-support.ts";
import { eventually } from "../../test-support/eventually.ts";
import { importFile, setupBankAccount } from "./statement-import-support.ts";

const LEDGER = "cm";
const PROFILE = { profileId: "plain", name: "Plain", currency: "EUR", dateFormat: "YYYY-MM-DD", columns: { bookingDate: "Date", amount: "Amount", bankReference: "Reference" } };

interface Match { matchId: string; status: string; automatic: boolean; externalIds: string[]; internalIds: string[]; runId: string | null }

function csv(rows: [string, string, string][]): string {
  return ["Date,Amount,Reference", ...rows.map((r) => r.join(","))].join("\n") + "\n";
}

describe("continuous reconciliation", () => {
  let p: Platform;
  const post = (url: string, body: unknown): Promise<LightMyRequestResponse> => command(p.app, url, body, key());
  const matches = async (account: string): Promise<Match[]> => (await query(p.app, `/bank-accounts/${account}/matches`)).json<{ items: Match[] }>().items;
  const sale = async (entryId: string, date: string, amount: string, reference: string): Promise<void> => {
    const posted = await post(`/ledgers/${LEDGER}/journal-entries`, {
      entryId, effectiveDate: date, description: `sale ${entryId}`, externalReference: reference,
      lines: [{ account: "1000", side: "debit", amount, currency: "EUR" }, { account: "4000", side: "credit", amount, currency: "EUR" }],
    });
    expect(posted.statusCode, posted.body).toBe(201);
  };
  const effects = async (account: string): Promise<{ outcome: { outcome: string } }[]> =>
    (await p.db.pool.query<{ outcome: { outcome: string } }>("SELECT outcome FROM pm_continuous.effects WHERE bank_account_id = $1 ORDER BY position", [account])).rows;

  beforeAll(async () => {
    p = await startPlatform({ poolMax: 20, continuousMatching: true });
    await setupBankAccount(p.app, { ledgerId: LEDGER, bankAccountId: "cm_on", iban: "DE89370400440532013000" });
    expect((await post(`/ledgers/${LEDGER}/accounts`, { code: "4000", name: "Sales", type: "revenue" })).statusCode).toBe(201);
    expect((await post(`/ledgers/${LEDGER}/accounts`, { code: "1001", name: "Bank 2", type: "asset" })).statusCode).toBe(201);
    expect((await post(`/ledgers/${LEDGER}/csv-profiles`, PROFILE)).statusCode).toBe(201);
  });
  afterAll(async () => {
    await p.close();
  });

  it("an import starts a run by itself; so does a posting for a line already imported", async () => {
    await sale("s1", "2026-03-01", "120.00", "INV-1");
    // The posting's own run, over no statement line yet: done before the import, so the import's run is the one that matches.
    await eventually(() => effects("cm_on"), (rows) => rows.length === 1, "the posting started no run");
    const imported = await importFile(p.app, "/bank-accounts/cm_on/statements", csv([["2026-03-02", "120.00", "INV-1"], ["2026-03-03", "80.00", "INV-2"]]), { query: { format: "csv", profile: "plain" } });
    expect(imported.statusCode, imported.body).toBe(201);
    const first = await eventually(() => matches("cm_on"), (ms) => ms.length === 1, "the import started no run");
    expect(first[0]).toMatchObject({ status: "confirmed", automatic: true, internalIds: ["s1:0"] });
    const run = await eventually(() => query(p.app, `/reconciliation-runs/${first[0]?.runId ?? ""}`), (r) => r.statusCode === 200, "the run was not recorded").then((r) => r.json<{ actor: string; window: unknown }>());
    // The statement's period (a CSV's: its lines' dates) widened by the rules' widest window (the default reference rule: 31 days).
    expect(run).toMatchObject({ actor: CONTINUOUS_ACTOR, window: { from: "2026-01-30", to: "2026-04-03" } });

    await sale("s2", "2026-03-03", "80.00", "INV-2");
    const both = await eventually(() => matches("cm_on"), (ms) => ms.length === 2, "the posting started no run");
    const second = both.find((m) => m.internalIds.includes("s2:0"));
    expect(second).toMatchObject({ status: "confirmed", automatic: true });
    const window = (await query(p.app, `/reconciliation-runs/${second?.runId ?? ""}`)).json<{ window: { from: string; to: string } }>().window;
    // The posting's date, widened the same way.
    expect(window).toEqual({ from: "2026-01-31", to: "2026-04-03" });
  });

  it("leaves an account alone whose rules turn it off", async () => {
    await setupBankAccount(p.app, { ledgerId: LEDGER, bankAccountId: "cm_off", iban: "GB82WEST12345698765432", createLedger: false });
    expect((await p.app.inject({ method: "PUT", url: "/bank-accounts/cm_off/matching-rules", payload: { rules: { rules: [{ kind: "reference", id: "r", fields: ["bankReference"] }], continuous: false } }, headers: { "idempotency-key": key() } })).statusCode).toBe(200);
    const imported = await importFile(p.app, "/bank-accounts/cm_off/statements", csv([["2026-03-05", "55.00", "INV-9"]]), { query: { format: "csv", profile: "plain" } });
    expect(imported.statusCode, imported.body).toBe(201);
    await eventually(() => effects("cm_off"), (rows) => rows.length >= 1, "the import was never looked at");
    expect((await effects("cm_off")).map((r) => r.outcome.outcome)).toEqual(["off"]);
    expect(await matches("cm_off")).toEqual([]);
    // A clerk's run still works.
    expect((await post("/bank-accounts/cm_off/reconciliation-runs", {})).statusCode).toBe(201);
  });

  it("a manual match racing the process manager's run: one of them holds the items, never both", async () => {
    const imported = await importFile(p.app, "/bank-accounts/cm_on/statements", csv([["2026-03-10", "300.00", "RACE-1"], ["2026-03-11", "301.00", "RACE-2"]]), { query: { format: "csv", profile: "plain" } });
    expect(imported.statusCode, imported.body).toBe(201);
    const lines = await eventually(
      async () => (await query(p.app, "/bank-accounts/cm_on/unmatched?side=external")).json<{ items: { itemId: string; amount: string }[] }>().items,
      (items) => items.some((i) => i.amount === "301.00"),
      "the race lines never showed",
    );
    const line = lines.find((i) => i.amount === "301.00")?.itemId ?? "";
    // The posting triggers a run over RACE-2 while the clerk matches the same two items by hand.
    const [, manual] = await Promise.all([
      sale("race", "2026-03-11", "301.00", "RACE-2"),
      (async () => {
        for (let tries = 0; ; tries++) {
          const answer = await post("/bank-accounts/cm_on/matches", { matchId: "by-hand", externalIds: [line], internalIds: ["race:0"] });
          if (answer.json<{ code?: string }>().code !== "MATCH_ITEM_NOT_FOUND" || tries > 200) return answer;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })(),
    ]);
    expect([201, 409]).toContain(manual.statusCode);
    if (manual.statusCode === 409) expect(manual.json<{ code: string }>().code).toBe("MATCH_ITEM_TAKEN");
    const settled = await eventually(() => matches("cm_on"), (ms) => ms.some((m) => m.internalIds.includes("race:0")), "nobody matched the race items");
    const holding = settled.filter((m) => (m.status === "confirmed" || m.status === "suggested") && (m.internalIds.includes("race:0") || m.externalIds.includes(line)));
    expect(holding).toHaveLength(1);
  });

  it("a trigger handed over again (a crash before the checkpoint) proposes nothing new", async () => {
    const imported = await importFile(p.app, "/bank-accounts/cm_on/statements", csv([["2026-03-20", "42.00", "TWICE-1"]]), { query: { format: "csv", profile: "plain" } });
    expect(imported.statusCode, imported.body).toBe(201);
    await eventually(() => effects("cm_on"), (rows) => rows.length >= 4, "the import was never looked at");
    const before = (await matches("cm_on")).length;
    await sale("twice", "2026-03-20", "42.00", "TWICE-1");
    await eventually(() => matches("cm_on"), (ms) => ms.length === before + 1, "the posting started no run");
    const items = new PostgresMatchItemReader(p.db.pool, { reconciliation: reconciliationProjection.schemaName, ledger: ledgerProjection.schemaName });
    const again = new ContinuousMatching({ store: p.store, items, service: new MatchCommandService({ store: p.store }) });
    const replayed = await again.run({ bankAccountId: "cm_on", dates: { from: "2026-03-20", to: "2026-03-20" }, eventId: "00000000-0000-4000-8000-000000000001", correlationId: "c", occurredAt: new Date() });
    expect(replayed).toMatchObject({ outcome: "run", proposals: 0 });
    expect((await matches("cm_on")).length).toBe(before + 1);
  });

  it("turned on over an existing log, it starts no run for what came before", async () => {
    const old = await startPlatform({ poolMax: 10 });
    try {
      await setupBankAccount(old.app, { ledgerId: "old", bankAccountId: "old_bank", iban: "DE89370400440532013000" });
      expect((await command(old.app, "/ledgers/old/accounts", { code: "4000", name: "Sales", type: "revenue" })).statusCode).toBe(201);
      expect((await command(old.app, "/ledgers/old/csv-profiles", PROFILE)).statusCode).toBe(201);
      expect((await importFile(old.app, "/bank-accounts/old_bank/statements", csv([["2026-03-02", "10.00", "OLD-1"], ["2026-03-03", "20.00", "OLD-2"]]), { query: { format: "csv", profile: "plain" } })).statusCode).toBe(201);
      const entry = (id: string, amount: string, reference: string) => command(old.app, "/ledgers/old/journal-entries", {
        entryId: id, effectiveDate: "2026-03-02", description: id, externalReference: reference,
        lines: [{ account: "1000", side: "debit", amount, currency: "EUR" }, { account: "4000", side: "credit", amount, currency: "EUR" }],
      });
      expect((await entry("o1", "10.00", "OLD-1")).statusCode).toBe(201);
      await old.composed.close();
      const restarted = await compose({ services: ["command", "projections", "query"], logLevel: "silent", pool: old.db.pool, eventStore: old.store, continuousMatching: true, ping: async () => { await old.db.pool.query("SELECT 1"); } });
      try {
        expect((await command(restarted.app, "/ledgers/old/journal-entries", {
          entryId: "o2", effectiveDate: "2026-03-03", description: "o2", externalReference: "OLD-2",
          lines: [{ account: "1000", side: "debit", amount: "20.00", currency: "EUR" }, { account: "4000", side: "credit", amount: "20.00", currency: "EUR" }],
        })).statusCode).toBe(201);
        const after = await eventually(async () => (await query(restarted.app, "/bank-accounts/old_bank/matches")).json<{ items: Match[] }>().items, (ms) => ms.length > 0, "the new posting started no run");
        // The new posting's run covers its window, which holds o1 too: what came before is matched only because it is in that window.
        expect(after.every((m) => m.status === "confirmed")).toBe(true);
        const outcomes = (await old.db.pool.query<{ position: string }>("SELECT position FROM pm_continuous.effects")).rows;
        // One trigger: the new posting. The import and o1, from before it started, triggered nothing.
        expect(outcomes).toHaveLength(1);
      } finally {
        await restarted.close();
      }
    } finally {
      await old.store.close();
      await old.db.drop();
    }
  });
});
