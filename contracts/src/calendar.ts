// Calendar dates (YYYY-MM-DD) and accounting periods (YYYY-MM), limited to
// the range every store and read model behind us can hold and print the same
// way. The widest common ground is much wider than this: PostgreSQL date
// goes from 4713 BC to 5874897 AD and timestamptz to 294276 AD, a JS Date
// (and a MongoDB/BSON date, an int64 of milliseconds) to ±275760. What
// breaks first is at the edges of our own four-digit format:
// - year 0000: ISO 8601 and JS read it as 1 BC; PostgreSQL has no year 0 and
//   refuses it, so a "0000-01-15" entry was accepted and then stopped the
//   projection;
// - years below 1000: JS remaps two-digit years (Date.UTC(50, 0) is 1950) and
//   naive formatting drops the leading zeros (999-01-01), so the same date
//   would not read back the same everywhere;
// - year 9999: the day after, the start of the next period (a period's end)
//   and a timezone shift of a few hours all land in year 10000, which has no
//   four-digit spelling.
// Hence 1000-01-01 through 9998-12-31: four-digit years with no leading
// zero, and a year of room at the top for arithmetic.
import { z } from "zod";

export const DATE_MIN = "1000-01-01";
export const DATE_MAX = "9998-12-31";
export const PERIOD_MIN = DATE_MIN.slice(0, 7);
export const PERIOD_MAX = DATE_MAX.slice(0, 7);

const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
export const PERIOD_PATTERN = /^\d{4}-(0[1-9]|1[0-2])$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/**
 * A real calendar date, YYYY-MM-DD (no 2026-02-30), whatever its year, in the
 * proleptic Gregorian calendar as a JS Date reads it. By arithmetic, not by a
 * Date round trip: every statement line has two dates, checked on import and
 * on projection, and a Date costs a microsecond each.
 */
export function isCalendarDate(value: string): boolean {
  if (!DATE_PATTERN.test(value)) return false;
  const year = Number(value.slice(0, 4));
  const month = Number(value.slice(5, 7));
  const day = Number(value.slice(8, 10));
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
  return day <= days;
}

/** A calendar date within DATE_MIN..DATE_MAX (fixed-width strings: text order is date order). */
export function isDateInRange(value: string): boolean {
  return isCalendarDate(value) && value >= DATE_MIN && value <= DATE_MAX;
}

export function periodOf(effectiveDate: string): string {
  return effectiveDate.slice(0, 7);
}

/** The instant a period ends: 00:00 UTC on the first day of the next month (periods are UTC months). */
export function periodEnd(period: string): Date {
  const year = Number(period.slice(0, 4));
  const month = Number(period.slice(5, 7));
  return new Date(Date.UTC(year, month, 1));
}

/** Whole days from one YYYY-MM-DD to another (negative when `to` is earlier). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/** The YYYY-MM-DD `days` whole days after `date` (before it when negative), clamped to DATE_MIN..DATE_MAX. */
export function addDays(date: string, days: number): string {
  const shifted = new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
  return shifted < DATE_MIN ? DATE_MIN : shifted > DATE_MAX ? DATE_MAX : shifted;
}

/** Today's date in UTC, YYYY-MM-DD: the default `asOf` of the queries that count ages. */
export function todayUtc(): string {
  return new Date().toISOString().slice(0, 10);
}

/** A date from a client (request body or query): a calendar date within the range. */
export const dateSchema = z
  .string()
  .superRefine((value, ctx) => {
    if (!isCalendarDate(value)) {
      ctx.addIssue({ code: "custom", message: `must be a calendar date YYYY-MM-DD, got ${JSON.stringify(value.slice(0, 40))}` });
    } else if (!isDateInRange(value)) {
      ctx.addIssue({ code: "custom", message: `must be between ${DATE_MIN} and ${DATE_MAX} (what every store can hold), got ${value}` });
    }
  })
  .meta({ format: "date", description: `A calendar date YYYY-MM-DD, ${DATE_MIN} to ${DATE_MAX}`, example: "2026-03-31" });

/**
 * A date inside a stored event: any calendar date. Wider than dateSchema on
 * purpose: the log is append-only, and an event written before the range
 * existed must still load (a decision reads its stream; a projection parks
 * what it cannot apply), not make its stream unreadable.
 */
export const eventDateSchema = z.string().refine(isCalendarDate, "must be a calendar date YYYY-MM-DD");

/** A period from a client: YYYY-MM within PERIOD_MIN..PERIOD_MAX. */
export const periodSchema = z.string().superRefine((value, ctx) => {
  if (!PERIOD_PATTERN.test(value)) {
    ctx.addIssue({ code: "custom", message: `must be a period YYYY-MM, got ${JSON.stringify(value.slice(0, 40))}` });
  } else if (value < PERIOD_MIN || value > PERIOD_MAX) {
    ctx.addIssue({ code: "custom", message: `must be between ${PERIOD_MIN} and ${PERIOD_MAX} (what every store can hold), got ${value}` });
  }
});

/** A period inside a stored event (see eventDateSchema). */
export const eventPeriodSchema = z.string().regex(PERIOD_PATTERN, "must be a period YYYY-MM");
