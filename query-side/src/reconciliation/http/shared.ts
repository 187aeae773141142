// What the reconciliation query routes share: their limits, querystring and
// response schemas (strict: a parameter a route does not know is a 400
// naming it), opaque cursors checked to the last part (a cursor we did not
// return is a 400 at /cursor, never a 500 from a bad cast), amounts as
// decimal strings with currency and side, and the read-your-writes wait.
import { z } from "zod";
import { pagingSchemas } from "../../http/paging.ts";
import type { ErrorCode, JsonValue } from "@trueup/contracts";
import {
  EXCEPTION_KINDS, POSITION_PATTERN, TrueupError, bankAccountIdSchema, matchIdSchema, decimalAmountDto, formatDigits, isCalendarDate, ledgerIdSchema, positionDto,
  problemResponses, statementCurrencyOf, statementIdSchema,
} from "@trueup/contracts";
import type { BalanceRow, LineRow, ReconciliationReader, StatementRow } from "../reader.ts";
import type { MatchReader } from "../match-reader.ts";
import type { ExceptionReader } from "../exception-reader.ts";
import type { MatchingRulesSource } from "./matching-rules.ts";

export const RECONCILIATION_QUERY_LIMITS = {
  pageSizeDefault: 100,
  /** A page holds at most this many rows; `limit` above it is a 400 that names it. */
  pageSizeMax: 500,
  /** How long `minPosition` waits for the read model before a 503 READ_MODEL_BEHIND. */
  minPositionWaitMs: 5_000,
  /** A cursor is an id, a date, a position and a number, base64url: anything longer was not returned by us. */
  cursorLengthMax: 500,
} as const;

export interface ReconciliationQueryRoutesDeps {
  readonly reader: ReconciliationReader;
  readonly matches: MatchReader;
  readonly exceptions: ExceptionReader;
  /** A bank account's current matching rules, read from the log. */
  readonly matchingRules: MatchingRulesSource;
  /** Resolves true once the named read model has applied the log up to `position`; false after `timeoutMs`. */
  readonly waitForPosition: (readModel: ReadModel, position: string, timeoutMs: number) => Promise<boolean>;
  /** The matches' case files (a document read model), by match id. */
  readonly cases: MatchCaseSource;
}

/**
 * Where case files come from: the document store behind the cases
 * projection, as the platform wires it (query-side imports no projection).
 * A document is checked against the case schema where it is read.
 */
export interface MatchCaseSource {
  /** The case file's body; undefined when no document has that id. */
  matchCase(matchId: string): Promise<JsonValue | undefined>;
  /** An item's case file (near misses, decisions); undefined when no run or decision has touched the item. */
  itemCase(bankAccountId: string, side: "external" | "internal", itemId: string): Promise<JsonValue | undefined>;
}

/** The read models these routes read: statements and lines, matches, and the matches' case files. */
export type ReadModel = "reconciliation" | "matching" | "cases" | "itemCases";

export interface RouteContext {
  readonly reader: ReconciliationReader;
  readonly matches: MatchReader;
  readonly cases: MatchCaseSource;
  readonly guards: ReconciliationGuards;
}

export const tags = ["reconciliation queries"];

// --- request schemas ----------------------------------------------------------

export const ledgerParams = z.strictObject({ ledgerId: ledgerIdSchema.meta({ description: "The ledger's id", example: "acme" }) });
export const bankAccountParams = z.strictObject({ bankAccountId: bankAccountIdSchema.meta({ description: "The bank account's id", example: "acme-eur-main" }) });
export const statementParams = z.strictObject({
  statementId: statementIdSchema.meta({ description: "The statement's id (a lowercase UUID, as the import answered)", example: "5f0c6e1a-3b9d-4c2e-8f11-2a7b9c0d4e5f" }),
});

export const { limitSchema, cursorSchema, consistency } = pagingSchemas(RECONCILIATION_QUERY_LIMITS, { cursorExample: "WyIyMDI2LTAxLTAzIl0" });

// --- cursors --------------------------------------------------------------------

const position = z.string().regex(POSITION_PATTERN);
const lineNumber = z.number().int().min(0).max(2_147_483_647);
/**
 * What each kind of cursor holds after its tag, every part checked as the
 * SQL will cast it. The tag makes a cursor of one endpoint a 400 at another
 * rather than a page of something else.
 */
