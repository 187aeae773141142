// The OpenAPI description of the ledger's commands: what each does, the
// problem codes it can answer with (by status), and real examples of its
// body and its answer. Kept apart from routes.ts so the routes stay a list
// of what runs; each route spreads its entry here into its schema.
import { z } from "zod";
import { EXAMPLE_ENTRY, isErrorCode, problemResponses } from "@trueup/contracts";
import type { ErrorCode } from "@trueup/contracts";

/** What any command can answer with, whatever it does. */
const EVERY_COMMAND: readonly ErrorCode[] = [
  "VALIDATION_FAILED",
  "IDEMPOTENCY_KEY_MISSING",
  "IDEMPOTENCY_KEY_INVALID",
  "IDEMPOTENCY_CONFLICT",
  "CONCURRENCY_CONFLICT",
  "PAYLOAD_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
  "STORE_UNAVAILABLE",
];

/**
 * Codes that changes in flight add to the catalogue (a full queue, the
 * stricter accounting rules): documented as soon as the catalogue has them.
 */
const catalogued = (...codes: string[]): ErrorCode[] => codes.filter(isErrorCode);

const problems = (...codes: ErrorCode[]) =>
  problemResponses([...EVERY_COMMAND, ...catalogued("OVERLOADED", "READ_MODEL_NOT_READY"), ...codes], {
    IDEMPOTENCY_KEY_MISSING: { detail: "headers/idempotency-key: Idempotency-Key header required: 1-200 visible ASCII characters", in: "headers", path: "/idempotency-key" },
    VALIDATION_FAILED: { detail: "body/lines: a journal entry needs at least 2 lines", in: "body", path: "/lines" },
    LEDGER_UNBALANCED: { detail: "EUR: debits 1190.00, credits 1000.00" },
    CONCURRENCY_CONFLICT: { detail: "the stream changed concurrently; retry the command with the same Idempotency-Key" },
  });

const ledgerAnswer = (example: Record<string, unknown>) => ({ revision: "3", position: "00000000000002f10000000000000004", replayed: false, ...example });

const KEY_NOTE =
  "Needs an `Idempotency-Key` header; a retry with the same key and body answers the first answer again (`Idempotent-Replayed: true`, `replayed: true`). Pass the answer's `position` as `minPosition` to a query to read this write.";

export const LEDGER_COMMAND_DOCS = {
  createLedger: {
    summary: "Create a ledger",
    description: `Creates a ledger with its id, name and base currency. ${KEY_NOTE}`,
    problems: problems("CURRENCY_UNKNOWN", "LEDGER_ALREADY_EXISTS"),
    body: { ledgerId: "acme", name: "Acme GmbH", baseCurrency: "EUR" },
    answer: ledgerAnswer({ ledgerId: "acme", revision: "0" }),
  },
  openAccount: {
    summary: "Open an account",
    description: `Opens an account in the chart of accounts: its code (unique in the ledger), name, type and, optionally, the only currency it takes. ${KEY_NOTE}`,
    problems: problems("LEDGER_NOT_FOUND", "ACCOUNT_ALREADY_EXISTS", "CURRENCY_UNKNOWN"),
    body: { code: "1000", name: "Cash at bank EUR", type: "asset", currency: "EUR" },
    answer: ledgerAnswer({ ledgerId: "acme", code: "1000" }),
  },
  closeAccount: {
    summary: "Close an account",
    description: `Closes an account: it takes no more postings. Send no body, or {}. ${KEY_NOTE}`,
    problems: problems("LEDGER_NOT_FOUND", "ACCOUNT_NOT_FOUND", "ACCOUNT_ALREADY_CLOSED", ...catalogued("ACCOUNT_BALANCE_NOT_ZERO")),
    body: {},
    answer: ledgerAnswer({ ledgerId: "acme", code: "1000" }),
  },
  postEntry: {
    summary: "Post a journal entry",
    description: `Posts a balanced journal entry: at least 2 lines, debits equal to credits in every currency, amounts as decimal strings with the currency's decimals, into an open period and open accounts. \`entryId\` is optional (derived from the Idempotency-Key otherwise). ${KEY_NOTE}`,
    problems: problems(
      "LEDGER_NOT_FOUND",
      "ACCOUNT_NOT_FOUND",
      "ACCOUNT_CLOSED",
      "ACCOUNT_CURRENCY_MISMATCH",
      "PERIOD_CLOSED",
      "ENTRY_ALREADY_EXISTS",
      "LEDGER_UNBALANCED",
      "AMOUNT_INVALID_FORMAT",
      "AMOUNT_NOT_A_STRING",
      "AMOUNT_TOO_MANY_DECIMALS",
      "AMOUNT_NOT_POSITIVE",
      "AMOUNT_OUT_OF_RANGE",
      "CURRENCY_UNKNOWN",
    ),
    body: EXAMPLE_ENTRY,
    answer: ledgerAnswer({ ledgerId: "acme", entryId: "INV-2026-0042" }),
  },
  reverseEntry: {
    summary: "Reverse a journal entry",
    description: `Posts a new entry with the lines of the given one on the opposite sides (posted entries are never edited or deleted). Dated \`effectiveDate\`, which must fall in an open period. Each entry can be reversed once; a reversal cannot be reversed. ${KEY_NOTE}`,
    problems: problems("LEDGER_NOT_FOUND", "ENTRY_NOT_FOUND", "ENTRY_ALREADY_REVERSED", "ENTRY_IS_REVERSAL", "ENTRY_ALREADY_EXISTS", "PERIOD_CLOSED", "ACCOUNT_CLOSED", ...catalogued("REVERSAL_BEFORE_ENTRY")),
    body: { effectiveDate: "2026-03-10", description: "Invoice 42 cancelled", reversalEntryId: "INV-2026-0042-R" },
    answer: ledgerAnswer({ ledgerId: "acme", entryId: "INV-2026-0042-R" }),
  },
  closePeriod: {
    summary: "Close a period",
    description: `Closes an accounting period (a UTC month, YYYY-MM): it accepts no more postings, also under concurrency. Send no body, or {}. ${KEY_NOTE}`,
    problems: problems("LEDGER_NOT_FOUND", "PERIOD_ALREADY_CLOSED", ...catalogued("PERIOD_NOT_ENDED")),
    body: {},
    answer: ledgerAnswer({ ledgerId: "acme", period: "2026-02" }),
  },
  reopenPeriod: {
    summary: "Reopen a period",
    description: `Reopens a closed period, with the reason recorded in the log. ${KEY_NOTE}`,
    problems: problems("LEDGER_NOT_FOUND", "PERIOD_NOT_CLOSED"),
    body: { reason: "late supplier invoice 2026-117" },
    answer: ledgerAnswer({ ledgerId: "acme", period: "2026-02" }),
  },
} as const;

export type LedgerCommandName = keyof typeof LEDGER_COMMAND_DOCS;

/** A route's summary, description and documented failures, and its body and answer schemas with their examples. */
export function commandDocs<B extends z.ZodType, A extends z.ZodType>(name: LedgerCommandName, schemas: { body: B; answer: A; status: 200 | 201 }) {
  const docs = LEDGER_COMMAND_DOCS[name];
  return {
    summary: docs.summary,
    description: docs.description,
    body: schemas.body.meta({ example: docs.body }),
    response: {
      [schemas.status]: schemas.answer.meta({ example: docs.answer, description: "Applied, or (`replayed: true`, header Idempotent-Replayed) the stored answer of an earlier request with this key" }),
      ...docs.problems,
    },
  };
}
