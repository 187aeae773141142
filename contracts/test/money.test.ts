// Proves the Money module is exact and strict:
// - the ISO 4217 table is well formed (unique 3-letter codes and numerics,
//   exponents in {0,2,3,4}, known spot values, N.A. and withdrawn codes absent);
// - parseMoney accepts only `-?(0|[1-9][0-9]*)(\.[0-9]{1,exponent})?` in ASCII,
//   rejects every other spelling with the right error code, and bounds input
//   length and magnitude (|amountMinor| < 10^30);
// - formatMoney is canonical and parse(format(m)) === m for every currency in
//   the table and every in-range bigint (property-based);
// - arithmetic is plain bigint arithmetic within one currency, and mixing
//   currencies throws CurrencyMismatchError;
// - the zod edge schemas take strings only and report issues at the right path.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  add,
  amountMinorAbsMax,
  compare,
  currencies,
  currencyCodeSchema,
  currencyOf,
  CurrencyMismatchError,
  decimalLengthMax,
  formatDigits,
  formatMinorUnits,
  formatMoney,
  isCurrencyCode,
  isZero,
  money,
  moneyAmountString,
  moneySchema,
  negate,
  parseMoney,
  requireCurrency,
  subtract,
  sum,
  zero,
} from "../src/money/index.ts";
import type { Currency, CurrencyCode, Money, MoneyErrorCode } from "../src/money/index.ts";

const code = (c: string): CurrencyCode => requireCurrency(c).code;
const EUR = code("EUR");
const USD = code("USD");
const JPY = code("JPY");
const KWD = code("KWD");
const CLF = code("CLF");

function parsedValue(decimal: string, currency: string): Money {
  const result = parseMoney(decimal, currency);
  if (!result.ok) throw new Error(`expected ${decimal} ${currency} to parse: ${result.error.message}`);
  return result.value;
}

function errorCode(decimal: string, currency: string): MoneyErrorCode | "OK" {
  const result = parseMoney(decimal, currency);
  return result.ok ? "OK" : result.error.code;
}

/** Independent oracle for the canonical spelling of an amount. */
function canonical(amountMinor: bigint, exponent: number): string {
  const sign = amountMinor < 0n ? "-" : "";
  const digits = (amountMinor < 0n ? -amountMinor : amountMinor).toString();
  if (exponent === 0) return sign + digits;
  const padded = digits.padStart(exponent + 1, "0");
  return `${sign}${padded.slice(0, -exponent)}.${padded.slice(-exponent)}`;
}

const anyCurrency = fc.constantFrom(...currencies);
const inRange = fc.bigInt({ min: -amountMinorAbsMax, max: amountMinorAbsMax });
const asciiDigit = fc.constantFrom("0", "1", "2", "3", "4", "5", "6", "7", "8", "9");

/** A canonical string for a random in-range amount of a random currency. */
const canonicalCase = fc
  .tuple(anyCurrency, inRange)
  .map(([currency, amountMinor]) => ({ currency, text: canonical(amountMinor, currency.exponent) }));

