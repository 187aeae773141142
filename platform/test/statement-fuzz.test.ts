// Proves, through the HTTP API over a real PostgreSQL, that no mutation of a
// real bank file can crash the import, earn a 5xx or leave a partial write:
// fast-check mutates every sample in test-support/fixtures/statements
// (bytes flipped, cut short, slices repeated or dropped, hostile characters
// inserted) and posts it to the multi-account route. Each answer is either
// - a 4xx problem with a catalogued code and, for a fault in the file, its
//   location, and not one event more in the log; or
// - a 201 whose every statement is complete in the log: its
//   StatementImported on the bank account's stream and exactly the batches
//   it names in its own stream, nothing else written.
// (The importers' own fuzz tests run thousands of mutations each without
// storage; this one runs the whole path, so it runs fewer.)
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_CATALOGUE } from "@trueup/contracts";
import type { Platform } from "./ledger-support.ts";
import { command, key, startPlatform } from "./ledger-support.ts";

const FIXTURES = new URL("../../test-support/fixtures/statements/", import.meta.url);
const LEDGER = "fuzz";
const SAMPLES = [
  "camt/camt053.v2.minimal.xml",
  "camt/camt053.v8.xml",
  "camt/camt054.v8.xml",
  "mt940/cmxl-mt940.sta",
  "mt940/betterplace-sepa_mt9401.sta",
  "bai2/moov-sample1.txt",
  "ofx/ofxparse-bank_medium.ofx",
].map((path) => ({ path, bytes: readFileSync(new URL(path, FIXTURES)) }));
const RUNS = 400;
/** Answers by status, to show both paths ran. */
const tally = new Map<number, number>();

type Mutation =
  | { kind: "flip"; at: number; value: number }
  | { kind: "cut"; at: number }
  | { kind: "repeat"; at: number; length: number }
  | { kind: "drop"; at: number; length: number }
  | { kind: "insert"; at: number; text: string };

const hostile = fc.constantFrom("\u0000", "\r", "\n", ":61:", "<", "</Ntry>", "&amp;", "-", ",", "/", "9999999999999999999999999999999", "99", "?20", "<!DOCTYPE x [<!ENTITY a \"b\">]>", "\uFFFD", "é", "\u2028", "'", '"');
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("repeat" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 400 }) }),
  fc.record({ kind: fc.constant("drop" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 200 }) }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), text: hostile }),
);

function mutate(bytes: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % out.length;
    switch (m.kind) {
      case "flip":
        if (out.length > 0) out[at] = m.value;
        break;
      case "cut":
        out = out.subarray(0, at);
        break;
      case "repeat":
        out = Buffer.concat([out.subarray(0, at + m.length), out.subarray(at)]);
        break;
      case "drop":
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.length)]);
        break;
      case "insert":
        out = Buffer.concat([out.subarray(0, at), Buffer.from(m.text, "utf8"), out.subarray(at)]);
        break;
    }
  }
  return out;
}

interface Answer {
  statements: { statementId: string; bankAccountId: string; newLines: number }[];
}

