// Lookups that keep the engine away from comparing every item with every
// other: by reference, by exact amount (each bucket in date order), by date
// (for grouping), by name word, and by counterparty (name word or IBAN)
// and amount.
// Built once per run over one side's items; every list is in a canonical
// order (day, then index), so what a query returns never depends on input
// order. Queries skip items already taken and say when a scan was cut.
import type { Prepared } from "./prepare.ts";

export interface SideIndex {
  readonly items: readonly Prepared[];
  readonly byReference: ReadonlyMap<string, readonly number[]>;
  /** `currency|amount` → indices by (first day, index). */
  readonly byAmount: ReadonlyMap<string, readonly number[]>;
  /** `currency|sign` → indices by (first day, index). */
  readonly byDay: ReadonlyMap<string, readonly number[]>;
  /** Name word → indices by (first day, index). */
  readonly byToken: ReadonlyMap<string, readonly number[]>;
  /** Counterparty IBAN → indices by (first day, index). */
  readonly byIban: ReadonlyMap<string, readonly number[]>;
  /** A name word's or IBAN's items by (amount, first day, index), sorted when first asked for (most words never are). */
  partyByAmount(list: readonly number[]): readonly number[];
}

function push<K>(map: Map<K, number[]>, key: K, value: number): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else if (list[list.length - 1] !== value) list.push(value);
}

export function buildIndex(items: readonly Prepared[]): SideIndex {
  const byReference = new Map<string, number[]>();
  const byAmount = new Map<string, number[]>();
  const byDay = new Map<string, number[]>();
  const byToken = new Map<string, number[]>();
  const byIban = new Map<string, number[]>();
  const firstDay = (i: number): number => itemAt(items, i).firstDay;
  const inDayOrder = [...items.keys()].sort((a, b) => firstDay(a) - firstDay(b) || a - b);
  for (const i of inDayOrder) {
    const item = itemAt(items, i);
    push(byAmount, item.amountKey, i);
    push(byDay, item.flowKey, i);
    for (const token of item.tokens) push(byToken, token, i);
    if (item.iban !== null) push(byIban, item.iban, i);
  }
  const sortedByAmount = new WeakMap<readonly number[], readonly number[]>();
  const partyByAmount = (list: readonly number[]): readonly number[] => {
    let sorted = sortedByAmount.get(list);
    if (sorted === undefined) {
      sorted = [...list].sort((a, b) => compareAmounts(itemAt(items, a), itemAt(items, b)) || firstDay(a) - firstDay(b) || a - b);
      sortedByAmount.set(list, sorted);
    }
    return sorted;
  };
  items.forEach((item, i) => {
    for (const ref of item.references) push(byReference, ref.value, i);
  });
  return { items, byReference, byAmount, byDay, byToken, byIban, partyByAmount };
}

/** items[i] for an index the engine computed; monomorphic (only Prepared arrays come here), so V8 inlines it. */
export function itemAt(items: readonly Prepared[], index: number): Prepared {
  const item = items[index];
  if (item === undefined) throw new RangeError(`no item at ${index}`);
  return item;
}

function compareAmounts(a: Prepared, b: Prepared): number {
  return a.amountMinor < b.amountMinor ? -1 : a.amountMinor > b.amountMinor ? 1 : 0;
}

/** First position in a byPartyAmount list whose amount is ≥ amountMinor. */
export function lowerBoundAmount(items: readonly Prepared[], list: readonly number[], amountMinor: bigint): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (itemAt(items, list[mid] ?? -1).amountMinor < amountMinor) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First position in `list` (sorted by first day) whose first day is ≥ day. */
export function lowerBoundDay(items: readonly Prepared[], list: readonly number[], day: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (itemAt(items, list[mid] ?? -1).firstDay < day) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** For nearestInDays over every item of a list, taken or not (the caller filters). */
export const NOTHING_TAKEN: Uint8Array = new Uint8Array(0);

export interface Scan {
  readonly found: number[];
  /** True when the scan stopped at its limit with more to see. */
  readonly cut: boolean;
}

/**
 * Items of a day-ordered list whose first day is within [from, to], nearest
 * to `center` first (ties by day order), at most `max`, skipping taken ones.
 */
export function nearestInDays(index: SideIndex, list: readonly number[] | undefined, range: { from: number; to: number; center: number }, max: number, taken: Uint8Array): Scan {
  if (list === undefined) return { found: [], cut: false };
  const items = index.items;
  const start = lowerBoundDay(items, list, range.from);
  const end = lowerBoundDay(items, list, range.to + 1);
  let right = lowerBoundDay(items, list, range.center);
  if (right > end) right = end;
  let left = right - 1;
  const found: number[] = [];
  const day = (position: number): number => itemAt(items, list[position] ?? -1).firstDay;
  while (found.length < max && (left >= start || right < end)) {
    const takeRight = left < start || (right < end && day(right) - range.center <= range.center - day(left));
    const position = takeRight ? right++ : left--;
    const candidate = list[position] ?? -1;
    if (taken[candidate] !== 1) found.push(candidate);
  }
  if (found.length < max) return { found, cut: false };
  // Anything left untaken in the range means the limit cut the scan.
  for (let p = start; p < end; p++) {
    if (p > left && p < right) {
      p = right - 1;
      continue;
    }
    if (taken[list[p] ?? -1] !== 1) return { found, cut: true };
  }
  return { found, cut: false };
}
