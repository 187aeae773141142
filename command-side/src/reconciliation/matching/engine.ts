// The matching engine: unmatched external items (statement lines) and
// internal items (ledger lines), a bank account's rules → proposals, each
// explained criterion by criterion, plus near misses for what is left and
// the bounds that cut a search short. Pure and deterministic: items are
// sorted by id first, every index and search runs in that canonical order,
// ties break by id, so the same items in any order give the same output.
//
// Phases, each on what the earlier ones left:
// 1. Reference groups: items sharing a reference whose amounts add up (a PSP
//    payout and its charges, fees and refunds; one invoice paid in parts).
// 2. Strong pairs (1:1, score at least STRONG_PAIR_SCORE_MIN) by the
//    reference and amount/date rules, chosen globally: the set of pairs with
//    the largest total weight (assignment.ts), and an ambiguity flag
//    wherever an equally good alternative exists.
// 3. Groups by amount (1:N, N:1, N:M) by bounded subset-sum among items of
//    the same counterparty inside a date window (grouping.ts).
// 4. The weaker pairs, the same way, on what is left.
// 5. Groups again, now also in date windows so sparse that chance cannot
//    make the sums, without a counterparty in common.
import assert from "node:assert";
import { createHash } from "node:crypto";
import type { MatchingRules } from "@trueup/contracts";
import { DEFAULT_MATCH_LIMITS } from "./types.ts";
import type { BoundHit, MatchInput, MatchKind, MatchLimits, MatchResult, Proposal } from "./types.ts";
import { Vocabulary, invoicePatterns, prepareExternal, prepareInternal } from "./prepare.ts";
import type { Prepared } from "./prepare.ts";
import { buildIndex } from "./indexes.ts";
import type { SideIndex } from "./indexes.ts";
import { evaluatePair, pairScore, scoringContext } from "./score.ts";
import type { Evaluation, PairRule, ScoringContext } from "./score.ts";
import { PAIR_WEIGHT, assign } from "./assignment.ts";
import type { Edge } from "./assignment.ts";
import { groupPhase, referenceGroupPhase } from "./grouping.ts";
import type { GroupCandidate } from "./grouping.ts";
import { pairCandidates } from "./candidates.ts";
import { nearMisses } from "./near-misses.ts";
import { at } from "./at.ts";

/**
 * Pairs at least this good (the default auto-confirm score) are chosen
 * before the amount groups; weaker ones (an exact amount a day apart with
 * nothing else, or with names that differ) after, on what the groups left.
 * A weak pair chosen first took one part of a group and so lost the whole
 * group: 2.2 % of the bench's designed groups with one pass, none with two
 * (80: 0.6 %; 85: 0.06 %).
 */
export const STRONG_PAIR_SCORE_MIN = 90;

/** Shared by every phase of one run. */
export interface Run {
  readonly rules: MatchingRules;
  readonly limits: MatchLimits;
  readonly ctx: ScoringContext;
  readonly external: SideIndex;
  readonly internal: SideIndex;
  /** 1 where the item is in a proposal of this run. */
  readonly takenExternal: Uint8Array;
  readonly takenInternal: Uint8Array;
  /** The proposal each taken item is in, by its position in `proposals` (-1: none). */
  readonly holderExternal: Int32Array;
  readonly holderInternal: Int32Array;
  readonly proposals: Proposal[];
  readonly bounds: Bounds;
  readonly clock: Clock;
}

/** Every bound that cut a search, once per distinct cause (a bound may cut for several reasons), with how often. */
export class Bounds {
  private readonly hits = new Map<string, { bound: keyof MatchLimits; detail: string; times: number }>();
  hit(bound: keyof MatchLimits, detail: string, times = 1): void {
    const key = `${bound}\u0000${detail}`;
    const known = this.hits.get(key);
    if (known === undefined) this.hits.set(key, { bound, detail, times });
    else known.times += times;
  }
  list(): BoundHit[] {
    return [...this.hits.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, { bound, times, detail }]) => ({ bound, times, detail }));
  }
}

export class Clock {
  private readonly deadline: number;
  private expiredIn: string | null = null;
  constructor(
    private readonly now: () => number,
    budgetMs: number,
  ) {
    this.deadline = now() + budgetMs;
  }
  /** True once the time budget is spent; the first phase to notice is named in the bounds. */
  expired(phase: string, bounds: Bounds): boolean {
    if (this.expiredIn !== null) return true;
    if (this.now() < this.deadline) return false;
    this.expiredIn = phase;
    bounds.hit("timeBudgetMs", `the time budget ran out during ${phase}; the rest was not searched and this output may differ between runs`);
    return true;
  }
}

function checkLimits(limits: MatchLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`limit ${name} must be a positive integer, got ${String(value)}`);
  }
}

