// The SQL half of the reconciliation projection: a constant number of
// set-based statements per batch, whatever it holds. Line rows go in with
// COPY (they are most of the volume: a 200,000-line import is 400 batches
// of 500); the rest travel as one JSON array of arrays per statement.
//
// Order inside the batch's transaction follows the log's dependencies:
// accounts are registered before they are listed and before any statement of
// theirs; a statement's lines are staged before the StatementImported that
// makes them visible (in an earlier batch or this one). So: accounts,
// listings, staging, then each imported statement's lines moved from staging
// to statement_lines, the statements, and the accounts' counters.
import assert from "node:assert/strict";
import type pg from "pg";
import { copyIn } from "../postgres/copy.ts";
import { qualified } from "../postgres/definition.ts";
import { balanceCells } from "./plan.ts";
import type { ListingRow, ReconciliationBatchPlan, StatementRow } from "./plan.ts";
import { LINE_COLUMNS } from "./schema.ts";

type Column = readonly [name: string, type: "text" | "date" | "integer" | "bigint" | "numeric" | "boolean" | "jsonb" | "timestamptz"];

const balance = (prefix: string): Column[] => [[`${prefix}_minor`, "numeric"], [`${prefix}_side`, "text"], [`${prefix}_currency`, "text"], [`${prefix}_date`, "date"]];

const BANK_ACCOUNT_COLUMNS: readonly Column[] = [
  ["bank_account_id", "text"], ["ledger_id", "text"], ["kind", "text"], ["name", "text"], ["iban", "text"], ["account_number", "text"],
  ["bank_id", "text"], ["currency", "text"], ["ledger_account", "text"], ["listed", "boolean"], ["registered_position", "text"],
];

const STATEMENT_COLUMNS: readonly Column[] = [
  ["statement_id", "text"], ["bank_account_id", "text"], ["ledger_id", "text"], ["format", "text"],
  ["file_sha256", "text"], ["file_bytes", "bigint"], ["file_name", "text"], ["encoding", "text"], ["section", "integer"],
  ["account_iban", "text"], ["account_number", "text"], ["account_bank_id", "text"], ["currency", "text"],
  ["statement_reference", "text"], ["sequence_number", "text"], ["page_number", "text"], ["created_at", "text"],
  ["period_start", "date"], ["period_end", "date"], ...balance("opening"), ...balance("closing"), ...balance("available"),
  ["line_count", "integer"], ["new_lines", "integer"], ["known_lines", "integer"], ["batches", "integer"], ["lines_visible", "integer"],
  ["credits_minor", "numeric"], ["debits_minor", "numeric"], ["credits", "integer"], ["debits", "integer"],
  ["checks", "jsonb"], ["accepted_with_failed_checks", "boolean"], ["position", "text"], ["recorded_at", "timestamptz"],
];

export async function writeReconciliationBatch(tx: pg.PoolClient, plan: ReconciliationBatchPlan, schemaName: string): Promise<void> {
  const t = (table: string): string => qualified(schemaName, table);
  if (plan.bankAccounts.length > 0) {
    const rows = plan.bankAccounts.map((a) => [a.bankAccountId, a.ledgerId, a.kind, a.name, a.iban, a.accountNumber, a.bankId, a.currency, a.ledgerAccount, false, a.position]);
    await tx.query(`INSERT INTO ${t("bank_accounts")} (${names(BANK_ACCOUNT_COLUMNS)}) ${selectRows(BANK_ACCOUNT_COLUMNS)}`, [JSON.stringify(rows)]);
  }
  await writeListings(tx, t("bank_accounts"), plan.listings);
  await copyIn(tx, t("staged_lines"), LINE_COLUMNS, plan.stagedText);
  if (plan.statements.length > 0) await writeStatements(tx, t, plan.statements);
}

/** An account is listed once (a second listing, if the log ever held one, keeps the first identifiers). */
async function writeListings(tx: pg.PoolClient, table: string, listings: readonly ListingRow[]): Promise<void> {
  if (listings.length === 0) return;
  const first = new Map<string, ListingRow>();
  for (const listing of listings) if (!first.has(listing.bankAccountId)) first.set(listing.bankAccountId, listing);
  const rows = [...first.values()].map((l) => [l.bankAccountId, l.ledgerId, JSON.stringify(l.identifiers)]);
  const result = await tx.query(
    `UPDATE ${table} b SET listed = true, identifiers = coalesce(b.identifiers, l.identifiers)
       FROM (${selectRows([["bank_account_id", "text"], ["ledger_id", "text"], ["identifiers", "jsonb"]])}) l
      WHERE b.bank_account_id = l.bank_account_id AND b.ledger_id = l.ledger_id`,
    [JSON.stringify(rows)],
  );
  assert.equal(result.rowCount, rows.length, "every BankAccountListed lists an account registered before it in the same ledger");
}

interface CountRow { statement_id: string; n: string }

/**
 * The statements' staged lines become visible, in statement then line order.
 * A line whose id the account already shows (the same bank line in two
 * statements: by definition of the line identity it is one item) keeps its
 * first row; `lines_visible` says how many of the statement's new lines are
 * its own rows.
 */
