// Matching bench: the matching engine (command-side/src/reconciliation/
// matching/) over generated books of one bank account (bench/lib/
// match-books.ts: references, drifting dates and amounts, groups, netted PSP
// payouts, noise; both sides shuffled).
//   (a) 100,000 counterparts: proposeMatches timed (best of 2; target
//       <= 5 s), and its quality against the designed matches: recall (a
//       proposal with exactly the designed item sets; target >= 99 %), false
//       confirmations (an automatic confirmation that is not a designed
//       match; target 0), proposals by kind, ambiguity, the bounds hit.
//       Beside it, the limit: a bare hash join on reference + amount over the
//       same items, timed in the same run, and the ratio engine / join.
//   (b) the same books re-shuffled: the proposals must serialize identically.
//   (c) 1,000,000 counterparts: one run timed (target <= 60 s), the
//       process's peak RSS (target <= 4096 MB) and the recall.
// Generating the books is never timed.
//
// `npm run bench:match` (full run: writes bench/results/match.json);
// `npm run bench:match -- --pairs 10000` is a smoke run (results to a
// temporary file: not comparable to the targets; (c) then runs ten times
// the pairs). `--skip-million` leaves out (c) (a partial run: its results
// go to a temporary file too).
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { proposeMatches } from "../command-side/src/reconciliation/matching/engine.ts";
import { DEFAULT_MATCH_LIMITS } from "../command-side/src/reconciliation/matching/types.ts";
import type { ExternalItem, InternalItem, MatchKind, MatchLimits, MatchResult, NearMiss, Proposal } from "../command-side/src/reconciliation/matching/types.ts";
import { seededRandom } from "../test-support/random.ts";
import { MachineLoad } from "./lib/machine-load.ts";
import { generateBooks } from "./lib/match-books.ts";
import type { Books, DesignedCategory, DesignedMatch } from "./lib/match-books.ts";
import { atLeast, formatTable, info, writeResults } from "./lib/results.ts";
import type { Figure } from "./lib/results.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const FULL_PAIRS = 100_000;
const PAIRS_MIN = 100;
/** (c) is this many times (a)'s pairs: 1,000,000 in a full run. */
const LARGE_FACTOR = 10;
const TARGETS = { engineSecondsMax: 5, recallPercentMin: 99, largeSecondsMax: 60, peakRssMbMax: 4096 } as const;
/** Engine runs in (a); the fastest is the figure. The hash join runs as often, interleaved with them. */
const ENGINE_ROUNDS = 2;
const BOOKS_SEED = 20_260_101;
const RESHUFFLE_SEED = 77;
/** Missed designed matches (and false confirmations) shown in the log per category, to say what the engine did instead. */
const EXAMPLES_PER_CATEGORY = 3;
/** Above this much CPU used by other programs during a turn, the run warns that its figures are skewed. */
const OTHER_LOAD_WARN_CORES = 0.25;
const CATEGORIES: readonly DesignedCategory[] = ["reference", "drift", "group", "payout"];
const KINDS: readonly MatchKind[] = ["1:1", "1:N", "N:1", "N:M"];
const BOUND_NAMES = Object.keys(DEFAULT_MATCH_LIMITS) as (keyof MatchLimits)[];

const log = (message: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
};
const count = (n: number): string => n.toLocaleString("en-US");

function atMost(name: string, value: number, unit: string, maximum: number): Figure {
  return { name, value, unit, target: `<= ${maximum}`, pass: value <= maximum };
}

function exactly(name: string, value: number, unit: string, expected: number): Figure {
  return { name, value, unit, target: `= ${expected}`, pass: value === expected };
}

function options(): { pairs: number; skipMillion: boolean } {
  const { values } = parseArgs({ options: { pairs: { type: "string" }, "skip-million": { type: "boolean" } }, strict: true });
  const pairs = values.pairs === undefined ? FULL_PAIRS : Number(values.pairs);
  if (!Number.isInteger(pairs) || pairs < PAIRS_MIN || pairs > FULL_PAIRS) throw new RangeError(`--pairs must be a whole number from ${PAIRS_MIN} to ${count(FULL_PAIRS)}, got ${values.pairs}`);
  return { pairs, skipMillion: values["skip-million"] === true };
}

function rssMb(): number {
  return process.memoryUsage.rss() / 1024 / 1024;
}

/** The most memory this process has held resident since it started (getrusage's maxRSS is in KiB on Linux). */
function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

