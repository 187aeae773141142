// Reading camt values out of a kept subtree, each fault located at its
// element: amounts (Amt@Ccy, exact), CRDT/DBIT, dates (Dt or DtTm, the date
// as written), references (refused when too long: a cut reference would
// mis-identify a line), free text (cut to the stored bound: it only
// describes).
import { STATEMENT_LINE_LIMITS, statementCurrencyOf } from "@trueup/contracts";
import type { Side, SourceLocation } from "@trueup/contracts";
import { checkedDate, cleanText, parseUnsignedAmount, statementError } from "../shared.ts";
import { locationOf } from "./xml-reader.ts";
import type { XmlElement } from "./xml-reader.ts";

/** Elements that may repeat in camt: their path segment always carries a position (`Ntry[3]`). */
export const REPEATED_ELEMENTS: ReadonlySet<string> = new Set(["Stmt", "Rpt", "Ntfctn", "Bal", "Ntry", "NtryDtls", "TxDtls", "Ustrd", "Strd", "Rcrd", "Chrgs"]);

export function where(element: XmlElement): SourceLocation {
  return locationOf(element, REPEATED_ELEMENTS);
}

/** The only child named `name`, or null; a second one is malformed (which of two amounts would be the amount?). */
export function one(parent: XmlElement | null, name: string): XmlElement | null {
  // No `?? []` nor spread arguments here and below: these run a few dozen times per entry, on the parse's hot path.
  if (parent?.children == null) return null;
  let found: XmlElement | null = null;
  for (const child of parent.children) {
    if (child.name !== name) continue;
    if (found !== null) throw statementError("STATEMENT_MALFORMED", `${name} is given more than once in ${parent.name}`, where(child));
    found = child;
  }
  return found;
}

/** The element at a path of single children, or null when any step is missing. */
export function at(parent: XmlElement | null, ...names: readonly string[]): XmlElement | null {
  return walk(parent, names);
}

function walk(parent: XmlElement | null, names: readonly string[]): XmlElement | null {
  let element = parent;
  for (let i = 0; i < names.length && element !== null; i++) element = one(element, names[i] ?? "");
  return element;
}

/** What all() finds most often (an entry without charges, a transaction without Prtry references): shared, not allocated per call. */
const NONE: readonly XmlElement[] = Object.freeze([]);

export function all(parent: XmlElement | null, name: string): readonly XmlElement[] {
  if (parent?.children == null) return NONE;
  let found: XmlElement[] | null = null;
  for (const child of parent.children) {
    if (child.name !== name) continue;
    found ??= [];
    found.push(child);
  }
  return found ?? NONE;
}

/** The trimmed text at a path, or null when absent or empty. */
export function textAt(parent: XmlElement | null, ...names: readonly string[]): string | null {
  const element = walk(parent, names);
  if (element === null) return null;
  const text = element.text.trim();
  return text === "" ? null : text;
}

/** Values banks write where they have no reference; the line's identity must not rest on them. */
const PLACEHOLDERS: ReadonlySet<string> = new Set(["NOTPROVIDED", "NONREF", "NONE", "N/A"]);

/** Every placeholder starts with N: only those texts are upper-cased (a copy per identifier, several per entry, otherwise). */
function isPlaceholder(text: string): boolean {
  return (text.charCodeAt(0) | 0x20) === 0x6e && PLACEHOLDERS.has(text.toUpperCase());
}

/** An identifier (reference, IBAN, BIC, code): refused when longer than what is stored, never cut. */
export function identifierAt(parent: XmlElement | null, ...names: readonly string[]): string | null {
  return identifierOf(walk(parent, names));
}

/** The element's own text as an identifier (see identifierAt). */
export function identifierOf(element: XmlElement | null): string | null {
  if (element === null) return null;
  const text = element.text.trim();
  if (text === "" || isPlaceholder(text)) return null;
  if (text.length > STATEMENT_LINE_LIMITS.fieldLengthMax) {
    throw statementError("STATEMENT_MALFORMED", `${element.name} is ${text.length} characters long, more than the ${STATEMENT_LINE_LIMITS.fieldLengthMax} stored; a cut identifier would identify something else`, where(element), {
      limit: STATEMENT_LINE_LIMITS.fieldLengthMax,
    });
  }
  return text;
}

/** A name: whitespace runs collapsed, cut to the stored bound (it names, it does not identify). */
export function nameAt(parent: XmlElement | null, ...names: readonly string[]): string | null {
  return cut(cleanText(textAt(parent, ...names)), STATEMENT_LINE_LIMITS.fieldLengthMax);
}

/** Free text (remittance, additional information): cut to the stored bound. */
export function freeText(value: string | null): string | null {
  return cut(cleanText(value), STATEMENT_LINE_LIMITS.textLengthMax);
}

