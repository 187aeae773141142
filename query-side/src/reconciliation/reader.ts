// SQL over the reconciliation read model (schema rm_reconciliation, written
// only by the reconciliation projection). Amounts come back from numeric
// columns as digit strings and are parsed to bigint here, at the boundary;
// dates as YYYY-MM-DD text. Only listed bank accounts exist for a reader
// (registered but unlisted is not active), and only lines of imported
// statements are in statement_lines (a statement's lines appear with its StatementImported).
import type pg from "pg";
import type { CheckResult } from "@trueup/contracts";

export type Side = "debit" | "credit";

export interface BalanceRow {
  readonly amountMinor: bigint;
  readonly side: Side;
  readonly currency: string;
  readonly date: string | null;
}

export interface BankAccountRow {
  readonly bankAccountId: string;
  readonly ledgerId: string;
  readonly kind: "bank" | "psp";
  readonly name: string;
  readonly iban: string | null;
  readonly accountNumber: string | null;
  readonly bankId: string | null;
  readonly currency: string;
  readonly ledgerAccount: string;
  readonly statementCount: number;
  readonly lineCount: number;
  readonly lastStatement: { readonly statementId: string; readonly periodEnd: string | null; readonly closingBalance: BalanceRow | null } | null;
}

export interface StatementRow {
  readonly statementId: string;
  readonly bankAccountId: string;
  readonly ledgerId: string;
  readonly format: string;
  readonly source: { readonly fileSha256: string; readonly fileBytes: number; readonly fileName: string | null; readonly encoding: string; readonly section: number };
  readonly account: { readonly iban: string | null; readonly accountNumber: string | null; readonly bankId: string | null };
  readonly currency: string;
  readonly statementReference: string | null;
  readonly sequenceNumber: string | null;
  readonly pageNumber: string | null;
  readonly createdAt: string | null;
  readonly periodStart: string | null;
  readonly periodEnd: string | null;
  readonly openingBalance: BalanceRow | null;
  readonly closingBalance: BalanceRow | null;
  readonly availableBalance: BalanceRow | null;
  readonly lineCount: number;
  readonly newLines: number;
  readonly knownLines: number;
  readonly linesVisible: number;
  readonly totals: { readonly creditsMinor: bigint; readonly debitsMinor: bigint; readonly credits: number; readonly debits: number };
  readonly checks: CheckResult[];
  readonly acceptedWithFailedChecks: boolean;
  readonly position: string;
  readonly recordedAt: string;
}

export interface LineRow {
  readonly bankAccountId: string;
  readonly ledgerId: string;
  readonly statementId: string;
  readonly lineId: string;
  readonly lineNumber: number;
  readonly status: LineMatchStatus;
  readonly amountMinor: bigint;
  readonly side: Side;
  readonly currency: string;
  readonly bookingDate: string | null;
  readonly valueDate: string | null;
  readonly reversal: boolean;
  readonly bankReference: string | null;
  readonly endToEndId: string | null;
  readonly customerReference: string | null;
  readonly creditorReference: string | null;
  readonly remittanceInformation: string | null;
  readonly description: string | null;
  readonly counterparty: { readonly name: string | null; readonly iban: string | null; readonly accountNumber: string | null; readonly bic: string | null };
  readonly bankCodes: Record<string, string | null>;
  readonly chargesMinor: bigint | null;
  readonly batch: { readonly id: string; readonly index: number; readonly size: number; readonly amountMinor: bigint; readonly side: Side } | null;
  readonly attributes: Record<string, string>;
  readonly raw: string;
  readonly location: { line: number; column?: string; element?: string; record?: string };
  /** Where the line is in the account's date order (for the cursor): sort date, the batch's log position, line number. */
  readonly sortKey: AccountLineKey;
}

/** A line's place in an account's line order: booking date (else value date; undated first), then log position, then line number. */
export interface AccountLineKey {
  readonly sortDate: string;
  readonly position: string;
  readonly lineNumber: number;
}

type Raw = Record<string, unknown>;
const str = (v: unknown): string => String(v);
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : str(v));
const big = (v: unknown): bigint => BigInt(String(v));
const side = (v: unknown): Side => (String(v) === "debit" ? "debit" : "credit");

