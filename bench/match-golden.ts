// Golden hashes of the matching engine's output: a change meant to make the
// engine faster must leave what it says untouched, byte for byte. Prints,
// per case, the sha256 of JSON.stringify of the whole MatchResult (bigints
// as strings): proposals, near misses, bounds and counts.
//   node --import tsx bench/match-golden.ts [--write FILE | --check FILE] [--large]
// Cases: the bench's books at 100,000 pairs (its seed and rules), smaller
// books at other seeds, and the same books under other rules (invoice
// numbers, partials, N:M groups, a relative tolerance, hints), so that the
// code paths the bench's rules leave out are covered too. `--large` adds
// 1,000,000 pairs with the time budget lifted (the only way its output is
// deterministic; minutes, and several GB of heap).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { matchingRulesSchema } from "@trueup/contracts";
import type { MatchingRules } from "@trueup/contracts";
import { nameKey, proposeMatches } from "../command-side/src/reconciliation/matching/index.ts";
import type { CounterpartyHint, MatchResult } from "../command-side/src/reconciliation/matching/index.ts";
import { generateBooks } from "./lib/match-books.ts";
import type { Books } from "./lib/match-books.ts";

/** bench/match.ts's BOOKS_SEED. */
const BENCH_SEED = 20_260_101;
/** Lifts the time budget for the large case: its cut would make the output depend on the machine. */
const NO_BUDGET_MS = 2_000_000_000;
/** Every this-many-th named external item gets a hint in the "other rules" cases. */
const HINT_EVERY = 7;

const OTHER_RULES: MatchingRules = matchingRulesSchema.parse({
  rules: [
    { kind: "reference", id: "ref", fields: ["endToEndId", "bankReference", "customerReference", "creditorReference", "invoiceNumber"], invoicePattern: "INV-2026-(\\d{8})", dateWindowDays: 10, allowTolerance: true, allowPartial: true },
    { kind: "amountDate", id: "amount-date", dateWindowDays: 3, nameSimilarityMin: 0, allowTolerance: true },
    { kind: "group", id: "group", shapes: ["1:N", "N:1", "N:M"], dateWindowDays: 3, groupSizeMax: 4, allowTolerance: true },
  ],
  tolerance: { absoluteMinor: "300", basisPoints: 50 },
  writeOffAccount: "6800",
  autoConfirmScoreMin: 85,
});

/** Hints learned from "earlier" matches: some counterparties (by name key, or IBAN) against the ledger's contra accounts. */
function hintsFor(books: Books): CounterpartyHint[] {
  const hints: CounterpartyHint[] = [];
  const accounts = ["1400", "1600", "8400", "4900"];
  books.external.forEach((item, k) => {
    if (k % HINT_EVERY !== 0) return;
    const key = k % (2 * HINT_EVERY) === 0 ? nameKey(item.counterpartyName) : item.counterpartyIban;
    if (key !== null) hints.push({ counterparty: key, ledgerAccount: accounts[k % accounts.length] ?? "1400", confirmations: 1 + (k % 5) });
  });
  return hints;
}

interface Case {
  readonly name: string;
  readonly run: () => MatchResult;
}

function benchCase(pairs: number, seed: number, variant: "bench rules" | "other rules", budgetMs?: number): Case {
  return {
    name: `${pairs} pairs, seed ${seed}, ${variant}`,
    run: () => {
      const books = generateBooks({ pairs, seed });
      const rules = variant === "bench rules" ? books.rules : OTHER_RULES;
      const hints = variant === "bench rules" ? [] : hintsFor(books);
      return proposeMatches({ external: books.external, internal: books.internal, rules, hints, limits: budgetMs === undefined ? {} : { timeBudgetMs: budgetMs } });
    },
  };
}

const bigintAsString = (_key: string, value: unknown): unknown => (typeof value === "bigint" ? value.toString() : value);

/**
 * sha256 of JSON.stringify(result), fed piece by piece: at a million items
 * the whole text is longer than a string may be. The same bytes as the one
 * string (same keys in the same order, arrays element by element).
 */
function hashOf(result: MatchResult): string {
  const hash = createHash("sha256");
  const entries = Object.entries(result);
  hash.update("{");
  entries.forEach(([key, value], k) => {
    hash.update(`${k === 0 ? "" : ","}${JSON.stringify(key)}:`);
    if (!Array.isArray(value)) {
      hash.update(JSON.stringify(value, bigintAsString));
      return;
    }
    hash.update("[");
    value.forEach((element: unknown, i) => hash.update(`${i === 0 ? "" : ","}${JSON.stringify(element, bigintAsString)}`));
    hash.update("]");
  });
  hash.update("}");
  return hash.digest("hex");
}

const { values } = parseArgs({ options: { write: { type: "string" }, check: { type: "string" }, large: { type: "boolean" }, only: { type: "string" } }, strict: true });
const cases: Case[] = [
  benchCase(100_000, BENCH_SEED, "bench rules"),
  benchCase(2_000, 1, "bench rules"),
  benchCase(10_000, 2, "bench rules"),
  benchCase(10_000, 3, "other rules"),
  benchCase(30_000, BENCH_SEED, "other rules"),
  ...(values.large === true ? [benchCase(1_000_000, BENCH_SEED, "bench rules", NO_BUDGET_MS)] : []),
];
const expected: Record<string, string> = values.check === undefined ? {} : (JSON.parse(readFileSync(values.check, "utf8")) as Record<string, string>);
const hashes: Record<string, string> = {};
let mismatches = 0;
for (const c of cases) {
  if (values.only !== undefined && !c.name.includes(values.only)) continue;
  const started = performance.now();
  const result = c.run();
  const seconds = (performance.now() - started) / 1000;
  assert.ok(!result.bounds.some((b) => b.bound === "timeBudgetMs"), `${c.name}: the time budget cut the run, so its output is not a golden one`);
  const hash = hashOf(result);
  hashes[c.name] = hash;
  const want = expected[c.name];
  const verdict = want === undefined ? "" : want === hash ? " same" : " DIFFERENT";
  if (want !== undefined && want !== hash) mismatches++;
  process.stdout.write(`${hash}  ${c.name} (${result.proposals.length} proposals, ${result.nearMisses.length} near misses, ${seconds.toFixed(1)} s)${verdict}\n`);
}
if (values.write !== undefined) writeFileSync(values.write, `${JSON.stringify(hashes, null, 2)}\n`);
if (mismatches > 0) {
  process.stdout.write(`${mismatches} case(s) differ from ${values.check}\n`);
  process.exitCode = 1;
}
