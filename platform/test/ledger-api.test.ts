// The ledger end to end through the HTTP API alone, over a real PostgreSQL:
// accounts, hundreds of random balanced multi-currency entries, reversals, a
// period close; the trial balance balances per currency and hledger, an
// independent implementation, agrees with it line by line. Also: every kind
// of bad input gets its own code and writes nothing; idempotency keys replay
// and conflict; a close racing hundreds of postings never lets one land in
// the closed period; storage down answers 503.
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { periodStream, streamName } from "@trueup/contracts";
import { trialBalanceResponse } from "@trueup/query-side";
import type { LightMyRequestResponse } from "fastify";
import type { Accepted, Platform } from "./ledger-support.ts";
import { command, key, query, random, startPlatform } from "./ledger-support.ts";
import { findHledger } from "./hledger-support.ts";

const hledger = findHledger("ledger-api");

const ACCOUNTS = [
  { code: "1000", name: "Cash EUR", type: "asset", currency: "EUR" },
  { code: "1010", name: "Cash USD", type: "asset", currency: "USD" },
  { code: "1020", name: "Cash JPY", type: "asset", currency: "JPY" },
  { code: "1030", name: "Cash KWD", type: "asset", currency: "KWD" },
  { code: "1200", name: "Receivables", type: "asset" },
  { code: "2000", name: "Payables", type: "liability" },
  { code: "3000", name: "Equity", type: "equity" },
  { code: "4000", name: "Sales", type: "revenue" },
  { code: "5000", name: "Costs", type: "expense" },
] as const;

const CURRENCY_CASH: Record<string, string> = { EUR: "1000", USD: "1010", JPY: "1020", KWD: "1030" };
const EXPONENT: Record<string, number> = { EUR: 2, USD: 2, JPY: 0, KWD: 3 };
const OTHERS = ["1200", "2000", "3000", "4000", "5000"];

