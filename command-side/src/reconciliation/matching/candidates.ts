// Which internal items are worth scoring against one external item: those
// sharing one of its references, those with its amount inside the date
// window (nearest dates first), and those of its counterparty (its rarest
// name word, its IBAN) with its amount or one within the tolerance. Nothing
// else can pass a pair rule (a tolerated amount needs the counterparty to
// agree), so nothing else is looked at. Each scan has a limit; a cut scan is
// reported under candidatesPerItemMax.
import type { Prepared } from "./prepare.ts";
import { lowerBoundAmount, nearestInDays } from "./indexes.ts";
import type { SideIndex } from "./indexes.ts";
import { toleranceMinor } from "./score.ts";
import type { PairRule } from "./score.ts";
import type { Run } from "./engine.ts";
import { at } from "./at.ts";

/** Items with the same amount looked at per item and rule: enough for a busy day of equal amounts. */
const SAME_AMOUNT_SCAN_FACTOR = 4;
/** Items of one counterparty (a name word, an IBAN) looked at within the amount's tolerance. */
const PARTY_SCAN_MAX = 256;

export function dayRange(item: Prepared, window: number): { from: number; to: number; center: number } {
  let from = Infinity;
  let to = -Infinity;
  for (const day of item.days) {
    from = Math.min(from, day - window);
    to = Math.max(to, day + window);
  }
  return { from, to, center: at(item.days, 0) };
}

/** One of the item's dates is inside the range. */
export function withinDays(other: Prepared, range: { from: number; to: number }): boolean {
  for (const day of other.days) if (day >= range.from && day <= range.to) return true;
  return false;
}

/** The item's name word with the fewest items on the other side (the first such in word order), if any is there. */
export function rarestWord(item: Prepared, other: SideIndex): string | undefined {
  let best: string | undefined;
  let fewest = Infinity;
  for (const token of item.tokens) {
    const list = other.byToken.get(token);
    if (list !== undefined && list.length < fewest) {
      best = token;
      fewest = list.length;
    }
  }
  return best;
}

const rarestCache = new WeakMap<SideIndex, WeakMap<Prepared, readonly number[] | null>>();

/** The other side's items of the item's rarest name word, by first day. Remembered per item and side (a run's indexes never change). */
export function rarestToken(item: Prepared, other: SideIndex): readonly number[] | undefined {
  let known = rarestCache.get(other);
  if (known === undefined) {
    known = new WeakMap();
    rarestCache.set(other, known);
  }
  let list = known.get(item);
  if (list === undefined) {
    const word = rarestWord(item, other);
    list = word === undefined ? null : (other.byToken.get(word) ?? null);
    known.set(item, list);
  }
  return list ?? undefined;
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
        for (const i of other.byReference.get(ref.value) ?? []) add(i);
      }
      continue;
    }
    const range = dayRange(item, rule.dateWindowDays);
    const sameAmount = nearestInDays(other, other.byAmount.get(item.amountKey), range, SAME_AMOUNT_SCAN_FACTOR * run.limits.candidatesPerItemMax, taken);
    if (sameAmount.cut) run.bounds.hit("candidatesPerItemMax", `items with more equal amounts inside the date window than the ${SAME_AMOUNT_SCAN_FACTOR * run.limits.candidatesPerItemMax} nearest looked at`);
    for (const i of sameAmount.found) add(i);
    // A tolerated amount needs its counterparty to agree (score.ts), so only the counterparty's items are looked at for one.
    const slack = rule.allowTolerance ? toleranceMinor(run.ctx, item.amountMinor) : 0n;
    const named = rarestToken(item, other);
    if (named !== undefined) scanParty(run, item, other, { slack, range, list: other.partyByAmount(named) }, add);
    const sameIban = item.iban === null ? undefined : other.byIban.get(item.iban);
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
function scanParty(run: Run, item: Prepared, other: SideIndex, scan: { slack: bigint; range: { from: number; to: number }; list: readonly number[] }, add: (i: number) => void): void {
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
