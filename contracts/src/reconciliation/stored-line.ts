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

/**
 * A stored line with its defaults put back, to be checked as a
 * StatementLineData. Anything that is not a line's shape is returned as it
 * is (a member of the wrong type is not merged into), so the check refuses it.
 */
export function expandStoredLine(stored: unknown): unknown {
  if (!isObject(stored)) return stored;
  const { counterparty, bankCodes, attributes } = stored;
  return {
    ...TOP_DEFAULTS,
    ...stored,
    counterparty: counterparty === undefined ? NO_COUNTERPARTY : isObject(counterparty) ? { ...NO_COUNTERPARTY, ...counterparty } : counterparty,
    bankCodes: bankCodes === undefined ? NO_BANK_CODES : isObject(bankCodes) ? { ...NO_BANK_CODES, ...bankCodes } : bankCodes,
    attributes: attributes === undefined ? {} : attributes,
  };
}
