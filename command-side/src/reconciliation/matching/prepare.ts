// Items as the engine works on them: dates as day numbers, references and
// counterparty names normalised once, so every comparison in the search is
// integer or string equality. Sorted by id, so nothing the engine does can
// depend on the order its caller listed the items in.
import assert from "node:assert";
import { formatDigits, statementCurrencyOf } from "@trueup/contracts";
import type { MatchReferenceField, MatchingRules } from "@trueup/contracts";
import type { ExternalItem, InternalItem } from "./types.ts";

export type ItemSide = "external" | "internal";
export type ReferenceSource = MatchReferenceField | "reference";

export interface Reference {
  readonly source: ReferenceSource;
  readonly value: string;
  /** The value's number in the run's Vocabulary (both sides): the indexes' key. */
  readonly id: number;
}

/**
 * One item as the search sees it. A class, so that every item has one
 * shape (V8 keeps the fields inline and the accesses monomorphic), and
 * small: at a million items per side each field is 8 MB, so nothing is
 * stored that a field already says (the exact-amount key, a days array)
 * and everything repeated (names, labels, flow keys) is shared.
 */
export class Prepared {
  constructor(
    readonly side: ItemSide,
    /** Index in its side's sorted array. */
    readonly index: number,
    readonly id: string,
    readonly amountMinor: bigint,
    readonly magnitudeMinor: bigint,
    readonly sign: 1 | -1 | 0,
    readonly currency: string,
    /** `currency|sign`, the date index's key (one shared string per value). */
    readonly flowKey: string,
    /** The date the indexes order by: the value date, else the booking date (external); the entry's date (internal). */
    readonly firstDay: number,
    /** The booking date when an external item has both and they differ; else firstDay again (so every "nearest date" is unchanged by it). */
    readonly secondDay: number,
    /** What each date is: "value date", "booking date" or "date" (one entry per distinct date). */
    readonly dayLabels: readonly string[],
    readonly references: readonly Reference[],
    /** The counterparty name, normalised (name.key: nameKey), or NO_NAME. */
    readonly name: NameFacts,
    /** Internal items without a counterparty name: their description, so the name can be found in it. */
    readonly text: NameFacts,
    /** Name and description words (at least 3 characters), for finding items of the same counterparty. */
    readonly tokens: readonly string[],
    /** The tokens' numbers in the run's Vocabulary, in the same order. */
    readonly tokenIds: readonly number[],
    /** The currency and amount's number in the run's Vocabulary (the exact-amount index's key). */
    readonly amountId: number,
    readonly iban: string | null,
    /** The IBAN's number in the run's Vocabulary, -1 for none. */
    readonly ibanId: number,
    readonly contraAccounts: readonly string[],
  ) {}
}

const DAY_MS = 86_400_000;

/** Days since 1970-01-01 of a YYYY-MM-DD date. */
export function dayNumber(date: string): number {
  const day = Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))) / DAY_MS;
  assert.ok(Number.isInteger(day), `not a date: ${date}`);
  return day;
}

/** Placeholders banks write where a reference is missing; they identify nothing. */
const NO_REFERENCE = new Set(["NOTPROVIDED", "NONREF", "NONE", "NA", "N/A", "0", "-"]);

/** A reference compared without case and spaces; null for a placeholder or one too short to identify anything. */
export function referenceKey(value: string | null): string | null {
  if (value === null) return null;
  const key = compact(value);
  if (key.length < 3 || NO_REFERENCE.has(key)) return null;
  return key;
}

/** Words of a company's legal form: "ACME GmbH" and "Acme" are one counterparty. */
const LEGAL_FORMS = new Set(["GMBH", "AG", "KG", "OHG", "UG", "SE", "EK", "EG", "LTD", "LIMITED", "INC", "LLC", "LLP", "PLC", "CORP", "CO", "SA", "SAS", "SARL", "SRL", "SPA", "BV", "NV", "OY", "AB", "AS", "APS", "EV"]);

