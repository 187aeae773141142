// The one-line fields of an MT940/MT942 message: balances (:60F: :62F:
// :64:), the account (:25:), the statement number (:28C:), and MT942's
// creation time (:13D:), floor limit (:34F:) and entry sums (:90D: :90C:).
// Each parser takes the field and returns plain values or throws a located
// STATEMENT_* error; none of them knows about the message around it.
import { STATEMENT_LINE_LIMITS, isValidIban, normaliseIban, statementCurrencyOf } from "@trueup/contracts";
import type { ParsedAccount, ParsedBalance, Side, SourceLocation } from "@trueup/contracts";
import { checkedDate, parseUnsignedAmount, statementError } from "../shared.ts";
import type { MtField } from "./fields.ts";

/** SWIFT `15d`: at most 15 characters, the decimal comma included. */
export const AMOUNT_LENGTH_MAX = 15;

export function locationOf(field: MtField): SourceLocation {
  return { line: field.line, record: `:${field.tag}:` };
}

/** The field's value on one line: SWIFT defines these fields as single-line, so more lines are a broken file. */
export function singleLine(field: MtField): string {
  const extra = field.lines.slice(1).find((line) => line.trim() !== "");
  if (extra !== undefined) throw statementError("STATEMENT_MALFORMED", `:${field.tag}: is one line; text follows it: ${JSON.stringify(extra.slice(0, 40))}`, locationOf(field));
  return field.lines[0]?.trim() ?? "";
}

/**
 * SWIFT's two-digit years: 00–79 are 2000–2079, 80–99 are 1980–1999 (the
 * common reading of MT940 dates; no statement file predates 1980).
 */
export function yearOf(twoDigits: number): number {
  return twoDigits < 80 ? 2000 + twoDigits : 1900 + twoDigits;
}

/** YYMMDD at the start of `text`, as an ISO date; `what` names it in the error. */
export function dateOf(text: string, location: SourceLocation, what: string): string {
  const match = /^(\d{2})(\d{2})(\d{2})/.exec(text);
  if (match === null) throw statementError("STATEMENT_MALFORMED", `no ${what} (YYMMDD) in ${JSON.stringify(text.slice(0, 20))}`, location);
  return checkedDate(yearOf(Number(match[1])), Number(match[2]), Number(match[3]), location);
}

/** A `15d` amount (comma decimal); refuses the empty string as malformed and anything else not an amount as invalid. */
export function amountOf(text: string, currency: string, location: SourceLocation): bigint {
  if (text === "") throw statementError("STATEMENT_MALFORMED", "the amount is missing", location);
  if (text.length > AMOUNT_LENGTH_MAX) throw statementError("STATEMENT_AMOUNT_INVALID", `${JSON.stringify(text)} is longer than a SWIFT amount (15 characters)`, location);
  return parseUnsignedAmount(text, { currency, decimal: ",", location });
}

/** Three letters of an ISO 4217 code, active or withdrawn (an archived DEM statement). */
export function currencyAt(text: string, location: SourceLocation): string {
  const code = /^[A-Z]{3}/.exec(text)?.[0];
  if (code === undefined) throw statementError("STATEMENT_MALFORMED", `no currency code in ${JSON.stringify(text.slice(0, 20))}`, location);
  if (statementCurrencyOf(code) === undefined) throw statementError("STATEMENT_AMOUNT_INVALID", `unknown currency ${JSON.stringify(code)}`, location);
  return code;
}

/** `:60F:` `:62M:` `:64:` …: mark D|C, date YYMMDD, currency, amount. */
export function parseBalance(field: MtField): ParsedBalance {
  const location = locationOf(field);
  const value = singleLine(field);
  const mark = value[0];
  if (mark !== "C" && mark !== "D") throw statementError("STATEMENT_MALFORMED", `a balance starts with its mark D or C, not ${JSON.stringify(value.slice(0, 1))}`, location);
  const date = dateOf(value.slice(1), location, "balance date");
  const currency = currencyAt(value.slice(7), location);
  const amountMinor = amountOf(value.slice(10), currency, location);
  const side: Side = mark === "D" && amountMinor !== 0n ? "debit" : "credit";
  return { amountMinor, side, currency, date, location };
}

/** `:28C:5/1`, `:28:27/01`, `:28C:00084/001`: statement number and page, kept as written (the checks compare digits). */
export function parseStatementNumber(field: MtField): { sequenceNumber: string | null; pageNumber: string | null } {
  const value = singleLine(field);
  const slash = value.indexOf("/");
  const sequence = (slash < 0 ? value : value.slice(0, slash)).trim();
  const page = slash < 0 ? "" : value.slice(slash + 1).trim();
  for (const part of [sequence, page]) {
    if (part.length > STATEMENT_LINE_LIMITS.fieldLengthMax) throw statementError("STATEMENT_MALFORMED", "the statement number is too long", locationOf(field));
  }
  return { sequenceNumber: sequence === "" ? null : sequence, pageNumber: page === "" ? null : page };
}