describe("currency table", () => {
  it("has well-formed, unique codes and numerics and exponents in {0,2,3,4}", () => {
    // Pinned so that adding or withdrawing a code is a deliberate change.
    expect(currencies).toHaveLength(165);
    for (const c of currencies) {
      expect(c.code).toMatch(/^[A-Z]{3}$/);
      expect(Number.isInteger(c.numeric) && c.numeric >= 1 && c.numeric <= 999).toBe(true);
      expect([0, 2, 3, 4]).toContain(c.exponent);
      expect(currencyOf(c.code)).toBe(c);
    }
    expect(new Set(currencies.map((c) => c.code)).size).toBe(currencies.length);
    expect(new Set(currencies.map((c) => c.numeric)).size).toBe(currencies.length);
    const codes = currencies.map((c) => c.code);
    expect(codes).toEqual([...codes].sort());
  });

  it.each([
    ["JPY", 392, 0], ["KRW", 410, 0], ["VND", 704, 0], ["ISK", 352, 0], ["CLP", 152, 0],
    ["XAF", 950, 0], ["XOF", 952, 0], ["XPF", 953, 0], ["UYI", 940, 0],
    ["EUR", 978, 2], ["USD", 840, 2], ["GBP", 826, 2], ["ALL", 8, 2], ["XCG", 532, 2],
    ["KWD", 414, 3], ["BHD", 48, 3], ["IQD", 368, 3], ["JOD", 400, 3], ["LYD", 434, 3],
    ["OMR", 512, 3], ["TND", 788, 3], ["CLF", 990, 4], ["UYW", 927, 4],
  ] as const)("%s has numeric %i and exponent %i", (c, numeric, exponent) => {
    expect(currencyOf(c)).toEqual({ code: c, numeric, exponent });
  });

  it.each(["XAU", "XAG", "XPD", "XPT", "XDR", "XSU", "XUA", "XTS", "XXX", "XBA"])(
    "excludes %s, whose minor unit is N.A.",
    (c) => {
      expect(currencyOf(c)).toBeUndefined();
    },
  );

  it.each(["ANG", "BGN", "CUC", "HRK", "SLL", "ZWL", "VEF", "MRO"])("excludes withdrawn %s", (c) => {
    expect(currencyOf(c)).toBeUndefined();
  });

  it("matches codes exactly, without trimming or case folding", () => {
    for (const c of ["eur", "Eur", " EUR", "EUR ", "EURO", "", "978"]) {
      expect(currencyOf(c)).toBeUndefined();
      expect(isCurrencyCode(c)).toBe(false);
    }
    expect(isCurrencyCode("EUR")).toBe(true);
    expect(() => requireCurrency("eur")).toThrow(RangeError);
  });

  it("is frozen", () => {
    expect(Object.isFrozen(currencies)).toBe(true);
    expect(Object.isFrozen(currencies[0])).toBe(true);
  });
});

describe("parseMoney accepts the grammar", () => {
  it.each([
    ["12.30", "EUR", 1230n],
    ["12.3", "EUR", 1230n],
    ["12", "EUR", 1200n],
    ["0", "EUR", 0n],
    ["0.00", "EUR", 0n],
    ["0.50", "EUR", 50n],
    ["-12.30", "EUR", -1230n],
    ["-0.05", "EUR", -5n],
    ["0.001", "KWD", 1n],
    ["1.2", "KWD", 1200n],
    ["5", "JPY", 5n],
    ["-5", "JPY", -5n],
    ["1.2345", "CLF", 12345n],
    ["999999999999999999999999999999", "JPY", amountMinorAbsMax],
    ["-9999999999999999999999999999.99", "EUR", -amountMinorAbsMax],
  ] as const)("%s %s is %i minor units", (decimal, currency, amountMinor) => {
    expect(parsedValue(decimal, currency)).toEqual({ amountMinor, currency });
  });

  it("returns a frozen plain object", () => {
    const m = parsedValue("1.00", "EUR");
    expect(Object.isFrozen(m)).toBe(true);
    expect(Object.keys(m).sort()).toEqual(["amountMinor", "currency"]);
  });
});

