// Proves the pure edges of dates and text: dateSchema and periodSchema accept
// exactly the calendar dates/periods in DATE_MIN..DATE_MAX (both ends in,
// one day or month beyond out, with the range in the message), the event
// schemas stay wide so old events still load, periodEnd is the next month's
// first instant in UTC; textSchema refuses NUL and every lone surrogate
// (property-based) but keeps every well-formed string, and counts lengths in
// code points.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  DATE_MAX,
  DATE_MIN,
  PERIOD_MAX,
  PERIOD_MIN,
  characterCount,
  dateSchema,
  eventDateSchema,
  metadataSchema,
  periodEnd,
  periodSchema,
  textSchema,
  unknownCurrencyMessage,
  unstorableText,
} from "../src/index.ts";

describe("dates and periods", () => {
  it("accepts both ends of the range and refuses one day beyond, stating the range", () => {
    expect(dateSchema.safeParse(DATE_MIN).success).toBe(true);
    expect(dateSchema.safeParse(DATE_MAX).success).toBe(true);
    for (const beyond of ["0999-12-31", "9999-01-01", "0000-01-15"]) {
      const result = dateSchema.safeParse(beyond);
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.message).toContain(`between ${DATE_MIN} and ${DATE_MAX}`);
    }
    expect(dateSchema.safeParse("2026-02-30").error?.issues[0]?.message).toContain("calendar date");
  });

  it("periods: both ends in, one month beyond out", () => {
    expect(periodSchema.safeParse(PERIOD_MIN).success).toBe(true);
    expect(periodSchema.safeParse(PERIOD_MAX).success).toBe(true);
    expect(periodSchema.safeParse("0999-12").success).toBe(false);
    expect(periodSchema.safeParse("9999-01").success).toBe(false);
    expect(periodSchema.safeParse("2026-13").success).toBe(false);
  });

  it("stored events keep the wider calendar check: an old out-of-range event still loads", () => {
    expect(eventDateSchema.safeParse("0000-01-15").success).toBe(true);
    expect(eventDateSchema.safeParse("2026-02-30").success).toBe(false);
  });

  it("every in-range date round-trips through a JS Date unchanged (no two-digit-year remap, no lost zeros)", () => {
    const min = Date.parse(`${DATE_MIN}T00:00:00Z`);
    const max = Date.parse(`${DATE_MAX}T00:00:00Z`);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: (max - min) / 86_400_000 }), (days) => {
        const date = new Date(min + days * 86_400_000).toISOString().slice(0, 10);
        expect(dateSchema.safeParse(date).success).toBe(true);
        expect(new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10)).toBe(date);
      }),
    );
  });

  it("a period ends at 00:00 UTC on the next month's first day, also in December and at the top of the range", () => {
    expect(periodEnd("2026-03").toISOString()).toBe("2026-04-01T00:00:00.000Z");
    expect(periodEnd("2026-12").toISOString()).toBe("2027-01-01T00:00:00.000Z");
    expect(periodEnd(PERIOD_MAX).toISOString()).toBe("9999-01-01T00:00:00.000Z");
    expect(periodEnd(PERIOD_MIN).toISOString()).toBe("1000-02-01T00:00:00.000Z");
  });
});

describe("text", () => {
  const text = textSchema({ lengthMax: 10 });

  it("refuses NUL and every lone surrogate, wherever it sits", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 4 }), fc.oneof(fc.constant(0), fc.integer({ min: 0xd800, max: 0xdfff })), fc.string({ maxLength: 4 }), (before, unit, after) => {
        // A high surrogate followed by a low one is a pair; keep the bad unit alone.
        const value = `x${before}${String.fromCharCode(unit)}.${after}`;
        if (unit >= 0xdc00 && unit <= 0xdfff && /[\ud800-\udbff]$/.test(`x${before}`)) return;
        expect(unstorableText(value)).toBeDefined();
        expect(text.safeParse(value).success).toBe(false);
      }),
    );
  });

  it("keeps every well-formed string (PostgreSQL can store it as is)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", minLength: 1, maxLength: 10 }), (value) => {
        fc.pre(!value.includes("\u0000") && value.trim().length > 0);
        expect(unstorableText(value)).toBeUndefined();
      }),
    );
  });

  it("counts code points, so a limit of N holds N emoji", () => {
    expect(characterCount("💶💶")).toBe(2);
    expect(text.safeParse("💶".repeat(10)).success).toBe(true);
    expect(text.safeParse("💶".repeat(11)).error?.issues[0]?.message).toBe("must be at most 10 characters, got 11");
    expect(text.safeParse("   ").error?.issues[0]?.message).toContain("empty");
  });

  it("metadata reports a bad key at its own path, and non-string values", () => {
    const badKey = metadataSchema.safeParse({ "a\u0000": "v" });
    expect(badKey.error?.issues[0]?.path).toEqual(["a\u0000"]);
    expect(badKey.error?.issues[0]?.message).toContain("metadata key");
    const number = metadataSchema.safeParse({ n: 1 });
    expect(number.error?.issues[0]?.message).toContain("got a JSON number");
  });
});

describe("currency hints", () => {
  it("says codes are upper case when the upper-case spelling exists, and nothing else otherwise", () => {
    expect(unknownCurrencyMessage("eur")).toContain("currency codes are upper case: EUR");
    expect(unknownCurrencyMessage("Usd")).toContain("currency codes are upper case: USD");
    expect(unknownCurrencyMessage("xyz")).not.toContain("upper case");
    expect(unknownCurrencyMessage("EUX")).not.toContain("upper case");
  });
});
