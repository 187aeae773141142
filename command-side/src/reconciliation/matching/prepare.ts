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
}

export interface Prepared {
  readonly side: ItemSide;
  /** Index in its side's sorted array. */
  readonly index: number;
  readonly id: string;
  readonly amountMinor: bigint;
  readonly magnitudeMinor: bigint;
  readonly sign: 1 | -1 | 0;
  readonly currency: string;
  /** `currency|amount`, the exact-amount index's key, made once. */
  readonly amountKey: string;
  /** `currency|sign`, the date index's key. */
  readonly flowKey: string;
  /** Value date first, then booking date (external); the entry's date (internal). */
  readonly days: readonly number[];
  /** days[0]: the date the indexes order by. */
  readonly firstDay: number;
  /** What each date is: "value date", "booking date" or "date". */
  readonly dayLabels: readonly string[];
  readonly references: readonly Reference[];
  /** The counterparty name, normalised (name.key: nameKey), or NO_NAME. */
  readonly name: NameFacts;
  /** Internal items without a counterparty name: their description, so the name can be found in it. */
  readonly text: NameFacts;
  /** Name and description words (at least 3 characters), for finding items of the same counterparty. */
  readonly tokens: readonly string[];
  readonly iban: string | null;
  readonly contraAccounts: readonly string[];
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
  const key = value.toUpperCase().replace(/\s+/g, "");
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
}

export function gramsOf(facts: NameFacts): Int32Array {
  facts.grams ??= bigrams(facts.key ?? "");
  return facts.grams;
}

const NO_NAME: NameFacts = Object.freeze({ key: null, grams: null, words: Object.freeze([]) });

/** A name key's distinct words of at least 3 characters, sorted. */
function wordsOf(key: string): string[] {
  const words: string[] = [];
  for (const word of key.split(" ")) if (word.length >= 3 && !words.includes(word)) words.push(word);
  return words.sort();
}

/**
 * Names and descriptions repeat (one company, many lines): each distinct
 * text is normalised once per run. Lives as long as one preparation.
 */