function generate(pairs: number): Books {
  const started = performance.now();
  const books = generateBooks({ pairs, seed: BOOKS_SEED });
  log(`generated ${count(pairs)} pairs in ${((performance.now() - started) / 1000).toFixed(1)} s: ${count(books.external.length)} external, ${count(books.internal.length)} internal items, ${count(books.designed.length)} designed matches; RSS ${rssMb().toFixed(0)} MB`);
  return books;
}

function timedEngine(books: Pick<Books, "external" | "internal" | "rules">, load: MachineLoad, workload: string): { result: MatchResult; elapsedMs: number } {
  load.begin();
  const started = performance.now();
  const result = proposeMatches({ external: books.external, internal: books.internal, rules: books.rules });
  const elapsedMs = performance.now() - started;
  load.end(workload);
  return { result, elapsedMs };
}

/**
 * The limit: what finding exact reference pairs costs at least, a bare
 * in-memory hash join on (reference, amount) with no scoring, no windows,
 * no groups. Returns the pairs it found (so the work cannot be skipped).
 */
function hashJoin(external: readonly ExternalItem[], internal: readonly InternalItem[]): number {
  const byKey = new Map<string, InternalItem>();
  for (const item of internal) if (item.reference !== null) byKey.set(`${item.reference}|${item.amountMinor}`, item);
  let found = 0;
  for (const item of external) {
    const amount = item.amountMinor;
    if (item.endToEndId !== null && byKey.has(`${item.endToEndId}|${amount}`)) found++;
    else if (item.customerReference !== null && byKey.has(`${item.customerReference}|${amount}`)) found++;
    else if (item.bankReference !== null && byKey.has(`${item.bankReference}|${amount}`)) found++;
  }
  return found;
}

function timedJoin(books: Books, load: MachineLoad): { found: number; elapsedMs: number } {
  load.begin();
  const started = performance.now();
  const found = hashJoin(books.external, books.internal);
  const elapsedMs = performance.now() - started;
  load.end("hash-join");
  return { found, elapsedMs };
}

const matchKey = (externalIds: readonly string[], internalIds: readonly string[]): string => `${[...externalIds].sort().join(",")}|${[...internalIds].sort().join(",")}`;

interface Quality {
  readonly found: Readonly<Record<DesignedCategory, number>>;
  readonly designed: Readonly<Record<DesignedCategory, number>>;
  readonly recallPercent: number;
  readonly falseConfirmations: number;
  /** Proposals that are not a designed match, confirmed or not. */
  readonly undesigned: number;
  /** Broken promises of the output: an item in two proposals, an unknown id, a differenceMinor that is not Σ external − Σ internal, counts that disagree with the proposals. */
  readonly integrityProblems: number;
  readonly missed: Readonly<Record<DesignedCategory, readonly DesignedMatch[]>>;
  readonly falselyConfirmed: readonly Proposal[];
}

const perCategory = <T>(value: () => T): Record<DesignedCategory, T> => ({ reference: value(), drift: value(), group: value(), payout: value() });

function integrityProblems(books: Books, result: MatchResult): number {
  const externalAmounts = new Map(books.external.map((e) => [e.id, e.amountMinor]));
  const internalAmounts = new Map(books.internal.map((i) => [i.id, i.amountMinor]));
  const seen = new Set<string>();
  let problems = 0;
  const byKind: Record<MatchKind, number> = { "1:1": 0, "1:N": 0, "N:1": 0, "N:M": 0 };
  for (const p of result.proposals) {
    byKind[p.kind]++;
    let difference = 0n;
    for (const [ids, amounts, sign, side] of [[p.externalIds, externalAmounts, 1n, "e"], [p.internalIds, internalAmounts, -1n, "i"]] as const) {
      for (const id of ids) {
        const amount = amounts.get(id);
        if (amount === undefined) problems++;
        else difference += sign * amount;
        if (seen.has(`${side}${id}`)) problems++;
        seen.add(`${side}${id}`);
      }
    }
    if (difference !== p.differenceMinor) problems++;
  }
  for (const kind of KINDS) if (byKind[kind] !== result.counts.proposals[kind]) problems++;
  return problems;
}

