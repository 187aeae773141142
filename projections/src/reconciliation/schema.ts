// Tables of the reconciliation read model (schema `rm_reconciliation`):
// bank accounts, the statements imported to them, and their lines, the
// external items the matcher reads. Amounts are unsigned minor units in
// numeric(40,0) with a side (pg returns them as strings: parse with BigInt);
// positions are fixed-width hex text in the "C" collation, so ORDER BY
// position is log order.
//
// Visibility: a statement's lines are written (StatementLinesRecorded, in its
// own stream) before the StatementImported that commits them. The projection
// reads only the bank account categories; when it applies a
// StatementImported it reads the batches that event names from the
// statement's stream and COPYs their lines into `statement_lines` in the
// same transaction. So `statement_lines` holds only the lines of imported
// statements (a reader, or the matcher, needs no join to leave out a crashed
// import's lines, and the line identity can be unique per bank account over
// what is visible), each line is written once, and a statement stream no
// StatementImported names is never read at all.
import { qualified } from "../postgres/definition.ts";

export const RECONCILIATION_SCHEMA_NAME = "rm_reconciliation";

/** The columns of statement_lines that COPY fills, in COPY order. */
export const STATEMENT_LINE_COPY_COLUMNS = [
  "bank_account_id", "statement_id", "line_number", "line_id", "recorded_position",
  "amount_minor", "side", "currency", "booking_date", "value_date", "sort_date", "reversal",
  "bank_reference", "end_to_end_id", "customer_reference", "creditor_reference", "remittance_information", "description",
  "counterparty_name", "counterparty_iban", "counterparty_account_number", "counterparty_bic",
  "bank_codes", "charges_minor", "batch_id", "batch_index", "batch_size", "batch_amount_minor", "batch_side",
  "attributes", "raw", "location", "ledger_id",
] as const;

/** Column definitions of STATEMENT_LINE_COPY_COLUMNS (same order). */
const LINE_COLUMN_DDL = `
       bank_account_id text COLLATE "C" NOT NULL,
       statement_id text COLLATE "C" NOT NULL,
       line_number integer NOT NULL,
       line_id text COLLATE "C" NOT NULL,
       recorded_position text COLLATE "C" NOT NULL,
       amount_minor numeric(40,0) NOT NULL,
       side text NOT NULL CHECK (side IN ('debit', 'credit')),
       currency text NOT NULL,
       booking_date date NULL,
       value_date date NULL,
       sort_date date NOT NULL,
       reversal boolean NOT NULL,
       bank_reference text NULL,
       end_to_end_id text NULL,
       customer_reference text NULL,
       creditor_reference text NULL,
       remittance_information text NULL,
       description text NULL,
       counterparty_name text NULL,
       counterparty_iban text NULL,
       counterparty_account_number text NULL,
       counterparty_bic text NULL,
       bank_codes jsonb NOT NULL,
       charges_minor numeric(40,0) NULL,
       batch_id text NULL,
       batch_index integer NULL,
       batch_size integer NULL,
       batch_amount_minor numeric(40,0) NULL,
       batch_side text NULL,
       attributes jsonb NOT NULL,
       raw text NOT NULL,
       location jsonb NOT NULL,
       ledger_id text COLLATE "C" NOT NULL`;

/** Balance columns `<prefix>_minor`, `_side`, `_currency`, `_date`; all null when the statement has no such balance. */
function balanceColumns(prefix: string): string {
  return `${prefix}_minor numeric(40,0) NULL,
       ${prefix}_side text NULL CHECK (${prefix}_side IN ('debit', 'credit')),
       ${prefix}_currency text NULL,
       ${prefix}_date date NULL`;
}

export function reconciliationDdl(schemaName: string): readonly string[] {
  const t = (table: string): string => qualified(schemaName, table);
  return [
    // `listed`: registered and listed in its ledger. An account registered but never listed (its identifier was
    // taken meanwhile) is not active: every query leaves it out.
    `CREATE TABLE ${t("bank_accounts")} (
       bank_account_id text COLLATE "C" PRIMARY KEY,
       ledger_id text COLLATE "C" NOT NULL,
       kind text NOT NULL CHECK (kind IN ('bank', 'psp')),
       name text NOT NULL,
       iban text NULL,
       account_number text NULL,
       bank_id text NULL,
       currency text NOT NULL,
       ledger_account text NOT NULL,
       listed boolean NOT NULL,
       identifiers jsonb NULL,
       registered_position text COLLATE "C" NOT NULL,
       statement_count bigint NOT NULL DEFAULT 0,
       line_count bigint NOT NULL DEFAULT 0,
       last_statement_id text NULL,
       last_period_end date NULL,
       last_position text COLLATE "C" NULL,
       ${balanceColumns("last_closing")})`,
    `CREATE INDEX bank_accounts_by_ledger ON ${t("bank_accounts")} (ledger_id, bank_account_id)`,
    `CREATE TABLE ${t("statements")} (
       statement_id text COLLATE "C" PRIMARY KEY,
       bank_account_id text COLLATE "C" NOT NULL,
       ledger_id text COLLATE "C" NOT NULL,
       format text NOT NULL,
       file_sha256 text NOT NULL,
       file_bytes bigint NOT NULL,
       file_name text NULL,
       encoding text NOT NULL,
       section integer NOT NULL,
       account_iban text NULL,
       account_number text NULL,
       account_bank_id text NULL,
       currency text NOT NULL,
       statement_reference text NULL,
       sequence_number text NULL,
       page_number text NULL,
       created_at text NULL,
       period_start date NULL,
       period_end date NULL,
       ${balanceColumns("opening")},
       ${balanceColumns("closing")},
       ${balanceColumns("available")},
       line_count integer NOT NULL,
       new_lines integer NOT NULL,
       known_lines integer NOT NULL,
       batches integer NOT NULL,
       lines_visible integer NOT NULL,
       credits_minor numeric(40,0) NOT NULL,
       debits_minor numeric(40,0) NOT NULL,
       credits integer NOT NULL,
       debits integer NOT NULL,
       checks jsonb NOT NULL,
       accepted_with_failed_checks boolean NOT NULL,
       position text COLLATE "C" NOT NULL,
       recorded_at timestamptz NOT NULL)`,
    `CREATE UNIQUE INDEX statements_by_account ON ${t("statements")} (bank_account_id, position)`,
    // No status: which lines are matched is the matching read model's (rm_matching.match_items); readers join it.
    `CREATE TABLE ${t("statement_lines")} (${LINE_COLUMN_DDL},
       PRIMARY KEY (bank_account_id, line_id))`,
    `CREATE UNIQUE INDEX statement_lines_by_statement ON ${t("statement_lines")} (statement_id, line_number)`,
    `CREATE UNIQUE INDEX statement_lines_by_date ON ${t("statement_lines")} (bank_account_id, sort_date, recorded_position, line_number)`,
  ];
}
