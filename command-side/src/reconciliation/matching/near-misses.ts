// For each item left unmatched, the few candidates that came closest and
// why each was not proposed: the criteria a pair rule failed ("amount-date:
// value date 6 days apart (window 3)"), or the proposal that took it. A
// clerk starts from these; an item with no candidate at all says so by an
// empty list.
import type { NearMiss, NearMissCandidate } from "./types.ts";
import type { Prepared } from "./prepare.ts";
import { NOTHING_TAKEN, nearestInDays } from "./indexes.ts";
import type { SideIndex } from "./indexes.ts";
import { dayRange, rarestToken } from "./candidates.ts";
import { evaluatePair } from "./score.ts";
import type { PairRule } from "./score.ts";
import type { Run } from "./engine.ts";
import { at } from "./at.ts";

/** How far from the item's dates a near miss is looked for. */
const NEAR_MISS_WINDOW_DAYS = 62;
/** Items looked at per lookup (same amount, same counterparty word). */
const NEAR_MISS_SCAN_MAX = 8;

function lookAround(item: Prepared, other: SideIndex): number[] {
  const found = new Set<number>();
  for (const ref of item.references) for (const i of other.byReference(ref.id) ?? []) found.add(i);
  const range = dayRange(item, NEAR_MISS_WINDOW_DAYS);
  for (const i of nearestInDays(other, other.byAmount(item.amountId), range, NEAR_MISS_SCAN_MAX, NOTHING_TAKEN).found) found.add(i);
  const named = rarestToken(item, other);
  if (named !== undefined) for (const i of nearestInDays(other, named, range, NEAR_MISS_SCAN_MAX, NOTHING_TAKEN).found) found.add(i);
  return [...found].sort((a, b) => a - b);
}

export function nearMisses(run: Run): NearMiss[] {
  const rules = run.rules.rules.filter((rule): rule is PairRule => rule.kind !== "group");
  const misses: NearMiss[] = [];
  for (const side of ["external", "internal"] as const) {
    const own = side === "external" ? run.external : run.internal;
    const other = side === "external" ? run.internal : run.external;
    const taken = side === "external" ? run.takenExternal : run.takenInternal;
    const otherHolder = side === "external" ? run.holderInternal : run.holderExternal;
    for (const item of own.items) {
      if (taken[item.index] === 1) continue;
      if ((item.index & 1023) === 0 && run.clock.expired("the near misses", run.bounds)) return misses;
      const candidates: NearMissCandidate[] = lookAround(item, other).map((i) => {
        const candidate = at(other.items, i);
        const [external, internal] = side === "external" ? [item, candidate] : [candidate, item];
        const verdict = evaluatePair(run.ctx, rules, external, internal);
        const holder = otherHolder[i] ?? -1;
        const proposal = holder < 0 ? undefined : at(run.proposals, holder).proposalId;
        const failures = verdict.accepted ? [] : [...verdict.failures];
        if (proposal !== undefined) failures.push(`${candidate.side} item ${candidate.id} is in proposal ${proposal}`);
        else if (verdict.accepted) failures.push(`acceptable (${verdict.evaluation.ruleId}, score ${verdict.evaluation.score}) but not kept: a better total used the items otherwise, or the candidate limit cut it`);
        return { itemIds: [candidate.id], score: verdict.accepted ? verdict.evaluation.score : Math.max(0, Math.min(100, verdict.points)), failures };
      });
      candidates.sort((a, b) => b.score - a.score || ((at(a.itemIds, 0)) < (at(b.itemIds, 0)) ? -1 : 1));
      if (candidates.length > run.limits.nearMissesPerItemMax) candidates.length = run.limits.nearMissesPerItemMax;
      misses.push({ side, itemId: item.id, candidates });
    }
  }
  return misses;
}
