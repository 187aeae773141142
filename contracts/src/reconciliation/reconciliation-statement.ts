// The bank reconciliation statement of one bank account for one month: why
// the bank's balance and the books' balance differ at the period end, item
// by item, as the textbook lays it out. Pure: the caller reads the balances
// and the items; this only sorts them into sections and adds them up.
//
// Sign convention: every amount is signed minor units, positive for money
// INTO the bank account. The ledger account is the bank account's asset
// account, so its debit-positive balance uses the same sign.
//
// Rules (all dates are YYYY-MM-DD, compared as text: fixed width, so text
// order is date order). An item is "pending" at the period end when it is
// open, or matched to a counterpart dated after the period end (or to no
// counterpart at all): the other side had not caught up by then.
// - Balance per bank statement = the bank's stated balance at (or before)
//   the period end.
// - Outstanding payments: pending internal items with amount < 0 (cheques
//   written, transfers ordered, not yet through the bank). They are deducted
//   from the bank balance.
// - Deposits in transit: pending internal items with amount > 0 (receipts
//   booked, not yet credited by the bank). They are added to it.
// - Adjusted bank balance = bank + Σ outstanding (negative) + Σ deposits,
//   i.e. bank − |outstanding| + deposits.
// - Balance per books = the ledger account's balance over entries dated on
//   or before the period end.
// - Unrecorded items: pending external items (the bank shows them, the books
//   do not yet): "fees and charges" (amount < 0) and "interest and receipts"
//   (amount > 0). Adjusted book balance = books + Σ unrecorded (signed).
// - Difference = adjusted bank − adjusted book; balanced when it is zero
//   (and never without a bank balance).
// - Ignored and written-off items are not reconciling items: a written-off
//   item's entry is already in the books, an ignored one was explained by a
//   clerk. They are listed under `explained`, in no total.
// - An item matched to a counterpart dated on or before the period end is
//   cleared: on both sides by then, in neither balance's difference. Only
//   counted. So is a pending item of amount zero: it moves no total.
//
// Caller bugs throw RangeError (they are not user errors: the reader built
// the input): an item dated after the period end, more than
// RECONCILIATION_STATEMENT_ITEMS_MAX items, an unknown currency, a malformed
// date or period, an item given twice, an amount out of range.
import { z } from "zod";
import { PERIOD_PATTERN, isCalendarDate } from "../calendar.ts";
import { currencyOf } from "../money/currencies.ts";
import { amountMinorAbsMax, formatDigits } from "../money/money.ts";

// --- limits ---------------------------------------------------------------------

/**
 * Most items one statement takes. At the bound it is built; one more throws
 * RangeError: the reader must page or refuse (a month of a busy account is a
 * few thousand lines; 100,000 sorted lines is still milliseconds and a few
 * megabytes of JSON, the most a clerk's printout can usefully hold).
 */
export const RECONCILIATION_STATEMENT_ITEMS_MAX = 100_000;

/**
 * Largest magnitude of a balance (bank or books), in minor units. A balance
 * is a sum, so it may exceed one amount's amountMinorAbsMax (10^30); 10^40
 * is ten billion amounts at that bound. Beyond it the number is a bug, and
 * refusing it bounds the digits we format.
 */
export const RECONCILIATION_BALANCE_MINOR_ABS_MAX: bigint = 10n ** 40n - 1n;

// --- input ----------------------------------------------------------------------

export const RECONCILIATION_ITEM_STATUSES = ["matched", "open", "ignored", "written-off"] as const;
export type ReconciliationItemStatus = (typeof RECONCILIATION_ITEM_STATUSES)[number];
export type ReconciliationItemSide = "external" | "internal";

export interface ReconciliationItem {
  /** external: a statement line; internal: a ledger line on the account's ledger account. */
  readonly side: ReconciliationItemSide;
  readonly itemId: string;
  readonly date: string;
  /** Signed minor units: positive is money into the bank account. */
  readonly amountMinor: bigint;
  readonly description: string | null;
  readonly status: ReconciliationItemStatus;
  /** For a matched item: the latest date among the other side's items of its match (null when it has none). */
  readonly counterpartDate: string | null;
  readonly matchId: string | null;
}