/** Upper case, accents and punctuation gone, legal forms dropped: the name as compared. Null when nothing is left. */
export function nameKey(name: string | null): string | null {
  if (name === null) return null;
  const words = PRINTABLE_ASCII.test(name) ? asciiWords(name) : unicodeWords(name);
  const kept: string[] = [];
  for (const word of words) if (!LEGAL_FORMS.has(word)) kept.push(word);
  return kept.length === 0 ? null : kept.join(" ");
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * The words of an ASCII name, upper case, by one pass over its characters:
 * most names are ASCII, and the general path (Unicode normalisation and
 * three regular expressions) cost most of the engine's preparation.
 * Dots join abbreviations ("G.m.b.H."), anything else not a letter or digit
 * separates words. The same words as unicodeWords gives.
 */
function asciiWords(name: string): string[] {
  const words: string[] = [];
  let word = "";
  for (let i = 0; i < name.length; i++) {
    let c = name.charCodeAt(i);
    if (c === 46) continue;
    if (c >= 97 && c <= 122) c -= 32;
    if ((c >= 65 && c <= 90) || (c >= 48 && c <= 57)) {
      word += String.fromCharCode(c);
    } else if (word.length > 0) {
      words.push(word);
      word = "";
    }
  }
  if (word.length > 0) words.push(word);
  return words;
}

function unicodeWords(name: string): string[] {
  return (
    name
      .normalize("NFKD")
      .replace(/\p{M}/gu, "")
      .toUpperCase()
      // Dots join abbreviations ("G.m.b.H.", "S.A.R.L."), so they go before other punctuation becomes a space.
      .replace(/\./g, "")
      .replace(/[^\p{L}\p{N}]+/gu, " ")
      .split(" ")
      .filter((word) => word.length > 0)
  );
}

/** Scratch space for bigrams (one run at a time in this thread: the engine is synchronous). */
let scratch = new Int32Array(256);

/** Sorted distinct bigrams of a normalised text (two UTF-16 units in one int). */
export function bigrams(key: string): Int32Array {
  const count = Math.max(0, key.length - 1);
  if (scratch.length < count) scratch = new Int32Array(count);
  const grams = scratch.subarray(0, count);
  for (let i = 0; i < count; i++) grams[i] = (key.charCodeAt(i) << 16) | key.charCodeAt(i + 1);
  grams.sort();
  let distinct = 0;
  for (let i = 0; i < count; i++) if (i === 0 || grams[i] !== grams[i - 1]) grams[distinct++] = (grams[i] ?? 0);
  return grams.slice(0, distinct);
}

function commonGrams(a: Int32Array, b: Int32Array): number {
  let common = 0;
  for (let i = 0, j = 0; i < a.length && j < b.length; ) {
    const x = (a[i] ?? 0);
    const y = (b[j] ?? 0);
    if (x === y) {
      common++;
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return common;
}

/** Dice coefficient of two bigram sets, in permille (integer: the same on every machine). */
export function similarityPermille(a: Int32Array, b: Int32Array): number {
  if (a.length + b.length === 0) return 0;
  return Math.floor((2000 * commonGrams(a, b)) / (a.length + b.length));
}

/** How much of `name` appears in `text`, in permille of the name's bigrams. */
export function containmentPermille(name: Int32Array, text: Int32Array): number {
  if (name.length === 0) return 0;
  return Math.floor((1000 * commonGrams(name, text)) / name.length);
}

/** The counterparty similarity of two items, permille: names compared, else the name looked for in the other's description. */
export function nameSimilarity(a: Prepared, b: Prepared): number {
  if (a.name.key !== null && b.name.key !== null) return similarityPermille(gramsOf(a.name), gramsOf(b.name));
  if (a.name.key !== null && b.text.key !== null) return containmentPermille(gramsOf(a.name), gramsOf(b.text));
  if (b.name.key !== null && a.text.key !== null) return containmentPermille(gramsOf(b.name), gramsOf(a.text));
  return 0;
}

/** Both items say who the counterparty is (a name, or a description to find the name in). */
export function namesComparable(a: Prepared, b: Prepared): boolean {
  return (a.name.key !== null && (b.name.key !== null || b.text.key !== null)) || (b.name.key !== null && a.text.key !== null);
}

/** A name or description, normalised; its bigrams are computed when first compared (most items never are). */
export interface NameFacts {
  readonly key: string | null;
  grams: Int32Array | null;
  /** Words of at least 3 characters. */
  readonly words: readonly string[];
  /** Their numbers in the run's Vocabulary (a plain array: a typed array is an object of its own, and there is one per distinct name). */
  readonly wordIds: readonly number[];
}

export function gramsOf(facts: NameFacts): Int32Array {
  facts.grams ??= bigrams(facts.key ?? "");
  return facts.grams;
}

const NO_NAME: NameFacts = Object.freeze({ key: null, grams: null, words: Object.freeze([]), wordIds: Object.freeze([]) });

/** A name key's distinct words of at least 3 characters, sorted. */
function wordsOf(key: string): string[] {
  const words: string[] = [];
  for (const word of key.split(" ")) if (word.length >= 3 && !words.includes(word)) words.push(word);
  return words.sort();
}

/**
 * One run's vocabulary, shared by both sides: every distinct reference
 * value, IBAN, name word and amount (with its currency) gets a number, so
 * that an index is an array by number and every lookup in the search is an
 * array read (at a million items, hash lookups were a large part of the
 * run). Names and descriptions repeat (one company, many lines): each
 * distinct text is normalised once, and texts that normalise alike (one
 * company spelled two ways, on either side) share one NameFacts, so its
 * bigrams are computed once. Lives as long as one run.
 */
export class Vocabulary {
  private readonly texts = new Map<string, NameFacts>();
  private readonly keys = new Map<string, NameFacts>();
  private readonly words = new Map<string, number>();
  private readonly wordList: string[] = [];
  private readonly referenceIds = new Map<string, number>();
  private readonly ibanIds = new Map<string, number>();
  private readonly amountIds = new Map<string, Map<bigint, number>>();
  private amountCount = 0;

  /** How many numbers each kind has handed out (an index's arrays are this long). */
  get sizes(): { readonly references: number; readonly ibans: number; readonly words: number; readonly amounts: number } {
    return { references: this.referenceIds.size, ibans: this.ibanIds.size, words: this.words.size, amounts: this.amountCount };
  }

  name(text: string | null): NameFacts {
    if (text === null) return NO_NAME;
    let facts = this.texts.get(text);
    if (facts === undefined) {
      const key = nameKey(text);
      facts = key === null ? NO_NAME : this.ofKey(key);
      this.texts.set(text, facts);
    }
    return facts;
  }

  reference(value: string): number {
    return numberOf(this.referenceIds, value);
  }

  iban(iban: string | null): number {
    return iban === null ? -1 : numberOf(this.ibanIds, iban);
  }

  amount(currency: string, amountMinor: bigint): number {
    let amounts = this.amountIds.get(currency);
    if (amounts === undefined) {
      amounts = new Map();
      this.amountIds.set(currency, amounts);
    }
    let id = amounts.get(amountMinor);
    if (id === undefined) {
      id = this.amountCount++;
      amounts.set(amountMinor, id);
    }
    return id;
  }

  private ofKey(key: string): NameFacts {
    let facts = this.keys.get(key);
    if (facts === undefined) {
      const wordIds = wordsOf(key).map((word) => {
        const id = numberOf(this.words, word);
        if (id === this.wordList.length) this.wordList.push(word);
        return id;
      });
      // One string per distinct word, shared by every key that has it.
      facts = { key, grams: null, words: wordIds.map((id) => this.wordList[id] ?? ""), wordIds };
      this.keys.set(key, facts);
    }
    return facts;
  }
}

function numberOf(numbers: Map<string, number>, value: string): number {
  let id = numbers.get(value);
  if (id === undefined) {
    id = numbers.size;
    numbers.set(value, id);
  }
  return id;
}

/** Each reference rule's compiled invoice pattern. */
export function invoicePatterns(rules: MatchingRules): RegExp[] {
  const patterns: RegExp[] = [];
  for (const rule of rules.rules) if (rule.kind === "reference" && rule.invoicePattern !== null) patterns.push(new RegExp(rule.invoicePattern, "gu"));
  return patterns;
}

/** Bounds the text an invoice pattern is run over (remittance fields are at most this long anyway). */
const INVOICE_TEXT_LENGTH_MAX = 2_000;
const INVOICES_PER_TEXT_MAX = 8;

const NO_INVOICES: readonly string[] = Object.freeze([]);

function invoiceNumbers(patterns: readonly RegExp[], text: string | null): readonly string[] {
  if (text === null || patterns.length === 0) return NO_INVOICES;
  const found: string[] = [];
  const bounded = text.slice(0, INVOICE_TEXT_LENGTH_MAX);
  for (const pattern of patterns) {
    pattern.lastIndex = 0;
    for (const match of bounded.matchAll(pattern)) {
      const key = referenceKey(match[1] ?? match[0]);
      if (key !== null) found.push(key);
      if (found.length >= INVOICES_PER_TEXT_MAX) return found;
    }
  }
  return found;
}

function addReference(vocabulary: Vocabulary, references: Reference[], source: ReferenceSource, raw: string | null): void {
  const value = referenceKey(raw);
  if (value !== null && !references.some((r) => r.source === source && r.value === value)) references.push({ source, value, id: vocabulary.reference(value) });
}

function signOf(amount: bigint): 1 | -1 | 0 {
  return amount > 0n ? 1 : amount < 0n ? -1 : 0;
}

function byId<T extends { id: string }>(items: readonly T[], side: ItemSide): readonly T[] {
  // Callers often list items in id order already (a store reads them so): then one pass says so, and no copy is sorted.
  const sorted = inIdOrder(items) ? items : [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]?.id === sorted[i - 1]?.id) throw new MatchInputError(`two ${side} items have the id ${JSON.stringify(sorted[i]?.id)}`);
  }
  return sorted;
}

function inIdOrder(items: readonly { id: string }[]): boolean {
  for (let i = 1; i < items.length; i++) if (!((items[i - 1]?.id ?? "") < (items[i]?.id ?? ""))) return false;
  return true;
}

/** The engine's input breaks its contract (two items with one id, an item without a date): the caller's bug. */
export class MatchInputError extends Error {
  override readonly name = "MatchInputError";
}

// Shared, not one array per item: a million items' labels were megabytes of the same three arrays.
const ENTRY_DATE_LABELS: readonly string[] = Object.freeze(["date"]);
const VALUE_DATE_ONLY: readonly string[] = Object.freeze(["value date"]);
const BOOKING_DATE_ONLY: readonly string[] = Object.freeze(["booking date"]);
const BOTH_DATES: readonly string[] = Object.freeze(["value date", "booking date"]);

function magnitudeOf(amountMinor: bigint): bigint {
  return amountMinor < 0n ? -amountMinor : amountMinor;
}

/** An IBAN as the engine compares it (and a learned hint keys it): upper case, no whitespace. */
export function ibanKey(iban: string | null): string | null {
  return iban === null ? null : compact(iban);
}

/**
 * Upper case without whitespace. Most references and IBANs already are: then
 * the caller's own string is returned, not a copy (a million copies were
 * tens of megabytes).
 */
function compact(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // Lower case, whitespace or control characters, or anything not ASCII (whose upper case or spacing only the general path knows).
    if ((c >= 97 && c <= 122) || c <= 32 || c >= 127) return value.toUpperCase().replace(/\s+/g, "");
  }
  return value;
}

