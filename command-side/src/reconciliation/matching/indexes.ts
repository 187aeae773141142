// Lookups that keep the engine away from comparing every item with every
// other: by reference, by exact amount (each bucket in date order), by date
// (for grouping), by name word, and by counterparty (name word or IBAN)
// and amount.
// Built once per run over one side's items; every list is in a canonical
// order (day, then index), so what a query returns never depends on input
// order. Queries skip items already taken and say when a scan was cut.
//
// Each index is one Int32Array of item indices, its lists end to end, by
// the key's number in the run's Vocabulary (prepare.ts): at a million items,
// an array per key (most keys have one item) was most of the indexes'
// memory, and hash lookups much of their time.
import type { Prepared, Vocabulary } from "./prepare.ts";

/** Item indices, in the list's order; a view into one index's array. */
export type List = Int32Array;

export interface SideIndex {
  readonly items: readonly Prepared[];
  /** Each item's first day, by index: the lists are in its order, and every date search reads it. */
  readonly firstDays: Int32Array;
  /** The items with this reference (Reference.id), by index; undefined for none. */
  byReference(id: number): List | undefined;
  /** The items of this currency and amount (Prepared.amountId), by (first day, index). */
  byAmount(id: number): List | undefined;
  /** `currency|sign` → indices by (first day, index). The same List each time (callers key caches by it). */
  byDay(flowKey: string): List | undefined;
  /** Name word (Prepared.tokenIds) → indices by (first day, index). The same List each time. */
  byToken(id: number): List | undefined;
  /** How many items have the name word, without making its List. */
  tokenCount(id: number): number;
  /** Counterparty IBAN (Prepared.ibanId) → indices by (first day, index). The same List each time. */
  byIban(id: number): List | undefined;
  /** A name word's or IBAN's items by (amount, first day, index), sorted when first asked for (most words never are). */
  partyByAmount(list: List): List;
}

const NO_ITEMS: Int32Array = new Int32Array(0);

/**
 * Keys → lists of item indices, built by add() in list order, then sealed:
 * one Int32Array for all the lists, one map entry per key. An item added
 * twice in a row to one key is there once.
 */
class Postings<K> {
  private readonly groups = new Map<K, number>();
  private starts: Int32Array = NO_ITEMS;
  private members: Int32Array = NO_ITEMS;
  /** Lists handed out, per list number, when callers need the same List each time. */
  private readonly views: (List | undefined)[] | null;
  // While building: each addition's list number and item, and each list's last item.
  private addedGroups: number[] = [];
  private addedItems: number[] = [];
  private lastItems: number[] = [];

  constructor(stableViews: boolean) {
    this.views = stableViews ? [] : null;
  }

  add(key: K, item: number): void {
    let group = this.groups.get(key);
    if (group === undefined) {
      group = this.groups.size;
      this.groups.set(key, group);
      this.lastItems.push(-1);
    } else if (this.lastItems[group] === item) return;
    this.lastItems[group] = item;
    this.addedGroups.push(group);
    this.addedItems.push(item);
  }

  seal(): this {
    const starts = new Int32Array(this.groups.size + 1);
    for (const group of this.addedGroups) starts[group + 1] = (starts[group + 1] ?? 0) + 1;
    for (let g = 0; g < this.groups.size; g++) starts[g + 1] = (starts[g + 1] ?? 0) + (starts[g] ?? 0);
    const next = starts.slice(0, this.groups.size);
    const members = new Int32Array(this.addedItems.length);
    for (let k = 0; k < this.addedItems.length; k++) {
      const group = this.addedGroups[k] ?? 0;
      members[next[group] ?? 0] = this.addedItems[k] ?? 0;
      next[group] = (next[group] ?? 0) + 1;
    }
    this.starts = starts;
    this.members = members;
    this.addedGroups = [];
    this.addedItems = [];
    this.lastItems = [];
    return this;
  }

  get(key: K): List | undefined {
    const group = this.groups.get(key);
    if (group === undefined) return undefined;
    if (this.views === null) return this.members.subarray(this.starts[group], this.starts[group + 1]);
    let view = this.views[group];
    if (view === undefined) {
      view = this.members.subarray(this.starts[group], this.starts[group + 1]);
      this.views[group] = view;
    }
    return view;
  }
}

/**
 * Numbered keys (0 ≤ id < size) → lists of item indices: as Postings, with
 * the list's start found by its number instead of a map.
 */
class NumberedPostings {
  private starts: Int32Array = NO_ITEMS;
  private members: Int32Array = NO_ITEMS;
  /** Lists handed out, by key, when callers need the same List each time. */
  private readonly views: Map<number, List> | null;
  // While building: each addition's key and item, and each key's last item.
  private lastItems: Int32Array;
  private addedIds: number[] = [];
  private addedItems: number[] = [];

  constructor(
    private readonly size: number,
    stableViews: boolean,
  ) {
    this.views = stableViews ? new Map() : null;
    this.lastItems = new Int32Array(size).fill(-1);
  }

  add(id: number, item: number): void {
    if (id < 0 || id >= this.size) throw new RangeError(`key ${id} is outside 0..${this.size - 1}`);
    if (this.lastItems[id] === item) return;
    this.lastItems[id] = item;
    this.addedIds.push(id);
    this.addedItems.push(item);
  }

