// Which internal items are worth scoring against one external item: those
// sharing one of its references, those with its amount inside the date
// window (nearest dates first), and those of its counterparty (its rarest
// name word, its IBAN) with its amount or one within the tolerance. Nothing
// else can pass a pair rule (a tolerated amount needs the counterparty to
// agree), so nothing else is looked at. Each scan has a limit; a cut scan is
// reported under candidatesPerItemMax.
import type { Prepared } from "./prepare.ts";
import { lowerBoundAmount, nearestInDays } from "./indexes.ts";
import type { List, SideIndex } from "./indexes.ts";
import { toleranceMinor } from "./score.ts";
import type { PairRule } from "./score.ts";
import type { Run } from "./engine.ts";
import { at } from "./at.ts";

/** Items with the same amount looked at per item and rule: enough for a busy day of equal amounts. */
const SAME_AMOUNT_SCAN_FACTOR = 4;
/** Items of one counterparty (a name word, an IBAN) looked at within the amount's tolerance. */
const PARTY_SCAN_MAX = 256;

export function dayRange(item: Prepared, window: number): { from: number; to: number; center: number } {
  return { from: Math.min(item.firstDay, item.secondDay) - window, to: Math.max(item.firstDay, item.secondDay) + window, center: item.firstDay };
}

/** One of the item's dates is inside the range. */
export function withinDays(other: Prepared, range: { from: number; to: number }): boolean {
  return (other.firstDay >= range.from && other.firstDay <= range.to) || (other.secondDay >= range.from && other.secondDay <= range.to);
}

/** The number of the item's name word with the fewest items on the other side (the first such in word order), or -1 when none is there. */
export function rarestWord(item: Prepared, other: SideIndex): number {
  let best = -1;
  let fewest = Infinity;
  for (const token of item.tokenIds) {
    const count = other.tokenCount(token);
    if (count > 0 && count < fewest) {
      best = token;
      fewest = count;
    }
  }
  return best;
}

/** Not yet looked up, in a rarest-word cache (-1 is "no word"). */
const UNKNOWN = -2;
/** Per index and asking side, by the asking item's index: the rarest word's number, -1 for none, UNKNOWN. */
const rarestCache = new WeakMap<SideIndex, Map<Prepared["side"], Int32Array>>();

function rarestKnown(item: Prepared, other: SideIndex): Int32Array {
  let bySide = rarestCache.get(other);
  if (bySide === undefined) {
    bySide = new Map();
    rarestCache.set(other, bySide);
  }
  let known = bySide.get(item.side);
  if (known === undefined || known.length <= item.index) {
    const grown = new Int32Array(Math.max(2 * (known?.length ?? 0), item.index + 1, RAREST_CACHE_MIN)).fill(UNKNOWN);
    if (known !== undefined) grown.set(known);
    known = grown;
    bySide.set(item.side, known);
  }
  return known;
}
const RAREST_CACHE_MIN = 1_024;

/** The other side's items of the item's rarest name word, by first day. Remembered per item and side (a run's indexes never change). */
export function rarestToken(item: Prepared, other: SideIndex): List | undefined {
  const known = rarestKnown(item, other);
  let group = known[item.index] ?? UNKNOWN;
  if (group === UNKNOWN) {
    group = rarestWord(item, other);
    known[item.index] = group;
  }
  return group < 0 ? undefined : other.byToken(group);
}

/** Internal items worth scoring against the external `item`, by the pair rules' lookups, leaving out those already in a proposal. */
export function pairCandidates(run: Run, rules: readonly PairRule[], item: Prepared): number[] {
  const other = run.internal;
  const taken = run.takenInternal;
  const found: number[] = [];
  const seen = seenFor(other);
  const stamp = ++seen.stamp;
  const add = (i: number): void => {
    if (taken[i] === 1 || seen.marks[i] === stamp) return;
    seen.marks[i] = stamp;
    found.push(i);
  };
  for (const rule of rules) {
    if (rule.kind === "reference") {
      for (const ref of item.references) {
        // Only the external references the rule names are looked up (the internal side's are compared with any of them).
        if (!rule.fields.includes(ref.source as never)) continue;
        const sharing = other.byReference(ref.id);
        if (sharing !== undefined) for (const i of sharing) add(i);
      }
      continue;
    }
    const range = dayRange(item, rule.dateWindowDays);
    const sameAmount = nearestInDays(other, other.byAmount(item.amountId), range, SAME_AMOUNT_SCAN_FACTOR * run.limits.candidatesPerItemMax, taken);
    if (sameAmount.cut) run.bounds.hit("candidatesPerItemMax", `items with more equal amounts inside the date window than the ${SAME_AMOUNT_SCAN_FACTOR * run.limits.candidatesPerItemMax} nearest looked at`);
    for (const i of sameAmount.found) add(i);
    // A tolerated amount needs its counterparty to agree (score.ts), so only the counterparty's items are looked at for one.
    const slack = rule.allowTolerance ? toleranceMinor(run.ctx, item.amountMinor) : 0n;
    const named = rarestToken(item, other);
    if (named !== undefined) scanParty(run, item, other, { slack, range, list: other.partyByAmount(named) }, add);
    const sameIban = other.byIban(item.ibanId);
    if (sameIban !== undefined) scanParty(run, item, other, { slack, range, list: other.partyByAmount(sameIban) }, add);
  }
  return found.sort((a, b) => a - b);
}

/** Per side index: which items one lookup has already found (a stamp per lookup, so nothing is cleared between lookups). */
interface Seen {
  stamp: number;
  readonly marks: Uint32Array;
}
const seenBySide = new WeakMap<SideIndex, Seen>();

function seenFor(side: SideIndex): Seen {
  let seen = seenBySide.get(side);
  if (seen === undefined) {
    seen = { stamp: 0, marks: new Uint32Array(side.items.length) };
    seenBySide.set(side, seen);
  }
  return seen;
}

/** The counterparty's items (one of its name words, or its IBAN) with an amount within the slack, inside the date window. */
function scanParty(run: Run, item: Prepared, other: SideIndex, scan: { slack: bigint; range: { from: number; to: number }; list: List }, add: (i: number) => void): void {
  const list = scan.list;
  const high = item.amountMinor + scan.slack;
  let seen = 0;
  for (let p = lowerBoundAmount(other.items, list, item.amountMinor - scan.slack); p < list.length; p++) {
    const candidate = at(other.items, at(list, p));
    if (candidate.amountMinor > high) return;
    if (++seen > PARTY_SCAN_MAX) {
      run.bounds.hit("candidatesPerItemMax", `items whose counterparty has more than ${PARTY_SCAN_MAX} items at amounts within the tolerance (the smallest amounts looked at)`);
      return;
    }
    if (withinDays(candidate, scan.range)) add(candidate.index);
  }
}