export function proposeMatches(input: MatchInput): MatchResult {
  const limits: MatchLimits = { ...DEFAULT_MATCH_LIMITS, ...input.limits };
  checkLimits(limits);
  const { external, internal } = indexedSides(input);
  const bounds = new Bounds();
  const run: Run = {
    rules: input.rules,
    limits,
    ctx: scoringContext(input.rules, input.hints ?? []),
    external,
    internal,
    takenExternal: new Uint8Array(external.items.length),
    takenInternal: new Uint8Array(internal.items.length),
    holderExternal: new Int32Array(external.items.length).fill(-1),
    holderInternal: new Int32Array(internal.items.length).fill(-1),
    proposals: [],
    bounds,
    clock: new Clock(input.now ?? (() => performance.now()), limits.timeBudgetMs),
  };
  const takeGroup = (candidate: GroupCandidate): void => void propose(run, candidate.externals, candidate.internals, candidate.evaluation, candidate.ambiguity);
  referenceGroupPhase(run, takeGroup);
  const pairRules = pairRulesOf(run.rules);
  const pairs = pairRules.length === 0 ? [] : scorePairs(run, pairRules);
  choosePairs(run, pairRules, pairs.filter((edge) => edge.score >= STRONG_PAIR_SCORE_MIN));
  groupPhase(run, takeGroup, false);
  choosePairs(run, pairRules, pairs.filter((edge) => edge.score < STRONG_PAIR_SCORE_MIN));
  groupPhase(run, takeGroup, true);
  const misses = nearMisses(run);
  const proposals = inCanonicalOrder(run.proposals);
  return { proposals, nearMisses: misses, bounds: bounds.list(), counts: counts(run, proposals) };
}

/** Both sides prepared, then indexed (an index's arrays are as long as the vocabulary of both). The vocabulary's maps are garbage once this returns. */
function indexedSides(input: MatchInput): { external: SideIndex; internal: SideIndex } {
  const patterns = invoicePatterns(input.rules);
  const vocabulary = new Vocabulary();
  const externalItems = prepareExternal(input.external, patterns, vocabulary);
  const internalItems = prepareInternal(input.internal, patterns, vocabulary);
  return { external: buildIndex(externalItems, vocabulary), internal: buildIndex(internalItems, vocabulary) };
}

const KIND_ORDER: Readonly<Record<MatchKind, number>> = { "1:1": 0, "1:N": 1, "N:1": 2, "N:M": 3 };

