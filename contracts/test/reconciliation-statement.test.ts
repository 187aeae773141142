// Proves the bank reconciliation statement follows the textbook rules and
// nothing else:
// - a worked example, checked by hand, balances to the minor unit, and a
//   non-zero difference is reported exactly (either sign, one minor unit);
// - each item lands where the rules say (pending = open, or matched to a
//   counterpart after the period end or to none; cleared when the
//   counterpart is on or before it), ignored and written-off items only
//   under `explained` and in no total;
// - amounts are exact bigint arithmetic past 2^64, formatted in the
//   currency's exponent (JPY 0, BHD 3), and "-0" never appears;
// - for random inputs (property): every item is in exactly one place, each
//   total is the sum of its lines, the adjusted balances and the difference
//   follow from the totals, lines are sorted, the output passes the DTO
//   schema, and any order of the same items gives byte-identical JSON;
// - caller bugs throw RangeError: an item after the period end, one item
//   over RECONCILIATION_STATEMENT_ITEMS_MAX (the bound itself is fine), an
//   unknown currency, a malformed period end, an item given twice;
// - a missing bank balance gives a statement that says so and never balances.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  RECONCILIATION_BALANCE_MINOR_ABS_MAX,
  RECONCILIATION_STATEMENT_ITEMS_MAX,
  buildReconciliationStatement,
  reconciliationStatementDto,
} from "../src/reconciliation/reconciliation-statement.ts";
import type { ReconciliationItem, ReconciliationStatementDto, ReconciliationStatementInput } from "../src/reconciliation/reconciliation-statement.ts";

const PERIOD_END = "2026-01-31";

function item(overrides: Partial<ReconciliationItem> & Pick<ReconciliationItem, "itemId" | "amountMinor">): ReconciliationItem {
  return { side: "internal", date: "2026-01-15", description: null, status: "open", counterpartDate: null, matchId: null, ...overrides };
}

function input(overrides: Partial<ReconciliationStatementInput> = {}): ReconciliationStatementInput {
  return {
    bankAccountId: "acme-eur-main",
    bankAccountName: "Acme main EUR",
    currency: "EUR",
    ledgerId: "acme",
    ledgerAccount: "1020",
    period: "2026-01",
    periodEnd: PERIOD_END,
    bankBalance: { amountMinor: 1_000_000n, date: PERIOD_END, source: "stmt-2026-01" },
    bookBalanceMinor: 0n,
    items: [],
    ...overrides,
  };
}

/** Builds, and checks what every statement must satisfy: the DTO schema accepts it unchanged. */
function build(i: ReconciliationStatementInput): ReconciliationStatementDto {
  const dto = buildReconciliationStatement(i);
  expect(reconciliationStatementDto.parse(dto)).toEqual(dto);
  return dto;
}

// The worked example.
//   Balance per bank statement                       10,000.00
//   Less outstanding payments: cheque 1001           (1,200.00)
//   Add deposits in transit: receipt (bank 02-02)        500.00
//   Adjusted bank balance   10,000.00 − 1,200.00 + 500.00 = 9,300.00
//
//   Balance per books                                 9,311.80
//   Fees and charges: bank fee                           (15.00)
//   Interest and receipts: interest                        3.20
//   Adjusted book balance   9,311.80 − 15.00 + 3.20  = 9,300.00
//
//   Difference              9,300.00 − 9,300.00      =     0.00
// Plus a cleared pair (−250.00 on both sides, matched within January):
// already in both balances, so in no section.
const WORKED_ITEMS: readonly ReconciliationItem[] = [
  item({ itemId: "e-1001:0", amountMinor: -120_000n, date: "2026-01-20", description: "Cheque 1001" }),
  item({ itemId: "e-1002:0", amountMinor: 50_000n, date: "2026-01-30", description: "Receipt INV-7", status: "matched", matchId: "m-2", counterpartDate: "2026-02-02" }),
  item({ itemId: "s-31-1", side: "external", amountMinor: -1_500n, date: "2026-01-31", description: "Account fee" }),
  item({ itemId: "s-31-2", side: "external", amountMinor: 320n, date: "2026-01-31", description: "Interest" }),
  item({ itemId: "s-10-1", side: "external", amountMinor: -25_000n, date: "2026-01-10", status: "matched", matchId: "m-1", counterpartDate: "2026-01-09" }),
  item({ itemId: "e-0990:0", amountMinor: -25_000n, date: "2026-01-09", status: "matched", matchId: "m-1", counterpartDate: "2026-01-10" }),
];

