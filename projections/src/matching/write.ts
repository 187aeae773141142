// The SQL half of the matching projection: a handful of set-based
// statements per batch, rows travelling as one JSON array of arrays. Order:
// status changes of earlier matches (and the deletion of their items when
// they die) before the new matches and their items, so an item freed and
// taken again in one batch ends where the log says. Every status change must
// find its match in the state the lifecycle allows (the recon stream's
// decider asserts the same): a miss means a lost event, and stops the
// projection rather than show a wrong status.
import assert from "node:assert/strict";
import type pg from "pg";
import { qualified } from "../postgres/definition.ts";
import { names, selectRows } from "../postgres/rows.ts";
import type { Column } from "../postgres/rows.ts";
import { isLive } from "./plan.ts";
import type { MatchingBatchPlan, NewMatch } from "./plan.ts";

const MATCH_COLUMNS: readonly Column[] = [
  ["match_id", "text"], ["bank_account_id", "text"], ["run_id", "text"], ["kind", "text"], ["status", "text"], ["automatic", "boolean"],
  ["currency", "text"], ["rule_id", "text"], ["score", "integer"], ["criteria", "jsonb"], ["difference_minor", "numeric"],
  ["write_off_minor", "numeric"], ["write_off_account", "text"], ["residual", "jsonb"], ["ambiguous", "boolean"],
  ["external_ids", "jsonb"], ["internal_ids", "jsonb"], ["proposed_position", "text"], ["proposed_at", "timestamptz"], ["proposed_by", "text"],
  ["decided_position", "text"], ["decided_at", "timestamptz"], ["decided_by", "text"], ["reason", "text"],
];
const ITEM_COLUMNS: readonly Column[] = [["bank_account_id", "text"], ["side", "text"], ["item_id", "text"], ["match_id", "text"], ["status", "text"]];
const DECISION_COLUMNS: readonly Column[] = [
  ["match_id", "text"], ["position", "text"], ["type", "text"], ["actor", "text"], ["automatic", "boolean"], ["reason", "text"], ["correlation_id", "text"], ["recorded_at", "timestamptz"],
];
const RUN_COLUMNS: readonly Column[] = [
  ["run_id", "text"], ["bank_account_id", "text"], ["window_from", "date"], ["window_to", "date"], ["items_external", "integer"], ["items_internal", "integer"],
  ["proposals", "jsonb"], ["auto_confirmed", "integer"], ["suggested", "integer"], ["ambiguous", "integer"], ["conflicts", "integer"], ["bounds", "jsonb"],
  ["actor", "text"], ["position", "text"], ["recorded_at", "timestamptz"],
];
const RESOLUTION_COLUMNS: readonly Column[] = [
  ["exception_id", "text"], ["bank_account_id", "text"], ["kind", "text"], ["side", "text"], ["item_id", "text"], ["resolution", "text"], ["reason", "text"],
  ["write_off_minor", "numeric"], ["write_off_account", "text"], ["write_off_date", "date"], ["actor", "text"], ["position", "text"], ["recorded_at", "timestamptz"],
];
const ASSIGNMENT_COLUMNS: readonly Column[] = [["exception_id", "text"], ["bank_account_id", "text"], ["assignee", "text"], ["reason", "text"], ["actor", "text"], ["position", "text"], ["recorded_at", "timestamptz"]];
const PERIOD_COLUMNS: readonly Column[] = [["bank_account_id", "text"], ["period", "text"], ["period_end", "date"], ["statement", "jsonb"], ["actor", "text"], ["position", "text"], ["recorded_at", "timestamptz"]];
const CHANGE_COLUMNS: readonly Column[] = [
  ["match_id", "text"], ["status", "text"], ["automatic", "boolean"], ["decided_position", "text"], ["decided_at", "timestamptz"], ["decided_by", "text"], ["reason", "text"], ["from_status", "text"],
];

function matchCells(m: NewMatch): unknown[] {
  const d = m.data;
  const decided = m.decided;
  return [
    d.matchId, d.bankAccountId, d.runId, d.kind, decided?.status ?? "suggested", decided?.automatic ?? false,
    d.currency, d.ruleId, d.score, JSON.stringify(d.criteria), d.differenceMinor,
    d.writeOff?.amountMinor ?? null, d.writeOff?.ledgerAccount ?? null, d.residual === null ? null : JSON.stringify(d.residual), d.ambiguous,
    JSON.stringify(d.externalIds), JSON.stringify(d.internalIds), m.position, m.recordedAt.toISOString(), m.actor,
    decided?.position ?? null, decided?.recordedAt.toISOString() ?? null, decided?.actor ?? null, decided?.reason ?? null,
  ];
}

