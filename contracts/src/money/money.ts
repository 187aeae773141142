// Money: an exact integer count of minor units (cents, fils, yen) in one
// ISO 4217 currency. Amounts are bigint end to end; a decimal string is only
// ever turned into digits and back, never into a float.
import assert from "node:assert/strict";
import { z } from "zod";
import { currencyOf, requireCurrency } from "./currencies.ts";
import type { CurrencyCode } from "./currencies.ts";

export interface Money {
  readonly amountMinor: bigint;
  readonly currency: CurrencyCode;
}

/**
 * Largest magnitude a Money may hold, in minor units: |amountMinor| < 10^30.
 * Far above any real balance (10^28 EUR), low enough that a pasted or
 * hostile string cannot make us build an unbounded bigint.
 */
export const amountMinorAbsMax: bigint = 10n ** 30n - 1n;

/**
 * Longest decimal string parseMoney looks at. The longest in-range string is
 * 32 characters ("-" + 30 digits + "."), so anything past 64 is rejected
 * before the grammar runs.
 */
export const decimalLengthMax = 64;

export type MoneyErrorCode =
  | "MONEY_INVALID_FORMAT"
  | "MONEY_TOO_MANY_DECIMALS"
  | "MONEY_UNKNOWN_CURRENCY"
  | "MONEY_OUT_OF_RANGE";

export interface MoneyError {
  readonly code: MoneyErrorCode;
  readonly message: string;
}

export type ParseMoneyResult =
  | { readonly ok: true; readonly value: Money }
  | { readonly ok: false; readonly error: MoneyError };

/** Mixing currencies in arithmetic is a bug in the caller, not a user error. */
export class CurrencyMismatchError extends Error {
  override readonly name = "CurrencyMismatchError";
  readonly left: CurrencyCode;
  readonly right: CurrencyCode;

  constructor(options: { left: CurrencyCode; right: CurrencyCode }) {
    super(`currency mismatch: ${options.left} vs ${options.right}`);
    this.left = options.left;
    this.right = options.right;
  }
}

