// A statement line as StatementLinesRecorded (version 2) stores it: the
// members that hold their default (null, `reversal: false`, no attributes,
// a counterparty or bank codes with nothing known) are left out, and put
// back when the event is read. Most members of most lines are empty (a CSV
// row fills six or so of twenty-odd fields), and lines are nearly all of an
// import's volume: left out, a CSV line is about 40 % smaller in the log,
// and PostgreSQL's jsonb input, the JSON work on both sides and the read
// back shrink with it. Version 1 stored every member: expanding such a line
// changes nothing, so its upcaster is the identity.
import { STATEMENT_LINE_KEYS, isJsonObject } from "./line-check.ts";
import { NO_BANK_CODES, NO_COUNTERPARTY } from "./statement.ts";
import type { StatementLineData } from "./events.ts";

type Fields = Record<string, unknown>;


/** The non-null members of a counterparty or bank codes, or undefined when every member is null. */
function withoutNulls(value: Readonly<Record<string, string | null>>): Fields | undefined {
  let kept: Fields | undefined;
  for (const key in value) {
    const member = value[key];
    if (member === null || member === undefined) continue;
    kept ??= {};
    kept[key] = member;
  }
  return kept;
}

/**
 * The line as stored: every default member left out. Member by member, not
 * through Object.entries: this runs for every line of an import, and the
 * entries' arrays were a good part of the import's garbage.
 */
export function storedLine(line: StatementLineData): Fields {
  const stored: Fields = { lineId: line.lineId, lineNumber: line.lineNumber, amountMinor: line.amountMinor, side: line.side, currency: line.currency };
  if (line.bookingDate !== null) stored.bookingDate = line.bookingDate;
  if (line.valueDate !== null) stored.valueDate = line.valueDate;
  if (line.reversal) stored.reversal = true;
  if (line.bankReference !== null) stored.bankReference = line.bankReference;
  if (line.endToEndId !== null) stored.endToEndId = line.endToEndId;
  if (line.customerReference !== null) stored.customerReference = line.customerReference;
  if (line.creditorReference !== null) stored.creditorReference = line.creditorReference;
  if (line.remittanceInformation !== null) stored.remittanceInformation = line.remittanceInformation;
  if (line.description !== null) stored.description = line.description;
  const counterparty = withoutNulls(line.counterparty);
  if (counterparty !== undefined) stored.counterparty = counterparty;
  const bankCodes = withoutNulls(line.bankCodes);
  if (bankCodes !== undefined) stored.bankCodes = bankCodes;
  if (line.chargesMinor !== null) stored.chargesMinor = line.chargesMinor;
  if (line.batch !== null) stored.batch = line.batch;
  for (const _ in line.attributes) {
    stored.attributes = line.attributes;
    break;
  }
  stored.raw = line.raw;
  stored.location = line.location;
  return stored;
}

const orNull = (value: unknown): unknown => (value === undefined ? null : value);

/** A counterparty or bank codes as stored (members left out, or the whole object) over its all-null default; anything else as it is. */
function overDefaults(value: unknown, defaults: object): unknown {
  if (value === undefined) return defaults;
  return isJsonObject(value) ? { ...defaults, ...value } : value;
}

/**
 * A stored line with its defaults put back, to be checked as a
 * StatementLineData. Anything that is not a line's shape is returned as it
 * is (a member of the wrong type is not merged into, an unknown member keeps
 * the whole line as stored), so the check refuses it. Built member by member:
 * it runs for every line a projection reads, and spreading a line into the
 * defaults cost ten times as much.
 */
export function expandStoredLine(stored: unknown): unknown {
  if (!isJsonObject(stored)) return stored;
  for (const key in stored) if (!STATEMENT_LINE_KEYS.has(key)) return stored;
  const s = stored;
  return {
    lineId: s.lineId,
    lineNumber: s.lineNumber,
    amountMinor: s.amountMinor,
    side: s.side,
    currency: s.currency,
    bookingDate: orNull(s.bookingDate),
    valueDate: orNull(s.valueDate),
    reversal: s.reversal === undefined ? false : s.reversal,
    bankReference: orNull(s.bankReference),
    endToEndId: orNull(s.endToEndId),
    customerReference: orNull(s.customerReference),
    creditorReference: orNull(s.creditorReference),
    remittanceInformation: orNull(s.remittanceInformation),
    description: orNull(s.description),
    counterparty: overDefaults(s.counterparty, NO_COUNTERPARTY),
    bankCodes: overDefaults(s.bankCodes, NO_BANK_CODES),
    chargesMinor: orNull(s.chargesMinor),
    batch: orNull(s.batch),
    attributes: s.attributes === undefined ? {} : s.attributes,
    raw: s.raw,
    location: s.location,
  };
}
