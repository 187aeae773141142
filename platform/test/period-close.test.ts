// Proves, through the HTTP API over a real PostgreSQL (with the write-off
// process manager running), signing off a bank account's month: refused
// while items are open, suggested or their write-off unposted; then, with a
// reference match, a tolerated write-off, a bank fee written off from the
// exceptions queue, the books' opening balance explained, and a cheque
// cleared only in the next month, it closes with a bank reconciliation
// statement whose difference is zero (the cheque as an outstanding
// payment), readable as JSON and as a printable page. The period's matches
// are locked (unmatch refused), a second close is refused, and a month not
// ended yet cannot be closed.
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exceptionIdOf } from "@trueup/contracts";
import { command, key, query } from "./ledger-support.ts";
import { IBAN, importFile, mt940Message, setupBankAccount, startImportPlatform } from "./statement-import-support.ts";
import type { ImportPlatform } from "./statement-import-support.ts";

const LEDGER = "pc";
const ACCOUNT = "pc_bank";
const MARCH = mt940Message({
  reference: "MAR", sequence: "1", openingMinor: 50_000n, openingDate: "260228", closingDate: "260331",
  lines: [
    { date: "260302", side: "C", amountMinor: 10_000n, ref: "INV-1", text: "customer one" },
    { date: "260305", side: "D", amountMinor: 1_500n, ref: "FEE-3", text: "account fee" },
    { date: "260310", side: "C", amountMinor: 9_950n, ref: "INV-2", text: "customer two" },
  ],
});
const APRIL = mt940Message({ reference: "APR", sequence: "2", openingMinor: 68_450n, openingDate: "260331", closingDate: "260430", lines: [{ date: "260402", side: "D", amountMinor: 4_000n, ref: "CHQ-1", text: "cheque 1" }] });

interface Item { itemId: string; amount: string; reference: string | null }
interface Problem { code: string; byReason?: Record<string, number> }