/** By kind, then by `first external id NUL first internal id`; each proposal's key made once (not twice per comparison), the sort stable as before. */
function inCanonicalOrder(proposals: readonly Proposal[]): Proposal[] {
  const keys = proposals.map((p) => `${p.externalIds[0] ?? ""}\u0000${p.internalIds[0] ?? ""}`);
  const order = proposals.map((_, k) => k);
  order.sort((a, b) => {
    const kind = KIND_ORDER[at(proposals, a).kind] - KIND_ORDER[at(proposals, b).kind];
    if (kind !== 0) return kind;
    const x = at(keys, a);
    const y = at(keys, b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return order.map((k) => at(proposals, k));
}

function counts(run: Run, proposals: readonly Proposal[]): MatchResult["counts"] {
  const byKind: Record<MatchKind, number> = { "1:1": 0, "1:N": 0, "N:1": 0, "N:M": 0 };
  let ambiguous = 0;
  let autoConfirm = 0;
  for (const p of proposals) {
    byKind[p.kind]++;
    if (p.ambiguity !== null) ambiguous++;
    if (p.autoConfirm) autoConfirm++;
  }
  return { external: run.external.items.length, internal: run.internal.items.length, proposals: byKind, ambiguous, autoConfirm };
}

function kindOf(externals: number, internals: number): MatchKind {
  if (externals === 1) return internals === 1 ? "1:1" : "1:N";
  return internals === 1 ? "N:1" : "N:M";
}

export function proposalId(kind: MatchKind, externalIds: readonly string[], internalIds: readonly string[]): string {
  const hash = createHash("sha256");
  hash.update(`${kind}\n${externalIds.join("\n")}\n\n${internalIds.join("\n")}`);
  // `prop-` and the first 16 bytes in hex, written as one flat string: a slice of the whole digest kept the digest alive, per proposal.
  const digest = hash.digest();
  const id = Buffer.allocUnsafe(PROPOSAL_ID_PREFIX.length + 32);
  id.write(PROPOSAL_ID_PREFIX, 0, "latin1");
  id.write(digest.toString("hex", 0, 16), PROPOSAL_ID_PREFIX.length, "latin1");
  return id.toString("latin1");
}
const PROPOSAL_ID_PREFIX = "prop-";

/**
 * A proposal's explanation is its criteria's reasons in one sentence: built
 * when read (an own, enumerable property with this getter, so JSON, spread
 * and equality see it where it always was), not kept per proposal.
 */
const EXPLANATION: PropertyDescriptor = Object.freeze({
  get(this: Pick<Proposal, "criteria">): string {
    return this.criteria.map((c) => c.reason).join("; ");
  },
  enumerable: true,
  configurable: false,
});

function byId(a: Prepared, b: Prepared): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Builds the proposal, marks its items taken. */
export function propose(run: Run, externals: readonly Prepared[], internals: readonly Prepared[], evaluation: Evaluation, ambiguity: Proposal["ambiguity"]): Proposal {
  const externalIds = [...externals].sort(byId).map((item) => item.id);
  const internalIds = [...internals].sort(byId).map((item) => item.id);
  const kind = kindOf(externalIds.length, internalIds.length);
  const writeOffAccount = run.rules.writeOffAccount;
  const threshold = run.rules.autoConfirmScoreMin;
  const writeOff = evaluation.writeOff && writeOffAccount !== null ? { amountMinor: evaluation.differenceMinor, ledgerAccount: writeOffAccount } : null;
  // The fields in their order (the serialized proposal's), the explanation among them.
  const head = {
    proposalId: proposalId(kind, externalIds, internalIds),
    kind,
    ruleId: evaluation.ruleId,
    externalIds,
    internalIds,
    currency: (externals[0] ?? at(internals, 0)).currency,
    score: evaluation.score,
    // An array of exactly its length (the criteria were pushed into one that reserved room for 16).
    criteria: evaluation.criteria.slice(),
  };
  Object.defineProperty(head, "explanation", EXPLANATION);
  const proposal: Proposal = Object.assign(head as typeof head & { readonly explanation: string }, {
    differenceMinor: evaluation.differenceMinor === 0n ? 0n : evaluation.differenceMinor,
    writeOff,
    residual: evaluation.partial,
    ambiguity,
    autoConfirm: threshold !== null && evaluation.score >= threshold && ambiguity === null && evaluation.partial === null,
  });
  const position = run.proposals.length;
  for (const item of externals) {
    run.takenExternal[item.index] = 1;
    run.holderExternal[item.index] = position;
  }
  for (const item of internals) {
    run.takenInternal[item.index] = 1;
    run.holderInternal[item.index] = position;
  }
  run.proposals.push(proposal);
  return proposal;
}

/**
 * A scored pair keeps its score only: the reasons of the pairs not chosen
 * would be most of the run's memory (at a million items, gigabytes). The
 * chosen ones are evaluated again (the same verdict: it is a pure function)
 * to explain them.
 */
type ScoredEdge = Edge;

function pairRulesOf(rules: MatchingRules): PairRule[] {
  return rules.rules.filter((rule): rule is PairRule => rule.kind === "reference" || rule.kind === "amountDate");
}

/** Every acceptable pair (the best candidatesPerItemMax per external item), in (external, internal) order. */
function scorePairs(run: Run, rules: readonly PairRule[]): ScoredEdge[] {
  const edges: ScoredEdge[] = [];
  const externals = run.external.items;
  for (let e = 0; e < externals.length; e++) {
    if ((e & 1023) === 0 && run.clock.expired("the pair search", run.bounds)) break;
    if (run.takenExternal[e] === 1) continue;
    const item = at(externals, e);
    const scored: ScoredEdge[] = [];
    for (const i of pairCandidates(run, rules, item)) {
      const score = pairScore(run.ctx, rules, item, at(run.internal.items, i));
      if (score >= 0) scored.push({ external: e, internal: i, score });
    }
    scored.sort((a, b) => b.score - a.score || a.internal - b.internal);
    if (scored.length > run.limits.candidatesPerItemMax) {
      run.bounds.hit("candidatesPerItemMax", `external items with more acceptable candidates than the ${run.limits.candidatesPerItemMax} best kept`);
      scored.length = run.limits.candidatesPerItemMax;
    }
    scored.sort((a, b) => a.internal - b.internal);
    edges.push(...scored);
  }
  return edges;
}

/** Chooses among the pairs whose items are both still open (assignment.ts) and proposes them. */
function choosePairs(run: Run, rules: readonly PairRule[], candidates: readonly ScoredEdge[]): void {
  const edges = candidates.filter((edge) => run.takenExternal[edge.external] === 0 && run.takenInternal[edge.internal] === 0);
  const { chosen, greedyComponents } = assign(edges, run.external.items.length, run.limits.componentSizeMax);
  if (greedyComponents > 0) run.bounds.hit("componentSizeMax", "groups of competing candidates too large to solve exactly were solved greedily by score", greedyComponents);
  const ambiguities = findAmbiguities(run, edges, chosen);
  for (const index of chosen) {
    const edge = at(edges, index);
    const external = at(run.external.items, edge.external);
    const internal = at(run.internal.items, edge.internal);
    const verdict = evaluatePair(run.ctx, rules, external, internal);
    assert.ok(verdict.accepted && verdict.evaluation.score === edge.score, "a pair's verdict changed between two evaluations");
    propose(run, [external], [internal], verdict.evaluation, ambiguities.get(index) ?? null);
  }
}

/**
 * A chosen pair is ambiguous when an equally good choice exists: its
 * external (or internal) item has another candidate that is free and scores
 * as much, or is taken by a pair such that exchanging the two partners
 * gives the same total. (Exchanges along longer chains are not looked for.)
 */
function findAmbiguities(run: Run, edges: readonly ScoredEdge[], chosen: readonly number[]): Map<number, NonNullable<Proposal["ambiguity"]>> {
  // Each item's edges, in edge order: one Int32Array per side, each item's run of it from its start (edges are sorted by external, so those are contiguous already).
  const byExternal = edgesBy(edges, run.external.items.length, (edge) => edge.external);
  const byInternal = edgesBy(edges, run.internal.items.length, (edge) => edge.internal);
  const chosenByExternal = new Int32Array(run.external.items.length).fill(-1);
  const chosenByInternal = new Int32Array(run.internal.items.length).fill(-1);
  for (const index of chosen) {
    chosenByExternal[at(edges, index).external] = index;
    chosenByInternal[at(edges, index).internal] = index;
  }
  const weight = (edge: ScoredEdge): number => at(PAIR_WEIGHT, edge.score);
  const weightOf = (external: number, internal: number): number => {
    for (let k = at(byExternal.starts, external); k < at(byExternal.starts, external + 1); k++) {
      const edge = at(edges, at(byExternal.edges, k));
      if (edge.internal === internal) return weight(edge);
    }
    return 0;
  };
  const result = new Map<number, NonNullable<Proposal["ambiguity"]>>();
  for (const index of chosen) {
    const edge = at(edges, index);
    const competingInternals = new Set<number>();
    const competingExternals = new Set<number>();
    for (let k = at(byExternal.starts, edge.external); k < at(byExternal.starts, edge.external + 1); k++) {
      const alt = at(edges, at(byExternal.edges, k));
      if (alt.internal === edge.internal) continue;
      const holder = at(chosenByInternal, alt.internal);
      const held = holder < 0 ? undefined : at(edges, holder);
      const equal = held === undefined ? alt.score >= edge.score : weight(alt) + weightOf(held.external, edge.internal) >= weight(edge) + weight(held);
      if (equal) competingInternals.add(alt.internal);
    }
    for (let k = at(byInternal.starts, edge.internal); k < at(byInternal.starts, edge.internal + 1); k++) {
      const alt = at(edges, at(byInternal.edges, k));
      if (alt.external === edge.external) continue;
      const holder = at(chosenByExternal, alt.external);
      const held = holder < 0 ? undefined : at(edges, holder);
      const equal = held === undefined ? alt.score >= edge.score : weight(alt) + weightOf(edge.external, held.internal) >= weight(edge) + weight(held);
      if (equal) competingExternals.add(alt.external);
    }
    if (competingInternals.size + competingExternals.size > 0) {
      // Indices are in id order (items are sorted by id), so sorting them sorts the ids.
      result.set(index, {
        competingExternalIds: [...competingExternals].sort((a, b) => a - b).map((e) => (at(run.external.items, e)).id),
        competingInternalIds: [...competingInternals].sort((a, b) => a - b).map((i) => (at(run.internal.items, i)).id),
      });
    }
  }
  return result;
}

/** Edge indices grouped by item (a counting sort, stable: each item's edges in edge order): item k's are edges[starts[k]..starts[k + 1]). */
function edgesBy(edges: readonly ScoredEdge[], items: number, itemOf: (edge: ScoredEdge) => number): { starts: Int32Array; edges: Int32Array } {
  const starts = new Int32Array(items + 1);
  for (const edge of edges) starts[itemOf(edge) + 1] = at(starts, itemOf(edge) + 1) + 1;
  for (let k = 0; k < items; k++) starts[k + 1] = at(starts, k + 1) + at(starts, k);
  const next = starts.slice(0, items);
  const grouped = new Int32Array(edges.length);
  edges.forEach((edge, index) => {
    const item = itemOf(edge);
    grouped[at(next, item)] = index;
    next[item] = at(next, item) + 1;
  });
  return { starts, edges: grouped };
}
