// The SQL half of the reconciliation projection. Line rows are most of the
// volume (a 200,000-line import is 400 batches of 500), so they cross the
// wire once: a line batch is COPYed into staged_lines, and the
// StatementImported moves them into statement_lines inside the server. Everything else is a few set-based
// statements per batch, rows travelling as one JSON array of arrays.
//
// Order inside the batch's transaction follows the log's dependencies:
// accounts are registered before they are listed and before any statement of
// theirs; a statement's lines are staged before the StatementImported that
// makes them visible (in an earlier batch or this one). So: accounts,
// listings, staging, then each imported statement's lines copied from
// staging to statement_lines, the statements, and the accounts' counters.
import assert from "node:assert/strict";
import type pg from "pg";
import { copyIn } from "../postgres/copy.ts";
import { qualified } from "../postgres/definition.ts";
import { balanceCells } from "./plan.ts";
import type { ListingRow, ReconciliationBatchPlan, StagedBatch, StatementRow } from "./plan.ts";
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
  await stage(tx, t, plan.staged);
  if (plan.statements.length > 0) await writeStatements(tx, t, plan.statements);
}

/** Columns of a staged_batches row, in the order stage() binds them. */
const STAGED_COLUMNS = ["statement_id", "batch_index", "bank_account_id", "line_count", "position"] as const;

/**
 * One staged_batches row per StatementLinesRecorded (a second copy of a batch, same statement and index,
 * fails the batch loudly), and its lines COPYed into staged_lines.
 */
async function stage(tx: pg.PoolClient, t: (table: string) => string, staged: readonly StagedBatch[]): Promise<void> {
  if (staged.length === 0) return;
  const values: unknown[] = [];
  const tuples = staged.map((b) => {
    const first = values.length;
    values.push(b.statementId, b.batchIndex, b.bankAccountId, b.lineCount, b.position);
    return `($${first + 1}, $${first + 2}::integer, $${first + 3}, $${first + 4}::integer, $${first + 5})`;
  });
  await tx.query(`INSERT INTO ${t("staged_batches")} (${STAGED_COLUMNS.join(", ")}) VALUES ${tuples.join(", ")}`, values);
  await copyIn(tx, t("staged_lines"), LINE_COLUMNS, staged.map((b) => b.rows).join(""));
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

async function writeStatements(tx: pg.PoolClient, t: (table: string) => string, statements: readonly StatementRow[]): Promise<void> {
  await checkStaged(tx, t, statements);
  const visible = await makeLinesVisible(tx, t, statements);
  const ids = statements.map((s) => s.statementId);
  await tx.query(`DELETE FROM ${t("staged_lines")} WHERE statement_id = ANY($1::text[])`, [ids]);
  await tx.query(`DELETE FROM ${t("staged_batches")} WHERE statement_id = ANY($1::text[])`, [ids]);
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

/** Every statement's staged batches are there, numbered from 0 without gaps, of its account, holding its new lines. */
async function checkStaged(tx: pg.PoolClient, t: (table: string) => string, statements: readonly StatementRow[]): Promise<void> {
  const { rows } = await tx.query<{ statement_id: string; batches: number; max_index: number; lines: number; accounts: string[] }>(
    `SELECT statement_id, count(*)::int AS batches, max(batch_index) AS max_index, sum(line_count)::int AS lines, array_agg(DISTINCT bank_account_id) AS accounts
       FROM ${t("staged_batches")} WHERE statement_id = ANY($1::text[]) GROUP BY statement_id`,
    [statements.map((s) => s.statementId)],
  );
  const found = new Map(rows.map((r) => [r.statement_id, r]));
  for (const s of statements) {
    const r = found.get(s.statementId) ?? { batches: 0, max_index: -1, lines: 0, accounts: [s.bankAccountId] };
    assert.equal(r.batches, s.batches, `statement ${s.statementId}: every StatementLinesRecorded batch it names is in the log before it`);
    assert.equal(r.max_index, s.batches - 1, `statement ${s.statementId}: its line batches are numbered from 0 without gaps`);
    assert.deepEqual(r.accounts, [s.bankAccountId], `statement ${s.statementId}: its line batches name the bank account its StatementImported names`);
    assert.equal(r.lines, s.newLines, `statement ${s.statementId}: its batches hold every new line it names`);
  }
}

/**
 * The statements' staged lines become visible, in statement (log) then line
 * order; returns how many lines each statement shows. A line whose id the
 * account already shows (the same bank line recorded by two statements: by
 * definition of the line identity it is one item) keeps its first row.
 *
 * The import records only lines it does not know, so that is rare: the usual
 * case is one INSERT … SELECT per statement under a savepoint, inside the
 * server. A unique violation rolls back to the savepoint and moves the same
 * rows again skipping the ids already there (first one wins, same order).
 */
async function makeLinesVisible(tx: pg.PoolClient, t: (table: string) => string, statements: readonly StatementRow[]): Promise<Map<string, number>> {
  await tx.query("SAVEPOINT visible_lines");
  try {
    for (const s of statements) await moveStaged(tx, t, s, "");
    await tx.query("RELEASE SAVEPOINT visible_lines");
    return new Map(statements.map((s) => [s.statementId, s.newLines]));
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    await tx.query("ROLLBACK TO SAVEPOINT visible_lines");
  }
  const visible = new Map<string, number>();
  for (const s of statements) visible.set(s.statementId, await moveStaged(tx, t, s, "ON CONFLICT (bank_account_id, line_id) DO NOTHING"));
  return visible;
}

/** Inserts a statement's staged lines into statement_lines in line order (`onConflict`: "" or a conflict clause); returns how many went in. */
async function moveStaged(tx: pg.PoolClient, t: (table: string) => string, s: StatementRow, onConflict: string): Promise<number> {
  const columns = LINE_COLUMNS.join(", ");
  const result = await tx.query(
    `INSERT INTO ${t("statement_lines")} (${columns}, ledger_id)
     SELECT ${columns}, $2 FROM ${t("staged_lines")} WHERE statement_id = $1 ORDER BY line_number ${onConflict}`,
    [s.statementId, s.ledgerId],
  );
  return result.rowCount ?? 0;
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "23505";
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

/** `SELECT <typed columns> FROM <rows>`: the rows are parameter $1, a JSON array of arrays in column order. */
function selectRows(columns: readonly Column[]): string {
  const cells = columns.map(([name, type], i) => `(r->>${i})::${type} AS ${name}`);
  return `SELECT ${cells.join(", ")} FROM jsonb_array_elements($1::jsonb) AS a(r)`;
}

function names(columns: readonly Column[]): string {
  return columns.map(([name]) => name).join(", ");
}