describe("parseMoney rejects everything else", () => {
  const invalidFormat: readonly (readonly [string, string])[] = [
    ["", "empty"],
    [" 1", "leading space"],
    ["1 ", "trailing space"],
    ["1 000", "inner space"],
    ["\t1", "tab"],
    ["1\n", "trailing newline"],
    ["1\r\n", "CRLF"],
    ["\u00A01", "no-break space"],
    ["1\u00A0000", "inner no-break space"],
    ["1\u202F000", "narrow no-break space"],
    ["1\u2009", "thin space"],
    ["\u30001", "ideographic space"],
    ["1\uFEFF", "BOM"],
    ["\u200B1", "zero-width space"],
    ["1\u2028", "line separator"],
    ["+1", "plus sign"],
    ["+1.00", "plus sign with decimals"],
    ["1e3", "exponent"],
    ["1E3", "capital exponent"],
    ["1e-2", "negative exponent"],
    ["1.5e1", "decimal with exponent"],
    ["NaN", "NaN"],
    ["Infinity", "Infinity"],
    ["-Infinity", "-Infinity"],
    ["0x10", "hex"],
    ["0b1", "binary"],
    ["0o7", "octal"],
    ["10n", "bigint literal"],
    [".5", "leading dot"],
    ["-.5", "signed leading dot"],
    ["5.", "trailing dot"],
    [".", "lone dot"],
    ["-", "lone minus"],
    ["--1", "double minus"],
    ["1-", "trailing minus"],
    ["\u22121", "unicode minus sign"],
    ["(1.00)", "accounting parentheses"],
    ["1.2.3", "two dots"],
    ["1..2", "double dot"],
    ["1,000", "comma thousands separator"],
    ["1,000.00", "comma thousands with decimals"],
    ["1.000,00", "european separators"],
    ["1'000", "apostrophe separator"],
    ["1_000", "underscore separator"],
    ["1,5", "decimal comma"],
    ["\u0661\u0662", "Arabic-Indic digits"],
    ["\u06F1\u06F2", "Extended Arabic-Indic digits"],
    ["\uFF11\uFF12", "fullwidth digits"],
    ["\u0967", "Devanagari digit"],
    ["\u{1D7CF}", "mathematical bold digit"],
    ["1.\u0665", "non-ASCII fraction digit"],
    ["-0", "negative zero"],
    ["-0.00", "negative zero with decimals"],
    ["-0.0", "negative zero, short decimals"],
    ["007", "leading zeros"],
    ["00", "double zero"],
    ["00.5", "leading zero before dot"],
    ["-01", "signed leading zero"],
    ["€1", "currency symbol"],
    ["1EUR", "currency suffix"],
    ["1".padEnd(decimalLengthMax + 1, "0"), "longer than decimalLengthMax"],
  ];

  it.each(invalidFormat)("%j (%s) is MONEY_INVALID_FORMAT", (decimal) => {
    const result = parseMoney(decimal, "EUR");
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe("MONEY_INVALID_FORMAT");
      expect(result.error.message.length).toBeGreaterThan(0);
    }
  });

  it.each([
    ["1.234", "EUR"],
    ["0.001", "EUR"],
    ["1.0", "JPY"],
    ["1.00", "JPY"],
    ["0.0001", "KWD"],
    ["1.00000", "CLF"],
  ] as const)("%s %s is MONEY_TOO_MANY_DECIMALS", (decimal, currency) => {
    expect(errorCode(decimal, currency)).toBe("MONEY_TOO_MANY_DECIMALS");
  });

  it("rejects a trailing dot in an exponent-0 currency as a format error", () => {
    expect(errorCode("1.", "JPY")).toBe("MONEY_INVALID_FORMAT");
  });

  it.each(["eur", "EURO", "", " EUR", "XAU", "XXX", "XDR", "BGN", "ZZZ"])(
    "currency %j is MONEY_UNKNOWN_CURRENCY",
    (currency) => {
      expect(errorCode("1.00", currency)).toBe("MONEY_UNKNOWN_CURRENCY");
    },
  );

  it.each([
    ["1000000000000000000000000000000", "JPY"], // 10^30
    ["-1000000000000000000000000000000", "JPY"],
    ["10000000000000000000000000000", "EUR"], // 10^28 EUR = 10^30 cents
    ["10000000000000000000000000000.00", "EUR"],
    ["1000000000000000000000000000", "KWD"], // 10^27 KWD = 10^30 fils
    ["99999999999999999999999999999999999999999999999999", "EUR"],
  ] as const)("%s %s is MONEY_OUT_OF_RANGE", (decimal, currency) => {
    expect(errorCode(decimal, currency)).toBe("MONEY_OUT_OF_RANGE");
  });

  it("accepts the largest magnitude and rejects one more", () => {
    // CLF has 4 decimals: 26 integer digits + 4 decimals = 30 digits of minor units.
    const largest = `${"9".repeat(26)}.${"9".repeat(4)}`;
    expect(parsedValue(largest, "CLF").amountMinor).toBe(amountMinorAbsMax);
    expect(parsedValue(`-${largest}`, "CLF").amountMinor).toBe(-amountMinorAbsMax);
    expect(errorCode(`1${"0".repeat(26)}.0000`, "CLF")).toBe("MONEY_OUT_OF_RANGE");
    expect(errorCode(`-1${"0".repeat(26)}`, "CLF")).toBe("MONEY_OUT_OF_RANGE");
  });
});

