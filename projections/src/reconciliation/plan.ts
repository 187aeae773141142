// The pure half of the reconciliation projection: parses a batch of
// recorded events against the contracts' schemas and turns them into what
// the SQL half writes: bank accounts, their listings, each line batch as
// COPY text (built here, outside the transaction), and imported statements.
// A failure names the event (a bug or a missing upcaster, never skipped).
import assert from "node:assert/strict";
import { parseReconciliationEvent } from "@trueup/contracts";
import type { BalanceData, ReconciliationEvent, StatementLineData } from "@trueup/contracts";
import type { RecordedEvent } from "@trueup/event-store";
import { copyText } from "../postgres/copy.ts";
import type { CopyCell } from "../postgres/copy.ts";
import { parseEach } from "../errors.ts";
import { LINE_COLUMNS } from "./schema.ts";

type Data<T extends ReconciliationEvent["type"]> = Extract<ReconciliationEvent, { type: T }>["data"];

export interface BankAccountRow extends Data<"BankAccountRegistered"> { readonly position: string }
export interface ListingRow extends Data<"BankAccountListed"> { readonly position: string }
export interface StatementRow extends Data<"StatementImported"> { readonly position: string; readonly recordedAt: Date }

/** One StatementLinesRecorded, ready to stage: its rows as COPY text in LINE_COLUMNS order (without ledger_id, which only the StatementImported names). */
export interface StagedBatch {
  readonly statementId: string;
  readonly bankAccountId: string;
  readonly batchIndex: number;
  readonly lineCount: number;
  readonly rows: string;
  readonly position: string;
}

export interface ReconciliationBatchPlan {
  readonly bankAccounts: BankAccountRow[];
  readonly listings: ListingRow[];
  readonly staged: StagedBatch[];
  /** In log order: their staged lines (earlier batches or this one) become visible. */
  readonly statements: StatementRow[];
}

/** Undated lines (neither booking nor value date) sort before every dated one. */
export const UNDATED_SORT_DATE = "-infinity";

export function parseReconciliationRecorded(event: RecordedEvent): ReconciliationEvent {
  return parseReconciliationEvent(event);
}

export function planReconciliationBatch(events: readonly RecordedEvent[]): ReconciliationBatchPlan {
  const parsed = parseEach(events, parseReconciliationRecorded);
  const plan: ReconciliationBatchPlan = { bankAccounts: [], listings: [], staged: [], statements: [] };
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
      case "StatementLinesRecorded": {
        const { statementId, bankAccountId, batchIndex, lines } = reconciliationEvent.data;
        const rows = copyText(LINE_COLUMNS.length, lines.map((line) => lineCells({ bankAccountId, statementId, position }, line)));
        plan.staged.push({ statementId, bankAccountId, batchIndex, lineCount: lines.length, rows, position });
        return;
      }
      case "StatementImported":
        plan.statements.push({ ...reconciliationEvent.data, position, recordedAt: event.recordedAt });
        return;
      case "CsvProfileSaved":
        // Not read here (the filter leaves its category out); profiles are read from their stream.
        return;
      default: {
        const unknown: never = reconciliationEvent;
        throw new TypeError(`unhandled reconciliation event ${JSON.stringify(unknown)}`);
      }
    }
  });
  return plan;
}

/** One line's cells in LINE_COLUMNS order. Fields spelled out: the hot path of a 200,000-line import. */
function lineCells(of: { bankAccountId: string; statementId: string; position: string }, l: StatementLineData): CopyCell[] {
  const batch = l.batch;
  return [
    of.bankAccountId, of.statementId, l.lineNumber, l.lineId, of.position,
    l.amountMinor, l.side, l.currency, l.bookingDate, l.valueDate, l.bookingDate ?? l.valueDate ?? UNDATED_SORT_DATE, l.reversal ? "t" : "f",
    l.bankReference, l.endToEndId, l.customerReference, l.creditorReference, l.remittanceInformation, l.description,
    l.counterparty.name, l.counterparty.iban, l.counterparty.accountNumber, l.counterparty.bic,
    JSON.stringify(l.bankCodes), l.chargesMinor,
    batch?.id ?? null, batch?.index ?? null, batch?.size ?? null, batch?.amountMinor ?? null, batch?.side ?? null,
    JSON.stringify(l.attributes), l.raw, JSON.stringify(l.location),
  ];
}

/** A balance as four cells (minor, side, currency, date), all null when there is none. */
export function balanceCells(balance: BalanceData | null): CopyCell[] {
  return balance === null ? [null, null, null, null] : [balance.amountMinor, balance.side, balance.currency, balance.date];
}
