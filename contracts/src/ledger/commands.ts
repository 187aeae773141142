// Request bodies of the ledger commands, as zod schemas for the HTTP edge.
// Amount problems carry their own stable code (params.code), so "1.234" EUR,
// "-5", "1e3" and the JSON number 1.5 each get a distinct answer.
import { z } from "zod";
import { parseMoney } from "../money/index.ts";
import type { CurrencyCode, MoneyErrorCode } from "../money/index.ts";
import type { ErrorCode } from "../errors.ts";
import { dateSchema } from "../calendar.ts";
import { TEXT_LIMITS, metadataSchema, textSchema } from "../text.ts";
import { ACCOUNT_TYPES, SIDES, accountCodeSchema, entryIdSchema, ledgerIdSchema } from "./events.ts";

/**
 * Lines per journal entry. At about 100 bytes a line, a full entry is ~50 kB
 * of JSON: with a maximal description and metadata (TEXT_LIMITS) it stays
 * far inside the 1 MiB request body limit, so every entry the schema allows
 * can be sent.
 */
export const JOURNAL_LINES_MAX = 500;
export const DESCRIPTION_LENGTH_MAX = TEXT_LIMITS.descriptionLengthMax;
export const METADATA_KEYS_MAX = TEXT_LIMITS.metadataKeysMax;
export const METADATA_VALUE_LENGTH_MAX = TEXT_LIMITS.metadataValueLengthMax;

const MONEY_TO_API_CODE: Record<MoneyErrorCode, ErrorCode> = {
  MONEY_INVALID_FORMAT: "AMOUNT_INVALID_FORMAT",
  MONEY_TOO_MANY_DECIMALS: "AMOUNT_TOO_MANY_DECIMALS",
  MONEY_OUT_OF_RANGE: "AMOUNT_OUT_OF_RANGE",
  MONEY_UNKNOWN_CURRENCY: "CURRENCY_UNKNOWN",
};

function issue(ctx: z.RefinementCtx, code: ErrorCode, message: string, path: (string | number)[]): void {
  ctx.addIssue({ code: "custom", message, params: { code }, path });
}

const lineInput = z.strictObject({
  account: accountCodeSchema,
  side: z.enum(SIDES),
  // Any JSON value reaches the amount check, so a number gets AMOUNT_NOT_A_STRING rather than a type error; documented as what it must be.
  // The refine turns zod's "expected nonoptional" for a missing amount into a message naming what to send.
  amount: z
    .unknown()
    .refine((value) => value !== undefined, { error: `amount is required: a decimal string such as "12.30"` })
    .meta({
      type: "string",
      pattern: "^[0-9]+(\\.[0-9]+)?$",
      description: "Decimal string with at most the currency's decimals (EUR 2, JPY 0, KWD 3), greater than zero; never a JSON number. The side gives the direction.",
      example: "1190.00",
    }),
  currency: z.string().meta({ description: "ISO 4217 currency code, upper case", example: "EUR" }),
});

export interface JournalLineInput {
  readonly accountCode: string;
  readonly side: (typeof SIDES)[number];
  readonly amountMinor: bigint;
  readonly currency: CurrencyCode;
}

/** One line: a positive amount in a known currency; the side gives the direction. */
export const journalLineInputSchema = lineInput.transform((line, ctx): JournalLineInput => {
  if (typeof line.amount !== "string") {
    issue(ctx, "AMOUNT_NOT_A_STRING", `amount must be a decimal string such as "12.30", got a JSON ${line.amount === null ? "null" : typeof line.amount}`, ["amount"]);
    return z.NEVER;
  }
  const parsed = parseMoney(line.amount, line.currency);
  if (!parsed.ok) {
    const code = MONEY_TO_API_CODE[parsed.error.code];
    issue(ctx, code, parsed.error.message, [code === "CURRENCY_UNKNOWN" ? "currency" : "amount"]);
    return z.NEVER;
  }
  if (parsed.value.amountMinor <= 0n) {
    issue(ctx, "AMOUNT_NOT_POSITIVE", `amount must be greater than zero, got ${JSON.stringify(line.amount)}; use side to say debit or credit`, ["amount"]);
    return z.NEVER;
  }
  return { accountCode: line.account, side: line.side, amountMinor: parsed.value.amountMinor, currency: parsed.value.currency };
});

const name = textSchema({ lengthMax: TEXT_LIMITS.nameLengthMax });
const description = textSchema({ lengthMax: TEXT_LIMITS.descriptionLengthMax });

/** An ISO 4217 code from the table; the issue (at the field itself) says what was wrong. */
const currencySchema = z.string().transform((code, ctx) => {
  const parsed = parseMoney("0", code);
  if (!parsed.ok) {
    issue(ctx, "CURRENCY_UNKNOWN", parsed.error.message, []);
    return z.NEVER;
  }
  return parsed.value.currency;
});

export const createLedgerBody = z.strictObject({
  ledgerId: ledgerIdSchema,
  name,
  baseCurrency: currencySchema,
});
export type CreateLedgerBody = z.infer<typeof createLedgerBody>;

export const openAccountBody = z.strictObject({
  code: accountCodeSchema,
  name,
  type: z.enum(ACCOUNT_TYPES),
  currency: currencySchema.optional(),
});
export type OpenAccountBody = z.infer<typeof openAccountBody>;

export const postJournalEntryBody = z.strictObject({
  /** Optional: chosen by the client; otherwise derived from the Idempotency-Key. */
  entryId: entryIdSchema.optional(),
  effectiveDate: dateSchema,
  description,
  externalReference: textSchema({ lengthMax: TEXT_LIMITS.referenceLengthMax }).optional(),
  metadata: metadataSchema.optional(),
  lines: z
    .array(journalLineInputSchema)
    .min(2, "a journal entry needs at least 2 lines")
    .max(JOURNAL_LINES_MAX, `a journal entry has at most ${JOURNAL_LINES_MAX} lines; split it into several entries`),
});
export type PostJournalEntryBody = z.infer<typeof postJournalEntryBody>;

export const reverseJournalEntryBody = z.strictObject({
  effectiveDate: dateSchema,
  description: description.optional(),
  reversalEntryId: entryIdSchema.optional(),
});
export type ReverseJournalEntryBody = z.infer<typeof reverseJournalEntryBody>;

export const reopenPeriodBody = z.strictObject({ reason: textSchema({ lengthMax: TEXT_LIMITS.reasonLengthMax }) }, {
  error: (issue) => (issue.code === "invalid_type" ? `send a JSON object with the reason for reopening, e.g. {"reason": "late supplier invoice"}` : undefined),
});

/** Commands that take no input (closes): no body (fastify gives null), a JSON null, or `{}`. */
export const emptyBody = z.strictObject({}, {
  error: (issue) => (issue.code === "invalid_type" ? "this command takes no input: send no body, or {}" : undefined),
}).nullish();
