// The SQL half of the ledger projection: one set-based statement per table
// per batch, balances added as pre-aggregated deltas. The two big insert-only
// tables (entries and their lines) are written with COPY; the rest travel as
// one JSON array of arrays per statement (one parameter, parsed once by the
// server: measured about twice as fast as unnest over array literals).
//
// Everything a batch sends is prepared before its transaction
// (`prepareLedgerWrite`, pure), so inside it Node only streams: the server
// writes one batch while Node reads and prepares the next.
//
// Statement order matters only where rows depend on each other in the batch:
// accounts are inserted before they are closed, entries before their
// reversals link to them, posted periods before closes and reopens.
import assert from "node:assert/strict";
import type pg from "pg";
import type { RecordedEvent } from "@trueup/event-store";
import { copyIn, copyText } from "../postgres/copy.ts";
import type { CopyCell } from "../postgres/copy.ts";
import { qualified } from "../postgres/definition.ts";
import { names, selectRows } from "../postgres/rows.ts";
import type { Column } from "../postgres/rows.ts";
import { ConflictingDuplicateError } from "../errors.ts";
import { entryContent, planLedgerBatch } from "./plan.ts";
import type { LedgerBatchPlan, PeriodRow } from "./plan.ts";

type Table = "ledgers" | "accounts" | "journal_entries" | "entry_lines" | "balances" | "daily_balances" | "periods";

type Step =
  | { readonly kind: "copy"; readonly table: Table; readonly columns: readonly string[]; readonly text: string }
  | {
      readonly kind: "statement";
      readonly table: Table;
      /** The SQL around `${table}` (qualified at write time: a rebuild writes into another schema). */
      readonly sql: (table: string) => string;
      readonly rowsJson: string;
      /** When set, the statement must touch exactly this many rows. */
      readonly expectRowCount?: { readonly count: number; readonly what: string };
    };

/** A batch ready to send. */
export interface LedgerWrite {
  readonly steps: readonly Step[];
  /** The batch's entries, to look for copies already projected by an earlier batch. */
  readonly entries: readonly { readonly ledgerId: string; readonly entryId: string; readonly content: string; readonly event: RecordedEvent }[];
  /** The batch's events: re-planned without the exact copies found. */
  readonly events: readonly RecordedEvent[];
}

export function prepareLedgerWrite(plan: LedgerBatchPlan, events: readonly RecordedEvent[]): LedgerWrite {
  const steps: Step[] = [];
  const insert = (table: Table, columns: readonly Column[], rows: readonly CopyCell[][], suffix = ""): void => {
    if (rows.length === 0) return;
    steps.push({ kind: "statement", table, sql: (t) => `INSERT INTO ${t} AS t (${names(columns)}) ${selectRows(columns)} ${suffix}`, rowsJson: JSON.stringify(rows) });
  };
  const copy = (table: Table, columns: readonly string[], rows: readonly (readonly CopyCell[])[]): void => {
    if (rows.length > 0) steps.push({ kind: "copy", table, columns, text: copyText(columns.length, rows) });
  };

  insert("ledgers", [["ledger_id", "text"], ["name", "text"], ["base_currency", "text"], ["position", "text"]], plan.ledgers.map((r) => [r.ledgerId, r.name, r.baseCurrency, r.position]));
  insert(
    "accounts",
    [["ledger_id", "text"], ["code", "text"], ["name", "text"], ["type", "text"], ["currency", "text"], ["status", "text"], ["opened_position", "text"]],
    plan.accountsOpened.map((r) => [r.ledgerId, r.code, r.name, r.type, r.currency, "open", r.position]),
  );
  if (plan.accountsClosed.length > 0) {
    steps.push({
      kind: "statement",
      table: "accounts",
      sql: (t) => `UPDATE ${t} a SET status = 'closed' FROM (${selectRows([["ledger_id", "text"], ["code", "text"]])}) c
                    WHERE a.ledger_id = c.ledger_id AND a.code = c.code AND a.status = 'open'`,
      rowsJson: JSON.stringify(plan.accountsClosed.map((r) => [r.ledgerId, r.code])),
      expectRowCount: { count: plan.accountsClosed.length, what: "every AccountClosed closes exactly one open account" },
    });
  }
  copy(
    "journal_entries",
    ["ledger_id", "entry_id", "effective_date", "description", "external_reference", "metadata", "lines", "reverses", "stream_name", "stream_revision", "position", "recorded_at"],
    plan.entries.map((r) => [
      r.ledgerId, r.entryId, r.effectiveDate, r.description, r.externalReference, JSON.stringify(r.metadata), JSON.stringify(r.lines), r.reverses,
      r.event.streamName, r.event.revision.toString(), r.event.position, r.event.recordedAt.toISOString(),
    ]),
  );
  if (plan.reversals.length > 0) {
    const links = plan.reversals.slice(0, 5).map((r) => `${r.ledgerId}/${r.entryId}`).join(", ");
    steps.push({
      kind: "statement",
      table: "journal_entries",
      sql: (t) => `UPDATE ${t} j SET reversed_by = r.reversed_by FROM (${selectRows([["ledger_id", "text"], ["entry_id", "text"], ["reversed_by", "text"]])}) r
                    WHERE j.ledger_id = r.ledger_id AND j.entry_id = r.entry_id AND j.reversed_by IS NULL`,
      rowsJson: JSON.stringify(plan.reversals.map((r) => [r.ledgerId, r.entryId, r.reversedBy])),
      expectRowCount: { count: plan.reversals.length, what: `every reversal links to an existing, not yet reversed entry (${links})` },
    });
  }
  copy(
    "entry_lines",
    ["ledger_id", "code", "currency", "effective_date", "position", "line_no", "entry_id", "side", "amount_minor"],
    plan.lines.map((r) => [r.ledgerId, r.accountCode, r.currency, r.effectiveDate, r.position, r.lineNo, r.entryId, r.side, r.amountMinor]),
  );
  insert(
    "balances",
    [["ledger_id", "text"], ["code", "text"], ["currency", "text"], ["debit_minor", "numeric"], ["credit_minor", "numeric"], ["line_count", "bigint"]],
    [...plan.balances.values()].map((d) => [d.ledgerId, d.code, d.currency, d.debitMinor.toString(), d.creditMinor.toString(), d.lineCount.toString()]),
    `ON CONFLICT (ledger_id, code, currency) DO UPDATE SET
       debit_minor = t.debit_minor + excluded.debit_minor, credit_minor = t.credit_minor + excluded.credit_minor, line_count = t.line_count + excluded.line_count`,
  );
  insert(
    "daily_balances",
    [["ledger_id", "text"], ["code", "text"], ["currency", "text"], ["day", "date"], ["debit_minor", "numeric"], ["credit_minor", "numeric"]],
    [...plan.dailyBalances.values()].map((d) => [d.ledgerId, d.code, d.currency, d.day, d.debitMinor.toString(), d.creditMinor.toString()]),
    `ON CONFLICT (ledger_id, code, currency, day) DO UPDATE SET
       debit_minor = t.debit_minor + excluded.debit_minor, credit_minor = t.credit_minor + excluded.credit_minor`,
  );
  const periodColumns: Column[] = [["ledger_id", "text"], ["period", "text"], ["status", "text"], ["reason", "text"], ["position", "text"]];
  const periodCells = (rows: Iterable<PeriodRow>): CopyCell[][] => [...rows].map((r) => [r.ledgerId, r.period, r.status, r.reason, r.position]);
  insert("periods", periodColumns, periodCells(plan.periodsPosted.values()), "ON CONFLICT (ledger_id, period) DO NOTHING");
  insert(
    "periods",
    periodColumns,
    periodCells(plan.periodChanges.values()),
    "ON CONFLICT (ledger_id, period) DO UPDATE SET status = excluded.status, reason = excluded.reason, position = excluded.position",
  );
  const entries = plan.entries.map((r) => ({ ledgerId: r.ledgerId, entryId: r.entryId, content: entryContent(r), event: r.event }));
  return { steps, entries, events };
}

