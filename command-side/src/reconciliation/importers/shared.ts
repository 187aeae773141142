// What every importer needs and must do the same way: located errors,
// bounded line reading, exact decimal amounts, checked dates.
import { TrueupError, amountMinorAbsMax, statementCurrencyOf, DATE_MIN, DATE_MAX } from "@trueup/contracts";
import type { ErrorCode, SourceLocation } from "@trueup/contracts";
import type { ImportLimits } from "./types.ts";

/** A fault in the file, at `location`: rendered as problem+json with `location` beside `code`. */
export function statementError(code: ErrorCode, message: string, location: SourceLocation, extra: Record<string, unknown> = {}): TrueupError {
  const where = [`line ${location.line}`, location.element, location.record, location.column === undefined ? undefined : `column ${location.column}`]
    .filter((part) => part !== undefined)
    .join(", ");
  return new TrueupError(code, `${where}: ${message}`, { detail: { location, ...extra } });
}

export interface TextLine {
  readonly text: string;
  /** 1-based. */
  readonly number: number;
}

/**
 * Splits a chunked text into physical lines (LF or CRLF; a lone CR too),
 * without the terminator, the last one with or without a trailing newline.
 * A line longer than `lineLengthMax` fails before it is buffered whole.
 */
export async function* readLines(chunks: AsyncIterable<string>, limits: Pick<ImportLimits, "lineLengthMax">): AsyncGenerator<TextLine, void, undefined> {
  const splitter = new LineSplitter(limits);
  for await (const chunk of chunks) {
    splitter.feed(chunk);
    for (let text = splitter.next(); text !== undefined; text = splitter.next()) yield { text, number: splitter.number };
  }
  const last = splitter.end();
  if (last !== undefined) yield last;
}

/**
 * readLines without the async generator: an importer that reads a chunk's
 * lines in a plain loop pays no promise per line (an async generator's
 * `yield` per line was a quarter of MT940's parse time). The same lines,
 * numbers and STATEMENT_LINE_TOO_LONG as readLines, which is built on it.
 * Holds at most one unfinished line (`lineLengthMax`) besides the chunk.
 */
export class LineSplitter {
  /** The number of the line `next` returned last (1-based). */
  number = 0;
  private chunk = "";
  private at = 0;
  private pending = "";
  private skipLf = false;

  constructor(private readonly limits: Pick<ImportLimits, "lineLengthMax">) {}

  /** The next chunk of text, once `next` has returned undefined for the one before. */
  feed(chunk: string): void {
    this.chunk = chunk;
    this.at = 0;
  }

  /** The next line the fed chunk ends, or undefined when the rest of it is an unfinished line (kept for the next chunk). */
  next(): string | undefined {
    const chunk = this.chunk;
    const lengthMax = this.limits.lineLengthMax;
    let start = this.at;
    for (let i = start; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      if (c === 10 && this.skipLf && i === start && this.pending.length === 0) {
        this.skipLf = false;
        start = i + 1;
        continue;
      }
      const text = this.pending.length === 0 ? chunk.slice(start, i) : this.pending + chunk.slice(start, i);
      this.pending = "";
      this.number++;
      this.at = i + 1;
      if (text.length > lengthMax) throw lineTooLong(this.number, lengthMax);
      this.skipLf = c === 13;
      return text;
    }
    this.chunk = "";
    this.at = 0;
    if (start < chunk.length) {
      if (this.skipLf && chunk.charCodeAt(start) === 10) start++;
      this.skipLf = false;
      this.pending += chunk.slice(start);
      if (this.pending.length > lengthMax) throw lineTooLong(this.number + 1, lengthMax);
    }
    return undefined;
  }

  /** After the last chunk: its last line when the text did not end with a newline. */
  end(): TextLine | undefined {
    if (this.pending.length === 0) return undefined;
    const last = { text: this.pending, number: this.number + 1 };
    this.pending = "";
    return last;
  }
}

function lineTooLong(line: number, lineLengthMax: number): TrueupError {
  return statementError("STATEMENT_LINE_TOO_LONG", `the line is longer than the limit of ${lineLengthMax} characters`, { line }, { limit: lineLengthMax });
}

export function tooManyLines(location: SourceLocation, linesMax: number): TrueupError {
  return statementError("STATEMENT_TOO_MANY_LINES", `the file has more than the limit of ${linesMax} statement lines`, location, { limit: linesMax });
}

/** Digits of minor units an amount may have: amountMinorAbsMax (10^30 - 1), what the events' digit strings hold. */
export const AMOUNT_DIGITS_MAX = String(amountMinorAbsMax).length;

/**
 * An unsigned decimal as banks write it ("1234,56", "1.234,56" with
 * `thousands: "."`, "12.5", ",50", "100,") in minor units of `currency`.
 * Exact: never through a float. More decimals than the currency has fail,
 * unless the extra digits are zeros ("10,000" JPY is ten thousand only with
 * a thousands separator; with decimal "," it is 10 with three zero decimals).
 */