describe("the worked example", () => {
  const dto = build(input({ bookBalanceMinor: 931_180n, items: WORKED_ITEMS }));

  it("has every total and balances", () => {
    expect(dto.bankBalance).toEqual({ amount: "10000.00", amountMinor: "1000000", date: PERIOD_END, source: "stmt-2026-01" });
    expect(dto.outstandingPayments).toMatchObject({ total: "-1200.00", totalMinor: "-120000", count: 1 });
    expect(dto.depositsInTransit).toMatchObject({ total: "500.00", totalMinor: "50000", count: 1 });
    expect([dto.adjustedBank, dto.adjustedBankMinor]).toEqual(["9300.00", "930000"]);
    expect([dto.bookBalance, dto.bookBalanceMinor]).toEqual(["9311.80", "931180"]);
    expect(dto.feesAndCharges).toMatchObject({ total: "-15.00", totalMinor: "-1500", count: 1 });
    expect(dto.interestAndReceipts).toMatchObject({ total: "3.20", totalMinor: "320", count: 1 });
    expect([dto.adjustedBook, dto.adjustedBookMinor]).toEqual(["9300.00", "930000"]);
    expect([dto.difference, dto.differenceMinor]).toEqual(["0.00", "0"]);
    expect(dto.balanced).toBe(true);
    expect(dto.problems).toEqual([]);
    expect(dto.explained).toEqual({ lines: [], count: 0 });
    expect(dto.counts).toEqual({ items: 6, cleared: 2, zeroAmount: 0 });
  });

  it("lists each line with its facts", () => {
    expect(dto.outstandingPayments.lines).toEqual([
      { itemId: "e-1001:0", side: "internal", date: "2026-01-20", description: "Cheque 1001", amount: "-1200.00", amountMinor: "-120000", matchId: null, counterpartDate: null },
    ]);
    expect(dto.depositsInTransit.lines).toEqual([
      { itemId: "e-1002:0", side: "internal", date: "2026-01-30", description: "Receipt INV-7", amount: "500.00", amountMinor: "50000", matchId: "m-2", counterpartDate: "2026-02-02" },
    ]);
    expect(dto.bankAccount).toEqual({ bankAccountId: "acme-eur-main", name: "Acme main EUR", currency: "EUR", ledgerId: "acme", ledgerAccount: "1020" });
    expect([dto.period, dto.periodEnd]).toEqual(["2026-01", PERIOD_END]);
  });
});

describe("a non-zero difference", () => {
  it("is reported exactly, to one minor unit, with its sign", () => {
    // Books one cent short: adjusted book 9,299.99, difference +0.01.
    const short = build(input({ bookBalanceMinor: 931_179n, items: WORKED_ITEMS }));
    expect([short.adjustedBook, short.difference, short.differenceMinor, short.balanced]).toEqual(["9299.99", "0.01", "1", false]);
    // Books 1.00 over: adjusted book 9,301.00, difference −1.00.
    const over = build(input({ bookBalanceMinor: 931_280n, items: WORKED_ITEMS }));
    expect([over.adjustedBook, over.difference, over.differenceMinor, over.balanced]).toEqual(["9301.00", "-1.00", "-100", false]);
  });

  it("is a small negative amount with a leading zero", () => {
    const dto = build(input({ bankBalance: { amountMinor: 0n, date: PERIOD_END, source: "s" }, bookBalanceMinor: 5n }));
    expect([dto.difference, dto.differenceMinor]).toEqual(["-0.05", "-5"]);
  });
});

