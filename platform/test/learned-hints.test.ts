// Proves, through the HTTP API over a real PostgreSQL, that the engine
// learns from the clerk: a manual match of Acme's payment against a sale
// booked to 4000 teaches "Acme → 4000". A later payment from Acme with two
// otherwise equal candidates (the same amount and date, one booked to
// 4000, one to 4100) is then no longer ambiguous: the run proposes the 4000
// entry and its explanation cites the hint. Unmatching the teaching match
// takes the lesson back (a dry run finds the two candidates equal again),
// and a run's own confirmed proposals teach nothing.
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { command, key, query } from "./ledger-support.ts";
import { importFile, setupBankAccount, startImportPlatform } from "./statement-import-support.ts";
import type { ImportPlatform } from "./statement-import-support.ts";

const LEDGER = "lh";
const ACCOUNT = "lh_bank";
const CSV = ["Date,Amount,Reference,Name", "2026-03-02,100.00,P-1,Acme GmbH", "2026-03-10,250.00,P-2,ACME GmbH"].join("\n") + "\n";

interface Match { matchId: string; status: string; ambiguous: boolean; internalIds: string[]; externalIds: string[]; criteria: { criterion: string; reason: string }[] }
interface RunAnswer { runId: string; ambiguous: number; suggested: number; autoConfirmed: number; position?: string }

describe("learned hints: the clerk's manual matches teach later runs", () => {
  let p: ImportPlatform;
  const post = (url: string, body: unknown): Promise<LightMyRequestResponse> => command(p.app, url, body, key());
  const lineOf = async (amount: string): Promise<string> => {
    for (let tries = 0; ; tries++) {
      const items = (await query(p.app, `/bank-accounts/${ACCOUNT}/unmatched?side=external`)).json<{ items: { itemId: string; amount: string }[] }>().items;
      const found = items.find((i) => i.amount === amount);
      if (found !== undefined) return found.itemId;
      expect(tries, `no open line of ${amount}`).toBeLessThan(200);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const run = async (dryRun: boolean): Promise<RunAnswer> => {
    const answer = await post(`/bank-accounts/${ACCOUNT}/reconciliation-runs`, { dryRun });
    expect(answer.statusCode, answer.body).toBe(201);
    return answer.json<RunAnswer>();
  };

  beforeAll(async () => {
    p = await startImportPlatform();
    await setupBankAccount(p.app, { ledgerId: LEDGER, bankAccountId: ACCOUNT, iban: "DE89370400440532013000" });
    for (const [code, type] of [["4000", "revenue"], ["4100", "revenue"]] as const) expect((await post(`/ledgers/${LEDGER}/accounts`, { code, name: code, type })).statusCode).toBe(201);
    const rules = { rules: [{ kind: "amountDate", id: "ad", dateWindowDays: 3 }], autoConfirmScoreMin: null };
    expect((await p.app.inject({ method: "PUT", url: `/bank-accounts/${ACCOUNT}/matching-rules`, payload: { rules }, headers: { "idempotency-key": key() } })).statusCode).toBe(200);
    expect((await post(`/ledgers/${LEDGER}/csv-profiles`, { profileId: "named", name: "Named", currency: "EUR", dateFormat: "YYYY-MM-DD", columns: { bookingDate: "Date", amount: "Amount", bankReference: "Reference", counterpartyName: "Name" } })).statusCode).toBe(201);
    expect((await importFile(p.app, `/bank-accounts/${ACCOUNT}/statements`, CSV, { query: { format: "csv", profile: "named" } })).statusCode).toBe(201);
    for (const [entryId, amount, date, contra] of [["s1", "100.00", "2026-02-20", "4000"], ["s2", "250.00", "2026-03-10", "4000"], ["s3", "250.00", "2026-03-10", "4100"]] as const) {
      const posted = await post(`/ledgers/${LEDGER}/journal-entries`, {
        entryId, effectiveDate: date, description: "sale",
        lines: [{ account: "1000", side: "debit", amount, currency: "EUR" }, { account: contra, side: "credit", amount, currency: "EUR" }],
      });
      expect(posted.statusCode, posted.body).toBe(201);
    }
    for (let tries = 0; (await query(p.app, `/bank-accounts/${ACCOUNT}/unmatched?side=internal`)).json<{ items: unknown[] }>().items.length < 3; tries++) {
      expect(tries, "the books never showed").toBeLessThan(200);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  afterAll(async () => {
    await p.close();
  });

  it("without a lesson, the two equal candidates are ambiguous", async () => {
    await lineOf("250.00");
    expect((await run(true)).ambiguous).toBe(1);
  });

  it("a manual match teaches Acme → 4000; the next run proposes the 4000 entry and says why", async () => {
    // Acme's first payment is outside the date window: the clerk matches it.
    const taught = await post(`/bank-accounts/${ACCOUNT}/matches`, { matchId: "teach", externalIds: [await lineOf("100.00")], internalIds: ["s1:0"] });
    expect(taught.statusCode, taught.body).toBe(201);
    const answer = await run(false);
    expect(answer).toMatchObject({ ambiguous: 0, suggested: 1 });
    const matches = (await query(p.app, `/bank-accounts/${ACCOUNT}/matches?status=suggested`, answer.position)).json<{ items: Match[] }>().items;
    expect(matches).toHaveLength(1);
    expect(matches[0]).toMatchObject({ ambiguous: false, internalIds: ["s2:0"] });
    expect(matches[0]?.criteria.find((c) => c.criterion === "hint")?.reason).toBe("counterparty ACME was matched to account 4000 before (1 time)");
  });

  it("an unmatch takes the lesson back; the run's own confirmation teaches nothing", async () => {
    const suggested = (await query(p.app, `/bank-accounts/${ACCOUNT}/matches?status=suggested`)).json<{ items: Match[] }>().items[0];
    expect(suggested).toBeDefined();
    // Confirming the run's suggestion, then undoing it, leaves the clerk's lesson as it was.
    expect((await post(`/matches/${suggested?.matchId ?? ""}/confirm`, {})).statusCode).toBe(200);
    expect((await post(`/matches/${suggested?.matchId ?? ""}/unmatch`, { reason: "check again" })).statusCode).toBe(200);
    expect((await run(true)).ambiguous).toBe(0);
    expect((await post(`/matches/${ACCOUNT}:teach/unmatch`, { reason: "was not Acme after all" })).statusCode).toBe(200);
    expect((await run(true)).ambiguous).toBe(1);
  });
});