async function writeStatements(tx: pg.PoolClient, t: (table: string) => string, statements: readonly StatementRow[]): Promise<void> {
  const keys = JSON.stringify(statements.map((s) => [s.statementId, s.bankAccountId, s.ledgerId, s.position]));
  const keyRows = selectRows([["statement_id", "text"], ["bank_account_id", "text"], ["ledger_id", "text"], ["position", "text"]]);
  const lineColumns = LINE_COLUMNS.join(", ");
  const moved = await tx.query<CountRow>(
    `WITH moved AS (
       INSERT INTO ${t("statement_lines")} (ledger_id, ${lineColumns})
       SELECT k.ledger_id, ${LINE_COLUMNS.map((c) => `l.${c}`).join(", ")}
         FROM ${t("staged_lines")} l JOIN (${keyRows}) k ON l.statement_id = k.statement_id
        ORDER BY k.position COLLATE "C", l.line_number
       ON CONFLICT (bank_account_id, line_id) DO NOTHING
       RETURNING statement_id)
     SELECT statement_id, count(*)::text AS n FROM moved GROUP BY statement_id`,
    [keys],
  );
  const staged = await tx.query<CountRow & { elsewhere: string }>(
    `WITH gone AS (DELETE FROM ${t("staged_lines")} l USING (${keyRows}) k WHERE l.statement_id = k.statement_id
                   RETURNING l.statement_id, l.bank_account_id <> k.bank_account_id AS elsewhere)
     SELECT statement_id, count(*)::text AS n, count(*) FILTER (WHERE elsewhere)::text AS elsewhere FROM gone GROUP BY statement_id`,
    [keys],
  );
  const visible = counts(moved.rows);
  const stagedCounts = counts(staged.rows);
  for (const s of statements) {
    assert.equal(stagedCounts.get(s.statementId) ?? 0, s.newLines, `statement ${s.statementId}: its StatementLinesRecorded batches hold every new line it names`);
  }
  for (const row of staged.rows) assert.equal(row.elsewhere, "0", `statement ${row.statement_id}: its line batches name the bank account its StatementImported names`);
  const rows = statements.map((s) => [
    s.statementId, s.bankAccountId, s.ledgerId, s.format,
    s.source.fileSha256, s.source.fileBytes, s.source.fileName, s.source.encoding, s.source.section,
    s.account.iban, s.account.accountNumber, s.account.bankId, s.currency,
    s.statementReference, s.sequenceNumber, s.pageNumber, s.createdAt,
    s.periodStart, s.periodEnd, ...balanceCells(s.openingBalance), ...balanceCells(s.closingBalance), ...balanceCells(s.availableBalance),
    s.lineCount, s.newLines, s.knownLines, s.batches, visible.get(s.statementId) ?? 0,
    s.totals.creditsMinor, s.totals.debitsMinor, s.totals.credits, s.totals.debits,
    JSON.stringify(s.checks), s.acceptedWithFailedChecks, s.position, s.recordedAt.toISOString(),
  ]);
  await tx.query(`INSERT INTO ${t("statements")} (${names(STATEMENT_COLUMNS)}) ${selectRows(STATEMENT_COLUMNS)}`, [JSON.stringify(rows)]);
  await updateAccounts(tx, t("bank_accounts"), statements, visible);
}

/** Per account: statements and visible lines added, and the batch's latest statement as a candidate for the last one. */
async function updateAccounts(tx: pg.PoolClient, table: string, statements: readonly StatementRow[], visible: ReadonlyMap<string, number>): Promise<void> {
  const byAccount = new Map<string, { statements: number; lines: number; last: StatementRow }>();
  for (const s of statements) {
    const d = byAccount.get(s.bankAccountId);
    if (d === undefined) {
      byAccount.set(s.bankAccountId, { statements: 1, lines: visible.get(s.statementId) ?? 0, last: s });
      continue;
    }
    d.statements += 1;
    d.lines += visible.get(s.statementId) ?? 0;
    // Log order within the batch: a later statement with the same (or a later) period end wins.
    if ((s.periodEnd ?? "") >= (d.last.periodEnd ?? "")) d.last = s;
  }
  const rows = [...byAccount].map(([id, d]) => [id, d.statements, d.lines, d.last.statementId, d.last.periodEnd, d.last.position, ...balanceCells(d.last.closingBalance)]);
  const deltaRows = selectRows([
    ["bank_account_id", "text"], ["statements", "bigint"], ["lines", "bigint"], ["statement_id", "text"], ["period_end", "date"], ["position", "text"], ...balance("closing"),
  ]);
  const counted = await tx.query(
    `UPDATE ${table} b SET statement_count = b.statement_count + d.statements, line_count = b.line_count + d.lines
       FROM (${deltaRows}) d WHERE b.bank_account_id = d.bank_account_id`,
    [JSON.stringify(rows)],
  );
  assert.equal(counted.rowCount, rows.length, "every StatementImported names an account registered before it");
  // The last statement: the latest period end, then the latest imported; a statement without a period end comes before every dated one.
  await tx.query(
    `UPDATE ${table} b SET last_statement_id = d.statement_id, last_period_end = d.period_end, last_position = d.position,
            last_closing_minor = d.closing_minor, last_closing_side = d.closing_side, last_closing_currency = d.closing_currency, last_closing_date = d.closing_date
       FROM (${deltaRows}) d
      WHERE b.bank_account_id = d.bank_account_id
        AND (b.last_position IS NULL
             OR (coalesce(d.period_end, '-infinity'::date), d.position COLLATE "C") > (coalesce(b.last_period_end, '-infinity'::date), b.last_position))`,
    [JSON.stringify(rows)],
  );
}

function counts(rows: readonly CountRow[]): Map<string, number> {
  return new Map(rows.map((r) => [r.statement_id, Number(r.n)]));
}

/** `SELECT <typed columns> FROM <rows>`: the rows are parameter $1, a JSON array of arrays in column order. */
function selectRows(columns: readonly Column[]): string {
  const cells = columns.map(([name, type], i) => `(r->>${i})::${type} AS ${name}`);
  return `SELECT ${cells.join(", ")} FROM jsonb_array_elements($1::jsonb) AS a(r)`;
}

function names(columns: readonly Column[]): string {
  return columns.map(([name]) => name).join(", ");
}