describe("signing off a month with a bank reconciliation statement, through the API", () => {
  let p: ImportPlatform;
  const post = (url: string, body: unknown): Promise<LightMyRequestResponse> => command(p.app, url, body, key());
  const close = (period: string): Promise<LightMyRequestResponse> => post(`/bank-accounts/${ACCOUNT}/periods/${period}/close`, {});
  const get = async <T>(url: string): Promise<T> => {
    const response = await query(p.app, url);
    expect(response.statusCode, `${url}: ${response.body}`).toBe(200);
    return response.json<T>();
  };
  const external = async (): Promise<Item[]> => (await get<{ items: Item[] }>(`/bank-accounts/${ACCOUNT}/unmatched?side=external`)).items;
  const until = async (done: () => Promise<boolean>, what: string): Promise<void> => {
    for (let tries = 0; !(await done()); tries++) {
      expect(tries, what).toBeLessThan(400);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const entry = (entryId: string, date: string, reference: string, lines: [string, "debit" | "credit", string][]) =>
    post(`/ledgers/${LEDGER}/journal-entries`, {
      entryId, effectiveDate: date, description: entryId, externalReference: reference,
      lines: lines.map(([account, side, amount]) => ({ account, side, amount, currency: "EUR" })),
    });

  beforeAll(async () => {
    p = await startImportPlatform();
    await setupBankAccount(p.app, { ledgerId: LEDGER, bankAccountId: ACCOUNT, iban: IBAN });
    for (const [code, name, type] of [["3000", "Opening balances", "equity"], ["4000", "Sales", "revenue"], ["6800", "Bank fees", "expense"], ["2100", "Suppliers", "liability"]] as const) {
      expect((await post(`/ledgers/${LEDGER}/accounts`, { code, name, type })).statusCode).toBe(201);
    }
    const rules = {
      rules: [{ kind: "reference", id: "ref", fields: ["bankReference"] }, { kind: "amountDate", id: "ad", allowTolerance: true }],
      tolerance: { absoluteMinor: "100" }, writeOffAccount: "6800",
    };
    expect((await p.app.inject({ method: "PUT", url: `/bank-accounts/${ACCOUNT}/matching-rules`, payload: { rules }, headers: { "idempotency-key": key() } })).statusCode).toBe(200);
    for (const file of [MARCH, APRIL]) {
      const imported = await importFile(p.app, `/bank-accounts/${ACCOUNT}/statements`, file, { query: { format: "mt940" } });
      expect(imported.statusCode, imported.body).toBe(201);
    }
    const posted = [
      await entry("open", "2026-02-28", "OPENING", [["1000", "debit", "500.00"], ["3000", "credit", "500.00"]]),
      await entry("s1", "2026-03-02", "INV-1", [["1000", "debit", "100.00"], ["4000", "credit", "100.00"]]),
      await entry("s2", "2026-03-09", "INV-2X", [["1000", "debit", "100.00"], ["4000", "credit", "100.00"]]),
      await entry("c1", "2026-03-28", "CHQ-1", [["2100", "debit", "40.00"], ["1000", "credit", "40.00"]]),
    ];
    for (const r of posted) expect(r.statusCode, r.body).toBe(201);
    await until(async () => (await external()).length === 4 && (await get<{ items: unknown[] }>(`/bank-accounts/${ACCOUNT}/unmatched?side=internal`)).items.length === 4, "the read models never caught up");
  });
  afterAll(async () => {
    await p.close();
  });

  it("refuses to sign off while items are open, naming how many and why", async () => {
    const refused = await close("2026-03");
    expect(refused.statusCode, refused.body).toBe(422);
    expect(refused.json<Problem>()).toMatchObject({ code: "RECONCILIATION_PERIOD_NOT_RECONCILED", byReason: { open: 7 } });
    expect((await close("2099-01")).json<Problem>().code).toBe("RECONCILIATION_PERIOD_NOT_ENDED");
    expect((await close("2026-13")).statusCode).toBe(400);
  });

  it("signs off once everything is matched, written off or explained, with a zero-difference statement", async () => {
    // References: INV-1 in March and the cheque, cleared in April.
    const run = await post(`/bank-accounts/${ACCOUNT}/reconciliation-runs`, {});
    expect(run.statusCode, run.body).toBe(201);
    const lines = await until(async () => (await external()).length === 2, "the run's matches never showed").then(external);
    const line = (ref: string): string => lines.find((l) => l.reference === ref)?.itemId ?? `missing ${ref}`;
    // INV-2: 99.50 at the bank against 100.00 in the books, 0.50 written off to fees.
    const manual = await post(`/bank-accounts/${ACCOUNT}/matches`, { matchId: "inv2", externalIds: [line("INV-2")], internalIds: ["s2:0"] });
    expect(manual.statusCode, manual.body).toBe(201);
    // A suggestion or an unposted write-off still blocks; the bank fee is still open.
    expect((await close("2026-03")).json<Problem>().code).toBe("RECONCILIATION_PERIOD_NOT_RECONCILED");
    const fee = await post(`/exceptions/${exceptionIdOf({ bankAccountId: ACCOUNT, kind: "aged", side: "external", itemId: line("FEE-3") })}/resolve`, { resolution: "write-off", ledgerAccount: "6800", reason: "account fee" });
    expect(fee.statusCode, fee.body).toBe(200);
    const opening = await post(`/exceptions/${exceptionIdOf({ bankAccountId: ACCOUNT, kind: "aged", side: "internal", itemId: "open:0" })}/resolve`, { resolution: "ignore", reason: "opening balance, agreed with the bank's opening 500.00" });
    expect(opening.statusCode, opening.body).toBe(200);
    await until(async () => (await get<{ rows: { code: string; debit: string }[] }>(`/ledgers/${LEDGER}/trial-balance`)).rows.find((r) => r.code === "6800")?.debit === "15.50", "the write-offs never posted");

    // The process manager records WriteOffPosted just after the entry: until then the close says "write-off pending".
    let closed = await close("2026-03");
    for (let tries = 0; closed.statusCode === 422 && closed.json<Problem>().byReason?.["write-off pending"] !== undefined && tries < 200; tries++) {
      await new Promise((r) => setTimeout(r, 50));
      closed = await close("2026-03");
    }
    if (closed.statusCode !== 200) {
      const ev = await p.db.pool.query("SELECT type, data::text FROM es_events WHERE type LIKE 'WriteOff%' OR type = 'ItemResolved' ORDER BY seq");
      const dl = await p.db.pool.query("SELECT * FROM pm_write_offs.dead_letters").catch((e: unknown) => ({ rows: [String(e)] }));
      console.log(JSON.stringify(ev.rows, null, 1), JSON.stringify(dl.rows, null, 1));
    }
    expect(closed.statusCode, closed.body).toBe(200);
    const signed = await get<{ closedBy: string; statement: Record<string, unknown> }>(`/bank-accounts/${ACCOUNT}/reconciliation-statement?period=2026-03&minPosition=${closed.json<{ position: string }>().position}`);
    // Bank 684.50 − outstanding cheque 40.00 = 644.50; books 500 + 100 + 100 − 40 − 15 − 0.50 = 644.50.
    expect(signed.statement).toMatchObject({
      period: "2026-03", periodEnd: "2026-03-31", balanced: true, difference: "0.00",
      bankBalance: { amount: "684.50" }, adjustedBank: "644.50", bookBalance: "644.50", adjustedBook: "644.50",
      outstandingPayments: { count: 1, total: "-40.00" }, depositsInTransit: { count: 0 }, feesAndCharges: { count: 0 }, interestAndReceipts: { count: 0 },
    });
    const page = await query(p.app, `/bank-accounts/${ACCOUNT}/reconciliation-statement.html?period=2026-03`);
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(page.body).toContain("644.50");
    expect(page.body).not.toContain("<script");
  });

  it("locks the period: its matches cannot be unmatched, it cannot be closed again, an unknown period has no statement", async () => {
    const matches = await get<{ items: { matchId: string; externalIds: string[] }[] }>(`/bank-accounts/${ACCOUNT}/matches?status=confirmed`);
    expect(matches.items.length).toBeGreaterThanOrEqual(3);
    for (const match of matches.items) {
      const refused = await post(`/matches/${match.matchId}/unmatch`, { reason: "changed my mind" });
      expect(refused.statusCode, refused.body).toBe(409);
      expect(["RECONCILIATION_PERIOD_CLOSED", "MATCH_HAS_WRITE_OFF"]).toContain(refused.json<Problem>().code);
    }
    expect((await close("2026-03")).json<Problem>().code).toBe("RECONCILIATION_PERIOD_ALREADY_CLOSED");
    expect((await close("2026-02")).json<Problem>().code).toBe("RECONCILIATION_PERIOD_ALREADY_CLOSED");
    const none = await query(p.app, `/bank-accounts/${ACCOUNT}/reconciliation-statement?period=2026-01`);
    expect(none.statusCode).toBe(404);
    expect(none.json<Problem>().code).toBe("RECONCILIATION_STATEMENT_NOT_FOUND");
  });
});
