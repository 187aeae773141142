// The SQL half of the reconciliation projection. Line rows are most of the
// volume (a 200,000-line import is 400 batches of 500), so they are written
// once: when a StatementImported is applied, the batches it names are read
// from its statement stream and COPYed straight into statement_lines, in the
// same transaction (the next page is read while the server takes this one).
// Everything else is a few set-based statements per batch, rows travelling
// as one JSON array of arrays.
//
// Order inside the batch's transaction follows the log's dependencies:
// accounts are registered before they are listed and before any statement of
// theirs. So: accounts, listings, then each imported statement's lines, the
// statements, and the accounts' counters.
import assert from "node:assert/strict";
import type pg from "pg";
import { statementStream } from "@trueup/contracts";
import { StreamNotFoundError } from "@trueup/event-store";
import type { RecordedEvent } from "@trueup/event-store";
import { copyInPieces } from "../postgres/copy.ts";
import { qualified } from "../postgres/definition.ts";
import { names, selectRows } from "../postgres/rows.ts";
import type { Column } from "../postgres/rows.ts";
import type { StreamReader } from "../postgres/definition.ts";
import { balanceCells, lineBatchOf } from "./plan.ts";
import type { ListingRow, ReconciliationBatchPlan, StatementRow } from "./plan.ts";
import { STATEMENT_LINE_COPY_COLUMNS } from "./schema.ts";

/**
 * Line batches read from a statement stream at a time: 8 events are at most
 * 4,000 lines (a few MB as usual, at most 8 × 500 × 16 KiB of raw source),
 * and one page is read ahead while the server takes the one before.
 */
export const STATEMENT_READ_PAGE_EVENTS = 8;


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

export async function writeReconciliationBatch(tx: pg.PoolClient, plan: ReconciliationBatchPlan, schemaName: string, log: StreamReader): Promise<void> {
  const t = (table: string): string => qualified(schemaName, table);
  if (plan.bankAccounts.length > 0) {
    const rows = plan.bankAccounts.map((a) => [a.bankAccountId, a.ledgerId, a.kind, a.name, a.iban, a.accountNumber, a.bankId, a.currency, a.ledgerAccount, false, a.position]);
    await tx.query(`INSERT INTO ${t("bank_accounts")} (${names(BANK_ACCOUNT_COLUMNS)}) ${selectRows(BANK_ACCOUNT_COLUMNS)}`, [JSON.stringify(rows)]);
  }
  await writeListings(tx, t("bank_accounts"), plan.listings);
  if (plan.statements.length > 0) await writeStatements(tx, t, plan.statements, log);
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

async function writeStatements(tx: pg.PoolClient, t: (table: string) => string, statements: readonly StatementRow[], log: StreamReader): Promise<void> {
  const visible = await makeLinesVisible(tx, t("statement_lines"), statements, log);
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

/**
 * The statement's lines as COPY text, one piece per batch, read from its
 * stream: exactly the batches its StatementImported names, each one written
 * before it, numbered from 0, of its account and statement, together holding
 * its new lines. Anything else is a bug in the log's writer: the projection
 * stops on it (the transaction, COPY included, rolls back) rather than show
 * a statement without some of its lines.
 */
async function* statementLineRows(log: StreamReader, s: StatementRow): AsyncGenerator<string> {
  const stream = statementStream(s.statementId);
  const read = (from: number): Promise<RecordedEvent[]> => {
    const page = log.readStream(stream, { fromRevision: BigInt(from), maxCount: Math.min(STATEMENT_READ_PAGE_EVENTS, s.batches - from) }).catch((error: unknown) => {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    });
    // Observed here so a failed read-ahead is not an unhandled rejection; it fails again where it is awaited.
    page.catch(() => undefined);
    return page;
  };
  let lines = 0;
  let next = s.batches > 0 ? read(0) : undefined;
  for (let from = 0; next !== undefined; from += STATEMENT_READ_PAGE_EVENTS) {
    const page = await next;
    next = from + STATEMENT_READ_PAGE_EVENTS < s.batches ? read(from + STATEMENT_READ_PAGE_EVENTS) : undefined;
    assert.equal(page.length, Math.min(STATEMENT_READ_PAGE_EVENTS, s.batches - from), `statement ${s.statementId}: every StatementLinesRecorded batch it names is in the log before it`);
    for (const [i, event] of page.entries()) {
      assert.ok(event.revision === BigInt(from + i) && event.position < s.position, `statement ${s.statementId}: every StatementLinesRecorded batch it names is in the log before it`);
      const batch = lineBatchOf(event, s.ledgerId);
      assert.equal(batch.batchIndex, from + i, `statement ${s.statementId}: its line batches are numbered from 0 without gaps`);
      assert.equal(batch.statementId, s.statementId, `statement ${s.statementId}: its stream holds only its own line batches`);
      assert.equal(batch.bankAccountId, s.bankAccountId, `statement ${s.statementId}: its line batches name the bank account its StatementImported names`);
      lines += batch.lineCount;
      yield batch.rows;
    }
  }
  assert.equal(lines, s.newLines, `statement ${s.statementId}: its batches hold every new line it names`);
}

/**
 * The statements' lines become visible, in statement (log) then line order;
 * returns how many lines each statement shows. A line whose id the account
 * already shows (the same bank line recorded by two statements: by definition
 * of the line identity it is one item) keeps its first row.
 *
 * The import records only lines it does not know, so that is rare: the usual
 * case is one COPY per statement under a savepoint. A unique violation rolls
 * back to the savepoint, and the lines are read again into a temporary table
 * and inserted from there skipping the ids already shown (first one wins,
 * same order).
 */
async function makeLinesVisible(tx: pg.PoolClient, table: string, statements: readonly StatementRow[], log: StreamReader): Promise<Map<string, number>> {
  await tx.query("SAVEPOINT visible_lines");
  try {
    for (const s of statements) await copyInPieces(tx, table, STATEMENT_LINE_COPY_COLUMNS, statementLineRows(log, s));
    await tx.query("RELEASE SAVEPOINT visible_lines");
    return new Map(statements.map((s) => [s.statementId, s.newLines]));
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    await tx.query("ROLLBACK TO SAVEPOINT visible_lines");
  }
  // ON COMMIT DROP, and emptied before each use: a rebuild's swap applies several batches in one transaction.
  await tx.query(`CREATE TEMPORARY TABLE IF NOT EXISTS incoming_lines (LIKE ${table} INCLUDING DEFAULTS) ON COMMIT DROP`);
  const columns = STATEMENT_LINE_COPY_COLUMNS.join(", ");
  const visible = new Map<string, number>();
  for (const s of statements) {
    await tx.query("TRUNCATE incoming_lines");
    await copyInPieces(tx, "incoming_lines", STATEMENT_LINE_COPY_COLUMNS, statementLineRows(log, s));
    const result = await tx.query(`INSERT INTO ${table} (${columns}) SELECT ${columns} FROM incoming_lines ORDER BY line_number ON CONFLICT (bank_account_id, line_id) DO NOTHING`);
    visible.set(s.statementId, result.rowCount ?? 0);
  }
  return visible;
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


