// SQL over the matching read model (schema rm_matching), joined where a
// query needs the items themselves to statement_lines (rm_reconciliation)
// and to entry_lines and journal_entries (rm_ledger). Each schema is written
// by its own projection; an item is open when no row of match_items holds it.
// Amounts come back from numeric columns as digit strings (signed where a
// difference) and are parsed to bigint here, at the boundary.
import type pg from "pg";
import { WRITE_OFF_METADATA_KEY, WRITE_OFF_STATUSES } from "@trueup/contracts";
import type { WriteOffStatus } from "@trueup/contracts";

export type MatchStatus = "suggested" | "confirmed" | "rejected" | "unmatched";
export const MATCH_STATUSES: readonly MatchStatus[] = ["suggested", "confirmed", "rejected", "unmatched"];

export interface MatchCriterionRow {
  readonly criterion: string;
  readonly grade: string;
  readonly points: number;
  readonly reason: string;
}

export interface MatchRow {
  readonly matchId: string;
  readonly bankAccountId: string;
  readonly runId: string | null;
  readonly kind: string;
  readonly status: MatchStatus;
  readonly automatic: boolean;
  readonly currency: string;
  readonly ruleId: string | null;
  readonly score: number;
  readonly criteria: readonly MatchCriterionRow[];
  readonly differenceMinor: bigint;
  readonly writeOff: {
    readonly amountMinor: bigint;
    readonly ledgerAccount: string;
    /** null until the match is confirmed; then requested, and posted (entryId) or refused (error); after an unmatch, reversed (reversalEntryId). */
    readonly status: WriteOffStatus | null;
    readonly entryId: string | null;
    readonly reversalEntryId: string | null;
    readonly error: string | null;
  } | null;
  readonly residual: { readonly side: "external" | "internal"; readonly itemId: string; readonly amountMinor: bigint } | null;
  readonly ambiguous: boolean;
  readonly externalIds: readonly string[];
  readonly internalIds: readonly string[];
  readonly proposed: { readonly position: string; readonly at: string; readonly by: string };
  readonly decided: { readonly position: string; readonly at: string; readonly by: string; readonly reason: string | null } | null;
}

export interface DecisionRow {
  readonly type: string;
  readonly position: string;
  readonly at: string;
  readonly actor: string;
  readonly automatic: boolean;
  readonly reason: string | null;
  readonly correlationId: string;
}

/** One item of a match or an open item, as a clerk reads it: signed (positive is money into the account). */
export interface ItemRow {
  readonly side: "external" | "internal";
  readonly itemId: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly date: string | null;
  readonly reference: string | null;
  readonly description: string | null;
  readonly counterpartyName: string | null;
  /** Where the item sorts in its side's order (the page cursor): date, log position, line number. */
  readonly sortKey: { readonly date: string; readonly position: string; readonly lineNumber: number };
}

export interface RunRow {
  readonly runId: string;
  readonly bankAccountId: string;
  readonly window: { readonly from: string | null; readonly to: string | null };
  readonly items: { readonly external: number; readonly internal: number };
  readonly proposals: Readonly<Record<string, number>>;
  readonly autoConfirmed: number;
  readonly suggested: number;
  readonly ambiguous: number;
  readonly conflicts: number;
  readonly bounds: readonly { readonly bound: string; readonly times: number; readonly detail: string }[];
  readonly actor: string;
  readonly position: string;
  readonly recordedAt: string;
  /** The run's matches as they stand now, by kind and status. */
  readonly now: readonly { readonly kind: string; readonly status: MatchStatus; readonly count: number }[];
}

export interface SideSummary {
  readonly total: number;
  readonly matched: number;
  readonly suggested: number;
  /** Settled without a match: written off or ignored (exceptions resolved). */
  readonly resolved: number;
  /** In no live match, not resolved. */
  readonly unmatched: number;
  readonly unmatchedInMinor: bigint;
  readonly unmatchedOutMinor: bigint;
  readonly oldestUnmatchedDate: string | null;
}

/** Where a bank account's items live: its statement lines, and the lines on its ledger account. */
export interface AccountItems {
  readonly bankAccountId: string;
  readonly ledgerId: string;
  readonly ledgerAccount: string;
  readonly currency: string;
}