export interface ReconciliationBankBalance {
  /** Signed minor units: positive is in the holder's favour. */
  readonly amountMinor: bigint;
  readonly date: string;
  /** Where it was stated, e.g. the statement id. */
  readonly source: string;
}

export interface ReconciliationStatementInput {
  readonly bankAccountId: string;
  readonly bankAccountName: string;
  readonly currency: string;
  readonly ledgerId: string;
  readonly ledgerAccount: string;
  /** YYYY-MM. */
  readonly period: string;
  /** The last day of `period`. */
  readonly periodEnd: string;
  /** The bank's stated balance at or before periodEnd, or null when none is known. */
  readonly bankBalance: ReconciliationBankBalance | null;
  /** The ledger account's balance over entries dated <= periodEnd (debit positive). */
  readonly bookBalanceMinor: bigint;
  /** Every item dated <= periodEnd that matters, in any order. */
  readonly items: readonly ReconciliationItem[];
}

// --- output DTO -----------------------------------------------------------------

// One spelling per amount: no leading zeros, no "-0", no "-0.00".
const AMOUNT_PATTERN = /^(?!-0+(?:\.0+)?$)-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$/;
const MINOR_PATTERN = /^(?:0|-?[1-9][0-9]*)$/;
const DATE_PATTERN = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;

const amountDto = z.string().regex(AMOUNT_PATTERN).meta({ description: "Signed decimal amount in the currency's exponent: positive is money into the bank account", example: "-1200.00" });
const minorDto = z.string().regex(MINOR_PATTERN).meta({ description: "The same amount in signed minor units", example: "-120000" });
const dateDto = z.string().regex(DATE_PATTERN).meta({ format: "date", description: "YYYY-MM-DD", example: "2026-01-31" });
const countDto = z.number().int().nonnegative();

const lineFields = {
  itemId: z.string(),
  side: z.enum(["external", "internal"]).meta({ description: "external: a statement line; internal: a ledger line" }),
  date: dateDto,
  description: z.string().nullable(),
  amount: amountDto,
  amountMinor: minorDto,
  matchId: z.string().nullable(),
  counterpartDate: dateDto.nullable().meta({ description: "For a matched item: the latest date of the other side of its match" }),
};

const lineDto = z.strictObject(lineFields).meta({ description: "One reconciling item" });

const sectionDto = z
  .strictObject({ lines: z.array(lineDto), total: amountDto, totalMinor: minorDto, count: countDto })
  .meta({ description: "Lines sorted by date, then itemId; total is the signed sum of the lines" });

const explainedDto = z
  .strictObject({
    lines: z.array(z.strictObject({ ...lineFields, status: z.enum(["ignored", "written-off"]) })),
    count: countDto,
  })
  .meta({ description: "Ignored and written-off items: not reconciling items, in no total; sorted by date, itemId, side" });