/** `currency|sign` per currency, by sign + 1: one string per distinct value (a million items would otherwise hold a million copies). */
const flowKeys = new Map<string, readonly [string, string, string]>();
/** Currencies; beyond it keys are simply not shared. */
const FLOW_KEYS_MAX = 1_000;

function flowKey(currency: string, sign: 1 | -1 | 0): string {
  let keys = flowKeys.get(currency);
  if (keys === undefined) {
    keys = [`${currency}|-1`, `${currency}|0`, `${currency}|1`];
    if (flowKeys.size < FLOW_KEYS_MAX) flowKeys.set(currency, keys);
  }
  return sign > 0 ? keys[2] : sign < 0 ? keys[0] : keys[1];
}

const NO_REFERENCES: readonly Reference[] = Object.freeze([]);

/** The references found, in an array of exactly their number (a growing array reserves room for 16). */
function exactly(references: Reference[]): readonly Reference[] {
  return references.length === 0 ? NO_REFERENCES : references.slice();
}

/**
 * Dates repeat (a few hundred distinct ones among a million items): each is
 * parsed once per preparation.
 */
class DayCache {
  private readonly known = new Map<string, number>();
  of(date: string): number {
    let day = this.known.get(date);
    if (day === undefined) {
      day = dayNumber(date);
      if (this.known.size < DAYS_CACHED_MAX) this.known.set(date, day);
    }
    return day;
  }
}
/** Ten years of dates twice over; past it, dates are parsed each time. */
const DAYS_CACHED_MAX = 8_000;

