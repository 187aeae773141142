// The pure half of the reconciliation projection: parses a batch of
// recorded events against the contracts' schemas and turns them into what
// the SQL half writes: bank accounts, their listings and imported
// statements. A statement's lines are not in the batch: the SQL half reads
// its StatementLinesRecorded from the statement's stream when its
// StatementImported is applied, and turns each into COPY text here
// (linesCopyText). A failure names the event (a bug or a missing upcaster,
// never skipped).
import assert from "node:assert/strict";
import { parseReconciliationEvent } from "@trueup/contracts";
import type { BalanceData, ReconciliationEvent, StatementLineData } from "@trueup/contracts";
import type { RecordedEvent } from "@trueup/event-store";
import { copyText } from "../postgres/copy.ts";
import type { CopyCell } from "../postgres/copy.ts";
import { parseEach } from "../errors.ts";
import { STATEMENT_LINE_COPY_COLUMNS } from "./schema.ts";

type Data<T extends ReconciliationEvent["type"]> = Extract<ReconciliationEvent, { type: T }>["data"];

export interface BankAccountRow extends Data<"BankAccountRegistered"> { readonly position: string }
export interface ListingRow extends Data<"BankAccountListed"> { readonly position: string }
export interface StatementRow extends Data<"StatementImported"> { readonly position: string; readonly recordedAt: Date }

export interface ReconciliationBatchPlan {
  readonly bankAccounts: BankAccountRow[];
  readonly listings: ListingRow[];
  /** In log order: each one's lines are read from its stream and become visible with it. */
  readonly statements: StatementRow[];
}

/** Undated lines (neither booking nor value date) sort before every dated one. */
export const UNDATED_SORT_DATE = "-infinity";

export function parseReconciliationRecorded(event: RecordedEvent): ReconciliationEvent {
  return parseReconciliationEvent(event);
}

export function planReconciliationBatch(events: readonly RecordedEvent[]): ReconciliationBatchPlan {
  const parsed = parseEach(events, parseReconciliationRecorded);
  const plan: ReconciliationBatchPlan = { bankAccounts: [], listings: [], statements: [] };
  parsed.forEach((reconciliationEvent, index) => {
    const event = events[index];
    assert.ok(event !== undefined);
    const position = event.position;
    switch (reconciliationEvent.type) {
      case "BankAccountRegistered":
        plan.bankAccounts.push({ ...reconciliationEvent.data, position });
        return;
      case "BankAccountListed":
        plan.listings.push({ ...reconciliationEvent.data, position });
        return;
      case "StatementLinesRecorded":
        // Not read here (the filter leaves the statement category out): the StatementImported's apply reads them.
        throw new TypeError(`StatementLinesRecorded at ${position} reached the batch plan: the projection's filter must leave statement streams out`);
      case "StatementImported":
        plan.statements.push({ ...reconciliationEvent.data, position, recordedAt: event.recordedAt });
        return;
      case "CsvProfileSaved":
      case "MatchingRulesSet":
      case "MatchProposed":
      case "MatchConfirmed":
      case "MatchRejected":
      case "MatchUnmatched":
      case "ReconciliationRunRecorded":
      case "WriteOffRequested":
      case "WriteOffPosted":
      case "WriteOffRefused":
      case "WriteOffReversalRequested":
      case "WriteOffReversed":
      case "WriteOffReversalRefused":
      case "ItemResolved":
      case "ExceptionReassigned":
      case "ReconciliationPeriodClosed":
      case "NearMissesRecorded":
        // Not read here (the filter leaves their categories out): profiles and rules are read from their streams, matches and runs by the matching projection.
        return;
      default: {
        const unknown: never = reconciliationEvent;
        throw new TypeError(`unhandled reconciliation event ${JSON.stringify(unknown)}`);
      }
    }
  });
  return plan;
}

/** What a statement's line batch is, as its StatementImported expects it. */
export interface LineBatch {
  readonly batchIndex: number;
  readonly bankAccountId: string;
  readonly statementId: string;
  readonly lineCount: number;
  /** The lines as COPY text in STATEMENT_LINE_COPY_COLUMNS order. */
  readonly rows: string;
}

/** One StatementLinesRecorded read from a statement stream: parsed (upcast, checked) and turned into COPY rows for `ledgerId`. */
export function lineBatchOf(event: RecordedEvent, ledgerId: string): LineBatch {
  const parsed = parseReconciliationEvent(event);
  if (parsed.type !== "StatementLinesRecorded") throw new TypeError(`${event.streamName}@${event.revision} is a ${parsed.type}, not a StatementLinesRecorded`);
  const { statementId, bankAccountId, batchIndex, lines } = parsed.data;
  const of = { bankAccountId, statementId, position: event.position, ledgerId };
  return { batchIndex, bankAccountId, statementId, lineCount: lines.length, rows: copyText(STATEMENT_LINE_COPY_COLUMNS.length, lines.map((line) => lineCells(of, line))) };
}

/** One line's cells in STATEMENT_LINE_COPY_COLUMNS order. Fields spelled out: the hot path of a 200,000-line import. */
function lineCells(of: { bankAccountId: string; statementId: string; position: string; ledgerId: string }, l: StatementLineData): CopyCell[] {
  const batch = l.batch;
  return [
    of.bankAccountId, of.statementId, l.lineNumber, l.lineId, of.position,
    l.amountMinor, l.side, l.currency, l.bookingDate, l.valueDate, l.bookingDate ?? l.valueDate ?? UNDATED_SORT_DATE, l.reversal ? "t" : "f",
    l.bankReference, l.endToEndId, l.customerReference, l.creditorReference, l.remittanceInformation, l.description,
    l.counterparty.name, l.counterparty.iban, l.counterparty.accountNumber, l.counterparty.bic,
    JSON.stringify(l.bankCodes), l.chargesMinor,
    batch?.id ?? null, batch?.index ?? null, batch?.size ?? null, batch?.amountMinor ?? null, batch?.side ?? null,
    JSON.stringify(l.attributes), l.raw, JSON.stringify(l.location), of.ledgerId,
  ];
}

/** A balance as four cells (minor, side, currency, date), all null when there is none. */
export function balanceCells(balance: BalanceData | null): CopyCell[] {
  return balance === null ? [null, null, null, null] : [balance.amountMinor, balance.side, balance.currency, balance.date];
}