describe("mutated real statements never crash the import, earn a 5xx or leave a partial write", () => {
  let p: Platform;

  beforeAll(async () => {
    p = await startPlatform();
    expect((await command(p.app, "/ledgers", { ledgerId: LEDGER, name: "Fuzz", baseCurrency: "EUR" })).statusCode).toBe(201);
    expect((await command(p.app, `/ledgers/${LEDGER}/accounts`, { code: "1010", name: "Banks", type: "asset" })).statusCode).toBe(201);
    const accounts: { iban?: string; accountNumber?: string; currency: string }[] = [
      { iban: "NL26VAYB8060476890", currency: "EUR" },
      { iban: "CH2801234000123456789", currency: "CHF" },
      { accountNumber: "45050050/76198810", currency: "EUR" },
      { accountNumber: "10020030/1234567", currency: "EUR" },
      { accountNumber: "BPHKPLPK/320000546101", currency: "PLN" },
      { accountNumber: "10200123456", currency: "CAD" },
      { accountNumber: "12300000012345678", currency: "CAD" },
    ];
    const betterplace = readFileSync(new URL("mt940/betterplace-sepa_mt9401.sta", FIXTURES), "latin1");
    for (const accountNumber of new Set([...betterplace.matchAll(/^:25:(.+?)\r?$/gm)].map((m) => m[1] ?? ""))) accounts.push({ accountNumber, currency: "EUR" });
    for (const [index, account] of accounts.entries()) {
      const response = await command(p.app, `/ledgers/${LEDGER}/bank-accounts`, { bankAccountId: `fz_${String(index)}`, kind: "bank", name: `fuzz ${String(index)}`, ledgerAccount: "1010", ...account });
      expect(response.statusCode, response.body).toBe(201);
    }
  }, 60_000);
  afterAll(async () => {
    await p.close();
  });

  async function eventCount(): Promise<number> {
    const result = await p.db.pool.query<{ n: string }>("SELECT count(*) AS n FROM es_events");
    return Number(result.rows[0]?.n ?? "0");
  }

  /** Every answered statement is whole in the log: listed once, with exactly the batches it names. */
  async function expectComplete(answer: Answer): Promise<void> {
    for (const statement of answer.statements) {
      const listed = await p.db.pool.query<{ batches: number }>(
        "SELECT (data->>'batches')::int AS batches FROM es_events WHERE stream_name = $1 AND type = 'StatementImported' AND data->>'statementId' = $2",
        [`bankaccount-${statement.bankAccountId}`, statement.statementId],
      );
      expect(listed.rows).toHaveLength(1);
      const batches = await p.db.pool.query<{ n: string }>("SELECT count(*) AS n FROM es_events WHERE stream_name = $1", [`statement-${statement.statementId}`]);
      expect(Number(batches.rows[0]?.n)).toBe(listed.rows[0]?.batches);
    }
  }

  it(`answers ${String(RUNS)} mutated samples with a 4xx and nothing written, or a complete 201`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: SAMPLES.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), async (sample, mutations) => {
        const source = SAMPLES[sample];
        if (source === undefined) throw new Error("no sample");
        const before = await eventCount();
        const response = await p.app.inject({
          method: "POST",
          url: `/ledgers/${LEDGER}/statements?acceptFailedChecks=true`,
          payload: mutate(source.bytes, mutations),
          headers: { "idempotency-key": key(), "content-type": "application/octet-stream" },
        });
        tally.set(response.statusCode, (tally.get(response.statusCode) ?? 0) + 1);
        expect(response.statusCode, `${source.path}: ${response.body}`).toBeLessThan(500);
        if (response.statusCode === 201) {
          await expectComplete(response.json<Answer>());
          return;
        }
        const problem = response.json<{ code: string; location?: { line: number } }>();
        expect(Object.keys(ERROR_CATALOGUE), response.body).toContain(problem.code);
        if (problem.code.startsWith("STATEMENT_") && problem.code !== "STATEMENT_ACCOUNT_UNKNOWN" && problem.code !== "STATEMENT_FORMAT_UNKNOWN" && problem.code !== "STATEMENT_EMPTY") {
          expect(problem.location?.line, response.body).toBeGreaterThanOrEqual(1);
        }
        expect(await eventCount()).toBe(before);
      }),
      // A fixed seed keeps CI repeatable; FUZZ_SEED=<n> explores others.
      { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? "20261201") },
    );
    // Both kinds of answer were exercised: some mutations still import, most are refused.
    const refused = [...tally].filter(([status]) => status >= 400).reduce((n, [, count]) => n + count, 0);
    expect(tally.get(201) ?? 0).toBeGreaterThan(RUNS / 50);
    expect(refused).toBeGreaterThan(RUNS / 2);
  }, 300_000);
});
