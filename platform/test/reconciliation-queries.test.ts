// The reconciliation query API through app.inject() over a real PostgreSQL,
// the events appended straight to the store (the shapes the import writes)
// and projected by the platform's own worker: bank accounts with their last
// statement and counts, statements with failed checks visible in every answer,
// a statement's lines and an account's lines paged through an opaque cursor
// end to end without gaps or duplicates (at the page-size bound, and one
// beyond it is a 400), date and status filters, a crashed import's lines
// never listed, unknown ids 404, bad cursors and parameters 400 naming
// /cursor or the parameter, minPosition read-your-writes, amounts as decimal
// strings in the line's own currency's exponent (DEM and JPY too).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LightMyRequestResponse } from "fastify";
import { encodePosition } from "@trueup/event-store";
import { RECONCILIATION_QUERY_LIMITS } from "@trueup/query-side";
import type { Platform } from "./ledger-support.ts";
import { query, startPlatform } from "./ledger-support.ts";
import { balanceData, commitStatement, importStatement, lineData, registerBankAccount, uuidOf } from "../../test-support/reconciliation-events.ts";

interface Problem { status: number; code: string; detail: string; in?: string; path?: string }
interface Line { lineId: string; lineNumber: number; statementId: string; amount: string; amountMinor: string; side: string; currency: string; bookingDate: string | null; valueDate: string | null; status: string; charges: string | null; batch: { amount: string } | null; raw: string; location: { line: number } }
interface Page<T> { items: T[]; nextCursor: string | null }
/** Any listed item: a line, a statement or a bank account (each test reads the fields of its kind). */
type Item = Line & { bankAccountId: string; ledgerId: string; acceptedWithFailedChecks: boolean; failedChecks: { code: string }[] };

const PAGE_MAX = RECONCILIATION_QUERY_LIMITS.pageSizeMax;
const JAN = uuidOf("q-jan");
const FEB = uuidOf("q-feb");
const CRASHED = uuidOf("q-crashed");
const PENDING = uuidOf("q-pending");
const JAN_LINES = 2 * PAGE_MAX + 37;

