// Tables of the matching read model (schema `rm_matching`), written only by
// the matching projection from the `recon` streams:
// - `matches`: one row per match ever proposed, with its current status and
//   the engine's explanation; amounts are signed minor units in numeric(40,0).
// - `match_items`: the items of live matches (suggested or confirmed), one
//   row per item. Its primary key is the invariant the recon stream
//   guarantees (no item in two live matches): a log that broke it would
//   stop this projection on a duplicate key rather than be shown.
//   An item not here is open; the queries join it to statement_lines
//   (rm_reconciliation) and entry_lines (rm_ledger).
// - `match_decisions`: every event of a match, in log order, with who made
//   it and why: the match's history.
// - `runs`: one row per recorded reconciliation run.
// - `exception_resolutions`: items settled without a match (written off or
//   ignored); their item is in match_items as `resolved`, under the
//   exception's id, so every open-item query leaves it out.
// - `exception_assignments`: who an open exception was handed to.
// - `reconciliation_periods`: each signed-off month with its bank
//   reconciliation statement as computed at sign-off.
// Positions are fixed-width hex text in the "C" collation (log order).
import { qualified } from "../postgres/definition.ts";

export const MATCHING_SCHEMA_NAME = "rm_matching";

export function matchingDdl(schemaName: string): readonly string[] {
  const t = (table: string): string => qualified(schemaName, table);
  return [
    `CREATE TABLE ${t("matches")} (
       match_id text COLLATE "C" PRIMARY KEY,
       bank_account_id text COLLATE "C" NOT NULL,
       run_id text COLLATE "C" NULL,
       kind text NOT NULL CHECK (kind IN ('1:1', '1:N', 'N:1', 'N:M')),
       status text NOT NULL CHECK (status IN ('suggested', 'confirmed', 'rejected', 'unmatched')),
       automatic boolean NOT NULL,
       currency text NOT NULL,
       rule_id text NULL,
       score integer NOT NULL,
       criteria jsonb NOT NULL,
       difference_minor numeric(40,0) NOT NULL,
       write_off_minor numeric(40,0) NULL,
       write_off_account text NULL,
       write_off_status text NULL CHECK (write_off_status IN ('requested', 'posted', 'refused', 'reversing', 'reversed', 'reversal-refused')),
       write_off_entry_id text NULL,
       write_off_reversal_entry_id text NULL,
       write_off_error text NULL,
       residual jsonb NULL,
       ambiguous boolean NOT NULL,
       external_ids jsonb NOT NULL,
       internal_ids jsonb NOT NULL,
       proposed_position text COLLATE "C" NOT NULL,
       proposed_at timestamptz NOT NULL,
       proposed_by text NOT NULL,
       decided_position text COLLATE "C" NULL,
       decided_at timestamptz NULL,
       decided_by text NULL,
       reason text NULL)`,
    `CREATE INDEX matches_by_account ON ${t("matches")} (bank_account_id, status, match_id)`,
    `CREATE INDEX matches_by_run ON ${t("matches")} (run_id, match_id) WHERE run_id IS NOT NULL`,
    `CREATE TABLE ${t("match_items")} (
       bank_account_id text COLLATE "C" NOT NULL,
       side text NOT NULL CHECK (side IN ('external', 'internal')),
       item_id text COLLATE "C" NOT NULL,
       match_id text COLLATE "C" NOT NULL,
       status text NOT NULL CHECK (status IN ('suggested', 'confirmed', 'resolved')),
       PRIMARY KEY (bank_account_id, side, item_id))`,
    `CREATE INDEX match_items_by_match ON ${t("match_items")} (match_id)`,
    `CREATE TABLE ${t("match_decisions")} (
       match_id text COLLATE "C" NOT NULL,
       position text COLLATE "C" NOT NULL,
       type text NOT NULL,
       actor text NOT NULL,
       automatic boolean NOT NULL,
       reason text NULL,
       correlation_id text NOT NULL,
       recorded_at timestamptz NOT NULL,
       PRIMARY KEY (match_id, position))`,
    `CREATE TABLE ${t("runs")} (
       run_id text COLLATE "C" PRIMARY KEY,
       bank_account_id text COLLATE "C" NOT NULL,
       window_from date NULL,
       window_to date NULL,
       items_external integer NOT NULL,
       items_internal integer NOT NULL,
       proposals jsonb NOT NULL,
       auto_confirmed integer NOT NULL,
       suggested integer NOT NULL,
       ambiguous integer NOT NULL,
       conflicts integer NOT NULL,
       bounds jsonb NOT NULL,
       actor text NOT NULL,
       position text COLLATE "C" NOT NULL,
       recorded_at timestamptz NOT NULL)`,
    `CREATE INDEX runs_by_account ON ${t("runs")} (bank_account_id, position)`,
    `CREATE TABLE ${t("exception_resolutions")} (
       exception_id text COLLATE "C" PRIMARY KEY,
       bank_account_id text COLLATE "C" NOT NULL,
       kind text NOT NULL,
       side text NOT NULL,
       item_id text COLLATE "C" NOT NULL,
       resolution text NOT NULL CHECK (resolution IN ('write-off', 'ignore')),
       reason text NULL,
       write_off_minor numeric(40,0) NULL,
       write_off_account text NULL,
       write_off_date date NULL,
       write_off_status text NULL CHECK (write_off_status IN ('requested', 'posted', 'refused')),
       write_off_entry_id text NULL,
       write_off_error text NULL,
       actor text NOT NULL,
       position text COLLATE "C" NOT NULL,
       recorded_at timestamptz NOT NULL)`,
    `CREATE INDEX exception_resolutions_by_account ON ${t("exception_resolutions")} (bank_account_id, position)`,
    `CREATE TABLE ${t("reconciliation_periods")} (
       bank_account_id text COLLATE "C" NOT NULL,
       period text NOT NULL,
       period_end date NOT NULL,
       statement jsonb NOT NULL,
       actor text NOT NULL,
       position text COLLATE "C" NOT NULL,
       recorded_at timestamptz NOT NULL,
       PRIMARY KEY (bank_account_id, period))`,
    `CREATE TABLE ${t("exception_assignments")} (
       exception_id text COLLATE "C" PRIMARY KEY,
       bank_account_id text COLLATE "C" NOT NULL,
       assignee text NOT NULL,
       reason text NULL,
       actor text NOT NULL,
       position text COLLATE "C" NOT NULL,
       recorded_at timestamptz NOT NULL)`,
  ];
}