describe("where each item goes", () => {
  it("puts ignored and written-off items only under explained, in no total", () => {
    const extra = [
      item({ itemId: "s-ign", side: "external", amountMinor: -999n, date: "2026-01-05", status: "ignored", description: "Duplicate notice" }),
      item({ itemId: "e-wo:0", amountMinor: 700n, date: "2026-01-05", status: "written-off", matchId: "m-9", counterpartDate: "2026-02-10" }),
      item({ itemId: "s-wo", side: "external", amountMinor: 1n, date: "2026-01-04", status: "written-off", matchId: "m-8", counterpartDate: null }),
    ];
    const without = build(input({ bookBalanceMinor: 931_180n, items: WORKED_ITEMS }));
    const withThem = build(input({ bookBalanceMinor: 931_180n, items: [...extra, ...WORKED_ITEMS] }));
    expect(withThem.explained.count).toBe(3);
    expect(withThem.explained.lines.map((l) => [l.itemId, l.side, l.status, l.amount])).toEqual([
      ["s-wo", "external", "written-off", "0.01"],
      ["e-wo:0", "internal", "written-off", "7.00"],
      ["s-ign", "external", "ignored", "-9.99"],
    ]);
    const sections = [withThem.outstandingPayments, withThem.depositsInTransit, withThem.feesAndCharges, withThem.interestAndReceipts];
    const sectionIds = sections.flatMap((s) => s.lines.map((l) => l.itemId));
    for (const e of extra) expect(sectionIds).not.toContain(e.itemId);
    // Everything but the explained list and the item count is as without them.
    expect({ ...withThem, explained: null, counts: null }).toEqual({ ...without, explained: null, counts: null });
    expect(withThem.balanced).toBe(true);
  });

  it("clears a match whose counterpart is on or before the period end, and keeps one after it or with none", () => {
    const dto = build(
      input({
        bankBalance: { amountMinor: 0n, date: PERIOD_END, source: "s" },
        items: [
          item({ itemId: "on-end", amountMinor: -100n, status: "matched", matchId: "m-1", counterpartDate: PERIOD_END }),
          item({ itemId: "after-end", amountMinor: -200n, status: "matched", matchId: "m-2", counterpartDate: "2026-02-01" }),
          item({ itemId: "no-counterpart", amountMinor: -300n, status: "matched", matchId: "m-3", counterpartDate: null }),
          item({ itemId: "x-after", side: "external", amountMinor: 400n, status: "matched", matchId: "m-4", counterpartDate: "2026-02-01" }),
          item({ itemId: "x-on-end", side: "external", amountMinor: 500n, status: "matched", matchId: "m-5", counterpartDate: PERIOD_END }),
          // Open means pending, whatever a stale counterpartDate says.
          item({ itemId: "open-dated", amountMinor: 600n, status: "open", counterpartDate: "2026-01-02" }),
        ],
      }),
    );
    expect(dto.outstandingPayments.lines.map((l) => l.itemId)).toEqual(["after-end", "no-counterpart"]);
    expect(dto.depositsInTransit.lines.map((l) => l.itemId)).toEqual(["open-dated"]);
    expect(dto.interestAndReceipts.lines.map((l) => l.itemId)).toEqual(["x-after"]);
    expect(dto.feesAndCharges.count).toBe(0);
    expect(dto.counts).toEqual({ items: 6, cleared: 2, zeroAmount: 0 });
  });

  it("counts a pending zero-amount item and puts it in no section", () => {
    const dto = build(input({ items: [item({ itemId: "z1", amountMinor: 0n }), item({ itemId: "z2", side: "external", amountMinor: 0n })] }));
    expect(dto.counts.zeroAmount).toBe(2);
    expect([dto.outstandingPayments, dto.depositsInTransit, dto.feesAndCharges, dto.interestAndReceipts].map((s) => s.count)).toEqual([0, 0, 0, 0]);
  });

  it("sorts lines by date, then itemId by code unit (not locale)", () => {
    const dto = build(
      input({
        items: [
          item({ itemId: "b", amountMinor: -1n, date: "2026-01-02" }),
          item({ itemId: "a", amountMinor: -1n, date: "2026-01-03" }),
          item({ itemId: "Z", amountMinor: -1n, date: "2026-01-02" }),
          item({ itemId: "10", amountMinor: -1n, date: "2026-01-02" }),
          item({ itemId: "9", amountMinor: -1n, date: "2026-01-02" }),
        ],
      }),
    );
    expect(dto.outstandingPayments.lines.map((l) => l.itemId)).toEqual(["10", "9", "Z", "b", "a"]);
  });
});