function balanceOf(r: Raw, prefix: string): BalanceRow | null {
  const minor = r[`${prefix}_minor`];
  if (minor === null || minor === undefined) return null;
  return { amountMinor: big(minor), side: side(r[`${prefix}_side`]), currency: str(r[`${prefix}_currency`]), date: strOrNull(r[`${prefix}_date`]) };
}

const date = (column: string): string => `to_char(${column}, 'YYYY-MM-DD') AS ${column}`;
const balanceSelect = (prefix: string): string => `${prefix}_minor, ${prefix}_side, ${prefix}_currency, ${date(`${prefix}_date`)}`;

const BANK_ACCOUNT_SELECT = `bank_account_id, ledger_id, kind, name, iban, account_number, bank_id, currency, ledger_account, statement_count, line_count,
  last_statement_id, ${date("last_period_end")}, ${balanceSelect("last_closing")}`;

const STATEMENT_SELECT = `statement_id, bank_account_id, ledger_id, format, file_sha256, file_bytes, file_name, encoding, section,
  account_iban, account_number, account_bank_id, currency, statement_reference, sequence_number, page_number, created_at,
  ${date("period_start")}, ${date("period_end")}, ${balanceSelect("opening")}, ${balanceSelect("closing")}, ${balanceSelect("available")},
  line_count, new_lines, known_lines, lines_visible, credits_minor, debits_minor, credits, debits, checks, accepted_with_failed_checks, position,
  to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS recorded_at`;

const LINE_SELECT = `bank_account_id, ledger_id, statement_id, line_id, line_number, amount_minor, side, currency,
  ${date("booking_date")}, ${date("value_date")}, sort_date::text AS sort_key_date, recorded_position, reversal,
  bank_reference, end_to_end_id, customer_reference, creditor_reference, remittance_information, description,
  counterparty_name, counterparty_iban, counterparty_account_number, counterparty_bic, bank_codes, charges_minor,
  batch_id, batch_index, batch_size, batch_amount_minor, batch_side, attributes, raw, location`;

function toBankAccount(r: Raw): BankAccountRow {
  const lastId = strOrNull(r.last_statement_id);
  return {
    bankAccountId: str(r.bank_account_id),
    ledgerId: str(r.ledger_id),
    kind: str(r.kind) === "psp" ? "psp" : "bank",
    name: str(r.name),
    iban: strOrNull(r.iban),
    accountNumber: strOrNull(r.account_number),
    bankId: strOrNull(r.bank_id),
    currency: str(r.currency),
    ledgerAccount: str(r.ledger_account),
    statementCount: Number(r.statement_count),
    lineCount: Number(r.line_count),
    lastStatement: lastId === null ? null : { statementId: lastId, periodEnd: strOrNull(r.last_period_end), closingBalance: balanceOf(r, "last_closing") },
  };
}

function toStatement(r: Raw): StatementRow {
  return {
    statementId: str(r.statement_id),
    bankAccountId: str(r.bank_account_id),
    ledgerId: str(r.ledger_id),
    format: str(r.format),
    source: { fileSha256: str(r.file_sha256), fileBytes: Number(r.file_bytes), fileName: strOrNull(r.file_name), encoding: str(r.encoding), section: Number(r.section) },
    account: { iban: strOrNull(r.account_iban), accountNumber: strOrNull(r.account_number), bankId: strOrNull(r.account_bank_id) },
    currency: str(r.currency),
    statementReference: strOrNull(r.statement_reference),
    sequenceNumber: strOrNull(r.sequence_number),
    pageNumber: strOrNull(r.page_number),
    createdAt: strOrNull(r.created_at),
    periodStart: strOrNull(r.period_start),
    periodEnd: strOrNull(r.period_end),
    openingBalance: balanceOf(r, "opening"),
    closingBalance: balanceOf(r, "closing"),
    availableBalance: balanceOf(r, "available"),
    lineCount: Number(r.line_count),
    newLines: Number(r.new_lines),
    knownLines: Number(r.known_lines),
    linesVisible: Number(r.lines_visible),
    totals: { creditsMinor: big(r.credits_minor), debitsMinor: big(r.debits_minor), credits: Number(r.credits), debits: Number(r.debits) },
    // Written by the projection from events parsed with checkResultSchema.
    checks: r.checks as CheckResult[],
    acceptedWithFailedChecks: r.accepted_with_failed_checks === true,
    position: str(r.position),
    recordedAt: str(r.recorded_at),
  };
}

