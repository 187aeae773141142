// Typed BAI2 fields: amounts in minor units, YYMMDD dates, counts, type
// codes and funds types, each failing at the field's line with the code the
// import reports (STATEMENT_AMOUNT_INVALID, STATEMENT_DATE_INVALID,
// STATEMENT_MALFORMED).
import { STATEMENT_LINE_LIMITS, statementCurrencyOf } from "@trueup/contracts";
import { checkedDate, statementError } from "../shared.ts";
import type { Field, FieldCursor } from "./records.ts";

/**
 * Digits in an amount. BAI2 amounts are integers in the currency's minor
 * units (the currency's exponent is implied); the events store at most 30
 * digits, and a longer figure is no bank's amount.
 */
const AMOUNT_DIGITS_MAX = 30;
const UNSIGNED = new RegExp(`^\\d{1,${AMOUNT_DIGITS_MAX}}$`);
const SIGNED = new RegExp(`^[+-]?\\d{1,${AMOUNT_DIGITS_MAX}}$`);

/** Distributions in one `D` funds type: the record length bounds them anyway; this bounds the loop on a hostile count. */
const DISTRIBUTIONS_MAX = 999;

/** A detail amount: unsigned (the type code gives the direction). */
export function unsignedAmount(field: Field, name: string): bigint {
  if (!UNSIGNED.test(field.value)) throw statementError("STATEMENT_AMOUNT_INVALID", `${name} ${JSON.stringify(field.value.slice(0, 40))} is not an amount (digits in minor units, no sign)`, field.location);
  return BigInt(field.value);
}

/** A summary, status or control total amount: signed, or null when defaulted (empty). */
export function signedAmountOrNull(field: Field, name: string): bigint | null {
  if (field.value === "") return null;
  if (!SIGNED.test(field.value)) throw statementError("STATEMENT_AMOUNT_INVALID", `${name} ${JSON.stringify(field.value.slice(0, 40))} is not an amount (optional sign, digits in minor units)`, field.location);
  return BigInt(field.value);
}

export function signedAmount(field: Field, name: string): bigint {
  const amount = signedAmountOrNull(field, name);
  if (amount === null) throw statementError("STATEMENT_AMOUNT_INVALID", `${name} is empty`, field.location);
  return amount;
}

/** A record or item count. */
export function count(field: Field, name: string): number {
  if (!/^\d{1,9}$/.test(field.value)) throw statementError("STATEMENT_MALFORMED", `${name} ${JSON.stringify(field.value.slice(0, 40))} is not a count`, field.location);
  return Number(field.value);
}

export function optionalCount(field: Field, name: string): void {
  if (field.value !== "") count(field, name);
}

/**
 * A YYMMDD date. BAI2 years have two digits: 70-99 are 1970-1999 (the
 * format dates from 1987), 00-69 are 2000-2069.
 */
export function date(field: Field, name: string): string {
  const match = /^(\d{2})(\d{2})(\d{2})$/.exec(field.value);
  if (match === null) throw statementError("STATEMENT_DATE_INVALID", `${name} ${JSON.stringify(field.value.slice(0, 40))} is not a YYMMDD date`, field.location);
  const yy = Number(match[1]);
  return checkedDate(yy >= 70 ? 1900 + yy : 2000 + yy, Number(match[2]), Number(match[3]), field.location);
}

/** An HHMM time (0000-2400; 9999 is the spec's "end of day"), or null when defaulted. */
export function timeOrNull(field: Field, name: string): string | null {
  if (field.value === "") return null;
  const match = /^(\d{2})(\d{2})$/.exec(field.value);
  const valid = match !== null && (field.value === "9999" || (Number(match[1]) <= 24 && Number(match[2]) <= 59 && (match[1] !== "24" || match[2] === "00")));
  if (!valid) throw statementError("STATEMENT_MALFORMED", `${name} ${JSON.stringify(field.value.slice(0, 40))} is not an HHMM time`, field.location);
  return field.value;
}