describe("formatMoney", () => {
  it.each([
    [1230n, "EUR", "12.30"],
    [100n, "EUR", "1.00"],
    [0n, "EUR", "0.00"],
    [-5n, "EUR", "-0.05"],
    [-1230n, "EUR", "-12.30"],
    [1n, "JPY", "1"],
    [-7n, "JPY", "-7"],
    [0n, "JPY", "0"],
    [1n, "KWD", "0.001"],
    [1000n, "KWD", "1.000"],
    [1n, "CLF", "0.0001"],
    [amountMinorAbsMax, "EUR", "9999999999999999999999999999.99"],
  ] as const)("%i %s is %s", (amountMinor, currency, text) => {
    expect(formatMoney(money(amountMinor, code(currency)))).toBe(text);
  });
});

describe("formatMinorUnits", () => {
  it("agrees with formatMoney for every currency and random amounts", () => {
    fc.assert(
      fc.property(fc.constantFrom(...currencies), fc.bigInt({ min: -amountMinorAbsMax, max: amountMinorAbsMax }), (c, amountMinor) => {
        expect(formatMinorUnits(amountMinor.toString(), c.code)).toBe(formatMoney(money(amountMinor, c.code)));
      }),
    );
  });

  it("formats sums beyond one amount's range", () => {
    expect(formatMinorUnits(`-${"9".repeat(40)}`, "EUR")).toBe(`-${"9".repeat(38)}.99`);
  });

  it("shares its core with formatDigits (unchecked, exponent given)", () => {
    expect([formatDigits("5", 3), formatDigits("0", 2), formatDigits("12345", 0), formatDigits("12345", 2)]).toEqual(["0.005", "0.00", "12345", "123.45"]);
  });

  it.each(["", "-", "-0", "007", "1.5", "1e3", " 1", "+1", "0x10"])("rejects %j as a bug", (digits) => {
    expect(() => formatMinorUnits(digits, "EUR")).toThrow(/not an integer of minor units/);
  });

  it("rejects an unknown currency", () => {
    expect(() => formatMinorUnits("1", "XYZ")).toThrow(RangeError);
  });
});

