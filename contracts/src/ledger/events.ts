// Ledger events, version 1. Amounts are minor units as strings of digits
// (JSON has no bigint); parse them with BigInt, never Number.
import { z } from "zod";
import { streamName } from "../ids.ts";
import type { StreamName } from "../ids.ts";
import { eventDateSchema, eventPeriodSchema } from "../calendar.ts";
import { UpcasterRegistry } from "../upcasting.ts";
import type { StoredEventShape } from "../upcasting.ts";

export const ACCOUNT_TYPES = ["asset", "liability", "equity", "revenue", "expense"] as const;
export type AccountType = (typeof ACCOUNT_TYPES)[number];
export const SIDES = ["debit", "credit"] as const;
export type Side = (typeof SIDES)[number];

export const LEDGER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.]{0,63}$/;
export const ACCOUNT_CODE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.]{0,31}$/;
export const ENTRY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.]{0,63}$/;
export const ledgerIdSchema = z.string().regex(LEDGER_ID_PATTERN, "1-64 letters, digits, '_' or '.', starting with a letter or digit");
export const accountCodeSchema = z.string().regex(ACCOUNT_CODE_PATTERN, "1-32 letters, digits, '_' or '.', starting with a letter or digit");
export const entryIdSchema = z.string().regex(ENTRY_ID_PATTERN, "1-64 letters, digits, '_' or '.', starting with a letter or digit");
const minorUnits = z.string().regex(/^[1-9]\d{0,29}$/, "positive minor units as a digit string");

export const journalLineSchema = z.strictObject({
  accountCode: accountCodeSchema,
  side: z.enum(SIDES),
  amountMinor: minorUnits,
  currency: z.string().regex(/^[A-Z]{3}$/),
});
export type JournalLine = z.infer<typeof journalLineSchema>;

export const ledgerEventSchemas = {
  LedgerCreated: z.strictObject({ ledgerId: ledgerIdSchema, name: z.string(), baseCurrency: z.string() }),
  AccountOpened: z.strictObject({
    ledgerId: ledgerIdSchema,
    code: accountCodeSchema,
    name: z.string(),
    type: z.enum(ACCOUNT_TYPES),
    currency: z.string().nullable(),
  }),
  AccountClosed: z.strictObject({ ledgerId: ledgerIdSchema, code: accountCodeSchema }),
  /**
   * The ledger has entries in this period (stream `period-<ledger>:<period>`):
   * written to the ledger stream before the period's first posting, with an
   * event id fixed by (ledger, period), so a decision that needs every entry
   * of the ledger (an account's balance, for its close) knows where to read.
   * A crash between it and the posting only leaves an empty period listed.
   */
  PeriodListed: z.strictObject({ ledgerId: ledgerIdSchema, period: eventPeriodSchema }),
  JournalEntryPosted: z.strictObject({
    ledgerId: ledgerIdSchema,
    entryId: entryIdSchema,
    effectiveDate: eventDateSchema,
    description: z.string(),
    externalReference: z.string().nullable(),
    metadata: z.record(z.string(), z.string()),
    lines: z.array(journalLineSchema).min(2),
    /** Set on a reversal: the entry it reverses. */
    reverses: entryIdSchema.nullable(),
  }),
  PeriodClosed: z.strictObject({ ledgerId: ledgerIdSchema, period: eventPeriodSchema }),
  PeriodReopened: z.strictObject({ ledgerId: ledgerIdSchema, period: eventPeriodSchema, reason: z.string() }),
  /** Claims the one reversal an entry may have (stream `reversal-…`), before the reversal is posted. */
  ReversalClaimed: z.strictObject({ ledgerId: ledgerIdSchema, entryId: entryIdSchema, reversalEntryId: entryIdSchema }),
  /** The claimed reversal could not be posted (e.g. its period is closed): the entry may be reversed again. */
  ReversalReleased: z.strictObject({ ledgerId: ledgerIdSchema, entryId: entryIdSchema, reversalEntryId: entryIdSchema, reason: z.string() }),
} as const;

export type LedgerEventType = keyof typeof ledgerEventSchemas;
export type LedgerEvent = {
  [T in LedgerEventType]: { readonly type: T; readonly data: z.infer<(typeof ledgerEventSchemas)[T]> };
}[LedgerEventType];
export const LEDGER_EVENT_TYPES = Object.keys(ledgerEventSchemas) as LedgerEventType[];

/**
 * The ledger's upcasters: every ledger event read from the log goes through
 * them (parseLedgerEvent), and new events are written at their current
 * version (ledgerSchemaVersion). None yet: every ledger event type is at
 * version 1. Changing an event's shape means registering the step from the
 * old version here, never rewriting stored events.
 */
export const ledgerUpcasters = new UpcasterRegistry();

/** The version new events of `type` are written at. */
export function ledgerSchemaVersion(type: string): number {
  return ledgerUpcasters.currentVersion(type);
}

/**
 * Parses an event read from the log into a typed ledger event at the current
 * version: upcast first, then checked against the current schema. Throws on a
 * type, version or shape this build does not know (a bug or a missing upcaster).
 */
export function parseLedgerEvent(stored: StoredEventShape): LedgerEvent {
  const { type, data } = ledgerUpcasters.upcast(stored);
  if (!(type in ledgerEventSchemas)) throw new TypeError(`not a ledger event type: ${type}`);
  const schema = ledgerEventSchemas[type as LedgerEventType];
  return { type, data: schema.parse(data) } as LedgerEvent;
}

/**
 * Streams. A ledger's accounts live in its `ledger-` stream (codes unique by
 * construction); entries live in the stream of their period, with the
 * period's close/reopen events, so a close and a concurrent posting conflict
 * on the expected revision: no posting can land in a closed period.
 */
export const LEDGER_CATEGORIES = { ledger: "ledger", period: "period", reversal: "reversal" } as const;

export function ledgerStream(ledgerId: string): StreamName {
  return streamName(LEDGER_CATEGORIES.ledger, ledgerId);
}
export function periodStream(ledgerId: string, period: string): StreamName {
  return streamName(LEDGER_CATEGORIES.period, `${ledgerId}:${period}`);
}
export function reversalStream(ledgerId: string, entryId: string): StreamName {
  return streamName(LEDGER_CATEGORIES.reversal, `${ledgerId}:${entryId}`);
}
