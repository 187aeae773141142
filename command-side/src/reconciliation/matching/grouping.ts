// Grouped matches: one item on one side against several on the other (1:N,
// N:1) or several against several (N:M).
//
// By reference first: items sharing a reference whose amounts add up (a PSP
// payout line and its charges, fees and refunds in the books, all carrying
// the payout id). Then by amount alone, which needs care: among a few
// hundred open items some subsets add up to any amount by chance, so a group
// is only searched among items of the anchor's counterparty (a name word in
// common, similarity at least RELATED_NAME_MIN), or among all items of the
// date window when there are so few that chance cannot fool the search. The
// search itself is a bounded subset-sum (subsets.ts).
//
// Competing groups are decided by score (then by their items' ids): the
// best is taken, and any group that would reuse one of its items is not.
import type { Proposal } from "./types.ts";
import type { Prepared } from "./prepare.ts";
import { nameSimilarity } from "./prepare.ts";
import { NOTHING_TAKEN, nearestInDays } from "./indexes.ts";
import type { List, SideIndex } from "./indexes.ts";
import { dayRange, rarestToken, withinDays } from "./candidates.ts";
import { scoreGroup, sum, toleranceMinor, tolerated } from "./score.ts";
import type { Evaluation, GroupRule, ReferenceRule } from "./score.ts";
import { findSubsets, subsetSums } from "./subsets.ts";
import type { Run } from "./engine.ts";
import { at } from "./at.ts";

export interface GroupCandidate {
  readonly externals: readonly Prepared[];
  readonly internals: readonly Prepared[];
  readonly evaluation: Evaluation;
  readonly ambiguity: Proposal["ambiguity"];
}

export type Take = (candidate: GroupCandidate) => void;

/** Counterparty similarity (permille) that makes two items one counterparty's for grouping. */
const RELATED_NAME_MIN = 600;
/** Subsets collected per anchor before ranking them. */
const SUBSETS_PER_ANCHOR_MAX = 4;

function key(candidate: GroupCandidate): string {
  return [...candidate.externals.map((i) => i.id), "", ...candidate.internals.map((i) => i.id)].join("\u0000");
}

/** Takes the best candidates that share no item, by score then key. */
function decide(run: Run, candidates: GroupCandidate[], take: Take): void {
  const keyed = candidates.map((candidate) => ({ candidate, key: key(candidate) }));
  keyed.sort((a, b) => b.candidate.evaluation.score - a.candidate.evaluation.score || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const { candidate } of keyed) {
    if (candidate.externals.some((i) => run.takenExternal[i.index] === 1) || candidate.internals.some((i) => run.takenInternal[i.index] === 1)) continue;
    take(candidate);
  }
}

/** Phase 1: per reference rule, items that share a reference and add up. */
export function referenceGroupPhase(run: Run, take: Take): void {
  for (const rule of run.rules.rules) {
    if (rule.kind !== "reference") continue;
    if (run.clock.expired("the reference groups", run.bounds)) return;
    const candidates: GroupCandidate[] = [];
    run.external.items.forEach((anchor) => {
      if (run.takenExternal[anchor.index] === 0) referenceGroupsOf(run, rule, anchor, candidates);
    });
    run.internal.items.forEach((anchor) => {
      if (run.takenInternal[anchor.index] === 0) referenceGroupsOf(run, rule, anchor, candidates);
    });
    decide(run, candidates, take);
  }
}