function itemCells(m: NewMatch): unknown[][] {
  const status = m.decided?.status ?? "suggested";
  if (!isLive(status)) return [];
  const { bankAccountId, matchId } = m.data;
  return [
    ...m.data.externalIds.map((id) => [bankAccountId, "external", id, matchId, status]),
    ...m.data.internalIds.map((id) => [bankAccountId, "internal", id, matchId, status]),
  ];
}

/** Rows changed since the last ANALYZE beyond which the batch analyzes the table itself (and beyond its size). */
const ANALYZE_CHANGED_ROWS_MIN = 10_000;

/**
 * ANALYZE `table` when it changed a lot since its statistics were taken. A
 * run writes a large account's matches in seconds, well before autovacuum
 * looks; meanwhile the open-item queries (an anti-join on match_items) were
 * planned for an empty table and took a minute instead of a second
 * (BENCHMARKS.md, "Matching", the end-to-end run). Reads the counters
 * PostgreSQL keeps anyway; ANALYZE samples (30,000 rows), whatever the size.
 */
async function analyzeWhenGrown(tx: pg.PoolClient, schemaName: string, table: string): Promise<void> {
  const { rows } = await tx.query<{ changed: string | null; estimate: string | null }>(
    `SELECT s.n_mod_since_analyze::text AS changed, c.reltuples::text AS estimate
       FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
      WHERE c.oid = $1::regclass`,
    [qualified(schemaName, table)],
  );
  const changed = Number(rows[0]?.changed ?? 0);
  const estimate = Math.max(0, Number(rows[0]?.estimate ?? 0));
  if (changed >= ANALYZE_CHANGED_ROWS_MIN && changed >= estimate) await tx.query(`ANALYZE ${qualified(schemaName, table)}`);
}