export function prepareExternal(items: readonly ExternalItem[], patterns: readonly RegExp[], vocabulary: Vocabulary): Prepared[] {
  const days = new DayCache();
  const references: Reference[] = [];
  return byId(items, "external").map((item, index) => {
    const booked = item.bookingDate !== null && item.bookingDate !== item.valueDate;
    const valueDay = item.valueDate === null ? null : days.of(item.valueDate);
    const bookingDay = item.bookingDate !== null && booked ? days.of(item.bookingDate) : null;
    const dayLabels = item.valueDate === null ? BOOKING_DATE_ONLY : booked ? BOTH_DATES : VALUE_DATE_ONLY;
    const firstDay = valueDay ?? bookingDay;
    if (firstDay === null) throw new MatchInputError(`external item ${item.id} has neither a value nor a booking date`);
    references.length = 0;
    addReference(vocabulary, references, "endToEndId", item.endToEndId);
    addReference(vocabulary, references, "bankReference", item.bankReference);
    addReference(vocabulary, references, "customerReference", item.customerReference);
    addReference(vocabulary, references, "creditorReference", item.creditorReference);
    // Banks put invoice numbers in any free field: SEPA returns carry them in the end-to-end id, behind other text.
    for (const text of [item.remittanceInformation, item.description, item.endToEndId, item.customerReference]) {
      for (const invoice of invoiceNumbers(patterns, text)) addReference(vocabulary, references, "invoiceNumber", invoice);
    }
    const name = vocabulary.name(item.counterpartyName);
    const sign = signOf(item.amountMinor);
    const iban = ibanKey(item.counterpartyIban);
    return new Prepared(
      "external",
      index,
      item.id,
      item.amountMinor,
      magnitudeOf(item.amountMinor),
      sign,
      item.currency,
      flowKey(item.currency, sign),
      firstDay,
      valueDay === null ? firstDay : (bookingDay ?? firstDay),
      dayLabels,
      exactly(references),
      name,
      NO_NAME,
      name.words,
      name.wordIds,
      vocabulary.amount(item.currency, item.amountMinor),
      iban,
      vocabulary.iban(iban),
      NO_ACCOUNTS,
    );
  });
}

