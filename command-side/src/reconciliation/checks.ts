// The statement checks: does a parsed statement add up, follow its
// predecessor, and belong to this bank account? Pure: the import pipeline
// tallies the lines as they stream by (tallyLine: O(1) each, nothing kept
// but sums, dates and the currencies seen), then asks checkStatement for one
// result per STATEMENT_CHECKS entry. A failed check rejects the statement
// whole (checkFailure: the first failure as a TrueupError, every result
// beside it) unless the caller accepts failed checks; then the results are
// recorded on the statement. Money is bigint minor units throughout; the
// results carry it as decimal strings with the currency ("-12.50 EUR": a
// minus for a debit balance), ready for JSON.
import { STATEMENT_CHECKS, TrueupError, bankAccountIdentifiers, formatDigits, normaliseAccountNumber, normaliseIban, statementCurrencyOf } from "@trueup/contracts";
import type { BalanceData, CheckResult, ErrorCode, ParsedBalance, ParsedControlTotal, ParsedLine, ParsedStatement, SourceLocation, StatementCheckName, StatementFormat } from "@trueup/contracts";

/** The code each check fails with. */
export const CHECK_CODES: Readonly<Record<StatementCheckName, ErrorCode>> = {
  balance: "STATEMENT_UNBALANCED",
  continuity: "STATEMENT_DISCONTINUOUS",
  sequence: "STATEMENT_SEQUENCE_GAP",
  currency: "STATEMENT_CURRENCY_MISMATCH",
  account: "STATEMENT_ACCOUNT_MISMATCH",
  period: "STATEMENT_LINE_OUTSIDE_PERIOD",
  controlTotals: "STATEMENT_CONTROL_TOTAL_MISMATCH",
};

/**
 * Intraday reports and notifications (camt.052, camt.054, MT942) show a day
 * in progress: their balances are interim and their numbering is their own.
 * They neither follow nor precede day-end statements in the chain of
 * balances, so continuity and sequence are skipped for them, and
 * previousStatement (bank-accounts/index.ts) never picks one.
 */
export const INTERIM_FORMATS: ReadonlySet<StatementFormat> = new Set(["camt.052", "camt.054", "mt942"]);

/** What a statement's lines add up to, tallied as they stream by. */
export interface LineTally {
  lines: number;
  credits: number;
  debits: number;
  creditsMinor: bigint;
  debitsMinor: bigint;
  /** The earliest and latest line date (booking date, else value date), with where the line is. */
  earliest: { date: string; location: SourceLocation } | null;
  latest: { date: string; location: SourceLocation } | null;
  currencies: Set<string>;
  /** The first line whose currency is not the first line's. */
  firstOtherCurrency: { currency: string; location: SourceLocation } | null;
  /** The first line of each currency (at most one entry per ISO 4217 code). */
  currencyLocations: Map<string, SourceLocation>;
}

export function emptyTally(): LineTally {
  return { lines: 0, credits: 0, debits: 0, creditsMinor: 0n, debitsMinor: 0n, earliest: null, latest: null, currencies: new Set(), firstOtherCurrency: null, currencyLocations: new Map() };
}

/**
 * Adds one line. A reversal carries the side of its own booking (a reversed
 * credit is a debit booking), so it is summed by its side like any line.
 */
export function tallyLine(tally: LineTally, line: ParsedLine): void {
  tally.lines += 1;
  if (line.side === "credit") {
    tally.credits += 1;
    tally.creditsMinor += line.amountMinor;
  } else {
    tally.debits += 1;
    tally.debitsMinor += line.amountMinor;
  }
  const date = line.bookingDate ?? line.valueDate;
  if (date !== null) {
    // ISO dates (YYYY-MM-DD) order as strings.
    if (tally.earliest === null || date < tally.earliest.date) tally.earliest = { date, location: line.location };
    if (tally.latest === null || date > tally.latest.date) tally.latest = { date, location: line.location };
  }
  if (!tally.currencyLocations.has(line.currency)) {
    if (tally.currencyLocations.size > 0 && tally.firstOtherCurrency === null) tally.firstOtherCurrency = { currency: line.currency, location: line.location };
    tally.currencyLocations.set(line.currency, line.location);
    tally.currencies.add(line.currency);
  }
}