export const reconciliationStatementDto = z
  .strictObject({
    bankAccount: z.strictObject({ bankAccountId: z.string(), name: z.string(), currency: z.string(), ledgerId: z.string(), ledgerAccount: z.string() }),
    period: z.string().regex(PERIOD_PATTERN).meta({ description: "YYYY-MM", example: "2026-01" }),
    periodEnd: dateDto,
    bankBalance: z
      .strictObject({ amount: amountDto, amountMinor: minorDto, date: dateDto, source: z.string() })
      .nullable()
      .meta({ description: "The bank's stated balance at or before the period end; null when none is known" }),
    bookBalance: amountDto.meta({ description: "The ledger account's balance at the period end (debit positive)" }),
    bookBalanceMinor: minorDto,
    outstandingPayments: sectionDto.meta({ description: "Payments in the books not yet through the bank: deducted from the bank balance" }),
    depositsInTransit: sectionDto.meta({ description: "Receipts in the books not yet credited by the bank: added to the bank balance" }),
    feesAndCharges: sectionDto.meta({ description: "Debits on the statement not yet in the books (fees, charges): adjust the books" }),
    interestAndReceipts: sectionDto.meta({ description: "Credits on the statement not yet in the books (interest, receipts): adjust the books" }),
    explained: explainedDto,
    adjustedBank: amountDto.nullable().meta({ description: "bank − |outstanding| + deposits; null without a bank balance" }),
    adjustedBankMinor: minorDto.nullable(),
    adjustedBook: amountDto.meta({ description: "books + fees and charges + interest and receipts (signed)" }),
    adjustedBookMinor: minorDto,
    difference: amountDto.nullable().meta({ description: "adjusted bank − adjusted book; null without a bank balance" }),
    differenceMinor: minorDto.nullable(),
    balanced: z.boolean().meta({ description: "The difference is zero (false without a bank balance)" }),
    counts: z
      .strictObject({ items: countDto, cleared: countDto, zeroAmount: countDto })
      .meta({ description: "Items given; matched to a counterpart dated by the period end (in no section); pending with amount zero (in no section)" }),
    problems: z.array(z.string()).meta({ description: "Why the statement cannot be trusted as it stands" }),
  })
  .meta({ description: "A bank reconciliation statement at a period end" });

export type ReconciliationStatementDto = z.infer<typeof reconciliationStatementDto>;
export type ReconciliationStatementLineDto = ReconciliationStatementDto["outstandingPayments"]["lines"][number];
export type ReconciliationStatementSectionDto = ReconciliationStatementDto["outstandingPayments"];

// --- the computation ------------------------------------------------------------

type SectionName = "outstandingPayments" | "depositsInTransit" | "feesAndCharges" | "interestAndReceipts";

/** Where one item goes, by the rules in the opening comment. */
function placeOf(item: ReconciliationItem, periodEnd: string): SectionName | "explained" | "cleared" | "zeroAmount" {
  if (item.status === "ignored" || item.status === "written-off") return "explained";
  const pending = item.status === "open" || item.counterpartDate === null || item.counterpartDate > periodEnd;
  if (!pending) return "cleared";
  if (item.amountMinor === 0n) return "zeroAmount";
  if (item.side === "internal") return item.amountMinor < 0n ? "outstandingPayments" : "depositsInTransit";
  return item.amountMinor < 0n ? "feesAndCharges" : "interestAndReceipts";
}

/** By date, then itemId, then side: a total order over distinct (side, itemId), by code unit, never by locale. */
function compareItems(a: ReconciliationItem, b: ReconciliationItem): number {
  if (a.date !== b.date) return a.date < b.date ? -1 : 1;
  if (a.itemId !== b.itemId) return a.itemId < b.itemId ? -1 : 1;
  if (a.side !== b.side) return a.side < b.side ? -1 : 1;
  return 0;
}

function formatSigned(amountMinor: bigint, exponent: number): string {
  const digits = formatDigits((amountMinor < 0n ? -amountMinor : amountMinor).toString(), exponent);
  return amountMinor < 0n ? `-${digits}` : digits;
}

function lastDayOf(period: string, periodEnd: string): boolean {
  if (!isCalendarDate(periodEnd) || !periodEnd.startsWith(`${period}-`)) return false;
  const nextDay = String(Number(periodEnd.slice(8, 10)) + 1).padStart(2, "0");
  return !isCalendarDate(`${period}-${nextDay}`);
}

function checkAmount(amountMinor: bigint, absMax: bigint, what: string): void {
  if (amountMinor > absMax || amountMinor < -absMax) throw new RangeError(`${what} ${amountMinor.toString()} is outside ±${absMax.toString()} minor units`);
}