class NameCache {
  private readonly known = new Map<string, NameFacts>();
  of(text: string | null): NameFacts {
    if (text === null) return NO_NAME;
    let facts = this.known.get(text);
    if (facts === undefined) {
      const key = nameKey(text);
      facts = key === null ? NO_NAME : { key, grams: null, words: wordsOf(key) };
      this.known.set(text, facts);
    }
    return facts;
  }
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

function invoiceNumbers(patterns: readonly RegExp[], text: string | null): string[] {
  if (text === null || patterns.length === 0) return [];
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

function addReference(references: Reference[], source: ReferenceSource, raw: string | null): void {
  const value = referenceKey(raw);
  if (value !== null && !references.some((r) => r.source === source && r.value === value)) references.push({ source, value });
}

function signOf(amount: bigint): 1 | -1 | 0 {
  return amount > 0n ? 1 : amount < 0n ? -1 : 0;
}

function byId<T extends { id: string }>(items: readonly T[], side: ItemSide): T[] {
  const sorted = [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]?.id === sorted[i - 1]?.id) throw new MatchInputError(`two ${side} items have the id ${JSON.stringify(sorted[i]?.id)}`);
  }
  return sorted;
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

/** The fields every prepared item derives from its id, amount and currency the same way. */
function amountFields(item: { readonly id: string; readonly amountMinor: bigint; readonly currency: string }) {
  return {
    id: item.id,
    amountMinor: item.amountMinor,
    magnitudeMinor: item.amountMinor < 0n ? -item.amountMinor : item.amountMinor,
    sign: signOf(item.amountMinor),
    currency: item.currency,
    amountKey: `${item.currency}|${item.amountMinor}`,
    flowKey: flowKey(item.currency, item.amountMinor),
  };
}

function ibanKey(iban: string | null): string | null {
  return iban === null ? null : iban.toUpperCase().replace(/\s+/g, "");
}

const flowKeys = new Map<string, string>();

/** `currency|sign`, one string per distinct value (a million items would otherwise hold a million copies). */
function flowKey(currency: string, amountMinor: bigint): string {
  const key = `${currency}|${signOf(amountMinor)}`;
  const known = flowKeys.get(key);
  if (known !== undefined) return known;
  if (flowKeys.size < FLOW_KEYS_MAX) flowKeys.set(key, key);
  return key;
}
/** Currencies × three signs; beyond it keys are simply not shared. */
const FLOW_KEYS_MAX = 1_000;

export function prepareExternal(items: readonly ExternalItem[], patterns: readonly RegExp[]): Prepared[] {
  const names = new NameCache();
  return byId(items, "external").map((item, index) => {
    const dayNames: string[] = [];
    if (item.valueDate !== null) dayNames.push(item.valueDate);
    const booked = item.bookingDate !== null && item.bookingDate !== item.valueDate;
    if (item.bookingDate !== null && booked) dayNames.push(item.bookingDate);
    const dayLabels = item.valueDate === null ? BOOKING_DATE_ONLY : booked ? BOTH_DATES : VALUE_DATE_ONLY;
    const days = dayNames.map(dayNumber);
    if (dayNames.length === 0) throw new MatchInputError(`external item ${item.id} has neither a value nor a booking date`);
    const references: Reference[] = [];
    addReference(references, "endToEndId", item.endToEndId);
    addReference(references, "bankReference", item.bankReference);
    addReference(references, "customerReference", item.customerReference);
    addReference(references, "creditorReference", item.creditorReference);
    // Banks put invoice numbers in any free field: SEPA returns carry them in the end-to-end id, behind other text.
    const texts = [item.remittanceInformation, item.description, item.endToEndId, item.customerReference];
    for (const invoice of texts.flatMap((text) => invoiceNumbers(patterns, text))) {
      addReference(references, "invoiceNumber", invoice);
    }
    const name = names.of(item.counterpartyName);
    return {
      side: "external",
      index,
      ...amountFields(item),
      days,
      firstDay: days[0] ?? 0,
      dayLabels,
      references,
      name,
      text: NO_NAME,
      tokens: name.words,
      iban: ibanKey(item.counterpartyIban),
      contraAccounts: [],
    };
  });
}

export function prepareInternal(items: readonly InternalItem[], patterns: readonly RegExp[]): Prepared[] {
  const names = new NameCache();
  return byId(items, "internal").map((item, index) => {
    const references: Reference[] = [];
    addReference(references, "reference", item.reference);
    for (const invoice of invoiceNumbers(patterns, item.description)) addReference(references, "invoiceNumber", invoice);
    const name = names.of(item.counterpartyName);
    const text = name.key === null ? names.of(item.description) : NO_NAME;
    return {
      side: "internal",
      index,
      ...amountFields(item),
      days: [dayNumber(item.date)],
      firstDay: dayNumber(item.date),
      dayLabels: ENTRY_DATE_LABELS,
      references,
      name,
      text,
      tokens: name.key === null ? text.words : name.words,
      iban: ibanKey(item.counterpartyIban),
      contraAccounts: item.contraAccounts.length < 2 ? item.contraAccounts : [...item.contraAccounts].sort(),
    };
  });
}

/** Days between two items' nearest dates (no allocation: the search calls it for every candidate). */
export function dayGap(a: Prepared, b: Prepared): number {
  let best = Infinity;
  for (const own of a.days) for (const day of b.days) best = Math.min(best, Math.abs(own - day));
  return best;
}

/** Days between two items' nearest dates, and which of the first item's dates it was measured from. */
export function dayDistance(a: Prepared, b: Prepared): { days: number; dateLabel: string } {
  let best = Infinity;
  let nearest = 0;
  a.days.forEach((own, i) => {
    for (const day of b.days) {
      const distance = Math.abs(own - day);
      if (distance < best) {
        best = distance;
        nearest = i;
      }
    }
  });
  return { days: best, dateLabel: a.dayLabels[nearest] ?? "date" };
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