export function typeCode(field: Field): string {
  if (!/^\d{3}$/.test(field.value)) throw statementError("STATEMENT_MALFORMED", `type code ${JSON.stringify(field.value.slice(0, 40))} is not three digits`, field.location);
  return field.value;
}

/** An ISO 4217 code (active or withdrawn), or null when defaulted. */
export function currencyOrNull(field: Field): string | null {
  if (field.value === "") return null;
  if (statementCurrencyOf(field.value) === undefined) throw statementError("STATEMENT_MALFORMED", `currency ${JSON.stringify(field.value.slice(0, 40))} is not an ISO 4217 code`, field.location);
  return field.value;
}

/**
 * An identifier (account number, bank or customer reference, file id):
 * trimmed, null when empty. A longer one than the stores hold is refused,
 * not cut: a cut reference would identify another line.
 */
export function identifierOrNull(field: Field, name: string): string | null {
  const value = field.value.trim();
  if (value === "") return null;
  if (value.length > STATEMENT_LINE_LIMITS.fieldLengthMax) {
    throw statementError("STATEMENT_MALFORMED", `${name} is longer than ${STATEMENT_LINE_LIMITS.fieldLengthMax} characters`, field.location, { limit: STATEMENT_LINE_LIMITS.fieldLengthMax });
  }
  return value;
}

export interface FundsType {
  /** `0`, `1`, `2`, `S`, `V`, `D`, `Z`, or null when defaulted. */
  readonly code: string | null;
  /** `V`: the value date (YYYY-MM-DD) and time (HHMM) the funds are available. */
  readonly valueDate: string | null;
  readonly valueTime: string | null;
  /** `S` and `D`: the availability as the bank states it, for auditors (`0:…;1:…;2:…` or `days:amount;…`). */
  readonly availability: string | null;
}

/**
 * A funds type and the fields that come with it: `S` three amounts
 * (immediate, one-day, two-or-more-day), `V` a value date and time, `D` a
 * count and that many (days, amount) pairs. `0`, `1`, `2`, `Z` and a
 * defaulted one have none.
 */
export function fundsType(cursor: FieldCursor): FundsType {
  const field = cursor.next();
  if (field === undefined || field.value === "") return { code: null, valueDate: null, valueTime: null, availability: null };
  const code = field.value.toUpperCase();
  switch (code) {
    case "0":
    case "1":
    case "2":
    case "Z":
      return { code, valueDate: null, valueTime: null, availability: null };
    case "S": {
      const parts = ["0", "1", "2"].map((days) => `${days}:${String(signedAmountOrNull(cursor.required("availability amount"), "availability amount") ?? "")}`);
      return { code, valueDate: null, valueTime: null, availability: parts.join(";") };
    }
    case "V": {
      const valueDate = date(cursor.required("value date"), "value date");
      const timeField = cursor.next();
      return { code, valueDate, valueTime: timeField === undefined ? null : timeOrNull(timeField, "value time"), availability: null };
    }
    case "D": {
      const countField = cursor.required("number of distributions");
      const distributions = count(countField, "number of distributions");
      if (distributions > DISTRIBUTIONS_MAX) throw statementError("STATEMENT_MALFORMED", `more than ${DISTRIBUTIONS_MAX} distributions`, countField.location, { limit: DISTRIBUTIONS_MAX });
      const parts: string[] = [];
      for (let i = 0; i < distributions; i++) {
        const days = count(cursor.required("distribution days"), "distribution days");
        parts.push(`${days}:${String(signedAmount(cursor.required("distribution amount"), "distribution amount"))}`);
      }
      return { code, valueDate: null, valueTime: null, availability: parts.join(";") };
    }
    default:
      throw statementError("STATEMENT_MALFORMED", `funds type ${JSON.stringify(field.value.slice(0, 40))} is not one of 0, 1, 2, S, V, D, Z`, field.location);
  }
}