function referenceGroupsOf(run: Run, rule: ReferenceRule, anchor: Prepared, out: GroupCandidate[]): void {
  const external = anchor.side === "external";
  const other = external ? run.internal : run.external;
  const taken = external ? run.takenInternal : run.takenExternal;
  const range = dayRange(anchor, rule.dateWindowDays);
  for (const ref of anchor.references) {
    if (external && !rule.fields.includes(ref.source as never)) continue;
    const sharing = other.byReference(ref.id);
    if (sharing === undefined || sharing.length < 2) continue;
    const members: Prepared[] = [];
    for (const i of sharing) {
      const item = at(other.items, i);
      if (taken[i] === 1 || item.currency !== anchor.currency || !withinDays(item, range)) continue;
      // On the external side, the reference must be in one of the fields the rule compares.
      if (!external && !item.references.some((r) => r.value === ref.value && rule.fields.includes(r.source as never))) continue;
      members.push(item);
    }
    if (members.length < 2) continue;
    const difference = anchor.amountMinor - sum(members);
    const externalMinor = external ? anchor.amountMinor : sum(members);
    if (difference !== 0n && !(rule.allowTolerance && tolerated(run.ctx, difference, externalMinor))) continue;
    const evaluation = scoreGroup(run.ctx, { ruleId: rule.id, window: rule.dateWindowDays, reference: ref }, anchor, members, []);
    out.push(external ? { externals: [anchor], internals: members, evaluation, ambiguity: null } : { externals: members, internals: [anchor], evaluation, ambiguity: null });
  }
}

/**
 * The anchor's counterparty's open items of the other side (same currency
 * and direction, inside the window), most similar first; or, when the
 * anchor has no such items, every open item of the window if there are at
 * most `max` of them. Null when neither gives a safe pool.
 */
function relatedPool(run: Run, open: OpenLists, anchor: Prepared, side: SideIndex, window: number, max: number): Prepared[] | null {
  const range = dayRange(anchor, window);
  const named = rarestToken(anchor, side);
  if (named !== undefined) {
    const near = nearestInDays(side, open.of(side, named), range, 4 * max, NOTHING_TAKEN);
    const similar = near.found
      .map((i) => at(side.items, i))
      .filter((item) => item !== anchor && item.currency === anchor.currency && item.sign === anchor.sign)
      .map((item) => ({ item, similarity: nameSimilarity(anchor, item) }))
      .filter((s) => s.similarity >= RELATED_NAME_MIN)
      .sort((a, b) => b.similarity - a.similarity || a.item.index - b.item.index);
    if (similar.length > max || near.cut) {
      run.bounds.hit("groupCandidatesMax", `group searches limited to the ${max} open items most similar to the anchor's counterparty`);
    }
    if (similar.length > 0) return similar.slice(0, max).map((s) => s.item);
  }
  if (!open.windowFallback) return null;
  const flow = side.byDay(anchor.flowKey);
  const window_ = nearestInDays(side, flow === undefined ? undefined : open.of(side, flow), range, max + 2, NOTHING_TAKEN);
  const pool = window_.found.map((i) => at(side.items, i)).filter((item) => item !== anchor);
  if (window_.cut || pool.length > max) {
    run.bounds.hit("groupCandidatesMax", `anchors not grouped: no counterparty in common, and more than ${max} open items in the date window for a safe search`);
    return null;
  }
  return pool;
}

function byMagnitude(items: Prepared[]): Prepared[] {
  return items.sort((a, b) => (a.magnitudeMinor > b.magnitudeMinor ? -1 : a.magnitudeMinor < b.magnitudeMinor ? 1 : a.index - b.index));
}


/**
 * The indexes' lists without the items taken so far, each filtered once
 * when first asked for. By the group phase most items are taken: scanning
 * past them anchor after anchor grew with the square of the books. Made
 * afresh per shape (a shape's candidates are all found before any is
 * taken), so it never shows a stale item.
 */
class OpenLists {
  private readonly filtered = new WeakMap<List, List>();
  constructor(
    private readonly run: Run,
    /** Whether a pool may be the whole of a sparse date window (no counterparty in common). */
    readonly windowFallback: boolean,
  ) {}
  of(side: SideIndex, list: List): List {
    let open = this.filtered.get(list);
    if (open === undefined) {
      const taken = side === this.run.external ? this.run.takenExternal : this.run.takenInternal;
      open = list.filter((i) => taken[i] !== 1);
      this.filtered.set(list, open);
    }
    return open;
  }
}

