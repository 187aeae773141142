// What every importer leans on (importers/shared.ts): readLines splits any
// chunking of LF, CRLF and lone-CR text into the same numbered lines, with
// or without a final newline, and refuses a line at lineLengthMax + 1 (not
// at the bound) before buffering it whole; LineSplitter, its synchronous
// core, gives a chunk's lines one by one up to a fault, the lines a plain
// split of the whole text gives; the amount parsers are exact
// (bigint, never a float), refuse what is not an amount of the currency and
// what no store can hold; checkedDate refuses impossible and out-of-range
// dates; every refusal is a TrueupError with the location it was given.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { TrueupError, isCalendarDate, isDateInRange } from "@trueup/contracts";
import type { SourceLocation } from "@trueup/contracts";
import { AMOUNT_DIGITS_MAX, checkedDate, cleanText, LineSplitter, parseSignedAmount, parseUnsignedAmount, readLines } from "../../src/reconciliation/importers/shared.ts";

/** One chunk per UTF-16 unit: harsher than per code point (a surrogate pair is split too). */
function units(text: string): string[] {
  return Array.from({ length: text.length }, (_, i) => text.charAt(i));
}

async function* chunks(parts: readonly string[]): AsyncGenerator<string> {
  for (const part of parts) yield part;
}

async function linesOf(parts: readonly string[], lineLengthMax = 1000): Promise<[number, string][]> {
  const out: [number, string][] = [];
  for await (const line of readLines(chunks(parts), { lineLengthMax })) out.push([line.number, line.text]);
  return out;
}

function splitAt(text: string, cuts: readonly number[]): string[] {
  const points = [...new Set(cuts.map((cut) => cut % (text.length + 1)))].sort((a, b) => a - b);
  const parts: string[] = [];
  let from = 0;
  for (const point of points) {
    parts.push(text.slice(from, point));
    from = point;
  }
  parts.push(text.slice(from));
  return parts;
}

function failure(run: () => unknown): TrueupError {
  try {
    run();
  } catch (error) {
    if (error instanceof TrueupError) return error;
    throw error;
  }
  throw new Error("expected a TrueupError");
}

async function asyncFailure(run: () => Promise<unknown>): Promise<TrueupError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof TrueupError) return error;
    throw error;
  }
  throw new Error("expected a TrueupError");
}

const at: SourceLocation = { line: 7, record: ":61:" };

