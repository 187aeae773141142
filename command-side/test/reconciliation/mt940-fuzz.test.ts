// Fuzz: thousands of mutations of the real MT940 files and our MT942
// sample (characters deleted, inserted, replaced; lines dropped, doubled or
// swapped; the file cut anywhere) fed in random chunk sizes. Every outcome
// is either a complete parse whose every line and header fits the event
// schemas (what every store can hold), or a TrueupError with a 1-based line
// in its location. Never another exception (a TypeError on hostile input is
// a bug), never a hang (each run is a bounded, linear pass).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { TrueupError, reconciliationEventSchemas, statementLineDataSchema } from "@trueup/contracts";
import type { ParsedBalance, ParsedLine, ParsedStatement } from "@trueup/contracts";
import { fixture, parse } from "./mt940-support.ts";

const SAMPLES = [fixture("cmxl-mt940.sta"), fixture("betterplace-sepa_mt9401.sta").split("\n-\n").slice(0, 6).join("\n-\n")];

const ALPHABET = [...Array.from("0123456789CDRNEFS:?/+-,. {}\n\r"), ":61:", ":86:", ":20:", ":60F:", ":62F:", ":90D:", "-}", "{4:", "?20", "/EREF/", "//", "\u00e9", "\u0000"];

type Mutation =
  | { kind: "delete"; at: number; length: number }
  | { kind: "insert"; at: number; text: string }
  | { kind: "replace"; at: number; text: string }
  | { kind: "dropLine"; at: number }
  | { kind: "doubleLine"; at: number }
  | { kind: "swapLines"; at: number; with: number }
  | { kind: "cut"; at: number };

const fragment = fc.array(fc.constantFrom(...ALPHABET), { minLength: 1, maxLength: 6 }).map((parts) => parts.join(""));
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), text: fragment }),
  fc.record({ kind: fc.constant("replace" as const), at: fc.nat(), text: fragment }),
  fc.record({ kind: fc.constant("dropLine" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("doubleLine" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("swapLines" as const), at: fc.nat(), with: fc.nat() }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
);

function mutate(text: string, m: Mutation): string {
  const at = m.at % (text.length + 1);
  const lines = text.split("\n");
  const line = m.at % lines.length;
  switch (m.kind) {
    case "delete":
      return text.slice(0, at) + text.slice(at + m.length);
    case "insert":
      return text.slice(0, at) + m.text + text.slice(at);
    case "replace":
      return text.slice(0, at) + m.text + text.slice(at + m.text.length);
    case "dropLine":
      return lines.filter((_, i) => i !== line).join("\n");
    case "doubleLine":
      return lines.flatMap((l, i) => (i === line ? [l, l] : [l])).join("\n");
    case "swapLines": {
      const other = m.with % lines.length;
      return lines.map((l, i) => (i === line ? (lines[other] ?? l) : i === other ? (lines[line] ?? l) : l)).join("\n");
    }
    case "cut":
      return text.slice(0, at);
  }
}

function lineData(line: ParsedLine): unknown {
  return {
    ...line,
    lineId: "ref:fuzz#1",
    lineNumber: 1,
    amountMinor: String(line.amountMinor),
    chargesMinor: line.chargesMinor === null ? null : String(line.chargesMinor),
    batch: null,
  };
}

function balanceData(balance: ParsedBalance | null): unknown {
  return balance === null ? null : { amountMinor: String(balance.amountMinor), side: balance.side, currency: balance.currency, date: balance.date };
}

function expectStorable(statement: ParsedStatement): void {
  const shape = reconciliationEventSchemas.StatementImported.shape;
  shape.account.parse({ iban: statement.account.iban, accountNumber: statement.account.accountNumber, bankId: statement.account.bankId });
  for (const key of ["statementReference", "sequenceNumber", "pageNumber", "createdAt"] as const) shape[key].parse(statement[key]);
  shape.periodStart.parse(statement.periodStart);
  shape.periodEnd.parse(statement.periodEnd);
  shape.currency.parse(statement.currency);
  for (const balance of [statement.openingBalance, statement.closingBalance, statement.availableBalance]) shape.openingBalance.parse(balanceData(balance));
}

describe("MT940 fuzz over mutated real samples", () => {
  it("either parses to storable lines and headers or fails with a located TrueupError", async () => {
    let parsedCount = 0;
    let refusedCount = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...SAMPLES),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.constantFrom(1, 3, 64, 4096, 1 << 20),
        async (sample, mutations, chunkSize) => {
          const text = mutations.reduce(mutate, sample);
          try {
            const { items, lines, statements } = await parse(text, { chunkSize });
            for (const line of lines) statementLineDataSchema.parse(lineData(line));
            for (const statement of statements) expectStorable(statement);
            expect(items.at(-1)?.kind).toBe("file");
            parsedCount++;
          } catch (error) {
            if (!(error instanceof TrueupError)) throw error;
            const location = error.detail?.location as { line?: unknown } | undefined;
            expect(Number.isInteger(location?.line) && (location?.line as number) >= 1).toBe(true);
            refusedCount++;
          }
        },
      ),
      { numRuns: 2000 },
    );
    // Both outcomes must occur, or the mutations are not exercising the parser.
    expect(parsedCount).toBeGreaterThan(100);
    expect(refusedCount).toBeGreaterThan(100);
  });
});