const NO_ACCOUNTS: readonly string[] = Object.freeze([]);

export function prepareInternal(items: readonly InternalItem[], patterns: readonly RegExp[], vocabulary: Vocabulary): Prepared[] {
  const days = new DayCache();
  const references: Reference[] = [];
  return byId(items, "internal").map((item, index) => {
    references.length = 0;
    addReference(vocabulary, references, "reference", item.reference);
    for (const invoice of invoiceNumbers(patterns, item.description)) addReference(vocabulary, references, "invoiceNumber", invoice);
    const name = vocabulary.name(item.counterpartyName);
    const text = name.key === null ? vocabulary.name(item.description) : NO_NAME;
    const sign = signOf(item.amountMinor);
    const day = days.of(item.date);
    const iban = ibanKey(item.counterpartyIban);
    const tokens = name.key === null ? text : name;
    return new Prepared(
      "internal",
      index,
      item.id,
      item.amountMinor,
      magnitudeOf(item.amountMinor),
      sign,
      item.currency,
      flowKey(item.currency, sign),
      day,
      day,
      ENTRY_DATE_LABELS,
      exactly(references),
      name,
      text,
      tokens.words,
      tokens.wordIds,
      vocabulary.amount(item.currency, item.amountMinor),
      iban,
      vocabulary.iban(iban),
      item.contraAccounts.length < 2 ? item.contraAccounts : [...item.contraAccounts].sort(),
    );
  });
}

/** Days between two items' nearest dates (no allocation: the search calls it for every candidate). */
export function dayGap(a: Prepared, b: Prepared): number {
  return Math.min(Math.abs(a.firstDay - b.firstDay), Math.abs(a.firstDay - b.secondDay), Math.abs(a.secondDay - b.firstDay), Math.abs(a.secondDay - b.secondDay));
}

/** Days between two items' nearest dates, and which of the first item's dates it was measured from (the first date unless the second is strictly nearer). */
export function dayDistance(a: Prepared, b: Prepared): { days: number; dateLabel: string } {
  const first = Math.min(Math.abs(a.firstDay - b.firstDay), Math.abs(a.firstDay - b.secondDay));
  const second = Math.min(Math.abs(a.secondDay - b.firstDay), Math.abs(a.secondDay - b.secondDay));
  return second < first ? { days: second, dateLabel: a.dayLabels[1] ?? "date" } : { days: first, dateLabel: a.dayLabels[0] ?? "date" };
}

/** A similarity in permille as a reason shows it, two decimals, truncated: 905 → "0.90". Integer arithmetic: the same text on every machine. */
export function formatPermille(permille: number): string {
  const hundredths = Math.floor(permille / 10);
  return `${Math.floor(hundredths / 100)}.${String(hundredths % 100).padStart(2, "0")}`;
}

/** An amount for a reason text: "12.30 EUR". */
export function formatAmount(amountMinor: bigint, currency: string): string {
  const exponent = statementCurrencyOf(currency)?.exponent ?? 2;
  const magnitude = amountMinor < 0n ? -amountMinor : amountMinor;
  return `${amountMinor < 0n ? "-" : ""}${formatDigits(magnitude.toString(), exponent)} ${currency}`;
}