type Raw = Record<string, unknown>;
const str = (v: unknown): string => String(v);
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : str(v));
const big = (v: unknown): bigint => BigInt(String(v));
const TIMESTAMP = (column: string): string => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

function statusOf(v: unknown): MatchStatus {
  const status = MATCH_STATUSES.find((s) => s === v);
  if (status === undefined) throw new TypeError(`match status ${JSON.stringify(v)} is none of ${MATCH_STATUSES.join(", ")}`);
  return status;
}

const MATCH_SELECT = `match_id, bank_account_id, run_id, kind, status, automatic, currency, rule_id, score, criteria, difference_minor::text AS difference_minor,
  write_off_minor::text AS write_off_minor, write_off_account, write_off_status, write_off_entry_id, write_off_reversal_entry_id, write_off_error, residual, ambiguous, external_ids, internal_ids,
  proposed_position, ${TIMESTAMP("proposed_at")} AS proposed_at, proposed_by, decided_position, ${TIMESTAMP("decided_at")} AS decided_at, decided_by, reason`;

function toMatch(r: Raw): MatchRow {
  // jsonb written by the projection from schema-checked MatchProposed events.
  const residual = r.residual as { side: "external" | "internal"; itemId: string; amountMinor: string } | null;
  const decidedPosition = strOrNull(r.decided_position);
  return {
    matchId: str(r.match_id),
    bankAccountId: str(r.bank_account_id),
    runId: strOrNull(r.run_id),
    kind: str(r.kind),
    status: statusOf(r.status),
    automatic: r.automatic === true,
    currency: str(r.currency),
    ruleId: strOrNull(r.rule_id),
    score: Number(r.score),
    criteria: r.criteria as MatchCriterionRow[],
    differenceMinor: big(r.difference_minor),
    writeOff: r.write_off_minor === null ? null : {
      amountMinor: big(r.write_off_minor),
      ledgerAccount: str(r.write_off_account),
      status: (WRITE_OFF_STATUSES as readonly unknown[]).includes(r.write_off_status) ? (r.write_off_status as WriteOffStatus) : null,
      entryId: strOrNull(r.write_off_entry_id),
      reversalEntryId: strOrNull(r.write_off_reversal_entry_id),
      error: strOrNull(r.write_off_error),
    },
    residual: residual === null ? null : { side: residual.side, itemId: residual.itemId, amountMinor: BigInt(residual.amountMinor) },
    ambiguous: r.ambiguous === true,
    externalIds: r.external_ids as string[],
    internalIds: r.internal_ids as string[],
    proposed: { position: str(r.proposed_position), at: str(r.proposed_at), by: str(r.proposed_by) },
    decided: decidedPosition === null ? null : { position: decidedPosition, at: str(r.decided_at), by: str(r.decided_by), reason: strOrNull(r.reason) },
  };
}

function toItem(side: "external" | "internal", r: Raw): ItemRow {
  const minor = big(r.amount_minor);
  const inflow = side === "external" ? r.side === "credit" : r.side === "debit";
  return {
    side,
    itemId: str(r.item_id),
    amountMinor: inflow ? minor : -minor,
    currency: str(r.currency),
    date: strOrNull(r.item_date),
    reference: strOrNull(r.reference),
    description: strOrNull(r.description),
    counterpartyName: strOrNull(r.counterparty_name),
    sortKey: { date: str(r.sort_date), position: str(r.sort_position), lineNumber: Number(r.sort_line) },
  };
}

export class MatchReader {
  constructor(
    private readonly pool: pg.Pool,
    private readonly schemas: { readonly matching: string; readonly reconciliation: string; readonly ledger: string },
  ) {}

  private m(table: string): string {
    return `"${this.schemas.matching}"."${table}"`;
  }

  async match(matchId: string): Promise<MatchRow | undefined> {
    const r = await this.pool.query<Raw>(`SELECT ${MATCH_SELECT} FROM ${this.m("matches")} WHERE match_id = $1`, [matchId]);
    const row = r.rows[0];
    return row === undefined ? undefined : toMatch(row);
  }

