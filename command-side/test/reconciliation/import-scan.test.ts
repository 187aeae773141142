// Pass 1's pure parts (import/scan.ts, import/line-id.ts). Proves: the hand
// check of a line (contracts' statementLineProblem, which the import and the
// projection use instead of the schema) accepts exactly what the contract's
// statementLineDataSchema accepts, on thousands of generated lines with
// fields at, below and beyond every bound, and on lines of the wrong shape
// (keys missing or extra, values of the wrong type); a line that does not
// fit is STATEMENT_MALFORMED at its location naming the field; line ids are
// the bank's reference when there is one (hashed when too long for an id),
// else a content hash, numbered by occurrence within the statement, and the
// hash ignores what is not the line's content (raw text, location).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { NO_BANK_CODES, NO_COUNTERPARTY, STATEMENT_LINE_LIMITS, TrueupError, expandStoredLine, parseReconciliationEvent, statementLineDataSchema, statementLineProblem, storedLine } from "@trueup/contracts";
import type { ParsedLine, StatementLineData } from "@trueup/contracts";
import { lineData } from "../../src/reconciliation/import/scan.ts";
import { LineIdCounter, baseLineId } from "../../src/reconciliation/import/line-id.ts";

const { fieldLengthMax, textLengthMax, rawLengthMax, attributeKeyLengthMax, lineIdLengthMax } = STATEMENT_LINE_LIMITS;

/** A string of a length near `bound`: at it, one below, one beyond, or short. */
const near = (bound: number) => fc.oneof(fc.constantFrom(bound, bound - 1, bound + 1, 0, 3).map((n) => "x".repeat(Math.max(0, n))), fc.string({ maxLength: 8 }));
const nullableNear = (bound: number) => fc.option(near(bound), { nil: null });
const digits = fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 31n }).map(String), fc.constantFrom("", "01", "-1", "1.5", "9".repeat(30), "9".repeat(31)));
const dateText = fc.oneof(fc.constantFrom("2024-02-29", "2023-02-29", "2024-13-01", "24-01-01", "1000-01-01", "9998-12-31"), fc.string({ maxLength: 10 }));

const lineArbitrary: fc.Arbitrary<StatementLineData> = fc.record({
  lineId: fc.oneof(near(lineIdLengthMax), fc.constant("")),
  lineNumber: fc.integer({ min: 1, max: 1000 }),
  amountMinor: digits,
  side: fc.constantFrom("credit" as const, "debit" as const),
  currency: fc.constantFrom("EUR", "USD", "eur", "EURO", ""),
  bookingDate: fc.option(dateText, { nil: null }),
  valueDate: fc.option(dateText, { nil: null }),
  reversal: fc.boolean(),
  bankReference: nullableNear(fieldLengthMax),
  endToEndId: nullableNear(fieldLengthMax),
  customerReference: nullableNear(fieldLengthMax),
  creditorReference: nullableNear(fieldLengthMax),
  remittanceInformation: nullableNear(textLengthMax),
  description: nullableNear(textLengthMax),
  counterparty: fc.record({ name: nullableNear(fieldLengthMax), iban: nullableNear(fieldLengthMax), accountNumber: nullableNear(fieldLengthMax), bic: nullableNear(fieldLengthMax) }),
  bankCodes: fc.record({
    domain: nullableNear(fieldLengthMax),
    family: nullableNear(fieldLengthMax),
    subFamily: nullableNear(fieldLengthMax),
    proprietary: nullableNear(fieldLengthMax),
    proprietaryIssuer: nullableNear(fieldLengthMax),
    swift: nullableNear(fieldLengthMax),
    bai2: nullableNear(fieldLengthMax),
    ofx: nullableNear(fieldLengthMax),
    psp: nullableNear(fieldLengthMax),
  }),
  chargesMinor: fc.option(digits, { nil: null }),
  batch: fc.option(
    fc.record({ id: near(fieldLengthMax), index: fc.integer({ min: -1, max: 5 }), size: fc.integer({ min: 0, max: 5 }), amountMinor: digits, side: fc.constantFrom("credit" as const, "debit" as const) }),
    { nil: null },
  ),
  attributes: fc.oneof(fc.dictionary(near(attributeKeyLengthMax), near(fieldLengthMax), { maxKeys: 3 }), fc.constantFrom(32, 33).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`a${i}`, "v"])))),
  raw: near(rawLengthMax),
  location: fc.record(
    { line: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constantFrom(1.5, Number.MAX_SAFE_INTEGER + 1)), record: fc.option(near(20), { nil: undefined }), element: fc.option(near(1000), { nil: undefined }), column: fc.option(near(200), { nil: undefined }) },
    { requiredKeys: ["line"] },
  ),
});

const short = fc.string({ maxLength: 12 });
const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: null });
const validDigits = fc.bigInt({ min: 0n, max: 10n ** 15n }).map(String);
const validSide = fc.constantFrom("credit" as const, "debit" as const);