export async function writeMatchingBatch(tx: pg.PoolClient, plan: MatchingBatchPlan, schemaName: string): Promise<void> {
  const t = (table: string): string => qualified(schemaName, table);
  const run = (sql: string, rows: readonly unknown[][]): Promise<pg.QueryResult> => tx.query(sql, [JSON.stringify(rows)]);
  if (plan.decided.size > 0) {
    const changes = [...plan.decided].map(([matchId, d]) => [matchId, d.status, d.automatic, d.position, d.recordedAt.toISOString(), d.actor, d.reason, d.fromStatus]);
    const updated = await run(
      `UPDATE ${t("matches")} m SET status = c.status, automatic = c.automatic, decided_position = c.decided_position, decided_at = c.decided_at,
              decided_by = c.decided_by, reason = c.reason
         FROM (${selectRows(CHANGE_COLUMNS)}) c
        WHERE m.match_id = c.match_id AND m.status = c.from_status`,
      changes,
    );
    assert.equal(updated.rowCount, changes.length, `every decision finds its match in the status it needs (${[...plan.decided.keys()].slice(0, 5).join(", ")})`);
    const dead = [...plan.decided].filter(([, d]) => !isLive(d.status)).map(([matchId]) => [matchId]);
    if (dead.length > 0) await run(`DELETE FROM ${t("match_items")} i USING (${selectRows([["match_id", "text"]])}) d WHERE i.match_id = d.match_id`, dead);
    const confirmed = [...plan.decided].filter(([, d]) => d.status === "confirmed").map(([matchId]) => [matchId]);
    if (confirmed.length > 0) await run(`UPDATE ${t("match_items")} i SET status = 'confirmed' FROM (${selectRows([["match_id", "text"]])}) c WHERE i.match_id = c.match_id`, confirmed);
  }
  if (plan.proposed.length > 0) {
    await run(`INSERT INTO ${t("matches")} (${names(MATCH_COLUMNS)}) ${selectRows(MATCH_COLUMNS)}`, plan.proposed.map(matchCells));
    const items = plan.proposed.flatMap(itemCells);
    if (items.length > 0) await run(`INSERT INTO ${t("match_items")} (${names(ITEM_COLUMNS)}) ${selectRows(ITEM_COLUMNS)}`, items);
    await analyzeWhenGrown(tx, schemaName, "match_items");
  }
  if (plan.resolutions.length > 0) {
    const rows = plan.resolutions.map(({ data: r, position, recordedAt, actor }) => [
      r.exceptionId, r.bankAccountId, r.kind, r.side, r.itemId, r.resolution, r.reason,
      r.writeOff?.amountMinor ?? null, r.writeOff?.ledgerAccount ?? null, r.writeOff?.date ?? null, actor, position, recordedAt.toISOString(),
    ]);
    await run(`INSERT INTO ${t("exception_resolutions")} (${names(RESOLUTION_COLUMNS)}) ${selectRows(RESOLUTION_COLUMNS)}`, rows);
    // The item is taken from now on: every open-item query leaves match_items' items out.
    const items = plan.resolutions.map(({ data: r }) => [r.bankAccountId, r.side, r.itemId, r.exceptionId, "resolved"]);
    await run(`INSERT INTO ${t("match_items")} (${names(ITEM_COLUMNS)}) ${selectRows(ITEM_COLUMNS)}`, items);
  }
  if (plan.periods.length > 0) {
    const rows = plan.periods.map((r) => [r.bankAccountId, r.period, r.periodEnd, JSON.stringify(r.statement), r.actor, r.position, r.recordedAt.toISOString()]);
    await run(`INSERT INTO ${t("reconciliation_periods")} (${names(PERIOD_COLUMNS)}) ${selectRows(PERIOD_COLUMNS)}`, rows);
  }
  if (plan.assignments.size > 0) {
    const rows = [...plan.assignments.values()].map((a) => [a.exceptionId, a.bankAccountId, a.assignee, a.reason, a.actor, a.position, a.recordedAt.toISOString()]);
    await run(
      `INSERT INTO ${t("exception_assignments")} (${names(ASSIGNMENT_COLUMNS)}) ${selectRows(ASSIGNMENT_COLUMNS)}
       ON CONFLICT (exception_id) DO UPDATE SET assignee = excluded.assignee, reason = excluded.reason, actor = excluded.actor, position = excluded.position, recorded_at = excluded.recorded_at`,
      rows,
    );
  }
  if (plan.writeOffs.size > 0) {
    // A write-off settles a match's difference or a resolved exception's item: each event finds exactly one of them.
    const rows = [...plan.writeOffs].map(([subject, w]) => [subject, w.status, w.entryId, w.reversalEntryId, w.error]);
    const columns: readonly Column[] = [["subject", "text"], ["status", "text"], ["entry_id", "text"], ["reversal_entry_id", "text"], ["error", "text"]];
    const matches = await run(
      `UPDATE ${t("matches")} m SET write_off_status = w.status, write_off_entry_id = COALESCE(w.entry_id, m.write_off_entry_id),
              write_off_reversal_entry_id = COALESCE(w.reversal_entry_id, m.write_off_reversal_entry_id), write_off_error = w.error
         FROM (${selectRows(columns)}) w WHERE m.match_id = w.subject AND m.write_off_minor IS NOT NULL`,
      rows,
    );
    const resolutions = await run(
      `UPDATE ${t("exception_resolutions")} e SET write_off_status = w.status, write_off_entry_id = COALESCE(w.entry_id, e.write_off_entry_id), write_off_error = w.error
         FROM (${selectRows(columns)}) w WHERE e.exception_id = w.subject AND e.write_off_minor IS NOT NULL`,
      rows,
    );
    assert.equal((matches.rowCount ?? 0) + (resolutions.rowCount ?? 0), rows.length, `every write-off event finds its match or exception (${[...plan.writeOffs.keys()].slice(0, 5).join(", ")})`);
  }
  if (plan.decisions.length > 0) {
    const rows = plan.decisions.map((d) => [d.matchId, d.position, d.type, d.actor, d.automatic, d.reason, d.correlationId, d.recordedAt.toISOString()]);
    await run(`INSERT INTO ${t("match_decisions")} (${names(DECISION_COLUMNS)}) ${selectRows(DECISION_COLUMNS)}`, rows);
  }
  if (plan.runs.length > 0) {
    const rows = plan.runs.map((r) => [
      r.runId, r.bankAccountId, r.window.from, r.window.to, r.items.external, r.items.internal, JSON.stringify(r.proposals),
      r.autoConfirmed, r.suggested, r.ambiguous, r.conflicts, JSON.stringify(r.bounds), r.actor, r.position, r.recordedAt.toISOString(),
    ]);
    await run(`INSERT INTO ${t("runs")} (${names(RUN_COLUMNS)}) ${selectRows(RUN_COLUMNS)}`, rows);
  }
}
