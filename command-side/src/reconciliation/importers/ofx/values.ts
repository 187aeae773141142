// OFX values: dates (`YYYYMMDD[HHMMSS[.XXX]][[±H[.MM]][:TZ]]`) and signed
// decimal amounts, each failing at its element with the import's code.
import type { SourceLocation } from "@trueup/contracts";
import { checkedDate, parseSignedAmount, statementError } from "../shared.ts";

const DATE = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(?:(\d{2})(?:\.(\d{1,3}))?)?)?\s*(?:\[\s*([+-]?\d{1,2}(?:\.\d{1,2})?)?\s*(?::\s*[A-Za-z][A-Za-z ]{0,15})?\s*\])?$/;

export interface OfxDateTime {
  /** The date part as written (YYYY-MM-DD): no shift to UTC, a statement's day is the bank's day. */
  readonly date: string;
  /** ISO 8601 with the offset when given, e.g. `2009-05-23T12:20:17-05:00`. */
  readonly dateTime: string;
}

export function ofxDate(value: string, location: SourceLocation): OfxDateTime {
  const match = DATE.exec(value);
  if (match === null) throw statementError("STATEMENT_DATE_INVALID", `${JSON.stringify(value.slice(0, 40))} is not an OFX date (YYYYMMDD[HHMMSS[.XXX]][[offset:TZ]])`, location);
  const [, year, month, day, hours, minutes, seconds, , offset] = match;
  const date = checkedDate(Number(year), Number(month), Number(day), location);
  if (hours === undefined || minutes === undefined) return { date, dateTime: date };
  if (Number(hours) > 23 || Number(minutes) > 59 || Number(seconds ?? "0") > 60) {
    throw statementError("STATEMENT_DATE_INVALID", `${JSON.stringify(value.slice(0, 40))} has no such time of day`, location);
  }
  return { date, dateTime: `${date}T${hours}:${minutes}:${seconds ?? "00"}${offset === undefined ? "" : isoOffset(offset)}` };
}

/** `-5` → `-05:00`, `+5.30` → `+05:30`, `0` → `+00:00`. */
function isoOffset(offset: string): string {
  const sign = offset.startsWith("-") ? "-" : "+";
  const [hours = "0", minutes = "0"] = offset.replace(/^[+-]/, "").split(".");
  return `${sign}${hours.padStart(2, "0")}:${minutes.padEnd(2, "0")}`;
}

/**
 * A signed amount in minor units of `currency`. OFX writes `.` decimals;
 * some banks write `,`. One of them alone is the decimal separator; both in
 * one amount (`1,234.56` or `1.234,56`) is ambiguous and refused, since the
 * spec allows no thousands separator to tell them apart.
 */
export function ofxAmount(value: string, currency: string, location: SourceLocation): { amountMinor: bigint; negative: boolean } {
  const hasPoint = value.includes(".");
  const hasComma = value.includes(",");
  if (hasPoint && hasComma) throw statementError("STATEMENT_AMOUNT_INVALID", `${JSON.stringify(value.slice(0, 40))} has both "." and ",": which one is the decimal separator is ambiguous`, location);
  return parseSignedAmount(value, { currency, decimal: hasComma ? "," : ".", location });
}