describe("reconciliation queries", () => {
  let p: Platform;
  let last: string;
  const get = (url: string, minPosition: string | null = last): Promise<LightMyRequestResponse> => query(p.app, url, minPosition);
  const json = async <T>(url: string): Promise<T> => {
    const response = await get(url);
    expect(response.statusCode, response.body).toBe(200);
    return response.json<T>();
  };
  /** Follows nextCursor from the first page to the last; at most `pagesMax` pages. */
  const all = async (url: string, pagesMax = 100): Promise<{ items: readonly Item[]; pages: number }> => {
    const items: Item[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const separator = url.includes("?") ? "&" : "?";
      const page: Page<Item> = await json<Page<Item>>(cursor === null ? url : `${url}${separator}cursor=${cursor}`);
      items.push(...page.items);
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor !== null && pages < pagesMax);
    expect(cursor).toBeNull();
    return { items, pages };
  };

  beforeAll(async () => {
    p = await startPlatform();
    const store = p.store;
    for (const id of ["q1", "q2", "q3"]) await registerBankAccount(store, { bankAccountId: id, ledgerId: "QL", iban: null, accountNumber: `ACC-${id}` });
    await registerBankAccount(store, { bankAccountId: "q_unlisted", ledgerId: "QL", iban: null, accountNumber: "ACC-X", listed: false });
    await registerBankAccount(store, { bankAccountId: "other", ledgerId: "OTHER" });
    const january = Array.from({ length: JAN_LINES }, (_, i) => lineData(i + 1));
    january[0] = lineData(1, { currency: "DEM", amountMinor: "123456", chargesMinor: "5", batch: { id: "B1", index: 0, size: 2, amountMinor: "200000", side: "credit" } });
    january[1] = lineData(2, { currency: "JPY", amountMinor: "1500" });
    january[2] = lineData(3, { bookingDate: null, valueDate: null, lineId: "hash:00112233445566778899aabbccddeeff#1", bankReference: null });
    january[3] = lineData(4, { bookingDate: null, valueDate: "2026-01-20" });
    await importStatement(store, { statementId: JAN, bankAccountId: "q1", ledgerId: "QL", lines: january });
    await importStatement(store, { statementId: CRASHED, bankAccountId: "q1", ledgerId: "QL", lines: [lineData(7001, { lineNumber: 1 })], commit: false });
    await importStatement(store, { statementId: PENDING, bankAccountId: "q1", ledgerId: "QL", lines: [lineData(8001, { lineNumber: 1 })], commit: false });
    last = await importStatement(store, {
      statementId: FEB, bankAccountId: "q1", ledgerId: "QL",
      lines: [lineData(9001, { lineNumber: 1, bookingDate: "2026-02-01" }), lineData(9002, { lineNumber: 2, bookingDate: "2026-01-10" })],
      header: {
        periodStart: "2026-02-01", periodEnd: "2026-02-28", sequenceNumber: "2", closingBalance: balanceData("987654", "debit", "2026-02-28"), acceptedWithFailedChecks: true,
        checks: [
          { check: "balance", status: "passed", code: null, message: "balanced", expected: null, actual: null, location: null },
          { check: "period", status: "failed", code: "STATEMENT_LINE_OUTSIDE_PERIOD", message: "line 2 is booked 2026-01-10, before the period", expected: "2026-02-01..2026-02-28", actual: "2026-01-10", location: { line: 40 } },
        ],
      },
    });
  });
  afterAll(async () => {
    await p.close();
  });

  it("lists a ledger's listed bank accounts, paged by id, and none of another ledger", async () => {
    const { items, pages } = await all("/ledgers/QL/bank-accounts?limit=1");
    expect(items.map((a) => a.bankAccountId)).toEqual(["q1", "q2", "q3"]);
    expect(pages).toBe(4);
    expect(items.every((a) => a.ledgerId === "QL")).toBe(true);
    expect((await json<Page<unknown>>("/ledgers/NOBODY/bank-accounts")).items).toEqual([]);
  });

  it("reads a bank account with its last statement, closing balance and counts; an unlisted or unknown one is a 404", async () => {
    expect(await json("/bank-accounts/q1")).toEqual({
      bankAccountId: "q1", ledgerId: "QL", kind: "bank", name: "Account q1", iban: null, accountNumber: "ACC-q1", bankId: "COBADEFFXXX", currency: "EUR", ledgerAccount: "1000",
      statementCount: 2, lineCount: JAN_LINES + 2,
      lastStatement: { statementId: FEB, periodEnd: "2026-02-28", closingBalance: { amount: "9876.54", side: "debit", currency: "EUR", date: "2026-02-28" } },
    });
    expect(await json("/bank-accounts/q2")).toMatchObject({ statementCount: 0, lineCount: 0, lastStatement: null });
    for (const id of ["q_unlisted", "nobody"]) {
      const response = await get(`/bank-accounts/${id}`);
      expect(response.statusCode).toBe(404);
      expect(response.json<Problem>().code).toBe("BANK_ACCOUNT_NOT_FOUND");
    }
    for (const url of ["/bank-accounts/nobody/statements", "/bank-accounts/nobody/lines"]) {
      expect((await get(url)).json<Problem>().code).toBe("BANK_ACCOUNT_NOT_FOUND");
    }
    const bad = await get("/bank-accounts/-bad-");
    expect(bad.statusCode).toBe(400);
    expect(bad.json<Problem>()).toMatchObject({ code: "VALIDATION_FAILED", in: "params" });
  });

  it("lists statements in import order and shows failed checks accepted in every answer about the statement", async () => {
    const { items } = await all("/bank-accounts/q1/statements?limit=1");
    expect(items.map((s) => s.statementId)).toEqual([JAN, FEB]);
    expect(items[1]).toMatchObject({ acceptedWithFailedChecks: true, failedChecks: [{ code: "STATEMENT_LINE_OUTSIDE_PERIOD" }] });
    const feb = await json<Record<string, unknown>>(`/statements/${FEB}`);
    expect(feb).toMatchObject({
      statementId: FEB, bankAccountId: "q1", format: "camt.053", periodStart: "2026-02-01", periodEnd: "2026-02-28", sequenceNumber: "2",
      openingBalance: { amount: "1000.00", side: "credit", currency: "EUR", date: "2026-01-01" },
      closingBalance: { amount: "9876.54", side: "debit", currency: "EUR", date: "2026-02-28" },
      availableBalance: null, lineCount: 2, newLines: 2, knownLines: 0, visibleLines: 2,
      totals: { credits: "200.03", debits: "0.00", creditCount: 2, debitCount: 0, currency: "EUR" },
      acceptedWithFailedChecks: true,
      failedChecks: [{ check: "period", status: "failed", code: "STATEMENT_LINE_OUTSIDE_PERIOD", expected: "2026-02-01..2026-02-28", actual: "2026-01-10", location: { line: 40 } }],
    });
    expect(feb.checks).toHaveLength(2);
    const lines = await json<{ acceptedWithFailedChecks: boolean; failedChecks: unknown[] }>(`/statements/${FEB}/lines`);
    expect(lines.acceptedWithFailedChecks).toBe(true);
    expect(lines.failedChecks).toHaveLength(1);
  });

  it(`pages a statement's ${JAN_LINES} lines at the bound (${PAGE_MAX}) without gaps or duplicates, in line order`, async () => {
    const { items, pages } = await all(`/statements/${JAN}/lines?limit=${PAGE_MAX}`);
    expect(pages).toBe(3);
    expect(items.map((l) => l.lineNumber)).toEqual(Array.from({ length: JAN_LINES }, (_, i) => i + 1));
    expect(new Set(items.map((l) => l.lineId)).size).toBe(JAN_LINES);
    const beyond = await get(`/statements/${JAN}/lines?limit=${PAGE_MAX + 1}`);
    expect(beyond.statusCode).toBe(400);
    expect(beyond.json<Problem>()).toMatchObject({ code: "VALIDATION_FAILED", in: "querystring" });
    expect((await get(`/statements/${JAN}/lines?limit=0`)).statusCode).toBe(400);
    expect((await get(`/statements/${JAN}/lines?limit=2.5`)).statusCode).toBe(400);
    expect((await json<Page<Line>>(`/statements/${JAN}/lines`)).items).toHaveLength(RECONCILIATION_QUERY_LIMITS.pageSizeDefault);
  });

  it("writes amounts in the line's own currency's exponent, with the minor units beside", async () => {
    const [dem, jpy, undated] = (await json<Page<Line>>(`/statements/${JAN}/lines?limit=3`)).items;
    expect(dem).toMatchObject({ amount: "1234.56", amountMinor: "123456", currency: "DEM", charges: "0.05", batch: { amount: "2000.00" }, status: "unmatched", location: { line: 10 } });
    expect(jpy).toMatchObject({ amount: "1500", amountMinor: "1500", currency: "JPY" });
    expect(undated).toMatchObject({ bookingDate: null, valueDate: null, lineId: "hash:00112233445566778899aabbccddeeff#1" });
  });

  it("pages an account's lines over every statement in date order, each once, and leaves a crashed or pending import out", async () => {
    const { items } = await all("/bank-accounts/q1/lines?limit=97");
    expect(items).toHaveLength(JAN_LINES + 2);
    expect(new Set(items.map((l) => l.lineId)).size).toBe(JAN_LINES + 2);
    expect(items.some((l) => l.statementId === CRASHED || l.statementId === PENDING)).toBe(false);
    // Undated first, then by booking date (else value date).
    expect(items[0]?.lineId).toBe("hash:00112233445566778899aabbccddeeff#1");
    const dates = items.slice(1).map((l) => l.bookingDate ?? l.valueDate ?? "");
    expect(dates).toEqual([...dates].sort());
  });

  it("filters an account's lines by an inclusive date range (booking date, else value date) and by status", async () => {
    const { items } = await all("/bank-accounts/q1/lines?from=2026-01-10&to=2026-01-10&limit=50");
    const expected = [...Array.from({ length: JAN_LINES }, (_, i) => lineData(i + 1)).slice(4).filter((l) => l.bookingDate === "2026-01-10").map((l) => l.lineId), "ref:REF9002#1"];
    expect(items.map((l) => l.lineId).sort()).toEqual(expected.sort());
    const valueDated = await json<Page<Line>>("/bank-accounts/q1/lines?from=2026-01-20&to=2026-01-20&limit=500");
    expect(valueDated.items.map((l) => l.lineId)).toContain("ref:REF4#1");
    expect((await all("/bank-accounts/q1/lines?status=unmatched&limit=500")).items).toHaveLength(JAN_LINES + 2);
    expect((await json<Page<Line>>("/bank-accounts/q1/lines?from=2027-01-01")).items).toEqual([]);
    for (const bad of ["status=reconciled", "from=2026-02-30", "from=2026-02-01&to=2026-01-01", "from=0999-12-31", "colour=blue"]) {
      const response = await get(`/bank-accounts/q1/lines?${bad}`);
      expect(response.statusCode, bad).toBe(400);
      expect(response.json<Problem>().code, bad).toBe("VALIDATION_FAILED");
    }
  });

  it("refuses a cursor it did not return with a 400 at /cursor, never a 500", async () => {
    const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");
    const zeros = "0".repeat(32);
    const hostile = [
      "garbage!", b64("x"), b64([]), b64(["x"]), b64([1, 2]), b64({ a: 1 }), "a".repeat(RECONCILIATION_QUERY_LIMITS.cursorLengthMax + 1),
      b64(["accountLines", "2026-02-30", zeros, 1]), b64(["accountLines", "2026-01-01", "zz", 1]), b64(["accountLines", "2026-01-01", zeros, -1]),
      b64(["accountLines", "2026-01-01", zeros, 1.5]), b64(["accountLines", "2026-01-01", zeros, 2 ** 31]), b64(["accountLines", "2026-01-01", zeros]),
      b64(["statementLines", "1"]), b64(["statements", "not-a-position"]), b64(["bankAccounts", "-bad-"]),
    ];
    // Each endpoint's own valid cursor, which every other endpoint must refuse too.
    const valid = {
      bankAccounts: b64(["bankAccounts", "q1"]), statements: b64(["statements", zeros]), statementLines: b64(["statementLines", 1]), accountLines: b64(["accountLines", "2026-01-01", zeros, 1]),
    };
    const urls = { accountLines: "/bank-accounts/q1/lines", statementLines: `/statements/${JAN}/lines`, statements: "/bank-accounts/q1/statements", bankAccounts: "/ledgers/QL/bank-accounts" };
    for (const [kind, url] of Object.entries(urls)) {
      expect((await get(`${url}?cursor=${valid[kind as keyof typeof valid]}`)).statusCode, `${kind} with its own cursor`).toBe(200);
      const foreign = Object.entries(valid).filter(([other]) => other !== kind).map(([, cursor]) => cursor);
      for (const cursor of [...hostile, ...foreign]) {
        const response = await get(`${url}?cursor=${cursor}`);
        expect(response.statusCode, `${url} ${cursor}`).toBe(400);
        expect(response.json<Problem>(), url).toMatchObject({ code: "VALIDATION_FAILED", in: "querystring" });
      }
    }
  });

  it("answers 404 for an unknown statement and 400 for a statement id that is not a UUID", async () => {
    for (const url of [`/statements/${uuidOf("nobody")}`, `/statements/${uuidOf("nobody")}/lines`, `/statements/${CRASHED}`, `/statements/${CRASHED}/lines`]) {
      const response = await get(url);
      expect(response.statusCode, url).toBe(404);
      expect(response.json<Problem>().code).toBe("STATEMENT_NOT_FOUND");
    }
    expect((await get("/statements/not-a-uuid")).statusCode).toBe(400);
    expect((await get(`/statements/${JAN.toUpperCase()}`)).statusCode).toBe(400);
  });

  it("reads its own writes with minPosition: a statement committed just now is there at once", async () => {
    const position = await commitStatement(p.store, { statementId: PENDING, bankAccountId: "q1", ledgerId: "QL", lines: [lineData(8001, { lineNumber: 1 })], header: { periodEnd: "2026-01-31" } });
    const statement = await get(`/statements/${PENDING}`, position);
    expect(statement.statusCode, statement.body).toBe(200);
    expect((await json<Page<Line>>(`/statements/${PENDING}/lines`)).items.map((l) => l.lineId)).toEqual(["ref:REF8001#1"]);
  });

  it("answers 503 READ_MODEL_BEHIND when minPosition is never reached", async () => {
    const never = encodePosition(2n ** 63n, 0n);
    const response = await get("/bank-accounts/q1", never);
    expect(response.statusCode).toBe(503);
    expect(response.json<Problem>().code).toBe("READ_MODEL_BEHIND");
  });
});