function quality(books: Books, result: MatchResult): Quality {
  const designedByKey = new Map<string, DesignedMatch>();
  for (const d of books.designed) designedByKey.set(matchKey(d.externalIds, d.internalIds), d);
  const foundKeys = new Set<string>();
  const falselyConfirmed: Proposal[] = [];
  let undesigned = 0;
  for (const p of result.proposals) {
    const key = matchKey(p.externalIds, p.internalIds);
    if (designedByKey.has(key)) {
      foundKeys.add(key);
      continue;
    }
    undesigned++;
    if (p.autoConfirm) falselyConfirmed.push(p);
  }
  const found = perCategory(() => 0);
  const designed = perCategory(() => 0);
  const missed = perCategory((): DesignedMatch[] => []);
  for (const [key, d] of designedByKey) {
    designed[d.category]++;
    if (foundKeys.has(key)) found[d.category]++;
    else if (missed[d.category].length < EXAMPLES_PER_CATEGORY) missed[d.category].push(d);
  }
  const foundAll = CATEGORIES.reduce((n, c) => n + found[c], 0);
  return {
    found,
    designed,
    recallPercent: (100 * foundAll) / Math.max(1, books.designed.length),
    falseConfirmations: falselyConfirmed.length,
    undesigned,
    integrityProblems: integrityProblems(books, result),
    missed,
    falselyConfirmed: falselyConfirmed.slice(0, EXAMPLES_PER_CATEGORY),
  };
}

function qualityFigures(what: string, q: Quality, result: MatchResult): Figure[] {
  return [
    atLeast(`${what}: recall (designed matches proposed exactly)`, q.recallPercent, "%", TARGETS.recallPercentMin),
    ...CATEGORIES.map((c) => info(`${what}: recall, ${c} (${count(q.designed[c])} designed)`, (100 * q.found[c]) / Math.max(1, q.designed[c]), "%")),
    exactly(`${what}: false confirmations (autoConfirm, not a designed match)`, q.falseConfirmations, "proposals", 0),
    exactly(`${what}: output integrity problems (item in two proposals, unknown id, wrong differenceMinor, counts)`, q.integrityProblems, "problems", 0),
    info(`${what}: proposals that are not a designed match`, q.undesigned, "proposals"),
    ...KINDS.map((k) => info(`${what}: proposals ${k}`, result.counts.proposals[k], "proposals")),
    info(`${what}: ambiguous proposals`, result.counts.ambiguous, "proposals"),
    info(`${what}: autoConfirm proposals`, result.counts.autoConfirm, "proposals"),
    ...BOUND_NAMES.map((b) => info(`${what}: bound hit: ${b}`, result.bounds.reduce((sum, hit) => (hit.bound === b ? sum + hit.times : sum), 0), "times")),
  ];
}

// ---- What the engine did with a missed match: the log's evidence. ----