  /** A match's decisions in log order (at most a handful: proposed, then confirmed or rejected, then perhaps unmatched). */
  async decisions(matchId: string): Promise<DecisionRow[]> {
    const r = await this.pool.query<Raw>(
      `SELECT type, position, ${TIMESTAMP("recorded_at")} AS at, actor, automatic, reason, correlation_id FROM ${this.m("match_decisions")} WHERE match_id = $1 ORDER BY position`,
      [matchId],
    );
    return r.rows.map((row) => ({ type: str(row.type), position: str(row.position), at: str(row.at), actor: str(row.actor), automatic: row.automatic === true, reason: strOrNull(row.reason), correlationId: str(row.correlation_id) }));
  }

  /** A bank account's matches in id order, of one status when given, after `afterId`. */
  async matches(bankAccountId: string, options: { status?: MatchStatus | undefined; afterId?: string | undefined; limit: number }): Promise<MatchRow[]> {
    const r = await this.pool.query<Raw>(
      `SELECT ${MATCH_SELECT} FROM ${this.m("matches")}
        WHERE bank_account_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR match_id > $3) ORDER BY match_id LIMIT $4`,
      [bankAccountId, options.status ?? null, options.afterId ?? null, options.limit],
    );
    return r.rows.map(toMatch);
  }

  async run(runId: string): Promise<RunRow | undefined> {
    const r = await this.pool.query<Raw>(
      `SELECT run_id, bank_account_id, window_from::text AS window_from, window_to::text AS window_to, items_external, items_internal, proposals,
              auto_confirmed, suggested, ambiguous, conflicts, bounds, actor, position, ${TIMESTAMP("recorded_at")} AS recorded_at
         FROM ${this.m("runs")} WHERE run_id = $1`,
      [runId],
    );
    const row = r.rows[0];
    if (row === undefined) return undefined;
    const now = await this.pool.query<Raw>(`SELECT kind, status, count(*)::int AS n FROM ${this.m("matches")} WHERE run_id = $1 GROUP BY kind, status ORDER BY kind, status`, [runId]);
    return {
      runId: str(row.run_id),
      bankAccountId: str(row.bank_account_id),
      window: { from: strOrNull(row.window_from), to: strOrNull(row.window_to) },
      items: { external: Number(row.items_external), internal: Number(row.items_internal) },
      // jsonb written by the projection from schema-checked ReconciliationRunRecorded events.
      proposals: row.proposals as Record<string, number>,
      autoConfirmed: Number(row.auto_confirmed),
      suggested: Number(row.suggested),
      ambiguous: Number(row.ambiguous),
      conflicts: Number(row.conflicts),
      bounds: row.bounds as RunRow["bounds"],
      actor: str(row.actor),
      position: str(row.position),
      recordedAt: str(row.recorded_at),
      now: now.rows.map((n) => ({ kind: str(n.kind), status: statusOf(n.status), count: Number(n.n) })),
    };
  }

  /** What holds an item now: its live match (suggested or confirmed), or the exception that resolved it; undefined when it is open. */
  async holder(bankAccountId: string, side: "external" | "internal", itemId: string): Promise<{ readonly id: string; readonly status: "suggested" | "confirmed" | "resolved" } | undefined> {
    const r = await this.pool.query<Raw>(`SELECT match_id, status FROM ${this.m("match_items")} WHERE bank_account_id = $1 AND side = $2 AND item_id = $3`, [bankAccountId, side, itemId]);
    const row = r.rows[0];
    if (row === undefined) return undefined;
    const status = (["suggested", "confirmed", "resolved"] as const).find((s) => s === row.status);
    if (status === undefined) throw new TypeError(`match item status ${JSON.stringify(row.status)} is none of suggested, confirmed, resolved`);
    return { id: str(row.match_id), status };
  }