describe("amounts", () => {
  it("stay exact beyond 2^64", () => {
    const big = 2n ** 70n + 1n; // 1180591620717411303425
    const dto = build(
      input({
        bankBalance: { amountMinor: 3n * big, date: PERIOD_END, source: "s" },
        bookBalanceMinor: 0n,
        items: [item({ itemId: "a", amountMinor: big }), item({ itemId: "b", amountMinor: big, date: "2026-01-16" }), item({ itemId: "c", side: "external", amountMinor: -big })],
      }),
    );
    expect(dto.depositsInTransit.totalMinor).toBe((2n * big).toString());
    expect(dto.depositsInTransit.total).toBe("23611832414348226068.50");
    expect(dto.feesAndCharges.lines[0]?.amount).toBe("-11805916207174113034.25");
    expect(dto.adjustedBankMinor).toBe((5n * big).toString());
    expect(dto.adjustedBookMinor).toBe((-big).toString());
    expect(dto.differenceMinor).toBe((6n * big).toString());
    expect(dto.difference).toBe("70835497243044678205.50");
  });

  it("take the balance bound and refuse one past it", () => {
    const max = RECONCILIATION_BALANCE_MINOR_ABS_MAX;
    expect(build(input({ bookBalanceMinor: -max })).bookBalanceMinor).toBe((-max).toString());
    expect(() => buildReconciliationStatement(input({ bookBalanceMinor: max + 1n }))).toThrow(RangeError);
    expect(() => buildReconciliationStatement(input({ items: [item({ itemId: "x", amountMinor: 10n ** 30n })] }))).toThrow(RangeError);
  });

  it("format in a 0-exponent currency (JPY)", () => {
    const dto = build(input({ currency: "JPY", bankBalance: { amountMinor: 10_000n, date: PERIOD_END, source: "s" }, bookBalanceMinor: 8_815n, items: [item({ itemId: "c", amountMinor: -1_200n }), item({ itemId: "f", side: "external", amountMinor: -15n })] }));
    expect([dto.bankBalance?.amount, dto.outstandingPayments.total, dto.feesAndCharges.total, dto.adjustedBank, dto.adjustedBook, dto.difference]).toEqual(["10000", "-1200", "-15", "8800", "8800", "0"]);
    expect(dto.balanced).toBe(true);
  });

  it("format in a 3-exponent currency (BHD)", () => {
    const dto = build(input({ currency: "BHD", bankBalance: { amountMinor: 1_200n, date: PERIOD_END, source: "s" }, bookBalanceMinor: 1_205n, items: [item({ itemId: "f", side: "external", amountMinor: -5n })] }));
    expect([dto.bankBalance?.amount, dto.bookBalance, dto.feesAndCharges.total, dto.adjustedBook, dto.difference]).toEqual(["1.200", "1.205", "-0.005", "1.200", "0.000"]);
  });

  it("never show a negative zero", () => {
    // Empty sections, and a zero difference between two negative balances (−5.07 − −5.07).
    const dto = build(
      input({
        bankBalance: { amountMinor: -507n, date: PERIOD_END, source: "s" },
        bookBalanceMinor: -500n,
        items: [item({ itemId: "s1", side: "external", amountMinor: -7n }), item({ itemId: "s2", side: "external", amountMinor: 7n, status: "ignored" })],
      }),
    );
    const json = JSON.stringify(dto);
    expect(json).not.toMatch(/"-0(\.0+)?"/);
    expect(dto.outstandingPayments.total).toBe("0.00");
    expect([dto.adjustedBank, dto.adjustedBook, dto.difference, dto.differenceMinor, dto.balanced]).toEqual(["-5.07", "-5.07", "0.00", "0", true]);
  });

  it("the schema refuses a negative zero and leading zeros", () => {
    const dto = build(input());
    for (const bad of ["-0.00", "-0", "00.10", "1.", "+1.00", "1e3"]) {
      expect(reconciliationStatementDto.safeParse({ ...dto, bookBalance: bad }).success, bad).toBe(false);
    }
    expect(reconciliationStatementDto.safeParse({ ...dto, bookBalanceMinor: "-0" }).success).toBe(false);
    expect(reconciliationStatementDto.safeParse({ ...dto, leaked: 1 }).success).toBe(false);
  });
});

