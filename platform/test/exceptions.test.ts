// Proves, through the HTTP API over a real PostgreSQL with the platform's
// write-off process manager running, the exceptions queue and its
// resolutions: an aged bank fee, an aged ledger line the bank never showed,
// two identical bank lines and an amount mismatch are listed with stable ids;
// a write-off posts a balanced entry (bank fee: the bank's account credited
// against fees; a ledger line that never came: taken back out) and the item
// leaves the queue; an ignore needs a reason and clears the twin's
// suspicion; a reassignment keeps the item open with its assignee; a run
// does not propose resolved items. And the hostile side: resolving twice, an
// item not aged yet, an id we never listed, the bank's own ledger account or
// an unknown account as the write-off account, and a resolution racing a
// manual match of the same item (exactly one lands).
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exceptionIdOf } from "@trueup/contracts";
import { command, key, query } from "./ledger-support.ts";
import { importFile, setupBankAccount, startImportPlatform } from "./statement-import-support.ts";
import type { ImportPlatform } from "./statement-import-support.ts";

const LEDGER = "ex";
const ACCOUNT = "ex_bank";
const AS_OF = "2026-03-31";
const CSV = [
  "Date,Amount,Reference",
  "2026-01-05,-15.00,FEE-1",
  "2026-03-20,50.00,DUP-1",
  "2026-03-20,50.00,DUP-1",
  "2026-03-25,120.00,INV-7",
  "2026-01-08,-9.00,FEE-2",
  "2099-06-01,5.00,FUT-1",
].join("\n") + "\n";

interface Exception { exceptionId: string; kind: string; side: string; itemId: string; amount: string; assignee: string | null; ageDays: number | null }