describe("readLines", () => {
  it("splits LF, CRLF and lone CR alike, keeps empty lines, and reads a last line without a newline", async () => {
    const expected: [number, string][] = [
      [1, "a"],
      [2, ""],
      [3, "b"],
      [4, "c"],
    ];
    expect(await linesOf(["a\n\nb\nc"])).toEqual(expected);
    expect(await linesOf(["a\r\n\r\nb\r\nc\r\n"])).toEqual(expected);
    expect(await linesOf(["a\r\rb\rc\r"])).toEqual(expected);
    expect(await linesOf(["a\r\n\rb\nc"])).toEqual(expected);
    expect(await linesOf([""])).toEqual([]);
    expect(await linesOf(["\n"])).toEqual([[1, ""]]);
  });

  it("gives the same lines whatever the chunking, a CRLF split between chunks included", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom("a", "b", " ", "\n", "\r", "\r\n", ":61:", "é"), { maxLength: 60 }).map((parts) => parts.join("")),
        fc.array(fc.nat(), { maxLength: 20 }),
        async (text, cuts) => {
          expect(await linesOf(splitAt(text, cuts))).toEqual(await linesOf([text]));
          expect(await linesOf(units(text))).toEqual(await linesOf([text]));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("accepts a line of exactly lineLengthMax and refuses one more character, with the line's number, also when it has no newline yet", async () => {
    expect(await linesOf(["x".repeat(10), "\nshort"], 10)).toEqual([
      [1, "x".repeat(10)],
      [2, "short"],
    ]);
    for (const parts of [["ok\n", "x".repeat(11), "\n"], ["ok\n", "x".repeat(11)], ["ok\n", ...units("x".repeat(11))], ["ok\nxxxxxxxxxxx\n"]]) {
      const error = await asyncFailure(() => linesOf(parts, 10));
      expect([error.code, error.detail?.location, error.detail?.limit]).toEqual(["STATEMENT_LINE_TOO_LONG", { line: 2 }, 10]);
    }
  });
});

/** Every line LineSplitter gives for `parts`, numbered, then its unfinished last line; a fault ends the list as its code and line. */
function splitterLines(parts: readonly string[], lineLengthMax = 1000): (readonly [number, string] | string)[] {
  const splitter = new LineSplitter({ lineLengthMax });
  const out: (readonly [number, string] | string)[] = [];
  try {
    for (const part of parts) {
      splitter.feed(part);
      for (let text = splitter.next(); text !== undefined; text = splitter.next()) out.push([splitter.number, text]);
      // Used up: asking again gives nothing more until the next chunk.
      expect(splitter.next()).toBeUndefined();
    }
    const last = splitter.end();
    if (last !== undefined) out.push([last.number, last.text]);
  } catch (error) {
    if (!(error instanceof TrueupError)) throw error;
    out.push(`${error.code} at line ${String((error.detail?.location as SourceLocation | undefined)?.line)}`);
  }
  return out;
}

describe("LineSplitter", () => {
  it("gives the lines before a too-long line of the same chunk, then refuses it with its number, as when it has no newline yet", () => {
    expect(splitterLines(["a\nb\r\n" + "x".repeat(11) + "\nc\n"], 10)).toEqual([[1, "a"], [2, "b"], "STATEMENT_LINE_TOO_LONG at line 3"]);
    expect(splitterLines(["a\nb\r\n" + "x".repeat(11)], 10)).toEqual([[1, "a"], [2, "b"], "STATEMENT_LINE_TOO_LONG at line 3"]);
    expect(splitterLines(["a\n", "xxxxxx", "xxxxx", "\n"], 10)).toEqual([[1, "a"], "STATEMENT_LINE_TOO_LONG at line 2"]);
    expect(splitterLines(["x".repeat(10), "\r", "\n", "y"], 10)).toEqual([[1, "x".repeat(10)], [2, "y"]]);
  });

  it("reads empty chunks, a CRLF cut between chunks and a text of line breaks only", () => {
    expect(splitterLines(["", "a\r", "", "\nb", ""])).toEqual([[1, "a"], [2, "b"]]);
    expect(splitterLines(["\r", "\n", "\r", "\r\n", "\n"])).toEqual([[1, ""], [2, ""], [3, ""], [4, ""]]);
    expect(splitterLines([])).toEqual([]);
  });

  it("gives the lines of a plain split of the whole text, whatever the chunking", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom("a", "b", " ", "\n", "\r", "\r\n", ":61:", "é", "\u2028"), { maxLength: 60 }).map((parts) => parts.join("")),
        fc.array(fc.nat(), { maxLength: 20 }),
        (text, cuts) => {
          const split = text.split(/\r\n|\r|\n/);
          if (split.at(-1) === "") split.pop();
          const expected = split.map((line, i) => [i + 1, line] as const);
          expect(splitterLines(splitAt(text, cuts))).toEqual(expected);
          expect(splitterLines(units(text))).toEqual(expected);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("parseUnsignedAmount / parseSignedAmount", () => {
  const eur = { currency: "EUR", decimal: "," as const, location: at };

  it.each([
    ["1234,56", 123_456n],
    ["6800,", 680_000n],
    ["620,3", 62_030n],
    [",50", 50n],
    ["0,00", 0n],
    ["007,10", 710n],
    ["1,500", 150n],
  ])("reads %j as %s minor units of EUR", (text, minor) => {
    expect(parseUnsignedAmount(text, eur)).toBe(minor);
  });

  it("follows the currency's exponent: JPY has none, BHD three, DEM (withdrawn) two", () => {
    expect(parseUnsignedAmount("1500", { ...eur, currency: "JPY" })).toBe(1500n);
    expect(parseUnsignedAmount("1500,000", { ...eur, currency: "JPY" })).toBe(1500n);
    expect(parseUnsignedAmount("1,234", { ...eur, currency: "BHD" })).toBe(1234n);
    expect(parseUnsignedAmount("84349,74", { ...eur, currency: "DEM" })).toBe(8_434_974n);
    expect(failure(() => parseUnsignedAmount("1,5", { ...eur, currency: "JPY" })).code).toBe("STATEMENT_AMOUNT_INVALID");
  });

  it("reads thousands separators only when told", () => {
    expect(parseUnsignedAmount("1.234.567,89", { ...eur, thousands: "." })).toBe(123_456_789n);
    expect(parseUnsignedAmount("1,234.50", { currency: "USD", decimal: ".", thousands: ",", location: at })).toBe(123_450n);
    expect(failure(() => parseUnsignedAmount("1.234,56", eur)).code).toBe("STATEMENT_AMOUNT_INVALID");
  });

  it.each(["", ",", ",,", "1,2,3", "12,345", " 12", "12 ", "-5", "+5", "1e3", "٣", "0x10", "1.5"])("refuses %j, at the location given", (text) => {
    const error = failure(() => parseUnsignedAmount(text, eur));
    expect([error.code, error.detail?.location]).toEqual(["STATEMENT_AMOUNT_INVALID", at]);
  });

  it("refuses an unknown currency as an invalid amount", () => {
    expect(failure(() => parseUnsignedAmount("1,00", { ...eur, currency: "XXY" })).code).toBe("STATEMENT_AMOUNT_INVALID");
  });

  it("holds the largest storable amount (10^30 - 1 minor units) and refuses one digit more, leading zeros not counted", () => {
    const largest = "9".repeat(AMOUNT_DIGITS_MAX - 2);
    expect(parseUnsignedAmount(`${largest},99`, eur)).toBe(10n ** 30n - 1n);
    expect(parseUnsignedAmount(`000${largest},99`, eur)).toBe(10n ** 30n - 1n);
    expect(failure(() => parseUnsignedAmount(`1${"0".repeat(AMOUNT_DIGITS_MAX - 2)},00`, eur)).code).toBe("STATEMENT_AMOUNT_INVALID");
    expect(failure(() => parseUnsignedAmount("9".repeat(5000), eur)).code).toBe("STATEMENT_AMOUNT_INVALID");
  });

  it("reads signs in front or behind, and refuses a sign alone or twice", () => {
    const usd = { currency: "USD", decimal: "." as const, location: at };
    expect(parseSignedAmount("-12.30", usd)).toEqual({ amountMinor: 1230n, negative: true });
    expect(parseSignedAmount("+5", usd)).toEqual({ amountMinor: 500n, negative: false });
    expect(parseSignedAmount("12.30-", usd)).toEqual({ amountMinor: 1230n, negative: true });
    expect(parseSignedAmount(" 7.01 ", usd)).toEqual({ amountMinor: 701n, negative: false });
    expect(parseSignedAmount("-0.00", usd)).toEqual({ amountMinor: 0n, negative: true });
    for (const text of ["-", "+", "--5", "+-5", "-5-", "", "(5)"]) expect(failure(() => parseSignedAmount(text, usd)).code).toBe("STATEMENT_AMOUNT_INVALID");
  });

  it("is exact for any digits: the parsed minor units are the digits written", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 28n }), fc.nat({ max: 3 }), (minor, zeros) => {
        const text = `${"0".repeat(zeros)}${minor / 100n},${String(minor % 100n).padStart(2, "0")}`;
        expect(parseUnsignedAmount(text, eur)).toBe(minor);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("checkedDate", () => {
  it("builds ISO dates and refuses impossible ones and years outside 1000..9998", () => {
    expect(checkedDate(2024, 2, 29, at)).toBe("2024-02-29");
    expect(checkedDate(1000, 1, 1, at)).toBe("1000-01-01");
    expect(checkedDate(9998, 12, 31, at)).toBe("9998-12-31");
    for (const [y, m, d] of [[2023, 2, 29], [1999, 13, 31], [2024, 0, 1], [2024, 4, 31], [2024, 1, 0], [999, 12, 31], [9999, 1, 1], [2024.5, 1, 1], [Number.NaN, 1, 1], [-2024, 1, 1]] as const) {
      const error = failure(() => checkedDate(y, m, d, at));
      expect([error.code, error.detail?.location]).toEqual(["STATEMENT_DATE_INVALID", at]);
    }
  });

  it("accepts exactly the dates the calendar and the stored range accept", () => {
    fc.assert(
      fc.property(fc.integer({ min: 990, max: 10_010 }), fc.integer({ min: -1, max: 14 }), fc.integer({ min: -1, max: 33 }), (year, month, day) => {
        const iso = `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
        const expected = isCalendarDate(iso) && isDateInRange(iso);
        let accepted: boolean;
        try {
          accepted = checkedDate(year, month, day, at) === iso;
        } catch (error) {
          if (!(error instanceof TrueupError)) throw error;
          accepted = false;
        }
        expect([iso, accepted]).toEqual([iso, expected]);
      }),
      { numRuns: 3000 },
    );
    // Century years: leap only when divisible by 400.
    expect([checkedDate(2000, 2, 29, at), checkedDate(2400, 2, 29, at)]).toEqual(["2000-02-29", "2400-02-29"]);
    for (const year of [1900, 2100]) expect(failure(() => checkedDate(year, 2, 29, at)).code).toBe("STATEMENT_DATE_INVALID");
  });
});

describe("cleanText", () => {
  it("collapses whitespace runs and maps empty to null", () => {
    expect(cleanText("  a \t\n b  ")).toBe("a b");
    expect(cleanText(" \n ")).toBeNull();
    expect(cleanText(null)).toBeNull();
    expect(cleanText(undefined)).toBeNull();
  });

  it("is the regex definition for any mix of every whitespace JavaScript knows, inner, leading and trailing", () => {
    const spaces = [" ", "\t", "\n", "\r", "\v", "\f", "\u0085", "\u00a0", "\u1680", "\u180e", "\u2000", "\u200a", "\u200b", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff"];
    const reference = (value: string): string | null => {
      const cleaned = value.replace(/\s+/g, " ").trim();
      return cleaned === "" ? null : cleaned;
    };
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...spaces, "a", "Ü", "\u0000", "\u001f", "-", "\ud83d"), { maxLength: 12 }), (parts) => {
        const value = parts.join("");
        expect(cleanText(value)).toBe(reference(value));
      }),
      { numRuns: 2000 },
    );
    expect(cleanText("")).toBeNull();
    expect(cleanText("a b")).toBe("a b");
  });
});
