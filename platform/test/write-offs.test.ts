// Proves, through the HTTP API over a real PostgreSQL with the platform's
// own process manager running, that a confirmed match's write-off becomes a
// balanced journal entry through the ledger's command path: dated by the
// bank line, on the bank's ledger account against the write-off account,
// visible in the trial balance and in the hledger export, shown on the match
// as posted with its entry id, and never listed as an open ledger item.
// And that a write-off the ledger refuses (its period closed meanwhile) is
// recorded on the match with the ledger's code, not lost and not retried
// for ever; that a suggestion confirmed later posts its write-off too; and
// that a match whose write-off is posted cannot be unmatched (it would leave
// the entry behind), while one whose write-off was refused can.
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { command, key, query } from "./ledger-support.ts";
import { importFile, setupBankAccount, startImportPlatform } from "./statement-import-support.ts";
import type { ImportPlatform } from "./statement-import-support.ts";

const LEDGER = "wo";
const ACCOUNT = "wo_bank";
const CSV = ["Date,Amount,Reference,Name", "2026-03-02,99.50,INV-9,Bolt Ltd", "2026-02-10,40.00,FEB-1,Corr SA", "2026-03-06,199.00,INV-10,Acme GmbH"].join("\n") + "\n";

interface WriteOff { amount: string; status: string | null; entryId: string | null; reversalEntryId: string | null; error: string | null; ledgerAccount: string }
interface Match { matchId: string; status: string; writeOff: WriteOff | null }

