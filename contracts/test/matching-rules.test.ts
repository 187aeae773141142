// Proves what a bank account's matching rules may say: defaults filled in,
// every limit enforced with the offending path, and invoice patterns that
// could backtrack exponentially (ReDoS over a bank's remittance text)
// refused before they are ever run.
import { describe, expect, it } from "vitest";
import { DEFAULT_MATCHING_RULES, MATCHING_RULE_LIMITS, invoicePatternProblem, matchingRulesSchema } from "../src/index.ts";

const paths = (input: unknown): string[] => {
  const parsed = matchingRulesSchema.safeParse(input);
  return parsed.success ? [] : parsed.error.issues.map((issue) => issue.path.join("."));
};

describe("matching rules", () => {
  it("fills in defaults", () => {
    const parsed = matchingRulesSchema.parse({ rules: [{ kind: "amountDate", id: "ad" }] });
    expect(parsed).toEqual({
      rules: [{ kind: "amountDate", id: "ad", dateWindowDays: 3, nameSimilarityMin: 0, allowTolerance: false }],
      autoConfirmScoreMin: 90,
      tolerance: { absoluteMinor: "0", basisPoints: 0 },
      writeOffAccount: null,
      exceptionAgeingDays: 30,
      continuous: true,
    });
    expect(DEFAULT_MATCHING_RULES.rules.map((r) => r.kind)).toEqual(["reference", "amountDate", "group"]);
  });

  it("refuses what it cannot hold or search, naming the field", () => {
    expect(paths({ rules: [] })).toEqual(["rules"]);
    expect(paths({ rules: Array.from({ length: MATCHING_RULE_LIMITS.rulesMax + 1 }, (_, k) => ({ kind: "amountDate", id: `r${k}` })) })).toEqual(["rules"]);
    expect(paths({ rules: [{ kind: "amountDate", id: "a", dateWindowDays: 32 }] })).toEqual(["rules.0.dateWindowDays"]);
    expect(paths({ rules: [{ kind: "amountDate", id: "a", dateWindowDays: 1.5 }] })).toEqual(["rules.0.dateWindowDays"]);
    expect(paths({ rules: [{ kind: "group", id: "g", shapes: ["1:N"], groupSizeMax: 9 }] })).toEqual(["rules.0.groupSizeMax"]);
    expect(paths({ rules: [{ kind: "group", id: "g", shapes: [] }] })).toEqual(["rules.0.shapes"]);
    expect(paths({ rules: [{ kind: "fuzzy", id: "x" }] })).toEqual(["rules.0.kind"]);
    expect(paths({ rules: [{ kind: "amountDate", id: "a", extra: 1 }] })).toEqual(["rules.0"]);
    expect(paths({ rules: [{ kind: "amountDate", id: "a" }, { kind: "reference", id: "a", fields: ["endToEndId"] }] })).toEqual(["rules.1.id"]);
    expect(paths({ rules: [{ kind: "amountDate", id: "a" }], tolerance: { absoluteMinor: "1.5" } })).toEqual(["tolerance.absoluteMinor"]);
    expect(paths({ rules: [{ kind: "amountDate", id: "a" }], tolerance: { basisPoints: 1001 } })).toEqual(["tolerance.basisPoints"]);
    expect(paths({ rules: [{ kind: "amountDate", id: "a" }], autoConfirmScoreMin: 49 })).toEqual(["autoConfirmScoreMin"]);
    expect(paths({ rules: [{ kind: "amountDate", id: "a" }], autoConfirmScoreMin: null })).toEqual([]);
  });

  it("needs a write-off account for tolerance and a pattern for invoice numbers", () => {
    expect(paths({ rules: [{ kind: "amountDate", id: "a", allowTolerance: true }] })).toEqual(["rules.0.allowTolerance"]);
    expect(paths({ rules: [{ kind: "amountDate", id: "a", allowTolerance: true }], writeOffAccount: "6800" })).toEqual([]);
    expect(paths({ rules: [{ kind: "reference", id: "r", fields: ["invoiceNumber"] }] })).toEqual(["rules.0.invoicePattern"]);
  });

  it("accepts ordinary invoice patterns", () => {
    for (const pattern of ["INV-?(\\d{4,10})", "(?:RE|INV)[ -]?(\\d+)", "(?<number>\\d{6})", "[A-Z]{2}\\d+(?:/\\d+)?", "(INV|RE)(\\d+)"]) {
      expect(invoicePatternProblem(pattern), pattern).toBeUndefined();
    }
  });

  it("refuses patterns that can backtrack exponentially, and ones that do not compile", () => {
    for (const pattern of ["(a+)+$", "(a|aa)*b", "(\\d+\\s?)+X", "((ab)*)+", "(?:x+)*", "(a)\\1", "(?=a)b", "(?<!a)b", "([", "\\p{Nope}", "INV\u0000", "INV\ud800"]) {
      expect(invoicePatternProblem(pattern), pattern).toBeDefined();
    }
    expect(paths({ rules: [{ kind: "reference", id: "r", fields: ["invoiceNumber"], invoicePattern: "(a+)+$" }] })).toEqual(["rules.0.invoicePattern"]);
    expect(paths({ rules: [{ kind: "reference", id: "r", fields: ["invoiceNumber"], invoicePattern: "x".repeat(201) }] })).toEqual(["rules.0.invoicePattern"]);
  });
});