/** Refuses what only a caller bug can produce; returns the currency's exponent. */
function checkInput(input: ReconciliationStatementInput): number {
  if (input.items.length > RECONCILIATION_STATEMENT_ITEMS_MAX) {
    throw new RangeError(`a reconciliation statement takes at most ${RECONCILIATION_STATEMENT_ITEMS_MAX} items, got ${input.items.length}`);
  }
  const currency = currencyOf(input.currency);
  if (currency === undefined) throw new RangeError(`unknown ISO 4217 currency ${JSON.stringify(input.currency.slice(0, 16))}`);
  if (!PERIOD_PATTERN.test(input.period)) throw new RangeError(`period must be YYYY-MM, got ${JSON.stringify(input.period.slice(0, 16))}`);
  if (!lastDayOf(input.period, input.periodEnd)) throw new RangeError(`periodEnd ${JSON.stringify(input.periodEnd.slice(0, 16))} is not the last day of ${input.period}`);
  checkAmount(input.bookBalanceMinor, RECONCILIATION_BALANCE_MINOR_ABS_MAX, "the book balance");
  const balance = input.bankBalance;
  if (balance !== null) {
    checkAmount(balance.amountMinor, RECONCILIATION_BALANCE_MINOR_ABS_MAX, "the bank balance");
    if (!isCalendarDate(balance.date) || balance.date > input.periodEnd) {
      throw new RangeError(`the bank balance's date ${JSON.stringify(balance.date.slice(0, 16))} is not a date on or before ${input.periodEnd}`);
    }
  }
  return currency.exponent;
}

function checkItem(item: ReconciliationItem, periodEnd: string, seen: Set<string>): void {
  const name = `${item.side} item ${JSON.stringify(item.itemId.slice(0, 200))}`;
  if (!isCalendarDate(item.date)) throw new RangeError(`${name} has a malformed date ${JSON.stringify(item.date.slice(0, 16))}`);
  if (item.date > periodEnd) throw new RangeError(`${name} is dated ${item.date}, after the period end ${periodEnd}`);
  if (item.counterpartDate !== null && !isCalendarDate(item.counterpartDate)) throw new RangeError(`${name} has a malformed counterpartDate`);
  if (item.status === "matched" && item.matchId === null) throw new RangeError(`${name} is matched but has no matchId`);
  checkAmount(item.amountMinor, amountMinorAbsMax, `${name}'s amount`);
  // NUL cannot occur in an id that any store holds, so the key is unambiguous.
  const key = `${item.side}\u0000${item.itemId}`;
  if (seen.has(key)) throw new RangeError(`${name} is given twice`);
  seen.add(key);
}

type Placed = Record<SectionName | "explained", ReconciliationItem[]> & { cleared: number; zeroAmount: number };

function placeItems(input: ReconciliationStatementInput): Placed {
  const placed: Placed = { outstandingPayments: [], depositsInTransit: [], feesAndCharges: [], interestAndReceipts: [], explained: [], cleared: 0, zeroAmount: 0 };
  const seen = new Set<string>();
  for (const item of input.items) {
    checkItem(item, input.periodEnd, seen);
    const place = placeOf(item, input.periodEnd);
    if (place === "cleared" || place === "zeroAmount") placed[place]++;
    else placed[place].push(item);
  }
  const listed = placed.outstandingPayments.length + placed.depositsInTransit.length + placed.feesAndCharges.length + placed.interestAndReceipts.length + placed.explained.length;
  // Invariant: every item is in exactly one place.
  if (listed + placed.cleared + placed.zeroAmount !== input.items.length) throw new Error("reconciliation statement: an item was lost or placed twice");
  return placed;
}

function lineOf(item: ReconciliationItem, exponent: number): ReconciliationStatementLineDto {
  return {
    itemId: item.itemId,
    side: item.side,
    date: item.date,
    description: item.description,
    amount: formatSigned(item.amountMinor, exponent),
    amountMinor: item.amountMinor.toString(),
    matchId: item.matchId,
    counterpartDate: item.counterpartDate,
  };
}

function sectionOf(items: ReconciliationItem[], exponent: number): { dto: ReconciliationStatementSectionDto; totalMinor: bigint } {
  items.sort(compareItems);
  let totalMinor = 0n;
  for (const item of items) totalMinor += item.amountMinor;
  const dto = { lines: items.map((item) => lineOf(item, exponent)), total: formatSigned(totalMinor, exponent), totalMinor: totalMinor.toString(), count: items.length };
  return { dto, totalMinor };
}