describe("caller bugs throw RangeError", () => {
  it("an item dated after the period end (the period end itself is fine)", () => {
    expect(build(input({ items: [item({ itemId: "x", amountMinor: -1n, date: PERIOD_END })] })).outstandingPayments.count).toBe(1);
    expect(() => buildReconciliationStatement(input({ items: [item({ itemId: "x", amountMinor: -1n, date: "2026-02-01" })] }))).toThrow(RangeError);
    expect(() => buildReconciliationStatement(input({ items: [item({ itemId: "x", amountMinor: 0n, status: "ignored", date: "2027-01-01" })] }))).toThrow(/after the period end/);
  });

  it("one item over the limit; the limit itself is fine", () => {
    const items = Array.from({ length: RECONCILIATION_STATEMENT_ITEMS_MAX }, (_, n) => item({ itemId: `i-${n}`, amountMinor: -1n }));
    const dto = buildReconciliationStatement(input({ items }));
    expect(dto.outstandingPayments.count).toBe(RECONCILIATION_STATEMENT_ITEMS_MAX);
    expect(dto.outstandingPayments.totalMinor).toBe(String(-RECONCILIATION_STATEMENT_ITEMS_MAX));
    expect(() => buildReconciliationStatement(input({ items: [...items, item({ itemId: "one-more", amountMinor: -1n })] }))).toThrow(RangeError);
  });

  it("an unknown currency, lower case included", () => {
    for (const currency of ["XXX", "eur", "", "DEM"]) expect(() => buildReconciliationStatement(input({ currency })), currency).toThrow(RangeError);
  });

  it("a malformed period or period end", () => {
    expect(() => buildReconciliationStatement(input({ periodEnd: "2026-01-30" }))).toThrow(RangeError);
    expect(() => buildReconciliationStatement(input({ period: "2026-13", periodEnd: "2026-13-31" }))).toThrow(RangeError);
    expect(() => buildReconciliationStatement(input({ period: "2024-02", periodEnd: "2024-02-28" }))).toThrow(RangeError);
    expect(build(input({ period: "2024-02", periodEnd: "2024-02-29", bankBalance: null })).periodEnd).toBe("2024-02-29");
    expect(() => buildReconciliationStatement(input({ period: "2026-02", periodEnd: "2026-02-29" }))).toThrow(RangeError);
  });

  it("a malformed item or bank balance", () => {
    const bad: readonly Partial<ReconciliationStatementInput>[] = [
      { items: [item({ itemId: "x", amountMinor: 1n, date: "2026-01-32" })] },
      { items: [item({ itemId: "x", amountMinor: 1n, date: "2026-1-5" })] },
      { items: [item({ itemId: "x", amountMinor: 1n, status: "matched", matchId: null, counterpartDate: "2026-01-02" })] },
      { items: [item({ itemId: "x", amountMinor: 1n, status: "matched", matchId: "m", counterpartDate: "soon" })] },
      { items: [item({ itemId: "x", amountMinor: 1n }), item({ itemId: "x", amountMinor: 2n, date: "2026-01-02" })] },
      { bankBalance: { amountMinor: 0n, date: "2026-02-01", source: "s" } },
    ];
    for (const overrides of bad) expect(() => buildReconciliationStatement(input(overrides)), JSON.stringify(overrides, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v))).toThrow(RangeError);
    // The same id on both sides is two items, not a duplicate.
    expect(build(input({ items: [item({ itemId: "x", amountMinor: 1n }), item({ itemId: "x", side: "external", amountMinor: 1n })] })).counts.items).toBe(2);
  });
});