/** The statement an import follows (see previousStatement in bank-accounts/index.ts). */
export interface PreviousStatement {
  readonly closingBalance: BalanceData | null;
  readonly sequenceNumber: string | null;
  readonly periodEnd: string | null;
  /** The MT940 :28C: page / camt LglSeqNb: a next page of the same statement keeps its number. */
  readonly pageNumber?: string | null | undefined;
}

export interface CheckInput {
  readonly statement: ParsedStatement;
  readonly tally: LineTally;
  readonly bankAccount: { readonly currency: string; readonly iban: string | null; readonly accountNumber: string | null };
  /** The account's statement before this one; null for its first (never this statement itself, on a re-import). */
  readonly previous: PreviousStatement | null;
  /** Totals the file states about itself as a whole (BAI2 98/99, camt GrpHdr), checked with each statement of it. */
  readonly fileControlTotals: readonly ParsedControlTotal[];
}

/** One result per STATEMENT_CHECKS entry, in that order. */
export function checkStatement(input: CheckInput): CheckResult[] {
  const checks: Readonly<Record<StatementCheckName, (input: CheckInput) => Outcome>> = {
    balance: checkBalance,
    continuity: checkContinuity,
    sequence: checkSequence,
    currency: checkCurrency,
    account: checkAccount,
    period: checkPeriod,
    controlTotals: checkControlTotals,
  };
  return STATEMENT_CHECKS.map((check) => resultOf(check, checks[check](input)));
}

/**
 * The statement's rejection: the first failed check's code, with its
 * location, expected and actual figures, and every result (`checks`), as
 * problem+json members. Undefined when nothing failed, or when the caller
 * accepts failed checks (they are recorded on the statement instead).
 */
export function checkFailure(results: readonly CheckResult[], options: { readonly acceptFailedChecks?: boolean; readonly section?: number } = {}): TrueupError | undefined {
  if (options.acceptFailedChecks === true) return undefined;
  const failed = results.find((r) => r.status === "failed");
  if (failed === undefined) return undefined;
  const others = results.filter((r) => r.status === "failed").length - 1;
  const more = others > 0 ? ` (and ${others} more failed check${others > 1 ? "s" : ""}: see checks)` : "";
  const where = options.section === undefined ? "" : `statement ${options.section + 1} of the file: `;
  return new TrueupError(CHECK_CODES[failed.check], `${where}${failed.message}${more}`, {
    detail: {
      check: failed.check,
      location: failed.location,
      expected: failed.expected,
      actual: failed.actual,
      ...(options.section === undefined ? {} : { section: options.section }),
      checks: results,
    },
  });
}

// --- the checks --------------------------------------------------------------------

type Outcome =
  | { readonly status: "passed" | "skipped"; readonly message: string }
  | { readonly status: "failed"; readonly message: string; readonly expected: string; readonly actual: string; readonly location: SourceLocation | null };

const passed = (message: string): Outcome => ({ status: "passed", message });
const skipped = (message: string): Outcome => ({ status: "skipped", message });

/**
 * Bounds of a result's texts: checkResultSchema's, so every result fits the
 * StatementImported it is recorded in, whatever the file put in an account
 * number or an element path.
 */
export const CHECK_RESULT_LIMITS = { messageLengthMax: 2_000, figureLengthMax: 500 } as const;