/**
 * Groups by amount, per group rule and shape. With `windowFallback` false,
 * only among one counterparty's items (run before the weak pairs: the
 * counterparty is better evidence than an amount a day apart); with it
 * true, also in sparse windows with no counterparty (run after them: with
 * nothing but amounts, a pair of equal amounts is the simpler reading).
 */
export function groupPhase(run: Run, take: Take, windowFallback: boolean): void {
  for (const rule of run.rules.rules) {
    if (rule.kind !== "group") continue;
    for (const shape of rule.shapes) {
      if (run.clock.expired(`the ${shape} groups`, run.bounds)) return;
      const open = new OpenLists(run, windowFallback);
      const candidates: GroupCandidate[] = [];
      const anchors = shape === "N:1" ? run.internal : run.external;
      const taken = shape === "N:1" ? run.takenInternal : run.takenExternal;
      for (const anchor of anchors.items) {
        if (taken[anchor.index] === 1) continue;
        const found = shape === "N:M" ? manyToMany(run, open, rule, anchor) : oneToMany(run, open, rule, anchor);
        if (found !== null) candidates.push(found);
      }
      decide(run, candidates, take);
    }
  }
}

function best(options: GroupCandidate[]): GroupCandidate | null {
  if (options.length === 0) return null;
  const keyed = options.map((candidate) => ({ candidate, key: key(candidate) })).sort((a, b) => b.candidate.evaluation.score - a.candidate.evaluation.score || (a.key < b.key ? -1 : 1));
  const first = at(keyed, 0).candidate;
  const tied = keyed.filter((k) => k.candidate.evaluation.score === first.evaluation.score).slice(1);
  if (tied.length === 0) return first;
  const ids = (items: readonly Prepared[]) => items.map((i) => i.id);
  const competingExternalIds = [...new Set(tied.flatMap((t) => ids(t.candidate.externals)))].filter((id) => !first.externals.some((i) => i.id === id)).sort();
  const competingInternalIds = [...new Set(tied.flatMap((t) => ids(t.candidate.internals)))].filter((id) => !first.internals.some((i) => i.id === id)).sort();
  return { ...first, ambiguity: { competingExternalIds, competingInternalIds } };
}

/** 1:N for an external anchor, N:1 for an internal one: a subset of the other side adds up to the anchor. */
function oneToMany(run: Run, open: OpenLists, rule: GroupRule, anchor: Prepared): GroupCandidate | null {
  const external = anchor.side === "external";
  const side = external ? run.internal : run.external;
  const pool = relatedPool(run, open, anchor, side, rule.dateWindowDays, run.limits.groupCandidatesMax);
  if (pool === null) return null;
  const members = byMagnitude(pool.filter((item) => item.magnitudeMinor < anchor.magnitudeMinor));
  if (members.length < 2) return null;
  const slack = rule.allowTolerance ? toleranceMinor(run.ctx, anchor.amountMinor) : 0n;
  const answer = findSubsets({
    magnitudes: members.map((m) => m.magnitudeMinor),
    target: anchor.magnitudeMinor,
    slackMinor: slack,
    sizeMin: 2,
    sizeMax: rule.groupSizeMax,
    nodesMax: run.limits.groupSearchNodesMax,
    // One more than kept, to know whether keeping stopped the search.
    keepMax: SUBSETS_PER_ANCHOR_MAX + 1,
  });
  if (answer.cut) run.bounds.hit("groupSearchNodesMax", `group searches stopped after ${run.limits.groupSearchNodesMax} subsets`);
  if (answer.subsets.length > SUBSETS_PER_ANCHOR_MAX) {
    run.bounds.hit("groupSearchNodesMax", `group searches stopped at ${SUBSETS_PER_ANCHOR_MAX} groups found for one anchor (the best of those proposed)`);
    answer.subsets.length = SUBSETS_PER_ANCHOR_MAX;
  }
  const scoring = { ruleId: rule.id, window: rule.dateWindowDays, reference: null };
  const options = answer.subsets.map((positions): GroupCandidate => {
    const others = positions.map((p) => at(members, p));
    const evaluation = scoreGroup(run.ctx, scoring, anchor, others, []);
    return external ? { externals: [anchor], internals: others, evaluation, ambiguity: null } : { externals: others, internals: [anchor], evaluation, ambiguity: null };
  });
  return best(options);
}

