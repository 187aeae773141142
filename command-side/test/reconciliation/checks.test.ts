// The statement checks, given a parsed statement and its tallied lines.
// Proves: each check passes, fails (with its code, location, expected and
// actual figures as decimal strings with the currency) and is skipped when
// the file lacks what it needs; money is exact (bigint sums beyond 2^53, a
// one-minor-unit difference found); debit (overdraft) balances are signed
// right; a historic currency (DEM) on a EUR account is a currency mismatch;
// checkFailure reports the first failed check with every result, and nothing
// when all pass or failed checks are accepted. As properties: the balance
// check passes exactly when the closing balance is the exact sum, the tally
// does not depend on the lines' order, and whatever a file's header holds
// (long account numbers and element paths, odd sequence numbers, unknown
// currencies) the checks never throw and every result fits the event schema
// it is recorded in.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { NO_BANK_CODES, NO_COUNTERPARTY, STATEMENT_CHECKS, TrueupError, checkResultSchema } from "@trueup/contracts";
import type { CheckResult, ParsedBalance, ParsedLine, ParsedStatement, Side } from "@trueup/contracts";
import { checkFailure, checkStatement, emptyTally, formatAmount, tallyLine } from "../../src/reconciliation/checks.ts";
import type { CheckInput, LineTally, PreviousStatement } from "../../src/reconciliation/checks.ts";

const IBAN = "DE89370400440532013000";
const EUR_ACCOUNT = { currency: "EUR", iban: IBAN, accountNumber: null };

function balance(amountMinor: bigint, side: Side = "credit", extra: Partial<ParsedBalance> = {}): ParsedBalance {
  return { amountMinor, side, currency: "EUR", date: "2026-03-31", location: { line: 9, record: ":62F:" }, ...extra };
}

function line(amountMinor: bigint, side: Side, extra: Partial<ParsedLine> = {}): ParsedLine {
  return {
    amountMinor,
    side,
    currency: "EUR",
    bookingDate: "2026-03-15",
    valueDate: "2026-03-15",
    reversal: false,
    bankReference: null,
    endToEndId: null,
    customerReference: null,
    creditorReference: null,
    remittanceInformation: null,
    description: null,
    counterparty: NO_COUNTERPARTY,
    bankCodes: NO_BANK_CODES,
    chargesMinor: null,
    batch: null,
    attributes: {},
    raw: ":61:...",
    location: { line: 5, record: ":61:" },
    ...extra,
  };
}

function statement(extra: Partial<ParsedStatement> = {}): ParsedStatement {
  return {
    format: "mt940",
    section: 0,
    account: { iban: IBAN, accountNumber: null, bankId: null, currency: "EUR", location: { line: 2, record: ":25:" } },
    currency: "EUR",
    statementReference: "STMT",
    sequenceNumber: "42",
    pageNumber: "1",
    createdAt: null,
    periodStart: "2026-03-01",
    periodEnd: "2026-03-31",
    openingBalance: balance(100_00n, "credit", { date: "2026-02-28", location: { line: 4, record: ":60F:" } }),
    closingBalance: balance(130_00n),
    availableBalance: null,
    balanceKind: "final",
    controlTotals: [],
    lineCount: 2,
    location: { line: 1, record: ":20:" },
    ...extra,
  };
}

function tallyOf(lines: readonly ParsedLine[]): LineTally {
  const tally = emptyTally();
  for (const l of lines) tallyLine(tally, l);
  return tally;
}

const twoLines = [line(50_00n, "credit"), line(20_00n, "debit", { location: { line: 7, record: ":61:" } })];
const previous: PreviousStatement = { closingBalance: { amountMinor: "10000", side: "credit", currency: "EUR", date: "2026-02-28" }, sequenceNumber: "41", periodEnd: "2026-02-28" };

function run(extra: Partial<CheckInput> = {}): CheckResult[] {
  return checkStatement({ statement: statement(), tally: tallyOf(twoLines), bankAccount: EUR_ACCOUNT, previous, fileControlTotals: [], ...extra });
}

function resultOf(results: CheckResult[], check: CheckResult["check"]): CheckResult {
  const found = results.find((r) => r.check === check);
  if (found === undefined) throw new Error(`no ${check} result`);
  return found;
}