function lineStatusOf(v: unknown): LineMatchStatus {
  const status = LINE_MATCH_STATUSES.find((s) => s === v);
  if (status === undefined) throw new TypeError(`line status ${String(v)} is none of ${LINE_MATCH_STATUSES.join(", ")}`);
  return status;
}

function toLine(r: Raw): LineRow {
  const batchId = strOrNull(r.batch_id);
  return {
    bankAccountId: str(r.bank_account_id),
    ledgerId: str(r.ledger_id),
    statementId: str(r.statement_id),
    lineId: str(r.line_id),
    lineNumber: Number(r.line_number),
    status: lineStatusOf(r.status),
    amountMinor: big(r.amount_minor),
    side: side(r.side),
    currency: str(r.currency),
    bookingDate: strOrNull(r.booking_date),
    valueDate: strOrNull(r.value_date),
    reversal: r.reversal === true,
    bankReference: strOrNull(r.bank_reference),
    endToEndId: strOrNull(r.end_to_end_id),
    customerReference: strOrNull(r.customer_reference),
    creditorReference: strOrNull(r.creditor_reference),
    remittanceInformation: strOrNull(r.remittance_information),
    description: strOrNull(r.description),
    counterparty: { name: strOrNull(r.counterparty_name), iban: strOrNull(r.counterparty_iban), accountNumber: strOrNull(r.counterparty_account_number), bic: strOrNull(r.counterparty_bic) },
    // jsonb written by the projection from schema-checked events: objects of strings (or nulls).
    bankCodes: r.bank_codes as Record<string, string | null>,
    chargesMinor: r.charges_minor === null ? null : big(r.charges_minor),
    batch: batchId === null ? null : { id: batchId, index: Number(r.batch_index), size: Number(r.batch_size), amountMinor: big(r.batch_amount_minor), side: side(r.batch_side) },
    attributes: r.attributes as Record<string, string>,
    raw: str(r.raw),
    // jsonb written by the projection from sourceLocationSchema-checked events.
    location: r.location as LineRow["location"],
    sortKey: { sortDate: str(r.sort_key_date), position: str(r.recorded_position), lineNumber: Number(r.line_number) },
  };
}

/** A line's matching status: in a confirmed match, in a suggested one, or in none. */
export const LINE_MATCH_STATUSES = ["matched", "suggested", "unmatched"] as const;
export type LineMatchStatus = (typeof LINE_MATCH_STATUSES)[number];