// ASCII digits only ([0-9], never \d with a unicode flag), no sign but '-',
// no leading zeros, at least one digit on each side of a '.'.
const decimalPattern = /^(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

interface DecimalParts {
  readonly negative: boolean;
  readonly integerDigits: string;
  readonly fractionDigits: string;
}

/**
 * Why a currency code is not in the table, with a hint where one helps:
 * codes match exactly, so "eur" is refused, and says to write "EUR".
 */
export function unknownCurrencyMessage(code: string): string {
  const shown = JSON.stringify(code.slice(0, 16));
  const upper = code.toUpperCase();
  if (upper !== code && currencyOf(upper) !== undefined) return `unknown ISO 4217 currency ${shown}: currency codes are upper case: ${upper}`;
  return `unknown ISO 4217 currency ${shown}`;
}

function fail(code: MoneyErrorCode, message: string): { ok: false; error: MoneyError } {
  return { ok: false, error: { code, message } };
}

/**
 * Checks the currency-independent grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?`,
 * at most decimalLengthMax characters, and no negative zero ("-0", "-0.00"):
 * zero has exactly one spelling, so a signed zero is a malformed input.
 */
function splitDecimal(decimal: string): DecimalParts | MoneyError {
  if (decimal.length > decimalLengthMax) {
    return {
      code: "MONEY_INVALID_FORMAT",
      message: `amount is longer than ${decimalLengthMax} characters`,
    };
  }
  const match = decimalPattern.exec(decimal);
  if (match === null) {
    return {
      code: "MONEY_INVALID_FORMAT",
      message: `amount ${JSON.stringify(decimal)} is not a plain decimal like "-12.30"`,
    };
  }
  const negative = match[1] === "-";
  const integerDigits = match[2] ?? "";
  const fractionDigits = match[3] ?? "";
  if (negative && integerDigits === "0" && /^0*$/.test(fractionDigits)) {
    return { code: "MONEY_INVALID_FORMAT", message: "negative zero is not a valid amount; write 0" };
  }
  return { negative, integerDigits, fractionDigits };
}

function isMoneyError(value: DecimalParts | MoneyError): value is MoneyError {
  return "code" in value;
}

/** Grammar check without a currency (for schemas that see the amount alone). */
export function checkDecimalFormat(decimal: string): MoneyError | undefined {
  const parts = splitDecimal(decimal);
  return isMoneyError(parts) ? parts : undefined;
}

/**
 * Parses a decimal string in major units ("12.30") into Money for a currency
 * ("EUR" → 1230n). Accepts 0..exponent decimals ("12", "12.3", "12.30").
 * Rejections are results, not exceptions: the input comes from outside.
 */
export function parseMoney(decimal: string, currency: string): ParseMoneyResult {
  const found = currencyOf(currency);
  if (found === undefined) {
    return fail("MONEY_UNKNOWN_CURRENCY", unknownCurrencyMessage(currency));
  }
  const parts = splitDecimal(decimal);
  if (isMoneyError(parts)) return { ok: false, error: parts };
  if (parts.fractionDigits.length > found.exponent) {
    return fail(
      "MONEY_TOO_MANY_DECIMALS",
      `${found.code} allows at most ${found.exponent} decimals, got ${parts.fractionDigits.length}`,
    );
  }
  const fraction = parts.fractionDigits.padEnd(found.exponent, "0");
  // The digits are validated ASCII, so BigInt() cannot see a float here.
  const magnitude = BigInt(parts.integerDigits + fraction);
  if (magnitude > amountMinorAbsMax) {
    return fail("MONEY_OUT_OF_RANGE", `amount exceeds ${amountMinorAbsMax} minor units of ${found.code}`);
  }
  return { ok: true, value: money(parts.negative ? -magnitude : magnitude, found.code) };
}

/**
 * The canonical decimal string: exactly `exponent` decimals, '-' only for
 * negative amounts ("12.30", "-0.05", "1" for JPY, "0.001" for KWD).
 * parseMoney(formatMoney(m)) returns m.
 */
export function formatMoney(m: Money): string {
  return formatMinorUnits(m.amountMinor.toString(), m.currency);
}

const signedDigits = /^-?(0|[1-9]\d*)$/;

/**
 * formatMoney for an integer of minor units written as decimal digits
 * ("-12345"), as sums come back from the database: no BigInt on the way,
 * and no range limit, since a sum may exceed what one amount may hold.
 * Anything but canonical digits is a bug upstream, so it throws.
 */
export function formatMinorUnits(minorDigits: string, currency: string): string {
  const { exponent } = requireCurrency(currency);
  assert.ok(signedDigits.test(minorDigits) && minorDigits !== "-0", `not an integer of minor units: ${JSON.stringify(minorDigits)}`);
  const negative = minorDigits.startsWith("-");
  const formatted = formatDigits(negative ? minorDigits.slice(1) : minorDigits, exponent);
  return negative ? `-${formatted}` : formatted;
}

/**
 * The unchecked core of formatMinorUnits: canonical non-negative digits, the
 * currency's exponent. For a hot loop over digits that are canonical by
 * construction (a numeric column's text), with the exponent looked up once.
 */
export function formatDigits(digits: string, exponent: number): string {
  if (exponent === 0) return digits;
  const padded = digits.padStart(exponent + 1, "0");
  const split = padded.length - exponent;
  return `${padded.slice(0, split)}.${padded.slice(split)}`;
}

/**
 * Builds Money. An amount beyond amountMinorAbsMax or an unknown currency
 * here is a bug (parse input with parseMoney instead), so it throws.
 */
export function money(amountMinor: bigint, currency: CurrencyCode): Money {
  assert.ok(
    amountMinor <= amountMinorAbsMax && amountMinor >= -amountMinorAbsMax,
    `amountMinor ${amountMinor} is outside ±${amountMinorAbsMax}`,
  );
  const { code } = requireCurrency(currency);
  return Object.freeze({ amountMinor, currency: code });
}

export function zero(currency: CurrencyCode): Money {
  return money(0n, currency);
}

function assertSameCurrency(a: Money, b: Money): void {
  if (a.currency !== b.currency) {
    throw new CurrencyMismatchError({ left: a.currency, right: b.currency });
  }
}

export function add(a: Money, b: Money): Money {
  assertSameCurrency(a, b);
  return money(a.amountMinor + b.amountMinor, a.currency);
}

/** a - b. */
export function subtract(a: Money, b: Money): Money {
  assertSameCurrency(a, b);
  return money(a.amountMinor - b.amountMinor, a.currency);
}

export function negate(m: Money): Money {
  return money(-m.amountMinor, m.currency);
}

export function isZero(m: Money): boolean {
  return m.amountMinor === 0n;
}

/** -1 if a < b, 0 if equal, 1 if a > b; throws CurrencyMismatchError across currencies. */
export function compare(a: Money, b: Money): -1 | 0 | 1 {
  assertSameCurrency(a, b);
  if (a.amountMinor < b.amountMinor) return -1;
  return a.amountMinor > b.amountMinor ? 1 : 0;
}

/**
 * Sum of a list in one named currency; the currency is explicit so an empty
 * list still has one. Every element must be in that currency.
 */
export function sum(list: readonly Money[], currency: CurrencyCode): Money {
  let total = zero(currency);
  for (const m of list) total = add(total, m);
  return total;
}

// --- zod schemas for JSON edges ---------------------------------------------

/**
 * A decimal amount as a JSON string. A JSON number (1.5) is rejected: a
 * number has already been through a float by the time it reaches us.
 * Checks the grammar only; decimals per currency are checked by moneySchema.
 */
export const moneyAmountString = z.string().superRefine((decimal, ctx) => {
  const error = checkDecimalFormat(decimal);
  if (error !== undefined) {
    ctx.addIssue({ code: "custom", message: `${error.code}: ${error.message}`, params: { code: error.code } });
  }
});

/** A currency code string that must be in the ISO 4217 table. */
export const currencyCodeSchema = z.string().transform((code, ctx) => {
  const found = currencyOf(code);
  if (found === undefined) {
    const message = `MONEY_UNKNOWN_CURRENCY: ${unknownCurrencyMessage(code)}`;
    ctx.addIssue({ code: "custom", message, params: { code: "MONEY_UNKNOWN_CURRENCY" } });
    return z.NEVER;
  }
  return found.code;
});

/**
 * `{ "amount": "12.30", "currency": "EUR" }` → Money. Issues carry the
 * MoneyErrorCode in params.code and in the message, at path ["amount"] or
 * ["currency"]. Unknown keys are rejected rather than silently dropped.
 */
export const moneySchema = z
  .strictObject({ amount: moneyAmountString, currency: currencyCodeSchema })
  .transform(({ amount, currency }, ctx) => {
    const parsed = parseMoney(amount, currency);
    if (parsed.ok) return parsed.value;
    const path = parsed.error.code === "MONEY_UNKNOWN_CURRENCY" ? ["currency"] : ["amount"];
    const { code, message } = parsed.error;
    ctx.addIssue({ code: "custom", message: `${code}: ${message}`, params: { code }, path });
    return z.NEVER;
  });