/** A reference kept whole or refused: `NONREF` and empty are null; longer than a stored field is malformed (a cut reference would name another line). */
export function referenceOf(value: string, location: SourceLocation, what: string): string | null {
  const trimmed = value.trim();
  if (trimmed === "" || trimmed.toUpperCase() === "NONREF" || trimmed.toUpperCase() === "NOTPROVIDED") return null;
  if (trimmed.length > STATEMENT_LINE_LIMITS.fieldLengthMax) {
    throw statementError("STATEMENT_MALFORMED", `the ${what} is longer than ${STATEMENT_LINE_LIMITS.fieldLengthMax} characters`, location);
  }
  return trimmed;
}

const BIC_SHAPE = /^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$/;

/** The text as a normalised IBAN when it is a valid one (the same check as a bank account's registration), else null. */
export function ibanOf(text: string): string | null {
  const compact = normaliseIban(text);
  return isValidIban(compact) ? compact : null;
}

export function isBic(text: string): boolean {
  return BIC_SHAPE.test(text);
}

/**
 * `:25:` as the bank writes it: an IBAN (with or without a trailing
 * currency code, `NL91ABNA0417164300EUR`, or after a BIC and `/`), else an
 * account number kept as written with the bank code (German BLZ, any digits,
 * or a BIC) before its `/` as bankId: `45050050/76198810`.
 */
export function parseAccount(field: MtField): Omit<ParsedAccount, "currency"> {
  const location = locationOf(field);
  const value = singleLine(field);
  if (value === "") throw statementError("STATEMENT_MALFORMED", "the account identification :25: is empty", location);
  if (value.length > STATEMENT_LINE_LIMITS.fieldLengthMax) throw statementError("STATEMENT_MALFORMED", "the account identification :25: is too long", location);
  const slash = value.indexOf("/");
  const prefix = slash < 0 ? null : value.slice(0, slash).trim();
  const bankId = prefix !== null && (isBic(prefix) || /^\d{3,11}$/.test(prefix)) ? prefix : null;
  const accountPart = bankId === null ? value : value.slice(slash + 1);
  const iban = ibanOf(accountPart) ?? (/[A-Z]{3}$/.test(accountPart) ? ibanOf(accountPart.slice(0, -3)) : null);
  if (iban !== null) return { iban, accountNumber: null, bankId, location };
  return { iban: null, accountNumber: value, bankId, location };
}

/** `:13D:0310201045+0100`: the message's creation time, as an ISO date-time with its offset. */
export function parseCreatedAt(field: MtField): string {
  const location = locationOf(field);
  const value = singleLine(field);
  const match = /^(\d{6})(\d{2})(\d{2})([+-]\d{4})?$/.exec(value);
  if (match?.[1] === undefined) throw statementError("STATEMENT_MALFORMED", `:13D: is YYMMDDhhmm±hhmm, not ${JSON.stringify(value.slice(0, 20))}`, location);
  const date = dateOf(match[1], location, "date");
  const [hour, minute, offset] = [Number(match[2]), Number(match[3]), match[4]];
  const offsetValid = offset === undefined || (Number(offset.slice(1, 3)) <= 14 && Number(offset.slice(3)) < 60);
  if (hour > 23 || minute > 59 || !offsetValid) throw statementError("STATEMENT_DATE_INVALID", `${value} is not a valid time`, location);
  const zone = offset === undefined ? "" : `${offset.slice(0, 3)}:${offset.slice(3)}`;
  return `${date}T${match[2] ?? ""}:${match[3] ?? ""}${zone}`;
}

/** `:34F:EURD123,45` (or without mark): the floor limit; only its currency is kept (the statement's currency in an MT942). */
export function parseFloorLimit(field: MtField): string {
  const location = locationOf(field);
  const value = singleLine(field);
  const currency = currencyAt(value, location);
  const rest = value.slice(3);
  amountOf(rest.startsWith("D") || rest.startsWith("C") ? rest.slice(1) : rest, currency, location);
  return currency;
}

/** `:90D:3EUR1234,56`: how many debit (credit) entries the message says it has, and their sum. */
export function parseEntrySum(field: MtField): { count: number; currency: string; amountMinor: bigint } {
  const location = locationOf(field);
  const value = singleLine(field);
  const match = /^(\d{1,5})(.*)$/.exec(value);
  if (match?.[1] === undefined) throw statementError("STATEMENT_MALFORMED", `:${field.tag}: is a number of entries, a currency and an amount`, location);
  const currency = currencyAt(match[2] ?? "", location);
  return { count: Number(match[1]), currency, amountMinor: amountOf((match[2] ?? "").slice(3), currency, location) };
}