  seal(): this {
    const starts = new Int32Array(this.size + 1);
    for (const id of this.addedIds) starts[id + 1] = (starts[id + 1] ?? 0) + 1;
    for (let k = 0; k < this.size; k++) starts[k + 1] = (starts[k + 1] ?? 0) + (starts[k] ?? 0);
    const next = starts.slice(0, this.size);
    const members = new Int32Array(this.addedItems.length);
    for (let k = 0; k < this.addedItems.length; k++) {
      const id = this.addedIds[k] ?? 0;
      members[next[id] ?? 0] = this.addedItems[k] ?? 0;
      next[id] = (next[id] ?? 0) + 1;
    }
    this.starts = starts;
    this.members = members;
    this.lastItems = NO_ITEMS;
    this.addedIds = [];
    this.addedItems = [];
    return this;
  }

  count(id: number): number {
    return id < 0 || id >= this.size ? 0 : (this.starts[id + 1] ?? 0) - (this.starts[id] ?? 0);
  }

  get(id: number): List | undefined {
    if (this.count(id) === 0) return undefined;
    if (this.views === null) return this.members.subarray(this.starts[id], this.starts[id + 1]);
    let view = this.views.get(id);
    if (view === undefined) {
      view = this.members.subarray(this.starts[id], this.starts[id + 1]);
      this.views.set(id, view);
    }
    return view;
  }
}

/**
 * Indices by (first day, index): a counting sort over the days when they
 * are dense (always, for real books: a few hundred days), else a sort.
 */
function inDayOrder(firstDays: Int32Array): Int32Array {
  const n = firstDays.length;
  const order = new Int32Array(n);
  if (n === 0) return order;
  let min = firstDays[0] ?? 0;
  let max = min;
  for (const day of firstDays) {
    if (day < min) min = day;
    if (day > max) max = day;
  }
  const span = max - min + 1;
  if (span > 4 * n + DENSE_DAYS_MIN) {
    for (let i = 0; i < n; i++) order[i] = i;
    return order.sort((a, b) => (firstDays[a] ?? 0) - (firstDays[b] ?? 0) || a - b);
  }
  const next = new Int32Array(span + 1);
  for (const day of firstDays) next[day - min + 1] = (next[day - min + 1] ?? 0) + 1;
  for (let d = 1; d <= span; d++) next[d] = (next[d] ?? 0) + (next[d - 1] ?? 0);
  for (let i = 0; i < n; i++) {
    const slot = firstDays[i] ?? 0;
    order[next[slot - min] ?? 0] = i;
    next[slot - min] = (next[slot - min] ?? 0) + 1;
  }
  return order;
}
/** Days a counting sort may span beyond four per item. */
const DENSE_DAYS_MIN = 4_096;

export function buildIndex(items: readonly Prepared[], vocabulary: Vocabulary): SideIndex {
  const sizes = vocabulary.sizes;
  const firstDays = new Int32Array(items.length);
  items.forEach((item, i) => {
    firstDays[i] = item.firstDay;
  });
  const byReference = new NumberedPostings(sizes.references, false);
  const byAmount = new NumberedPostings(sizes.amounts, false);
  const byDay = new Postings<string>(true);
  const byToken = new NumberedPostings(sizes.words, true);
  const byIban = new NumberedPostings(sizes.ibans, true);
  for (const i of inDayOrder(firstDays)) {
    const item = itemAt(items, i);
    byAmount.add(item.amountId, i);
    byDay.add(item.flowKey, i);
    for (const token of item.tokenIds) byToken.add(token, i);
    if (item.ibanId >= 0) byIban.add(item.ibanId, i);
  }
  items.forEach((item, i) => {
    for (const ref of item.references) byReference.add(ref.id, i);
  });
  for (const postings of [byReference, byAmount, byToken, byIban]) postings.seal();
  byDay.seal();
  const sortedByAmount = new WeakMap<List, List>();
  const partyByAmount = (list: List): List => {
    let sorted = sortedByAmount.get(list);
    if (sorted === undefined) {
      sorted = list.slice().sort((a, b) => compareAmounts(itemAt(items, a), itemAt(items, b)) || (firstDays[a] ?? 0) - (firstDays[b] ?? 0) || a - b);
      sortedByAmount.set(list, sorted);
    }
    return sorted;
  };
  return {
    items,
    firstDays,
    byReference: (id) => byReference.get(id),
    byAmount: (id) => byAmount.get(id),
    byDay: (flowKey) => byDay.get(flowKey),
    byToken: (id) => byToken.get(id),
    tokenCount: (id) => byToken.count(id),
    byIban: (id) => byIban.get(id),
    partyByAmount,
  };
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

/** First position in a partyByAmount list whose amount is ≥ amountMinor. */
export function lowerBoundAmount(items: readonly Prepared[], list: List, amountMinor: bigint): number {
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
export function lowerBoundDay(firstDays: Int32Array, list: List, day: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (dayOf(firstDays, list[mid] ?? -1) < day) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function dayOf(firstDays: Int32Array, index: number): number {
  const day = firstDays[index];
  if (day === undefined) throw new RangeError(`no item at ${index}`);
  return day;
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
export function nearestInDays(index: SideIndex, list: List | undefined, range: { from: number; to: number; center: number }, max: number, taken: Uint8Array): Scan {
  if (list === undefined) return { found: [], cut: false };
  const firstDays = index.firstDays;
  const start = lowerBoundDay(firstDays, list, range.from);
  const end = lowerBoundDay(firstDays, list, range.to + 1);
  let right = lowerBoundDay(firstDays, list, range.center);
  if (right > end) right = end;
  let left = right - 1;
  const found: number[] = [];
  while (found.length < max && (left >= start || right < end)) {
    const takeRight = left < start || (right < end && dayOf(firstDays, list[right] ?? -1) - range.center <= range.center - dayOf(firstDays, list[left] ?? -1));
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
