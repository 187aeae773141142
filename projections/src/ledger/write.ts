// The SQL half of the ledger projection: one set-based statement per table
// per batch, balances added as pre-aggregated deltas. Rows travel as one JSON
// array of arrays per statement (one parameter, parsed once by the server:
// measured about twice as fast as unnest over array literals).
// Statement order matters only where rows depend on each other in the batch:
// accounts are inserted before they are closed, entries before their
// reversals link to them, posted periods before closes and reopens.
import assert from "node:assert/strict";
import type pg from "pg";
import { qualified } from "../postgres/definition.ts";
import type { AmountDelta, DailyDelta, LedgerBatchPlan, PeriodRow } from "./plan.ts";

type Cell = string | number | null | object;
type Column = readonly [name: string, type: "text" | "date" | "integer" | "bigint" | "numeric" | "timestamptz" | "jsonb"];

export async function writeLedgerBatch(tx: pg.PoolClient, plan: LedgerBatchPlan, schemaName: string): Promise<void> {
  const t = (table: string): string => qualified(schemaName, table);
  await insertLedgers(tx, t("ledgers"), plan);
  await insertAccounts(tx, t("accounts"), plan);
  await closeAccounts(tx, t("accounts"), plan);
  await insertEntries(tx, t("journal_entries"), plan);
  await linkReversals(tx, t("journal_entries"), plan);
  await insertLines(tx, t("entry_lines"), plan);
  await addBalances(tx, t("balances"), [...plan.balances.values()]);
  await addDailyBalances(tx, t("daily_balances"), [...plan.dailyBalances.values()]);
  await writePeriods(tx, t("periods"), [...plan.periodsPosted.values()], "ON CONFLICT (ledger_id, period) DO NOTHING");
  await writePeriods(tx, t("periods"), [...plan.periodChanges.values()],
    "ON CONFLICT (ledger_id, period) DO UPDATE SET status = excluded.status, reason = excluded.reason, position = excluded.position");
}

/** `SELECT <typed columns> FROM <rows>`: the rows are parameter $1, a JSON array of arrays in column order. */
function selectRows(columns: readonly Column[]): string {
  const cells = columns.map(([name, type], i) => (type === "jsonb" ? `r->${i} AS ${name}` : `(r->>${i})::${type} AS ${name}`));
  return `SELECT ${cells.join(", ")} FROM jsonb_array_elements($1::jsonb) AS a(r)`;
}

function names(columns: readonly Column[]): string {
  return columns.map(([name]) => name).join(", ");
}

async function insertRows(tx: pg.PoolClient, sql: { table: string; columns: readonly Column[]; suffix?: string }, rows: readonly Cell[][]): Promise<pg.QueryResult> {
  return tx.query(`INSERT INTO ${sql.table} AS t (${names(sql.columns)}) ${selectRows(sql.columns)} ${sql.suffix ?? ""}`, [JSON.stringify(rows)]);
}

async function insertLedgers(tx: pg.PoolClient, table: string, plan: LedgerBatchPlan): Promise<void> {
  if (plan.ledgers.length === 0) return;
  const columns: Column[] = [["ledger_id", "text"], ["name", "text"], ["base_currency", "text"], ["position", "text"]];
  await insertRows(tx, { table, columns }, plan.ledgers.map((r) => [r.ledgerId, r.name, r.baseCurrency, r.position]));
}

async function insertAccounts(tx: pg.PoolClient, table: string, plan: LedgerBatchPlan): Promise<void> {
  if (plan.accountsOpened.length === 0) return;
  const columns: Column[] = [["ledger_id", "text"], ["code", "text"], ["name", "text"], ["type", "text"], ["currency", "text"], ["status", "text"], ["opened_position", "text"]];
  await insertRows(tx, { table, columns }, plan.accountsOpened.map((r) => [r.ledgerId, r.code, r.name, r.type, r.currency, "open", r.position]));
}

async function closeAccounts(tx: pg.PoolClient, table: string, plan: LedgerBatchPlan): Promise<void> {
  const rows = plan.accountsClosed;
  if (rows.length === 0) return;
  const result = await tx.query(
    `UPDATE ${table} a SET status = 'closed' FROM (${selectRows([["ledger_id", "text"], ["code", "text"]])}) c
      WHERE a.ledger_id = c.ledger_id AND a.code = c.code AND a.status = 'open'`,
    [JSON.stringify(rows.map((r) => [r.ledgerId, r.code]))],
  );
  assert.equal(result.rowCount, rows.length, "every AccountClosed closes exactly one open account");
}