export const CURSORS = {
  bankAccounts: z.tuple([bankAccountIdSchema]),
  statements: z.tuple([position]),
  statementLines: z.tuple([lineNumber]),
  accountLines: z.tuple([z.string().refine((d) => d === "-infinity" || isCalendarDate(d)), position, lineNumber]),
  matches: z.tuple([matchIdSchema]),
  unmatched: z.tuple([z.enum(["external", "internal"]), z.string().refine((d) => d === "-infinity" || isCalendarDate(d)), position, lineNumber]),
  exceptions: z.tuple([z.string().refine((d) => d === "-infinity" || isCalendarDate(d)), z.enum(EXCEPTION_KINDS), z.enum(["external", "internal"]), z.string().min(1).max(200)]),
} as const;
type CursorKind = keyof typeof CURSORS;

export function encodeCursor<K extends CursorKind>(kind: K, parts: z.infer<(typeof CURSORS)[K]>): string {
  return Buffer.from(JSON.stringify([kind, ...parts])).toString("base64url");
}

/** The parts of a cursor this endpoint returned; anything else is a 400 at the querystring's /cursor. */
export function decodeCursor<K extends CursorKind>(cursor: string | undefined, kind: K): z.infer<(typeof CURSORS)[K]> | undefined {
  if (cursor === undefined) return undefined;
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    parts = undefined;
  }
  const parsed = Array.isArray(parts) && parts[0] === kind ? CURSORS[kind].safeParse(parts.slice(1)) : undefined;
  if (parsed?.success !== true) {
    throw new TrueupError("VALIDATION_FAILED", "querystring/cursor: not a cursor this endpoint returned; pass the nextCursor of the previous page", { path: ["cursor"], in: "querystring" });
  }
  return parsed.data as z.infer<(typeof CURSORS)[K]>;
}

/** The next page's cursor: only when this page is full (a page shorter than the limit is the last). */
export function nextCursor<T, K extends CursorKind>(rows: readonly T[], limit: number, kind: K, parts: (last: T) => z.infer<(typeof CURSORS)[K]>): string | null {
  const last = rows[rows.length - 1];
  return rows.length === limit && last !== undefined ? encodeCursor(kind, parts(last)) : null;
}

// --- response schemas -----------------------------------------------------------

export const amount = decimalAmountDto;
export const sideDto = z.enum(["debit", "credit"]).meta({ description: "credit: money into the account (for a balance: in the holder's favour); debit: out (an overdraft)", example: "credit" });
export const currencyDto = z.string().meta({ description: "ISO 4217 code (a withdrawn one such as DEM on archived statements)", example: "EUR" });
export const dateDto = z.string().meta({ format: "date", description: "YYYY-MM-DD", example: "2026-01-31" });
export const nextCursorDto = z.string().nullable().meta({ description: "Pass as `cursor` for the next page; null on the last page", example: null });

export const balanceDto = z
  .object({ amount, side: sideDto, currency: currencyDto, date: dateDto.nullable() })
  .meta({ description: "A balance the bank stated: unsigned amount and side, at a date", example: { amount: "12500.00", side: "credit", currency: "EUR", date: "2026-01-31" } });

const locationDto = z
  .object({ line: z.number().int(), column: z.string().optional(), element: z.string().optional(), record: z.string().optional() })
  .meta({ description: "Where in the source file: 1-based line, and the XML element path, CSV column or record type", example: { line: 42, element: "/Document/BkToCstmrStmt/Stmt[1]/Ntry[7]" } });

const CHECK_RESULT_EXAMPLE = {
  check: "continuity",
  status: "failed",
  code: "STATEMENT_DISCONTINUOUS",
  message: "the previous statement closed at 1200.00 EUR credit, this one opens at 1250.00 EUR credit",
  expected: "1200.00 EUR credit",
  actual: "1250.00 EUR credit",
  location: { line: 12, element: "/Document/BkToCstmrStmt/Stmt[1]/Bal[1]/Amt" },
};

export const checkDto = z
  .object({
    check: z.string().meta({ enum: ["balance", "continuity", "sequence", "currency", "account", "period", "controlTotals"] }),
    status: z.string().meta({ enum: ["passed", "failed", "skipped"] }),
    code: z.string().nullable(),
    message: z.string(),
    expected: z.string().nullable(),
    actual: z.string().nullable(),
    location: locationDto.nullable(),
  })
  .meta({ description: "One statement check's outcome (failed ones are kept when the import accepted them)", example: CHECK_RESULT_EXAMPLE });


// --- problems and guards ---------------------------------------------------------