describe("write-offs, through the API and the write-off process manager", () => {
  let p: ImportPlatform;
  const post = (url: string, body: unknown): Promise<LightMyRequestResponse> => command(p.app, url, body, key());
  const matchUntil = async (matchId: string, done: (m: Match) => boolean): Promise<Match> => {
    for (let tries = 0; ; tries++) {
      const response = await query(p.app, `/matches/${matchId}`);
      if (response.statusCode === 200 && done(response.json<Match>())) return response.json<Match>();
      expect(tries, `match ${matchId} never got there: ${response.body}`).toBeLessThan(400);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  beforeAll(async () => {
    p = await startImportPlatform();
    await setupBankAccount(p.app, { ledgerId: LEDGER, bankAccountId: ACCOUNT, iban: "DE89370400440532013000" });
    for (const [code, name, type] of [["4000", "Sales", "revenue"], ["6800", "Bank fees", "expense"]] as const) {
      expect((await post(`/ledgers/${LEDGER}/accounts`, { code, name, type })).statusCode).toBe(201);
    }
    const rules = { rules: [{ kind: "amountDate", id: "ad", allowTolerance: true }], tolerance: { absoluteMinor: "100" }, writeOffAccount: "6800", autoConfirmScoreMin: 100 };
    expect((await p.app.inject({ method: "PUT", url: `/bank-accounts/${ACCOUNT}/matching-rules`, payload: { rules }, headers: { "idempotency-key": key() } })).statusCode).toBe(200);
    expect((await post(`/ledgers/${LEDGER}/csv-profiles`, { profileId: "simple", name: "Simple", currency: "EUR", dateFormat: "YYYY-MM-DD", columns: { bookingDate: "Date", amount: "Amount", bankReference: { names: ["Reference"], optional: false }, counterpartyName: "Name" } })).statusCode).toBe(201);
    const imported = await importFile(p.app, `/bank-accounts/${ACCOUNT}/statements`, CSV, { query: { format: "csv", profile: "simple" } });
    expect(imported.statusCode, imported.body).toBe(201);
    // A tolerated amount is proposed only when the counterparty agrees: the books name theirs in metadata.
    for (const [entryId, amount, date, counterparty] of [["a1", "100.00", "2026-03-01", "Bolt Ltd"], ["f1", "40.30", "2026-02-09", "Corr SA"], ["a2", "200.00", "2026-03-05", "Acme GmbH"]] as const) {
      const posted = await post(`/ledgers/${LEDGER}/journal-entries`, {
        entryId, effectiveDate: date, description: `sale ${entryId}`, metadata: { counterparty },
        lines: [{ account: "1000", side: "debit", amount, currency: "EUR" }, { account: "4000", side: "credit", amount, currency: "EUR" }],
      });
      expect(posted.statusCode, posted.body).toBe(201);
    }
    for (let tries = 0; ; tries++) {
      const lines = await query(p.app, `/bank-accounts/${ACCOUNT}/unmatched?side=external`);
      const internal = await query(p.app, `/bank-accounts/${ACCOUNT}/unmatched?side=internal`);
      if (lines.json<{ items?: unknown[] }>().items?.length === 3 && internal.json<{ items?: unknown[] }>().items?.length === 3) break;
      expect(tries, "the read models never caught up").toBeLessThan(200);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
  afterAll(async () => {
    await p.close();
  });

  it("posts a manual match's write-off as a balanced entry dated by the bank line, and never lists it as an open item", async () => {
    const made = await post(`/bank-accounts/${ACCOUNT}/matches`, { matchId: "fee", externalIds: ["ref:INV-9#1"], internalIds: ["a1:0"], reason: "bank kept 0.50" });
    expect(made.statusCode, made.body).toBe(201);
    const match = await matchUntil(`${ACCOUNT}:fee`, (m) => m.writeOff?.status === "posted");
    expect(match.writeOff).toMatchObject({ amount: "-0.50", ledgerAccount: "6800", status: "posted", error: null });
    const entryId = match.writeOff?.entryId ?? "";
    // The matching model shows WriteOffPosted; the ledger's model, another projection, may not have the entry yet.
    let entries = await query(p.app, `/ledgers/${LEDGER}/journal-entries?account=6800`);
    for (let tries = 0; entries.json<{ items?: unknown[] }>().items?.length !== 1; tries++) {
      expect(tries, `the write-off entry never reached the ledger's read model: ${entries.body}`).toBeLessThan(400);
      await new Promise((resolve) => setTimeout(resolve, 50));
      entries = await query(p.app, `/ledgers/${LEDGER}/journal-entries?account=6800`);
    }
    expect(entries.statusCode, entries.body).toBe(200);
    expect(entries.json<{ items: unknown[] }>().items).toEqual([expect.objectContaining({
      entryId,
      effectiveDate: "2026-03-02",
      lines: [{ account: "1000", side: "credit", amount: "0.50", currency: "EUR" }, { account: "6800", side: "debit", amount: "0.50", currency: "EUR" }],
      metadata: expect.objectContaining({ reconciliationWriteOff: `${ACCOUNT}:fee` }) as unknown,
    })]);
    const trial = await query(p.app, `/ledgers/${LEDGER}/trial-balance`);
    expect(trial.json<{ rows: { code: string; debit: string; credit: string }[] }>().rows).toEqual(expect.arrayContaining([
      expect.objectContaining({ code: "1000", debit: "339.80", credit: "0.00" }),
      expect.objectContaining({ code: "6800", debit: "0.50", credit: "0.00" }),
    ]));
    const journal = await query(p.app, `/ledgers/${LEDGER}/export.journal`);
    expect(journal.body).toContain(`Write-off of match ${ACCOUNT}:fee`);
    const open = await query(p.app, `/bank-accounts/${ACCOUNT}/unmatched?side=internal`);
    expect(open.json<{ items: { itemId: string }[] }>().items.map((i) => i.itemId)).toEqual(["f1:0", "a2:0"]);
    const summary = await query(p.app, `/bank-accounts/${ACCOUNT}/summary?asOf=2026-03-31`);
    expect(summary.json()).toMatchObject({ internal: { total: 3, matched: 1, unmatched: 2 } });
  });

  it("records a write-off the ledger refuses (its period closed meanwhile) on the match, with the ledger's code", async () => {
    const closed = await post(`/ledgers/${LEDGER}/periods/2026-02/close`, {});
    expect(closed.statusCode, closed.body).toBe(200);
    const made = await post(`/bank-accounts/${ACCOUNT}/matches`, { matchId: "late", externalIds: ["ref:FEB-1#1"], internalIds: ["f1:0"] });
    expect(made.statusCode, made.body).toBe(201);
    const match = await matchUntil(`${ACCOUNT}:late`, (m) => m.writeOff?.status === "refused");
    expect(match.writeOff).toMatchObject({ amount: "-0.30", status: "refused" });
    expect(match.writeOff?.error).toMatch(/^PERIOD_CLOSED: /);
    // Not posted anywhere, and the process manager moved on (the next write-off posts).
    const trial = await query(p.app, `/ledgers/${LEDGER}/trial-balance`);
    expect(trial.json<{ rows: { code: string; debit: string }[] }>().rows.find((r) => r.code === "6800")?.debit).toBe("0.50");
  });

  it("posts the write-off of a suggestion when a clerk confirms it", async () => {
    const run = await post(`/bank-accounts/${ACCOUNT}/reconciliation-runs`, {});
    expect(run.statusCode, run.body).toBe(201);
    expect(run.json(), run.body).toMatchObject({ suggested: 1, autoConfirmed: 0 });
    const suggested = await query(p.app, `/bank-accounts/${ACCOUNT}/matches?status=suggested&minPosition=${run.json<{ position: string }>().position}`);
    const [suggestion] = suggested.json<{ items: Match[] }>().items;
    expect(suggestion?.writeOff).toMatchObject({ amount: "-1.00", status: null });
    const confirmed = await post(`/matches/${suggestion?.matchId ?? ""}/confirm`, {});
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    const match = await matchUntil(suggestion?.matchId ?? "", (m) => m.writeOff?.status === "posted");
    expect(match.status).toBe("confirmed");
    const trial = await query(p.app, `/ledgers/${LEDGER}/trial-balance`);
    expect(trial.json<{ rows: { code: string; debit: string }[] }>().rows.find((r) => r.code === "6800")?.debit).toBe("1.50");
  });

  it("unmatching a match whose write-off is posted reverses the write-off through the ledger; one whose write-off was refused just goes", async () => {
    const fee = await matchUntil(`${ACCOUNT}:fee`, (m) => m.writeOff?.status === "posted");
    const unmatched = await post(`/matches/${ACCOUNT}:fee/unmatch`, { reason: "wrong invoice" });
    expect(unmatched.statusCode, unmatched.body).toBe(200);
    const reversed = await matchUntil(`${ACCOUNT}:fee`, (m) => m.writeOff?.status === "reversed");
    expect(reversed).toMatchObject({ status: "unmatched", writeOff: { status: "reversed", entryId: fee.writeOff?.entryId ?? "", error: null } });
    const reversalId = reversed.writeOff?.reversalEntryId ?? "";
    expect(reversalId).not.toBe("");
    // The reversal is the ledger's own (linked to the write-off), dated as the write-off was, and marked like it.
    const reversalOf = async (): Promise<unknown> => (await query(p.app, `/ledgers/${LEDGER}/journal-entries?account=6800`)).json<{ items: { entryId: string }[] }>().items.find((e) => e.entryId === reversalId);
    let reversal = await reversalOf();
    for (let tries = 0; reversal === undefined; tries++) {
      expect(tries, "the reversal never reached the ledger's read model").toBeLessThan(400);
      await new Promise((resolve) => setTimeout(resolve, 50));
      reversal = await reversalOf();
    }
    expect(reversal).toMatchObject({
      effectiveDate: "2026-03-02", reverses: fee.writeOff?.entryId,
      lines: [{ account: "1000", side: "debit", amount: "0.50" }, { account: "6800", side: "credit", amount: "0.50" }],
      metadata: { reconciliationWriteOff: `${ACCOUNT}:fee` },
    });
    // 6800 holds only the confirmed suggestion's 1.00 now; the items are open again, the reversal is not one of them.
    const trial = await query(p.app, `/ledgers/${LEDGER}/trial-balance`);
    expect(trial.json<{ rows: { code: string; debit: string; credit: string }[] }>().rows.find((r) => r.code === "6800")).toMatchObject({ debit: "1.00", credit: "0.00" });
    const open = (await query(p.app, `/bank-accounts/${ACCOUNT}/unmatched?side=internal`)).json<{ items: { itemId: string }[] }>().items.map((i) => i.itemId);
    expect(open).toContain("a1:0");
    expect(open.some((id) => id.startsWith(reversalId) || id.startsWith(fee.writeOff?.entryId ?? "-"))).toBe(false);
    const history = (await query(p.app, `/matches/${ACCOUNT}:fee`)).json<{ history: { type: string; actor: string }[] }>().history.map((h) => h.type);
    expect(history.slice(-3)).toEqual(["MatchUnmatched", "WriteOffReversalRequested", "WriteOffReversed"]);
    // Matched again by hand: a new match, a new write-off.
    const again = await post(`/bank-accounts/${ACCOUNT}/matches`, { matchId: "fee2", externalIds: ["ref:INV-9#1"], internalIds: ["a1:0"], reason: "right invoice after all" });
    expect(again.statusCode, again.body).toBe(201);
    await matchUntil(`${ACCOUNT}:fee2`, (m) => m.writeOff?.status === "posted");

    const refused = await post(`/matches/${ACCOUNT}:late/unmatch`, { reason: "wrong invoice" });
    expect(refused.statusCode, refused.body).toBe(200);
    expect((await matchUntil(`${ACCOUNT}:late`, (m) => m.status === "unmatched")).writeOff).toMatchObject({ status: "refused" });
  });
});