function decimal(amountMinor: bigint): string {
  const negative = amountMinor < 0n;
  const digits = (negative ? -amountMinor : amountMinor).toString().padStart(3, "0");
  return `${negative ? "-" : ""}${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

function describeExternal(e: ExternalItem): string {
  const refs = [["e2e", e.endToEndId], ["cust", e.customerReference], ["bank", e.bankReference]].filter(([, v]) => v !== null).map(([k, v]) => `${k}=${v}`);
  return `${e.id} ${decimal(e.amountMinor)} value ${e.valueDate} booked ${e.bookingDate} ${refs.join(" ")} name="${e.counterpartyName ?? ""}" text="${e.remittanceInformation ?? ""}"`;
}

function describeInternal(i: InternalItem): string {
  return `${i.id} ${decimal(i.amountMinor)} ${i.date} ref=${i.reference ?? "-"} name="${i.counterpartyName ?? ""}" description="${i.description ?? ""}"`;
}

function describeProposal(p: Proposal): string {
  const ambiguity = p.ambiguity === null ? "" : ` AMBIGUOUS with ext [${p.ambiguity.competingExternalIds.join(",")}] int [${p.ambiguity.competingInternalIds.join(",")}]`;
  return `${p.kind} ${p.ruleId} score ${p.score}${p.autoConfirm ? " autoConfirm" : ""} ext [${p.externalIds.join(",")}] int [${p.internalIds.join(",")}] difference ${decimal(p.differenceMinor)}${ambiguity}: ${p.explanation}`;
}

function describeNearMiss(n: NearMiss): string {
  return n.candidates.map((c) => `[${c.itemIds.join(",")}] score ${c.score}: ${c.failures.join("; ")}`).join(" | ");
}

function logMisses(what: string, books: Books, result: MatchResult, q: Quality): void {
  const wanted = new Set<string>();
  for (const c of CATEGORIES) for (const d of q.missed[c]) for (const id of [...d.externalIds, ...d.internalIds]) wanted.add(id);
  for (const p of q.falselyConfirmed) for (const id of [...p.externalIds, ...p.internalIds]) wanted.add(id);
  if (wanted.size === 0) return;
  const external = new Map(books.external.filter((e) => wanted.has(e.id)).map((e) => [e.id, e]));
  const internal = new Map(books.internal.filter((i) => wanted.has(i.id)).map((i) => [i.id, i]));
  const proposalOf = new Map<string, Proposal>();
  for (const p of result.proposals) for (const id of [...p.externalIds, ...p.internalIds]) if (wanted.has(id)) proposalOf.set(id, p);
  const nearMissOf = new Map(result.nearMisses.filter((n) => wanted.has(n.itemId)).map((n) => [n.itemId, n]));
  const describe = (id: string): string => {
    const e = external.get(id);
    if (e !== undefined) return `    external ${describeExternal(e)}`;
    const i = internal.get(id);
    return i === undefined ? `    ${id} (unknown)` : `    internal ${describeInternal(i)}`;
  };
  const items = (externalIds: readonly string[], internalIds: readonly string[]): string[] => [...externalIds, ...internalIds].map(describe);
  const lines: string[] = [];
  for (const c of CATEGORIES) {
    if (q.missed[c].length === 0) continue;
    lines.push(`${what}: ${count(q.designed[c] - q.found[c])} ${c} matches missed; for example:`);
    for (const d of q.missed[c]) {
      lines.push(`  designed ${d.kind}:`, ...items(d.externalIds, d.internalIds));
      const touching = new Set([...d.externalIds, ...d.internalIds].map((id) => proposalOf.get(id)).filter((p) => p !== undefined));
      if (touching.size === 0) lines.push("    proposed: nothing for these items");
      for (const p of touching) lines.push(`    proposed: ${describeProposal(p)}`);
      for (const id of [...d.externalIds, ...d.internalIds]) {
        const near = nearMissOf.get(id);
        if (near !== undefined) lines.push(`    near misses of ${id}: ${describeNearMiss(near)}`);
      }
    }
  }
  for (const p of q.falselyConfirmed) lines.push(`${what}: false confirmation: ${describeProposal(p)}`, ...items(p.externalIds, p.internalIds));
  log(lines.join("\n"));
}

// ---- Determinism. ----

const bigintAsString = (_key: string, value: unknown): unknown => (typeof value === "bigint" ? value.toString() : value);

/** The index of the first proposal that serializes differently (or the shorter length), or -1 when all are identical. */
function firstDifference(a: readonly Proposal[], b: readonly Proposal[]): number {
  const shared = Math.min(a.length, b.length);
  for (let i = 0; i < shared; i++) if (JSON.stringify(a[i], bigintAsString) !== JSON.stringify(b[i], bigintAsString)) return i;
  return a.length === b.length ? -1 : shared;
}

function reshuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = items.slice();
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const held = copy[i] as T;
    copy[i] = copy[j] as T;
    copy[j] = held;
  }
  return copy;
}

// ---- The runs. ----

function runPairs(pairs: number, load: MachineLoad): Figure[] {
  const books = generate(pairs);
  const what = `${count(pairs)} × ${count(pairs)}`;
  const engineMs: number[] = [];
  const joinMs: number[] = [];
  let first: MatchResult | undefined;
  let joined = 0;
  // Interleaved (join, engine, join, engine), so a slower stretch of the machine touches the limit and the figure alike.
  for (let round = 0; round < ENGINE_ROUNDS; round++) {
    const join = timedJoin(books, load);
    joinMs.push(join.elapsedMs);
    joined = join.found;
    const run = timedEngine(books, load, "engine");
    engineMs.push(run.elapsedMs);
    first ??= run.result;
    log(`${what}: engine run ${round + 1}: ${(run.elapsedMs / 1000).toFixed(2)} s (${count(run.result.proposals.length)} proposals); hash join ${join.elapsedMs.toFixed(0)} ms (${count(join.found)} pairs)`);
  }
  assert(first !== undefined);
  const q = quality(books, first);
  logMisses(what, books, first, q);
  for (const hit of first.bounds) log(`${what}: bound ${hit.bound} hit ${count(hit.times)} times: ${hit.detail}`);
  const bestMs = Math.min(...engineMs);
  const joinBestMs = Math.min(...joinMs);
  const figures: Figure[] = [
    atMost(`${what}: proposeMatches, best of ${ENGINE_ROUNDS}`, bestMs / 1000, "s", TARGETS.engineSecondsMax),
    ...engineMs.map((ms, i) => info(`${what}: proposeMatches, run ${i + 1}`, ms / 1000, "s")),
    info(`${what}: limit: bare hash join on reference + amount, best of ${ENGINE_ROUNDS} (${count(joined)} pairs)`, joinBestMs / 1000, "s"),
    info(`${what}: engine / hash join`, bestMs / joinBestMs, "x"),
    info(`${what}: external items`, books.external.length, "items"),
    info(`${what}: internal items`, books.internal.length, "items"),
    info(`${what}: designed matches`, books.designed.length, "matches"),
    ...qualityFigures(what, q, first),
  ];
  // (b) The same books in another order: the same proposals, byte for byte.
  const random = seededRandom(RESHUFFLE_SEED);
  const shuffledBooks = { external: reshuffled(books.external, random), internal: reshuffled(books.internal, random), rules: books.rules };
  const again = timedEngine(shuffledBooks, load, "engine-reshuffled");
  const difference = firstDifference(first.proposals, again.result.proposals);
  if (difference !== -1) {
    log(`${what}: re-shuffled input: proposal ${difference} differs:\n  first:       ${JSON.stringify(first.proposals[difference], bigintAsString)}\n  re-shuffled: ${JSON.stringify(again.result.proposals[difference], bigintAsString)}`);
  }
  figures.push(
    exactly(`${what}: determinism: re-shuffled input gives identical proposals`, difference === -1 ? 1 : 0, "", 1),
    info(`${what}: proposeMatches on the re-shuffled input`, again.elapsedMs / 1000, "s"),
  );
  return figures;
}

function runLarge(pairs: number, load: MachineLoad): Figure[] {
  const books = generate(pairs);
  const what = `${count(pairs)} × ${count(pairs)}`;
  const rssBeforeMb = rssMb();
  const run = timedEngine(books, load, "engine-large");
  const peakMb = peakRssMb();
  log(`${what}: engine ${(run.elapsedMs / 1000).toFixed(1)} s, ${count(run.result.proposals.length)} proposals; peak RSS ${peakMb.toFixed(0)} MB`);
  const q = quality(books, run.result);
  logMisses(what, books, run.result, q);
  for (const hit of run.result.bounds) log(`${what}: bound ${hit.bound} hit ${count(hit.times)} times: ${hit.detail}`);
  return [
    atMost(`${what}: proposeMatches, one run`, run.elapsedMs / 1000, "s", TARGETS.largeSecondsMax),
    atMost(`${what}: peak RSS of the process (maxRSS: books + engine)`, peakMb, "MB", TARGETS.peakRssMbMax),
    info(`${what}: RSS with the books generated, before the run`, rssBeforeMb, "MB"),
    ...qualityFigures(what, q, run.result),
  ];
}

/** Runs one part; an engine that throws fails the part (logged) and the others still run. */
function part(name: string, work: () => Figure[]): Figure[] {
  try {
    return work();
  } catch (error) {
    log(`${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
    return [{ name: `${name}: completed (it threw: ${error instanceof Error ? error.message.slice(0, 200) : String(error)})`, value: 0, unit: "", target: "= 1", pass: false }];
  }
}