describe("statement checks", () => {
  it("a consistent statement passes every check, one result per STATEMENT_CHECKS entry in order, and checkFailure finds nothing", () => {
    const results = run({ statement: statement({ controlTotals: [{ scope: "account", declaredMinor: 30_00n, computedMinor: 30_00n, location: { line: 3 } }] }) });
    expect(results.map((r) => r.check)).toEqual([...STATEMENT_CHECKS]);
    expect(results.map((r) => r.status)).toEqual(STATEMENT_CHECKS.map(() => "passed"));
    for (const r of results) expect(r).toMatchObject({ code: null, expected: null, actual: null, location: null });
    expect(checkFailure(results)).toBeUndefined();
    // JSON-ready: no bigint, no undefined anywhere.
    expect(JSON.parse(JSON.stringify(results))).toEqual(results);
  });

  describe("balance: opening + credits − debits = closing", () => {
    it("fails one minor unit off, at the closing balance, with expected and actual in EUR", () => {
      const r = resultOf(run({ statement: statement({ closingBalance: balance(130_01n) }) }), "balance");
      expect(r).toMatchObject({ status: "failed", code: "STATEMENT_UNBALANCED", expected: "130.00 EUR", actual: "130.01 EUR", location: { line: 9, record: ":62F:" } });
      expect(r.message).toMatch(/^line 9, :62F:: opening 100.00 EUR \+ credits 50.00 EUR \(1 line\) − debits 20.00 EUR \(1 line\) = 130.00 EUR, but the closing balance is 130.01 EUR \(a difference of 0.01 EUR\)/);
    });

    it("signs debit (overdraft) balances: −50.00 opening, +20.00 credit, −30.00 closing passes; a closing written as credit fails", () => {
      const overdrawn = statement({ openingBalance: balance(50_00n, "debit"), closingBalance: balance(30_00n, "debit") });
      expect(resultOf(run({ statement: overdrawn, tally: tallyOf([line(20_00n, "credit")]) }), "balance").status).toBe("passed");
      const wrongSide = statement({ openingBalance: balance(50_00n, "debit"), closingBalance: balance(30_00n, "credit") });
      expect(resultOf(run({ statement: wrongSide, tally: tallyOf([line(20_00n, "credit")]) }), "balance")).toMatchObject({ status: "failed", expected: "-30.00 EUR", actual: "30.00 EUR" });
    });

    it("is exact beyond 2^53: sums of 10^20 minor units that a float would round", () => {
      const big = 10n ** 20n;
      const lines = [line(big + 1n, "credit"), line(big, "credit"), line(1n, "debit")];
      const s = statement({ openingBalance: balance(0n), closingBalance: balance(2n * big) });
      expect(resultOf(run({ statement: s, tally: tallyOf(lines) }), "balance").status).toBe("passed");
      const off = statement({ openingBalance: balance(0n), closingBalance: balance(2n * big + 1n) });
      expect(resultOf(run({ statement: off, tally: tallyOf(lines) }), "balance")).toMatchObject({ status: "failed", expected: "2000000000000000000.00 EUR", actual: "2000000000000000000.01 EUR" });
    });

    it("a reversal is summed by the side of its own booking", () => {
      // A reversed credit (MT940 RC) is a debit booking.
      const lines = [line(50_00n, "credit"), line(50_00n, "debit", { reversal: true })];
      expect(resultOf(run({ statement: statement({ closingBalance: balance(100_00n) }), tally: tallyOf(lines) }), "balance").status).toBe("passed");
    });

    it("is skipped without an opening or a closing balance, or with balances in two currencies", () => {
      expect(resultOf(run({ statement: statement({ openingBalance: null }) }), "balance")).toMatchObject({ status: "skipped", message: "the file states no opening balance" });
      expect(resultOf(run({ statement: statement({ closingBalance: null }) }), "balance")).toMatchObject({ status: "skipped", message: "the file states no closing balance" });
      expect(resultOf(run({ statement: statement({ closingBalance: balance(130_00n, "credit", { currency: "USD" }) }) }), "balance").status).toBe("skipped");
    });
  });

  describe("continuity: the previous closing balance = this opening", () => {
    it("fails at the opening balance when it differs (amount or side)", () => {
      const r = resultOf(run({ previous: { ...previous, closingBalance: { amountMinor: "9999", side: "credit", currency: "EUR", date: "2026-02-28" } } }), "continuity");
      expect(r).toMatchObject({ status: "failed", code: "STATEMENT_DISCONTINUOUS", expected: "99.99 EUR", actual: "100.00 EUR", location: { line: 4, record: ":60F:" } });
      const side = resultOf(run({ previous: { ...previous, closingBalance: { amountMinor: "10000", side: "debit", currency: "EUR", date: null } } }), "continuity");
      expect(side).toMatchObject({ status: "failed", expected: "-100.00 EUR", actual: "100.00 EUR" });
    });

    it("is skipped for the first statement, without balances, for an older or overlapping statement, and for interim reports", () => {
      expect(resultOf(run({ previous: null }), "continuity")).toMatchObject({ status: "skipped", message: "the account's first statement" });
      expect(resultOf(run({ previous: { ...previous, closingBalance: null } }), "continuity").status).toBe("skipped");
      expect(resultOf(run({ statement: statement({ openingBalance: null }) }), "continuity").status).toBe("skipped");
      const overlapping = resultOf(run({ previous: { ...previous, closingBalance: { amountMinor: "1", side: "credit", currency: "EUR", date: null }, periodEnd: "2026-03-10" } }), "continuity");
      expect(overlapping.status).toBe("skipped");
      expect(overlapping.message).toMatch(/older or overlapping/);
      const intraday = resultOf(run({ statement: statement({ format: "camt.052" }), previous: { ...previous, closingBalance: { amountMinor: "1", side: "credit", currency: "EUR", date: null } } }), "continuity");
      expect(intraday.status).toBe("skipped");
    });

    it("a statement on the same day as the previous one's end is chained", () => {
      const sameDay = statement({ periodStart: "2026-02-28", periodEnd: "2026-02-28" });
      const r = resultOf(run({ statement: sameDay, previous: { ...previous, closingBalance: { amountMinor: "1", side: "credit", currency: "EUR", date: null } } }), "continuity");
      expect(r.status).toBe("failed");
    });
  });

  describe("sequence: this number = previous + 1", () => {
    it("passes 41 → 42, leading zeros or not, and a next page of the same statement", () => {
      expect(resultOf(run(), "sequence").status).toBe("passed");
      expect(resultOf(run({ statement: statement({ sequenceNumber: "00042" }), previous: { ...previous, sequenceNumber: "0041" } }), "sequence").status).toBe("passed");
      expect(resultOf(run({ statement: statement({ sequenceNumber: "41", pageNumber: "2" }), previous: { ...previous, pageNumber: "1" } }), "sequence").status).toBe("passed");
    });

    it("fails on a gap and on a repeated number, at the statement", () => {
      const gap = resultOf(run({ statement: statement({ sequenceNumber: "45" }) }), "sequence");
      expect(gap).toMatchObject({ status: "failed", code: "STATEMENT_SEQUENCE_GAP", expected: "42", actual: "45", location: { line: 1, record: ":20:" } });
      expect(gap.message).toMatch(/statements 42..44 are missing/);
      expect(resultOf(run({ statement: statement({ sequenceNumber: "41" }) }), "sequence")).toMatchObject({ status: "failed", expected: "42", actual: "41" });
    });

    it("accepts a restart at 1 in a new year (numbering per year), not within the year", () => {
      const january = statement({ sequenceNumber: "1", periodStart: "2027-01-01", periodEnd: "2027-01-31" });
      expect(resultOf(run({ statement: january, previous: { ...previous, sequenceNumber: "250", periodEnd: "2026-12-31" } }), "sequence").status).toBe("passed");
      // An MT940 whose period starts at its opening balance's date, the old year's last day.
      const fromOpening = statement({ sequenceNumber: "1", periodStart: "2026-12-31", periodEnd: "2027-01-04" });
      expect(resultOf(run({ statement: fromOpening, previous: { ...previous, sequenceNumber: "250", periodEnd: "2026-12-31" } }), "sequence").status).toBe("passed");
      expect(resultOf(run({ statement: statement({ sequenceNumber: "1" }), previous: { ...previous, sequenceNumber: "250" } }), "sequence").status).toBe("failed");
    });

    it("is skipped without a previous statement, a number, or with non-digit numbers", () => {
      expect(resultOf(run({ previous: null }), "sequence").status).toBe("skipped");
      expect(resultOf(run({ statement: statement({ sequenceNumber: null }) }), "sequence").status).toBe("skipped");
      expect(resultOf(run({ statement: statement({ sequenceNumber: "42A" }) }), "sequence").status).toBe("skipped");
      expect(resultOf(run({ statement: statement({ sequenceNumber: "9".repeat(31) }) }), "sequence").status).toBe("skipped");
    });
  });

  describe("currency: the statement's, every balance's and every line's = the bank account's", () => {
    it("a historic DEM statement on a EUR account is a mismatch, named as a withdrawn currency", () => {
      const dem = statement({ currency: "DEM", account: { ...statement().account, currency: "DEM" }, openingBalance: balance(100_00n, "credit", { currency: "DEM" }), closingBalance: balance(130_00n, "credit", { currency: "DEM" }) });
      const results = run({ statement: dem, tally: tallyOf(twoLines.map((l) => ({ ...l, currency: "DEM" }))) });
      const r = resultOf(results, "currency");
      expect(r).toMatchObject({ status: "failed", code: "STATEMENT_CURRENCY_MISMATCH", expected: "EUR", actual: "DEM", location: { line: 2, record: ":25:" } });
      expect(r.message).toMatch(/withdrawn currency/);
      // The balance check still computes in DEM's minor unit.
      expect(resultOf(results, "balance").status).toBe("passed");
      expect(formatAmount(-12345n, "DEM")).toBe("-123.45 DEM");
    });

    it("finds a balance or a single line in another currency, at its location", () => {
      const available = resultOf(run({ statement: statement({ availableBalance: balance(1n, "credit", { currency: "USD", location: { line: 10, record: ":64:" } }) }) }), "currency");
      expect(available).toMatchObject({ status: "failed", actual: "USD", location: { line: 10, record: ":64:" } });
      const lines = [...twoLines, line(1n, "credit", { currency: "CHF", location: { line: 8, record: ":61:" } })];
      const tally = tallyOf(lines);
      expect(tally.firstOtherCurrency).toEqual({ currency: "CHF", location: { line: 8, record: ":61:" } });
      expect(resultOf(run({ tally }), "currency")).toMatchObject({ status: "failed", actual: "CHF", location: { line: 8, record: ":61:" } });
    });

    it("a JPY account formats without decimals, KWD with three", () => {
      expect(formatAmount(1234n, "JPY")).toBe("1234 JPY");
      expect(formatAmount(1234n, "KWD")).toBe("1.234 KWD");
      expect(formatAmount(5n, "EUR")).toBe("0.05 EUR");
    });
  });

  describe("account: the file's IBAN / account number (normalised) = the bank account's", () => {
    it("passes on the IBAN however the file writes it, fails on another IBAN even if an account number matches", () => {
      const spaced = statement({ account: { ...statement().account, iban: "de89 3704 0044 0532 0130 00" } });
      expect(resultOf(run({ statement: spaced }), "account").status).toBe("passed");
      const other = statement({ account: { ...statement().account, iban: "GB82WEST12345698765432", accountNumber: "12345" } });
      const r = resultOf(run({ statement: other, bankAccount: { ...EUR_ACCOUNT, accountNumber: "12345" } }), "account");
      expect(r).toMatchObject({ status: "failed", code: "STATEMENT_ACCOUNT_MISMATCH", expected: IBAN, actual: "GB82WEST12345698765432", location: { line: 2, record: ":25:" } });
    });

    it("compares account numbers without spaces and case, and an IBAN written where an account number goes", () => {
      const byNumber = statement({ account: { ...statement().account, iban: null, accountNumber: "0123 4567 ab" } });
      expect(resultOf(run({ statement: byNumber, bankAccount: { currency: "EUR", iban: null, accountNumber: "01234567AB" } }), "account").status).toBe("passed");
      const ibanAsNumber = statement({ account: { ...statement().account, iban: null, accountNumber: IBAN } });
      expect(resultOf(run({ statement: ibanAsNumber }), "account").status).toBe("passed");
      const wrong = resultOf(run({ statement: byNumber, bankAccount: { currency: "EUR", iban: null, accountNumber: "999" } }), "account");
      expect(wrong).toMatchObject({ status: "failed", expected: "999", actual: "01234567AB" });
    });

    it("is skipped when the file names no account", () => {
      const anonymous = statement({ account: { ...statement().account, iban: null, accountNumber: null } });
      expect(resultOf(run({ statement: anonymous }), "account").status).toBe("skipped");
    });
  });

  describe("period: every line's booking date (else value date) within the statement's period", () => {
    it("fails at the first line dated before or after the period", () => {
      const early = [line(50_00n, "credit", { bookingDate: "2026-02-27", location: { line: 5 } }), line(20_00n, "debit")];
      expect(resultOf(run({ tally: tallyOf(early) }), "period")).toMatchObject({ status: "failed", code: "STATEMENT_LINE_OUTSIDE_PERIOD", expected: "2026-03-01..2026-03-31", actual: "2026-02-27", location: { line: 5 } });
      const late = [line(50_00n, "credit"), line(20_00n, "debit", { bookingDate: null, valueDate: "2026-04-01", location: { line: 7 } })];
      expect(resultOf(run({ tally: tallyOf(late) }), "period")).toMatchObject({ status: "failed", actual: "2026-04-01", location: { line: 7 } });
    });

    it("takes the booking date over the value date, and the bounds are inclusive", () => {
      const lines = [line(50_00n, "credit", { bookingDate: "2026-03-01", valueDate: "2026-02-25" }), line(20_00n, "debit", { bookingDate: "2026-03-31", valueDate: "2026-04-02" })];
      expect(resultOf(run({ tally: tallyOf(lines) }), "period").status).toBe("passed");
    });

    it("is skipped without a period or without dated lines", () => {
      expect(resultOf(run({ statement: statement({ periodStart: null }) }), "period").status).toBe("skipped");
      expect(resultOf(run({ tally: tallyOf([line(1n, "credit", { bookingDate: null, valueDate: null })]) }), "period").status).toBe("skipped");
      expect(resultOf(run({ tally: emptyTally() }), "period").status).toBe("skipped");
    });
  });

  describe("controlTotals: every total the file declares = what its records add up to", () => {
    it("fails at the first total that differs, the statement's or the file's", () => {
      const file = [{ scope: "file", declaredMinor: -5_00n, computedMinor: -4_99n, location: { line: 30, record: "99" } }];
      const r = resultOf(run({ statement: statement({ controlTotals: [{ scope: "account", declaredMinor: 1n, computedMinor: 1n, location: { line: 20, record: "49" } }] }), fileControlTotals: file }), "controlTotals");
      expect(r).toMatchObject({ status: "failed", code: "STATEMENT_CONTROL_TOTAL_MISMATCH", expected: "-5.00 EUR", actual: "-4.99 EUR", location: { line: 30, record: "99" } });
    });

    it("is skipped when the file states none", () => {
      expect(resultOf(run(), "controlTotals").status).toBe("skipped");
    });
  });

  describe("checkFailure", () => {
    it("is the first failed check's code with location, expected, actual and every result; later failures are counted in the message", () => {
      const results = run({ statement: statement({ closingBalance: balance(1n), sequenceNumber: "50" }) });
      const error = checkFailure(results, { section: 2 });
      expect(error).toBeInstanceOf(TrueupError);
      expect(error?.code).toBe("STATEMENT_UNBALANCED");
      expect(error?.status).toBe(422);
      expect(error?.message).toMatch(/^statement 3 of the file: line 9, :62F:: .*\(and 1 more failed check: see checks\)$/);
      expect(error?.detail).toMatchObject({ check: "balance", location: { line: 9, record: ":62F:" }, expected: "130.00 EUR", actual: "0.01 EUR", section: 2, checks: results });
    });

    it("is undefined when failed checks are accepted", () => {
      const results = run({ statement: statement({ closingBalance: balance(1n) }) });
      expect(checkFailure(results, { acceptFailedChecks: true })).toBeUndefined();
    });
  });

  describe("properties", () => {
    const side = fc.constantFrom<Side>("credit", "debit");
    const amount = fc.bigInt({ min: 0n, max: 10n ** 25n });
    const date = fc.date({ min: new Date("2026-01-01T00:00:00Z"), max: new Date("2026-12-31T00:00:00Z"), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
    const parsedLine = fc.record({ amountMinor: amount, side, bookingDate: fc.option(date), valueDate: fc.option(date), currency: fc.constantFrom("EUR", "EUR", "EUR", "USD", "DEM") }).map((l) => line(l.amountMinor, l.side, l));
    const asBalance = (signedMinor: bigint) => balance(signedMinor < 0n ? -signedMinor : signedMinor, signedMinor < 0n ? "debit" : "credit");

    it("balance passes exactly when closing = opening + Σ credits − Σ debits, and reports both figures otherwise", () => {
      fc.assert(
        fc.property(fc.array(parsedLine, { maxLength: 40 }), fc.bigInt({ min: -(10n ** 25n), max: 10n ** 25n }), fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), (lines, openingMinor, delta) => {
          const sum = lines.reduce((acc, l) => acc + (l.side === "credit" ? l.amountMinor : -l.amountMinor), openingMinor);
          const s = statement({ openingBalance: asBalance(openingMinor), closingBalance: asBalance(sum + delta) });
          const r = resultOf(run({ statement: s, tally: tallyOf(lines) }), "balance");
          if (delta === 0n) {
            expect(r.status).toBe("passed");
          } else {
            expect(r).toMatchObject({ status: "failed", expected: formatAmount(sum, "EUR"), actual: formatAmount(sum + delta, "EUR") });
          }
        }),
        { numRuns: 1500 },
      );
    });

    it("the tally does not depend on the lines' order", () => {
      fc.assert(
        fc.property(fc.array(parsedLine, { minLength: 1, maxLength: 30 }).chain((lines) => fc.tuple(fc.constant(lines), fc.shuffledSubarray(lines, { minLength: lines.length, maxLength: lines.length }))), ([lines, shuffled]) => {
          const [a, b] = [tallyOf(lines), tallyOf(shuffled)];
          expect([b.lines, b.credits, b.debits, b.creditsMinor, b.debitsMinor, b.earliest?.date, b.latest?.date, [...b.currencies].sort()]).toEqual([a.lines, a.credits, a.debits, a.creditsMinor, a.debitsMinor, a.earliest?.date, a.latest?.date, [...a.currencies].sort()]);
        }),
        { numRuns: 1000 },
      );
    });

    it("whatever the header holds, the checks never throw, and every result fits checkResultSchema", () => {
      // Sized up to their bounds (fast-check keeps strings short by default): the longest texts are the point.
      const text = (lengthMax: number) => fc.option(fc.string({ maxLength: lengthMax, unit: "grapheme", size: "max" }));
      const location = fc.record({ line: fc.integer({ min: 1, max: 10_000_000 }), element: fc.string({ maxLength: 1000, size: "max" }), record: fc.string({ maxLength: 20 }) });
      fc.assert(
        fc.property(
          fc.record({
            iban: text(500),
            accountNumber: text(500),
            sequenceNumber: text(40),
            pageNumber: text(10),
            periodStart: fc.option(date),
            periodEnd: fc.option(date),
            currency: fc.constantFrom("EUR", "JPY", "DEM", "XXX", "QQQ"),
            location,
            scope: fc.string({ maxLength: 300 }),
          }),
          fc.array(parsedLine, { maxLength: 10 }),
          fc.option(fc.record({ sequenceNumber: text(40), periodEnd: fc.option(date), pageNumber: text(10), amountMinor: amount, side })),
          (h, lines, prev) => {
            const s = statement({
              account: { iban: h.iban, accountNumber: h.accountNumber, bankId: null, currency: h.currency, location: h.location },
              currency: h.currency,
              sequenceNumber: h.sequenceNumber,
              pageNumber: h.pageNumber,
              periodStart: h.periodStart,
              periodEnd: h.periodEnd,
              closingBalance: balance(1n, "credit", { currency: h.currency, location: h.location }),
              controlTotals: [{ scope: h.scope, declaredMinor: -(10n ** 29n), computedMinor: 10n ** 29n, location: h.location }],
              location: h.location,
            });
            const previousOne = prev === null ? null : { sequenceNumber: prev.sequenceNumber, periodEnd: prev.periodEnd, pageNumber: prev.pageNumber, closingBalance: { amountMinor: prev.amountMinor.toString(), side: prev.side, currency: "EUR", date: null } };
            const results = run({ statement: s, tally: tallyOf(lines), previous: previousOne, bankAccount: { currency: "EUR", iban: h.iban === null ? null : IBAN, accountNumber: h.accountNumber } });
            expect(results).toHaveLength(STATEMENT_CHECKS.length);
            for (const r of results) expect(checkResultSchema.safeParse(r).error).toBeUndefined();
            const failure = checkFailure(results);
            if (results.some((r) => r.status === "failed")) expect(failure).toBeInstanceOf(TrueupError);
            else expect(failure).toBeUndefined();
          },
        ),
        // Shrinking strings of a thousand characters takes minutes: the first counterexample is reported as found.
        { numRuns: 1000, endOnFailure: true },
      );
    });
  });
});