/**
 * True when some of the group's items already balance on their own (a part
 * of each side with equal sums, short of the whole group): then the group
 * is two matches read as one, and its parts are proposed instead (as pairs,
 * or smaller groups). Sides hold at most groupSizeMax items, so at most
 * 2^8 sums each.
 */
function splits(externals: readonly Prepared[], internals: readonly Prepared[]): boolean {
  const sums = new Map<bigint, boolean>();
  const subsetSums = (items: readonly Prepared[], visit: (sum: bigint, whole: boolean) => boolean): boolean => {
    const full = (1 << items.length) - 1;
    for (let mask = 1; mask <= full; mask++) {
      let total = 0n;
      for (let k = 0; k < items.length; k++) if ((mask & (1 << k)) !== 0) total += at(items, k).magnitudeMinor;
      if (visit(total, mask === full)) return true;
    }
    return false;
  };
  subsetSums(externals, (total, whole) => {
    sums.set(total, (sums.get(total) ?? false) || !whole);
    return false;
  });
  return subsetSums(internals, (total, whole) => {
    const external = sums.get(total);
    // A part of one side against any part of the other, unless both are the whole group.
    return external !== undefined && (external || !whole);
  });
}

/** N:M: the anchor with some of its counterparty's other external items against several internal items, exactly. */
function manyToMany(run: Run, open: OpenLists, rule: GroupRule, anchor: Prepared): GroupCandidate | null {
  const half = Math.max(2, Math.floor(run.limits.groupCandidatesMax / 2));
  const companions = relatedPool(run, open, anchor, run.external, rule.dateWindowDays, half);
  const pool = relatedPool(run, open, anchor, run.internal, rule.dateWindowDays, run.limits.groupCandidatesMax);
  if (companions === null || pool === null || companions.length === 0 || pool.length < 2) return null;
  const nodesMax = Math.floor(run.limits.groupSearchNodesMax / 2);
  const sameSide = byMagnitude(companions);
  const otherSide = byMagnitude(pool);
  const left = subsetSums(sameSide.map((m) => m.magnitudeMinor), rule.groupSizeMax - 1, nodesMax);
  const right = subsetSums(otherSide.map((m) => m.magnitudeMinor), rule.groupSizeMax, nodesMax);
  if (left.cut || right.cut) run.bounds.hit("groupSearchNodesMax", `group searches stopped after ${run.limits.groupSearchNodesMax} subsets`);
  const scoring = { ruleId: rule.id, window: rule.dateWindowDays, reference: null };
  const options: GroupCandidate[] = [];
  for (const [leftSum, leftSubsets] of left.sums) {
    const matching = right.sums.get(anchor.magnitudeMinor + leftSum);
    if (matching === undefined) continue;
    for (const l of leftSubsets) {
      for (const r of matching) {
        if (r.length < 2) continue;
        if (options.length === SUBSETS_PER_ANCHOR_MAX) {
          run.bounds.hit("groupSearchNodesMax", `group searches stopped at ${SUBSETS_PER_ANCHOR_MAX} groups found for one anchor (the best of those proposed)`);
          return best(options);
        }
        const externals = l.map((p) => at(sameSide, p));
        const internals = r.map((p) => at(otherSide, p));
        if (splits([anchor, ...externals], internals)) continue;
        options.push({ externals: [anchor, ...externals], internals, evaluation: scoreGroup(run.ctx, scoring, anchor, internals, externals), ambiguity: null });
      }
    }
  }
  return best(options);
}