describe("without a bank balance", () => {
  it("says so, keeps the book side, and never balances", () => {
    // Even books that would balance with any bank figure: nothing to compare with.
    const dto = build(input({ bankBalance: null, bookBalanceMinor: 0n, items: WORKED_ITEMS }));
    expect(dto.bankBalance).toBeNull();
    expect([dto.adjustedBank, dto.adjustedBankMinor, dto.difference, dto.differenceMinor]).toEqual([null, null, null, null]);
    expect(dto.balanced).toBe(false);
    expect(dto.problems).toEqual([`no bank balance is known at the period end ${PERIOD_END}: the bank side cannot be reconciled`]);
    expect(dto.adjustedBook).toBe("-11.80");
    expect(dto.outstandingPayments.count).toBe(1);
  });
});

describe("a bank balance dated before the period end", () => {
  it("is a problem only when statement lines fall after it", () => {
    const bankBalance = { amountMinor: 1_000_000n, date: "2026-01-30", source: "stmt" };
    expect(build(input({ bankBalance, bookBalanceMinor: 931_180n, items: WORKED_ITEMS.filter((i) => i.date <= "2026-01-30") })).problems).toEqual([]);
    const dto = build(input({ bankBalance, bookBalanceMinor: 931_180n, items: WORKED_ITEMS }));
    expect(dto.problems).toEqual([`the bank balance is as at 2026-01-30, before the period end ${PERIOD_END}: 2 statement line(s) dated after it are not in it`]);
  });
});

// --- properties -------------------------------------------------------------------

const dateArb = fc.integer({ min: 1, max: 31 }).map((d) => `2026-01-${String(d).padStart(2, "0")}`);
const itemArb: fc.Arbitrary<ReconciliationItem> = fc.record({
  side: fc.constantFrom("external" as const, "internal" as const),
  itemId: fc.constantFrom("a", "b", "B", "10", "9", "x:0", "é", "a b"),
  date: dateArb,
  amountMinor: fc.oneof(fc.bigInt({ min: -1_000n, max: 1_000n }), fc.bigInt({ min: -(2n ** 90n), max: 2n ** 90n })),
  description: fc.option(fc.string(), { nil: null }),
  status: fc.constantFrom("matched" as const, "open" as const, "ignored" as const, "written-off" as const),
  counterpartDate: fc.option(fc.oneof(dateArb, fc.constantFrom("2026-02-01", "2026-03-15")), { nil: null }),
  matchId: fc.constantFrom("m-1", "m-2"),
});
// Distinct (side, itemId): the function refuses duplicates.
const itemsArb = fc.uniqueArray(itemArb, { selector: (i) => `${i.side}/${i.itemId}`, maxLength: 16 });
const currencyArb = fc.constantFrom({ code: "EUR", exponent: 2 }, { code: "JPY", exponent: 0 }, { code: "BHD", exponent: 3 }, { code: "CLF", exponent: 4 });
const balanceArb = fc.bigInt({ min: -(2n ** 100n), max: 2n ** 100n });

/** Independent oracle for a canonical signed amount. */
function canonical(amountMinor: bigint, exponent: number): string {
  const sign = amountMinor < 0n ? "-" : "";
  const digits = (amountMinor < 0n ? -amountMinor : amountMinor).toString();
  if (exponent === 0) return sign + digits;
  const padded = "0".repeat(Math.max(0, exponent + 1 - digits.length)) + digits;
  return `${sign}${padded.slice(0, -exponent)}.${padded.slice(-exponent)}`;
}