/** Lines the schema accepts, with any mix of members set and empty. */
const validLine: fc.Arbitrary<StatementLineData> = fc.record({
  lineId: fc.string({ minLength: 1, maxLength: 40 }),
  lineNumber: fc.integer({ min: 1, max: 1_000_000 }),
  amountMinor: validDigits,
  side: validSide,
  currency: fc.constantFrom("EUR", "USD", "JPY"),
  bookingDate: maybe(fc.constantFrom("2024-02-29", "2026-01-01")),
  valueDate: maybe(fc.constantFrom("2024-03-01", "2026-12-31")),
  reversal: fc.boolean(),
  bankReference: maybe(short),
  endToEndId: maybe(short),
  customerReference: maybe(short),
  creditorReference: maybe(short),
  remittanceInformation: maybe(short),
  description: maybe(short),
  counterparty: fc.record({ name: maybe(short), iban: maybe(short), accountNumber: maybe(short), bic: maybe(short) }),
  bankCodes: fc.record({ domain: maybe(short), family: maybe(short), subFamily: maybe(short), proprietary: maybe(short), proprietaryIssuer: maybe(short), swift: maybe(short), bai2: maybe(short), ofx: maybe(short), psp: maybe(short) }),
  chargesMinor: maybe(validDigits),
  batch: maybe(fc.record({ id: short, index: fc.integer({ min: 0, max: 9 }), size: fc.integer({ min: 1, max: 9 }), amountMinor: validDigits, side: validSide })),
  attributes: fc.dictionary(fc.string({ maxLength: 8 }), short, { maxKeys: 3 }),
  raw: short,
  location: fc.record({ line: fc.integer({ min: 1, max: 1_000 }), record: fc.option(short, { nil: undefined }), element: fc.option(short, { nil: undefined }), column: fc.option(short, { nil: undefined }) }, { requiredKeys: ["line"] }),
});

/** Any value a log could hold where a line belongs. */
const anyJson: fc.Arbitrary<unknown> = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.string({ maxLength: 4 }), fc.constant([]), fc.constant({}), fc.constant(undefined));

/** A generated line made wrong in one way: a key removed, a key added, or a value (or a nested value) replaced by anything. */
const misshapenLine: fc.Arbitrary<unknown> = fc.tuple(lineArbitrary, fc.nat(), fc.constantFrom("remove", "add", "replace", "nested"), anyJson).map(([line, pick, how, value]) => {
  const copy: Record<string, unknown> = JSON.parse(JSON.stringify(line)) as Record<string, unknown>;
  const keys = Object.keys(copy);
  const key = keys[pick % keys.length] ?? "lineId";
  if (how === "remove") Reflect.deleteProperty(copy, key);
  else if (how === "add") copy[`extra${pick % 3}`] = value;
  else if (how === "replace") copy[key] = value;
  else {
    const nested = ["counterparty", "bankCodes", "location", "batch", "attributes"][pick % 5] ?? "location";
    const inner = copy[nested];
    if (inner !== null && typeof inner === "object") {
      const innerKeys = Object.keys(inner);
      const innerKey = innerKeys[pick % Math.max(1, innerKeys.length)] ?? "line";
      if (pick % 2 === 0) Reflect.deleteProperty(inner, innerKey);
      else (inner as Record<string, unknown>)[pick % 4 === 1 ? "unexpected" : innerKey] = value;
    } else copy[nested] = value;
  }
  return copy;
});