  /** The items of a match, with what a clerk needs to judge them; an item the read models do not show (yet) is absent. */
  async matchItems(account: AccountItems, match: Pick<MatchRow, "externalIds" | "internalIds">): Promise<ItemRow[]> {
    const external = await this.pool.query<Raw>(
      `${this.externalSelect} WHERE l.bank_account_id = $1 AND l.line_id = ANY($2::text[]) ORDER BY l.sort_date, l.recorded_position, l.line_number`,
      [account.bankAccountId, match.externalIds],
    );
    // Ids are `<entryId>:<line index>`: the entry ids narrow the scan to those entries' lines.
    const entryIds = [...new Set(match.internalIds.map((id) => id.slice(0, Math.max(0, id.lastIndexOf(":")))))];
    const internal = await this.pool.query<Raw>(
      `${this.internalSelect} WHERE el.ledger_id = $1 AND el.code = $2 AND el.currency = $3 AND el.entry_id = ANY($5::text[]) AND (el.entry_id || ':' || (el.line_no - 1)) = ANY($4::text[])
        ORDER BY el.effective_date, el.position, el.line_no`,
      [account.ledgerId, account.ledgerAccount, account.currency, match.internalIds, entryIds],
    );
    return [...external.rows.map((r) => toItem("external", r)), ...internal.rows.map((r) => toItem("internal", r))];
  }

  /**
   * A side's items in no live match, in date order (then log position, then
   * line number), dated in [from, to] when given, after the cursor's item.
   * Undated statement lines sort first and are in no range.
   */
  async unmatched(
    account: AccountItems,
    side: "external" | "internal",
    options: { from?: string | undefined; to?: string | undefined; after?: ItemRow["sortKey"] | undefined; limit: number },
  ): Promise<ItemRow[]> {
    const after = options.after;
    const params = [options.from ?? null, options.to ?? null, after?.date ?? null, after?.position ?? null, after?.lineNumber ?? null, options.limit];
    if (side === "external") {
      const r = await this.pool.query<Raw>(
        `${this.externalSelect}
          WHERE l.bank_account_id = $7 AND NOT EXISTS (${this.liveItem("external", "l.line_id", "$7")})
            AND ($1::date IS NULL OR l.sort_date >= $1::date) AND ($2::date IS NULL OR l.sort_date <= $2::date)
            AND ($3::date IS NULL OR (l.sort_date, l.recorded_position, l.line_number) > ($3::date, $4::text, $5::integer))
          ORDER BY l.sort_date, l.recorded_position, l.line_number LIMIT $6`,
        [...params, account.bankAccountId],
      );
      return r.rows.map((row) => toItem("external", row));
    }
    const r = await this.pool.query<Raw>(
      `${this.internalSelect}
        WHERE el.ledger_id = $7 AND el.code = $8 AND el.currency = $9 AND NOT EXISTS (${this.liveItem("internal", "(el.entry_id || ':' || (el.line_no - 1))", "$10")})
          AND ($1::date IS NULL OR el.effective_date >= $1::date) AND ($2::date IS NULL OR el.effective_date <= $2::date)
          AND ($3::date IS NULL OR (el.effective_date, el.position, el.line_no) > ($3::date, $4::text, $5::integer))
        ORDER BY el.effective_date, el.position, el.line_no LIMIT $6`,
      [...params, account.ledgerId, account.ledgerAccount, account.currency, account.bankAccountId],
    );
    return r.rows.map((row) => toItem("internal", row));
  }