function decimal(minor: number, exponent: number): string {
  if (exponent === 0) return String(minor);
  const digits = String(minor).padStart(exponent + 1, "0");
  return `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

async function setUpLedger(p: Platform, ledgerId: string): Promise<string | null> {
  expect((await command(p.app, "/ledgers", { ledgerId, name: `Books ${ledgerId}`, baseCurrency: "EUR" })).statusCode).toBe(201);
  let position: string | null = null;
  for (const account of ACCOUNTS) {
    const response = await command(p.app, `/ledgers/${ledgerId}/accounts`, account);
    expect(response.statusCode, response.body).toBe(201);
    position = response.json<Accepted>().position;
  }
  return position;
}

/** Rows in the log, counted directly: unlike readAll, not delayed by other tests' open transactions. */
async function eventCount(p: Platform, type?: string): Promise<string> {
  const result = await p.db.pool.query<{ n: string }>("SELECT count(*) AS n FROM es_events WHERE $1::text IS NULL OR type = $1", [type ?? null]);
  return result.rows[0]?.n ?? "0";
}

describe("ledger through the HTTP API", () => {
  let p: Platform;
  beforeAll(async () => {
    p = await startPlatform();
  });
  afterAll(async () => {
    await p.close();
  });

  it("posts random balanced multi-currency entries, reverses some, closes a period; hledger agrees with the trial balance", async () => {
    const ledgerId = "e2e";
    await setUpLedger(p, ledgerId);
    const rand = random(20261121);
    const posted: string[] = [];
    let last: string | null = null;
    for (let i = 0; i < 300; i++) {
      const lines: { account: string; side: string; amount: string; currency: string }[] = [];
      const currencies = rand() < 0.3 ? ["EUR", "USD"] : [["EUR", "USD", "JPY", "KWD"][Math.floor(rand() * 4)] ?? "EUR"];
      for (const currency of currencies) {
        const parts = 1 + Math.floor(rand() * 3);
        let total = 0;
        for (let k = 0; k < parts; k++) {
          const minor = 1 + Math.floor(rand() * 10_000_000);
          total += minor;
          lines.push({ account: OTHERS[Math.floor(rand() * OTHERS.length)] ?? "4000", side: "credit", amount: decimal(minor, EXPONENT[currency] ?? 2), currency });
        }
        lines.push({ account: CURRENCY_CASH[currency] ?? "1000", side: "debit", amount: decimal(total, EXPONENT[currency] ?? 2), currency });
      }
      const month = 1 + Math.floor(rand() * 3);
      const day = 1 + Math.floor(rand() * 28);
      const response = await command(p.app, `/ledgers/${ledgerId}/journal-entries`, {
        effectiveDate: `2026-0${month}-${String(day).padStart(2, "0")}`,
        description: `entry ${i}; with "quotes" and a newline\nsecond line`,
        ...(i % 7 === 0 ? { externalReference: `INV-${i}` } : {}),
        lines,
      });
      expect(response.statusCode, response.body).toBe(201);
      const body = response.json<Accepted>();
      posted.push(body.entryId ?? "");
      last = body.position;
    }
    for (const entryId of posted.filter((_, i) => i % 10 === 3)) {
      const response = await command(p.app, `/ledgers/${ledgerId}/journal-entries/${entryId}/reverse`, { effectiveDate: "2026-03-28" }, key());
      if (response.statusCode === 404) {
        // The entry locator reads the projection: wait until it has caught up, then retry once.
        await query(p.app, `/ledgers/${ledgerId}/trial-balance`, last);
        const again = await command(p.app, `/ledgers/${ledgerId}/journal-entries/${entryId}/reverse`, { effectiveDate: "2026-03-28" });
        expect(again.statusCode, again.body).toBe(201);
        last = again.json<Accepted>().position;
        continue;
      }
      expect(response.statusCode, response.body).toBe(201);
      last = response.json<Accepted>().position;
    }
    const close = await command(p.app, `/ledgers/${ledgerId}/periods/2026-01/close`, {});
    expect(close.statusCode, close.body).toBe(200);
    last = close.json<Accepted>().position;

    const tb = await query(p.app, `/ledgers/${ledgerId}/trial-balance`, last);
    expect(tb.statusCode, tb.body).toBe(200);
    const trial = trialBalanceResponse.parse(tb.json());
    expect(trial.totals.map((t) => t.currency)).toEqual(["EUR", "JPY", "KWD", "USD"]);
    for (const total of trial.totals) expect(total.balanced, JSON.stringify(total)).toBe(true);

    const exported = await query(p.app, `/ledgers/${ledgerId}/export.journal`, last);
    expect(exported.statusCode).toBe(200);
    expect(exported.body).toContain("commodity JPY 1000.\n");
    if (hledger === undefined) return;
    const dir = await mkdtemp(path.join(tmpdir(), "trueup-hledger-"));
    try {
      const file = path.join(dir, "e2e.journal");
      await writeFile(file, exported.body);
      const csv = execFileSync(hledger, ["-f", file, "balance", "-O", "csv", "--layout=bare", "-N"], { encoding: "utf8" });
      const theirs = csv
        .trim()
        .split("\n")
        .slice(1)
        .map((line) => line.split(",").map((cell) => cell.replace(/^"|"$/g, "")))
        .map(([account, commodity, balance]) => `${account} ${commodity} ${balance}`)
        .sort();
      const roots: Record<string, string> = { asset: "assets", liability: "liabilities", equity: "equity", revenue: "revenue", expense: "expenses" };
      const ours = trial.rows.map((r) => `${roots[r.type] ?? "?"}:${r.code} ${r.currency} ${r.debit.replace(/^0(\.0+)?$/, "") === "" ? `-${r.credit}` : r.debit}`).sort();
      expect(theirs).toEqual(ours);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("answers balances as of a date, statements with running balances, and entry lists with cursors", async () => {
    const ledgerId = "reads";
    await setUpLedger(p, ledgerId);
    const post = (date: string, amount: string) =>
      command(p.app, `/ledgers/${ledgerId}/journal-entries`, {
        effectiveDate: date,
        description: `sale ${date}`,
        lines: [
          { account: "1000", side: "debit", amount, currency: "EUR" },
          { account: "4000", side: "credit", amount, currency: "EUR" },
        ],
      });
    await post("2026-01-10", "100.00");
    await post("2026-02-10", "20.50");
    const third = await post("2026-01-20", "0.05");
    const last = third.json<Accepted>().position;

    const asOf = await query(p.app, `/ledgers/${ledgerId}/accounts/1000/balance?asOf=2026-01-31`, last);
    expect(asOf.json()).toEqual({ code: "1000", asOf: "2026-01-31", balances: [{ currency: "EUR", debitTotal: "100.05", creditTotal: "0.00", balance: "100.05", side: "debit" }] });
    const now = await query(p.app, `/ledgers/${ledgerId}/accounts/4000`, last);
    expect(now.json<{ balances: unknown[] }>().balances).toEqual([{ currency: "EUR", debitTotal: "0.00", creditTotal: "120.55", balance: "120.55", side: "credit" }]);

    const page1 = await query(p.app, `/ledgers/${ledgerId}/accounts/1000/statement?limit=2`, last);
    const s1 = page1.json<{ lines: { amount: string; runningBalance: string; effectiveDate: string }[]; nextCursor: string | null }>();
    expect(s1.lines.map((l) => [l.effectiveDate, l.amount, l.runningBalance])).toEqual([
      ["2026-01-10", "100.00", "100.00"],
      ["2026-01-20", "0.05", "100.05"],
    ]);
    expect(s1.nextCursor).not.toBeNull();
    const page2 = await query(p.app, `/ledgers/${ledgerId}/accounts/1000/statement?limit=2&cursor=${s1.nextCursor ?? ""}`);
    const s2 = page2.json<{ lines: { amount: string; runningBalance: string }[]; nextCursor: string | null }>();
    expect(s2.lines.map((l) => [l.amount, l.runningBalance])).toEqual([["20.50", "120.55"]]);
    expect(s2.nextCursor).toBeNull();
    const february = await query(p.app, `/ledgers/${ledgerId}/accounts/1000/statement?from=2026-02-01`);
    expect(february.json<{ openingBalance: unknown }>().openingBalance).toEqual({ balance: "100.05", side: "debit" });

    const entries = await query(p.app, `/ledgers/${ledgerId}/journal-entries?account=1000&limit=2`);
    const e1 = entries.json<{ items: { effectiveDate: string }[]; nextCursor: string }>();
    expect(e1.items.map((e) => e.effectiveDate)).toEqual(["2026-01-10", "2026-01-20"]);
    const e2 = await query(p.app, `/ledgers/${ledgerId}/journal-entries?account=1000&limit=2&cursor=${e1.nextCursor}`);
    expect(e2.json<{ items: { effectiveDate: string }[] }>().items.map((e) => e.effectiveDate)).toEqual(["2026-02-10"]);
    expect((await query(p.app, `/ledgers/${ledgerId}/journal-entries?cursor=garbage`)).json<{ code: string }>().code).toBe("VALIDATION_FAILED");
    expect((await query(p.app, `/ledgers/nope/trial-balance`)).json<{ code: string }>().code).toBe("LEDGER_NOT_FOUND");
    expect((await query(p.app, `/ledgers/${ledgerId}/accounts/9999`)).statusCode).toBe(404);
  });

  it("answers the trial balance exactly, now and as of a date, with any account name intact", async () => {
    const ledgerId = "trial";
    await setUpLedger(p, ledgerId);
    const odd = 'Zoë\'s "float" \\ fund\n\t€ — 🧾';
    expect((await command(p.app, `/ledgers/${ledgerId}/accounts`, { code: "1300", name: odd, type: "asset" })).statusCode).toBe(201);
    const post = (date: string, lines: [string, "debit" | "credit", string, string][]) =>
      command(p.app, `/ledgers/${ledgerId}/journal-entries`, {
        effectiveDate: date,
        description: `trial ${date}`,
        lines: lines.map(([account, side, amount, currency]) => ({ account, side, amount, currency })),
      });
    await post("2026-01-05", [["1300", "debit", "100.25", "EUR"], ["4000", "credit", "100.25", "EUR"]]);
    await post("2026-01-06", [["1020", "debit", "5000", "JPY"], ["3000", "credit", "5000", "JPY"]]);
    await post("2026-02-01", [["5000", "debit", "0.25", "EUR"], ["1300", "credit", "0.25", "EUR"]]);
    // Nets to zero: left out of the trial balance.
    await post("2026-02-02", [["1200", "debit", "7.000", "KWD"], ["2000", "credit", "7.000", "KWD"]]);
    const last = (await post("2026-02-03", [["2000", "debit", "7.000", "KWD"], ["1200", "credit", "7.000", "KWD"]])).json<Accepted>().position;

    const now = await query(p.app, `/ledgers/${ledgerId}/trial-balance`, last);
    expect(now.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(trialBalanceResponse.parse(now.json())).toEqual({
      asOf: null,
      rows: [
        { code: "1020", name: "Cash JPY", type: "asset", currency: "JPY", debit: "5000", credit: "0" },
        { code: "1300", name: odd, type: "asset", currency: "EUR", debit: "100.00", credit: "0.00" },
        { code: "3000", name: "Equity", type: "equity", currency: "JPY", debit: "0", credit: "5000" },
        { code: "4000", name: "Sales", type: "revenue", currency: "EUR", debit: "0.00", credit: "100.25" },
        { code: "5000", name: "Costs", type: "expense", currency: "EUR", debit: "0.25", credit: "0.00" },
      ],
      totals: [
        { currency: "EUR", debit: "100.25", credit: "100.25", balanced: true },
        { currency: "JPY", debit: "5000", credit: "5000", balanced: true },
      ],
    });
    const january = await query(p.app, `/ledgers/${ledgerId}/trial-balance?asOf=2026-01-31`, last);
    expect(trialBalanceResponse.parse(january.json()).rows.map((r) => [r.code, r.currency, r.debit, r.credit])).toEqual([
      ["1020", "JPY", "5000", "0"],
      ["1300", "EUR", "100.25", "0.00"],
      ["3000", "JPY", "0", "5000"],
      ["4000", "EUR", "0.00", "100.25"],
    ]);
    const before = await query(p.app, `/ledgers/${ledgerId}/trial-balance?asOf=2025-12-31`, last);
    expect(before.json()).toEqual({ asOf: "2025-12-31", rows: [], totals: [] });

    // An account opened after a trial balance was answered appears in the next one, with its name.
    expect((await command(p.app, `/ledgers/${ledgerId}/accounts`, { code: "1400", name: "Petty cash", type: "asset" })).statusCode).toBe(201);
    const later = (await post("2026-02-04", [["1400", "debit", "3.50", "EUR"], ["1300", "credit", "3.50", "EUR"]])).json<Accepted>().position;
    const after = trialBalanceResponse.parse((await query(p.app, `/ledgers/${ledgerId}/trial-balance`, later)).json());
    expect(after.rows.filter((r) => r.code === "1300" || r.code === "1400")).toEqual([
      { code: "1300", name: odd, type: "asset", currency: "EUR", debit: "96.50", credit: "0.00" },
      { code: "1400", name: "Petty cash", type: "asset", currency: "EUR", debit: "3.50", credit: "0.00" },
    ]);
  });

  it("reports sums beyond what one amount may hold, exactly", async () => {
    const ledgerId = "huge";
    await setUpLedger(p, ledgerId);
    const max = "9999999999999999999999999999.99";
    const body = { effectiveDate: "2026-07-01", description: "max", lines: [{ account: "1200", side: "debit", amount: max, currency: "EUR" }, { account: "4000", side: "credit", amount: max, currency: "EUR" }] };
    expect((await command(p.app, `/ledgers/${ledgerId}/journal-entries`, body)).statusCode).toBe(201);
    const last = (await command(p.app, `/ledgers/${ledgerId}/journal-entries`, body)).json<Accepted>().position;
    const account = await query(p.app, `/ledgers/${ledgerId}/accounts/1200`, last);
    expect(account.statusCode, account.body).toBe(200);
    expect(account.json<{ balances: unknown[] }>().balances).toEqual([{ currency: "EUR", debitTotal: "19999999999999999999999999999.98", creditTotal: "0.00", balance: "19999999999999999999999999999.98", side: "debit" }]);
    const trial = trialBalanceResponse.parse((await query(p.app, `/ledgers/${ledgerId}/trial-balance`, last)).json());
    expect(trial.totals).toEqual([{ currency: "EUR", debit: "19999999999999999999999999999.98", credit: "19999999999999999999999999999.98", balanced: true }]);
  });

  describe("bad input: its own code, the exact location, nothing written", () => {
    const ledgerId = "strict";
    beforeAll(async () => {
      await setUpLedger(p, ledgerId);
    });
    const entry = (lines: unknown[], extra: Record<string, unknown> = {}) => ({ effectiveDate: "2026-05-05", description: "x", lines, ...extra });
    const good = (amount: unknown = "1.00", currency = "EUR") => [
      { account: "1200", side: "debit", amount, currency },
      { account: "4000", side: "credit", amount, currency },
    ];

    it.each([
      ["unbalanced", entry([{ account: "1200", side: "debit", amount: "1.00", currency: "EUR" }, { account: "4000", side: "credit", amount: "0.99", currency: "EUR" }]), 422, "LEDGER_UNBALANCED", "/lines"],
      ["unbalanced per currency", entry([{ account: "1200", side: "debit", amount: "1.00", currency: "EUR" }, { account: "4000", side: "credit", amount: "1.00", currency: "USD" }]), 422, "LEDGER_UNBALANCED", "/lines"],
      ["unknown account", entry([{ account: "7777", side: "debit", amount: "1.00", currency: "EUR" }, { account: "4000", side: "credit", amount: "1.00", currency: "EUR" }]), 404, "ACCOUNT_NOT_FOUND", "/lines/0/account"],
      ["too many decimals", entry(good("1.234")), 400, "AMOUNT_TOO_MANY_DECIMALS", "/lines/0/amount"],
      ["negative amount", entry(good("-5")), 400, "AMOUNT_NOT_POSITIVE", "/lines/0/amount"],
      ["zero amount", entry(good("0.00")), 400, "AMOUNT_NOT_POSITIVE", "/lines/0/amount"],
      ["exponent notation", entry(good("1e3")), 400, "AMOUNT_INVALID_FORMAT", "/lines/0/amount"],
      ["JSON number", entry(good(1.5)), 400, "AMOUNT_NOT_A_STRING", "/lines/0/amount"],
      ["unknown currency", entry(good("1.00", "EUX")), 400, "CURRENCY_UNKNOWN", "/lines/0/currency"],
      ["one line", entry([{ account: "1200", side: "debit", amount: "1.00", currency: "EUR" }]), 400, "VALIDATION_FAILED", "/lines"],
      ["bad date", entry(good(), { effectiveDate: "2026-02-30" }), 400, "VALIDATION_FAILED", "/effectiveDate"],
      ["unknown field", entry(good(), { approvedBy: "me" }), 400, "VALIDATION_FAILED", "/approvedBy"],
    ])("%s", async (_name, body, status, code, at) => {
      const before = await eventCount(p);
      const response = await command(p.app, `/ledgers/${ledgerId}/journal-entries`, body);
      expect(response.statusCode, response.body).toBe(status);
      expect(response.headers["content-type"]).toContain("application/problem+json");
      const problem = response.json<{ code: string; path?: string }>();
      expect(problem.code).toBe(code);
      expect(problem.path).toBe(at);
      expect(await eventCount(p)).toBe(before);
    });

    it("closed accounts and closed periods reject postings", async () => {
      expect((await command(p.app, `/ledgers/${ledgerId}/accounts/5000/close`, {})).statusCode).toBe(200);
      const closedAccount = await command(p.app, `/ledgers/${ledgerId}/journal-entries`, entry([{ account: "5000", side: "debit", amount: "1.00", currency: "EUR" }, { account: "4000", side: "credit", amount: "1.00", currency: "EUR" }]));
      expect(closedAccount.json<{ code: string }>().code).toBe("ACCOUNT_CLOSED");
      expect(closedAccount.statusCode).toBe(422);
      expect((await command(p.app, `/ledgers/${ledgerId}/periods/2026-06/close`, {})).statusCode).toBe(200);
      const closedPeriod = await command(p.app, `/ledgers/${ledgerId}/journal-entries`, entry(good(), { effectiveDate: "2026-06-30" }));
      expect(closedPeriod.statusCode).toBe(422);
      expect(closedPeriod.json<{ code: string }>().code).toBe("PERIOD_CLOSED");
      expect((await command(p.app, `/ledgers/${ledgerId}/periods/2026-06/close`, {})).json<{ code: string }>().code).toBe("PERIOD_ALREADY_CLOSED");
      const reopen = await command(p.app, `/ledgers/${ledgerId}/periods/2026-06/reopen`, { reason: "late supplier invoice" });
      expect(reopen.statusCode).toBe(200);
      expect((await command(p.app, `/ledgers/${ledgerId}/journal-entries`, entry(good(), { effectiveDate: "2026-06-30" }))).statusCode).toBe(201);
    });

    it("needs an Idempotency-Key; the same key and body replays, another body is a conflict", async () => {
      const missing = await p.app.inject({ method: "POST", url: `/ledgers/${ledgerId}/journal-entries`, payload: entry(good()) });
      expect(missing.statusCode).toBe(400);
      expect(missing.json<{ code: string; in: string }>()).toMatchObject({ code: "IDEMPOTENCY_KEY_MISSING", in: "headers" });
      const k = key();
      const first = await command(p.app, `/ledgers/${ledgerId}/journal-entries`, entry(good("3.00")), k);
      expect(first.statusCode).toBe(201);
      const before = await eventCount(p);
      const again = await command(p.app, `/ledgers/${ledgerId}/journal-entries`, entry(good("3.00")), k);
      expect(again.statusCode).toBe(201);
      expect(again.headers["idempotent-replayed"]).toBe("true");
      // The body says what the header says.
      expect(again.json()).toEqual({ ...first.json<Accepted>(), replayed: true });
      const other = await command(p.app, `/ledgers/${ledgerId}/journal-entries`, entry(good("4.00")), k);
      expect(other.statusCode).toBe(409);
      expect(other.json<{ code: string }>().code).toBe("IDEMPOTENCY_CONFLICT");
      expect(await eventCount(p)).toBe(before);
      // A rejection is remembered too: the same bad request with the same key gets the same answer.
      const k2 = key();
      const rejected = await command(p.app, `/ledgers/${ledgerId}/journal-entries`, entry(good(), { effectiveDate: "2026-05-05", lines: [{ account: "7777", side: "debit", amount: "1.00", currency: "EUR" }, { account: "4000", side: "credit", amount: "1.00", currency: "EUR" }] }), k2);
      const rejectedAgain = await command(p.app, `/ledgers/${ledgerId}/journal-entries`, entry(good(), { effectiveDate: "2026-05-05", lines: [{ account: "7777", side: "debit", amount: "1.00", currency: "EUR" }, { account: "4000", side: "credit", amount: "1.00", currency: "EUR" }] }), k2);
      expect(rejectedAgain.statusCode).toBe(rejected.statusCode);
      expect(rejectedAgain.headers["idempotent-replayed"]).toBe("true");
    });

    it("answers a retry whose first answer was lost (a crash after the append) with the original entry, not a conflict", async () => {
      const k = key();
      const body = entry(good("6.00"));
      const first = await command(p.app, `/ledgers/${ledgerId}/journal-entries`, body, k);
      expect(first.statusCode, first.body).toBe(201);
      const before = await eventCount(p);
      // As if the process died between the append and recording the answer: the key is claimed, never answered.
      await p.db.pool.query("UPDATE cmd_idempotency SET status_code = NULL, response = NULL WHERE key = $1", [k]);
      const retry = await command(p.app, `/ledgers/${ledgerId}/journal-entries`, body, k);
      expect(retry.statusCode, retry.body).toBe(201);
      expect(retry.json<Accepted>()).toMatchObject({ entryId: first.json<Accepted>().entryId, revision: first.json<Accepted>().revision, replayed: true });
      expect(await eventCount(p)).toBe(before);
    });

    it("one key sent many times at once posts once, and every answer is the first one's", async () => {
      const k = key();
      const body = entry(good("7.00"), { effectiveDate: "2026-05-08" });
      const before = BigInt(await eventCount(p));
      // Other keys ride in the same batches: they must not be held up or lost by the duplicates.
      const others = Array.from({ length: 20 }, () => command(p.app, `/ledgers/${ledgerId}/journal-entries`, entry(good("1.00"), { effectiveDate: "2026-05-08" })));
      const same = Array.from({ length: 20 }, () => command(p.app, `/ledgers/${ledgerId}/journal-entries`, body, k));
      const [sameAnswers, otherAnswers] = await Promise.all([Promise.all(same), Promise.all(others)]);
      expect(otherAnswers.map((r) => r.statusCode)).toEqual(otherAnswers.map(() => 201));
      expect(sameAnswers.map((r) => r.statusCode)).toEqual(sameAnswers.map(() => 201));
      const bodies = sameAnswers.map((r) => r.json<Accepted>());
      const first = sameAnswers.find((r) => r.headers["idempotent-replayed"] === undefined)?.json<Accepted>();
      expect(first).toBeDefined();
      expect(sameAnswers.filter((r) => r.headers["idempotent-replayed"] === undefined)).toHaveLength(1);
      for (const b of bodies) expect({ ...b, replayed: false }).toEqual(first);
      expect(BigInt(await eventCount(p))).toBe(before + 21n);
    });

    it("one key sent at once with different bodies posts one of them; the others are conflicts", async () => {
      const k = key();
      const before = BigInt(await eventCount(p));
      const attempts = Array.from({ length: 12 }, (_, i) => command(p.app, `/ledgers/${ledgerId}/journal-entries`, entry(good("2.00"), { entryId: `race_${k.replace(/[^A-Za-z0-9]/g, "_")}_${i}` }), k));
      const answers = await Promise.all(attempts);
      expect(answers.filter((r) => r.statusCode === 201)).toHaveLength(1);
      expect(answers.filter((r) => r.statusCode === 409).map((r) => r.json<{ code: string }>().code)).toEqual(Array.from({ length: 11 }, () => "IDEMPOTENCY_CONFLICT"));
      expect(BigInt(await eventCount(p))).toBe(before + 1n);
    });

    it("a refused posting keeps its answer: after the period reopens, the same key still answers PERIOD_CLOSED", async () => {
      expect((await command(p.app, `/ledgers/${ledgerId}/periods/2026-07/close`, {})).statusCode).toBe(200);
      const k = key();
      const body = entry(good("5.00"), { effectiveDate: "2026-07-10" });
      const refused = await command(p.app, `/ledgers/${ledgerId}/journal-entries`, body, k);
      expect(refused.statusCode).toBe(422);
      expect((await command(p.app, `/ledgers/${ledgerId}/periods/2026-07/reopen`, { reason: "audit adjustment" })).statusCode).toBe(200);
      const before = await eventCount(p);
      const again = await command(p.app, `/ledgers/${ledgerId}/journal-entries`, body, k);
      expect(again.statusCode).toBe(422);
      expect(again.headers["idempotent-replayed"]).toBe("true");
      expect(again.json()).toEqual(refused.json());
      expect(await eventCount(p)).toBe(before);
    });

    it("reverses an entry once", async () => {
      const posted = await command(p.app, `/ledgers/${ledgerId}/journal-entries`, entry(good("9.00"), { entryId: "to_reverse" }));
      const position = posted.json<Accepted>().position;
      await query(p.app, `/ledgers/${ledgerId}/journal-entries`, position);
      const first = await command(p.app, `/ledgers/${ledgerId}/journal-entries/to_reverse/reverse`, { effectiveDate: "2026-05-06" });
      expect(first.statusCode, first.body).toBe(201);
      const second = await command(p.app, `/ledgers/${ledgerId}/journal-entries/to_reverse/reverse`, { effectiveDate: "2026-05-07" });
      expect(second.statusCode).toBe(409);
      expect(second.json<{ code: string }>().code).toBe("ENTRY_ALREADY_REVERSED");
      const list = await query(p.app, `/ledgers/${ledgerId}/journal-entries?from=2026-05-05&to=2026-05-06`, first.json<Accepted>().position);
      const items = list.json<{ items: { entryId: string; reverses: string | null; reversedBy: string | null }[] }>().items;
      const original = items.find((e) => e.entryId === "to_reverse");
      const reversal = items.find((e) => e.reverses === "to_reverse");
      expect(original?.reversedBy).toBe(reversal?.entryId);
      expect((await command(p.app, `/ledgers/${ledgerId}/journal-entries/nope/reverse`, { effectiveDate: "2026-05-06" })).statusCode).toBe(404);
      const dup = await command(p.app, `/ledgers/${ledgerId}/journal-entries`, entry(good("9.00"), { entryId: "to_reverse", description: "again" }));
      expect(dup.statusCode).toBe(409);
      expect(dup.json<{ code: string }>().code).toBe("ENTRY_ALREADY_EXISTS");
    });
  });

  it("a period close racing hundreds of concurrent postings never lets one land after it", async () => {
    const ledgerId = "race";
    await setUpLedger(p, ledgerId);
    const postings = Array.from({ length: 300 }, (_, i) =>
      command(p.app, `/ledgers/${ledgerId}/journal-entries`, {
        effectiveDate: "2026-04-15",
        description: `racer ${i}`,
        lines: [
          { account: "1200", side: "debit", amount: "1.00", currency: "EUR" },
          { account: "4000", side: "credit", amount: "1.00", currency: "EUR" },
        ],
      }),
    );
    const close = new Promise((resolve) => setTimeout(resolve, 15)).then(() => command(p.app, `/ledgers/${ledgerId}/periods/2026-04/close`, {}));
    const [responses, closed] = await Promise.all([Promise.all(postings), close]);
    expect(closed.statusCode, closed.body).toBe(200);
    const accepted = responses.filter((r) => r.statusCode === 201).length;
    const refused = responses.filter((r) => r.statusCode === 422 && r.json<{ code: string }>().code === "PERIOD_CLOSED").length;
    expect(accepted + refused).toBe(300);
    const events = await p.store.readStream(streamName("period", `${ledgerId}:2026-04`), { maxCount: 1000 });
    expect(periodStream(ledgerId, "2026-04")).toBe(`period-${ledgerId}:2026-04`);
    const closeAt = events.findIndex((e) => e.type === "PeriodClosed");
    expect(closeAt).toBeGreaterThanOrEqual(0);
    expect(events.slice(closeAt + 1).filter((e) => e.type === "JournalEntryPosted")).toEqual([]);
    expect(events.filter((e) => e.type === "JournalEntryPosted")).toHaveLength(accepted);
  });

  it("an account close racing hundreds of concurrent postings never lets one land after it", async () => {
    const ledgerId = "race_account";
    await setUpLedger(p, ledgerId);
    // Spread over three periods: three streams, so postings commit side by side, not only one batch at a time.
    // Sent in waves, with the close in the middle, so some are decided before it and land after.
    // Each posting moves 1.00 within 5000 (debit and credit), so its balance stays zero and the close is allowed whenever it lands.
    const postings: Promise<LightMyRequestResponse>[] = [];
    let close: Promise<LightMyRequestResponse> | undefined;
    for (let i = 0; i < 300; i++) {
      if (i === 150) close = command(p.app, `/ledgers/${ledgerId}/accounts/5000/close`, {});
      postings.push(
        command(p.app, `/ledgers/${ledgerId}/journal-entries`, {
          effectiveDate: `2026-0${1 + (i % 3)}-15`,
          description: `racer ${i}`,
          lines: [
            { account: "5000", side: "debit", amount: "1.00", currency: "EUR" },
            { account: "5000", side: "credit", amount: "1.00", currency: "EUR" },
          ],
        }),
      );
      if (i % 10 === 9) await new Promise((resolve) => setImmediate(resolve));
    }
    if (close === undefined) throw new Error("the close was never sent");
    const [responses, closed] = await Promise.all([Promise.all(postings), close]);
    expect(closed.statusCode, closed.body).toBe(200);
    const accepted = responses.filter((r) => r.statusCode === 201).length;
    const refused = responses.filter((r) => r.statusCode === 422 && r.json<{ code: string }>().code === "ACCOUNT_CLOSED").length;
    expect(accepted + refused).toBe(300);
    // The log in its global order, as every reader sees it.
    const { rows } = await p.db.pool.query<{ type: string; code: string | null; accounts: string[] | null }>(
      `SELECT type, data->>'code' AS code, (SELECT array_agg(l->>'accountCode') FROM json_array_elements(data->'lines') l) AS accounts
         FROM es_events WHERE stream_name = $1 OR stream_name LIKE $2 ORDER BY tx_id, seq`,
      [`ledger-${ledgerId}`, `period-${ledgerId}:%`],
    );
    const closeAt = rows.findIndex((r) => r.type === "AccountClosed" && r.code === "5000");
    expect(closeAt).toBeGreaterThanOrEqual(0);
    const usesIt = (r: (typeof rows)[number]) => r.type === "JournalEntryPosted" && r.accounts?.includes("5000") === true;
    expect(rows.slice(closeAt + 1).filter(usesIt)).toEqual([]);
    expect(rows.filter(usesIt)).toHaveLength(accepted);
  });

  it("answers 503 and writes nothing when storage is down; the same key succeeds once it is back", async () => {
    // A platform whose database role we can lock out: every connection it has
    // is terminated and new ones are refused (too many connections, 53300).
    const q = await startPlatform({ ownRole: true, poolMax: 5 });
    const { default: pg } = await import("pg");
    const admin = new pg.Client({ ...inject("postgres") });
    await admin.connect();
    const role = String(q.db.config.user);
    try {
      await setUpLedger(q, "outage");
      for (const worker of q.composed.workers) await worker.stop();
      const body = { effectiveDate: "2026-07-01", description: "during outage", lines: [{ account: "1200", side: "debit", amount: "1.00", currency: "EUR" }, { account: "4000", side: "credit", amount: "1.00", currency: "EUR" }] };
      const k = key();
      await admin.query(`ALTER ROLE ${role} CONNECTION LIMIT 0`);
      for (let attempt = 0; attempt < 500; attempt++) {
        const alive = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", [role]);
        if (alive.rowCount === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const down = await command(q.app, "/ledgers/outage/journal-entries", body, k);
      expect(down.statusCode, down.body).toBe(503);
      expect(down.json<{ code: string }>().code).toBe("STORE_UNAVAILABLE");
      expect(down.headers["retry-after"]).toBe("1");
      await admin.query(`ALTER ROLE ${role} CONNECTION LIMIT -1`);
      const up = await command(q.app, "/ledgers/outage/journal-entries", body, k);
      expect(up.statusCode, up.body).toBe(201);
      expect(await q.store.readStream(streamName("period", "outage:2026-07"))).toHaveLength(1);
    } finally {
      await admin.query(`ALTER ROLE ${role} CONNECTION LIMIT -1`);
      await admin.end();
      await q.close();
    }
  });

  it("a shutdown lets the commands already running finish before it closes storage", async () => {
    const q = await startPlatform();
    await setUpLedger(q, "closing");
    // Entries only: the period's first posting also lists it on the ledger stream (PeriodListed).
    const before = BigInt(await eventCount(q, "JournalEntryPosted"));
    const postings = Array.from({ length: 60 }, (_, i) =>
      command(q.app, "/ledgers/closing/journal-entries", {
        effectiveDate: "2026-08-01",
        description: `in flight ${i}`,
        lines: [
          { account: "1200", side: "debit", amount: "1.00", currency: "EUR" },
          { account: "4000", side: "credit", amount: "1.00", currency: "EUR" },
        ],
      }),
    );
    // Let the handlers start, then shut down as SIGTERM does: the composition, then the pool.
    await new Promise((resolve) => setImmediate(resolve));
    await q.composed.close();
    const counted = BigInt(await eventCount(q, "JournalEntryPosted"));
    await q.store.close();
    await q.db.pool.end();
    const answers = await Promise.all(postings);
    const accepted = answers.filter((r) => r.statusCode === 201).length;
    // Requests that arrived after the close began get 503; none is cut off half-way (500).
    expect(answers.filter((r) => r.statusCode !== 201 && r.statusCode !== 503).map((r) => `${r.statusCode} ${r.body}`)).toEqual([]);
    expect(accepted).toBeGreaterThan(0);
    expect(counted).toBe(before + BigInt(accepted));
    const { default: pg } = await import("pg");
    const admin = new pg.Client({ ...inject("postgres") });
    await admin.connect();
    await admin.query(`DROP DATABASE ${String(q.db.config.database)} WITH (FORCE)`);
    await admin.end();
  });
});