describe("a line's bounds", () => {
  it("statementLineProblem accepts exactly what statementLineDataSchema accepts", () => {
    fc.assert(
      fc.property(lineArbitrary, (line) => {
        expect(statementLineProblem(line) === undefined).toBe(statementLineDataSchema.safeParse(line).success);
      }),
      { numRuns: 3000 },
    );
  });

  it("statementLineProblem refuses exactly what statementLineDataSchema refuses when the shape is wrong", () => {
    fc.assert(
      fc.property(fc.oneof(misshapenLine, anyJson), (value) => {
        expect(statementLineProblem(value) === undefined).toBe(statementLineDataSchema.safeParse(value).success);
      }),
      { numRuns: 3000 },
    );
  });

  it("a line stored without its default members reads back as it was, through JSON, in a v2 and a v1 event", () => {
    const envelope = { statementId: "5f0c1d0e-0000-4000-8000-000000000001", bankAccountId: "acct", batchIndex: 0 };
    fc.assert(
      fc.property(validLine, (line) => {
        expect(statementLineDataSchema.safeParse(line).success).toBe(true);
        const stored: unknown = JSON.parse(JSON.stringify(storedLine(line)));
        expect(expandStoredLine(stored)).toEqual(line);
        expect(JSON.stringify(stored).length).toBeLessThanOrEqual(JSON.stringify(line).length);
        const v2 = parseReconciliationEvent({ type: "StatementLinesRecorded", schemaVersion: 2, data: { ...envelope, lines: [stored] } as never });
        const v1 = parseReconciliationEvent({ type: "StatementLinesRecorded", schemaVersion: 1, data: { ...envelope, lines: [JSON.parse(JSON.stringify(line))] } });
        expect(v2).toEqual(v1);
        expect(v2.type === "StatementLinesRecorded" ? v2.data.lines[0] : undefined).toEqual(line);
      }),
      { numRuns: 1000 },
    );
  });

  it("a stored line whose member has the wrong shape is refused, not repaired", () => {
    const line = { lineId: "ref:A#1", lineNumber: 1, amountMinor: "5", side: "credit", currency: "EUR", raw: "", location: { line: 1 } };
    expect(statementLineProblem(expandStoredLine(line))).toBeUndefined();
    expect(statementLineProblem(expandStoredLine({ ...line, counterparty: "Acme" }))).toBe("counterparty");
    expect(statementLineProblem(expandStoredLine({ ...line, bankCodes: { swift: 7 } }))).toBe("bankCodes.swift");
    expect(statementLineProblem(expandStoredLine({ ...line, counterparty: { nickname: "x" } }))).toBe("counterparty");
    expect(statementLineProblem(expandStoredLine({ ...line, attributes: null }))).toBe("attributes");
    expect(statementLineProblem(expandStoredLine({ ...line, amountMinor: undefined }))).toBe("amountMinor");
    expect(() => parseReconciliationEvent({ type: "StatementLinesRecorded", schemaVersion: 2, data: { statementId: "5f0c1d0e-0000-4000-8000-000000000001", bankAccountId: "acct", batchIndex: 0, lines: [{ ...line, counterparty: "Acme" }] } })).toThrow(/counterparty/);
  });

  const parsed: ParsedLine = {
    amountMinor: 1234n,
    side: "credit",
    currency: "EUR",
    bookingDate: "2024-01-02",
    valueDate: "2024-01-02",
    reversal: false,
    bankReference: "REF1",
    endToEndId: null,
    customerReference: null,
    creditorReference: null,
    remittanceInformation: null,
    description: "rent",
    counterparty: NO_COUNTERPARTY,
    bankCodes: NO_BANK_CODES,
    chargesMinor: null,
    batch: null,
    attributes: {},
    raw: ":61:...",
    location: { line: 7, record: ":61:" },
  };

  it("a line that fits is recorded as it is; one that does not is STATEMENT_MALFORMED at its line, naming the field", () => {
    expect(lineData(parsed, "ref:REF1#1", 1)).toMatchObject({ lineId: "ref:REF1#1", amountMinor: "1234", location: { line: 7, record: ":61:" } });
    let caught: unknown;
    try {
      lineData({ ...parsed, counterparty: { ...NO_COUNTERPARTY, name: "n".repeat(fieldLengthMax + 1) } }, "ref:REF1#1", 1);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TrueupError);
    expect(caught).toMatchObject({ code: "STATEMENT_MALFORMED", detail: { location: { line: 7, record: ":61:" }, field: "counterparty.name" } });
  });

  it("an importer's extra property never reaches the recorded line", () => {
    const extra = { ...parsed, counterparty: { ...NO_COUNTERPARTY, nickname: "x" } } as ParsedLine;
    expect(Object.keys(lineData(extra, "ref:REF1#1", 1).counterparty)).toEqual(["name", "iban", "accountNumber", "bic"]);
  });

  describe("line ids", () => {
    it("the bank's reference, numbered by occurrence; a reference too long for an id is hashed", () => {
      const counter = new LineIdCounter();
      expect([counter.next(parsed), counter.next(parsed), counter.next({ ...parsed, bankReference: "REF2" })]).toEqual(["ref:REF1#1", "ref:REF1#2", "ref:REF2#1"]);
      const long = baseLineId({ ...parsed, bankReference: "R".repeat(400) });
      expect(long).toMatch(/^refhash:[0-9a-f]{32}$/);
      // Room for "ref:" and "#" + an occurrence of up to 11 digits within the 200 characters of an id.
      expect(baseLineId({ ...parsed, bankReference: "R".repeat(184) })).toBe(`ref:${"R".repeat(184)}`);
      expect(baseLineId({ ...parsed, bankReference: "R".repeat(185) })).toMatch(/^refhash:/);
    });

    it("without a reference, a hash of the content: equal lines share it (then the occurrence tells them apart), raw and location do not count", () => {
      const noRef = { ...parsed, bankReference: null };
      const id = baseLineId(noRef);
      expect(id).toMatch(/^hash:[0-9a-f]{32}$/);
      expect(baseLineId({ ...noRef, raw: "other text", location: { line: 99 } })).toBe(id);
      for (const changed of [{ amountMinor: 1235n }, { side: "debit" as const }, { valueDate: "2024-01-03" }, { description: "rent 2" }, { counterparty: { ...NO_COUNTERPARTY, name: "A" } }]) {
        expect(baseLineId({ ...noRef, ...changed })).not.toBe(id);
      }
      const counter = new LineIdCounter();
      expect([counter.next(noRef), counter.next(noRef)]).toEqual([`${id}#1`, `${id}#2`]);
    });
  });
});