  /** Counts and open amounts per side: one aggregate over each side's items joined to match_items. */
  async summary(account: AccountItems): Promise<{ readonly external: SideSummary; readonly internal: SideSummary }> {
    const aggregate = (inflow: string, date: string): string => `count(*)::bigint AS total,
      count(*) FILTER (WHERE mi.status = 'confirmed')::bigint AS matched,
      count(*) FILTER (WHERE mi.status = 'suggested')::bigint AS suggested,
      count(*) FILTER (WHERE mi.status = 'resolved')::bigint AS resolved,
      count(*) FILTER (WHERE mi.item_id IS NULL)::bigint AS unmatched,
      COALESCE(sum(amount_minor) FILTER (WHERE mi.item_id IS NULL AND ${inflow}), 0)::text AS unmatched_in,
      COALESCE(sum(amount_minor) FILTER (WHERE mi.item_id IS NULL AND NOT ${inflow}), 0)::text AS unmatched_out,
      min(${date}) FILTER (WHERE mi.item_id IS NULL AND ${date} > '-infinity')::text AS oldest`;
    const external = await this.pool.query<Raw>(
      `SELECT ${aggregate("l.side = 'credit'", "l.sort_date")}
         FROM "${this.schemas.reconciliation}"."statement_lines" l
         LEFT JOIN ${this.m("match_items")} mi ON mi.bank_account_id = l.bank_account_id AND mi.side = 'external' AND mi.item_id = l.line_id
        WHERE l.bank_account_id = $1`,
      [account.bankAccountId],
    );
    const internal = await this.pool.query<Raw>(
      `SELECT ${aggregate("el.side = 'debit'", "el.effective_date")}
         FROM "${this.schemas.ledger}"."entry_lines" el
         JOIN "${this.schemas.ledger}"."journal_entries" j ON j.ledger_id = el.ledger_id AND j.entry_id = el.entry_id AND j.metadata->>'${WRITE_OFF_METADATA_KEY}' IS NULL
         LEFT JOIN ${this.m("match_items")} mi ON mi.bank_account_id = $4 AND mi.side = 'internal' AND mi.item_id = el.entry_id || ':' || (el.line_no - 1)
        WHERE el.ledger_id = $1 AND el.code = $2 AND el.currency = $3`,
      [account.ledgerId, account.ledgerAccount, account.currency, account.bankAccountId],
    );
    const side = (row: Raw | undefined): SideSummary => ({
      total: Number(row?.total ?? 0),
      matched: Number(row?.matched ?? 0),
      suggested: Number(row?.suggested ?? 0),
      resolved: Number(row?.resolved ?? 0),
      unmatched: Number(row?.unmatched ?? 0),
      unmatchedInMinor: big(row?.unmatched_in ?? "0"),
      unmatchedOutMinor: big(row?.unmatched_out ?? "0"),
      oldestUnmatchedDate: strOrNull(row?.oldest),
    });
    return { external: side(external.rows[0]), internal: side(internal.rows[0]) };
  }

  /** A signed-off period's statement as stored at sign-off (its DTO), or undefined. */
  async statement(bankAccountId: string, period: string): Promise<{ readonly statement: unknown; readonly closedBy: string; readonly closedAt: string; readonly position: string } | undefined> {
    const r = await this.pool.query<Raw>(
      `SELECT statement, actor, ${TIMESTAMP("recorded_at")} AS closed_at, position FROM ${this.m("reconciliation_periods")} WHERE bank_account_id = $1 AND period = $2`,
      [bankAccountId, period],
    );
    const row = r.rows[0];
    return row === undefined ? undefined : { statement: row.statement, closedBy: str(row.actor), closedAt: str(row.closed_at), position: str(row.position) };
  }

  private liveItem(side: "external" | "internal", itemId: string, bankAccountId: string): string {
    return `SELECT 1 FROM ${this.m("match_items")} mi WHERE mi.bank_account_id = ${bankAccountId} AND mi.side = '${side}' AND mi.item_id = ${itemId}`;
  }

  private get externalSelect(): string {
    return `SELECT l.line_id AS item_id, l.amount_minor::text AS amount_minor, l.side, l.currency, COALESCE(l.booking_date, l.value_date)::text AS item_date,
                   COALESCE(l.end_to_end_id, l.bank_reference, l.customer_reference, l.creditor_reference) AS reference,
                   COALESCE(l.remittance_information, l.description) AS description, l.counterparty_name,
                   l.sort_date::text AS sort_date, l.recorded_position AS sort_position, l.line_number AS sort_line
              FROM "${this.schemas.reconciliation}"."statement_lines" l`;
  }

  private get internalSelect(): string {
    return `SELECT el.entry_id || ':' || (el.line_no - 1) AS item_id, el.amount_minor::text AS amount_minor, el.side, el.currency, el.effective_date::text AS item_date,
                   j.external_reference AS reference, j.description, j.metadata->>'counterparty' AS counterparty_name,
                   el.effective_date::text AS sort_date, el.position AS sort_position, el.line_no AS sort_line
              FROM "${this.schemas.ledger}"."entry_lines" el
              JOIN "${this.schemas.ledger}"."journal_entries" j ON j.ledger_id = el.ledger_id AND j.entry_id = el.entry_id
                   AND j.metadata->>'${WRITE_OFF_METADATA_KEY}' IS NULL`;
  }
}