export async function writeLedgerBatch(tx: pg.PoolClient, planned: LedgerWrite, schemaName: string): Promise<void> {
  const write = await withoutProjectedCopies(tx, planned, schemaName);
  for (const step of write.steps) {
    const table = qualified(schemaName, step.table);
    if (step.kind === "copy") {
      await copyIn(tx, table, step.columns, step.text);
      continue;
    }
    const result = await tx.query(step.sql(table), [step.rowsJson]);
    if (step.expectRowCount !== undefined) assert.equal(result.rowCount, step.expectRowCount.count, step.expectRowCount.what);
  }
}

/**
 * An entry of the batch already in the read model (the same entry written
 * twice to the log): an exact copy is dropped and the batch planned again
 * without it; one with other content is a ConflictingDuplicateError (the
 * worker isolates it and the ledger's policy parks it). One indexed lookup
 * per batch; re-planning happens only when a copy is found.
 */
async function withoutProjectedCopies(tx: pg.PoolClient, write: LedgerWrite, schemaName: string): Promise<LedgerWrite> {
  if (write.entries.length === 0) return write;
  const { rows } = await tx.query<StoredEntry>(
    `SELECT j.ledger_id, j.entry_id, j.effective_date::text AS effective_date, j.description, j.external_reference, j.metadata::text AS metadata,
            j.lines::text AS lines, j.reverses, j.position
       FROM ${qualified(schemaName, "journal_entries")} j
       JOIN ${selectRowsFrom([["ledger_id", "text"], ["entry_id", "text"]])} k ON j.ledger_id = k.ledger_id AND j.entry_id = k.entry_id`,
    [JSON.stringify(write.entries.map((e) => [e.ledgerId, e.entryId]))],
  );
  if (rows.length === 0) return write;
  const stored = new Map(rows.map((r) => [`${r.ledger_id}\u0000${r.entry_id}`, r]));
  const copies = new Set<string>();
  for (const entry of write.entries) {
    const row = stored.get(`${entry.ledgerId}\u0000${entry.entryId}`);
    if (row === undefined) continue;
    const content = JSON.stringify([row.effective_date, row.description, row.external_reference, row.metadata, row.lines, row.reverses]);
    if (content !== entry.content) {
      throw new ConflictingDuplicateError(`entry ${entry.ledgerId}/${entry.entryId} at position ${entry.event.position} was already projected from position ${row.position} with other content`);
    }
    copies.add(entry.event.position);
  }
  const events = write.events.filter((e) => !copies.has(e.position));
  return prepareLedgerWrite(planLedgerBatch(events), events);
}

interface StoredEntry {
  ledger_id: string;
  entry_id: string;
  effective_date: string;
  description: string;
  external_reference: string | null;
  metadata: string;
  lines: string;
  reverses: string | null;
  position: string;
}

function selectRowsFrom(columns: readonly Column[]): string {
  return `(${selectRows(columns)})`;
}