export function cut(value: string | null, lengthMax: number): string | null {
  if (value === null || value.length <= lengthMax) return value;
  return value.slice(0, lengthMax);
}

export interface CamtAmount {
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly location: SourceLocation;
}

/** An `Amt Ccy="EUR">12.30</Amt>`-like element: unsigned decimal with a point, at most the currency's decimals. */
export function amountOf(element: XmlElement): CamtAmount {
  const location = where(element);
  const currency = element.attributes.get("Ccy")?.trim();
  if (currency === undefined || currency === "") throw statementError("STATEMENT_AMOUNT_INVALID", `${element.name} has no Ccy attribute`, location);
  const amountMinor = parseUnsignedAmount(element.text.trim(), { currency, decimal: ".", location });
  return { amountMinor, currency, location };
}

/** A DecimalNumber with no currency of its own (TxsSummry Sum), in `currency`'s minor units. */
export function decimalIn(element: XmlElement, currency: string): bigint {
  return parseUnsignedAmount(element.text.trim(), { currency, decimal: ".", location: where(element) });
}

/** A currency code element (Acct/Ccy). */
export function currencyAt(parent: XmlElement | null, name: string): string | null {
  const element = one(parent, name);
  if (element === null) return null;
  const code = element.text.trim();
  if (statementCurrencyOf(code) === undefined) throw statementError("STATEMENT_MALFORMED", `${JSON.stringify(code)} is not an ISO 4217 currency`, where(element));
  return code;
}

/** CdtDbtInd: CRDT money in (credit), DBIT money out (debit). */
export function sideAt(parent: XmlElement, name = "CdtDbtInd"): Side | null {
  const element = one(parent, name);
  if (element === null) return null;
  const code = element.text.trim();
  if (code === "CRDT") return "credit";
  if (code === "DBIT") return "debit";
  throw statementError("STATEMENT_MALFORMED", `${name} is ${JSON.stringify(code)}, not CRDT or DBIT`, where(element));
}

export function requiredSide(parent: XmlElement): Side {
  const side = sideAt(parent);
  if (side === null) throw statementError("STATEMENT_MALFORMED", `${parent.name} has no CdtDbtInd`, where(parent));
  return side;
}

/** RvslInd and other xs:boolean: true/false/1/0. */
export function booleanAt(parent: XmlElement, name: string): boolean | null {
  const element = one(parent, name);
  if (element === null) return null;
  const text = element.text.trim();
  if (text === "true" || text === "1") return true;
  if (text === "false" || text === "0") return false;
  throw statementError("STATEMENT_MALFORMED", `${name} is ${JSON.stringify(text)}, not true or false`, where(element));
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})(?:Z|[+-]\d{2}:\d{2})?$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})?$/;

/**
 * The date of a DateAndDateTimeChoice (BookgDt, ValDt, Bal/Dt): its Dt, or
 * the date part of its DtTm as written. No time-zone shifting: the bank's
 * own calendar day is the booking day (23:30+01:00 is booked that day, not
 * the next one in UTC).
 */
export function choiceDateAt(parent: XmlElement, name: string): string | null {
  const choice = one(parent, name);
  if (choice === null) return null;
  const date = one(choice, "Dt");
  if (date !== null) return isoDate(date, DATE);
  const dateTime = one(choice, "DtTm");
  if (dateTime !== null) return isoDate(dateTime, DATE_TIME);
  throw statementError("STATEMENT_DATE_INVALID", `${name} has neither Dt nor DtTm`, where(choice));
}

/** The date part of an ISODateTime element (FrDtTm, ToDtTm), as written. */
export function dateTimeDate(element: XmlElement): string {
  return isoDate(element, DATE_TIME);
}

/**
 * Dates already checked: a statement has few distinct days and many
 * entries, and checking one (a Date round trip) costs more than the rest of
 * reading it. Bounded: cleared when full.
 */
const checkedDates = new Set<string>();
const CHECKED_DATES_MAX = 4096;

function isoDate(element: XmlElement, pattern: RegExp): string {
  const text = element.text.trim();
  const match = pattern.exec(text);
  if (match === null) throw statementError("STATEMENT_DATE_INVALID", `${JSON.stringify(text.slice(0, 40))} is not an ISO ${pattern === DATE ? "date" : "date-time"}`, where(element));
  const date = text.slice(0, 10);
  if (checkedDates.has(date)) return date;
  const checked = checkedDate(Number(match[1]), Number(match[2]), Number(match[3]), where(element));
  if (checkedDates.size >= CHECKED_DATES_MAX) checkedDates.clear();
  checkedDates.add(checked);
  return checked;
}
