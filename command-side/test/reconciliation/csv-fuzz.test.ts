// Proves, over a few thousand mutations of the real CSV samples (characters
// inserted — quotes, delimiters, line breaks, digits, signs —, ranges
// deleted or repeated, the file cut anywhere), that the CSV importer never
// fails with anything but a TrueupError carrying a 1-based line, never hangs,
// never yields a line the import could not record (its storage check),
// and gives the same answer (the same items, or the same code at the same
// location) whatever the size of the chunks it is fed.
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { TrueupError, csvProfileSchema } from "@trueup/contracts";
import type { CsvProfile } from "@trueup/contracts";
import { STRIPE_PROFILE } from "../../src/reconciliation/importers/csv/stripe.ts";
import { lineData } from "../../src/reconciliation/import/scan.ts";
import { parseCsv } from "./csv-support.ts";

const FIXTURES = new URL("../../../test-support/fixtures/statements/csv/", import.meta.url);
const fixture = (name: string) => readFile(new URL(name, FIXTURES), "utf8");

type Outcome = { ok: true; items: unknown } | { ok: false; code: string; location: unknown };

async function outcome(text: string, profile: CsvProfile, chunkSize: number): Promise<Outcome> {
  try {
    const { items, lines } = await parseCsv(text, profile, { chunkSize, limits: { lineLengthMax: 400, linesMax: 50 } });
    // What the importer yields, the import can record: a line the storage check refuses would be the importer's bug.
    for (const line of lines) expect(() => lineData(line, "ref:x#1", 1)).not.toThrow();
    return { ok: true, items };
  } catch (error) {
    if (!(error instanceof TrueupError)) throw error;
    const location = (error.detail as { location?: { line?: unknown } } | undefined)?.location;
    // Every refusal of a file says where; CSV_PROFILE_REQUIRED is not one (a profile is always given here).
    expect(Number.isInteger(location?.line) && Number(location?.line) >= 1, `${error.code}: ${error.message}`).toBe(true);
    return { ok: false, code: error.code, location };
  }
}

const mutation = (length: number) =>
  fc.oneof(
    fc.record({ kind: fc.constant("insert" as const), at: fc.nat(length), text: fc.stringMatching(/^[",;\r\n\-.0-9a-z \t\uFEFFé]{1,4}$/) }),
    fc.record({ kind: fc.constant("delete" as const), at: fc.nat(length), count: fc.integer({ min: 1, max: 20 }) }),
    fc.record({ kind: fc.constant("repeat" as const), at: fc.nat(length), count: fc.integer({ min: 1, max: 60 }) }),
    fc.record({ kind: fc.constant("cut" as const), at: fc.nat(length) }),
  );

type Mutation = { kind: "insert"; at: number; text: string } | { kind: "delete" | "repeat"; at: number; count: number } | { kind: "cut"; at: number };

function mutate(text: string, mutations: readonly Mutation[]): string {
  let out = text;
  for (const m of mutations) {
    const at = Math.min(m.at, out.length);
    if (m.kind === "insert") out = out.slice(0, at) + m.text + out.slice(at);
    else if (m.kind === "delete") out = out.slice(0, at) + out.slice(at + m.count);
    else if (m.kind === "repeat") out = out.slice(0, at + m.count) + out.slice(at, at + m.count) + out.slice(at + m.count);
    else out = out.slice(0, at);
  }
  return out;
}

describe("the CSV importer under mutation of real samples", () => {
  it("answers every mutation with items or a located TrueupError, the same for any chunking", async () => {
    const samples: [string, CsvProfile][] = [
      [await fixture("stripe-payout-reconciliation.csv"), STRIPE_PROFILE],
      [await fixture("bank-semicolon.csv"), csvProfileSchema.parse(JSON.parse(await fixture("bank-semicolon.profile.json")))],
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...samples),
        fc.array(mutation(1500), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 97 }),
        async ([text, profile], mutations, chunkSize) => {
          const mutated = mutate(text, mutations);
          const whole = await outcome(mutated, profile, 1 << 20);
          const chunked = await outcome(mutated, profile, chunkSize);
          expect(chunked).toEqual(whole);
        },
      ),
      { numRuns: 2500, seed: 20260309, interruptAfterTimeLimit: 60_000 },
    );
  });
});
