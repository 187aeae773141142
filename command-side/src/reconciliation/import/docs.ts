// The OpenAPI description of the statement import routes: the answer's
// schema (also what the response is serialised through, so nothing else
// leaks), the problems each route can answer with, and examples.
import { z } from "zod";
import { STATEMENT_FORMATS, checkResultSchema, decimalAmountDto, isErrorCode, problemResponses } from "@trueup/contracts";
import type { ErrorCode } from "@trueup/contracts";
import { outcomeFields } from "../../http/command-runner.ts";

const totals = z.array(
  z.object({
    currency: z.string(),
    credits: z.object({ count: z.number().int(), amount: decimalAmountDto }),
    debits: z.object({ count: z.number().int(), amount: decimalAmountDto }),
  }),
).describe("Lines per currency: how many credits (money in) and debits (money out), and their sums");

const statementAnswer = z.object({
  statementId: z.string(),
  bankAccountId: z.string(),
  section: z.number().int().describe("0-based position of the statement in the file"),
  lineCount: z.number().int(),
  newLines: z.number().int().describe("Lines recorded by this import"),
  knownLines: z.number().int().describe("Lines recorded before (same line id on the bank account): not recorded again"),
  totals,
  checks: z.array(checkResultSchema),
  reimport: z.boolean().describe("The same file's statement was imported before: nothing was written, the statement id is the earlier one"),
});

export const importAnswerSchema = z.object({
  statementIds: z.array(z.string()),
  format: z.enum(STATEMENT_FORMATS),
  lineCount: z.number().int(),
  newLines: z.number().int(),
  knownLines: z.number().int(),
  totals,
  checks: z.array(checkResultSchema.extend({ statementId: z.string(), section: z.number().int() })).describe("Every statement's failed and skipped checks (failed ones only when acceptFailedChecks=true)"),
  statements: z.array(statementAnswer),
});

const answer = importAnswerSchema.extend(outcomeFields).meta({
  example: {
    statementIds: ["3b1f6c2e-8d4a-8e1b-9c3d-2f5a7b9c1d3e"],
    format: "camt.053",
    lineCount: 2,
    newLines: 2,
    knownLines: 0,
    totals: [{ currency: "EUR", credits: { count: 1, amount: "1250.00" }, debits: { count: 1, amount: "80.10" } }],
    checks: [],
    statements: [],
    revision: "4",
    position: "00000000000002f10000000000000004",
    replayed: false,
  },
});

const catalogued = (...codes: string[]): ErrorCode[] => codes.filter(isErrorCode);

const COMMON: readonly ErrorCode[] = [
  "VALIDATION_FAILED",
  "IDEMPOTENCY_KEY_MISSING",
  "IDEMPOTENCY_KEY_INVALID",
  "IDEMPOTENCY_CONFLICT",
  "CONCURRENCY_CONFLICT",
  "OVERLOADED",
  "STORE_UNAVAILABLE",
  "CSV_PROFILE_NOT_FOUND",
  "CSV_PROFILE_REQUIRED",
  "STATEMENT_FORMAT_UNKNOWN",
  "STATEMENT_ENCODING_INVALID",
  "STATEMENT_MALFORMED",
  "STATEMENT_AMOUNT_INVALID",
  "STATEMENT_DATE_INVALID",
  "STATEMENT_RECORD_COUNT_MISMATCH",
  "STATEMENT_EMPTY",
  "STATEMENT_FILE_TOO_LARGE",
  "STATEMENT_TOO_MANY_LINES",
  "STATEMENT_LINE_TOO_LONG",
  "STATEMENT_ACCOUNT_MISMATCH",
  "STATEMENT_CURRENCY_MISMATCH",
  "STATEMENT_UNBALANCED",
  "STATEMENT_DISCONTINUOUS",
  "STATEMENT_SEQUENCE_GAP",
  "STATEMENT_LINE_OUTSIDE_PERIOD",
  "STATEMENT_CONTROL_TOTAL_MISMATCH",
  ...catalogued("READ_MODEL_NOT_READY"),
];

const problems = (...codes: ErrorCode[]) =>
  problemResponses([...COMMON, ...codes], {
    STATEMENT_UNBALANCED: {
      detail: "opening balance 100.00 EUR + credits 50.00 EUR − debits 20.00 EUR = 130.00 EUR, but the closing balance is 120.00 EUR",
      check: "balance",
      location: { line: 42, element: "/Document/BkToCstmrStmt/Stmt[1]/Bal[2]" },
      expected: "130.00 EUR",
      actual: "120.00 EUR",
    },
    STATEMENT_MALFORMED: { detail: "line 17, :61:: the statement line is cut off after its amount", location: { line: 17, record: ":61:" } },
  });

const NOTE =
  "The body is the file itself, raw, with any content type (it is never parsed as JSON). Needs an `Idempotency-Key`: the same key with the same file answers the first answer again; with another file, 409. Nothing is written unless every statement of the file parses and passes its checks (or `acceptFailedChecks=true`). Re-importing a file, or a statement overlapping one imported before, records only the lines not known yet (`newLines`, `knownLines`).";

const body = z.unknown().meta({ description: "The statement file (camt.052/053/054, MT940/MT942, BAI2, OFX, CSV), as bytes", type: "string", format: "binary" });

export const IMPORT_DOCS = {
  bankAccount: {
    summary: "Import a statement file to a bank account",
    description: `Imports every statement of the file to this bank account; each must name this account (or none, as CSV files do). ${NOTE}`,
    consumes: ["*/*"],
    body,
    response: { 201: answer, ...problems("BANK_ACCOUNT_NOT_FOUND") },
  },
  ledger: {
    summary: "Import a statement file to the ledger's bank accounts",
    description: `Routes each statement of the file (BAI2 accounts, camt Stmt, OFX statements) to the ledger's bank account with the IBAN or account number it names (compared without spaces and case); an unknown one is a 422 naming it, and nothing is written. ${NOTE}`,
    consumes: ["*/*"],
    body,
    response: { 201: answer, ...problems("STATEMENT_ACCOUNT_UNKNOWN") },
  },
};