export function parseUnsignedAmount(
  text: string,
  options: { currency: string; decimal: "." | ","; thousands?: string; location: SourceLocation },
): bigint {
  // Withdrawn codes too (an archive in DEM): the checks, not the parser, say it is not the account's currency.
  const currency = statementCurrencyOf(options.currency);
  if (currency === undefined) throw statementError("STATEMENT_AMOUNT_INVALID", `unknown currency ${JSON.stringify(options.currency)}`, options.location);
  let body = text;
  if (options.thousands !== undefined && options.thousands !== "") body = body.split(options.thousands).join("");
  const separator = body.indexOf(options.decimal);
  const whole = separator < 0 ? body : body.slice(0, separator);
  const fraction = separator < 0 ? "" : body.slice(separator + 1);
  if (!/^\d*$/.test(whole) || !/^\d*$/.test(fraction) || whole.length + fraction.length === 0) {
    throw statementError("STATEMENT_AMOUNT_INVALID", `${JSON.stringify(text)} is not an amount`, options.location);
  }
  const exponent = currency.exponent;
  const significant = fraction.replace(/0+$/, "");
  if (significant.length > exponent) {
    throw statementError("STATEMENT_AMOUNT_INVALID", `${JSON.stringify(text)} has more decimals than ${options.currency} allows (${exponent})`, options.location);
  }
  // Leading zeros do not count; beyond AMOUNT_DIGITS_MAX digits of minor units the amount fits no store (and no bank).
  const digits = ((whole === "" ? "0" : whole) + significant.padEnd(exponent, "0")).replace(/^0+(?=\d)/, "");
  if (digits.length > AMOUNT_DIGITS_MAX) {
    throw statementError("STATEMENT_AMOUNT_INVALID", `${JSON.stringify(text)} is larger than any amount Trueup stores (${AMOUNT_DIGITS_MAX} digits of minor units)`, options.location);
  }
  return BigInt(digits);
}

/** A signed decimal ("-12.30", "+5", "12.30-"): its unsigned minor units and whether it was negative. */
export function parseSignedAmount(
  text: string,
  options: { currency: string; decimal: "." | ","; thousands?: string; location: SourceLocation },
): { amountMinor: bigint; negative: boolean } {
  const trimmed = text.trim();
  let negative = false;
  let body = trimmed;
  if (body.startsWith("-") || body.startsWith("+")) {
    negative = body.startsWith("-");
    body = body.slice(1);
  } else if (body.endsWith("-")) {
    negative = true;
    body = body.slice(0, -1);
  }
  return { amountMinor: parseUnsignedAmount(body, options), negative };
}

const YEAR_MIN = Number(DATE_MIN.slice(0, 4));
const YEAR_MAX = Number(DATE_MAX.slice(0, 4));
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/**
 * An ISO date (YYYY-MM-DD) from parts, checked to be a real calendar date in
 * the stored range (DATE_MIN..DATE_MAX, whole years). By arithmetic, not
 * through a Date: every statement line has one or two dates, and a Date
 * round trip per date was the importers' largest cost. A property test holds
 * it equal to isCalendarDate && isDateInRange.
 */
export function checkedDate(year: number, month: number, day: number, location: SourceLocation): string {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
  const valid = Number.isInteger(year) && Number.isInteger(month) && Number.isInteger(day) && year >= YEAR_MIN && year <= YEAR_MAX && day >= 1 && day <= days;
  const iso = `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
  if (!valid) throw statementError("STATEMENT_DATE_INVALID", `${iso} is not a calendar date between ${DATE_MIN} and ${DATE_MAX}`, location);
  return iso;
}

/** Trimmed text with inner whitespace runs as one space, or null when empty. */
export function cleanText(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  // Most values are clean already: a scan, not a regex replace and a new string per field of every line.
  if (isClean(value)) return value === "" ? null : value;
  const cleaned = value.replace(/\s+/g, " ").trim();
  return cleaned === "" ? null : cleaned;
}

/** True only when `value` has no whitespace but single spaces between other characters, so cleaning gives it back unchanged. */
function isClean(value: string): boolean {
  let afterSpace = true; // a leading space is not clean
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 32) {
      if (afterSpace) return false;
      afterSpace = true;
    } else if (c < 32 || (c >= 0x80 && mayBeSpace(c))) {
      return false;
    } else {
      afterSpace = false;
    }
  }
  return !afterSpace || value.length === 0;
}

/** What `\s` and trim() take beyond ASCII (Unicode Zs, LS, PS, BOM), and NEL and U+180E, which older Unicode counted: erring toward the regex is safe. */
function mayBeSpace(c: number): boolean {
  return c === 0x85 || c === 0xa0 || c === 0x1680 || c === 0x180e || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}