function explainedOf(items: ReconciliationItem[], exponent: number): ReconciliationStatementDto["explained"] {
  items.sort(compareItems);
  const lines = items.map((item) => {
    // placeOf put only these two statuses here; the check narrows the type.
    if (item.status !== "ignored" && item.status !== "written-off") throw new Error(`reconciliation statement: ${item.status} item under explained`);
    return { ...lineOf(item, exponent), status: item.status };
  });
  return { lines, count: lines.length };
}

/**
 * The reconciliation statement of `input` (rules in the file's opening
 * comment), as JSON-ready data that reconciliationStatementDto accepts. The
 * same items in any order give the same statement. Throws RangeError on a
 * caller bug (see the opening comment).
 */
export function buildReconciliationStatement(input: ReconciliationStatementInput): ReconciliationStatementDto {
  const exponent = checkInput(input);
  const placed = placeItems(input);
  const outstanding = sectionOf(placed.outstandingPayments, exponent);
  const deposits = sectionOf(placed.depositsInTransit, exponent);
  const fees = sectionOf(placed.feesAndCharges, exponent);
  const interest = sectionOf(placed.interestAndReceipts, exponent);
  const adjustedBookMinor = input.bookBalanceMinor + fees.totalMinor + interest.totalMinor;
  const bank = input.bankBalance;
  const adjustedBankMinor = bank === null ? null : bank.amountMinor + outstanding.totalMinor + deposits.totalMinor;
  const differenceMinor = adjustedBankMinor === null ? null : adjustedBankMinor - adjustedBookMinor;
  const format = (minor: bigint | null): string | null => (minor === null ? null : formatSigned(minor, exponent));
  return {
    bankAccount: { bankAccountId: input.bankAccountId, name: input.bankAccountName, currency: input.currency, ledgerId: input.ledgerId, ledgerAccount: input.ledgerAccount },
    period: input.period,
    periodEnd: input.periodEnd,
    bankBalance: bank === null ? null : { amount: formatSigned(bank.amountMinor, exponent), amountMinor: bank.amountMinor.toString(), date: bank.date, source: bank.source },
    bookBalance: formatSigned(input.bookBalanceMinor, exponent),
    bookBalanceMinor: input.bookBalanceMinor.toString(),
    outstandingPayments: outstanding.dto,
    depositsInTransit: deposits.dto,
    feesAndCharges: fees.dto,
    interestAndReceipts: interest.dto,
    explained: explainedOf(placed.explained, exponent),
    adjustedBank: format(adjustedBankMinor),
    adjustedBankMinor: adjustedBankMinor?.toString() ?? null,
    adjustedBook: formatSigned(adjustedBookMinor, exponent),
    adjustedBookMinor: adjustedBookMinor.toString(),
    difference: format(differenceMinor),
    differenceMinor: differenceMinor?.toString() ?? null,
    balanced: differenceMinor === 0n,
    counts: { items: input.items.length, cleared: placed.cleared, zeroAmount: placed.zeroAmount },
    problems: problemsOf(input),
  };
}

/**
 * What makes the statement untrustworthy as it stands. A bank balance dated
 * before the period end (the last business day) is fine unless statement
 * lines fall after it: those are in the sections or cleared, yet not in the
 * balance, so the difference would blame the books for the bank's timing.
 */
function problemsOf(input: ReconciliationStatementInput): string[] {
  const bank = input.bankBalance;
  if (bank === null) return [`no bank balance is known at the period end ${input.periodEnd}: the bank side cannot be reconciled`];
  let after = 0;
  for (const item of input.items) if (item.side === "external" && item.date > bank.date) after++;
  if (after === 0) return [];
  return [`the bank balance is as at ${bank.date}, before the period end ${input.periodEnd}: ${after} statement line(s) dated after it are not in it`];
}
