// The clerk's workflow under hostile conditions, through the HTTP API over a
// real PostgreSQL (with the write-off process manager running):
// - an outage while an exception is written off: 503, nothing written; the
//   same Idempotency-Key afterwards resolves it once, one entry posted;
// - the same key sent six times at once, and six different keys at once,
//   for one exception: one resolution in the log, the others replay it or
//   are refused EXCEPTION_NOT_OPEN;
// - an outage during a period sign-off: 503, nothing written; the same key
//   afterwards signs it off once;
// - a sign-off while the ledger's read model is stopped: 503
//   READ_MODEL_BEHIND after its bounded wait, nothing written;
// - the exceptions queue's paging: bounds refused at their parameter, and a
//   walk one item a page returns every exception exactly once.
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StoreUnavailableError } from "@trueup/event-store";
import type { EventStore } from "@trueup/event-store";
import { exceptionIdOf } from "@trueup/contracts";
import { withOverrides } from "../../test-support/event-store.ts";
import type { Platform } from "./ledger-support.ts";
import { command, key, query, startPlatform } from "./ledger-support.ts";
import { IBAN_2, importFile, mt940Message, setupBankAccount } from "./statement-import-support.ts";

const LEDGER = "hx";
const ACCOUNT = "hx_bank";
const CSV = ["Date,Amount,Reference", "2026-02-02,-12.00,FEE-1", "2026-02-03,-7.50,FEE-2", "2026-02-04,-3.00,FEE-3", "2026-02-05,-4.00,FEE-4", "2026-02-06,99.00,IN-1"].join("\n") + "\n";

interface Problem { code: string; path?: string }

