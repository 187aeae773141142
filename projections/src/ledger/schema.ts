// Tables of the ledger read model (schema `rm_ledger`). Amounts are minor
// units in numeric(40,0) (pg returns them as strings: parse with BigInt);
// positions are fixed-width hex text in the "C" collation, so ORDER BY
// position is log order; account codes are "C" too, so code order is byte
// order and every ORDER BY code walks an index instead of sorting.
import { qualified } from "../postgres/definition.ts";

export const LEDGER_SCHEMA_NAME = "rm_ledger";

export function ledgerDdl(schemaName: string): readonly string[] {
  const t = (table: string): string => qualified(schemaName, table);
  return [
    `CREATE TABLE ${t("ledgers")} (
       ledger_id text PRIMARY KEY,
       name text NOT NULL,
       base_currency text NOT NULL,
       position text COLLATE "C" NOT NULL)`,
    `CREATE TABLE ${t("accounts")} (
       ledger_id text NOT NULL,
       code text COLLATE "C" NOT NULL,
       name text NOT NULL,
       type text NOT NULL,
       currency text NULL,
       status text NOT NULL CHECK (status IN ('open', 'closed')),
       opened_position text COLLATE "C" NOT NULL,
       PRIMARY KEY (ledger_id, code))`,
    `CREATE TABLE ${t("balances")} (
       ledger_id text NOT NULL,
       code text COLLATE "C" NOT NULL,
       currency text NOT NULL,
       debit_minor numeric(40,0) NOT NULL,
       credit_minor numeric(40,0) NOT NULL,
       line_count bigint NOT NULL,
       PRIMARY KEY (ledger_id, code, currency))`,
    `CREATE TABLE ${t("daily_balances")} (
       ledger_id text NOT NULL,
       code text COLLATE "C" NOT NULL,
       currency text NOT NULL,
       day date NOT NULL,
       debit_minor numeric(40,0) NOT NULL,
       credit_minor numeric(40,0) NOT NULL,
       PRIMARY KEY (ledger_id, code, currency, day))`,
    `CREATE TABLE ${t("journal_entries")} (
       ledger_id text NOT NULL,
       entry_id text NOT NULL,
       effective_date date NOT NULL,
       description text NOT NULL,
       external_reference text NULL,
       metadata json NOT NULL,
       lines json NOT NULL,
       reverses text NULL,
       reversed_by text NULL,
       stream_name text NOT NULL,
       stream_revision bigint NOT NULL,
       position text COLLATE "C" NOT NULL,
       recorded_at timestamptz NOT NULL,
       PRIMARY KEY (ledger_id, entry_id))`,
    `CREATE INDEX journal_entries_by_date ON ${t("journal_entries")} (ledger_id, effective_date, position)`,
    `CREATE TABLE ${t("entry_lines")} (
       ledger_id text NOT NULL,
       code text COLLATE "C" NOT NULL,
       currency text NOT NULL,
       effective_date date NOT NULL,
       position text COLLATE "C" NOT NULL,
       line_no integer NOT NULL,
       entry_id text NOT NULL,
       side text NOT NULL CHECK (side IN ('debit', 'credit')),
       amount_minor numeric(40,0) NOT NULL,
       PRIMARY KEY (ledger_id, code, currency, effective_date, position, line_no))`,
    `CREATE TABLE ${t("periods")} (
       ledger_id text NOT NULL,
       period text NOT NULL,
       status text NOT NULL CHECK (status IN ('open', 'closed')),
       reason text NULL,
       position text COLLATE "C" NOT NULL,
       PRIMARY KEY (ledger_id, period))`,
  ];
}