/** Problems every reconciliation query can answer with, besides its own. */
const QUERY_PROBLEMS: readonly ErrorCode[] = ["VALIDATION_FAILED", "READ_MODEL_BEHIND", "READ_MODEL_NOT_READY", "OVERLOADED", "STORE_UNAVAILABLE"];

export function queryProblems(...extra: ErrorCode[]) {
  return problemResponses([...QUERY_PROBLEMS, ...extra]);
}

/** The checks a route makes before it reads: its own writes are visible, the account or statement exists. */
export class ReconciliationGuards {
  constructor(private readonly deps: ReconciliationQueryRoutesDeps) {}

  /** Waits until every read model the route reads has applied the log up to `minPosition` (the waits run together, under one limit each). */
  async consistent(minPosition: string | undefined, readModels: readonly ReadModel[] = ["reconciliation"]): Promise<void> {
    if (minPosition === undefined) return;
    const reached = await Promise.all(readModels.map((model) => this.deps.waitForPosition(model, minPosition, RECONCILIATION_QUERY_LIMITS.minPositionWaitMs)));
    if (reached.some((ok) => !ok)) {
      throw new TrueupError("READ_MODEL_BEHIND", `read model has not reached ${minPosition} within ${RECONCILIATION_QUERY_LIMITS.minPositionWaitMs} ms; retry`);
    }
  }

  async bankAccount(bankAccountId: string) {
    const found = await this.deps.reader.bankAccount(bankAccountId);
    if (found === undefined) throw new TrueupError("BANK_ACCOUNT_NOT_FOUND", `no bank account ${bankAccountId}`);
    return found;
  }

  async statement(statementId: string): Promise<StatementRow> {
    const found = await this.deps.reader.statement(statementId);
    if (found === undefined) throw new TrueupError("STATEMENT_NOT_FOUND", `no statement ${statementId}`);
    return found;
  }
}

// --- formatting ------------------------------------------------------------------

/**
 * Minor units as a decimal string in the currency's exponent, active or
 * withdrawn (a DEM line of an archived MT940). A code in neither table
 * cannot have come through an importer; it is written as minor units
 * rather than guessed (amountMinor beside it is always exact).
 */
export function fmt(amountMinor: bigint, currency: string): string {
  const exponent = statementCurrencyOf(currency)?.exponent ?? 0;
  return formatDigits(amountMinor.toString(), exponent);
}

export function balanceJson(balance: BalanceRow | null): z.infer<typeof balanceDto> | null {
  return balance === null ? null : { amount: fmt(balance.amountMinor, balance.currency), side: balance.side, currency: balance.currency, date: balance.date };
}

export const statementDto = z
  .object({
    statementId: z.string(),
    bankAccountId: z.string(),
    ledgerId: z.string(),
    format: z.string().meta({ example: "camt.053" }),
    currency: currencyDto,
    statementReference: z.string().nullable(),
    sequenceNumber: z.string().nullable(),
    pageNumber: z.string().nullable(),
    createdAt: z.string().nullable(),
    periodStart: dateDto.nullable(),
    periodEnd: dateDto.nullable(),
    openingBalance: balanceDto.nullable(),
    closingBalance: balanceDto.nullable(),
    availableBalance: balanceDto.nullable(),
    lineCount: z.number().int().meta({ description: "Lines in the file's statement, new and known" }),
    newLines: z.number().int().meta({ description: "Lines this statement recorded" }),
    knownLines: z.number().int().meta({ description: "Lines an earlier statement of the account had already recorded" }),
    visibleLines: z.number().int().meta({ description: "Lines of this statement listed under it (its new lines, less any line id the account already showed)" }),
    totals: z.object({ credits: amount, debits: amount, creditCount: z.number().int(), debitCount: z.number().int(), currency: currencyDto }),
    checks: z.array(checkDto),
    acceptedWithFailedChecks: z.boolean().meta({ description: "Some check failed and the import was made with acceptFailedChecks=true; `failedChecks` lists them" }),
    failedChecks: z.array(checkDto),
    account: z.object({ iban: z.string().nullable(), accountNumber: z.string().nullable(), bankId: z.string().nullable() }).meta({ description: "The account as the file names it" }),
    source: z.object({ fileSha256: z.string(), fileBytes: z.number().int(), fileName: z.string().nullable(), encoding: z.string(), section: z.number().int() }),
    position: positionDto,
    recordedAt: z.string().meta({ format: "date-time" }),
  })
  .meta({ description: "An imported statement: the bank's header, balances, totals, the checks' outcomes and the source file" });