async function main(): Promise<void> {
  const { pairs, skipMillion } = options();
  const full = pairs === FULL_PAIRS && !skipMillion;
  const started = performance.now();
  if (pairs !== FULL_PAIRS) log(`--pairs ${pairs}: a smoke run; its figures are not comparable to the targets`);
  const load = new MachineLoad(() => []);
  const figures: Figure[] = [];
  process.stdout.write(`1/${skipMillion ? 1 : 2} ${count(pairs)} pairs: generate, hash join and engine twice (interleaved), quality, engine on a re-shuffled copy…\n`);
  figures.push(...part(`${count(pairs)} pairs`, () => runPairs(pairs, load)));
  if (!skipMillion) {
    const large = pairs * LARGE_FACTOR;
    process.stdout.write(`2/2 ${count(large)} pairs: generate, engine once, peak RSS, quality…\n`);
    figures.push(...part(`${count(large)} pairs`, () => runLarge(large, load)));
  }
  figures.push(info("other load on the machine during a turn (max)", load.otherCoresMax, "cores"));
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  process.stdout.write(`\nMatching bench, ${new Date().toISOString().slice(0, 10)}, ${seconds} s${full ? "" : ` (${pairs === FULL_PAIRS ? "" : `--pairs ${pairs}`}${skipMillion ? " --skip-million" : ""}: not comparable to the targets)`}\n\n`);
  process.stdout.write(`${formatTable(figures)}\n`);
  if (load.otherCoresMax > OTHER_LOAD_WARN_CORES) {
    process.stdout.write(`\nWARNING: other programs used up to ${load.otherCoresMax.toFixed(2)} of the machine's cores during a turn; the figures are skewed by that load: re-run on a quiet machine.\n`);
  }
  const file = full ? path.join(ROOT, "bench/results/match.json") : path.join(tmpdir(), `trueup-match-bench-${pairs}${skipMillion ? "-skip-million" : ""}.json`);
  await writeResults(file, figures);
  log(`wrote ${file}`);
}

await main();