async function insertEntries(tx: pg.PoolClient, table: string, plan: LedgerBatchPlan): Promise<void> {
  if (plan.entries.length === 0) return;
  const columns: Column[] = [
    ["ledger_id", "text"], ["entry_id", "text"], ["effective_date", "date"], ["description", "text"], ["external_reference", "text"],
    ["metadata", "jsonb"], ["lines", "jsonb"], ["reverses", "text"], ["stream_name", "text"], ["stream_revision", "bigint"],
    ["position", "text"], ["recorded_at", "timestamptz"],
  ];
  const rows = plan.entries.map((r) => [
    r.ledgerId, r.entryId, r.effectiveDate, r.description, r.externalReference, r.metadata, r.lines, r.reverses,
    r.event.streamName, r.event.revision.toString(), r.event.position, r.event.recordedAt.toISOString(),
  ]);
  await insertRows(tx, { table, columns }, rows);
}

async function linkReversals(tx: pg.PoolClient, table: string, plan: LedgerBatchPlan): Promise<void> {
  const rows = plan.reversals;
  if (rows.length === 0) return;
  const result = await tx.query(
    `UPDATE ${table} j SET reversed_by = r.reversed_by FROM (${selectRows([["ledger_id", "text"], ["entry_id", "text"], ["reversed_by", "text"]])}) r
      WHERE j.ledger_id = r.ledger_id AND j.entry_id = r.entry_id AND j.reversed_by IS NULL`,
    [JSON.stringify(rows.map((r) => [r.ledgerId, r.entryId, r.reversedBy]))],
  );
  const links = rows.slice(0, 5).map((r) => `${r.ledgerId}/${r.entryId}`).join(", ");
  assert.equal(result.rowCount, rows.length, `every reversal links to an existing, not yet reversed entry (${links})`);
}

async function insertLines(tx: pg.PoolClient, table: string, plan: LedgerBatchPlan): Promise<void> {
  if (plan.lines.length === 0) return;
  const columns: Column[] = [
    ["ledger_id", "text"], ["code", "text"], ["currency", "text"], ["effective_date", "date"], ["position", "text"],
    ["line_no", "integer"], ["entry_id", "text"], ["side", "text"], ["amount_minor", "numeric"],
  ];
  const rows = plan.lines.map((r) => [r.ledgerId, r.accountCode, r.currency, r.effectiveDate, r.position, r.lineNo, r.entryId, r.side, r.amountMinor]);
  await insertRows(tx, { table, columns }, rows);
}

async function addBalances(tx: pg.PoolClient, table: string, deltas: readonly AmountDelta[]): Promise<void> {
  if (deltas.length === 0) return;
  const columns: Column[] = [["ledger_id", "text"], ["code", "text"], ["currency", "text"], ["debit_minor", "numeric"], ["credit_minor", "numeric"], ["line_count", "bigint"]];
  const suffix = `ON CONFLICT (ledger_id, code, currency) DO UPDATE SET
    debit_minor = t.debit_minor + excluded.debit_minor, credit_minor = t.credit_minor + excluded.credit_minor, line_count = t.line_count + excluded.line_count`;
  await insertRows(tx, { table, columns, suffix }, deltas.map((d) => [d.ledgerId, d.code, d.currency, d.debitMinor.toString(), d.creditMinor.toString(), d.lineCount.toString()]));
}

async function addDailyBalances(tx: pg.PoolClient, table: string, deltas: readonly DailyDelta[]): Promise<void> {
  if (deltas.length === 0) return;
  const columns: Column[] = [["ledger_id", "text"], ["code", "text"], ["currency", "text"], ["day", "date"], ["debit_minor", "numeric"], ["credit_minor", "numeric"]];
  const suffix = `ON CONFLICT (ledger_id, code, currency, day) DO UPDATE SET
    debit_minor = t.debit_minor + excluded.debit_minor, credit_minor = t.credit_minor + excluded.credit_minor`;
  await insertRows(tx, { table, columns, suffix }, deltas.map((d) => [d.ledgerId, d.code, d.currency, d.day, d.debitMinor.toString(), d.creditMinor.toString()]));
}

async function writePeriods(tx: pg.PoolClient, table: string, rows: readonly PeriodRow[], suffix: string): Promise<void> {
  if (rows.length === 0) return;
  const columns: Column[] = [["ledger_id", "text"], ["period", "text"], ["status", "text"], ["reason", "text"], ["position", "text"]];
  await insertRows(tx, { table, columns, suffix }, rows.map((r) => [r.ledgerId, r.period, r.status, r.reason, r.position]));
}