describe("parse/format properties over every currency", () => {
  it("parse(format(m)) === m at the boundaries of every currency", () => {
    for (const c of currencies) {
      const unit = 10n ** BigInt(c.exponent);
      for (const amountMinor of [0n, 1n, -1n, unit, -unit, unit + 1n, amountMinorAbsMax, -amountMinorAbsMax]) {
        const m = money(amountMinor, c.code);
        expect(parsedValue(formatMoney(m), c.code)).toEqual(m);
      }
    }
  });

  it("parse(format(m)) === m and format is canonical, for random currencies and amounts", () => {
    fc.assert(
      fc.property(anyCurrency, inRange, (c, amountMinor) => {
        const m = money(amountMinor, c.code);
        const text = formatMoney(m);
        expect(text).toBe(canonical(amountMinor, c.exponent));
        expect(parsedValue(text, c.code)).toEqual(m);
      }),
      { numRuns: 5000 },
    );
  });

  it("format(parse(s)) is canonical for every accepted spelling with 0..exponent decimals", () => {
    const spelling = anyCurrency.chain((c) =>
      fc.record({
        currency: fc.constant(c),
        negative: fc.boolean(),
        integer: fc.bigInt({ min: 0n, max: 10n ** 20n }),
        fraction: fc.string({ unit: asciiDigit, minLength: 0, maxLength: c.exponent }),
      }),
    );
    fc.assert(
      fc.property(spelling, ({ currency, negative, integer, fraction }) => {
        const magnitude =
          integer * 10n ** BigInt(currency.exponent) + BigInt(fraction.padEnd(currency.exponent, "0") || "0");
        const signed = negative && magnitude !== 0n;
        const text = `${signed ? "-" : ""}${integer}${fraction === "" ? "" : `.${fraction}`}`;
        const m = parsedValue(text, currency.code);
        expect(m.amountMinor).toBe(signed ? -magnitude : magnitude);
        expect(formatMoney(m)).toBe(canonical(m.amountMinor, currency.exponent));
        expect(parsedValue(formatMoney(m), currency.code)).toEqual(m);
      }),
      { numRuns: 3000 },
    );
  });

  it("whitespace inserted anywhere is MONEY_INVALID_FORMAT", () => {
    const space = fc.constantFrom(
      " ", "\t", "\n", "\r", "\v", "\f", "\u00A0", "\u1680", "\u2000", "\u2007", "\u2009",
      "\u200A", "\u200B", "\u2028", "\u2029", "\u202F", "\u205F", "\u3000", "\uFEFF",
    );
    fc.assert(
      fc.property(canonicalCase, space, fc.nat(), ({ currency, text }, ws, at) => {
        const i = at % (text.length + 1);
        const spaced = text.slice(0, i) + ws + text.slice(i);
        expect(errorCode(spaced, currency.code)).toBe("MONEY_INVALID_FORMAT");
      }),
      { numRuns: 2000 },
    );
  });

  it("exponent notation and '+' signs are MONEY_INVALID_FORMAT", () => {
    const exponentSuffix = fc
      .tuple(fc.constantFrom("e", "E"), fc.constantFrom("", "+", "-"), fc.nat({ max: 99 }))
      .map(([e, sign, n]) => `${e}${sign}${n}`);
    fc.assert(
      fc.property(canonicalCase, exponentSuffix, ({ currency, text }, suffix) => {
        expect(errorCode(text + suffix, currency.code)).toBe("MONEY_INVALID_FORMAT");
        const unsigned = text.startsWith("-") ? text.slice(1) : text;
        expect(errorCode(`+${unsigned}`, currency.code)).toBe("MONEY_INVALID_FORMAT");
      }),
      { numRuns: 2000 },
    );
  });

  it("more decimals than the exponent is MONEY_TOO_MANY_DECIMALS", () => {
    const tooPrecise = anyCurrency.chain((c) =>
      fc.record({
        currency: fc.constant(c),
        integer: fc.bigInt({ min: 0n, max: 10n ** 20n }),
        fraction: fc.string({ unit: asciiDigit, minLength: c.exponent + 1, maxLength: c.exponent + 6 }),
      }),
    );
    fc.assert(
      fc.property(tooPrecise, ({ currency, integer, fraction }) => {
        expect(errorCode(`${integer}.${fraction}`, currency.code)).toBe("MONEY_TOO_MANY_DECIMALS");
      }),
      { numRuns: 2000 },
    );
  });

  it("a non-ASCII digit anywhere is MONEY_INVALID_FORMAT", () => {
    // Arabic-Indic, Extended Arabic-Indic, Devanagari, Bengali, Thai, fullwidth, math bold.
    const zeros = [0x0660, 0x06f0, 0x0966, 0x09e6, 0x0e50, 0xff10, 0x1d7ce];
    const foreignDigit = fc
      .tuple(fc.constantFrom(...zeros), fc.nat({ max: 9 }))
      .map(([zeroCodePoint, d]) => String.fromCodePoint(zeroCodePoint + d));
    fc.assert(
      fc.property(canonicalCase, foreignDigit, fc.nat(), ({ currency, text }, digit, at) => {
        // Canonical text is ASCII, so UTF-16 indexes are character indexes.
        const positions: number[] = [];
        for (let i = 0; i < text.length; i++) if (/[0-9]/.test(text.charAt(i))) positions.push(i);
        const i = positions[at % positions.length] ?? 0;
        const replaced = text.slice(0, i) + digit + text.slice(i + 1);
        expect(errorCode(replaced, currency.code)).toBe("MONEY_INVALID_FORMAT");
      }),
      { numRuns: 2000 },
    );
  });

  it("any string either parses to a grammar-conforming amount or returns a typed error", () => {
    const grammar = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/;
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 80 }), anyCurrency, (text, c) => {
        const result = parseMoney(text, c.code);
        if (result.ok) {
          expect(text).toMatch(grammar);
          expect(formatMoney(result.value)).toBe(canonical(result.value.amountMinor, c.exponent));
        } else {
          expect(["MONEY_INVALID_FORMAT", "MONEY_TOO_MANY_DECIMALS", "MONEY_OUT_OF_RANGE"]).toContain(
            result.error.code,
          );
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe("arithmetic within one currency", () => {
  // A third of the limit, so a + b + c never leaves the range.
  const third = amountMinorAbsMax / 3n;
  const amount = (c: Currency) => fc.bigInt({ min: -third, max: third }).map((n) => money(n, c.code));
  const triple = anyCurrency.chain((c) => fc.tuple(amount(c), amount(c), amount(c)));

  it("add is commutative and associative, and matches bigint addition", () => {
    fc.assert(
      fc.property(triple, ([a, b, c]) => {
        expect(add(a, b)).toEqual(add(b, a));
        expect(add(add(a, b), c)).toEqual(add(a, add(b, c)));
        expect(add(a, b).amountMinor).toBe(a.amountMinor + b.amountMinor);
      }),
      { numRuns: 2000 },
    );
  });

  it("subtract undoes add, negate is an involution, a + (-a) is zero", () => {
    fc.assert(
      fc.property(triple, ([a, b]) => {
        expect(subtract(add(a, b), b)).toEqual(a);
        expect(subtract(a, b)).toEqual(add(a, negate(b)));
        expect(negate(negate(a))).toEqual(a);
        expect(isZero(add(a, negate(a)))).toBe(true);
        expect(add(a, zero(a.currency))).toEqual(a);
      }),
      { numRuns: 2000 },
    );
  });

  it("compare is a total order consistent with bigint order", () => {
    fc.assert(
      fc.property(triple, ([a, b]) => {
        expect(compare(a, b)).toBe(-compare(b, a) || 0);
        expect(compare(a, a)).toBe(0);
        const expected = a.amountMinor < b.amountMinor ? -1 : a.amountMinor > b.amountMinor ? 1 : 0;
        expect(compare(a, b)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it("sum folds add and the empty sum is zero in the named currency", () => {
    expect(sum([], KWD)).toEqual(zero(KWD));
    fc.assert(
      fc.property(triple, ([a, b, c]) => {
        expect(sum([a, b, c], a.currency)).toEqual(add(add(a, b), c));
      }),
      { numRuns: 500 },
    );
  });

  it("negating zero gives canonical zero", () => {
    expect(negate(zero(EUR)).amountMinor).toBe(0n);
    expect(formatMoney(negate(zero(EUR)))).toBe("0.00");
    expect(isZero(zero(JPY))).toBe(true);
    expect(isZero(money(1n, JPY))).toBe(false);
  });

  it("refuses to build Money beyond the limit: that is a bug, not a user error", () => {
    expect(() => money(amountMinorAbsMax + 1n, EUR)).toThrow(/outside/);
    expect(() => money(-amountMinorAbsMax - 1n, EUR)).toThrow(/outside/);
    expect(() => add(money(amountMinorAbsMax, EUR), money(1n, EUR))).toThrow(/outside/);
    expect(() => subtract(money(-amountMinorAbsMax, EUR), money(1n, EUR))).toThrow(/outside/);
    expect(() => money(1n, "XAU" as CurrencyCode)).toThrow(RangeError);
  });
});

describe("currency mismatch fails loudly", () => {
  const eur = money(100n, EUR);
  const usd = money(100n, USD);

  it.each([
    ["add", () => add(eur, usd)],
    ["subtract", () => subtract(eur, usd)],
    ["compare", () => compare(eur, usd)],
    ["sum with a foreign element", () => sum([eur, usd], EUR)],
    ["sum in another currency", () => sum([eur], USD)],
  ] as const)("%s throws CurrencyMismatchError", (_name, operation) => {
    expect(operation).toThrow(CurrencyMismatchError);
  });

  it("names both currencies", () => {
    try {
      add(eur, usd);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(CurrencyMismatchError);
      if (error instanceof CurrencyMismatchError) {
        expect([error.left, error.right]).toEqual([EUR, USD]);
        expect(error.message).toContain("EUR");
        expect(error.name).toBe("CurrencyMismatchError");
      }
    }
  });

  it("even between currencies with the same exponent and equal amounts", () => {
    expect(() => add(money(0n, EUR), money(0n, USD))).toThrow(CurrencyMismatchError);
    expect(() => compare(money(5n, JPY), money(5n, code("KRW")))).toThrow(CurrencyMismatchError);
  });
});

describe("zod schemas at JSON edges", () => {
  it("moneySchema turns a JSON object into Money", () => {
    const parsed = moneySchema.parse(JSON.parse('{"amount":"12.30","currency":"EUR"}'));
    expect(parsed).toEqual({ amountMinor: 1230n, currency: EUR });
    expect(moneySchema.parse({ amount: "0.0001", currency: "CLF" })).toEqual(money(1n, CLF));
  });

  it("rejects a JSON number amount at path ['amount']", () => {
    const result = moneySchema.safeParse(JSON.parse('{"amount":1.5,"currency":"EUR"}'));
    expect(result.success).toBe(false);
    expect(result.error?.issues).toHaveLength(1);
    expect(result.error?.issues[0]?.path).toEqual(["amount"]);
    expect(result.error?.issues[0]?.code).toBe("invalid_type");
    expect(moneyAmountString.safeParse(1.5).success).toBe(false);
    expect(moneyAmountString.safeParse(12n).success).toBe(false);
  });

  it.each([
    [{ amount: "1e3", currency: "EUR" }, ["amount"], "MONEY_INVALID_FORMAT"],
    [{ amount: " 1.00", currency: "EUR" }, ["amount"], "MONEY_INVALID_FORMAT"],
    [{ amount: "-0", currency: "EUR" }, ["amount"], "MONEY_INVALID_FORMAT"],
    [{ amount: "1.234", currency: "EUR" }, ["amount"], "MONEY_TOO_MANY_DECIMALS"],
    [{ amount: "1.0", currency: "JPY" }, ["amount"], "MONEY_TOO_MANY_DECIMALS"],
    [{ amount: "1000000000000000000000000000000", currency: "JPY" }, ["amount"], "MONEY_OUT_OF_RANGE"],
    [{ amount: "1.00", currency: "eur" }, ["currency"], "MONEY_UNKNOWN_CURRENCY"],
    [{ amount: "1.00", currency: "XAU" }, ["currency"], "MONEY_UNKNOWN_CURRENCY"],
  ] as const)("%j fails at %j with %s", (input, path, moneyCode) => {
    const result = moneySchema.safeParse(input);
    expect(result.success).toBe(false);
    const issues = result.error?.issues ?? [];
    expect(issues).toHaveLength(1);
    const issue = issues[0];
    expect(issue?.path).toEqual(path);
    expect(issue?.message).toContain(moneyCode);
    expect(issue?.code === "custom" ? issue.params : undefined).toEqual({ code: moneyCode });
  });

  it("reports a bad amount and a bad currency together", () => {
    const result = moneySchema.safeParse({ amount: "1,00", currency: "EURO" });
    const paths = (result.error?.issues ?? []).map((issue) => issue.path);
    expect(paths).toEqual([["amount"], ["currency"]]);
  });

  it("rejects missing fields, non-string currencies and unknown keys", () => {
    expect(moneySchema.safeParse({ amount: "1.00" }).error?.issues[0]?.path).toEqual(["currency"]);
    expect(moneySchema.safeParse({ amount: "1.00", currency: 978 }).error?.issues[0]?.path).toEqual(["currency"]);
    expect(moneySchema.safeParse({ amount: "1.00", currency: "EUR", amountMinor: "100" }).success).toBe(false);
    expect(moneySchema.safeParse(null).success).toBe(false);
  });

  it("currencyCodeSchema yields a CurrencyCode or MONEY_UNKNOWN_CURRENCY", () => {
    expect(currencyCodeSchema.parse("KWD")).toBe(KWD);
    const result = currencyCodeSchema.safeParse("kwd");
    expect(result.error?.issues[0]?.message).toContain("MONEY_UNKNOWN_CURRENCY");
  });
});