describe("the reconciliation workflow under outages, duplicates and lagging read models", () => {
  let p: Platform;
  /** While set, an append for which it answers true fails as an outage would (nothing written). */
  let fault: ((stream: string) => boolean) | undefined;
  const post = (url: string, body: unknown, k = key()): Promise<LightMyRequestResponse> => command(p.app, url, body, k);
  const lineOf = async (reference: string): Promise<string> => {
    const items = (await query(p.app, `/bank-accounts/${ACCOUNT}/unmatched?side=external`)).json<{ items: { itemId: string; reference: string | null }[] }>().items;
    return items.find((i) => i.reference === reference)?.itemId ?? `no line ${reference}`;
  };
  const exceptionOf = async (reference: string): Promise<string> => exceptionIdOf({ bankAccountId: ACCOUNT, kind: "aged", side: "external", itemId: await lineOf(reference) });
  const countEvents = async (type: string): Promise<number> => Number((await p.db.pool.query<{ n: string }>("SELECT count(*) AS n FROM es_events WHERE type = $1", [type])).rows[0]?.n ?? 0);
  const fees = async (): Promise<string | undefined> => (await query(p.app, `/ledgers/${LEDGER}/trial-balance`)).json<{ rows: { code: string; debit: string }[] }>().rows.find((r) => r.code === "6800")?.debit;
  const until = async (done: () => Promise<boolean>, what: string): Promise<void> => {
    for (let tries = 0; !(await done()); tries++) {
      expect(tries, what).toBeLessThan(400);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  beforeAll(async () => {
    p = await startPlatform({
      poolMax: 20,
      wrap: (store): EventStore =>
        withOverrides(store, {
          append: async (stream, events, options) => {
            if (fault?.(stream) === true) throw new StoreUnavailableError("injected: the database went away");
            return store.append(stream, events, options);
          },
        }),
    });
    await setupBankAccount(p.app, { ledgerId: LEDGER, bankAccountId: ACCOUNT, iban: "DE89370400440532013000" });
    expect((await post(`/ledgers/${LEDGER}/accounts`, { code: "6800", name: "Bank fees", type: "expense" })).statusCode).toBe(201);
    expect((await post(`/ledgers/${LEDGER}/csv-profiles`, { profileId: "plain", name: "Plain", currency: "EUR", dateFormat: "YYYY-MM-DD", columns: { bookingDate: "Date", amount: "Amount", bankReference: "Reference" } })).statusCode).toBe(201);
    expect((await importFile(p.app, `/bank-accounts/${ACCOUNT}/statements`, CSV, { query: { format: "csv", profile: "plain" } })).statusCode).toBe(201);
    await until(async () => (await query(p.app, `/bank-accounts/${ACCOUNT}/unmatched?side=external`)).json<{ items: unknown[] }>().items.length === 5, "the lines never showed");
  });
  afterAll(async () => {
    await p.close();
  });

  it("an outage mid write-off: 503 and nothing written; the same key afterwards resolves it once", async () => {
    const exceptionId = await exceptionOf("FEE-1");
    const k = key();
    const body = { resolution: "write-off", ledgerAccount: "6800", reason: "monthly fee" };
    fault = (stream) => stream.startsWith("recon-");
    const failed = await post(`/exceptions/${exceptionId}/resolve`, body, k);
    fault = undefined;
    expect(failed.statusCode, failed.body).toBe(503);
    expect(failed.headers["retry-after"]).toBeDefined();
    expect(await countEvents("ItemResolved")).toBe(0);
    const retried = await post(`/exceptions/${exceptionId}/resolve`, body, k);
    expect(retried.statusCode, retried.body).toBe(200);
    const again = await post(`/exceptions/${exceptionId}/resolve`, body, k);
    expect(again.statusCode, again.body).toBe(200);
    expect(await countEvents("ItemResolved")).toBe(1);
    await until(async () => (await fees()) === "12.00", "the write-off never posted");
    expect(await countEvents("WriteOffPosted")).toBe(1);
  });

  it("the same key six times at once, then six keys at once: one resolution each time", async () => {
    const sameKey = await exceptionOf("FEE-2");
    const k = key();
    const body = { resolution: "ignore", reason: "duplicate fee, refunded" };
    const same = await Promise.all(Array.from({ length: 6 }, () => post(`/exceptions/${sameKey}/resolve`, body, k)));
    for (const r of same) expect([200, 409], r.body).toContain(r.statusCode);
    expect(same.filter((r) => r.statusCode === 200).length).toBeGreaterThanOrEqual(1);
    // A 409 here is the key still in flight, never a second resolution.
    for (const r of same.filter((x) => x.statusCode === 409)) expect(r.json<Problem>().code).not.toBe("EXCEPTION_NOT_OPEN");
    const before = await countEvents("ItemResolved");

    const manyKeys = await exceptionOf("FEE-3");
    const many = await Promise.all(Array.from({ length: 6 }, (_, i) => post(`/exceptions/${manyKeys}/resolve`, { resolution: "ignore", reason: `clerk ${String(i)}` })));
    expect(many.filter((r) => r.statusCode === 200)).toHaveLength(1);
    for (const r of many.filter((x) => x.statusCode !== 200)) {
      expect(r.statusCode, r.body).toBe(409);
      expect(r.json<Problem>().code).toBe("EXCEPTION_NOT_OPEN");
    }
    expect(await countEvents("ItemResolved")).toBe(before + 1);
    expect(before).toBe(2);
  });

  it("an outage during a sign-off: 503 and nothing written; the same key afterwards signs it off once", async () => {
    // An account whose statement states balances: one bank fee, written off, settles the month.
    await setupBankAccount(p.app, { ledgerId: "hx2", bankAccountId: "hx_mt", iban: IBAN_2 });
    expect((await post("/ledgers/hx2/accounts", { code: "6800", name: "Bank fees", type: "expense" })).statusCode).toBe(201);
    const file = mt940Message({ reference: "HX", account: IBAN_2, sequence: "1", openingMinor: 0n, openingDate: "260131", closingDate: "260228", lines: [{ date: "260210", side: "D", amountMinor: 500n, ref: "FEE-MT", text: "account fee" }] });
    expect((await importFile(p.app, "/bank-accounts/hx_mt/statements", file, { query: { format: "mt940" } })).statusCode).toBe(201);
    let lineId: string | undefined;
    await until(async () => {
      lineId = (await query(p.app, "/bank-accounts/hx_mt/unmatched?side=external")).json<{ items: { itemId: string }[] }>().items[0]?.itemId;
      return lineId !== undefined;
    }, "the MT940 line never showed");
    const postedBefore = await countEvents("WriteOffPosted");
    const resolved = await post(`/exceptions/${exceptionIdOf({ bankAccountId: "hx_mt", kind: "aged", side: "external", itemId: lineId ?? "" })}/resolve`, { resolution: "write-off", ledgerAccount: "6800", reason: "account fee" });
    expect(resolved.statusCode, resolved.body).toBe(200);
    const k = key();
    const close = () => post("/bank-accounts/hx_mt/periods/2026-02/close", {}, k);
    // The write-off's outcome is recorded just after its entry: until then the close would say "write-off pending".
    await until(async () => (await countEvents("WriteOffPosted")) === postedBefore + 1, "the write-off never posted");
    expect(await countEvents("ReconciliationPeriodClosed")).toBe(0);
    fault = (stream) => stream === "recon-hx_mt";
    const down = await close();
    fault = undefined;
    expect(down.statusCode, down.body).toBe(503);
    expect(await countEvents("ReconciliationPeriodClosed")).toBe(0);
    const closed = await close();
    expect(closed.statusCode, closed.body).toBe(200);
    expect((await close()).statusCode).toBe(200);
    expect(await countEvents("ReconciliationPeriodClosed")).toBe(1);
  });

  it("a sign-off while the ledger's read model is stopped: 503 READ_MODEL_BEHIND, nothing written", async () => {
    const ledger = p.composed.workers.find((w) => w.projection.name === "ledger");
    expect(ledger).toBeDefined();
    await ledger?.stop();
    try {
      const posted = await post(`/ledgers/${LEDGER}/journal-entries`, {
        entryId: "late", effectiveDate: "2026-02-10", description: "late fee",
        lines: [{ account: "6800", side: "debit", amount: "1.00", currency: "EUR" }, { account: "1000", side: "credit", amount: "1.00", currency: "EUR" }],
      });
      expect(posted.statusCode, posted.body).toBe(201);
      const closedBefore = await countEvents("ReconciliationPeriodClosed");
      const started = Date.now();
      const behind = await post(`/bank-accounts/${ACCOUNT}/periods/2026-02/close`, {});
      expect(behind.statusCode, behind.body).toBe(503);
      expect(behind.json<Problem>().code).toBe("READ_MODEL_BEHIND");
      expect(Date.now() - started).toBeGreaterThanOrEqual(9_000);
      expect(await countEvents("ReconciliationPeriodClosed")).toBe(closedBefore);
    } finally {
      void ledger?.start();
    }
  }, 30_000);

  it("pages the exceptions queue within its bounds, every exception exactly once", async () => {
    for (const limit of ["0", "501", "x"]) {
      const refused = await query(p.app, `/bank-accounts/${ACCOUNT}/exceptions?limit=${limit}`);
      expect(refused.statusCode, refused.body).toBe(400);
      expect(refused.json<Problem>().code).toBe("VALIDATION_FAILED");
    }
    expect((await query(p.app, `/bank-accounts/${ACCOUNT}/exceptions?cursor=not-a-cursor`)).statusCode).toBe(400);
    // Seven more aged lines, and the late ledger line once its read model is back.
    const more = ["Date,Amount,Reference", ...Array.from({ length: 7 }, (_, i) => `2026-01-${String(10 + i)},-${String(i + 1)}.00,OLD-${String(i)}`)].join("\n") + "\n";
    expect((await importFile(p.app, `/bank-accounts/${ACCOUNT}/statements`, more, { query: { format: "csv", profile: "plain" } })).statusCode).toBe(201);
    await until(async () => (await query(p.app, `/bank-accounts/${ACCOUNT}/exceptions?limit=500`)).json<{ items: unknown[] }>().items.length >= 8, "the exceptions never showed");
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 40; page++) {
      const url = `/bank-accounts/${ACCOUNT}/exceptions?limit=2${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`;
      const answer: { items: { exceptionId: string }[]; nextCursor: string | null } = (await query(p.app, url)).json();
      seen.push(...answer.items.map((i) => i.exceptionId));
      cursor = answer.nextCursor;
      if (cursor === null) break;
    }
    expect(cursor).toBeNull();
    expect(new Set(seen).size).toBe(seen.length);
    const all = (await query(p.app, `/bank-accounts/${ACCOUNT}/exceptions?limit=500`)).json<{ items: { exceptionId: string }[] }>().items.map((i) => i.exceptionId);
    expect(seen).toEqual(all);
    expect(all.length).toBeGreaterThanOrEqual(8);
  });
});