export function statementJson(s: StatementRow): z.infer<typeof statementDto> {
  return {
    statementId: s.statementId,
    bankAccountId: s.bankAccountId,
    ledgerId: s.ledgerId,
    format: s.format,
    currency: s.currency,
    statementReference: s.statementReference,
    sequenceNumber: s.sequenceNumber,
    pageNumber: s.pageNumber,
    createdAt: s.createdAt,
    periodStart: s.periodStart,
    periodEnd: s.periodEnd,
    openingBalance: balanceJson(s.openingBalance),
    closingBalance: balanceJson(s.closingBalance),
    availableBalance: balanceJson(s.availableBalance),
    lineCount: s.lineCount,
    newLines: s.newLines,
    knownLines: s.knownLines,
    visibleLines: s.linesVisible,
    totals: { credits: fmt(s.totals.creditsMinor, s.currency), debits: fmt(s.totals.debitsMinor, s.currency), creditCount: s.totals.credits, debitCount: s.totals.debits, currency: s.currency },
    checks: s.checks,
    acceptedWithFailedChecks: s.acceptedWithFailedChecks,
    failedChecks: s.checks.filter((c) => c.status === "failed"),
    account: s.account,
    source: s.source,
    position: s.position,
    recordedAt: s.recordedAt,
  };
}

const nullableText = z.string().nullable();
export const lineDto = z
  .object({
    lineId: z.string().meta({ description: "The line's identity in its bank account: `ref:<bank reference>#<n>` or `hash:<hex>#<n>`", example: "ref:2026013100042#1" }),
    statementId: z.string(),
    bankAccountId: z.string(),
    ledgerId: z.string(),
    lineNumber: z.number().int().meta({ description: "1-based position of the line in its statement" }),
    status: z.enum(["matched", "suggested", "unmatched"]).meta({ description: "matched: in a confirmed match; suggested: in a match awaiting a clerk; unmatched: in neither" }),
    amount,
    amountMinor: z.string().meta({ description: "The amount in minor units, digits", example: "125000" }),
    side: sideDto,
    currency: currencyDto,
    bookingDate: dateDto.nullable(),
    valueDate: dateDto.nullable(),
    reversal: z.boolean(),
    bankReference: nullableText,
    endToEndId: nullableText,
    customerReference: nullableText,
    creditorReference: nullableText,
    remittanceInformation: nullableText,
    description: nullableText,
    counterparty: z.object({ name: nullableText, iban: nullableText, accountNumber: nullableText, bic: nullableText }),
    bankCodes: z.record(z.string(), nullableText).meta({ description: "domain, family, subFamily, proprietary, proprietaryIssuer, swift, bai2, ofx, psp" }),
    charges: amount.nullable().meta({ description: "Charges the bank states for the line, in its currency" }),
    batch: z.object({ id: z.string(), index: z.number().int(), size: z.number().int(), amount, side: sideDto }).nullable().meta({ description: "The entry this line was booked in with others (camt Ntry with several TxDtls, a payout)" }),
    attributes: z.record(z.string(), z.string()),
    raw: z.string().meta({ description: "The line exactly as in the file, for auditors" }),
    location: locationDto,
  })
  .meta({ description: "One statement line: an external item the matcher reads" });

export function lineJson(l: LineRow): z.infer<typeof lineDto> {
  return {
    lineId: l.lineId,
    statementId: l.statementId,
    bankAccountId: l.bankAccountId,
    ledgerId: l.ledgerId,
    lineNumber: l.lineNumber,
    status: l.status,
    amount: fmt(l.amountMinor, l.currency),
    amountMinor: l.amountMinor.toString(),
    side: l.side,
    currency: l.currency,
    bookingDate: l.bookingDate,
    valueDate: l.valueDate,
    reversal: l.reversal,
    bankReference: l.bankReference,
    endToEndId: l.endToEndId,
    customerReference: l.customerReference,
    creditorReference: l.creditorReference,
    remittanceInformation: l.remittanceInformation,
    description: l.description,
    counterparty: l.counterparty,
    bankCodes: l.bankCodes,
    charges: l.chargesMinor === null ? null : fmt(l.chargesMinor, l.currency),
    batch: l.batch === null ? null : { id: l.batch.id, index: l.batch.index, size: l.batch.size, amount: fmt(l.batch.amountMinor, l.currency), side: l.batch.side },
    attributes: l.attributes,
    raw: l.raw,
    location: l.location,
  };
}