export class ReconciliationReader {
  /** `matchingSchema`: the matching read model, whose match_items say which lines are in live matches. */
  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
    private readonly matchingSchema = "rm_matching",
  ) {}

  private t(table: string): string {
    return `"${this.schema}"."${table}"`;
  }

  /** The line's status from the matching read model (`l` is the statement_lines alias). */
  private get lineStatus(): string {
    return `COALESCE((SELECT CASE mi.status WHEN 'confirmed' THEN 'matched' ELSE 'suggested' END FROM "${this.matchingSchema}"."match_items" mi
                       WHERE mi.bank_account_id = l.bank_account_id AND mi.side = 'external' AND mi.item_id = l.line_id), 'unmatched') AS status`;
  }

  /** A ledger's listed bank accounts in id order, after `afterId`. */
  async bankAccounts(ledgerId: string, options: { afterId?: string | undefined; limit: number }): Promise<BankAccountRow[]> {
    const r = await this.pool.query<Raw>(
      `SELECT ${BANK_ACCOUNT_SELECT} FROM ${this.t("bank_accounts")}
        WHERE ledger_id = $1 AND listed AND ($2::text IS NULL OR bank_account_id > $2) ORDER BY bank_account_id LIMIT $3`,
      [ledgerId, options.afterId ?? null, options.limit],
    );
    return r.rows.map(toBankAccount);
  }

  async bankAccount(bankAccountId: string): Promise<BankAccountRow | undefined> {
    const r = await this.pool.query<Raw>(`SELECT ${BANK_ACCOUNT_SELECT} FROM ${this.t("bank_accounts")} WHERE bank_account_id = $1 AND listed`, [bankAccountId]);
    const row = r.rows[0];
    return row === undefined ? undefined : toBankAccount(row);
  }

  /** A bank account's statements in import (log) order, after `afterPosition`. */
  async statements(bankAccountId: string, options: { afterPosition?: string | undefined; limit: number }): Promise<StatementRow[]> {
    const r = await this.pool.query<Raw>(
      `SELECT ${STATEMENT_SELECT} FROM ${this.t("statements")}
        WHERE bank_account_id = $1 AND ($2::text IS NULL OR position > $2) ORDER BY position LIMIT $3`,
      [bankAccountId, options.afterPosition ?? null, options.limit],
    );
    return r.rows.map(toStatement);
  }

  async statement(statementId: string): Promise<StatementRow | undefined> {
    const r = await this.pool.query<Raw>(`SELECT ${STATEMENT_SELECT} FROM ${this.t("statements")} WHERE statement_id = $1`, [statementId]);
    const row = r.rows[0];
    return row === undefined ? undefined : toStatement(row);
  }

  /** One statement's visible lines in line order, after line `afterLineNumber`. */
  async statementLines(statementId: string, options: { afterLineNumber?: number | undefined; limit: number }): Promise<LineRow[]> {
    const r = await this.pool.query<Raw>(
      `SELECT ${LINE_SELECT}, ${this.lineStatus} FROM ${this.t("statement_lines")} l
        WHERE statement_id = $1 AND line_number > $2 ORDER BY line_number LIMIT $3`,
      [statementId, options.afterLineNumber ?? 0, options.limit],
    );
    return r.rows.map(toLine);
  }

  /**
   * A bank account's lines in date order (booking date, else value date), from
   * `from` to `to` inclusive when given (an undated line is in no range, and
   * first when neither is given), after the cursor's line.
   */
  async accountLines(
    bankAccountId: string,
    options: { from?: string | undefined; to?: string | undefined; status?: LineMatchStatus | undefined; after?: AccountLineKey | undefined; limit: number },
  ): Promise<LineRow[]> {
    const params: unknown[] = [bankAccountId];
    const where = ["bank_account_id = $1"];
    const add = (sql: (n: number) => string, ...values: unknown[]): void => {
      params.push(...values);
      where.push(sql(params.length));
    };
    if (options.from !== undefined) add((n) => `sort_date >= $${n}::date`, options.from);
    if (options.to !== undefined) add((n) => `sort_date <= $${n}::date`, options.to);
    if (options.status !== undefined) {
      // Unmatched is the common filter (a clerk's worklist): an anti-join, not a computed column compared row by row.
      const live = `SELECT 1 FROM "${this.matchingSchema}"."match_items" mi WHERE mi.bank_account_id = l.bank_account_id AND mi.side = 'external' AND mi.item_id = l.line_id`;
      if (options.status === "unmatched") where.push(`NOT EXISTS (${live})`);
      else add((n) => `EXISTS (${live} AND mi.status = $${n})`, options.status === "matched" ? "confirmed" : "suggested");
    }
    if (options.after !== undefined) {
      const { sortDate, position, lineNumber } = options.after;
      add((n) => `(sort_date, recorded_position, line_number) > ($${n - 2}::date, $${n - 1}, $${n}::integer)`, sortDate, position, lineNumber);
    }
    params.push(options.limit);
    const r = await this.pool.query<Raw>(
      `SELECT ${LINE_SELECT}, ${this.lineStatus} FROM ${this.t("statement_lines")} l WHERE ${where.join(" AND ")}
        ORDER BY sort_date, recorded_position, line_number LIMIT $${params.length}`,
      params,
    );
    return r.rows.map(toLine);
  }
}