describe("exceptions and their resolution, through the API", () => {
  let p: ImportPlatform;
  const post = (url: string, body: unknown, k: string = key()): Promise<LightMyRequestResponse> => command(p.app, url, body, k);
  const resolve = (exceptionId: string, body: unknown): Promise<LightMyRequestResponse> => post(`/exceptions/${exceptionId}/resolve`, body);
  const id = (kind: "aged" | "duplicate" | "amount-mismatch", side: "external" | "internal", itemId: string): string => exceptionIdOf({ bankAccountId: ACCOUNT, kind, side, itemId });
  const listed = async (at: string | null = null): Promise<Exception[]> => {
    const response = await query(p.app, `/bank-accounts/${ACCOUNT}/exceptions?asOf=${AS_OF}`, at);
    expect(response.statusCode, response.body).toBe(200);
    return response.json<{ items: Exception[] }>().items;
  };
  const until = async (done: () => Promise<boolean>, what: string): Promise<void> => {
    for (let tries = 0; !(await done()); tries++) {
      expect(tries, what).toBeLessThan(400);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const trialDebit = async (code: string): Promise<string | undefined> =>
    (await query(p.app, `/ledgers/${LEDGER}/trial-balance`)).json<{ rows: { code: string; debit: string }[] }>().rows.find((r) => r.code === code)?.debit;

  beforeAll(async () => {
    p = await startImportPlatform();
    await setupBankAccount(p.app, { ledgerId: LEDGER, bankAccountId: ACCOUNT, iban: "DE89370400440532013000" });
    for (const [code, name, type] of [["4000", "Sales", "revenue"], ["6800", "Bank fees", "expense"]] as const) {
      expect((await post(`/ledgers/${LEDGER}/accounts`, { code, name, type })).statusCode).toBe(201);
    }
    const rules = { rules: [{ kind: "reference", id: "ref", fields: ["bankReference"] }], exceptionAgeingDays: 14 };
    expect((await p.app.inject({ method: "PUT", url: `/bank-accounts/${ACCOUNT}/matching-rules`, payload: { rules }, headers: { "idempotency-key": key() } })).statusCode).toBe(200);
    expect((await post(`/ledgers/${LEDGER}/csv-profiles`, { profileId: "simple", name: "Simple", currency: "EUR", dateFormat: "YYYY-MM-DD", columns: { bookingDate: "Date", amount: "Amount", bankReference: { names: ["Reference"], optional: false } } })).statusCode).toBe(201);
    const imported = await importFile(p.app, `/bank-accounts/${ACCOUNT}/statements`, CSV, { query: { format: "csv", profile: "simple" } });
    expect(imported.statusCode, imported.body).toBe(201);
    for (const [entryId, amount, date, reference] of [["o1", "30.00", "2026-01-10", "LOST-1"], ["i7", "100.00", "2026-03-25", "INV-7"]] as const) {
      const posted = await post(`/ledgers/${LEDGER}/journal-entries`, {
        entryId, effectiveDate: date, description: `sale ${entryId}`, externalReference: reference,
        lines: [{ account: "1000", side: "debit", amount, currency: "EUR" }, { account: "4000", side: "credit", amount, currency: "EUR" }],
      });
      expect(posted.statusCode, posted.body).toBe(201);
    }
    await until(async () => (await query(p.app, `/bank-accounts/${ACCOUNT}/exceptions?asOf=${AS_OF}`)).json<{ items?: unknown[] }>().items?.length === 6, "the read models never caught up");
  });
  afterAll(async () => {
    await p.close();
  });

  it("lists aged items of both sides, both twins and the amount mismatch, in date order, with stable ids", async () => {
    const items = await listed();
    expect(items.map((e) => [e.kind, e.side, e.itemId, e.amount])).toEqual([
      ["aged", "external", "ref:FEE-1#1", "-15.00"],
      ["aged", "external", "ref:FEE-2#1", "-9.00"],
      ["aged", "internal", "o1:0", "30.00"],
      ["duplicate", "external", "ref:DUP-1#1", "50.00"],
      ["duplicate", "external", "ref:DUP-1#2", "50.00"],
      ["amount-mismatch", "external", "ref:INV-7#1", "120.00"],
    ]);
    expect(items[0]).toMatchObject({ exceptionId: id("aged", "external", "ref:FEE-1#1"), ageDays: 85, assignee: null });
    const page = await query(p.app, `/bank-accounts/${ACCOUNT}/exceptions?asOf=${AS_OF}&limit=4`);
    const rest = await query(p.app, `/bank-accounts/${ACCOUNT}/exceptions?asOf=${AS_OF}&limit=4&cursor=${page.json<{ nextCursor: string }>().nextCursor}`);
    expect([...page.json<{ items: Exception[] }>().items, ...rest.json<{ items: Exception[] }>().items].map((e) => e.exceptionId)).toEqual(items.map((e) => e.exceptionId));
    expect((await query(p.app, `/bank-accounts/${ACCOUNT}/exceptions?asOf=${AS_OF}&kind=duplicate`)).json<{ items: unknown[] }>().items).toHaveLength(2);
  });

  it("writes an aged bank fee off to fees and takes a ledger line that never came back out, each once", async () => {
    const fee = await resolve(id("aged", "external", "ref:FEE-1#1"), { resolution: "write-off", ledgerAccount: "6800", reason: "monthly account fee" });
    expect(fee.statusCode, fee.body).toBe(200);
    const lost = await resolve(id("aged", "internal", "o1:0"), { resolution: "write-off", ledgerAccount: "6800", reason: "customer never paid" });
    expect(lost.statusCode, lost.body).toBe(200);
    await until(async () => (await trialDebit("6800")) === "45.00", "the write-offs never reached the trial balance");
    // 1000: +30.00 (o1) +100.00 (i7) −15.00 (fee) −30.00 (o1 taken out) = 85.00.
    expect(await trialDebit("1000")).toBe("85.00");
    const again = await resolve(id("aged", "external", "ref:FEE-1#1"), { resolution: "ignore", reason: "twice" });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: "EXCEPTION_NOT_OPEN" });
    const left = await listed(lost.json<{ position: string }>().position);
    expect(left.map((e) => e.itemId)).not.toContain("ref:FEE-1#1");
    expect(left.map((e) => e.itemId)).not.toContain("o1:0");
    const summary = await query(p.app, `/bank-accounts/${ACCOUNT}/summary?asOf=${AS_OF}&minPosition=${lost.json<{ position: string }>().position}`);
    expect(summary.json()).toMatchObject({ external: { total: 6, resolved: 1 }, internal: { total: 2, resolved: 1, unmatched: 1 } });
    // The write-off entries' own bank lines are no items.
    const open = await query(p.app, `/bank-accounts/${ACCOUNT}/unmatched?side=internal`);
    expect(open.json<{ items: { itemId: string }[] }>().items.map((i) => i.itemId)).toEqual(["i7:0"]);
  });

  it("ignores one twin with a reason, which clears the other, and reassigns the mismatch keeping it open", async () => {
    expect((await resolve(id("duplicate", "external", "ref:DUP-1#2"), { resolution: "ignore" })).statusCode).toBe(400);
    const ignored = await resolve(id("duplicate", "external", "ref:DUP-1#2"), { resolution: "ignore", reason: "the bank reversed it on the next statement" });
    expect(ignored.statusCode, ignored.body).toBe(200);
    const reassigned = await resolve(id("amount-mismatch", "external", "ref:INV-7#1"), { resolution: "reassign", assignee: "clerk:bo", reason: "ask the customer" });
    expect(reassigned.statusCode, reassigned.body).toBe(200);
    const items = await listed(reassigned.json<{ position: string }>().position);
    expect(items.map((e) => [e.kind, e.itemId, e.assignee])).toEqual([
      ["aged", "ref:FEE-2#1", null],
      ["amount-mismatch", "ref:INV-7#1", "clerk:bo"],
    ]);
  });

  it("refuses what it cannot resolve, with the offending part named", async () => {
    const notAged = await resolve(id("aged", "external", "ref:FUT-1#1"), { resolution: "ignore", reason: "x" });
    expect(notAged.statusCode, notAged.body).toBe(404);
    expect(notAged.json()).toMatchObject({ code: "EXCEPTION_NOT_FOUND" });
    expect((await resolve(id("aged", "external", "ref:NOPE#1"), { resolution: "ignore", reason: "x" })).json()).toMatchObject({ code: "EXCEPTION_NOT_FOUND" });
    expect((await resolve(exceptionIdOf({ bankAccountId: "nobody", kind: "aged", side: "external", itemId: "ref:FEE-2#1" }), { resolution: "ignore", reason: "x" })).json()).toMatchObject({ code: "EXCEPTION_NOT_FOUND" });
    expect((await resolve("not-an-exception", { resolution: "ignore", reason: "x" })).statusCode).toBe(400);
    expect((await resolve(`${ACCOUNT}~aged~external~!!`, { resolution: "ignore", reason: "x" })).statusCode).toBe(400);
    const own = await resolve(id("aged", "external", "ref:FEE-2#1"), { resolution: "write-off", ledgerAccount: "1000" });
    expect(own.statusCode).toBe(400);
    expect(own.json()).toMatchObject({ code: "VALIDATION_FAILED", path: "/ledgerAccount" });
    expect((await resolve(id("aged", "external", "ref:FEE-2#1"), { resolution: "write-off", ledgerAccount: "9999" })).json()).toMatchObject({ code: "ACCOUNT_NOT_FOUND", path: "/ledgerAccount" });
    expect((await resolve(id("aged", "external", "ref:FEE-2#1"), { resolution: "shrug" })).statusCode).toBe(400);
  });

  it("lets exactly one of a resolution and a manual match of the same item land, and a run leaves resolved items alone", async () => {
    // A ledger line that balances FEE-2 (the bank's account credited 9.00), so both a resolution and a match can take it.
    const posted = await post(`/ledgers/${LEDGER}/journal-entries`, {
      entryId: "f2", effectiveDate: "2026-01-08", description: "fee booked", externalReference: "F2-BOOKED",
      lines: [{ account: "6800", side: "debit", amount: "9.00", currency: "EUR" }, { account: "1000", side: "credit", amount: "9.00", currency: "EUR" }],
    });
    expect(posted.statusCode, posted.body).toBe(201);
    await until(async () => (await query(p.app, `/bank-accounts/${ACCOUNT}/unmatched?side=internal`)).json<{ items: { itemId: string }[] }>().items.some((i) => i.itemId === "f2:1"), "f2 never showed");
    const [resolved, matched] = await Promise.all([
      resolve(id("aged", "external", "ref:FEE-2#1"), { resolution: "ignore", reason: "race" }),
      post(`/bank-accounts/${ACCOUNT}/matches`, { externalIds: ["ref:FEE-2#1"], internalIds: ["f2:1"], reason: "race" }),
    ]);
    const landed = [resolved, matched].filter((r) => r.statusCode === 200 || r.statusCode === 201);
    expect(landed, `${resolved.body} / ${matched.body}`).toHaveLength(1);
    const lost = [resolved, matched].find((r) => !landed.includes(r));
    expect(["EXCEPTION_NOT_OPEN", "MATCH_ITEM_TAKEN"]).toContain(lost?.json<{ code: string }>().code);
    const run = await post(`/bank-accounts/${ACCOUNT}/reconciliation-runs`, {});
    expect(run.statusCode, run.body).toBe(201);
    const taken = new Set(["ref:FEE-1#1", "ref:DUP-1#2", "o1:0", ...(resolved.statusCode === 200 ? ["ref:FEE-2#1"] : [])]);
    const matches = await query(p.app, `/bank-accounts/${ACCOUNT}/matches?minPosition=${run.json<{ position: string }>().position}`);
    for (const m of matches.json<{ items: { externalIds: string[]; internalIds: string[] }[] }>().items) {
      for (const item of [...m.externalIds, ...m.internalIds]) expect(taken.has(item), item).toBe(false);
    }
  });
});
