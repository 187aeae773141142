// The date formats a CSV profile can name (CSV_DATE_FORMATS), read strictly:
// a value that does not have the profile's shape is a located error, never a
// guess (03/04/2026 is two different days in DD/MM and MM/DD).
import type { CsvDateFormat, SourceLocation } from "@trueup/contracts";
import { checkedDate, statementError } from "../shared.ts";

const DAY_FIRST = /^(\d{1,2})([./-])(\d{1,2})\2(\d{4})$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const COMPACT = /^(\d{4})(\d{2})(\d{2})$/;
/** A date with an optional time (Stripe writes `2026-03-01 00:15:37`; other exports `T`, fractions, a zone). The date is taken as written. */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
/** Seconds since 1970 (optionally with a fraction): 12 digits reach beyond the year 9998 that checkedDate refuses, no further. */
const UNIX_SECONDS = /^(-?\d{1,12})(?:\.\d{1,9})?$/;

const SEPARATOR_OF: Partial<Record<CsvDateFormat, string>> = { "DD.MM.YYYY": ".", "DD/MM/YYYY": "/", "MM/DD/YYYY": "/", "DD-MM-YYYY": "-" };

/** A profile-formatted date as YYYY-MM-DD, or STATEMENT_DATE_INVALID at `location`. */
export function parseCsvDate(text: string, format: CsvDateFormat, location: SourceLocation): string {
  const value = text.trim();
  // The common shape without a regex match and a parts object per date (no closure either: tsx names each one, per call).
  if (format === "YYYY-MM-DD" && isIsoDateShape(value)) return checkedDate(digitsAt(value, 0, 4), digitsAt(value, 5, 2), digitsAt(value, 8, 2), location);
  const parts = dateParts(value, format);
  if (parts === undefined) throw statementError("STATEMENT_DATE_INVALID", `${JSON.stringify(value)} is not a date in the profile's format ${format}`, location);
  return checkedDate(parts.year, parts.month, parts.day, location);
}

/** What ISO_DATE matches: four, two and two ASCII digits joined by `-`, nothing else. */
function isIsoDateShape(value: string): boolean {
  if (value.length !== 10 || value.charCodeAt(4) !== 45 || value.charCodeAt(7) !== 45) return false;
  for (const at of ISO_DIGIT_POSITIONS) {
    const c = value.charCodeAt(at);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

const ISO_DIGIT_POSITIONS = [0, 1, 2, 3, 5, 6, 8, 9] as const;

/** The number of `length` ASCII digits at `at` (checked by the caller). */
function digitsAt(value: string, at: number, length: number): number {
  let n = 0;
  for (let i = at; i < at + length; i++) n = n * 10 + (value.charCodeAt(i) - 48);
  return n;
}

function dateParts(value: string, format: CsvDateFormat): { year: number; month: number; day: number } | undefined {
  switch (format) {
    case "YYYY-MM-DD":
      return ymd(ISO_DATE.exec(value));
    case "YYYYMMDD":
      return ymd(COMPACT.exec(value));
    case "YYYY-MM-DD HH:mm:ss": {
      const match = DATE_TIME.exec(value);
      if (match === null) return undefined;
      const [hour, minute, second] = [match[4], match[5], match[6]].map((part) => (part === undefined ? 0 : Number(part)));
      // A leap second (60) is a time banks do write.
      if ((hour ?? 0) > 23 || (minute ?? 0) > 59 || (second ?? 0) > 60) return undefined;
      return ymd(match);
    }
    case "unix-seconds": {
      const match = UNIX_SECONDS.exec(value);
      if (match?.[1] === undefined) return undefined;
      const at = new Date(Number(match[1]) * 1000);
      return { year: at.getUTCFullYear(), month: at.getUTCMonth() + 1, day: at.getUTCDate() };
    }
    case "DD.MM.YYYY":
    case "DD/MM/YYYY":
    case "DD-MM-YYYY":
    case "MM/DD/YYYY": {
      const match = DAY_FIRST.exec(value);
      if (match === null || match[2] !== SEPARATOR_OF[format]) return undefined;
      const [first, second, year] = [Number(match[1]), Number(match[3]), Number(match[4])];
      return format === "MM/DD/YYYY" ? { year, month: first, day: second } : { year, month: second, day: first };
    }
  }
}

function ymd(match: RegExpExecArray | null): { year: number; month: number; day: number } | undefined {
  if (match === null) return undefined;
  return { year: Number(match[1]), month: Number(match[2]), day: Number(match[3]) };
}
