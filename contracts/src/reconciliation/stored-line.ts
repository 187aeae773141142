// A statement line as StatementLinesRecorded (version 2) stores it: the
// members that hold their default (null, `reversal: false`, no attributes,
// a counterparty or bank codes with nothing known) are left out, and put
// back when the event is read. Most members of most lines are empty (a CSV
// row fills six or so of twenty-odd fields), and lines are nearly all of an
// import's volume: left out, a CSV line is about 40 % smaller in the log,
// and PostgreSQL's jsonb input, the JSON work on both sides and the read
// back shrink with it. Version 1 stored every member: expanding such a line
// changes nothing, so its upcaster is the identity.
import { NO_BANK_CODES, NO_COUNTERPARTY } from "./statement.ts";
import type { StatementLineData } from "./events.ts";

/** What a stored line may leave out, and the value it then has. */
const TOP_DEFAULTS = {
  bookingDate: null,
  valueDate: null,
  reversal: false,
  bankReference: null,
  endToEndId: null,
  customerReference: null,
  creditorReference: null,
  remittanceInformation: null,
  description: null,
  chargesMinor: null,
  batch: null,
} as const;

type Fields = Record<string, unknown>;

const isObject = (value: unknown): value is Fields => typeof value === "object" && value !== null && !Array.isArray(value);

function withoutNulls(value: Readonly<Record<string, string | null>>): Fields | undefined {
  let kept: Fields | undefined;
  for (const [key, member] of Object.entries(value)) {
    if (member === null) continue;
    kept ??= {};
    kept[key] = member;
  }
  return kept;
}

/** The line as stored: every default member left out. */
export function storedLine(line: StatementLineData): Fields {
  const stored: Fields = {};
  for (const [key, value] of Object.entries(line)) {
    if (key in TOP_DEFAULTS && value === TOP_DEFAULTS[key as keyof typeof TOP_DEFAULTS]) continue;
    if (key === "counterparty" || key === "bankCodes") {
      const kept = withoutNulls(value as Record<string, string | null>);
      if (kept !== undefined) stored[key] = kept;
      continue;
    }
    if (key === "attributes" && Object.keys(value as object).length === 0) continue;
    stored[key] = value;
  }
  return stored;
}

const LINE_KEYS = new Set([
  "lineId", "lineNumber", "amountMinor", "side", "currency", "bookingDate", "valueDate", "reversal", "bankReference", "endToEndId", "customerReference",
  "creditorReference", "remittanceInformation", "description", "counterparty", "bankCodes", "chargesMinor", "batch", "attributes", "raw", "location",
]);

const orNull = (value: unknown): unknown => (value === undefined ? null : value);

function counterpartyOf(value: unknown): unknown {
  if (value === undefined) return NO_COUNTERPARTY;
  if (!isObject(value)) return value;
  return { ...NO_COUNTERPARTY, ...value };
}

function bankCodesOf(value: unknown): unknown {
  if (value === undefined) return NO_BANK_CODES;
  if (!isObject(value)) return value;
  return { ...NO_BANK_CODES, ...value };
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
  if (!isObject(stored)) return stored;
  for (const key in stored) if (!LINE_KEYS.has(key)) return stored;
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
    counterparty: counterpartyOf(s.counterparty),
    bankCodes: bankCodesOf(s.bankCodes),
    chargesMinor: orNull(s.chargesMinor),
    batch: orNull(s.batch),
    attributes: s.attributes === undefined ? {} : s.attributes,
    raw: s.raw,
    location: s.location,
  };
}
