// isCalendarDate decides by arithmetic; a JS Date round trip is the
// reference it must agree with (the definition it replaced): on every
// candidate day of years around each leap rule (divisible by 4, by 100, by
// 400, year 0), on months and days out of range, and on arbitrary strings.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isCalendarDate } from "../src/calendar.ts";

function byDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

const pad = (n: number, width: number): string => String(n).padStart(width, "0");

describe("isCalendarDate", () => {
  it("agrees with a Date round trip on every month 00..13 and day 00..32 of years around each leap rule", () => {
    for (const year of [0, 1, 4, 100, 400, 1000, 1900, 2000, 2023, 2024, 2100, 2400, 9998, 9999]) {
      for (let month = 0; month <= 13; month++) {
        for (let day = 0; day <= 32; day++) {
          const value = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
          expect(isCalendarDate(value), value).toBe(byDate(value));
        }
      }
    }
  });

  it("agrees with a Date round trip on arbitrary and near-date strings", () => {
    const nearDate = fc.tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 })).map(([y, m, d]) => `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`);
    fc.assert(
      fc.property(fc.oneof(nearDate, fc.string({ maxLength: 12 }), nearDate.map((v) => ` ${v}`), nearDate.map((v) => v.replace("-", "/"))), (value) => {
        expect(isCalendarDate(value)).toBe(byDate(value));
      }),
      { numRuns: 5000 },
    );
  });
});
