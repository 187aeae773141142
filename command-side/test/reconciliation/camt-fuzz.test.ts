// Proves, over thousands of mutations of real and built camt files (bytes
// replaced, ranges deleted, XML tokens inserted, truncations, elements
// duplicated or removed), that the importer either yields items every store
// can hold (each line passes the stored event's schema) or fails with a
// located TrueupError of a STATEMENT_ code: never another exception, never
// a hang. And that the outcome is the same whatever the chunk size.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { TrueupError, isDateInRange, sourceLocationSchema, statementLineDataSchema } from "@trueup/contracts";
import type { ParsedLine, StatementItem } from "@trueup/contracts";
import { balance, camtDocument, entry, fixture, importCamt, section, transaction } from "./camt-samples.ts";
import { mutateText, textMutations } from "./text-mutation.ts";
import type { TextMutation } from "./text-mutation.ts";

const BUILT = camtDocument({
  message: "052",
  version: "04",
  prefix: "ns2",
  sections: [
    section({
      balances: [balance("OPBD", "10.00", "CRDT", "2026-03-30"), balance("CLBD", "5.00", "CRDT", "2026-03-31")],
      summary: "<TxsSummry><TtlNtries><NbOfNtries>2</NbOfNtries><Sum>15.00</Sum></TtlNtries></TxsSummry>",
      entries: [
        entry({ amount: "5.00", side: "CRDT", reference: "A", charges: `<Chrgs><Rcrd><Amt Ccy="EUR">0.10</Amt></Rcrd></Chrgs>`, transactions: [transaction({ debtor: ["D", "DE02120300000000202051"], creditorReference: "RF18539007547034" })] }),
        entry({ amount: "10.00", side: "DBIT", reversal: false, reference: "B", transactions: [transaction({ amount: "4.00", side: "DBIT", reference: "B1" }), transaction({ amount: "6.00", remittance: ["x", "y"] })] }),
      ],
    }),
  ],
});

const SAMPLES = [fixture("camt053.v2.minimal.xml"), fixture("camt053.v8.xml"), fixture("camt054.v8.xml"), BUILT];

const TOKENS = ["<", ">", "/", "&", "&amp;", "&bogus;", "&#0;", "<![CDATA[1.00]]>", "<!--", "-->", "<!DOCTYPE d>", "<?pi x?>", ' xmlns="urn:x"', ' Ccy="EUR"', ' Ccy="XXX"', "</Ntry>", "<Ntry>", "<TxDtls>", "</TxDtls>", "ns2:", "-", ".", ",", "9", "\r\n", "\u0000", "é", "\uD800"] as const;

type Mutation = TextMutation | { kind: "duplicate"; at: number } | { kind: "remove"; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  ...textMutations(TOKENS, { deleteMax: 60 }),
  fc.record({ kind: fc.constant("duplicate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("remove" as const), at: fc.nat() }),
);

/** The element starting at the n-th start tag (mod their count), as [start, end) of the text; null when it has no end tag. */
function elementAt(text: string, n: number): [number, number] | null {
  const starts = [...text.matchAll(/<([A-Za-z][\w:]*)>/g)];
  const match = starts[n % Math.max(starts.length, 1)];
  if (match?.[1] === undefined) return null;
  const close = `</${match[1]}>`;
  const end = text.indexOf(close, match.index);
  return end < 0 ? null : [match.index, end + close.length];
}

function mutate(text: string, m: Mutation): string {
  switch (m.kind) {
    case "duplicate": {
      const span = elementAt(text, m.at);
      return span === null ? text : text.slice(0, span[1]) + text.slice(span[0], span[1]) + text.slice(span[1]);
    }
    case "remove": {
      const span = elementAt(text, m.at);
      return span === null ? text : text.slice(0, span[0]) + text.slice(span[1]);
    }
    default:
      return mutateText(text, m);
  }
}

type Outcome = { ok: true; items: StatementItem[] } | { ok: false; code: string; location: unknown };

async function outcome(text: string, chunkSize: number): Promise<Outcome> {
  try {
    return { ok: true, items: await importCamt(text, { chunkSize, format: detectOr(text) }) };
  } catch (error) {
    if (!(error instanceof TrueupError)) throw error;
    return { ok: false, code: error.code, location: (error.detail as { location?: unknown } | undefined)?.location };
  }
}

/** The sample's own format, so mutations test the parser rather than the format check. */
function detectOr(text: string): "camt.052" | "camt.053" | "camt.054" {
  if (text.includes("camt.052.001")) return "camt.052";
  if (text.includes("camt.054.001")) return "camt.054";
  return "camt.053";
}

/**
 * What must not depend on the chunking. saxes notices some well-formedness
 * faults (text outside the root) only when it flushes text, which happens
 * at a chunk's end: the line it names may then be a later one. Everything
 * else, the code and element of every error included, must be the same.
 */
function comparable(result: Outcome): unknown {
  if (result.ok || result.code !== "STATEMENT_MALFORMED") return result;
  const { line: _line, ...where } = result.location as { line: number };
  return { ...result, location: where };
}

/** Every line fits the stored event (StatementLinesRecorded) as the import would write it. */
function storable(line: ParsedLine): void {
  statementLineDataSchema.parse({
    ...line,
    lineId: "ref:x#1",
    lineNumber: 1,
    amountMinor: String(line.amountMinor),
    chargesMinor: line.chargesMinor === null ? null : String(line.chargesMinor),
    batch: line.batch === null ? null : { ...line.batch, amountMinor: String(line.batch.amountMinor) },
  });
  for (const date of [line.bookingDate, line.valueDate]) if (date !== null) expect(isDateInRange(date)).toBe(true);
  expect(Object.keys(line.attributes).length).toBeLessThanOrEqual(32);
}

function checkOutcome(result: Outcome): void {
  if (!result.ok) {
    expect(result.code.startsWith("STATEMENT_")).toBe(true);
    sourceLocationSchema.parse(result.location);
    return;
  }
  expect(result.items.at(-1)?.kind).toBe("file");
  let sectionLines = 0;
  for (const item of result.items) {
    if (item.kind === "line") {
      storable(item.line);
      sectionLines++;
    } else if (item.kind === "statement") {
      expect(item.statement.lineCount).toBe(sectionLines);
      sourceLocationSchema.parse(item.statement.location);
      sectionLines = 0;
    }
  }
}

describe("camt fuzz", () => {
  it("mutated samples: storable items or a located STATEMENT_ error, the same in 1 to 64-character chunks as whole", { timeout: 240_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...SAMPLES.keys()), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 64 }), async (sample, mutations, chunkSize) => {
        const text = mutations.reduce(mutate, SAMPLES[sample] ?? "");
        const whole = await outcome(text, Math.max(text.length, 1));
        checkOutcome(whole);
        expect(comparable(await outcome(text, chunkSize))).toEqual(comparable(whole));
      }),
      { numRuns: 2000, seed: Number(process.env.CAMT_FUZZ_SEED ?? 9053) },
    );
  });

  it("every sample itself imports (the mutations start from valid files)", async () => {
    for (const text of SAMPLES) {
      const result = await outcome(text, 4096);
      expect(result.ok).toBe(true);
      checkOutcome(result);
    }
  });
});
