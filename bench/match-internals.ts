// Where the matching engine's memory goes, and what loading a recon stream
// costs: figures behind BENCHMARKS.md "Matching", not targets; prints only.
//   node --expose-gc --import tsx bench/match-internals.ts [--pairs 100000] [--events 150000]
// 1. The generated books, then the engine's prepared items, its indexes, and
//    the result of one run, each as the heap after a full collection plus
//    the typed arrays' memory (held outside the heap: the indexes are typed
//    arrays; the prepared items' figure includes the run's Vocabulary).
// 2. Folding a recon stream of `events` match events (proposals, half of
//    them confirmed) into the decider's state, best of three.
import { parseArgs } from "node:util";
import { generateBooks } from "./lib/match-books.ts";
import { Vocabulary, invoicePatterns, prepareExternal, prepareInternal } from "../command-side/src/reconciliation/matching/prepare.ts";
import { buildIndex } from "../command-side/src/reconciliation/matching/indexes.ts";
import { proposeMatches } from "../command-side/src/reconciliation/matching/index.ts";
import * as recon from "../command-side/src/reconciliation/matches/decider.ts";

const { values } = parseArgs({ options: { pairs: { type: "string", default: "100000" }, events: { type: "string", default: "150000" } } });
const pairs = Number(values.pairs);
const eventsWanted = Number(values.events);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc");
const heapMb = (): number => {
  gc();
  const usage = process.memoryUsage();
  return (usage.heapUsed + usage.arrayBuffers) / 1e6;
};

// The seed bench/match.ts uses (BOOKS_SEED), so the books are the bench's.
const books = generateBooks({ pairs, seed: 20_260_101 });
const afterBooks = heapMb();
const patterns = invoicePatterns(books.rules);
const vocabulary = new Vocabulary();
const external = prepareExternal(books.external, patterns, vocabulary);
const internal = prepareInternal(books.internal, patterns, vocabulary);
const afterPrepared = heapMb();
const indexes = [buildIndex(external, vocabulary), buildIndex(internal, vocabulary)];
const afterIndexes = heapMb();
const result = proposeMatches({ external: books.external, internal: books.internal, rules: books.rules });
const afterResult = heapMb();
const items = external.length + internal.length;
console.log(`books (${pairs} pairs, ${items} items): ${afterBooks.toFixed(0)} MB of heap`);
console.log(`prepared items: ${(afterPrepared - afterBooks).toFixed(0)} MB, ${(((afterPrepared - afterBooks) * 1e6) / items).toFixed(0)} bytes each`);
console.log(`indexes: ${(afterIndexes - afterPrepared).toFixed(0)} MB (${indexes.length} sides)`);
console.log(`result: ${(afterResult - afterIndexes).toFixed(0)} MB, ${(((afterResult - afterIndexes) * 1e6) / result.proposals.length).toFixed(0)} bytes per proposal (${result.proposals.length} proposals)`);

const events: recon.MatchEvent[] = [];
for (let k = 0; events.length < eventsWanted; k++) {
  events.push({ type: "MatchProposed", data: { bankAccountId: "b", matchId: `m${k}`, runId: "r", kind: "1:1", externalIds: [`e${k}`], internalIds: [`i${k}`], currency: "EUR", ruleId: null, score: 90, criteria: [], differenceMinor: "0", writeOff: null, residual: null, ambiguous: false, learned: [], autoConfirmed: k % 2 === 0 } });
}
let bestMs = Infinity;
let live = 0;
for (let round = 0; round < 3; round++) {
  const started = performance.now();
  const state = events.reduce(recon.evolveRecon, recon.initialReconState());
  bestMs = Math.min(bestMs, performance.now() - started);
  live = state.live.size;
}
console.log(`recon stream: ${events.length} events folded in ${bestMs.toFixed(0)} ms (best of 3), ${live} live items`);