function shuffled<T>(list: readonly T[], seed: number): T[] {
  const out = [...list];
  let state = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe("for any items (property)", () => {
  it("places every item once, adds up, sorts, formats canonically and passes the schema", () => {
    fc.assert(
      fc.property(itemsArb, currencyArb, fc.option(balanceArb, { nil: null }), balanceArb, (items, currency, bank, book) => {
        const dto = build(input({ currency: currency.code, items, bookBalanceMinor: book, bankBalance: bank === null ? null : { amountMinor: bank, date: PERIOD_END, source: "s" } }));
        const sections = { outstandingPayments: dto.outstandingPayments, depositsInTransit: dto.depositsInTransit, feesAndCharges: dto.feesAndCharges, interestAndReceipts: dto.interestAndReceipts };
        const totals: Record<string, bigint> = {};
        for (const [name, section] of Object.entries(sections)) {
          let total = 0n;
          for (const line of section.lines) {
            total += BigInt(line.amountMinor);
            expect(line.amount).toBe(canonical(BigInt(line.amountMinor), currency.exponent));
          }
          expect(section.totalMinor).toBe(total.toString());
          expect(section.total).toBe(canonical(total, currency.exponent));
          expect(section.count).toBe(section.lines.length);
          const keys = section.lines.map((l) => [l.date, l.itemId]);
          expect(keys).toEqual([...keys].sort((a, b) => (a.join("\u0000") < b.join("\u0000") ? -1 : 1)));
          totals[name] = total;
        }
        // Each section holds only what its rule admits.
        for (const l of dto.outstandingPayments.lines) expect(l.side === "internal" && BigInt(l.amountMinor) < 0n).toBe(true);
        for (const l of dto.depositsInTransit.lines) expect(l.side === "internal" && BigInt(l.amountMinor) > 0n).toBe(true);
        for (const l of dto.feesAndCharges.lines) expect(l.side === "external" && BigInt(l.amountMinor) < 0n).toBe(true);
        for (const l of dto.interestAndReceipts.lines) expect(l.side === "external" && BigInt(l.amountMinor) > 0n).toBe(true);
        // Every item in exactly one place, and the right one.
        const listed = [...Object.values(sections).flatMap((s) => s.lines), ...dto.explained.lines].map((l) => `${l.side}/${l.itemId}`);
        expect(new Set(listed).size).toBe(listed.length);
        expect(listed.length + dto.counts.cleared + dto.counts.zeroAmount).toBe(items.length);
        for (const i of items) {
          const explained = i.status === "ignored" || i.status === "written-off";
          const pending = i.status === "open" || i.counterpartDate === null || i.counterpartDate > PERIOD_END;
          expect(listed.includes(`${i.side}/${i.itemId}`)).toBe(explained || (pending && i.amountMinor !== 0n));
        }
        // The balances follow from the totals.
        const adjustedBook = book + (totals.feesAndCharges ?? 0n) + (totals.interestAndReceipts ?? 0n);
        expect(dto.adjustedBookMinor).toBe(adjustedBook.toString());
        if (bank === null) {
          expect([dto.adjustedBankMinor, dto.differenceMinor, dto.balanced]).toEqual([null, null, false]);
        } else {
          const adjustedBank = bank + (totals.outstandingPayments ?? 0n) + (totals.depositsInTransit ?? 0n);
          expect(dto.adjustedBankMinor).toBe(adjustedBank.toString());
          expect(dto.differenceMinor).toBe((adjustedBank - adjustedBook).toString());
          expect(dto.difference).toBe(canonical(adjustedBank - adjustedBook, currency.exponent));
          expect(dto.balanced).toBe(adjustedBank === adjustedBook);
        }
        expect(JSON.stringify(dto)).not.toMatch(/"-0(\.0+)?"/);
      }),
      { numRuns: 300 },
    );
  });

  it("gives byte-identical JSON for the same items in any order", () => {
    fc.assert(
      fc.property(itemsArb, fc.integer(), (items, seed) => {
        const a = JSON.stringify(buildReconciliationStatement(input({ items })));
        const b = JSON.stringify(buildReconciliationStatement(input({ items: shuffled(items, seed) })));
        const c = JSON.stringify(buildReconciliationStatement(input({ items: [...items].reverse() })));
        expect(b).toBe(a);
        expect(c).toBe(a);
      }),
      { numRuns: 300 },
    );
  });

  it("does not reorder or change its input", () => {
    const items = shuffled(WORKED_ITEMS, 7);
    const before = [...items];
    buildReconciliationStatement(input({ items }));
    expect(items).toEqual(before);
  });
});