function resultOf(check: StatementCheckName, outcome: Outcome): CheckResult {
  const { messageLengthMax, figureLengthMax } = CHECK_RESULT_LIMITS;
  if (outcome.status !== "failed") return { check, status: outcome.status, code: null, message: cut(outcome.message, messageLengthMax), expected: null, actual: null, location: null };
  const location = outcome.location === null ? null : plainLocation(outcome.location);
  const at = location === null ? "" : `${describeLocation(location)}: `;
  return {
    check,
    status: "failed",
    code: CHECK_CODES[check],
    message: cut(`${at}${outcome.message}`, messageLengthMax),
    expected: cut(outcome.expected, figureLengthMax),
    actual: cut(outcome.actual, figureLengthMax),
    location,
  };
}

/** At most `lengthMax` UTF-16 units, ending in "…" when cut, never inside a surrogate pair (a lone half has no UTF-8 form). */
function cut(text: string, lengthMax: number): string {
  if (text.length <= lengthMax) return text;
  let end = lengthMax - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

/** opening + Σ credits − Σ debits = closing. */
function checkBalance({ statement, tally }: CheckInput): Outcome {
  const { openingBalance: opening, closingBalance: closing } = statement;
  if (opening === null) return skipped("the file states no opening balance");
  if (closing === null) return skipped("the file states no closing balance");
  if (opening.currency !== closing.currency) return skipped(`the opening balance is in ${opening.currency}, the closing balance in ${closing.currency} (see the currency check)`);
  const currency = closing.currency;
  const computed = signed(opening) + tally.creditsMinor - tally.debitsMinor;
  const sums = `opening ${formatAmount(signed(opening), currency)} + credits ${formatAmount(tally.creditsMinor, currency)} (${plural(tally.credits, "line")}) − debits ${formatAmount(tally.debitsMinor, currency)} (${plural(tally.debits, "line")}) = ${formatAmount(computed, currency)}`;
  if (computed === signed(closing)) return passed(sums);
  return {
    status: "failed",
    message: `${sums}, but the closing balance is ${formatAmount(signed(closing), currency)} (a difference of ${formatAmount(signed(closing) - computed, currency)})`,
    expected: formatAmount(computed, currency),
    actual: formatAmount(signed(closing), currency),
    location: closing.location,
  };
}

/** The previous statement's closing balance = this opening balance. */
function checkContinuity(input: CheckInput): Outcome {
  const { statement, previous } = input;
  const notChained = chainProblem(input);
  if (notChained !== undefined) return skipped(notChained);
  if (previous === null) return skipped("the account's first statement");
  if (previous.closingBalance === null) return skipped("the previous statement states no closing balance");
  const opening = statement.openingBalance;
  if (opening === null) return skipped("the file states no opening balance");
  const before = previous.closingBalance;
  const beforeMinor = (before.side === "credit" ? 1n : -1n) * BigInt(before.amountMinor);
  const shown = `the previous statement closed at ${formatAmount(beforeMinor, before.currency)}`;
  if (before.currency === opening.currency && beforeMinor === signed(opening)) return passed(`${shown}, this one opens at it`);
  return {
    status: "failed",
    message: `${shown}${before.date === null ? "" : ` on ${before.date}`}, this one opens at ${formatAmount(signed(opening), opening.currency)}: a statement in between is missing, or one was booked twice`,
    expected: formatAmount(beforeMinor, before.currency),
    actual: formatAmount(signed(opening), opening.currency),
    location: opening.location,
  };
}

const SEQUENCE_DIGITS = /^\d{1,30}$/;

/** The bank's statement number = the previous one's + 1 (both digits). */
function checkSequence(input: CheckInput): Outcome {
  const { statement, previous } = input;
  const notChained = chainProblem(input);
  if (notChained !== undefined) return skipped(notChained);
  if (previous === null) return skipped("the account's first statement");
  const current = statement.sequenceNumber;
  if (current === null || previous.sequenceNumber === null) return skipped("a sequence number is missing (this statement's or the previous one's)");
  if (!SEQUENCE_DIGITS.test(current) || !SEQUENCE_DIGITS.test(previous.sequenceNumber)) return skipped(`sequence numbers ${previous.sequenceNumber} and ${current} are not both digits`);
  const before = BigInt(previous.sequenceNumber);
  const now = BigInt(current);
  if (now === before + 1n) return passed(`statement ${current} follows ${previous.sequenceNumber}`);
  const pages = [previous.pageNumber ?? null, statement.pageNumber];
  if (now === before && pages.every((p) => p !== null && SEQUENCE_DIGITS.test(p)) && BigInt(pages[1] ?? "0") === BigInt(pages[0] ?? "0") + 1n) {
    return passed(`page ${pages[1] ?? ""} of statement ${current} follows page ${pages[0] ?? ""}`);
  }
  // Many banks number statements within the year (MT940 :28C: 1/1 each January). By the period's end: an MT940's
  // period may start at its opening balance's date, the last day of the old year.
  const year = (statement.periodEnd ?? statement.periodStart)?.slice(0, 4);
  if (now === 1n && year !== undefined && previous.periodEnd !== null && year > previous.periodEnd.slice(0, 4)) return passed(`statement 1 of ${year}: the numbering restarts with the year`);
  const gap = now > before ? `statements ${(before + 1n).toString()}${now - before > 2n ? `..${(now - 1n).toString()}` : ""} are missing` : "the number does not advance";
  return {
    status: "failed",
    message: `the previous statement is number ${previous.sequenceNumber}, this one ${current}: ${gap}`,
    expected: (before + 1n).toString(),
    actual: now.toString(),
    location: statement.location,
  };
}

/** Why continuity and sequence do not apply between this statement and `previous`, or undefined when they do. */
function chainProblem({ statement, previous }: CheckInput): string | undefined {
  if (INTERIM_FORMATS.has(statement.format)) return `a ${statement.format} is an interim report: its balances do not chain with the day-end statements`;
  const previousEnd = previous?.periodEnd ?? null;
  if (previousEnd !== null && statement.periodStart !== null && previousEnd > statement.periodStart) {
    return `the latest statement imported ends on ${previousEnd}, after this one begins (${statement.periodStart}): this is an older or overlapping statement, not the next one`;
  }
  return undefined;
}

/** The statement's, every balance's and every line's currency = the bank account's. */
function checkCurrency({ statement, tally, bankAccount }: CheckInput): Outcome {
  const expected = bankAccount.currency;
  const mismatch = (found: string, what: string, location: SourceLocation): Outcome => ({
    status: "failed",
    message: `${what} is in ${found}${statementCurrencyOf(found)?.historic === true ? " (a withdrawn currency; no rate is guessed)" : ""}, the bank account is in ${expected}`,
    expected,
    actual: found,
    location,
  });
  if (statement.currency !== expected) return mismatch(statement.currency, "the statement", statement.account.currency === null ? statement.location : statement.account.location);
  const balances: [string, ParsedBalance | null][] = [
    ["the opening balance", statement.openingBalance],
    ["the closing balance", statement.closingBalance],
    ["the available balance", statement.availableBalance],
  ];
  for (const [what, balance] of balances) {
    if (balance !== null && balance.currency !== expected) return mismatch(balance.currency, what, balance.location);
  }
  for (const [currency, location] of tally.currencyLocations) {
    if (currency !== expected) return mismatch(currency, "a line", location);
  }
  return passed(`the statement, its balances and its ${tally.lines} lines are in ${expected}`);
}

/**
 * The account the file names is this bank account. An IBAN on both sides
 * decides alone (an account number that also matches must not hide another
 * IBAN); otherwise any identifier of the file (IBAN or account number,
 * normalised) must be one of the bank account's.
 */
function checkAccount({ statement, bankAccount }: CheckInput): Outcome {
  const file = statement.account;
  const fileIban = file.iban === null ? null : normaliseIban(file.iban);
  const fileIdentifiers = bankAccountIdentifiers({ iban: fileIban, accountNumber: file.accountNumber === null ? null : normaliseAccountNumber(file.accountNumber) });
  const ours = bankAccountIdentifiers(bankAccount);
  if (fileIdentifiers.length === 0) return skipped("the file does not name the account");
  const mismatch = (expected: string, actual: string): Outcome => ({
    status: "failed",
    message: `the file is for account ${actual}, this bank account is ${expected}`,
    expected,
    actual,
    location: file.location,
  });
  const ourIban = bankAccount.iban === null ? null : normaliseIban(bankAccount.iban);
  if (fileIban !== null && ourIban !== null) return fileIban === ourIban ? passed(`IBAN ${fileIban}`) : mismatch(ourIban, fileIban);
  const matched = fileIdentifiers.find((identifier) => ours.includes(identifier));
  if (matched !== undefined) return passed(`account ${matched}`);
  return mismatch(ours.join(" / "), fileIdentifiers.join(" / "));
}

/** Every line's booking date (else value date) within the statement's period. */
function checkPeriod({ statement, tally }: CheckInput): Outcome {
  const { periodStart: start, periodEnd: end } = statement;
  if (start === null || end === null) return skipped("the statement's period is not known");
  if (tally.earliest === null || tally.latest === null) return skipped("no line is dated");
  const period = `${start}..${end}`;
  if (tally.earliest.date < start) return { status: "failed", message: `a line is dated ${tally.earliest.date}, before the statement's period ${period}`, expected: period, actual: tally.earliest.date, location: tally.earliest.location };
  if (tally.latest.date > end) return { status: "failed", message: `a line is dated ${tally.latest.date}, after the statement's period ${period}`, expected: period, actual: tally.latest.date, location: tally.latest.location };
  return passed(`every line is dated within ${period}`);
}

/** Every total the file states about itself (declared) = what its records add up to (computed). */
function checkControlTotals({ statement, fileControlTotals }: CheckInput): Outcome {
  const totals = [...statement.controlTotals, ...fileControlTotals];
  if (totals.length === 0) return skipped("the file states no control totals");
  const currency = statement.currency;
  for (const total of totals) {
    if (total.declaredMinor === total.computedMinor) continue;
    return {
      status: "failed",
      message: `the file declares ${formatAmount(total.declaredMinor, currency)} as the ${total.scope} total, its records add up to ${formatAmount(total.computedMinor, currency)}`,
      expected: formatAmount(total.declaredMinor, currency),
      actual: formatAmount(total.computedMinor, currency),
      location: total.location,
    };
  }
  return passed(`${totals.length} control total${totals.length > 1 ? "s" : ""} add up (${totals.map((t) => t.scope).join(", ")})`);
}

// --- money and locations -----------------------------------------------------------

/** A balance as a signed amount: credit (the bank owes the holder) positive, debit (overdraft) negative. */
function signed(balance: ParsedBalance): bigint {
  return balance.side === "credit" ? balance.amountMinor : -balance.amountMinor;
}

/**
 * "-1234.56 EUR": the currency's minor unit (withdrawn codes too: DEM has 2),
 * a minus for a debit. A code outside both tables (an importer lets none
 * through) is shown in minor units rather than guessed.
 */
export function formatAmount(amountMinor: bigint, currency: string): string {
  const negative = amountMinor < 0n;
  const digits = (negative ? -amountMinor : amountMinor).toString();
  const found = statementCurrencyOf(currency);
  const decimal = found === undefined ? `${digits} minor units` : formatDigits(digits, found.exponent);
  return `${negative ? "-" : ""}${decimal} ${currency}`;
}

/** Without keys set to undefined: the result goes to JSON and to an event schema that is strict about them. */
function plainLocation(location: SourceLocation): CheckResult["location"] & object {
  return {
    line: location.line,
    ...(location.column === undefined ? {} : { column: location.column }),
    ...(location.element === undefined ? {} : { element: location.element }),
    ...(location.record === undefined ? {} : { record: location.record }),
  };
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function describeLocation(location: SourceLocation): string {
  return [`line ${location.line}`, location.element, location.record, location.column === undefined ? undefined : `column ${location.column}`].filter((part) => part !== undefined).join(", ");
}
